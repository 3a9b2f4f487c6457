/* Modified UTF-7 codec: RFC 3501 examples, round trips, strictness. */
#include <glib.h>
#include <string.h>

#include "mutf7.h"

static const struct {
	const char *utf8, *mutf7;
} pairs[] = {
	{"INBOX", "INBOX"},
	{"", ""},
	{"a&b", "a&-b"},
	{"&", "&-"},
	{"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8"
	 "\xaa\x9e",
	 "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
	{"Entw\xc3\xbc"
	 "rfe",
	 "Entw&APw-rfe"},
	{"\xc3\xa9t\xc3\xa9", "&AOk-t&AOk-"},
	{"\xc3\xa9\xc3\xa9", "&AOkA6Q-"},
	{"\xf0\x9f\x93\xa7 mail", "&2D3c5w- mail"},
	{"Gesendete Objekte", "Gesendete Objekte"},
	{"tab\xc2\xa0x", "tab&AKA-x"},
};

static void test_pairs(void)
{
	char buf[256];
	size_t n, i;
	const char *err = NULL;

	for (i = 0; i < G_N_ELEMENTS(pairs); i++) {
		g_assert_cmpint(mutf7_encode(pairs[i].utf8,
					     strlen(pairs[i].utf8), buf,
					     sizeof(buf), &n, &err),
				==, 0);
		g_assert_cmpstr(buf, ==, pairs[i].mutf7);
		g_assert_cmpuint(n, ==, strlen(pairs[i].mutf7));
		g_assert_cmpint(mutf7_decode(pairs[i].mutf7,
					     strlen(pairs[i].mutf7), buf,
					     sizeof(buf), &n, &err),
				==, 0);
		g_assert_cmpstr(buf, ==, pairs[i].utf8);
	}
}

static void test_decode_invalid(void)
{
	static const struct {
		const char *in, *err;
	} bad[] = {
		{"&", "Unterminated base64 section"},
		{"&AOk", "Unterminated base64 section"},
		{"&A*k-", "Invalid base64 character"},
		{"&AO/-", "Invalid base64 character"},
		{"&AOl-", "Non-canonical base64 padding"},
		{"&AOkA-", "Non-canonical base64 padding"},
		{"&AGE-", "Non-canonical encoding: printable ASCII in base64"},
		{"&AOk-&AOk-", "Non-canonical encoding: adjacent base64 "
			       "sections"},
		{"&2D0-", "Unpaired surrogate"},
		{"&3ec-", "Unpaired surrogate"},
		{"&2D0AQQ-", "Unpaired surrogate"},
		{"caf\xc3\xa9", "8-bit character in mailbox name"},
		{"a\tb", "Control character in mailbox name"},
		{"&AAA-", "Non-canonical encoding: printable ASCII in base64"},
	};
	char buf[64];
	size_t n, i;
	const char *err;

	for (i = 0; i < G_N_ELEMENTS(bad); i++) {
		err = NULL;
		g_assert_cmpint(mutf7_decode(bad[i].in, strlen(bad[i].in), buf,
					     sizeof(buf), &n, &err),
				==, -1);
		g_assert_cmpstr(err, ==, bad[i].err);
	}
	/* "&-" right after a run is a plain '&', not a second run */
	g_assert_cmpint(mutf7_decode("&AOk-&-", 7, buf, sizeof(buf), &n, &err),
			==, 0);
	g_assert_cmpstr(buf, ==, "\xc3\xa9&");
}

static void test_encode_invalid(void)
{
	static const char *const bad[] = {
		"\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
		"\xc3",	    "\xff",	    "a\x80",
	};
	char buf[64];
	size_t n, i;
	const char *err;

	for (i = 0; i < G_N_ELEMENTS(bad); i++) {
		err = NULL;
		g_assert_cmpint(mutf7_encode(bad[i], strlen(bad[i]), buf,
					     sizeof(buf), &n, &err),
				==, -1);
		g_assert_cmpstr(err, ==, "Invalid UTF-8");
	}
	g_assert_cmpint(mutf7_encode("a\0b", 3, buf, sizeof(buf), &n, &err), ==,
			-1);
}

static void test_bounded(void)
{
	char buf[8];
	size_t n, size;
	const char *err;

	/* every output size up to the exact fit fails cleanly */
	for (size = 0; size <= 8; size++) {
		int rc = mutf7_encode("\xc3\xa9\xc3\xa9", 4, buf, size, &n,
				      &err);

		/* "&AOkA6Q-" is 8 bytes plus its NUL */
		g_assert_cmpint(rc, ==, -1);
		g_assert_cmpstr(err, ==, "Output too long");
	}
	for (size = 0; size <= 4; size++) {
		g_assert_cmpint(
			mutf7_decode("&AOkA6Q-", 8, buf, size, &n, &err), ==,
			-1);
		g_assert_cmpstr(err, ==, "Output too long");
	}
	g_assert_cmpint(mutf7_decode("&AOkA6Q-", 8, buf, 5, &n, &err), ==, 0);
	g_assert_cmpuint(n, ==, 4);
}

static void test_round_trip_all_bmp(void)
{
	char u[8], m[32], back[8];
	size_t ulen, mlen, blen;
	const char *err;
	gunichar cp;

	/* every scalar value of the BMP and a sample above it */
	for (cp = 1; cp < 0x110000; cp += cp < 0x10000 ? 1 : 97) {
		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		ulen = (size_t)g_unichar_to_utf8(cp, u);
		g_assert_cmpint(
			mutf7_encode(u, ulen, m, sizeof(m), &mlen, &err), ==,
			0);
		g_assert_cmpint(
			mutf7_decode(m, mlen, back, sizeof(back), &blen, &err),
			==, 0);
		g_assert_cmpmem(back, blen, u, ulen);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/mutf7/pairs", test_pairs);
	g_test_add_func("/imap/mutf7/decode-invalid", test_decode_invalid);
	g_test_add_func("/imap/mutf7/encode-invalid", test_encode_invalid);
	g_test_add_func("/imap/mutf7/bounded", test_bounded);
	g_test_add_func("/imap/mutf7/round-trip", test_round_trip_all_bmp);
	return g_test_run();
}
