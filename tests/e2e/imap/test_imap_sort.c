/*
 * SORT, THREAD (RFC 5256), SORT=DISPLAY (RFC 5957) and ESORT (RFC
 * 5267) against the real daemon: every sort key and REVERSE on six
 * messages built so each key orders them differently (encoded-word
 * subjects and names, a Date with a zone, missing Dates that fall back
 * to the internal date, "Re:", "[fwd: ...]" and "(fwd)"), both
 * threading algorithms, UID forms after an expunge, the grammar's
 * refusals, a cached second run, and Python's imaplib as a client.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap_client.h"

static struct imd *D;

static const struct {
	const char *idate;
	const char *hdr;
	int body;
} msgs[] = {
	{"10-Jan-2023 10:00:00 +0000",
	 "From: Carol <carol@t.test>\r\nTo: zoe@t.test\r\n"
	 "Date: Sun, 01 Jan 2023 10:00:00 +0000\r\nSubject: apple\r\n"
	 "Message-ID: <a1@t>\r\n",
	 60},
	{"11-Jan-2023 10:00:00 +0000",
	 "From: \"Zack\" <alice@t.test>\r\nTo: \"Bob\" <bob@t.test>\r\n"
	 "Date: Sun, 1 Jan 2023 11:00:00 +0000\r\nSubject: Re: apple\r\n"
	 "Message-ID: <a2@t>\r\nReferences: <a1@t>\r\n",
	 10},
	{"09-Jan-2023 10:00:00 +0000",
	 "From: \"bob\" <bob@t.test>\r\nCc: x@t.test\r\n"
	 "Date: Sat, 31 Dec 2022 09:00:00 -0500\r\nSubject: pear\r\n"
	 "Message-ID: <p1@t>\r\n",
	 50},
	{"12-Jan-2023 10:00:00 +0000",
	 "From: dave@t.test\r\nDate: 2 Jan 2023 08:00 +0000\r\n"
	 "Subject: [fwd: apple]\r\nMessage-ID: <a3@t>\r\n",
	 20},
	{"03-Jan-2023 00:00:00 +0000",
	 "Subject: Re: [list] pear (fwd)\r\nIn-Reply-To: <p1@t>\r\n"
	 "Message-ID: <p2@t>\r\n",
	 40},
	{"04-Jan-2023 00:00:00 +0000",
	 "From: =?UTF-8?Q?=C3=89mile?= <emile@t.test>\r\n"
	 "Subject: =?UTF-8?B?w4lsYW4=?=\r\nMessage-ID: <e1@t>\r\n"
	 "References: <a1@t> <a2@t>\r\n",
	 30},
};

#define NMSG (sizeof(msgs) / sizeof(msgs[0]))

static size_t sizes[NMSG];

static struct imc *six_in(struct imd *d, const char *name)
{
	struct imc *c = imc_fresh(d, name);
	size_t i;

	for (i = 0; i < NMSG; i++) {
		char *body = g_strnfill((gsize)msgs[i].body, 'x');
		char *m = g_strdup_printf("%s\r\n%s\r\n", msgs[i].hdr, body);

		sizes[i] = strlen(m);
		g_free(imc_ok(c, "APPEND INBOX \"%s\" {%zu+}\r\n%s",
			      msgs[i].idate, strlen(m), m));
		g_free(m);
		g_free(body);
	}
	g_free(imc_ok(c, "SELECT INBOX"));
	return c;
}

static struct imc *six(const char *name)
{
	return six_in(D, name);
}

static void sort_is(struct imc *c, const char *cmd, const char *want)
{
	char *r = imc_ok(c, "%s", cmd);
	char *line = g_strdup_printf("* SORT%s%s\n", *want ? " " : "", want);

	has(r, line);
	g_free(line);
	g_free(r);
}

static void thread_is(struct imc *c, const char *cmd, const char *want)
{
	char *r = imc_ok(c, "%s", cmd);
	char *line = g_strdup_printf("* THREAD%s%s\n", *want ? " " : "", want);

	has(r, line);
	g_free(line);
	g_free(r);
}

/* RFC 7162 3.1.5: a MODSEQ key adds the highest modseq matched */
static void test_modseq(void)
{
	struct imc *c = six("modseq");
	char *r, *want, *p;
	unsigned long long hi = 0, m;

	g_free(imc_ok(c, "STORE 2 +FLAGS (\\Flagged)"));
	r = imc_ok(c, "FETCH 1:* (MODSEQ)");
	for (p = r; (p = strstr(p, "MODSEQ (")) != NULL; p++) {
		m = strtoull(p + 8, NULL, 10);
		if (m > hi)
			hi = m;
	}
	g_free(r);
	g_assert_cmpuint(hi, >, 0);
	r = imc_ok(c, "SORT (DATE) UTF-8 MODSEQ 1");
	want = g_strdup_printf("* SORT 3 1 2 4 5 6 (MODSEQ %llu)\n", hi);
	has(r, want);
	g_free(want);
	g_free(r);
	r = imc_ok(c, "UID SORT (REVERSE DATE) UTF-8 MODSEQ %llu", hi);
	want = g_strdup_printf("* SORT 2 (MODSEQ %llu)\n", hi);
	has(r, want);
	g_free(want);
	g_free(r);
	r = imc_ok(c, "SORT RETURN (COUNT) (DATE) UTF-8 MODSEQ 1");
	want = g_strdup_printf("* ESEARCH (TAG \"t%u\") COUNT 6 MODSEQ %llu\n",
			       c->seq, hi);
	has(r, want);
	g_free(want);
	g_free(r);
	/* no match: no MODSEQ */
	r = imc_ok(c, "SORT (DATE) UTF-8 MODSEQ %llu", hi + 1);
	has(r, "* SORT\n");
	g_free(r);
	imc_close(c);
}

