/*
 * Two rmail daemons on one mail root (issue 13 §3, §4): keywords one
 * process sets are seen by the other (FETCH, SEARCH, FLAGS, MOVE), and
 * racing UID MOVEs, EXPUNGEs and STOREs of the same messages through the
 * two processes leave every message exactly once.
 */
#include <stdio.h>
#include <string.h>

#include "imap_client.h"

#define PW "pw-secret"
#define USER "kim@example.test"
#define PER_ROUND 6

/* a second daemon on the first one's mail root */
static struct imd *imd_twin(struct imd *a)
{
	struct imd *d = g_new0(struct imd, 1);

	d->h = rmh_new();
	d->port = rmh_port(d->h, "imap");
	d->tls_port = rmh_port(d->h, "imaps");
	rmh_setf(d->h, "mail_root", "\"%s/mail\"", rmh_dir(a->h));
	rmh_set(d->h, "modules", "[\"mod_shardstore\", \"mod_imap\"]");
	rmh_setf(d->h, "imap",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"imaps_listen\": [\"127.0.0.1:%u\"], "
		 "\"allow_cleartext_login_loopback\": true}",
		 d->port, d->tls_port);
	rmh_write_config(d->h);
	g_assert_true(rmh_start(d->h));
	return d;
}

static void append(struct imc *c, const char *mbox, const char *subject)
{
	char *body = g_strdup_printf("Subject: %s\r\n\r\nbody\r\n", subject);
	char *r = imc_ok(c, "APPEND %s {%zu+}\r\n%s", mbox, strlen(body), body);

	g_free(r);
	g_free(body);
}

/* every FETCH line of r holds kw */
static void all_have(const char *r, const char *kw, int want)
{
	char **lines = g_strsplit(r, "\n", -1);
	int i, n = 0;

	for (i = 0; lines[i] != NULL; i++) {
		if (!g_str_has_prefix(lines[i], "* ") ||
		    strstr(lines[i], " FETCH (") == NULL)
			continue;
		if (strstr(lines[i], kw) == NULL)
			g_test_message("missing %s: %s", kw, lines[i]);
		g_assert_nonnull(strstr(lines[i], kw));
		n++;
	}
	g_assert_cmpint(n, ==, want);
	g_strfreev(lines);
}

static void test_keywords(void)
{
	struct imd *a = imd_start("\"allow_cleartext_login_loopback\": true");
	struct imd *b;
	struct imc *ca, *cb, *cn;
	char *r;
	int i;

	imd_user(a, USER, PW, 0);
	b = imd_twin(a);
	ca = imc_login(a, USER, PW);
	cb = imc_login(b, USER, PW);
	for (i = 0; i < 3; i++)
		append(ca, "INBOX", "kw");
	g_free(imc_ok(ca, "CREATE Dst"));
	g_free(imc_ok(ca, "SELECT INBOX"));
	g_free(imc_ok(ca, "UID STORE 1:* +FLAGS (first)"));
	g_free(imc_ok(cb, "SELECT INBOX"));
	g_free(imc_ok(cb, "UID STORE 1:* +FLAGS (second)"));
	/* the other process's change reaches a session at its next NOOP */
	g_free(imc_ok(ca, "NOOP"));

	r = imc_ok(ca, "UID FETCH 1:* FLAGS");
	all_have(r, "second", 3);
	all_have(r, "first", 3);
	g_free(r);
	r = imc_ok(ca, "UID SEARCH KEYWORD second");
	has(r, "* SEARCH 1 2 3");
	g_free(r);
	/* a new session of the first process lists it */
	cn = imc_login(a, USER, PW);
	r = imc_ok(cn, "SELECT INBOX");
	has(r, "second");
	g_free(r);
	imc_close(cn);

	/* a move through the first process keeps both keywords */
	r = imc_ok(ca, "UID MOVE 1:* Dst");
	has(r, "[COPYUID ");
	g_free(r);
	g_free(imc_ok(cb, "SELECT Dst"));
	r = imc_ok(cb, "UID FETCH 1:* FLAGS");
	all_have(r, "first", 3);
	all_have(r, "second", 3);
	g_free(r);
	r = imc_ok(ca, "SELECT Dst");
	r = (g_free(r), imc_ok(ca, "UID FETCH 1:* FLAGS"));
	all_have(r, "first", 3);
	all_have(r, "second", 3);
	g_free(r);

	imc_close(ca);
	imc_close(cb);
	imd_stop(b);
	imd_stop(a);
}

