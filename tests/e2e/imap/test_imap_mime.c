/*
 * mod_imap part 2 end to end: ENVELOPE, BODYSTRUCTURE, BODY, part
 * sections, text SEARCH and QUOTA against the real daemon and store.
 */
#include <string.h>
#include <unistd.h>

#include "imap_client.h"

static struct imd *D;

/*
 * The client joins lines with LF and keeps literal bytes verbatim, so
 * where a CR shows up depends on where literals end: compare without
 * CRs (the {n} counts still check the exact bytes).
 */
static char *nocr(const char *s)
{
	char *o = g_malloc(strlen(s) + 1), *p = o;

	for (; *s != '\0'; s++)
		if (*s != '\r')
			*p++ = *s;
	*p = '\0';
	return o;
}

static bool contains(const char *r, const char *s)
{
	char *a = nocr(r), *b = nocr(s);
	bool ok = strstr(a, b) != NULL;

	if (!ok)
		g_printerr("response:\n%s\n", r);
	g_free(a);
	g_free(b);
	return ok;
}

/* its own has(): expectations here are written without CRs */
#undef has
#undef hasnt
#define has(r, s) g_assert_true(contains((r), (s)))
#define hasnt(r, s) g_assert_null(strstr((r), (s)))

static const char complex_msg[] =
	"From: \"Ann Example\" <ann@example.test>\r\n"
	"To: bob@example.test, Team: carl@example.test, \"D. \\\"Q\\\"\" "
	"<d@example.test>;\r\n"
	"Cc: =?UTF-8?B?w4lsaXNl?= <elise@example.test>\r\n"
	"Subject: =?UTF-8?Q?Caf=C3=A9?= report\r\n"
	"Date: Mon, 2 Mar 2026 10:00:00 +0100\r\n"
	"Message-ID: <m1@example.test>\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	"\r\n"
	"preamble\r\n"
	"--b1\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"Hello caf=C3=A9 world\r\n"
	"line two\r\n"
	"--b1\r\n"
	"Content-Type: multipart/alternative; boundary=b2\r\n"
	"\r\n"
	"--b2\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"alt plain\r\n"
	"--b2\r\n"
	"Content-Type: text/html; charset=us-ascii\r\n"
	"\r\n"
	"<p>alt html</p>\r\n"
	"--b2--\r\n"
	"--b1\r\n"
	"Content-Type: message/rfc822\r\n"
	"Content-Disposition: attachment; filename=\"fwd.eml\"\r\n"
	"Content-Language: en, de\r\n"
	"\r\n"
	"From: inner@example.test\r\n"
	"Subject: inner subject\r\n"
	"Date: Tue, 3 Mar 2026 11:00:00 +0000\r\n"
	"\r\n"
	"inner body xylophone\r\n"
	"--b1\r\n"
	"Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"Content-Disposition: attachment; filename=\"data.bin\"\r\n"
	"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
	"Content-Location: http://example.test/data.bin\r\n"
	"\r\n"
	"AAECAwQF\r\n"
	"--b1--\r\n";

static struct imc *fresh(const char *name, int quota_mb)
{
	char *u = g_strdup_printf("%s@example.test", name);
	struct imc *c;

	imd_user(D, u, "pw-secret", quota_mb);
	c = imc_login(D, u, "pw-secret");
	g_free(u);
	return c;
}

static void append_raw(struct imc *c, const char *msg)
{
	char *r = imc_ok(c, "APPEND INBOX {%zu+}\r\n%s", strlen(msg), msg);

	g_free(r);
}

