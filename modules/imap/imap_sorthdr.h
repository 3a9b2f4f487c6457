/*
 * Header fields for SORT and THREAD (imap_sorthdr.c) and the
 * per-mailbox cache of the records made from them (imap_sortcache.c).
 */
#ifndef IMAP_SORTHDR_H
#define IMAP_SORTHDR_H

#include <rmail/rmail.h>

#include "imap_sort.h"

/* where a mailbox's header fields come from */
struct imap_sorthdr_src {
	const struct rmail_core *core;
	const struct rmail_store_ops *ops;
	struct rmail_mbox *mb;
	/* the mailbox as the store names it: the header cache's key */
	const char *user, *mailbox;
	uint32_t uidvalidity;
};

/*
 * The sort records of m[0..n) (ascending UIDs) into recs[] (never
 * NULL: an unreadable message gets an empty one).  The one place SORT
 * and THREAD read headers; any thread, blocking (it reads the store).
 * Stops early, leaving NULLs, when *cancel is set.  True when the
 * core's header cache answered but lacked some (ask for an update).
 */
bool imap_sorthdr_get(const struct imap_sorthdr_src *src,
		      const struct rmail_msg *const *m, size_t n,
		      struct imap_sortrec **recs, const volatile int *cancel);

/* the fields of a parsed message; dfrom_r and dto_r are malloc'd and
 * back h->dfrom/h->dto, the other strings live in the parse */
void imap_sorthdr_fields(const struct rmail_core *core, struct rmail_mime *mime,
			 struct imap_sorthdr *h, char **dfrom_r, char **dto_r);

/*
 * Records by UID for one selected mailbox (the tracker's), loop thread
 * only.  A job looks its messages up on the loop, makes the missing
 * records on the worker and hands them back on the loop: records are
 * never freed while a job holds them (see imap_sortcache_hold).
 */
struct imap_sortcache;

struct imap_sortcache *imap_sortcache_new(uint32_t uidvalidity);
void imap_sortcache_free(struct imap_sortcache *c);
/* NULL when missing or of another size */
const struct imap_sortrec *imap_sortcache_get(struct imap_sortcache *c,
					      uint32_t uid, uint64_t size);
/* takes ownership; a record of the same UID is replaced only when no
 * job holds the cache */
void imap_sortcache_put(struct imap_sortcache *c, struct imap_sortrec *r);
/* jobs in flight: records stay while > 0 */
void imap_sortcache_hold(struct imap_sortcache *c);
void imap_sortcache_release(struct imap_sortcache *c);
/* drop records of UIDs `keep` says are gone (no job holds it) */
void imap_sortcache_prune(struct imap_sortcache *c,
			  bool (*keep)(void *ctx, uint32_t uid), void *ctx);
size_t imap_sortcache_bytes(const struct imap_sortcache *c);
size_t imap_sortcache_count(const struct imap_sortcache *c);
unsigned imap_sortcache_held(const struct imap_sortcache *c);
uint32_t imap_sortcache_uidvalidity(const struct imap_sortcache *c);

#endif
