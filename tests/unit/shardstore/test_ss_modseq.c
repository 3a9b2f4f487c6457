/*
 * Durable modseqs on a real store in a temporary directory: the counter
 * across processes, its recovery, tombstones and the vanished horizon,
 * keyword creation, STORE UNCHANGEDSINCE (msg_flags_unchanged) and the
 * migration of a format-1 mail root.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ss_test.h"

static char *inbox_path(const char *dir, const char *file)
{
	return g_build_filename(dir, "domains", "example.com", "users", "alice",
				"mail", "INBOX", file, NULL);
}

static struct rmail_mbox *open_inbox(struct ss_store *st)
{
	struct rmail_err err = {0};
	struct rmail_mbox *mb = NULL;

	if (ss_mbox_open(st, SS_USER, "INBOX", &mb, &err) < 0)
		g_error("open: %s", err.msg);
	return mb;
}

static void info(struct rmail_mbox *mb, struct rmail_mbox_status *s)
{
	struct rmail_err err = {0};

	g_assert_cmpint(ss_mbox_refresh(mb, &err), ==, 0);
	memset(s, 0, sizeof(*s));
	s->size = sizeof(*s);
	ss_mbox_info(mb, s);
}

/* every message's modseq: nonzero, at most HIGHESTMODSEQ; the highest */
static uint64_t check_view(struct rmail_mbox *mb)
{
	struct rmail_mbox_status s;
	uint64_t max = 0;
	uint32_t i;

	info(mb, &s);
	for (i = 0; i < ss_mbox_count(mb); i++) {
		const struct rmail_msg *m = ss_mbox_msg(mb, i);

		g_assert_cmpuint(m->modseq, >, 0);
		g_assert_cmpuint(m->modseq, <=, s.highestmodseq);
		if (m->modseq > max)
			max = m->modseq;
	}
	return max;
}

#define RACE_N 40000 /* per process: crosses a ceiling (65536) */

/* two processes fetch-add on one counter: no modseq handed out twice;
 * with d, both take the network-filesystem path (flock, pread/pwrite) */
static void test_counter_race(struct ss_fx *fx, gconstpointer d)
{
	char *out[2];
	pid_t pid[2];
	GHashTable *seen = g_hash_table_new(g_int64_hash, g_int64_equal);
	gint64 *all = g_new(gint64, 2 * RACE_N);
	size_t k = 0;
	int i, j;

	for (i = 0; i < 2; i++) {
		out[i] = g_strdup_printf("%s/race%d", fx->dir, i);
		pid[i] = fork();
		g_assert_cmpint(pid[i], >=, 0);
		if (pid[i] == 0) {
			struct ss_store st;
			struct rmail_err err = {0};
			struct rmail_mbox *mb;
			uint64_t *v = malloc(RACE_N * sizeof(*v));
			int fd;

			if (v == NULL || ss_store_open(&st, fake_core_init(),
						       fx->dir, &err) < 0)
				_exit(2);
			if (d != NULL)
				st.fs_name = "nfs";
			if (ss_mbox_open(&st, SS_USER, "INBOX", &mb, &err) < 0)
				_exit(2);
			for (j = 0; j < RACE_N; j++) {
				v[j] = ss_modseq_begin(mb);
				ss_modseq_end(mb, v[j]);
			}
			fd = open(out[i], O_WRONLY | O_CREAT | O_TRUNC, 0600);
			if (fd < 0 || write(fd, v, RACE_N * sizeof(*v)) !=
					      (ssize_t)(RACE_N * sizeof(*v)))
				_exit(3);
			close(fd);
			_exit(0);
		}
	}
	for (i = 0; i < 2; i++) {
		int status;
		gchar *buf;
		gsize len;

		g_assert_cmpint(waitpid(pid[i], &status, 0), ==, pid[i]);
		g_assert_true(WIFEXITED(status));
		g_assert_cmpint(WEXITSTATUS(status), ==, 0);
		g_assert_true(g_file_get_contents(out[i], &buf, &len, NULL));
		g_assert_cmpuint(len, ==, RACE_N * sizeof(uint64_t));
		for (j = 0; j < RACE_N; j++) {
			uint64_t v;

			memcpy(&v, buf + j * sizeof(v), sizeof(v));
			g_assert_cmpuint(v, >, 0);
			all[k] = (gint64)v;
			g_assert_false(g_hash_table_contains(seen, &all[k]));
			g_hash_table_add(seen, &all[k]);
			k++;
		}
		g_free(buf);
		g_free(out[i]);
	}
	g_assert_cmpuint(g_hash_table_size(seen), ==, 2 * RACE_N);
	g_hash_table_destroy(seen);
	g_free(all);
}

