/*
 * /metrics counters of mail authentication, for the end-of-DATA
 * pipeline: one call per evaluated mechanism (per DKIM signature).
 *
 *   rmail_mailauth_results_total{mechanism="spf|dkim|dmarc",result=...}
 *   rmail_dmarc_dispositions_total{disposition="none|quarantine|reject",
 *                                  override="none|sampled_out|mailing_list"}
 *   rmail_mailauth_local_from_refused_total
 *   rmail_mailauth_forged_authres_removed_total
 */
#ifndef RM_MA_METRICS_H
#define RM_MA_METRICS_H

#include <stddef.h>

/* mechanism "spf", "dkim", "dmarc", result an RFC 8601 name; anything
 * else is counted as result="other" (labels never carry input) */
void rm_mailauth_count(const char *mechanism, const char *result);
/* enum dmarc_policy, enum dmarc_override (mailauth/dmarc.h) */
void rm_mailauth_count_disposition(int disposition, int override);
void rm_mailauth_count_local_from_refused(void);
void rm_mailauth_count_authres_removed(size_t n);

#endif
