/*
 * CONDSTORE and QRESYNC (RFC 7162, issue 19) against the real daemon:
 * the RFC's examples as transcripts (the modseq values are the store's,
 * so they are read from the replies, never written in), the
 * enabling rules, VANISHED for every kind of expunge (own, another
 * session's, another process's, MOVE), the resync of a client that was
 * away, and the parameters as hostile input.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_client.h"

#define PW "pw-secret"
#define USER "cs@example.test"

/* the reply is in the log when it fails */

static struct imd *start(void)
{
	struct imd *d = imd_start("\"allow_cleartext_login_loopback\": true");

	imd_user(d, USER, PW, 0);
	return d;
}

/* a second daemon on the first one's mail root */
static struct imd *twin(struct imd *a)
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

static void append(struct imc *c, const char *subject)
{
	char *body = g_strdup_printf("Subject: %s\r\n\r\nbody\r\n", subject);

	g_free(imc_ok(c, "APPEND INBOX {%zu+}\r\n%s", strlen(body), body));
	g_free(body);
}

/* another session claims \Recent, so FLAGS are what the test set */
static void settle(struct imd *d)
{
	struct imc *x = imc_login(d, USER, PW);

	g_free(imc_ok(x, "SELECT INBOX"));
	imc_close(x);
}

/* the number after `key` in r (the first one), or fail */
static uint64_t num_after(const char *r, const char *key)
{
	const char *p = strstr(r, key);

	if (p == NULL)
		g_test_message("no %s in:\n%s", key, r);
	g_assert_nonnull(p);
	return g_ascii_strtoull(p + strlen(key), NULL, 10);
}

/* the MODSEQ of the FETCH line of UID uid in r, 0 when none */
static uint64_t modseq_of(const char *r, unsigned uid)
{
	char **lines = g_strsplit(r, "\n", -1);
	char key[32];
	uint64_t v = 0;
	int i;

	snprintf(key, sizeof(key), "UID %u ", uid);
	for (i = 0; lines[i] != NULL; i++) {
		char *l = lines[i], *k = strstr(l, key);

		if (strstr(l, " FETCH (") == NULL || k == NULL)
			continue;
		if (strstr(l, "MODSEQ (") != NULL)
			v = num_after(l, "MODSEQ (");
	}
	g_strfreev(lines);
	return v;
}

static int count_lines(const char *r, const char *what)
{
	char **lines = g_strsplit(r, "\n", -1);
	int i, n = 0;

	for (i = 0; lines[i] != NULL; i++)
		if (strstr(lines[i], what) != NULL)
			n++;
	g_strfreev(lines);
	return n;
}

/* FETCH lines of UIDs not in `uids` (a comma list) with a known modseq */
static int unexpected(const char *r, const char *uids)
{
	char **lines = g_strsplit(r, "\n", -1), **want;
	int i, j, n = 0;

	want = g_strsplit(uids, ",", -1);
	for (i = 0; lines[i] != NULL; i++) {
		const char *u = strstr(lines[i], "(UID ");
		bool ok = false;

		if (strstr(lines[i], " FETCH (") == NULL || u == NULL ||
		    strstr(lines[i], "MODSEQ (1))") != NULL)
			continue;
		for (j = 0; want[j] != NULL; j++)
			if (g_ascii_strtoull(u + 5, NULL, 10) ==
			    g_ascii_strtoull(want[j], NULL, 10))
				ok = true;
		if (!ok) {
			g_test_message("unexpected: %s", lines[i]);
			n++;
		}
	}
	g_strfreev(want);
	g_strfreev(lines);
	return n;
}

/*
 * FETCH lines of messages whose modseq the store knows.  A store that
 * lost one (0, shown as MODSEQ (1)) has it counted as changed since
 * anything (docs/imap.md): such lines are extra, never missing, so the
 * exact counts are of the others.
 */
static int count_changed(const char *r)
{
	return count_lines(r, " FETCH (") - count_lines(r, "MODSEQ (1))");
}

static struct imc *login_enable(struct imd *d, const char *what)
{
	struct imc *c = imc_login(d, USER, PW);
	char *r = imc_ok(c, "ENABLE %s", what);

	g_free(r);
	return c;
}

/* ---- CONDSTORE ---------------------------------------------------- */

