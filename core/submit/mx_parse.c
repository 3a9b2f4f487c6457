/*
 * DNS answers from an untrusted resolver or network: every read goes
 * through ns_initparse/ns_parserr/dn_expand, which bound it to the
 * message, and record data is length-checked before use.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <string.h>

#include "mx_parse.h"

int rm_mx_parse(const unsigned char *ans, int len, rm_mx_rr_fn *fn, void *arg)
{
	ns_msg msg;

	if (len < 0 || ns_initparse(ans, len, &msg) < 0)
		return -1;
	for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		char name[NS_MAXDNAME];
		ns_rr rr;

		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
			break;
		if (ns_rr_type(rr) != ns_t_mx || ns_rr_rdlen(rr) < 3)
			continue;
		if (dn_expand(ns_msg_base(msg), ns_msg_end(msg),
			      ns_rr_rdata(rr) + 2, name, sizeof(name)) < 0)
			continue;
		if (strcmp(name, ".") == 0)
			name[0] = '\0';
		fn(arg, ns_get16(ns_rr_rdata(rr)), name);
	}
	return 0;
}

size_t rm_addrs_parse(const unsigned char *ans, int len, int port,
		      struct rm_addr *out, size_t max)
{
	ns_msg msg;
	size_t n = 0;

	if (len < 0 || ns_initparse(ans, len, &msg) < 0)
		return 0;
	for (int i = 0; i < ns_msg_count(msg, ns_s_an) && n < max; i++) {
		ns_rr rr;

		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
			break;
		memset(&out[n], 0, sizeof(out[n]));
		if (ns_rr_type(rr) == ns_t_a && ns_rr_rdlen(rr) == 4) {
			struct sockaddr_in *s = (void *)&out[n].ss;

			s->sin_family = AF_INET;
			s->sin_port = htons((uint16_t)port);
			memcpy(&s->sin_addr, ns_rr_rdata(rr), 4);
			out[n++].len = sizeof(*s);
		} else if (ns_rr_type(rr) == ns_t_aaaa &&
			   ns_rr_rdlen(rr) == 16) {
			struct sockaddr_in6 *s = (void *)&out[n].ss;

			s->sin6_family = AF_INET6;
			s->sin6_port = htons((uint16_t)port);
			memcpy(&s->sin6_addr, ns_rr_rdata(rr), 16);
			out[n++].len = sizeof(*s);
		}
	}
	return n;
}
