/*
 * Concurrency and crash tests: CAS under two threads, UID order with two
 * appending processes and a poller, the change feed across processes,
 * SIGKILL during appends followed by the check op (check-store).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ss_test.h"

#define NMSG 100

struct found {
	FILE *out;
	unsigned n;
};

static void on_finding(void *arg, const char *where, const char *what,
		       int repaired)
{
	struct found *f = arg;

	f->n++;
	fprintf(f->out, "%s: %s%s\n", where, what,
		repaired ? " (repaired)" : "");
}

/* the check op as `rmail check-store` calls it, on a fresh instance */
static int store_check(const char *dir, bool repair, FILE *out,
		       unsigned *found_r)
{
	struct found f = {out, 0};
	struct rmail_err err = {0};
	struct ss_store st;
	int left;

	ss_fx_open(dir, &st);
	left = ss_check(&st, repair, on_finding, &f, &err);
	ss_store_close(&st);
	*found_r = f.n;
	return left;
}

struct cas_arg {
	const char *dir;
	uint32_t flags[2];
	uint32_t *uids;
};

static gpointer cas_thread(gpointer data)
{
	struct cas_arg *a = data;
	struct ss_store st;
	struct rmail_mbox *mb;
	struct rmail_err err = {0};
	int round, i;

	/* each thread has its own store instance: its own stale view */
	ss_fx_open(a->dir, &st);
	g_assert_cmpint(ss_mbox_open(&st, SS_USER, "INBOX", &mb, &err), ==, 0);
	for (round = 0; round < 2; round++)
		for (i = 0; i < NMSG; i++)
			g_assert_cmpint(ss_msg_flags(mb, a->uids[i],
						     RMAIL_FLAGS_ADD,
						     a->flags[round], NULL, 0,
						     NULL, &err),
					==, 0);
	ss_mbox_close(&mb);
	ss_store_close(&st);
	return NULL;
}

static void test_cas_threads(struct ss_fx *fx, gconstpointer d)
{
	uint32_t uids[NMSG];
	struct cas_arg a = {fx->dir, {RMAIL_F_SEEN, RMAIL_F_FLAGGED}, uids};
	struct cas_arg b = {fx->dir, {RMAIL_F_ANSWERED, RMAIL_F_DRAFT}, uids};
	struct rmail_mbox *mb;
	struct rmail_err err = {0};
	GThread *ta, *tb;
	int i;

	(void)d;
	for (i = 0; i < NMSG; i++)
		uids[i] = ss_t_append(&fx->st, "INBOX", "x\r\n", 0);
	/* both threads open their views before either changes anything */
	ta = g_thread_new("a", cas_thread, &a);
	tb = g_thread_new("b", cas_thread, &b);
	g_thread_join(ta);
	g_thread_join(tb);
	g_assert_cmpint(ss_mbox_open(&fx->st, SS_USER, "INBOX", &mb, &err), ==,
			0);
	g_assert_cmpint(ss_mbox_refresh(mb, &err), ==, 0);
	g_assert_cmpuint(ss_mbox_count(mb), ==, NMSG);
	for (i = 0; i < NMSG; i++)
		g_assert_cmpuint(ss_mbox_msg(mb, (uint32_t)i)->flags, ==,
				 RMAIL_F_SEEN | RMAIL_F_FLAGGED |
					 RMAIL_F_ANSWERED | RMAIL_F_DRAFT);
	ss_mbox_close(&mb);
}

static pid_t spawn_appender(const char *dir, int n, int report_fd)
{
	pid_t pid = fork();

	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		struct ss_store st;
		struct rmail_err err = {0};
		int i;

		if (ss_store_open(&st, fake_core_init(), dir, &err) < 0)
			_exit(3);
		for (i = 0; n < 0 || i < n; i++) {
			struct rmail_append *ap;
			char body[600];
			uint32_t uid;
			int len = snprintf(
				body, sizeof(body),
				"Subject: %d\r\n\r\n%0500d\r\nEND\r\n", i, i);

			if (ss_append_begin(&st, SS_USER, "INBOX", NULL, &ap,
					    &err) < 0 ||
			    ss_append_write(ap, body, (size_t)len, &err) < 0 ||
			    ss_append_commit(ap, &uid, NULL, &err) < 0)
				_exit(4);
			ss_append_free(&ap);
			if (report_fd >= 0) {
				uint32_t rec[2] = {uid, (uint32_t)i};

				if (write(report_fd, rec, sizeof(rec)) !=
				    sizeof(rec))
					_exit(5);
			}
		}
		_exit(0);
	}
	return pid;
}

