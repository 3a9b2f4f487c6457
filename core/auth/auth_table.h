/*
 * Fixed-size, pointer-free counter tables for the login failure budget
 * and the message rate limits: a plain array of records keyed by a 64-bit keyed
 * hash (never the client's text), set-associative with AUTH_TABLE_WAYS records
 * per set and least-recently-used eviction inside a set.  Memory is the
 * caller's: the daemon's arrays live in the per-host shared table
 * (hostshm.h), seen by every worker process.  Counts are sliding-window
 * estimates (two fixed windows, the previous one weighted by its overlap).  Not
 * locked: the caller serialises.
 */
#ifndef RM_AUTH_TABLE_H
#define RM_AUTH_TABLE_H

#include <stddef.h>
#include <stdint.h>

#define AUTH_TABLE_WAYS 8

struct auth_slot {
	uint64_t key; /* 0: free */
	double start; /* start of the current fixed window */
	double last;  /* last touch, for LRU eviction and "recent" */
	uint32_t cur, prev;
};

/* n: a multiple of AUTH_TABLE_WAYS */
void auth_table_clear(struct auth_slot *t, size_t n);
/* the estimated count of key within window at now; 0 when absent */
uint32_t auth_table_count(struct auth_slot *t, size_t n, uint64_t key,
			  double window, double now);
/* add delta (may be negative, floors at 0) to key's count; a missing
 * key takes a free or expired record of its set, else its set's least
 * recently used one */
void auth_table_add(struct auth_slot *t, size_t n, uint64_t key, int delta,
		    double window, double now);
/* when key was last added to, or -1 when absent */
/* key's record rolled forward to now, made as auth_table_add does when
 * missing; NULL for key 0 or a bad window.  For callers with their own
 * counting rule (the rate limits) */
struct auth_slot *auth_table_get(struct auth_slot *t, size_t n, uint64_t key,
				 double window, double now);
double auth_table_last(const struct auth_slot *t, size_t n, uint64_t key);
void auth_table_del(struct auth_slot *t, size_t n, uint64_t key);
/* records in use (for tests and metrics) */
size_t auth_table_used(const struct auth_slot *t, size_t n);

#endif
