/*
 * The resolver in the services table (rmail_core.dns_query, ABI 1.3):
 * the internal answer converted to the public fixed-layout one.
 */
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "rmail/dns.h"

struct rmail_dns_query {
	struct rm_dns_q *q;
	rmail_dns_fn cb;
	void *arg;
};

static void answered(void *arg, const struct ma_rrset *rs)
{
	struct rmail_dns_query *mq = arg;
	struct rmail_dns_rr *rr = NULL;
	struct rmail_dns_answer a = {
		.rcode = rs->rcode, .secure = rs->secure, .n = 0, .rr = NULL};
	rmail_dns_fn cb = mq->cb;
	void *cb_arg = mq->arg;

	free(mq);
	if (rs->n > 0)
		rr = calloc(rs->n, sizeof(*rr));
	if (rs->n > 0 && rr == NULL) {
		a.rcode = RMAIL_DNS_TEMP;
		a.secure = 0;
	}
	for (size_t i = 0; rr != NULL && i < rs->n; i++) {
		rr[i].pref = rs->rr[i].pref;
		rr[i].host = rs->rr[i].host;
		rr[i].data = rs->rr[i].data;
		rr[i].len = rs->rr[i].len;
		memcpy(rr[i].addr, rs->rr[i].addr, sizeof(rr[i].addr));
		a.n++;
	}
	a.rr = rr;
	cb(cb_arg, &a);
	free(rr);
}

struct rmail_dns_query *rm_dns_query_svc(const char *name, int type,
					 rmail_dns_fn cb, void *arg)
{
	struct rmail_dns_query *mq = rm_xcalloc(1, sizeof(*mq));

	mq->cb = cb;
	mq->arg = arg;
	mq->q = rm_dns_resolve(name, type, answered, mq);
	return mq;
}

void rm_dns_cancel_svc(struct rmail_dns_query *mq)
{
	if (mq == NULL)
		return;
	rm_dns_cancel(mq->q);
	free(mq);
}
