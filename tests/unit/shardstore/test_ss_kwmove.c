/*
 * Two store instances on one root behave like two processes for the
 * caches: keywords one sets are seen by the other (and survive its
 * moves), and racing moves, expunges and flag changes of one message
 * leave it exactly once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_test.h"

#define NMSG 8
#define ROUNDS 60

/* the names of the keyword bits of uid in an open view */
static char *kw_names(struct rmail_mbox *mb, uint32_t uid)
{
	const char *const *names;
	size_t n = ss_mbox_keywords(mb, &names), k;
	int64_t idx = ss_mbox_find(mb, uid);
	GString *s = g_string_new("");
	uint64_t bits;

	g_assert_cmpint(idx, >=, 0);
	bits = ss_mbox_msg(mb, (uint32_t)idx)->keywords;
	for (k = 0; k < 64; k++) {
		if (!(bits & (1ull << k)))
			continue;
		/* a bit the table does not name yet is a stale table */
		g_string_append_printf(s, "%s%s", s->len ? " " : "",
				       k < n ? names[k] : "?");
	}
	return g_string_free(s, FALSE);
}

static void test_keywords(struct ss_fx *fx, gconstpointer d)
{
	const char *first[] = {"first"}, *second[] = {"second"};
	struct ss_store st2;
	struct rmail_mbox *a, *b, *dst;
	struct rmail_err err = {0};
	uint32_t uids[3], moved[3], uv;
	char *s;
	int i;

	(void)d;
	ss_fx_open(fx->dir, &st2);
	for (i = 0; i < 3; i++)
		uids[i] = ss_t_append(&fx->st, "INBOX", "x\r\n", 0);
	g_assert_cmpint(ss_mbox_open(&fx->st, SS_USER, "INBOX", &a, &err), ==,
			0);
	/* past the racy window of the mailbox directory */
	g_usleep(50000);
	g_assert_cmpint(ss_mbox_refresh(a, &err), ==, 0);
	for (i = 0; i < 3; i++)
		g_assert_cmpint(ss_msg_flags(a, uids[i], RMAIL_FLAGS_ADD, 0,
					     first, 1, NULL, &err),
				==, 0);
	g_assert_cmpint(ss_mbox_open(&st2, SS_USER, "INBOX", &b, &err), ==, 0);
	for (i = 0; i < 3; i++)
		g_assert_cmpint(ss_msg_flags(b, uids[i], RMAIL_FLAGS_ADD, 0,
					     second, 1, NULL, &err),
				==, 0);
	g_assert_cmpint(ss_mbox_refresh(a, &err), ==, 0);
	for (i = 0; i < 3; i++) {
		s = kw_names(a, uids[i]);
		g_assert_cmpstr(s, ==, "first second");
		g_free(s);
	}
	/* a move through the first instance keeps both */
	g_assert_cmpint(ss_mbox_create(&fx->st, SS_USER, "Dst", 0, &err), ==,
			0);
	g_assert_cmpint(ss_msg_move(a, uids, 3, "Dst", moved, &uv, &err), ==,
			0);
	g_assert_cmpint(ss_mbox_open(&st2, SS_USER, "Dst", &dst, &err), ==, 0);
	g_assert_cmpuint(ss_mbox_count(dst), ==, 3);
	for (i = 0; i < 3; i++) {
		s = kw_names(dst, moved[i]);
		g_assert_cmpstr(s, ==, "first second");
		g_free(s);
	}
	ss_mbox_close(&dst);
	ss_mbox_close(&b);
	ss_mbox_close(&a);
	ss_store_close(&st2);
}

enum rival { R_MOVE, R_EXPUNGE, R_FLAGS };

struct racer {
	const char *dir;
	enum rival what;
	uint32_t *uids;
	GMutex *m;
	GCond *c;
	int *go;
	int round;
};

/* one round of one racer, on its own store instance */
static gpointer race_thread(gpointer data)
{
	struct racer *r = data;
	const char *kw[] = {"k"};
	struct rmail_mbox *mb;
	struct rmail_err err = {0};
	uint32_t dst_uids[NMSG], uv;
	struct ss_store st;
	int i;

	ss_fx_open(r->dir, &st);
	g_assert_cmpint(ss_mbox_open(&st, SS_USER, "INBOX", &mb, &err), ==, 0);
	g_mutex_lock(r->m);
	while (*r->go < r->round)
		g_cond_wait(r->c, r->m);
	g_mutex_unlock(r->m);
	switch (r->what) {
	case R_MOVE:
		/* the loser may fail or move nothing; never duplicate */
		(void)ss_msg_move(mb, r->uids, NMSG, "Dst", dst_uids, &uv,
				  &err);
		break;
	case R_EXPUNGE:
		g_assert_cmpint(ss_msg_expunge(mb, r->uids, NMSG, &err), ==, 0);
		break;
	case R_FLAGS:
		for (i = 0; i < NMSG; i++)
			(void)ss_msg_flags(mb, r->uids[i], RMAIL_FLAGS_ADD,
					   RMAIL_F_FLAGGED, kw, 1, NULL, &err);
		break;
	}
	ss_mbox_close(&mb);
	ss_store_close(&st);
	return NULL;
}