static void test_envelope_bodystructure(void)
{
	struct imc *c = fresh("env", 0);
	char *r;
	int round;

	append_raw(c, complex_msg);
	append_raw(c, "Subject: plain\r\n\r\nHello you\r\n");
	g_free(imc_ok(c, "SELECT INBOX"));
	/* twice: the second answer comes from the cache, and must match */
	for (round = 0; round < 2; round++) {
		r = imc_ok(c, "FETCH 1 (ENVELOPE)");
		has(r, "ENVELOPE (\"Mon, 2 Mar 2026 10:00:00 +0100\" "
		       "\"=?UTF-8?Q?Caf=C3=A9?= report\" "
		       "((\"Ann Example\" NIL \"ann\" \"example.test\")) "
		       "((\"Ann Example\" NIL \"ann\" \"example.test\")) "
		       "((\"Ann Example\" NIL \"ann\" \"example.test\")) "
		       "((NIL NIL \"bob\" \"example.test\")"
		       "(NIL NIL \"Team\" NIL)"
		       "(NIL NIL \"carl\" \"example.test\")"
		       "(\"D. \\\"Q\\\"\" NIL \"d\" \"example.test\")"
		       "(NIL NIL NIL NIL)) ((");
		/* an encoded-word name never goes out as 8-bit text:
		 * one UTF-8 encoded-word of the decoded name */
		has(r, "((\"=?UTF-8?B?w4lsaXNl?=\" NIL \"elise\" "
		       "\"example.test\")) "
		       "NIL NIL \"<m1@example.test>\")");
		g_free(r);
	}
	r = imc_ok(c, "FETCH 1 (BODYSTRUCTURE)");
	has(r, "BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\") "
	       "NIL NIL \"QUOTED-PRINTABLE\" 31 1 NIL NIL NIL NIL)"
	       "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	       "\"7BIT\" 9 0 NIL NIL NIL NIL)"
	       "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL "
	       "\"7BIT\" 15 0 NIL NIL NIL NIL) \"alternative\" "
	       "(\"boundary\" \"b2\") NIL NIL NIL)"
	       "(\"message\" \"rfc822\" NIL NIL NIL \"7BIT\" 110 "
	       "(\"Tue, 3 Mar 2026 11:00:00 +0000\" \"inner subject\" "
	       "((NIL NIL \"inner\" \"example.test\")) "
	       "((NIL NIL \"inner\" \"example.test\")) "
	       "((NIL NIL \"inner\" \"example.test\")) NIL NIL NIL NIL NIL) "
	       "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	       "\"7BIT\" 20 0 NIL NIL NIL NIL) 4 NIL "
	       "(\"attachment\" (\"filename\" \"fwd.eml\")) (\"en\" \"de\") "
	       "NIL)"
	       "(\"application\" \"octet-stream\" (\"name\" \"data.bin\") "
	       "NIL NIL \"BASE64\" 8 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" "
	       "(\"attachment\" (\"filename\" \"data.bin\")) NIL "
	       "\"http://example.test/data.bin\") \"mixed\" "
	       "(\"boundary\" \"b1\") NIL NIL NIL))");
	g_free(r);
	/* BODY: the same without extension data */
	r = imc_ok(c, "FETCH 1 (BODY)");
	has(r, "BODY ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL "
	       "\"QUOTED-PRINTABLE\" 31 1)((\"text\"");
	has(r, "\"BASE64\" 8) \"mixed\")");
	hasnt(r, "boundary");
	g_free(r);
	r = imc_ok(c, "FETCH 2 (BODYSTRUCTURE ENVELOPE)");
	has(r, "BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" "
	       "\"us-ascii\") NIL NIL \"7BIT\" 11 1 NIL NIL NIL NIL)");
	has(r, "ENVELOPE (NIL \"plain\" NIL NIL NIL NIL NIL NIL NIL NIL)");
	g_free(r);
	/* macros */
	r = imc_ok(c, "FETCH 2 FULL");
	has(r, "FLAGS (");
	has(r, "INTERNALDATE \"");
	has(r, "RFC822.SIZE 29");
	has(r, "ENVELOPE (");
	has(r, "BODY (\"text\"");
	hasnt(r, "BODYSTRUCTURE");
	g_free(r);
	r = imc_ok(c, "FETCH 2 ALL");
	has(r, "ENVELOPE (");
	hasnt(r, "BODY");
	g_free(r);
	r = imc_ok(c, "FETCH 1:2 FAST");
	has(r, "RFC822.SIZE");
	hasnt(r, "ENVELOPE");
	g_free(r);
	imc_close(c);
}

