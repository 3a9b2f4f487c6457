/* Sequence sets: syntax, overflow, compaction and "*" resolution. */
#include <glib.h>
#include <string.h>

#include "imap_seqset.h"

static char mem[65536];

static char *describe(const struct imap_seqset *set)
{
	GString *s = g_string_new(NULL);
	unsigned int i;

	if (set->saved)
		g_string_append_c(s, '$');
	for (i = 0; i < set->n; i++) {
		if (i > 0)
			g_string_append_c(s, ',');
		if (set->r[i].lo == IMAP_SEQ_STAR)
			g_string_append_c(s, '*');
		else
			g_string_append_printf(s, "%u", set->r[i].lo);
		if (set->r[i].hi == set->r[i].lo)
			continue;
		if (set->r[i].hi == IMAP_SEQ_STAR)
			g_string_append(s, ":*");
		else
			g_string_append_printf(s, ":%u", set->r[i].hi);
	}
	return g_string_free(s, FALSE);
}

static void check(const char *in, const char *want)
{
	struct imap_arena a;
	struct imap_seqset set;
	const char *err = NULL;
	char *got;

	imap_arena_init(&a, mem, sizeof(mem));
	g_assert_cmpint(imap_seqset_parse(in, strlen(in), &a, &set, &err), ==,
			0);
	got = describe(&set);
	g_assert_cmpstr(got, ==, want);
	g_free(got);
}

static void check_bad(const char *in, const char *why)
{
	struct imap_arena a;
	struct imap_seqset set;
	const char *err = NULL;

	imap_arena_init(&a, mem, sizeof(mem));
	g_assert_cmpint(imap_seqset_parse(in, strlen(in), &a, &set, &err), ==,
			-1);
	g_assert_cmpstr(err, ==, why);
}

static void test_parse(void)
{
	check("1", "1");
	check("$", "$");
	check("*", "*");
	check("1:*", "1:*");
	check("*:1", "1:*");
	check("2,4:7,9", "2,4:7,9");
	check("9,7:4,2", "2,4:7,9");
	check("1,2,3,4,5", "1:5");
	check("1:3,2:8,10:12,9", "1:12");
	check("4294967294", "4294967294");
	/* the whole nz-number range: "*" is its own token (RFC 3501 9) */
	check("4294967295", "4294967295");
	check("1:4294967295", "1:4294967295");
	check("4294967295:*", "4294967295:*");
	check("*:4294967295", "4294967295:*");
	check("4294967295,*", "4294967295:*");
	check("5:*,7", "5:*");
}

static void test_invalid(void)
{
	check_bad("", "Empty sequence set");
	check_bad("0", "Sequence number 0 is invalid");
	check_bad("1:0", "Sequence number 0 is invalid");
	check_bad("01", "Invalid sequence set");
	check_bad("1,", "Invalid sequence set");
	check_bad(",1", "Invalid sequence set");
	check_bad("1::2", "Invalid sequence set");
	check_bad("1:2:3", "Invalid sequence set");
	check_bad("a", "Invalid sequence set");
	check_bad("1 2", "Invalid sequence set");
	check_bad("4294967296", "Number too large in sequence set");
	check_bad("1:4294967296", "Number too large in sequence set");
	check_bad("99999999999999999999999",
		  "Number too large in sequence set");
	/* RFC 5182: "$" is a whole sequence set, never part of one */
	check_bad("1,$", "$ must be the whole sequence set");
	check_bad("$,1", "$ must be the whole sequence set");
	check_bad("$:3", "$ must be the whole sequence set");
	check_bad("1:$", "$ must be the whole sequence set");
	check_bad("$$", "$ must be the whole sequence set");
}

