/*
 * libFuzzer harness for METADATA (RFC 5464): the input is one command
 * line ("GETMETADATA ..." or "SETMETADATA ..." after the tag; literals
 * accepted), fed through the command parser and the METADATA argument
 * parsers.  Checked: every accepted entry name obeys the entry rules
 * (prefix, no "*", "%", controls, 8-bit, "//" or final "/",
 * lower-case, length) and is accepted again as it is; values point
 * into their argument; DEPTH matching is consistent (an entry names
 * itself, depth 0 only itself, a deeper depth at least as much).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_metadata.h"

static char mem[64 * 1024];
static char sub_mem[64 * 1024];
static char again_mem[RMAIL_META_NAME_MAX + 64];
static char line[16384 + 32];

static void check(int cond)
{
	if (!cond)
		abort();
}

static void check_entry(const char *e, bool whole)
{
	struct imap_arena a;
	const char *why = NULL, *again;
	size_t i, n = strlen(e);

	check(n > 0 && n <= RMAIL_META_NAME_MAX);
	check(strncmp(e, "/private", 8) == 0 || strncmp(e, "/shared", 7) == 0);
	check(e[n - 1] != '/' && strstr(e, "//") == NULL);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)e[i];

		check(c >= 0x20 && c < 0x7f && c != '*' && c != '%');
		check(!(c >= 'A' && c <= 'Z'));
	}
	if (!whole)
		check(strchr(e + 1, '/') != NULL);
	imap_arena_init(&a, again_mem, sizeof(again_mem));
	again = imap_meta_entry(e, n, whole, &a, &why);
	check(again != NULL && strcmp(again, e) == 0);
	check(imap_meta_match(e, e, IMAP_META_DEPTH_0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser_limits lim = {
		.max_line = 16384,
		.max_literal = 4096,
		.max_literals = 8,
		.max_depth = 16,
	};
	static struct imap_meta_get g;
	static struct imap_meta_set st;
	struct imap_arena arena, sub;
	struct imap_parser p;
	const char *why = NULL;
	size_t len, used, i, k;
	int rc;

	if (size == 0)
		return 0;
	len = size - 1 > 16384 ? 16384 : size - 1;
	memcpy(line, data[0] & 1 ? "a SETMETADATA " : "a GETMETADATA ", 14);
	memcpy(line + 14, data + 1, len);
	len += 14;
	memcpy(line + len, "\r\n", 2);
	len += 2;
	imap_arena_init(&arena, mem, sizeof(mem));
	imap_parser_init(&p, &arena, &lim);
	rc = imap_parse(&p, line, len, &used);
	while (rc == IMAP_PARSE_NEED_CONTINUATION) {
		imap_parser_literal_accept(&p);
		len -= used;
		memmove(line, line + used, len);
		rc = imap_parse(&p, line, len, &used);
	}
	if (rc != IMAP_PARSE_OK)
		return 0;
	imap_arena_init(&sub, sub_mem, sizeof(sub_mem));
	if (data[0] & 1) {
		if (imap_meta_parse_set(p.cmd.args, &sub, &st, &why) < 0) {
			check(why != NULL);
			return 0;
		}
		check(st.mailbox != NULL && st.n > 0);
		for (i = 0; i < st.n; i++) {
			check_entry(st.e[i].name, false);
			check(st.e[i].value != NULL || st.e[i].len == 0);
		}
		return 0;
	}
	if (imap_meta_parse_get(p.cmd.args, &sub, &g, &why) < 0) {
		check(why != NULL);
		return 0;
	}
	check(g.mailbox != NULL && g.nentries > 0);
	check(g.depth >= IMAP_META_DEPTH_0 &&
	      g.depth <= IMAP_META_DEPTH_INFINITY);
	for (i = 0; i < g.nentries; i++)
		check_entry(g.entries[i], true);
	for (i = 0; i < g.nentries; i++) {
		for (k = 0; k < g.nentries; k++) {
			const char *w = g.entries[i], *h = g.entries[k];
			bool m0 = imap_meta_match(w, h, IMAP_META_DEPTH_0);
			bool m1 = imap_meta_match(w, h, IMAP_META_DEPTH_1);
			bool mi =
				imap_meta_match(w, h, IMAP_META_DEPTH_INFINITY);

			check(m0 == (strcmp(w, h) == 0));
			check(!m0 || m1);
			check(!m1 || mi);
			if (mi)
				check(strncmp(w, h, strlen(w)) == 0);
		}
	}
	return 0;
}
