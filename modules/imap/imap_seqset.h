/*
 * IMAP sequence sets ("1:*", "2,4:7,9").  Parsed into sorted, merged
 * ranges, so a client's "1,2,3,...,5000" costs one range.  "*" is kept
 * symbolic until imap_seqset_resolve() knows the mailbox size.
 */
#ifndef IMAP_SEQSET_H
#define IMAP_SEQSET_H

#include <stddef.h>
#include <stdint.h>

#include "imap_arena.h"

/*
 * "*" in a parsed set.  nz-number never is 0, so 0 is free, and every
 * number up to 4294967295 stays a number (RFC 3501 9: "*" is its own
 * token, not a spelling of 2^32-1).  Resolved sets never hold it.
 */
#define IMAP_SEQ_STAR 0u

struct imap_seq_range {
	/* lo <= hi with "*" above every number; only hi may be "*",
	 * or both ("*" alone) */
	uint32_t lo, hi;
};

struct imap_seqset {
	const struct imap_seq_range *r;
	unsigned int n;
	/* highest number written out ("*" excluded), for the sequence
	 * number validity check */
	uint32_t max_num;
	int has_star;
	/* "$" (RFC 5182): the session's saved search result, no ranges */
	int saved;
};

/*
 * 0, or -1 with a static reason.  "$" is only valid alone (RFC 5182
 * seq-last-command): it sets set_r->saved and leaves the set empty for
 * the session to fill in.
 */
int imap_seqset_parse(const char *s, size_t len, struct imap_arena *a,
		      struct imap_seqset *set_r, const char **error_r);
/* Is it a syntactically valid set (for telling sets from other keys)? */
int imap_seqset_is_syntax(const char *s, size_t len);

/*
 * "*" becomes `max` (the highest sequence number or UID), reversed ranges
 * are turned round (RFC 3501: "5:*" with 3 messages is 3:5), everything
 * outside 1..max is dropped.  Empty when max is 0.
 */
int imap_seqset_resolve(const struct imap_seqset *set, uint32_t max,
			struct imap_arena *a, struct imap_seqset *set_r);
int imap_seqset_contains(const struct imap_seqset *set, uint32_t n);
uint64_t imap_seqset_count(const struct imap_seqset *set);

#endif
