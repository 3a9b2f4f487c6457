/* FETCH attribute parsing, fed through the real command parser. */
#include <glib.h>
#include <string.h>

#include "imap_fetch.h"

static char mem[8192];
static struct imap_arena arena;
static struct imap_parser parser;

/* mode 0: whole; 1: byte by byte; 2: split at `split` */
static const struct imap_arg *parse_line_mode(const char *items, int mode,
					      size_t split)
{
	struct imap_parser_limits lim = {
		.max_line = 4096,
		.max_literal = 1024,
		.max_literals = 4,
		.max_depth = 8,
	};
	char *line = g_strdup_printf("a FETCH 1 %s\r\n", items);
	size_t used, len = strlen(line), off = 0, step;
	int rc = IMAP_PARSE_AGAIN;

	imap_arena_init(&arena, mem, sizeof(mem));
	imap_parser_init(&parser, &arena, &lim);
	while (off < len) {
		step = mode == 0     ? len
		       : mode == 1   ? 1
		       : off < split ? split - off
				     : len - off;
		rc = imap_parse(&parser, line + off, step, &used);
		g_assert_cmpuint(used, ==, step);
		off += used;
		if (off < len)
			g_assert_cmpint(rc, ==, IMAP_PARSE_AGAIN);
	}
	g_assert_cmpint(rc, ==, IMAP_PARSE_OK);
	g_free(line);
	return parser.cmd.args->next;
}

static const struct imap_arg *parse_line(const char *items)
{
	return parse_line_mode(items, 0, 0);
}

static char *describe(const struct imap_fetch_attrs *f)
{
	GString *s = g_string_new(NULL);
	const struct imap_fetch_body *b;
	unsigned int i;

	g_string_append_printf(s, "flags=%x seen=%d", f->flags, f->sets_seen);
	if (f->nbinary > 0)
		g_string_append_printf(s, " nbinary=%u", f->nbinary);
	for (b = f->bodies; b != NULL; b = b->next) {
		g_string_append_printf(s, " %s%s[",
				       b->binary == IMAP_BIN_DATA   ? "BIN-"
				       : b->binary == IMAP_BIN_SIZE ? "BINSIZE-"
								    : "",
				       b->peek ? "PEEK" : "BODY");
		for (i = 0; i < b->nparts; i++)
			g_string_append_printf(s, "%u.", b->part[i]);
		g_string_append_printf(s, "k%d", b->kind);
		for (i = 0; i < b->nfields; i++)
			g_string_append_printf(s, ",%s", b->fields[i]);
		g_string_append_printf(s, "|%.*s]", (int)b->section_len,
				       b->section);
		if (b->partial)
			g_string_append_printf(s, "<%u.%u>", b->offset,
					       b->count);
	}
	return g_string_free(s, FALSE);
}

static void check(const char *items, const char *want)
{
	struct imap_fetch_attrs f;
	const char *err = NULL;
	char *got;

	g_assert_cmpint(imap_fetch_parse(parse_line(items), &arena, &f, &err),
			==, 0);
	got = describe(&f);
	g_assert_cmpstr(got, ==, want);
	g_free(got);
}

static void check_bad(const char *items, const char *why)
{
	struct imap_fetch_attrs f;
	const char *err = NULL;

	g_assert_cmpint(imap_fetch_parse(parse_line(items), &arena, &f, &err),
			==, -1);
	g_assert_cmpstr(err, ==, why);
}

static void test_simple(void)
{
	check("FLAGS", "flags=1 seen=0");
	check("(UID FLAGS)", "flags=3 seen=0");
	check("(uid rfc822.size INTERNALDATE ENVELOPE BODYSTRUCTURE BODY)",
	      "flags=7e seen=0");
	check("(RFC822)", "flags=80 seen=1");
	check("(RFC822.HEADER)", "flags=100 seen=0");
	check("(RFC822.TEXT)", "flags=200 seen=1");
	check("ALL", "flags=1d seen=0");
	check("FAST", "flags=d seen=0");
	check("FULL", "flags=3d seen=0");
}

