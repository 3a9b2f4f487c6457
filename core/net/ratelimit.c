/*
 * Sliding-window rate limits per (bucket, key): two fixed windows, the
 * previous one weighted by how much of it still overlaps the sliding
 * window (the Cloudflare approximation).  The records live in the
 * per-host shared table (hostshm.h), so every worker process of the host
 * counts against one limit; keys are keyed hashes of (bucket, key), the
 * table is fixed-size and set-associative with least-recently-used
 * eviction (auth_table.h), so a scan from many addresses cannot grow
 * memory.  A key that is an IPv6 address counts per
 * limits.auth_ipv6_prefix, like the login failure budget.  [any thread]
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth_budget.h"
#include "auth/auth_table.h"
#include "hostshm.h"
#include "rm.h"

#define RATE_SLOTS HOSTSHM_RATE_SLOTS
#define RATE_KEY_MAX 512

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rate_key(const char *bucket, const char *key)
{
	const struct rm_config *c = rm_conf();
	unsigned char a[16];
	char tag[RATE_KEY_MAX];

	snprintf(tag, sizeof(tag), "rate:%s", bucket);
	if (strchr(key, ':') != NULL && inet_pton(AF_INET6, key, a) == 1)
		return rm_hostshm_ipkey(
			tag, key, c != NULL ? c->limits.auth_ipv6_prefix : 64);
	return rm_hostshm_hash(tag, key, strlen(key));
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

int rm_rate_hit(const char *bucket, const char *key, uint32_t limit,
		double window, double *retry_after_r)
{
	double now = mono_now(), est, retry;
	struct rm_hostshm *h;
	struct auth_slot *e;
	uint64_t k;
	int ok = 1;

	if (retry_after_r != NULL)
		*retry_after_r = 0;
	if (window <= 0 || bucket == NULL || key == NULL)
		return 1;
	k = rate_key(bucket, key);
	h = rm_hostshm_lock();
	e = auth_table_get(h->rate_tab, RATE_SLOTS, k, window, now);
	e->last = now;
	est = estimate(e, window, now);
	if (est + 1 > (double)limit) {
		ok = 0;
		if (e->cur + 1 > limit || e->prev == 0) {
			retry = e->start + window - now;
		} else {
			/* when the weighted previous window has faded
			 * enough for one more hit */
			double need =
				1 - ((double)limit - e->cur - 1) / e->prev;

			retry = e->start + need * window - now;
		}
		if (retry_after_r != NULL)
			*retry_after_r = retry > 0 ? retry : 0.001;
	} else if (e->cur < UINT32_MAX) {
		e->cur++;
	}
	rm_hostshm_unlock(h);
	return ok;
}

uint32_t rm_rate_count(const char *bucket, const char *key, double window)
{
	double now = mono_now();
	struct rm_hostshm *h;
	uint32_t n;
	uint64_t k;

	if (window <= 0 || bucket == NULL || key == NULL)
		return 0;
	k = rate_key(bucket, key);
	h = rm_hostshm_lock();
	n = auth_table_count(h->rate_tab, RATE_SLOTS, k, window, now);
	rm_hostshm_unlock(h);
	return n;
}

void rm_rate_reset(const char *bucket, const char *key)
{
	struct rm_hostshm *h;
	uint64_t k;

	if (bucket == NULL || key == NULL)
		return;
	/* the login failure budget's own tables, so that modules' reset
	 * commands (exchange lockout-reset) can clear it: "" for all */
	if (strcmp(bucket, "auth_fail") == 0) {
		rm_auth_budget_reset(key);
		return;
	}
	k = rate_key(bucket, key);
	h = rm_hostshm_lock();
	auth_table_del(h->rate_tab, RATE_SLOTS, k);
	for (size_t i = 0; i < HOSTSHM_NOTE_SLOTS; i++)
		if (h->note_tab[i].bucket != 0 && h->note_tab[i].key == k)
			h->note_tab[i].bucket = 0;
	rm_hostshm_unlock(h);
}

/* ---- the keys' text, for commands that list or reset them ---------- */

static uint64_t note_bucket(const char *bucket)
{
	return rm_hostshm_hash("note", bucket, strlen(bucket));
}

/* Notes happen on failures (the API's failed logins), so a scan of
 * the whole table, which lives in the host's shared table like the
 * counts, is cheap enough. */
void rm_rate_note(const char *bucket, const char *key)
{
	struct hostshm_note_slot *t, *pick = NULL, *spare = NULL,
				     *oldest = NULL;
	struct rm_hostshm *h;
	uint64_t b, k;
	size_t len;

	/* a key that does not fit could not be reset by its text */
	if (bucket == NULL || key == NULL ||
	    (len = strlen(key)) >= HOSTSHM_NOTE_MAX)
		return;
	b = note_bucket(bucket);
	k = rate_key(bucket, key);
	h = rm_hostshm_lock();
	t = h->note_tab;
	for (size_t i = 0; i < HOSTSHM_NOTE_SLOTS && pick == NULL; i++) {
		if (t[i].bucket == b && t[i].key == k)
			pick = &t[i];
		else if (t[i].bucket == 0 ||
			 auth_table_last(h->rate_tab, RATE_SLOTS, t[i].key) <
				 0) /* its count is gone */
			spare = spare != NULL ? spare : &t[i];
		else if (oldest == NULL || t[i].noted < oldest->noted)
			oldest = &t[i];
	}
	if (pick == NULL)
		pick = spare != NULL ? spare : oldest;
	/* the text first, the bucket last: see hostshm.h on dead writers */
	pick->bucket = 0;
	memcpy(pick->text, key, len + 1);
	pick->key = k;
	pick->noted = mono_now();
	pick->bucket = b;
	rm_hostshm_unlock(h);
}

struct noted {
	char text[HOSTSHM_NOTE_MAX];
	uint32_t count;
};

size_t rm_rate_keys(const char *bucket, const char *prefix, double window,
		    rmail_rate_key_fn cb, void *arg)
{
	double now = mono_now();
	struct noted *got = NULL;
	struct rm_hostshm *h;
	size_t n = 0, plen;
	uint64_t b;

	if (bucket == NULL || window <= 0)
		return 0;
	if (prefix == NULL)
		prefix = "";
	plen = strlen(prefix);
	b = note_bucket(bucket);
	h = rm_hostshm_lock();
	for (size_t i = 0; i < HOSTSHM_NOTE_SLOTS; i++) {
		struct hostshm_note_slot *e = &h->note_tab[i];
		uint32_t c;

		if (e->bucket != b || strncmp(e->text, prefix, plen) != 0)
			continue;
		c = auth_table_count(h->rate_tab, RATE_SLOTS, e->key, window,
				     now);
		if (c == 0)
			continue;
		if (got == NULL)
			got = rm_xcalloc(HOSTSHM_NOTE_SLOTS, sizeof(*got));
		memcpy(got[n].text, e->text, sizeof(e->text));
		got[n].text[HOSTSHM_NOTE_MAX - 1] = '\0';
		got[n++].count = c;
	}
	rm_hostshm_unlock(h);
	/* unlocked: cb may reset what it is given */
	for (size_t i = 0; i < n && cb != NULL; i++)
		cb(arg, got[i].text, got[i].count);
	free(got);
	return n;
}
