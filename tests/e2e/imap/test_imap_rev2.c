/*
 * IMAP4rev2 (RFC 9051) against the real daemon: IMAP4rev2 listed after
 * IMAP4rev1 before and after login, and RFC 9051 Appendix E item by
 * item, a session after ENABLE IMAP4rev2 beside an IMAP4rev1 session
 * of the same user: response codes (HASCHILDREN, ALREADYEXISTS,
 * NONEXISTENT), SELECT's LIST line and no RECENT/UNSEEN, what rev2
 * dropped (LSUB, CHECK, FETCH RFC822*, \Recent in SEARCH and STATUS)
 * answered BAD for rev2 only, SEARCH as ESEARCH with SEARCHRES's "$",
 * LIST's \NonExistent/\Subscribed and INBOX rules, the extensions rev2
 * took in used from a rev2 session, and Python's imaplib (a rev1-only
 * client) against the capability list that names both.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_client.h"

#define PASS "pw-secret"

static struct imd *D;

/* two sessions of NAME's account: *r2 after ENABLE IMAP4rev2, *r1 not */
static void pair(const char *name, struct imc **r2, struct imc **r1)
{
	char *u = g_strdup_printf("%s@example.test", name);
	char *r;

	*r2 = imc_fresh(D, name);
	*r1 = imc_login(D, u, PASS);
	r = imc_ok(*r2, "ENABLE IMAP4rev2");
	has(r, "* ENABLED IMAP4rev2\n");
	g_free(r);
	g_free(u);
}

/* "IMAP4rev1 IMAP4rev2" in that order in `r`, each once */
static void rev1_then_rev2(const char *r)
{
	const char *one, *two;

	g_assert_nonnull(r);
	one = strstr(r, " IMAP4rev1 ");
	two = strstr(r, " IMAP4rev2");
	if (one == NULL || two == NULL || two < one)
		g_test_message("reply: %s", r);
	g_assert_nonnull(one);
	g_assert_nonnull(two);
	g_assert_true(one < two);
	g_assert_null(strstr(two + 2, "IMAP4rev2"));
}

static void test_capability(void)
{
	const char *need[] = {
		/* Appendix E: the extensions RFC 9051 took in */
		" NAMESPACE",	" UNSELECT",	" UIDPLUS",
		" ESEARCH",	" SEARCHRES",	" ENABLE",
		" IDLE",	" SASL-IR",	" LIST-EXTENDED",
		" LIST-STATUS", " MOVE",	" LITERAL+",
		" BINARY",	" SPECIAL-USE", " STATUS=SIZE",
		" CHILDREN",	" ID",		" UTF8=ACCEPT",
	};
	struct imc *c;
	char *g = NULL, *r;
	size_t i;

	c = imc_connect(D, false, &g);
	rev1_then_rev2(g);
	g_free(g);
	r = imc_ok(c, "CAPABILITY");
	rev1_then_rev2(r);
	has(r, "* CAPABILITY IMAP4rev1 IMAP4rev2 ");
	g_free(r);
	imd_user(D, "r2cap@example.test", PASS, 0);
	r = imc_ok(c, "LOGIN r2cap@example.test " PASS);
	has(r, "OK [CAPABILITY IMAP4rev1 IMAP4rev2 ");
	g_free(r);
	r = imc_ok(c, "CAPABILITY");
	rev1_then_rev2(r);
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		has(r, need[i]);
	g_free(r);
	/* still listed once enabled; a second ENABLE turns nothing on */
	r = imc_ok(c, "ENABLE IMAP4rev2");
	has(r, "* ENABLED IMAP4rev2\n");
	g_free(r);
	r = imc_ok(c, "ENABLE IMAP4rev2");
	has(r, "* ENABLED\n");
	g_free(r);
	r = imc_ok(c, "CAPABILITY");
	rev1_then_rev2(r);
	g_free(r);
	imc_close(c);

	/* implicit TLS: the same list */
	c = imc_connect(D, true, NULL);
	r = imc_ok(c, "CAPABILITY");
	rev1_then_rev2(r);
	g_free(r);
	imc_close(c);
}