static void test_capability(void)
{
	struct imd *d = start();
	struct imc *c = imc_login(d, USER, PW);
	char *r;

	r = imc_ok(c, "CAPABILITY");
	has(r, " CONDSTORE");
	has(r, " QRESYNC");
	g_free(r);
	/* RFC 5161: ENABLED lists what this command turned on */
	r = imc_ok(c, "ENABLE CONDSTORE X-UNKNOWN");
	has(r, "* ENABLED CONDSTORE\n");
	g_free(r);
	r = imc_ok(c, "ENABLE CONDSTORE");
	has(r, "* ENABLED\n");
	g_free(r);
	r = imc_ok(c, "ENABLE QRESYNC");
	has(r, "* ENABLED QRESYNC\n");
	g_free(r);
	imc_close(c);
	imd_stop(d);
}

/* RFC 7162 3.1.2.1, 3.1.4: HIGHESTMODSEQ and MODSEQ per message */
static void test_select_fetch(void)
{
	struct imd *d = start();
	struct imc *c = imc_login(d, USER, PW);
	uint64_t h, m1;
	char *r;

	append(c, "one");
	append(c, "two");
	/* a plain SELECT says nothing of modseqs */
	r = imc_ok(c, "SELECT INBOX");
	hasnt(r, "HIGHESTMODSEQ");
	g_free(r);
	r = imc_ok(c, "FETCH 1:* (FLAGS)");
	hasnt(r, "MODSEQ");
	g_free(r);
	/* SELECT (CONDSTORE) enables it */
	r = imc_ok(c, "SELECT INBOX (CONDSTORE)");
	has(r, "* OK [HIGHESTMODSEQ ");
	hasnt(r, "NOMODSEQ");
	h = num_after(r, "[HIGHESTMODSEQ ");
	g_assert_cmpuint(h, >=, 1);
	g_free(r);
	r = imc_ok(c, "FETCH 1:* (FLAGS MODSEQ)");
	g_assert_cmpint(count_lines(r, "MODSEQ ("), ==, 2);
	m1 = modseq_of(r, 1);
	g_assert_cmpuint(m1, >=, 1);
	g_assert_cmpuint(m1, <=, h);
	g_free(r);
	/* once enabled, every FETCH with flags carries UID and MODSEQ */
	r = imc_ok(c, "FETCH 2 (FLAGS)");
	has(r, "* 2 FETCH (UID 2 FLAGS () MODSEQ (");
	g_free(r);
	r = imc_ok(c, "STATUS INBOX (MESSAGES HIGHESTMODSEQ)");
	has(r, "(MESSAGES 2 HIGHESTMODSEQ ");
	g_free(r);
	imc_close(c);

	/* FETCH MODSEQ alone is a CONDSTORE enabling command (3.1) */
	c = imc_login(d, USER, PW);
	g_free(imc_ok(c, "EXAMINE INBOX"));
	r = imc_ok(c, "FETCH 1 (MODSEQ)");
	has(r, "* OK [HIGHESTMODSEQ ");
	has(r, "* 1 FETCH (MODSEQ (");
	g_free(r);
	imc_close(c);
	imd_stop(d);
}

/* RFC 7162 3.1.4.1: FETCH (CHANGEDSINCE), and changes of others */
static void test_changedsince(void)
{
	struct imd *d = start();
	struct imc *c = imc_login(d, USER, PW), *o;
	uint64_t h, m2, m3;
	char *r;

	append(c, "a");
	append(c, "b");
	append(c, "c");
	settle(d);
	r = imc_ok(c, "SELECT INBOX (CONDSTORE)");
	h = num_after(r, "[HIGHESTMODSEQ ");
	g_free(r);
	r = imc_ok(c, "STORE 2 +FLAGS (\\Flagged)");
	has(r, "* 2 FETCH (FLAGS (\\Flagged) UID 2 MODSEQ (");
	m2 = num_after(r, "MODSEQ (");
	g_assert_cmpuint(m2, >, h);
	g_free(r);
	r = imc_ok(c, "FETCH 1:* (FLAGS) (CHANGEDSINCE %llu)",
		   (unsigned long long)h);
	g_assert_cmpint(count_changed(r), ==, 1);
	has(r, "* 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ (");
	g_free(r);
	r = imc_ok(c, "FETCH 1:* (FLAGS) (CHANGEDSINCE %llu)",
		   (unsigned long long)m2);
	g_assert_cmpint(count_changed(r), ==, 0);
	g_free(r);

	/* another session's change arrives with its MODSEQ */
	o = imc_login(d, USER, PW);
	g_free(imc_ok(o, "SELECT INBOX"));
	g_free(imc_ok(o, "STORE 3 +FLAGS (\\Seen)"));
	r = imc_ok(c, "NOOP");
	has(r, "* 3 FETCH (UID 3 FLAGS (\\Seen) MODSEQ (");
	m3 = num_after(r, "MODSEQ (");
	g_assert_cmpuint(m3, >, m2);
	g_free(r);
	r = imc_ok(c, "UID FETCH 1:* (FLAGS) (CHANGEDSINCE %llu)",
		   (unsigned long long)m2);
	g_assert_cmpint(count_changed(r), ==, 1);
	has(r, "UID 3");
	g_free(r);
	imc_close(o);
	imc_close(c);
	imd_stop(d);
}

