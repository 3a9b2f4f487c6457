/*
 * Nothing acknowledged is lost across SIGKILL: several clients send
 * small messages to a local user on port 25 while the daemon is killed
 * with SIGKILL at random moments and restarted.  Every message that got
 * the 250 after DATA must then be in the user's mailbox files (or the
 * outbound queue), complete: its unique last line present.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "harness.h"

#define DOM "example.test"
#define USER "k9@" DOM
#define NCLIENTS 6
#define PER_CLIENT 400 /* upper bound on messages per client */
#define KILLS 3

static guint P25;
static atomic_int stop_flag;

struct client {
	int id;
	pthread_t th;
	int fd;
	char buf[4096];
	size_t len;
	/* sequence numbers that got 250 */
	int acked[PER_CLIENT];
	int nacked;
	int sent;
};

static int cl_connect(struct client *c)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct timeval tv = {.tv_sec = 5};

	a.sin_port = htons((uint16_t)P25);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->len = 0;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

static void cl_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int cl_send(struct client *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* the code of the next whole reply, -1 on EOF, error or timeout */
static int cl_reply(struct client *c)
{
	for (;;) {
		char *lf = memchr(c->buf, '\n', c->len);
		ssize_t r;

		if (lf != NULL) {
			size_t n = (size_t)(lf - c->buf) + 1;
			int more = n > 4 && c->buf[3] == '-';
			int code = atoi(c->buf);

			memmove(c->buf, c->buf + n, c->len - n);
			c->len -= n;
			if (!more)
				return code;
			continue;
		}
		if (c->len == sizeof(c->buf))
			return -1;
		r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c->len += (size_t)r;
	}
}

static int cl_open(struct client *c)
{
	static const char ehlo[] = "EHLO k9.test\r\n";

	if (cl_connect(c) < 0)
		return -1;
	if (cl_reply(c) != 220 || cl_send(c, ehlo, sizeof(ehlo) - 1) < 0 ||
	    cl_reply(c) != 250) {
		cl_close(c);
		return -1;
	}
	return 0;
}

/* 1 when the message got 250, 0 when refused or cut off */
static int cl_message(struct client *c, int seq)
{
	static const char env[] = "MAIL FROM:<load@remote.test>\r\n"
				  "RCPT TO:<" USER ">\r\n";
	GString *m = g_string_new(NULL);
	int ok = 0;

	g_string_append_printf(m,
			       "From: <load@remote.test>\r\nTo: <" USER
			       ">\r\nMessage-ID: <k9-%d-%d@k9.test>\r\n"
			       "Subject: k9 %d %d\r\n\r\n",
			       c->id, seq, c->id, seq);
	for (int i = 0; i < 6; i++)
		g_string_append(m, "filler line of a small message body, "
				   "long enough to matter\r\n");
	g_string_append_printf(m, "END-k9-%d-%d\r\n.\r\n", c->id, seq);
	if (cl_send(c, env, sizeof(env) - 1) == 0 && cl_reply(c) == 250 &&
	    cl_reply(c) == 250 && cl_send(c, "DATA\r\n", 6) == 0 &&
	    cl_reply(c) == 354 && cl_send(c, m->str, m->len) == 0 &&
	    cl_reply(c) == 250)
		ok = 1;
	g_string_free(m, TRUE);
	return ok;
}

static void *client_main(void *arg)
{
	struct client *c = arg;

	c->fd = -1;
	while (!atomic_load(&stop_flag) && c->sent < PER_CLIENT) {
		if (c->fd < 0 && cl_open(c) < 0) {
			g_usleep(20000); /* the daemon is restarting */
			continue;
		}
		if (cl_message(c, c->sent)) {
			c->acked[c->nacked] = c->sent;
			__atomic_add_fetch(&c->nacked, 1, __ATOMIC_RELEASE);
		} else
			cl_close(c);
		c->sent++;
	}
	cl_close(c);
	return NULL;
}

/* ---- what is on disk afterwards --------------------------------------- */

/* every regular file under dir whose name ends in one of the suffixes */
static void collect(const char *dir, GPtrArray *out)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;

	if (d == NULL)
		return;
	while ((name = g_dir_read_name(d)) != NULL) {
		char *p = g_build_filename(dir, name, NULL);

		if (g_file_test(p, G_FILE_TEST_IS_DIR) &&
		    !g_file_test(p, G_FILE_TEST_IS_SYMLINK)) {
			collect(p, out);
			g_free(p);
		} else if (g_str_has_suffix(name, ".eml") ||
			   g_str_has_suffix(name, ".msg")) {
			g_ptr_array_add(out, p);
		} else {
			g_free(p);
		}
	}
	g_dir_close(d);
}

