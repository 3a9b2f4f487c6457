/*
 * RFC 7162 parameters (SELECT/EXAMINE, FETCH and STORE modifiers): every
 * vector fed to the real command parser whole, byte by byte and split at
 * every offset must give the same answer.
 */
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "imap_modseq.h"

static char mem[16384];
static char sub_mem[16384];

static void set_str(GString *s, const char *name, const struct imap_seqset *q)
{
	unsigned i;

	if (q->n == 0)
		return;
	g_string_append_printf(s, " %s=", name);
	for (i = 0; i < q->n; i++)
		g_string_append_printf(s, "%s%u:%u", i ? "," : "", q->r[i].lo,
				       q->r[i].hi);
}

/* what the session would make of one complete command */
static char *describe(const struct imap_cmd *cmd)
{
	GString *s = g_string_new(NULL);
	struct imap_arena sub;
	const char *err = NULL;
	const struct imap_arg *a = cmd->args;

	imap_arena_init(&sub, sub_mem, sizeof(sub_mem));
	if (g_ascii_strcasecmp(cmd->name, "SELECT") == 0) {
		struct imap_select_params p;

		if (imap_select_params_parse(a != NULL ? a->next : NULL, &sub,
					     &p, &err) < 0) {
			g_string_append_printf(s, "BAD %s", err);
		} else {
			g_string_append_printf(s, "cs=%d qr=%d", p.condstore,
					       p.qresync);
			if (p.qresync)
				g_string_append_printf(
					s, " v=%u m=%llu", p.uidvalidity,
					(unsigned long long)p.modseq);
			set_str(s, "known", &p.known_uids);
			set_str(s, "seqs", &p.match_seqs);
			set_str(s, "uids", &p.match_uids);
		}
	} else if (g_ascii_strcasecmp(cmd->name, "FETCH") == 0) {
		struct imap_fetch_mods m;

		a = a != NULL && a->next != NULL ? a->next->next : NULL;
		if (imap_fetch_mods_parse(a, &m, &err) < 0)
			g_string_append_printf(s, "BAD %s", err);
		else
			g_string_append_printf(
				s, "since=%llu vanished=%d",
				(unsigned long long)m.changedsince, m.vanished);
	} else {
		uint64_t u = 0;

		a = a != NULL ? a->next : NULL;
		if (imap_store_mods_parse(a, &u, &err) < 0)
			g_string_append_printf(s, "BAD %s", err);
		else
			g_string_append_printf(s, "unchanged=%llu",
					       (unsigned long long)u);
	}
	return g_string_free(s, FALSE);
}

/* feed `line` in pieces of `step` bytes (0: whole, or split at `at`) */
static char *run(const char *line, size_t step, size_t at)
{
	struct imap_parser_limits lim = {
		.max_line = 8192,
		.max_literal = 1024,
		.max_literals = 4,
		.max_depth = 8,
	};
	struct imap_arena arena;
	struct imap_parser p;
	size_t len = strlen(line), off = 0;
	char *out = NULL;

	imap_arena_init(&arena, mem, sizeof(mem));
	imap_parser_init(&p, &arena, &lim);
	while (off < len && out == NULL) {
		size_t piece = step == 0
				       ? (at != 0 && off < at ? at : len) - off
				       : step,
		       used, o = 0;

		if (piece > len - off)
			piece = len - off;
		while (o < piece && out == NULL) {
			int rc = imap_parse(&p, line + off + o, piece - o,
					    &used);

			o += used;
			if (rc == IMAP_PARSE_NEED_CONTINUATION)
				imap_parser_literal_accept(&p);
			else if (rc == IMAP_PARSE_OK)
				out = describe(&p.cmd);
			else if (rc == IMAP_PARSE_BAD)
				out = g_strdup_printf("PARSE %s", p.error);
			else if (rc == IMAP_PARSE_AGAIN)
				break;
		}
		off += piece;
	}
	return out != NULL ? out : g_strdup("INCOMPLETE");
}

static void check(const char *line, const char *want)
{
	char *whole = run(line, 0, 0), *got;
	size_t k, len = strlen(line);

	g_assert_cmpstr(whole, ==, want);
	got = run(line, 1, 0);
	g_assert_cmpstr(got, ==, want);
	g_free(got);
	for (k = 1; k < len; k++) {
		got = run(line, 0, k);
		if (strcmp(got, want) != 0)
			g_test_message("split at %zu", k);
		g_assert_cmpstr(got, ==, want);
		g_free(got);
	}
	g_free(whole);
}

