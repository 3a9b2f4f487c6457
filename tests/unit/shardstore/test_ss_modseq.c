/*
 * Durable modseqs: STORE UNCHANGEDSINCE (msg_flags_unchanged) on a real
 * store in a temporary directory.
 */
#include <string.h>

#include "ss_test.h"

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

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn)                                                          \
	g_test_add("/shardstore/modseq/" path, struct ss_fx, NULL,             \
		   ss_fx_setup, fn, ss_fx_teardown)
	ADD("unchanged", test_unchanged);
	ADD("unchanged-other-process", test_unchanged_other_process);
	return g_test_run();
}
