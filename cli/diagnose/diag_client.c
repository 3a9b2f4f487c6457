/*
 * Blocking clients for `rmail diagnose`: one TCP connection with an
 * optional TLS layer, every wait bounded.  The certificate is never
 * verified (a self-signed one is normal); callers compare it with the
 * configured file instead.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "diag_int.h"

#define DG_BUF 65536
#define DG_HTTP_MAX (8u * 1024 * 1024)

struct dg_conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	size_t len;
	unsigned tag;
	char buf[DG_BUF];
};

/* the IPv4 source of new connections, "" for the kernel's choice */
static char src_ip[64];

void dg_client_source(const char *ip)
{
	snprintf(src_ip, sizeof(src_ip), "%s", ip != NULL ? ip : "");
}

static int bind_source(int fd, int family)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};

	if (src_ip[0] == '\0' || family != AF_INET)
		return 0;
	if (inet_pton(AF_INET, src_ip, &sin.sin_addr) != 1)
		return -1;
	return bind(fd, (struct sockaddr *)&sin, sizeof(sin));
}

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int split_hostport(const char *hp, char *host, size_t hsz, char *port,
			  size_t psz)
{
	const char *colon;

	if (hp[0] == '[') {
		const char *end = strchr(hp, ']');

		if (end == NULL || end[1] != ':')
			return -1;
		snprintf(host, hsz, "%.*s", (int)(end - hp - 1), hp + 1);
		snprintf(port, psz, "%s", end + 2);
		return 0;
	}
	colon = strrchr(hp, ':');
	if (colon == NULL)
		return -1;
	snprintf(host, hsz, "%.*s", (int)(colon - hp), hp);
	snprintf(port, psz, "%s", colon + 1);
	return 0;
}

static int connect_tcp(const char *hostport, char *why, size_t whysz)
{
	struct addrinfo hints = {0}, *res = NULL, *ai;
	char host[256], port[16];
	int fd = -1, rc;

	if (split_hostport(hostport, host, sizeof(host), port, sizeof(port)) <
	    0) {
		snprintf(why, whysz, "bad address %s", hostport);
		return -1;
	}
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		snprintf(why, whysz, "%s: %s", hostport, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct pollfd p;
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		fd = socket(ai->ai_family,
			    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    ai->ai_protocol);
		if (fd < 0)
			continue;
		if (bind_source(fd, ai->ai_family) < 0) {
			soerr = errno;
			goto next;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
		    errno != EINPROGRESS) {
			soerr = errno;
			goto next;
		}
		p.fd = fd;
		p.events = POLLOUT;
		if (poll(&p, 1, (int)(DG_TIMEOUT * 1000)) != 1) {
			soerr = ETIMEDOUT;
			goto next;
		}
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr == 0)
			break;
	next:
		snprintf(why, whysz, "connect %s: %s", hostport,
			 strerror(soerr));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd >= 0) {
		struct timeval tv = {.tv_sec = (long)DG_TIMEOUT};
		int fl = fcntl(fd, F_GETFL);

		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	return fd;
}

struct dg_conn *dg_connect(const char *hostport, bool tls, char *why,
			   size_t whysz)
{
	struct dg_conn *c;
	int fd = connect_tcp(hostport, why, whysz);

	if (fd < 0)
		return NULL;
	/* before TLS on implicit-TLS ports, as a balancer sends it */
	if (dg_proxy_wanted(hostport) && dg_proxy_send(fd, why, whysz) < 0) {
		close(fd);
		return NULL;
	}
	c = rm_xcalloc(1, sizeof(*c));
	c->fd = fd;
	if (tls && dg_starttls(c, why, whysz) < 0) {
		dg_close(&c);
		return NULL;
	}
	return c;
}

void dg_close(struct dg_conn **cp)
{
	struct dg_conn *c = *cp;

	if (c == NULL)
		return;
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->ctx != NULL)
		SSL_CTX_free(c->ctx);
	close(c->fd);
	free(c);
	*cp = NULL;
}

