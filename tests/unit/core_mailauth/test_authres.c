/* Authentication-Results (RFC 8601): the field rmail builds (folding,
 * quoting, hostile values), the authserv-id parser on the RFC's
 * Appendix B examples, and the removal of forged fields from a
 * message. */
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "mailauth/authres.h"

/* every line ≤ 78 columns, CRLF only, continuation lines start with
 * white space: one field, whatever went in */
static void assert_one_field(const char *f)
{
	const char *p = f;

	g_assert_true(g_str_has_prefix(f, "Authentication-Results: "));
	g_assert_true(g_str_has_suffix(f, "\r\n"));
	while (*p != '\0') {
		const char *eol = strstr(p, "\r\n");

		g_assert_nonnull(eol);
		g_assert_null(memchr(p, '\n', (size_t)(eol - p)));
		g_assert_null(memchr(p, '\r', (size_t)(eol - p)));
		if (p != f)
			g_assert_true(*p == '\t' || *p == ' ');
		p = eol + 2;
	}
}

static void assert_lines_short(const char *f)
{
	for (const char *p = f; *p != '\0';) {
		const char *eol = strstr(p, "\r\n");

		g_assert_cmpint(eol - p, <=, 78);
		p = eol + 2;
	}
}

/* the field unfolded, for comparisons */
static char *unfold(const char *f)
{
	GString *s = g_string_new(NULL);

	for (; *f != '\0'; f++) {
		if (f[0] == '\r' && f[1] == '\n' && f[2] == '\t') {
			g_string_append_c(s, ' ');
			f += 2;
		} else
			g_string_append_c(s, *f);
	}
	return g_string_free(s, FALSE);
}

static void test_build(void)
{
	struct authres_dkim sig[2] = {
		{.result = "pass",
		 .d = "example.com",
		 .s = "ed2025",
		 .a = "ed25519-sha256",
		 .b = "9x/ab+Cd=zzzz"},
		{.result = "fail",
		 .d = "example.com",
		 .s = "rsa2025",
		 .a = "rsa-sha256",
		 .reason = "body hash (mismatch)"},
	};
	struct authres_in in = {.spf_result = "pass",
				.spf_mailfrom = "bounce@example.com",
				.dkim_checked = true,
				.ndkim = 2,
				.dkim = sig,
				.dmarc_result = "pass",
				.dmarc_from = "example.com",
				.dmarc_policy = "reject",
				.dmarc_disposition = "none"};
	char *f = authres_build("mx.rmail.test", &in), *u;

	assert_one_field(f);
	assert_lines_short(f);
	u = unfold(f);
	g_assert_cmpstr(u, ==,
			"Authentication-Results: mx.rmail.test; spf=pass "
			"smtp.mailfrom=bounce@example.com; dkim=pass "
			"header.d=example.com header.s=ed2025 "
			"header.a=ed25519-sha256 header.b=\"9x/ab+Cd\"; "
			"dkim=fail (body hash mismatch) header.d=example.com "
			"header.s=rsa2025 header.a=rsa-sha256; dmarc=pass "
			"(p=reject dis=none) header.from=example.com\r\n");
	g_free(u);
	g_free(f);

	/* nothing evaluated; HELO identity; no signature */
	f = authres_build("mx.rmail.test", &(struct authres_in){0});
	g_assert_cmpstr(f, ==,
			"Authentication-Results: mx.rmail.test; none\r\n");
	g_free(f);
	f = authres_build("mx.rmail.test",
			  &(struct authres_in){.spf_result = "none",
					       .spf_helo = "client.example",
					       .dkim_checked = true});
	/* 84 columns: folded before dkim */
	g_assert_cmpstr(f, ==,
			"Authentication-Results: mx.rmail.test; spf=none "
			"smtp.helo=client.example;\r\n\tdkim=none\r\n");
	g_free(f);
}