static void test_sections(void)
{
	struct imc *c = fresh("sect", 0);
	char *r;

	append_raw(c, complex_msg);
	append_raw(c, "Subject: plain\r\n\r\nHello you\r\n");
	g_free(imc_ok(c, "SELECT INBOX"));
	r = imc_ok(c, "FETCH 1 (BODY.PEEK[1] BODY.PEEK[2.2] "
		      "BODY.PEEK[2.1.MIME])");
	has(r, "BODY[1] {31}\nHello caf=C3=A9 world\r\nline two");
	has(r, "BODY[2.2] {15}\n<p>alt html</p>");
	has(r, "BODY[2.1.MIME] {28}\nContent-Type: text/plain\r\n\r\n");
	hasnt(r, "\\Seen");
	g_free(r);
	r = imc_ok(c, "FETCH 1 (BODY.PEEK[3.HEADER] BODY.PEEK[3.TEXT] "
		      "BODY.PEEK[3.1] BODY.PEEK[3.HEADER.FIELDS (SUBJECT)])");
	has(r, "BODY[3.HEADER] {90}\nFrom: inner@example.test\r\n"
	       "Subject: inner subject\r\n");
	has(r, "BODY[3.TEXT] {20}\r\ninner body xylophone");
	has(r, "BODY[3.1] {20}\r\ninner body xylophone");
	has(r, "BODY[3.HEADER.FIELDS (SUBJECT)] {26}\r\n"
	       "Subject: inner subject\r\n\r\n");
	g_free(r);
	r = imc_ok(c, "FETCH 1 (BODY.PEEK[3.HEADER.FIELDS.NOT (FROM DATE)] "
		      "BODY.PEEK[4]<2.3> BODY.PEEK[9] BODY.PEEK[1.2])");
	has(r, "BODY[3.HEADER.FIELDS.NOT (FROM DATE)] {26}\r\n"
	       "Subject: inner subject\r\n\r\n");
	has(r, "BODY[4]<2> {3}\nECA");
	has(r, "BODY[9] NIL");
	has(r, "BODY[1.2] NIL");
	g_free(r);
	/* the single-part message: part 1 is its body */
	r = imc_ok(c, "FETCH 2 (BODY.PEEK[1] BODY.PEEK[1.MIME] "
		      "RFC822.HEADER)");
	has(r, "BODY[1] {11}\nHello you\r\n");
	has(r, "RFC822.HEADER {18}\nSubject: plain\r\n\r\n");
	g_free(r);
	/* non-PEEK sets \Seen and reports FLAGS (\Recent: the first
	 * session to see these messages) */
	r = imc_ok(c, "FETCH 1 (BODY[1]<0.5>)");
	has(r, "FLAGS (\\Seen \\Recent)");
	has(r, "BODY[1]<0> {5}\nHello");
	g_free(r);
	r = imc_ok(c, "FETCH 2 RFC822.TEXT");
	has(r, "FLAGS (\\Seen \\Recent)");
	has(r, "RFC822.TEXT {11}");
	g_free(r);
	r = imc_ok(c, "UID FETCH 1 (UID BODY.PEEK[2])");
	has(r, "UID 1 BODY[2] {");
	has(r, "--b2--");
	g_free(r);
	imc_close(c);
}

