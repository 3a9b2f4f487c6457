/* IMAP command parser: every vector whole, byte by byte and split at
 * every offset must give the same transcript. */
#include <glib.h>
#include <stdbool.h>
#include <string.h>

#include "imap_parser.h"

#define ARENA_SIZE 4096

struct run {
	struct imap_parser p;
	struct imap_arena arena;
	char mem[ARENA_SIZE];
	GString *out;
	GString *stream;
	int refuse; /* refuse synchronizing literals */
	int closed;
};

static struct imap_parser_limits default_limits(void)
{
	struct imap_parser_limits lim = {
		.max_line = 200,
		.max_literal = 1000,
		.max_literals = 3,
		.max_depth = 4,
		.stream_append = 1,
	};
	return lim;
}

static void describe_args(GString *out, const struct imap_arg *a)
{
	size_t i;

	for (; a != NULL; a = a->next) {
		switch (a->type) {
		case IMAP_ARG_ATOM:
			g_string_append(out, a->str);
			break;
		case IMAP_ARG_NIL:
			g_string_append_printf(out, "NIL<%s>", a->str);
			break;
		case IMAP_ARG_QUOTED:
			g_string_append_printf(out, "\"%s\"", a->str);
			break;
		case IMAP_ARG_LITERAL:
			if (a->streamed) {
				g_string_append_printf(out, "%s{%zu*}",
						       a->literal8 ? "~" : "",
						       a->len);
				break;
			}
			g_string_append_printf(out, "{%zu%s}", a->len,
					       a->nonsync ? "+" : "");
			for (i = 0; i < a->len; i++)
				g_string_append_c(out, a->str[i]);
			break;
		case IMAP_ARG_LIST:
			g_string_append_c(out, '(');
			describe_args(out, a->list);
			g_string_append_c(out, ')');
			break;
		}
		if (a->next != NULL)
			g_string_append_c(out, ' ');
	}
}

static void flush_stream(struct run *r)
{
	size_t i;

	if (r->stream->len == 0)
		return;
	g_string_append_printf(r->out, "DATA[");
	for (i = 0; i < r->stream->len; i++) {
		unsigned char c = r->stream->str[i];

		if (c < 0x20)
			g_string_append_printf(r->out, "\\%02x", c);
		else
			g_string_append_c(r->out, c);
	}
	g_string_append(r->out, "]|");
	g_string_truncate(r->stream, 0);
}

static void run_init(struct run *r, const struct imap_parser_limits *lim)
{
	memset(r, 0, sizeof(*r));
	imap_arena_init(&r->arena, r->mem, sizeof(r->mem));
	imap_parser_init(&r->p, &r->arena, lim);
	r->out = g_string_new(NULL);
	r->stream = g_string_new(NULL);
}

static char *run_free(struct run *r)
{
	flush_stream(r);
	g_string_free(r->stream, TRUE);
	return g_string_free(r->out, FALSE);
}

static void feed(struct run *r, const char *data, size_t len)
{
	size_t off = 0, used;
	int rc, guard = 0;

	while (!r->closed && (off < len || guard == 0)) {
		g_assert_cmpint(++guard, <, 100000);
		rc = imap_parse(&r->p, data + off, len - off, &used);
		g_assert_cmpuint(used, <=, len - off);
		off += used;
		if (rc != IMAP_PARSE_LITERAL_CHUNK)
			flush_stream(r);
		switch (rc) {
		case IMAP_PARSE_AGAIN:
			g_assert_cmpuint(off, ==, len);
			return;
		case IMAP_PARSE_OK:
			g_string_append_printf(r->out, "OK %s %s", r->p.cmd.tag,
					       r->p.cmd.name);
			if (r->p.cmd.args != NULL) {
				g_string_append_c(r->out, ' ');
				describe_args(r->out, r->p.cmd.args);
			}
			g_string_append_c(r->out, '|');
			break;
		case IMAP_PARSE_NEED_CONTINUATION:
			g_string_append_printf(r->out,
					       "+%" G_GUINT64_FORMAT "|",
					       r->p.literal_size);
			if (r->refuse)
				imap_parser_literal_refuse(&r->p);
			else
				imap_parser_literal_accept(&r->p);
			break;
		case IMAP_PARSE_LITERAL_CHUNK:
			g_assert_cmpuint(r->p.chunk_len, >, 0);
			g_string_append_len(r->stream, r->p.chunk,
					    r->p.chunk_len);
			if (r->p.chunk_last)
				flush_stream(r);
			break;
		case IMAP_PARSE_BAD:
		case IMAP_PARSE_TOOBIG:
		case IMAP_PARSE_CLOSE:
			g_string_append_printf(
				r->out, "%s %s: %s|", imap_parse_result_str(rc),
				r->p.cmd.tag ? r->p.cmd.tag : "*", r->p.error);
			if (rc == IMAP_PARSE_CLOSE)
				r->closed = 1;
			break;
		default:
			g_assert_not_reached();
		}
	}
}