/* some appends and flag changes; the highest modseq they left */
static uint64_t some_changes(struct ss_store *st, int n)
{
	struct rmail_err err = {0};
	struct rmail_mbox *mb;
	uint64_t max;
	int i;

	for (i = 0; i < n; i++)
		ss_t_append(st, "INBOX", "m\n", 0);
	mb = open_inbox(st);
	for (i = 0; i < n; i++)
		g_assert_cmpint(ss_msg_flags(mb,
					     ss_mbox_msg(mb, (uint32_t)i)->uid,
					     RMAIL_FLAGS_ADD, RMAIL_F_SEEN,
					     NULL, 0, NULL, &err),
				==, 0);
	max = check_view(mb);
	ss_mbox_close(&mb);
	return max;
}

/* a new change after reopening: its modseq */
static uint64_t one_more(struct ss_store *st, uint32_t *uv_r)
{
	struct rmail_err err = {0};
	struct rmail_mbox_status s;
	struct rmail_mbox *mb = open_inbox(st);
	struct rmail_msg r;

	g_assert_cmpint(ss_msg_flags(mb, ss_mbox_msg(mb, 0)->uid,
				     RMAIL_FLAGS_ADD, RMAIL_F_FLAGGED, NULL, 0,
				     &r, &err),
			==, 0);
	g_assert_cmpuint(r.modseq, >, 0);
	check_view(mb);
	info(mb, &s);
	*uv_r = s.uidvalidity;
	g_assert_cmpuint(s.highestmodseq, >=, r.modseq);
	ss_mbox_close(&mb);
	return r.modseq;
}

static uint32_t uidvalidity(struct ss_store *st)
{
	struct rmail_mbox_status s = {.size = sizeof(s)};
	struct rmail_err err = {0};

	g_assert_cmpint(ss_mbox_status(st, SS_USER, "INBOX", &s, &err), ==, 0);
	return s.uidvalidity;
}

/* the counter file is lost: modseqs resume above the disk's, and the
 * mailbox gets a new UIDVALIDITY (nothing vouches for the old ones) */
static void test_resume_lost(struct ss_fx *fx, gconstpointer d)
{
	uint64_t max = some_changes(&fx->st, 5);
	uint32_t uv0 = uidvalidity(&fx->st), uv1;
	char *p = inbox_path(fx->dir, "modseq");

	(void)d;
	ss_store_close(&fx->st);
	g_assert_cmpint(unlink(p), ==, 0);
	ss_fx_open(fx->dir, &fx->st);
	g_assert_cmpuint(one_more(&fx->st, &uv1), >, max + SS_MODSEQ_GAP - 1);
	g_assert_cmpuint(uv1, >, uv0);
	g_assert_true(g_file_test(p, G_FILE_TEST_EXISTS));
	/* once: the new counter is good for the next process */
	ss_store_close(&fx->st);
	ss_fx_open(fx->dir, &fx->st);
	g_assert_cmpuint(uidvalidity(&fx->st), ==, uv1);
	g_free(p);
}

/* a machine crash: the mapped counter never reached the disk (a stale
 * value, another boot id); it resumes above the disk, UIDVALIDITY kept */
static void test_resume_stale(struct ss_fx *fx, gconstpointer d)
{
	uint64_t max = some_changes(&fx->st, 5), stale[3] = {2, 3, 3};
	uint32_t uv0 = uidvalidity(&fx->st), uv1;
	char *p = inbox_path(fx->dir, "modseq");
	int fd;

	(void)d;
	ss_store_close(&fx->st);
	fd = open(p, O_WRONLY);
	g_assert_cmpint(fd, >=, 0);
	/* next, ceiling, pending; then the boot id */
	g_assert_cmpint(pwrite(fd, stale, sizeof(stale), 8), ==, sizeof(stale));
	g_assert_cmpint(pwrite(fd, "stale-boot", 11, 48), ==, 11);
	close(fd);
	ss_fx_open(fx->dir, &fx->st);
	g_assert_cmpuint(one_more(&fx->st, &uv1), >, max + SS_MODSEQ_GAP - 1);
	g_assert_cmpuint(uv1, ==, uv0);
	g_free(p);
}

