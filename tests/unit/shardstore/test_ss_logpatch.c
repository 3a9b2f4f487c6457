/*
 * A cached view patched from the change log: another process changes
 * flags on random messages (and expunges, appends), and the reopened view
 * must equal a fresh scan of the directories, without a rescan when the
 * log accounts for every change; a deleted, truncated, corrupt or lying
 * log must fall back to the shards.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ss_test.h"

#define NMSG 300
#define NCHANGE 60

static const uint32_t some_flags[] = {0,
				      RMAIL_F_SEEN,
				      RMAIL_F_FLAGGED,
				      RMAIL_F_SEEN | RMAIL_F_ANSWERED,
				      RMAIL_F_DELETED | RMAIL_F_DRAFT,
				      0x1f};

/* in a child: NCHANGE random flag sets, `nexp` expunges, `napp` appends */
static void other_process(const char *dir, unsigned seed, int nexp, int napp)
{
	pid_t pid = fork();
	int status;

	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		struct ss_store st;
		struct rmail_mbox *mb;
		struct rmail_err err = {0};
		int i;

		if (ss_store_open(&st, fake_core_init(), dir, &err) < 0 ||
		    ss_mbox_open(&st, SS_USER, "INBOX", &mb, &err) < 0)
			_exit(2);
		srand(seed);
		for (i = 0; i < NCHANGE; i++) {
			uint32_t idx = (uint32_t)rand() % ss_mbox_count(mb);
			uint32_t f = some_flags[(size_t)rand() %
						G_N_ELEMENTS(some_flags)];

			if (ss_msg_flags(mb, ss_mbox_msg(mb, idx)->uid,
					 RMAIL_FLAGS_SET, f, NULL, 0, NULL,
					 &err) < 0)
				_exit(3);
		}
		for (i = 0; i < nexp; i++) {
			uint32_t uid =
				ss_mbox_msg(mb, (uint32_t)rand() %
							ss_mbox_count(mb))
					->uid;

			if (ss_msg_expunge(mb, &uid, 1, &err) < 0)
				_exit(4);
		}
		ss_mbox_close(&mb);
		for (i = 0; i < napp; i++)
			ss_t_append(&st, "INBOX", "new\r\n", RMAIL_F_SEEN);
		_exit(0);
	}
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
}

/* mb (refreshed) equals what a new store instance reads from disk */
static void assert_matches_disk(const char *dir, struct rmail_mbox *mb)
{
	struct ss_store st;
	struct rmail_mbox *fresh;
	struct rmail_err err = {0};
	uint32_t i;

	ss_fx_open(dir, &st);
	g_assert_cmpint(ss_mbox_open(&st, SS_USER, "INBOX", &fresh, &err), ==,
			0);
	g_assert_cmpuint(ss_mbox_count(mb), ==, ss_mbox_count(fresh));
	for (i = 0; i < ss_mbox_count(mb); i++) {
		const struct rmail_msg *a = ss_mbox_msg(mb, i);
		const struct rmail_msg *b = ss_mbox_msg(fresh, i);

		g_assert_cmpuint(a->uid, ==, b->uid);
		g_assert_cmpuint(a->flags, ==, b->flags);
		g_assert_cmpuint(a->keywords, ==, b->keywords);
		g_assert_cmpuint(a->size, ==, b->size);
		g_assert_cmpint(a->internaldate, ==, b->internaldate);
	}
	g_assert_cmpuint(mb->size, ==, fresh->size);
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
		ss_t_append(&fx->st, "INBOX", "x\r\n", 0);
	g_usleep(3 * SS_RACY_NS / 1000);
	g_assert_cmpint(ss_mbox_open(&fx->st, SS_USER, "INBOX", &mb, &err), ==,
			0);
	assert_matches_disk(fx->dir, mb);
	return mb;
}

