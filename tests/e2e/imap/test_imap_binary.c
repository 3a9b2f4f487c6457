/*
 * BINARY (RFC 3516) against the real daemon: FETCH BINARY[section],
 * BINARY.PEEK, BINARY.SIZE and partial ranges on base64,
 * quoted-printable, 8bit and nested parts, literal8 (~{n}) when the
 * content holds NULs, NIL for a missing part, NO [UNKNOWN-CTE] for an
 * encoding the server cannot decode, \Seen set by BINARY and not by
 * BINARY.PEEK, APPEND with a literal8 message, and the RFC's examples.
 */
#include <string.h>

#include "imap_client.h"

static struct imd *D;

/* "hello\0world\n" base64 is "aGVsbG8Ad29ybGQK" */
static const char MIME[] = "From: a@example.test\r\n"
			   "Subject: binary\r\n"
			   "MIME-Version: 1.0\r\n"
			   "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
			   "\r\n"
			   "--b1\r\n"
			   "Content-Type: text/plain; charset=utf-8\r\n"
			   "Content-Transfer-Encoding: quoted-printable\r\n"
			   "\r\n"
			   "caf=C3=A9 =3D soft=\r\nbreak\r\n"
			   "--b1\r\n"
			   "Content-Type: application/octet-stream\r\n"
			   "Content-Transfer-Encoding: base64\r\n"
			   "\r\n"
			   "aGVsbG8Ad29ybGQK\r\n"
			   "--b1\r\n"
			   "Content-Type: text/plain\r\n"
			   "Content-Transfer-Encoding: 8bit\r\n"
			   "\r\n"
			   "plain \xc3\xa9\r\n"
			   "--b1\r\n"
			   "Content-Type: application/x-thing\r\n"
			   "Content-Transfer-Encoding: x-uuencode\r\n"
			   "\r\n"
			   "begin 644 x\r\n"
			   "--b1\r\n"
			   "Content-Type: message/rfc822\r\n"
			   "\r\n"
			   "Subject: inner\r\n"
			   "Content-Transfer-Encoding: BASE64\r\n"
			   "\r\n"
			   "aW5uZXI=\r\n"
			   "--b1--\r\n";

static struct imc *with_message(const char *user)
{
	struct imc *c = imc_fresh(D, user);
	char *r;

	r = imc_ok(c, "APPEND INBOX {%zu+}\r\n%s", sizeof(MIME) - 1, MIME);
	g_free(r);
	g_free(imc_ok(c, "SELECT INBOX"));
	return c;
}

static void test_capability(void)
{
	struct imc *c = imc_fresh(D, "bincap");
	char *r = imc_ok(c, "CAPABILITY");

	has(r, " BINARY");
	g_free(r);
	imc_close(c);
}

static void test_decode(void)
{
	struct imc *c = with_message("bindec");
	char *r;

	/* quoted-printable, soft line break joined */
	r = imc_ok(c, "FETCH 1 BINARY.PEEK[1]");
	has(r, "* 1 FETCH (BINARY[1] {17}\ncaf\xc3\xa9 = softbreak)");
	g_free(r);
	/* base64 with a NUL: literal8 */
	r = imc_ok(c, "FETCH 1 (BINARY.PEEK[2] BINARY.SIZE[2])");
	has(r, "BINARY[2] ~{12}\n");
	has(r, "BINARY.SIZE[2] 12)");
	g_free(r);
	/* 8bit as it is */
	r = imc_ok(c, "FETCH 1 BINARY.PEEK[3]");
	has(r, "BINARY[3] {8}\nplain \xc3\xa9)");
	g_free(r);
	/* inside a message/rfc822: the inner message's body decoded */
	r = imc_ok(c, "FETCH 1 BINARY.PEEK[5.1]");
	has(r, "BINARY[5.1] {5}\ninner)");
	g_free(r);
	/* the message/rfc822 part itself: its bytes as they are */
	r = imc_ok(c, "FETCH 1 BINARY.SIZE[5]");
	has(r, "BINARY.SIZE[5] 61)");
	g_free(r);
	/* partial on the decoded data: "world\n" from offset 6 */
	r = imc_ok(c, "FETCH 1 BINARY.PEEK[2]<6.100>");
	has(r, "BINARY[2]<6> {6}\nworld");
	g_free(r);
	r = imc_ok(c, "FETCH 1 BINARY.PEEK[2]<0.5>");
	has(r, "BINARY[2]<0> {5}\nhello)");
	g_free(r);
	r = imc_ok(c, "FETCH 1 BINARY.PEEK[2]<4.2>");
	has(r, "BINARY[2]<4> ~{2}\n");
	g_free(r);
	/* past the end: empty */
	r = imc_ok(c, "FETCH 1 BINARY.PEEK[2]<50.5>");
	has(r, "BINARY[2]<50> {0}\n)");
	g_free(r);
	/* no such part */
	r = imc_ok(c, "FETCH 1 (BINARY.PEEK[9] BINARY.SIZE[1.2])");
	has(r, "BINARY[9] NIL BINARY.SIZE[1.2] NIL)");
	g_free(r);
	/* BINARY[] is the message as it is */
	r = imc_ok(c, "FETCH 1 BINARY.SIZE[]");
	{
		char want[64];

		g_snprintf(want, sizeof(want), "BINARY.SIZE[] %zu)",
			   sizeof(MIME) - 1);
		has(r, want);
	}
	g_free(r);
	imc_close(c);
}

