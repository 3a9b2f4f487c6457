/*
 * append_commit_many (MULTIAPPEND): a batch is stored whole with
 * consecutive UIDs, seen whole by a second store instance on the same
 * root; a rename failing mid-batch (the 3rd temporary gone) renames the
 * first two back, stores nothing and gives none of the UIDs tried out
 * again; a batch over quota stores nothing; no temporary is left.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ss_test.h"

static char *tmp_dir(struct ss_fx *fx)
{
	return g_build_filename(fx->dir, "domains", "example.com", "users",
				"alice", "mail", "INBOX", "tmp", NULL);
}

static unsigned tmp_count(struct ss_fx *fx)
{
	char *p = tmp_dir(fx);
	GDir *d = g_dir_open(p, 0, NULL);
	unsigned n = 0;

	g_assert_nonnull(d);
	while (g_dir_read_name(d) != NULL)
		n++;
	g_dir_close(d);
	g_free(p);
	return n;
}

/* the temporary created last: its name ends ".<seq>.tmp" */
static void unlink_newest_tmp(struct ss_fx *fx)
{
	char *p = tmp_dir(fx), *best = NULL;
	GDir *d = g_dir_open(p, 0, NULL);
	unsigned long top = 0;
	const char *n;

	g_assert_nonnull(d);
	while ((n = g_dir_read_name(d)) != NULL) {
		const char *e = g_strrstr(n, ".tmp"), *s = e;
		unsigned long seq;

		g_assert_nonnull(e);
		while (s > n && s[-1] != '.')
			s--;
		seq = strtoul(s, NULL, 10);
		if (best == NULL || seq > top) {
			g_free(best);
			best = g_build_filename(p, n, NULL);
			top = seq;
		}
	}
	g_dir_close(d);
	g_assert_nonnull(best);
	g_assert_cmpint(unlink(best), ==, 0);
	g_free(best);
	g_free(p);
}

static void begin3(struct ss_fx *fx, struct rmail_append **ap)
{
	struct rmail_err err = {0};
	char msg[64];
	int i;

	for (i = 0; i < 3; i++) {
		g_assert_cmpint(ss_append_begin(&fx->st, SS_USER, "INBOX", NULL,
						&ap[i], &err),
				==, 0);
		snprintf(msg, sizeof(msg), "Subject: m%d\r\n\r\nbody %d\r\n", i,
			 i);
		g_assert_cmpint(ss_append_write(ap[i], msg, strlen(msg), &err),
				==, 0);
	}
}

static void free3(struct rmail_append **ap)
{
	int i;

	for (i = 0; i < 3; i++)
		ss_append_free(&ap[i]);
}

static uint32_t count_in(struct ss_store *st)
{
	struct rmail_mbox_status s = {.size = sizeof(s)};
	struct rmail_err err = {0};

	g_assert_cmpint(ss_mbox_status(st, SS_USER, "INBOX", &s, &err), ==, 0);
	return s.messages;
}

static void test_batch(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_append *ap[3];
	struct rmail_err err = {0};
	struct ss_store other;
	struct rmail_mbox *mb;
	uint32_t first = 0, uv = 0, u;

	(void)d;
	u = ss_t_append(&fx->st, "INBOX", "Subject: before\r\n\r\nx\r\n", 0);
	begin3(fx, ap);
	g_assert_cmpint(ss_append_commit_many(ap, 3, &first, &uv, &err), ==, 0);
	free3(ap);
	g_assert_cmpuint(first, ==, u + 1);
	g_assert_cmpuint(uv, >, 0);
	g_assert_cmpuint(count_in(&fx->st), ==, 4);
	ss_fx_open(fx->dir, &other);
	g_assert_cmpuint(count_in(&other), ==, 4);
	g_assert_cmpint(ss_mbox_open(&other, SS_USER, "INBOX", &mb, &err), ==,
			0);
	g_assert_cmpint(ss_mbox_find(mb, first + 2), ==, 3);
	ss_mbox_close(&mb);
	ss_store_close(&other);
	g_assert_cmpuint(tmp_count(fx), ==, 0);

	/* the 3rd rename fails: the first two are renamed back */
	begin3(fx, ap);
	/* the data reaches the temporaries at commit: make the 3rd go */
	unlink_newest_tmp(fx);
	g_assert_cmpint(ss_append_commit_many(ap, 3, &first, &uv, &err), ==,
			-1);
	g_assert_cmpint(err.code, ==, RMAIL_E_IO);
	g_assert_cmpuint(count_in(&fx->st), ==, 4);
	free3(ap);
	g_assert_cmpuint(tmp_count(fx), ==, 0);
	/* the UIDs tried (u+4 .. u+6) are not handed out again */
	g_assert_cmpuint(
		ss_t_append(&fx->st, "INBOX", "Subject: after\r\n\r\n", 0), ==,
		u + 7);
	ss_fx_open(fx->dir, &other);
	g_assert_cmpuint(count_in(&other), ==, 5);
	ss_store_close(&other);

	/* a batch spanning two mailboxes is refused */
	g_assert_cmpint(
		ss_append_begin(&fx->st, SS_USER, "INBOX", NULL, &ap[0], &err),
		==, 0);
	g_assert_cmpint(
		ss_append_begin(&fx->st, SS_USER, "Sent", NULL, &ap[1], &err),
		==, 0);
	g_assert_cmpint(ss_append_write(ap[0], "a\r\n", 3, &err), ==, 0);
	g_assert_cmpint(ss_append_write(ap[1], "b\r\n", 3, &err), ==, 0);
	g_assert_cmpint(ss_append_commit_many(ap, 2, &first, &uv, &err), ==,
			-1);
	g_assert_cmpint(err.code, ==, RMAIL_E_INVAL);
	ss_append_free(&ap[0]);
	ss_append_free(&ap[1]);
	g_assert_cmpuint(count_in(&fx->st), ==, 5);
	g_assert_cmpuint(tmp_count(fx), ==, 0);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	fake_core_init();
	g_test_add("/shardstore/batch/commit-many", struct ss_fx, NULL,
		   ss_fx_setup, test_batch, ss_fx_teardown);
	return g_test_run();
}
