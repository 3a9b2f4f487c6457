/*
 * The 7-bit conversion (core/mime/to7bit.c): the encoders round-trip
 * with the core's decoders and keep lines within 76 octets; converted
 * messages keep their structure, every leaf decodes to the bytes it
 * had, nothing 8-bit is left outside header blocks; message/rfc822 is
 * walked into, message/global carried whole; the 8-bit classes.
 */
#include <glib.h>
#include <string.h>

#include "mime/to7bit.h"

static gboolean lines_within(const char *s, size_t n, size_t max)
{
	size_t col = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n') {
			col = 0;
			continue;
		}
		if (s[i] != '\r' && ++col > max)
			return FALSE;
	}
	return TRUE;
}

static void random_text(GRand *r, GString *s, size_t n, guint eight_pct)
{
	g_string_truncate(s, 0);
	for (size_t i = 0; i < n; i++) {
		guint k = (guint)g_rand_int_range(r, 0, 100);

		if (k < 3)
			g_string_append(s, "\r\n");
		else if (k < 6)
			g_string_append_c(s, k == 3   ? ' '
					     : k == 4 ? '\t'
						      : '=');
		else if (k < 6 + eight_pct)
			g_string_append_c(
				s, (char)g_rand_int_range(r, 0x80, 0x100));
		else
			g_string_append_c(s,
					  (char)g_rand_int_range(r, 32, 127));
	}
}

static void test_encoders(void)
{
	GRand *r = g_rand_new_with_seed(7);
	GString *s = g_string_new(NULL);

	for (int round = 0; round < 300; round++) {
		struct rm_mbuf e = {0}, d = {0};

		random_text(r, s, (size_t)g_rand_int_range(r, 0, 600),
			    (guint)(round % 40));
		/* blanks at the very end must survive too */
		if (round % 3 == 0)
			g_string_append(s, " \t");
		rm_mime_qp_encode(&e, s->str, s->len);
		g_assert_false(rm_mime_has_8bit(e.p ? e.p : "", e.len));
		g_assert_true(lines_within(e.p ? e.p : "", e.len, 76));
		rm_mime_qp(&d, e.p ? e.p : "", e.len, false);
		g_assert_cmpmem(d.p, d.len, s->str, s->len);
		rm_mbuf_free(&e);
		rm_mbuf_free(&d);

		/* binary: every octet value */
		g_string_truncate(s, 0);
		for (int i = g_rand_int_range(r, 0, 400); i > 0; i--)
			g_string_append_c(s, (char)g_rand_int_range(r, 0, 256));
		rm_mime_b64_encode(&e, s->str, s->len);
		g_assert_true(lines_within(e.p ? e.p : "", e.len, 76));
		rm_mime_base64(&d, e.p ? e.p : "", e.len);
		g_assert_cmpmem(d.p, d.len, s->str, s->len);
		rm_mime_qp_encode(&e, s->str, s->len);
		rm_mbuf_free(&e);
		rm_mbuf_free(&d);
	}
	/* exact forms */
	{
		struct rm_mbuf e = {0};
		const char in[] = "caf\xc3\xa9 = ok \r\nend ";

		rm_mime_qp_encode(&e, in, strlen(in));
		g_assert_cmpmem(e.p, e.len, "caf=C3=A9 =3D ok=20\r\nend=20",
				strlen("caf=C3=A9 =3D ok=20\r\nend=20"));
		rm_mbuf_free(&e);
	}
	g_string_free(s, TRUE);
	g_rand_free(r);
}

/* decoded leaves of a message, in order (type/subtype + body) */
static GPtrArray *leaves(const char *msg, size_t len)
{
	GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
	struct rmail_mime *m;
	struct rmail_err err;

	g_assert_cmpint(rm_mime_parse(msg, len, NULL, &m, &err), ==, 0);
	for (size_t i = 0; i < rm_mime_part_count(m); i++) {
		const struct rmail_mime_part *p = rm_mime_part(m, i);
		const char *b;
		size_t bl;

		if (p->flags & (RMAIL_MIME_MULTIPART | RMAIL_MIME_MESSAGE))
			continue;
		g_assert_cmpint(rm_mime_body(m, i, 0, &b, &bl, &err), ==, 0);
		g_ptr_array_add(a,
				g_strdup_printf("%s/%s:", p->type, p->subtype));
		g_ptr_array_add(a, g_strndup(b, bl));
	}
	rm_mime_free(&m);
	return a;
}

/* nothing 8-bit outside the header blocks of the converted message */
static void assert_7bit_bodies(const char *msg, size_t len)
{
	struct rmail_mime *m;
	struct rmail_err err;
	char *copy = g_memdup2(msg, len);

	g_assert_cmpint(rm_mime_parse(msg, len, NULL, &m, &err), ==, 0);
	for (size_t i = 0; i < rm_mime_part_count(m); i++) {
		const struct rmail_mime_part *p = rm_mime_part(m, i);

		memset(copy + p->hdr_off, 'h', p->hdr_len);
	}
	g_assert_false(rm_mime_has_8bit(copy, len));
	rm_mime_free(&m);
	g_free(copy);
}

