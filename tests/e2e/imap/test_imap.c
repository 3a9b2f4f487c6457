/*
 * mod_imap end to end: the real daemon, mod_shardstore on a temporary
 * mail root, users made with `rmail user add`.  One daemon serves the
 * command tests (cleartext login allowed for loopback); the login
 * policy, failure and timeout tests get their own.
 */
#include <string.h>
#include <unistd.h>

#include "imap_client.h"

static struct imd *D;

static char *user_of(const char *name)
{
	return g_strdup_printf("%s@example.test", name);
}

static void append_msg(struct imc *c, const char *mbox, const char *subj)
{
	char *body = g_strdup_printf("Subject: %s\r\nFrom: a@example.test"
				     "\r\n\r\nHello %s\r\n",
				     subj, subj);
	char *r = imc_ok(c, "APPEND \"%s\" {%zu+}\r\n%s", mbox, strlen(body),
			 body);

	has(r, "[APPENDUID ");
	g_free(r);
	g_free(body);
}

/* ---- capabilities and login policy ------------------------------ */

static void test_cleartext_policy(void)
{
	/* 3 s: long enough that a loaded machine (ASan, -j2) never times
	 * out the steps before the last one, which waits for it */
	struct imd *d = imd_start("\"idle_timeout_preauth\": \"3s\"");
	struct imc *c;
	char *g, *r;

	imd_user(d, "carol@example.test", "pw-carol", 0);
	c = imc_connect(d, false, &g);
	has(g, "LOGINDISABLED");
	has(g, "STARTTLS");
	hasnt(g, "AUTH=");
	g_free(g);
	r = imc_cmd(c, "CAPABILITY");
	has(r, "LOGINDISABLED");
	hasnt(r, "AUTH=PLAIN");
	g_free(r);
	/* loopback included: the default refuses */
	r = imc_cmd(c, "LOGIN carol@example.test pw-carol");
	has(r, "t2 NO [PRIVACYREQUIRED]");
	g_free(r);
	r = imc_cmd(c, "AUTHENTICATE PLAIN AGNhcm9sQGV4YW1wbGUudGVzdABwdy1j"
		       "YXJvbA==");
	has(r, "t3 NO");
	g_free(r);
	r = imc_cmd(c, "SELECT INBOX");
	has(r, "t4 BAD");
	g_free(r);
	/* STARTTLS, then login works and the new capabilities show */
	r = imc_ok(c, "STARTTLS");
	g_free(r);
	g_assert_true(rmh_conn_starttls(c->c));
	r = imc_ok(c, "CAPABILITY");
	has(r, "AUTH=PLAIN");
	hasnt(r, "LOGINDISABLED");
	hasnt(r, "STARTTLS");
	g_free(r);
	r = imc_ok(c, "LOGIN carol@example.test pw-carol");
	has(r, "OK [CAPABILITY IMAP4rev1");
	g_free(r);
	imc_close(c);

	/* implicit TLS on the imaps port */
	c = imc_connect(d, true, &g);
	has(g, "AUTH=PLAIN");
	g_free(g);
	r = imc_ok(c, "AUTHENTICATE PLAIN AGNhcm9sQGV4YW1wbGUudGVzdABwdy1j"
		      "YXJvbA==");
	has(r, "[CAPABILITY");
	g_free(r);
	imc_close(c);

	/* STARTTLS injection: b never runs, the connection closes */
	c = imc_connect(d, false, NULL);
	g_assert_true(rmh_send_raw(c->c, "a STARTTLS\r\nb CAPABILITY\r\n", 26));
	r = imc_until(c, "a ", 5);
	g_assert_nonnull(r);
	has(r, "a BAD");
	hasnt(r, "* CAPABILITY");
	g_free(r);
	r = imc_until(c, "b ", 3);
	g_assert_null(r);
	imc_close(c);

	/* idle timeout before login (3 s here) */
	c = imc_connect(d, false, NULL);
	r = imc_until(c, "* BYE", 10);
	g_assert_nonnull(r);
	has(r, "Autologout");
	g_free(r);
	imc_close(c);
	imd_stop(d);
}