static void test_random_flags(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_mbox *mb = settled_view(fx);
	struct rmail_err err = {0};
	unsigned round;

	(void)d;
	for (round = 0; round < 6; round++) {
		uint64_t scans = mb->shard_scans;

		/* back to back: the shard stays in the racy window */
		other_process(fx->dir, round + 1, 0, 0);
		g_assert_cmpint(ss_mbox_refresh(mb, &err), ==, 0);
		assert_matches_disk(fx->dir, mb);
		g_assert_cmpuint(mb->shard_scans, ==, scans);
	}
	/* expunges are patched; appends re-read the newest shard */
	other_process(fx->dir, 99, 5, 0);
	g_assert_cmpint(ss_mbox_refresh(mb, &err), ==, 0);
	assert_matches_disk(fx->dir, mb);
	other_process(fx->dir, 100, 3, 4);
	g_assert_cmpint(ss_mbox_refresh(mb, &err), ==, 0);
	assert_matches_disk(fx->dir, mb);
	g_assert_cmpuint(ss_mbox_count(mb), ==, NMSG - 8 + 4);
	ss_mbox_close(&mb);
}

enum damage { LOG_DELETE, LOG_TRUNCATE, LOG_GARBAGE, LOG_LIE };

static void damage_test(struct ss_fx *fx, enum damage how)
{
	struct rmail_mbox *mb = settled_view(fx);
	struct rmail_err err = {0};
	uint64_t scans = mb->shard_scans;
	uint32_t victim = ss_mbox_msg(mb, 7)->uid;
	int fd;

	other_process(fx->dir, 7 + how, 0, 0);
	switch (how) {
	case LOG_DELETE:
		g_assert_cmpint(unlinkat(mb->dirfd, "changes", 0), ==, 0);
		break;
	case LOG_TRUNCATE:
		fd = openat(mb->dirfd, "changes", O_WRONLY);
		g_assert_cmpint(fd, >=, 0);
		g_assert_cmpint(ftruncate(fd, 16), ==, 0);
		close(fd);
		break;
	case LOG_GARBAGE:
		fd = openat(mb->dirfd, "changes", O_WRONLY);
		g_assert_cmpint(fd, >=, 0);
		g_assert_cmpint(pwrite(fd, "garbage garbage garbage garbage",
				       32, (off_t)mb->log_read),
				==, 32);
		close(fd);
		break;
	case LOG_LIE:
		/* a well-formed record no rename backs */
		ss_log_append(mb, RMAIL_CHANGE_FLAGS, victim,
			      ss_mbox_msg(mb, 7)->flags ^ RMAIL_F_DRAFT,
			      ss_modseq_begin(mb));
		break;
	}
	g_assert_cmpint(ss_mbox_refresh(mb, &err), ==, 0);
	assert_matches_disk(fx->dir, mb);
	g_assert_cmpuint(mb->shard_scans, >, scans);
	/* and the log (recreated or not) serves the next changes */
	other_process(fx->dir, 50 + how, 0, 0);
	g_assert_cmpint(ss_mbox_refresh(mb, &err), ==, 0);
	assert_matches_disk(fx->dir, mb);
	ss_mbox_close(&mb);
}

static void test_log_deleted(struct ss_fx *fx, gconstpointer d)
{
	(void)d;
	damage_test(fx, LOG_DELETE);
}

static void test_log_truncated(struct ss_fx *fx, gconstpointer d)
{
	(void)d;
	damage_test(fx, LOG_TRUNCATE);
}

static void test_log_garbage(struct ss_fx *fx, gconstpointer d)
{
	(void)d;
	damage_test(fx, LOG_GARBAGE);
}

static void test_log_lie(struct ss_fx *fx, gconstpointer d)
{
	(void)d;
	damage_test(fx, LOG_LIE);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	fake_core_init();
#define T(path, fn)                                                            \
	g_test_add("/shardstore/logpatch/" path, struct ss_fx, NULL,           \
		   ss_fx_setup, fn, ss_fx_teardown)
	T("random-flags", test_random_flags);
	T("log-deleted", test_log_deleted);
	T("log-truncated", test_log_truncated);
	T("log-garbage", test_log_garbage);
	T("log-lie", test_log_lie);
	return g_test_run();
}