int dg_starttls(struct dg_conn *c, char *why, size_t whysz)
{
	struct timeval tv = {.tv_sec = (long)DG_TIMEOUT};
	const char *reason;

	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL)
		goto fail;
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
	c->ssl = SSL_new(c->ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
		goto fail;
	if (SSL_connect(c->ssl) != 1)
		goto fail;
	/* anything buffered before the handshake was injected cleartext */
	c->len = 0;
	return 0;
fail:
	reason = ERR_reason_error_string(ERR_peek_last_error());
	snprintf(why, whysz, "TLS handshake failed: %s",
		 reason != NULL ? reason : "connection closed");
	ERR_clear_error();
	return -1;
}

bool dg_is_tls(struct dg_conn *c)
{
	return c->ssl != NULL;
}

int dg_peer_cert_is(struct dg_conn *c, const char *cert_file)
{
	X509 *peer, *mine = NULL;
	FILE *f;
	int ret = -1;

	if (c->ssl == NULL || cert_file == NULL)
		return -1;
	peer = SSL_get1_peer_certificate(c->ssl);
	f = fopen(cert_file, "re");
	if (f != NULL) {
		mine = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (peer != NULL && mine != NULL)
		ret = X509_cmp(peer, mine) == 0 ? 1 : 0;
	X509_free(peer);
	X509_free(mine);
	return ret;
}

int dg_write(struct dg_conn *c, const void *data, size_t n)
{
	const char *p = data;

	while (n > 0) {
		ssize_t w;

		if (c->ssl != NULL) {
			int r = SSL_write(c->ssl, p,
					  n > INT32_MAX ? INT32_MAX : (int)n);

			w = r > 0 ? r : -1;
		} else {
			w = send(c->fd, p, n, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
		}
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int dg_printf(struct dg_conn *c, const char *fmt, ...)
{
	char line[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		return -1;
	line[n++] = '\r';
	line[n++] = '\n';
	return dg_write(c, line, (size_t)n);
}

/* more bytes into the buffer, waiting at most until deadline */
static int fill(struct dg_conn *c, double deadline)
{
	ssize_t r;

	if (c->len == sizeof(c->buf))
		return -1;
	if (c->ssl == NULL || SSL_pending(c->ssl) == 0) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		double left = deadline - now_mono();

		if (left <= 0 || poll(&p, 1, (int)(left * 1000) + 1) != 1)
			return -1;
	}
	if (c->ssl != NULL) {
		int n = SSL_read(c->ssl, c->buf + c->len,
				 (int)(sizeof(c->buf) - c->len));

		r = n > 0 ? n : -1;
	} else {
		r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	}
	if (r <= 0)
		return -1;
	c->len += (size_t)r;
	return 0;
}

int dg_readline(struct dg_conn *c, char *line, size_t sz, double timeout)
{
	double deadline = now_mono() + timeout;

	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);

		if (nl != NULL) {
			size_t n = (size_t)(nl - c->buf) + 1, k = n - 1;

			if (k > 0 && c->buf[k - 1] == '\r')
				k--;
			if (k >= sz)
				k = sz - 1;
			memcpy(line, c->buf, k);
			line[k] = '\0';
			memmove(c->buf, c->buf + n, c->len - n);
			c->len -= n;
			return 0;
		}
		if (fill(c, deadline) < 0)
			return -1;
	}
}

int dg_read_n(struct dg_conn *c, char *buf, size_t n, double timeout)
{
	double deadline = now_mono() + timeout;
	size_t got = 0;

	while (got < n) {
		size_t k;

		if (c->len == 0 && fill(c, deadline) < 0)
			return -1;
		k = c->len < n - got ? c->len : n - got;
		if (buf != NULL)
			memcpy(buf + got, c->buf, k);
		memmove(c->buf, c->buf + k, c->len - k);
		c->len -= k;
		got += k;
	}
	return 0;
}

static void append_text(char *text, size_t sz, size_t *used, const char *s)
{
	int n;

	if (*used >= sz)
		return;
	n = snprintf(text + *used, sz - *used, "%s%s", *used > 0 ? "\n" : "",
		     s);
	if (n > 0)
		*used += (size_t)n;
	if (*used >= sz)
		*used = sz;
}

int dg_smtp_reply(struct dg_conn *c, char *text, size_t sz)
{
	char line[2048];
	size_t used = 0;
	int i;

	if (sz > 0)
		text[0] = '\0';
	for (i = 0; i < 256; i++) {
		if (dg_readline(c, line, sizeof(line), DG_TIMEOUT) < 0)
			return -1;
		append_text(text, sz, &used, line);
		if (strlen(line) < 4 || line[3] != '-')
			return atoi(line);
	}
	return -1;
}

int dg_smtp(struct dg_conn *c, char *text, size_t sz, const char *fmt, ...)
{
	char line[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) || dg_printf(c, "%s", line) < 0)
		return -1;
	return dg_smtp_reply(c, text, sz);
}

int dg_imap(struct dg_conn *c, char *out, size_t sz, const char *fmt, ...)
{
	char cmd[8192], tag[16], line[8192];
	size_t used = 0, tl;
	va_list ap;
	int n, i;

	if (sz > 0)
		out[0] = '\0';
	snprintf(tag, sizeof(tag), "D%u", ++c->tag);
	tl = strlen(tag);
	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd) ||
	    dg_printf(c, "%s %s", tag, cmd) < 0)
		return -1;
	for (i = 0; i < 100000; i++) {
		long lit;

		if (dg_readline(c, line, sizeof(line), DG_TIMEOUT) < 0)
			return -1;
		append_text(out, sz, &used, line);
		lit = dg_literal_size(line);
		if (lit >= 0) {
			char *buf;

			if (lit > 16 * 1024 * 1024)
				return -1;
			buf = rm_xmalloc((size_t)lit + 1);
			if (dg_read_n(c, buf, (size_t)lit, DG_TIMEOUT) < 0) {
				free(buf);
				return -1;
			}
			buf[lit] = '\0';
			append_text(out, sz, &used, buf);
			free(buf);
			continue;
		}
		if (strncmp(line, tag, tl) == 0 && line[tl] == ' ') {
			const char *st = line + tl + 1;

			if (strncasecmp(st, "OK", 2) == 0)
				return 0;
			if (strncasecmp(st, "NO", 2) == 0)
				return 1;
			return 2;
		}
	}
	return -1;
}