enum rival { R_MOVE, R_EXPUNGE, R_FLAGS };

static const char *rival_cmd(enum rival r)
{
	switch (r) {
	case R_MOVE:
		return "UID MOVE 1:* Dst";
	case R_EXPUNGE:
		return "UID EXPUNGE 1:*";
	default:
		return "UID STORE 1:* +FLAGS (\\Flagged k)";
	}
}

/* the UIDs a COPYUID response names in its destination set */
static int copyuid_count(const char *r)
{
	const char *p = strstr(r, "[COPYUID ");
	char **sets, **parts;
	int n = 0, i;

	if (p == NULL)
		return 0;
	sets = g_strsplit_set(p + 9, " ]", 4);
	g_assert_nonnull(sets[2]);
	parts = g_strsplit(sets[2], ",", -1);
	for (i = 0; parts[i] != NULL; i++) {
		unsigned lo, hi;

		if (sscanf(parts[i], "%u:%u", &lo, &hi) == 2)
			n += (int)(hi > lo ? hi - lo : lo - hi) + 1;
		else
			n++;
	}
	g_strfreev(parts);
	g_strfreev(sets);
	return n;
}

/* how often each "Subject: " value occurs in mailbox name */
static void count_subjects(struct imc *c, const char *name, GHashTable *h)
{
	char *r, **lines;
	int i;

	g_free(imc_ok(c, "SELECT %s", name));
	/* BAD on an empty mailbox: nothing to count then */
	r = imc_cmd(c, "FETCH 1:* BODY.PEEK[HEADER.FIELDS (SUBJECT)]");
	g_assert_nonnull(r);
	lines = g_strsplit(r, "\n", -1);
	for (i = 0; lines[i] != NULL; i++) {
		gpointer v;
		char *s;

		if (!g_str_has_prefix(lines[i], "Subject: "))
			continue;
		s = g_strstrip(g_strdup(lines[i] + 9));
		v = g_hash_table_lookup(h, s);
		g_hash_table_replace(h, s,
				     GINT_TO_POINTER(GPOINTER_TO_INT(v) + 1));
	}
	g_strfreev(lines);
	g_free(r);
}

