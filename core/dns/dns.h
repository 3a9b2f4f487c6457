/*
 * The core's resolver: libunbound driven from the libev loop through
 * ub_fd(), validating with DNSSEC when the forwarders pass signatures
 * through (checked once at start, in the background), one answer type
 * for everyone (struct ma_rrset, core/mailauth/ma_dns.h).
 *
 * Loop thread only, except rm_dns_resolve_wait (any other thread).
 */
#ifndef RM_DNS_H
#define RM_DNS_H

#include <stdbool.h>

#include "mailauth/ma_dns.h"
#include "rm.h"

struct rm_dns_q;
struct ma_dns_cache;

/* answer callback: rs lives only during the call */
typedef void (*rm_dns_fn)(void *arg, const struct ma_rrset *rs);

/* Start the resolver from c's `dns` section (and delivery.dns_servers
 * when dns.forwarders is unset).  Also done on first use; calling it
 * again after rm_dns_shutdown starts afresh (tests). */
int rm_dns_init(const struct rm_config *c, struct rmail_err *err);
/* cancel every query (their callbacks are not called) and stop */
void rm_dns_shutdown(void);

/* Ask (name, type).  cb is called exactly once, later (never inside
 * this call), unless the query is cancelled first.  Never NULL. */
struct rm_dns_q *rm_dns_resolve(const char *name, int type, rm_dns_fn cb,
				void *arg);
/* Forget q: its callback will not be called.  q NULL is a no-op; q must
 * not be used after its callback ran. */
void rm_dns_cancel(struct rm_dns_q *q);
/* answers are DNSSEC-validated (false while the start-up check runs
 * and when the forwarders strip DNSSEC) */
bool rm_dns_validating(void);

/* The evaluators' driver: resolve every question wanted in c
 * (ma_dns_take_wanted) concurrently, ma_dns_put each answer, then call
 * done once, later.  Returns the number of questions asked (done is
 * called even for 0). */
int rm_dns_fill(struct ma_dns_cache *c, void (*done)(void *arg), void *arg);
/* stop a fill of c: done is not called; answers already put stay */
void rm_dns_fill_cancel(struct ma_dns_cache *c);

/* [any thread but the loop's, or the loop thread while the loop is not
 * running] Resolve and wait, at most the configured timeout plus a
 * second.  out is a deep copy: free it with rm_dns_rrset_clear.
 * Returns out->rcode. */
int rm_dns_resolve_wait(const char *name, int type, struct ma_rrset *out);
void rm_dns_rrset_clear(struct ma_rrset *rs);

/* rmail_core.dns_query / dns_cancel (dns_services.c) */
struct rmail_dns_query *rm_dns_query_svc(const char *name, int type,
					 rmail_dns_fn cb, void *arg);
void rm_dns_cancel_svc(struct rmail_dns_query *q);

/* the per-query bound in seconds */
double rm_dns_timeout(void);

#endif