static void test_uid_order(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_mbox *mb;
	struct rmail_err err = {0};
	pid_t p1, p2;
	uint32_t max_seen = 0, seen = 0;
	int status, done = 0, polls = 0;

	(void)d;
	p1 = spawn_appender(fx->dir, 150, -1);
	p2 = spawn_appender(fx->dir, 150, -1);
	g_assert_cmpint(ss_mbox_open(&fx->st, SS_USER, "INBOX", &mb, &err), ==,
			0);
	while (done < 2 && polls < 200000) {
		uint32_t i, n, prev_max = max_seen, new_max = max_seen;

		if (waitpid(-1, &status, WNOHANG) > 0) {
			g_assert_true(WIFEXITED(status));
			g_assert_cmpint(WEXITSTATUS(status), ==, 0);
			done++;
		}
		g_assert_cmpint(ss_mbox_refresh(mb, &err), ==, 0);
		n = ss_mbox_count(mb);
		/* nothing disappears, nothing new appears below max_seen */
		g_assert_cmpuint(n, >=, seen);
		for (i = 0; i < n; i++) {
			uint32_t uid = ss_mbox_msg(mb, i)->uid;

			if (i >= seen || uid > prev_max) {
				g_assert_cmpuint(uid, >, prev_max);
				if (uid > new_max)
					new_max = uid;
			}
		}
		/* no more than the two appenders' 300 ever show up */
		g_assert_cmpuint(n, <=, 300);
		max_seen = new_max;
		seen = n;
		polls++;
	}
	g_assert_cmpint(done, ==, 2);
	g_assert_cmpint(ss_mbox_refresh(mb, &err), ==, 0);
	g_assert_cmpuint(ss_mbox_count(mb), ==, 300);
	g_assert_cmpuint(ss_mbox_msg(mb, 299)->uid, ==, 300);
	ss_mbox_close(&mb);
	(void)p1;
	(void)p2;
}

static void watch_cb(void *arg)
{
	(*(int *)arg)++;
}

static bool fired(void *arg)
{
	return *(int *)arg > 0;
}

static void test_watch(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_watch *w = NULL;
	struct rmail_err err = {0};
	int count = 0, status;
	gint64 t0;
	pid_t pid;

	(void)d;
	g_assert_cmpint(ss_watch_add(&fx->st, SS_USER, "INBOX", watch_cb,
				     &count, &w, &err),
			==, 0);
	g_assert_false(fake_core_run(fired, &count, 0.2));
	t0 = g_get_monotonic_time();
	pid = spawn_appender(fx->dir, 1, -1);
	g_assert_true(fake_core_run(fired, &count, 5.0));
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 1000000);
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	/* coalesced: one burst, few callbacks */
	fake_core_run(NULL, NULL, 0.2);
	g_assert_cmpint(count, <=, 2);
	ss_watch_del(&w);
	g_assert_null(w);
}

static void test_watch_poll(struct ss_fx *fx, gconstpointer d)
{
	static const struct ss_conf conf = {0.2, 0};
	struct rmail_mctx *m = fake_core_mctx("shardstore", &conf);
	struct rmail_watch *w = NULL;
	struct rmail_err err = {0};
	int count = 0, status;
	pid_t pid;

	(void)d;
	fx->st.m = m; /* the conf says: no inotify */
	g_assert_cmpint(ss_watch_add(&fx->st, SS_USER, "INBOX", watch_cb,
				     &count, &w, &err),
			==, 0);
	pid = spawn_appender(fx->dir, 1, -1);
	g_assert_true(fake_core_run(fired, &count, 1.0));
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	ss_watch_del(&w);
	ss_store_close(&fx->st); /* frees the poll timer while m lives */
	fake_core_mctx_free(m);
	ss_fx_open(fx->dir, &fx->st);
}

