/*
 * MX look-up with libresolv (RFC 5321 §5.1): preference order, random
 * among equal preferences, the domain itself when it has no MX (implicit
 * MX), null MX (RFC 7505) and NXDOMAIN as permanent failures.  A private
 * res_state per call keeps it thread-safe and lets delivery.dns_servers
 * replace resolv.conf's servers.  Answers are parsed with ns_parserr,
 * which bounds every read to the message (mx_parse.c).
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "submit_int.h"

#define ANSWER_MAX 8192

static int res_open(res_state st)
{
	const struct rm_config *c = rm_conf();
	int k = 0;

	memset(st, 0, sizeof(*st));
	if (res_ninit(st) < 0)
		return -1;
	for (size_t i = 0;
	     c != NULL && i < c->delivery.dns_servers.n && k < MAXNS; i++) {
		struct in_addr a;

		/* IPv4 only: glibc keeps IPv6 servers in private fields */
		if (inet_pton(AF_INET, c->delivery.dns_servers.v[i], &a) != 1)
			continue;
		memset(&st->nsaddr_list[k], 0, sizeof(st->nsaddr_list[k]));
		st->nsaddr_list[k].sin_family = AF_INET;
		st->nsaddr_list[k].sin_port = htons(NAMESERVER_PORT);
		st->nsaddr_list[k].sin_addr = a;
		k++;
	}
	if (k > 0)
		st->nscount = k;
	st->retrans = 2;
	st->retry = 2;
	return 0;
}

static bool custom_dns(void)
{
	const struct rm_config *c = rm_conf();

	return c != NULL && c->delivery.dns_servers.n > 0;
}

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

int rm_mx_lookup(const char *domain, struct rm_mx *out, size_t max, size_t *n_r,
		 bool *perm_r, char *why, size_t whysz)
{
	struct mx_acc acc = {0};
	unsigned char *ans;
	struct __res_state st;
	size_t i;
	int len, herr, rc;

	*n_r = 0;
	*perm_r = false;
	if (res_open(&st) < 0) {
		snprintf(why, whysz, "4.4.3 resolver initialisation failed");
		return -1;
	}
	ans = rm_xmalloc(ANSWER_MAX);
	len = res_nquery(&st, domain, ns_c_in, ns_t_mx, ans, ANSWER_MAX);
	herr = st.res_h_errno;
	res_nclose(&st);
	if (len < 0) {
		free(ans);
		if (herr == HOST_NOT_FOUND) {
			*perm_r = true;
			snprintf(why, whysz, "5.1.2 %s: domain not found",
				 domain);
			return -1;
		}
		if (herr == NO_DATA) {
			/* no MX: the domain is its own mail host */
			snprintf(out[0].host, sizeof(out[0].host), "%s",
				 domain);
			out[0].pref = 0;
			*n_r = max > 0 ? 1 : 0;
			return 0;
		}
		snprintf(why, whysz, "4.4.3 %s: MX look-up failed", domain);
		return -1;
	}
	rc = rm_mx_parse(ans, len, mx_rr, &acc);
	free(ans);
	if (rc < 0) {
		snprintf(why, whysz, "4.4.3 %s: bad DNS answer", domain);
		return -1;
	}
	if (acc.null_mx) {
		free(acc.v);
		*perm_r = true;
		snprintf(why, whysz, "5.1.10 %s accepts no mail (null MX)",
			 domain);
		return -1;
	}
	if (acc.n == 0) {
		snprintf(out[0].host, sizeof(out[0].host), "%s", domain);
		out[0].pref = 0;
		*n_r = max > 0 ? 1 : 0;
		return 0;
	}
	qsort(acc.v, acc.n, sizeof(*acc.v), cmp_mx);
	for (i = 0; i < acc.n && i < max; i++)
		out[i] = acc.v[i].mx;
	*n_r = i;
	free(acc.v);
	return 0;
}

static size_t query_addrs(res_state st, const char *host, int type, int port,
			  struct rm_addr *out, size_t max)
{
	unsigned char ans[ANSWER_MAX];
	int len = res_nquery(st, host, ns_c_in, type, ans, sizeof(ans));

	return rm_addrs_parse(ans, len, port, out, max);
}

int rm_mx_addrs(const char *host, int port, bool use_dns, struct rm_addr *out,
		size_t max, size_t *n_r)
{
	struct addrinfo hints, *res = NULL, *ai;
	char ps[16];
	size_t n = 0;

	*n_r = 0;
	if (use_dns && custom_dns()) {
		struct __res_state st;

		if (res_open(&st) < 0)
			return -1;
		n = query_addrs(&st, host, ns_t_a, port, out, max);
		n += query_addrs(&st, host, ns_t_aaaa, port, out + n, max - n);
		res_nclose(&st);
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
