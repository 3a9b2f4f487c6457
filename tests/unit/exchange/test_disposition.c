/* ex_content_disposition: hostile attachment file names. */
#include <glib.h>
#include <string.h>

#include "ex.h"

static const struct {
	const char *in;
	const char *want;
} vec[] = {
	{"report.pdf", "attachment; filename=\"report.pdf\""},
	{NULL, "attachment; filename=\"attachment\""},
	{"", "attachment; filename=\"attachment\""},
	{"../..\\evil\".pdf", "attachment; filename=\"___.._evil_.pdf\""},
	{"/etc/passwd", "attachment; filename=\"_etc_passwd\""},
	{"a\r\nX-Evil: 1", "attachment; filename=\"a__X-Evil_ 1\""},
	{"..", "attachment; filename=\"attachment\""},
	{".hidden", "attachment; filename=\"_hidden\""},
	{"C:\\x.exe", "attachment; filename=\"C__x.exe\""},
	{"\xc3\xa9t\xc3\xa9.txt", "attachment; filename=\"_t_.txt\"; "
				  "filename*=UTF-8''%C3%A9t%C3%A9.txt"},
	{"a b;c.txt\xe2\x82\xac", "attachment; filename=\"a b;c.txt_\"; "
				  "filename*=UTF-8''a%20b%3Bc.txt%E2%82%AC"},
	{"bad\xff\xfe.txt", "attachment; filename=\"bad__.txt\""},
	{"\xe2\x82", "attachment; filename=\"attachment\""},
	/* ill-formed UTF-8 the lead byte alone does not betray (overlong,
	 * surrogate, past U+10FFFF) stays out of filename* too */
	{"a\xe0\x80\xaf.txt", "attachment; filename=\"a___.txt\""},
	{"a\xed\xa0\x80.txt", "attachment; filename=\"a___.txt\""},
	{"a\xf4\x90\x80\x80.txt", "attachment; filename=\"a____.txt\""},
};

static void test_vectors(void)
{
	char out[EX_DISPOSITION_MAX], *want;
	size_t i, n;

	for (i = 0; i < G_N_ELEMENTS(vec); i++) {
		n = ex_content_disposition(vec[i].in, out, sizeof(out));
		want = g_strdup_printf("Content-Disposition: %s\r\n",
				       vec[i].want);
		g_assert_cmpstr(out, ==, want);
		g_assert_cmpuint(n, ==, strlen(want));
		g_free(want);
	}
}

static void test_long_and_small(void)
{
	char out[EX_DISPOSITION_MAX], tiny[16];
	GString *s = g_string_new(NULL);
	size_t n;

	/* 1,000 euro signs: bounded, still one well-formed line */
	while (s->len < 3000)
		g_string_append(s, "\xe2\x82\xac");
	n = ex_content_disposition(s->str, out, sizeof(out));
	g_assert_cmpuint(n, ==, strlen(out));
	g_assert_true(g_str_has_suffix(out, "\r\n"));
	g_assert_nonnull(strstr(out, "filename*=UTF-8''%E2%82%AC"));
	g_assert_cmpuint(strlen(out), <, sizeof(out));
	/* too small a buffer: a valid empty string, never an overflow */
	n = ex_content_disposition("x.txt", tiny, sizeof(tiny));
	g_assert_cmpuint(n, ==, strlen(tiny));
	g_string_free(s, TRUE);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/exchange/disposition/vectors", test_vectors);
	g_test_add_func("/exchange/disposition/long_and_small",
			test_long_and_small);
	return g_test_run();
}
