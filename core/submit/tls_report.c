/*
 * From the outbound TLS policy's view of one MX session to a TLS-RPT
 * line (tlsrpt.h): the policy-type it ran under, and success or the
 * first failure — one known before the session (the MX is not in an
 * MTA-STS testing policy, the policy could not be fetched) or met at
 * its TLS step (no STARTTLS, a failed handshake, a certificate that
 * does not verify).  Sessions that never got to the TLS step (no
 * connection, a refusing greeting) are not TLS sessions: not counted.
 */
#include <netdb.h>

#include "submit/tlsrpt.h"
#include "submit_int.h"
#include "tls_policy.h"

void rm_tls_report_session(const char *domain, const struct rm_tls_policy *p,
			   const char *mx, const struct rm_addr *a,
			   const struct rm_tls_result *r)
{
	char ip[64] = "";
	int failure = r->failure;
	const char *detail = r->detail;

	if (!r->reached)
		return;
	if (p->rpt_failure != 0) {
		failure = p->rpt_failure;
		detail = p->rpt_detail;
	}
	if (a != NULL)
		(void)getnameinfo((const struct sockaddr *)&a->ss, a->len, ip,
				  sizeof(ip), NULL, 0, NI_NUMERICHOST);
	rm_tlsrpt_note(domain, (enum rm_tlsrpt_policy)p->rpt_type, mx, ip,
		       (enum rm_tlsrpt_result)failure, detail);
}