static void test_resolve(void)
{
	struct imap_arena a;
	struct imap_seqset set, res;
	const char *err;
	char *got;

	imap_arena_init(&a, mem, sizeof(mem));
	g_assert_cmpint(imap_seqset_parse("5:*,1,20", 8, &a, &set, &err), ==,
			0);
	g_assert_cmpuint(set.max_num, ==, 20);
	g_assert_true(set.has_star);
	/* RFC 3501: 5:* with 3 messages means 3:5, clipped to 3 */
	g_assert_cmpint(imap_seqset_resolve(&set, 3, &a, &res), ==, 0);
	got = describe(&res);
	g_assert_cmpstr(got, ==, "1,3");
	g_free(got);
	g_assert_cmpint(imap_seqset_resolve(&set, 100, &a, &res), ==, 0);
	got = describe(&res);
	g_assert_cmpstr(got, ==, "1,5:100");
	g_free(got);
	g_assert_true(imap_seqset_contains(&res, 1));
	g_assert_false(imap_seqset_contains(&res, 2));
	g_assert_true(imap_seqset_contains(&res, 77));
	g_assert_false(imap_seqset_contains(&res, 101));
	g_assert_cmpuint(imap_seqset_count(&res), ==, 97);
	g_assert_cmpint(imap_seqset_resolve(&set, 0, &a, &res), ==, 0);
	g_assert_cmpuint(res.n, ==, 0);
}

/* 2^32-1 is a number, not "*": out of range when the mailbox is
 * smaller, where "*" is its largest member */
static void test_max_number(void)
{
	struct imap_arena a;
	struct imap_seqset set, res;
	const char *err;
	char *got;

	imap_arena_init(&a, mem, sizeof(mem));
	g_assert_cmpint(imap_seqset_parse("4294967295", 10, &a, &set, &err), ==,
			0);
	g_assert_false(set.has_star);
	g_assert_cmpuint(set.max_num, ==, 4294967295u);
	g_assert_cmpint(imap_seqset_resolve(&set, 10, &a, &res), ==, 0);
	g_assert_cmpuint(res.n, ==, 0);
	g_assert_cmpint(imap_seqset_parse("*", 1, &a, &set, &err), ==, 0);
	g_assert_true(set.has_star);
	g_assert_cmpuint(set.max_num, ==, 0);
	g_assert_cmpint(imap_seqset_resolve(&set, 10, &a, &res), ==, 0);
	got = describe(&res);
	g_assert_cmpstr(got, ==, "10");
	g_free(got);
	g_assert_cmpint(imap_seqset_parse("8:4294967295", 12, &a, &set, &err),
			==, 0);
	g_assert_cmpint(imap_seqset_resolve(&set, 10, &a, &res), ==, 0);
	got = describe(&res);
	g_assert_cmpstr(got, ==, "8:10");
	g_free(got);
	g_assert_cmpint(imap_seqset_resolve(&set, 4294967295u, &a, &res), ==,
			0);
	got = describe(&res);
	g_assert_cmpstr(got, ==, "8:4294967295");
	g_free(got);
	g_assert_true(imap_seqset_contains(&res, 4294967295u));
	g_assert_cmpuint(imap_seqset_count(&res), ==, 4294967288u);
}

static void test_bounded(void)
{
	struct imap_arena a;
	struct imap_seqset set;
	GString *s = g_string_new("1");
	const char *err;
	static char small[64];

	for (int i = 2; i < 5000; i++)
		g_string_append_printf(s, ",%d", i);
	imap_arena_init(&a, mem, sizeof(mem));
	g_assert_cmpint(imap_seqset_parse(s->str, s->len, &a, &set, &err), ==,
			0);
	g_assert_cmpuint(set.n, ==, 1);
	imap_arena_init(&a, small, sizeof(small));
	g_assert_cmpint(imap_seqset_parse(s->str, s->len, &a, &set, &err), ==,
			-1);
	g_assert_cmpstr(err, ==, "Sequence set too large");
	g_string_free(s, TRUE);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/seqset/parse", test_parse);
	g_test_add_func("/imap/seqset/invalid", test_invalid);
	g_test_add_func("/imap/seqset/resolve", test_resolve);
	g_test_add_func("/imap/seqset/max-number", test_max_number);
	g_test_add_func("/imap/seqset/bounded", test_bounded);
	return g_test_run();
}