static void test_select(void)
{
	check("a SELECT INBOX\r\n", "cs=0 qr=0");
	check("a SELECT INBOX (CONDSTORE)\r\n", "cs=1 qr=0");
	check("a SELECT INBOX (condstore)\r\n", "cs=1 qr=0");
	check("a SELECT INBOX ()\r\n", "cs=0 qr=0");
	check("a SELECT INBOX (QRESYNC (67890007 20050715194045000 "
	      "41,43:211,214:541))\r\n",
	      "cs=1 qr=1 v=67890007 m=20050715194045000 "
	      "known=41:41,43:211,214:541");
	check("a SELECT INBOX (QRESYNC (67890007 90060115194045000 "
	      "41:211,214:541 (1:10 500:509)))\r\n",
	      "cs=1 qr=1 v=67890007 m=90060115194045000 known=41:211,214:541 "
	      "seqs=1:10 uids=500:509");
	/* seq-match without known-uids */
	check("a SELECT INBOX (QRESYNC (1 1 (1,2 7,9)))\r\n",
	      "cs=1 qr=1 v=1 m=1 seqs=1:2 uids=7:7,9:9");
	check("a SELECT INBOX (CONDSTORE QRESYNC (4294967295 "
	      "9223372036854775807))\r\n",
	      "cs=1 qr=1 v=4294967295 m=9223372036854775807");
	check("a SELECT INBOX (QRESYNC ({1}\r\n1 2))\r\n",
	      "BAD Invalid QRESYNC UIDVALIDITY");
	check("a SELECT INBOX (CONDSTORE CONDSTORE)\r\n",
	      "BAD CONDSTORE given twice");
	check("a SELECT INBOX (QRESYNC (1 1) QRESYNC (1 1))\r\n",
	      "BAD QRESYNC given twice");
	check("a SELECT INBOX CONDSTORE\r\n", "BAD Invalid SELECT parameters");
	check("a SELECT INBOX (CONDSTORE) x\r\n",
	      "BAD Invalid SELECT parameters");
	check("a SELECT INBOX (FOO)\r\n", "BAD Unknown SELECT parameter");
	check("a SELECT INBOX (QRESYNC)\r\n",
	      "BAD QRESYNC needs a parameter list");
	check("a SELECT INBOX (QRESYNC 1)\r\n",
	      "BAD QRESYNC needs a parameter list");
	check("a SELECT INBOX (QRESYNC ())\r\n",
	      "BAD Invalid QRESYNC UIDVALIDITY");
	check("a SELECT INBOX (QRESYNC (0 1))\r\n",
	      "BAD Invalid QRESYNC UIDVALIDITY");
	check("a SELECT INBOX (QRESYNC (4294967296 1))\r\n",
	      "BAD Invalid QRESYNC UIDVALIDITY");
	check("a SELECT INBOX (QRESYNC (00000000001 1))\r\n",
	      "BAD Invalid QRESYNC UIDVALIDITY");
	check("a SELECT INBOX (QRESYNC (1))\r\n",
	      "BAD Invalid QRESYNC mod-sequence");
	check("a SELECT INBOX (QRESYNC (1 0))\r\n",
	      "BAD Invalid QRESYNC mod-sequence");
	check("a SELECT INBOX (QRESYNC (1 9223372036854775808))\r\n",
	      "BAD Invalid QRESYNC mod-sequence");
	check("a SELECT INBOX (QRESYNC (1 18446744073709551617))\r\n",
	      "BAD Invalid QRESYNC mod-sequence");
	check("a SELECT INBOX (QRESYNC (1 \"1\"))\r\n",
	      "BAD Invalid QRESYNC mod-sequence");
	check("a SELECT INBOX (QRESYNC (1 1 1:*))\r\n",
	      "BAD Invalid QRESYNC known UIDs");
	check("a SELECT INBOX (QRESYNC (1 1 0))\r\n",
	      "BAD Invalid QRESYNC known UIDs");
	check("a SELECT INBOX (QRESYNC (1 1 x))\r\n",
	      "BAD Invalid QRESYNC known UIDs");
	check("a SELECT INBOX (QRESYNC (1 1 1:5 (1:2 3)))\r\n",
	      "BAD Invalid QRESYNC sequence match");
	check("a SELECT INBOX (QRESYNC (1 1 1:5 (1:2)))\r\n",
	      "BAD Invalid QRESYNC sequence match");
	check("a SELECT INBOX (QRESYNC (1 1 1:5 (1 2 3)))\r\n",
	      "BAD Invalid QRESYNC sequence match");
	check("a SELECT INBOX (QRESYNC (1 1 1:5 (* 2)))\r\n",
	      "BAD Invalid QRESYNC sequence match");
	check("a SELECT INBOX (QRESYNC (1 1 1:5 (1 1) 7))\r\n",
	      "BAD Too many QRESYNC parameters");
	check("a SELECT INBOX (QRESYNC (1 1 1:5 1:5))\r\n",
	      "BAD Invalid QRESYNC sequence match");
}

