/*
 * UTF8=ACCEPT (RFC 6855) against the real daemon: ENABLE, mailbox names
 * taken and sent as UTF-8 once enabled (LIST, LSUB, STATUS, SELECT,
 * RENAME, "&" as itself) while other sessions keep modified UTF-7 (a
 * model check over random names made from both sides), the "UTF8 ("
 * literal8 ")" APPEND data (synchronizing, LITERAL+, MULTIAPPEND, the
 * refusals), 8-bit headers in ENVELOPE and header fetches as stored,
 * SEARCH with a CHARSET answered BAD, and Python's imaplib as a client.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_client.h"
#include "mutf7.h"

#define PASS "pw-secret"

static struct imd *D;

static char *login_as(const char *name, struct imc **c_r)
{
	char *u = g_strdup_printf("%s@example.test", name);

	*c_r = imc_login(D, u, PASS);
	return u;
}

static struct imc *enabled(struct imc *c)
{
	char *r = imc_ok(c, "ENABLE UTF8=ACCEPT");

	has(r, "* ENABLED UTF8=ACCEPT\n");
	g_free(r);
	return c;
}

static void test_capability(void)
{
	struct imc *c = imc_fresh(D, "u8cap");
	char *r = imc_ok(c, "CAPABILITY");

	has(r, " UTF8=ACCEPT");
	g_free(r);
	/* listed once: a second ENABLE turns nothing on */
	enabled(c);
	r = imc_ok(c, "ENABLE UTF8=ACCEPT");
	has(r, "* ENABLED\n");
	g_free(r);
	imc_close(c);
}

