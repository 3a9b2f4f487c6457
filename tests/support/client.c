/* The client side of the e2e harness: plain and TLS line I/O. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <zlib.h>

#include "harness.h"

#define RMH_LINE_MAX 65536
#define RMH_IO_TIMEOUT 15.0

struct rmh_conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	GString *in; /* received, not yet returned */
	/* RFC 4978 after rmh_conn_compress: raw deflate both ways */
	z_stream *zin, *zout;
	size_t wire_in; /* compressed bytes received */
};

static void set_timeout(int fd, double s)
{
	struct timeval tv = {
		.tv_sec = (time_t)s,
		.tv_usec = (suseconds_t)((s - (double)(time_t)s) * 1e6)};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

struct rmh_conn *rmh_connect(guint port, bool tls)
{
	return rmh_connect_from(port, tls, NULL);
}

struct rmh_conn *rmh_connect_from(guint port, bool tls, const char *src)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct rmh_conn *c;
	int fd;

	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	if (src != NULL) {
		struct sockaddr_in s = {.sin_family = AF_INET};

		if (inet_pton(AF_INET, src, &s.sin_addr) != 1 ||
		    bind(fd, (struct sockaddr *)&s, sizeof(s)) < 0) {
			g_test_message("bind %s: %s", src, strerror(errno));
			close(fd);
			return NULL;
		}
	}
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		g_test_message("connect 127.0.0.1:%u: %s", port,
			       strerror(errno));
		close(fd);
		return NULL;
	}
	set_timeout(fd, RMH_IO_TIMEOUT);
	c = g_new0(struct rmh_conn, 1);
	c->fd = fd;
	c->in = g_string_new(NULL);
	if (tls && !rmh_conn_starttls(c)) {
		rmh_conn_close(c);
		return NULL;
	}
	return c;
}

void rmh_conn_abort(struct rmh_conn *c)
{
	if (c != NULL && c->ssl != NULL) {
		/* what most clients do: no close_notify, just the FIN */
		SSL_set_quiet_shutdown(c->ssl, 1);
	}
	rmh_conn_close(c);
}

void rmh_conn_close(struct rmh_conn *c)
{
	if (c == NULL)
		return;
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->ctx != NULL)
		SSL_CTX_free(c->ctx);
	close(c->fd);
	if (c->zin != NULL) {
		inflateEnd(c->zin);
		deflateEnd(c->zout);
		g_free(c->zin);
		g_free(c->zout);
	}
	g_string_free(c->in, TRUE);
	g_free(c);
}

bool rmh_conn_starttls(struct rmh_conn *c)
{
	unsigned long e;

	/* test fixtures are self-signed: no verification, the tests
	 * compare certificate fingerprints instead */
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL)
		return false;
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
	c->ssl = SSL_new(c->ctx);
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_tlsext_host_name(c->ssl, "localhost");
	if (SSL_connect(c->ssl) != 1) {
		e = ERR_get_error();
		g_test_message("TLS handshake failed: %s",
			       e ? ERR_error_string(e, NULL) : "eof");
		return false;
	}
	return true;
}

static bool send_z(struct rmh_conn *c, const void *data, size_t n);

bool rmh_send_raw(struct rmh_conn *c, const void *data, size_t n)
{
	if (c->zout != NULL)
		return send_z(c, data, n);
	return rmh_send_wire(c, data, n);
}

