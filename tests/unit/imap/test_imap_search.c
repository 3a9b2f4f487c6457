/* SEARCH criteria, fed through the real command parser. */
#include <glib.h>
#include <string.h>

#include "imap_search.h"

static char mem[16384];
static struct imap_arena arena;
static struct imap_parser parser;

static const struct imap_arg *parse_line(const char *criteria)
{
	struct imap_parser_limits lim = {
		.max_line = 8192,
		.max_literal = 1024,
		.max_literals = 4,
		.max_depth = 32,
	};
	char *line = g_strdup_printf("a SEARCH %s\r\n", criteria);
	size_t used;
	int rc;

	imap_arena_init(&arena, mem, sizeof(mem));
	imap_parser_init(&parser, &arena, &lim);
	rc = imap_parse(&parser, line, strlen(line), &used);
	while (rc == IMAP_PARSE_NEED_CONTINUATION) {
		size_t off = used;

		imap_parser_literal_accept(&parser);
		rc = imap_parse(&parser, line + off, strlen(line) - off, &used);
		used += off;
	}
	g_assert_cmpint(rc, ==, IMAP_PARSE_OK);
	g_free(line);
	return parser.cmd.args;
}

static void describe(GString *s, const struct imap_search_key *k)
{
	const struct imap_search_key *c;
	unsigned int i;

	switch (k->type) {
	case IMAP_SKEY_AND:
	case IMAP_SKEY_OR:
	case IMAP_SKEY_NOT:
		g_string_append(s, k->type == IMAP_SKEY_AND  ? "AND("
				   : k->type == IMAP_SKEY_OR ? "OR("
							     : "NOT(");
		for (c = k->child; c != NULL; c = c->next) {
			describe(s, c);
			if (c->next != NULL)
				g_string_append_c(s, ' ');
		}
		g_string_append_c(s, ')');
		break;
	case IMAP_SKEY_ALL:
		g_string_append(s, "ALL");
		break;
	case IMAP_SKEY_MODSEQ:
		g_string_append_printf(s, "modseq>=%llu",
				       (unsigned long long)k->modseq);
		break;
	case IMAP_SKEY_FLAG:
		g_string_append_printf(s, "%sflag%x", k->set ? "" : "!",
				       k->flag);
		break;
	case IMAP_SKEY_KEYWORD:
		g_string_append_printf(s, "%skw:%s", k->set ? "" : "!", k->str);
		break;
	case IMAP_SKEY_LARGER:
	case IMAP_SKEY_SMALLER:
		g_string_append_printf(s, "%c%u",
				       k->type == IMAP_SKEY_LARGER ? '>' : '<',
				       k->size);
		break;
	case IMAP_SKEY_BEFORE:
	case IMAP_SKEY_ON:
	case IMAP_SKEY_SINCE:
	case IMAP_SKEY_SENTBEFORE:
	case IMAP_SKEY_SENTON:
	case IMAP_SKEY_SENTSINCE:
		g_string_append_printf(s, "d%d:%d", k->type, k->date);
		break;
	case IMAP_SKEY_UID:
	case IMAP_SKEY_SEQSET:
		g_string_append(s, k->type == IMAP_SKEY_UID ? "uid" : "seq");
		if (k->seqset.saved)
			g_string_append_c(s, '$');
		for (i = 0; i < k->seqset.n; i++) {
			uint32_t lo = k->seqset.r[i].lo, hi = k->seqset.r[i].hi;

			g_string_append_c(s, '[');
			if (lo == IMAP_SEQ_STAR)
				g_string_append_c(s, '*');
			else
				g_string_append_printf(s, "%u", lo);
			if (hi == IMAP_SEQ_STAR)
				g_string_append(s, ",*]");
			else
				g_string_append_printf(s, ",%u]", hi);
		}
		break;
	case IMAP_SKEY_HEADER:
		g_string_append_printf(s, "%s:%s=%s",
				       k->address ? "addr" : "hdr", k->field,
				       k->str);
		break;
	case IMAP_SKEY_BODY:
	case IMAP_SKEY_TEXT:
		g_string_append_printf(
			s, "%s=%s", k->type == IMAP_SKEY_BODY ? "body" : "text",
			k->str);
		break;
	case IMAP_SKEY_EMAILID:
	case IMAP_SKEY_THREADID:
		g_string_append_printf(
			s, "%s=%.*s",
			k->type == IMAP_SKEY_EMAILID ? "emailid" : "threadid",
			(int)k->str_len, k->str);
		break;
	case IMAP_SKEY_SAVEDBEFORE:
	case IMAP_SKEY_SAVEDON:
	case IMAP_SKEY_SAVEDSINCE:
		g_string_append_printf(s, "saved%s:%d",
				       k->type == IMAP_SKEY_SAVEDBEFORE
					       ? "before"
				       : k->type == IMAP_SKEY_SAVEDON ? "on"
								      : "since",
				       k->date);
		break;
	case IMAP_SKEY_SAVEDATESUPPORTED:
		g_string_append(s, "savedatesupported");
		break;
	}
}

