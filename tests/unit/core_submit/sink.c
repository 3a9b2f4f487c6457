#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "sink.h"

static GMutex lock;
static GPtrArray *msgs, *rcpts, *raws;
static guint tls_attempts, tempfails, tls_done, auth_seen, auth_ok;

/* one sink listener: broken STARTTLS (NULL ctx) or a real one */
struct sink {
	int lfd;
	SSL_CTX *ctx;
	char *auth_b64;	     /* expected AUTH PLAIN blob, or NULL */
	gboolean requiretls; /* advertised under TLS (RFC 8689) */
};
static char *last_mail;

struct sconn {
	int fd;
	SSL *ssl;
	char buf[4096];
	size_t len;
};

static void put(struct sconn *c, const char *s)
{
	if (c->ssl != NULL)
		(void)SSL_write(c->ssl, s, (int)strlen(s));
	else if (write(c->fd, s, strlen(s)) < 0)
		return;
}

/* one line with its CRLF into line; FALSE on EOF */
static gboolean get_line(struct sconn *c, char *line, size_t sz)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		ssize_t r;

		if (nl != NULL || c->len == sizeof(c->buf)) {
			size_t n =
				nl != NULL ? (size_t)(nl - c->buf) + 1 : c->len;
			size_t k = MIN(n, sz - 1);

			memcpy(line, c->buf, k);
			line[k] = '\0';
			memmove(c->buf, c->buf + n, c->len - n);
			c->len -= n;
			return TRUE;
		}
		if (c->ssl != NULL)
			r = SSL_read(c->ssl, c->buf + c->len,
				     (int)(sizeof(c->buf) - c->len));
		else
			r = read(c->fd, c->buf + c->len,
				 sizeof(c->buf) - c->len);
		if (r <= 0)
			return FALSE;
		c->len += (size_t)r;
	}
}

static void count(guint *v)
{
	g_mutex_lock(&lock);
	(*v)++;
	g_mutex_unlock(&lock);
}

static void serve(struct sink *sk, int fd)
{
	struct sconn c = {.fd = fd};
	char line[2048];
	GString *data = NULL, *raw = NULL, *rc = g_string_new("");
	gboolean authed = sk->auth_b64 == NULL;
	int one = 1;

	/* replies go out a line per write: without this, Nagle and the
	 * peer's delayed ACK add 40 ms to every multi-line reply */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	put(&c, "220 sink ESMTP\r\n");
	while (get_line(&c, line, sizeof(line))) {
		if (data != NULL) {
			g_string_append(raw, line);
			if (strcmp(line, ".\r\n") == 0) {
				g_mutex_lock(&lock);
				g_ptr_array_add(msgs,
						g_string_free(data, FALSE));
				g_ptr_array_add(raws,
						g_string_free(raw, FALSE));
				g_ptr_array_add(rcpts, g_strdup(rc->str));
				g_mutex_unlock(&lock);
				data = raw = NULL;
				g_string_truncate(rc, 0);
				put(&c, "250 2.0.0 queued\r\n");
				continue;
			}
			g_string_append(data, line[0] == '.' ? line + 1 : line);
			continue;
		}
		if (g_ascii_strncasecmp(line, "EHLO", 4) == 0) {
			put(&c, "250-sink\r\n");
			if (c.ssl == NULL)
				put(&c, "250-STARTTLS\r\n");
			else if (sk->auth_b64 != NULL)
				put(&c, "250-AUTH PLAIN\r\n");
			if (c.ssl != NULL && sk->requiretls)
				put(&c, "250-REQUIRETLS\r\n");
			put(&c, "250 8BITMIME\r\n");
		} else if (g_ascii_strncasecmp(line, "STARTTLS", 8) == 0 &&
			   c.ssl == NULL) {
			count(&tls_attempts);
			put(&c, "220 go ahead\r\n");
			if (sk->ctx == NULL) {
				put(&c, "this is not a TLS server hello\r\n");
				break;
			}
			c.len = 0;
			c.ssl = SSL_new(sk->ctx);
			SSL_set_fd(c.ssl, fd);
			if (SSL_accept(c.ssl) != 1)
				break;
			count(&tls_done);
			authed = sk->auth_b64 == NULL;
		} else if (g_ascii_strncasecmp(line, "AUTH ", 5) == 0) {
			count(&auth_seen);
			if (c.ssl != NULL && sk->auth_b64 != NULL &&
			    g_ascii_strncasecmp(line + 5, "PLAIN ", 6) == 0 &&
			    strcmp(g_strstrip(line + 11), sk->auth_b64) == 0) {
				authed = TRUE;
				count(&auth_ok);
				put(&c, "235 2.7.0 ok\r\n");
			} else {
				put(&c, "535 5.7.8 bad credentials\r\n");
			}
		} else if (g_ascii_strncasecmp(line, "MAIL", 4) == 0) {
			g_mutex_lock(&lock);
			g_free(last_mail);
			last_mail = g_strdup(g_strstrip(line));
			g_mutex_unlock(&lock);
			put(&c,
			    authed ? "250 ok\r\n"
				   : "530 5.7.0 authentication required\r\n");
		} else if (g_ascii_strncasecmp(line, "RCPT", 4) == 0) {
			if (strstr(line, "reject") != NULL) {
				put(&c, "550 5.1.1 rejected by sink\r\n");
				continue;
			}
			if (strstr(line, "tempfail") != NULL) {
				g_mutex_lock(&lock);
				guint t = tempfails++;
				g_mutex_unlock(&lock);
				if (t == 0) {
					put(&c, "451 4.3.0 try later\r\n");
					continue;
				}
			}
			g_string_append_printf(rc, "%s%s", rc->len ? "," : "",
					       g_strstrip(line + 8));
			put(&c, "250 ok\r\n");
		} else if (g_ascii_strncasecmp(line, "DATA", 4) == 0) {
			data = g_string_new("");
			raw = g_string_new("");
			put(&c, "354 go\r\n");
		} else if (g_ascii_strncasecmp(line, "QUIT", 4) == 0) {
			put(&c, "221 bye\r\n");
			break;
		} else {
			put(&c, "500 what\r\n");
		}
	}
	if (data != NULL)
		g_string_free(data, TRUE);
	if (raw != NULL)
		g_string_free(raw, TRUE);
	g_string_free(rc, TRUE);
	if (c.ssl != NULL) {
		(void)SSL_shutdown(c.ssl);
		SSL_free(c.ssl);
	}
	close(fd);
}