/* a process killed between changes: the next one resumes above it */
static void test_resume_killed(struct ss_fx *fx, gconstpointer d)
{
	uint64_t max = some_changes(&fx->st, 3), got;
	uint32_t uv;
	pid_t pid = fork();
	int status;

	(void)d;
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		struct ss_store st;
		struct rmail_err err = {0};
		struct rmail_mbox *mb;

		if (ss_store_open(&st, fake_core_init(), fx->dir, &err) < 0 ||
		    ss_mbox_open(&st, SS_USER, "INBOX", &mb, &err) < 0)
			_exit(2);
		for (int i = 0;; i++)
			(void)ss_msg_flags(
				mb, ss_mbox_msg(mb, 1)->uid,
				i % 2 ? RMAIL_FLAGS_ADD : RMAIL_FLAGS_REMOVE,
				RMAIL_F_ANSWERED, NULL, 0, NULL, &err);
	}
	g_usleep(50000);
	kill(pid, SIGKILL);
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	ss_store_close(&fx->st);
	ss_fx_open(fx->dir, &fx->st);
	{
		struct rmail_mbox *mb = open_inbox(&fx->st);

		max = MAX(max, check_view(mb));
		ss_mbox_close(&mb);
	}
	got = one_more(&fx->st, &uv);
	g_assert_cmpuint(got, >, max);
}

static void count_expunges(void *arg, const struct rmail_change *c)
{
	GHashTable *h = arg;

	if (c->type == RMAIL_CHANGE_EXPUNGE)
		g_hash_table_insert(h, GUINT_TO_POINTER(c->uid),
				    g_memdup2(&c->modseq, sizeof(c->modseq)));
}

/* tombstones: exact modseqs, every expunge above the horizon listed,
 * the horizon rising when the log rotates; never an expunge of a
 * message that is there */
