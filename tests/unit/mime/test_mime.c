/*
 * The core MIME parser through the services table, as IMAP and the
 * HTTP API call it: a golden corpus (part tree, parameters, offsets,
 * lines, decoded headers, addresses and bodies), every prefix of each
 * corpus message, the limits, and decoder vectors.
 *
 * RMAIL_MIME_REGEN=1 rewrites the .expected files; review the diff.
 */
#include <glib.h>
#include <string.h>

#include "mime/mime_int.h"

static const struct rmail_core *core;

/* ---- dump -------------------------------------------------------- */

static void esc(GString *s, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\n')
			g_string_append(s, "\\n");
		else if (c == '\r')
			g_string_append(s, "\\r");
		else if (c == '\\')
			g_string_append(s, "\\\\");
		else if (c < 0x20 || c == 0x7f)
			g_string_append_printf(s, "\\x%02x", c);
		else
			g_string_append_c(s, (char)c);
	}
}

static void dump_str(GString *s, const char *label, const char *v)
{
	if (v == NULL)
		return;
	g_string_append_printf(s, "  %s=", label);
	esc(s, v, strlen(v));
	g_string_append_c(s, '\n');
}

static void dump_map(GString *s, const char *label,
		     const struct rmail_strmap *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		g_string_append_printf(s, "  %s %s=", label, m->k[i]);
		esc(s, m->v[i], strlen(m->v[i]));
		g_string_append_c(s, '\n');
	}
}

static void dump_addrs(GString *s, struct rmail_mime *m, const char *hdr,
		       const char *value)
{
	const struct rmail_mime_addr *a;
	size_t n, i;

	if (value == NULL)
		return;
	if (core->mime_addresses(m, value, &a, &n) < 0) {
		g_string_append_printf(s, "  addr %s: refused\n", hdr);
		return;
	}
	for (i = 0; i < n; i++)
		g_string_append_printf(s,
				       "  addr %s: name=%s mailbox=%s "
				       "host=%s group=%s route=%s\n",
				       hdr, a[i].name ? a[i].name : "-",
				       a[i].mailbox ? a[i].mailbox : "-",
				       a[i].host ? a[i].host : "-",
				       a[i].group ? a[i].group : "-",
				       a[i].route ? a[i].route : "-");
}

static const char *const shown_headers[] = {
	"Subject", "From", "To", "Cc", NULL,
};

static char *dump(struct rmail_mime *m)
{
	GString *s = g_string_new(NULL);
	size_t i, np = core->mime_part_count(m);

	for (i = 0; i < np; i++) {
		const struct rmail_mime_part *p = core->mime_part(m, i);
		struct rmail_err err;
		const char *body;
		size_t blen;
		uint32_t ch;

		g_string_append_printf(s, "part %zu parent=", i);
		if (p->parent == RMAIL_MIME_NONE)
			g_string_append(s, "-");
		else
			g_string_append_printf(s, "%u", p->parent);
		g_string_append_printf(
			s, " depth=%u %s/%s flags=%s%s%s%s", p->depth, p->type,
			p->subtype, p->flags & RMAIL_MIME_MULTIPART ? "M" : "",
			p->flags & RMAIL_MIME_MESSAGE ? "R" : "",
			p->flags & RMAIL_MIME_TRUNCATED ? "T" : "",
			p->flags & RMAIL_MIME_8BIT ? "8" : "");
		g_string_append_printf(
			s,
			" hdr=%" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT
			" body=%" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT
			" lines=%u children=",
			p->hdr_off, p->hdr_len, p->body_off, p->body_len,
			p->body_lines);
		for (ch = p->first_child; ch != RMAIL_MIME_NONE;
		     ch = core->mime_part(m, ch)->next_sibling)
			g_string_append_printf(s, "%u,", ch);
		g_string_append_c(s, '\n');
		dump_str(s, "charset", p->charset);
		dump_str(s, "encoding", p->encoding);
		dump_str(s, "disposition", p->disposition);
		dump_str(s, "filename", p->filename);
		dump_str(s, "id", p->id);
		dump_str(s, "description", p->description);
		dump_map(s, "param", &p->params);
		dump_map(s, "dparam", &p->disp_params);
		for (const char *const *h = shown_headers; *h != NULL; h++) {
			const char *v = core->mime_header(m, i, *h, 0, 1);

			if (v == NULL)
				continue;
			g_string_append_printf(s, "  header %s: ", *h);
			esc(s, v, strlen(v));
			g_string_append_c(s, '\n');
			if (strcmp(*h, "Subject") != 0)
				dump_addrs(s, m, *h,
					   core->mime_header(m, i, *h, 0, 0));
		}
		if (p->flags & (RMAIL_MIME_MULTIPART | RMAIL_MIME_MESSAGE))
			continue;
		g_assert_cmpint(core->mime_body(m, i, 1, &body, &blen, &err),
				==, 0);
		g_string_append(s, "  body: ");
		esc(s, body, blen);
		g_string_append_c(s, '\n');
	}
	return g_string_free(s, FALSE);
}