static void test_sigkill(struct ss_fx *fx, gconstpointer d)
{
	GHashTable *reported = g_hash_table_new(NULL, NULL);
	GRand *r = g_rand_new_with_seed((guint32)getpid());
	struct rmail_mbox *mb;
	struct rmail_err err = {0};
	struct ss_store st;
	unsigned found = 0;
	int round, left;
	uint32_t i;
	FILE *out;
	char *outbuf = NULL;
	size_t outlen = 0;

	(void)d;
	for (round = 0; round < 6; round++) {
		int p[2], status;
		uint32_t rec[2];
		pid_t pid;

		g_assert_cmpint(pipe(p), ==, 0);
		pid = spawn_appender(fx->dir, -1, p[1]);
		close(p[1]);
		g_usleep((gulong)g_rand_int_range(r, 20000, 150000));
		kill(pid, SIGKILL);
		g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
		g_assert_true(WIFSIGNALED(status));
		while (read(p[0], rec, sizeof(rec)) == sizeof(rec))
			g_hash_table_insert(reported, GUINT_TO_POINTER(rec[0]),
					    GUINT_TO_POINTER(rec[1] + 1));
		close(p[0]);
	}
	g_assert_cmpuint(g_hash_table_size(reported), >, 0);
	/* a fresh instance: every reported append present and complete */
	ss_fx_open(fx->dir, &st);
	g_assert_cmpint(ss_mbox_open(&st, SS_USER, "INBOX", &mb, &err), ==, 0);
	for (i = 0; i < ss_mbox_count(mb); i++) {
		const struct rmail_msg *m = ss_mbox_msg(mb, i);
		char buf[700];
		size_t got;

		if (i > 0)
			g_assert_cmpuint(m->uid, >,
					 ss_mbox_msg(mb, i - 1)->uid);
		g_assert_cmpint(ss_msg_read(&*mb, m->uid, 0, buf,
					    sizeof(buf) - 1, &got, &err),
				==, 0);
		buf[got] = '\0';
		g_assert_cmpuint(got, ==, m->size);
		g_assert_true(g_str_has_suffix(buf, "\r\nEND\r\n"));
	}
	{
		GHashTableIter it;
		gpointer k, v;

		g_hash_table_iter_init(&it, reported);
		while (g_hash_table_iter_next(&it, &k, &v))
			g_assert_cmpint(ss_mbox_find(mb, GPOINTER_TO_UINT(k)),
					>=, 0);
	}
	ss_mbox_close(&mb);
	ss_store_close(&st);
	/* leftovers of the killed processes: found, repaired, then clean */
	out = open_memstream(&outbuf, &outlen);
	left = store_check(fx->dir, true, out, &found);
	fclose(out);
	g_test_message("check-store: %s", outbuf);
	g_assert_cmpint(left, ==, 0);
	free(outbuf);
	outbuf = NULL;
	out = open_memstream(&outbuf, &outlen);
	left = store_check(fx->dir, false, out, &found);
	fclose(out);
	g_assert_cmpint(left, ==, 0);
	g_assert_cmpuint(found, ==, 0);
	free(outbuf);
	g_hash_table_destroy(reported);
	g_rand_free(r);
}

