/* The name encoder, the address canonicaliser and the file-name grammar. */
#include <glib.h>
#include <string.h>

#include "ss_mbox.h"

static void check_safe(const char *enc)
{
	size_t i;

	g_assert_cmpuint(strlen(enc), >, 0);
	g_assert_cmpuint(strlen(enc), <=, 255);
	g_assert_cmpstr(enc, !=, ".");
	g_assert_cmpstr(enc, !=, "..");
	g_assert_cmpint(enc[0], !=, '.');
	for (i = 0; enc[i] != '\0'; i++) {
		g_assert_cmpint(enc[i], !=, '/');
		g_assert_cmpint((unsigned char)enc[i], >=, 0x20);
		g_assert_cmpint((unsigned char)enc[i], !=, 0x7f);
	}
}

static void round_trip(const char *name, size_t len)
{
	char enc[256], dec[512];
	struct rmail_err err = {0};

	if (ss_name_encode(name, len, enc, sizeof(enc), &err) < 0) {
		g_assert_cmpint(err.code, ==, RMAIL_E_INVAL);
		return;
	}
	check_safe(enc);
	g_assert_cmpint(ss_name_decode(enc, dec, sizeof(dec), &err), ==, 0);
	g_assert_true(memcmp(dec, name, len) == 0);
}

static void test_encode_vectors(void)
{
	static const struct {
		const char *in;
		const char *out;
	} v[] = {
		{"INBOX", "INBOX"},
		{"a/b", "a%2Fb"},
		{"..", "%2E."},
		{".", "%2E"},
		{".hidden", "%2Ehidden"},
		{"Projekte 2024", "Projekte 2024"},
		{"Über", "Über"},
		{"50%", "50%25"},
		{"a\tb", "a%09b"},
		{"\xc2\x85", "%C2%85"},	       /* C1 control NEL */
		{"\xff\xfe", "%FF%FE"},	       /* not UTF-8 */
		{"\xed\xa0\x80", "%ED%A0%80"}, /* surrogate */
		{"\xc0\xaf", "%C0%AF"},	       /* overlong '/' */
		{"../../etc/passwd", "%2E.%2F..%2Fetc%2Fpasswd"},
	};
	char enc[256];
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(v); i++) {
		g_assert_cmpint(ss_name_encode(v[i].in, strlen(v[i].in), enc,
					       sizeof(enc), NULL),
				==, 0);
		g_assert_cmpstr(enc, ==, v[i].out);
		round_trip(v[i].in, strlen(v[i].in));
	}
	/* NUL inside the name */
	g_assert_cmpint(ss_name_encode("a\0b", 3, enc, sizeof(enc), NULL), ==,
			0);
	g_assert_cmpstr(enc, ==, "a%00b");
	round_trip("a\0b", 3);
	/* empty and too long are refused */
	g_assert_cmpint(ss_name_encode("", 0, enc, sizeof(enc), NULL), ==, -1);
	{
		char big[300];

		memset(big, '/', sizeof(big));
		g_assert_cmpint(
			ss_name_encode(big, 100, enc, sizeof(enc), NULL), ==,
			-1);
	}
}

static void test_decode_rejects(void)
{
	static const char *const bad[] = {
		"",	".",
		"..",	".x",
		"a/b",	"%41",
		"%2f",	"%2",
		"%zz",	"a%",
		"\x01", "a\x7f",
		"\xff", "%C3%9C" /* Ü must be raw */,
	};
	char dec[256];
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(bad); i++)
		g_assert_cmpint(ss_name_decode(bad[i], dec, sizeof(dec), NULL),
				==, -1);
}

static void test_encode_random(void)
{
	GRand *r = g_rand_new_with_seed(42);
	int i;

	for (i = 0; i < 20000; i++) {
		char buf[64];
		size_t len = (size_t)g_rand_int_range(r, 1, 64), k;

		for (k = 0; k < len; k++)
			buf[k] = (char)g_rand_int_range(r, 0, 256);
		round_trip(buf, len);
	}
	g_rand_free(r);
}