/* Structural invariants any parse must keep, whatever the input. */
static void check_tree(struct rmail_mime *m, size_t len)
{
	size_t i, np = core->mime_part_count(m);

	g_assert_cmpuint(np, >=, 1);
	g_assert_null(core->mime_part(m, np));
	for (i = 0; i < np; i++) {
		const struct rmail_mime_part *p = core->mime_part(m, i);

		g_assert_cmpuint(p->hdr_off + p->hdr_len, <=, len);
		g_assert_cmpuint(p->hdr_off + p->hdr_len, <=, p->body_off);
		g_assert_cmpuint(p->body_off + p->body_len, <=, len);
		g_assert_nonnull(p->type);
		g_assert_nonnull(p->subtype);
		if (i == 0) {
			g_assert_cmpuint(p->parent, ==, RMAIL_MIME_NONE);
			continue;
		}
		const struct rmail_mime_part *pp =
			core->mime_part(m, p->parent);
		g_assert_cmpuint(p->parent, <, i);
		g_assert_cmpuint(p->depth, ==, pp->depth + 1);
		g_assert_cmpuint(p->hdr_off, >=, pp->body_off);
		/* an empty body right before a boundary starts after
		 * the CRLF that the boundary owns */
		g_assert_cmpuint(p->body_off + p->body_len, <=,
				 pp->body_off + pp->body_len +
					 (p->body_len == 0 ? 2 : 0));
	}
}

static char *corpus_path(const char *name, const char *ext)
{
	const char *src = g_getenv("RMAIL_SOURCE_DIR");

	return g_strdup_printf("%s/tests/unit/mime/corpus/%s%s",
			       src != NULL ? src : ".", name, ext);
}

static void test_golden(gconstpointer data)
{
	const char *name = data;
	char *eml = corpus_path(name, ".eml");
	char *exp = corpus_path(name, ".expected");
	char *msg, *want, *got;
	gsize len;
	struct rmail_mime *m;
	struct rmail_err err;

	g_assert_true(g_file_get_contents(eml, &msg, &len, NULL));
	g_assert_cmpint(core->mime_parse(msg, len, NULL, &m, &err), ==, 0);
	check_tree(m, len);
	got = dump(m);
	if (g_getenv("RMAIL_MIME_REGEN") != NULL)
		g_assert_true(g_file_set_contents(exp, got, -1, NULL));
	g_assert_true(g_file_get_contents(exp, &want, NULL, NULL));
	g_assert_cmpstr(got, ==, want);
	core->mime_free(&m);
	g_assert_null(m);
	g_free(got);
	g_free(want);
	g_free(msg);
	g_free(eml);
	g_free(exp);
}

/* The whole-message analogue of "byte by byte": every prefix (a
 * message cut at every offset) parses, keeps the invariants and dumps
 * without reading past its end (exact-size copies for ASan). */
static void test_prefixes(gconstpointer data)
{
	const char *name = data;
	char *eml = corpus_path(name, ".eml");
	char *msg;
	gsize len, cut;

	g_assert_true(g_file_get_contents(eml, &msg, &len, NULL));
	for (cut = 0; cut <= len; cut++) {
		char *copy = g_memdup2(msg, cut);
		struct rmail_mime *m;
		struct rmail_err err;

		g_assert_cmpint(core->mime_parse(copy, cut, NULL, &m, &err), ==,
				0);
		check_tree(m, cut);
		g_free(dump(m));
		core->mime_free(&m);
		g_free(copy);
	}
	g_free(msg);
	g_free(eml);
}