/* RFC 9051 7.1 (RFC 5530's codes), the same for both revisions */
static void codes(struct imc *c, const char *p)
{
	char *r;

	g_free(imc_ok(c, "CREATE %s", p));
	g_free(imc_ok(c, "CREATE %s/kid", p));
	r = imc_cmd(c, "CREATE %s", p);
	has(r, " NO [ALREADYEXISTS] ");
	g_free(r);
	r = imc_cmd(c, "CREATE inbox");
	has(r, " NO [ALREADYEXISTS] ");
	g_free(r);
	r = imc_cmd(c, "RENAME %s/kid %s", p, p);
	has(r, " NO [ALREADYEXISTS] ");
	g_free(r);
	r = imc_cmd(c, "RENAME %s INBOX", p);
	has(r, " NO [ALREADYEXISTS] ");
	g_free(r);
	/* a selectable parent goes, its inferiors stay (6.3.5) ... */
	g_free(imc_ok(c, "DELETE %s", p));
	r = imc_ok(c, "LIST \"\" \"%s*\"", p);
	has(r, "(\\Noselect \\HasChildren) \"/\" \"");
	has(r, "/kid\"");
	g_free(r);
	/* ... but a name left only as a parent cannot */
	r = imc_cmd(c, "DELETE %s", p);
	has(r, " NO [HASCHILDREN] ");
	g_free(r);
	g_free(imc_ok(c, "DELETE %s/kid", p));
	r = imc_cmd(c, "DELETE %s", p);
	has(r, " NO [NONEXISTENT] ");
	g_free(r);
	/* NONEXISTENT wherever a mailbox that is not there is named */
	r = imc_cmd(c, "SELECT %s", p);
	has(r, " NO [NONEXISTENT] ");
	g_free(r);
	r = imc_cmd(c, "EXAMINE %s", p);
	has(r, " NO [NONEXISTENT] ");
	g_free(r);
	r = imc_cmd(c, "STATUS %s (MESSAGES)", p);
	has(r, " NO [NONEXISTENT] ");
	g_free(r);
	r = imc_cmd(c, "RENAME %s %s2", p, p);
	has(r, " NO [NONEXISTENT] ");
	g_free(r);
	/* a target of APPEND (and COPY/MOVE below) says TRYCREATE */
	r = imc_cmd(c, "APPEND %s {1+}\r\nx", p);
	has(r, " NO [TRYCREATE] ");
	g_free(r);
	g_free(imc_ok(c, "SELECT INBOX"));
	g_free(imc_ok(c, "APPEND INBOX {3+}\r\nabc"));
	g_free(imc_ok(c, "NOOP"));
	r = imc_cmd(c, "COPY 1 %s", p);
	has(r, " NO [TRYCREATE] ");
	g_free(r);
	r = imc_cmd(c, "MOVE 1 %s", p);
	has(r, " NO [TRYCREATE] ");
	g_free(r);
	g_free(imc_ok(c, "UNSELECT"));
}

static void test_codes(void)
{
	struct imc *a, *b;

	pair("r2codes", &a, &b);
	codes(a, "two");
	codes(b, "one");
	imc_close(a);
	imc_close(b);
}