/* RFC 7162 3.1.3: STORE (UNCHANGEDSINCE) and [MODIFIED] */
static void test_unchangedsince(void)
{
	struct imd *d = start();
	struct imc *c = imc_login(d, USER, PW), *o;
	uint64_t h;
	char *r;
	int i;

	for (i = 0; i < 4; i++)
		append(c, "u");
	settle(d);
	r = imc_ok(c, "SELECT INBOX (CONDSTORE)");
	h = num_after(r, "[HIGHESTMODSEQ ");
	g_free(r);
	o = imc_login(d, USER, PW);
	g_free(imc_ok(o, "SELECT INBOX"));
	g_free(imc_ok(o, "STORE 2 +FLAGS (\\Answered)"));
	/* the example: 2 changed since, so it is left out */
	r = imc_ok(c,
		   "STORE 1:3 (UNCHANGEDSINCE %llu) +FLAGS.SILENT "
		   "(\\Deleted)",
		   (unsigned long long)h);
	has(r, " OK [MODIFIED 2] ");
	has(r, "* 1 FETCH (UID 1 MODSEQ (");
	has(r, "* 3 FETCH (UID 3 MODSEQ (");
	hasnt(r, "* 2 FETCH (UID 2 MODSEQ");
	g_free(r);
	r = imc_ok(c, "UID FETCH 1:4 (FLAGS)");
	g_assert_cmpint(count_lines(r, "\\Deleted"), ==, 2);
	g_free(r);
	/* UNCHANGEDSINCE 0 always fails; UID STORE names UIDs */
	r = imc_ok(c, "UID STORE 1:4 (UNCHANGEDSINCE 0) FLAGS (\\Seen)");
	has(r, " OK [MODIFIED 1:4] ");
	hasnt(r, "\\Seen");
	g_free(r);
	/* with the current modseq it succeeds */
	r = imc_ok(c, "FETCH 4 (MODSEQ)");
	h = num_after(r, "MODSEQ (");
	g_free(r);
	r = imc_ok(c, "STORE 4 (UNCHANGEDSINCE %llu) +FLAGS (\\Seen)",
		   (unsigned long long)h);
	has(r, "* 4 FETCH (FLAGS (\\Seen) UID 4 MODSEQ (");
	hasnt(r, "MODIFIED");
	g_assert_cmpuint(num_after(r, "MODSEQ ("), >, h);
	g_free(r);
	imc_close(o);
	imc_close(c);
	imd_stop(d);
}

