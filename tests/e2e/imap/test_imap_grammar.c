/*
 * RFC 3501 grammar and semantics against the real daemon: every
 * printable byte in mailbox names, flags and search keys (NO for a
 * mailbox that does not exist, BAD only for what the grammar refuses),
 * keywords that look like NIL, the full nz-number range for UIDs, LSUB
 * \Noselect parents, and the address SEARCH keys matching what
 * ENVELOPE shows.
 */
#include <string.h>

#include "imap_client.h"

static struct imd *D;

static void append(struct imc *c, const char *mbox, const char *msg)
{
	char *r =
		imc_ok(c, "APPEND \"%s\" {%zu+}\r\n%s", mbox, strlen(msg), msg);

	g_free(r);
}

/* the tagged status word of a reply ("OK", "NO", "BAD"): the word
 * after the tag on the last line */
static char *status_of(const char *r)
{
	size_t n = strlen(r);
	const char *t, *p;

	while (n > 0 && (r[n - 1] == '\r' || r[n - 1] == '\n'))
		n--;
	t = r + n;
	while (t > r && t[-1] != '\n')
		t--;
	p = memchr(t, ' ', (size_t)(r + n - t));
	g_assert_nonnull(p);
	p++;
	return g_strndup(p, strcspn(p, " \r\n"));
}

static void want_status(char *r, const char *want, const char *what, int c)
{
	char *st = status_of(r);

	if (strcmp(st, want) != 0)
		g_test_message("%s byte 0x%02x: %s", what, c, r);
	g_assert_cmpstr(st, ==, want);
	g_free(st);
}

/* atom-specials (RFC 3501 9) that can sit inside an atom-shaped word;
 * ( ) { " and SP end it or start something else */
#define ATOM_SPECIALS "(){%*\"\\]"
#define ASTRING_SPECIALS "(){%*\"\\"

static void test_mailbox_chars(void)
{
	struct imc *c = imc_fresh(D, "mboxchars");
	int ch;
	char *r;

	for (ch = 0x21; ch < 0x7f; ch++) {
		bool ok = strchr(ASTRING_SPECIALS, ch) == NULL;

		/* x<c>y as an atom: a valid name that does not exist */
		r = imc_cmd(c, "SELECT x%cy", ch);
		want_status(r, ok ? "NO" : "BAD", "SELECT", ch);
		g_free(r);
		r = imc_cmd(c, "STATUS x%cy (MESSAGES)", ch);
		want_status(r, ok ? "NO" : "BAD", "STATUS", ch);
		g_free(r);
		if (!ok || ch == '&')
			continue; /* "x&y" is not modified UTF-7: NO */
		r = imc_cmd(c, "CREATE x%cy", ch);
		want_status(r, "OK", "CREATE", ch);
		g_free(r);
		r = imc_cmd(c, "SELECT x%cy", ch);
		want_status(r, "OK", "SELECT created", ch);
		g_free(r);
	}
	/* a lone "~" is an atom, not a literal8 */
	r = imc_cmd(c, "SELECT ~");
	want_status(r, "NO", "SELECT", '~');
	g_free(r);
	r = imc_cmd(c, "SELECT [y");
	want_status(r, "NO", "SELECT", '[');
	g_free(r);
	r = imc_cmd(c, "SELECT ]y");
	want_status(r, "NO", "SELECT", ']');
	g_free(r);
	r = imc_cmd(c, "SELECT Nowhere");
	want_status(r, "NO", "SELECT", 0);
	g_free(r);
	r = imc_cmd(c, "EXAMINE \"no/such\"");
	want_status(r, "NO", "EXAMINE", 0);
	g_free(r);
	imc_close(c);
}

/* STORE, FETCH and SEARCH KEYWORD for k<c>z: at most 64 keywords per
 * mailbox, so a fresh mailbox every 40 bytes */
