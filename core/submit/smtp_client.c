/*
 * The outbound SMTP client, run on a worker with blocking sockets and
 * timeouts: EHLO (HELO fallback), STARTTLS as the TLS policy says
 * (tls_policy.h): opportunistic — a failed handshake retries the host
 * in cleartext — or mandatory and authenticated, where nothing ever
 * goes out in cleartext; then MAIL with the SIZE, BODY and SMTPUTF8
 * parameters the hop offers (mail_params: the 7-bit form for a hop
 * without 8BITMIME, final replies for what the hop cannot take), RCPT
 * per recipient, DATA with canonical CRLF and dot-stuffing.  Replies are
 * read with bounded lines and a bounded number of continuation lines:
 * the peer is untrusted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "submit/tlsrpt.h"
#include "submit_int.h"
#include "tls_policy.h"

#define LINE_MAX_ RM_SMTP_LINE_MAX
#define OUT_BUF 16384

double rm_smtp_timeout = 60;
int rm_smtp_mx_port = 25;

struct cl {
	int fd;
	SSL *ssl;
	char in[LINE_MAX_ * 2];
	size_t ilen;
	bool starttls;		  /* advertised in the last EHLO */
	struct rm_smtp_caps caps; /* the last EHLO's other keywords */
};

static int cl_connect(struct cl *c, const struct rm_addr *a)
{
	struct timeval tv;
	struct pollfd pfd;
	socklen_t sl = sizeof(int);
	int fl, soerr = 0, one = 1;

	c->fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	fl = fcntl(c->fd, F_GETFL);
	(void)fcntl(c->fd, F_SETFL, fl | O_NONBLOCK);
	if (connect(c->fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		if (errno != EINPROGRESS)
			return -1;
		pfd.fd = c->fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, (int)(rm_smtp_timeout * 1000)) <= 0)
			return (errno = ETIMEDOUT), -1;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 ||
		    soerr != 0)
			return (errno = soerr ? soerr : EIO), -1;
	}
	(void)fcntl(c->fd, F_SETFL, fl);
	tv.tv_sec = (time_t)rm_smtp_timeout;
	tv.tv_usec = (suseconds_t)((rm_smtp_timeout - (double)tv.tv_sec) * 1e6);
	(void)setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* back-to-back writes (TLS Finished then EHLO, the body then its
	 * final dot) would otherwise wait out the peer's delayed ACK */
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

