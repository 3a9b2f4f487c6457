/*
 * rm_dns_resolve_wait: the resolver for code on worker threads (the
 * outbound queue).  The question is posted to the loop and the thread
 * sleeps on a condition variable; the answer is copied, since the
 * loop's copy dies with its callback.  A waiter that gives up leaves
 * the shared record to whichever side lets go last.
 */
#include <ev.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns/dns.h"
#include "dns/dns_rr.h"

struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;
	bool done;
	char *name;
	int type;
	struct ma_rrset rs;
};

static void unref(struct waiter *w)
{
	int left;

	pthread_mutex_lock(&w->mu);
	left = --w->refs;
	pthread_mutex_unlock(&w->mu);
	if (left > 0)
		return;
	rm_dns_rrset_clear(&w->rs);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w->name);
	free(w);
}

static void answered(void *arg, const struct ma_rrset *rs)
{
	struct waiter *w = arg;

	pthread_mutex_lock(&w->mu);
	if (rm_dns_rrset_copy(&w->rs, rs) < 0) {
		rm_dns_rrset_clear(&w->rs);
		w->rs.rcode = MA_DNS_TEMP;
	}
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	unref(w);
}

static void start(void *arg)
{
	struct waiter *w = arg;

	(void)rm_dns_resolve(w->name, w->type, answered, w);
}

int rm_dns_resolve_wait(const char *name, int type, struct ma_rrset *out)
{
	struct waiter *w = rm_xcalloc(1, sizeof(*w));
	pthread_condattr_t ca;
	struct timespec until;
	double t = rm_dns_timeout() + 1.0;

	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	w->refs = 2;
	w->name = rm_xstrdup(name);
	w->type = type;
	w->rs.rcode = MA_DNS_TEMP;
	memset(out, 0, sizeof(*out));
	out->rcode = MA_DNS_TEMP;
	if (rm_loop_is_current()) {
		/* the loop thread outside the loop (start-up, tests): run
		 * the loop here until the answer is in */
		start(w);
		while (!w->done)
			ev_run(rm_loop(), EVRUN_ONCE);
	} else {
		rm_loop_post(start, w);
	}
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)t;
	until.tv_nsec += (long)((t - (double)(time_t)t) * 1e9);
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->mu);
	while (!w->done && pthread_cond_timedwait(&w->cv, &w->mu, &until) == 0)
		;
	if (w->done) {
		*out = w->rs;
		memset(&w->rs, 0, sizeof(w->rs));
	}
	pthread_mutex_unlock(&w->mu);
	unref(w);
	return out->rcode;
}