static void check(const char *criteria, const char *want)
{
	struct imap_search_key *root;
	const char *err = NULL;
	GString *s = g_string_new(NULL);

	g_assert_cmpint(imap_search_parse(parse_line(criteria), &arena, 16,
					  &root, &err),
			==, IMAP_SEARCH_OK);
	describe(s, root);
	g_assert_cmpstr(s->str, ==, want);
	g_string_free(s, TRUE);
}

static void check_bad(const char *criteria, int rc, const char *why)
{
	struct imap_search_key *root;
	const char *err = NULL;

	g_assert_cmpint(imap_search_parse(parse_line(criteria), &arena, 16,
					  &root, &err),
			==, rc);
	g_assert_cmpstr(err, ==, why);
}

static void test_keys(void)
{
	check("ALL", "ALL");
	check("UNSEEN", "!flag10");
	check("seen flagged", "AND(flag10 flag8)");
	check("NEW", "AND(flag20 !flag10)");
	check("OLD", "!flag20");
	check("ANSWERED DELETED DRAFT RECENT UNANSWERED UNDELETED UNDRAFT "
	      "UNFLAGGED",
	      "AND(flag1 flag2 flag4 flag20 !flag1 !flag2 !flag4 "
	      "!flag8)");
	check("KEYWORD $Junk UNKEYWORD foo", "AND(kw:$Junk !kw:foo)");
	check("LARGER 1000 SMALLER 4294967295", "AND(>1000 <4294967295)");
	check("SINCE 1-Jan-1970", "d10:0");
	check("BEFORE 01-feb-1970 ON \"29-Feb-2000\"", "AND(d8:31 d9:11016)");
	check("SENTBEFORE 1-Jan-2024 SENTON 1-Jan-2024 SENTSINCE 31-Dec-1969",
	      "AND(d11:19723 d12:19723 d13:-1)");
	check("$", "seq$");
	check("UID $", "uid$");
	check("$ SMALLER 4096", "AND(seq$ <4096)");
	check("OR $ UID $ NOT $", "AND(OR(seq$ uid$) NOT(seq$))");
	check("UID 1:*", "uid[1,*]");
	check("UID 4294967295", "uid[4294967295,4294967295]");
	check("UID 1:4294967295 4294967295", "AND(uid[1,4294967295] "
					     "seq[4294967295,4294967295])");
	check("2,4:7,9", "seq[2,2][4,7][9,9]");
	check("NOT (SEEN DELETED)", "NOT(AND(flag10 flag2))");
	check("OR SEEN (OR DELETED 1:5)", "OR(flag10 OR(flag2 seq[1,5]))");
	check("SUBJECT \"hi there\" FROM bob TO x CC y BCC z",
	      "AND(hdr:Subject=hi there addr:From=bob addr:To=x addr:Cc=y "
	      "addr:Bcc=z)");
	check("HEADER X-Spam yes BODY {3}\r\nfoo TEXT \"\"",
	      "AND(hdr:X-Spam=yes body=foo text=)");
	check("CHARSET UTF-8 ALL", "ALL");
	/* a keyword is any atom: NIL too, "[" and "~" are ATOM-CHARs */
	check("KEYWORD NIL UNKEYWORD nil", "AND(kw:NIL !kw:nil)");
	check("KEYWORD k[ KEYWORD ~ KEYWORD $a~b", "AND(kw:k[ kw:~ kw:$a~b)");
	/* search strings are astrings: "]" is an ASTRING-CHAR */
	check("SUBJECT x]y FROM ~ TO [", "AND(hdr:Subject=x]y addr:From=~ "
					 "addr:To=[)");
	check("charset \"us-ascii\" SEEN", "flag10");
}

