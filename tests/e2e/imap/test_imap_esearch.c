/*
 * ESEARCH (RFC 4731) and SEARCHRES (RFC 5182) against the real daemon:
 * the RFCs' examples on a known mailbox, "$" in every command that takes
 * a set, what empties "$" (NO with SAVE, SELECT/EXAMINE, expunges here
 * and elsewhere) and what leaves it (BAD, a SEARCH without SAVE), and
 * SAVE pipelined with the commands that use it, on the READ pool path.
 */
#include <string.h>

#include "imap_client.h"

static struct imd *D;

/*
 * Five messages, UIDs 1..5; 2, 4 and 5 \Flagged; subjects "apple"
 * (1, 4) and "pear".
 */
static struct imc *five(const char *name)
{
	struct imc *c = imc_fresh(D, name);
	int i;

	for (i = 1; i <= 5; i++) {
		char *msg =
			g_strdup_printf("From: a@example.test\r\nSubject: %s "
					"%d\r\n\r\nbody\r\n",
					i == 1 || i == 4 ? "apple" : "pear", i);

		g_free(imc_ok(c, "APPEND INBOX {%zu+}\r\n%s", strlen(msg),
			      msg));
		g_free(msg);
	}
	g_free(imc_ok(c, "SELECT INBOX"));
	g_free(imc_ok(c, "STORE 2,4:5 +FLAGS.SILENT (\\Flagged)"));
	return c;
}

/* the "(TAG "tN")" of the command just sent */
static char *tagged(struct imc *c, const char *rest)
{
	return g_strdup_printf("* ESEARCH (TAG \"t%u\")%s\n", c->seq, rest);
}

static void has_esearch(struct imc *c, char *r, const char *rest)
{
	char *want = tagged(c, rest);

	has(r, want);
	hasnt(r, "* SEARCH");
	g_free(want);
	g_free(r);
}

static void test_capability(void)
{
	struct imc *c = imc_fresh(D, "cap");
	char *r = imc_ok(c, "CAPABILITY");

	has(r, " ESEARCH");
	has(r, " SEARCHRES");
	g_free(r);
	imc_close(c);
}

/* RFC 4731 3.1's examples, on our five messages */
static void test_return(void)
{
	struct imc *c = five("ret");
	char *r;

	has_esearch(c, imc_ok(c, "SEARCH RETURN (MIN COUNT) FLAGGED"),
		    " MIN 2 COUNT 3");
	has_esearch(c, imc_ok(c, "SEARCH RETURN () FLAGGED"), " ALL 2,4:5");
	has_esearch(c, imc_ok(c, "SEARCH RETURN (MIN) FLAGGED DELETED"), "");
	has_esearch(c, imc_ok(c, "UID SEARCH RETURN (MIN MAX) 1:5000"),
		    " UID MIN 1 MAX 5");
	has_esearch(c, imc_ok(c, "UID SEARCH RETURN (COUNT) DELETED"),
		    " UID COUNT 0");
	has_esearch(c,
		    imc_ok(c, "SEARCH RETURN (MIN MAX ALL COUNT) "
			      "CHARSET UTF-8 UNFLAGGED"),
		    " MIN 1 MAX 3 ALL 1,3 COUNT 2");
	/* a text key runs on the READ pool: same answer */
	has_esearch(c, imc_ok(c, "SEARCH RETURN (ALL COUNT) SUBJECT apple"),
		    " ALL 1,4 COUNT 2");
	has_esearch(c,
		    imc_ok(c, "UID SEARCH RETURN (MAX) SUBJECT pear FLAGGED"),
		    " UID MAX 5");
	/* without RETURN nothing changes */
	r = imc_ok(c, "SEARCH FLAGGED");
	has(r, "* SEARCH 2 4 5\n");
	hasnt(r, "ESEARCH");
	g_free(r);
	r = imc_cmd(c, "SEARCH RETURN (FOO) ALL");
	has(r, " BAD ");
	g_free(r);
	r = imc_cmd(c, "SEARCH RETURN ALL");
	has(r, " BAD ");
	g_free(r);
	r = imc_cmd(c, "SEARCH RETURN (MIN)");
	has(r, " BAD ");
	g_free(r);
	r = imc_cmd(c, "SEARCH RETURN (MIN) CHARSET KOI8-R ALL");
	has(r, " NO [BADCHARSET");
	g_free(r);
	imc_close(c);
}

/* the UIDs a FETCH/UID FETCH answered, "1 4 5" */
static char *uids_of(const char *r)
{
	GString *s = g_string_new(NULL);
	const char *p = r;

	while ((p = strstr(p, "UID ")) != NULL) {
		if (p > r && p[-1] != '(' && p[-1] != ' ') {
			p++;
			continue;
		}
		p += 4;
		g_string_append_printf(s, "%s%u", s->len ? " " : "",
				       (unsigned)g_ascii_strtoull(p, NULL, 10));
	}
	return g_string_free(s, FALSE);
}

