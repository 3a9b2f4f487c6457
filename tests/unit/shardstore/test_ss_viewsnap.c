/*
 * The view snapshot (viewsnap.c): a view opened from it equals a scan of
 * the shard directories, it spares the scan of every shard it vouches
 * for, and a damaged, truncated, foreign or stale file, a rename no log
 * record describes (a writer killed in between) and changes made after
 * it while the log was lost all end in the shards' truth.  check-store
 * finds the wrong files and --repair deletes them.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ss_test.h"
#include "ss_viewsnap.h"

/* messages in three shards: UIDs 1..N1, 16384.., 3 * 16384.. */
#define N1 60
#define N2 20
#define N3 10

static void append_at(struct ss_store *st, const char *mbox, uint32_t uid,
		      uint32_t flags)
{
	struct rmail_append_opts o = {
		.size = sizeof(o), .flags = flags, .nosync = 1, .uid = uid};
	struct rmail_append *ap = NULL;
	struct rmail_err err = {0};
	char body[64];
	int len = snprintf(body, sizeof(body), "Subject: %u\r\n\r\nx\r\n", uid);

	g_assert_cmpint(ss_append_begin(st, SS_USER, mbox, &o, &ap, &err), ==,
			0);
	g_assert_cmpint(ss_append_write(ap, body, (size_t)len, &err), ==, 0);
	g_assert_cmpint(ss_append_commit(ap, NULL, NULL, &err), ==, 0);
	ss_append_free(&ap);
}

static void fill(struct ss_store *st, const char *mbox)
{
	uint32_t i;

	for (i = 1; i <= N1; i++)
		append_at(st, mbox, i, i % 3 ? RMAIL_F_SEEN : 0);
	for (i = 0; i < N2; i++)
		append_at(st, mbox, 16384 + 5 + i, RMAIL_F_FLAGGED);
	for (i = 0; i < N3; i++)
		append_at(st, mbox, 3 * 16384 + i, 0);
	/* past the racy window: the shards' mtimes vouch for them */
	g_usleep(3 * SS_RACY_NS / 1000);
}

static char *mbox_dir(const char *root, const char *mbox)
{
	char rel[SS_PATH_MAX];
	struct rmail_err err = {0};

	g_assert_cmpint(ss_mbox_path(SS_USER, mbox, rel, sizeof(rel), &err), ==,
			0);
	return g_strdup_printf("%s/%s", root, rel);
}

static char *snap_path(const char *root, const char *mbox)
{
	char *d = mbox_dir(root, mbox), *p;

	p = g_strdup_printf("%s/%s", d, SS_SNAP_NAME);
	g_free(d);
	return p;
}

static int no_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* the view equals what the shard directories hold, read here directly */
static void assert_is_disk(const char *root, const char *mbox,
			   struct rmail_mbox *mb)
{
	char *dir = mbox_dir(root, mbox);
	DIR *d = opendir(dir);
	struct dirent *de;
	uint32_t nos[64], nn = 0, i, j, idx = 0, unseen = 0;
	uint64_t bytes = 0;
	int dfd;

	g_assert_nonnull(d);
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		int64_t no = ss_shard_parse(de->d_name);

		if (no >= 0 && nn < G_N_ELEMENTS(nos))
			nos[nn++] = (uint32_t)no;
	}
	qsort(nos, nn, sizeof(*nos), no_cmp);
	for (i = 0; i < nn; i++) {
		char rel[16];
		struct rmail_msg *msgs;
		uint32_t n;
		int fd;

		snprintf(rel, sizeof(rel), "s%u", nos[i]);
		fd = openat(dfd, rel, O_RDONLY | O_DIRECTORY);
		g_assert_cmpint(fd, >=, 0);
		g_assert_cmpint(ss_shard_scan(fd, nos[i], &msgs, &n), >=, 0);
		close(fd);
		for (j = 0; j < n; j++, idx++) {
			const struct rmail_msg *m = ss_mbox_msg(mb, idx);

			g_assert_nonnull(m);
			g_assert_cmpuint(m->uid, ==, msgs[j].uid);
			g_assert_cmpuint(m->flags, ==, msgs[j].flags);
			g_assert_cmpuint(m->keywords, ==, msgs[j].keywords);
			g_assert_cmpuint(m->size, ==, msgs[j].size);
			g_assert_cmpint(m->internaldate, ==,
					msgs[j].internaldate);
			g_assert_cmpuint(m->modseq, ==, msgs[j].modseq);
			unseen += !(msgs[j].flags & RMAIL_F_SEEN);
			bytes += msgs[j].size;
		}
		free(msgs);
	}
	closedir(d);
	g_assert_cmpuint(ss_mbox_count(mb), ==, idx);
	g_assert_cmpuint(mb->unseen, ==, unseen);
	g_assert_cmpuint(mb->size, ==, bytes);
	g_free(dir);
}

