/*
 * Durable modseqs across kill -9 of the daemon (issue 19): IMAP clients
 * append, change flags (and create keywords) and expunge; the daemon is
 * killed between changes and restarted.  After every step the store is
 * read by a second, in-process instance of the shard store on the same
 * mail root (what another rmail process would see): HIGHESTMODSEQ never
 * goes down, every message has a modseq, and a modseq once seen on a
 * message state is never seen again on another state.
 */
#include <signal.h>
#include <string.h>

#include "fake_core.h"
#include "../imap/imap_client.h"
#include "ss_mbox.h"

#define USER "amy@example.test"
#define PASS "pw-amy"
#define ROUNDS 4

struct seen {
	GHashTable *state; /* modseq -> "uid flags keywords" */
	uint64_t high;
	char *root;
};

/* one look through another store instance */
static void look(struct seen *s, const char *when)
{
	struct ss_store st;
	struct rmail_err err = {0};
	struct rmail_mbox *mb;
	struct rmail_mbox_status info = {.size = sizeof(info)};
	uint32_t i;

	g_assert_cmpint(ss_store_open(&st, fake_core_init(), s->root, &err), ==,
			0);
	g_assert_cmpint(ss_mbox_open(&st, USER, "INBOX", &mb, &err), ==, 0);
	ss_mbox_info(mb, &info);
	g_test_message("%s: %u messages, HIGHESTMODSEQ %llu", when,
		       info.messages, (unsigned long long)info.highestmodseq);
	g_assert_cmpuint(info.highestmodseq, >=, s->high);
	s->high = info.highestmodseq;
	for (i = 0; i < ss_mbox_count(mb); i++) {
		const struct rmail_msg *m = ss_mbox_msg(mb, i);
		char *key = g_strdup_printf("%u %u %llx", m->uid, m->flags,
					    (unsigned long long)m->keywords);
		const char *was = g_hash_table_lookup(
			s->state, GSIZE_TO_POINTER((gsize)m->modseq));

		g_assert_cmpuint(m->modseq, >, 0);
		g_assert_cmpuint(m->modseq, <=, info.highestmodseq);
		if (was != NULL) {
			/* the same modseq names one state only */
			g_assert_cmpstr(was, ==, key);
			g_free(key);
		} else {
			g_hash_table_insert(s->state,
					    GSIZE_TO_POINTER((gsize)m->modseq),
					    key);
		}
	}
	ss_mbox_close(&mb);
	ss_store_close(&st);
}

static void kill9(struct imd *d)
{
	rmh_signal(d->h, SIGKILL);
	(void)rmh_stop(d->h); /* reaps it */
	g_assert_true(rmh_start(d->h));
}

static void test_kill9_modseq(void)
{
	struct imd *d = imd_start("\"allow_cleartext_login_loopback\": true");
	struct seen s = {0};
	int r, k;

	imd_user(d, USER, PASS, 0);
	s.state = g_hash_table_new_full(NULL, NULL, NULL, g_free);
	s.root = g_strdup_printf("%s/mail", rmh_dir(d->h));
	for (r = 0; r < ROUNDS; r++) {
		struct imc *c = imc_login(d, USER, PASS);
		char *tagged;

		for (k = 0; k < 3; k++)
			g_free(imc_ok(c, "APPEND INBOX {5+}\r\nm %d-%d", r, k));
		g_free(imc_ok(c, "SELECT INBOX"));
		look(&s, "appended");
		g_free(imc_ok(c, "STORE 1:* %cFLAGS (\\Seen)",
			      r % 2 ? '-' : '+'));
		look(&s, "flags");
		/* a keyword new to the mailbox */
		g_free(imc_ok(c, "STORE 1 +FLAGS ($Round%d)", r));
		look(&s, "keyword");
		imc_close(c);
		kill9(d);
		look(&s, "after kill -9");
		c = imc_login(d, USER, PASS);
		g_free(imc_ok(c, "SELECT INBOX"));
		g_free(imc_ok(c, "STORE 2 +FLAGS (\\Deleted \\Flagged)"));
		tagged = imc_ok(c, "EXPUNGE");
		g_free(tagged);
		look(&s, "expunged");
		/* killed right after a change, before anything else */
		g_free(imc_ok(c, "STORE 1 -FLAGS (\\Seen)"));
		imc_close(c);
		kill9(d);
		look(&s, "after kill -9 mid-session");
	}
	g_assert_cmpuint(s.high, >, 0);
	g_hash_table_destroy(s.state);
	g_free(s.root);
	imd_stop(d);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/store/kill9-modseq", test_kill9_modseq);
	return g_test_run();
}
