/*
 * libFuzzer harness for the RFC 7162 parameters: the input (after a
 * first byte choosing the command head) is one command's tail, parsed by
 * the real command parser and handed to the SELECT, FETCH, STORE and
 * SEARCH MODSEQ parsers.  Invariants are checked with abort().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_modseq.h"
#include "imap_parser.h"
#include "imap_search.h"

static char mem[32 * 1024];
static char sub_mem[32 * 1024];
static char line[8192 + 64];

static void check(int cond)
{
	if (!cond)
		abort();
}

static void check_set(const struct imap_seqset *s)
{
	unsigned i;

	for (i = 0; i < s->n; i++)
		check(s->r[i].lo != IMAP_SEQ_STAR && s->r[i].lo <= s->r[i].hi);
}

static void use(const struct imap_cmd *cmd, int which)
{
	const struct imap_arg *a = cmd->args;
	struct imap_arena sub;
	const char *err = NULL;

	imap_arena_init(&sub, sub_mem, sizeof(sub_mem));
	if (which == 0) {
		struct imap_select_params p;

		if (imap_select_params_parse(a != NULL ? a->next : NULL, &sub,
					     &p, &err) == 0) {
			check(!p.qresync ||
			      (p.condstore && p.uidvalidity != 0 &&
			       p.modseq != 0 && p.modseq <= IMAP_MODSEQ_MAX));
			check(!p.known_uids.has_star);
			check_set(&p.known_uids);
			check((p.match_seqs.n == 0) == (p.match_uids.n == 0));
			check(imap_seqset_count(&p.match_seqs) ==
			      imap_seqset_count(&p.match_uids));
		} else {
			check(err != NULL);
		}
	} else if (which == 1) {
		struct imap_fetch_mods m;

		a = a != NULL && a->next != NULL ? a->next->next : NULL;
		if (imap_fetch_mods_parse(a, &m, &err) == 0)
			check(m.changedsince_set && m.changedsince != 0 &&
			      m.changedsince <= IMAP_MODSEQ_MAX);
		else
			check(err != NULL);
	} else if (which == 2) {
		uint64_t u = 0;

		if (imap_store_mods_parse(a != NULL ? a->next : NULL, &u,
					  &err) == 0)
			check(u <= IMAP_MODSEQ_MAX);
		else
			check(err != NULL);
	} else {
		struct imap_search_key *root;
		int rc = imap_search_parse(a, &sub, 16, &root, &err);

		check(rc == IMAP_SEARCH_OK ? root != NULL : err != NULL);
	}
	check(sub.used <= sub.cap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const heads[] = {
		"a SELECT INBOX ",
		"a FETCH 1:* FLAGS ",
		"a STORE 1 ",
		"a SEARCH MODSEQ ",
	};
	struct imap_parser_limits lim = {
		.max_line = 8192,
		.max_literal = 4096,
		.max_literals = 8,
		.max_depth = 16,
	};
	struct imap_arena arena;
	struct imap_parser p;
	size_t hl, len, off = 0, used;
	int which, rc;

	if (size == 0 || size > 8192)
		return 0;
	which = data[0] % 4;
	hl = strlen(heads[which]);
	memcpy(line, heads[which], hl);
	memcpy(line + hl, data + 1, size - 1);
	len = hl + size - 1;
	memcpy(line + len, "\r\n", 2);
	len += 2;
	imap_arena_init(&arena, mem, sizeof(mem));
	imap_parser_init(&p, &arena, &lim);
	while (off < len) {
		rc = imap_parse(&p, line + off, len - off, &used);
		check(used <= len - off);
		off += used;
		if (rc == IMAP_PARSE_AGAIN || rc == IMAP_PARSE_CLOSE)
			break;
		if (rc == IMAP_PARSE_NEED_CONTINUATION)
			imap_parser_literal_accept(&p);
		if (rc == IMAP_PARSE_OK)
			use(&p.cmd, which);
	}
	return 0;
}
