/*
 * The SPF record grammar (RFC 7208 §4.6.1, §5, §6, §12) and the macro
 * language (§7): parsers of text any domain owner writes, so they are
 * bounded and never trust a length they did not count.  Pure: no DNS
 * here, the evaluator (spf.c) feeds them.
 */
#ifndef RM_SPF_RECORD_H
#define RM_SPF_RECORD_H

#include <stdbool.h>
#include <stddef.h>

#define SPF_RECORD_MAX 4096 /* longer TXT records are a permerror */
#define SPF_TERMS_MAX 256

enum spf_mech {
	SPF_M_ALL,
	SPF_M_INCLUDE,
	SPF_M_A,
	SPF_M_MX,
	SPF_M_PTR,
	SPF_M_IP4,
	SPF_M_IP6,
	SPF_M_EXISTS,
};

/* A slice of the record text. */
struct spf_str {
	const char *p;
	size_t len;
};

struct spf_term {
	char qual; /* '+', '-', '~' or '?' */
	enum spf_mech mech;
	struct spf_str spec; /* domain-spec; len 0: the current domain */
	unsigned char ip[16];
	int cidr4, cidr6; /* prefix lengths: 32 and 128 unless given */
};

struct spf_record {
	size_t n;
	struct spf_term terms[SPF_TERMS_MAX];
	struct spf_str redirect, exp; /* p NULL: absent */
};

/* Whether the TXT string is an SPF version 1 record ("v=spf1" in any
 * case, then a space or the end). */
bool spf_is_record(const unsigned char *s, size_t len);

/* Parse a whole record (syntax errors anywhere count, §4.6).  0, or -1
 * with a reason for the permerror. */
int spf_record_parse(const char *s, size_t len, struct spf_record *r,
		     const char **why);

/* ---- macros (§7) --------------------------------------------------- */

/* Whether s is a valid macro-string; `exp` allows the letters c, r, t
 * and literal spaces (explain-string).  `domain` also wants the
 * domain-end of a domain-spec. */
bool spf_macro_valid(const char *s, size_t len, bool exp, bool domain);

/* The values the macro letters stand for; `p` is asked through a
 * callback because it costs DNS look-ups (MA_PENDING comes back as
 * a return of 1). */
struct spf_macro_env {
	const char *s, *l, *o, *d, *i, *v, *h, *c, *r, *t;
	int (*get_p)(void *arg, const char **val); /* 0, 1 pending */
	void *arg;
};

/* Expand into out (NUL-terminated).  0; -1 a syntax error or too
 * long; 1 pending (`p` needed an answer). */
int spf_macro_expand(const char *s, size_t len, bool exp,
		     const struct spf_macro_env *env, char *out, size_t cap);

#endif