static void test_auth_failures(void)
{
	struct imd *d = imd_start("\"allow_cleartext_login_loopback\": true");
	struct imc *c;
	char *r, *log;

	imd_user(d, "dave@example.test", "pw-dave", 0);
	c = imc_connect(d, false, NULL);
	r = imc_cmd(c, "LOGIN dave@example.test wrong1");
	has(r, "NO [AUTHENTICATIONFAILED]");
	g_free(r);
	/* AUTHENTICATE without initial response: "+" then the line */
	g_assert_true(rmh_send(c->c, "x AUTHENTICATE PLAIN"));
	r = imc_until(c, "+", 5);
	g_assert_nonnull(r);
	g_free(r);
	/* \0dave@example.test\0bad */
	g_assert_true(rmh_send(c->c, "AGRhdmVAZXhhbXBsZS50ZXN0AGJhZA=="));
	r = imc_until(c, "x ", 10);
	has(r, "x NO [AUTHENTICATIONFAILED]");
	g_free(r);
	r = imc_cmd(c, "LOGIN dave@example.test wrong3");
	g_assert_nonnull(r);
	has(r, "NO [AUTHENTICATIONFAILED]");
	g_free(r);
	r = imc_until(c, "* BYE", 5);
	g_assert_nonnull(r);
	g_free(r);
	g_assert_null(rmh_readline(c->c, 3));
	imc_close(c);
	g_assert_true(rmh_wait_log(d->h, "event=auth_failed", 5));
	log = rmh_stderr(d->h);
	has(log, "proto=imap");
	g_free(log);
	/* the right password still works, with SASL-IR */
	c = imc_connect(d, false, NULL);
	r = imc_ok(c, "AUTHENTICATE PLAIN AGRhdmVAZXhhbXBsZS50ZXN0AHB3LWRh"
		      "dmU=");
	g_free(r);
	imc_close(c);
	imd_stop(d);
}

/* ---- commands ---------------------------------------------------- */

static void test_misc_commands(void)
{
	struct imc *c = imc_fresh(D, "misc");
	char *r;

	r = imc_ok(c, "CAPABILITY");
	has(r, "IDLE");
	has(r, "UIDPLUS");
	has(r, "APPENDLIMIT=");
	hasnt(r, "AUTH=");
	g_free(r);
	r = imc_ok(c, "NOOP");
	g_free(r);
	r = imc_ok(c, "NAMESPACE");
	has(r, "* NAMESPACE ((\"\" \"/\")) NIL NIL");
	g_free(r);
	r = imc_ok(c, "ID (\"name\" \"test\")");
	has(r, "* ID (");
	g_free(r);
	r = imc_ok(c, "ENABLE CONDSTORE");
	has(r, "* ENABLED");
	g_free(r);
	r = imc_cmd(c, "FETCH 1 FLAGS");
	has(r, "BAD");
	g_free(r);
	r = imc_cmd(c, "LOGIN a b");
	has(r, "BAD");
	g_free(r);
	r = imc_cmd(c, "BLURDYBLOOP");
	has(r, "BAD");
	g_free(r);
	r = imc_cmd(c, "LOGOUT");
	has(r, "* BYE");
	has(r, "OK LOGOUT");
	g_free(r);
	imc_close(c);
}