static void test_build_hostile(void)
{
	struct authres_dkim sig = {
		.result = "pass",
		.d = "evil.example\r\nAuthentication-Results: mx.rmail.test; "
		     "dmarc=pass",
		.s = "a\"b\\c",
		.b = "\r\n\r\nX"};
	struct authres_in in = {
		.spf_result = "fail",
		.spf_mailfrom = "\"a b\"@x.example\n\tspf=pass",
		.ndkim = 1,
		.dkim = &sig,
		.dmarc_result = "fail",
		.dmarc_from = "(x) y.example; dmarc=pass",
		.dmarc_policy = "reject",
		.dmarc_disposition = "reject",
	};
	char *f = authres_build("mx.rmail.test", &in);
	char *u;

	assert_one_field(f);
	u = unfold(f);
	/* the CR/LF went, the rest is inside quoted-strings */
	g_assert_nonnull(strstr(u, "header.d=\"evil.exampleAuthentication-"
				   "Results: mx.rmail.test; dmarc=pass\""));
	g_assert_nonnull(strstr(u, "header.s=\"a\\\"b\\\\c\""));
	g_assert_nonnull(strstr(u, "smtp.mailfrom=\"\\\"a b\\\"@x.example"
				   "spf=pass\""));
	g_assert_nonnull(strstr(u, "header.from=\"(x) y.example; "
				   "dmarc=pass\""));
	g_assert_nonnull(strstr(u, "header.b=\"X\";"));
	g_free(u);
	g_free(f);

	/* a very long domain: one over-long atom, still one field */
	char longd[400];

	memset(longd, 'a', sizeof(longd) - 1);
	longd[sizeof(longd) - 1] = '\0';
	in = (struct authres_in){.dmarc_result = "none", .dmarc_from = longd};
	f = authres_build("mx.rmail.test", &in);
	assert_one_field(f);
	g_assert_cmpuint(strlen(f), <, 400);
	g_free(f);
}

/* RFC 8601 Appendix B, and comments/quotes around the id */
static void test_parse_id(void)
{
	static const struct {
		const char *value, *id;
	} cases[] = {
		{" example.org 1; none", "example.org"},
		{" example.com;\r\n                  spf=pass "
		 "smtp.mailfrom=example.net",
		 "example.com"},
		{" example.com; iprev=pass\r\n                  "
		 "policy.iprev=192.0.2.200",
		 "example.com"},
		{" foo.example.net (foobar) 1 (baz);\r\n            dkim "
		 "(Because I like it) / 1 (One yay) = (wait for it) fail",
		 "foo.example.net"},
		{"\r\n (a (nested) comment)\r\n\t\"Example.COM.\"; none",
		 "Example.COM"},
		{" mx.example@evil; spf=pass", "mx.example"},
	};
	char id[256];

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_assert_cmpint(authres_parse_id(cases[i].value,
						 strlen(cases[i].value), id,
						 sizeof(id)),
				==, 0);
		g_assert_cmpstr(id, ==, cases[i].id);
	}
	g_assert_cmpint(authres_parse_id(" ; none", 7, id, sizeof(id)), ==, -1);
	/* found by the fuzzer: controls inside a quoted id */
	g_assert_cmpint(authres_parse_id("\"\0a\"", 4, id, sizeof(id)), ==, -1);
	g_assert_cmpint(authres_parse_id(" (unterminated", 14, id, sizeof(id)),
			==, -1);
}

static const char msg[] =
	"Received: from x by y\r\n"
	"Authentication-Results: example.com;\r\n"
	"                  spf=pass smtp.mailfrom=example.net\r\n"
	"Authentication-Results: example.org 1; none\r\n"
	"authentication-results : (forged) EXAMPLE.COM. 1;\r\n"
	"\tdkim=pass header.d=bank.example\r\n"
	"X-Authentication-Results: example.com; none\r\n"
	"Authentication-Results:\r\n"
	" \"example.com\"; dmarc=pass\r\n"
	"Subject: hi\r\n"
	"\r\n"
	"Authentication-Results: example.com; in the body\r\n";

static void test_find_ours(void)
{
	struct authres_range *r;
	size_t n = authres_find_ours(msg, strlen(msg), "example.com", &r);
	GString *kept = g_string_new(NULL);
	size_t pos = 0;

	g_assert_cmpuint(n, ==, 3);
	for (size_t i = 0; i < n; i++) {
		g_string_append_len(kept, msg + pos, (gssize)(r[i].off - pos));
		pos = r[i].off + r[i].len;
	}
	g_string_append(kept, msg + pos);
	g_assert_cmpstr(kept->str, ==,
			"Received: from x by y\r\n"
			"Authentication-Results: example.org 1; none\r\n"
			"X-Authentication-Results: example.com; none\r\n"
			"Subject: hi\r\n"
			"\r\n"
			"Authentication-Results: example.com; in the body\r\n");
	g_string_free(kept, TRUE);
	g_free(r);

	/* bare LF line ends, and a header without a body */
	n = authres_find_ours("Authentication-Results: mx.test; none\n"
			      "Authentication-Results: mx.test; x",
			      72, "MX.test", &r);
	g_assert_cmpuint(n, ==, 2);
	g_assert_cmpuint(r[0].off, ==, 0);
	g_assert_cmpuint(r[0].len, ==, 38);
	g_assert_cmpuint(r[1].off, ==, 38);
	g_assert_cmpuint(r[1].len, ==, 34);
	g_free(r);
	g_assert_cmpuint(authres_find_ours(msg, strlen(msg), "other.test", &r),
			 ==, 0);
	g_assert_null(r);
}

