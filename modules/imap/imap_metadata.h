/*
 * METADATA (RFC 5464) arguments, pure: the entry-name rules, the
 * GETMETADATA options and entry list, the SETMETADATA entry/value
 * list, and which stored entries a request with a DEPTH names.  The
 * session (imap_cmd_metadata.c) does the store calls and the replies.
 */
#ifndef IMAP_METADATA_H
#define IMAP_METADATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rmail/store.h>

#include "imap_arena.h"
#include "imap_parser.h"

/* entries one GETMETADATA or SETMETADATA may name */
#define IMAP_META_REQ_MAX 256

enum imap_meta_depth {
	IMAP_META_DEPTH_0 = 0,
	IMAP_META_DEPTH_1 = 1,
	IMAP_META_DEPTH_INFINITY = 2,
};

struct imap_meta_get {
	const struct imap_arg *mailbox; /* "" is the server */
	bool has_maxsize;
	uint64_t maxsize;
	int depth;				/* enum imap_meta_depth */
	const char *entries[IMAP_META_REQ_MAX]; /* lower-cased, in the arena */
	size_t nentries;
};

struct imap_meta_set {
	const struct imap_arg *mailbox;
	/* names lower-cased in the arena; value NULL for NIL */
	struct rmail_meta_entry e[IMAP_META_REQ_MAX];
	size_t n;
};

/*
 * Check an entry name (RFC 5464 3.2 and section 5) and lower-case it
 * into the arena: "/private" or "/shared" then "/"-separated
 * components, no "*", "%", control or non-ASCII octets, no "//", no
 * final "/", at most RMAIL_META_NAME_MAX bytes.  `whole` allows the
 * bare "/private" and "/shared" (a GETMETADATA root for DEPTH).  NULL
 * with *why set when invalid.
 */
const char *imap_meta_entry(const char *s, size_t len, bool whole,
			    struct imap_arena *a, const char **why);
/* GETMETADATA [options] mailbox entries: 0, or -1 with *why (BAD) */
int imap_meta_parse_get(const struct imap_arg *args, struct imap_arena *a,
			struct imap_meta_get *g, const char **why);
/* SETMETADATA mailbox (entry value ...): 0, or -1 with *why (BAD) */
int imap_meta_parse_set(const struct imap_arg *args, struct imap_arena *a,
			struct imap_meta_set *st, const char **why);
/* does the stored entry `have` answer the request `want` at `depth`?
 * (both lower-cased) */
bool imap_meta_match(const char *want, const char *have, int depth);

#endif