static void test_select(void)
{
	struct imc *a, *b;
	char *r;

	pair("r2sel", &a, &b);
	g_free(imc_ok(b, "APPEND INBOX {3+}\r\nabc"));
	g_free(imc_ok(b, "CREATE \"Sub box\""));
	/* 6.3.2: FLAGS, EXISTS, LIST, UIDVALIDITY, UIDNEXT; no RECENT
	 * and no [UNSEEN n]; INBOX as the server spells it */
	r = imc_ok(a, "SELECT inbox");
	has(r, "* FLAGS (");
	has(r, "* 1 EXISTS\n");
	has(r, "* LIST () \"/\" \"INBOX\"\n");
	has(r, "* OK [UIDVALIDITY ");
	has(r, "* OK [UIDNEXT 2]");
	has(r, "* OK [PERMANENTFLAGS (");
	has(r, "OK [READ-WRITE] SELECT completed");
	hasnt(r, "RECENT");
	hasnt(r, "[UNSEEN");
	g_free(r);
	r = imc_ok(a, "EXAMINE \"Sub box\"");
	has(r, "* OK [CLOSED]");
	has(r, "* LIST () \"/\" \"Sub box\"\n");
	has(r, "OK [READ-ONLY] EXAMINE completed");
	g_free(r);
	/* the rev1 session: RECENT and UNSEEN, no LIST */
	r = imc_ok(b, "SELECT inbox");
	has(r, "* 1 RECENT\n");
	has(r, "* OK [UNSEEN 1]");
	hasnt(r, "* LIST");
	g_free(r);
	r = imc_ok(b, "FETCH 1 FLAGS");
	has(r, "\\Recent");
	g_free(r);
	r = imc_ok(a, "SELECT INBOX");
	g_free(r);
	r = imc_ok(a, "FETCH 1 FLAGS");
	hasnt(r, "\\Recent");
	g_free(r);
	imc_close(a);
	imc_close(b);
}

/* a command RFC 9051 dropped: BAD for rev2 (the session goes on), as
 * before for rev1 */
static void dropped(struct imc *a, struct imc *b, const char *cmd,
		    const char *rev1_has)
{
	char *r = imc_cmd(a, "%s", cmd);

	has(r, " BAD ");
	has(r, "IMAP4rev2");
	g_free(r);
	g_free(imc_ok(a, "NOOP"));
	r = imc_ok(b, "%s", cmd);
	has(r, rev1_has);
	g_free(r);
}

static void test_dropped(void)
{
	struct imc *a, *b;
	char *r;

	pair("r2drop", &a, &b);
	g_free(imc_ok(b, "SUBSCRIBE INBOX"));
	g_free(imc_ok(b, "APPEND INBOX {9+}\r\nh: v\r\n\r\nb"));
	/* LSUB: LIST (SUBSCRIBED) instead; both answer that */
	dropped(a, b, "LSUB \"\" *", "* LSUB () \"/\" \"INBOX\"");
	r = imc_ok(a, "LIST (SUBSCRIBED) \"\" *");
	has(r, "\\Subscribed) \"/\" \"INBOX\"");
	g_free(r);
	g_free(imc_ok(a, "SELECT INBOX"));
	g_free(imc_ok(b, "SELECT INBOX"));
	dropped(a, b, "CHECK", "OK CHECK");
	dropped(a, b, "FETCH 1 RFC822", "RFC822 {9}");
	dropped(a, b, "FETCH 1 (UID RFC822.HEADER)", "RFC822.HEADER {8}");
	dropped(a, b, "UID FETCH 1 RFC822.TEXT", "RFC822.TEXT {1}");
	/* nothing was marked \Seen by the refused RFC822 fetch */
	r = imc_ok(a, "FETCH 1 FLAGS");
	has(r, "* 1 FETCH (FLAGS (\\Seen))"); /* the rev1 RFC822 did */
	g_free(r);
	/* what rev2 keeps */
	r = imc_ok(a, "FETCH 1 (RFC822.SIZE BODY.PEEK[] BODY.PEEK[HEADER] "
		      "BODY.PEEK[TEXT])");
	has(r, "RFC822.SIZE 9");
	has(r, "BODY[] {9}");
	has(r, "BODY[HEADER] {8}");
	has(r, "BODY[TEXT] {1}");
	g_free(r);
	r = imc_ok(a, "FETCH 1 FAST");
	has(r, "RFC822.SIZE 9");
	g_free(r);
	/* \Recent: SEARCH RECENT/NEW/OLD, STATUS RECENT */
	dropped(a, b, "SEARCH RECENT", "* SEARCH");
	dropped(a, b, "SEARCH NEW", "* SEARCH");
	dropped(a, b, "UID SEARCH OLD", "* SEARCH");
	dropped(a, b, "SEARCH OR SEEN NOT RECENT", "* SEARCH");
	dropped(a, b, "SEARCH RETURN (COUNT) (ALL NEW)", "* ESEARCH");
	dropped(a, b, "SORT (ARRIVAL) UTF-8 RECENT", "* SORT");
	dropped(a, b, "THREAD REFERENCES UTF-8 NEW", "* THREAD");
	r = imc_cmd(a, "STATUS INBOX (MESSAGES RECENT)");
	has(r, " BAD ");
	g_free(r);
	r = imc_ok(b, "STATUS INBOX (MESSAGES RECENT)");
	has(r, "(MESSAGES 1 RECENT ");
	g_free(r);
	r = imc_cmd(a, "LIST \"\" INBOX RETURN (STATUS (RECENT))");
	has(r, " BAD ");
	g_free(r);
	r = imc_ok(b, "LIST \"\" INBOX RETURN (STATUS (RECENT))");
	has(r, "(RECENT ");
	g_free(r);
	/* the flag itself, as a STORE: never storable, for either */
	r = imc_cmd(a, "STORE 1 +FLAGS (\\Recent)");
	has(r, " BAD ");
	g_free(r);
	imc_close(a);
	imc_close(b);
}