static void test_sections(void)
{
	check("BODY[]", "flags=0 seen=1 BODY[k0|]");
	check("BODY.PEEK[]<0.1024>", "flags=0 seen=0 PEEK[k0|]<0.1024>");
	check("(BODY.PEEK[HEADER] BODY[TEXT])",
	      "flags=0 seen=1 PEEK[k1|HEADER] BODY[k4|TEXT]");
	check("BODY.PEEK[HEADER.FIELDS (From To \"Subject\")]",
	      "flags=0 seen=0 PEEK[k2,From,To,Subject|HEADER.FIELDS (From To "
	      "\"Subject\")]");
	check("body.peek[header.fields.not (X-Spam)]",
	      "flags=0 seen=0 PEEK[k3,X-Spam|header.fields.not (X-Spam)]");
	check("BODY.PEEK[1.2.3]", "flags=0 seen=0 PEEK[1.2.3.k0|1.2.3]");
	check("BODY.PEEK[1.2.MIME]", "flags=0 seen=0 PEEK[1.2.k5|1.2.MIME]");
	check("BODY.PEEK[2.HEADER]", "flags=0 seen=0 PEEK[2.k1|2.HEADER]");
	check("BODY.PEEK[2.TEXT]<5.10>",
	      "flags=0 seen=0 PEEK[2.k4|2.TEXT]<5.10>");
	check("BODY.PEEK[1.HEADER.FIELDS (A)]",
	      "flags=0 seen=0 PEEK[1.k2,A|1.HEADER.FIELDS (A)]");
}

/* RFC 3516 section 6 grammar; every form also fed byte by byte and
 * split at every offset */
static void check_split(const char *items, const char *want)
{
	struct imap_fetch_attrs f;
	const char *err = NULL;
	size_t k, len = strlen(items) + 12;
	char *got;

	check(items, want);
	for (k = 0; k <= len; k++) {
		g_assert_cmpint(
			imap_fetch_parse(
				parse_line_mode(items, k == 0 ? 1 : 2, k),
				&arena, &f, &err),
			==, 0);
		got = describe(&f);
		g_assert_cmpstr(got, ==, want);
		g_free(got);
	}
}

static void test_binary(void)
{
	/* RFC 3516 4.2's examples */
	check_split("(BINARY[1.2])",
		    "flags=0 seen=1 nbinary=1 BIN-BODY[1.2.k0|1.2]");
	check_split("BINARY.PEEK[3]<0.1000>",
		    "flags=0 seen=0 nbinary=1 BIN-PEEK[3.k0|3]<0.1000>");
	check_split("(UID BINARY.SIZE[1])",
		    "flags=2 seen=0 nbinary=1 BINSIZE-PEEK[1.k0|1]");
	check_split("(BINARY.PEEK[] BINARY.SIZE[] BODY.PEEK[1])",
		    "flags=0 seen=0 nbinary=2 BIN-PEEK[k0|] BINSIZE-PEEK[k0|] "
		    "PEEK[1.k0|1]");
	check_split("binary[2]<10.5>",
		    "flags=0 seen=1 nbinary=1 BIN-BODY[2.k0|2]<10.5>");
	/* section-binary is part numbers only */
	check_bad("BINARY[HEADER]", "BINARY takes part numbers only");
	check_bad("BINARY[1.TEXT]", "BINARY takes part numbers only");
	check_bad("BINARY[1.MIME]", "BINARY takes part numbers only");
	check_bad("BINARY.PEEK[1.]", "BINARY takes part numbers only");
	check_bad("BINARY.SIZE[1]<0.10>", "BINARY.SIZE takes no partial range");
	check_bad("BINARY[0]", "Invalid section part number");
	check_bad("BINARY[1]<0.0>", "Invalid partial range");
	check_bad("BINARY.SIZE", "Unknown fetch attribute");
	check_bad("BINARY", "Unknown fetch attribute");
	check_bad("BINARY.PEEKS[1]", "Unknown fetch attribute");
}

