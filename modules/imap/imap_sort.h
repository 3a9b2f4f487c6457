/*
 * SORT and THREAD (RFC 5256), SORT=DISPLAY (RFC 5957) and ESORT (RFC
 * 5267), the pure half: the command grammar, base-subject extraction,
 * the per-message sort record, the comparisons, both threading
 * algorithms and the response writers.  No I/O, no session: the
 * command glue is imap_cmd_sort.c, the header source imap_sorthdr.c.
 */
#ifndef IMAP_SORT_H
#define IMAP_SORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap_mime.h"
#include "imap_parser.h"

enum imap_sort_key {
	IMAP_SORT_ARRIVAL,
	IMAP_SORT_CC,
	IMAP_SORT_DATE,
	IMAP_SORT_FROM,
	IMAP_SORT_SIZE,
	IMAP_SORT_SUBJECT,
	IMAP_SORT_TO,
	IMAP_SORT_DISPLAYFROM, /* RFC 5957 */
	IMAP_SORT_DISPLAYTO,
};

/* more keys than this in one SORT is BAD: 9 keys, each once, fit */
#define IMAP_SORT_MAX_KEYS 16

struct imap_sort_crit {
	uint8_t key; /* enum imap_sort_key */
	bool reverse;
};

enum imap_thread_alg {
	IMAP_THREAD_ORDEREDSUBJECT,
	IMAP_THREAD_REFERENCES,
};

/*
 * The sort criteria list at *argp ("(REVERSE DATE SUBJECT)"); *argp
 * moves past it.  0, or -1 with a static reason in *error_r (not a
 * list, empty, unknown key, REVERSE not followed by a key).
 */
int imap_sort_parse_criteria(const struct imap_arg **argp,
			     struct imap_sort_crit *crit, unsigned *n_r,
			     const char **error_r);

/* the THREAD algorithm atom at *argp; -1 unknown */
int imap_thread_parse_alg(const struct imap_arg **argp, int *alg_r,
			  const char **error_r);

/*
 * The charset that SORT and THREAD require before the search criteria
 * (no CHARSET keyword there): 0 UTF-8 or US-ASCII, 1 any other (NO
 * [BADCHARSET]), -1 missing or not a string (BAD).
 */
int imap_sort_parse_charset(const struct imap_arg **argp, const char **error_r);

/*
 * RFC 5256 2.1 base subject of a decoded, unfolded Subject value, in
 * the same case as given.  *reply_r: a "re:", "fw:", "fwd:", "(fwd)"
 * or "[fwd: ...]" was removed (threading needs it).
 */
void imap_base_subject(const char *subject, size_t len, struct imap_buf *out,
		       bool *reply_r);

/* an RFC 5322 Date value as UTC seconds; -1 when it cannot be read */
int imap_sent_time(const char *v, int64_t *t_r);

/* What the header source gives per message (imap_sorthdr.c). */
struct imap_sorthdr {
	const char *date;	    /* raw Date value, NULL none */
	const char *subject;	    /* RFC 2047-decoded, unfolded */
	const char *from, *to, *cc; /* addr-mailbox of the first address */
	const char *dfrom, *dto;    /* RFC 5957 display forms */
	const char *message_id, *references, *in_reply_to; /* raw */
};

/*
 * The derived, comparable record of one message: strings already
 * i;unicode-casemap'd, message ids extracted.  One allocation.
 */
struct imap_sortrec {
	uint32_t uid;
	uint64_t size;	/* with uid, the cache key */
	int64_t sent;	/* Date in UTC; INT64_MIN: none */
	bool reply;	/* base subject had re/fwd removed */
	uint32_t nrefs; /* References (or In-Reply-To) ids, oldest first */
	const char *base, *from, *to, *cc, *dfrom, *dto;
	const char *msgid; /* "" when missing or invalid */
	const char *const *refs;
	size_t mem; /* bytes held */
};

struct imap_sortrec *imap_sortrec_build(const struct imap_sorthdr *h,
					uint32_t uid, uint64_t size);

/* one message to sort: its record and what the view knows */
struct imap_sort_msg {
	const struct imap_sortrec *r;
	uint32_t seq, uid;
	uint64_t size;
	int64_t internaldate;
	int64_t sent; /* set by the runs below: imap_sort_sent() */
};

/* sent date, the internal date when Date is missing (RFC 5256 2.2) */
int64_t imap_sort_sent(const struct imap_sort_msg *m);

/* sort msgs[] by the criteria, ties by sequence number */
void imap_sort_run(struct imap_sort_msg *msgs, size_t n,
		   const struct imap_sort_crit *crit, unsigned ncrit);

/*
 * The thread of msgs[] (any order) by `alg`, as the RFC 5256 response
 * text after "* THREAD" (without it, no CRLF): "(1 2)(3 (4)(5))".
 * `uid`: numbers are UIDs.  cancel may be NULL.
 */
void imap_thread_run(struct imap_sort_msg *msgs, size_t n, int alg, bool uid,
		     struct imap_buf *out, const volatile int *cancel);

/* "* SORT 3 1 2\r\n" for hits in sort order (without RETURN) */
typedef void imap_sort_out_fn(void *ctx, const char *d, size_t n);
void imap_sort_write(const uint32_t *hits, size_t n, imap_sort_out_fn *out,
		     void *ctx);

#endif
