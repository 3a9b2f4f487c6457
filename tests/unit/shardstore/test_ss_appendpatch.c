/*
 * Appends patched into a cached view from the change log: another
 * process appends (with the version-2 detail record), and the reopened
 * view must equal a fresh scan without a rescan.  Old-style append
 * records (no detail), keyword appends and a detail that lies must fall
 * back to reading the shard.  The unseen counter must match a recount.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ss_test.h"

#define NMSG 300

/* in a child: `napp` appends of varied sizes and flags, one flag change
 * and one expunge */
static void other_process(const char *dir, unsigned seed, int napp)
{
	pid_t pid = fork();
	int status;

	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		struct ss_store st;
		struct rmail_mbox *mb;
		struct rmail_err err = {0};
		char body[600];
		uint32_t uid;
		int i;

		if (ss_store_open(&st, fake_core_init(), dir, &err) < 0)
			_exit(2);
		srand(seed);
		for (i = 0; i < napp; i++) {
			size_t len = 3 + (size_t)rand() % 500;

			memset(body, 'a' + i % 26, len);
			memcpy(body + len, "\r\n", 3);
			ss_t_append(&st, "INBOX", body,
				    rand() % 2 ? RMAIL_F_SEEN : 0);
		}
		if (ss_mbox_open(&st, SS_USER, "INBOX", &mb, &err) < 0)
			_exit(3);
		uid = ss_mbox_msg(mb, (uint32_t)rand() % ss_mbox_count(mb))
			      ->uid;
		if (ss_msg_flags(mb, uid, RMAIL_FLAGS_ADD, RMAIL_F_SEEN, NULL,
				 0, NULL, &err) < 0)
			_exit(4);
		uid = ss_mbox_msg(mb, (uint32_t)rand() % ss_mbox_count(mb))
			      ->uid;
		if (ss_msg_expunge(mb, &uid, 1, &err) < 0)
			_exit(5);
		ss_mbox_close(&mb);
		ss_store_close(&st);
		_exit(0);
	}
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
}

static uint32_t count_unseen(struct rmail_mbox *mb)
{
	uint32_t i, n = 0;

	for (i = 0; i < ss_mbox_count(mb); i++)
		n += !(ss_mbox_msg(mb, i)->flags & RMAIL_F_SEEN);
	return n;
}

/* mb (refreshed) equals what a new store instance reads from disk */
static void assert_matches_disk(const char *dir, struct rmail_mbox *mb)
{
	struct rmail_mbox_status a, b;
	struct ss_store st;
	struct rmail_mbox *fresh;
	struct rmail_err err = {0};
	uint32_t i;

	ss_fx_open(dir, &st);
	g_assert_cmpint(ss_mbox_open(&st, SS_USER, "INBOX", &fresh, &err), ==,
			0);
	g_assert_cmpuint(ss_mbox_count(mb), ==, ss_mbox_count(fresh));
	for (i = 0; i < ss_mbox_count(mb); i++) {
		const struct rmail_msg *x = ss_mbox_msg(mb, i);
		const struct rmail_msg *y = ss_mbox_msg(fresh, i);

		g_assert_cmpuint(x->uid, ==, y->uid);
		g_assert_cmpuint(x->flags, ==, y->flags);
		g_assert_cmpuint(x->keywords, ==, y->keywords);
		g_assert_cmpuint(x->size, ==, y->size);
		g_assert_cmpint(x->internaldate, ==, y->internaldate);
	}
	ss_mbox_info(mb, &a);
	ss_mbox_info(fresh, &b);
	g_assert_cmpuint(a.messages, ==, b.messages);
	g_assert_cmpuint(a.unseen, ==, b.unseen);
	g_assert_cmpuint(a.unseen, ==, count_unseen(fresh));
	g_assert_cmpuint(a.size, ==, b.size);
	g_assert_cmpuint(a.uidnext, ==, b.uidnext);
	ss_mbox_close(&fresh);
	ss_store_close(&st);
}

