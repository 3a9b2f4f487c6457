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

#endif
