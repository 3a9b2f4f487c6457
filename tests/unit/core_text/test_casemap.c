/* i;unicode-casemap (RFC 5051) through the core's rm_casemap: the
 * canonical forms, invalid bytes, and the snprintf-like contract the
 * modules rely on when their buffer is short. */
#include <string.h>

#include <glib.h>

#include "text/casemap.h"

static char *fold(const char *s)
{
	size_t need = rm_casemap(s, strlen(s), NULL, 0);
	char *out = g_malloc(need + 1);

	g_assert_cmpuint(rm_casemap(s, strlen(s), out, need), ==, need);
	out[need] = '\0';
	return out;
}

static void same(const char *a, const char *b)
{
	char *fa = fold(a), *fb = fold(b);

	g_assert_cmpstr(fa, ==, fb);
	g_free(fa);
	g_free(fb);
}

static void test_forms(void)
{
	char *f = fold("Hello, World 42");

	g_assert_cmpstr(f, ==, "HELLO, WORLD 42");
	g_free(f);
	same("Straße", "STRASSE");
	same("é", "e\xcc\x81");	     /* precomposed = decomposed */
	same("ÉCOLE", "école");	     /* titlecase of both */
	same("\xef\xac\x83", "FFI"); /* U+FB03 ligature */
	/* Hangul syllable U+D55C decomposes to three jamo */
	f = fold("\xed\x95\x9c");
	g_assert_cmpstr(f, ==, "\xe1\x84\x92\xe1\x85\xa1\xe1\x86\xab");
	g_free(f);
	/* a different letter stays different */
	f = fold("a");
	g_assert_cmpstr(f, !=, "B");
	g_free(f);
}

static void test_invalid(void)
{
	char *f;

	/* a stray continuation, a truncated sequence, an overlong NUL and
	 * a surrogate: each byte run becomes U+FFFD, never joins text */
	f = fold("a\x80"
		 "b");
	g_assert_cmpstr(f, ==,
			"A\xef\xbf\xbd"
			"B");
	g_free(f);
	f = fold("\xc3");
	g_assert_cmpstr(f, ==, "\xef\xbf\xbd");
	g_free(f);
	f = fold("\xc0\x80");
	g_assert_cmpstr(f, ==, "\xef\xbf\xbd\xef\xbf\xbd");
	g_free(f);
	f = fold("\xed\xa0\x80");
	g_assert_cmpuint(strlen(f), ==, 9);
	g_free(f);
}

static void test_short_buffer(void)
{
	/* U+FDFA grows from 3 bytes to 33 */
	const char *s = "x\xef\xb7\xbay";
	char full[64], part[8];
	size_t need = rm_casemap(s, strlen(s), full, sizeof(full));
	size_t i;

	g_assert_cmpuint(need, >, 33);
	g_assert_cmpuint(need, <, sizeof(full));
	memset(part, '#', sizeof(part));
	g_assert_cmpuint(rm_casemap(s, strlen(s), part, 5), ==, need);
	/* the prefix that fits is written, nothing past cap */
	g_assert_cmpmem(part, 5, full, 5);
	for (i = 5; i < sizeof(part); i++)
		g_assert_cmpint(part[i], ==, '#');
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/casemap/forms", test_forms);
	g_test_add_func("/casemap/invalid", test_invalid);
	g_test_add_func("/casemap/short_buffer", test_short_buffer);
	return g_test_run();
}