/* the index's INBOX high-water UID of user `u`, 0 when none */
static unsigned idx_hwm(struct imd *d, const char *u)
{
	char *p = g_strdup_printf("%s/index/%s.sqlite", rmh_dir(d->h), u);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	unsigned v = 0;

	if (access(p, F_OK) == 0 &&
	    sqlite3_open_v2(p, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db,
			       "SELECT max(hwm) FROM mbox WHERE name='INBOX'",
			       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = (unsigned)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	g_free(p);
	return v;
}

static void idx_exec(struct imd *d, const char *u, const char *sql)
{
	char *p = g_strdup_printf("%s/index/%s.sqlite", rmh_dir(d->h), u);
	sqlite3 *db = NULL;

	g_assert_cmpint(sqlite3_open_v2(p, &db, SQLITE_OPEN_READWRITE, NULL),
			==, SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	g_assert_cmpint(sqlite3_exec(db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
	sqlite3_close(db);
	g_free(p);
}

static void restart(struct imd *d, bool index)
{
	g_assert_cmpint(rmh_stop(d->h), ==, 0);
	rmh_setf(d->h, "index", "{\"enabled\": %s}", index ? "true" : "false");
	rmh_write_config(d->h);
	g_assert_true(rmh_start(d->h));
}

static const char *const idx_cmds[] = {
	"SORT (SUBJECT) UTF-8 ALL",
	"SORT (DATE) UTF-8 ALL",
	"SORT (FROM) UTF-8 ALL",
	"SORT (REVERSE TO) UTF-8 ALL",
	"SORT (CC DATE) UTF-8 ALL",
	"SORT (DISPLAYFROM) UTF-8 ALL",
	"SORT (DISPLAYTO ARRIVAL) UTF-8 ALL",
	"THREAD REFERENCES UTF-8 ALL",
	"THREAD ORDEREDSUBJECT UTF-8 ALL",
};

#define NIDX (sizeof(idx_cmds) / sizeof(idx_cmds[0]))

/* the untagged line of cmd, in a new session (so a fresh view) */
static void idx_answers(struct imd *d, char **out)
{
	struct imc *c = imc_login(d, "sidx@example.test", "pw-secret");

	g_free(imc_ok(c, "SELECT INBOX"));
	for (size_t i = 0; i < NIDX; i++) {
		char *r = imc_ok(c, "%s", idx_cmds[i]);
		char *e = strchr(r, '\n');

		out[i] = g_strndup(r, e != NULL ? (size_t)(e - r) : strlen(r));
		g_free(r);
	}
	imc_close(c);
}

/*
 * SORT and THREAD take their header fields from the core's header cache
 * when it has them: the same answers as reading every message, and a
 * row changed in the cache shows (so the messages were not read).
 */
static void test_index(void)
{
	struct imd *d = imd_start("\"allow_cleartext_login_loopback\": true");
	struct imc *c = six_in(d, "sidx");
	char *with[NIDX], *without[NIDX];
	char *r;

	for (int i = 0; i < 200 && idx_hwm(d, "sidx@example.test") < NMSG;
	     i++) {
		g_free(imc_ok(c, "SEARCH SUBJECT nothing-here"));
		g_usleep(50 * 1000);
	}
	g_assert_cmpuint(idx_hwm(d, "sidx@example.test"), >=, NMSG);
	imc_close(c);
	/* a fresh process: no records cached in memory */
	restart(d, true);
	idx_answers(d, with);
	restart(d, false);
	idx_answers(d, without);
	for (size_t i = 0; i < NIDX; i++) {
		g_test_message("%s: %s", idx_cmds[i], with[i]);
		g_assert_cmpstr(with[i], ==, without[i]);
		g_free(with[i]);
		g_free(without[i]);
	}
	/* the cache answers: message 1 ("apple") now sorts last */
	idx_exec(d, "sidx@example.test",
		 "UPDATE hdr SET subject='zzz' WHERE uid=1");
	restart(d, true);
	c = imc_login(d, "sidx@example.test", "pw-secret");
	g_free(imc_ok(c, "SELECT INBOX"));
	r = imc_ok(c, "SORT (SUBJECT) UTF-8 ALL");
	has(r, "* SORT 2 4 6 3 5 1\n");
	g_free(r);
	imc_close(c);
	/* disabled: the messages are the truth again */
	restart(d, false);
	c = imc_login(d, "sidx@example.test", "pw-secret");
	g_free(imc_ok(c, "SELECT INBOX"));
	r = imc_ok(c, "SORT (SUBJECT) UTF-8 ALL");
	has(r, "* SORT 1 2 4 6 3 5\n");
	g_free(r);
	imc_close(c);
	imd_stop(d);
}

static void test_capability(void)
{
	struct imc *c = imc_fresh(D, "cap");
	char *r = imc_ok(c, "CAPABILITY");

	has(r, " SORT ");
	has(r, " SORT=DISPLAY ");
	has(r, " ESORT ");
	has(r, " THREAD=ORDEREDSUBJECT ");
	has(r, " THREAD=REFERENCES ");
	hasnt(r, "CONTEXT=SORT");
	g_free(r);
	imc_close(c);
}

static void test_keys(void)
{
	struct imc *c = six("keys");
	GString *want = g_string_new(NULL);
	size_t order[NMSG], i, j;

	sort_is(c, "SORT (SUBJECT) UTF-8 ALL", "1 2 4 6 3 5");
	sort_is(c, "SORT (DATE) UTF-8 ALL", "3 1 2 4 5 6");
	sort_is(c, "SORT (REVERSE DATE) UTF-8 ALL", "6 5 4 2 1 3");
	sort_is(c, "SORT (ARRIVAL) US-ASCII ALL", "5 6 3 1 2 4");
	sort_is(c, "SORT (FROM) UTF-8 ALL", "5 2 3 1 4 6");
	sort_is(c, "SORT (DISPLAYFROM) UTF-8 ALL", "5 3 1 4 6 2");
	sort_is(c, "SORT (TO) UTF-8 ALL", "3 4 5 6 2 1");
	sort_is(c, "SORT (DISPLAYTO) UTF-8 ALL", "3 4 5 6 2 1");
	sort_is(c, "SORT (REVERSE CC) UTF-8 ALL", "3 1 2 4 5 6");
	sort_is(c, "SORT (CC) UTF-8 ALL", "1 2 4 5 6 3");
	sort_is(c, "SORT (SUBJECT REVERSE DATE) UTF-8 ALL", "4 2 1 6 5 3");
	/* SIZE, from what was appended; ties by sequence number */
	for (i = 0; i < NMSG; i++)
		order[i] = i;
	for (i = 1; i < NMSG; i++)
		for (j = i; j > 0 && sizes[order[j]] < sizes[order[j - 1]];
		     j--) {
			size_t t = order[j];

			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	for (i = 0; i < NMSG; i++)
		g_string_append_printf(want, "%s%zu", i ? " " : "",
				       order[i] + 1);
	sort_is(c, "SORT (SIZE) UTF-8 ALL", want->str);
	g_string_free(want, TRUE);
	/* the criteria narrow what is sorted (a text key: on the pool) */
	sort_is(c, "SORT (REVERSE ARRIVAL) UTF-8 SUBJECT apple", "4 2 1");
	sort_is(c, "SORT (DATE) UTF-8 3:5 NOT 4", "3 5");
	sort_is(c, "SORT (DATE) UTF-8 SUBJECT nothing-like-this", "");
	/* a second run comes from the cache: the same */
	sort_is(c, "SORT (SUBJECT) UTF-8 ALL", "1 2 4 6 3 5");
	/* a new message is read, the others still come from the cache */
	g_free(imc_ok(c, "APPEND INBOX {%zu+}\r\n%s",
		      strlen("Date: 1 Jan 2000 00:00 +0000\r\n"
			     "Subject: Banana\r\n\r\nx\r\n"),
		      "Date: 1 Jan 2000 00:00 +0000\r\n"
		      "Subject: Banana\r\n\r\nx\r\n"));
	g_free(imc_ok(c, "NOOP"));
	sort_is(c, "SORT (DATE) UTF-8 ALL", "7 3 1 2 4 5 6");
	sort_is(c, "SORT (SUBJECT) UTF-8 ALL", "1 2 4 7 6 3 5");
	imc_close(c);
}

static void test_thread(void)
{
	struct imc *c = six("thread");

	thread_is(c, "THREAD ORDEREDSUBJECT UTF-8 ALL", "(3 5)(1 (2)(4))(6)");
	thread_is(c, "THREAD REFERENCES UTF-8 ALL", "(3 5)(1 (2 6)(4))");
	thread_is(c, "THREAD REFERENCES UTF-8 NOT SUBJECT pear",
		  "(1 (2 6)(4))");
	thread_is(c, "THREAD REFERENCES UTF-8 DELETED", "");
	imc_close(c);
}

static void test_uid(void)
{
	struct imc *c = six("uid");

	g_free(imc_ok(c, "STORE 1 +FLAGS.SILENT (\\Deleted)"));
	g_free(imc_ok(c, "EXPUNGE"));
	sort_is(c, "UID SORT (DATE) UTF-8 ALL", "3 2 4 5 6");
	sort_is(c, "SORT (DATE) UTF-8 ALL", "2 1 3 4 5");
	/* without the root, 2 and 6 stay one thread; 4 and 2 both had
	 * their subject cut ("[fwd:", "Re:"): a dummy holds the two */
	thread_is(c, "UID THREAD REFERENCES UTF-8 ALL", "(3 5)((2 6)(4))");
	thread_is(c, "UID THREAD ORDEREDSUBJECT UTF-8 ALL", "(3 5)(2 4)(6)");
	imc_close(c);
}

/* RFC 5267: RETURN before the criteria; ALL in sort order */
static void test_esort(void)
{
	struct imc *c = six("esort");
	char *r, *want;

	r = imc_ok(c, "SORT RETURN (MIN MAX ALL COUNT) (DATE) UTF-8 ALL");
	want = g_strdup_printf("* ESEARCH (TAG \"t%u\") MIN 3 MAX 6 ALL "
			       "3,1:2,4:6 COUNT 6\n",
			       c->seq);
	has(r, want);
	hasnt(r, "* SORT");
	g_free(want);
	g_free(r);
	r = imc_ok(c, "UID SORT RETURN (COUNT) (SUBJECT) UTF-8 SUBJECT pear");
	want = g_strdup_printf("* ESEARCH (TAG \"t%u\") UID COUNT 2\n", c->seq);
	has(r, want);
	g_free(want);
	g_free(r);
	r = imc_ok(c, "SORT RETURN () (REVERSE SIZE) UTF-8 DELETED");
	want = g_strdup_printf("* ESEARCH (TAG \"t%u\")\n", c->seq);
	has(r, want);
	g_free(want);
	g_free(r);
	/* SAVE keeps the set; "$" then works like a SEARCH's */
	r = imc_ok(c, "SORT RETURN (SAVE) (DATE) UTF-8 SUBJECT apple");
	hasnt(r, "ESEARCH");
	g_free(r);
	r = imc_ok(c, "SEARCH $");
	has(r, "* SEARCH 1 2 4\n");
	g_free(r);
	imc_close(c);
}

static void test_grammar(void)
{
	struct imc *c = six("grammar");
	static const char *const bad[] = {
		"SORT DATE UTF-8 ALL",
		"SORT () UTF-8 ALL",
		"SORT (REVERSE) UTF-8 ALL",
		"SORT (REVERSE REVERSE DATE) UTF-8 ALL",
		"SORT (FOO) UTF-8 ALL",
		"SORT (DATE) UTF-8",
		"SORT (DATE)",
		"SORT (DATE) UTF-8 FOO",
		"SORT RETURN (PARTIAL 1:5) (DATE) UTF-8 ALL",
		"THREAD FOO UTF-8 ALL",
		"THREAD REFERENCES",
		"THREAD (REFERENCES) UTF-8 ALL",
		"UID THREAD REFERENCES UTF-8",
	};
	size_t i;
	char *r;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = imc_cmd(c, "%s", bad[i]);
		has(r, " BAD ");
		g_free(r);
	}
	r = imc_cmd(c, "SORT (DATE) KOI8-R ALL");
	has(r, " NO [BADCHARSET");
	g_free(r);
	r = imc_cmd(c, "THREAD REFERENCES ISO-8859-1 ALL");
	has(r, " NO [BADCHARSET");
	g_free(r);
	/* keys are case-insensitive atoms; the charset may be quoted */
	sort_is(c, "sort (reverse date) \"utf-8\" all", "6 5 4 2 1 3");
	g_free(imc_ok(c, "UNSELECT"));
	r = imc_cmd(c, "SORT (DATE) UTF-8 ALL");
	has(r, " BAD ");
	g_free(r);
	imc_close(c);
}

/*
 * A cold SORT over big headers runs on the READ pool: another session's
 * NOOP is answered meanwhile; a hang-up mid-SORT cancels the job.
 */
static void test_not_blocking(void)
{
	struct imc *a = imc_fresh(D, "block"), *b;
	GString *big = g_string_new(NULL);
	gint64 t0, t_noop;
	char *r;
	int i;

	while (big->len < 600 * 1024)
		g_string_append_printf(big, "X-Filler-%zu: %s\r\n", big->len,
				       "Lorem ipsum dolor sit amet consectetur "
				       "adipiscing elit sed do eiusmod");
	for (i = 0; i < 40; i++)
		g_free(imc_ok(a,
			      "APPEND INBOX {%zu+}\r\nSubject: s%d\r\n%s\r\nx"
			      "\r\n",
			      big->len + strlen("Subject: s\r\n\r\nx\r\n") +
				      (i > 9 ? 2 : 1),
			      i, big->str));
	g_string_free(big, TRUE);
	g_free(imc_ok(a, "SELECT INBOX"));
	b = imc_login(D, "block@example.test", "pw-secret");
	g_free(imc_ok(b, "SELECT INBOX"));
	g_assert_true(rmh_send(a->c, "s1 SORT (SUBJECT) UTF-8 ALL\r\n"));
	t0 = g_get_monotonic_time();
	g_free(imc_ok(b, "NOOP"));
	t_noop = g_get_monotonic_time() - t0;
	/* answered while the 24 MB of headers were still being read */
	g_assert_false(rmh_pending(a->c));
	r = imc_until(a, "s1 ", 60);
	g_assert_nonnull(r);
	has(r, "* SORT 1 2 11 ");
	has(r, "s1 OK");
	g_test_message("NOOP during the cold SORT: %.1f ms", t_noop / 1000.0);
	g_free(r);
	g_assert_true(rmh_send(a->c, "s2 THREAD REFERENCES UTF-8 ALL\r\n"));
	imc_close(a);
	r = imc_ok(b, "UID SORT (REVERSE SUBJECT) UTF-8 1:3");
	has(r, "* SORT 3 2 1\n");
	g_free(r);
	imc_close(b);
}

/* a real client library parses our answers */
static void test_imaplib(void)
{
	struct imc *c = six("py");
	char *script, *out = NULL, *err = NULL;
	char *argv[] = {"python3", "-c", NULL, NULL};
	gint status = -1;

	imc_close(c);
	script = g_strdup_printf(
		"import imaplib\n"
		"m = imaplib.IMAP4('127.0.0.1', %u)\n"
		"m.login('py@example.test', 'pw-secret')\n"
		"m.select('INBOX')\n"
		"t, d = m.sort('(DATE)', 'UTF-8', 'ALL')\n"
		"print(t, d[0].decode())\n"
		"t, d = m.uid('SORT', '(REVERSE SUBJECT)', 'UTF-8', 'ALL')\n"
		"print(t, d[0].decode())\n"
		"t, d = m.thread('REFERENCES', 'UTF-8', 'ALL')\n"
		"print(t, d[0].decode())\n"
		"m.logout()\n",
		D->port);
	argv[2] = script;
	g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
				   NULL, &out, &err, &status, NULL));
	if (status != 0)
		g_test_message("python: %s %s", out, err);
	g_assert_cmpint(status, ==, 0);
	has(out, "OK 3 1 2 4 5 6\n");
	has(out, "OK 3 5 6 1 2 4\n");
	has(out, "OK (3 5)(1 (2 6)(4))\n");
	g_free(out);
	g_free(err);
	g_free(script);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/sort/capability", test_capability);
	g_test_add_func("/imap/sort/keys", test_keys);
	g_test_add_func("/imap/sort/thread", test_thread);
	g_test_add_func("/imap/sort/uid", test_uid);
	g_test_add_func("/imap/sort/esort", test_esort);
	g_test_add_func("/imap/sort/grammar", test_grammar);
	g_test_add_func("/imap/sort/imaplib", test_imaplib);
	g_test_add_func("/imap/sort/not-blocking", test_not_blocking);
	g_test_add_func("/imap/sort/modseq", test_modseq);
	g_test_add_func("/imap/sort/index", test_index);
	D = imd_start("\"allow_cleartext_login_loopback\": true");
	rc = g_test_run();
	imd_stop(D);
	return rc;
}
