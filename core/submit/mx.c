/*
 * MX look-up (RFC 5321 §5.1): preference order, random among equal
 * preferences, the domain itself when it has no MX (implicit MX), null
 * MX (RFC 7505) and NXDOMAIN as permanent failures.  The queue runs on
 * worker threads: questions go to the core's resolver (core/dns)
 * through its blocking bridge, so dns.forwarders (or the older
 * delivery.dns_servers) and DNSSEC apply here too.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "submit_int.h"

struct mx_sort {
	struct rm_mx mx;
	uint32_t key;
};

static int cmp_mx(const void *a, const void *b)
{
	const struct mx_sort *x = a, *y = b;

	if (x->mx.pref != y->mx.pref)
		return x->mx.pref < y->mx.pref ? -1 : 1;
	return x->key < y->key ? -1 : x->key > y->key;
}

struct mx_acc {
	struct mx_sort *v;
	size_t n, cap;
	bool null_mx;
};

static void mx_rr(void *arg, unsigned pref, const char *host)
{
	struct mx_acc *a = arg;

	if (host[0] == '\0') {
		a->null_mx = true;
		return;
	}
	if (a->n == a->cap) {
		a->cap = a->cap == 0 ? 8 : a->cap * 2;
		a->v = rm_xrealloc(a->v, a->cap * sizeof(*a->v));
	}
	a->v[a->n].mx.pref = pref;
	snprintf(a->v[a->n].mx.host, sizeof(a->v[a->n].mx.host), "%.255s",
		 host);
	rm_random_bytes(&a->v[a->n].key, sizeof(a->v[a->n].key));
	a->n++;
}

static void implicit_mx(const char *domain, struct rm_mx *out, size_t max,
			size_t *n_r)
{
	snprintf(out[0].host, sizeof(out[0].host), "%s", domain);
	out[0].pref = 0;
	*n_r = max > 0 ? 1 : 0;
}

int rm_mx_lookup(const char *domain, struct rm_mx *out, size_t max, size_t *n_r,
		 bool *perm_r, char *why, size_t whysz)
{
	return rm_mx_lookup_sec(domain, out, max, n_r, perm_r, NULL, why,
				whysz);
}

int rm_mx_lookup_sec(const char *domain, struct rm_mx *out, size_t max,
		     size_t *n_r, bool *perm_r, bool *secure_r, char *why,
		     size_t whysz)
{
	struct mx_acc acc = {0};
	struct ma_rrset rs;
	bool dummy;
	size_t i;

	*n_r = 0;
	*perm_r = false;
	if (secure_r == NULL)
		secure_r = &dummy;
	*secure_r = false;
	switch (rm_dns_resolve_wait(domain, MA_T_MX, &rs)) {
	case MA_DNS_NXDOMAIN:
		rm_dns_rrset_clear(&rs);
		*perm_r = true;
		snprintf(why, whysz, "5.1.2 %s: domain not found", domain);
		return -1;
	case MA_DNS_NODATA:
		/* no MX: the domain is its own mail host */
		*secure_r = rs.secure;
		rm_dns_rrset_clear(&rs);
		implicit_mx(domain, out, max, n_r);
		return 0;
	case MA_DNS_OK:
		break;
	default:
		rm_dns_rrset_clear(&rs);
		snprintf(why, whysz, "4.4.3 %s: MX look-up failed", domain);
		return -1;
	}
	/* DANE needs to know (RFC 7672 §2.2.1) */
	*secure_r = rs.secure;
	for (i = 0; i < rs.n; i++)
		mx_rr(&acc, rs.rr[i].pref, rs.rr[i].host ? rs.rr[i].host : "");
	rm_dns_rrset_clear(&rs);
	if (acc.null_mx) {
		free(acc.v);
		*perm_r = true;
		snprintf(why, whysz, "5.1.10 %s accepts no mail (null MX)",
			 domain);
		return -1;
	}
	if (acc.n == 0) {
		implicit_mx(domain, out, max, n_r);
		return 0;
	}
	qsort(acc.v, acc.n, sizeof(*acc.v), cmp_mx);
	for (i = 0; i < acc.n && i < max; i++)
		out[i] = acc.v[i].mx;
	*n_r = i;
	free(acc.v);
	return 0;
}

static size_t query_addrs(const char *host, int type, int port,
			  struct rm_addr *out, size_t max)
{
	struct ma_rrset rs;
	size_t n = 0;

	if (rm_dns_resolve_wait(host, type, &rs) == MA_DNS_OK)
		for (size_t i = 0; i < rs.n && n < max; i++) {
			memset(&out[n], 0, sizeof(out[n]));
			if (type == MA_T_A) {
				struct sockaddr_in *sa = (void *)&out[n].ss;

				sa->sin_family = AF_INET;
				sa->sin_port = htons((uint16_t)port);
				memcpy(&sa->sin_addr, rs.rr[i].addr, 4);
				out[n++].len = sizeof(*sa);
			} else {
				struct sockaddr_in6 *sa = (void *)&out[n].ss;

				sa->sin6_family = AF_INET6;
				sa->sin6_port = htons((uint16_t)port);
				memcpy(&sa->sin6_addr, rs.rr[i].addr, 16);
				out[n++].len = sizeof(*sa);
			}
		}
	rm_dns_rrset_clear(&rs);
	return n;
}

int rm_mx_addrs(const char *host, int port, bool use_dns, struct rm_addr *out,
		size_t max, size_t *n_r)
{
	struct addrinfo hints, *res = NULL, *ai;
	char ps[16];
	size_t n = 0;
	unsigned char lit[16];

	*n_r = 0;
	/* a route or relay names an IP literal or a host of the system's
	 * own (hosts file): getaddrinfo; MX hosts go through the resolver */
	if (use_dns && inet_pton(AF_INET, host, lit) != 1 &&
	    inet_pton(AF_INET6, host, lit) != 1) {
		n = query_addrs(host, MA_T_A, port, out, max);
		n += query_addrs(host, MA_T_AAAA, port, out + n, max - n);
		*n_r = n;
		return 0;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(ps, sizeof(ps), "%d", port);
	if (getaddrinfo(host, ps, &hints, &res) != 0)
		return -1;
	for (ai = res; ai != NULL && n < max; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(out[n].ss))
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		memcpy(&out[n].ss, ai->ai_addr, ai->ai_addrlen);
		out[n++].len = ai->ai_addrlen;
	}
	freeaddrinfo(res);
	*n_r = n;
	return 0;
}