static void test_mailboxes(void)
{
	struct imc *c = imc_fresh(D, "boxes");
	char *r;

	r = imc_ok(c, "LIST \"\" \"*\"");
	has(r, "\\Sent) \"/\" \"Sent\"");
	has(r, "\"INBOX\"");
	g_free(r);
	r = imc_ok(c, "CREATE \"Work/Project X\"");
	g_free(r);
	r = imc_ok(c, "CREATE \"Caf&AOk-\"");
	g_free(r);
	r = imc_cmd(c, "CREATE INBOX");
	has(r, "NO");
	g_free(r);
	r = imc_ok(c, "CREATE Old (USE (\\Archive))");
	g_free(r);
	r = imc_ok(c, "LIST \"\" \"%%\"");
	has(r, "(\\Noselect \\HasChildren) \"/\" \"Work\"");
	has(r, "\"Caf&AOk-\"");
	hasnt(r, "Project X");
	g_free(r);
	r = imc_ok(c, "LIST \"Work/\" \"%%\"");
	has(r, "(\\HasNoChildren) \"/\" \"Work/Project X\"");
	g_free(r);
	r = imc_ok(c, "LIST \"\" \"Wo*\"");
	has(r, "Work/Project X");
	g_free(r);
	r = imc_ok(c, "LIST (SPECIAL-USE) \"\" \"*\"");
	has(r, "\\Archive) \"/\" \"Old\"");
	hasnt(r, "INBOX");
	g_free(r);
	r = imc_ok(c, "LIST \"\" \"*\" RETURN (SPECIAL-USE STATUS "
		      "(MESSAGES UNSEEN))");
	has(r, "* STATUS \"Drafts\" (MESSAGES 0 UNSEEN 0)");
	g_free(r);
	r = imc_ok(c, "RENAME \"Work/Project X\" \"Work/Project Y\"");
	g_free(r);
	r = imc_ok(c, "STATUS \"Work/Project Y\" (MESSAGES UIDNEXT "
		      "UIDVALIDITY UNSEEN)");
	has(r, "* STATUS \"Work/Project Y\" (MESSAGES 0 UIDNEXT 1");
	g_free(r);
	r = imc_ok(c, "SUBSCRIBE \"Work/Project Y\"");
	g_free(r);
	r = imc_ok(c, "LSUB \"\" \"*\"");
	has(r, "* LSUB () \"/\" \"Work/Project Y\"");
	g_free(r);
	r = imc_ok(c, "UNSUBSCRIBE \"Work/Project Y\"");
	g_free(r);
	r = imc_ok(c, "LSUB \"\" \"Work/*\"");
	hasnt(r, "Project Y");
	g_free(r);
	r = imc_ok(c, "DELETE \"Work/Project Y\"");
	g_free(r);
	r = imc_cmd(c, "DELETE INBOX");
	has(r, "NO");
	g_free(r);
	r = imc_cmd(c, "SELECT Nowhere");
	has(r, "NO");
	g_free(r);
	r = imc_ok(c, "LIST \"\" \"\"");
	has(r, "* LIST (\\Noselect) \"/\" \"\"");
	g_free(r);
	imc_close(c);
}

/* a backtracking matcher takes name^wildcards steps on this: the
 * answer must come at once, within the test's timeout */
static void test_list_pattern_cost(void)
{
	struct imc *c = imc_fresh(D, "listcost");
	char name[251], *r;

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	r = imc_ok(c, "CREATE %s", name);
	g_free(r);
	r = imc_ok(c, "LIST \"\" \"*a*a*a*a*a*a*a*b\"");
	hasnt(r, "aaaa");
	g_free(r);
	r = imc_ok(c, "LIST \"\" \"*a*a%%a*a\"");
	has(r, name);
	g_free(r);
	imc_close(c);
}