static void test_invalid(void)
{
	check_bad("CHARSET ISO-8859-1 ALL", IMAP_SEARCH_BADCHARSET,
		  "Unsupported charset");
	check_bad("CHARSET", IMAP_SEARCH_BAD, "Missing charset");
	check_bad("", IMAP_SEARCH_BAD, "Missing search key");
	check_bad("CHARSET UTF-8", IMAP_SEARCH_BAD, "Missing search key");
	check_bad("BOGUS", IMAP_SEARCH_BAD, "Unknown search key");
	check_bad("()", IMAP_SEARCH_BAD, "Empty search key list");
	check_bad("NOT", IMAP_SEARCH_BAD, "Missing search key");
	check_bad("OR SEEN", IMAP_SEARCH_BAD, "Missing search key");
	check_bad("LARGER x", IMAP_SEARCH_BAD, "Invalid size");
	check_bad("LARGER 4294967296", IMAP_SEARCH_BAD, "Invalid size");
	check_bad("SINCE 32-Jan-2020", IMAP_SEARCH_BAD, "Invalid date");
	check_bad("SINCE 29-Feb-2001", IMAP_SEARCH_BAD, "Invalid date");
	check_bad("SINCE 1-Foo-2020", IMAP_SEARCH_BAD, "Invalid date");
	check_bad("SINCE 1-Jan-20", IMAP_SEARCH_BAD, "Invalid date");
	check_bad("SINCE 1-Jan-20201", IMAP_SEARCH_BAD, "Invalid date");
	check_bad("SINCE 100-Jan-2020", IMAP_SEARCH_BAD, "Invalid date");
	check_bad("SINCE", IMAP_SEARCH_BAD, "Invalid date");
	check_bad("KEYWORD \\Seen", IMAP_SEARCH_BAD, "Invalid keyword");
	check_bad("KEYWORD k]", IMAP_SEARCH_BAD, "Invalid keyword");
	check_bad("KEYWORD k%", IMAP_SEARCH_BAD, "Invalid keyword");
	check_bad("KEYWORD k*", IMAP_SEARCH_BAD, "Invalid keyword");
	check_bad("KEYWORD k\\", IMAP_SEARCH_BAD, "Invalid keyword");
	check_bad("SUBJECT x%y", IMAP_SEARCH_BAD, "Missing search string");
	check_bad("SUBJECT x*y", IMAP_SEARCH_BAD, "Missing search string");
	check_bad("SUBJECT x\\y", IMAP_SEARCH_BAD, "Missing search string");
	check_bad("UID 4294967296", IMAP_SEARCH_BAD,
		  "Number too large in sequence set");
	check_bad("UID", IMAP_SEARCH_BAD, "Missing UID set");
	check_bad("UID 0", IMAP_SEARCH_BAD, "Sequence number 0 is invalid");
	check_bad("1,$", IMAP_SEARCH_BAD, "$ must be the whole sequence set");
	check_bad("UID $,2", IMAP_SEARCH_BAD,
		  "$ must be the whole sequence set");
	check_bad("SUBJECT", IMAP_SEARCH_BAD, "Missing search string");
	check_bad("SUBJECT (x)", IMAP_SEARCH_BAD, "Missing search string");
	check_bad("HEADER a:b c", IMAP_SEARCH_BAD, "Invalid header field name");
	check_bad("\"SEEN\"", IMAP_SEARCH_BAD, "Invalid search key");
}

/* RFC 7162 3.1.5: MODSEQ [entry-name entry-type-req] mod-sequence-valzer */
static void test_modseq(void)
{
	check("MODSEQ 0", "modseq>=0");
	check("MODSEQ 620162338", "modseq>=620162338");
	check("MODSEQ \"/flags/\\\\draft\" all 620162338", "modseq>=620162338");
	check("modseq \"/flags/$Junk\" PRIV 5 SEEN", "AND(modseq>=5 flag10)");
	check("OR MODSEQ 9223372036854775807 MODSEQ {9}\r\n/flags/xy "
	      "shared 1",
	      "OR(modseq>=9223372036854775807 modseq>=1)");
	check_bad("MODSEQ", IMAP_SEARCH_BAD, "Invalid MODSEQ value");
	check_bad("MODSEQ x", IMAP_SEARCH_BAD, "Invalid MODSEQ value");
	check_bad("MODSEQ -1", IMAP_SEARCH_BAD, "Invalid MODSEQ value");
	check_bad("MODSEQ 9223372036854775808", IMAP_SEARCH_BAD,
		  "Invalid MODSEQ value");
	check_bad("MODSEQ 99999999999999999999", IMAP_SEARCH_BAD,
		  "Invalid MODSEQ value");
	check_bad("MODSEQ \"/flags/x\" 5", IMAP_SEARCH_BAD,
		  "Invalid MODSEQ entry");
	check_bad("MODSEQ \"/flags/x\" both 5", IMAP_SEARCH_BAD,
		  "Invalid MODSEQ entry");
	check_bad("MODSEQ \"flags\" all 5", IMAP_SEARCH_BAD,
		  "Invalid MODSEQ entry");
	check_bad("MODSEQ \"\" all 5", IMAP_SEARCH_BAD, "Invalid MODSEQ entry");
	check_bad("MODSEQ (5)", IMAP_SEARCH_BAD, "Invalid MODSEQ entry");
	check_bad("MODSEQ \"/flags/x\" all", IMAP_SEARCH_BAD,
		  "Invalid MODSEQ value");
}