static const char *const corpus[] = {
	"simple",
	"multipart_alt",
	"rfc822_nested",
	"missing_boundary",
	"bad_base64",
	"header_8bit",
	"wrong_charset",
	"lf_only",
	"digest",
	"headers_only",
	NULL,
};

/* Parses share nothing: threads parsing (and converting charsets with
 * iconv) at once get the single-threaded dumps. */
static gpointer thread_main(gpointer data)
{
	char **want = data;
	size_t i;
	int round;

	for (round = 0; round < 20; round++) {
		for (i = 0; corpus[i] != NULL; i++) {
			char *eml = corpus_path(corpus[i], ".eml"), *msg, *got;
			gsize len;
			struct rmail_mime *m;
			struct rmail_err err;

			if (!g_file_get_contents(eml, &msg, &len, NULL) ||
			    core->mime_parse(msg, len, NULL, &m, &err) != 0)
				return GINT_TO_POINTER(1);
			got = dump(m);
			if (strcmp(got, want[i]) != 0)
				return GINT_TO_POINTER(1);
			core->mime_free(&m);
			g_free(got);
			g_free(msg);
			g_free(eml);
		}
	}
	return NULL;
}

static void test_threads(void)
{
	char *want[G_N_ELEMENTS(corpus)] = {0};
	GThread *t[4];
	size_t i;

	for (i = 0; corpus[i] != NULL; i++) {
		char *exp = corpus_path(corpus[i], ".expected");

		g_assert_true(g_file_get_contents(exp, &want[i], NULL, NULL));
		g_free(exp);
	}
	for (i = 0; i < G_N_ELEMENTS(t); i++)
		t[i] = g_thread_new("mime", thread_main, want);
	for (i = 0; i < G_N_ELEMENTS(t); i++)
		g_assert_null(g_thread_join(t[i]));
	for (i = 0; corpus[i] != NULL; i++)
		g_free(want[i]);
}

/* ---- limits ------------------------------------------------------ */

static struct rmail_mime *parse_lim(const char *msg, size_t len,
				    const struct rmail_mime_limits *lim)
{
	struct rmail_mime *m;
	struct rmail_err err;

	g_assert_cmpint(core->mime_parse(msg, len, lim, &m, &err), ==, 0);
	check_tree(m, len);
	return m;
}

static void test_limit_depth(void)
{
	struct rmail_mime_limits lim = {.size = sizeof(lim), .max_depth = 3};
	GString *s = g_string_new(NULL);
	struct rmail_mime *m;
	size_t i, np;

	/* 200 nested multiparts: the parser must not recurse */
	for (i = 0; i < 200; i++)
		g_string_append_printf(s,
				       "Content-Type: multipart/mixed; "
				       "boundary=b%03zu\r\n\r\n--b%03zu\r\n",
				       i, i);
	g_string_append(s, "\r\ntext\r\n");
	m = parse_lim(s->str, s->len, &lim);
	np = core->mime_part_count(m);
	g_assert_cmpuint(np, ==, 4); /* depth 0..3 */
	g_assert_true(core->mime_part(m, 3)->flags & RMAIL_MIME_TRUNCATED);
	g_assert_false(core->mime_part(m, 3)->flags & RMAIL_MIME_MULTIPART);
	for (i = 0; i < 3; i++)
		g_assert_false(core->mime_part(m, i)->flags &
			       RMAIL_MIME_TRUNCATED);
	core->mime_free(&m);

	/* default depth with the same input: bounded, no crash */
	m = parse_lim(s->str, s->len, NULL);
	g_assert_cmpuint(core->mime_part_count(m), ==, RM_MIME_DEF_DEPTH + 1);
	core->mime_free(&m);

	/* message/rfc822 nesting is bounded the same way */
	g_string_truncate(s, 0);
	for (i = 0; i < 100; i++)
		g_string_append(s, "Content-Type: message/rfc822\r\n\r\n");
	m = parse_lim(s->str, s->len, &lim);
	g_assert_cmpuint(core->mime_part_count(m), ==, 4);
	g_assert_true(core->mime_part(m, 3)->flags & RMAIL_MIME_TRUNCATED);
	core->mime_free(&m);
	g_string_free(s, TRUE);
}