/* Split points: none, one, or every byte (split == 0 means bytewise). */
static char *transcript(const char *in, size_t len, int mode, size_t split,
			const struct imap_parser_limits *lim, int refuse)
{
	struct run r;
	size_t i;

	run_init(&r, lim);
	r.refuse = refuse;
	if (mode == 0) {
		feed(&r, in, len);
	} else if (mode == 1) {
		for (i = 0; i < len; i++)
			feed(&r, in + i, 1);
	} else {
		feed(&r, in, split);
		feed(&r, in + split, len - split);
	}
	return run_free(&r);
}

static void check_vector_lim(const char *in, size_t len, const char *want,
			     const struct imap_parser_limits *lim, int refuse)
{
	char *got;
	size_t k;

	got = transcript(in, len, 0, 0, lim, refuse);
	g_assert_cmpstr(got, ==, want);
	g_free(got);
	got = transcript(in, len, 1, 0, lim, refuse);
	g_assert_cmpstr(got, ==, want);
	g_free(got);
	for (k = 0; k <= len; k++) {
		got = transcript(in, len, 2, k, lim, refuse);
		if (g_strcmp0(got, want) != 0)
			g_test_message("split at %zu", k);
		g_assert_cmpstr(got, ==, want);
		g_free(got);
	}
}

static void check_vector_n(const char *in, size_t len, const char *want)
{
	struct imap_parser_limits lim = default_limits();

	check_vector_lim(in, len, want, &lim, 0);
}

/* string literals only: they may hold NULs */
#define check_vector(in, want) check_vector_n(in, sizeof(in) - 1, want)

static void test_simple(void)
{
	check_vector("a1 NOOP\r\n", "OK a1 NOOP|");
	check_vector("a1 noop\n", "OK a1 noop|");
	check_vector("\r\n\r\nx CAPABILITY\r\n", "OK x CAPABILITY|");
	check_vector("a LOGIN user \"pa ss\"\r\nb LOGOUT\r\n",
		     "OK a LOGIN user \"pa ss\"|OK b LOGOUT|");
	check_vector("a SELECT NIL nil\r\n", "OK a SELECT NIL<NIL> NIL<nil>|");
	check_vector("a LOGIN \"q\\\"x\\\\y\" \"\"\r\n",
		     "OK a LOGIN \"q\"x\\y\" \"\"|");
	check_vector("a STORE 1:* +FLAGS.SILENT (\\Seen \\Deleted $Junk)\r\n",
		     "OK a STORE 1:* +FLAGS.SILENT (\\Seen \\Deleted $Junk)|");
	check_vector("a LIST \"\" *\r\nb LIST \"\" %/x\r\n",
		     "OK a LIST \"\" *|OK b LIST \"\" %/x|");
	check_vector("a SELECT [Gmail]/Sent\r\n", "OK a SELECT [Gmail]/Sent|");
	check_vector("a X (() (a (b)))\r\n", "OK a X (() (a (b)))|");
	check_vector("a X caf\xc3\xa9 \"\xc3\xa9\"\r\n",
		     "OK a X caf\xc3\xa9 \"\xc3\xa9\"|");
}

static void test_fetch_atoms(void)
{
	check_vector("a FETCH 1:3 (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]"
		     "<0.100> BODY[1.2.MIME])\r\n",
		     "OK a FETCH 1:3 (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]"
		     "<0.100> BODY[1.2.MIME])|");
	check_vector("a UID FETCH 1 BODY[]\r\n", "OK a UID FETCH 1 BODY[]|");
	check_vector("a FETCH 1 BODY[HEADER.FIELDS (\"X\" Y)\r\n",
		     "BAD a: Unterminated '[' in atom|");
	check_vector("a FETCH 1 BODY[a[b]]\r\nb NOOP\r\n",
		     "BAD a: Nested '[' in atom|OK b NOOP|");
}

