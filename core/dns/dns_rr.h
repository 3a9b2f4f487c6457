/*
 * Records of a resolver answer (rdata as libunbound hands it: wire
 * format, names uncompressed) into the evaluators' struct ma_rrset.
 * The rdata comes from the network: every read is bounded by its
 * length, malformed records are skipped, and the totals are capped.
 * Pure, so the fuzz harness links it alone.
 */
#ifndef RM_DNS_RR_H
#define RM_DNS_RR_H

#include "mailauth/ma_dns.h"

/* at most this many records, and bytes of TXT/TLSA data, per answer */
#define RM_DNS_RR_MAX 512
#define RM_DNS_DATA_MAX (256 * 1024)

/* Append the n records data[i]/len[i] of type qtype to out (rr and n;
 * out->rcode and secure untouched).  Returns the records kept. */
size_t rm_dns_rr_convert(int qtype, char *const *data, const int *len, size_t n,
			 struct ma_rrset *out);
/* free what rm_dns_rr_convert allocated and zero the set */
void rm_dns_rrset_clear(struct ma_rrset *rs);
/* deep copy (d need not be initialised); -1 out of memory (d then
 * holds what was copied: clear it) */
int rm_dns_rrset_copy(struct ma_rrset *d, const struct ma_rrset *s);

#endif