static void test_select_fetch_store(void)
{
	struct imc *c = imc_fresh(D, "fetch");
	char *r;

	append_msg(c, "INBOX", "one");
	append_msg(c, "INBOX", "two");
	append_msg(c, "INBOX", "three");
	/* EXAMINE never claims \Recent; the first SELECT does, once */
	r = imc_ok(c, "EXAMINE INBOX");
	has(r, "* 3 EXISTS");
	has(r, "* 0 RECENT");
	has(r, "[READ-ONLY]");
	g_free(r);
	r = imc_ok(c, "SELECT INBOX");
	has(r, "* 3 RECENT");
	g_free(r);
	r = imc_ok(c, "FETCH 1 FLAGS");
	has(r, "FLAGS (\\Recent)");
	g_free(r);
	r = imc_ok(c, "EXAMINE INBOX");
	has(r, "* 0 RECENT");
	g_free(r);
	r = imc_cmd(c, "STORE 1 +FLAGS (\\Seen)");
	has(r, "NO [READ-ONLY]");
	g_free(r);
	r = imc_ok(c, "SELECT INBOX");
	has(r, "* 3 EXISTS");
	has(r, "* 0 RECENT");
	has(r, "* OK [UIDVALIDITY ");
	has(r, "* OK [UIDNEXT 4]");
	has(r, "[READ-WRITE]");
	g_free(r);
	r = imc_ok(c, "FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)");
	has(r, "* 3 FETCH (UID 3 FLAGS () INTERNALDATE \"");
	has(r, "RFC822.SIZE 49");
	g_free(r);
	r = imc_ok(c, "FETCH 2 (BODY.PEEK[HEADER] BODY.PEEK[TEXT])");
	has(r, "BODY[HEADER] {38}");
	has(r, "BODY[TEXT] {11}");
	has(r, "Hello two");
	hasnt(r, "\\Seen");
	g_free(r);
	r = imc_ok(c, "FETCH 2 (BODY.PEEK[]<7.3> BODY.PEEK[HEADER.FIELDS "
		      "(SUBJECT)] RFC822.HEADER)");
	has(r, "BODY[]<7> {3}");
	has(r, "BODY[HEADER.FIELDS (SUBJECT)] {16}");
	has(r, "RFC822.HEADER {38}");
	g_free(r);
	/* a non-PEEK fetch sets \Seen and says so */
	r = imc_ok(c, "FETCH 1 BODY[]");
	has(r, "\\Seen");
	has(r, "BODY[] {49}");
	g_free(r);
	r = imc_ok(c, "UID FETCH 3 RFC822");
	has(r, "UID 3");
	has(r, "RFC822 {53}");
	g_free(r);
	r = imc_ok(c, "STORE 2 +FLAGS (\\Flagged $Label1)");
	has(r, "* 2 FETCH (FLAGS (\\Flagged $Label1))");
	g_free(r);
	r = imc_ok(c, "UID STORE 2 -FLAGS.SILENT (\\Flagged)");
	hasnt(r, "FETCH");
	g_free(r);
	r = imc_ok(c, "UID STORE 1:2 FLAGS (\\Answered)");
	has(r, "FETCH (FLAGS (\\Answered) UID 1)");
	g_free(r);
	r = imc_ok(c, "FETCH 1:3 FLAGS");
	has(r, "* 3 FETCH (FLAGS (\\Seen))");
	g_free(r);
	r = imc_cmd(c, "FETCH 9 FLAGS");
	has(r, "BAD");
	g_free(r);
	r = imc_ok(c, "UID FETCH 9:20 FLAGS");
	hasnt(r, "* ");
	g_free(r);
	r = imc_ok(c, "FETCH 1 (ENVELOPE)");
	has(r, "ENVELOPE (NIL \"one\" ((NIL NIL \"a\" \"example.test\"))");
	g_free(r);
	imc_close(c);
}

static void test_search(void)
{
	struct imc *c = imc_fresh(D, "search");
	char *r;
	int i;

	for (i = 0; i < 5; i++)
		append_msg(c, "INBOX", "s");
	r = imc_ok(c, "SELECT INBOX");
	g_free(r);
	r = imc_ok(c, "STORE 2,4 +FLAGS (\\Seen)");
	g_free(r);
	r = imc_ok(c, "STORE 5 +FLAGS (\\Flagged)");
	g_free(r);
	r = imc_ok(c, "SEARCH UNSEEN");
	has(r, "* SEARCH 1 3 5\n");
	g_free(r);
	r = imc_ok(c, "SEARCH OR SEEN FLAGGED");
	has(r, "* SEARCH 2 4 5\n");
	g_free(r);
	r = imc_ok(c, "SEARCH NOT SEEN NOT FLAGGED 2:*");
	has(r, "* SEARCH 3\n");
	g_free(r);
	r = imc_ok(c, "UID SEARCH UID 3:4");
	has(r, "* SEARCH 3 4\n");
	g_free(r);
	r = imc_ok(c, "SEARCH LARGER 10 SMALLER 100000 SINCE 1-Jan-2000");
	has(r, "* SEARCH 1 2 3 4 5\n");
	g_free(r);
	r = imc_ok(c, "SEARCH BEFORE 1-Jan-2000");
	has(r, "* SEARCH\n");
	g_free(r);
	r = imc_ok(c, "SEARCH SUBJECT foo");
	has(r, "* SEARCH\n");
	g_free(r);
	r = imc_ok(c, "SEARCH SUBJECT S UNSEEN");
	has(r, "* SEARCH 1 3 5\n");
	g_free(r);
	r = imc_cmd(c, "SEARCH FROBNICATE");
	has(r, "BAD");
	g_free(r);
	imc_close(c);
}

