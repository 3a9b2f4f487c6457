/* rmail_utf8_valid and rmail_utf8_seq (<rmail/mime.h>), the one strict
 * UTF-8 validator of the core, mod_smtp and mod_exchange: every class
 * of ill-formed input next to the well-formed sequences at the edges
 * of each range. */
#include <string.h>

#include <glib.h>

#include <rmail/mime.h>

struct utf8_case {
	const char *why;
	const char *s;
	size_t n;     /* bytes of s to check (may stop inside a sequence) */
	int valid;    /* rmail_utf8_valid(s, n) */
	size_t first; /* rmail_utf8_seq at s */
};

#define C(why, lit, valid, first)                                              \
	{                                                                      \
		why, lit, sizeof(lit) - 1, valid, first                        \
	}

static const struct utf8_case cases[] = {
	/* well-formed, at the edges of each length */
	C("empty", "", 1, 0),
	C("ascii", "abc", 1, 1),
	C("NUL inside the length", "a\0b", 1, 1),
	C("U+007F", "\x7f", 1, 1),
	C("U+0080", "\xc2\x80", 1, 2),
	C("U+07FF", "\xdf\xbf", 1, 2),
	C("U+0800", "\xe0\xa0\x80", 1, 3),
	C("U+D7FF", "\xed\x9f\xbf", 1, 3),
	C("U+E000", "\xee\x80\x80", 1, 3),
	C("U+FFFF", "\xef\xbf\xbf", 1, 3),
	C("U+10000", "\xf0\x90\x80\x80", 1, 4),
	C("U+10FFFF", "\xf4\x8f\xbf\xbf", 1, 4),
	C("mixed", "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z", 1, 1),
	/* overlong forms */
	C("overlong NUL", "\xc0\x80", 0, 0),
	C("overlong 2 bytes", "\xc1\xbf", 0, 0),
	C("overlong 3 bytes", "\xe0\x80\xaf", 0, 0),
	C("overlong 3 bytes, top", "\xe0\x9f\xbf", 0, 0),
	C("overlong 4 bytes", "\xf0\x80\x80\x80", 0, 0),
	C("overlong 4 bytes, top", "\xf0\x8f\xbf\xbf", 0, 0),
	/* surrogates */
	C("U+D800", "\xed\xa0\x80", 0, 0),
	C("U+DFFF", "\xed\xbf\xbf", 0, 0),
	C("surrogate pair", "\xed\xa0\xbd\xed\xb8\x80", 0, 0),
	/* past U+10FFFF */
	C("U+110000", "\xf4\x90\x80\x80", 0, 0),
	C("F5 lead", "\xf5\x80\x80\x80", 0, 0),
	C("FE", "\xfe", 0, 0),
	C("FF", "\xff", 0, 0),
	/* continuation bytes out of place */
	C("lone continuation", "\x80", 0, 0),
	C("lone continuation, top", "\xbf", 0, 0),
	C("after ascii", "a\x80", 0, 1),
	C("ascii in 2nd byte", "\xc3\x28", 0, 0),
	C("ascii in 2nd of 3", "\xe2\x28\xa1", 0, 0),
	C("ascii in 3rd of 3", "\xe2\x82\x28", 0, 0),
	C("ascii in 4th of 4", "\xf0\x9f\x98\x28", 0, 0),
	C("lead in place of continuation", "\xe2\xc3\xa9", 0, 0),
	/* truncated */
	C("truncated 2", "\xc3", 0, 0),
	C("truncated 3", "\xe2\x82", 0, 0),
	C("truncated 4", "\xf0\x9f\x98", 0, 0),
	C("truncated at the end", "ab\xe2\x82", 0, 1),
	/* n stops inside a sequence the buffer holds whole */
	{"cut by n", "\xc3\xa9", 1, 0, 0},
	{"cut by n, 4 bytes", "\xf0\x9f\x98\x80", 3, 0, 0},
};

static void test_table(void)
{
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		const struct utf8_case *c = &cases[i];

		g_test_message("%s", c->why);
		g_assert_cmpint(rmail_utf8_valid(c->s, c->n), ==, c->valid);
		g_assert_cmpuint(
			rmail_utf8_seq((const unsigned char *)c->s, c->n), ==,
			c->first);
	}
}

/* Every 1- and 2-byte input and every lead with every second byte,
 * against the code point each would decode to: the validator agrees
 * with the definition, not just with the table above. */
static int by_definition(const unsigned char *s, size_t n)
{
	size_t len = s[0] < 0x80   ? 1
		     : s[0] < 0xc0 ? 0
		     : s[0] < 0xe0 ? 2
		     : s[0] < 0xf0 ? 3
		     : s[0] < 0xf8 ? 4
				   : 0;
	uint32_t cp, min[] = {0, 0, 0x80, 0x800, 0x10000};

	if (len == 0 || n != len)
		return 0;
	cp = len == 1 ? s[0] : s[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	return cp >= min[len] && cp <= 0x10ffff &&
	       !(cp >= 0xd800 && cp <= 0xdfff);
}

static void test_exhaustive(void)
{
	unsigned char b[4];

	for (unsigned a = 0; a < 256; a++) {
		b[0] = (unsigned char)a;
		g_assert_cmpint(rmail_utf8_valid((char *)b, 1), ==,
				by_definition(b, 1));
		for (unsigned c = 0; c < 256; c++) {
			b[1] = (unsigned char)c;
			/* one 2-byte character or two 1-byte ones */
			g_assert_cmpint(rmail_utf8_valid((char *)b, 2), ==,
					by_definition(b, 2) ||
						(by_definition(b, 1) &&
						 by_definition(b + 1, 1)));
			/* 3 and 4 bytes: the lead and second byte decide
			 * everything but the continuation check */
			b[2] = 0x80;
			b[3] = 0xbf;
			if (a >= 0xe0 && a < 0xf0)
				g_assert_cmpint(rmail_utf8_valid((char *)b, 3),
						==, by_definition(b, 3));
			if (a >= 0xf0)
				g_assert_cmpint(rmail_utf8_valid((char *)b, 4),
						==, by_definition(b, 4));
		}
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/utf8/table", test_table);
	g_test_add_func("/utf8/exhaustive", test_exhaustive);
	return g_test_run();
}