static void test_tombstones(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_err err = {0};
	struct rmail_mbox_status s0, s1;
	struct rmail_mbox *mb;
	uint32_t uids[120];
	uint64_t since;
	GHashTable *h;
	int i;

	(void)d;
	ss_log_rotate_at = 4096; /* 128 records */
	ss_log_keep = 40;
	for (i = 0; i < 120; i++)
		uids[i] = ss_t_append(&fx->st, "INBOX", "t\n", 0);
	mb = open_inbox(&fx->st);
	info(mb, &s0);
	g_assert_cmpuint(s0.vanished_horizon, ==, 0);
	since = s0.highestmodseq;
	/* 30 expunges: below the rotation, every one listed */
	g_assert_cmpint(ss_msg_expunge(mb, uids, 30, &err), ==, 0);
	info(mb, &s1);
	g_assert_cmpuint(s1.highestmodseq, >, s0.highestmodseq);
	g_assert_cmpuint(ss_mbox_count(mb), ==, 90);
	h = g_hash_table_new_full(NULL, NULL, NULL, g_free);
	g_assert_cmpint(ss_mbox_changes(mb, since, count_expunges, h, &err), ==,
			0);
	g_assert_cmpuint(g_hash_table_size(h), ==, 30);
	for (i = 0; i < 30; i++) {
		uint64_t *m = g_hash_table_lookup(h, GUINT_TO_POINTER(uids[i]));

		g_assert_nonnull(m);
		g_assert_cmpuint(*m, >, since);
		g_assert_cmpuint(*m, <=, s1.highestmodseq);
	}
	g_hash_table_remove_all(h);
	/* 60 more: the log rotates, the horizon rises, what is above it
	 * is still complete */
	g_assert_cmpint(ss_msg_expunge(mb, uids + 30, 60, &err), ==, 0);
	info(mb, &s1);
	g_assert_cmpuint(s1.vanished_horizon, >, since);
	g_assert_cmpuint(s1.vanished_horizon, <, s1.highestmodseq);
	g_assert_cmpint(ss_mbox_changes(mb, s1.vanished_horizon, count_expunges,
					h, &err),
			==, 0);
	g_assert_cmpuint(g_hash_table_size(h), >=, 40);
	{
		/* complete: every expunge whose tombstone modseq is above
		 * the horizon is there (they were allocated in UID order) */
		uint64_t lo = UINT64_MAX;
		GHashTableIter it;
		gpointer k, v;

		g_hash_table_iter_init(&it, h);
		while (g_hash_table_iter_next(&it, &k, &v))
			lo = MIN(lo, *(uint64_t *)v);
		for (i = 0; i < 90; i++) {
			uint64_t *m = g_hash_table_lookup(
				h, GUINT_TO_POINTER(uids[i]));

			if (m == NULL)
				continue;
			g_assert_cmpuint(*m, >, s1.vanished_horizon);
		}
		g_assert_cmpuint(lo, >, s1.vanished_horizon);
		/* the UIDs after the first one listed are all listed */
		for (i = 89; i >= 0; i--)
			if (g_hash_table_lookup(h, GUINT_TO_POINTER(uids[i])) ==
			    NULL)
				break;
		g_assert_cmpuint((guint)(89 - i), ==, g_hash_table_size(h));
	}
	g_hash_table_remove_all(h);
	/* a tombstone of an expunge that never happened (a crash between
	 * the record and the unlink) is not reported */
	{
		struct ss_logrec t = {.type = RMAIL_CHANGE_EXPUNGE,
				      .uid = uids[100]};

		t.modseq = ss_modseq_begin(mb);
		ss_modseq_end(mb, t.modseq);
		g_assert_cmpint(ss_log_durable(mb, &t, 1), ==, 0);
		g_assert_cmpint(ss_mbox_changes(mb, s1.highestmodseq,
						count_expunges, h, &err),
				==, 0);
		g_assert_cmpuint(g_hash_table_size(h), ==, 0);
	}
	/* a new view in another store sees the same horizon */
	{
		struct ss_store st2;
		struct rmail_mbox *m2;
		struct rmail_mbox_status s2;

		ss_fx_open(fx->dir, &st2);
		m2 = open_inbox(&st2);
		info(m2, &s2);
		g_assert_cmpuint(s2.vanished_horizon, ==, s1.vanished_horizon);
		g_assert_cmpuint(s2.highestmodseq, >=, s1.highestmodseq);
		ss_mbox_close(&m2);
		ss_store_close(&st2);
	}
	g_hash_table_destroy(h);
	ss_mbox_close(&mb);
	ss_log_rotate_at = 1u << 20;
	ss_log_keep = 8192;
}

/* creating a keyword is a change of the mailbox (RFC 7162 3.1.8) */
static void test_keyword_bump(struct ss_fx *fx, gconstpointer d)
{
	static const char *const kw[] = {"$Forwarded"};
	struct rmail_err err = {0};
	struct rmail_mbox_status s0, s1;
	struct rmail_mbox *mb;
	uint64_t mask;

	(void)d;
	ss_t_append(&fx->st, "INBOX", "k\n", 0);
	mb = open_inbox(&fx->st);
	info(mb, &s0);
	g_assert_cmpint(ss_kw_resolve(mb, kw, 1, &mask, &err), ==, 0);
	info(mb, &s1);
	g_assert_cmpuint(s1.highestmodseq, >, s0.highestmodseq);
	/* known now: no second bump */
	g_assert_cmpint(ss_kw_resolve(mb, kw, 1, &mask, &err), ==, 0);
	info(mb, &s0);
	g_assert_cmpuint(s0.highestmodseq, ==, s1.highestmodseq);
	ss_mbox_close(&mb);
	/* another process's fresh view sees it */
	{
		struct ss_store st2;
		struct rmail_mbox *m2;

		ss_fx_open(fx->dir, &st2);
		m2 = open_inbox(&st2);
		info(m2, &s0);
		g_assert_cmpuint(s0.highestmodseq, >=, s1.highestmodseq);
		ss_mbox_close(&m2);
		ss_store_close(&st2);
	}
}