static void cl_close(struct cl *c)
{
	if (c->ssl != NULL) {
		(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int cl_write(struct cl *c, const void *p, size_t n)
{
	while (n > 0) {
		ssize_t w;

		if (c->ssl != NULL) {
			int r = SSL_write(c->ssl, p,
					  (int)(n > 65536 ? 65536 : n));

			w = r > 0 ? r : -1;
		} else {
			w = send(c->fd, p, n, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
		}
		if (w <= 0)
			return -1;
		p = (const char *)p + w;
		n -= (size_t)w;
	}
	return 0;
}

static int cl_printf(struct cl *c, const char *fmt, ...) RMAIL_PRINTF(2, 3);

static int cl_printf(struct cl *c, const char *fmt, ...)
{
	char buf[1100];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return cl_write(c, buf, (size_t)n);
}

/* one line without CRLF into line (truncated at sz-1); -1 on EOF */
static int cl_line(struct cl *c, char *line, size_t sz)
{
	for (;;) {
		ssize_t r;

		if (rm_smtp_take_line(c->in, &c->ilen, sizeof(c->in), line,
				      sz) == 1)
			return 0;
		if (c->ssl != NULL) {
			int k = SSL_read(c->ssl, c->in + c->ilen,
					 (int)(sizeof(c->in) - c->ilen));

			r = k > 0 ? k : -1;
		} else {
			r = recv(c->fd, c->in + c->ilen,
				 sizeof(c->in) - c->ilen, 0);
			if (r < 0 && errno == EINTR)
				continue;
		}
		if (r <= 0)
			return -1;
		c->ilen += (size_t)r;
	}
}

/* a whole reply: its code, its last line in text; -1 on EOF/garbage */
static int cl_reply(struct cl *c, char *text, size_t sz, bool ehlo)
{
	struct rm_smtp_reply rp;
	char line[LINE_MAX_];
	int rc;

	rm_smtp_reply_init(&rp, ehlo);
	if (ehlo) {
		c->starttls = false;
		memset(&c->caps, 0, sizeof(c->caps));
	}
	do {
		if (cl_line(c, line, sizeof(line)) < 0)
			return -1;
		rc = rm_smtp_reply_line(&rp, line, text, sz);
	} while (rc == 0);
	if (ehlo) {
		c->starttls = rp.starttls;
		c->caps = rp.caps;
	}
	return rc < 0 ? -1 : rp.code;
}

/* "pre arg post\r\n", then its reply code */
static int cmd(struct cl *c, char *text, size_t sz, const char *pre,
	       const char *arg, const char *post)
{
	/* envelope addresses never carry a line break onto the wire */
	if (strpbrk(arg, "\r\n") != NULL) {
		snprintf(text, sz, "501 5.1.3 bad address");
		return 501;
	}
	if (cl_printf(c, "%s%s%s\r\n", pre, arg, post) < 0)
		return -1;
	return cl_reply(c, text, sz, false);
}

/* the handshake under policy p (its SSL set-up: SNI, DANE, names) */
static int start_tls(struct cl *c, const char *host,
		     const struct rm_tls_policy *p)
{
	c->ssl = rm_tls_policy_ssl(p, host);
	if (c->ssl == NULL)
		return -1;
	if (SSL_set_fd(c->ssl, c->fd) != 1 || SSL_connect(c->ssl) != 1) {
		ERR_clear_error();
		SSL_free(c->ssl);
		c->ssl = NULL;
		return -1;
	}
	return 0;
}

/* the peer against the policy, the result noted for the log */
static int tls_check(struct cl *c, const struct rm_tls_policy *p,
		     const char *host, struct rm_tls_result *res, char *why,
		     size_t whysz)
{
	struct rm_tls_result tmp;

	if (res == NULL)
		res = &tmp;
	return rm_tls_policy_check(p, c->ssl, host, res, why, whysz);
}

/*
 * The wire form of stored octets: every CR, LF and CRLF becomes one
 * CRLF, and a line starting with "." gets another.  Entries may come
 * from before the inbound rule refused bare CR and LF (or from other
 * tools), and a next hop may take <CR>.<CR> or <LF>.<LF> as the end of
 * DATA: nothing but canonical lines may leave.
 */
struct wire {
	bool bol; /* at the start of a line */
	bool cr;  /* a CR was read, its line break not yet written */
};

/* out needs 3 * n + 2 octets; returns what was written */
static size_t wire_put(struct wire *w, const char *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char ch = in[i];

		if (w->cr) {
			/* CRLF, or a bare CR: a line break either way */
			out[o++] = '\r';
			out[o++] = '\n';
			w->cr = false;
			w->bol = true;
			if (ch == '\n')
				continue;
		}
		if (ch == '\r') {
			w->cr = true;
			continue;
		}
		if (ch == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
			w->bol = true;
			continue;
		}
		if (w->bol && ch == '.')
			out[o++] = '.';
		out[o++] = ch;
		w->bol = false;
	}
	return o;
}

/* the pending line break, the last line's CRLF, then "." CRLF */
static size_t wire_end(struct wire *w, char *out)
{
	size_t o = 0;

	if (w->cr || !w->bol) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}

static int send_body(struct cl *c, int fd)
{
	char *in = rm_xmalloc(OUT_BUF), *out = rm_xmalloc(OUT_BUF * 3 + 8);
	struct wire w = {.bol = true, .cr = false};
	uint64_t off = 0;
	int rc = -1;

	for (;;) {
		ssize_t got = pread(fd, in, OUT_BUF, (off_t)off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			goto out;
		if (got == 0)
			break;
		off += (uint64_t)got;
		if (cl_write(c, out, wire_put(&w, in, (size_t)got, out)) < 0)
			goto out;
	}
	rc = cl_write(c, out, wire_end(&w, out));
out:
	free(in);
	free(out);
	return rc;
}

/* RFC 4954 AUTH PLAIN, only ever on a TLS session: 0 without TLS */
static int auth_plain(struct cl *c, const struct rm_smtp_opts *o, char *text,
		      size_t sz)
{
	unsigned char raw[520];
	char b64[700];
	size_t ul = strlen(o->user), pl = strlen(o->password);
	int code;

	if (c->ssl == NULL)
		return 0;
	if (ul + pl + 2 > sizeof(raw)) {
		snprintf(text, sz, "credentials too long");
		return 0;
	}
	raw[0] = '\0';
	memcpy(raw + 1, o->user, ul);
	raw[1 + ul] = '\0';
	memcpy(raw + 2 + ul, o->password, pl);
	(void)EVP_EncodeBlock((unsigned char *)b64, raw, (int)(ul + pl + 2));
	code = cmd(c, text, sz, "AUTH PLAIN ", b64, "");
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(b64, sizeof(b64));
	return code;
}

void rm_smtp_msg_done(struct rm_smtp_msg *m)
{
	if (m->fd7 >= 0)
		close(m->fd7);
	m->fd7 = -1;
}

/* the 7-bit form for a hop without 8BITMIME, made once per attempt;
 * -2 in fd7: nothing needed converting (8-bit only in headers) */
static int body_7bit(struct rm_smtp_msg *m, int *fd_r, uint64_t *size_r)
{
	if (m->fd7 == -1) {
		int rc = rm_msg_to7bit(m->fd, m->size, &m->fd7, &m->size7);

		if (rc < 0)
			return -1;
		if (rc == 0)
			m->fd7 = -2;
	}
	*fd_r = m->fd7 >= 0 ? m->fd7 : m->fd;
	*size_r = m->fd7 >= 0 ? m->size7 : m->size;
	return 0;
}

static void fail_rcpt(struct rm_smtp_rcpt *r, const char *fmt, ...)
	RMAIL_PRINTF(2, 3);

static void fail_rcpt(struct rm_smtp_rcpt *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->reply, sizeof(r->reply), fmt, ap);
	va_end(ap);
	r->code = atoi(r->reply);
}

/* RFC 6531 §3.2: nothing internationalized to a hop without SMTPUTF8.
 * Recipients that cannot go get their final reply here. */
static void utf8_check(const struct cl *c, const char *host,
		       const struct rm_smtp_msg *m, const char *from,
		       struct rm_smtp_rcpt *r, size_t n)
{
	if (c->caps.smtputf8)
		return;
	for (size_t i = 0; i < n; i++) {
		if (rm_str_8bit(from))
			fail_rcpt(&r[i],
				  "550 5.6.7 %.100s does not support SMTPUTF8 "
				  "(RFC 6531): the sender address is not "
				  "ASCII",
				  host);
		else if (m->flags & RM_MSG_UTF8HDR)
			fail_rcpt(&r[i],
				  "550 5.6.9 %.100s does not support SMTPUTF8 "
				  "(RFC 6531): the message has UTF-8 header "
				  "fields",
				  host);
		else if (rm_str_8bit(r[i].addr))
			fail_rcpt(&r[i],
				  "550 5.6.7 %.100s does not support SMTPUTF8 "
				  "(RFC 6531): the recipient address is not "
				  "ASCII",
				  host);
	}
}

/*
 * What goes with MAIL FROM for this hop and which bytes follow DATA:
 * SIZE= (RFC 1870), BODY=8BITMIME (RFC 6152) and SMTPUTF8 (RFC 6531),
 * each only when the hop offers it; an 8-bit message to a hop without
 * 8BITMIME goes in its 7-bit form.  1: nothing to send (every
 * recipient has its final reply), -1: a local failure (why set).
 */
static int mail_params(struct cl *c, const char *host, struct rm_smtp_msg *m,
		       const char *from, struct rm_smtp_rcpt *r, size_t n,
		       int *fd_r, char *params, size_t psz, char *why,
		       size_t whysz)
{
	uint64_t size = m->size;
	size_t i, left = 0;
	bool utf8 = (m->flags & RM_MSG_SMTPUTF8) || rm_str_8bit(from);
	int o = 0;

	utf8_check(c, host, m, from, r, n);
	for (i = 0; i < n; i++) {
		left += r[i].code == 0;
		utf8 = utf8 || (r[i].code == 0 && rm_str_8bit(r[i].addr));
	}
	if (left == 0)
		return 1;
	*fd_r = m->fd;
	if ((m->flags & RM_MSG_8BIT) && !c->caps.eightbitmime &&
	    body_7bit(m, fd_r, &size) < 0) {
		snprintf(why, whysz, "4.3.0 %s: 7-bit conversion failed: %s",
			 host, strerror(errno));
		return -1;
	}
	params[0] = '\0';
	if (c->caps.size && c->caps.size_max > 0 && size > c->caps.size_max) {
		for (i = 0; i < n; i++)
			if (r[i].code == 0)
				fail_rcpt(&r[i],
					  "552 5.3.4 message size %llu exceeds "
					  "the fixed maximum message size "
					  "%llu of %.100s (RFC 1870)",
					  (unsigned long long)size,
					  (unsigned long long)c->caps.size_max,
					  host);
		return 1;
	}
	if (c->caps.size)
		o += snprintf(params + o, psz - (size_t)o, " SIZE=%llu",
			      (unsigned long long)size);
	if ((m->flags & RM_MSG_8BIT) && c->caps.eightbitmime)
		o += snprintf(params + o, psz - (size_t)o, " BODY=8BITMIME");
	if (utf8 && c->caps.smtputf8)
		(void)snprintf(params + o, psz - (size_t)o, " SMTPUTF8");
	/* REQUIRETLS (session) is appended by the caller */
	return 0;
}

static const char *helo_name(void)
{
	const struct rm_config *cf = rm_conf();

	return cf != NULL && cf->hostname != NULL ? cf->hostname : "localhost";
}

/* TLS-RPT: the session got to its TLS step; failure (enum
 * rm_tlsrpt_result) when it went wrong there */
static void rpt(struct rm_tls_result *res, int failure, const char *detail)
{
	if (res == NULL)
		return;
	res->reached = true;
	if (failure != 0) {
		res->failure = failure;
		snprintf(res->detail, sizeof(res->detail), "%s", detail);
	}
}

/* the TLS part of the session after EHLO: 0 go on (TLS or cleartext as
 * the policy allows), 1 the handshake failed and cleartext may be
 * tried, -1 stop (why set) */
static int tls_step(struct cl *c, const char *host,
		    const struct rm_tls_policy *p, bool try_tls,
		    struct rm_tls_result *res, char *why, size_t whysz)
{
	bool mandatory = p->level >= RM_TLS_ENCRYPT && !p->testing;
	char text[LINE_MAX_];
	int code;

	if (!try_tls || c->ssl != NULL)
		return 0;
	rpt(res, 0, NULL);
	if (!c->starttls) {
		rpt(res, RM_TLSRPT_STARTTLS_NOT_SUPPORTED,
		    "STARTTLS not offered");
		if (!mandatory)
			return 0;
		/* a man in the middle may have removed it: never cleartext */
		(void)cl_printf(c, "QUIT\r\n");
		snprintf(why, whysz,
			 "4.7.4 %s: STARTTLS not offered; TLS is required "
			 "(policy %s)",
			 host, rm_tls_source_name(p->source));
		return -1;
	}
	code = cmd(c, text, sizeof(text), "STARTTLS", "", "");
	if (code < 0) {
		snprintf(why, whysz, "4.4.2 %s: connection lost", host);
		return -1;
	}
	if (code != 220) {
		rpt(res, RM_TLSRPT_STARTTLS_NOT_SUPPORTED, "STARTTLS refused");
		if (!mandatory)
			return 0;
		(void)cl_printf(c, "QUIT\r\n");
		snprintf(why, whysz,
			 "4.7.4 %s: STARTTLS refused (%.100s); TLS is "
			 "required (policy %s)",
			 host, text, rm_tls_source_name(p->source));
		return -1;
	}
	if (start_tls(c, host, p) < 0) {
		rpt(res, RM_TLSRPT_VALIDATION_FAILURE, "TLS handshake failed");
		if (!mandatory)
			return 1;
		snprintf(why, whysz,
			 "4.7.5 %s: TLS handshake failed; TLS is required "
			 "(policy %s)",
			 host, rm_tls_source_name(p->source));
		return -1;
	}
	if (tls_check(c, p, host, res, why, whysz) < 0) {
		(void)cl_printf(c, "QUIT\r\n");
		return -1;
	}
	if (cl_printf(c, "EHLO %s\r\n", helo_name()) < 0 ||
	    cl_reply(c, text, sizeof(text), true) != 250) {
		snprintf(why, whysz, "4.4.2 %s: connection lost", host);
		return -1;
	}
	return 0;
}

/* 1 = the TLS handshake failed (retry in cleartext) */
static int session(struct cl *c, const struct rm_addr *a, const char *host,
		   const struct rm_smtp_opts *o, const struct rm_tls_policy *p,
		   bool try_tls, const char *from, struct rm_smtp_rcpt *r,
		   size_t n, struct rm_smtp_msg *msg, char *why, size_t whysz)
{
	char text[LINE_MAX_], params[96];
	size_t i, ok = 0;
	int code, msg_fd = -1;

	if (cl_connect(c, a) < 0) {
		snprintf(why, whysz, "4.4.1 %s: connect: %s", host,
			 strerror(errno));
		return -1;
	}
	if (o->tls == RM_RELAY_IMPLICIT) {
		rpt(o->res, 0, NULL);
		if (start_tls(c, host, p) < 0) {
			rpt(o->res, RM_TLSRPT_VALIDATION_FAILURE,
			    "TLS handshake failed");
			snprintf(why, whysz, "4.4.2 %s: TLS handshake failed",
				 host);
			return -1;
		}
		if (tls_check(c, p, host, o->res, why, whysz) < 0)
			return -1;
	}
	code = cl_reply(c, text, sizeof(text), false);
	if (code < 200 || code >= 300) {
		snprintf(why, whysz, "4.4.2 %s: greeting: %.200s", host,
			 code < 0 ? "none" : text);
		return -1;
	}
	if (cl_printf(c, "EHLO %s\r\n", helo_name()) < 0 ||
	    (code = cl_reply(c, text, sizeof(text), true)) < 0)
		goto lost;
	if (code != 250 &&
	    cmd(c, text, sizeof(text), "HELO ", helo_name(), "") != 250)
		goto proto;
	code = tls_step(c, host, p, try_tls, o->res, why, whysz);
	if (code != 0)
		return code;
	if (o->requiretls && (c->ssl == NULL || !c->caps.requiretls)) {
		/* RFC 8689 §4.2.1: the next hop must carry the promise on */
		(void)cl_printf(c, "QUIT\r\n");
		snprintf(why, whysz,
			 "5.7.30 %s: REQUIRETLS not supported by the peer",
			 host);
		return -1;
	}
	if (o->user != NULL) {
		code = auth_plain(c, o, text, sizeof(text));
		if (code < 0)
			goto lost;
		if (code != 235) {
			(void)cl_printf(c, "QUIT\r\n");
			snprintf(why, whysz, "4.7.8 %s: %s: %.200s", host,
				 c->ssl == NULL ? "no TLS, credentials withheld"
						: "AUTH refused",
				 c->ssl == NULL ? "" : text);
			return -1;
		}
	}
	code = mail_params(c, host, msg, from, r, n, &msg_fd, params + 1,
			   sizeof(params) - 1, why, whysz);
	if (code < 0) {
		(void)cl_printf(c, "QUIT\r\n");
		return -1;
	}
	if (code > 0)
		goto quit;
	params[0] = '>';
	if (o->requiretls)
		strncat(params, " REQUIRETLS",
			sizeof(params) - strlen(params) - 1);
	code = cmd(c, text, sizeof(text), "MAIL FROM:<", from, params);
	if (code < 0)
		goto lost;
	if (code >= 300) {
		for (i = 0; i < n; i++) {
			if (r[i].code != 0)
				continue;
			r[i].code = code;
			snprintf(r[i].reply, sizeof(r[i].reply), "%.255s",
				 text);
		}
		goto quit;
	}
	for (i = 0; i < n; i++) {
		if (r[i].code != 0)
			continue; /* refused before MAIL (utf8_check) */
		r[i].code = cmd(c, r[i].reply, sizeof(r[i].reply), "RCPT TO:<",
				r[i].addr, ">");
		if (r[i].code < 0)
			goto lost;
		if (r[i].code >= 200 && r[i].code < 300)
			ok++;
	}
	if (ok == 0)
		goto quit;
	code = cmd(c, text, sizeof(text), "DATA", "", "");
	if (code == 354) {
		if (send_body(c, msg_fd) < 0 ||
		    (code = cl_reply(c, text, sizeof(text), false)) < 0)
			goto lost;
	} else if (code < 0) {
		goto lost;
	}
	for (i = 0; i < n; i++) {
		if (r[i].code < 200 || r[i].code >= 300)
			continue;
		r[i].code = code;
		snprintf(r[i].reply, sizeof(r[i].reply), "%.255s", text);
	}
quit:
	(void)cl_printf(c, "QUIT\r\n");
	return 0;
proto:
	snprintf(why, whysz, "4.5.0 %s: %.200s", host, text);
	return -1;
lost:
	snprintf(why, whysz, "4.4.2 %s: connection lost", host);
	return -1;
}

/* the policy of a caller that gave none: opportunistic, or cleartext
 * with relay_tls none */
static void default_policy(const struct rm_smtp_opts *o, const char *host,
			   struct rm_tls_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->level = o->tls == RM_RELAY_NONE ? RM_TLS_NONE : RM_TLS_OPPORTUNISTIC;
	p->source = RM_TLSP_DEFAULT;
	snprintf(p->name, sizeof(p->name), "%s", host);
}

int rm_smtp_send(const struct rm_addr *a, const char *host,
		 const struct rm_smtp_opts *o, const char *from,
		 struct rm_smtp_rcpt *r, size_t n, struct rm_smtp_msg *msg,
		 char *why, size_t whysz)
{
	static const struct rm_smtp_opts dflt = {.tls = RM_RELAY_STARTTLS};
	struct rm_tls_policy own;
	const struct rm_tls_policy *p;
	struct cl c;
	int rc;

	if (o == NULL)
		o = &dflt;
	p = o->policy;
	if (p == NULL) {
		default_policy(o, host, &own);
		p = &own;
	}
	if (o->res != NULL) {
		memset(o->res, 0, sizeof(*o->res));
		o->res->verify = "None";
		o->res->policy = rm_tls_source_name(p->source);
	}
	memset(&c, 0, sizeof(c));
	c.fd = -1;
	rc = session(&c, a, host, o, p,
		     o->tls != RM_RELAY_NONE && p->level != RM_TLS_NONE, from,
		     r, n, msg, why, whysz);
	cl_close(&c);
	/* credentials never go out in cleartext: no fallback with them */
	if (rc == 1 && o->user != NULL) {
		snprintf(why, whysz,
			 "4.7.0 %s: TLS handshake failed; "
			 "credentials withheld",
			 host);
		rc = -1;
	}
	if (rc == 1) {
		rm_log(RMAIL_LOG_INFO,
		       "smtp client: TLS with %s failed; "
		       "retrying in cleartext",
		       host);
		memset(&c, 0, sizeof(c));
		c.fd = -1;
		for (size_t i = 0; i < n; i++)
			r[i].code = 0;
		if (o->res != NULL) {
			/* the cleartext retry keeps the failed TLS attempt
			 * for TLS-RPT */
			struct rm_tls_result keep = *o->res;

			memset(o->res, 0, sizeof(*o->res));
			o->res->verify = "None";
			o->res->policy = rm_tls_source_name(p->source);
			o->res->reached = keep.reached;
			o->res->failure = keep.failure;
			memcpy(o->res->detail, keep.detail,
			       sizeof(keep.detail));
		}
		rc = session(&c, a, host, o, p, false, from, r, n, msg, why,
			     whysz);
		cl_close(&c);
	}
	return rc == 0 ? 0 : -1;
}
