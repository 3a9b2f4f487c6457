/*
 * PREVIEW (RFC 8970) against the real daemon: the RFC's examples (a
 * plain message; LAZY before and after the summary is cached), the
 * text part of a multipart/alternative, HTML with its markup dropped,
 * base64 and charset decoding, white space folded, the 256-character
 * cap on a UTF-8 boundary, attachments and attached messages skipped.
 */
#include <string.h>

#include "imap_client.h"

static struct imd *D;

static void put(struct imc *c, const char *msg)
{
	g_free(imc_ok(c, "APPEND INBOX {%zu+}\r\n%s", strlen(msg), msg));
}

/* the PREVIEW value of message n as the reply has it */
static char *preview_of(struct imc *c, unsigned n, bool lazy)
{
	char *r = imc_ok(c, "FETCH %u (PREVIEW%s)", n, lazy ? " (LAZY)" : "");
	char *p = strstr(r, "PREVIEW "), *out;

	g_assert_nonnull(p);
	p += 8;
	if (*p == '"') {
		char *e = strstr(p + 1, "\")");

		g_assert_nonnull(e);
		out = g_strndup(p + 1, (gsize)(e - p - 1));
	} else if (*p == '{') {
		/* a literal: its bytes follow the line */
		char *nl = strchr(p, '\n');
		gsize len = g_ascii_strtoull(p + 1, NULL, 10);

		g_assert_nonnull(nl);
		out = g_strndup(nl + 1, len);
	} else {
		g_assert_true(g_str_has_prefix(p, "NIL"));
		out = g_strdup("NIL");
	}
	g_free(r);
	return out;
}

static void test_capability(void)
{
	struct imc *c = imc_fresh(D, "pvcap");
	char *r = imc_ok(c, "CAPABILITY");

	has(r, " PREVIEW");
	g_free(r);
	imc_close(c);
}

/* RFC 8970 section 3's examples */
static void test_rfc_examples(void)
{
	struct imc *c = imc_fresh(D, "pvrfc");
	char *p;

	put(c, "Subject: one\r\n\r\nPreview text!\r\n");
	put(c, "Subject: two\r\n\r\nSecond\r\n   text.\r\n");
	g_free(imc_ok(c, "SELECT INBOX"));
	/* nothing parsed yet: LAZY may say NIL */
	p = preview_of(c, 2, true);
	g_assert_cmpstr(p, ==, "NIL");
	g_free(p);
	p = preview_of(c, 1, false);
	g_assert_cmpstr(p, ==, "Preview text!");
	g_free(p);
	/* now cached: LAZY has it */
	p = preview_of(c, 1, true);
	g_assert_cmpstr(p, ==, "Preview text!");
	g_free(p);
	p = preview_of(c, 2, false);
	g_assert_cmpstr(p, ==, "Second text.");
	g_free(p);
	imc_close(c);
}

static void test_mime(void)
{
	struct imc *c = imc_fresh(D, "pvmime");
	GString *big = g_string_new("Subject: long\r\nContent-Type: text/plain;"
				    " charset=utf-8\r\n\r\n");
	char *p;
	int i;

	/* 1: alternative: the plain part, not the HTML */
	put(c, "Subject: alt\r\nContent-Type: multipart/alternative; "
	       "boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n"
	       "<p>html</p>\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
	       "the plain one\r\n--b--\r\n");
	/* 2: HTML only, markup dropped, base64 and latin-1 decoded:
	 * "<b>caf\xe9</b>\n<i>ok</i>" */
	put(c, "Subject: html\r\nContent-Type: text/html; "
	       "charset=iso-8859-1\r\nContent-Transfer-Encoding: base64\r\n"
	       "\r\nPGI+Y2Fm6TwvYj4KPGk+b2s8L2k+\r\n");
	/* 3: only an attachment and an attached message: empty */
	put(c, "Subject: att\r\nContent-Type: multipart/mixed; boundary=b\r\n"
	       "\r\n--b\r\nContent-Type: text/plain\r\n"
	       "Content-Disposition: attachment; filename=a.txt\r\n\r\n"
	       "attached\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n"
	       "Subject: inner\r\n\r\ninner text\r\n--b--\r\n");
	/* 4: 300 "é": 256 characters, 512 bytes, whole sequences */
	for (i = 0; i < 300; i++)
		g_string_append(big, "\xc3\xa9");
	g_string_append(big, "\r\n");
	put(c, big->str);
	g_free(imc_ok(c, "SELECT INBOX"));
	p = preview_of(c, 1, false);
	g_assert_cmpstr(p, ==, "the plain one");
	g_free(p);
	p = preview_of(c, 2, false);
	g_assert_cmpstr(p, ==, "caf\xc3\xa9 ok");
	g_free(p);
	p = preview_of(c, 3, false);
	g_assert_cmpstr(p, ==, "");
	g_free(p);
	p = preview_of(c, 4, false);
	g_assert_cmpuint(strlen(p), ==, 512);
	g_assert_true(g_utf8_validate(p, -1, NULL));
	g_assert_cmpuint(g_utf8_strlen(p, -1), ==, 256);
	g_free(p);
	g_string_free(big, TRUE);
	imc_close(c);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/preview/capability", test_capability);
	g_test_add_func("/imap/preview/rfc-examples", test_rfc_examples);
	g_test_add_func("/imap/preview/mime", test_mime);
	D = imd_start("\"allow_cleartext_login_loopback\": true");
	rc = g_test_run();
	imd_stop(D);
	return rc;
}