/* a new store instance (another process, or after a restart) */
static struct rmail_mbox *reopen(const char *root, struct ss_store *st)
{
	struct rmail_mbox *mb;
	struct rmail_err err = {0};

	ss_fx_open(root, st);
	g_assert_cmpint(ss_mbox_open(st, SS_USER, "INBOX", &mb, &err), ==, 0);
	return mb;
}

static void reclose(struct ss_store *st, struct rmail_mbox **mb)
{
	ss_mbox_close(mb);
	ss_store_close(st);
}

/* the mailbox filled, viewed and its snapshot written */
static void snapshot(struct ss_fx *fx)
{
	struct rmail_mbox *mb;
	struct rmail_err err = {0};
	struct rmail_mbox_status s = {.size = sizeof(s)};

	g_assert_cmpint(ss_mbox_status(&fx->st, SS_USER, "INBOX", &s, &err), ==,
			0);
	if (s.messages == 0)
		fill(&fx->st, "INBOX");
	g_assert_cmpint(ss_mbox_open(&fx->st, SS_USER, "INBOX", &mb, &err), ==,
			0);
	g_assert_cmpint(ss_snap_write(mb), ==, 0);
	ss_mbox_close(&mb);
}

/* the snapshot's last shard removed since: the view takes the other two
 * from the file and counts only those */
static void test_last_gone(struct ss_fx *fx, gconstpointer d)
{
	char *dir, *sd;
	struct ss_store st;
	struct rmail_mbox *mb;
	struct dirent *de;
	DIR *dp;

	(void)d;
	snapshot(fx);
	dir = mbox_dir(fx->dir, "INBOX");
	sd = g_strdup_printf("%s/s3", dir);
	dp = opendir(sd);
	g_assert_nonnull(dp);
	while ((de = readdir(dp)) != NULL)
		if (de->d_name[0] != '.')
			g_assert_cmpint(unlinkat(dirfd(dp), de->d_name, 0), ==,
					0);
	closedir(dp);
	g_assert_cmpint(rmdir(sd), ==, 0);
	mb = reopen(fx->dir, &st);
	g_assert_cmpuint(mb->snap_used, ==, 2);
	g_assert_cmpuint(mb->shard_scans, ==, 0);
	assert_is_disk(fx->dir, "INBOX", mb);
	reclose(&st, &mb);
	g_free(sd);
	g_free(dir);
}

/* a link in place of the file is not followed, as check-store does not */
static void test_symlink(struct ss_fx *fx, gconstpointer d)
{
	char *p = snap_path(fx->dir, "INBOX");
	char *q = g_strdup_printf("%s/elsewhere", fx->dir);
	struct ss_store st;
	struct rmail_mbox *mb;

	(void)d;
	snapshot(fx);
	g_assert_cmpint(rename(p, q), ==, 0);
	g_assert_cmpint(symlink(q, p), ==, 0);
	mb = reopen(fx->dir, &st);
	g_assert_cmpuint(mb->snap_used, ==, 0);
	assert_is_disk(fx->dir, "INBOX", mb);
	reclose(&st, &mb);
	g_free(q);
	g_free(p);
}

static void test_roundtrip(struct ss_fx *fx, gconstpointer d)
{
	char *p;
	struct ss_store st;
	struct rmail_mbox *mb;
	struct rmail_mbox_status a, b;

	(void)d;
	snapshot(fx);
	mb = reopen(fx->dir, &st);
	/* every shard from the file, none read */
	g_assert_cmpuint(mb->snap_used, ==, 3);
	g_assert_cmpuint(mb->shard_scans, ==, 0);
	g_assert_false(mb->snap_rejected);
	assert_is_disk(fx->dir, "INBOX", mb);
	ss_mbox_info(mb, &a);
	reclose(&st, &mb);
	/* the same answers as without it */
	p = snap_path(fx->dir, "INBOX");
	g_assert_cmpint(unlink(p), ==, 0);
	g_free(p);
	mb = reopen(fx->dir, &st);
	g_assert_cmpuint(mb->snap_used, ==, 0);
	g_assert_cmpuint(mb->shard_scans, ==, 3);
	ss_mbox_info(mb, &b);
	g_assert_cmpuint(a.messages, ==, b.messages);
	g_assert_cmpuint(a.unseen, ==, b.unseen);
	g_assert_cmpuint(a.uidnext, ==, b.uidnext);
	g_assert_cmpuint(a.uidvalidity, ==, b.uidvalidity);
	g_assert_cmpuint(a.highestmodseq, ==, b.highestmodseq);
	g_assert_cmpuint(a.bytes, ==, b.bytes);
	reclose(&st, &mb);
}