/* NMSG messages, then a view scanned once the shard mtime is settled
 * (older than the racy window), so only the log can spare a rescan */
static struct rmail_mbox *settled_view(struct ss_fx *fx)
{
	struct rmail_mbox *mb;
	struct rmail_err err = {0};
	int i;

	for (i = 0; i < NMSG; i++)
		ss_t_append(&fx->st, "INBOX", "x\r\n",
			    i % 3 ? RMAIL_F_SEEN : 0);
	g_usleep(3 * SS_RACY_NS / 1000);
	g_assert_cmpint(ss_mbox_open(&fx->st, SS_USER, "INBOX", &mb, &err), ==,
			0);
	assert_matches_disk(fx->dir, mb);
	return mb;
}

static void count_change(void *arg, const struct rmail_change *c)
{
	uint32_t *n = arg;

	g_assert_cmpuint(c->type, >=, RMAIL_CHANGE_APPEND);
	g_assert_cmpuint(c->type, <=, RMAIL_CHANGE_EXPUNGE);
	n[c->type]++;
}

static void test_other_appends(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_mbox *mb = settled_view(fx);
	struct rmail_err err = {0};
	uint32_t seen[4] = {0};
	struct rmail_mbox_status ms = {.size = sizeof(ms)};
	uint64_t since;
	unsigned round;

	(void)d;
	ss_mbox_info(mb, &ms);
	since = ms.highestmodseq;
	for (round = 0; round < 6; round++) {
		uint64_t scans = mb->shard_scans;
		uint32_t before = ss_mbox_count(mb);

		/* back to back: the shard stays in the racy window */
		other_process(fx->dir, round + 1, 5);
		g_assert_cmpint(ss_mbox_refresh(mb, &err), ==, 0);
		g_assert_cmpuint(ss_mbox_count(mb), ==, before + 5 - 1);
		assert_matches_disk(fx->dir, mb);
		g_assert_cmpuint(mb->shard_scans, ==, scans);
	}
	/* the change feed shows each append once, no detail records */
	g_assert_cmpint(ss_mbox_changes(mb, since, count_change, seen, &err),
			==, 0);
	g_assert_cmpuint(seen[RMAIL_CHANGE_APPEND], ==, 6 * 5);
	g_assert_cmpuint(seen[RMAIL_CHANGE_FLAGS], <=, 6);
	g_assert_cmpuint(seen[RMAIL_CHANGE_EXPUNGE], ==, 6);
	ss_mbox_close(&mb);
}

/* a message renamed into the shard by hand under the UID lock */
static uint32_t hand_made(struct rmail_mbox *mb, struct ss_fname *f)
{
	struct rmail_err err = {0};
	char rel[SS_FNAME_MAX + 16], name[SS_FNAME_MAX];
	uint32_t uv, next;
	int fd;

	g_assert_cmpint(ss_uid_lock(mb, &uv, &next, &err), ==, 0);
	f->uid = next;
	ss_fname_format(f, name);
	snprintf(rel, sizeof(rel), "s%u/%s", ss_shard_of(next), name);
	fd = openat(mb->dirfd, rel, O_WRONLY | O_CREAT | O_EXCL, 0640);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(write(fd, "hand\r\n", 6), ==, 6);
	close(fd);
	ss_uid_unlock(mb, next + 1);
	return next;
}

enum fallback { OLD_RECORD, KEYWORD, LYING_DETAIL };

