/*
 * SPF (RFC 7208): may the client at this IP send mail for the MAIL FROM
 * domain (or, for the null reverse-path, the HELO name)?
 *
 * spf_check() is a deterministic function of its input and of the
 * answers in the ma_dns cache (mailauth/ma_dns.h): when an answer it
 * needs is missing it returns MA_PENDING, the driver resolves the
 * wanted questions and calls it again with the same input.  Every call
 * starts from scratch, so the limits (10 DNS-querying terms, 2 void
 * look-ups) are counted the same way on every run.
 */
#ifndef RM_SPF_H
#define RM_SPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailauth/ma_dns.h"

enum spf_result {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

/* "none", "neutral", ... as RFC 8601 spells them. */
const char *spf_result_name(enum spf_result r);

#define SPF_DOMAIN_MAX 256 /* a domain name, its NUL included */
#define SPF_ADDR_MAX 512   /* a MAIL FROM address (RFC 5321 §4.5.3.1.3) */
#define SPF_EXP_MAX 512	   /* an explanation (it goes into a reply) */

struct spf_input {
	int family;		 /* AF_INET or AF_INET6 */
	unsigned char ip[16];	 /* 4 bytes for AF_INET; an IPv4-mapped
				  * IPv6 address is checked as IPv4 */
	const char *helo;	 /* the HELO/EHLO argument (NULL: none) */
	const char *mail_from;	 /* the reverse-path without <> ("" or
				  * NULL: the null path, HELO is checked) */
	const char *receiver;	 /* %{r}: this host's name (NULL: unknown) */
	int64_t now;		 /* %{t}: seconds since the epoch */
	const char *default_exp; /* explanation of a fail when the domain
				  * publishes none; a macro-string
				  * (NULL: the built-in one) */
	unsigned void_limit;	 /* void look-ups allowed (0: 2) */
};

struct spf_verdict {
	enum spf_result result;
	bool helo_identity;	       /* the HELO name was checked */
	char domain[SPF_DOMAIN_MAX];   /* the domain checked (for DMARC) */
	char mailfrom[SPF_ADDR_MAX];   /* smtp.mailfrom ("" for <>) */
	char helo[SPF_DOMAIN_MAX];     /* smtp.helo */
	char explanation[SPF_EXP_MAX]; /* of a fail: printable ASCII */
	char reason[128];	       /* why, for a log line or a comment */
};

/* MA_DONE (out filled) or MA_PENDING (answers wanted in c; call again
 * once they are in).  Never fails otherwise: a cache that refuses
 * answers shows as temperror. */
int spf_check(struct ma_dns_cache *c, const struct spf_input *in,
	      struct spf_verdict *out);

#endif