/* damage at `off` (or truncation to `len` when off < 0) is a rescan */
static void damaged(struct ss_fx *fx, int64_t off, int64_t len)
{
	char *p = snap_path(fx->dir, "INBOX");
	struct ss_store st;
	struct rmail_mbox *mb;
	int fd = open(p, O_RDWR);

	g_assert_cmpint(fd, >=, 0);
	if (off >= 0) {
		unsigned char c;

		g_assert_cmpint(pread(fd, &c, 1, off), ==, 1);
		c ^= 0x40;
		g_assert_cmpint(pwrite(fd, &c, 1, off), ==, 1);
	} else {
		g_assert_cmpint(ftruncate(fd, len), ==, 0);
	}
	close(fd);
	mb = reopen(fx->dir, &st);
	if (off >= (int64_t)(SS_SNAP_HDR + 3 * SS_SNAP_ENT)) {
		/* a record: found when its block is first used, and only
		 * that shard is read again */
		g_assert_false(mb->snap_rejected);
		assert_is_disk(fx->dir, "INBOX", mb);
		g_assert_cmpuint(mb->snap_bad, ==, 1);
		g_assert_cmpuint(mb->snap_used, ==, 2);
		g_assert_cmpuint(mb->shard_scans, ==, 1);
	} else {
		g_assert_true(mb->snap_rejected);
		g_assert_cmpuint(mb->snap_used, ==, 0);
		g_assert_cmpuint(mb->shard_scans, ==, 3);
		assert_is_disk(fx->dir, "INBOX", mb);
	}
	reclose(&st, &mb);
	g_free(p);
}

static off_t snap_size(struct ss_fx *fx)
{
	char *p = snap_path(fx->dir, "INBOX");
	struct stat sb;

	g_assert_cmpint(stat(p, &sb), ==, 0);
	g_free(p);
	return sb.st_size;
}

static void test_corrupt(struct ss_fx *fx, gconstpointer d)
{
	/* header, shard table, a record of the first and the last block */
	static const int64_t offs[] = {0, 20, 125, SS_SNAP_HDR + 4,
				       SS_SNAP_HDR + 3 * SS_SNAP_ENT + 8};
	size_t i;

	(void)d;
	snapshot(fx);
	for (i = 0; i < G_N_ELEMENTS(offs); i++) {
		damaged(fx, offs[i], 0);
		snapshot(fx);
	}
	damaged(fx, snap_size(fx) - 3, 0);
}

static void test_truncated(struct ss_fx *fx, gconstpointer d)
{
	int64_t lens[5];
	size_t i;

	(void)d;
	snapshot(fx);
	lens[0] = 0;
	lens[1] = SS_SNAP_HDR - 1;
	lens[2] = SS_SNAP_HDR + SS_SNAP_ENT;
	lens[3] = snap_size(fx) - 40;
	lens[4] = snap_size(fx) + 40; /* grown is as wrong */
	for (i = 0; i < G_N_ELEMENTS(lens); i++) {
		damaged(fx, -1, lens[i]);
		snapshot(fx);
	}
}

/* another mailbox's file (another UIDVALIDITY) is not this one's */
static void test_foreign(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_err err = {0};
	struct rmail_mbox *mb;
	struct ss_store st;
	char *cmd, *from, *to;

	(void)d;
	g_assert_cmpint(ss_mbox_create(&fx->st, SS_USER, "Other", 0, &err), ==,
			0);
	fill(&fx->st, "Other");
	g_assert_cmpint(ss_mbox_open(&fx->st, SS_USER, "Other", &mb, &err), ==,
			0);
	g_assert_cmpint(ss_snap_write(mb), ==, 0);
	ss_mbox_close(&mb);
	g_usleep(1100 * 1000); /* UIDVALIDITY is the creation second */
	for (uint32_t i = 1; i <= 5; i++)
		append_at(&fx->st, "INBOX", i, 0);
	from = snap_path(fx->dir, "Other");
	to = snap_path(fx->dir, "INBOX");
	cmd = g_strdup_printf("cp '%s' '%s'", from, to);
	g_assert_cmpint(system(cmd), ==, 0);
	g_free(cmd);
	g_free(from);
	g_free(to);
	mb = reopen(fx->dir, &st);
	g_assert_true(mb->snap_rejected);
	g_assert_cmpuint(ss_mbox_count(mb), ==, 5);
	assert_is_disk(fx->dir, "INBOX", mb);
	reclose(&st, &mb);
}