static void fallback_test(struct ss_fx *fx, enum fallback how)
{
	struct rmail_mbox *mb = settled_view(fx), *wm;
	struct rmail_err err = {0};
	uint64_t scans = mb->shard_scans;
	struct ss_store st;
	struct ss_fname f = {0, RMAIL_F_FLAGGED, 0, 6, 0};

	f.date = (int64_t)time(NULL);
	ss_fx_open(fx->dir, &st);
	g_assert_cmpint(ss_mbox_open(&st, SS_USER, "INBOX", &wm, &err), ==, 0);
	f.modseq = ss_modseq_begin(wm);
	switch (how) {
	case OLD_RECORD:
		/* what a writer from before the detail record logs */
		hand_made(wm, &f);
		ss_log_append(wm, RMAIL_CHANGE_APPEND, f.uid, f.flags,
			      f.modseq);
		break;
	case KEYWORD: {
		static const char *const kw[] = {"$Label1"};
		struct rmail_append_opts o = {
			.size = sizeof(o), .keywords = kw, .nkeywords = 1};
		struct rmail_append *ap = NULL;

		g_assert_cmpint(
			ss_append_begin(&st, SS_USER, "INBOX", &o, &ap, &err),
			==, 0);
		g_assert_cmpint(ss_append_write(ap, "k\r\n", 3, &err), ==, 0);
		g_assert_cmpint(ss_append_commit(ap, NULL, NULL, &err), ==, 0);
		ss_append_free(&ap);
		break;
	}
	case LYING_DETAIL:
		hand_made(wm, &f);
		f.size += 1;
		ss_log_append_msg(wm, &f);
		break;
	}
	ss_mbox_close(&wm);
	ss_store_close(&st);
	g_assert_cmpint(ss_mbox_refresh(mb, &err), ==, 0);
	assert_matches_disk(fx->dir, mb);
	g_assert_cmpuint(ss_mbox_count(mb), ==, NMSG + 1);
	g_assert_cmpuint(mb->shard_scans, >, scans);
	/* and detail records serve the next appends again */
	scans = mb->shard_scans;
	other_process(fx->dir, 40 + how, 3);
	g_assert_cmpint(ss_mbox_refresh(mb, &err), ==, 0);
	assert_matches_disk(fx->dir, mb);
	g_assert_cmpuint(mb->shard_scans, ==, scans);
	ss_mbox_close(&mb);
}

static void test_old_record(struct ss_fx *fx, gconstpointer d)
{
	(void)d;
	fallback_test(fx, OLD_RECORD);
}

static void test_keyword_append(struct ss_fx *fx, gconstpointer d)
{
	(void)d;
	fallback_test(fx, KEYWORD);
}

static void test_lying_detail(struct ss_fx *fx, gconstpointer d)
{
	(void)d;
	fallback_test(fx, LYING_DETAIL);
}

/* this process's own appends and flag changes: no rescan either */
static void test_own_changes(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_mbox *mb = settled_view(fx);
	struct rmail_err err = {0};
	uint64_t scans = mb->shard_scans;
	int i;

	(void)d;
	for (i = 0; i < 20; i++) {
		uint32_t uid = ss_t_append(&fx->st, "INBOX", "own\r\n", 0);

		g_assert_cmpint(ss_mbox_refresh(mb, &err), ==, 0);
		g_assert_cmpint(ss_mbox_find(mb, uid), >=, 0);
		g_assert_cmpint(ss_msg_flags(mb, uid, RMAIL_FLAGS_ADD,
					     RMAIL_F_SEEN, NULL, 0, NULL, &err),
				==, 0);
		g_assert_cmpint(ss_mbox_refresh(mb, &err), ==, 0);
	}
	assert_matches_disk(fx->dir, mb);
	g_assert_cmpuint(mb->shard_scans, ==, scans);
	ss_mbox_close(&mb);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	fake_core_init();
#define T(path, fn)                                                            \
	g_test_add("/shardstore/appendpatch/" path, struct ss_fx, NULL,        \
		   ss_fx_setup, fn, ss_fx_teardown)
	T("other-appends", test_other_appends);
	T("own-changes", test_own_changes);
	T("old-record", test_old_record);
	T("keyword-append", test_keyword_append);
	T("lying-detail", test_lying_detail);
	return g_test_run();
}