static void test_addr(void)
{
	char l[330], d[256];
	struct rmail_err err = {0};

	g_assert_cmpint(ss_addr_canon("Alice+News@Example.COM", l, sizeof(l), d,
				      sizeof(d), &err),
			==, 0);
	g_assert_cmpstr(l, ==, "alice");
	g_assert_cmpstr(d, ==, "example.com");
	g_assert_cmpint(ss_addr_canon("bob@Bücher.example", l, sizeof(l), d,
				      sizeof(d), &err),
			==, 0);
	g_assert_cmpstr(d, ==, "xn--bcher-kva.example");
	g_assert_cmpint(
		ss_addr_canon("no-at-sign", l, sizeof(l), d, sizeof(d), &err),
		==, -1);
	g_assert_cmpint(
		ss_addr_canon("a/b@x.org", l, sizeof(l), d, sizeof(d), &err),
		==, -1);
	g_assert_cmpint(
		ss_addr_canon("a@x/../y", l, sizeof(l), d, sizeof(d), &err), ==,
		-1);
	g_assert_cmpint(ss_user_dir("alice@example.com", l, sizeof(l), &err),
			==, 0);
	g_assert_cmpstr(l, ==, "domains/example.com/users/alice");
}

static void test_fname(void)
{
	struct ss_fname f = {42,	 RMAIL_F_SEEN | RMAIL_F_DRAFT,
			     0x1a,	 2048,
			     1700000000, 77},
			g;
	char name[SS_FNAME_MAX];
	size_t len = ss_fname_format(&f, name);

	g_assert_cmpstr(name, ==, "42,2048,1700000000,77,DSk1a.eml");
	g_assert_cmpint(ss_fname_parse(name, len, &g), ==, 0);
	g_assert_cmpuint(g.uid, ==, 42);
	g_assert_cmpuint(g.flags, ==, f.flags);
	g_assert_cmpuint(g.keywords, ==, 0x1a);
	g_assert_cmpuint(g.size, ==, 2048);
	g_assert_cmpint(g.date, ==, 1700000000);
	g_assert_cmpuint(g.modseq, ==, 77);
	/* a format-1 name is not a format-2 one, and back */
	g_assert_cmpint(ss_fname_parse_v1(name, len, &g), ==, -1);
	len = ss_fname_format_v1(&f, name);
	g_assert_cmpstr(name, ==, "42,2048,1700000000,DSk1a.eml");
	g_assert_cmpint(ss_fname_parse(name, len, &g), ==, -1);
	g_assert_cmpint(ss_fname_parse_v1(name, len, &g), ==, 0);
	g_assert_cmpuint(g.modseq, ==, 0);
	g_assert_cmpuint(g.keywords, ==, 0x1a);
	f.flags = 0x1f;
	f.keywords = 0;
	f.size = 0;
	f.modseq = 9223372036854775807ull;
	ss_fname_format(&f, name);
	g_assert_cmpstr(name, ==,
			"42,0,1700000000,9223372036854775807,DFRST.eml");
	{
		static const char *const bad[] = {
			"0,1,1,1,.eml",
			"042,1,1,1,.eml",
			"1,01,1,1,.eml",
			"1,1,1,1,SD.eml",
			"1,1,1,1,SS.eml",
			"1,1,1,1,k0.eml",
			"1,1,1,1,kA.eml",
			"1,1,1,1,k.eml",
			"1,1,1,1.eml",
			"1,1,1,1,S.tmp",
			"4294967296,1,1,1,.eml",
			"1,1,1,1,X.eml",
			"1,1,1,1,k11111111111111111.eml",
			",1,1,1,.eml",
			"1,1,-1,1,.eml",
			"1,1,1,0,.eml",
			"1,1,1,01,S.eml",
			"1,1,1,9223372036854775808,S.eml",
			"1,1,1,S.eml",
		};
		size_t i;

		for (i = 0; i < G_N_ELEMENTS(bad); i++)
			g_assert_cmpint(
				ss_fname_parse(bad[i], strlen(bad[i]), &g), ==,
				-1);
	}
	g_assert_cmpint(ss_shard_parse("s0"), ==, 0);
	g_assert_cmpint(ss_shard_parse("s610"), ==, 610);
	g_assert_cmpint(ss_shard_parse("s01"), ==, -1);
	g_assert_cmpint(ss_shard_parse("tmp"), ==, -1);
	g_assert_cmpint(ss_shard_parse("s"), ==, -1);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/shardstore/names/vectors", test_encode_vectors);
	g_test_add_func("/shardstore/names/decode-rejects",
			test_decode_rejects);
	g_test_add_func("/shardstore/names/random", test_encode_random);
	g_test_add_func("/shardstore/names/addr", test_addr);
	g_test_add_func("/shardstore/names/fname", test_fname);
	return g_test_run();
}