static char *convert(const char *in, size_t *n_r)
{
	char *out = NULL;

	g_assert_cmpuint(rm_mime_to7bit(in, strlen(in), &out, n_r), >, 0);
	g_assert_nonnull(out);
	assert_7bit_bodies(out, *n_r);
	/* converted once is converted */
	{
		char *again = NULL;
		size_t n2;

		g_assert_cmpuint(rm_mime_to7bit(out, *n_r, &again, &n2), ==, 0);
		g_assert_null(again);
	}
	return out;
}

static void assert_same_leaves(const char *a, size_t al, const char *b,
			       size_t bl)
{
	GPtrArray *x = leaves(a, al), *y = leaves(b, bl);

	g_assert_cmpuint(x->len, ==, y->len);
	for (guint i = 0; i < x->len; i++)
		g_assert_cmpstr(g_ptr_array_index(x, i), ==,
				g_ptr_array_index(y, i));
	g_ptr_array_unref(x);
	g_ptr_array_unref(y);
}

static const char mixed[] =
	"From: a@example.test\r\n"
	"Subject: caf\xc3\xa9\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	"Content-Transfer-Encoding: 8bit\r\n"
	"\r\n"
	"preamble \xe9t\xe9\r\n"
	"--b1\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: 8bit\r\n"
	"\r\n"
	"Gr\xc3\xbc\xc3\x9f Gott\r\n"
	"a long line that goes on and on and on and on and on and on and "
	"on and on \xc3\xa9 and on and on\r\n"
	"\r\n"
	"--b1\r\n"
	"Content-Type: application/octet-stream\r\n"
	"Content-Transfer-Encoding: binary\r\n"
	"\r\n"
	"\x01\x02\xff\xfe\x80 binary\r\n"
	"--b1\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"seven bit\r\n"
	"--b1\r\n"
	"Content-Type: message/rfc822\r\n"
	"Content-Transfer-Encoding: 8bit\r\n"
	"\r\n"
	"Subject: inner\r\n"
	"Content-Type: text/plain; charset=iso-8859-1\r\n"
	"\r\n"
	"\xe9t\xe9 en France\r\n"
	"--b1--\r\n"
	"epilogue \xff\r\n";

static void test_structure(void)
{
	size_t n;
	char *out = convert(mixed, &n);

	/* the top header kept as it was, but for the label */
	g_assert_true(g_str_has_prefix(
		out, "From: a@example.test\r\n"
		     "Subject: caf\xc3\xa9\r\n"
		     "MIME-Version: 1.0\r\n"
		     "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
		     "Content-Transfer-Encoding: 7bit\r\n\r\n"
		     "preamble ?t?\r\n--b1\r\n"));
	g_assert_nonnull(strstr(out, "Content-Type: text/plain; "
				     "charset=utf-8\r\n"
				     "Content-Transfer-Encoding: "
				     "quoted-printable\r\n\r\n"
				     "Gr=C3=BC=C3=9F Gott\r\n"));
	g_assert_nonnull(strstr(out, "Content-Type: application/octet-stream"
				     "\r\nContent-Transfer-Encoding: base64"
				     "\r\n\r\nAQL//oAgYmluYXJ5\r\n--b1\r\n"));
	g_assert_nonnull(strstr(out, "Content-Type: text/plain\r\n\r\n"
				     "seven bit\r\n--b1\r\n"));
	/* message/rfc822 walked into: its label says 7bit now */
	g_assert_nonnull(strstr(out, "Content-Type: message/rfc822\r\n"
				     "Content-Transfer-Encoding: 7bit\r\n\r\n"
				     "Subject: inner\r\n"));
	g_assert_nonnull(strstr(out,
				"charset=iso-8859-1\r\n"
				"MIME-Version: 1.0\r\n"
				"Content-Transfer-Encoding: "
				"quoted-printable\r\n\r\n=E9t=E9 en France\r\n"
				"--b1--\r\nepilogue ?\r\n"));
	g_assert_true(lines_within(out, n, 998));
	assert_same_leaves(mixed, strlen(mixed), out, n);
	g_free(out);
}