static void test_literals(void)
{
	check_vector("a LOGIN {4}\r\nuser {2}\r\npw\r\n",
		     "+4|+2|OK a LOGIN {4}user {2}pw|");
	check_vector("a LOGIN {4+}\r\nuser {2+}\r\npw\r\n",
		     "OK a LOGIN {4+}user {2+}pw|");
	check_vector("a LOGIN {0}\r\n {0+}\r\n\r\n", "+0|OK a LOGIN {0} {0+}|");
	check_vector("a X ({3}\r\nabc x)\r\n", "+3|OK a X ({3}abc x)|");
	check_vector("a X {3}\r\na\r\n\r\n", "+3|OK a X {3}a\r\n|");
	/* literal data is not a line: CRLF and "{9}" inside are data */
	check_vector("a X {5+}\r\n{9}\r\n\r\nb NOOP\r\n",
		     "OK a X {5+}{9}\r\n|OK b NOOP|");
}

static void test_append_stream(void)
{
	check_vector("a APPEND INBOX (\\Seen) {11}\r\nhello\0world\r\n",
		     "+11|DATA[hello\\00world]|OK a APPEND INBOX (\\Seen) "
		     "{11*}|");
	check_vector("a APPEND INBOX {3+}\r\nabc\r\nb NOOP\r\n",
		     "DATA[abc]|OK a APPEND INBOX {3*}|OK b NOOP|");
	/* the mailbox name is not message data */
	check_vector("a APPEND {5+}\r\nINBOX {2+}\r\nhi\r\n",
		     "DATA[hi]|OK a APPEND {5+}INBOX {2*}|");
	/* MULTIAPPEND-style: two messages */
	check_vector("a APPEND x {1+}\r\n1 {1+}\r\n2\r\n",
		     "DATA[1]|DATA[2]|OK a APPEND x {1*} {1*}|");
	/* RFC 3502's example: flags and a date before each message */
	check_vector("A003 APPEND saved-messages (\\Seen) {3}\r\nabc "
		     "(\\Seen) \" 7-Feb-1994 22:43:04 -0800\" {2}\r\nde "
		     "{1+}\r\nf\r\n",
		     "+3|DATA[abc]|+2|DATA[de]|DATA[f]|OK A003 APPEND "
		     "saved-messages (\\Seen) {3*} (\\Seen) \" 7-Feb-1994 "
		     "22:43:04 -0800\" {2*} {1*}|");
	check_vector("a APPEND x {0}\r\n\r\n", "+0|OK a APPEND x {0*}|");
}

/* RFC 3516 literal8: APPEND message data only, NULs and all */
static void test_append_literal8(void)
{
	check_vector("a APPEND INBOX ~{5}\r\nhe\0lo\r\n",
		     "+5|DATA[he\\00lo]|OK a APPEND INBOX ~{5*}|");
	check_vector("a APPEND INBOX (\\Seen) ~{3+}\r\nabc\r\nb NOOP\r\n",
		     "DATA[abc]|OK a APPEND INBOX (\\Seen) ~{3*}|OK b NOOP|");
	/* MULTIAPPEND: each message its own kind of literal */
	check_vector("a APPEND x {1+}\r\n1 ~{1+}\r\n\0\r\n",
		     "DATA[1]|DATA[\\00]|OK a APPEND x {1*} ~{1*}|");
	check_vector("a APPEND x ~{0}\r\n\r\n", "+0|OK a APPEND x ~{0*}|");
	/* not the mailbox name, not inside a list, not another command */
	check_vector("a APPEND ~{5+}\r\nINBOX {2+}\r\nhi\r\nb NOOP\r\n",
		     "BAD a: literal8 is only for APPEND messages|OK b NOOP|");
	check_vector("a APPEND x (~{1+}\r\nz) {1+}\r\nq\r\nb NOOP\r\n",
		     "BAD a: literal8 is only for APPEND messages|OK b NOOP|");
	check_vector("a SELECT ~{1+}\r\nz\r\nb NOOP\r\n",
		     "BAD a: literal8 is only for APPEND messages|OK b NOOP|");
	/* "~{" with a bad size is a bad literal */
	check_vector("a APPEND x ~{z}\r\nb NOOP\r\n",
		     "BAD a: Invalid literal size|OK b NOOP|");
}

