/*
 * Frozen views (freeze.c, ABI 1.7 mbox_freeze, mbox_version and
 * mbox_first_unseen) on a real store: a frozen copy keeps the records of
 * the view it was taken from whatever happens to the view afterwards
 * (changes of another process read by a refresh, flag changes of this
 * one, the view closed), it reads no snapshot block before they are
 * used, the version moves exactly when the records may have, and the
 * first unseen message is found reading its block only.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ss_test.h"
#include "ss_viewsnap.h"

/* messages in three shards: UIDs 1..N1, 16384.., 3 * 16384.. */
#define N1 60
#define N2 20
#define N3 10
#define NALL (N1 + N2 + N3)

static void append_at(struct ss_store *st, uint32_t uid, uint32_t flags)
{
	struct rmail_append_opts o = {
		.size = sizeof(o), .flags = flags, .nosync = 1, .uid = uid};
	struct rmail_append *ap = NULL;
	struct rmail_err err = {0};
	char body[64];
	int len = snprintf(body, sizeof(body), "Subject: %u\r\n\r\nx\r\n", uid);

	g_assert_cmpint(ss_append_begin(st, SS_USER, "INBOX", &o, &ap, &err),
			==, 0);
	g_assert_cmpint(ss_append_write(ap, body, (size_t)len, &err), ==, 0);
	g_assert_cmpint(ss_append_commit(ap, NULL, NULL, &err), ==, 0);
	ss_append_free(&ap);
}

/* the first N1 messages are \Seen, from `unseen_from` on they are not */
static void fill(struct ss_store *st, uint32_t unseen_from)
{
	uint32_t i;

	for (i = 1; i <= N1; i++)
		append_at(st, i, i < unseen_from ? RMAIL_F_SEEN : 0);
	for (i = 0; i < N2; i++)
		append_at(st, 16384 + 5 + i, RMAIL_F_FLAGGED);
	for (i = 0; i < N3; i++)
		append_at(st, 3 * 16384 + i, 0);
	/* past the racy window: the shards' mtimes vouch for them */
	g_usleep(3 * SS_RACY_NS / 1000);
}

/* the mailbox filled, its snapshot written, and a view opened from it in
 * a new store instance (a restart): no block read yet */
static struct rmail_mbox *cold_view(struct ss_fx *fx, struct ss_store *st,
				    uint32_t unseen_from)
{
	struct rmail_mbox *mb;
	struct rmail_err err = {0};
	size_t i;

	fill(&fx->st, unseen_from);
	g_assert_cmpint(ss_mbox_open(&fx->st, SS_USER, "INBOX", &mb, &err), ==,
			0);
	g_assert_cmpint(ss_snap_write(mb), ==, 0);
	ss_mbox_close(&mb);
	ss_fx_open(fx->dir, st);
	g_assert_cmpint(ss_mbox_open(st, SS_USER, "INBOX", &mb, &err), ==, 0);
	g_assert_true(mb->snap_loaded);
	g_assert_cmpuint(mb->nshards, ==, 3);
	/* the open reads the last block only (UIDNEXT) */
	for (i = 0; i + 1 < mb->nshards; i++)
		g_assert_true(mb->shards[i].unchecked);
	return mb;
}

static struct rmail_msg *copy_all(struct rmail_mbox *mb, uint32_t *n_r)
{
	uint32_t i, n = ss_mbox_count(mb);
	struct rmail_msg *v = g_new(struct rmail_msg, n + 1);

	for (i = 0; i < n; i++)
		v[i] = *ss_mbox_msg(mb, i);
	*n_r = n;
	return v;
}

static void assert_same(struct rmail_mbox *f, const struct rmail_msg *v,
			uint32_t n)
{
	uint32_t i;

	g_assert_cmpuint(ss_mbox_count(f), ==, n);
	for (i = 0; i < n; i++) {
		const struct rmail_msg *m = ss_mbox_msg(f, i);

		g_assert_nonnull(m);
		g_assert_cmpmem(m, sizeof(*m), &v[i], sizeof(v[i]));
		g_assert_cmpint(ss_mbox_find(f, v[i].uid), ==, i);
	}
	g_assert_null(ss_mbox_msg(f, n));
}

/*
 * Frozen from a cold view: nothing is read until used.  Another process
 * then expunges, changes flags and appends; the view, refreshed, has
 * all of it and a new version; the frozen copy has none of it, also
 * once the view is closed (it holds the mapping).
 */
