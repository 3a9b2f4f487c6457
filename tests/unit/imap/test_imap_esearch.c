/*
 * ESEARCH (RFC 4731) and SEARCHRES (RFC 5182): the RETURN option through
 * the real command parser (whole, byte by byte, split at every offset),
 * the ESEARCH line for the RFCs' own examples, and what "$" keeps.
 */
#include <glib.h>
#include <string.h>

#include "imap_esearch.h"
#include "imap_search.h"
#include "parse_feed.h"

static char mem[16384];

static const struct imap_parser_limits lim = {
	.max_line = 8192,
	.max_literal = 1024,
	.max_literals = 4,
	.max_depth = 32,
};

/* RETURN bits and the rest of the search, as text, or "BAD reason" */
static char *run_return(struct imap_parser *p)
{
	const struct imap_arg *a = p->cmd.args;
	const char *err = NULL;
	unsigned ret;
	GString *s = g_string_new(NULL);

	if (g_ascii_strcasecmp(p->cmd.name, "UID") == 0)
		a = a->next;
	if (imap_esearch_parse(&a, &ret, &err) < 0) {
		g_string_printf(s, "BAD %s", err);
		return g_string_free(s, FALSE);
	}
	g_string_printf(s, "%s%s%s%s%s%s|", ret & IMAP_ESR_PRESENT ? "R" : "-",
			ret & IMAP_ESR_MIN ? " MIN" : "",
			ret & IMAP_ESR_MAX ? " MAX" : "",
			ret & IMAP_ESR_ALL ? " ALL" : "",
			ret & IMAP_ESR_COUNT ? " COUNT" : "",
			ret & IMAP_ESR_SAVE ? " SAVE" : "");
	for (; a != NULL; a = a->next)
		g_string_append_printf(
			s, "%s%s", a->type == IMAP_ARG_LIST ? "(list)" : a->str,
			a->next != NULL ? " " : "");
	return g_string_free(s, FALSE);
}

/* feed `line` in pieces: 0 whole, 1 byte by byte, 2 split at `split` */
static char *feed(const char *line, int mode, size_t split)
{
	struct imap_arena arena;
	struct imap_parser p;
	imap_arena_init(&arena, mem, sizeof(mem));
	imap_parser_init(&p, &arena, &lim);
	imap_test_feed(&p, line, mode, split);
	return run_return(&p);
}

static void check(const char *line, const char *want)
{
	size_t k, len = strlen(line);
	char *got;

	got = feed(line, 0, 0);
	g_assert_cmpstr(got, ==, want);
	g_free(got);
	got = feed(line, 1, 0);
	g_assert_cmpstr(got, ==, want);
	g_free(got);
	for (k = 1; k < len; k++) {
		got = feed(line, 2, k);
		if (g_strcmp0(got, want) != 0)
			g_test_message("split at %zu", k);
		g_assert_cmpstr(got, ==, want);
		g_free(got);
	}
}

static void test_return(void)
{
	/* RFC 4731 and RFC 5182 examples */
	check("A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 "
	      "NOT FROM \"Smith\"\r\n",
	      "R MIN COUNT|FLAGGED SINCE 1-Feb-1994 NOT FROM Smith");
	check("A283 SEARCH RETURN () FLAGGED SINCE 1-Feb-1994 NOT FROM "
	      "\"Smith\"\r\n",
	      "R ALL|FLAGGED SINCE 1-Feb-1994 NOT FROM Smith");
	check("A285 UID SEARCH RETURN (MIN MAX) 1:5000\r\n",
	      "R MIN MAX|1:5000");
	check("A282 SEARCH RETURN (SAVE) FLAGGED SINCE 1-Feb-1994 NOT FROM "
	      "\"Smith\"\r\n",
	      "R SAVE|FLAGGED SINCE 1-Feb-1994 NOT FROM Smith");
	check("a SEARCH return (save min MAX all Count) charset UTF-8 "
	      "{3}\r\nabc\r\n",
	      "R MIN MAX ALL COUNT SAVE|charset UTF-8 abc");
	check("a SEARCH RETURN (MIN MIN) ALL\r\n", "R MIN|ALL");
	check("a SEARCH ALL\r\n", "-|ALL");
	/* RETURN is only an option before the criteria */
	check("a SEARCH ALL RETURN (MIN)\r\n", "-|ALL RETURN (list)");
	check("a SEARCH RETURN\r\n", "BAD RETURN needs a list of options");
	check("a SEARCH RETURN MIN ALL\r\n",
	      "BAD RETURN needs a list of options");
	check("a SEARCH RETURN (FOO) ALL\r\n", "BAD Unknown RETURN option");
	check("a SEARCH RETURN (MIN (MAX)) ALL\r\n",
	      "BAD Unknown RETURN option");
	check("a SEARCH RETURN (\"MIN\") ALL\r\n", "BAD Unknown RETURN option");
	/* the criteria after RETURN still have to be there: the search
	 * parser says so */
	check("a SEARCH RETURN (ALL)\r\n", "R ALL|");
}

