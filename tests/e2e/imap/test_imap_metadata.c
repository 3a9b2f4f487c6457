/*
 * METADATA (RFC 5464) against the real daemon: the RFC's example
 * exchanges, server and mailbox entries, /private and /shared kept
 * apart, DEPTH and MAXSIZE (LONGENTRIES), the limits (MAXSIZE on a set,
 * TOOMANY for entry count and total size), literal and literal8
 * values, entries following a mailbox across RENAME and going with
 * DELETE, and a second daemon on the mail root seeing the writes.
 */
#include <stdio.h>
#include <string.h>

#include "imap_client.h"

static struct imd *D;

static void test_capability(void)
{
	struct imc *c = imc_fresh(D, "mdcap");
	char *r = imc_ok(c, "CAPABILITY");

	has(r, " METADATA METADATA-SERVER");
	g_free(r);
	imc_close(c);
}

/* RFC 5464 4.2 and 4.3 examples (with the errata's entry lists) */
static void test_rfc_examples(void)
{
	struct imc *c = imc_fresh(D, "mdrfc");
	char *r;

	g_free(imc_ok(c, "SETMETADATA \"\" (/shared/comment \"Shared "
			 "comment\")"));
	r = imc_ok(c, "GETMETADATA \"\" /shared/comment");
	has(r, "* METADATA \"\" (/shared/comment \"Shared comment\")\n");
	g_free(r);

	g_free(imc_ok(c, "SETMETADATA INBOX (/private/comment "
			 "\"My new comment\")"));
	g_free(imc_ok(c, "SETMETADATA INBOX (/shared/comment "
			 "\"Its sunny outside!\")"));
	r = imc_ok(c, "GETMETADATA INBOX /private/comment");
	has(r, "* METADATA \"INBOX\" (/private/comment \"My new comment\")");
	g_free(r);
	r = imc_ok(c, "GETMETADATA \"INBOX\" (/private/comment "
		      "/shared/comment)");
	has(r, "* METADATA \"INBOX\" (/private/comment \"My new comment\" "
	       "/shared/comment \"Its sunny outside!\")");
	g_free(r);

	/* 4.3: a value across lines goes as a literal both ways */
	g_free(imc_ok(c, "SETMETADATA INBOX (/private/comment {33+}\r\n"
			 "My new comment across\r\ntwo lines.)"));
	r = imc_ok(c, "GETMETADATA INBOX /private/comment");
	has(r, "(/private/comment {33}\nMy new comment across\r\ntwo "
	       "lines.)");
	g_free(r);

	/* 4.3: NIL removes; reading it back gives NIL */
	g_free(imc_ok(c, "SETMETADATA INBOX (/private/comment NIL)"));
	r = imc_ok(c, "GETMETADATA INBOX /private/comment");
	has(r, "* METADATA \"INBOX\" (/private/comment NIL)");
	g_free(r);
	imc_close(c);
}

static void test_private_shared_case(void)
{
	struct imc *c = imc_fresh(D, "mdps");
	char *r;

	g_free(imc_ok(c, "SETMETADATA INBOX (/private/x \"p\" /shared/x "
			 "\"s\")"));
	/* entry names are case-insensitive */
	r = imc_ok(c, "GETMETADATA INBOX (/PRIVATE/X /Shared/X)");
	has(r, "(/private/x \"p\" /shared/x \"s\")");
	g_free(r);
	/* server entries are apart from INBOX's */
	r = imc_ok(c, "GETMETADATA \"\" /private/x");
	has(r, "(/private/x NIL)");
	g_free(r);
	/* another user does not see them */
	{
		struct imc *o = imc_fresh(D, "mdps2");

		r = imc_ok(o, "GETMETADATA INBOX /private/x");
		has(r, "(/private/x NIL)");
		g_free(r);
		imc_close(o);
	}
	imc_close(c);
}

/* RFC 5464 4.2.1 MAXSIZE, 4.2.2 DEPTH */
static void test_depth_maxsize(void)
{
	struct imc *c = imc_fresh(D, "mddepth");
	char *r;

	g_free(imc_ok(c, "SETMETADATA INBOX (/private/filters/values/small "
			 "\"a\" /private/filters/values/big "
			 "\"0123456789\" /private/filters/values/big/x \"b\" "
			 "/private/filters/other \"c\")"));
	r = imc_ok(c, "GETMETADATA (DEPTH 1) INBOX /private/filters/values");
	has(r, "/private/filters/values/big \"0123456789\"");
	has(r, "/private/filters/values/small \"a\"");
	hasnt(r, "/private/filters/values/big/x");
	hasnt(r, "/private/filters/other");
	g_free(r);
	r = imc_ok(
		c,
		"GETMETADATA (DEPTH infinity) INBOX /private/filters/values");
	has(r, "/private/filters/values/big/x \"b\"");
	g_free(r);
	r = imc_ok(c, "GETMETADATA (DEPTH infinity) INBOX /private");
	has(r, "/private/filters/other \"c\"");
	g_free(r);
	r = imc_ok(c, "GETMETADATA (MAXSIZE 5 DEPTH 1) INBOX "
		      "/private/filters/values");
	has(r, "/private/filters/values/small \"a\"");
	hasnt(r, "0123456789");
	has(r, "OK [METADATA LONGENTRIES 10]");
	g_free(r);
	imc_close(c);
}

