/*
 * MTA-STS (RFC 8461): a receiving domain says, through a TXT record at
 * `_mta-sts.DOMAIN` and a policy file served over HTTPS at
 * `https://mta-sts.DOMAIN/.well-known/mta-sts.txt`, which MX hosts may
 * receive its mail and whether TLS with a certificate valid for the MX
 * name is required (enforce), only reported on (testing) or no longer
 * asked for (none).
 *
 * The parsers (mta_sts_policy.c) are pure: no allocation, bounded
 * copies, fuzzed.  Fetching (mta_sts_fetch.c, libcurl) and the on-disk
 * cache under {mail_root}/mta-sts/ (mta_sts_cache.c, docs/storage.md)
 * block: delivery workers only, never the loop.
 */
#ifndef RM_SUBMIT_MTA_STS_H
#define RM_SUBMIT_MTA_STS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 8461 §3.2: max_age at most one year */
#define RM_STS_MAX_AGE_MAX 31557600u
/* RFC 8461 §3.3: the policy body is at most 64 KiB */
#define RM_STS_BODY_MAX 65536u
#define RM_STS_MX_MAX 32
#define RM_STS_HOST_MAX 256
/* §3.1: id is 1*32(ALPHA / DIGIT) */
#define RM_STS_ID_MAX 33

enum rm_sts_mode {
	RM_STS_NONE = 0,
	RM_STS_TESTING = 1,
	RM_STS_ENFORCE = 2,
};

struct rm_sts_policy {
	int mode;	  /* enum rm_sts_mode */
	uint32_t max_age; /* seconds, at most RM_STS_MAX_AGE_MAX */
	size_t nmx;
	/* lower case, no trailing dot; "*.example.com" for a wildcard */
	char mx[RM_STS_MX_MAX][RM_STS_HOST_MAX];
	/* filled by rm_mta_sts_get (the cache), not by the parser */
	char id[RM_STS_ID_MAX]; /* the TXT id= it was fetched under */
	int64_t fetched;	/* unix seconds */
	int64_t expires;	/* fetched + max_age */
};

/* ---- mta_sts_policy.c: parsers (pure) ------------------------------ */

/* The policy file (§3.2): key/value lines, any order, unknown keys
 * ignored; version STSv1, mode, max_age once each (a max_age over one
 * year is cut to one year), mx at least once unless mode is none.
 * 0, or -1 when it is not a valid policy (*out is then unspecified). */
int rm_sts_policy_parse(const char *text, size_t len,
			struct rm_sts_policy *out);

/* One `_mta-sts` TXT record (§3.1): "v=STSv1; id=...; [ext=...]".
 * 0 with the id in id_out, 1 when the record does not start with
 * "v=STSv1" (not an MTA-STS record: skipped), -1 when it does but is
 * invalid. */
int rm_sts_txt_parse(const char *txt, size_t len, char id_out[RM_STS_ID_MAX]);

/* Does the MX host name match one of the policy's mx patterns (§4.1):
 * case-insensitive, a trailing dot ignored, "*." matching exactly one
 * leftmost label. */
bool rm_mta_sts_mx_match(const struct rm_sts_policy *p, const char *mx);

/* forget the failed fetches held back (tests) */
void rm_mta_sts_forget_failures(void);

/* The policy's mode as the policy file writes it */
const char *rm_sts_mode_name(int mode);

/* ---- mta_sts_fetch.c / mta_sts_cache.c [worker] ------------------- */

/* The policy for domain: blocking, on a delivery worker thread.
 * Answers from the cache under {mail_root}/mta-sts/ while it is within
 * max_age and the TXT id= is unchanged; fetches otherwise (and a failed
 * fetch keeps the cached policy until it expires).  Never fetches on
 * the loop.  0 = a policy in *out (mode enforce, testing or none),
 * 1 = the domain has no policy, -1 = it publishes one (or DNS failed)
 * but none could be fetched and none is cached: the caller goes on as
 * without MTA-STS (RFC 8461 §5) and reports the failure (TLS-RPT
 * sts-policy-fetch-error).
 * _why: the reason in why (when not NULL), and *fetch_failed_r (when
 * not NULL) true when the -1 is a policy published but not fetched
 * rather than DNS failing.  A failed fetch is not tried again for the
 * same domain and id= for a few minutes (every MX host of a delivery,
 * every delivery meanwhile, would wait for it again). */
int rm_mta_sts_get(const char *domain, struct rm_sts_policy *out);
int rm_mta_sts_get_why(const char *domain, struct rm_sts_policy *out, char *why,
		       size_t whysz, bool *fetch_failed_r);

/* Fetch https://mta-sts.DOMAIN/.well-known/mta-sts.txt with libcurl:
 * certificate checked for mta-sts.DOMAIN (the system CA store or
 * mta_sts.ca_file), no redirects, at most RM_STS_BODY_MAX bytes,
 * text/plain, bounded in time.  0 with the parsed policy, -1 with the
 * reason in why. */
int rm_sts_fetch(const char *domain, struct rm_sts_policy *out, char *why,
		 size_t whysz);

/* Refresh the cached policies past half their max_age (or a day),
 * whose id may have changed: the background pass [worker] */
void rm_mta_sts_refresh_all(void);
/* loop: the timer that runs rm_mta_sts_refresh_all on a worker */
void rm_mta_sts_start(void);

#endif