static void test_copy_move_expunge(void)
{
	struct imc *c = imc_fresh(D, "copy");
	char *r;
	int i;

	for (i = 0; i < 4; i++)
		append_msg(c, "INBOX", "c");
	r = imc_ok(c, "SELECT INBOX");
	g_free(r);
	r = imc_ok(c, "COPY 1:2 Trash");
	has(r, "OK [COPYUID ");
	has(r, " 1:2 1:2]");
	g_free(r);
	r = imc_cmd(c, "COPY 1 Nowhere");
	has(r, "NO [TRYCREATE]");
	g_free(r);
	r = imc_ok(c, "UID MOVE 3 Archive");
	has(r, "* OK [COPYUID ");
	has(r, "* 3 EXPUNGE");
	g_free(r);
	r = imc_ok(c, "STORE 1 +FLAGS.SILENT (\\Deleted)");
	g_free(r);
	r = imc_ok(c, "STORE 3 +FLAGS.SILENT (\\Deleted)");
	g_free(r);
	/* UID EXPUNGE only takes what it names */
	r = imc_ok(c, "UID EXPUNGE 4");
	has(r, "* 3 EXPUNGE");
	hasnt(r, "* 1 EXPUNGE");
	g_free(r);
	r = imc_ok(c, "EXPUNGE");
	has(r, "* 1 EXPUNGE");
	g_free(r);
	r = imc_ok(c, "STATUS Trash (MESSAGES)");
	has(r, "(MESSAGES 2)");
	g_free(r);
	r = imc_ok(c, "SELECT Trash");
	g_free(r);
	r = imc_ok(c, "STORE 1 +FLAGS.SILENT (\\Deleted)");
	g_free(r);
	r = imc_ok(c, "CLOSE");
	hasnt(r, "EXPUNGE");
	g_free(r);
	r = imc_ok(c, "STATUS Trash (MESSAGES)");
	has(r, "(MESSAGES 1)");
	g_free(r);
	r = imc_ok(c, "SELECT Trash");
	g_free(r);
	r = imc_ok(c, "CHECK");
	g_free(r);
	r = imc_ok(c, "UNSELECT");
	g_free(r);
	r = imc_cmd(c, "FETCH 1 FLAGS");
	has(r, "BAD");
	g_free(r);
	imc_close(c);
}

static void test_append_limits(void)
{
	char *u = user_of("quota");
	struct imc *c;
	char *r, *big;

	imd_user(D, u, "pw-secret", 1);
	c = imc_login(D, u, "pw-secret");
	/* synchronizing literal over APPENDLIMIT: NO [TOOBIG], no "+" */
	r = imc_cmd(c, "APPEND INBOX {99999999}");
	has(r, "NO [TOOBIG]");
	g_assert_true(r[0] == 't');
	g_free(r);
	/* over quota (1 MiB): refused before the literal is invited */
	r = imc_cmd(c, "APPEND INBOX {2000000}");
	has(r, "NO [ALERT] Quota exceeded");
	/* RFC 9208: the untagged OVERQUOTA comes first, no "+" at all */
	g_assert_true(g_str_has_prefix(r, "* NO [OVERQUOTA] "));
	hasnt(r, "\n+ ");
	g_free(r);
	r = imc_cmd(c, "APPEND Nowhere {10}");
	has(r, "NO [TRYCREATE]");
	g_free(r);
	/* flags and a date */
	r = imc_ok(c, "APPEND INBOX (\\Seen) \" 5-Mar-2021 10:00:00 +0100\" "
		      "{12+}\r\nSubject: x\r\n");
	has(r, "APPENDUID");
	g_free(r);
	r = imc_ok(c, "SELECT INBOX");
	g_free(r);
	r = imc_ok(c, "FETCH 1 (FLAGS INTERNALDATE)");
	has(r, "\\Seen");
	has(r, "05-Mar-2021 09:00:00 +0000");
	g_free(r);
	/* NUL is fine inside APPEND message data, and only there */
	g_assert_true(rmh_send_raw(c->c,
				   "nul APPEND INBOX {8+}\r\nA:\0b\r\n\r\n"
				   "\r\n",
				   33));
	r = imc_until(c, "nul ", 5);
	has(r, "nul OK [APPENDUID");
	g_free(r);
	/* a big message is streamed, then fetched back incrementally */
	big = g_malloc(600001);
	memset(big, 'x', 600000);
	for (int i = 0; i < 600000; i += 100)
		memcpy(big + i + 98, "\r\n", 2);
	big[600000] = '\0';
	g_assert_true(rmh_send(c->c, "b APPEND INBOX {600000+}"));
	g_assert_true(rmh_send_raw(c->c, big, 600000));
	g_assert_true(rmh_send(c->c, "%s", ""));
	r = imc_until(c, "b ", 20);
	has(r, "b OK [APPENDUID");
	g_free(r);
	r = imc_ok(c, "FETCH 3 (RFC822.SIZE BODY.PEEK[])");
	has(r, "BODY[] {600000}");
	g_assert_cmpuint(strlen(r), >, 600000);
	g_free(r);
	g_free(big);
	/* non-synchronizing literal over the limit: BAD and close */
	g_assert_true(rmh_send(c->c, "z APPEND INBOX {99999999+}"));
	r = imc_until(c, "z BAD", 5);
	g_assert_nonnull(r);
	g_free(r);
	g_assert_null(imc_until(c, "never", 3));
	imc_close(c);
	g_free(u);
}