static gpointer smtp_main(gpointer arg)
{
	struct sink *sk = arg;

	for (;;) {
		int fd = accept(sk->lfd, NULL, NULL);

		if (fd >= 0)
			serve(sk, fd);
	}
	return NULL;
}

static guint start(struct sink *sk)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	g_mutex_lock(&lock);
	if (msgs == NULL) {
		msgs = g_ptr_array_new();
		rcpts = g_ptr_array_new();
		raws = g_ptr_array_new();
	}
	g_mutex_unlock(&lock);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
	g_assert_cmpint(listen(fd, 16), ==, 0);
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sa, &sl), ==, 0);
	sk->lfd = fd;
	g_thread_unref(g_thread_new("sink", smtp_main, sk));
	return ntohs(sa.sin_port);
}

guint sink_start(void)
{
	return start(g_new0(struct sink, 1));
}

guint sink_start_tls(const char *cert, const char *key, const char *user,
		     const char *pass)
{
	struct sink *sk = g_new0(struct sink, 1);

	sk->ctx = SSL_CTX_new(TLS_server_method());
	g_assert_nonnull(sk->ctx);
	g_assert_cmpint(SSL_CTX_use_certificate_chain_file(sk->ctx, cert), ==,
			1);
	g_assert_cmpint(
		SSL_CTX_use_PrivateKey_file(sk->ctx, key, SSL_FILETYPE_PEM), ==,
		1);
	if (user != NULL) {
		gsize ul = strlen(user), pl = strlen(pass);
		guchar *raw = g_malloc(ul + pl + 2);

		raw[0] = '\0';
		memcpy(raw + 1, user, ul);
		raw[1 + ul] = '\0';
		memcpy(raw + 2 + ul, pass, pl);
		sk->auth_b64 = g_base64_encode(raw, ul + pl + 2);
		g_free(raw);
	}
	return start(sk);
}

static guint get(const guint *v)
{
	guint n;

	g_mutex_lock(&lock);
	n = *v;
	g_mutex_unlock(&lock);
	return n;
}

guint sink_tls_done(void)
{
	return get(&tls_done);
}

guint sink_auth_seen(void)
{
	return get(&auth_seen);
}

guint sink_auth_ok(void)
{
	return get(&auth_ok);
}

guint sink_count(void)
{
	guint n;

	g_mutex_lock(&lock);
	n = msgs->len;
	g_mutex_unlock(&lock);
	return n;
}

char *sink_message(guint i)
{
	char *s;

	g_mutex_lock(&lock);
	s = g_strdup(g_ptr_array_index(msgs, i));
	g_mutex_unlock(&lock);
	return s;
}

char *sink_raw(guint i)
{
	char *s;

	g_mutex_lock(&lock);
	s = g_strdup(g_ptr_array_index(raws, i));
	g_mutex_unlock(&lock);
	return s;
}

char *sink_rcpts(guint i)
{
	char *s;

	g_mutex_lock(&lock);
	s = g_strdup(g_ptr_array_index(rcpts, i));
	g_mutex_unlock(&lock);
	return s;
}

