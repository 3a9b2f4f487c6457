/*
 * The DNS that the mail-authentication evaluators (SPF, DKIM key
 * look-ups, DMARC) see: an answer cache keyed by (name, type).
 *
 * The evaluators never wait on the network.  They are deterministic
 * functions of the message and of the answers in the cache: a look-up
 * whose answer is not there yet comes back MA_DNS_PENDING, the question
 * is recorded as wanted, and the evaluator returns MA_PENDING.  The
 * driver resolves every wanted question asynchronously (core/dns),
 * stores the answers and runs the evaluator again; given the same
 * answers it reaches the same point and goes further.  SPF needs at
 * most a few dozen look-ups, so the reruns cost little next to one
 * round trip.  Tests fill the cache from a zone and never see PENDING.
 */
#ifndef RM_MA_DNS_H
#define RM_MA_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ma_rrtype {
	MA_T_A = 1,
	MA_T_PTR = 12,
	MA_T_MX = 15,
	MA_T_TXT = 16,
	MA_T_AAAA = 28,
	MA_T_TLSA = 52,
};

enum ma_dns_rcode {
	MA_DNS_PENDING = -1, /* not resolved yet: the evaluator stops */
	MA_DNS_OK = 0,	     /* n >= 1 */
	MA_DNS_NODATA = 1,   /* the name exists, no record of the type */
	MA_DNS_NXDOMAIN = 2,
	MA_DNS_TEMP = 3, /* SERVFAIL, timeout, bogus: a temporary error */
};

/* Evaluator results that are not a verdict. */
#define MA_DONE 0
#define MA_PENDING 1

struct ma_rr {
	uint16_t pref;	     /* MX */
	char *host;	     /* MX exchange, PTR target: lower case, no dot */
	unsigned char *data; /* TXT: the strings concatenated (RFC 7208
			      * §3.3, RFC 6376 §3.6.2.2); TLSA: rdata */
	size_t len;
	unsigned char addr[16]; /* A: 4 bytes, AAAA: 16 */
};

struct ma_rrset {
	int rcode;   /* enum ma_dns_rcode */
	bool secure; /* DNSSEC-validated */
	size_t n;
	struct ma_rr *rr;
};

struct ma_dns_cache;

/*
 * The cache.  Names are compared case-insensitively without a trailing
 * dot.  Bounded: past `max_entries` answers, puts are refused (the
 * evaluators then see MA_DNS_TEMP rather than growing memory).
 */
struct ma_dns_cache *ma_dns_cache_new(size_t max_entries);
void ma_dns_cache_free(struct ma_dns_cache *c);

/* The answer for (name, type); when absent, one with rcode
 * MA_DNS_PENDING, and the question is added to the wanted list.
 * Never NULL; valid until the cache is freed. */
const struct ma_rrset *ma_dns_get(struct ma_dns_cache *c, const char *name,
				  int type);

/* Store an answer (deep copy of rs).  0, or -1 when full. */
int ma_dns_put(struct ma_dns_cache *c, const char *name, int type,
	       const struct ma_rrset *rs);

/* The questions asked since the last call, then forgotten: the driver
 * resolves them.  Calls fn once per question; returns the count. */
size_t ma_dns_take_wanted(struct ma_dns_cache *c,
			  void (*fn)(void *arg, const char *name, int type),
			  void *arg);

#endif