/* after the snapshot, shard 0 gets a flag change, shard 1 an expunge and
 * shard 4 an append: those three are read again, the untouched shard 3
 * comes from the file */
static void test_stale(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_err err = {0};
	struct rmail_mbox *mb;
	struct ss_store st;
	uint32_t uid;

	(void)d;
	snapshot(fx);
	/* a fourth shard, snapshot again */
	append_at(&fx->st, "INBOX", 4 * 16384 + 1, 0);
	g_usleep(3 * SS_RACY_NS / 1000);
	mb = reopen(fx->dir, &st);
	g_assert_cmpuint(mb->snap_used, ==, 3);
	g_assert_cmpuint(mb->shard_scans, ==, 1);
	g_assert_cmpint(ss_snap_write(mb), ==, 0);
	reclose(&st, &mb);
	mb = reopen(fx->dir, &st);
	g_assert_cmpint(ss_msg_flags(mb, 7, RMAIL_FLAGS_ADD, RMAIL_F_DELETED,
				     NULL, 0, NULL, &err),
			==, 0);
	uid = 16384 + 6;
	g_assert_cmpint(ss_msg_expunge(mb, &uid, 1, &err), ==, 0);
	reclose(&st, &mb);
	append_at(&fx->st, "INBOX", 4 * 16384 + 100, RMAIL_F_SEEN);
	mb = reopen(fx->dir, &st);
	g_assert_cmpuint(mb->snap_used, ==, 1);
	g_assert_cmpuint(mb->shard_scans, ==, 3);
	assert_is_disk(fx->dir, "INBOX", mb);
	g_assert_cmpint(ss_mbox_find(mb, 16384 + 6), <, 0);
	reclose(&st, &mb);
}

/*
 * kill -9 between a flag rename and its log record: a child changes
 * UID 3 normally (renamed and logged) and renames UID 4 to a new state
 * with a fresh modseq, then dies before logging it.  The shard is
 * touched by the log, which a live view may trust; a view from the
 * snapshot must see the rename all the same.
 */
static void test_killed_writer(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_mbox *mb;
	struct ss_store st;
	int status;
	pid_t pid;

	(void)d;
	snapshot(fx);
	pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		struct rmail_err err = {0};
		struct rmail_mbox *cm;
		struct ss_fname f;
		char from[SS_FNAME_MAX + 16], to[SS_FNAME_MAX + 16];
		int n;

		if (ss_store_open(&st, fake_core_init(), fx->dir, &err) < 0 ||
		    ss_mbox_open(&st, SS_USER, "INBOX", &cm, &err) < 0 ||
		    ss_msg_flags(cm, 3, RMAIL_FLAGS_ADD, RMAIL_F_ANSWERED, NULL,
				 0, NULL, &err) < 0 ||
		    ss_msg_locate(cm, 4, &f) < 0)
			_exit(2);
		n = snprintf(from, sizeof(from), "s0/");
		ss_fname_format(&f, from + n);
		f.flags ^= RMAIL_F_SEEN | RMAIL_F_FLAGGED;
		f.modseq = ss_modseq_begin(cm);
		n = snprintf(to, sizeof(to), "s0/");
		ss_fname_format(&f, to + n);
		if (renameat(cm->dirfd, from, cm->dirfd, to) < 0)
			_exit(3);
		raise(SIGKILL);
		_exit(4);
	}
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFSIGNALED(status));
	mb = reopen(fx->dir, &st);
	g_assert_cmpuint(mb->snap_used, ==, 2);
	assert_is_disk(fx->dir, "INBOX", mb);
	g_assert_true(ss_mbox_msg(mb, 2)->flags & RMAIL_F_ANSWERED);
	g_assert_true(ss_mbox_msg(mb, 3)->flags & RMAIL_F_FLAGGED);
	reclose(&st, &mb);
}

