/*
 * LIST arguments (RFC 5258 LIST-EXTENDED, RFC 5819, RFC 6154) through
 * the real command parser, whole, byte by byte and split at every
 * offset; the RFC 5258 section 5 command forms among them.
 */
#include <glib.h>
#include <string.h>

#include "imap_listargs.h"
#include "parse_feed.h"

static char mem[16384];

static const struct imap_parser_limits lim = {
	.max_line = 8192,
	.max_literal = 1024,
	.max_literals = 4,
	.max_depth = 32,
};

static void describe_arg(GString *s, const struct imap_arg *a)
{
	const struct imap_arg *m;

	if (a->type != IMAP_ARG_LIST) {
		g_string_append(s, a->str);
		return;
	}
	g_string_append_c(s, '(');
	for (m = a->list; m != NULL; m = m->next) {
		describe_arg(s, m);
		if (m->next != NULL)
			g_string_append_c(s, ' ');
	}
	g_string_append_c(s, ')');
}

static char *describe(const struct imap_cmd *cmd)
{
	struct imap_list_args la;
	const char *err = NULL;
	GString *s = g_string_new(NULL);

	if (imap_list_parse(cmd->args, &la, &err) < 0) {
		g_string_printf(s, "BAD %s", err);
		return g_string_free(s, FALSE);
	}
	g_string_append_printf(
		s, "%s%s%s%s%s%s%s|", la.opts & IMAP_LIST_EXTENDED ? "X" : "-",
		la.opts & IMAP_LIST_SEL_SUBSCRIBED ? " sel-sub" : "",
		la.opts & IMAP_LIST_SEL_SPECIAL ? " sel-su" : "",
		la.opts & IMAP_LIST_SEL_RECURSIVE ? " sel-rec" : "",
		la.opts & IMAP_LIST_RET_SUBSCRIBED ? " ret-sub" : "",
		la.opts & IMAP_LIST_RET_SPECIAL ? " ret-su" : "",
		la.opts & IMAP_LIST_RET_STATUS ? " ret-status" : "");
	describe_arg(s, la.ref);
	g_string_append_c(s, '|');
	describe_arg(s, la.pats);
	if (la.status_items != NULL) {
		g_string_append_c(s, '|');
		describe_arg(s, la.status_items);
	}
	return g_string_free(s, FALSE);
}

/* 0 whole, 1 byte by byte, 2 split at `split` */
static char *feed(const char *line, int mode, size_t split)
{
	struct imap_arena arena;
	struct imap_parser p;
	imap_arena_init(&arena, mem, sizeof(mem));
	imap_parser_init(&p, &arena, &lim);
	imap_test_feed(&p, line, mode, split);
	return describe(&p.cmd);
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

static void test_forms(void)
{
	/* RFC 3501 */
	check("A101 LIST \"\" \"\"\r\n", "-||");
	check("A102 LIST #news.comp.mail.misc \"\"\r\n",
	      "-|#news.comp.mail.misc|");
	check("a LIST \"\" *\r\n", "-||*");
	/* RFC 5258 section 5 */
	check("A02 LIST (SUBSCRIBED) \"\" \"*\"\r\n", "X sel-sub ret-sub||*");
	check("A03 LIST () \"\" \"%\" RETURN (CHILDREN)\r\n", "X||%");
	check("A04 LIST (REMOTE) \"\" \"%\" RETURN (CHILDREN)\r\n", "X||%");
	check("A05 LIST (REMOTE SUBSCRIBED) \"\" \"*\"\r\n",
	      "X sel-sub ret-sub||*");
	check("A06 LIST (REMOTE) \"\" \"*\" RETURN (SUBSCRIBED)\r\n",
	      "X ret-sub||*");
	check("C04 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\"\r\n",
	      "X sel-sub sel-rec ret-sub||%");
	check("C05 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\" "
	      "RETURN (CHILDREN)\r\n",
	      "X sel-sub sel-rec ret-sub||%");
	check("D01 LIST \"\" (\"INBOX\" \"Drafts\" \"Sent/%\")\r\n",
	      "-||(INBOX Drafts Sent/%)");
	/* RFC 6154, RFC 5819 */
	check("t1 LIST (SPECIAL-USE RECURSIVEMATCH) \"\" \"*\"\r\n",
	      "X sel-su sel-rec||*");
	check("t2 LIST \"\" \"%\" RETURN (SPECIAL-USE STATUS (MESSAGES "
	      "SIZE))\r\n",
	      "X ret-su ret-status||%|(MESSAGES SIZE)");
	check("t3 list (recursivematch subscribed) {0}\r\n {1}\r\n%\r\n",
	      "X sel-sub sel-rec ret-sub||%");
	check("t4 LIST \"\" \"\" RETURN ()\r\n", "X||");
}

static void test_bad(void)
{
	check("a LIST (RECURSIVEMATCH) \"\" \"%\"\r\n",
	      "BAD RECURSIVEMATCH needs another selection option");
	check("a LIST (REMOTE RECURSIVEMATCH) \"\" \"%\"\r\n",
	      "BAD RECURSIVEMATCH needs another selection option");
	check("a LIST (FOO) \"\" \"%\"\r\n", "BAD Unknown selection option");
	check("a LIST ((SUBSCRIBED)) \"\" \"%\"\r\n",
	      "BAD Unknown selection option");
	check("a LIST \"\" \"%\" RETURN (FOO)\r\n",
	      "BAD Unknown return option");
	check("a LIST \"\" \"%\" RETURN (STATUS)\r\n",
	      "BAD Unknown return option");
	check("a LIST \"\" \"%\" RETURN CHILDREN\r\n",
	      "BAD Invalid LIST arguments");
	check("a LIST \"\" \"%\" RETURN (CHILDREN) x\r\n",
	      "BAD Invalid LIST arguments");
	check("a LIST \"\" \"%\" x\r\n", "BAD Invalid LIST arguments");
	check("a LIST \"\"\r\n", "BAD LIST reference pattern");
	check("a LIST (SUBSCRIBED)\r\n", "BAD LIST reference pattern");
	check("a LIST () (x) \"%\"\r\n", "BAD LIST reference pattern");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/listargs/forms", test_forms);
	g_test_add_func("/imap/listargs/bad", test_bad);
	return g_test_run();
}
