/*
 * RFC 3464 delivery status notifications: a multipart/report with a
 * human part, the message/delivery-status fields per recipient and the
 * original header block (text/rfc822-headers).  Sent with the null
 * sender through the same delivery path, so a bounce never bounces.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "submit_int.h"

#define ORIG_HDR_MAX 32768

/* the first d.d.d status in a diagnostic, else the default */
static void status_of(const char *diag, bool expired, char *out, size_t sz)
{
	const char *p;

	snprintf(out, sz, "%s", expired ? "4.4.7" : "5.0.0");
	for (p = diag; p != NULL && *p != '\0'; p++) {
		size_t a, b, c;

		if ((p[0] != '4' && p[0] != '5') || p[1] != '.' ||
		    (p != diag && p[-1] != ' '))
			continue;
		a = 1;
		b = strspn(p + 2, "0123456789");
		if (b == 0 || b > 3 || p[2 + b] != '.')
			continue;
		c = strspn(p + 3 + b, "0123456789");
		if (c == 0 || c > 3)
			continue;
		snprintf(out, sz, "%.*s", (int)(a + 1 + b + 1 + c), p);
		return;
	}
}

/* the original header block, up to the blank line */
static size_t orig_headers(int fd, char *buf, size_t sz)
{
	ssize_t got = fd >= 0 ? rm_pread_all(fd, buf, sz - 1, 0) : -1;
	size_t n, i;

	if (got <= 0)
		return 0;
	n = (size_t)got;
	for (i = 0; i + 1 < n; i++) {
		if (buf[i] == '\n' &&
		    (buf[i + 1] == '\n' ||
		     (buf[i + 1] == '\r' && i + 2 < n && buf[i + 2] == '\n'))) {
			n = i + 1;
			break;
		}
	}
	buf[n] = '\0';
	return n;
}

static void clean_line(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 32)
			*s = ' ';
}

/* the human part lists the addresses: UTF-8 ones (RFC 6531) make it
 * utf-8 text */
static bool utf8_addrs(const struct rm_bounce_rcpt *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (rm_str_8bit(r[i].addr))
			return true;
	return false;
}

void rm_bounce_send(const char *to, const char *orig_id,
		    const struct rm_bounce_rcpt *r, size_t n, int msg_fd)
{
	rm_bounce_send_rt(to, orig_id, r, n, msg_fd, false);
}