static void test_search(void)
{
	struct imc *a, *b;
	char *r;

	pair("r2search", &a, &b);
	g_free(imc_ok(b, "APPEND INBOX {3+}\r\nabc"));
	g_free(imc_ok(b, "APPEND INBOX (\\Seen) {3+}\r\ndef"));
	g_free(imc_ok(b, "APPEND INBOX {3+}\r\nghi"));
	g_free(imc_ok(a, "SELECT INBOX"));
	g_free(imc_ok(b, "SELECT INBOX"));
	/* 6.4.4: ESEARCH without RETURN for rev2, SEARCH for rev1 */
	r = imc_ok(a, "UID SEARCH UNSEEN");
	has(r, "* ESEARCH (TAG \"");
	has(r, "\") UID ALL 1,3\n");
	g_free(r);
	r = imc_ok(b, "UID SEARCH UNSEEN");
	has(r, "* SEARCH 1 3\n");
	g_free(r);
	/* SEARCHRES (RFC 5182): SAVE alone answers nothing, "$" is the
	 * saved set as UIDs or numbers, in SEARCH and in FETCH */
	r = imc_ok(a, "UID SEARCH RETURN (SAVE) UNSEEN");
	hasnt(r, "ESEARCH");
	g_free(r);
	r = imc_ok(a, "UID SEARCH $");
	has(r, "\") UID ALL 1,3\n");
	g_free(r);
	r = imc_ok(a, "UID SEARCH RETURN (MIN MAX COUNT) $ SEEN");
	has(r, "* ESEARCH (TAG \"");
	has(r, "\") UID COUNT 0\n"); /* no MIN/MAX when none matched */
	g_free(r);
	r = imc_ok(a, "SEARCH RETURN (SAVE MIN) UID 2:3");
	has(r, "\") MIN 2\n");
	g_free(r);
	/* RFC 5182 2.4: SAVE with MIN alone saves only the minimum */
	r = imc_ok(a, "UID FETCH $ UID");
	has(r, "* 2 FETCH (UID 2)");
	hasnt(r, "* 3 FETCH");
	hasnt(r, "* 1 FETCH");
	g_free(r);
	/* the rev1 session keeps its own "$" and its SEARCH reply */
	g_free(imc_ok(b, "SEARCH RETURN (SAVE) 1"));
	r = imc_ok(b, "UID SEARCH $");
	has(r, "* SEARCH 1\n");
	g_free(r);
	r = imc_ok(a, "SEARCH $");
	has(r, "\") ALL 2\n");
	g_free(r);
	/* STATUS DELETED and SIZE (6.3.11, RFC 8438), both revisions */
	g_free(imc_ok(a, "STORE 2 +FLAGS.SILENT (\\Deleted)"));
	r = imc_ok(a, "STATUS INBOX (MESSAGES DELETED SIZE UNSEEN)");
	has(r, "(MESSAGES 3 DELETED 1 SIZE 9 UNSEEN 2)");
	g_free(r);
	r = imc_ok(b, "STATUS INBOX (DELETED SIZE)");
	has(r, "(DELETED 1 SIZE 9)");
	g_free(r);
	imc_close(a);
	imc_close(b);
}