static void test_check_store(struct ss_fx *fx, gconstpointer d)
{
	char *mbdir, *p, *outbuf = NULL;
	size_t outlen = 0;
	unsigned found = 0;
	FILE *out;
	int left;

	(void)d;
	ss_t_append(&fx->st, "INBOX", "a\r\n", 0);
	ss_t_append(&fx->st, "INBOX", "b\r\n", 0);
	mbdir = g_build_filename(fx->dir, "domains", "example.com", "users",
				 "alice", "mail", "INBOX", NULL);
	/* a second name for UID 1, an orphan temporary of a dead pid,
	 * a counter below the highest UID */
	p = g_strdup_printf("%s/s0/1,3,5,1,S.eml", mbdir);
	g_assert_true(g_file_set_contents(p, "a\r\n", -1, NULL));
	g_free(p);
	{
		char host[64] = "";
		size_t i;

		gethostname(host, sizeof(host) - 1);
		for (i = 0; host[i]; i++)
			if (!g_ascii_isalnum(host[i]) && host[i] != '-')
				host[i] = '-';
		p = g_strdup_printf("%s/tmp/%s.999999.1.tmp", mbdir, host);
	}
	g_assert_true(g_file_set_contents(p, "partial", -1, NULL));
	g_free(p);
	p = g_strdup_printf("%s/counter", mbdir);
	g_assert_true(g_file_set_contents(p, "1 7 2 -\n", -1, NULL));
	g_free(p);
	p = g_build_filename(fx->dir, "domains", "example.com", "users",
			     "alice", "quota", NULL);
	g_assert_true(
		g_file_set_contents(p, "00000000000000000099\n", -1, NULL));
	g_free(p);
	out = open_memstream(&outbuf, &outlen);
	left = store_check(fx->dir, false, out, &found);
	fclose(out);
	g_test_message("%s", outbuf);
	/* a duplicate counts once, as readers see it, so only the
	 * damaged usage cache is a quota finding */
	g_assert_cmpuint(found, ==, 4);
	g_assert_cmpint(left, ==, 4);
	g_assert_nonnull(strstr(outbuf, "uid 1 under two names: kept "));
	g_assert_nonnull(strstr(outbuf, "orphan temporary"));
	g_assert_nonnull(strstr(outbuf, "UID counter 2"));
	g_assert_nonnull(strstr(outbuf, "quota usage cache says 99 bytes, "
					"the messages add up to 6"));
	free(outbuf);
	outbuf = NULL;
	out = open_memstream(&outbuf, &outlen);
	left = store_check(fx->dir, true, out, &found);
	fclose(out);
	g_assert_cmpint(left, ==, 0);
	free(outbuf);
	outbuf = NULL;
	out = open_memstream(&outbuf, &outlen);
	left = store_check(fx->dir, false, out, &found);
	fclose(out);
	g_assert_cmpuint(found, ==, 0);
	free(outbuf);
	g_free(mbdir);
}

/* a UID under two names in the top shard (a restored backup) must not
 * hide that shard from the UID lock's look at the disk */
static void test_dup_high(struct ss_fx *fx, gconstpointer d)
{
	char *mbdir, *p;
	uint32_t uid;

	(void)d;
	ss_t_append(&fx->st, "INBOX", "a\r\n", 0);
	ss_t_append(&fx->st, "INBOX", "b\r\n", 0);
	mbdir = g_build_filename(fx->dir, "domains", "example.com", "users",
				 "alice", "mail", "INBOX", NULL);
	p = g_strdup_printf("%s/s0/2,3,5,1,S.eml", mbdir);
	g_assert_true(g_file_set_contents(p, "b\r\n", -1, NULL));
	g_free(p);
	/* behind the disk, boot id "-": the next append looks */
	p = g_strdup_printf("%s/counter", mbdir);
	g_assert_true(g_file_set_contents(p, "1 7 2 -\n", -1, NULL));
	g_free(p);
	g_free(mbdir);
	{
		struct ss_store st;

		ss_fx_open(fx->dir, &st);
		uid = ss_t_append(&st, "INBOX", "c\r\n", 0);
		ss_store_close(&st);
	}
	g_assert_cmpuint(uid, ==, 3);
}

/* this host's name as the store writes it into temporary names */
static void host_name(char *host, size_t sz)
{
	size_t i;

	host[0] = '\0';
	gethostname(host, sz - 1);
	host[sz - 1] = '\0';
	for (i = 0; host[i]; i++)
		if (!g_ascii_isalnum(host[i]) && host[i] != '-')
			host[i] = '-';
}

/*
 * A crash between a move's claim and its commit leaves the message as
 * tmp/.move.* in the destination: check-store reports it and --repair
 * commits it there with the flags its name carries, under a new UID.
 */
