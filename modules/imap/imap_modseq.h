/*
 * The CONDSTORE/QRESYNC parameters (RFC 7162 section 7) on the parsed
 * argument tree: SELECT/EXAMINE parameters, the FETCH and STORE
 * modifiers.  Pure; everything they keep points into the command's
 * arguments or the arena.  Every one is client input: bounded, and
 * anything malformed is -1 with a reason for the tagged BAD.
 */
#ifndef IMAP_MODSEQ_H
#define IMAP_MODSEQ_H

#include <stdbool.h>
#include <stdint.h>

#include "imap_arena.h"
#include "imap_parser.h"
#include "imap_seqset.h"

/* mod-sequence-value: a positive 63-bit number (RFC 7162 7) */
#define IMAP_MODSEQ_MAX ((uint64_t)INT64_MAX)

/*
 * mod-sequence-value (zero_ok false) or mod-sequence-valzer (true): an
 * atom of at most 19 digits up to 2^63-1.  0, or -1.
 */
static inline int imap_modseq_parse(const struct imap_arg *a, bool zero_ok,
				    uint64_t *v_r)
{
	uint64_t v = 0;
	size_t i;

	if (a == NULL || a->type != IMAP_ARG_ATOM || a->len == 0 || a->len > 19)
		return -1;
	for (i = 0; i < a->len; i++) {
		if (a->str[i] < '0' || a->str[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(a->str[i] - '0');
	}
	if (v > IMAP_MODSEQ_MAX || (v == 0 && !zero_ok))
		return -1;
	*v_r = v;
	return 0;
}

struct imap_select_params {
	bool condstore;		       /* (CONDSTORE), or implied by QRESYNC */
	bool qresync;		       /* (QRESYNC (...)) */
	uint32_t uidvalidity;	       /* nz-number */
	uint64_t modseq;	       /* mod-sequence-value */
	struct imap_seqset known_uids; /* n == 0: not given (1:*) */
	/* seq-match-data: both given or neither */
	struct imap_seqset match_seqs, match_uids;
};

/*
 * `arg` is what follows the mailbox name: NULL, or one list of
 * select-param (CONDSTORE, QRESYNC (...)), each at most once.
 */
int imap_select_params_parse(const struct imap_arg *arg, struct imap_arena *a,
			     struct imap_select_params *p_r,
			     const char **error_r);

struct imap_fetch_mods {
	bool changedsince_set;
	uint64_t changedsince; /* mod-sequence-value */
	bool vanished;	       /* needs CHANGEDSINCE too */
};

/* one list of fetch-modifier: (CHANGEDSINCE n [VANISHED]) any order */
int imap_fetch_mods_parse(const struct imap_arg *arg,
			  struct imap_fetch_mods *m_r, const char **error_r);

/* one list of store-modifier: (UNCHANGEDSINCE n), n may be 0 */
int imap_store_mods_parse(const struct imap_arg *arg, uint64_t *unchanged_r,
			  const char **error_r);

#endif