/* RFC 6855 4: APPEND's "UTF8 (" literal8 ")" message data, streamed */
static void test_append_utf8(void)
{
	check_vector("a APPEND x UTF8 (~{4}\r\n\xc3\xa9\0z)\r\n",
		     "+4|DATA[\xc3\xa9\\00z]|OK a APPEND x UTF8 (~{4*})|");
	check_vector("a APPEND x (\\Seen) \"1-Jan-2020 00:00:00 +0000\" "
		     "utf8 (~{2+}\r\nab)\r\nb NOOP\r\n",
		     "DATA[ab]|OK a APPEND x (\\Seen) "
		     "\"1-Jan-2020 00:00:00 +0000\" utf8 (~{2*})|OK b NOOP|");
	/* MULTIAPPEND: UTF8 and plain messages mixed */
	check_vector("a APPEND x UTF8 (~{1+}\r\n1) {1+}\r\n2 "
		     "(\\Seen) UTF8 (~{1+}\r\n3)\r\n",
		     "DATA[1]|DATA[2]|DATA[3]|OK a APPEND x UTF8 (~{1*}) {1*} "
		     "(\\Seen) UTF8 (~{1*})|");
	/* a plain literal streams too: the command refuses it */
	check_vector("a APPEND x UTF8 ({2+}\r\nab)\r\n",
		     "DATA[ab]|OK a APPEND x UTF8 ({2*})|");
	/* only the first thing in the list; a second literal is kept */
	check_vector("a APPEND x UTF8 (~{1+}\r\nq {1+}\r\nr)\r\n",
		     "DATA[q]|OK a APPEND x UTF8 (~{1*} {1+}r)|");
	check_vector("a APPEND x UTF8 (y ~{1+}\r\nq)\r\nb NOOP\r\n",
		     "BAD a: literal8 is only for APPEND messages|OK b NOOP|");
	/* a mailbox named UTF8 is no marker; nor is UTF8 elsewhere */
	check_vector("a APPEND UTF8 (~{1+}\r\nq)\r\nb NOOP\r\n",
		     "BAD a: literal8 is only for APPEND messages|OK b NOOP|");
	check_vector("a APPEND x UTF8 ((~{1+}\r\nq))\r\nb NOOP\r\n",
		     "BAD a: literal8 is only for APPEND messages|OK b NOOP|");
	check_vector("a SELECT x UTF8 (~{1+}\r\nq)\r\nb NOOP\r\n",
		     "BAD a: literal8 is only for APPEND messages|OK b NOOP|");
	/* the marker is per command */
	check_vector("a APPEND x UTF8 (~{1+}\r\nq)\r\nb X (~{1+}\r\nq)\r\n",
		     "DATA[q]|OK a APPEND x UTF8 (~{1*})|"
		     "BAD b: literal8 is only for APPEND messages|");
}

static void test_append_chunks(void)
{
	struct imap_parser_limits lim = default_limits();
	struct run r;
	const char *in = "a APPEND x {10+}\r\n0123456789\r\n";
	size_t chunks = 0, total = 0, off = 0, used;
	int rc;

	/* the data comes back in slices of the caller's buffer, no copy */
	run_init(&r, &lim);
	while (off < strlen(in)) {
		size_t n = MIN((size_t)3, strlen(in) - off);
		size_t o = 0;

		while (o < n) {
			rc = imap_parse(&r.p, in + off + o, n - o, &used);
			if (rc == IMAP_PARSE_LITERAL_CHUNK) {
				g_assert_true(r.p.chunk >= in + off + o);
				g_assert_true(r.p.chunk + r.p.chunk_len <=
					      in + off + n);
				chunks++;
				total += r.p.chunk_len;
			}
			o += used;
			if (rc == IMAP_PARSE_AGAIN)
				break;
		}
		off += n;
	}
	g_assert_cmpuint(total, ==, 10);
	g_assert_cmpuint(chunks, >=, 4);
	/* the arena held no message data */
	g_assert_cmpuint(r.arena.used, <, 200);
	g_free(run_free(&r));
}