bool rmh_send_wire(struct rmh_conn *c, const void *data, size_t n)
{
	const char *p = data;

	while (n > 0) {
		int w;

		if (c->ssl != NULL)
			w = SSL_write(c->ssl, p, (int)MIN(n, (size_t)INT_MAX));
		else
			w = (int)send(c->fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

bool rmh_send(struct rmh_conn *c, const char *fmt, ...)
{
	va_list ap;
	char *s, *line;
	bool ok;

	va_start(ap, fmt);
	s = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	line = g_strconcat(s, "\r\n", NULL);
	ok = rmh_send_raw(c, line, strlen(line));
	g_free(s);
	g_free(line);
	return ok;
}

static bool inflate_in(struct rmh_conn *c, const char *d, size_t n)
{
	char out[16384];
	int rc;

	c->wire_in += n;
	c->zin->next_in = (Bytef *)(uintptr_t)d;
	c->zin->avail_in = (uInt)n;
	do {
		c->zin->next_out = (Bytef *)out;
		c->zin->avail_out = sizeof(out);
		rc = inflate(c->zin, Z_SYNC_FLUSH);
		if (rc != Z_OK && rc != Z_BUF_ERROR) {
			g_test_message("inflate: %d", rc);
			return false;
		}
		g_string_append_len(c->in, out,
				    (gssize)(sizeof(out) - c->zin->avail_out));
	} while (c->zin->avail_out == 0);
	return true;
}

char *rmh_readline(struct rmh_conn *c, double timeout)
{
	char buf[4096];

	set_timeout(c->fd, timeout);
	for (;;) {
		char *nl = memchr(c->in->str, '\n', c->in->len);
		int n;

		if (nl != NULL) {
			size_t len = (size_t)(nl - c->in->str);
			char *line = g_strndup(
				c->in->str,
				len > 0 && nl[-1] == '\r' ? len - 1 : len);

			g_string_erase(c->in, 0, (gssize)len + 1);
			return line;
		}
		if (c->in->len > RMH_LINE_MAX)
			return NULL;
		if (c->ssl != NULL)
			n = SSL_read(c->ssl, buf, sizeof(buf));
		else
			n = (int)recv(c->fd, buf, sizeof(buf), 0);
		if (n < 0 && c->ssl == NULL && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		if (c->zin != NULL) {
			if (!inflate_in(c, buf, (size_t)n))
				return NULL;
			continue;
		}
		g_string_append_len(c->in, buf, n);
	}
}

bool rmh_pending(struct rmh_conn *c)
{
	struct pollfd p = {.fd = c->fd, .events = POLLIN};

	if (c->in->len > 0 || (c->ssl != NULL && SSL_pending(c->ssl) > 0))
		return true;
	return poll(&p, 1, 0) > 0;
}

bool rmh_expect(struct rmh_conn *c, const char *prefix, char **line_r)
{
	char *line;

	while ((line = rmh_readline(c, RMH_IO_TIMEOUT)) != NULL) {
		if (g_str_has_prefix(line, prefix)) {
			if (line_r != NULL)
				*line_r = line;
			else
				g_free(line);
			return true;
		}
		g_test_message("skipped: %s", line);
		g_free(line);
	}
	g_test_message("expected \"%s\": connection closed or timed out",
		       prefix);
	return false;
}

static char *x509_sha256(X509 *x)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;
	GString *s;

	if (x == NULL || X509_digest(x, EVP_sha256(), md, &n) != 1)
		return NULL;
	s = g_string_new(NULL);
	for (i = 0; i < n; i++)
		g_string_append_printf(s, "%02x", md[i]);
	return g_string_free(s, FALSE);
}

char *rmh_conn_peer_cert_sha256(struct rmh_conn *c)
{
	X509 *x;
	char *s;

	if (c->ssl == NULL)
		return NULL;
	x = SSL_get1_peer_certificate(c->ssl);
	s = x509_sha256(x);
	X509_free(x);
	return s;
}

char *rmh_cert_file_sha256(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;
	char *s;

	if (f == NULL)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	s = x509_sha256(x);
	X509_free(x);
	return s;
}

/* every send is one sync flush: the server sees each whole at once */
static bool send_z(struct rmh_conn *c, const void *data, size_t n)
{
	unsigned char out[16384];

	c->zout->next_in = (Bytef *)(uintptr_t)data;
	c->zout->avail_in = (uInt)n;
	do {
		c->zout->next_out = out;
		c->zout->avail_out = sizeof(out);
		if (deflate(c->zout, Z_SYNC_FLUSH) == Z_STREAM_ERROR)
			return false;
		if (!rmh_send_wire(c, out, sizeof(out) - c->zout->avail_out))
			return false;
	} while (c->zout->avail_out == 0);
	return true;
}

bool rmh_conn_compress(struct rmh_conn *c)
{
	GString *early = c->in;
	bool ok;

	c->zin = g_new0(z_stream, 1);
	c->zout = g_new0(z_stream, 1);
	/* what clients use: a 32 KiB window */
	ok = inflateInit2(c->zin, -15) == Z_OK &&
	     deflateInit2(c->zout, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
			  Z_DEFAULT_STRATEGY) == Z_OK;
	/* whatever came behind the OK line is compressed already */
	c->in = g_string_new(NULL);
	if (ok && early->len > 0)
		ok = inflate_in(c, early->str, early->len);
	g_string_free(early, TRUE);
	return ok;
}

size_t rmh_conn_wire_in(struct rmh_conn *c)
{
	return c->wire_in;
}

int rmh_conn_fd(struct rmh_conn *c)
{
	return c->fd;
}
