/*
 * DNS answers from the core's resolver (rmail_core.dns_query, ABI 1.3):
 * asynchronous, validated with DNSSEC when the resolvers pass
 * signatures through, bounded by the core's dns.timeout_ms.
 * Fixed-layout: these never change within a major.
 */
#ifndef RMAIL_DNS_H
#define RMAIL_DNS_H

#include <stddef.h>
#include <stdint.h>

enum rmail_dns_rcode {
	RMAIL_DNS_OK = 0,	/* n >= 1 */
	RMAIL_DNS_NODATA = 1,	/* the name exists, no record of the type */
	RMAIL_DNS_NXDOMAIN = 2, /* the name does not exist */
	RMAIL_DNS_TEMP = 3,	/* SERVFAIL, timeout, DNSSEC bogus: retry */
};

/* record types with a parsed form; any other type comes as raw rdata */
enum rmail_dns_type {
	RMAIL_DNS_A = 1,
	RMAIL_DNS_PTR = 12,
	RMAIL_DNS_MX = 15,
	RMAIL_DNS_TXT = 16,
	RMAIL_DNS_AAAA = 28,
	RMAIL_DNS_TLSA = 52,
};

struct rmail_dns_rr {
	uint16_t pref;	  /* MX */
	const char *host; /* MX exchange ("" for a null MX), PTR target:
			   * lower case, no trailing dot */
	const unsigned char *data; /* TXT: the character-strings joined,
				    * NUL-terminated (may hold NULs: use
				    * len); TLSA and other types: rdata */
	size_t len;
	unsigned char addr[16]; /* A: 4 bytes, AAAA: 16 */
};

struct rmail_dns_answer {
	int rcode;  /* enum rmail_dns_rcode */
	int secure; /* 1: DNSSEC-validated (authenticated data) */
	size_t n;
	const struct rmail_dns_rr *rr;
};

struct rmail_dns_query;
/* on the loop thread; a and everything it points to live only during
 * the call */
typedef void (*rmail_dns_fn)(void *arg, const struct rmail_dns_answer *a);

#endif