static void test_limit_parts(void)
{
	struct rmail_mime_limits lim = {.size = sizeof(lim), .max_parts = 10};
	GString *s = g_string_new("Content-Type: multipart/mixed; "
				  "boundary=x\r\n\r\n");
	struct rmail_mime *m;
	size_t i;

	for (i = 0; i < 100000; i++)
		g_string_append(s, "--x\r\n\r\nhi\r\n");
	g_string_append(s, "--x--\r\n");
	m = parse_lim(s->str, s->len, &lim);
	g_assert_cmpuint(core->mime_part_count(m), ==, 10);
	g_assert_true(core->mime_part(m, 0)->flags & RMAIL_MIME_TRUNCATED);
	/* the multipart still spans its whole body */
	g_assert_cmpuint(core->mime_part(m, 0)->body_off +
				 core->mime_part(m, 0)->body_len,
			 ==, s->len);
	core->mime_free(&m);
	m = parse_lim(s->str, s->len, NULL);
	g_assert_cmpuint(core->mime_part_count(m), ==, RM_MIME_DEF_PARTS);
	core->mime_free(&m);
	g_string_free(s, TRUE);
}

/* CVE-2024-23184 class: 500,000 address headers, or one header with
 * 500,000 addresses.  Asserts the limit behaviour only; the timing is
 * in bench/mime_bench. */
static void test_limit_many_addresses(void)
{
	GString *s = g_string_new(NULL);
	struct rmail_mime_limits lim = {.size = sizeof(lim),
					.max_header_len = 64 << 20};
	const struct rmail_mime_addr *a;
	struct rmail_mime *m;
	size_t i, n;

	for (i = 0; i < 500000; i++)
		g_string_append_printf(s, "To: u%zu@example.com\r\n", i);
	g_string_append(s, "\r\nbody\r\n");
	m = parse_lim(s->str, s->len, NULL);
	g_assert_true(core->mime_part(m, 0)->flags & RMAIL_MIME_TRUNCATED);
	g_assert_nonnull(
		core->mime_header(m, 0, "To", RM_MIME_DEF_HEADERS - 1, 0));
	g_assert_null(core->mime_header(m, 0, "To", RM_MIME_DEF_HEADERS, 0));
	g_assert_cmpstr(core->mime_header(m, 0, "to", 7, 1), ==,
			"u7@example.com");
	core->mime_free(&m);

	/* one header, 500,000 addresses: cut at max_header_len by default */
	g_string_assign(s, "To: ");
	for (i = 0; i < 500000; i++)
		g_string_append_printf(s, "\"U %zu\" <u%zu@example.com>,\r\n ",
				       i, i);
	g_string_append(s, "last@example.com\r\n\r\nbody\r\n");
	m = parse_lim(s->str, s->len, NULL);
	g_assert_true(core->mime_part(m, 0)->flags & RMAIL_MIME_TRUNCATED);
	/* the field ("To: " included) is cut at the limit */
	g_assert_cmpuint(strlen(core->mime_header(m, 0, "To", 0, 0)), ==,
			 RM_MIME_DEF_HEADER_LEN - 4);
	g_assert_cmpint(core->mime_addresses(
				m, core->mime_header(m, 0, "To", 0, 0), &a, &n),
			==, 0);
	g_assert_cmpuint(n, >, 1000);
	g_assert_cmpuint(n, <, RM_MIME_MAX_ADDRS);
	core->mime_free(&m);

	/* with the header limit raised, the address list is refused */
	m = parse_lim(s->str, s->len, &lim);
	g_assert_false(core->mime_part(m, 0)->flags & RMAIL_MIME_TRUNCATED);
	g_assert_cmpint(core->mime_addresses(
				m, core->mime_header(m, 0, "To", 0, 0), &a, &n),
			==, -1);
	g_assert_null(a);
	g_assert_cmpuint(n, ==, 0);
	core->mime_free(&m);
	g_string_free(s, TRUE);
}