/* RFC 7162 3.1.5: SEARCH MODSEQ and the (MODSEQ n) of the reply */
static void test_search(void)
{
	struct imd *d = start();
	struct imc *c = imc_login(d, USER, PW);
	uint64_t h, m;
	int lost;
	char *r;

	append(c, "s1");
	append(c, "s2");
	append(c, "s3");
	settle(d);
	g_free(imc_ok(c, "SELECT INBOX"));
	r = imc_ok(c, "FETCH 1 (MODSEQ)");
	h = num_after(r, "[HIGHESTMODSEQ ");
	g_free(r);
	r = imc_ok(c, "STORE 3 +FLAGS (\\Draft)");
	m = num_after(r, "MODSEQ (");
	g_free(r);
	/* a message whose modseq the store lost matches too (MODSEQ 1) */
	r = imc_ok(c, "FETCH 1:* (MODSEQ)");
	lost = count_lines(r, "MODSEQ (1))");
	g_free(r);
	r = imc_ok(c, "SEARCH MODSEQ %llu", (unsigned long long)(h + 1));
	has(r, lost == 0 ? "* SEARCH 3 (MODSEQ " : " 3 (MODSEQ ");
	g_assert_cmpuint(num_after(r, "(MODSEQ "), ==, m);
	g_free(r);
	r = imc_ok(c,
		   "UID SEARCH MODSEQ \"/flags/\\\\draft\" all %llu "
		   "DRAFT",
		   (unsigned long long)(h + 1));
	has(r, "* SEARCH 3 (MODSEQ ");
	g_free(r);
	/* ESEARCH (RFC 4731) carries it as a result item */
	r = imc_ok(c, "UID SEARCH RETURN (ALL COUNT) MODSEQ %llu DRAFT",
		   (unsigned long long)(h + 1));
	has(r, " UID ALL 3 COUNT 1 MODSEQ ");
	g_assert_cmpuint(num_after(r, " MODSEQ "), ==, m);
	g_free(r);
	/* no match: no MODSEQ either */
	r = imc_ok(c, "SEARCH MODSEQ %llu FLAGGED",
		   (unsigned long long)(m + 1));
	has(r, "* SEARCH\n");
	g_free(r);
	imc_close(c);
	imd_stop(d);
}

/* ---- QRESYNC ------------------------------------------------------ */

/* RFC 7162 3.2.10: once QRESYNC is on, every expunge is VANISHED */
static void test_vanished(void)
{
	struct imd *d = start();
	struct imc *c, *o, *p;
	char *r;
	int i;

	c = login_enable(d, "QRESYNC");
	for (i = 0; i < 6; i++)
		append(c, "v");
	settle(d);
	g_free(imc_ok(c, "CREATE Dst"));
	g_free(imc_ok(c, "SELECT INBOX"));
	o = login_enable(d, "QRESYNC");
	g_free(imc_ok(o, "SELECT INBOX"));
	p = imc_login(d, USER, PW); /* without QRESYNC */
	g_free(imc_ok(p, "SELECT INBOX"));

	/* own EXPUNGE */
	g_free(imc_ok(c, "STORE 2,4 +FLAGS.SILENT (\\Deleted)"));
	r = imc_ok(c, "EXPUNGE");
	has(r, "* VANISHED 2,4\n");
	hasnt(r, " EXPUNGE\n");
	has(r, " OK [HIGHESTMODSEQ ");
	g_free(r);
	/* another session's: VANISHED to the QRESYNC one only */
	r = imc_ok(o, "NOOP");
	has(r, "* VANISHED 2,4\n");
	hasnt(r, " EXPUNGE\n");
	g_free(r);
	r = imc_ok(p, "NOOP");
	has(r, "* 4 EXPUNGE\n* 2 EXPUNGE\n");
	hasnt(r, "VANISHED");
	g_free(r);
	/* MOVE */
	r = imc_ok(o, "UID MOVE 5 Dst");
	has(r, "* VANISHED 5\n");
	hasnt(r, " EXPUNGE\n");
	g_free(r);
	r = imc_ok(c, "NOOP");
	has(r, "* VANISHED 5\n");
	g_free(r);
	/* UID EXPUNGE */
	g_free(imc_ok(c, "UID STORE 6 +FLAGS.SILENT (\\Deleted)"));
	r = imc_ok(c, "UID EXPUNGE 6");
	has(r, "* VANISHED 6\n");
	g_free(r);
	r = imc_ok(c, "UID FETCH 1:* (UID)");
	g_assert_cmpint(count_lines(r, " FETCH ("), ==, 2);
	has(r, "* 1 FETCH (UID 1)");
	has(r, "* 2 FETCH (UID 3)");
	g_free(r);
	imc_close(p);
	imc_close(o);
	imc_close(c);
	imd_stop(d);
}