/* an unclean stop: changes after the snapshot, then the log is lost */
static void test_unclean_stop(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_err err = {0};
	struct rmail_mbox *mb;
	struct ss_store st;
	char *dir, *log;
	uint32_t uids[2] = {10, 16384 + 7};

	(void)d;
	snapshot(fx);
	mb = reopen(fx->dir, &st);
	g_assert_cmpint(
		ss_msg_flags(mb, 11, RMAIL_FLAGS_SET, 0, NULL, 0, NULL, &err),
		==, 0);
	g_assert_cmpint(ss_msg_expunge(mb, uids, 2, &err), ==, 0);
	/* no clean close: the view is dropped without a shutdown write */
	mb->snap_pending = 0;
	reclose(&st, &mb);
	append_at(&fx->st, "INBOX", 3 * 16384 + 200, 0);
	dir = mbox_dir(fx->dir, "INBOX");
	log = g_strdup_printf("%s/changes", dir);
	unlink(log);
	mb = reopen(fx->dir, &st);
	assert_is_disk(fx->dir, "INBOX", mb);
	g_assert_cmpint(ss_mbox_find(mb, 10), <, 0);
	g_assert_cmpuint(ss_mbox_msg(mb, 9)->flags, ==, 0);
	reclose(&st, &mb);
	g_free(log);
	g_free(dir);
}

/* flip a byte of shard `k`'s block (of three) */
static void damage_block(struct ss_fx *fx, uint32_t k)
{
	char *p = snap_path(fx->dir, "INBOX");
	gchar *buf;
	gsize len;
	struct ss_snap_head h;
	struct ss_snap_shard *e;
	unsigned char c;
	int fd;

	g_assert_true(g_file_get_contents(p, &buf, &len, NULL));
	g_assert_cmpint(ss_snap_parse_head(buf, len, len, &h, &e), ==, 0);
	g_assert_cmpuint(h.nshards, ==, 3);
	fd = open(p, O_RDWR);
	g_assert_cmpint(fd, >=, 0);
	c = (unsigned char)buf[e[k].off + 41] ^ 0x01;
	g_assert_cmpint(pwrite(fd, &c, 1, (off_t)e[k].off + 41), ==, 1);
	close(fd);
	g_free(e);
	g_free(buf);
	g_free(p);
}

/*
 * A first open reads no record: the counts are the table's.  A damaged
 * block is found when it is first used (after the SELECT answered), and
 * that shard alone is read from its directory: the answer is the
 * directory's, through every way into the view.
 */
static void test_lazy_block(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_mbox_status a, b;
	struct rmail_err err = {0};
	struct rmail_mbox *mb;
	struct ss_store st;
	int64_t idx;

	(void)d;
	snapshot(fx);
	mb = reopen(fx->dir, &st);
	ss_mbox_info(mb, &a);
	reclose(&st, &mb);
	damage_block(fx, 1);
	mb = reopen(fx->dir, &st);
	ss_mbox_info(mb, &b);
	g_assert_cmpuint(a.messages, ==, b.messages);
	g_assert_cmpuint(a.unseen, ==, b.unseen);
	g_assert_cmpuint(a.highestmodseq, ==, b.highestmodseq);
	g_assert_cmpuint(mb->shard_scans, ==, 0);
	g_assert_cmpuint(mb->snap_bad, ==, 0);
	/* the first block is fine */
	g_assert_cmpuint(ss_mbox_msg(mb, 0)->uid, ==, 1);
	g_assert_cmpuint(mb->snap_bad, ==, 0);
	/* by UID into the damaged one */
	idx = ss_mbox_find(mb, 16384 + 9);
	g_assert_cmpint(idx, ==, N1 + 4);
	g_assert_cmpuint(ss_mbox_msg(mb, (uint32_t)idx)->flags, ==,
			 RMAIL_F_FLAGGED);
	g_assert_cmpuint(mb->snap_bad, ==, 1);
	g_assert_cmpuint(mb->shard_scans, ==, 1);
	assert_is_disk(fx->dir, "INBOX", mb);
	reclose(&st, &mb);
	/* the first use is a flag change: it lands on the scanned state */
	snapshot(fx);
	damage_block(fx, 2);
	mb = reopen(fx->dir, &st);
	g_assert_cmpint(ss_msg_flags(mb, 3 * 16384 + 2, RMAIL_FLAGS_ADD,
				     RMAIL_F_SEEN, NULL, 0, NULL, &err),
			==, 0);
	g_assert_cmpuint(mb->snap_bad, ==, 1);
	g_assert_cmpint(ss_mbox_refresh(mb, &err), ==, 0);
	assert_is_disk(fx->dir, "INBOX", mb);
	reclose(&st, &mb);
}