/* RETURN followed by criteria, into the real search parser */
static void test_return_then_criteria(void)
{
	static const char line[] = "a SEARCH RETURN (SAVE) $ SMALLER 4096\r\n";
	struct imap_arena arena, sub;
	struct imap_parser p;
	const struct imap_arg *a;
	struct imap_search_key *root;
	const char *err = NULL;
	static char sub_mem[8192];
	unsigned ret;
	size_t used;

	imap_arena_init(&arena, mem, sizeof(mem));
	imap_parser_init(&p, &arena, &lim);
	g_assert_cmpint(imap_parse(&p, line, sizeof(line) - 1, &used), ==,
			IMAP_PARSE_OK);
	a = p.cmd.args;
	g_assert_cmpint(imap_esearch_parse(&a, &ret, &err), ==, 0);
	g_assert_cmpuint(ret, ==, IMAP_ESR_PRESENT | IMAP_ESR_SAVE);
	imap_arena_init(&sub, sub_mem, sizeof(sub_mem));
	g_assert_cmpint(imap_search_parse(a, &sub, 16, &root, &err), ==,
			IMAP_SEARCH_OK);
	g_assert_cmpint(root->type, ==, IMAP_SKEY_AND);
	g_assert_cmpint(root->child->type, ==, IMAP_SKEY_SEQSET);
	g_assert_true(root->child->seqset.saved);
	g_assert_cmpint(root->child->next->type, ==, IMAP_SKEY_SMALLER);

	/* nothing after RETURN: the search parser refuses it */
	imap_arena_init(&arena, mem, sizeof(mem));
	imap_parser_init(&p, &arena, &lim);
	g_assert_cmpint(imap_parse(&p, "a SEARCH RETURN (MIN)\r\n", 23, &used),
			==, IMAP_PARSE_OK);
	a = p.cmd.args;
	g_assert_cmpint(imap_esearch_parse(&a, &ret, &err), ==, 0);
	g_assert_null(a);
	g_assert_cmpint(imap_search_parse(a, &sub, 16, &root, &err), ==,
			IMAP_SEARCH_BAD);
}

static void out_gstring(void *ctx, const char *d, size_t n)
{
	g_string_append_len(ctx, d, (gssize)n);
}

static char *answer(const char *tag, bool uid, unsigned ret,
		    const uint32_t *hits, size_t n)
{
	GString *s = g_string_new(NULL);

	imap_esearch_write(tag, uid, ret, hits, n, out_gstring, s);
	return g_string_free(s, FALSE);
}

#define R IMAP_ESR_PRESENT

static void check_answer(const char *tag, bool uid, unsigned ret,
			 const uint32_t *hits, size_t n, const char *want)
{
	char *got = answer(tag, uid, ret, hits, n);

	g_assert_cmpstr(got, ==, want);
	g_free(got);
}

static void test_write(void)
{
	static const uint32_t h[] = {2, 10, 11};
	static const uint32_t u[] = {7, 55, 3800};
	static const uint32_t all[] = {1, 2, 3, 5, 8, 9, 10, 11, 12, 13, 14};

	/* RFC 4731 section 3.1 examples */
	check_answer("A282", false, R | IMAP_ESR_MIN | IMAP_ESR_COUNT, h, 3,
		     "* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n");
	check_answer("A283", false, R | IMAP_ESR_ALL, h, 3,
		     "* ESEARCH (TAG \"A283\") ALL 2,10:11\r\n");
	check_answer("A284", false, R | IMAP_ESR_MIN, h, 0,
		     "* ESEARCH (TAG \"A284\")\r\n");
	check_answer("A285", true, R | IMAP_ESR_MIN | IMAP_ESR_MAX, u, 3,
		     "* ESEARCH (TAG \"A285\") UID MIN 7 MAX 3800\r\n");
	check_answer("A286", false, R | IMAP_ESR_COUNT, h, 3,
		     "* ESEARCH (TAG \"A286\") COUNT 3\r\n");
	check_answer("A287", true, R | IMAP_ESR_ALL, all, 11,
		     "* ESEARCH (TAG \"A287\") UID ALL 1:3,5,8:14\r\n");
	/* no match: MIN, MAX and ALL are left out, COUNT is 0 */
	check_answer("t", true,
		     R | IMAP_ESR_MIN | IMAP_ESR_MAX | IMAP_ESR_ALL |
			     IMAP_ESR_COUNT,
		     h, 0, "* ESEARCH (TAG \"t\") UID COUNT 0\r\n");
	check_answer(
		"t", false,
		R | IMAP_ESR_MIN | IMAP_ESR_MAX | IMAP_ESR_ALL | IMAP_ESR_COUNT,
		u, 1, "* ESEARCH (TAG \"t\") MIN 7 MAX 7 ALL 7 COUNT 1\r\n");
	/* RFC 5182 2.4: SAVE alone answers nothing; with others, as
	 * without SAVE */
	check_answer("t", false, R | IMAP_ESR_SAVE, h, 3, "");
	check_answer("t", false, R | IMAP_ESR_SAVE | IMAP_ESR_MIN, h, 3,
		     "* ESEARCH (TAG \"t\") MIN 2\r\n");
	/* no RETURN: the RFC 3501 answer */
	check_answer("t", false, 0, h, 3, "* SEARCH 2 10 11\r\n");
	check_answer("t", true, 0, h, 0, "* SEARCH\r\n");
	check_answer("a\"b\\", false, R | IMAP_ESR_COUNT, h, 0,
		     "* ESEARCH (TAG \"a\\\"b\\\\\") COUNT 0\r\n");
}