/* RFC 7162 3.2.5.1: SELECT (QRESYNC ...) after being away */
static void test_qresync_select(void)
{
	struct imd *d = start();
	struct imc *c, *o;
	uint64_t h, v;
	char *r;
	int i;

	c = login_enable(d, "QRESYNC");
	for (i = 0; i < 5; i++)
		append(c, "q");
	settle(d);
	r = imc_ok(c, "SELECT INBOX");
	h = num_after(r, "[HIGHESTMODSEQ ");
	v = num_after(r, "[UIDVALIDITY ");
	g_free(r);
	imc_close(c);

	/* while it is away */
	o = imc_login(d, USER, PW);
	g_free(imc_ok(o, "SELECT INBOX"));
	g_free(imc_ok(o, "STORE 1 +FLAGS (\\Seen)"));
	g_free(imc_ok(o, "STORE 3 +FLAGS (\\Deleted)"));
	g_free(imc_ok(o, "EXPUNGE"));
	append(o, "new");

	c = login_enable(d, "QRESYNC");
	r = imc_ok(c, "SELECT INBOX (QRESYNC (%llu %llu))",
		   (unsigned long long)v, (unsigned long long)h);
	has(r, "* VANISHED (EARLIER) 3\n");
	has(r, "FETCH (UID 1 FLAGS (\\Seen) MODSEQ (");
	has(r, "FETCH (UID 6 FLAGS () MODSEQ (");
	/* UIDs 2, 4 and 5 did not change: only as lost modseqs */
	g_assert_cmpint(unexpected(r, "1,6"), ==, 0);
	has(r, "* OK [HIGHESTMODSEQ ");
	g_assert_cmpuint(num_after(r, "[HIGHESTMODSEQ "), >, h);
	g_free(r);
	/* known-uids narrow both answers; seq-match is accepted */
	r = imc_ok(c, "EXAMINE INBOX (QRESYNC (%llu %llu 2:5 (1:3 2,4,5)))",
		   (unsigned long long)v, (unsigned long long)h);
	has(r, "* OK [CLOSED]");
	has(r, "* VANISHED (EARLIER) 3\n");
	g_assert_cmpint(count_changed(r), ==, 0);
	g_free(r);
	/* a wrong UIDVALIDITY is a plain select */
	r = imc_ok(c, "SELECT INBOX (QRESYNC (%llu %llu))",
		   (unsigned long long)v + 1, (unsigned long long)h);
	hasnt(r, "VANISHED");
	g_assert_cmpint(count_lines(r, " FETCH ("), ==, 0);
	has(r, "* OK [HIGHESTMODSEQ ");
	g_free(r);
	/* up to date: nothing to say */
	r = imc_ok(c, "SELECT INBOX");
	h = num_after(r, "[HIGHESTMODSEQ ");
	g_free(r);
	r = imc_ok(c, "SELECT INBOX (QRESYNC (%llu %llu))",
		   (unsigned long long)v, (unsigned long long)h);
	hasnt(r, "VANISHED");
	g_assert_cmpint(count_changed(r), ==, 0);
	g_free(r);
	imc_close(o);
	imc_close(c);

	/* without ENABLE QRESYNC the parameter is refused */
	c = imc_login(d, USER, PW);
	r = imc_cmd(c, "SELECT INBOX (QRESYNC (%llu %llu))",
		    (unsigned long long)v, (unsigned long long)h);
	has(r, " BAD ");
	g_free(r);
	imc_close(c);
	imd_stop(d);
}

/* RFC 7162 3.2.6: UID FETCH (CHANGEDSINCE n VANISHED) */
static void test_fetch_vanished(void)
{
	struct imd *d = start();
	struct imc *c, *o;
	uint64_t h;
	char *r;
	int i;

	c = login_enable(d, "QRESYNC");
	for (i = 0; i < 5; i++)
		append(c, "f");
	settle(d);
	r = imc_ok(c, "SELECT INBOX");
	h = num_after(r, "[HIGHESTMODSEQ ");
	g_free(r);
	o = imc_login(d, USER, PW);
	g_free(imc_ok(o, "SELECT INBOX"));
	g_free(imc_ok(o, "STORE 2,5 +FLAGS (\\Deleted)"));
	g_free(imc_ok(o, "EXPUNGE"));
	g_free(imc_ok(o, "STORE 1 +FLAGS (\\Seen)"));
	r = imc_ok(c, "UID FETCH 1:* (FLAGS) (CHANGEDSINCE %llu VANISHED)",
		   (unsigned long long)h);
	has(r, "* VANISHED (EARLIER) 2,5\n");
	has(r, "FETCH (UID 1 FLAGS (\\Seen) MODSEQ (");
	g_free(r);
	r = imc_cmd(c, "FETCH 1:* (FLAGS) (CHANGEDSINCE %llu VANISHED)",
		    (unsigned long long)h);
	has(r, " BAD ");
	g_free(r);
	imc_close(o);
	imc_close(c);
	c = imc_login(d, USER, PW);
	g_free(imc_ok(c, "SELECT INBOX"));
	r = imc_cmd(c, "UID FETCH 1:* (FLAGS) (CHANGEDSINCE %llu VANISHED)",
		    (unsigned long long)h);
	has(r, " BAD ");
	g_free(r);
	imc_close(c);
	imd_stop(d);
}