static void test_limit_lengths(void)
{
	struct rmail_mime_limits lim = {
		.size = sizeof(lim), .max_header_len = 20, .max_line_len = 50};
	const char *msg = "Subject: 0123456789abcdefghijXYZ\r\n"
			  "X-Folded: a\r\n b\r\n\tc\r\n\r\nshort\r\n";
	struct rmail_mime *m = parse_lim(msg, strlen(msg), &lim);
	GString *s;

	g_assert_true(core->mime_part(m, 0)->flags & RMAIL_MIME_TRUNCATED);
	/* "Subject: " counts: the unfolded field is cut at 20 bytes */
	g_assert_cmpstr(core->mime_header(m, 0, "Subject", 0, 0), ==,
			"0123456789a");
	g_assert_cmpstr(core->mime_header(m, 0, "x-folded", 0, 0), ==,
			"a b\tc");
	core->mime_free(&m);

	s = g_string_new("Subject: x\r\n\r\n");
	for (int i = 0; i < 60; i++)
		g_string_append_c(s, 'y');
	g_string_append(s, "\r\n");
	m = parse_lim(s->str, s->len, &lim);
	g_assert_true(core->mime_part(m, 0)->flags & RMAIL_MIME_TRUNCATED);
	g_assert_cmpuint(core->mime_part(m, 0)->body_len, ==, 62);
	core->mime_free(&m);
	lim.max_line_len = 0;
	m = parse_lim(s->str, s->len, &lim);
	g_assert_false(core->mime_part(m, 0)->flags & RMAIL_MIME_TRUNCATED);
	core->mime_free(&m);
	g_string_free(s, TRUE);
}

/* ---- decoder vectors --------------------------------------------- */

static struct rmail_pool *pool;

static void test_rfc2047(void)
{
	static const char *const v[][2] = {
		{"=?ISO-8859-1?Q?a?=", "a"},
		{"=?ISO-8859-1?Q?a?= b", "a b"},
		{"=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=", "ab"},
		{"=?ISO-8859-1?Q?a?=  \t =?ISO-8859-1?Q?b?=", "ab"},
		{"=?ISO-8859-1?Q?a_b?=", "a b"},
		{"=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=", "a b"},
		{"=?utf-8*en?q?caf=C3=A9?=", "caf\xc3\xa9"},
		/* UTF-8 character split across two words */
		{"=?utf-8?b?w6k=?= =?utf-8?b?w6k=?=", "\xc3\xa9\xc3\xa9"},
		{"=?utf-8?B?ww==?= =?utf-8?B?qQ==?=", "\xc3\xa9"},
		{"=?utf-8?q?x", "=?utf-8?q?x"},
		{"=?utf-8?x?abc?=", "=?utf-8?x?abc?="},
		{"=?=?utf-8?q?ok?=", "=?ok"},
		{"a =?utf-8?q?broken space?= b",
		 "a =?utf-8?q?broken space?= b"},
		{"=?no-such-cs?q?caf=E9?=", "caf\xc3\xa9"},
		{"=?koi8-r?b?8NLJ18XU?=", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2"
					  "\xd0\xb5\xd1\x82"},
		{"Gr\xfc\xdf", "Gr\xc3\xbc\xc3\x9f"},
		{"", ""},
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(v); i++) {
		const char *in = v[i][0];
		size_t cut;

		g_assert_cmpstr(rm_mime_decode_2047(pool, in, strlen(in)), ==,
				v[i][1]);
		/* every prefix decodes to valid UTF-8 */
		for (cut = 0; cut <= strlen(in); cut++) {
			char *o = rm_mime_decode_2047(pool, in, cut);

			g_assert_true(rmail_utf8_valid(o, strlen(o)));
		}
	}
}