guint sink_tls_attempts(void)
{
	guint n;

	g_mutex_lock(&lock);
	n = tls_attempts;
	g_mutex_unlock(&lock);
	return n;
}

/* ---- the stalling sink ------------------------------------------- */

static guint stall_hold_ms, stall_now_total, stall_max_tot, stall_ok;
static GHashTable *stall_now_dom, *stall_max_dom;

static void stall_count(const char *dom, int d)
{
	guint now = GPOINTER_TO_UINT(g_hash_table_lookup(stall_now_dom, dom));
	guint max = GPOINTER_TO_UINT(g_hash_table_lookup(stall_max_dom, dom));

	now = (guint)((int)now + d);
	g_hash_table_insert(stall_now_dom, g_strdup(dom),
			    GUINT_TO_POINTER(now));
	if (now > max)
		g_hash_table_insert(stall_max_dom, g_strdup(dom),
				    GUINT_TO_POINTER(now));
	stall_now_total = (guint)((int)stall_now_total + d);
	if (stall_now_total > stall_max_tot)
		stall_max_tot = stall_now_total;
}

static gpointer stall_conn(gpointer arg)
{
	struct sconn c = {.fd = GPOINTER_TO_INT(arg)};
	char line[2048], dom[256] = "";
	gboolean in_data = FALSE;

	put(&c, "220 stall ESMTP\r\n");
	while (get_line(&c, line, sizeof(line))) {
		if (in_data) {
			if (strcmp(line, ".\r\n") != 0)
				continue;
			in_data = FALSE;
			/* the session is "busy" while it holds the reply */
			g_mutex_lock(&lock);
			stall_count(dom, 1);
			g_mutex_unlock(&lock);
			g_usleep(stall_hold_ms * 1000);
			g_mutex_lock(&lock);
			stall_count(dom, -1);
			stall_ok++;
			g_mutex_unlock(&lock);
			put(&c, "250 2.0.0 queued\r\n");
		} else if (g_ascii_strncasecmp(line, "EHLO", 4) == 0) {
			put(&c, "250 stall\r\n");
		} else if (g_ascii_strncasecmp(line, "RCPT", 4) == 0) {
			const char *at = strchr(line, '@');

			if (at != NULL)
				g_strlcpy(dom, at + 1,
					  MIN(sizeof(dom),
					      strcspn(at + 1, ">") + 1));
			put(&c, "250 ok\r\n");
		} else if (g_ascii_strncasecmp(line, "DATA", 4) == 0) {
			in_data = TRUE;
			put(&c, "354 go\r\n");
		} else if (g_ascii_strncasecmp(line, "QUIT", 4) == 0) {
			put(&c, "221 bye\r\n");
			break;
		} else {
			put(&c, "250 ok\r\n");
		}
	}
	close(c.fd);
	return NULL;
}

static gpointer stall_main(gpointer arg)
{
	int lfd = GPOINTER_TO_INT(arg);

	for (;;) {
		int fd = accept(lfd, NULL, NULL);

		if (fd >= 0)
			g_thread_unref(g_thread_new("stall", stall_conn,
						    GINT_TO_POINTER(fd)));
	}
	return NULL;
}

guint stall_start(guint hold_ms)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	stall_hold_ms = hold_ms;
	stall_now_dom =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	stall_max_dom =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
	g_assert_cmpint(listen(fd, 64), ==, 0);
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sa, &sl), ==, 0);
	g_thread_unref(g_thread_new("stall", stall_main, GINT_TO_POINTER(fd)));
	return ntohs(sa.sin_port);
}

guint stall_max_total(void)
{
	return get(&stall_max_tot);
}

guint stall_max_domain(const char *dom)
{
	guint n;

	g_mutex_lock(&lock);
	n = GPOINTER_TO_UINT(g_hash_table_lookup(stall_max_dom, dom));
	g_mutex_unlock(&lock);
	return n;
}

guint stall_delivered(void)
{
	return get(&stall_ok);
}

guint sink_start_tls_rt(const char *cert, const char *key)
{
	struct sink *sk = g_new0(struct sink, 1);

	sk->ctx = SSL_CTX_new(TLS_server_method());
	g_assert_nonnull(sk->ctx);
	g_assert_cmpint(SSL_CTX_use_certificate_chain_file(sk->ctx, cert), ==,
			1);
	g_assert_cmpint(
		SSL_CTX_use_PrivateKey_file(sk->ctx, key, SSL_FILETYPE_PEM), ==,
		1);
	sk->requiretls = TRUE;
	return start(sk);
}

char *sink_last_mail(void)
{
	char *m;

	g_mutex_lock(&lock);
	m = g_strdup(last_mail ? last_mail : "");
	g_mutex_unlock(&lock);
	return m;
}