static void test_idle_and_updates(void)
{
	char *u = user_of("idle");
	struct imc *a, *b;
	char *r;
	gint64 t0;

	imd_user(D, u, "pw-secret", 0);
	a = imc_login(D, u, "pw-secret");
	b = imc_login(D, u, "pw-secret");
	append_msg(b, "INBOX", "first");
	append_msg(b, "INBOX", "second");
	r = imc_ok(a, "SELECT INBOX");
	has(r, "* 2 EXISTS");
	g_free(r);
	r = imc_ok(b, "SELECT INBOX");
	g_free(r);
	/* never an EXPUNGE during FETCH/STORE/SEARCH */
	r = imc_ok(b, "STORE 1 +FLAGS.SILENT (\\Deleted)");
	g_free(r);
	r = imc_ok(b, "EXPUNGE");
	has(r, "* 1 EXPUNGE");
	g_free(r);
	/* the expunged message keeps its number and answers with NIL
	 * contents and [EXPUNGEISSUED] (RFC 5530) */
	r = imc_ok(a, "FETCH 1:* (UID BODY.PEEK[])");
	hasnt(r, "* 1 EXPUNGE");
	has(r, "* 1 FETCH (UID 1 BODY[] NIL)");
	has(r, "OK [EXPUNGEISSUED]");
	g_free(r);
	r = imc_ok(a, "SEARCH ALL");
	hasnt(r, "EXPUNGE");
	has(r, "* SEARCH 2\n");
	g_free(r);
	r = imc_ok(a, "NOOP");
	has(r, "* 1 EXPUNGE");
	g_free(r);
	/* IDLE: another session's append, flag change and expunge */
	g_assert_true(rmh_send(a->c, "i IDLE"));
	r = imc_until(a, "+ ", 5);
	g_free(r);
	t0 = g_get_monotonic_time();
	append_msg(b, "INBOX", "third");
	r = imc_until(a, "* 2 EXISTS", 3);
	g_assert_nonnull(r);
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 1500000);
	g_free(r);
	r = imc_ok(b, "NOOP");
	g_free(r);
	t0 = g_get_monotonic_time();
	r = imc_ok(b, "STORE 2 +FLAGS (\\Flagged)");
	g_free(r);
	r = imc_until(a, "* 2 FETCH", 3);
	g_assert_nonnull(r);
	has(r, "\\Flagged");
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 1500000);
	g_free(r);
	r = imc_ok(b, "STORE 1 +FLAGS.SILENT (\\Deleted)");
	g_free(r);
	r = imc_ok(b, "EXPUNGE");
	g_free(r);
	r = imc_until(a, "* 1 EXPUNGE", 3);
	g_assert_nonnull(r);
	g_free(r);
	g_assert_true(rmh_send(a->c, "DONE"));
	r = imc_until(a, "i OK", 3);
	g_assert_nonnull(r);
	g_free(r);
	r = imc_ok(a, "FETCH 1 UID");
	has(r, "* 1 FETCH (UID 3)");
	g_free(r);
	imc_close(a);
	imc_close(b);
	g_free(u);
}