static void test_cold(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_err err = {0};
	struct rmail_mbox *mb, *f, *other;
	struct rmail_msg *before;
	struct ss_store st;
	uint32_t n, uid = 7;
	uint64_t v0;
	size_t i;

	(void)d;
	mb = cold_view(fx, &st, 1);
	v0 = ss_mbox_version(mb);
	g_assert_cmpint(ss_mbox_freeze(mb, &f, &err), ==, 0);
	g_assert_cmpuint(ss_mbox_version(f), ==, v0);
	g_assert_cmpuint(ss_mbox_count(f), ==, NALL);
	for (i = 0; i + 1 < f->nshards; i++) {
		g_assert_true(f->shards[i].unchecked);
		g_assert_true(mb->shards[i].unchecked);
	}
	/* an unchanged refresh keeps the version */
	g_assert_cmpint(ss_mbox_refresh(mb, &err), ==, 0);
	g_assert_cmpuint(ss_mbox_version(mb), ==, v0);
	/* a frozen copy does not refresh, and is not frozen again */
	g_assert_cmpint(ss_mbox_refresh(f, &err), ==, 0);
	g_assert_cmpint(ss_mbox_freeze(f, &other, &err), <, 0);

	/* the state before, read through a third instance */
	{
		struct ss_store st3;
		struct rmail_mbox *m3;

		ss_fx_open(fx->dir, &st3);
		g_assert_cmpint(ss_mbox_open(&st3, SS_USER, "INBOX", &m3, &err),
				==, 0);
		before = copy_all(m3, &n);
		ss_mbox_close(&m3);
		ss_store_close(&st3);
	}
	g_assert_cmpuint(n, ==, NALL);

	/* another process changes every shard */
	g_assert_cmpint(ss_mbox_open(&fx->st, SS_USER, "INBOX", &other, &err),
			==, 0);
	g_assert_cmpint(ss_msg_expunge(other, &uid, 1, &err), ==, 0);
	g_assert_cmpint(ss_msg_flags(other, 16384 + 6, RMAIL_FLAGS_ADD,
				     RMAIL_F_DELETED, NULL, 0, NULL, &err),
			==, 0);
	ss_mbox_close(&other);
	append_at(&fx->st, 3 * 16384 + 100, 0);
	g_assert_cmpint(ss_mbox_refresh(mb, &err), ==, 0);
	g_assert_cmpuint(ss_mbox_version(mb), !=, v0);
	g_assert_cmpuint(ss_mbox_count(mb), ==, NALL);
	g_assert_cmpint(ss_mbox_find(mb, uid), <, 0);
	g_assert_cmpint(ss_mbox_find(mb, 3 * 16384 + 100), >=, 0);
	g_assert_cmpuint(
		ss_mbox_msg(mb, (uint32_t)ss_mbox_find(mb, 16384 + 6))->flags &
			RMAIL_F_DELETED,
		!=, 0);
	/* and a flag change of this process, in place in the view */
	g_assert_cmpint(ss_msg_flags(mb, 1, RMAIL_FLAGS_REMOVE, RMAIL_F_SEEN,
				     NULL, 0, NULL, &err),
			==, 0);

	assert_same(f, before, n);
	g_assert_cmpuint(ss_mbox_version(f), ==, v0);
	g_assert_cmpuint(f->snap_bad, ==, 0);
	/* the view gone (the mapping stays while f holds it) */
	ss_mbox_close(&mb);
	assert_same(f, before, n);
	ss_mbox_close(&f);
	ss_store_close(&st);
	g_free(before);
}

/* Frozen from a view whose records are in memory (a warm view): a flag
 * change of this process changes the view in place, not the copy */
static void test_warm(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_err err = {0};
	struct rmail_mbox *mb, *f;
	struct rmail_msg *before;
	uint64_t v0;
	uint32_t n, uid = 3 * 16384 + 1;

	(void)d;
	fill(&fx->st, 1);
	g_assert_cmpint(ss_mbox_open(&fx->st, SS_USER, "INBOX", &mb, &err), ==,
			0);
	before = copy_all(mb, &n);
	v0 = ss_mbox_version(mb);
	g_assert_cmpint(ss_mbox_freeze(mb, &f, &err), ==, 0);
	g_assert_cmpint(ss_msg_flags(mb, uid, RMAIL_FLAGS_ADD, RMAIL_F_SEEN,
				     NULL, 0, NULL, &err),
			==, 0);
	g_assert_cmpuint(ss_mbox_version(mb), !=, v0);
	g_assert_cmpuint(
		ss_mbox_msg(mb, (uint32_t)ss_mbox_find(mb, uid))->flags &
			RMAIL_F_SEEN,
		!=, 0);
	g_assert_cmpint(ss_msg_expunge(mb, &uid, 1, &err), ==, 0);
	g_assert_cmpint(ss_mbox_refresh(mb, &err), ==, 0);
	g_assert_cmpint(ss_mbox_find(mb, uid), <, 0);
	assert_same(f, before, n);
	ss_mbox_close(&f);
	ss_mbox_close(&mb);
	g_free(before);
}

/* The first unseen message: only its block is read, on a view and on a
 * frozen copy, and it follows flag changes */
