/* The MTA-STS policy cache on disk ({mail_root}/mta-sts/, see
 * mta_sts_cache.c and docs/storage.md).  [worker] */
#ifndef RM_SUBMIT_MTA_STS_CACHE_H
#define RM_SUBMIT_MTA_STS_CACHE_H

#include "submit/mta_sts.h"

/* a lower-case host name safe as a file name */
bool rm_sts_domain_ok(const char *d);
/* "{mail_root}/mta-sts"; -1 without a config */
int rm_sts_cache_dir(char *buf, size_t sz);
/* the cached entry of domain, whatever its age (out->expires says);
 * text_r (may be NULL) gets a malloc'd copy of the policy file.
 * 0, or -1 when there is none (or it does not parse) */
int rm_sts_cache_load(const char *dir, const char *domain,
		      struct rm_sts_policy *out, char **text_r);
/* write the entry (dir made when missing), atomically; 0 or -1 */
int rm_sts_cache_store(const char *dir, const char *domain, const char *id,
		       int64_t fetched, const char *text, size_t len);
int rm_sts_cache_remove(const char *dir, const char *domain);

#endif
