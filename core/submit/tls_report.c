/*
 * The TLS-RPT call site of the outbound TLS policy (tls_policy.h,
 * rm_tls_policy_note): one MX session becomes one line for the daily
 * report (tlsrpt.h) with the policy-type it ran under (tlsa, sts,
 * no-policy-found) and success or its first failure — one known
 * before the session (the MX is not in an MTA-STS testing policy, the
 * policy could not be fetched) or met at its TLS step (no STARTTLS, a
 * failed handshake, a certificate that does not verify: the result's
 * failure, set where it happened, not read back from the reply text).
 *
 * Not counted: sessions that never got to the TLS step (no connection,
 * a refusing greeting), and the relay host and routes, whose next hop
 * is not the recipient domain's.  Hosts skipped before connecting are
 * recorded where the reason is known (tls_policy.c: an MX outside an
 * enforce policy, a failed TLSA look-up).
 */
#include "submit/tlsrpt.h"
#include "submit_int.h"
#include "tls_policy.h"

void rm_tls_policy_note(const struct rm_tls_policy *p, const char *domain,
			const char *host, const char *peer_ip,
			const struct rm_tls_result *r, bool ok, const char *why)
{
	int failure;
	const char *detail;

	(void)ok;
	(void)why;
	if (p == NULL || r == NULL || !r->reached ||
	    p->source == RM_TLSP_RELAY || p->source == RM_TLSP_ROUTE)
		return;
	failure = r->failure;
	detail = r->detail;
	if (p->rpt_failure != 0) {
		failure = p->rpt_failure;
		detail = p->rpt_detail;
	}
	rm_tlsrpt_note(domain, (enum rm_tlsrpt_policy)p->rpt_type, host,
		       peer_ip != NULL ? peer_ip : "",
		       (enum rm_tlsrpt_result)failure, detail);
}