static void test_search_text(void)
{
	struct imc *c = fresh("stext", 0);
	char *r;

	append_raw(c, complex_msg);
	append_raw(c, "Subject: =?ISO-8859-1?Q?Stra=DFe?= plans\r\n"
		      "From: =?UTF-8?Q?Zo=C3=AB?= <zoe@example.test>\r\n"
		      "To: x@example.test\r\n"
		      "Date: Sun, 5 Jan 2025 08:00:00 -0500\r\n"
		      "Content-Type: text/plain; charset=iso-8859-1\r\n"
		      "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
		      "Gr=FC=DFe aus K=F6ln\r\n");
	append_raw(c, "Subject: encoded\r\n"
		      "From: b64@example.test\r\n"
		      "Date: 10 Mar 26 09:00 GMT\r\n"
		      "Content-Type: text/plain; charset=utf-8\r\n"
		      "Content-Transfer-Encoding: base64\r\n\r\n"
		      "c2VjcmV0IG5lZWRsZSBwaHJhc2UK\r\n");
	g_free(imc_ok(c, "SELECT INBOX"));
	r = imc_ok(c, "SEARCH SUBJECT report");
	has(r, "* SEARCH 1\n");
	g_free(r);
	/* RFC 2047 decoded, then i;unicode-casemap: É matches é */
	r = imc_ok(c, "SEARCH CHARSET UTF-8 SUBJECT {5+}\r\nCAF\xc3\x89");
	has(r, "* SEARCH 1\n");
	g_free(r);
	/* ß folds like ss; the header was ISO-8859-1 */
	r = imc_ok(c, "SEARCH SUBJECT STRASSE");
	has(r, "* SEARCH 2\n");
	g_free(r);
	/* quoted-printable Latin-1 body, searched in UTF-8 */
	r = imc_ok(c, "SEARCH CHARSET UTF-8 BODY {7+}\r\ngr\xc3\x9csse");
	has(r, "* SEARCH 2\n");
	g_free(r);
	r = imc_ok(c, "SEARCH BODY NEEDLE");
	has(r, "* SEARCH 3\n");
	g_free(r);
	/* the text part inside the message/rfc822 counts as body */
	r = imc_ok(c, "SEARCH BODY xylophone");
	has(r, "* SEARCH 1\n");
	g_free(r);
	r = imc_ok(c, "SEARCH BODY base64");
	has(r, "* SEARCH\n");
	g_free(r);
	/* TEXT sees the header, BODY does not */
	r = imc_ok(c, "SEARCH TEXT elise");
	has(r, "* SEARCH 1\n");
	g_free(r);
	r = imc_ok(c, "SEARCH BODY elise");
	has(r, "* SEARCH\n");
	g_free(r);
	r = imc_ok(c, "SEARCH CHARSET UTF-8 FROM {4+}\r\nZO\xc3\x8b");
	has(r, "* SEARCH 2\n");
	g_free(r);
	r = imc_ok(c, "SEARCH CHARSET UTF-8 CC {4+}\r\n\xc3\xa9li");
	has(r, "* SEARCH 1\n");
	g_free(r);
	r = imc_ok(c, "SEARCH TO carl");
	has(r, "* SEARCH 1\n");
	g_free(r);
	r = imc_ok(c, "SEARCH BCC x");
	has(r, "* SEARCH\n");
	g_free(r);
	r = imc_ok(c, "SEARCH HEADER Message-ID \"m1@\"");
	has(r, "* SEARCH 1\n");
	g_free(r);
	r = imc_ok(c, "SEARCH HEADER Content-Transfer-Encoding \"\"");
	has(r, "* SEARCH 2 3\n");
	g_free(r);
	r = imc_ok(c, "SEARCH NOT BODY needle OR FROM zoe SUBJECT caf");
	has(r, "* SEARCH 1 2\n");
	g_free(r);
	r = imc_ok(c, "UID SEARCH TEXT secret UID 1:*");
	has(r, "* SEARCH 3\n");
	g_free(r);
	/* sent dates: the Date header's own day, zone ignored */
	r = imc_ok(c, "SEARCH SENTON 2-Mar-2026");
	has(r, "* SEARCH 1\n");
	g_free(r);
	r = imc_ok(c, "SEARCH SENTBEFORE 1-Feb-2025");
	has(r, "* SEARCH 2\n");
	g_free(r);
	r = imc_ok(c, "SEARCH SENTSINCE 3-Mar-2026");
	has(r, "* SEARCH 3\n");
	g_free(r);
	r = imc_cmd(c, "SEARCH CHARSET KOI8-R BODY x");
	has(r, "NO [BADCHARSET");
	g_free(r);
	imc_close(c);
}

/* a header longer than the search's read slice (8 KiB), its blank
 * line split across the slice boundary: the header is still found
 * whole, and only the header; the body's look-alike field is not */
static void test_search_long_header(void)
{
	struct imc *c = fresh("longhdr", 0);
	GString *m = g_string_new("X-Pad: ");
	char *r;

	while (m->len < 8192 - 2 - 20)
		g_string_append_c(m, 'p');
	g_string_append(m,
			"\r\nX-Late: found-me\r\n\r\nX-Body: not-a-field\r\n");
	g_assert_cmpuint(m->len, >, 8192);
	append_raw(c, m->str);
	g_string_free(m, TRUE);
	g_free(imc_ok(c, "SELECT INBOX"));
	r = imc_ok(c, "SEARCH HEADER X-Late found-me");
	has(r, "* SEARCH 1\n");
	g_free(r);
	r = imc_ok(c, "SEARCH HEADER X-Body not-a-field");
	has(r, "* SEARCH\n");
	g_free(r);
	imc_close(c);
}