/* a long answer crosses the staging buffer intact */
static void test_write_long(void)
{
	enum { N = 20000 };
	uint32_t *v = g_new(uint32_t, N);
	GString *want = g_string_new("* ESEARCH (TAG \"x\") UID ALL ");
	GString *plain = g_string_new("* SEARCH");
	char *got;
	size_t i;

	for (i = 0; i < N; i++) {
		v[i] = (uint32_t)(i * 2 + 1000000001u);
		g_string_append_printf(want, "%s%u", i ? "," : "", v[i]);
		g_string_append_printf(plain, " %u", v[i]);
	}
	g_string_append_printf(want, " COUNT %d\r\n", N);
	g_string_append(plain, "\r\n");
	got = answer("x", true, R | IMAP_ESR_ALL | IMAP_ESR_COUNT, v, N);
	g_assert_cmpstr(got, ==, want->str);
	g_free(got);
	got = answer("x", true, 0, v, N);
	g_assert_cmpstr(got, ==, plain->str);
	g_free(got);
	g_string_free(want, TRUE);
	g_string_free(plain, TRUE);
	g_free(v);
}

static char *saved(unsigned ret, const uint32_t *u, size_t n)
{
	struct imap_seq_range *r;
	unsigned nr, i;
	GString *s = g_string_new(NULL);

	r = imap_esearch_saved(ret, u, n, &nr);
	for (i = 0; i < nr; i++)
		g_string_append_printf(s, "%s%u:%u", i ? "," : "", r[i].lo,
				       r[i].hi);
	g_free(r);
	return g_string_free(s, FALSE);
}

static void check_saved(unsigned ret, const uint32_t *u, size_t n,
			const char *want)
{
	char *got = saved(ret | R | IMAP_ESR_SAVE, u, n);

	g_assert_cmpstr(got, ==, want);
	g_free(got);
}

/* RFC 5182 section 2.4's table */
static void test_saved(void)
{
	static const uint32_t u[] = {3, 4, 5, 9, 20, 21};
	static const uint32_t one[] = {7};

	check_saved(0, u, 6, "3:5,9:9,20:21");
	check_saved(IMAP_ESR_MIN, u, 6, "3:3");
	check_saved(IMAP_ESR_MAX, u, 6, "21:21");
	check_saved(IMAP_ESR_MIN | IMAP_ESR_MAX, u, 6, "3:3,21:21");
	check_saved(IMAP_ESR_MIN | IMAP_ESR_ALL, u, 6, "3:5,9:9,20:21");
	check_saved(IMAP_ESR_MAX | IMAP_ESR_COUNT, u, 6, "3:5,9:9,20:21");
	check_saved(IMAP_ESR_COUNT, u, 6, "3:5,9:9,20:21");
	check_saved(IMAP_ESR_ALL, u, 6, "3:5,9:9,20:21");
	check_saved(IMAP_ESR_MIN | IMAP_ESR_MAX, one, 1, "7:7");
	check_saved(IMAP_ESR_MIN | IMAP_ESR_MAX, u, 0, "");
	check_saved(0, u, 0, "");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/esearch/return", test_return);
	g_test_add_func("/imap/esearch/return-then-criteria",
			test_return_then_criteria);
	g_test_add_func("/imap/esearch/write", test_write);
	g_test_add_func("/imap/esearch/write-long", test_write_long);
	g_test_add_func("/imap/esearch/saved", test_saved);
	return g_test_run();
}