void rm_bounce_send_rt(const char *to, const char *orig_id,
		       const struct rm_bounce_rcpt *r, size_t n, int msg_fd,
		       bool requiretls)
{
	const struct rm_config *c = rm_conf();
	const char *host = c != NULL && c->hostname ? c->hostname : "localhost";
	struct rmail_rcpt_result res;
	struct rm_deliver_req rq;
	struct rm_msg_src local, remote;
	char id[RM_QID_MAX], path[4096], date[64], st[16], diag[300];
	char *hdr;
	const char *rcpts[1];
	size_t nq, hl;
	struct rmail_pool *pool;
	FILE *f;
	int fd;

	if (to == NULL || to[0] == '\0' || n == 0)
		return;
	rm_submit_new_id(id);
	if (rm_submit_path(path, sizeof(path), "spool/tmp", id) < 0)
		return;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0) {
		rm_log(RMAIL_LOG_ERR, "bounce for %s: %s", orig_id,
		       strerror(errno));
		return;
	}
	f = fdopen(dup(fd), "w");
	if (f == NULL) {
		close(fd);
		(void)unlink(path);
		return;
	}
	rm_rfc5322_date((int64_t)time(NULL), date, sizeof(date));
	fprintf(f,
		"From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
		"To: <%s>\r\n"
		"Subject: Undelivered Mail Returned to Sender\r\n"
		"Date: %s\r\n"
		"Message-ID: <%s@%s>\r\n"
		"Auto-Submitted: auto-replied\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/report; report-type=delivery-status;"
		"\r\n\tboundary=\"%s/%s\"\r\n\r\n"
		"This is a MIME-encapsulated message.\r\n\r\n"
		"--%s/%s\r\n"
		"Content-Type: text/plain; charset=%s\r\n\r\n"
		"This is the mail system at host %s.\r\n\r\n"
		"Your message (queue id %s) could not be delivered to one "
		"or more\r\nrecipients.\r\n\r\n",
		host, to, date, id, host, id, host, id, host,
		utf8_addrs(r, n) ? "utf-8" : "us-ascii", host, orig_id);
	for (size_t i = 0; i < n; i++) {
		snprintf(diag, sizeof(diag), "%s", r[i].diag ? r[i].diag : "");
		clean_line(diag);
		fprintf(f, "<%s>: %s%s\r\n", r[i].addr,
			r[i].expired ? "delivery time expired; last error: "
				     : "",
			diag);
	}
	fprintf(f,
		"\r\n--%s/%s\r\n"
		"Content-Type: message/delivery-status\r\n\r\n"
		"Reporting-MTA: dns; %s\r\n"
		"X-Rmail-Queue-ID: %s\r\n",
		id, host, host, orig_id);
	for (size_t i = 0; i < n; i++) {
		snprintf(diag, sizeof(diag), "%s", r[i].diag ? r[i].diag : "");
		clean_line(diag);
		status_of(diag, r[i].expired, st, sizeof(st));
		fprintf(f,
			"\r\nFinal-Recipient: rfc822; %s\r\n"
			"Action: failed\r\nStatus: %s\r\n"
			"Diagnostic-Code: smtp; %s\r\n",
			r[i].addr, st, diag);
	}
	hdr = rm_xmalloc(ORIG_HDR_MAX);
	hl = orig_headers(msg_fd, hdr, ORIG_HDR_MAX);
	fprintf(f,
		"\r\n--%s/%s\r\n"
		"Content-Type: text/rfc822-headers\r\n\r\n",
		id, host);
	fwrite(hdr, 1, hl, f);
	fprintf(f, "\r\n--%s/%s--\r\n", id, host);
	free(hdr);
	if (fflush(f) != 0 || fsync(fd) < 0) {
		fclose(f);
		close(fd);
		(void)unlink(path);
		rm_log(RMAIL_LOG_ERR, "bounce for %s: write failed", orig_id);
		return;
	}
	fclose(f);
	remote.fd = fd;
	remote.size = (uint64_t)lseek(fd, 0, SEEK_END);
	rcpts[0] = to;
	remote.prefix = "";
	remote.flags =
		rm_msg_classify(fd, remote.size, "", "", rcpts, 1, false);
	/* 7-bit before it is signed when it leaves (docs/delivery.md) */
	if (rm_submit_sign_7bit(&remote, rcpts, 1, false) < 0)
		rm_log(RMAIL_LOG_WARN, "bounce %s: 7-bit conversion failed",
		       id);
	pool = rm_pool_create(NULL);
	/* signed with the key of the hostname's domain (From: is there) */
	remote.prefix =
		rm_submit_dkim(pool, "", remote.fd, remote.size, id, false);
	local = remote;
	local.prefix =
		rm_psprintf(pool, "Return-Path: <>\r\n%s", remote.prefix);
	memset(&rq, 0, sizeof(rq));
	rq.id = id;
	rq.mail_from = "";
	rq.rcpts = rcpts;
	rq.n = 1;
	rq.local = &local;
	rq.remote = &remote;
	rq.requiretls = requiretls;
	memset(&res, 0, sizeof(res));
	rm_deliver_message(&rq, &res, NULL, &nq);
	rm_log(RMAIL_LOG_INFO, "bounce %s for %s to %s: %s", id, orig_id, to,
	       res.status == RMAIL_RCPT_DELIVERED ? "delivered"
	       : res.status == RMAIL_RCPT_QUEUED  ? "queued"
						  : "failed");
	rm_metric_add("rmail_deliveries_total", "result=\"bounced\"", 1);
	if (remote.fd != fd)
		close(remote.fd);
	close(fd);
	(void)unlink(path);
	rm_pool_destroy(&pool);
}