/*
 * A block that is damaged and whose shard also holds a message the table
 * does not count (its directory mtime put back: the stat cannot tell):
 * the scan on first use changes the view's numbering, which stays
 * consistent (no crash, no record past the end), and equals the disk.
 */
static void test_lazy_count(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_mbox *mb;
	struct ss_store st;
	struct stat sb;
	struct timespec ts[2];
	char *dir, *s1;
	uint32_t i, n;

	(void)d;
	snapshot(fx);
	dir = mbox_dir(fx->dir, "INBOX");
	s1 = g_strdup_printf("%s/s1", dir);
	g_assert_cmpint(stat(s1, &sb), ==, 0);
	{
		/* UID 16385 in s1, the way a restored backup brings one */
		DIR *dd = opendir(s1);
		struct dirent *de;
		struct ss_fname f = {0};
		char from[SS_PATH_MAX + SS_FNAME_MAX], to[SS_FNAME_MAX];
		char *tp;

		g_assert_nonnull(dd);
		while ((de = readdir(dd)) != NULL &&
		       ss_fname_parse(de->d_name, strlen(de->d_name), &f) < 0)
			;
		g_assert_nonnull(de);
		snprintf(from, sizeof(from), "%s/%s", s1, de->d_name);
		f.uid = 16384 + 1;
		ss_fname_format(&f, to);
		tp = g_strdup_printf("%s/%s", s1, to);
		g_assert_cmpint(link(from, tp), ==, 0);
		g_free(tp);
		closedir(dd);
	}
	ts[0] = sb.st_atim;
	ts[1] = sb.st_mtim;
	g_assert_cmpint(utimensat(AT_FDCWD, s1, ts, 0), ==, 0);
	damage_block(fx, 1);
	mb = reopen(fx->dir, &st);
	n = ss_mbox_count(mb);
	g_assert_cmpuint(n, ==, N1 + N2 + N3);
	for (i = 0; i < n + 1 && ss_mbox_msg(mb, i) != NULL; i++)
		g_assert_cmpuint(ss_mbox_msg(mb, i)->uid, !=, 0);
	g_assert_cmpuint(mb->snap_bad, ==, 1);
	g_assert_cmpuint(ss_mbox_count(mb), ==, N1 + N2 + N3 + 1);
	g_assert_cmpuint(i, ==, N1 + N2 + N3 + 1);
	assert_is_disk(fx->dir, "INBOX", mb);
	reclose(&st, &mb);
	g_free(s1);
	g_free(dir);
}

/* HIGHESTMODSEQ of a first open from the log's tail equals the one a
 * full read gives, with changes after the snapshot and with none */
static void test_log_tail(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_mbox_status a, b;
	struct rmail_err err = {0};
	struct rmail_mbox *mb;
	struct ss_store st;
	char *p = snap_path(fx->dir, "INBOX"), *aside;
	int round;

	(void)d;
	aside = g_strdup_printf("%s.aside", p);
	snapshot(fx);
	for (round = 0; round < 3; round++) {
		if (round > 0) {
			mb = reopen(fx->dir, &st);
			g_assert_cmpint(ss_msg_flags(mb, (uint32_t)round,
						     RMAIL_FLAGS_ADD,
						     RMAIL_F_FLAGGED, NULL, 0,
						     NULL, &err),
					==, 0);
			mb->snap_pending = 0; /* no shutdown write */
			reclose(&st, &mb);
		}
		mb = reopen(fx->dir, &st);
		g_assert_true(mb->snap_loaded);
		ss_mbox_info(mb, &a);
		reclose(&st, &mb);
		g_assert_cmpint(rename(p, aside), ==, 0);
		mb = reopen(fx->dir, &st);
		g_assert_false(mb->snap_loaded);
		ss_mbox_info(mb, &b);
		mb->snap_pending = 0;
		reclose(&st, &mb);
		g_assert_cmpint(rename(aside, p), ==, 0);
		g_assert_cmpuint(a.highestmodseq, ==, b.highestmodseq);
		g_assert_cmpuint(a.messages, ==, b.messages);
	}
	g_free(aside);
	g_free(p);
}