static void fetch_is(struct imc *c, const char *cmd, const char *want)
{
	char *r = imc_ok(c, "%s", cmd);
	char *got = uids_of(r);

	if (strcmp(got, want) != 0)
		g_test_message("%s: %s", cmd, r);
	g_assert_cmpstr(got, ==, want);
	g_free(got);
	g_free(r);
}

/* RFC 5182 2.2 example 1 and "$" in each command taking a set */
static void test_save(void)
{
	struct imc *c = five("save");
	char *r;

	r = imc_ok(c, "SEARCH RETURN (SAVE) FLAGGED SINCE 1-Feb-1994 NOT "
		      "FROM \"Smith\"");
	hasnt(r, "* SEARCH");
	hasnt(r, "* ESEARCH");
	g_free(r);
	fetch_is(c, "FETCH $ (UID INTERNALDATE FLAGS RFC822.HEADER)", "2 4 5");
	fetch_is(c, "UID FETCH $ (FLAGS)", "2 4 5");
	r = imc_ok(c, "STORE $ +FLAGS (\\Answered)");
	has(r, "* 2 FETCH (FLAGS (");
	has(r, "* 4 FETCH");
	has(r, "* 5 FETCH");
	hasnt(r, "* 1 FETCH");
	g_free(r);
	r = imc_ok(c, "UID STORE $ -FLAGS.SILENT (\\Answered)");
	hasnt(r, "FETCH");
	g_free(r);
	/* "$" as a search key, plain and under UID */
	has_esearch(c, imc_ok(c, "SEARCH RETURN (ALL) $ SUBJECT apple"),
		    " ALL 4");
	r = imc_ok(c, "UID SEARCH UID $ NOT 5");
	has(r, "* SEARCH 2 4\n");
	g_free(r);
	r = imc_ok(c, "SEARCH OR $ 1");
	has(r, "* SEARCH 1 2 4 5\n");
	g_free(r);
	g_free(imc_ok(c, "CREATE other"));
	r = imc_ok(c, "COPY $ other");
	has(r, "[COPYUID ");
	g_free(r);
	r = imc_ok(c, "UID COPY $ other");
	has(r, "[COPYUID ");
	g_free(r);
	r = imc_ok(c, "STATUS other (MESSAGES)");
	has(r, "(MESSAGES 6)");
	g_free(r);
	/* "$" is a whole set, never part of one */
	r = imc_cmd(c, "FETCH 1,$ UID");
	has(r, " BAD ");
	g_free(r);
	r = imc_cmd(c, "UID FETCH $:3 UID");
	has(r, " BAD ");
	g_free(r);
	/* MOVE $ takes them all; they leave "$" with the EXPUNGEs */
	r = imc_ok(c, "MOVE $ other");
	has(r, " EXPUNGE\n");
	g_free(r);
	r = imc_ok(c, "STATUS other (MESSAGES)");
	has(r, "(MESSAGES 9)");
	g_free(r);
	fetch_is(c, "FETCH $ UID", "");
	fetch_is(c, "FETCH 1:* UID", "1 3");
	imc_close(c);
}

/* RFC 5182 2.4: SAVE with MIN/MAX keeps only those */
static void test_save_minmax(void)
{
	struct imc *c = five("minmax");

	has_esearch(c, imc_ok(c, "SEARCH RETURN (SAVE MIN MAX) FLAGGED"),
		    " MIN 2 MAX 5");
	fetch_is(c, "FETCH $ UID", "2 5");
	g_free(imc_ok(c, "SEARCH RETURN (SAVE MIN) FLAGGED"));
	fetch_is(c, "UID FETCH $ UID", "2");
	g_free(imc_ok(c, "UID SEARCH RETURN (SAVE MAX) FLAGGED"));
	fetch_is(c, "FETCH $ UID", "5");
	has_esearch(c, imc_ok(c, "SEARCH RETURN (SAVE MIN COUNT) FLAGGED"),
		    " MIN 2 COUNT 3");
	fetch_is(c, "FETCH $ UID", "2 4 5");
	g_free(imc_ok(c, "SEARCH RETURN (SAVE MAX ALL) UNFLAGGED"));
	fetch_is(c, "FETCH $ UID", "1 3");
	imc_close(c);
}