/* ---- hostile input ---------------------------------------------- */

/* a session's own STORE, then another session expunges the message
 * before any sync: FETCH of it must not show the flags before the STORE */
static void test_expunged_keeps_own_flags(void)
{
	char *u = user_of("ownexp");
	struct imc *a, *b;
	char *r;

	imd_user(D, u, "pw-secret", 0);
	a = imc_login(D, u, "pw-secret");
	b = imc_login(D, u, "pw-secret");
	append_msg(b, "INBOX", "first");
	r = imc_ok(a, "SELECT INBOX");
	g_free(r);
	r = imc_ok(b, "SELECT INBOX");
	g_free(r);
	r = imc_ok(a, "STORE 1 FLAGS (\\Deleted mine)");
	has(r, "mine");
	g_free(r);
	r = imc_ok(b, "EXPUNGE");
	has(r, "* 1 EXPUNGE");
	g_free(r);
	r = imc_ok(a, "FETCH 1 (UID FLAGS)");
	has(r, "OK [EXPUNGEISSUED]");
	has(r, "mine))");
	g_free(r);
	imc_close(a);
	imc_close(b);
	g_free(u);
}

/* messages expunged elsewhere in descending UID order, each by its own
 * sync: every one still answers FETCH in the session that holds them */
static void test_expunged_out_of_order(void)
{
	char *u = user_of("graveord");
	struct imc *a, *b;
	char *r;

	imd_user(D, u, "pw-secret", 0);
	a = imc_login(D, u, "pw-secret");
	b = imc_login(D, u, "pw-secret");
	append_msg(b, "INBOX", "first");
	append_msg(b, "INBOX", "second");
	append_msg(b, "INBOX", "third");
	r = imc_ok(a, "SELECT INBOX");
	has(r, "* 3 EXISTS");
	g_free(r);
	r = imc_ok(b, "SELECT INBOX");
	g_free(r);
	r = imc_ok(b, "UID STORE 3 +FLAGS.SILENT (\\Deleted)");
	g_free(r);
	r = imc_ok(b, "UID EXPUNGE 3");
	has(r, "* 3 EXPUNGE");
	g_free(r);
	r = imc_ok(b, "UID STORE 2 +FLAGS.SILENT (\\Deleted)");
	g_free(r);
	r = imc_ok(b, "UID EXPUNGE 2");
	has(r, "* 2 EXPUNGE");
	g_free(r);
	r = imc_ok(b, "UID STORE 1 +FLAGS.SILENT (\\Deleted)");
	g_free(r);
	r = imc_ok(b, "UID EXPUNGE 1");
	has(r, "* 1 EXPUNGE");
	g_free(r);
	r = imc_ok(a, "FETCH 1:3 (UID FLAGS)");
	has(r, "* 1 FETCH (UID 1 ");
	has(r, "* 2 FETCH (UID 2 ");
	has(r, "* 3 FETCH (UID 3 ");
	has(r, "OK [EXPUNGEISSUED]");
	g_free(r);
	imc_close(a);
	imc_close(b);
	g_free(u);
}

