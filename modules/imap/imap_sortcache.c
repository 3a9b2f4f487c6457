/*
 * Sort records by UID for one selected mailbox, kept by its tracker so
 * a second SORT or THREAD reads no message.  Rebuildable from the
 * messages; loop thread only, so no locks: workers see records the
 * loop looked up for them, and nothing is freed while one holds them.
 */
#include <stdlib.h>

#include "imap_sorthdr.h"

struct imap_sortcache {
	uint32_t uidvalidity;
	struct imap_sortrec **slot; /* open addressing by UID */
	size_t mask, n;
	size_t bytes;
	unsigned holds;
	struct imap_sortrec **later; /* replaced while held */
	size_t nlater;
};

struct imap_sortcache *imap_sortcache_new(uint32_t uidvalidity)
{
	struct imap_sortcache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		abort();
	c->uidvalidity = uidvalidity;
	return c;
}

static void free_later(struct imap_sortcache *c)
{
	size_t i;

	for (i = 0; i < c->nlater; i++)
		free(c->later[i]);
	free(c->later);
	c->later = NULL;
	c->nlater = 0;
}

void imap_sortcache_free(struct imap_sortcache *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; c->slot != NULL && i <= c->mask; i++)
		free(c->slot[i]);
	free(c->slot);
	free_later(c);
	free(c);
}

static size_t find(const struct imap_sortcache *c, uint32_t uid)
{
	size_t i = (uid * 2654435761u) & c->mask;

	while (c->slot[i] != NULL && c->slot[i]->uid != uid)
		i = (i + 1) & c->mask;
	return i;
}

const struct imap_sortrec *imap_sortcache_get(struct imap_sortcache *c,
					      uint32_t uid, uint64_t size)
{
	const struct imap_sortrec *r;

	if (c->slot == NULL)
		return NULL;
	r = c->slot[find(c, uid)];
	return r != NULL && r->size == size ? r : NULL;
}

static void grow(struct imap_sortcache *c)
{
	struct imap_sortrec **old = c->slot;
	size_t omask = c->mask, i;

	c->mask = old != NULL ? omask * 2 + 1 : 1023;
	c->slot = calloc(c->mask + 1, sizeof(*c->slot));
	if (c->slot == NULL)
		abort();
	for (i = 0; old != NULL && i <= omask; i++)
		if (old[i] != NULL)
			c->slot[find(c, old[i]->uid)] = old[i];
	free(old);
}

static void drop(struct imap_sortcache *c, struct imap_sortrec *r)
{
	c->bytes -= r->mem;
	if (c->holds == 0) {
		free(r);
		return;
	}
	c->later = realloc(c->later, (c->nlater + 1) * sizeof(*c->later));
	if (c->later == NULL)
		abort();
	c->later[c->nlater++] = r;
}

void imap_sortcache_put(struct imap_sortcache *c, struct imap_sortrec *r)
{
	size_t i;

	if (c->slot == NULL || (c->n + 1) * 4 > (c->mask + 1) * 3)
		grow(c);
	i = find(c, r->uid);
	if (c->slot[i] != NULL) {
		drop(c, c->slot[i]);
		c->n--;
	}
	c->slot[i] = r;
	c->n++;
	c->bytes += r->mem;
}

void imap_sortcache_hold(struct imap_sortcache *c)
{
	c->holds++;
}

void imap_sortcache_release(struct imap_sortcache *c)
{
	if (--c->holds == 0)
		free_later(c);
}

void imap_sortcache_prune(struct imap_sortcache *c,
			  bool (*keep)(void *ctx, uint32_t uid), void *ctx)
{
	struct imap_sortrec **old = c->slot;
	size_t omask = c->mask, i;

	if (c->holds > 0 || old == NULL)
		return;
	c->slot = NULL;
	c->n = 0;
	c->mask = 0;
	for (i = 0; i <= omask; i++) {
		if (old[i] == NULL)
			continue;
		if (keep(ctx, old[i]->uid)) {
			c->bytes -= old[i]->mem;
			imap_sortcache_put(c, old[i]);
		} else {
			c->bytes -= old[i]->mem;
			free(old[i]);
		}
	}
	free(old);
}

size_t imap_sortcache_bytes(const struct imap_sortcache *c)
{
	return c->bytes;
}

size_t imap_sortcache_count(const struct imap_sortcache *c)
{
	return c->n;
}

unsigned imap_sortcache_held(const struct imap_sortcache *c)
{
	return c->holds;
}

uint32_t imap_sortcache_uidvalidity(const struct imap_sortcache *c)
{
	return c->uidvalidity;
}