static void test_top_level(void)
{
	/* no MIME header at all: MIME-Version and a charset added */
	const char *raw = "Subject: x\r\n\r\nna\xc3\xafve\r\n";
	const char *latin = "Subject: x\n\nna\xefve";
	const char *glob = "MIME-Version: 1.0\r\n"
			   "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
			   "--b\r\n"
			   "Content-Type: message/global\r\n\r\n"
			   "Subject: \xc3\xa9\r\n\r\nbody \xc3\xa9\r\n"
			   "--b--\r\n";
	/* a multipart too deep to split is carried as an attachment */
	const char *nob = "MIME-Version: 1.0\r\n"
			  "Content-Type: multipart/mixed\r\n"
			  "Content-Transfer-Encoding: 8bit\r\n\r\n"
			  "\xe9\r\n";
	size_t n;
	char *out;

	out = convert(raw, &n);
	g_assert_cmpstr(out, ==,
			"Subject: x\r\n"
			"MIME-Version: 1.0\r\n"
			"Content-Type: text/plain; charset=utf-8\r\n"
			"Content-Transfer-Encoding: quoted-printable\r\n"
			"\r\n"
			"na=C3=AFve\r\n");
	g_free(out);
	out = convert(latin, &n);
	g_assert_cmpstr(out, ==,
			"Subject: x\n"
			"MIME-Version: 1.0\r\n"
			"Content-Type: text/plain; charset=unknown-8bit\r\n"
			"Content-Transfer-Encoding: quoted-printable\r\n"
			"\n"
			"na=EFve\r\n");
	g_free(out);
	out = convert(glob, &n);
	g_assert_nonnull(strstr(out, "Content-Type: message/global\r\n"
				     "Content-Transfer-Encoding: base64\r\n"
				     "\r\n"));
	{
		GPtrArray *l = leaves(out, n);

		/* base64 carries the whole message, UTF-8 header included */
		g_assert_cmpuint(l->len, ==, 2);
		g_assert_cmpstr(g_ptr_array_index(l, 0), ==, "message/global:");
		g_assert_cmpstr(g_ptr_array_index(l, 1), ==,
				"Subject: \xc3\xa9\r\n\r\nbody \xc3\xa9");
		g_ptr_array_unref(l);
	}
	g_free(out);
	out = convert(nob, &n);
	g_assert_nonnull(strstr(out, "Content-Type: application/octet-stream"
				     "\r\nContent-Transfer-Encoding: base64"
				     "\r\n\r\n6Q0K\r\n"));
	g_free(out);
	/* nothing 8-bit, or only in headers: nothing to do */
	g_assert_cmpuint(rm_mime_to7bit("a: b\r\n\r\nc\r\n", 11, &out, &n), ==,
			 0);
	g_assert_cmpuint(
		rm_mime_to7bit("Subject: \xc3\xa9\r\n\r\nc\r\n", 17, &out, &n),
		==, 0);
	g_assert_null(out);
}

static void test_classes(void)
{
	g_assert_cmpuint(rm_mime_8bit_class("a: b\r\n\r\nc", 10), ==, 0);
	g_assert_cmpuint(rm_mime_8bit_class("a: b\r\n\r\n\xc3\xa9", 10), ==,
			 RM_8BIT_ANY);
	g_assert_cmpuint(rm_mime_8bit_class("a: \xc3\xa9\r\n\r\nc", 11), ==,
			 RM_8BIT_ANY | RM_8BIT_HDR | RM_8BIT_HDR_UTF8);
	g_assert_cmpuint(rm_mime_8bit_class("a: \xe9\r\n\r\nc", 10), ==,
			 RM_8BIT_ANY | RM_8BIT_HDR);
	/* a part's header counts, message/global's content does not */
	g_assert_cmpuint(rm_mime_8bit_class(mixed, strlen(mixed)), ==,
			 RM_8BIT_ANY | RM_8BIT_HDR | RM_8BIT_HDR_UTF8);
	{
		const char *g = "Content-Type: message/global\r\n\r\n"
				"Subject: \xc3\xa9\r\n\r\nx\r\n";

		g_assert_cmpuint(rm_mime_8bit_class(g, strlen(g)), ==,
				 RM_8BIT_ANY);
	}
}

/* every corpus message converts to one with the same leaves */
static void test_corpus(void)
{
	char *d = g_build_filename(g_getenv("RMAIL_SOURCE_DIR"), "tests",
				   "unit", "mime", "corpus", NULL);
	GDir *dir = g_dir_open(d, 0, NULL);
	const char *name;
	guint seen = 0;

	g_assert_nonnull(dir);
	while ((name = g_dir_read_name(dir)) != NULL) {
		char *path, *msg, *out = NULL;
		gsize len;
		size_t n;

		if (!g_str_has_suffix(name, ".eml"))
			continue;
		path = g_build_filename(d, name, NULL);
		g_assert_true(g_file_get_contents(path, &msg, &len, NULL));
		if (rm_mime_to7bit(msg, len, &out, &n) > 0) {
			assert_7bit_bodies(out, n);
			assert_same_leaves(msg, len, out, n);
			seen++;
		}
		g_free(out);
		g_free(msg);
		g_free(path);
	}
	g_assert_cmpuint(seen, >, 0);
	g_dir_close(dir);
	g_free(d);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/mime7bit/encoders", test_encoders);
	g_test_add_func("/mime7bit/structure", test_structure);
	g_test_add_func("/mime7bit/top_level", test_top_level);
	g_test_add_func("/mime7bit/classes", test_classes);
	g_test_add_func("/mime7bit/corpus", test_corpus);
	return g_test_run();
}