static void test_check_move_claim(struct ss_fx *fx, gconstpointer d)
{
	char host[64], *mbdir, *p, *outbuf = NULL;
	struct rmail_err err = {0};
	struct rmail_mbox *mb;
	const struct rmail_msg *m;
	size_t outlen = 0;
	unsigned found = 0;
	FILE *out;
	int left;

	(void)d;
	ss_t_append(&fx->st, "INBOX", "a\r\n", 0);
	ss_t_append(&fx->st, "INBOX", "b\r\n", 0);
	mbdir = g_build_filename(fx->dir, "domains", "example.com", "users",
				 "alice", "mail", "INBOX", NULL);
	host_name(host, sizeof(host));
	p = g_strdup_printf("%s/tmp/.move.%s.999999.1~7,9,1000,1,FS.eml", mbdir,
			    host);
	g_assert_true(g_file_set_contents(p, "claimed\r\n", -1, NULL));
	g_free(p);
	out = open_memstream(&outbuf, &outlen);
	left = store_check(fx->dir, false, out, &found);
	fclose(out);
	g_test_message("%s", outbuf);
	g_assert_cmpuint(found, ==, 1);
	g_assert_cmpint(left, ==, 1);
	g_assert_nonnull(strstr(outbuf, "leftover move claim"));
	free(outbuf);
	outbuf = NULL;
	out = open_memstream(&outbuf, &outlen);
	left = store_check(fx->dir, true, out, &found);
	fclose(out);
	g_test_message("%s", outbuf);
	g_assert_cmpint(left, ==, 0);
	free(outbuf);
	outbuf = NULL;
	out = open_memstream(&outbuf, &outlen);
	left = store_check(fx->dir, false, out, &found);
	fclose(out);
	g_assert_cmpuint(found, ==, 0);
	free(outbuf);
	/* the store sees it: a new UID above the others, its flags */
	g_assert_cmpint(ss_mbox_open(&fx->st, SS_USER, "INBOX", &mb, &err), ==,
			0);
	g_assert_cmpuint(ss_mbox_count(mb), ==, 3);
	m = ss_mbox_msg(mb, 2);
	g_assert_cmpuint(m->uid, ==, 3);
	g_assert_cmpuint(m->flags, ==, RMAIL_F_FLAGGED | RMAIL_F_SEEN);
	ss_mbox_close(&mb);
	/* under a modseq of its own from the mailbox's counter */
	p = g_strdup_printf("%s/s0", mbdir);
	{
		GDir *dir = g_dir_open(p, 0, NULL);
		const char *n;
		bool seen = false;

		g_assert_nonnull(dir);
		while ((n = g_dir_read_name(dir)) != NULL)
			if (g_str_has_prefix(n, "3,9,1000,") &&
			    g_str_has_suffix(n, ",FS.eml") &&
			    !g_str_has_prefix(n, "3,9,1000,1,"))
				seen = true;
		g_dir_close(dir);
		g_assert_true(seen);
	}
	g_free(p);
	g_free(mbdir);
}

/* worker processes start together on a root nobody has opened yet
 * (`processes: 2` on a fresh install): every one opens it, and the
 * FORMAT they leave is whole */
static void test_fresh_root_race(struct ss_fx *fx, gconstpointer d)
{
	enum { NPROC = 8, ROUNDS = 20 };
	unsigned round, i, ok = 0;

	(void)d;
	for (round = 0; round < ROUNDS; round++) {
		char *root = g_strdup_printf("%s/fresh%u", fx->dir, round);
		char *fmt = g_strdup_printf("%s/FORMAT", root), *body = NULL;
		pid_t pids[NPROC];

		for (i = 0; i < NPROC; i++) {
			pids[i] = fork();
			g_assert_cmpint(pids[i], >=, 0);
			if (pids[i] == 0) {
				struct rmail_err err = {0};
				struct ss_store st;
				int rc = ss_store_open(&st, fake_core_init(),
						       root, &err);

				if (rc != 0)
					fprintf(stderr, "open: %s\n", err.msg);
				else
					ss_store_close(&st);
				_exit(rc == 0 ? 0 : 1);
			}
		}
		for (i = 0; i < NPROC; i++) {
			int st;

			g_assert_cmpint(waitpid(pids[i], &st, 0), ==, pids[i]);
			ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
		}
		g_assert_true(g_file_get_contents(fmt, &body, NULL, NULL));
		g_assert_cmpstr(body, ==, "rmail-shardstore 2\n");
		g_free(body);
		g_free(fmt);
		g_free(root);
	}
	g_assert_cmpuint(ok, ==, NPROC * ROUNDS);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	fake_core_init();
#define T(path, fn)                                                            \
	g_test_add("/shardstore/procs/" path, struct ss_fx, NULL, ss_fx_setup, \
		   fn, ss_fx_teardown)
	T("cas-threads", test_cas_threads);
	T("uid-order", test_uid_order);
	T("watch-inotify", test_watch);
	T("watch-poll", test_watch_poll);
	T("sigkill", test_sigkill);
	T("check-store", test_check_store);
	T("dup-high", test_dup_high);
	T("check-store-move-claim", test_check_move_claim);
	T("fresh-root-race", test_fresh_root_race);
	return g_test_run();
}
