/*
 * A zone file (the test DNS server's format, MAILAUTH plan) answered
 * straight into an ma_dns cache, the way a resolver in front of that
 * server would answer: CNAMEs followed (a loop is SERVFAIL), NXDOMAIN
 * for absent names, NODATA for a name with other types or an empty
 * non-terminal.
 *
 *   NAME TYPE RDATA...     A/AAAA addr, MX pref host, PTR/CNAME name,
 *                          TXT "str" ["str"...] (\" \\ \DDD escapes),
 *                          SPF like TXT (type 99)
 *   NAME TYPE NONE         the type answers NOERROR, no records
 *   NAME TYPE TIMEOUT      that type never answers (per-type form of
 *                          NAME TIMEOUT: the suite's TIMEOUT after a
 *                          name's records times out the other types)
 *   NAME TIMEOUT | NAME SERVFAIL
 * Names may carry \DDD escapes (the suite has a name with spaces).
 */
#ifndef RM_TEST_ZONE_CACHE_H
#define RM_TEST_ZONE_CACHE_H

#include <stddef.h>

#include "mailauth/ma_dns.h"

struct zone;

/* NULL with *err (malloc'd) on a syntax error. */
struct zone *zone_load(const char *path, char **err);
void zone_free(struct zone *z);

/* Puts the zone's answer to every wanted question of c; the count. */
size_t zone_fill_wanted(struct zone *z, struct ma_dns_cache *c);

#endif