/* a body search runs on the READ pool: another session's NOOP is not
 * held up behind it, and a disconnect in the middle is harmless */
static void test_search_concurrency(void)
{
	struct imc *a = fresh("sbig", 0), *b;
	GString *big = g_string_new("Subject: big\r\n"
				    "Content-Type: text/plain\r\n"
				    "Content-Transfer-Encoding: "
				    "quoted-printable\r\n\r\n");
	char *r, *u;
	gint64 t0, t_search, t_noop;
	int i;

	while (big->len < 200 * 1024)
		g_string_append(big,
				"Lorem ipsum dolor sit amet =C3=A9t=C3="
				"A9 consectetur adipiscing elit sed do\r\n");
	for (i = 0; i < 120; i++)
		append_raw(a, big->str);
	g_string_free(big, TRUE);
	g_free(imc_ok(a, "SELECT INBOX"));
	t0 = g_get_monotonic_time();
	r = imc_ok(a, "SEARCH BODY zzyzx");
	t_search = g_get_monotonic_time() - t0;
	has(r, "* SEARCH\n");
	g_free(r);
	u = g_strdup("sbig@example.test");
	b = imc_login(D, u, "pw-secret");
	g_free(u);
	g_free(imc_ok(b, "SELECT INBOX"));
	g_assert_true(rmh_send(a->c, "s1 SEARCH TEXT zzyzx\r\n"));
	t0 = g_get_monotonic_time();
	r = imc_ok(b, "NOOP");
	t_noop = g_get_monotonic_time() - t0;
	g_free(r);
	g_test_message("search %.1f ms, NOOP meanwhile %.1f ms",
		       t_search / 1000.0, t_noop / 1000.0);
	/* the NOOP was answered while the 24 MB search still ran: had the
	 * search held the loop, its answer would already be waiting */
	g_assert_false(rmh_pending(a->c));
	r = imc_until(a, "s1 ", 30);
	g_assert_nonnull(r);
	has(r, "s1 OK");
	g_free(r);
	/* hang up mid-search: the job is cancelled, the server lives on */
	g_assert_true(rmh_send(a->c, "s2 SEARCH BODY zzyzx\r\n"));
	imc_close(a);
	r = imc_ok(b, "SEARCH BODY ipsum");
	has(r, "* SEARCH 1 2 3");
	g_free(r);
	imc_close(b);
}

static void test_quota(void)
{
	struct imc *c = fresh("quota", 1);
	GString *big = g_string_new("Subject: big\r\n\r\n");
	char *r, *want;

	r = imc_ok(c, "CAPABILITY");
	has(r, " QUOTA ");
	has(r, " QUOTA=RES-STORAGE");
	g_free(r);
	while (big->len < 700 * 1024)
		g_string_append(big, "0123456789abcdef0123456789abcdef0123456"
				     "789abcdef0123456789abcdef0123456789\r\n");
	append_raw(c, big->str);
	r = imc_ok(c, "GETQUOTAROOT INBOX");
	has(r, "* QUOTAROOT \"INBOX\" \"\"\n");
	want = g_strdup_printf("* QUOTA \"\" (STORAGE %zu 1024)\n",
			       (big->len + 1023) / 1024);
	has(r, want);
	g_free(want);
	g_free(r);
	r = imc_ok(c, "GETQUOTA \"\"");
	has(r, "* QUOTA \"\" (STORAGE ");
	g_free(r);
	r = imc_cmd(c, "GETQUOTA \"other\"");
	has(r, "NO [NONEXISTENT]");
	g_free(r);
	r = imc_cmd(c, "GETQUOTAROOT Nonexistent");
	has(r, "NO");
	hasnt(r, "QUOTAROOT Nonexistent");
	g_free(r);
	r = imc_cmd(c, "SETQUOTA \"\" (STORAGE 99999)");
	has(r, "NO");
	g_free(r);
	/* over the limit: untagged OVERQUOTA, then the tagged ALERT */
	r = imc_cmd(c, "APPEND INBOX {%zu+}\r\n%s", big->len, big->str);
	has(r, "* NO [OVERQUOTA] ");
	has(r, "NO [ALERT] Quota exceeded");
	g_free(r);
	/* a synchronising literal is refused before the upload */
	r = imc_cmd(c, "APPEND INBOX {%zu}", big->len);
	has(r, "* NO [OVERQUOTA] ");
	has(r, "NO [ALERT] Quota exceeded");
	g_free(r);
	g_string_free(big, TRUE);
	imc_close(c);
}