static void race(enum rival rival)
{
	struct imd *a = imd_start("\"allow_cleartext_login_loopback\": true");
	struct imd *b;
	struct imc *ca, *cb;
	GHashTable *h;
	gint64 deadline;
	int round, i, total = 0, dups = 0, lost = 0, copyuids = 0;

	imd_user(a, USER, PW, 0);
	b = imd_twin(a);
	ca = imc_login(a, USER, PW);
	cb = imc_login(b, USER, PW);
	g_free(imc_ok(ca, "CREATE Dst"));
	g_free(imc_ok(ca, "SELECT INBOX"));
	g_free(imc_ok(cb, "SELECT INBOX"));
	deadline = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
	for (round = 1; g_get_monotonic_time() < deadline; round++) {
		char *ra, *rb;

		for (i = 0; i < PER_ROUND; i++) {
			char subj[32];

			snprintf(subj, sizeof(subj), "r%dm%d", round, i);
			append(ca, "INBOX", subj);
		}
		total += PER_ROUND;
		if (rival == R_EXPUNGE)
			g_free(imc_ok(ca, "UID STORE 1:* +FLAGS.SILENT "
					  "(\\Deleted)"));
		g_free(imc_ok(ca, "NOOP"));
		g_free(imc_ok(cb, "NOOP"));
		g_assert_true(rmh_send(ca->c, "A%d UID MOVE 1:* Dst", round));
		g_assert_true(
			rmh_send(cb->c, "B%d %s", round, rival_cmd(rival)));
		{
			char ta[16], tb[16];

			snprintf(ta, sizeof(ta), "A%d ", round);
			snprintf(tb, sizeof(tb), "B%d ", round);
			ra = imc_until(ca, ta, 15);
			rb = imc_until(cb, tb, 15);
		}
		g_assert_nonnull(ra);
		g_assert_nonnull(rb);
		copyuids += copyuid_count(ra);
		if (rival == R_MOVE)
			copyuids += copyuid_count(rb);
		g_free(ra);
		g_free(rb);
	}
	imc_close(cb);
	h = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	count_subjects(ca, "INBOX", h);
	count_subjects(ca, "Dst", h);
	for (round = 1; round <= total / PER_ROUND; round++)
		for (i = 0; i < PER_ROUND; i++) {
			char subj[32];
			int n;

			snprintf(subj, sizeof(subj), "r%dm%d", round, i);
			n = GPOINTER_TO_INT(g_hash_table_lookup(h, subj));
			dups += n > 1;
			lost += n == 0;
		}
	g_test_message("%d messages: %d duplicated, %d gone, %d COPYUIDs",
		       total, dups, lost, copyuids);
	g_assert_cmpint(dups, ==, 0);
	if (rival != R_EXPUNGE)
		g_assert_cmpint(lost, ==, 0);
	{
		/* every UID a COPYUID named is in Dst, and no other */
		char *r = imc_ok(ca, "STATUS Dst (MESSAGES)");
		char *want = g_strdup_printf("(MESSAGES %d)", copyuids);

		has(r, want);
		g_free(want);
		g_free(r);
	}
	g_hash_table_destroy(h);
	imc_close(ca);
	imd_stop(b);
	imd_stop(a);
}

static void test_race_move(void)
{
	race(R_MOVE);
}

static void test_race_expunge(void)
{
	race(R_EXPUNGE);
}

static void test_race_flags(void)
{
	race(R_FLAGS);
}

/*
 * COPY of a message another process expunged after this session last
 * looked: RFC 2180 4.4.1 NO [EXPUNGEISSUED], never "[TRYCREATE] No such
 * mailbox" for a mailbox that exists.
 */
static void test_copy_expunged(void)
{
	struct imd *a = imd_start("\"allow_cleartext_login_loopback\": true");
	struct imd *b;
	struct imc *ca, *cb;
	char *r;
	int i;

	imd_user(a, USER, PW, 0);
	b = imd_twin(a);
	ca = imc_login(a, USER, PW);
	cb = imc_login(b, USER, PW);
	g_free(imc_ok(ca, "CREATE Dst"));
	for (i = 0; i < 5; i++) {
		append(ca, "INBOX", "gone");
		g_free(imc_ok(ca, "SELECT INBOX"));
		g_free(imc_ok(cb, "SELECT INBOX"));
		g_free(imc_ok(cb, "STORE 1:* +FLAGS.SILENT (\\Deleted)"));
		g_free(imc_ok(cb, "EXPUNGE"));
		r = imc_cmd(ca, "UID COPY 1:* Dst");
		g_test_message("COPY after the other's EXPUNGE: %s", r);
		g_assert_null(strstr(r, "TRYCREATE"));
		g_assert_true(strstr(r, "OK [COPYUID") != NULL ||
			      strstr(r, "NO [EXPUNGEISSUED]") != NULL);
		g_free(r);
		g_free(imc_ok(ca, "NOOP"));
	}
	imc_close(ca);
	imc_close(cb);
	imd_stop(b);
	imd_stop(a);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/procs/keywords", test_keywords);
	g_test_add_func("/imap/procs/race-move-move", test_race_move);
	g_test_add_func("/imap/procs/race-move-expunge", test_race_expunge);
	g_test_add_func("/imap/procs/race-move-flags", test_race_flags);
	g_test_add_func("/imap/procs/copy-expunged", test_copy_expunged);
	return g_test_run();
}
