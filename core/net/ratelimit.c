/*
 * Sliding-window rate limits per (bucket, key): two fixed windows, the
 * previous one weighted by how much of it still overlaps the sliding
 * window (the Cloudflare approximation).  Constant memory per key; idle
 * keys are swept so a scan from many addresses cannot grow the table
 * without bound.  [any thread]
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth_budget.h"
#include "rm.h"

#define RATE_MAX_ENTRIES 200000
#define RATE_SWEEP_EVERY 4096

struct rate_entry {
	struct rate_entry *next;
	uint64_t hash;
	double window;
	double start; /* start of the current fixed window */
	double last;  /* last hit, for the idle sweep */
	uint32_t cur, prev;
	char id[]; /* bucket \0 key \0 */
};

static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rate_entry **rate_tab;
static size_t rate_nbuckets, rate_count_entries, rate_ops;

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t fnv(const char *b, const char *k)
{
	uint64_t h = 14695981039346656037ull;

	for (; *b != '\0'; b++)
		h = (h ^ (unsigned char)*b) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull;
	for (; *k != '\0'; k++)
		h = (h ^ (unsigned char)*k) * 1099511628211ull;
	return h;
}

static bool entry_is(const struct rate_entry *e, uint64_t h, const char *b,
		     const char *k)
{
	size_t bl = strlen(b);

	return e->hash == h && strcmp(e->id, b) == 0 &&
	       strcmp(e->id + bl + 1, k) == 0;
}

/* Roll the fixed windows forward to `now`. */
static void roll(struct rate_entry *e, double now)
{
	double elapsed = now - e->start;

	if (elapsed < e->window)
		return;
	if (elapsed < 2 * e->window) {
		e->prev = e->cur;
		e->start += e->window;
	} else {
		e->prev = 0;
		e->start = now;
	}
	e->cur = 0;
}

static double estimate(const struct rate_entry *e, double now)
{
	double frac = (now - e->start) / e->window;

	if (frac > 1)
		frac = 1;
	return e->prev * (1 - frac) + e->cur;
}

static void sweep(double now)
{
	for (size_t i = 0; i < rate_nbuckets; i++) {
		struct rate_entry **pp = &rate_tab[i];

		while (*pp != NULL) {
			struct rate_entry *e = *pp;

			if (now - e->last > 2 * e->window) {
				*pp = e->next;
				free(e);
				rate_count_entries--;
			} else {
				pp = &e->next;
			}
		}
	}
}

static void grow(void)
{
	size_t n = rate_nbuckets ? rate_nbuckets * 2 : 1024;
	struct rate_entry **t = rm_xcalloc(n, sizeof(*t));

	for (size_t i = 0; i < rate_nbuckets; i++) {
		while (rate_tab[i] != NULL) {
			struct rate_entry *e = rate_tab[i];

			rate_tab[i] = e->next;
			e->next = t[e->hash % n];
			t[e->hash % n] = e;
		}
	}
	free(rate_tab);
	rate_tab = t;
	rate_nbuckets = n;
}

/* Called locked.  create: make the entry when missing. */
static struct rate_entry *find(const char *b, const char *k, double window,
			       double now, bool create)
{
	uint64_t h = fnv(b, k);
	struct rate_entry *e;
	size_t bl, kl;

	if (rate_nbuckets == 0)
		grow();
	for (e = rate_tab[h % rate_nbuckets]; e != NULL; e = e->next)
		if (entry_is(e, h, b, k))
			break;
	if (e != NULL || !create)
		goto out;
	if (++rate_ops % RATE_SWEEP_EVERY == 0 ||
	    rate_count_entries >= RATE_MAX_ENTRIES)
		sweep(now);
	if (rate_count_entries >= RATE_MAX_ENTRIES)
		return NULL;
	if (rate_count_entries >= rate_nbuckets)
		grow();
	bl = strlen(b);
	kl = strlen(k);
	e = rm_xcalloc(1, sizeof(*e) + bl + kl + 2);
	memcpy(e->id, b, bl + 1);
	memcpy(e->id + bl + 1, k, kl + 1);
	e->hash = h;
	e->window = window;
	e->start = now;
	e->next = rate_tab[h % rate_nbuckets];
	rate_tab[h % rate_nbuckets] = e;
	rate_count_entries++;
out:
	if (e != NULL) {
		/* the caller's window rules; a change restarts counting */
		if (e->window != window) {
			e->window = window;
			e->start = now;
			e->prev = 0;
		}
		roll(e, now);
	}
	return e;
}

int rm_rate_hit(const char *bucket, const char *key, uint32_t limit,
		double window, double *retry_after_r)
{
	double now = mono_now(), est, retry;
	struct rate_entry *e;
	int ok = 1;

	if (retry_after_r != NULL)
		*retry_after_r = 0;
	if (window <= 0 || bucket == NULL || key == NULL)
		return 1;
	pthread_mutex_lock(&rate_lock);
	e = find(bucket, key, window, now, true);
	if (e == NULL) {
		/* table full of live entries: refuse rather than forget */
		pthread_mutex_unlock(&rate_lock);
		if (retry_after_r != NULL)
			*retry_after_r = window;
		return 0;
	}
	e->last = now;
	est = estimate(e, now);
	if (est + 1 > (double)limit) {
		ok = 0;
		if (e->cur + 1 > limit || e->prev == 0) {
			retry = e->start + e->window - now;
		} else {
			/* when the weighted previous window has faded
			 * enough for one more hit */
			double need =
				1 - ((double)limit - e->cur - 1) / e->prev;

			retry = e->start + need * e->window - now;
		}
		if (retry_after_r != NULL)
			*retry_after_r = retry > 0 ? retry : 0.001;
	} else if (e->cur < UINT32_MAX) {
		e->cur++;
	}
	pthread_mutex_unlock(&rate_lock);
	return ok;
}

uint32_t rm_rate_count(const char *bucket, const char *key, double window)
{
	double now = mono_now();
	struct rate_entry *e;
	uint32_t n = 0;

	if (window <= 0 || bucket == NULL || key == NULL)
		return 0;
	pthread_mutex_lock(&rate_lock);
	e = find(bucket, key, window, now, false);
	if (e != NULL)
		n = (uint32_t)(estimate(e, now) + 0.5);
	pthread_mutex_unlock(&rate_lock);
	return n;
}

void rm_rate_reset(const char *bucket, const char *key)
{
	struct rate_entry **pp;
	uint64_t h;

	if (bucket == NULL || key == NULL)
		return;
	/* the login failure budget's own tables, so that modules' reset
	 * commands (exchange lockout-reset) can clear it: "" for all */
	if (strcmp(bucket, "auth_fail") == 0) {
		rm_auth_budget_reset(key);
		return;
	}
	h = fnv(bucket, key);
	pthread_mutex_lock(&rate_lock);
	if (rate_nbuckets == 0)
		goto out;
	for (pp = &rate_tab[h % rate_nbuckets]; *pp != NULL;
	     pp = &(*pp)->next) {
		if (entry_is(*pp, h, bucket, key)) {
			struct rate_entry *e = *pp;

			*pp = e->next;
			free(e);
			rate_count_entries--;
			break;
		}
	}
out:
	pthread_mutex_unlock(&rate_lock);
}
