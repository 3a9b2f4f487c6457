/*
 * Keeping a source's UIDs (ABI 1.3): mbox_set_uidvalidity on an empty
 * mailbox, appends with rmail_append_opts.uid kept as asked and seen by
 * a second store instance; a UID below UIDNEXT and a new UIDVALIDITY
 * for a mailbox with a message are refused and change nothing.
 */
#include <string.h>

#include "ss_test.h"

static int append_uid(struct ss_store *st, const char *mbox, uint32_t want,
		      uint32_t *uid_r, struct rmail_err *err)
{
	struct rmail_append_opts o = {.size = sizeof(o), .uid = want};
	struct rmail_append *ap = NULL;
	const char *msg = "Subject: kept\r\n\r\nbody\r\n";
	int rc;

	g_assert_cmpint(ss_append_begin(st, SS_USER, mbox, &o, &ap, err), ==,
			0);
	g_assert_cmpint(ss_append_write(ap, msg, strlen(msg), err), ==, 0);
	rc = ss_append_commit(ap, uid_r, NULL, err);
	ss_append_free(&ap);
	return rc;
}

static struct rmail_mbox_status status_of(struct ss_store *st, const char *mbox)
{
	struct rmail_mbox_status s = {.size = sizeof(s)};
	struct rmail_err err = {0};

	g_assert_cmpint(ss_mbox_status(st, SS_USER, mbox, &s, &err), ==, 0);
	return s;
}

static void test_keep(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_err err = {0};
	struct rmail_mbox_status s;
	struct ss_store other;
	struct rmail_mbox *mb;
	uint32_t uid = 0;

	(void)d;
	g_assert_cmpint(ss_mbox_set_uidvalidity(&fx->st, SS_USER, "INBOX",
						1234567, &err),
			==, 0);
	g_assert_cmpuint(status_of(&fx->st, "INBOX").uidvalidity, ==, 1234567);
	g_assert_cmpint(append_uid(&fx->st, "INBOX", 7, &uid, &err), ==, 0);
	g_assert_cmpuint(uid, ==, 7);
	/* a gap, and a UID in a later shard */
	g_assert_cmpint(append_uid(&fx->st, "INBOX", 70000, &uid, &err), ==, 0);
	g_assert_cmpuint(uid, ==, 70000);
	/* not ascending: refused, nothing stored */
	g_assert_cmpint(append_uid(&fx->st, "INBOX", 9, &uid, &err), ==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_EXISTS);
	g_assert_cmpint(append_uid(&fx->st, "INBOX", 70000, &uid, &err), ==,
			-1);
	s = status_of(&fx->st, "INBOX");
	g_assert_cmpuint(s.messages, ==, 2);
	g_assert_cmpuint(s.uidnext, ==, 70001);
	/* the store's own choice goes on from there */
	g_assert_cmpuint(ss_t_append(&fx->st, "INBOX", "Subject: n\r\n\r\n", 0),
			 ==, 70001);
	/* not empty: a new UIDVALIDITY is refused, the same one is fine */
	err.code = 0;
	g_assert_cmpint(
		ss_mbox_set_uidvalidity(&fx->st, SS_USER, "INBOX", 99, &err),
		==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_EXISTS);
	g_assert_cmpint(ss_mbox_set_uidvalidity(&fx->st, SS_USER, "INBOX",
						1234567, &err),
			==, 0);
	g_assert_cmpuint(status_of(&fx->st, "INBOX").uidnext, ==, 70002);
	g_assert_cmpint(
		ss_mbox_set_uidvalidity(&fx->st, SS_USER, "INBOX", 0, &err), ==,
		-1);
	g_assert_cmpint(err.code, ==, RMAIL_E_INVAL);

	/* another instance sees the same UIDs and UIDVALIDITY */
	ss_fx_open(fx->dir, &other);
	s = status_of(&other, "INBOX");
	g_assert_cmpuint(s.uidvalidity, ==, 1234567);
	g_assert_cmpuint(s.messages, ==, 3);
	g_assert_cmpint(ss_mbox_open(&other, SS_USER, "INBOX", &mb, &err), ==,
			0);
	g_assert_cmpuint(ss_mbox_msg(mb, 0)->uid, ==, 7);
	g_assert_cmpuint(ss_mbox_msg(mb, 1)->uid, ==, 70000);
	g_assert_cmpuint(ss_mbox_msg(mb, 2)->uid, ==, 70001);
	ss_mbox_close(&mb);
	ss_store_close(&other);
}

/* a mailbox emptied by expunges takes a new UIDVALIDITY, UIDs restart */
static void test_emptied(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_err err = {0};
	struct rmail_mbox *mb;
	uint32_t uid;

	(void)d;
	uid = ss_t_append(&fx->st, "Sent", "Subject: x\r\n\r\n", 0);
	g_assert_cmpint(ss_mbox_open(&fx->st, SS_USER, "Sent", &mb, &err), ==,
			0);
	g_assert_cmpint(ss_msg_expunge(mb, &uid, 1, &err), ==, 0);
	ss_mbox_close(&mb);
	g_assert_cmpint(
		ss_mbox_set_uidvalidity(&fx->st, SS_USER, "Sent", 42, &err), ==,
		0);
	g_assert_cmpuint(status_of(&fx->st, "Sent").uidvalidity, ==, 42);
	g_assert_cmpint(append_uid(&fx->st, "Sent", 1, &uid, &err), ==, 0);
	g_assert_cmpuint(uid, ==, 1);
	/* a batch cannot take chosen UIDs */
	{
		struct rmail_append_opts o = {.size = sizeof(o), .uid = 5};
		struct rmail_append *ap = NULL;
		uint32_t first;

		g_assert_cmpint(ss_append_begin(&fx->st, SS_USER, "Sent", &o,
						&ap, &err),
				==, 0);
		g_assert_cmpint(ss_append_write(ap, "a\r\n", 3, &err), ==, 0);
		g_assert_cmpint(
			ss_append_commit_many(&ap, 1, &first, NULL, &err), ==,
			-1);
		g_assert_cmpint(err.code, ==, RMAIL_E_INVAL);
		ss_append_free(&ap);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	fake_core_init();
	g_test_add("/shardstore/keepuid/keep", struct ss_fx, NULL, ss_fx_setup,
		   test_keep, ss_fx_teardown);
	g_test_add("/shardstore/keepuid/emptied", struct ss_fx, NULL,
		   ss_fx_setup, test_emptied, ss_fx_teardown);
	return g_test_run();
}
