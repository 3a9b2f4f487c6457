/*
 * Spans and the split of "tag=value; tag=value" records read from DNS
 * (DMARC, MTA-STS, TLS-RPT).  Pure, no allocation: the fuzz harnesses
 * of those parsers link core/tagval.c alone.  Only the split is shared;
 * what a field must look like stays with each record's parser.
 */
#ifndef RM_TAGVAL_H
#define RM_TAGVAL_H

#include <stdbool.h>
#include <stddef.h>

struct rm_span {
	const char *p;
	size_t n;
};

/* space and tab; with fold, CR and LF too */
bool rm_tv_is_ws(char c, bool fold);
struct rm_span rm_span_trim(const char *p, size_t n, bool fold);
bool rm_span_is(struct rm_span s, const char *lit);

/* the extension tags of MTA-STS (RFC 8461 §3.1) and TLS-RPT (RFC 8460
 * §3): names (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / "."),
 * values 1*(%x21-3A / %x3C / %x3E-7E) */
bool rm_tv_ext_name_ok(struct rm_span k);
bool rm_tv_ext_value_ok(struct rm_span v);

struct rm_tv_iter {
	const char *s;
	size_t len, pos;
	bool fold;
	bool done;
};

struct rm_tv_field {
	struct rm_span f; /* the field between ';', white space trimmed */
	bool has_eq;	  /* k and v are set only then */
	struct rm_span k; /* before the first '=', untrimmed on its right */
	struct rm_span v; /* after it, untrimmed on its left */
	bool last; /* no ';' follows: a trailing ';' yields an empty last */
};

void rm_tv_init(struct rm_tv_iter *it, const char *s, size_t len, bool fold);
/* the next field, even an empty one; false after the last */
bool rm_tv_next(struct rm_tv_iter *it, struct rm_tv_field *fld);

#endif