static void test_names(void)
{
	struct imc *a = imc_fresh(D, "u8names"), *b;
	char *u, *r;

	u = login_as("u8names", &b);
	enabled(b);
	/* made from the legacy side in modified UTF-7 */
	g_free(imc_ok(a, "CREATE \"&ZeVnLIqe-\""));
	g_free(imc_ok(a, "CREATE \"A&-B\""));
	/* made from the UTF-8 side: "&" is itself */
	g_free(imc_ok(b, "CREATE \"Caf\xc3\xa9\""));
	g_free(imc_ok(b, "CREATE \"Caf\xc3\xa9/Cr\xc3\xa8me\""));
	g_free(imc_ok(b, "CREATE \"x&y\""));

	r = imc_ok(a, "LIST \"\" *");
	has(r, "\"&ZeVnLIqe-\"");
	has(r, "\"A&-B\"");
	has(r, "\"Caf&AOk-\"\n");
	has(r, "\"Caf&AOk-/Cr&AOg-me\"");
	has(r, "\"x&-y\"");
	hasnt(r, "\xc3");
	g_free(r);

	r = imc_ok(b, "LIST \"\" *");
	has(r, "\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"");
	has(r, "\"A&B\"");
	has(r, "\"Caf\xc3\xa9\"\n");
	has(r, "\"Caf\xc3\xa9/Cr\xc3\xa8me\"");
	has(r, "\"x&y\"");
	hasnt(r, "&AOk-");
	hasnt(r, "&-");
	g_free(r);

	/* patterns are UTF-8 too */
	r = imc_ok(b, "LIST \"Caf\xc3\xa9/\" %%");
	has(r, "\"Caf\xc3\xa9/Cr\xc3\xa8me\"");
	hasnt(r, "\"Caf\xc3\xa9\"\n");
	g_free(r);
	r = imc_ok(b, "LIST \"\" \"Caf&AOk-\"");
	hasnt(r, "* LIST");
	g_free(r);

	/* STATUS, LIST-STATUS, SELECT, LSUB, RENAME */
	r = imc_ok(b, "STATUS \"Caf\xc3\xa9\" (MESSAGES)");
	has(r, "* STATUS \"Caf\xc3\xa9\" (MESSAGES 0)");
	g_free(r);
	r = imc_ok(b, "LIST \"\" \"Caf*\" RETURN (STATUS (MESSAGES))");
	has(r, "* STATUS \"Caf\xc3\xa9/Cr\xc3\xa8me\" (MESSAGES 0)");
	g_free(r);
	r = imc_ok(a, "LIST \"\" \"Caf*\" RETURN (STATUS (MESSAGES))");
	has(r, "* STATUS \"Caf&AOk-/Cr&AOg-me\" (MESSAGES 0)");
	g_free(r);
	g_free(imc_ok(b, "SUBSCRIBE \"Caf\xc3\xa9/Cr\xc3\xa8me\""));
	r = imc_ok(b, "LSUB \"\" *");
	has(r, "* LSUB () \"/\" \"Caf\xc3\xa9/Cr\xc3\xa8me\"");
	g_free(r);
	r = imc_ok(b, "LSUB \"\" %%");
	has(r, "* LSUB (\\Noselect) \"/\" \"Caf\xc3\xa9\"");
	g_free(r);
	r = imc_ok(a, "LSUB \"\" *");
	has(r, "* LSUB () \"/\" \"Caf&AOk-/Cr&AOg-me\"");
	g_free(r);
	g_free(imc_ok(b, "SELECT \"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\""));
	g_free(imc_ok(b, "RENAME \"x&y\" \"\xce\xb1&\xce\xb2\""));
	r = imc_ok(a, "LIST \"\" \"*&-*\"");
	has(r, "\"&A7E-&-&A7I-\"");
	g_free(r);
	r = imc_ok(a, "SELECT \"&A7E-&-&A7I-\"");
	has(r, "[READ-WRITE]");
	g_free(r);

	/* not UTF-8, or a control character: no name */
	r = imc_cmd(b, "CREATE \"bad\xc3(\"");
	has(r, " NO Invalid mailbox name");
	g_free(r);
	r = imc_cmd(b, "CREATE \"bad\xc2\x85x\"");
	has(r, " NO Invalid mailbox name");
	g_free(r);
	r = imc_cmd(b, "CREATE {3+}\r\na\x01z");
	has(r, " NO Invalid mailbox name");
	g_free(r);
	/* the legacy side still wants modified UTF-7 */
	r = imc_cmd(a, "CREATE \"Caf\xc3\xa9 2\"");
	has(r, " NO Invalid mailbox name");
	g_free(r);
	imc_close(a);
	imc_close(b);
	g_free(u);
}

/*
 * Model check: names made of ASCII, "&", Latin, CJK and astral
 * characters, created alternately by a UTF-8 session (as they are) and
 * a legacy one (in modified UTF-7, from the codec the daemon uses); each
 * session's LIST must be exactly the model in its own form.
 */
static void test_model(void)
{
	static const char *const alpha[] = {
		"a",
		"Z",
		"&",
		"-",
		" ",
		"~",
		"\xc3\xa9",
		"\xe6\x97\xa5",
		"\xf0\x9d\x84\x9e",
		"+",
		",",
	};
	struct imc *a = imc_fresh(D, "u8model"), *b;
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	GRand *rnd = g_rand_new_with_seed(6855);
	char *u, *ra, *rb, wire[1024];
	const char *why;
	size_t wl;
	guint i, k;

	u = login_as("u8model", &b);
	enabled(b);
	for (i = 0; i < 40; i++) {
		GString *n = g_string_new("m");
		guint len = (guint)g_rand_int_range(rnd, 1, 7);
		char *r;

		for (k = 0; k < len; k++)
			g_string_append(n,
					alpha[g_rand_int_range(
						rnd, 0, G_N_ELEMENTS(alpha))]);
		g_assert_cmpint(mutf7_encode(n->str, n->len, wire, sizeof(wire),
					     &wl, &why),
				==, 0);
		if (i % 2)
			r = imc_cmd(b, "CREATE \"%s\"", n->str);
		else
			r = imc_cmd(a, "CREATE \"%s\"", wire);
		/* a duplicate of an earlier name is the only failure */
		if (strstr(r, " OK ") != NULL)
			g_ptr_array_add(names, g_string_free(n, FALSE));
		else
			g_string_free(n, TRUE);
		g_free(r);
	}
	g_assert_cmpuint(names->len, >, 30);
	ra = imc_ok(a, "LIST \"\" \"m*\"");
	rb = imc_ok(b, "LIST \"\" \"m*\"");
	for (i = 0; i < names->len; i++) {
		const char *n = g_ptr_array_index(names, i);
		char *want;

		g_assert_cmpint(mutf7_encode(n, strlen(n), wire, sizeof(wire),
					     &wl, &why),
				==, 0);
		want = g_strdup_printf("\"/\" \"%s\"\n", wire);
		has(ra, want);
		g_free(want);
		want = g_strdup_printf("\"/\" \"%s\"\n", n);
		has(rb, want);
		g_free(want);
	}
	/* nothing else, and no 8-bit on the legacy side */
	for (i = 0, k = 0; ra[i] != '\0'; i++)
		k += strncmp(ra + i, "* LIST ", 7) == 0;
	g_assert_cmpuint(k, ==, names->len);
	for (i = 0, k = 0; rb[i] != '\0'; i++)
		k += strncmp(rb + i, "* LIST ", 7) == 0;
	g_assert_cmpuint(k, ==, names->len);
	for (i = 0; ra[i] != '\0'; i++)
		g_assert_cmpint((unsigned char)ra[i], <, 0x80);
	g_free(ra);
	g_free(rb);
	g_ptr_array_free(names, TRUE);
	g_rand_free(rnd);
	imc_close(a);
	imc_close(b);
	g_free(u);
}

static const char msg8[] = "From: =?UTF-8?Q?J=C3=B6rg?= <j@example.test>\r\n"
			   "To: \xc3\xa9lodie@\xc3\xa9xample.test\r\n"
			   "Subject: caf\xc3\xa9 cr\xc3\xa8me\r\n"
			   "Message-ID: <u8@example.test>\r\n"
			   "\r\n"
			   "body \xc3\xa9\r\n";

static void test_append(void)
{
	struct imc *c = enabled(imc_fresh(D, "u8app"));
	size_t n = strlen(msg8);
	char *l, *r, *want;

	/* synchronizing: the "+" comes for the literal8 in the list */
	g_assert_true(
		rmh_send(c->c, "A1 APPEND INBOX (\\Seen) UTF8 (~{%zu}", n));
	g_assert_true(rmh_expect(c->c, "+ ", NULL));
	g_assert_true(rmh_send_raw(c->c, msg8, n));
	g_assert_true(rmh_send(c->c, ")"));
	g_assert_true(rmh_expect(c->c, "A1 ", &l));
	has(l, "A1 OK [APPENDUID ");
	g_free(l);
	/* LITERAL+ and MULTIAPPEND, UTF8 and plain messages mixed */
	r = imc_ok(c,
		   "APPEND INBOX UTF8 (~{%zu+}\r\n%s) {3+}\r\nabc "
		   "\"01-Jan-2020 10:00:00 +0000\" UTF8 (~{3+}\r\nxyz)",
		   n, msg8);
	has(r, " 2:4] APPEND completed");
	g_free(r);

	r = imc_ok(c, "SELECT INBOX");
	has(r, "* 4 EXISTS");
	g_free(r);
	/* stored as sent: the headers come back as they are, 8-bit
	 * strings as literals */
	r = imc_ok(c, "FETCH 1 (FLAGS RFC822.SIZE BODY.PEEK[])");
	has(r, "FLAGS (\\Seen");
	want = g_strdup_printf("RFC822.SIZE %zu ", n);
	has(r, want);
	g_free(want);
	has(r, msg8);
	g_free(r);
	r = imc_ok(c, "FETCH 1 (ENVELOPE BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
	has(r, "{12}\ncaf\xc3\xa9 cr\xc3\xa8me");
	has(r, "Subject: caf\xc3\xa9 cr\xc3\xa8me\r\n");
	/* (the client keeps the CRLF of a literal after a literal) */
	has(r, "((NIL NIL {7}\r\n\xc3\xa9lodie {13}\r\n\xc3\xa9xample.test))");
	g_free(r);
	r = imc_ok(c, "FETCH 4 BODY.PEEK[]");
	has(r, "{3}\nxyz)");
	g_free(r);
	r = imc_ok(c, "FETCH 4 INTERNALDATE");
	has(r, "01-Jan-2020");
	g_free(r);

	/* UTF8 takes a literal8, alone in its list */
	r = imc_cmd(c, "APPEND INBOX UTF8 ({3+}\r\nabc)");
	has(r, " BAD UTF8 takes a literal8");
	g_free(r);
	r = imc_cmd(c, "APPEND INBOX UTF8 (~{3+}\r\nabc x)");
	has(r, " BAD Invalid APPEND arguments");
	g_free(r);
	r = imc_cmd(c, "APPEND INBOX UTF8 x");
	has(r, " BAD ");
	g_free(r);
	r = imc_ok(c, "NOOP");
	hasnt(r, "EXISTS");
	g_free(r);

	/* a legacy session sees the same bytes (no downgrade) */
	imc_close(c);
	c = imc_login(D, "u8app@example.test", PASS);
	g_free(imc_ok(c, "EXAMINE INBOX"));
	r = imc_ok(c, "FETCH 1 ENVELOPE");
	has(r, "{12}\ncaf\xc3\xa9 cr\xc3\xa8me");
	g_free(r);
	imc_close(c);
}

static void test_search(void)
{
	struct imc *c = imc_fresh(D, "u8search");
	size_t n = strlen(msg8);
	char *r;

	r = imc_ok(c, "APPEND INBOX UTF8 (~{%zu+}\r\n%s)", n, msg8);
	g_free(r);
	g_free(imc_ok(c, "APPEND INBOX {3+}\r\nabc"));
	g_free(imc_ok(c, "SELECT INBOX"));
	/* before: CHARSET is fine */
	r = imc_ok(c, "SEARCH CHARSET UTF-8 SUBJECT \"cr\xc3\xa8me\"");
	has(r, "* SEARCH 1\n");
	g_free(r);
	g_free(imc_ok(c, "UNSELECT"));
	enabled(c);
	g_free(imc_ok(c, "SELECT INBOX"));
	r = imc_cmd(c, "SEARCH CHARSET UTF-8 ALL");
	has(r, " BAD ");
	g_free(r);
	r = imc_cmd(c, "UID SEARCH RETURN (COUNT) CHARSET US-ASCII ALL");
	has(r, " BAD ");
	g_free(r);
	r = imc_ok(c, "SEARCH SUBJECT \"cr\xc3\xa8me\"");
	has(r, "* SEARCH 1\n");
	g_free(r);
	r = imc_ok(c, "SEARCH SUBJECT {6+}\r\ncr\xc3\xa8me");
	has(r, "* SEARCH 1\n");
	g_free(r);
	/* RFC 6855 erratum 4029: SORT's charset must be UTF-8 */
	r = imc_cmd(c, "SORT (SUBJECT) US-ASCII ALL");
	has(r, " BAD ");
	g_free(r);
	r = imc_ok(c, "SORT (SUBJECT) UTF-8 ALL");
	has(r, "* SORT 2 1\n");
	g_free(r);
	imc_close(c);
}

/* a real client library in UTF-8 mode (its APPEND wraps the literal in
 * "UTF8 (" itself, against RFC 6855's grammar: not used) */
static void test_imaplib(void)
{
	struct imc *c = imc_fresh(D, "u8py");
	char *script, *out = NULL, *err = NULL;
	char *argv[] = {"python3", "-c", NULL, NULL};
	gint status = -1;

	g_free(imc_ok(c, "CREATE \"&ZeVnLIqe-\""));
	g_free(imc_ok(c, "APPEND \"&ZeVnLIqe-\" {3+}\r\nabc"));
	imc_close(c);
	script = g_strdup_printf(
		"import imaplib\n"
		"m = imaplib.IMAP4('127.0.0.1', %u)\n"
		"m.login('u8py@example.test', 'pw-secret')\n"
		"print(m.enable('UTF8=ACCEPT'))\n"
		"print(m.create('\"Caf\\u00e9\"')[0])\n"
		"t, d = m.list('\"\"', '*')\n"
		"print(t, ascii(sorted(x.decode() for x in d)))\n"
		"t, d = m.select('\"\\u65e5\\u672c\\u8a9e\"')\n"
		"print(t, d)\n"
		"print(m.search(None, 'ALL'))\n"
		"m.logout()\n",
		D->port);
	argv[2] = script;
	g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
				   NULL, &out, &err, &status, NULL));
	if (status != 0)
		g_test_message("python: %s %s", out, err);
	g_assert_cmpint(status, ==, 0);
	has(out, "('OK', [b'ENABLE completed'])");
	has(out, "\nOK\n");
	has(out, "'(\\\\HasNoChildren) \"/\" \"Caf\\xe9\"'");
	has(out, "'(\\\\HasNoChildren) \"/\" \"\\u65e5\\u672c\\u8a9e\"'");
	has(out, "OK [b'1']");
	has(out, "('OK', [b'1'])");
	g_free(out);
	g_free(err);
	g_free(script);
}