/* how many times each body ("m<round>.<i>") is in the mailbox */
static void count_bodies(struct ss_store *st, const char *name, GHashTable *h)
{
	struct rmail_mbox *mb;
	struct rmail_err err = {0};
	uint32_t i;

	g_assert_cmpint(ss_mbox_open(st, SS_USER, name, &mb, &err), ==, 0);
	for (i = 0; i < ss_mbox_count(mb); i++) {
		char buf[64];
		size_t got = 0;
		uint32_t uid = ss_mbox_msg(mb, i)->uid;
		gpointer v;

		g_assert_cmpint(ss_msg_read(mb, uid, 0, buf, sizeof(buf) - 1,
					    &got, &err),
				==, 0);
		buf[got] = '\0';
		v = g_hash_table_lookup(h, buf);
		g_hash_table_replace(h, g_strdup(buf),
				     GINT_TO_POINTER(GPOINTER_TO_INT(v) + 1));
	}
	ss_mbox_close(&mb);
}

static void race(struct ss_fx *fx, enum rival rival)
{
	GHashTable *h =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	struct rmail_err err = {0};
	GMutex m;
	GCond c;
	int go = 0, round, i, total = 0, dups = 0, lost = 0;
	gint64 deadline = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;

	g_mutex_init(&m);
	g_cond_init(&c);
	g_assert_cmpint(ss_mbox_create(&fx->st, SS_USER, "Dst", 0, &err), ==,
			0);
	for (round = 1; round <= ROUNDS && g_get_monotonic_time() < deadline;
	     round++) {
		uint32_t uids[NMSG];
		struct racer a = {fx->dir, R_MOVE, uids, &m, &c, &go, round};
		struct racer b = {fx->dir, rival, uids, &m, &c, &go, round};
		GThread *ta, *tb;

		for (i = 0; i < NMSG; i++) {
			char body[32];

			snprintf(body, sizeof(body), "m%d.%d\r\n", round, i);
			uids[i] = ss_t_append(
				&fx->st, "INBOX", body,
				rival == R_EXPUNGE ? RMAIL_F_DELETED : 0);
		}
		total += NMSG;
		ta = g_thread_new("a", race_thread, &a);
		tb = g_thread_new("b", race_thread, &b);
		/* both views are open before either acts */
		g_usleep(2000);
		g_mutex_lock(&m);
		go = round;
		g_cond_broadcast(&c);
		g_mutex_unlock(&m);
		g_thread_join(ta);
		g_thread_join(tb);
	}
	count_bodies(&fx->st, "INBOX", h);
	count_bodies(&fx->st, "Dst", h);
	for (round = 1; round <= total / NMSG; round++)
		for (i = 0; i < NMSG; i++) {
			char body[32];
			int n;

			snprintf(body, sizeof(body), "m%d.%d\r\n", round, i);
			n = GPOINTER_TO_INT(g_hash_table_lookup(h, body));
			dups += n > 1;
			lost += n == 0;
		}
	g_test_message("%d messages: %d duplicated, %d gone", total, dups,
		       lost);
	g_assert_cmpint(dups, ==, 0);
	/* an expunge may win; nothing else makes a message disappear */
	if (rival != R_EXPUNGE)
		g_assert_cmpint(lost, ==, 0);
	g_hash_table_destroy(h);
	g_mutex_clear(&m);
	g_cond_clear(&c);
}

static void test_race_move(struct ss_fx *fx, gconstpointer d)
{
	(void)d;
	race(fx, R_MOVE);
}

static void test_race_expunge(struct ss_fx *fx, gconstpointer d)
{
	(void)d;
	race(fx, R_EXPUNGE);
}

static void test_race_flags(struct ss_fx *fx, gconstpointer d)
{
	(void)d;
	race(fx, R_FLAGS);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	fake_core_init();
#define T(path, fn)                                                            \
	g_test_add("/shardstore/kwmove/" path, struct ss_fx, NULL,             \
		   ss_fx_setup, fn, ss_fx_teardown)
	T("keywords-two-instances", test_keywords);
	T("race-move-move", test_race_move);
	T("race-move-expunge", test_race_expunge);
	T("race-move-flags", test_race_flags);
	return g_test_run();
}