static void test_params(void)
{
	static const char *const v[][4] = {
		{"text/plain; charset=\"us-ascii\"", "text", "charset",
		 "us-ascii"},
		{"Text/HTML ; CHARSET = UTF-8 (comment)", "text", "charset",
		 "UTF-8"},
		{"a/b; name=my file (1).pdf", "a", "name", "my file (1).pdf"},
		{"a/b; name=my file.pdf (x)", "a", "name", "my file.pdf"},
		{"application/x-stuff; title*=us-ascii'en-us'This%20is%20%2A"
		 "%2A%2Afun%2A%2A%2A",
		 "application", "title", "This is ***fun***"},
		{"message/external-body; access-type=URL; "
		 "URL*0=\"ftp://\"; URL*1=\"cs.utk.edu/pub/moore/"
		 "bulk-mailer/bulk-mailer.tar\"",
		 "message", "url",
		 "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar"},
		{"application/x-stuff; title*1*=%2A%2A%2Afun%2A%2A%2A%20; "
		 "title*2=\"isn't it!\"; title*0*=us-ascii'en'This%20is%20"
		 "even%20more%20",
		 "application", "title",
		 "This is even more ***fun*** isn't it!"},
		{"a/b; name=\"=?utf-8?b?w6k=?=.txt\"", "a", "name",
		 "\xc3\xa9.txt"},
		{"a/b; name*=iso-8859-1''%E9; name=plain", "a", "name",
		 "\xc3\xa9"},
		{"a/b; name=\"q\\\"uo\\\\te\"", "a", "name", "q\"uo\\te"},
		{"a/b; name*0=x; name*2=z", "a", "name", "x"},
		{"a/b;;; name=v;", "a", "name", "v"},
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(v); i++) {
		const char *t, *st;
		struct rmail_strmap p;

		g_assert_true(rm_mime_parse_ctype(pool, v[i][0], &t, &st, &p));
		g_assert_cmpstr(t, ==, v[i][1]);
		g_assert_cmpstr(rm_mime_strmap_get(&p, v[i][2]), ==, v[i][3]);
	}
}

static void test_ctype_bad(void)
{
	static const char *const v[] = {
		"",
		"text",
		"/plain",
		"text/",
		";",
		"(comment",
		"\"\"",
		"a/b; name*0*=utf-8'",
		"a/b; name*=%",
		"a/b; =x",
	};
	size_t i, cut;

	for (i = 0; i < G_N_ELEMENTS(v); i++) {
		for (cut = 0; cut <= strlen(v[i]); cut++) {
			char *in = g_strndup(v[i], cut);
			const char *t, *st;
			struct rmail_strmap p;

			(void)rm_mime_parse_ctype(pool, in, &t, &st, &p);
			g_free(in);
		}
	}
	{
		const char *t, *st;
		struct rmail_strmap p;

		g_assert_false(rm_mime_parse_ctype(pool, "text", &t, &st, &p));
		g_assert_false(rm_mime_parse_ctype(pool, "", &t, &st, &p));
	}
}

struct addr_vec {
	const char *in;
	const char *want; /* name|mailbox|host|group|route; ... */
};

static char *addrs_str(const struct rmail_mime_addr *a, size_t n)
{
	GString *s = g_string_new(NULL);
	size_t i;

	for (i = 0; i < n; i++)
		g_string_append_printf(s, "%s|%s|%s|%s|%s;",
				       a[i].name ? a[i].name : "-",
				       a[i].mailbox ? a[i].mailbox : "-",
				       a[i].host ? a[i].host : "-",
				       a[i].group ? a[i].group : "-",
				       a[i].route ? a[i].route : "-");
	return g_string_free(s, FALSE);
}

