/*
 * FETCH attribute parsing (RFC 3501 section 6.4.5): the data item list
 * becomes flags plus a list of body section requests.  Pure; everything
 * is allocated from the command arena.
 */
#ifndef IMAP_FETCH_H
#define IMAP_FETCH_H

#include <stdint.h>

#include "imap_arena.h"
#include "imap_parser.h"

#define IMAP_FETCH_MAX_PARTS 32 /* nesting of "1.2.3" */

enum imap_fetch_flag {
	IMAP_FETCH_FLAGS = 1u << 0,
	IMAP_FETCH_UID = 1u << 1,
	IMAP_FETCH_INTERNALDATE = 1u << 2,
	IMAP_FETCH_RFC822_SIZE = 1u << 3,
	IMAP_FETCH_ENVELOPE = 1u << 4,
	IMAP_FETCH_BODY = 1u << 5, /* BODY without a section */
	IMAP_FETCH_BODYSTRUCTURE = 1u << 6,
	IMAP_FETCH_RFC822 = 1u << 7,	    /* like BODY[], sets \Seen */
	IMAP_FETCH_RFC822_HEADER = 1u << 8, /* like BODY.PEEK[HEADER] */
	IMAP_FETCH_RFC822_TEXT = 1u << 9,   /* like BODY[TEXT], sets \Seen */
	IMAP_FETCH_MODSEQ = 1u << 10,	    /* RFC 7162 */
	IMAP_FETCH_EMAILID = 1u << 11,	    /* RFC 8474 */
	IMAP_FETCH_THREADID = 1u << 12,
	IMAP_FETCH_PREVIEW = 1u << 13,	    /* RFC 8970 */
	IMAP_FETCH_PREVIEW_LAZY = 1u << 14, /* only every PREVIEW is (LAZY) */
	IMAP_FETCH_SAVEDATE = 1u << 15,	    /* RFC 8514 */
};

enum imap_section_kind {
	IMAP_SECTION_ALL, /* BODY[] or BODY[1.2] */
	IMAP_SECTION_HEADER,
	IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT,
	IMAP_SECTION_MIME, /* only after a part number */
};

struct imap_fetch_body {
	struct imap_fetch_body *next;
	int peek; /* BODY.PEEK: leave \Seen alone */
	uint32_t part[IMAP_FETCH_MAX_PARTS];
	unsigned int nparts; /* 0: the whole message */
	enum imap_section_kind kind;
	const char **fields; /* HEADER.FIELDS[.NOT] names */
	unsigned int nfields;
	int partial;
	uint32_t offset, count; /* <offset.count> */
	/* the section text between the brackets, as sent: the reply
	 * echoes it ("BODY[HEADER.FIELDS (FROM)]") */
	const char *section;
	size_t section_len;
	/* RFC 3516: BINARY[...] / BINARY.PEEK[...] (decoded content) or
	 * BINARY.SIZE[...] (its length); the section is part numbers only
	 * and BINARY.SIZE takes no partial */
	enum imap_binary_kind {
		IMAP_BIN_NONE,
		IMAP_BIN_DATA,
		IMAP_BIN_SIZE
	} binary;
};

struct imap_fetch_attrs {
	uint32_t flags;			/* enum imap_fetch_flag */
	struct imap_fetch_body *bodies; /* in request order */
	unsigned int nbodies;
	/* anything that may set \Seen (BODY[...], RFC822, RFC822.TEXT) */
	int sets_seen;
	unsigned int nbinary; /* BINARY and BINARY.SIZE items */
};

/* `arg` is the FETCH argument after the sequence set: one atom (an item
 * or ALL/FAST/FULL) or a list of items.  0, or -1 with a reason. */
int imap_fetch_parse(const struct imap_arg *arg, struct imap_arena *a,
		     struct imap_fetch_attrs *attrs_r, const char **error_r);

#endif
