/*
 * The login failure budget's counter tables (see auth_table.h).  Fixed
 * size because the keys are attacker data: a flood of new user names or
 * addresses recycles the least recently used record of a set instead
 * of growing memory.
 */
#include <string.h>

#include "auth_table.h"

static struct auth_slot *set_of(struct auth_slot *t, size_t n, uint64_t key)
{
	size_t sets = n / AUTH_TABLE_WAYS;

	/* the low bit is forced on in keys (0 marks a free record) */
	return t +
	       (size_t)((key >> 16) % (sets > 0 ? sets : 1)) * AUTH_TABLE_WAYS;
}

static struct auth_slot *lookup(struct auth_slot *t, size_t n, uint64_t key)
{
	struct auth_slot *s = set_of(t, n, key);

	if (key == 0 || n < AUTH_TABLE_WAYS)
		return NULL;
	for (size_t i = 0; i < AUTH_TABLE_WAYS; i++)
		if (s[i].key == key)
			return &s[i];
	return NULL;
}

/* Roll the fixed windows forward to now. */
static void roll(struct auth_slot *e, double window, double now)
{
	double elapsed = now - e->start;

	if (elapsed < window)
		return;
	if (elapsed < 2 * window) {
		e->prev = e->cur;
		e->start += window;
	} else {
		e->prev = 0;
		e->start = now;
	}
	e->cur = 0;
}

static double estimate(const struct auth_slot *e, double window, double now)
{
	double frac = (now - e->start) / window;

	if (frac > 1)
		frac = 1;
	if (frac < 0)
		frac = 0;
	return e->prev * (1 - frac) + e->cur;
}

void auth_table_clear(struct auth_slot *t, size_t n)
{
	memset(t, 0, n * sizeof(*t));
}

uint32_t auth_table_count(struct auth_slot *t, size_t n, uint64_t key,
			  double window, double now)
{
	struct auth_slot *e = lookup(t, n, key);

	if (e == NULL || window <= 0)
		return 0;
	roll(e, window, now);
	return (uint32_t)(estimate(e, window, now) + 0.5);
}

struct auth_slot *auth_table_get(struct auth_slot *t, size_t n, uint64_t key,
				 double window, double now)
{
	struct auth_slot *e = lookup(t, n, key), *s, *victim;

	if (key == 0 || n < AUTH_TABLE_WAYS || window <= 0)
		return NULL;
	if (e == NULL) {
		s = set_of(t, n, key);
		victim = &s[0];
		for (size_t i = 0; i < AUTH_TABLE_WAYS; i++) {
			if (s[i].key == 0) {
				victim = &s[i];
				break;
			}
			if (s[i].last < victim->last)
				victim = &s[i];
		}
		/* the key last: a writer killed half-way in shared memory
		 * leaves a free record, not a stale count under a new key */
		victim->key = 0;
		victim->start = now;
		victim->last = now;
		victim->cur = victim->prev = 0;
		victim->key = key;
		e = victim;
	}
	roll(e, window, now);
	return e;
}

void auth_table_add(struct auth_slot *t, size_t n, uint64_t key, int delta,
		    double window, double now)
{
	struct auth_slot *e = auth_table_get(t, n, key, window, now);

	if (e == NULL)
		return;
	if (delta >= 0)
		e->cur += (uint32_t)delta;
	else if (e->cur >= (uint32_t)-delta)
		e->cur -= (uint32_t)-delta;
	else
		e->cur = 0;
	e->last = now;
}

double auth_table_last(const struct auth_slot *t, size_t n, uint64_t key)
{
	const struct auth_slot *e = lookup((struct auth_slot *)t, n, key);

	return e != NULL ? e->last : -1;
}

void auth_table_del(struct auth_slot *t, size_t n, uint64_t key)
{
	struct auth_slot *e = lookup(t, n, key);

	if (e != NULL)
		memset(e, 0, sizeof(*e));
}

size_t auth_table_used(const struct auth_slot *t, size_t n)
{
	size_t used = 0;

	for (size_t i = 0; i < n; i++)
		used += t[i].key != 0;
	return used;
}