static void test_addresses(void)
{
	static const struct addr_vec v[] = {
		{"a@b", "-|a|b|-|-;"},
		{"John Doe <jdoe@machine.example>",
		 "John Doe|jdoe|machine.example|-|-;"},
		{"\"Joe Q. Public\" <john.q.public@example.com>",
		 "Joe Q. Public|john.q.public|example.com|-|-;"},
		{"Mary Smith <mary@x.test>, jdoe@example.org, Who? "
		 "<one@y.test>",
		 "Mary Smith|mary|x.test|-|-;-|jdoe|example.org|-|-;"
		 "Who?|one|y.test|-|-;"},
		{"A Group:Ed Jones <c@a.test>,joe@where.test;",
		 "-|-|-|A Group|-;Ed Jones|c|a.test|-|-;"
		 "-|joe|where.test|-|-;-|-|-|-|-;"},
		{"Undisclosed recipients:;",
		 "-|-|-|Undisclosed recipients|-;-|-|-|-|-;"},
		{"Pete(A nice \\) chap) <pete(his account)@silly.test(his "
		 "host)>",
		 "Pete|pete|silly.test|-|-;"},
		{"<@r1.test,@r2.test:joe@x.test>",
		 "-|joe|x.test|-|@r1.test,@r2.test;"},
		{"joe@x.test (Joe Bloggs)", "Joe Bloggs|joe|x.test|-|-;"},
		{"\"strange local\"@x.test", "-|strange local|x.test|-|-;"},
		{"=?utf-8?q?J=C3=BCrgen?= <j@x.test>",
		 "J\xc3\xbcrgen|j|x.test|-|-;"},
		{"undisclosed-recipients", "-|undisclosed-recipients|-|-|-;"},
		{"<>", "-||-|-|-;"},
		{"a@[127.0.0.1]", "-|a|[127.0.0.1]|-|-;"},
		{",, ,a@b,,", "-|a|b|-|-;"},
		{"g: a@b", "-|-|-|g|-;-|a|b|-|-;-|-|-|-|-;"},
		{"", ""},
	};
	static const char *const junk[] = {
		"\"unterminated",
		"(unterminated",
		"<a@b",
		"a@",
		"@",
		":;:;",
		"<<>>",
		"a:b:c;d;",
		"\"\\",
		"<@a,@b",
		"[x",
		")",
		"a) b@c)",
	};
	size_t i, cut;
	struct rmail_mime *m;
	struct rmail_err err;

	g_assert_cmpint(core->mime_parse("", 0, NULL, &m, &err), ==, 0);
	for (i = 0; i < G_N_ELEMENTS(v); i++) {
		const struct rmail_mime_addr *a;
		size_t n;
		char *got;

		g_assert_cmpint(core->mime_addresses(m, v[i].in, &a, &n), ==,
				0);
		got = addrs_str(a, n);
		g_assert_cmpstr(got, ==, v[i].want);
		g_free(got);
		for (cut = 0; cut <= strlen(v[i].in); cut++) {
			char *in = g_strndup(v[i].in, cut);

			g_assert_cmpint(core->mime_addresses(m, in, &a, &n), ==,
					0);
			g_free(in);
		}
	}
	for (i = 0; i < G_N_ELEMENTS(junk); i++) {
		const struct rmail_mime_addr *a;
		size_t n;

		g_assert_cmpint(core->mime_addresses(m, junk[i], &a, &n), ==,
				0);
	}
	core->mime_free(&m);
}

static void test_decodings(void)
{
	static const char *const b64[][2] = {
		{"aGVsbG8=", "hello"},
		{"aGVs\r\nbG8", "hello"},
		{"a G\x01Vs*bG8=", "hello"},
		{"aGk=aGk=", "hihi"},
		{"=", ""},
		{"QQ", "A"},
	};
	static const char *const qp[][2] = {
		{"a=3Db", "a=b"},
		{"a=3db", "a=b"},
		{"soft=\r\nbreak", "softbreak"},
		{"soft=  \nbreak", "softbreak"},
		{"bad=zz=", "bad=zz"},
		{"trail  \r\nx", "trail\r\nx"},
		{"keep  x", "keep  x"},
		{"end=4", "end=4"},
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(b64); i++) {
		struct rm_mbuf b = {0};

		rm_mime_base64(&b, b64[i][0], strlen(b64[i][0]));
		g_assert_cmpstr(rm_mbuf_finish(&b, pool, NULL), ==, b64[i][1]);
	}
	for (i = 0; i < G_N_ELEMENTS(qp); i++) {
		struct rm_mbuf b = {0};

		rm_mime_qp(&b, qp[i][0], strlen(qp[i][0]), false);
		g_assert_cmpstr(rm_mbuf_finish(&b, pool, NULL), ==, qp[i][1]);
	}
}

