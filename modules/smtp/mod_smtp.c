/*
 * mod_smtp: the descriptor, the "smtp" config section and the three
 * listeners (25 MX, 587 submission, 465 implicit TLS).  The wire
 * protocol lives in smtp_session.c; message submission is the core's.
 */
#include <stddef.h>
#include <string.h>

#include <rmail/rmail.h>

#include "smtp_session.h"

/* reached by the sessions through the listeners' ctx, never by name */
static struct smtp_mod smtp_mod;

#define OFF(f) offsetof(struct smtp_conf, f)
#define RL RMAIL_CONF_RELOADABLE

static int check_positive(const void *field, struct rmail_err *err)
{
	if (*(const int64_t *)field < 1)
		return rmail_err_set(err, RMAIL_E_INVAL, "must be at least 1");
	return 0;
}

static int check_line(const void *field, struct rmail_err *err)
{
	uint64_t v = *(const uint64_t *)field;

	if (v < SMTP_LINE_MAX || v > 1024 * 1024)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "must be between 512 and 1M");
	return 0;
}

static int check_one_line(const void *field, struct rmail_err *err)
{
	const char *s = *(const char *const *)field;

	if (s != NULL && strpbrk(s, "\r\n") != NULL)
		return rmail_err_set(err, RMAIL_E_INVAL, "must be one line");
	return 0;
}

static const struct rmail_conf_key smtp_keys[] = {
	{"listen", RMAIL_CONF_LISTEN, 0, OFF(listen), "[\"0.0.0.0:25\"]",
	 "MX listeners: local domains without AUTH, STARTTLS offered", NULL},
	{"submission_listen", RMAIL_CONF_LISTEN, 0, OFF(submission_listen),
	 "[\"0.0.0.0:587\"]",
	 "submission listeners: STARTTLS, then AUTH before MAIL", NULL},
	{"smtps_listen", RMAIL_CONF_LISTEN, 0, OFF(smtps_listen),
	 "[\"0.0.0.0:465\"]", "implicit-TLS submission listeners (RFC 8314)",
	 NULL},
	{"max_message_size", RMAIL_CONF_SIZE, RL, OFF(max_message_size),
	 "\"35M\"", "largest message accepted (SIZE, 552 5.3.4)", NULL},
	{"max_recipients", RMAIL_CONF_INT, RL, OFF(max_recipients), "100",
	 "recipients per message (452 4.5.3 beyond)", check_positive},
	{"max_line", RMAIL_CONF_SIZE, 0, OFF(max_line), "4096",
	 "command line limit incl. CRLF and AUTH initial response", check_line},
	{"max_header_size", RMAIL_CONF_SIZE, RL, OFF(max_header_size), "\"1M\"",
	 "header block size limit (552 5.3.4)", NULL},
	{"max_headers", RMAIL_CONF_INT, RL, OFF(max_headers), "1000",
	 "header field count limit (554 5.6.0)", check_positive},
	{"max_errors", RMAIL_CONF_INT, RL, OFF(max_errors), "10",
	 "client errors before 421 and disconnect", check_positive},
	{"idle_timeout", RMAIL_CONF_DURATION, 0, OFF(idle_timeout), "\"5m\"",
	 "idle time before 421 4.4.2 and disconnect", NULL},
	{"session_timeout", RMAIL_CONF_DURATION, RL, OFF(session_timeout),
	 "\"30m\"", "total session time before 421 4.4.2", NULL},
	{"vrfy", RMAIL_CONF_BOOL, RL, OFF(vrfy), "false",
	 "answer VRFY truthfully (false: always 252)", NULL},
	{"postmaster", RMAIL_CONF_STR, RL | RMAIL_CONF_NULLABLE,
	 OFF(postmaster), "null",
	 "where postmaster@<local domain> goes (null: first admin user)", NULL},
	{"banner", RMAIL_CONF_STR, RL, OFF(banner), "\"ESMTP rmail\"",
	 "greeting text after the host name", check_one_line},
	{"rate.ip_messages", RMAIL_CONF_INT, RL, OFF(ip_messages), "200",
	 "messages per client IP per window (450 4.7.1 beyond)",
	 check_positive},
	{"rate.user_messages", RMAIL_CONF_INT, RL, OFF(user_messages), "500",
	 "messages per authenticated user per window", check_positive},
	{"rate.window", RMAIL_CONF_DURATION, RL, OFF(message_window), "\"1h\"",
	 "window of the message rate limits", NULL},
	{"rate.max_auth_failures", RMAIL_CONF_INT, RL, OFF(max_auth_failures),
	 "10", "failed AUTH per IP in the core's window before 454 4.7.0",
	 check_positive},
	RMAIL_CONF_END,
};

static const int kind_mx = SMTP_PORT_MX;
static const int kind_sub = SMTP_PORT_SUBMISSION;
static const int kind_smtps = SMTP_PORT_SMTPS;

static int smtp_init(struct rmail_mctx *m, struct rmail_err *err)
{
	(void)err;
	smtp_mod.m = m;
	smtp_mod.core = m->core;
	smtp_mod.postmaster[0] = '\0';
	return 0;
}

static int listen_one(struct rmail_mctx *m, const char *key,
		      const struct rmail_strlist *addrs, int tls,
		      const int *kind, struct rmail_err *err)
{
	const struct smtp_conf *cf = m->conf;
	/* "submission" names port 587 in logs, metrics and `make run` */
	struct rmail_listen_opts o = {
		.size = sizeof(o),
		.proto = kind == &kind_sub ? "submission" : "smtp",
		.tls = tls,
		.max_line = (size_t)cf->max_line,
		.idle_timeout = cf->idle_timeout,
		.overload_reply = "421 4.7.0 Too many connections from your "
				  "address, try again later\r\n",
		.arg = (void *)kind,
	};
	struct rmail_proto_ops ops = smtp_proto_ops;

	ops.ctx = &smtp_mod;
	return m->core->listen(m, key, addrs, &ops, &o, err);
}

static int smtp_start(struct rmail_mctx *m, struct rmail_err *err)
{
	const struct smtp_conf *cf = m->conf;

	smtp_postmaster_resolve(&smtp_mod);
	if (listen_one(m, "listen", &cf->listen, RMAIL_TLS_NONE, &kind_mx,
		       err) < 0 ||
	    listen_one(m, "submission_listen", &cf->submission_listen,
		       RMAIL_TLS_NONE, &kind_sub, err) < 0 ||
	    listen_one(m, "smtps_listen", &cf->smtps_listen, RMAIL_TLS_IMPLICIT,
		       &kind_smtps, err) < 0)
		return -1;
	return 0;
}

static int smtp_reload_check(struct rmail_mctx *m, const void *new_conf,
			     struct rmail_err *err)
{
	(void)m;
	(void)new_conf;
	(void)err;
	return 0;
}

static void smtp_reload_commit(struct rmail_mctx *m, const void *new_conf)
{
	const void *old = m->conf;

	/* m->conf is switched after we return; resolve against the new */
	m->conf = new_conf;
	smtp_postmaster_resolve(&smtp_mod);
	m->conf = old;
}

RMAIL_MODULE_DEFINE(smtp, RMAIL_KIND_PROTOCOL, "1.0.0", .section = "smtp",
		    .conf_keys = smtp_keys,
		    .conf_size = sizeof(struct smtp_conf), .init = smtp_init,
		    .start = smtp_start, .reload_check = smtp_reload_check,
		    .reload_commit = smtp_reload_commit, );