/* A bounce as MTAs send it (multipart/report: the notice, the
 * delivery-status report, the returned message) with a forwarded
 * message nested in the returned one: what a user reads is findable,
 * as in Dovecot. */
static const char bounce_msg[] =
	"From: MAILER-DAEMON@mx.example.test\r\n"
	"To: ann@example.test\r\n"
	"Subject: Undelivered Mail Returned to Sender\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/report; report-type=delivery-status;\r\n"
	" boundary=\"rb\"\r\n"
	"\r\n"
	"--rb\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"Your message could not be delivered.\r\n"
	"--rb\r\n"
	"Content-Type: message/delivery-status\r\n"
	"\r\n"
	"Reporting-MTA: dns; mx.example.test\r\n"
	"\r\n"
	"Final-Recipient: rfc822; gone@elsewhere.test\r\n"
	"Action: failed\r\n"
	"Status: 5.1.1\r\n"
	"--rb\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"From: ann@example.test\r\n"
	"To: gone@elsewhere.test\r\n"
	"Subject: quarterly figures\r\n"
	"X-Original-Tag: marmalade\r\n"
	"Content-Type: multipart/mixed; boundary=\"in\"\r\n"
	"\r\n"
	"--in\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"see the attached forward\r\n"
	"--in\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"From: =?UTF-8?Q?Zo=C3=AB_Inner?= <zoe@example.test>\r\n"
	"Subject: =?UTF-8?Q?inner_caf=C3=A9?=\r\n"
	"\r\n"
	"pineapple\r\n"
	"--in--\r\n"
	"--rb--\r\n";

static void test_search_bounce(void)
{
	struct imc *c = fresh("bounce", 0);
	static const char *const found[] = {
		/* the delivery-status report */
		"BODY Reporting-MTA",
		"BODY mx.example.test",
		"BODY Final-Recipient",
		"BODY gone@elsewhere.test",
		"TEXT 5.1.1",
		/* the returned message's header and body */
		"BODY \"quarterly figures\"",
		"BODY marmalade",
		"TEXT marmalade",
		"BODY \"attached forward\"",
		/* the message nested in it, header decoded too */
		"BODY pineapple",
		"BODY zoe@example.test",
		"CHARSET UTF-8 BODY {9+}\r\ninner caf",
		"CHARSET UTF-8 BODY {4+}\r\nZO\xc3\x8b",
	};
	char *r;

	append_raw(c, bounce_msg);
	append_raw(c, "Subject: other\r\n\r\nnothing here\r\n");
	g_free(imc_ok(c, "SELECT INBOX"));
	for (size_t i = 0; i < G_N_ELEMENTS(found); i++) {
		g_test_message("SEARCH %s", found[i]);
		r = imc_ok(c, "SEARCH %s", found[i]);
		has(r, "* SEARCH 1\n");
		g_free(r);
	}
	/* the top-level header stays TEXT-only */
	r = imc_ok(c, "SEARCH BODY MAILER-DAEMON");
	has(r, "* SEARCH\n");
	g_free(r);
	r = imc_ok(c, "SEARCH TEXT MAILER-DAEMON");
	has(r, "* SEARCH 1\n");
	g_free(r);
	imc_close(c);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/mime/envelope-bodystructure",
			test_envelope_bodystructure);
	g_test_add_func("/imap/mime/sections", test_sections);
	g_test_add_func("/imap/search/text", test_search_text);
	g_test_add_func("/imap/search/bounce", test_search_bounce);
	g_test_add_func("/imap/search/concurrency", test_search_concurrency);
	g_test_add_func("/imap/search/long-header", test_search_long_header);
	g_test_add_func("/imap/quota", test_quota);
	D = imd_start("\"allow_cleartext_login_loopback\": true");
	rc = g_test_run();
	imd_stop(D);
	return rc;
}
