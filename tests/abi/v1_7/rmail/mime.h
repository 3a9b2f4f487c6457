/* The core's MIME parser, shared by IMAP and the HTTP API.  Parsing is
 * iterative and bounded by rmail_mime_limits; the parts form a tree
 * addressed by index (part 0 is the whole message). */
#ifndef RMAIL_MIME_H
#define RMAIL_MIME_H

#include <stddef.h>
#include <stdint.h>

#include <rmail/module.h>

struct rmail_pool;
struct rmail_mime; /* a parsed message, opaque */

struct rmail_mime_limits {
	uint32_t size;	    /* sizeof(struct rmail_mime_limits) */
	uint32_t max_depth; /* 0 = core default */
	uint32_t max_parts;
	uint32_t max_headers;
	uint32_t max_header_len;
	uint32_t max_line_len;
};

enum rmail_mime_part_flags {
	RMAIL_MIME_MULTIPART = 1u << 0,
	RMAIL_MIME_MESSAGE = 1u << 1,	/* message/rfc822 */
	RMAIL_MIME_TRUNCATED = 1u << 2, /* a limit cut this part short */
	RMAIL_MIME_8BIT = 1u << 3,
};

#define RMAIL_MIME_NONE UINT32_MAX

struct rmail_mime_part {
	uint32_t parent, first_child, next_sibling; /* or RMAIL_MIME_NONE */
	uint32_t flags;		   /* enum rmail_mime_part_flags */
	uint64_t hdr_off, hdr_len; /* in the message */
	uint64_t body_off, body_len;
	uint32_t body_lines;
	uint32_t depth;
	const char *type;	 /* lower case: "text" */
	const char *subtype;	 /* "plain" */
	const char *charset;	 /* NULL when absent */
	const char *encoding;	 /* Content-Transfer-Encoding or NULL */
	const char *disposition; /* "attachment", "inline" or NULL */
	const char *filename;	 /* decoded UTF-8 (RFC 2231/2047) */
	const char *id, *description, *md5, *language, *location;
	struct rmail_strmap params;	 /* Content-Type parameters */
	struct rmail_strmap disp_params; /* Content-Disposition params */
};

/*
 * mime_addresses returns the list in order, groups flattened as IMAP
 * ENVELOPE wants them: a group start has `group` set (possibly "")
 * and mailbox NULL; the group's mailboxes follow; the group end has
 * every field NULL.  A bare word with no '@' has mailbox set and host
 * NULL; "<>" has mailbox "".  Lists over 10,000 entries are refused
 * (-1).  Limits left at 0 take the core defaults: depth 32, parts
 * 5000, headers 1000 per part, header 65536 bytes unfolded, line
 * 1 MiB.  A multipart the parser could not split (no boundary, cut by
 * a limit or by the end of the data) is reported as text/plain; a
 * message/rfc822 part without RMAIL_MIME_MESSAGE (encoded, or cut by a
 * limit) has no child.  A line over max_line_len only flags its part.
 * The parse keeps its own copy of the message; use one parsed message
 * from one thread at a time (the accessors allocate in its pool).
 */
struct rmail_mime_addr {
	const char *name;    /* decoded display name or NULL */
	const char *mailbox; /* local part, NULL for group markers */
	const char *host;
	const char *group; /* group name at a group's start */
	const char *route; /* obsolete source route or NULL */
};

/*
 * Strict UTF-8 (RFC 3629, Unicode table 3-7), the one validator of the
 * core and the modules: no overlong forms, no surrogates, nothing past
 * U+10FFFF, no truncated sequence.  Inline, so a module gets it from the
 * headers alone, whatever core it runs on.
 *
 * rmail_utf8_seq: the length (1 to 4) of the well-formed sequence that
 * starts at s (n bytes left), 0 when there is none.
 */
static inline size_t rmail_utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (n == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	/* the second byte's range is what rules out overlongs (E0, F0),
	 * surrogates (ED) and code points past U+10FFFF (F4) */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* 1 when s[0..n) is entirely well-formed UTF-8, else 0 */
static inline int rmail_utf8_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		if ((k = rmail_utf8_seq(u + i, n - i)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

#endif