static void test_flag_chars(void)
{
	struct imc *c = imc_fresh(D, "flagchars");
	int ch, box = -1, n = 0;
	char *r;

	for (ch = 0x21; ch < 0x7f; ch++) {
		bool ok = strchr(ATOM_SPECIALS, ch) == NULL;
		char kw[4] = {'k', (char)ch, 'z', '\0'};

		if (n++ % 40 == 0) {
			box++;
			r = imc_ok(c, "CREATE f%d", box);
			g_free(r);
			{
				char *mb = g_strdup_printf("f%d", box);

				append(c, mb, "Subject: x\r\n\r\nx\r\n");
				g_free(mb);
			}
			r = imc_ok(c, "SELECT f%d", box);
			g_free(r);
		}
		r = imc_cmd(c, "STORE 1 FLAGS (%s)", kw);
		want_status(r, ok ? "OK" : "BAD", "STORE", ch);
		if (ok) {
			/* keywords are case-insensitive: "kiz" after "kIz"
			 * in one mailbox keeps the first spelling */
			char *lr = g_ascii_strdown(r, -1);
			char *lk = g_ascii_strdown(kw, -1);

			has(lr, lk);
			g_free(lr);
			g_free(lk);
		}
		g_free(r);
		r = imc_cmd(c, "SEARCH KEYWORD %s", kw);
		want_status(r, ok ? "OK" : "BAD", "SEARCH KEYWORD", ch);
		if (ok)
			has(r, "* SEARCH 1\n");
		g_free(r);
		r = imc_cmd(c, "SEARCH SUBJECT x%cy", ch);
		want_status(r,
			    strchr(ASTRING_SPECIALS, ch) == NULL ? "OK" : "BAD",
			    "SEARCH SUBJECT", ch);
		g_free(r);
	}
	/* keywords starting with "~" and "[" */
	r = imc_ok(c, "STORE 1 FLAGS (~k [k $k)");
	/* \Recent may come first */
	has(r, "~k [k $k))");
	g_free(r);
	r = imc_ok(c, "SEARCH KEYWORD ~k KEYWORD [k");
	has(r, "* SEARCH 1\n");
	g_free(r);
	r = imc_ok(c, "SEARCH SUBJECT ~");
	g_free(r);
	imc_close(c);
}

/* "* n FETCH (FLAGS (... NIL))", with or without \Recent */
static void has_nil_flag(const char *r, int n)
{
	char *a = g_strdup_printf("* %d FETCH (FLAGS (NIL))", n);
	char *b = g_strdup_printf("* %d FETCH (FLAGS (\\Recent NIL))", n);

	if (strstr(r, a) == NULL && strstr(r, b) == NULL)
		g_test_message("reply: %s", r);
	g_assert_true(strstr(r, a) != NULL || strstr(r, b) != NULL);
	g_free(a);
	g_free(b);
}

/* a flag keyword is any atom, NIL included */
static void test_nil_keyword(void)
{
	struct imc *c = imc_fresh(D, "nilkw");
	char *r;

	append(c, "INBOX", "Subject: a\r\n\r\na\r\n");
	append(c, "INBOX", "Subject: b\r\n\r\nb\r\n");
	r = imc_ok(c, "SELECT INBOX");
	g_free(r);
	r = imc_ok(c, "STORE 1 +FLAGS (NIL)");
	has_nil_flag(r, 1);
	g_free(r);
	r = imc_ok(c, "STORE 2 +FLAGS Nil");
	has_nil_flag(r, 2);
	g_free(r);
	r = imc_ok(c, "FETCH 1:2 FLAGS");
	has_nil_flag(r, 1);
	g_free(r);
	r = imc_ok(c, "SEARCH KEYWORD NIL");
	has(r, "* SEARCH 1 2\n");
	g_free(r);
	r = imc_ok(c, "STORE 2 -FLAGS (nil)");
	g_free(r);
	r = imc_ok(c, "SEARCH UNKEYWORD NIL");
	has(r, "* SEARCH 2\n");
	g_free(r);
	r = imc_ok(c, "APPEND INBOX (NIL \\Seen) {14+}\r\nSubject: c\r\n\r\n");
	g_free(r);
	r = imc_ok(c, "NOOP");
	g_free(r);
	r = imc_ok(c, "FETCH 3 FLAGS");
	has(r, "NIL");
	g_free(r);
	imc_close(c);
}