static void test_continuation(void)
{
	struct imap_parser_limits lim = default_limits();
	struct run r;
	size_t used;
	int rc;

	run_init(&r, &lim);
	rc = imap_parse(&r.p, "a APPEND x {5}\r\nhello\r\n", 23, &used);
	g_assert_cmpint(rc, ==, IMAP_PARSE_NEED_CONTINUATION);
	g_assert_cmpuint(used, ==, 16);
	g_assert_cmpuint(r.p.literal_size, ==, 5);
	g_assert_true(r.p.literal_streamed);
	g_assert_cmpstr(r.p.cmd.tag, ==, "a");
	g_assert_cmpstr(r.p.cmd.name, ==, "APPEND");
	/* the arguments so far are linked for the streaming session */
	g_assert_nonnull(r.p.cmd.args);
	g_assert_cmpuint(r.p.cmd.nargs, ==, 2);
	g_assert_cmpstr(r.p.cmd.args->str, ==, "x");
	g_assert_true(r.p.cmd.args->next->streamed);
	g_assert_cmpuint(r.p.cmd.args->next->len, ==, 5);
	/* not answered: it stays put and consumes nothing */
	rc = imap_parse(&r.p, "hello\r\n", 7, &used);
	g_assert_cmpint(rc, ==, IMAP_PARSE_NEED_CONTINUATION);
	g_assert_cmpuint(used, ==, 0);
	g_free(run_free(&r));

	/* refused (quota, say): the next line is a new command */
	check_vector_lim("a APPEND x {5}\r\nb NOOP\r\n", 24, "+5|OK b NOOP|",
			 &lim, 1);
}

static void test_caps(void)
{
	struct imap_parser_limits lim = default_limits();

	/* synchronizing over the cap: TOOBIG, never invited */
	check_vector("a APPEND x {1001}\r\nb NOOP\r\n",
		     "TOOBIG a: Literal over the size limit|OK b NOOP|");
	check_vector("a LOGIN {99999999999999999999999}\r\nb NOOP\r\n",
		     "TOOBIG a: Literal over the size limit|OK b NOOP|");
	/* non-synchronizing over the cap: BAD and close */
	check_vector("a APPEND x {1001+}\r\nxxxx",
		     "CLOSE a: Non-synchronizing literal over the size limit|");
	/* pre-login cap of 8 KiB */
	lim.max_literal = 8192;
	check_vector_lim("a LOGIN {8193}\r\n", 16,
			 "TOOBIG a: Literal over the size limit|", &lim, 0);
	/* a kept literal must fit the arena (the command size cap) */
	check_vector_lim("a LOGIN {5000+}\r\n", 17, "BAD a: Command too long|",
			 &lim, 0);
	check_vector(
		"a X {1+}\r\n1 {1+}\r\n2 {1+}\r\n3 {1+}\r\n4\r\nb NOOP\r\n",
		"BAD a: Too many literals in one command|OK b NOOP|");
	check_vector("a X {1}\r\n1 {1}\r\n2 {1}\r\n3 {1}\r\nb NOOP\r\n",
		     "+1|+1|+1|BAD a: Too many literals in one command|"
		     "OK b NOOP|");
}

static void test_big_kept_literal(void)
{
	struct imap_parser_limits lim = default_limits();
	GString *in = g_string_new("a LOGIN {3000+}\r\n");
	char *got;

	lim.max_literal = 8192;
	for (int i = 0; i < 3000; i++)
		g_string_append_c(in, 'x');
	g_string_append(in, "\r\nb NOOP\r\n");
	/* 3000 + node fits a 4 KiB arena; 5000 does not: skipped, BAD */
	got = transcript(in->str, in->len, 0, 0, &lim, 0);
	g_assert_true(g_str_has_prefix(got, "OK a LOGIN {3000+}xxx"));
	g_assert_true(g_str_has_suffix(got, "|OK b NOOP|"));
	g_free(got);
	g_string_assign(in, "a LOGIN {5000+}\r\n");
	for (int i = 0; i < 5000; i++)
		g_string_append_c(in, 'x');
	g_string_append(in, " y\r\nb NOOP\r\n");
	check_vector_lim(in->str, in->len, "BAD a: Command too long|OK b NOOP|",
			 &lim, 0);
	g_string_free(in, TRUE);
}