/* another process's expunges and flag changes reach both forms */
static void test_two_processes(void)
{
	struct imd *a = start(), *b;
	struct imc *c, *o;
	uint64_t h, v;
	char *r;
	int i;

	b = twin(a);
	c = login_enable(a, "QRESYNC");
	for (i = 0; i < 4; i++)
		append(c, "p");
	settle(a);
	r = imc_ok(c, "SELECT INBOX");
	h = num_after(r, "[HIGHESTMODSEQ ");
	v = num_after(r, "[UIDVALIDITY ");
	g_free(r);
	o = imc_login(b, USER, PW);
	g_free(imc_ok(o, "SELECT INBOX"));
	g_free(imc_ok(o, "STORE 2 +FLAGS (\\Deleted)"));
	g_free(imc_ok(o, "EXPUNGE"));
	g_free(imc_ok(o, "STORE 3 +FLAGS (\\Flagged)"));
	r = imc_ok(c, "NOOP");
	has(r, "* VANISHED 2\n");
	has(r, "FETCH (UID 4 FLAGS (\\Flagged) MODSEQ (");
	g_free(r);
	imc_close(c);
	g_free(imc_ok(o, "STORE 1 +FLAGS (\\Deleted)"));
	g_free(imc_ok(o, "EXPUNGE"));
	c = login_enable(a, "QRESYNC");
	r = imc_ok(c, "SELECT INBOX (QRESYNC (%llu %llu 1:4))",
		   (unsigned long long)v, (unsigned long long)h);
	has(r, "* VANISHED (EARLIER) 1:2\n");
	has(r, "FETCH (UID 4 FLAGS (\\Flagged) MODSEQ (");
	g_free(r);
	imc_close(o);
	imc_close(c);
	imd_stop(b);
	imd_stop(a);
}

/*
 * kill -9 of the daemon between changes: a QRESYNC client that was away
 * across it still gets every expunge and flag change, and no modseq
 * went down.
 */
static void test_kill9(void)
{
	struct imd *d = start();
	struct imc *c, *o;
	uint64_t h, v, m5;
	char *r;
	int i;

	c = login_enable(d, "QRESYNC");
	for (i = 0; i < 6; i++)
		append(c, "k");
	settle(d);
	r = imc_ok(c, "SELECT INBOX");
	h = num_after(r, "[HIGHESTMODSEQ ");
	v = num_after(r, "[UIDVALIDITY ");
	g_free(r);
	r = imc_ok(c, "UID FETCH 5 (MODSEQ)");
	m5 = modseq_of(r, 5);
	g_free(r);
	imc_close(c);

	o = imc_login(d, USER, PW);
	g_free(imc_ok(o, "SELECT INBOX"));
	g_free(imc_ok(o, "UID STORE 1 +FLAGS (\\Flagged)"));
	g_free(imc_ok(o, "UID STORE 2 +FLAGS (\\Deleted)"));
	g_free(imc_ok(o, "UID EXPUNGE 2"));
	rmh_signal(d->h, SIGKILL);
	(void)rmh_stop(d->h); /* reaps it */
	imc_close(o);
	g_assert_true(rmh_start(d->h));

	o = imc_login(d, USER, PW);
	g_free(imc_ok(o, "SELECT INBOX"));
	g_free(imc_ok(o, "UID STORE 3 +FLAGS (\\Seen)"));
	g_free(imc_ok(o, "UID STORE 4 +FLAGS (\\Deleted)"));
	g_free(imc_ok(o, "UID EXPUNGE 4"));
	imc_close(o);

	c = login_enable(d, "QRESYNC");
	r = imc_ok(c, "SELECT INBOX (QRESYNC (%llu %llu))",
		   (unsigned long long)v, (unsigned long long)h);
	has(r, "* VANISHED (EARLIER) 2,4\n");
	has(r, "FETCH (UID 1 FLAGS (\\Flagged) MODSEQ (");
	has(r, "FETCH (UID 3 FLAGS (\\Seen) MODSEQ (");
	g_assert_cmpint(unexpected(r, "1,3"), ==, 0);
	g_assert_cmpuint(modseq_of(r, 1), >, h);
	g_assert_cmpuint(modseq_of(r, 3), >, modseq_of(r, 1));
	g_assert_cmpuint(num_after(r, "[HIGHESTMODSEQ "), >=, modseq_of(r, 3));
	g_free(r);
	r = imc_ok(c, "UID FETCH 5 (MODSEQ)");
	g_assert_cmpuint(modseq_of(r, 5), ==, m5);
	g_free(r);
	imc_close(c);
	imd_stop(d);
}

