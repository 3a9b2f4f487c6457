/*
 * The per-process cache of parsed message summaries, keyed by user,
 * mailbox, UIDVALIDITY, UID and size, bounded by bytes with LRU
 * eviction.  Entries are rebuildable from the message file: the store
 * stays the only source of truth.  Loop thread only, so no locks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_mime.h"

#define CACHE_BYTES (64u * 1024 * 1024)
#define NBUCKETS 16384u

static struct {
	struct imap_msginfo *buckets[NBUCKETS];
	struct imap_msginfo *head, *tail; /* head = most recent */
	size_t bytes, entries;
} C;

static uint32_t hash(const char *key, uint32_t uid, uint64_t size)
{
	uint32_t h = 2166136261u;

	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	h = (h ^ uid) * 16777619u;
	h = (h ^ (uint32_t)size) * 16777619u;
	return h % NBUCKETS;
}

static char *make_key(const char *user, const char *mbox, uint32_t uidv)
{
	size_t n = strlen(user) + strlen(mbox) + 16;
	char *k = malloc(n);

	if (k == NULL)
		abort();
	snprintf(k, n, "%s\n%s\n%u", user, mbox, uidv);
	return k;
}

static void lru_unlink(struct imap_msginfo *mi)
{
	if (mi->lru_prev != NULL)
		mi->lru_prev->lru_next = mi->lru_next;
	else
		C.head = mi->lru_next;
	if (mi->lru_next != NULL)
		mi->lru_next->lru_prev = mi->lru_prev;
	else
		C.tail = mi->lru_prev;
	mi->lru_prev = mi->lru_next = NULL;
}

static void lru_front(struct imap_msginfo *mi)
{
	mi->lru_next = C.head;
	mi->lru_prev = NULL;
	if (C.head != NULL)
		C.head->lru_prev = mi;
	C.head = mi;
	if (C.tail == NULL)
		C.tail = mi;
}

static void drop(struct imap_msginfo *mi)
{
	struct imap_msginfo **pp = &C.buckets[hash(mi->key, mi->uid, mi->size)];

	while (*pp != NULL && *pp != mi)
		pp = &(*pp)->hnext;
	if (*pp != NULL)
		*pp = mi->hnext;
	lru_unlink(mi);
	C.bytes -= mi->mem;
	C.entries--;
	imap_msginfo_free(mi);
}

struct imap_msginfo *imap_cache_get(const char *user, const char *mbox,
				    uint32_t uidvalidity, uint32_t uid,
				    uint64_t size)
{
	char *key = make_key(user, mbox, uidvalidity);
	struct imap_msginfo *mi;

	for (mi = C.buckets[hash(key, uid, size)]; mi != NULL; mi = mi->hnext)
		if (mi->uid == uid && mi->size == size &&
		    strcmp(mi->key, key) == 0)
			break;
	free(key);
	if (mi != NULL && mi != C.head) {
		lru_unlink(mi);
		lru_front(mi);
	}
	return mi;
}

void imap_cache_put(const char *user, const char *mbox, uint32_t uidvalidity,
		    uint32_t uid, uint64_t size, struct imap_msginfo *mi)
{
	struct imap_msginfo *old;
	uint32_t h;

	old = imap_cache_get(user, mbox, uidvalidity, uid, size);
	if (old != NULL)
		drop(old);
	mi->key = make_key(user, mbox, uidvalidity);
	mi->uid = uid;
	mi->size = size;
	mi->mem += strlen(mi->key) + 1;
	h = hash(mi->key, uid, size);
	mi->hnext = C.buckets[h];
	C.buckets[h] = mi;
	lru_front(mi);
	C.bytes += mi->mem;
	C.entries++;
	while (C.bytes > CACHE_BYTES && C.tail != NULL && C.tail != mi)
		drop(C.tail);
}

void imap_cache_clear(void)
{
	while (C.tail != NULL)
		drop(C.tail);
}

void imap_cache_stats(size_t *bytes_r, size_t *entries_r)
{
	*bytes_r = C.bytes;
	*entries_r = C.entries;
}