static void list_rules(struct imc *c, bool rev2)
{
	char *r;

	/* INBOX: any case names it; the uppercase name is what matches */
	r = imc_ok(c, "LIST \"\" inbox");
	has(r, "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\n");
	g_free(r);
	r = imc_ok(c, "LIST \"\" IN%%");
	has(r, "\"/\" \"INBOX\"\n");
	g_free(r);
	r = imc_ok(c, "LIST \"\" \"\"");
	has(r, "* LIST (\\Noselect) \"/\" \"\"\n");
	g_free(r);
	/* \NonExistent: subscribed, never created (or deleted) */
	r = imc_ok(c, "LIST (SUBSCRIBED) \"\" \"gone*\"");
	has(r, "* LIST (\\NonExistent ");
	has(r, " \\Subscribed) \"/\" \"gone\"\n");
	g_free(r);
	/* \Subscribed only when asked for */
	r = imc_ok(c, "LIST \"\" \"gone*\"");
	hasnt(r, "* LIST");
	g_free(r);
	r = imc_ok(c, "LIST \"\" \"kept\"");
	hasnt(r, "\\Subscribed");
	g_free(r);
	r = imc_ok(c, "LIST \"\" \"kept\" RETURN (SUBSCRIBED CHILDREN)");
	has(r, "\\Subscribed");
	has(r, "\\HasNoChildren");
	g_free(r);
	r = imc_ok(c, "LIST (SPECIAL-USE) \"\" *");
	has(r, "\\Trash) \"/\" \"Trash\"");
	hasnt(r, "\"kept\"");
	g_free(r);
	r = imc_ok(c, "LIST \"\" kept RETURN (STATUS (MESSAGES DELETED SIZE))");
	has(r, "* STATUS \"kept\" (MESSAGES 0 DELETED 0 SIZE 0)");
	g_free(r);
	(void)rev2;
}

static void test_list(void)
{
	struct imc *a, *b;

	pair("r2list", &a, &b);
	g_free(imc_ok(a, "CREATE gone"));
	g_free(imc_ok(a, "SUBSCRIBE gone"));
	g_free(imc_ok(a, "DELETE gone"));
	g_free(imc_ok(a, "CREATE kept"));
	g_free(imc_ok(a, "SUBSCRIBE kept"));
	list_rules(a, true);
	list_rules(b, false);
	imc_close(a);
	imc_close(b);
}