/* UIDs cover 1..4294967295; "*" is the largest UID in use */
static void test_uid_range(void)
{
	struct imc *c = imc_fresh(D, "uidrange");
	char *r;

	append(c, "INBOX", "Subject: a\r\n\r\na\r\n");
	append(c, "INBOX", "Subject: b\r\n\r\nb\r\n");
	r = imc_ok(c, "SELECT INBOX");
	g_free(r);
	r = imc_ok(c, "UID FETCH 4294967295 UID");
	hasnt(r, "FETCH (");
	g_free(r);
	r = imc_ok(c, "UID FETCH * UID");
	has(r, "* 2 FETCH (UID 2)");
	hasnt(r, "* 1 FETCH");
	g_free(r);
	r = imc_ok(c, "UID FETCH 2:4294967295 UID");
	has(r, "* 2 FETCH (UID 2)");
	hasnt(r, "* 1 FETCH");
	g_free(r);
	r = imc_ok(c, "UID FETCH 4294967295:1 UID");
	has(r, "* 1 FETCH (UID 1)");
	has(r, "* 2 FETCH (UID 2)");
	g_free(r);
	r = imc_cmd(c, "UID FETCH 4294967296 UID");
	want_status(r, "BAD", "UID FETCH 2^32", 0);
	g_free(r);
	r = imc_cmd(c, "UID FETCH 1:4294967296 UID");
	want_status(r, "BAD", "UID FETCH 1:2^32", 0);
	g_free(r);
	r = imc_ok(c, "UID SEARCH UID 4294967295");
	has(r, "* SEARCH\n");
	g_free(r);
	r = imc_ok(c, "UID SEARCH UID *");
	has(r, "* SEARCH 2\n");
	g_free(r);
	r = imc_ok(c, "UID STORE 4294967295 +FLAGS (\\Flagged)");
	hasnt(r, "FETCH");
	g_free(r);
	r = imc_ok(c, "UID EXPUNGE 4294967295");
	hasnt(r, "EXPUNGE\r\n* ");
	g_free(r);
	r = imc_ok(c, "SEARCH FLAGGED");
	has(r, "* SEARCH\n");
	g_free(r);
	/* a sequence number beyond the mailbox is refused */
	r = imc_cmd(c, "FETCH 4294967295 UID");
	want_status(r, "BAD", "FETCH 2^32-1", 0);
	g_free(r);
	imc_close(c);
}

/* RFC 3501 6.3.9: a "%" LSUB returns an unsubscribed parent of a
 * subscribed mailbox, flagged \Noselect */
static void test_lsub_noselect(void)
{
	struct imc *c = imc_fresh(D, "lsub");
	char *r;

	r = imc_ok(c, "CREATE a/b");
	g_free(r);
	r = imc_ok(c, "SUBSCRIBE a/b");
	g_free(r);
	r = imc_ok(c, "LSUB \"\" \"%%\"");
	has(r, "* LSUB (\\Noselect) \"/\" \"a\"\n");
	hasnt(r, "a/b");
	g_free(r);
	/* "*" reaches a/b itself: no parent line */
	r = imc_ok(c, "LSUB \"\" \"*\"");
	has(r, "* LSUB () \"/\" \"a/b\"\n");
	hasnt(r, "\"a\"\n");
	g_free(r);
	/* deeper, and a subscription to a mailbox that does not exist */
	r = imc_ok(c, "SUBSCRIBE x/y/z");
	g_free(r);
	r = imc_ok(c, "LSUB \"\" \"x/%%\"");
	has(r, "* LSUB (\\Noselect) \"/\" \"x/y\"\n");
	hasnt(r, "x/y/z");
	g_free(r);
	r = imc_ok(c, "LSUB \"x/\" \"%%\"");
	has(r, "(\\Noselect) \"/\" \"x/y\"\n");
	g_free(r);
	r = imc_ok(c, "LSUB \"\" \"%%\"");
	has(r, "* LSUB (\\Noselect) \"/\" \"a\"\n");
	has(r, "* LSUB (\\Noselect) \"/\" \"x\"\n");
	g_free(r);
	/* an existing parent that is not subscribed is \Noselect for LSUB
	 * too; once subscribed it is listed as itself, once */
	r = imc_ok(c, "CREATE p");
	g_free(r);
	r = imc_ok(c, "CREATE p/q");
	g_free(r);
	r = imc_ok(c, "SUBSCRIBE p/q");
	g_free(r);
	r = imc_ok(c, "LSUB \"\" \"p\"");
	has(r, "* LSUB (\\Noselect) \"/\" \"p\"\n");
	g_free(r);
	r = imc_ok(c, "SUBSCRIBE p");
	g_free(r);
	r = imc_ok(c, "LSUB \"\" \"%%\"");
	has(r, "* LSUB () \"/\" \"p\"\n");
	hasnt(r, "(\\Noselect) \"/\" \"p\"");
	{
		const char *first = strstr(r, "\"p\"\n");

		g_assert_null(strstr(first + 1, "\"p\"\n"));
	}
	g_free(r);
	/* nothing subscribed below: no parent */
	r = imc_ok(c, "UNSUBSCRIBE a/b");
	g_free(r);
	r = imc_ok(c, "LSUB \"\" \"%%\"");
	hasnt(r, "\"a\"");
	g_free(r);
	imc_close(c);
}