static void test_hostile(void)
{
	struct imc *c = imc_connect(D, false, NULL);
	char *r, *line;

	/* 8 KiB literal cap before login: NO [TOOBIG] without "+" */
	r = imc_cmd(c, "LOGIN {9000}");
	has(r, "NO [TOOBIG]");
	g_free(r);
	/* NUL in a command */
	g_assert_true(rmh_send_raw(c->c, "n1 NOOP\0x\r\n", 11));
	r = imc_until(c, "n1 ", 5);
	has(r, "n1 BAD");
	g_free(r);
	/* NUL inside a (non-APPEND) literal */
	g_assert_true(rmh_send_raw(c->c, "n2 LOGIN {3+}\r\na\0b x\r\n", 22));
	r = imc_until(c, "n2 ", 5);
	has(r, "n2 BAD");
	g_free(r);
	/* a line over max_line */
	line = g_malloc(70000);
	memset(line, 'a', 69999);
	line[69999] = '\0';
	g_assert_true(rmh_send(c->c, "l1 NOOP %s", line));
	r = imc_until(c, "l1 ", 5);
	has(r, "BAD");
	g_free(r);
	g_free(line);
	r = imc_ok(c, "NOOP");
	g_free(r);
	/* more literals in one command than max_literals (64) */
	{
		GString *cmd = g_string_new("m1 ID (");

		for (int i = 0; i < 70; i++)
			g_string_append(cmd, "{1+}\r\nx ");
		g_string_append(cmd, ")\r\n");
		g_assert_true(rmh_send_raw(c->c, cmd->str, cmd->len));
		g_string_free(cmd, TRUE);
		r = imc_until(c, "m1 ", 5);
		has(r, "m1 BAD");
		g_free(r);
	}
	/* deep nesting */
	r = imc_cmd(c, "ID ((((((((((((((((((((((((x))))))))))))))))))))))))");
	has(r, "BAD");
	g_free(r);
	/* non-synchronizing literal over the pre-login cap: BAD, close */
	g_assert_true(rmh_send(c->c, "q LOGIN {9000+}"));
	r = imc_until(c, "q BAD", 5);
	g_assert_nonnull(r);
	g_free(r);
	g_assert_null(imc_until(c, "never", 3));
	imc_close(c);
}

static void test_idle_timeout_after_login(void)
{
	struct imd *d = imd_start("\"allow_cleartext_login_loopback\": true, "
				  "\"idle_timeout\": \"1s\"");
	struct imc *c;
	char *r;

	imd_user(d, "erin@example.test", "pw-erin", 0);
	c = imc_login(d, "erin@example.test", "pw-erin");
	r = imc_until(c, "* BYE", 5);
	g_assert_nonnull(r);
	has(r, "Autologout");
	g_free(r);
	imc_close(c);
	imd_stop(d);
}

/* Before login the deadline is absolute from the connection: a client
 * trickling a byte now and then is logged out within login_timeout,
 * though it is never idle for idle_timeout_preauth. */
static void test_prelogin_deadline(void)
{
	struct imd *d = imd_start("\"login_timeout\": \"1s\", "
				  "\"idle_timeout_preauth\": \"5s\"");
	static const char cmd[] = "a1 CAPABILITY and then some more bytes\r\n";
	struct imc *c = imc_connect(d, false, NULL);
	gint64 t0 = g_get_monotonic_time();
	char *r = NULL;
	size_t i;

	for (i = 0; cmd[i] != '\0' && r == NULL; i++) {
		if (!rmh_send_raw(c->c, cmd + i, 1))
			break;
		r = imc_until(c, "* BYE", 0.6);
	}
	g_test_message("BYE after %.2f s",
		       (double)(g_get_monotonic_time() - t0) / 1e6);
	g_assert_nonnull(r);
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 2 * G_USEC_PER_SEC);
	g_free(r);
	imc_close(c);
	imd_stop(d);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/login/cleartext-policy", test_cleartext_policy);
	g_test_add_func("/imap/login/failures", test_auth_failures);
	g_test_add_func("/imap/login/prelogin-deadline",
			test_prelogin_deadline);
	g_test_add_func("/imap/login/idle-timeout",
			test_idle_timeout_after_login);
	g_test_add_func("/imap/cmd/misc", test_misc_commands);
	g_test_add_func("/imap/cmd/mailboxes", test_mailboxes);
	g_test_add_func("/imap/cmd/list-pattern-cost", test_list_pattern_cost);
	g_test_add_func("/imap/cmd/select-fetch-store",
			test_select_fetch_store);
	g_test_add_func("/imap/cmd/search", test_search);
	g_test_add_func("/imap/cmd/copy-move-expunge", test_copy_move_expunge);
	g_test_add_func("/imap/cmd/append-limits", test_append_limits);
	g_test_add_func("/imap/cmd/idle-updates", test_idle_and_updates);
	g_test_add_func("/imap/cmd/expunged-keeps-own-flags",
			test_expunged_keeps_own_flags);
	g_test_add_func("/imap/cmd/expunged-out-of-order",
			test_expunged_out_of_order);
	g_test_add_func("/imap/hostile/input", test_hostile);
	D = imd_start("\"allow_cleartext_login_loopback\": true");
	rc = g_test_run();
	imd_stop(D);
	return rc;
}
