/*
 * Per-host state shared by every process of one daemon instance: the
 * per-IP connection counts, the login failure budget, the auth cache
 * and the message rate limits.  One fixed-size anonymous shared mapping
 * made by rm_hostshm_init() before any fork, so worker processes inherit
 * it; a process that never called it gets a private one on first use
 * (tools, unit tests).  Pointer-free records only.
 *
 * One robust, process-shared mutex guards it: a process killed while
 * holding it leaves the next locker EOWNERDEAD, which marks the mutex
 * consistent, counts a recovery and drops the auth cache (the one table
 * where a half-written record could matter).  Counters left half-updated
 * are off by at most the one update in flight.  [any thread]
 */
#ifndef RM_HOSTSHM_H
#define RM_HOSTSHM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth_table.h"

#define HOSTSHM_IP_SLOTS 16384
#define HOSTSHM_ACCT_SLOTS 16384
#define HOSTSHM_KNOWN_SLOTS 16384
#define HOSTSHM_CACHE_WAYS 4
#define HOSTSHM_CACHE_SLOTS 4096
#define HOSTSHM_RATE_SLOTS 32768
/* connection counts per client prefix, one column per process so the
 * supervisor can drop a dead worker's counts (rm_hostshm_proc_gone) */
#define HOSTSHM_CONN_SLOTS 16384
#define HOSTSHM_CONN_WAYS 8
#define HOSTSHM_PROCS 32
/* the text of rate keys that reset commands list (rm_rate_note) */
#define HOSTSHM_NOTE_SLOTS 4096
#define HOSTSHM_NOTE_MAX 320

struct hostshm_cache_slot {
	uint64_t user; /* 0: free; written last */
	unsigned char mac[32];
	uint64_t gen;
	double expires;
};

struct hostshm_conn_slot {
	uint64_t key; /* 0: free */
	uint16_t n[HOSTSHM_PROCS];
};

struct hostshm_note_slot {
	uint64_t bucket; /* hash of the bucket's name; 0: free */
	uint64_t key;	 /* the rate record's key */
	double noted;	 /* the oldest note goes first when full */
	char text[HOSTSHM_NOTE_MAX];
};

struct rm_hostshm {
	uint32_t magic;
	pthread_mutex_t lock;
	uint64_t recoveries;   /* dead owners recovered from */
	unsigned char key[32]; /* keys every table's hashes, per instance */
	struct auth_slot ip_tab[HOSTSHM_IP_SLOTS];
	struct auth_slot acct_tab[HOSTSHM_ACCT_SLOTS];
	struct auth_slot known_tab[HOSTSHM_KNOWN_SLOTS];
	struct hostshm_cache_slot cache_tab[HOSTSHM_CACHE_SLOTS];
	struct auth_slot rate_tab[HOSTSHM_RATE_SLOTS];
	struct hostshm_conn_slot conn_tab[HOSTSHM_CONN_SLOTS];
	struct hostshm_note_slot note_tab[HOSTSHM_NOTE_SLOTS];
};

/* Make the table; call once at daemon start, before forking workers.
 * 0 (when the kernel refuses a shared mapping it logs a warning and the
 * table is per process); -1 only when there is no table at all. */
int rm_hostshm_init(void);
/* lock the table (made private on first use when init never ran) */
struct rm_hostshm *rm_hostshm_lock(void);
void rm_hostshm_unlock(struct rm_hostshm *h);
/* the key every table hashes under (constant after creation) */
const unsigned char *rm_hostshm_key(void);
uint64_t rm_hostshm_recoveries(void);

/* This process's connection-count column (a worker's index; 0 by
 * default), and the supervisor's call when worker idx is gone: its
 * connections died with it. */
void rm_hostshm_set_proc(unsigned idx);
unsigned rm_hostshm_proc(void);
void rm_hostshm_proc_gone(unsigned idx);

/* Counts per key with one column per process, so a dead worker's
 * share goes with it (rm_hostshm_proc_gone): the per-IP connections
 * (tag "conn") and the delivery sessions per destination domain
 * ("dom").  With the table locked: k's record, or with create a free
 * one of its set (free once every column is 0); NULL when the set is
 * full, and the caller then leaves the unit uncounted. */
struct hostshm_conn_slot *rm_hostshm_count_find(struct rm_hostshm *h,
						uint64_t k, bool create);
uint32_t rm_hostshm_count_total(const struct hostshm_conn_slot *e);

/* Test hook: called at mid-update points with the lock held (the
 * hostshm test kills the process from it).  NULL in the daemon. */
extern void (*rm_hostshm_test_hook)(const char *where);
#define RM_HOSTSHM_HOOK(w)                                                     \
	do {                                                                   \
		if (rm_hostshm_test_hook != NULL)                              \
			rm_hostshm_test_hook(w);                               \
	} while (0)

/* HMAC-SHA256 under the table's key of a, a 0 byte, then b (each cut
 * to 512 bytes): the same in every process of the instance */
void rm_hostshm_mac(const void *a, size_t alen, const void *b, size_t blen,
		    unsigned char out[32]);
/* its first 64 bits of (tag, data), never 0 (0 marks a free record) */
uint64_t rm_hostshm_hash(const char *tag, const void *data, size_t len);
/* a client address's key: IPv4 as is (IPv4-mapped IPv6 too), IPv6 cut
 * to `prefix` bits (one host usually owns a /64); text that is no
 * address keys as itself */
uint64_t rm_hostshm_ipkey(const char *tag, const char *ip, unsigned prefix);

#endif