/* the message's modseq as a freshly refreshed view holds it */
static uint64_t modseq_of(struct rmail_mbox *mb, uint32_t uid)
{
	struct rmail_err err = {0};
	int64_t idx;

	g_assert_cmpint(ss_mbox_refresh(mb, &err), ==, 0);
	idx = ss_mbox_find(mb, uid);
	g_assert_cmpint(idx, >=, 0);
	return ss_mbox_msg(mb, (uint32_t)idx)->modseq;
}

static void test_unchanged(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_err err = {0};
	struct rmail_mbox *mb;
	struct rmail_msg r;
	uint32_t uid;
	uint64_t m0, m1;

	(void)d;
	uid = ss_t_append(&fx->st, "INBOX", "a\n", 0);
	g_assert_cmpint(ss_mbox_open(&fx->st, SS_USER, "INBOX", &mb, &err), ==,
			0);
	g_assert_cmpint(ss_msg_flags(mb, uid, RMAIL_FLAGS_ADD, RMAIL_F_SEEN,
				     NULL, 0, &r, &err),
			==, 0);
	m0 = modseq_of(mb, uid);
	g_assert_cmpuint(m0, >, 0);
	/* unchanged since m0: applied, a new modseq */
	g_assert_cmpint(ss_msg_flags_unchanged(mb, uid, m0, RMAIL_FLAGS_ADD,
					       RMAIL_F_FLAGGED, NULL, 0, &r,
					       &err),
			==, 0);
	g_assert_cmpuint(r.modseq, >, m0);
	g_assert_cmpuint(r.flags, ==, RMAIL_F_SEEN | RMAIL_F_FLAGGED);
	m1 = modseq_of(mb, uid);
	g_assert_cmpuint(m1, ==, r.modseq);
	/* changed since m0: refused, the current state returned */
	memset(&r, 0, sizeof(r));
	g_assert_cmpint(ss_msg_flags_unchanged(mb, uid, m0, RMAIL_FLAGS_REMOVE,
					       RMAIL_F_SEEN, NULL, 0, &r, &err),
			==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_MODIFIED);
	g_assert_cmpuint(r.uid, ==, uid);
	g_assert_cmpuint(r.modseq, ==, m1);
	g_assert_cmpuint(r.flags, ==, RMAIL_F_SEEN | RMAIL_F_FLAGGED);
	g_assert_cmpuint(modseq_of(mb, uid), ==, m1);
	/* a no-op within the bound succeeds without a new modseq */
	g_assert_cmpint(ss_msg_flags_unchanged(mb, uid, m1, RMAIL_FLAGS_ADD,
					       RMAIL_F_SEEN, NULL, 0, &r, &err),
			==, 0);
	g_assert_cmpuint(modseq_of(mb, uid), ==, m1);
	/* no such message */
	g_assert_cmpint(ss_msg_flags_unchanged(mb, uid + 5, m1, RMAIL_FLAGS_ADD,
					       RMAIL_F_SEEN, NULL, 0, &r, &err),
			==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_NOENT);
	ss_mbox_close(&mb);
}

/* another store instance (another process) changed the message after
 * this view read it: the view's stale modseq must not let it through */
static void test_unchanged_other_process(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_err err = {0};
	struct rmail_mbox *mb, *mb2;
	struct ss_store st2;
	struct rmail_msg r;
	uint32_t uid;
	uint64_t m0;

	(void)d;
	uid = ss_t_append(&fx->st, "INBOX", "a\n", 0);
	g_assert_cmpint(ss_mbox_open(&fx->st, SS_USER, "INBOX", &mb, &err), ==,
			0);
	m0 = modseq_of(mb, uid);
	g_assert_cmpuint(m0, >, 0);
	ss_fx_open(fx->dir, &st2);
	g_assert_cmpint(ss_mbox_open(&st2, SS_USER, "INBOX", &mb2, &err), ==,
			0);
	g_assert_cmpint(ss_msg_flags(mb2, uid, RMAIL_FLAGS_ADD, RMAIL_F_SEEN,
				     NULL, 0, NULL, &err),
			==, 0);
	ss_mbox_close(&mb2);
	ss_store_close(&st2);
	/* mb not refreshed */
	g_assert_cmpint(ss_msg_flags_unchanged(mb, uid, m0, RMAIL_FLAGS_ADD,
					       RMAIL_F_FLAGGED, NULL, 0, &r,
					       &err),
			==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_MODIFIED);
	g_assert_cmpuint(r.flags, ==, RMAIL_F_SEEN);
	g_assert_cmpuint(r.modseq, >, m0);
	ss_mbox_close(&mb);
}