static void test_seen(void)
{
	struct imc *c = with_message("binseen");
	char *r;

	r = imc_ok(c, "FETCH 1 (FLAGS BINARY.PEEK[1])");
	hasnt(r, "\\Seen");
	g_free(r);
	r = imc_ok(c, "FETCH 1 BINARY[3]");
	has(r, "\\Seen");
	has(r, "BINARY[3] {8}");
	g_free(r);
	imc_close(c);
}

/* RFC 3516 4.3: an encoding the server cannot decode fails the FETCH */
static void test_unknown_cte(void)
{
	struct imc *c = with_message("bincte");
	char *r;

	r = imc_cmd(c, "FETCH 1 BINARY.PEEK[4]");
	has(r, " NO [UNKNOWN-CTE]");
	hasnt(r, "* 1 FETCH");
	g_free(r);
	r = imc_cmd(c, "FETCH 1 (BINARY.SIZE[1] BINARY.SIZE[4])");
	has(r, " NO [UNKNOWN-CTE]");
	g_free(r);
	/* BODY[4] still serves it raw */
	r = imc_ok(c, "FETCH 1 BODY.PEEK[4]");
	has(r, "begin 644 x");
	g_free(r);
	imc_close(c);
}

/* APPEND with literal8 (RFC 3516 4.4): NULs kept, fetched back */
static void test_append_literal8(void)
{
	struct imc *c = imc_fresh(D, "binapp");
	static const char msg[] = "Subject: nul\r\n\r\na\0b\r\n";
	char *l, *r;

	g_assert_true(
		rmh_send(c->c, "a1 APPEND INBOX ~{%zu}", sizeof(msg) - 1));
	g_assert_true(rmh_expect(c->c, "+ ", NULL));
	g_assert_true(rmh_send_raw(c->c, msg, sizeof(msg) - 1));
	g_assert_true(rmh_send(c->c, "%s", ""));
	g_assert_true(rmh_expect(c->c, "a1 OK [APPENDUID", NULL));
	/* non-synchronizing, then MULTIAPPEND-style after a plain one */
	g_assert_true(
		rmh_send(c->c, "a2 APPEND INBOX ~{%zu+}", sizeof(msg) - 1));
	g_assert_true(rmh_send_raw(c->c, msg, sizeof(msg) - 1));
	g_assert_true(rmh_send(c->c, "%s", ""));
	g_assert_true(rmh_expect(c->c, "a2 OK [APPENDUID", NULL));
	g_free(imc_ok(c, "SELECT INBOX"));
	g_assert_true(rmh_send(c->c, "f1 FETCH 2 BINARY.PEEK[]"));
	g_assert_true(rmh_expect(c->c, "* 2 FETCH (BINARY[] ~{21}", NULL));
	l = rmh_readline(c->c, 5);
	g_assert_cmpstr(l, ==, "Subject: nul");
	g_free(l);
	g_assert_true(rmh_expect(c->c, "f1 OK", NULL));
	r = imc_ok(c, "FETCH 1 BINARY.SIZE[1]");
	has(r, "BINARY.SIZE[1] 5)");
	g_free(r);
	/* literal8 anywhere else is BAD */
	r = imc_cmd(c, "SELECT ~{5+}\r\nINBOX");
	has(r, " BAD ");
	g_free(r);
	imc_close(c);
}

/* an expunged message in the map answers NIL for BINARY sections */
static void test_expunged(void)
{
	struct imc *c = with_message("binexp");
	struct imc *o = imc_login(D, "binexp@example.test", "pw-secret");
	char *r;

	g_free(imc_ok(o, "SELECT INBOX"));
	g_free(imc_ok(o, "STORE 1 +FLAGS.SILENT (\\Deleted)"));
	g_free(imc_ok(o, "EXPUNGE"));
	r = imc_ok(c, "FETCH 1 (BINARY.PEEK[2] BINARY.SIZE[2])");
	has(r, "BINARY[2] NIL");
	has(r, "OK [EXPUNGEISSUED]");
	g_free(r);
	imc_close(o);
	imc_close(c);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/binary/capability", test_capability);
	g_test_add_func("/imap/binary/decode", test_decode);
	g_test_add_func("/imap/binary/seen", test_seen);
	g_test_add_func("/imap/binary/unknown-cte", test_unknown_cte);
	g_test_add_func("/imap/binary/append-literal8", test_append_literal8);
	g_test_add_func("/imap/binary/expunged", test_expunged);
	D = imd_start("\"allow_cleartext_login_loopback\": true");
	rc = g_test_run();
	imd_stop(D);
	return rc;
}