static void test_command_size(void)
{
	struct imap_parser_limits lim = default_limits();
	GString *in = g_string_new("a X");

	/* many small arguments: the arena, not the line, runs out */
	lim.max_line = 1 << 20;
	while (in->len < 3 * ARENA_SIZE)
		g_string_append(in, " (x)");
	g_string_append(in, " {4+}\r\nc X\r\n\r\nb NOOP\r\n");
	check_vector_lim(in->str, in->len, "BAD a: Command too long|OK b NOOP|",
			 &lim, 0);
	g_string_free(in, TRUE);
}

static void test_nesting(void)
{
	check_vector("a X ((((x))))\r\n", "OK a X ((((x))))|");
	check_vector("a X (((((x)))))\r\nb NOOP\r\n",
		     "BAD a: Lists nested too deeply|OK b NOOP|");
	check_vector("a X (x\r\nb NOOP\r\n", "BAD a: Missing ')'|OK b NOOP|");
	check_vector("a X x)\r\nb NOOP\r\n",
		     "BAD a: Unexpected ')'|OK b NOOP|");
}

static void test_invalid(void)
{
	check_vector(" NOOP\r\nb NOOP\r\n", "BAD *: Missing tag|OK b NOOP|");
	check_vector("a\r\nb NOOP\r\n",
		     "BAD a: Missing command name|OK b NOOP|");
	check_vector("a+ NOOP\r\nb NOOP\r\n",
		     "BAD *: Invalid character in tag|OK b NOOP|");
	check_vector("a NO\x01OP\r\nb NOOP\r\n",
		     "BAD a: Invalid character in command name|OK b NOOP|");
	check_vector("a X \"abc\r\nb NOOP\r\n",
		     "BAD a: Unterminated quoted string|OK b NOOP|");
	check_vector("a X \"a\\b\"\r\nb NOOP\r\n",
		     "BAD a: Invalid escape in quoted string|OK b NOOP|");
	check_vector("a X \"a\"b\r\nb NOOP\r\n",
		     "BAD a: Missing space between arguments|OK b NOOP|");
	check_vector("a X {3x}\r\nb NOOP\r\n",
		     "BAD a: Invalid literal size|OK b NOOP|");
	check_vector("a X {}\r\nb NOOP\r\n",
		     "BAD a: Invalid literal size|OK b NOOP|");
	check_vector("a X {3} y\r\nb NOOP\r\n",
		     "BAD a: Literal must end the line|OK b NOOP|");
	check_vector("a X y\rz\r\nb NOOP\r\n",
		     "BAD a: CR without LF|OK b NOOP|");
	check_vector("a X a\x7f\r\nb NOOP\r\n",
		     "BAD a: Invalid character in atom|OK b NOOP|");
	check_vector("a X ~{3}\r\nb NOOP\r\n",
		     "BAD a: literal8 is only for APPEND messages|OK b NOOP|");
	check_vector("a X x~{3}\r\nb NOOP\r\n",
		     "BAD a: Invalid character in atom|OK b NOOP|");
}

/*
 * RFC 3501 9: literal8 is "~{", so "~" on its own (or followed by any
 * other ATOM-CHAR) is an atom; "[" opens a section only after the
 * fetch attributes that take one, elsewhere it is an ATOM-CHAR.
 */
static void test_atom_specials(void)
{
	check_vector("a SELECT ~\r\n", "OK a SELECT ~|");
	check_vector("a SELECT ~y x~y ~~\r\n", "OK a SELECT ~y x~y ~~|");
	check_vector("a X ~{3}\r\nb NOOP\r\n",
		     "BAD a: literal8 is only for APPEND messages|OK b NOOP|");
	check_vector("a SELECT x[y\r\n", "OK a SELECT x[y|");
	check_vector("a SELECT [y\r\n", "OK a SELECT [y|");
	check_vector("a STORE 1 +FLAGS (a[b c)\r\n",
		     "OK a STORE 1 +FLAGS (a[b c)|");
	check_vector("a SEARCH KEYWORD k[ SUBJECT s[\r\n",
		     "OK a SEARCH KEYWORD k[ SUBJECT s[|");
	check_vector("a UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (A B)] "
		     "binary.peek[1]<0.5> BINARY.SIZE[1] body[])\r\n",
		     "OK a UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (A B)] "
		     "binary.peek[1]<0.5> BINARY.SIZE[1] body[])|");
}