/*
 * A reboot (another boot id in the modseq counter, whose mapped value
 * never reached the disk): the counter resumes above every name without
 * reading the shards the snapshot vouches for, and above a name it does
 * not vouch for (a flag change after it, whose log record is lost).
 */
static void test_reboot(struct ss_fx *fx, gconstpointer d)
{
	uint64_t stale[3] = {2, 3, 3}, changed;
	struct rmail_err err = {0};
	struct rmail_mbox *mb;
	struct ss_store st;
	char *dir, *p;
	int fd;

	(void)d;
	snapshot(fx);
	mb = reopen(fx->dir, &st);
	g_assert_cmpint(ss_msg_flags(mb, 5, RMAIL_FLAGS_ADD, RMAIL_F_FLAGGED,
				     NULL, 0, NULL, &err),
			==, 0);
	changed = ss_mbox_msg(mb, 4)->modseq;
	mb->snap_pending = 0;
	reclose(&st, &mb);
	ss_store_close(&fx->st);
	dir = mbox_dir(fx->dir, "INBOX");
	p = g_strdup_printf("%s/changes", dir);
	g_assert_cmpint(unlink(p), ==, 0);
	g_free(p);
	p = g_strdup_printf("%s/modseq", dir);
	fd = open(p, O_WRONLY);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(pwrite(fd, stale, sizeof(stale), 8), ==, sizeof(stale));
	g_assert_cmpint(pwrite(fd, "stale-boot", 11, 48), ==, 11);
	close(fd);
	g_free(p);
	mb = reopen(fx->dir, &st);
	g_assert_true(mb->snap_names);
	g_assert_cmpuint(ss_modseq_begin(mb), >, changed + SS_MODSEQ_GAP - 1);
	assert_is_disk(fx->dir, "INBOX", mb);
	reclose(&st, &mb);
	ss_fx_open(fx->dir, &fx->st);
	g_free(dir);
}

/* the file cut short in place while a view maps it: the blocks not yet
 * used are scanned instead (no SIGBUS) */
static void test_truncated_live(struct ss_fx *fx, gconstpointer d)
{
	char *p = snap_path(fx->dir, "INBOX");
	struct rmail_mbox *mb;
	struct ss_store st;

	(void)d;
	snapshot(fx);
	mb = reopen(fx->dir, &st);
	g_assert_cmpuint(mb->shard_scans, ==, 0);
	g_assert_cmpint(truncate(p, SS_SNAP_HDR), ==, 0);
	assert_is_disk(fx->dir, "INBOX", mb);
	/* the last block was read by the open itself */
	g_assert_cmpuint(mb->snap_bad, ==, 2);
	g_assert_cmpuint(mb->shard_scans, ==, 2);
	reclose(&st, &mb);
	g_free(p);
}

struct findings {
	int n, fixed;
	char last[512];
};

static void on_finding(void *arg, const char *where, const char *what,
		       int fixed)
{
	struct findings *f = arg;

	(void)where;
	f->n++;
	f->fixed += fixed != 0;
	snprintf(f->last, sizeof(f->last), "%s", what);
}

static struct findings check(struct ss_fx *fx, int repair)
{
	struct findings f = {0};
	struct rmail_err err = {0};

	ss_check(&fx->st, repair, on_finding, &f, &err);
	return f;
}

/* rewrite the file with flags changed but every checksum right: only
 * the shards can tell it lies */
static void make_liar(const char *path)
{
	gchar *buf;
	gsize len;
	struct ss_snap_head h;
	struct ss_snap_shard *e;
	struct rmail_msg *blk[8];
	uint32_t i;
	void *out;

	g_assert_true(g_file_get_contents(path, &buf, &len, NULL));
	g_assert_cmpint(ss_snap_parse_head(buf, len, len, &h, &e), ==, 0);
	g_assert_cmpuint(h.nshards, <=, G_N_ELEMENTS(blk));
	for (i = 0; i < h.nshards; i++) {
		blk[i] = g_memdup2(buf + e[i].off,
				   e[i].count * sizeof(struct rmail_msg));
		if (i == 0)
			blk[i][5].flags ^= RMAIL_F_SEEN;
	}
	out = g_malloc(len);
	ss_snap_encode(out, &h, e, (const struct rmail_msg *const *)blk);
	g_assert_true(g_file_set_contents(path, out, (gssize)len, NULL));
	for (i = 0; i < h.nshards; i++)
		g_free(blk[i]);
	g_free(out);
	g_free(e);
	g_free(buf);
}