/* FROM/TO/CC/BCC match the address as ENVELOPE gives it: display
 * name and addr-spec, comments and source routes gone */
static void test_search_address(void)
{
	struct imc *c = imc_fresh(D, "addrsearch");
	char *r;

	append(c, "INBOX",
	       "From: Alice Smith (Accounting) <alice@example.test>\r\n"
	       "To: <@relay.test,@hop.test:bob@example.test>\r\n"
	       "Subject: one\r\n\r\none\r\n");
	append(c, "INBOX",
	       "From: carol(the boss)@example.test\r\n"
	       "Cc: \"Dave \\\"D\\\" Jones\" <dave@example.test>\r\n"
	       "Bcc: Team: erin@example.test, frank@example.test;\r\n"
	       "Subject: two\r\n\r\ntwo\r\n");
	append(c, "INBOX",
	       "From: =?UTF-8?Q?J=C3=BCrgen?= <jurgen@example.test>\r\n"
	       "To: bob@example.test\r\n"
	       "Subject: three\r\n\r\nthree\r\n");
	r = imc_ok(c, "SELECT INBOX");
	g_free(r);
	r = imc_ok(c, "FETCH 1:3 ENVELOPE");
	has(r, "((\"Alice Smith\" NIL \"alice\" \"example.test\"))");
	has(r, "((NIL \"@relay.test,@hop.test\" \"bob\" \"example.test\"))");
	/* a comment stands in for a missing display name */
	has(r, "((\"the boss\" NIL \"carol\" \"example.test\"))");
	g_free(r);
	/* comments are not part of the address */
	r = imc_ok(c, "SEARCH FROM Accounting");
	has(r, "* SEARCH\n");
	g_free(r);
	r = imc_ok(c, "SEARCH FROM boss");
	has(r, "* SEARCH 2\n");
	g_free(r);
	r = imc_ok(c, "SEARCH FROM \"Alice Smith\"");
	has(r, "* SEARCH 1\n");
	g_free(r);
	r = imc_ok(c, "SEARCH FROM alice@example.test");
	has(r, "* SEARCH 1\n");
	g_free(r);
	/* carol(the boss)@example.test is carol@example.test */
	r = imc_ok(c, "SEARCH FROM carol@example.test");
	has(r, "* SEARCH 2\n");
	g_free(r);
	/* the obsolete route is dropped */
	r = imc_ok(c, "SEARCH TO relay.test");
	has(r, "* SEARCH\n");
	g_free(r);
	r = imc_ok(c, "SEARCH TO bob@example.test");
	has(r, "* SEARCH 1 3\n");
	g_free(r);
	/* quoted display names are unquoted */
	r = imc_ok(c, "SEARCH CC {14+}\r\nDave \"D\" Jones");
	has(r, "* SEARCH 2\n");
	g_free(r);
	r = imc_ok(c, "SEARCH BCC frank@example");
	has(r, "* SEARCH 2\n");
	g_free(r);
	r = imc_ok(c, "SEARCH BCC Team");
	has(r, "* SEARCH 2\n");
	g_free(r);
	r = imc_ok(c, "SEARCH CHARSET UTF-8 FROM {5+}\r\nj\xc3\xbcrg");
	has(r, "* SEARCH 3\n");
	g_free(r);
	r = imc_ok(c, "SEARCH FROM JURGEN@EXAMPLE");
	has(r, "* SEARCH 3\n");
	g_free(r);
	/* the empty string matches every message that has the field */
	r = imc_ok(c, "SEARCH CC \"\"");
	has(r, "* SEARCH 2\n");
	g_free(r);
	r = imc_ok(c, "SEARCH OR FROM alice TO bob");
	has(r, "* SEARCH 1 3\n");
	g_free(r);
	imc_close(c);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/grammar/mailbox-chars", test_mailbox_chars);
	g_test_add_func("/imap/grammar/flag-chars", test_flag_chars);
	g_test_add_func("/imap/grammar/nil-keyword", test_nil_keyword);
	g_test_add_func("/imap/grammar/uid-range", test_uid_range);
	g_test_add_func("/imap/grammar/lsub-noselect", test_lsub_noselect);
	g_test_add_func("/imap/grammar/search-address", test_search_address);
	D = imd_start("\"allow_cleartext_login_loopback\": true");
	rc = g_test_run();
	imd_stop(D);
	return rc;
}
