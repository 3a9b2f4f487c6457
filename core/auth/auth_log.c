/*
 * The login and session-end lines, one format for every protocol so an
 * administrator (and fail2ban) reads SMTP, IMAP and the API alike:
 *
 *   event=login proto=imap user=U rip=IP tls=TLSv1.3 session=ID
 *   event=auth_failed proto=imap user=U rip=IP reason=R tls=- session=ID
 *   event=session_end proto=imap session=ID user=U rip=IP tls=TLSv1.3
 *       in=BYTES out=BYTES duration=SECONDS reason=logout
 *
 * auth_failed keeps its 1.0 field order (filters anchor on rip=); the
 * connection's fields come after.  The connection is the one whose
 * callback is running when the module asks (rm_conn_current), so the
 * 1.0 entries auth_login and auth_log_failure need no new argument.
 */
#include <stdio.h>
#include <string.h>

#include "rm.h"

/* A user name is client data: keep the line one token per field so a
 * name like "x rip=1.2.3.4" cannot forge what fail2ban reads. */
void rm_log_clean_field(char *dst, size_t sz, const char *src)
{
	size_t o = 0;

	if (src == NULL || *src == '\0')
		src = "-";
	for (; *src != '\0' && o + 1 < sz; src++) {
		unsigned char ch = (unsigned char)*src;

		dst[o++] =
			(ch <= ' ' || ch == '=' || ch == 0x7f) ? '?' : (char)ch;
	}
	dst[o] = '\0';
}

struct conn_fields {
	char tls[32];
	char session[24];
};

static void conn_fields(struct rmail_conn *c, struct conn_fields *f)
{
	rm_log_clean_field(f->tls, sizeof(f->tls),
			   c != NULL ? rm_conn_tls_version(c) : NULL);
	rm_log_clean_field(f->session, sizeof(f->session),
			   c != NULL ? rm_conn_id(c) : NULL);
}

void rm_auth_log(struct rmail_conn *c, const char *proto, const char *user,
		 const char *rip, const char *reason)
{
	char p[32], u[128], r[64], why[64];
	char labels[64];
	struct conn_fields f;

	rm_log_clean_field(p, sizeof(p), proto);
	rm_log_clean_field(u, sizeof(u), user);
	rm_log_clean_field(r, sizeof(r), rip);
	conn_fields(c, &f);
	if (reason == NULL) {
		rm_log(RMAIL_LOG_INFO,
		       "event=login proto=%s user=%s rip=%s tls=%s session=%s",
		       p, u, r, f.tls, f.session);
		if (c != NULL)
			rm_conn_set_user(c, user);
		snprintf(labels, sizeof(labels), "proto=\"%s\"", p);
		rm_metric_add("rmail_logins_total", labels, 1);
		return;
	}
	rm_log_clean_field(why, sizeof(why), reason);
	rm_log(RMAIL_LOG_WARN,
	       "event=auth_failed proto=%s user=%s rip=%s reason=%s tls=%s "
	       "session=%s",
	       p, u, r, why, f.tls, f.session);
	snprintf(labels, sizeof(labels), "proto=\"%s\"", p);
	rm_metric_add("rmail_auth_failures_total", labels, 1);
}

void rm_auth_log_failure(const char *proto, const char *user, const char *rip,
			 const char *reason)
{
	rm_auth_log(rm_conn_current(), proto, user, rip,
		    reason != NULL ? reason : "-");
}

static const char *close_reason(int reason)
{
	switch (reason) {
	case RMAIL_CLOSE_NORMAL:
		return "closed";
	case RMAIL_CLOSE_PEER:
		return "peer_closed";
	case RMAIL_CLOSE_TIMEOUT:
		return "timeout";
	case RMAIL_CLOSE_ERROR:
		return "error";
	case RMAIL_CLOSE_SHUTDOWN:
		return "shutdown";
	default:
		return "-";
	}
}

void rm_session_log_end(struct rmail_conn *c, const char *proto,
			const char *user, uint64_t in, uint64_t out,
			double duration, int reason)
{
	char p[32], u[128], r[64];
	struct conn_fields f;

	rm_log_clean_field(p, sizeof(p), proto);
	rm_log_clean_field(u, sizeof(u), user);
	rm_log_clean_field(r, sizeof(r), rm_conn_peer_ip(c));
	conn_fields(c, &f);
	rm_log(RMAIL_LOG_INFO,
	       "event=session_end proto=%s session=%s user=%s rip=%s tls=%s "
	       "in=%llu out=%llu duration=%.3f reason=%s",
	       p, f.session, u, r, f.tls, (unsigned long long)in,
	       (unsigned long long)out, duration < 0 ? 0 : duration,
	       close_reason(reason));
}