static void test_check_store(struct ss_fx *fx, gconstpointer d)
{
	char *p = snap_path(fx->dir, "INBOX");
	struct findings f;
	struct ss_store st;
	struct rmail_mbox *mb;
	struct stat sb;
	int fd;

	(void)d;
	snapshot(fx);
	f = check(fx, 0);
	g_assert_cmpint(f.n, ==, 0);
	/* a lie readers would believe: check-store is the way to find it */
	make_liar(p);
	mb = reopen(fx->dir, &st);
	g_assert_cmpuint(mb->snap_used, ==, 3);
	reclose(&st, &mb);
	f = check(fx, 0);
	g_assert_cmpint(f.n, ==, 1);
	g_assert_nonnull(strstr(f.last, "disagrees with shard s0"));
	g_assert_cmpint(stat(p, &sb), ==, 0);
	f = check(fx, 1);
	g_assert_cmpint(f.fixed, ==, 1);
	g_assert_cmpint(stat(p, &sb), <, 0);
	/* a damaged block */
	snapshot(fx);
	fd = open(p, O_RDWR);
	g_assert_cmpint(pwrite(fd, "zz", 2, snap_size(fx) - 10), ==, 2);
	close(fd);
	f = check(fx, 1);
	g_assert_cmpint(f.n, ==, 1);
	g_assert_cmpint(f.fixed, ==, 1);
	g_assert_nonnull(strstr(f.last, "damaged"));
	g_assert_cmpint(stat(p, &sb), <, 0);
	g_free(p);
}

/* thresholds reached: written in the background, and at shutdown */
static void test_writers(struct ss_fx *fx, gconstpointer d)
{
	char *p = snap_path(fx->dir, "INBOX");
	struct rmail_err err = {0};
	struct rmail_mbox *mb;
	struct ss_store st;
	struct stat sb;

	(void)d;
	fill(&fx->st, "INBOX");
	ss_snap_min_msgs = 50;
	ss_snap_min_changes = 50;
	g_assert_cmpint(ss_mbox_open(&fx->st, SS_USER, "INBOX", &mb, &err), ==,
			0);
	ss_snap_drain(&fx->st);
	g_assert_cmpuint(mb->snap_writes, ==, 1);
	g_assert_cmpint(stat(p, &sb), ==, 0);
	g_assert_cmpint(ss_msg_flags(mb, 1, RMAIL_FLAGS_ADD, RMAIL_F_FLAGGED,
				     NULL, 0, NULL, &err),
			==, 0);
	ss_mbox_close(&mb);
	g_assert_cmpint(unlink(p), ==, 0);
	/* few changes: not yet; the clean shutdown writes them */
	g_assert_cmpint(ss_mbox_open(&fx->st, SS_USER, "INBOX", &mb, &err), ==,
			0);
	ss_snap_drain(&fx->st);
	g_assert_cmpint(stat(p, &sb), <, 0);
	ss_mbox_close(&mb);
	ss_store_close(&fx->st);
	g_assert_cmpint(stat(p, &sb), ==, 0);
	ss_fx_open(fx->dir, &fx->st);
	mb = reopen(fx->dir, &st);
	g_assert_cmpuint(mb->snap_used, >=, 1);
	assert_is_disk(fx->dir, "INBOX", mb);
	reclose(&st, &mb);
	ss_snap_min_msgs = UINT32_MAX;
	g_free(p);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	fake_core_init();
	/* no background or shutdown writes unless a test asks */
	ss_snap_min_msgs = UINT32_MAX;
#define T(path, fn)                                                            \
	g_test_add("/shardstore/viewsnap/" path, struct ss_fx, NULL,           \
		   ss_fx_setup, fn, ss_fx_teardown)
	T("roundtrip", test_roundtrip);
	T("last-gone", test_last_gone);
	T("symlink", test_symlink);
	T("corrupt", test_corrupt);
	T("truncated", test_truncated);
	T("foreign", test_foreign);
	T("stale", test_stale);
	T("killed-writer", test_killed_writer);
	T("unclean-stop", test_unclean_stop);
	T("check-store", test_check_store);
	T("writers", test_writers);
	T("lazy-block", test_lazy_block);
	T("lazy-count", test_lazy_count);
	T("log-tail", test_log_tail);
	T("reboot", test_reboot);
	T("truncated-live", test_truncated_live);
	return g_test_run();
}