/* token "k9-C-S" -> TRUE for each complete copy found */
static GHashTable *complete_messages(struct rmh *h)
{
	GHashTable *t =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
	char *users = g_build_filename(rmh_dir(h), "mail", "domains", DOM,
				       "users", "k9", NULL);
	char *queue = g_build_filename(rmh_dir(h), "mail", "queue", NULL);

	collect(users, files);
	collect(queue, files);
	for (guint i = 0; i < files->len; i++) {
		char *text = NULL, *mid, *end, tok[64], want[80];
		gsize len = 0;
		int cid, seq;

		if (!g_file_get_contents(files->pdata[i], &text, &len, NULL))
			continue;
		mid = strstr(text, "Message-ID: <k9-");
		if (mid != NULL &&
		    sscanf(mid, "Message-ID: <k9-%d-%d@", &cid, &seq) == 2) {
			snprintf(tok, sizeof(tok), "k9-%d-%d", cid, seq);
			snprintf(want, sizeof(want), "\r\nEND-%s\r\n", tok);
			end = g_strrstr(text, want);
			/* the body's last line, and nothing cut after it */
			if (end != NULL && end + strlen(want) == text + len)
				g_hash_table_replace(t, g_strdup(tok),
						     GINT_TO_POINTER(1));
		}
		g_free(text);
	}
	g_ptr_array_free(files, TRUE);
	g_free(users);
	g_free(queue);
	return t;
}

static void add_user(struct rmh *h)
{
	const char *argv[] = {"rmail", "-c", rmh_config_path(h), "user",
			      "add",   USER, "--password-stdin", NULL};
	char *out = NULL, *err = NULL;
	int rc = rmh_run_argv(h, argv, "k9-password\n", &out, &err);

	if (rc != 0)
		g_test_message("user add: %s", err);
	g_assert_cmpint(rc, ==, 0);
	g_free(out);
	g_free(err);
}

static void test_kill9(void)
{
	struct rmh *h = rmh_new();
	struct client *cl = g_new0(struct client, NCLIENTS);
	GHashTable *have;
	int acked = 0, missing = 0, kills = 0;

	P25 = rmh_port(h, "smtp");
	rmh_set(h, "modules", "[\"mod_shardstore\", \"mod_smtp\"]");
	rmh_setf(h, "smtp",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"submission_listen\": [], \"smtps_listen\": []}",
		 P25);
	rmh_write_config(h);
	add_user(h);
	g_assert_true(rmh_start(h));

	atomic_store(&stop_flag, 0);
	for (int i = 0; i < NCLIENTS; i++) {
		cl[i].id = i;
		g_assert_cmpint(
			pthread_create(&cl[i].th, NULL, client_main, &cl[i]),
			==, 0);
	}
	for (int k = 0; k < KILLS; k++) {
		/* a random moment: mid-DATA, mid-fsync, mid-reply */
		g_usleep((gulong)g_random_int_range(150000, 600000));
		rmh_signal(h, SIGKILL);
		(void)rmh_stop(h); /* reaps it */
		kills++;
		g_usleep((gulong)g_random_int_range(0, 100000));
		g_assert_true(rmh_start(h));
	}
	/* enough acknowledged work for the check to mean much: bounded by
	 * work, not by a fixed time (a loaded ASan run is slow) */
	for (int waited = 0; waited < 600; waited++) {
		int n = 0;

		for (int i = 0; i < NCLIENTS; i++)
			n += __atomic_load_n(&cl[i].nacked, __ATOMIC_ACQUIRE);
		if (n >= 100 && waited >= 4)
			break;
		g_usleep(100000);
	}
	atomic_store(&stop_flag, 1);
	for (int i = 0; i < NCLIENTS; i++)
		pthread_join(cl[i].th, NULL);
	g_assert_cmpint(rmh_stop(h), ==, 0);

	have = complete_messages(h);
	for (int i = 0; i < NCLIENTS; i++) {
		for (int j = 0; j < cl[i].nacked; j++) {
			char tok[64];

			snprintf(tok, sizeof(tok), "k9-%d-%d", i,
				 cl[i].acked[j]);
			acked++;
			if (!g_hash_table_contains(have, tok)) {
				g_test_message("acknowledged but missing or "
					       "incomplete: %s",
					       tok);
				missing++;
			}
		}
	}
	g_test_message("%d kills, %d messages acknowledged, %u complete "
		       "on disk",
		       kills, acked, g_hash_table_size(have));
	/* the run must have done real work for the check to mean much */
	g_assert_cmpint(kills, ==, KILLS);
	g_assert_cmpint(acked, >=, 100);
	g_assert_cmpint(missing, ==, 0);
	g_hash_table_destroy(have);
	g_free(cl);
	rmh_free(h);
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/smtp/kill9-acknowledged-durable", test_kill9);
	return g_test_run();
}