static void test_limits(void)
{
	struct imd *d = imd_start("\"allow_cleartext_login_loopback\": true, "
				  "\"metadata_max_value\": 16, "
				  "\"metadata_max_entries\": 3, "
				  "\"metadata_max_total\": 64");
	struct imc *c = imc_fresh(d, "mdlim");
	char *r;

	r = imc_cmd(c, "SETMETADATA INBOX (/private/a "
		       "\"0123456789abcdefg\")");
	has(r, "NO [METADATA MAXSIZE 16]");
	g_free(r);
	g_free(imc_ok(c, "SETMETADATA INBOX (/private/a \"1\" /private/b "
			 "\"2\" /private/c \"3\")"));
	r = imc_cmd(c, "SETMETADATA INBOX (/private/d \"4\")");
	has(r, "NO [METADATA TOOMANY]");
	g_free(r);
	/* all or none: the refused command changed nothing */
	r = imc_cmd(c, "SETMETADATA INBOX (/private/a NIL /private/d \"4\" "
		       "/private/e \"5\")");
	has(r, "NO [METADATA TOOMANY]");
	g_free(r);
	r = imc_ok(c, "GETMETADATA INBOX (/private/a /private/d)");
	has(r, "(/private/a \"1\" /private/d NIL)");
	g_free(r);
	/* replacing and removing within the limits */
	g_free(imc_ok(c, "SETMETADATA INBOX (/private/a NIL /private/d "
			 "\"4\")"));
	/* the total: three 16-byte values and their names are over 64 */
	r = imc_cmd(c, "SETMETADATA INBOX (/private/b \"0123456789abcdef\" "
		       "/private/c \"0123456789abcdef\" /private/d "
		       "\"0123456789abcdef\")");
	has(r, "NO [METADATA TOOMANY]");
	g_free(r);
	/* the server entries have their own count */
	g_free(imc_ok(c, "SETMETADATA \"\" (/private/a \"1\" /private/b "
			 "\"2\" /private/c \"3\")"));
	imc_close(c);
	imd_stop(d);
}

static void test_values(void)
{
	struct imc *c = imc_fresh(D, "mdval");
	char *r;

	/* literal8 with a NUL comes back as literal8 */
	{
		/* imc_cmd formats with %s: the NUL goes out raw */
		static const char cmd[] = "SETMETADATA INBOX (/private/bin "
					  "~{3+}\r\na\0b)\r\n";
		char tag[16];

		snprintf(tag, sizeof(tag), "t%u ", ++c->seq);
		g_assert_true(rmh_send_raw(c->c, tag, strlen(tag)));
		g_assert_true(rmh_send_raw(c->c, cmd, sizeof(cmd) - 1));
		r = imc_until(c, tag, 5);
		has(r, "OK SETMETADATA");
		g_free(r);
	}
	r = imc_ok(c, "GETMETADATA INBOX /private/bin");
	/* the client's reader stops at the NUL: the literal8 header and
	 * what comes before it */
	has(r, "(/private/bin ~{3}\na");
	g_free(r);
	/* an empty string is a value, not a removal */
	g_free(imc_ok(c, "SETMETADATA INBOX (/private/empty \"\")"));
	r = imc_ok(c, "GETMETADATA INBOX /private/empty");
	has(r, "(/private/empty \"\")");
	g_free(r);
	/* quotes and backslashes round trip */
	g_free(imc_ok(c, "SETMETADATA INBOX (/private/q \"a\\\"b\\\\c\")"));
	r = imc_ok(c, "GETMETADATA INBOX /private/q");
	has(r, "(/private/q \"a\\\"b\\\\c\")");
	g_free(r);
	imc_close(c);
}