static void test_first_unseen(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_err err = {0};
	struct rmail_mbox *mb, *f;
	struct ss_store st;
	uint32_t i;

	(void)d;
	/* UIDs 1..39 \Seen: the first unseen is UID 40, index 39 */
	mb = cold_view(fx, &st, 40);
	g_assert_cmpint(ss_mbox_freeze(mb, &f, &err), ==, 0);
	g_assert_cmpuint(ss_mbox_first_unseen(f), ==, 40);
	g_assert_false(f->shards[0].unchecked);
	g_assert_true(f->shards[1].unchecked);
	g_assert_cmpuint(ss_mbox_first_unseen(mb), ==, 40);
	g_assert_true(mb->shards[1].unchecked);
	/* the first shard all \Seen: the second's first (\Flagged only) */
	for (i = 40; i <= N1; i++)
		g_assert_cmpint(ss_msg_flags(mb, i, RMAIL_FLAGS_ADD,
					     RMAIL_F_SEEN, NULL, 0, NULL, &err),
				==, 0);
	g_assert_cmpuint(ss_mbox_first_unseen(mb), ==, N1 + 1);
	/* the copy keeps its answer */
	g_assert_cmpuint(ss_mbox_first_unseen(f), ==, 40);
	for (i = 16384 + 5; i < 16384 + 5 + N2; i++)
		g_assert_cmpint(ss_msg_flags(mb, i, RMAIL_FLAGS_ADD,
					     RMAIL_F_SEEN, NULL, 0, NULL, &err),
				==, 0);
	g_assert_cmpuint(ss_mbox_first_unseen(mb), ==, N1 + N2 + 1);
	for (i = 3 * 16384; i < 3 * 16384 + N3; i++)
		g_assert_cmpint(ss_msg_flags(mb, i, RMAIL_FLAGS_ADD,
					     RMAIL_F_SEEN, NULL, 0, NULL, &err),
				==, 0);
	g_assert_cmpuint(ss_mbox_first_unseen(mb), ==, 0);
	ss_mbox_close(&f);
	ss_mbox_close(&mb);
	ss_store_close(&st);
}

/* A block of the snapshot damaged: the frozen copy finds it on first
 * use and reads the shard (no crash, no record past its count) */
static void test_damaged(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_err err = {0};
	struct rmail_mbox *mb, *f;
	struct ss_snap_head h;
	struct ss_snap_shard *e;
	struct ss_store st;
	gchar *buf, *p;
	gsize len;
	unsigned char c;
	char rel[SS_PATH_MAX];
	uint32_t i, n;
	int fd;

	(void)d;
	mb = cold_view(fx, &st, 1);
	ss_mbox_close(&mb);
	ss_store_close(&st);
	g_assert_cmpint(ss_mbox_path(SS_USER, "INBOX", rel, sizeof(rel), &err),
			==, 0);
	p = g_strdup_printf("%s/%s/%s", fx->dir, rel, SS_SNAP_NAME);
	g_assert_true(g_file_get_contents(p, &buf, &len, NULL));
	g_assert_cmpint(ss_snap_parse_head(buf, len, len, &h, &e), ==, 0);
	fd = open(p, O_RDWR);
	g_assert_cmpint(fd, >=, 0);
	c = (unsigned char)buf[e[1].off + 41] ^ 0x01;
	g_assert_cmpint(pwrite(fd, &c, 1, (off_t)e[1].off + 41), ==, 1);
	close(fd);
	g_free(e);
	g_free(buf);
	g_free(p);
	ss_fx_open(fx->dir, &st);
	g_assert_cmpint(ss_mbox_open(&st, SS_USER, "INBOX", &mb, &err), ==, 0);
	g_assert_cmpint(ss_mbox_freeze(mb, &f, &err), ==, 0);
	n = ss_mbox_count(f);
	for (i = 0; i < n + 1 && ss_mbox_msg(f, i) != NULL; i++)
		g_assert_cmpuint(ss_mbox_msg(f, i)->uid, !=, 0);
	g_assert_cmpuint(i, ==, NALL);
	g_assert_cmpuint(f->snap_bad, ==, 1);
	g_assert_cmpuint(mb->snap_bad, ==, 0);
	g_assert_cmpuint(ss_mbox_msg(f, N1 + 1)->uid, ==, 16384 + 6);
	ss_mbox_close(&f);
	ss_mbox_close(&mb);
	ss_store_close(&st);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	fake_core_init();
	/* no background or shutdown writes unless a test asks */
	ss_snap_min_msgs = UINT32_MAX;
#define T(path, fn)                                                            \
	g_test_add("/shardstore/freeze/" path, struct ss_fx, NULL,             \
		   ss_fx_setup, fn, ss_fx_teardown)
	T("cold", test_cold);
	T("warm", test_warm);
	T("first-unseen", test_first_unseen);
	T("damaged", test_damaged);
	return g_test_run();
}