/* the parameters are client input: BAD, and the session goes on */
static void test_hostile(void)
{
	static const char *const bad[] = {
		"SELECT INBOX (CONDSTORE CONDSTORE)",
		"SELECT INBOX (FOO)",
		"SELECT INBOX CONDSTORE",
		"SELECT INBOX (QRESYNC)",
		"SELECT INBOX (QRESYNC ())",
		"SELECT INBOX (QRESYNC (0 1))",
		"SELECT INBOX (QRESYNC (1 0))",
		"SELECT INBOX (QRESYNC (4294967296 1))",
		"SELECT INBOX (QRESYNC (1 9223372036854775808))",
		"SELECT INBOX (QRESYNC (1 1 1:*))",
		"SELECT INBOX (QRESYNC (1 1 x))",
		"SELECT INBOX (QRESYNC (1 1 1:5 (1:2 3)))",
		"SELECT INBOX (QRESYNC (1 1 1:5 (1:2)))",
		"SELECT INBOX (QRESYNC (1 1 1:5 (1 1) 7))",
		"SELECT INBOX (QRESYNC (1 1) QRESYNC (1 1))",
		"FETCH 1 FLAGS (CHANGEDSINCE 0)",
		"FETCH 1 FLAGS (CHANGEDSINCE)",
		"FETCH 1 FLAGS (CHANGEDSINCE 99999999999999999999)",
		"FETCH 1 FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)",
		"FETCH 1 FLAGS (VANISHED)",
		"FETCH 1 FLAGS ()",
		"FETCH 1 FLAGS (FOO 1)",
		"FETCH 1 FLAGS (CHANGEDSINCE 1) x",
		"STORE 1 (UNCHANGEDSINCE) FLAGS ()",
		"STORE 1 (UNCHANGEDSINCE -1) FLAGS ()",
		"STORE 1 (UNCHANGEDSINCE 1 2) FLAGS ()",
		"STORE 1 (FOO 1) FLAGS ()",
		"STORE 1 (UNCHANGEDSINCE 1)",
		"SEARCH MODSEQ",
		"SEARCH MODSEQ \"/flags/x\" none 1",
		"STATUS INBOX (HIGHESTMODSEQ FOO)",
	};
	struct imd *d = start();
	struct imc *c = login_enable(d, "QRESYNC");
	char *r;
	size_t i;

	append(c, "h");
	settle(d);
	g_free(imc_ok(c, "SELECT INBOX"));
	for (i = 0; i < G_N_ELEMENTS(bad); i++) {
		r = imc_cmd(c, "%s", bad[i]);
		if (strstr(r, " BAD ") == NULL)
			g_test_message("not BAD: %s -> %s", bad[i], r);
		has(r, " BAD ");
		g_free(r);
		/* a failed SELECT may have left the mailbox: select again */
		g_free(imc_ok(c, "SELECT INBOX"));
	}
	r = imc_ok(c, "FETCH 1 (FLAGS)");
	has(r, "* 1 FETCH (UID 1 FLAGS () MODSEQ (");
	g_free(r);
	imc_close(c);
	imd_stop(d);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/condstore/capability", test_capability);
	g_test_add_func("/imap/condstore/select-fetch", test_select_fetch);
	g_test_add_func("/imap/condstore/changedsince", test_changedsince);
	g_test_add_func("/imap/condstore/unchangedsince", test_unchangedsince);
	g_test_add_func("/imap/condstore/search", test_search);
	g_test_add_func("/imap/qresync/vanished", test_vanished);
	g_test_add_func("/imap/qresync/select", test_qresync_select);
	g_test_add_func("/imap/qresync/fetch-vanished", test_fetch_vanished);
	g_test_add_func("/imap/qresync/two-processes", test_two_processes);
	g_test_add_func("/imap/qresync/kill9", test_kill9);
	g_test_add_func("/imap/qresync/hostile", test_hostile);
	return g_test_run();
}