/*
 * ENABLE IMAP4rev2 (RFC 9051; the rest in e2e_imap_rev2): UTF-8 names without
 * UTF8=ACCEPT's CHARSET rule, no RECENT or \\Recent (left to rev1
 * sessions), SEARCH answered with ESEARCH, STATUS DELETED, OLDNAME
 * after RENAME.
 */
static void test_rev2(void)
{
	struct imc *a = imc_fresh(D, "rev2"), *b;
	char *u, *r;

	u = login_as("rev2", &b);
	r = imc_ok(a, "ENABLE IMAP4rev2");
	has(r, "* ENABLED IMAP4rev2\n");
	g_free(r);
	g_free(imc_ok(b, "APPEND INBOX {3+}\r\nabc"));
	g_free(imc_ok(b, "APPEND INBOX {3+}\r\ndef"));

	r = imc_ok(a, "SELECT INBOX");
	has(r, "* 2 EXISTS");
	hasnt(r, "RECENT");
	hasnt(r, "[UNSEEN ");
	g_free(r);
	r = imc_ok(a, "FETCH 1:* FLAGS");
	hasnt(r, "\\Recent");
	g_free(r);
	/* the rev1 session still gets them */
	r = imc_ok(b, "SELECT INBOX");
	has(r, "* 2 RECENT");
	g_free(r);
	g_free(imc_ok(b, "APPEND INBOX {3+}\r\nghi"));
	r = imc_ok(a, "NOOP");
	has(r, "* 3 EXISTS");
	hasnt(r, "RECENT");
	g_free(r);

	r = imc_ok(a, "SEARCH ALL");
	has(r, "* ESEARCH (TAG \"");
	has(r, "\") ALL 1:3\n");
	hasnt(r, "* SEARCH");
	g_free(r);
	r = imc_ok(a, "UID SEARCH 2:3");
	has(r, "\") UID ALL 2:3\n");
	g_free(r);
	r = imc_ok(a, "SEARCH DELETED");
	has(r, "* ESEARCH (TAG \"");
	hasnt(r, " ALL ");
	g_free(r);
	/* RETURN as before; CHARSET is fine without UTF8=ACCEPT */
	r = imc_ok(a, "SEARCH RETURN (COUNT) CHARSET UTF-8 ALL");
	has(r, "\") COUNT 3\n");
	g_free(r);
	r = imc_ok(b, "SEARCH ALL");
	has(r, "* SEARCH 1 2 3\n");
	g_free(r);

	g_free(imc_ok(a, "STORE 1,3 +FLAGS.SILENT (\\Deleted)"));
	r = imc_ok(b, "STATUS INBOX (MESSAGES DELETED)");
	has(r, "* STATUS \"INBOX\" (MESSAGES 3 DELETED 2)");
	g_free(r);

	/* UTF-8 names; OLDNAME for the rev2 session only */
	g_free(imc_ok(a, "CREATE \"Caf\xc3\xa9\""));
	r = imc_ok(a, "RENAME \"Caf\xc3\xa9\" \"Th\xc3\xa9\"");
	has(r, "* LIST () \"/\" \"Th\xc3\xa9\" (\"OLDNAME\" "
	       "(\"Caf\xc3\xa9\"))\n");
	g_free(r);
	r = imc_ok(b, "RENAME \"Th&AOk-\" \"Caf&AOk-\"");
	hasnt(r, "OLDNAME");
	g_free(r);
	r = imc_ok(a, "LIST \"\" \"Caf*\"");
	has(r, "\"Caf\xc3\xa9\"");
	g_free(r);
	imc_close(a);
	imc_close(b);
	g_free(u);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/utf8/capability", test_capability);
	g_test_add_func("/imap/utf8/names", test_names);
	g_test_add_func("/imap/utf8/model", test_model);
	g_test_add_func("/imap/utf8/append", test_append);
	g_test_add_func("/imap/utf8/search", test_search);
	g_test_add_func("/imap/utf8/imaplib", test_imaplib);
	g_test_add_func("/imap/rev2/enable", test_rev2);
	D = imd_start("\"allow_cleartext_login_loopback\": true");
	rc = g_test_run();
	imd_stop(D);
	return rc;
}