/* rename every message of a mailbox directory to its format-1 name */
static void downgrade_mailbox(const char *mbdir)
{
	GDir *d = g_dir_open(mbdir, 0, NULL);
	const char *sh;

	g_assert_nonnull(d);
	while ((sh = g_dir_read_name(d)) != NULL) {
		char *sp;
		GDir *sd;
		const char *n;

		if (ss_shard_parse(sh) < 0)
			continue;
		sp = g_build_filename(mbdir, sh, NULL);
		sd = g_dir_open(sp, 0, NULL);
		while ((n = g_dir_read_name(sd)) != NULL) {
			struct ss_fname f;
			char v1[SS_FNAME_MAX];
			char *from, *to;

			g_assert_cmpint(ss_fname_parse(n, strlen(n), &f), ==,
					0);
			ss_fname_format_v1(&f, v1);
			from = g_build_filename(sp, n, NULL);
			to = g_build_filename(sp, v1, NULL);
			g_assert_cmpint(rename(from, to), ==, 0);
			g_free(from);
			g_free(to);
		}
		g_dir_close(sd);
		g_free(sp);
	}
	g_dir_close(d);
}

/* the format-1 root of rmail before modseqs, written by code: names
 * without the modseq field, no counter file, the 16-byte change log, a
 * move claim under a format-1 name */
static void make_format1(const char *dir)
{
	static const unsigned char rec[16] = {
		2, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0x5a, 0x5a, 0x5a, 0x5a};
	char *mail = g_build_filename(dir, "domains", "example.com", "users",
				      "alice", "mail", NULL);
	GDir *d = g_dir_open(mail, 0, NULL);
	const char *mbx;
	char *p;

	g_assert_nonnull(d);
	while ((mbx = g_dir_read_name(d)) != NULL) {
		char *mbdir = g_build_filename(mail, mbx, NULL);

		downgrade_mailbox(mbdir);
		p = g_build_filename(mbdir, "modseq", NULL);
		g_assert_cmpint(unlink(p), ==, 0);
		g_free(p);
		p = g_build_filename(mbdir, "changes", NULL);
		g_assert_true(g_file_set_contents(p, (const char *)rec,
						  sizeof(rec), NULL));
		g_free(p);
		g_free(mbdir);
	}
	g_dir_close(d);
	{
		char host[64], *name;
		size_t i;

		/* a claim of a dead process of this host (tmpfiles.c) */
		host[0] = '\0';
		gethostname(host, sizeof(host) - 1);
		host[sizeof(host) - 1] = '\0';
		for (i = 0; host[i]; i++)
			if (!g_ascii_isalnum(host[i]) && host[i] != '-')
				host[i] = '-';
		name = g_strdup_printf(".move.%s.999999.1~7,9,1000,FS.eml",
				       host);
		p = g_build_filename(mail, "INBOX", "tmp", name, NULL);
		g_free(name);
	}
	g_assert_true(g_file_set_contents(p, "claimed\r\n", -1, NULL));
	g_free(p);
	p = g_build_filename(dir, "FORMAT", NULL);
	g_assert_true(g_file_set_contents(p, "rmail-shardstore 1\n", -1, NULL));
	g_free(p);
	g_free(mail);
}

static void collect(void *arg, const char *where, const char *what,
		    int repaired)
{
	(void)repaired;
	g_string_append_printf(arg, "%s: %s\n", where ? where : "-", what);
}

