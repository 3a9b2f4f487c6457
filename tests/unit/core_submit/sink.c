#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sink.h"

static GMutex lock;
static GPtrArray *msgs, *rcpts;
static guint tls_attempts, tempfails;

static void put(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) < 0)
		return;
}

static void serve(int fd)
{
	FILE *in = fdopen(dup(fd), "r");
	char line[2048];
	GString *data = NULL, *rc = g_string_new("");
	guint ok = 0;

	put(fd, "220 sink ESMTP\r\n");
	while (in != NULL && fgets(line, sizeof(line), in) != NULL) {
		if (data != NULL) {
			if (strcmp(line, ".\r\n") == 0) {
				g_mutex_lock(&lock);
				g_ptr_array_add(msgs, g_string_free(data,
								    FALSE));
				g_ptr_array_add(rcpts, g_strdup(rc->str));
				g_mutex_unlock(&lock);
				data = NULL;
				g_string_truncate(rc, 0);
				put(fd, "250 2.0.0 queued\r\n");
				continue;
			}
			g_string_append(data, line[0] == '.' ? line + 1 : line);
			continue;
		}
		if (g_ascii_strncasecmp(line, "EHLO", 4) == 0) {
			put(fd, "250-sink\r\n250-STARTTLS\r\n250 8BITMIME\r\n");
		} else if (g_ascii_strncasecmp(line, "STARTTLS", 8) == 0) {
			g_mutex_lock(&lock);
			tls_attempts++;
			g_mutex_unlock(&lock);
			put(fd, "220 go ahead\r\n");
			put(fd, "this is not a TLS server hello\r\n");
			break;
		} else if (g_ascii_strncasecmp(line, "MAIL", 4) == 0) {
			ok = 0;
			put(fd, "250 ok\r\n");
		} else if (g_ascii_strncasecmp(line, "RCPT", 4) == 0) {
			if (strstr(line, "reject") != NULL) {
				put(fd, "550 5.1.1 rejected by sink\r\n");
				continue;
			}
			if (strstr(line, "tempfail") != NULL) {
				g_mutex_lock(&lock);
				guint t = tempfails++;
				g_mutex_unlock(&lock);
				if (t == 0) {
					put(fd, "451 4.3.0 try later\r\n");
					continue;
				}
			}
			g_string_append_printf(rc, "%s%s", rc->len ? "," : "",
					       g_strstrip(line + 8));
			ok++;
			put(fd, "250 ok\r\n");
		} else if (g_ascii_strncasecmp(line, "DATA", 4) == 0) {
			data = g_string_new("");
			put(fd, "354 go\r\n");
		} else if (g_ascii_strncasecmp(line, "QUIT", 4) == 0) {
			put(fd, "221 bye\r\n");
			break;
		} else {
			put(fd, "500 what\r\n");
		}
	}
	(void)ok;
	if (data != NULL)
		g_string_free(data, TRUE);
	g_string_free(rc, TRUE);
	if (in != NULL)
		fclose(in);
	close(fd);
}

static gpointer smtp_main(gpointer arg)
{
	int lfd = GPOINTER_TO_INT(arg);

	for (;;) {
		int fd = accept(lfd, NULL, NULL);

		if (fd >= 0)
			serve(fd);
	}
	return NULL;
}

guint sink_start(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	msgs = g_ptr_array_new();
	rcpts = g_ptr_array_new();
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
	g_assert_cmpint(listen(fd, 16), ==, 0);
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sa, &sl), ==, 0);
	g_thread_unref(g_thread_new("sink", smtp_main, GINT_TO_POINTER(fd)));
	return ntohs(sa.sin_port);
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

/* ---- DNS ---------------------------------------------------------- */

static guint queries;

static size_t put_name(unsigned char *p, const char *name)
{
	size_t o = 0;
	gchar **labels = g_strsplit(name, ".", -1);

	for (guint i = 0; labels[i] != NULL; i++) {
		size_t n = strlen(labels[i]);

		if (n == 0)
			continue;
		p[o++] = (unsigned char)n;
		memcpy(p + o, labels[i], n);
		o += n;
	}
	p[o++] = 0;
	g_strfreev(labels);
	return o;
}