/* the extensions rev2 took in, used from a rev2 session */
static void test_extensions(void)
{
	struct imc *a, *b;
	char *r;

	pair("r2ext", &a, &b);
	r = imc_ok(a, "NAMESPACE");
	has(r, "* NAMESPACE ((\"\" \"/\")) NIL NIL\n");
	g_free(r);
	r = imc_ok(a, "ID (\"name\" \"test\")");
	has(r, "* ID (");
	g_free(r);
	/* LITERAL- (LITERAL+ here), APPENDUID (UIDPLUS) */
	r = imc_ok(a, "APPEND INBOX {23+}\r\nSubject: x\r\n\r\nhello \xff\r\n");
	has(r, "OK [APPENDUID ");
	g_free(r);
	/* BINARY (literal8 only for NULs: test_imap_binary) */
	g_free(imc_ok(a, "CREATE Dest"));
	g_free(imc_ok(a, "SELECT INBOX"));
	r = imc_ok(a, "FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1])");
	has(r, "BINARY.SIZE[1] 9");
	has(r, "BINARY[1] {9}"); /* 8-bit, no NUL: a plain literal */
	g_free(r);
	/* IDLE sees another session's append */
	g_assert_true(rmh_send(a->c, "i IDLE"));
	g_free(imc_until(a, "+ ", 5));
	g_free(imc_ok(b, "APPEND INBOX {3+}\r\nabc"));
	r = imc_until(a, "* 2 EXISTS", 5);
	g_assert_nonnull(r);
	g_free(r);
	g_assert_true(rmh_send(a->c, "DONE"));
	r = imc_until(a, "i OK", 5);
	g_assert_nonnull(r);
	g_free(r);
	/* COPYUID for MOVE and UID MOVE alike; UID EXPUNGE, UNSELECT */
	g_free(imc_ok(b, "APPEND INBOX {3+}\r\ndef"));
	r = imc_ok(a, "UID MOVE 2 Dest");
	has(r, "* OK [COPYUID ");
	has(r, "* 2 EXPUNGE");
	g_free(r);
	r = imc_ok(a, "MOVE 2 Dest");
	has(r, "* OK [COPYUID ");
	has(r, "* 2 EXPUNGE");
	g_free(r);
	g_free(imc_ok(a, "STORE 1 +FLAGS.SILENT (\\Deleted)"));
	r = imc_ok(a, "UID EXPUNGE 1");
	has(r, "* 1 EXPUNGE");
	g_free(r);
	r = imc_ok(a, "UNSELECT");
	hasnt(r, "EXPUNGE");
	g_free(r);
	/* RENAME tells rev2 the old name (6.3.6) */
	r = imc_ok(a, "RENAME Dest Dest2");
	has(r, "* LIST () \"/\" \"Dest2\" (\"OLDNAME\" (\"Dest\"))\n");
	g_free(r);
	r = imc_ok(b, "RENAME Dest2 Dest");
	hasnt(r, "OLDNAME");
	g_free(r);
	imc_close(a);
	imc_close(b);
}

/* a rev1-only client library is not put off by the longer list */
static void test_imaplib(void)
{
	struct imc *c = imc_fresh(D, "r2py");
	char *script, *out = NULL, *err = NULL;
	char *argv[] = {"python3", "-c", NULL, NULL};
	gint status = -1;

	g_free(imc_ok(c, "APPEND INBOX {12+}\r\nSubject: y\r\n"));
	imc_close(c);
	script = g_strdup_printf("import imaplib\n"
				 "m = imaplib.IMAP4('127.0.0.1', %u)\n"
				 "print('caps', ' '.join(m.capabilities))\n"
				 "print(m.PROTOCOL_VERSION)\n"
				 "m.login('r2py@example.test', 'pw-secret')\n"
				 "print(m.select('INBOX'))\n"
				 "print(m.fetch('1', '(RFC822)')[1][0][1])\n"
				 "print(m.lsub()[0])\n"
				 "print(m.check()[0])\n"
				 "m.logout()\n",
				 D->port);
	argv[2] = script;
	g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
				   NULL, &out, &err, &status, NULL));
	if (status != 0)
		g_test_message("python: %s %s", out, err);
	g_assert_cmpint(status, ==, 0);
	has(out, "caps IMAP4REV1 IMAP4REV2 ");
	has(out, "\nIMAP4REV1\n");
	has(out, "('OK', [b'1'])");
	has(out, "b'Subject: y\\r\\n'");
	has(out, "\nOK\nOK\n");
	g_free(out);
	g_free(err);
	g_free(script);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/rev2/capability", test_capability);
	g_test_add_func("/imap/rev2/codes", test_codes);
	g_test_add_func("/imap/rev2/select", test_select);
	g_test_add_func("/imap/rev2/dropped", test_dropped);
	g_test_add_func("/imap/rev2/search", test_search);
	g_test_add_func("/imap/rev2/list", test_list);
	g_test_add_func("/imap/rev2/extensions", test_extensions);
	g_test_add_func("/imap/rev2/imaplib", test_imaplib);
	D = imd_start("\"allow_cleartext_login_loopback\": true");
	rc = g_test_run();
	imd_stop(D);
	return rc;
}