static void test_copy_without(void)
{
	char *dir = g_dir_make_tmp("authres-XXXXXX", NULL);
	char *in_path = g_build_filename(dir, "in", NULL);
	char *out_path = g_build_filename(dir, "out", NULL);
	GString *big = g_string_new(msg);
	struct authres_range *r;
	gchar *got;
	size_t n;
	int in_fd, out_fd;

	/* a body past the copy buffer, so ranges and chunks interleave */
	for (int i = 0; i < 20000; i++)
		g_string_append(big, "0123456789\r\n");
	g_assert_true(
		g_file_set_contents(in_path, big->str, (gssize)big->len, NULL));
	n = authres_find_ours(big->str, big->len, "example.com", &r);
	g_assert_cmpuint(n, ==, 3);
	in_fd = g_open(in_path, O_RDONLY, 0);
	out_fd = g_open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	g_assert_cmpint(authres_copy_without(in_fd, out_fd, r, n), ==, 0);
	close(in_fd);
	close(out_fd);
	g_assert_true(g_file_get_contents(out_path, &got, NULL, NULL));
	g_assert_true(g_str_has_prefix(got, "Received: from x by y\r\n"
					    "Authentication-Results: "
					    "example.org 1; none\r\n"
					    "X-Authentication-Results:"));
	g_assert_cmpuint(strlen(got), ==,
			 big->len - r[0].len - r[1].len - r[2].len);
	g_assert_true(g_str_has_suffix(got, "0123456789\r\n"));
	g_free(got);
	g_free(r);
	g_string_free(big, TRUE);
	g_unlink(in_path);
	g_unlink(out_path);
	g_rmdir(dir);
	g_free(in_path);
	g_free(out_path);
	g_free(dir);
}

/* the spool-file form: whole, and with the header cut by the limit
 * inside a forged field (which then stays whole) */
static void test_strip_fd(void)
{
	char *dir = g_dir_make_tmp("authres-XXXXXX", NULL);
	char *in_path = g_build_filename(dir, "in", NULL);
	char *out_path = g_build_filename(dir, "out", NULL);
	gchar *got;
	size_t removed;
	int in_fd, out_fd;

	g_assert_true(g_file_set_contents(in_path, msg, -1, NULL));
	in_fd = g_open(in_path, O_RDONLY, 0);
	out_fd = g_open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	g_assert_cmpint(
		authres_strip_fd(in_fd, out_fd, "example.com", 65536, &removed),
		==, 0);
	g_assert_cmpuint(removed, ==, 3);
	close(out_fd);
	g_assert_true(g_file_get_contents(out_path, &got, NULL, NULL));
	g_assert_null(strstr(got, "spf=pass smtp.mailfrom=example.net"));
	g_assert_null(strstr(got, "dmarc=pass"));
	g_assert_nonnull(strstr(got, "example.org 1; none"));
	g_free(got);

	/* 61 bytes: the first forged field's first line, its folded
	 * continuation past the limit: the field is kept whole */
	out_fd = g_open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	g_assert_cmpint(
		authres_strip_fd(in_fd, out_fd, "example.com", 61, &removed),
		==, 0);
	g_assert_cmpuint(removed, ==, 0);
	close(out_fd);
	g_assert_true(g_file_get_contents(out_path, &got, NULL, NULL));
	g_assert_cmpstr(got, ==, msg);
	g_free(got);
	close(in_fd);
	g_unlink(in_path);
	g_unlink(out_path);
	g_rmdir(dir);
	g_free(in_path);
	g_free(out_path);
	g_free(dir);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/authres/build", test_build);
	g_test_add_func("/authres/build_hostile", test_build_hostile);
	g_test_add_func("/authres/parse_id", test_parse_id);
	g_test_add_func("/authres/find_ours", test_find_ours);
	g_test_add_func("/authres/copy_without", test_copy_without);
	g_test_add_func("/authres/strip_fd", test_strip_fd);
	return g_test_run();
}