static size_t put_rr(unsigned char *p, int type, const unsigned char *rd,
		     size_t rdlen)
{
	p[0] = 0xc0;
	p[1] = 12;          /* the question's name */
	p[2] = 0;
	p[3] = (unsigned char)type;
	p[4] = 0;
	p[5] = 1;
	memset(p + 6, 0, 3);
	p[9] = 60;
	p[10] = (unsigned char)(rdlen >> 8);
	p[11] = (unsigned char)rdlen;
	memcpy(p + 12, rd, rdlen);
	return 12 + rdlen;
}

static size_t mx_rr(unsigned char *p, int pref, const char *host)
{
	unsigned char rd[300];

	rd[0] = 0;
	rd[1] = (unsigned char)pref;
	return put_rr(p, 15, rd, 2 + put_name(rd + 2, host));
}

/* the zone: mx.test has three MX (10, 10, 20), null.test a null MX,
 * nomx.test an A only, {a,b,c}.mx.test and nomx.test A 127.0.0.1 */
static size_t answer(const unsigned char *q, size_t qlen, unsigned char *r)
{
	char name[256] = "";
	size_t o = 12, no = 0, end;
	int type, rcode = 0;
	guint an = 0;

	if (qlen < 17)
		return 0;
	while (o < qlen && q[o] != 0 && no + q[o] + 1 < sizeof(name)) {
		if (no > 0)
			name[no++] = '.';
		memcpy(name + no, q + o + 1, q[o]);
		no += q[o];
		o += (size_t)q[o] + 1;
	}
	name[no] = '\0';
	if (o + 5 > qlen)
		return 0;
	type = q[o + 2];
	end = o + 5;
	memcpy(r, q, end);
	r[2] = 0x81;
	r[3] = 0x80;
	o = end;
	if (type == 15 && g_ascii_strcasecmp(name, "mx.test") == 0) {
		o += mx_rr(r + o, 20, "b.mx.test");
		o += mx_rr(r + o, 10, "a.mx.test");
		o += mx_rr(r + o, 10, "c.mx.test");
		an = 3;
	} else if (type == 15 && g_ascii_strcasecmp(name, "null.test") == 0) {
		o += mx_rr(r + o, 0, "");
		an = 1;
	} else if (g_str_has_suffix(name, "mx.test") ||
		   g_ascii_strcasecmp(name, "nomx.test") == 0) {
		static const unsigned char lo[4] = { 127, 0, 0, 1 };

		if (type == 1) {
			o += put_rr(r + o, 1, lo, 4);
			an = 1;
		}
	} else {
		rcode = 3;      /* NXDOMAIN */
	}
	r[3] |= (unsigned char)rcode;
	r[6] = 0;
	r[7] = (unsigned char)an;
	memset(r + 8, 0, 4);
	return o;
}

static gpointer dns_main(gpointer arg)
{
	int fd = GPOINTER_TO_INT(arg);
	unsigned char q[512], r[2048];

	for (;;) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, q, sizeof(q), 0,
				     (struct sockaddr *)&from, &fl);
		size_t rl;

		if (n <= 0)
			continue;
		g_mutex_lock(&lock);
		queries++;
		g_mutex_unlock(&lock);
		rl = answer(q, (size_t)n, r);
		if (rl > 0)
			(void)sendto(fd, r, rl, 0, (struct sockaddr *)&from,
				     fl);
	}
	return NULL;
}

gboolean dns_start(const char *ip)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(53) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	inet_pton(AF_INET, ip, &sa.sin_addr);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return FALSE;
	}
	g_thread_unref(g_thread_new("dns", dns_main, GINT_TO_POINTER(fd)));
	return TRUE;
}

guint dns_queries(void)
{
	guint n;

	g_mutex_lock(&lock);
	n = queries;
	g_mutex_unlock(&lock);
	return n;
}