static void test_migrate_1_2(struct ss_fx *fx, gconstpointer d)
{
	static const char *const kw[] = {"$Label1"};
	struct rmail_err err = {0};
	struct rmail_mbox *mb;
	struct rmail_msg r;
	GString *found = g_string_new(NULL);
	char *p, *buf;
	uint32_t a, b;

	(void)d;
	a = ss_t_append(&fx->st, "INBOX", "a\n", RMAIL_F_SEEN);
	b = ss_t_append(&fx->st, "INBOX", "b\n", 0);
	mb = open_inbox(&fx->st);
	g_assert_cmpint(ss_msg_flags(mb, b, RMAIL_FLAGS_ADD, RMAIL_F_FLAGGED,
				     kw, 1, NULL, &err),
			==, 0);
	ss_mbox_close(&mb);
	ss_t_append(&fx->st, "Sent", "s\n", RMAIL_F_SEEN);
	ss_store_close(&fx->st);
	make_format1(fx->dir);

	/* a crash in the middle of a first migration: one mailbox done */
	{
		char *sent = g_build_filename(fx->dir, "domains", "example.com",
					      "users", "alice", "mail", "Sent",
					      NULL);
		struct ss_store tmp;

		memset(&tmp, 0, sizeof(tmp));
		tmp.root_fd = open(sent, O_RDONLY | O_DIRECTORY);
		g_assert_cmpint(tmp.root_fd, >=, 0);
		g_assert_cmpint(ss_modseq_create(&tmp, tmp.root_fd), ==, 0);
		close(tmp.root_fd);
		g_free(sent);
	}

	ss_fx_open(fx->dir, &fx->st);
	p = g_build_filename(fx->dir, "FORMAT", NULL);
	g_assert_true(g_file_get_contents(p, &buf, NULL, NULL));
	g_assert_cmpstr(buf, ==, "rmail-shardstore 2\n");
	g_free(buf);
	g_free(p);
	p = inbox_path(fx->dir, "modseq");
	g_assert_true(g_file_test(p, G_FILE_TEST_EXISTS));
	g_free(p);
	/* the messages as they were, each with a modseq */
	mb = open_inbox(&fx->st);
	g_assert_cmpuint(ss_mbox_count(mb), ==, 2);
	g_assert_cmpuint(ss_mbox_msg(mb, 0)->uid, ==, a);
	g_assert_cmpuint(ss_mbox_msg(mb, 0)->flags, ==, RMAIL_F_SEEN);
	g_assert_cmpuint(ss_mbox_msg(mb, 1)->flags, ==, RMAIL_F_FLAGGED);
	g_assert_cmpuint(ss_mbox_msg(mb, 1)->keywords, ==, 1);
	g_assert_cmpuint(check_view(mb), ==, 1);
	g_assert_cmpint(ss_msg_flags(mb, a, RMAIL_FLAGS_ADD, RMAIL_F_ANSWERED,
				     NULL, 0, &r, &err),
			==, 0);
	g_assert_cmpuint(r.modseq, >, 1);
	ss_mbox_close(&mb);
	/* check-store reads the new grammar: only the claim is left, under
	 * its format-2 name */
	g_assert_cmpint(ss_check(&fx->st, 0, collect, found, &err), ==, 1);
	g_test_message("%s", found->str);
	g_assert_nonnull(strstr(found->str, "~7,9,1000,1,FS.eml: leftover move "
					    "claim"));
	g_string_truncate(found, 0);
	g_assert_cmpint(ss_check(&fx->st, 1, collect, found, &err), ==, 0);
	g_string_truncate(found, 0);
	g_assert_cmpint(ss_check(&fx->st, 0, collect, found, &err), ==, 0);
	g_assert_cmpstr(found->str, ==, "");
	/* a rerun changes nothing */
	g_assert_cmpint(ss_migrate_1_2(&fx->st, &err), ==, 0);
	mb = open_inbox(&fx->st);
	g_assert_cmpuint(ss_mbox_count(mb), ==, 3);
	ss_mbox_close(&mb);
	g_string_free(found, TRUE);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn)                                                          \
	g_test_add("/shardstore/modseq/" path, struct ss_fx, NULL,             \
		   ss_fx_setup, fn, ss_fx_teardown)
	ADD("counter-race", test_counter_race);
	g_test_add("/shardstore/modseq/counter-race-netfs", struct ss_fx, "net",
		   ss_fx_setup, test_counter_race, ss_fx_teardown);
	ADD("resume-lost", test_resume_lost);
	ADD("resume-stale", test_resume_stale);
	ADD("resume-killed", test_resume_killed);
	ADD("tombstones", test_tombstones);
	ADD("keyword-bump", test_keyword_bump);
	ADD("migrate-1-2", test_migrate_1_2);
	ADD("unchanged", test_unchanged);
	ADD("unchanged-other-process", test_unchanged_other_process);
	return g_test_run();
}
