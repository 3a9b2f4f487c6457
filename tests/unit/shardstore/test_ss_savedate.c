/*
 * Save dates (store op 1.5 msg_savedate): every UID handed out under
 * the UID lock gets one (APPEND, a batch, COPY, MOVE), flag changes
 * keep it, a new UIDVALIDITY forgets the old records, a UID without a
 * record says 0, and a second store instance reads the same dates.
 * Records are back-dated on disk so that "kept" and "new" differ
 * without waiting for the clock.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ss_test.h"

static int64_t savedate(struct ss_store *st, const char *mbox, uint32_t uid,
			int want_rc)
{
	struct rmail_err err = {0};
	struct rmail_mbox *mb;
	int64_t t = -1;

	g_assert_cmpint(ss_mbox_open(st, SS_USER, mbox, &mb, &err), ==, 0);
	g_assert_cmpint(ss_msg_savedate(mb, uid, &t, &err), ==, want_rc);
	ss_mbox_close(&mb);
	return t;
}

/* every record of the mailbox dated t, in a new file (new inode) */
static void backdate(struct ss_fx *fx, const char *mbox, uint32_t t)
{
	char *path = g_strdup_printf(
		"%s/domains/example.com/users/alice/mail/%s/savedates", fx->dir,
		mbox);
	char *tmp = g_strdup_printf("%s.new", path), *data = NULL;
	gsize len = 0, i;

	g_assert_true(g_file_get_contents(path, &data, &len, NULL));
	g_assert_cmpuint(len % sizeof(struct ss_saverec), ==, 0);
	for (i = 0; i < len; i += sizeof(struct ss_saverec)) {
		struct ss_saverec r;

		memcpy(&r, data + i, sizeof(r));
		r.time = t;
		memcpy(data + i, &r, sizeof(r));
	}
	g_assert_true(g_file_set_contents(tmp, data, (gssize)len, NULL));
	g_assert_cmpint(rename(tmp, path), ==, 0);
	g_free(data);
	g_free(tmp);
	g_free(path);
}

static void test_savedate(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_err err = {0};
	struct rmail_mbox *mb;
	struct rmail_msg after;
	struct ss_store other;
	uint32_t a, b, c, dst[2], uv;
	int64_t now = (int64_t)time(NULL), t;

	(void)d;
	a = ss_t_append(&fx->st, "INBOX", "Subject: a\r\n\r\n", 0);
	b = ss_t_append(&fx->st, "INBOX", "Subject: b\r\n\r\n", 0);
	/* before any look at them (views cache what they read) */
	backdate(fx, "INBOX", 1000000);
	g_assert_cmpint(savedate(&fx->st, "INBOX", a, 1), ==, 1000000);
	g_assert_cmpint(savedate(&fx->st, "INBOX", b, 1), ==, 1000000);

	/* flag changes rename the file: the date stays */
	g_assert_cmpint(ss_mbox_open(&fx->st, SS_USER, "INBOX", &mb, &err), ==,
			0);
	g_assert_cmpint(ss_msg_flags(mb, a, RMAIL_FLAGS_ADD,
				     RMAIL_F_SEEN | RMAIL_F_FLAGGED, NULL, 0,
				     &after, &err),
			==, 0);
	g_assert_cmpint(ss_msg_savedate(mb, a, &t, &err), ==, 1);
	g_assert_cmpint(t, ==, 1000000);
	/* COPY and MOVE: new dates in the destination */
	g_assert_cmpint(ss_msg_copy(mb, &a, 1, "Archive", dst, &uv, &err), ==,
			0);
	g_assert_cmpint(ss_msg_move(mb, &b, 1, "Trash", dst + 1, &uv, &err), ==,
			0);
	/* a later append is found by the view that cached the older ones */
	c = ss_t_append(&fx->st, "INBOX", "Subject: c\r\n\r\n", 0);
	g_assert_cmpint(ss_msg_savedate(mb, c, &t, &err), ==, 1);
	g_assert_cmpint(t, >=, now);
	g_assert_cmpint(t, <=, now + 60);
	/* a UID nobody was given, below the records: no record */
	g_assert_cmpint(ss_msg_savedate(mb, 0, &t, &err), ==, 0);
	ss_mbox_close(&mb);
	g_assert_cmpint(savedate(&fx->st, "Archive", dst[0], 1), >=, now);
	g_assert_cmpint(savedate(&fx->st, "Trash", dst[1], 1), >=, now);

	/* another instance agrees */
	ss_fx_open(fx->dir, &other);
	g_assert_cmpint(savedate(&other, "INBOX", a, 1), ==, 1000000);
	g_assert_cmpint(savedate(&other, "Trash", dst[1], 1), >=, now);
	ss_store_close(&other);
}

/* an empty mailbox given a new UIDVALIDITY restarts UIDs at 1: the
 * records of the old UIDVALIDITY must not answer for them */
