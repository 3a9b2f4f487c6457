/*
 * imap_conn.h over a socket, with OpenSSL for TLS.  Reads and writes
 * time out (a server that stops answering ends the run with an error),
 * and every response goes through the bounded reader of imap_resp.c.
 */
#include "imap_conn.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int failf(struct rm_imc *c, const char *fmt, ...) RMAIL_PRINTF(2, 3);
static int failf(struct rm_imc *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return -1;
}

static const char *ssl_reason(void)
{
	unsigned long e = ERR_get_error();

	return e != 0 ? ERR_reason_error_string(e) : "TLS error";
}

static ssize_t conn_read(void *arg, void *buf, size_t n)
{
	struct rm_imc *c = arg;
	ssize_t got;

	if (c->ssl != NULL) {
		int r = SSL_read(c->ssl, buf,
				 n > INT32_MAX ? INT32_MAX : (int)n);

		if (r <= 0) {
			int e = SSL_get_error(c->ssl, r);

			return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
		}
		got = r;
	} else {
		do
			got = read(c->fd, buf, n);
		while (got < 0 && errno == EINTR);
	}
	if (got > 0)
		c->bytes_in += (uint64_t)got;
	return got;
}

static int conn_write(struct rm_imc *c, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w;

		if (c->ssl != NULL) {
			int r = SSL_write(c->ssl, s, (int)n);

			w = r > 0 ? r : -1;
		} else {
			do
				w = send(c->fd, s, n, MSG_NOSIGNAL);
			while (w < 0 && errno == EINTR);
		}
		if (w <= 0) {
			c->broken = true;
			return failf(c, "write to the server failed: %s",
				     c->ssl != NULL ? "TLS error"
						    : strerror(errno));
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static void caps_set(struct rm_imc *c, const char *s, size_t n)
{
	size_t o = 0;

	c->caps[o++] = ' ';
	for (size_t i = 0; i < n && o + 2 < sizeof(c->caps); i++)
		c->caps[o++] = (char)toupper((unsigned char)s[i]);
	c->caps[o++] = ' ';
	c->caps[o] = '\0';
}

bool rm_imc_has_cap(const struct rm_imc *c, const char *cap)
{
	char want[64];

	snprintf(want, sizeof(want), " %s ", cap);
	return strcasestr(c->caps, want) != NULL;
}

static int tcp_connect(struct rm_imc *c, const struct rm_imc_opts *o)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
	struct timeval tv = {.tv_sec = o->timeout_s > 0 ? o->timeout_s : 120};
	char port[16];
	int rc, e = 0;

	snprintf(port, sizeof(port), "%u", o->port);
	rc = getaddrinfo(o->host, port, &hints, &res);
	if (rc != 0)
		return failf(c, "%s: %s", o->host, gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			       ai->ai_protocol);
		if (c->fd < 0)
			continue;
		setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		e = errno;
		close(c->fd);
		c->fd = -1;
	}
	freeaddrinfo(res);
	if (c->fd < 0)
		return failf(c, "cannot connect to %s port %u: %s", o->host,
			     o->port, strerror(e));
	return 0;
}

static int tls_start(struct rm_imc *c, const struct rm_imc_opts *o)
{
	unsigned char ip[16];
	bool is_ip = inet_pton(AF_INET, o->host, ip) == 1 ||
		     inet_pton(AF_INET6, o->host, ip) == 1;

	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL)
		return failf(c, "TLS: %s", ssl_reason());
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	if (!o->insecure) {
		if (o->ca != NULL
			    ? SSL_CTX_load_verify_locations(c->ctx, o->ca,
							    NULL) != 1
			    : SSL_CTX_set_default_verify_paths(c->ctx) != 1)
			return failf(c, "TLS trust store %s: %s",
				     o->ca != NULL ? o->ca : "(system)",
				     ssl_reason());
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	}
	c->ssl = SSL_new(c->ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
		return failf(c, "TLS: %s", ssl_reason());
	if (!is_ip)
		SSL_set_tlsext_host_name(c->ssl, o->host);
	if (!o->insecure) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);

		if ((is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, o->host)
			   : SSL_set1_host(c->ssl, o->host)) != 1)
			return failf(c, "TLS: %s", ssl_reason());
	}
	if (SSL_connect(c->ssl) != 1) {
		long v = SSL_get_verify_result(c->ssl);

		c->broken = true;
		if (v != X509_V_OK)
			return failf(c,
				     "TLS: the certificate of %s is not "
				     "trusted: %s (--ca FILE, or --insecure)",
				     o->host, X509_verify_cert_error_string(v));
		return failf(c, "TLS handshake with %s failed: %s", o->host,
			     ssl_reason());
	}
	return 0;
}

