/*
 * METADATA (RFC 5464) arguments through the real command parser, whole,
 * byte by byte and split at every offset: the RFC's own GETMETADATA and
 * SETMETADATA examples, the entry-name rules, the options, literal and
 * literal8 values, and which stored entries DEPTH 0, 1 and infinity name.
 */
#include <glib.h>
#include <string.h>

#include "imap_metadata.h"
#include "parse_feed.h"

static char mem[32768];
static char sub_mem[32768];

static const struct imap_parser_limits lim = {
	.max_line = 8192,
	.max_literal = 4096,
	.max_literals = 8,
	.max_depth = 32,
};

static char *describe(const struct imap_cmd *cmd)
{
	struct imap_arena sub;
	const char *why = NULL;
	GString *s = g_string_new(NULL);
	size_t i;

	imap_arena_init(&sub, sub_mem, sizeof(sub_mem));
	if (g_ascii_strcasecmp(cmd->name, "GETMETADATA") == 0) {
		static struct imap_meta_get g;

		if (imap_meta_parse_get(cmd->args, &sub, &g, &why) < 0) {
			g_string_printf(s, "BAD %s", why);
			return g_string_free(s, FALSE);
		}
		g_string_append_printf(s, "[%s] depth=%d", g.mailbox->str,
				       g.depth);
		if (g.has_maxsize)
			g_string_append_printf(s, " maxsize=%llu",
					       (unsigned long long)g.maxsize);
		for (i = 0; i < g.nentries; i++)
			g_string_append_printf(s, " %s", g.entries[i]);
	} else {
		static struct imap_meta_set st;

		if (imap_meta_parse_set(cmd->args, &sub, &st, &why) < 0) {
			g_string_printf(s, "BAD %s", why);
			return g_string_free(s, FALSE);
		}
		g_string_append_printf(s, "[%s]", st.mailbox->str);
		for (i = 0; i < st.n; i++) {
			if (st.e[i].value == NULL)
				g_string_append_printf(s, " %s=NIL",
						       st.e[i].name);
			else
				g_string_append_printf(
					s, " %s=<%.*s>", st.e[i].name,
					(int)st.e[i].len,
					(const char *)st.e[i].value);
		}
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

/* RFC 5464 sections 4.2 and 4.3 (errata 3868 for the entry lists) */
static void test_rfc_examples(void)
{
	check("a GETMETADATA \"\" /shared/comment\r\n",
	      "[] depth=0 /shared/comment");
	check("a GETMETADATA INBOX /private/comment\r\n",
	      "[INBOX] depth=0 /private/comment");
	check("a GETMETADATA \"INBOX\" (/shared/comment /private/comment)\r\n",
	      "[INBOX] depth=0 /shared/comment /private/comment");
	check("a GETMETADATA (MAXSIZE 1024) \"INBOX\" "
	      "\"/private/comment\"\r\n",
	      "[INBOX] depth=0 maxsize=1024 /private/comment");
	check("a GETMETADATA (DEPTH 1) \"INBOX\" "
	      "\"/private/filters/values\"\r\n",
	      "[INBOX] depth=1 /private/filters/values");
	check("a GETMETADATA (DEPTH infinity) \"INBOX\" /private\r\n",
	      "[INBOX] depth=2 /private");
	check("a SETMETADATA INBOX (/private/comment {33}\r\n"
	      "My new comment across\r\ntwo lines.)\r\n",
	      "[INBOX] /private/comment=<My new comment across\r\ntwo lines.>");
	check("a SETMETADATA INBOX (/private/comment \"My new comment\")\r\n",
	      "[INBOX] /private/comment=<My new comment>");
	check("a SETMETADATA INBOX (/private/comment NIL)\r\n",
	      "[INBOX] /private/comment=NIL");
	check("a SETMETADATA \"\" (/shared/comment \"Shared comment\")\r\n",
	      "[] /shared/comment=<Shared comment>");
}

static void test_forms(void)
{
	/* names are case-insensitive: lower-cased once */
	check("a getmetadata (depth 0 maxsize 0) Foo /Private/Comment\r\n",
	      "[Foo] depth=0 maxsize=0 /private/comment");
	check("a GETMETADATA (DEPTH INFINITY MAXSIZE 5) INBOX (/shared)\r\n",
	      "[INBOX] depth=2 maxsize=5 /shared");
	check("a GETMETADATA {5}\r\nINBOX {16}\r\n/private/comment\r\n",
	      "[INBOX] depth=0 /private/comment");
	check("a SETMETADATA INBOX (/private/a \"1\" /shared/b NIL "
	      "/private/vendor/x/y \"\")\r\n",
	      "[INBOX] /private/a=<1> /shared/b=NIL /private/vendor/x/y=<>");
	/* literal8 values (RFC 5464 section 5: value = nstring / literal8) */
	check("a SETMETADATA INBOX (/private/bin ~{4}\r\n\x01\x02\xff\x7f)\r\n",
	      "[INBOX] /private/bin=<\x01\x02\xff\x7f>");
	check("a SETMETADATA INBOX (/private/lit {3+}\r\nabc)\r\n",
	      "[INBOX] /private/lit=<abc>");
}

static void test_bad(void)
{
	check("a GETMETADATA INBOX /comment\r\n",
	      "BAD Entry names begin with /private or /shared");
	check("a GETMETADATA INBOX /privatex/a\r\n",
	      "BAD Entry names begin with /private or /shared");
	check("a GETMETADATA INBOX \"/private/a*\"\r\n",
	      "BAD Invalid character in entry name");
	check("a GETMETADATA INBOX \"/private/a%\"\r\n",
	      "BAD Invalid character in entry name");
	check("a GETMETADATA INBOX \"/private/\xc3\xa9\"\r\n",
	      "BAD Invalid character in entry name");
	check("a GETMETADATA INBOX \"/private/a\tb\"\r\n",
	      "BAD Invalid character in entry name");
	check("a GETMETADATA INBOX /private//a\r\n",
	      "BAD Empty component in entry name");
	check("a GETMETADATA INBOX /private/a/\r\n",
	      "BAD Empty component in entry name");
	check("a GETMETADATA INBOX ()\r\n", "BAD Empty entry list");
	check("a GETMETADATA INBOX\r\n",
	      "BAD GETMETADATA [options] mailbox entries");
	check("a GETMETADATA INBOX /private/a /private/b\r\n",
	      "BAD GETMETADATA [options] mailbox entries");
	check("a GETMETADATA (DEPTH 2) INBOX /private/a\r\n",
	      "BAD DEPTH is 0, 1 or infinity");
	check("a GETMETADATA (MAXSIZE -1) INBOX /private/a\r\n",
	      "BAD MAXSIZE needs a number");
	check("a GETMETADATA (MAXSIZE) INBOX /private/a\r\n",
	      "BAD GETMETADATA option without a value");
	check("a GETMETADATA (DEPTH 1 DEPTH 0) INBOX /private/a\r\n",
	      "BAD Unknown or repeated GETMETADATA option");
	check("a GETMETADATA (FOO 1) INBOX /private/a\r\n",
	      "BAD Unknown or repeated GETMETADATA option");
	check("a GETMETADATA () INBOX /private/a\r\n",
	      "BAD Empty GETMETADATA options");
	check("a SETMETADATA INBOX (/private \"x\")\r\n",
	      "BAD Entry name needs a component after /private or /shared");
	check("a SETMETADATA INBOX (/private/a)\r\n",
	      "BAD Entry without a value");
	check("a SETMETADATA INBOX (/private/a atom)\r\n",
	      "BAD Value must be a string or NIL");
	check("a SETMETADATA INBOX /private/a \"x\"\r\n",
	      "BAD SETMETADATA mailbox (entry value ...)");
	check("a SETMETADATA INBOX ()\r\n", "BAD Empty entry list");
	check("a SETMETADATA (/private/a \"x\")\r\n",
	      "BAD SETMETADATA mailbox (entry value ...)");
}

static void test_entry_limits(void)
{
	struct imap_arena a;
	const char *why = NULL;
	char name[RMAIL_META_NAME_MAX + 2];

	imap_arena_init(&a, sub_mem, sizeof(sub_mem));
	memset(name, 'x', sizeof(name));
	memcpy(name, "/private/", 9);
	g_assert_nonnull(
		imap_meta_entry(name, RMAIL_META_NAME_MAX, false, &a, &why));
	g_assert_null(imap_meta_entry(name, RMAIL_META_NAME_MAX + 1, false, &a,
				      &why));
	g_assert_null(imap_meta_entry("", 0, true, &a, &why));
	g_assert_nonnull(imap_meta_entry("/shared", 7, true, &a, &why));
	g_assert_null(imap_meta_entry("/shared", 7, false, &a, &why));
	g_assert_null(imap_meta_entry("/shared/", 8, true, &a, &why));
}

static void test_match(void)
{
	/* RFC 5464 4.2.2 */
	g_assert_true(imap_meta_match("/private/filters/values",
				      "/private/filters/values", 0));
	g_assert_false(imap_meta_match("/private/filters/values",
				       "/private/filters/values/small", 0));
	g_assert_true(imap_meta_match("/private/filters/values",
				      "/private/filters/values/small", 1));
	g_assert_false(imap_meta_match("/private/filters/values",
				       "/private/filters/values/small/x", 1));
	g_assert_true(imap_meta_match("/private/filters/values",
				      "/private/filters/values/small/x", 2));
	/* a sibling with the same prefix is not a child */
	g_assert_false(imap_meta_match("/private/filters/values",
				       "/private/filters/valuesx", 2));
	g_assert_true(imap_meta_match("/private", "/private/comment", 1));
	g_assert_false(imap_meta_match("/private", "/shared/comment", 2));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/metadata/rfc-examples", test_rfc_examples);
	g_test_add_func("/imap/metadata/forms", test_forms);
	g_test_add_func("/imap/metadata/bad", test_bad);
	g_test_add_func("/imap/metadata/entry-limits", test_entry_limits);
	g_test_add_func("/imap/metadata/match", test_match);
	return g_test_run();
}