static void test_fetch(void)
{
	check("a FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)\r\n",
	      "since=12345 vanished=0");
	check("a FETCH 300:500 (FLAGS) (vanished changedsince 1)\r\n",
	      "since=1 vanished=1");
	check("a FETCH 1 FLAGS (CHANGEDSINCE 9223372036854775807)\r\n",
	      "since=9223372036854775807 vanished=0");
	check("a FETCH 1 FLAGS (CHANGEDSINCE 0)\r\n",
	      "BAD Invalid CHANGEDSINCE value");
	check("a FETCH 1 FLAGS (CHANGEDSINCE)\r\n",
	      "BAD Invalid CHANGEDSINCE value");
	check("a FETCH 1 FLAGS (CHANGEDSINCE 1x)\r\n",
	      "BAD Invalid CHANGEDSINCE value");
	check("a FETCH 1 FLAGS (CHANGEDSINCE 99999999999999999999)\r\n",
	      "BAD Invalid CHANGEDSINCE value");
	check("a FETCH 1 FLAGS (CHANGEDSINCE (1))\r\n",
	      "BAD Invalid CHANGEDSINCE value");
	check("a FETCH 1 FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)\r\n",
	      "BAD CHANGEDSINCE given twice");
	check("a FETCH 1 FLAGS (CHANGEDSINCE 1 VANISHED VANISHED)\r\n",
	      "BAD VANISHED given twice");
	check("a FETCH 1 FLAGS (VANISHED)\r\n",
	      "BAD VANISHED needs CHANGEDSINCE");
	check("a FETCH 1 FLAGS ()\r\n", "BAD Invalid FETCH modifiers");
	check("a FETCH 1 FLAGS CHANGEDSINCE\r\n",
	      "BAD Invalid FETCH modifiers");
	check("a FETCH 1 FLAGS (FOO 1)\r\n", "BAD Unknown FETCH modifier");
}

static void test_store(void)
{
	check("a STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT "
	      "(\\Deleted)\r\n",
	      "unchanged=320162338");
	check("a STORE 1 (unchangedsince 0) FLAGS ()\r\n", "unchanged=0");
	check("a STORE 1 (UNCHANGEDSINCE) FLAGS ()\r\n",
	      "BAD Invalid STORE modifiers");
	check("a STORE 1 (UNCHANGEDSINCE -1) FLAGS ()\r\n",
	      "BAD Invalid UNCHANGEDSINCE value");
	check("a STORE 1 (UNCHANGEDSINCE 9223372036854775808) FLAGS ()\r\n",
	      "BAD Invalid UNCHANGEDSINCE value");
	check("a STORE 1 (UNCHANGEDSINCE NIL) FLAGS ()\r\n",
	      "BAD Invalid UNCHANGEDSINCE value");
	check("a STORE 1 (UNCHANGEDSINCE 1 2) FLAGS ()\r\n",
	      "BAD Invalid STORE modifiers");
	check("a STORE 1 (FOO 1) FLAGS ()\r\n", "BAD Unknown STORE modifier");
	check("a STORE 1 FLAGS ()\r\n", "BAD Invalid STORE modifiers");
}

/* every byte value as the modseq's first character: only digits pass */
static void test_bytes(void)
{
	int c;

	for (c = 1; c < 256; c++) {
		char line[64];
		char *got;

		if (c == '\r' || c == '\n' || c == ' ' || c == '(' ||
		    c == ')' || c == '{' || c == '"' || c == '\\' || c == '%' ||
		    c == '*' || c == ']')
			continue;
		snprintf(line, sizeof(line),
			 "a FETCH 1 FLAGS (CHANGEDSINCE %c5)\r\n", c);
		got = run(line, 0, 0);
		if (c >= '1' && c <= '9') {
			char want[64];

			snprintf(want, sizeof(want), "since=%c5 vanished=0", c);
			g_assert_cmpstr(got, ==, want);
		} else if (c == '0') {
			g_assert_cmpstr(got, ==, "since=5 vanished=0");
		} else if (!g_str_has_prefix(got, "PARSE ")) {
			g_assert_cmpstr(got, ==,
					"BAD Invalid CHANGEDSINCE value");
		}
		g_free(got);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/modseq/select", test_select);
	g_test_add_func("/imap/modseq/fetch", test_fetch);
	g_test_add_func("/imap/modseq/store", test_store);
	g_test_add_func("/imap/modseq/bytes", test_bytes);
	return g_test_run();
}