/* one argument, parsed alone; r is freed with run_free */
static const struct imap_arg *one_arg(struct run *r, const char *arg)
{
	struct imap_parser_limits lim = default_limits();
	char *line = g_strdup_printf("a X %s\r\n", arg);
	size_t used;

	run_init(r, &lim);
	g_assert_cmpint(imap_parse(&r->p, line, strlen(line), &used), ==,
			IMAP_PARSE_OK);
	g_free(line);
	g_assert_nonnull(r->p.cmd.args);
	return r->p.cmd.args;
}

/*
 * Every printable byte inside an atom: the tokenizer keeps everything
 * but ( ) { " and SP, and the grammar helpers then apply RFC 3501's
 * classes: ASTRING-CHAR is ATOM-CHAR or "]"; "%" and "*" only in
 * list-mailbox; "\" never.
 */
static void test_astring_chars(void)
{
	struct run r;
	int c;

	for (c = 0x21; c < 0x7f; c++) {
		char arg[4] = {'x', (char)c, 'y', '\0'};
		const struct imap_arg *a;
		bool want = strchr("%*\\", c) == NULL;

		if (strchr("(){\"", c) != NULL)
			continue;
		a = one_arg(&r, arg);
		g_assert_cmpint(a->type, ==, IMAP_ARG_ATOM);
		g_assert_cmpstr(a->str, ==, arg);
		if (!!imap_arg_is_astring(a) != want)
			g_test_message("byte 0x%02x", c);
		g_assert_cmpint(!!imap_arg_is_astring(a), ==, want);
		/* atom (flag keywords): no "]" either */
		g_assert_cmpint(!!imap_arg_is_atom(a), ==, want && c != ']');
		/* list-mailbox (LIST patterns): "%" and "*" too */
		g_assert_cmpint(!!imap_arg_is_list_mailbox(a), ==, c != '\\');
		g_free(run_free(&r));
	}
	/* NIL is an atom like any other where an astring is wanted */
	{
		const struct imap_arg *a = one_arg(&r, "NIL");

		g_assert_cmpint(a->type, ==, IMAP_ARG_NIL);
		g_assert_true(imap_arg_is_astring(a));
		g_assert_true(imap_arg_is_atom(a));
		g_free(run_free(&r));
	}
	{
		const struct imap_arg *a = one_arg(&r, "\"%*\\\\\" ()");

		g_assert_true(imap_arg_is_astring(a));
		g_assert_true(imap_arg_is_list_mailbox(a));
		g_assert_false(imap_arg_is_atom(a));
		g_assert_false(imap_arg_is_astring(a->next));
		g_free(run_free(&r));
	}
}

static void test_nul(void)
{
	static const char v1[] = "a LOGIN u\0x p\r\nb NOOP\r\n";
	static const char v2[] = "a LOGIN \"u\0\" p\r\nb NOOP\r\n";
	static const char v3[] = "a LOGIN {3+}\r\nu\0x p\r\nb NOOP\r\n";
	static const char v4[] = "a\0 NOOP\r\nb NOOP\r\n";
	struct imap_parser_limits lim = default_limits();

	check_vector_lim(v1, sizeof(v1) - 1,
			 "BAD a: NUL character in command|OK b NOOP|", &lim, 0);
	check_vector_lim(v2, sizeof(v2) - 1,
			 "BAD a: NUL character in command|OK b NOOP|", &lim, 0);
	check_vector_lim(v3, sizeof(v3) - 1,
			 "BAD a: NUL character in literal|OK b NOOP|", &lim, 0);
	check_vector_lim(v4, sizeof(v4) - 1,
			 "BAD *: NUL character in command|OK b NOOP|", &lim, 0);
}

static void test_resync_literals(void)
{
	/* the refused line announces a {n+} literal: its data is skipped,
	 * even when it looks like a command */
	check_vector("a X ~{10+}\r\nc LOGOUT\r\n y\r\nb NOOP\r\n",
		     "BAD a: literal8 is only for APPEND messages|OK b NOOP|");
	check_vector("a X x~{10+}\r\nc LOGOUT\r\n y\r\nb NOOP\r\n",
		     "BAD a: Invalid character in atom|OK b NOOP|");
	check_vector("a X \"\x01\" ) {4+}\r\nc X\n y {2+}\r\nzz\r\nb NOOP\r\n",
		     "BAD a: Unexpected ')'|OK b NOOP|");
	/* a synchronizing one is never sent, as it was never invited */
	check_vector("a X ) {4}\r\nb NOOP\r\n",
		     "BAD a: Unexpected ')'|OK b NOOP|");
	/* a skipped {n+} over the cap still closes */
	check_vector("a X ) {5000+}\r\n",
		     "BAD a: Unexpected ')'|CLOSE *: Non-synchronizing "
		     "literal over the size limit|");
}