static void test_uidvalidity(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_err err = {0};
	struct rmail_mbox *mb;
	uint32_t uid;
	int64_t t;

	(void)d;
	uid = ss_t_append(&fx->st, "Sent", "Subject: x\r\n\r\n", 0);
	backdate(fx, "Sent", 1000000);
	g_assert_cmpint(ss_mbox_open(&fx->st, SS_USER, "Sent", &mb, &err), ==,
			0);
	g_assert_cmpint(ss_msg_expunge(mb, &uid, 1, &err), ==, 0);
	ss_mbox_close(&mb);
	g_assert_cmpint(
		ss_mbox_set_uidvalidity(&fx->st, SS_USER, "Sent", 42, &err), ==,
		0);
	g_assert_cmpint(savedate(&fx->st, "Sent", 1, 0), ==, 0);
	uid = ss_t_append(&fx->st, "Sent", "Subject: y\r\n\r\n", 0);
	g_assert_cmpuint(uid, ==, 1);
	g_assert_cmpint(ss_mbox_open(&fx->st, SS_USER, "Sent", &mb, &err), ==,
			0);
	g_assert_cmpint(ss_msg_savedate(mb, 1, &t, &err), ==, 1);
	g_assert_cmpint(t, >, 1000000);
	ss_mbox_close(&mb);
}

static off_t sd_size(struct ss_fx *fx, const char *mbox)
{
	char *path = g_strdup_printf(
		"%s/domains/example.com/users/alice/mail/%s/savedates", fx->dir,
		mbox);
	struct stat sb;

	g_assert_cmpint(stat(path, &sb), ==, 0);
	g_free(path);
	return sb.st_size;
}

/* the file is compacted once more than half its records name only
 * expunged UIDs, and every kept date reads the same before and after */
static void test_compact(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_err err = {0};
	struct rmail_mbox *mb;
	uint32_t uids[64], i;
	const off_t rec = (off_t)sizeof(struct ss_saverec);
	int64_t t;

	(void)d;
	for (i = 0; i < 40; i++)
		uids[i] = ss_t_append(&fx->st, "Archive", "Subject: a\r\n\r\n",
				      0);
	backdate(fx, "Archive", 1000000);
	g_assert_cmpint(ss_mbox_open(&fx->st, SS_USER, "Archive", &mb, &err),
			==, 0);
	/* a reader that cached the records before the compaction */
	g_assert_cmpint(ss_msg_savedate(mb, uids[4], &t, &err), ==, 1);
	/* keep uids[4] and uids[39]; 38 records name no message */
	g_assert_cmpint(ss_msg_expunge(mb, uids, 4, &err), ==, 0);
	g_assert_cmpint(ss_msg_expunge(mb, uids + 5, 34, &err), ==, 0);
	for (i = 40; i < 63; i++)
		uids[i] = ss_t_append(&fx->st, "Archive", "Subject: b\r\n\r\n",
				      0);
	/* 63 records: no compaction yet */
	g_assert_cmpint(sd_size(fx, "Archive"), ==, 63 * rec);
	uids[63] = ss_t_append(&fx->st, "Archive", "Subject: c\r\n\r\n", 0);
	/* the 64th: 38 dropped, 26 kept */
	g_assert_cmpint(sd_size(fx, "Archive"), ==, 26 * rec);
	g_assert_cmpint(ss_msg_savedate(mb, uids[4], &t, &err), ==, 1);
	g_assert_cmpint(t, ==, 1000000);
	g_assert_cmpint(ss_msg_savedate(mb, uids[39], &t, &err), ==, 1);
	g_assert_cmpint(t, ==, 1000000);
	g_assert_cmpint(ss_msg_savedate(mb, uids[63], &t, &err), ==, 1);
	g_assert_cmpint(t, >, 1000000);
	/* an expunged UID has no record any more */
	g_assert_cmpint(ss_msg_savedate(mb, uids[10], &t, &err), ==, 0);
	ss_mbox_close(&mb);
	g_assert_cmpint(savedate(&fx->st, "Archive", uids[4], 1), ==, 1000000);
	g_assert_cmpint(savedate(&fx->st, "Archive", uids[62], 1), >, 1000000);
	/* up to the next power of two, appends only add */
	for (i = 0; i < 5; i++)
		ss_t_append(&fx->st, "Archive", "Subject: d\r\n\r\n", 0);
	g_assert_cmpint(sd_size(fx, "Archive"), ==, 31 * rec);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	fake_core_init();
	g_test_add("/shardstore/savedate/kept-and-new", struct ss_fx, NULL,
		   ss_fx_setup, test_savedate, ss_fx_teardown);
	g_test_add("/shardstore/savedate/uidvalidity", struct ss_fx, NULL,
		   ss_fx_setup, test_uidvalidity, ss_fx_teardown);
	g_test_add("/shardstore/savedate/compact", struct ss_fx, NULL,
		   ss_fx_setup, test_compact, ss_fx_teardown);
	return g_test_run();
}