/* ---- HTTP ---------------------------------------------------------- */

int dg_http_req(const char *hostport, bool tls, const char *method,
		const char *path, const char *headers, const char *body,
		size_t body_len, struct dg_http *r)
{
	struct dg_conn *c;
	char why[256], *req = NULL, *all = NULL;
	size_t cap = 0, len = 0;
	double deadline = now_mono() + DG_TIMEOUT;
	int ret = -1;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	c = dg_connect(hostport, tls, why, sizeof(why));
	if (c == NULL) {
		r->body = rm_xstrdup(why);
		return -1;
	}
	if (asprintf(&req,
		     "%s %s HTTP/1.1\r\nHost: %s\r\n"
		     "Connection: close\r\n%s%s"
		     "Content-Length: %zu\r\n\r\n",
		     method, path, hostport, headers != NULL ? headers : "",
		     headers != NULL && headers[0] != '\0' &&
				     headers[strlen(headers) - 1] != '\n'
			     ? "\r\n"
			     : "",
		     body_len) < 0)
		goto out;
	if (dg_write(c, req, strlen(req)) < 0 ||
	    (body_len > 0 && dg_write(c, body, body_len) < 0))
		goto out;
	/* read to EOF (Connection: close), bounded */
	for (;;) {
		if (c->len > 0) {
			if (len + c->len + 1 > cap) {
				cap = (len + c->len + 1) * 2;
				all = rm_xrealloc(all, cap);
			}
			memcpy(all + len, c->buf, c->len);
			len += c->len;
			c->len = 0;
			if (len > DG_HTTP_MAX)
				goto out;
		}
		if (fill(c, deadline) < 0)
			break;
	}
	if (all == NULL || dg_http_parse(all, len, r) < 0)
		goto out;
	ret = 0;
out:
	free(req);
	free(all);
	dg_close(&c);
	if (r->body == NULL)
		r->body = rm_xstrdup("");
	return ret;
}

void dg_http_free(struct dg_http *r)
{
	free(r->head);
	free(r->body);
	r->head = r->body = NULL;
}