/* RFC 8514 4.2, 4.3: the SAVED* date keys and SAVEDATESUPPORTED */
static void test_savedate(void)
{
	check("SAVEDBEFORE 1-Jan-1970", "savedbefore:0");
	check("savedon 2-Jan-1970", "savedon:1");
	check("SAVEDSINCE \"1-Feb-2001\"", "savedsince:11354");
	check("SAVEDATESUPPORTED", "savedatesupported");
	check("NOT SAVEDATESUPPORTED", "NOT(savedatesupported)");
	check_bad("SAVEDON", IMAP_SEARCH_BAD, "Invalid date");
	check_bad("SAVEDON 31-Feb-2001", IMAP_SEARCH_BAD, "Invalid date");
}

/* RFC 8474 6: EMAILID and THREADID take an objectid */
static void test_objectid(void)
{
	/* RFC 8474 section 6's example */
	check("EMAILID M6d99ac3275bb4e", "emailid=M6d99ac3275bb4e");
	check("THREADID T64b478a75b7ea9 UNSEEN",
	      "AND(threadid=T64b478a75b7ea9 !flag10)");
	check("OR EMAILID a_b-C EMAILID x", "OR(emailid=a_b-C emailid=x)");
	check_bad("EMAILID", IMAP_SEARCH_BAD, "Invalid objectid");
	check_bad("EMAILID \"abc\"", IMAP_SEARCH_BAD, "Invalid objectid");
	check_bad("EMAILID a.b", IMAP_SEARCH_BAD, "Invalid objectid");
	check_bad("THREADID (x)", IMAP_SEARCH_BAD, "Invalid objectid");
	check_bad("EMAILID "
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaa",
		  IMAP_SEARCH_BAD, "Invalid objectid");
}

static void test_depth(void)
{
	GString *s = g_string_new(NULL);
	int i;

	/* NOT chains nest without any list: the depth limit still holds */
	for (i = 0; i < 15; i++)
		g_string_append(s, "NOT ");
	g_string_append(s, "SEEN");
	{
		struct imap_search_key *root;
		const char *err = NULL;

		g_assert_cmpint(imap_search_parse(parse_line(s->str), &arena,
						  16, &root, &err),
				==, 0);
	}
	g_string_prepend(s, "NOT ");
	check_bad(s->str, IMAP_SEARCH_BAD, "Search keys nested too deeply");
	g_string_assign(s, "");
	for (i = 0; i < 16; i++)
		g_string_append(s, "(");
	g_string_append(s, "SEEN");
	for (i = 0; i < 16; i++)
		g_string_append(s, ")");
	check_bad(s->str, IMAP_SEARCH_BAD, "Search keys nested too deeply");
	g_string_free(s, TRUE);
}

static void test_date(void)
{
	int32_t d;

	g_assert_cmpint(imap_date_parse("1-Jan-1970", 10, &d), ==, 0);
	g_assert_cmpint(d, ==, 0);
	g_assert_cmpint(imap_date_parse("29-Feb-2024", 11, &d), ==, 0);
	g_assert_cmpint(d, ==, 19782);
	g_assert_cmpint(imap_date_parse("29-Feb-1900", 11, &d), ==, -1);
	g_assert_cmpint(imap_date_parse("0-Jan-2000", 10, &d), ==, -1);
	g_assert_cmpint(imap_date_parse("1-Jan-200x", 10, &d), ==, -1);
	g_assert_cmpint(imap_date_parse("1Jan-2000", 9, &d), ==, -1);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/search/keys", test_keys);
	g_test_add_func("/imap/search/invalid", test_invalid);
	g_test_add_func("/imap/search/depth", test_depth);
	g_test_add_func("/imap/search/objectid", test_objectid);
	g_test_add_func("/imap/search/savedate", test_savedate);
	g_test_add_func("/imap/search/modseq", test_modseq);
	g_test_add_func("/imap/search/date", test_date);
	return g_test_run();
}
