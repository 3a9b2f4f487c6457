/*
 * The TXT look-up behind `rmail dkim check`, through the core's
 * resolver (core/dns) started from the config's `dns` section, so the
 * command sees what the daemon would: the same forwarders, DNSSEC and
 * timeout.  The command runs on the loop thread with the loop idle;
 * rm_dns_resolve_wait runs the loop until the answer is in.
 */
#include <string.h>

#include "cli.h"
#include "dns/dns.h"
#include "mailauth/ma_dns.h"

int rm_cli_txt_lookup(const struct rm_config *conf, const char *name,
		      void (*fn)(void *arg, const char *txt, size_t len),
		      void *arg)
{
	struct rmail_err err;
	struct ma_rrset rs;
	int rc;

	if (rm_loop_init() < 0 || rm_dns_init(conf, &err) < 0)
		return MA_DNS_TEMP;
	rc = rm_dns_resolve_wait(name, MA_T_TXT, &rs);
	for (size_t i = 0; rc == MA_DNS_OK && i < rs.n; i++)
		fn(arg, (const char *)rs.rr[i].data, rs.rr[i].len);
	rm_dns_rrset_clear(&rs);
	return rc;
}
