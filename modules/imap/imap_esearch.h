/*
 * ESEARCH (RFC 4731) and SEARCHRES (RFC 5182), the pure half: the
 * "RETURN (...)" search option, the "* ESEARCH" response and which hits
 * the "$" variable keeps.  No I/O, no session: the command glue lives
 * in imap_cmd_search.c, "$" resolution in imap_view.c.
 */
#ifndef IMAP_ESEARCH_H
#define IMAP_ESEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap_parser.h"
#include "imap_seqset.h"

enum imap_esearch_ret {
	IMAP_ESR_MIN = 1u << 0,
	IMAP_ESR_MAX = 1u << 1,
	IMAP_ESR_ALL = 1u << 2,
	IMAP_ESR_COUNT = 1u << 3,
	IMAP_ESR_SAVE = 1u << 4,
	/* RETURN was given: answer ESEARCH, never SEARCH */
	IMAP_ESR_PRESENT = 1u << 8,
};

/*
 * "RETURN (opts)" at *argp, when it is there (RFC 4466: before CHARSET);
 * *argp moves past it.  *ret_r is 0 without RETURN, else
 * IMAP_ESR_PRESENT plus the options ("RETURN ()" is ALL).  0, or -1
 * with a static reason (unknown option, not a list).
 */
int imap_esearch_parse(const struct imap_arg **argp, unsigned *ret_r,
		       const char **error_r);

typedef void imap_esearch_out_fn(void *ctx, const char *d, size_t n);

/*
 * The untagged answer for `hits` (ascending sequence numbers or UIDs):
 * "* SEARCH ..." without RETURN, "* ESEARCH (TAG "t") [UID] ..." with
 * it, nothing for SAVE alone (RFC 5182 2.4).  MIN, MAX and ALL are left
 * out when nothing matched (RFC 4731 3.1); ALL is a compact set.
 */
void imap_esearch_write(const char *tag, bool uid, unsigned ret,
			const uint32_t *hits, size_t n,
			imap_esearch_out_fn *out, void *ctx);

/*
 * What "$" keeps after a successful SEARCH with SAVE, from the hits'
 * UIDs (ascending): only MIN and/or MAX when those are all that was
 * asked beside SAVE, every hit otherwise (RFC 5182 2.4).  Returns the
 * ranges (malloc'd, NULL when empty) and their number in *n_r.
 */
struct imap_seq_range *imap_esearch_saved(unsigned ret, const uint32_t *uids,
					  size_t n, unsigned *n_r);

#endif
