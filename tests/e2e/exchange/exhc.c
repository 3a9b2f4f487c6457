/* The HTTP client of the mod_exchange e2e tests (see exhc.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <glib.h>
#include <netinet/in.h>
#include <openssl/ssl.h>

#include "exhc.h"

struct exhc {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	GString *in;
};

struct exhc *exhc_connect(unsigned port, bool tls, const char *src)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct timeval tv = {.tv_sec = 20};
	struct exhc *c = g_new0(struct exhc, 1);

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	g_assert_cmpint(c->fd, >=, 0);
	if (src != NULL) {
		struct sockaddr_in s = {.sin_family = AF_INET};

		g_assert_cmpint(inet_pton(AF_INET, src, &s.sin_addr), ==, 1);
		g_assert_cmpint(bind(c->fd, (struct sockaddr *)&s, sizeof(s)),
				==, 0);
	}
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_assert_cmpint(connect(c->fd, (struct sockaddr *)&a, sizeof(a)), ==,
			0);
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	c->in = g_string_new(NULL);
	if (tls) {
		/* the fixture certificate is self-signed */
		c->ctx = SSL_CTX_new(TLS_client_method());
		g_assert_nonnull(c->ctx);
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
		c->ssl = SSL_new(c->ctx);
		SSL_set_fd(c->ssl, c->fd);
		SSL_set_tlsext_host_name(c->ssl, "localhost");
		g_assert_cmpint(SSL_connect(c->ssl), ==, 1);
	}
	return c;
}

void exhc_close(struct exhc *c)
{
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		SSL_CTX_free(c->ctx);
	}
	close(c->fd);
	g_string_free(c->in, TRUE);
	g_free(c);
}

bool exhc_send(struct exhc *c, const void *data, size_t n)
{
	const char *p = data;

	while (n > 0) {
		int w = c->ssl != NULL
				? SSL_write(c->ssl, p,
					    n > 1 << 20 ? 1 << 20 : (int)n)
				: (int)send(c->fd, p, n > 1 << 20 ? 1 << 20 : n,
					    MSG_NOSIGNAL);

		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static bool fill(struct exhc *c)
{
	char buf[16384];
	int n = c->ssl != NULL ? SSL_read(c->ssl, buf, sizeof(buf))
			       : (int)recv(c->fd, buf, sizeof(buf), 0);

	if (n <= 0)
		return false;
	g_string_append_len(c->in, buf, n);
	return true;
}

bool exhc_read(struct exhc *c, struct exresp *r)
{
	char *end, *cl;
	size_t hlen, len = 0;

	memset(r, 0, sizeof(*r));
	while ((end = g_strstr_len(c->in->str, (gssize)c->in->len,
				   "\r\n\r\n")) == NULL)
		if (!fill(c))
			return false;
	hlen = (size_t)(end - c->in->str) + 4;
	if (!g_str_has_prefix(c->in->str, "HTTP/1.1 "))
		return false;
	r->status = atoi(c->in->str + 9);
	r->head = g_strndup(c->in->str, hlen);
	cl = g_strstr_len(r->head, -1, "Content-Length: ");
	if (cl != NULL)
		len = (size_t)atol(cl + 16);
	while (c->in->len < hlen + len)
		if (!fill(c))
			return false;
	r->body = g_malloc(len + 1);
	memcpy(r->body, c->in->str + hlen, len);
	r->body[len] = '\0';
	r->body_len = len;
	g_string_erase(c->in, 0, (gssize)(hlen + len));
	return true;
}

void exresp_free(struct exresp *r)
{
	g_free(r->head);
	g_free(r->body);
	memset(r, 0, sizeof(*r));
}

struct exresp exhc_req(struct exhc *c, const char *method, const char *path,
		       const char *token, const char *ctype, const char *body,
		       size_t body_len, const char *extra)
{
	GString *s = g_string_new(NULL);
	struct exresp r;

	g_string_append_printf(s, "%s %s HTTP/1.1\r\nHost: localhost\r\n",
			       method, path);
	if (token != NULL)
		g_string_append_printf(s, "Authorization: Bearer %s\r\n",
				       token);
	if (extra != NULL)
		g_string_append(s, extra);
	if (body != NULL) {
		g_string_append_printf(s,
				       "Content-Type: %s\r\n"
				       "Content-Length: %zu\r\n\r\n",
				       ctype ? ctype : "application/json",
				       body_len);
		g_string_append_len(s, body, (gssize)body_len);
	} else {
		g_string_append(s, "\r\n");
	}
	g_assert_true(exhc_send(c, s->str, s->len));
	g_string_free(s, TRUE);
	g_assert_true(exhc_read(c, &r));
	return r;
}

struct exresp ex_req(unsigned port, bool tls, const char *src,
		     const char *method, const char *path, const char *token,
		     const char *body, const char *extra)
{
	struct exhc *c = exhc_connect(port, tls, src);
	struct exresp r = exhc_req(c, method, path, token, NULL, body,
				   body ? strlen(body) : 0, extra);

	exhc_close(c);
	return r;
}

char *exresp_header(const struct exresp *r, const char *name)
{
	char *needle = g_strdup_printf("\r\n%s: ", name), *p, *e, *v = NULL;

	p = strstr(r->head, needle);
	if (p != NULL) {
		p += strlen(needle);
		e = strstr(p, "\r\n");
		v = g_strndup(p, (gsize)(e - p));
	}
	g_free(needle);
	return v;
}

json_t *exresp_json(const struct exresp *r)
{
	json_error_t je;
	json_t *j = json_loadb(r->body, r->body_len, 0, &je);

	if (j == NULL)
		g_test_message("bad JSON (%s): %s", je.text, r->body);
	g_assert_nonnull(j);
	return j;
}

char *ex_login(unsigned port, bool tls, const char *src, const char *user,
	       const char *pw, const char *extra, int *status_r)
{
	json_t *req = json_pack("{s:s,s:s}", "username", user, "password", pw);
	char *body = json_dumps(req, JSON_COMPACT), *tok = NULL;
	struct exresp r =
		ex_req(port, tls, src, "POST", "/api/login", NULL, body, extra);

	*status_r = r.status;
	if (r.status == 200) {
		json_t *j = exresp_json(&r);

		tok = g_strdup(json_string_value(json_object_get(j, "token")));
		json_decref(j);
	}
	free(body);
	json_decref(req);
	exresp_free(&r);
	return tok;
}