/* a status line's [CAPABILITY ...] code, when it has one */
static void code_caps(struct rm_imc *c, const struct rm_imr_resp *r)
{
	if (r->code != NULL && r->codelen == 10 &&
	    strncasecmp(r->code, "CAPABILITY", 10) == 0)
		caps_set(c, r->code_arg, r->code_arglen);
}

static int next(struct rm_imc *c, struct rm_imr_resp *r)
{
	if (rm_imr_next(&c->rd, r) < 0) {
		c->broken = true;
		return failf(c, "%s", c->rd.err);
	}
	return 0;
}

static int greeting(struct rm_imc *c)
{
	struct rm_imr_resp r;

	if (next(c, &r) < 0)
		return -1;
	if (r.kind != RM_IMR_UNTAGGED || !r.status ||
	    (r.wordlen != 2 && r.wordlen != 7) ||
	    (strncasecmp(r.word, "OK", 2) != 0 &&
	     strncasecmp(r.word, "PREAUTH", 7) != 0)) {
		c->broken = true;
		return failf(c, "the server refused the connection: %.*s",
			     (int)(r.textlen > 200 ? 200 : r.textlen), r.text);
	}
	code_caps(c, &r);
	return 0;
}

static int caps_cb(void *arg, struct rm_imc *c, const struct rm_imr_resp *r)
{
	(void)arg;
	if (r->wordlen == 10 && strncasecmp(r->word, "CAPABILITY", 10) == 0 &&
	    r->text == NULL) {
		/* the raw words after CAPABILITY: rebuild from the values */
		char buf[1024];
		size_t o = 0;

		for (const struct rm_imv *v = r->vals; v != NULL; v = v->next)
			if (v->type == RM_IMV_ATOM &&
			    o + v->len + 1 < sizeof(buf)) {
				memcpy(buf + o, v->s, v->len);
				o += v->len;
				buf[o++] = ' ';
			}
		caps_set(c, buf, o);
	}
	return 0;
}

int rm_imc_open(struct rm_imc *c, const struct rm_imc_opts *o)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	rm_imr_init(&c->rd, o->literal_max, conn_read, c);
	if (tcp_connect(c, o) < 0)
		return -1;
	if (o->tls == RM_IMC_TLS && tls_start(c, o) < 0)
		return -1;
	if (greeting(c) < 0)
		return -1;
	if (o->tls == RM_IMC_STARTTLS) {
		if (c->caps[0] == '\0' &&
		    rm_imc_cmd(c, caps_cb, NULL, "CAPABILITY") < 0)
			return -1;
		if (!rm_imc_has_cap(c, "STARTTLS"))
			return failf(c, "%s does not offer STARTTLS", o->host);
		if (rm_imc_cmd(c, NULL, NULL, "STARTTLS") < 0)
			return -1;
		/* nothing the server sent before TLS may be kept */
		if (c->rd.inoff != c->rd.inlen) {
			c->broken = true;
			return failf(c, "the server sent data after STARTTLS");
		}
		c->caps[0] = '\0';
		if (tls_start(c, o) < 0)
			return -1;
	}
	return 0;
}

int rm_imc_quote(const char *s, char *out, size_t outsz)
{
	size_t o = 0;

	if (outsz < 3)
		return -1;
	out[o++] = '"';
	for (; *s != '\0'; s++) {
		if (*s == '\r' || *s == '\n')
			return -1;
		if ((*s == '"' || *s == '\\') && o + 1 < outsz)
			out[o++] = '\\';
		if (o + 2 >= outsz)
			return -1;
		out[o++] = *s;
	}
	out[o++] = '"';
	out[o] = '\0';
	return 0;
}

