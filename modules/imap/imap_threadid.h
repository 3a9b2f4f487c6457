/*
 * THREADID (RFC 8474 5.2) from a message's own header, no state: the
 * thread's root is the first id of References, else the first of
 * In-Reply-To, else the message's own Message-ID (the ids RFC 5256's
 * REFERENCES threading reads, extracted the same way), and the
 * THREADID is "T" and a 128-bit hash of it.  Every process, every
 * mailbox and every restart derive the same id; see docs/imap.md.
 */
#ifndef IMAP_THREADID_H
#define IMAP_THREADID_H

#include <stdbool.h>
#include <stddef.h>

/* "T" + 32 hex digits */
#define IMAP_THREADID_LEN 33

/*
 * The next "<id>" of a header value from *p with something but white
 * space inside, as RFC 5256 threading (imap_sort.c) and THREADID read
 * ids: from a '<' to the next '>', an unclosed '<' ends the value.
 * [*a_r, *b_r) is inside the brackets (white space in it is the
 * caller's to skip); *p moves past the '>'.  False when none is left.
 * Linear in the value's length over all calls.
 */
bool imap_msgid_next(const char **p, const char **a_r, const char **b_r);

/*
 * The root id of a message (brackets and white space inside removed)
 * as [*a, *b) in one of the values, bytes to skip inside it are
 * white space; false when none of the values holds an id.  Linear in
 * the values' length, no allocation.
 */
bool imap_thread_root(const char *message_id, const char *references,
		      const char *in_reply_to, const char **a_r,
		      const char **b_r);

/*
 * The THREADID of a message from its raw (decode 0) header values
 * into out (IMAP_THREADID_LEN + 1 bytes); false, out "", when the
 * message names no id at all: the caller then uses
 * imap_threadid_own().
 */
bool imap_threadid_derive(const char *message_id, const char *references,
			  const char *in_reply_to, char *out);

/*
 * The THREADID of a message that names no id: a thread of its own,
 * "T_" and its EMAILID (so copies share it, as they share the EMAILID).
 * False when that does not fit in outsz.
 */
bool imap_threadid_own(const char *emailid, char *out, size_t outsz);

#endif