static void test_errors(void)
{
	struct imc *c = imc_fresh(D, "mderr");
	char *r;

	r = imc_cmd(c, "GETMETADATA nosuch /private/comment");
	has(r, "NO [NONEXISTENT]");
	g_free(r);
	r = imc_cmd(c, "SETMETADATA nosuch (/private/comment \"x\")");
	has(r, "NO [NONEXISTENT]");
	g_free(r);
	r = imc_cmd(c, "GETMETADATA INBOX /comment");
	has(r, "BAD Entry names begin with /private or /shared");
	g_free(r);
	r = imc_cmd(c, "SETMETADATA INBOX (/private/a* \"x\")");
	has(r, "BAD");
	g_free(r);
	r = imc_cmd(c, "SETMETADATA INBOX (/private \"x\")");
	has(r, "BAD");
	g_free(r);
	/* literal8 stays an APPEND and SETMETADATA thing */
	r = imc_cmd(c, "GETMETADATA INBOX ~{3}");
	has(r, "BAD");
	g_free(r);
	/* before login */
	{
		struct imc *n = imc_connect(D, false, NULL);

		r = imc_cmd(n, "GETMETADATA \"\" /shared/comment");
		has(r, "BAD Log in first");
		g_free(r);
		imc_close(n);
	}
	imc_close(c);
}

/* entries follow RENAME, go with DELETE; another process sees writes */
static void test_rename_delete_procs(void)
{
	struct imc *c = imc_fresh(D, "mdmove");
	struct imd *t = g_new0(struct imd, 1);
	struct imc *o;
	char *r;

	g_free(imc_ok(c, "CREATE a"));
	g_free(imc_ok(c, "CREATE a/b"));
	g_free(imc_ok(c, "SETMETADATA a/b (/private/comment \"child\")"));
	g_free(imc_ok(c, "CREATE box"));
	g_free(imc_ok(c, "SETMETADATA box (/shared/comment \"kept\")"));
	g_free(imc_ok(c, "RENAME box moved"));
	r = imc_ok(c, "GETMETADATA moved /shared/comment");
	has(r, "(/shared/comment \"kept\")");
	g_free(r);
	g_free(imc_ok(c, "RENAME a z"));
	r = imc_ok(c, "GETMETADATA z/b /private/comment");
	has(r, "(/private/comment \"child\")");
	g_free(r);
	/* a new mailbox under the old name starts empty */
	g_free(imc_ok(c, "CREATE box"));
	r = imc_ok(c, "GETMETADATA box /shared/comment");
	has(r, "(/shared/comment NIL)");
	g_free(r);
	g_free(imc_ok(c, "DELETE moved"));
	g_free(imc_ok(c, "CREATE moved"));
	r = imc_ok(c, "GETMETADATA moved /shared/comment");
	has(r, "(/shared/comment NIL)");
	g_free(r);

	t->h = rmh_new();
	t->port = rmh_port(t->h, "imap");
	t->tls_port = rmh_port(t->h, "imaps");
	rmh_setf(t->h, "mail_root", "\"%s/mail\"", rmh_dir(D->h));
	rmh_set(t->h, "modules", "[\"mod_shardstore\", \"mod_imap\"]");
	rmh_setf(t->h, "imap",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"imaps_listen\": [\"127.0.0.1:%u\"], "
		 "\"allow_cleartext_login_loopback\": true}",
		 t->port, t->tls_port);
	rmh_write_config(t->h);
	g_assert_true(rmh_start(t->h));
	o = imc_login(t, "mdmove@example.test", "pw-secret");
	r = imc_ok(o, "GETMETADATA z/b /private/comment");
	has(r, "(/private/comment \"child\")");
	g_free(r);
	g_free(imc_ok(o, "SETMETADATA \"\" (/private/token \"from-t\")"));
	r = imc_ok(c, "GETMETADATA \"\" /private/token");
	has(r, "(/private/token \"from-t\")");
	g_free(r);
	g_free(imc_ok(c, "SETMETADATA \"\" (/private/token NIL)"));
	r = imc_ok(o, "GETMETADATA \"\" /private/token");
	has(r, "(/private/token NIL)");
	g_free(r);
	imc_close(o);
	imd_stop(t);
	imc_close(c);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/metadata/capability", test_capability);
	g_test_add_func("/imap/metadata/rfc-examples", test_rfc_examples);
	g_test_add_func("/imap/metadata/private-shared-case",
			test_private_shared_case);
	g_test_add_func("/imap/metadata/depth-maxsize", test_depth_maxsize);
	g_test_add_func("/imap/metadata/limits", test_limits);
	g_test_add_func("/imap/metadata/values", test_values);
	g_test_add_func("/imap/metadata/errors", test_errors);
	g_test_add_func("/imap/metadata/rename-delete-procs",
			test_rename_delete_procs);
	D = imd_start("\"allow_cleartext_login_loopback\": true");
	rc = g_test_run();
	imd_stop(D);
	return rc;
}