/* RFC 8514 4.1: SAVEDATE is a plain item */
static void test_savedate(void)
{
	check_split("(SAVEDATE INTERNALDATE)", "flags=8004 seen=0");
	check_split("savedate", "flags=8000 seen=0");
	check_bad("SAVEDATE[]", "Unknown fetch attribute");
}

/* RFC 8474 5: EMAILID and THREADID are plain items */
static void test_objectid(void)
{
	check_split("(EMAILID THREADID)", "flags=1800 seen=0");
	check_split("(UID emailid)", "flags=802 seen=0");
	check_bad("EMAILID[]", "Unknown fetch attribute");
}

/* RFC 8970 3: PREVIEW [SP "(" preview-mod *(SP preview-mod) ")"] */
static void test_preview(void)
{
	check_split("(PREVIEW)", "flags=2000 seen=0");
	check_split("(UID PREVIEW (LAZY))", "flags=6002 seen=0");
	check_split("(PREVIEW (lazy LAZY) FLAGS)", "flags=6001 seen=0");
	/* one PREVIEW without LAZY: the preview is made */
	check_split("(PREVIEW (LAZY) PREVIEW)", "flags=2000 seen=0");
	check_split("(PREVIEW PREVIEW (LAZY))", "flags=2000 seen=0");
	check_split("PREVIEW", "flags=2000 seen=0");
	check_bad("(PREVIEW ())", "Empty PREVIEW modifiers");
	check_bad("(PREVIEW (EAGER))", "Unknown PREVIEW modifier");
	check_bad("(PREVIEW (\"LAZY\"))", "Unknown PREVIEW modifier");
	check_bad("((LAZY) PREVIEW)", "Invalid fetch attribute");
}

static void test_invalid(void)
{
	check_bad("(ALL)", "Unknown fetch attribute");
	check_bad("BOGUS", "Unknown fetch attribute");
	check_bad("BODY.PEEK", "Unknown fetch attribute");
	check_bad("(\"FLAGS\")", "Invalid fetch attribute");
	check_bad("()", "Invalid fetch attributes");
	check_bad("(FLAGS (UID))", "Invalid fetch attribute");
	check_bad("FLAGS UID", "Too many arguments to FETCH");
	check_bad("BODY[MIME]", "MIME needs a part number");
	check_bad("BODY[0]", "Invalid section part number");
	check_bad("BODY[01]", "Invalid section part number");
	check_bad("BODY[1.]", "Invalid section");
	check_bad("BODY[1X]", "Invalid section");
	check_bad("BODY[HEADERS]", "Invalid section");
	check_bad("BODY[HEADER.FIELDS]", "Missing header field list");
	check_bad("BODY[HEADER.FIELDS ()]", "Empty header field name");
	check_bad("BODY[HEADER.FIELDS (A:B)]", "Invalid header field name");
	check_bad("BODY[HEADER.FIELDS (A  B)]", "Empty header field name");
	check_bad("BODY[HEADER.FIELDS (A]", "Invalid header field list");
	check_bad("BODY[]<0>", "Invalid partial range");
	check_bad("BODY[]<0.0>", "Invalid partial range");
	check_bad("BODY[]<1.4294967296>", "Invalid partial range");
	check_bad("BODY[]<1.2>x", "Junk after section");
	check_bad("BODY[4294967296]", "Invalid section part number");
	check_bad("BODY[1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1"
		  ".1.1.1.1.1.1]",
		  "Section part numbers nested too deeply");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/fetch/simple", test_simple);
	g_test_add_func("/imap/fetch/sections", test_sections);
	g_test_add_func("/imap/fetch/invalid", test_invalid);
	g_test_add_func("/imap/fetch/binary", test_binary);
	g_test_add_func("/imap/fetch/objectid", test_objectid);
	g_test_add_func("/imap/fetch/savedate", test_savedate);
	g_test_add_func("/imap/fetch/preview", test_preview);
	return g_test_run();
}