static void test_charsets(void)
{
	static const char *const v[][3] = {
		{NULL, "caf\xe9", "caf\xc3\xa9"},
		{"us-ascii", "caf\xc3\xa9", "caf\xc3\xa9"},
		{"UTF-8",
		 "a\xff"
		 "b",
		 "a\xef\xbf\xbd"
		 "b"},
		{"iso-8859-1", "\x80\xe9", "\xe2\x82\xac\xc3\xa9"},
		{"utf-8//TRANSLIT", "caf\xe9", "caf\xc3\xa9"},
		{"x-bogus", "caf\xc3\xa9", "caf\xc3\xa9"},
		{"shift_jis", "\x82\xa0", "\xe3\x81\x82"},
		{"iso-2022-jp", "\x1b$B$\"\x1b(B", "\xe3\x81\x82"},
		{"utf-16le", "a\0", "a"},
		{"euc-jp", "\xa4", "\xef\xbf\xbd"},
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(v); i++) {
		struct rm_mbuf b = {0};
		size_t n = strlen(v[i][1]);

		if (v[i][0] != NULL && strcmp(v[i][0], "utf-16le") == 0)
			n = 2;
		rm_mime_to_utf8(&b, v[i][0], v[i][1], n);
		g_assert_cmpstr(rm_mbuf_finish(&b, pool, NULL), ==, v[i][2]);
	}
}

static void test_body_cache(void)
{
	const char *msg = "Content-Type: text/plain; charset=iso-8859-1\r\n"
			  "Content-Transfer-Encoding: quoted-printable\r\n"
			  "\r\ncaf=E9\r\n";
	struct rmail_mime *m;
	struct rmail_err err;
	const char *b1, *b2;
	size_t l1, l2;

	g_assert_cmpint(core->mime_parse(msg, strlen(msg), NULL, &m, &err), ==,
			0);
	g_assert_cmpint(core->mime_body(m, 0, 0, &b1, &l1, &err), ==, 0);
	g_assert_cmpmem(b1, l1, "caf\xe9\r\n", 6);
	g_assert_cmpint(core->mime_body(m, 0, 1, &b2, &l2, &err), ==, 0);
	g_assert_cmpstr(b2, ==, "caf\xc3\xa9\r\n");
	g_assert_cmpint(core->mime_body(m, 0, 1, &b1, &l1, &err), ==, 0);
	g_assert_true(b1 == b2);
	g_assert_cmpint(core->mime_body(m, 1, 1, &b1, &l1, &err), ==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_NOENT);
	g_assert_null(core->mime_header(m, 5, "Subject", 0, 0));
	core->mime_free(&m);
	core->mime_free(&m);
	core->mime_free(NULL);
}

int main(int argc, char **argv)
{
	size_t i;
	int rc;

	g_test_init(&argc, &argv, NULL);
	core = rm_core();
	pool = rm_pool_create(NULL);
	for (i = 0; corpus[i] != NULL; i++) {
		char *p = g_strdup_printf("/mime/golden/%s", corpus[i]);
		char *q = g_strdup_printf("/mime/prefixes/%s", corpus[i]);

		g_test_add_data_func(p, corpus[i], test_golden);
		g_test_add_data_func(q, corpus[i], test_prefixes);
		g_free(p);
		g_free(q);
	}
	g_test_add_func("/mime/limit/depth", test_limit_depth);
	g_test_add_func("/mime/limit/parts", test_limit_parts);
	g_test_add_func("/mime/limit/many-addresses",
			test_limit_many_addresses);
	g_test_add_func("/mime/limit/lengths", test_limit_lengths);
	g_test_add_func("/mime/rfc2047", test_rfc2047);
	g_test_add_func("/mime/params", test_params);
	g_test_add_func("/mime/ctype-bad", test_ctype_bad);
	g_test_add_func("/mime/addresses", test_addresses);
	g_test_add_func("/mime/decodings", test_decodings);
	g_test_add_func("/mime/charsets", test_charsets);
	g_test_add_func("/mime/body-cache", test_body_cache);
	g_test_add_func("/mime/threads", test_threads);
	rc = g_test_run();
	rm_pool_destroy(&pool);
	return rc;
}