int rm_imc_login(struct rm_imc *c, const char *user, const char *pass)
{
	char qu[1024], qp[1024];
	int rc;

	if (rm_imc_quote(user, qu, sizeof(qu)) < 0 ||
	    rm_imc_quote(pass, qp, sizeof(qp)) < 0)
		return failf(c, "the user name or password has a line break "
				"or is too long");
	if (rm_imc_has_cap(c, "LOGINDISABLED"))
		return failf(c, "the server refuses LOGIN on this connection "
				"(use --tls or --starttls)");
	rc = rm_imc_cmd(c, caps_cb, NULL, "LOGIN %s %s", qu, qp);
	OPENSSL_cleanse(qp, sizeof(qp));
	if (rc < 0)
		return -1;
	/* servers may change them at login; the LOGIN OK code did it */
	if (strstr(c->caps, " IMAP4REV1 ") == NULL)
		(void)rm_imc_cmd(c, caps_cb, NULL, "CAPABILITY");
	return 0;
}

int rm_imc_cmd(struct rm_imc *c, rm_imc_fn fn, void *arg, const char *fmt, ...)
{
	char line[4096], tag[16];
	struct rm_imr_resp r;
	va_list ap;
	int n, m, cmdlen;

	if (c->broken)
		return failf(c, "the connection is gone");
	m = snprintf(tag, sizeof(tag), "t%u", ++c->seq);
	memcpy(line, tag, (size_t)m);
	line[m++] = ' ';
	va_start(ap, fmt);
	n = vsnprintf(line + m, sizeof(line) - (size_t)m - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - (size_t)m - 2)
		return failf(c, "command too long");
	cmdlen = n;
	n += m;
	line[n++] = '\r';
	line[n++] = '\n';
	if (conn_write(c, line, (size_t)n) < 0)
		return -1;
	for (;;) {
		if (next(c, &r) < 0)
			return -1;
		if (r.kind == RM_IMR_CONT) {
			c->broken = true;
			return failf(c, "unexpected continuation request");
		}
		if (r.kind == RM_IMR_TAGGED) {
			if (r.taglen != strlen(tag) ||
			    strncmp(r.tag, tag, r.taglen) != 0) {
				c->broken = true;
				return failf(
					c,
					"the server answered tag "
					"\"%.*s\", not %s",
					(int)(r.taglen > 20 ? 20 : r.taglen),
					r.tag, tag);
			}
			code_caps(c, &r);
			if (r.wordlen == 2 && strncasecmp(r.word, "OK", 2) == 0)
				return 0;
			/* the password never reaches the message */
			if (strncmp(fmt, "LOGIN", 5) == 0)
				cmdlen = 5;
			return failf(c, "%.*s: %.*s %.*s",
				     cmdlen > 200 ? 200 : cmdlen, line + m,
				     (int)r.wordlen, r.word,
				     (int)(r.textlen > 300 ? 300 : r.textlen),
				     r.text);
		}
		if (r.status && r.wordlen == 3 &&
		    strncasecmp(r.word, "BYE", 3) == 0) {
			c->broken = true;
			return failf(c, "the server closed the session: %.*s",
				     (int)(r.textlen > 300 ? 300 : r.textlen),
				     r.text);
		}
		if (r.status)
			code_caps(c, &r);
		/* the rest of the command's answer is not read: the stream
		 * is out of step from here */
		if (fn != NULL && fn(arg, c, &r) < 0) {
			c->broken = true;
			return -1;
		}
	}
}

void rm_imc_close(struct rm_imc *c)
{
	if (c->fd >= 0 && !c->broken && c->seq > 0)
		(void)rm_imc_cmd(c, NULL, NULL, "LOGOUT");
	if (c->ssl != NULL) {
		if (!c->broken)
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->ctx != NULL)
		SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->ctx = NULL;
	c->fd = -1;
	rm_imr_free(&c->rd);
}
