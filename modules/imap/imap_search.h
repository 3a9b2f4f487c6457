/*
 * SEARCH criteria (RFC 3501 section 6.4.4) parsed into a tree.  Pure;
 * nodes come from the command arena, recursion is bounded by max_depth.
 * Text keys are parsed here and matched by the MIME-aware part 2.
 */
#ifndef IMAP_SEARCH_H
#define IMAP_SEARCH_H

#include <stdint.h>

#include "imap_arena.h"
#include "imap_parser.h"
#include "imap_seqset.h"

enum imap_search_result {
	IMAP_SEARCH_OK = 0,
	IMAP_SEARCH_BAD = -1,	     /* tagged BAD with the reason */
	IMAP_SEARCH_BADCHARSET = -2, /* tagged NO [BADCHARSET (...)] */
};

enum imap_search_type {
	IMAP_SKEY_AND, /* children */
	IMAP_SKEY_OR,  /* two children */
	IMAP_SKEY_NOT, /* one child */
	IMAP_SKEY_ALL,
	IMAP_SKEY_FLAG,	   /* flag, set */
	IMAP_SKEY_KEYWORD, /* str, set */
	IMAP_SKEY_LARGER,  /* size */
	IMAP_SKEY_SMALLER,
	IMAP_SKEY_BEFORE, /* internal date; date */
	IMAP_SKEY_ON,
	IMAP_SKEY_SINCE,
	IMAP_SKEY_SENTBEFORE, /* Date: header */
	IMAP_SKEY_SENTON,
	IMAP_SKEY_SENTSINCE,
	IMAP_SKEY_UID, /* seqset */
	IMAP_SKEY_SEQSET,
	IMAP_SKEY_HEADER, /* field, str (FROM, SUBJECT... too) */
	IMAP_SKEY_BODY,	  /* str */
	IMAP_SKEY_TEXT,
	IMAP_SKEY_MODSEQ,  /* modseq: the message's is >= it (RFC 7162) */
	IMAP_SKEY_EMAILID, /* str: an objectid (RFC 8474) */
	IMAP_SKEY_THREADID,
	IMAP_SKEY_SAVEDBEFORE, /* save date (RFC 8514); date */
	IMAP_SKEY_SAVEDON,
	IMAP_SKEY_SAVEDSINCE,
	IMAP_SKEY_SAVEDATESUPPORTED,
};

enum imap_search_flag {
	IMAP_SFLAG_ANSWERED = 1u << 0,
	IMAP_SFLAG_DELETED = 1u << 1,
	IMAP_SFLAG_DRAFT = 1u << 2,
	IMAP_SFLAG_FLAGGED = 1u << 3,
	IMAP_SFLAG_SEEN = 1u << 4,
	IMAP_SFLAG_RECENT = 1u << 5,
};

struct imap_idx_verdict; /* imap_cmd_search.c: the index's answer */
struct imap_tid_verdict; /* imap_cmd_search.c: THREADID from the cache */

struct imap_search_key {
	enum imap_search_type type;
	struct imap_search_key *child; /* AND, OR, NOT */
	struct imap_search_key *next;  /* sibling */
	uint32_t flag;
	int set;	   /* FLAG/KEYWORD: 1 set, 0 unset */
	const char *field; /* HEADER field name */
	/* FROM/TO/CC/BCC: match the parsed addresses, as ENVELOPE shows
	 * them, not the header text */
	int address;
	const char *str; /* KEYWORD, HEADER, BODY, TEXT */
	size_t str_len;
	uint32_t size;
	int32_t date;		   /* days since 1970-01-01 */
	struct imap_seqset seqset; /* UID, SEQSET (unresolved) */
	uint64_t modseq;	   /* MODSEQ */
	/* HEADER, BODY, TEXT: what the full-text index said, set on the
	 * worker before the messages are read; NULL: read them */
	struct imap_idx_verdict *idx;
	/* THREADID: what the header cache held, NULL: read the messages */
	struct imap_tid_verdict *tid;
};

/*
 * `args` are the SEARCH arguments (after "UID SEARCH" for the UID
 * variant), CHARSET included.  *error_r is the reason on failure.
 */
int imap_search_parse(const struct imap_arg *args, struct imap_arena *a,
		      unsigned int max_depth, struct imap_search_key **root_r,
		      const char **error_r);

/* days from 1970-01-01 to y-m-d (m 1..12), proleptic Gregorian */
int32_t imap_days_from_civil(int y, int m, int d);

/* the day of an RFC 5322 Date value, ignoring time and zone (RFC
 * 3501 SENT* keys); 0, or -1 when it cannot be read */
int imap_sent_day(const char *v, int32_t *days_r);

/* "d-Mon-yyyy" (RFC 3501 date); 0, or -1 when invalid. */
int imap_date_parse(const char *s, size_t len, int32_t *days_r);

#endif