static void test_line_length_real(void)
{
	GString *in = g_string_new("a X ");
	struct imap_parser_limits lim = default_limits();
	char *want;

	while (in->len < 198)
		g_string_append_c(in, 'y');
	want = g_strdup_printf("OK a X %s|", in->str + 4);
	g_string_append(in, "\r\n");
	check_vector_lim(in->str, in->len, want, &lim, 0);
	g_free(want);
	g_string_truncate(in, in->len - 2);
	g_string_append(in, "z\r\nb NOOP\r\n");
	check_vector_lim(in->str, in->len, "BAD a: Line too long|OK b NOOP|",
			 &lim, 0);
	/* the count restarts after each literal */
	g_string_assign(in, "a X {3+}\r\nabc ");
	while (in->len < 14 + 190)
		g_string_append_c(in, 'y');
	g_string_append(in, "\r\n");
	want = transcript(in->str, in->len, 0, 0, &lim, 0);
	g_assert_true(g_str_has_prefix(want, "OK a X {3+}abc yyy"));
	g_free(want);
	g_string_free(in, TRUE);
}

static void test_starttls_injection(void)
{
	struct imap_parser_limits lim = default_limits();
	struct run r;
	const char *in = "a STARTTLS\r\nb CAPABILITY\r\n";
	size_t used;
	int rc;

	/* OK stops right after the command: the session sees leftovers */
	run_init(&r, &lim);
	rc = imap_parse(&r.p, in, strlen(in), &used);
	g_assert_cmpint(rc, ==, IMAP_PARSE_OK);
	g_assert_cmpuint(used, ==, 12);
	g_assert_cmpstr(r.p.cmd.name, ==, "STARTTLS");
	g_free(run_free(&r));
}

static void test_dead(void)
{
	struct imap_parser_limits lim = default_limits();
	struct run r;
	size_t used;

	run_init(&r, &lim);
	g_assert_cmpint(imap_parse(&r.p, "a X {9999+}\r\n", 13, &used), ==,
			IMAP_PARSE_CLOSE);
	g_assert_cmpint(imap_parse(&r.p, "b NOOP\r\n", 8, &used), ==,
			IMAP_PARSE_CLOSE);
	g_assert_cmpuint(used, ==, 0);
	g_free(run_free(&r));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/parser/simple", test_simple);
	g_test_add_func("/imap/parser/fetch-atoms", test_fetch_atoms);
	g_test_add_func("/imap/parser/literals", test_literals);
	g_test_add_func("/imap/parser/append-stream", test_append_stream);
	g_test_add_func("/imap/parser/append-literal8", test_append_literal8);
	g_test_add_func("/imap/parser/append-utf8", test_append_utf8);
	g_test_add_func("/imap/parser/append-chunks", test_append_chunks);
	g_test_add_func("/imap/parser/continuation", test_continuation);
	g_test_add_func("/imap/parser/caps", test_caps);
	g_test_add_func("/imap/parser/big-kept-literal", test_big_kept_literal);
	g_test_add_func("/imap/parser/nesting", test_nesting);
	g_test_add_func("/imap/parser/command-size", test_command_size);
	g_test_add_func("/imap/parser/invalid", test_invalid);
	g_test_add_func("/imap/parser/atom-specials", test_atom_specials);
	g_test_add_func("/imap/parser/astring-chars", test_astring_chars);
	g_test_add_func("/imap/parser/nul", test_nul);
	g_test_add_func("/imap/parser/resync-literals", test_resync_literals);
	g_test_add_func("/imap/parser/line-length", test_line_length_real);
	g_test_add_func("/imap/parser/starttls-injection",
			test_starttls_injection);
	g_test_add_func("/imap/parser/dead", test_dead);
	return g_test_run();
}