/* RFC 5182 2.1: what empties "$" and what does not */
static void test_invalidate(void)
{
	struct imc *c = five("inval"), *o;
	char *r;

	/* empty after SELECT: valid, matches nothing */
	fetch_is(c, "FETCH $ UID", "");
	r = imc_ok(c, "SEARCH $");
	has(r, "* SEARCH\n");
	g_free(r);
	g_free(imc_ok(c, "UID EXPUNGE $"));
	g_free(imc_ok(c, "SEARCH RETURN (SAVE) FLAGGED"));
	/* a BAD SEARCH with SAVE leaves it */
	r = imc_cmd(c, "SEARCH RETURN (SAVE) NOSUCHKEY");
	has(r, " BAD ");
	g_free(r);
	fetch_is(c, "FETCH $ UID", "2 4 5");
	/* a SEARCH without SAVE leaves it */
	g_free(imc_ok(c, "SEARCH RETURN (ALL) UNFLAGGED"));
	g_free(imc_ok(c, "SEARCH UNFLAGGED"));
	fetch_is(c, "FETCH $ UID", "2 4 5");
	/* a NO to a SEARCH with SAVE empties it */
	r = imc_cmd(c, "SEARCH RETURN (SAVE) CHARSET KOI8-R ALL");
	has(r, " NO [BADCHARSET");
	g_free(r);
	fetch_is(c, "FETCH $ UID", "");
	/* an expunge here: the rest keep their (new) numbers */
	g_free(imc_ok(c, "SEARCH RETURN (SAVE) FLAGGED"));
	g_free(imc_ok(c, "UID STORE 4 +FLAGS.SILENT (\\Deleted)"));
	r = imc_ok(c, "EXPUNGE");
	has(r, "* 4 EXPUNGE");
	g_free(r);
	r = imc_ok(c, "FETCH $ UID");
	has(r, "* 2 FETCH (UID 2)");
	has(r, "* 4 FETCH (UID 5)");
	g_free(r);
	/* an expunge by another session */
	o = imc_login(D, "inval@example.test", "pw-secret");
	g_free(imc_ok(o, "SELECT INBOX"));
	g_free(imc_ok(o, "UID STORE 2 +FLAGS.SILENT (\\Deleted)"));
	g_free(imc_ok(o, "UID EXPUNGE 2"));
	imc_close(o);
	r = imc_ok(c, "NOOP");
	has(r, "* 2 EXPUNGE");
	g_free(r);
	fetch_is(c, "FETCH $ UID", "5");
	/* UID EXPUNGE $ removes exactly "$" */
	g_free(imc_ok(c, "STORE 1:* +FLAGS.SILENT (\\Deleted)"));
	r = imc_ok(c, "UID EXPUNGE $");
	has(r, "* 3 EXPUNGE");
	g_free(r);
	fetch_is(c, "FETCH 1:* UID", "1 3");
	/* SELECT and EXAMINE empty it, also of the same mailbox */
	g_free(imc_ok(c, "STORE 1:* -FLAGS.SILENT (\\Deleted)"));
	g_free(imc_ok(c, "SEARCH RETURN (SAVE) ALL"));
	fetch_is(c, "FETCH $ UID", "1 3");
	g_free(imc_ok(c, "SELECT INBOX"));
	fetch_is(c, "FETCH $ UID", "");
	g_free(imc_ok(c, "SEARCH RETURN (SAVE) ALL"));
	g_free(imc_ok(c, "EXAMINE INBOX"));
	fetch_is(c, "FETCH $ UID", "");
	g_free(imc_ok(c, "SEARCH RETURN (SAVE) ALL"));
	g_free(imc_ok(c, "UNSELECT"));
	r = imc_cmd(c, "FETCH $ UID");
	has(r, " BAD ");
	g_free(r);
	g_free(imc_ok(c, "SELECT INBOX"));
	fetch_is(c, "FETCH $ UID", "");
	imc_close(c);
}

/*
 * RFC 5182 2.3: SAVE pipelined with commands that use "$", the search
 * on the READ pool (a text key): they run in order on its result.
 */
static void test_pipelined(void)
{
	struct imc *c = five("pipe");
	char *r, *rest;

	r = imc_ok(c, "SEARCH RETURN (SAVE) SUBJECT apple\r\n"
		      "p1 FETCH $ (UID)\r\n"
		      "p2 UID SEARCH RETURN (SAVE COUNT) $ FLAGGED\r\n"
		      "p3 UID FETCH $ (UID)");
	hasnt(r, "* SEARCH");
	hasnt(r, "* ESEARCH");
	g_free(r);
	rest = imc_until(c, "p3 ", 10);
	g_assert_nonnull(rest);
	has(rest, "* 1 FETCH (UID 1)\n* 4 FETCH (UID 4)\np1 OK");
	has(rest, "* ESEARCH (TAG \"p2\") UID COUNT 1\np2 OK");
	has(rest, "* 4 FETCH (UID 4)\np3 OK");
	hasnt(rest, "* 1 FETCH (UID 1)\np3");
	g_free(rest);
	imc_close(c);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/esearch/capability", test_capability);
	g_test_add_func("/imap/esearch/return", test_return);
	g_test_add_func("/imap/searchres/save", test_save);
	g_test_add_func("/imap/searchres/save-minmax", test_save_minmax);
	g_test_add_func("/imap/searchres/invalidate", test_invalidate);
	g_test_add_func("/imap/searchres/pipelined", test_pipelined);
	D = imd_start("\"allow_cleartext_login_loopback\": true");
	rc = g_test_run();
	imd_stop(D);
	return rc;
}
