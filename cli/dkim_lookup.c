/*
 * The TXT look-up behind `rmail dkim check`: libresolv for now, like
 * the queue's MX look-ups (core/submit/mx.c).  One function, so it can
 * be pointed at the core's asynchronous resolver (core/dns) once that
 * lands, without touching the command.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mailauth/ma_dns.h"

#define ANSWER_MAX 16384

int rm_cli_txt_lookup(const char *name,
		      void (*fn)(void *arg, const char *txt, size_t len),
		      void *arg)
{
	struct __res_state st;
	unsigned char *ans = malloc(ANSWER_MAX);
	ns_msg msg;
	int len, rc = MA_DNS_NODATA;

	memset(&st, 0, sizeof(st));
	if (ans == NULL || res_ninit(&st) < 0) {
		free(ans);
		return MA_DNS_TEMP;
	}
	len = res_nquery(&st, name, ns_c_in, ns_t_txt, ans, ANSWER_MAX);
	if (len < 0) {
		rc = h_errno == HOST_NOT_FOUND ? MA_DNS_NXDOMAIN
		     : h_errno == NO_DATA      ? MA_DNS_NODATA
					       : MA_DNS_TEMP;
		goto out;
	}
	if (ns_initparse(ans, len, &msg) < 0) {
		rc = MA_DNS_TEMP;
		goto out;
	}
	for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		ns_rr rr;
		const unsigned char *p, *end;
		char *txt;
		size_t tl = 0;

		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0 ||
		    ns_rr_type(rr) != ns_t_txt)
			continue;
		p = ns_rr_rdata(rr);
		end = p + ns_rr_rdlen(rr);
		txt = malloc((size_t)ns_rr_rdlen(rr) + 1);
		if (txt == NULL)
			break;
		/* the character-strings concatenated (RFC 6376 §3.6.2.2) */
		while (p < end) {
			size_t n = *p++;

			if (n > (size_t)(end - p))
				n = (size_t)(end - p);
			memcpy(txt + tl, p, n);
			tl += n;
			p += n;
		}
		txt[tl] = '\0';
		fn(arg, txt, tl);
		free(txt);
		rc = MA_DNS_OK;
	}
out:
	res_nclose(&st);
	free(ans);
	return rc;
}
