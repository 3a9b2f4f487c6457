#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "capsink.h"

struct capsink {
	int lfd;
	char *ehlo; /* the whole EHLO reply */
	GMutex lock;
	GPtrArray *mail, *rcpts, *raw; /* raw: GBytes */
	guint quits;
};

struct cconn {
	int fd;
	char buf[8192];
	size_t len;
};

static void put(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* one line with its CRLF (bytes, may hold NUL-free 8-bit); FALSE on
 * EOF */
static gboolean get_line(struct cconn *c, GByteArray *line)
{
	g_byte_array_set_size(line, 0);
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		ssize_t r;

		if (nl != NULL || c->len == sizeof(c->buf)) {
			size_t n =
				nl != NULL ? (size_t)(nl - c->buf) + 1 : c->len;

			g_byte_array_append(line, (guint8 *)c->buf, (guint)n);
			memmove(c->buf, c->buf + n, c->len - n);
			c->len -= n;
			if (nl != NULL)
				return TRUE;
			continue;
		}
		r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (r <= 0)
			return FALSE;
		c->len += (size_t)r;
	}
}

static char *chomp(const GByteArray *l)
{
	gsize n = l->len;

	while (n > 0 && (l->data[n - 1] == '\n' || l->data[n - 1] == '\r'))
		n--;
	return g_strndup((const char *)l->data, n);
}

static void serve(struct capsink *k, int fd)
{
	struct cconn c = {.fd = fd};
	GByteArray *line = g_byte_array_new(), *raw = NULL;
	GString *rc = g_string_new("");
	char *mail = NULL;

	put(fd, "220 capsink ESMTP\r\n");
	while (get_line(&c, line)) {
		if (raw != NULL) {
			g_byte_array_append(raw, line->data, line->len);
			if (line->len == 3 &&
			    memcmp(line->data, ".\r\n", 3) == 0) {
				g_mutex_lock(&k->lock);
				g_ptr_array_add(k->mail, mail);
				g_ptr_array_add(k->rcpts, g_strdup(rc->str));
				g_ptr_array_add(
					k->raw,
					g_byte_array_free_to_bytes(raw));
				g_mutex_unlock(&k->lock);
				raw = NULL;
				mail = NULL;
				g_string_truncate(rc, 0);
				put(fd, "250 2.0.0 queued\r\n");
			}
			continue;
		}
		if (g_ascii_strncasecmp((char *)line->data, "EHLO", 4) == 0) {
			put(fd, k->ehlo);
		} else if (g_ascii_strncasecmp((char *)line->data, "MAIL", 4) ==
			   0) {
			g_free(mail);
			mail = chomp(line);
			put(fd, "250 ok\r\n");
		} else if (g_ascii_strncasecmp((char *)line->data, "RCPT", 4) ==
			   0) {
			char *l = chomp(line);

			g_string_append_printf(rc, "%s%s", rc->len ? "," : "",
					       l);
			g_free(l);
			put(fd, "250 ok\r\n");
		} else if (g_ascii_strncasecmp((char *)line->data, "DATA", 4) ==
			   0) {
			raw = g_byte_array_new();
			put(fd, "354 go\r\n");
		} else if (g_ascii_strncasecmp((char *)line->data, "QUIT", 4) ==
			   0) {
			if (mail == NULL) {
				g_mutex_lock(&k->lock);
				k->quits++;
				g_mutex_unlock(&k->lock);
			}
			put(fd, "221 bye\r\n");
			break;
		} else {
			put(fd, "250 ok\r\n");
		}
	}
	g_free(mail);
	if (raw != NULL)
		g_byte_array_free(raw, TRUE);
	g_byte_array_free(line, TRUE);
	g_string_free(rc, TRUE);
	close(fd);
}

static gpointer capsink_main(gpointer arg)
{
	struct capsink *k = arg;

	for (;;) {
		int fd = accept(k->lfd, NULL, NULL);

		if (fd >= 0)
			serve(k, fd);
	}
	return NULL;
}

struct capsink *capsink_start(const char *caps, guint *port_r)
{
	struct capsink *k = g_new0(struct capsink, 1);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	GString *e = g_string_new("250");
	gchar **v = g_strsplit(caps, "\n", -1);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	g_string_append(e, v[0] != NULL && v[0][0] != '\0' ? "-" : " ");
	g_string_append(e, "capsink\r\n");
	for (guint i = 0; v[i] != NULL && v[i][0] != '\0'; i++)
		g_string_append_printf(
			e, "250%s%s\r\n",
			v[i + 1] != NULL && v[i + 1][0] != '\0' ? "-" : " ",
			v[i]);
	g_strfreev(v);
	k->ehlo = g_string_free(e, FALSE);
	g_mutex_init(&k->lock);
	k->mail = g_ptr_array_new();
	k->rcpts = g_ptr_array_new();
	k->raw = g_ptr_array_new();
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
	g_assert_cmpint(listen(fd, 16), ==, 0);
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sa, &sl), ==, 0);
	k->lfd = fd;
	*port_r = ntohs(sa.sin_port);
	g_thread_unref(g_thread_new("capsink", capsink_main, k));
	return k;
}

guint capsink_count(struct capsink *k)
{
	guint n;

	g_mutex_lock(&k->lock);
	n = k->raw->len;
	g_mutex_unlock(&k->lock);
	return n;
}

guint capsink_quits_before_mail(struct capsink *k)
{
	guint n;

	g_mutex_lock(&k->lock);
	n = k->quits;
	g_mutex_unlock(&k->lock);
	return n;
}

char *capsink_mail(struct capsink *k, guint i)
{
	char *s;

	g_mutex_lock(&k->lock);
	s = g_strdup(g_ptr_array_index(k->mail, i));
	g_mutex_unlock(&k->lock);
	return s;
}

char *capsink_rcpts(struct capsink *k, guint i)
{
	char *s;

	g_mutex_lock(&k->lock);
	s = g_strdup(g_ptr_array_index(k->rcpts, i));
	g_mutex_unlock(&k->lock);
	return s;
}

char *capsink_raw(struct capsink *k, guint i, gsize *len_r)
{
	GBytes *b;
	gsize n;
	const void *d;
	char *s;

	g_mutex_lock(&k->lock);
	b = g_ptr_array_index(k->raw, i);
	d = g_bytes_get_data(b, &n);
	s = g_malloc(n + 1);
	memcpy(s, d, n);
	s[n] = '\0';
	g_mutex_unlock(&k->lock);
	if (len_r != NULL)
		*len_r = n;
	return s;
}
