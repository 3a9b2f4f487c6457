/*
 * One failure budget for every protocol's logins, and a short-lived
 * cache of successful password checks (Dovecot's auth cache idea).
 *
 * Budget: failed password checks are counted per client IP (IPv6 per
 * prefix, as one host usually owns a /64) and per account, over
 * limits.auth_fail_window.  A check is reserved before it runs, so
 * parallel connections cannot overshoot, and given back on success.
 * The account count ignores IPs the account logged in from within
 * limits.auth_known_ip_ttl, and those IPs ignore it: a stranger's
 * guesses never lock the owner out.
 *
 * Cache: key = the lowercased login name plus HMAC-SHA256 of name and
 * password under a random per-process key (the password is never
 * stored), value = the user's token_gen at the check.  Failures are
 * never cached.  Whoever changes the password or disables the user
 * changes token_gen in the store, which the caller compares on every
 * hit; a deleted user has no record to compare.
 *
 * All tables are fixed-size arrays of plain records (auth_table.h) in
 * the per-host shared table (hostshm.h), so a flood of user names cannot
 * grow memory and every worker process of the host sees one budget and
 * one cache.
 */
#include <ctype.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth_budget.h"
#include "auth_table.h"
#include "hostshm.h"
#include "rm.h"

#define IP_SLOTS HOSTSHM_IP_SLOTS
#define ACCT_SLOTS HOSTSHM_ACCT_SLOTS
#define KNOWN_SLOTS HOSTSHM_KNOWN_SLOTS
#define CACHE_WAYS HOSTSHM_CACHE_WAYS
#define CACHE_SLOTS HOSTSHM_CACHE_SLOTS
#define NAME_MAX_HASHED 512

static double mono_now(void)
{
	struct timespec ts;

	/* system-wide, so every process of the host agrees */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t key64(const char *tag, const void *data, size_t len)
{
	return rm_hostshm_hash(tag, data, len);
}

static size_t lower_name(const char *user, char *out, size_t outsz)
{
	size_t n = 0;

	for (; user != NULL && *user != '\0' && n + 1 < outsz; user++)
		out[n++] = (char)tolower((unsigned char)*user);
	out[n] = '\0';
	return n;
}

static uint64_t ip_key(const char *rip)
{
	const struct rm_config *c = rm_conf();

	return rm_hostshm_ipkey("ip", rip,
				c != NULL ? c->limits.auth_ipv6_prefix : 64);
}

void rm_auth_keys(const char *user, const char *rip, struct auth_keys *k)
{
	char name[NAME_MAX_HASHED];
	size_t n = lower_name(user, name, sizeof(name));
	uint64_t both[2];

	k->ip = ip_key(rip);
	k->acct = key64("acct", name, n);
	both[0] = k->acct;
	both[1] = k->ip;
	k->pair = key64("pair", both, sizeof(both));
}

static double window(void)
{
	const struct rm_config *c = rm_conf();

	return c != NULL && c->limits.auth_fail_window > 0
		       ? c->limits.auth_fail_window
		       : 900;
}

static bool is_known(struct rm_hostshm *h, const struct auth_keys *k,
		     double now)
{
	const struct rm_config *c = rm_conf();
	double ttl = c != NULL && c->limits.auth_known_ip_ttl > 0
			     ? c->limits.auth_known_ip_ttl
			     : 30 * 86400.0;
	double last = auth_table_last(h->known_tab, KNOWN_SLOTS, k->pair);

	return last >= 0 && now - last <= ttl;
}

int rm_auth_budget_take(const struct auth_keys *k, bool *acct_r)
{
	const struct rm_config *c = rm_conf();
	uint32_t ip_lim = c != NULL && c->limits.auth_fail_limit > 0
				  ? c->limits.auth_fail_limit
				  : 20;
	uint32_t acct_lim = c != NULL && c->limits.auth_fail_account_limit > 0
				    ? c->limits.auth_fail_account_limit
				    : 20;
	double now = mono_now(), w = window();
	struct rm_hostshm *h;
	bool acct;
	int ret = -1;

	h = rm_hostshm_lock();
	acct = !is_known(h, k, now);
	if (auth_table_count(h->ip_tab, IP_SLOTS, k->ip, w, now) >= ip_lim)
		goto out;
	if (acct && auth_table_count(h->acct_tab, ACCT_SLOTS, k->acct, w,
				     now) >= acct_lim)
		goto out;
	auth_table_add(h->ip_tab, IP_SLOTS, k->ip, 1, w, now);
	RM_HOSTSHM_HOOK("auth_budget_take");
	if (acct)
		auth_table_add(h->acct_tab, ACCT_SLOTS, k->acct, 1, w, now);
	ret = 0;
out:
	rm_hostshm_unlock(h);
	*acct_r = acct;
	return ret;
}

void rm_auth_budget_refund(const struct auth_keys *k, bool acct)
{
	double now = mono_now(), w = window();
	struct rm_hostshm *h = rm_hostshm_lock();

	auth_table_add(h->ip_tab, IP_SLOTS, k->ip, -1, w, now);
	if (acct)
		auth_table_add(h->acct_tab, ACCT_SLOTS, k->acct, -1, w, now);
	rm_hostshm_unlock(h);
}

void rm_auth_budget_known(const struct auth_keys *k)
{
	double now = mono_now();
	struct rm_hostshm *h = rm_hostshm_lock();

	/* the window argument only shapes the unused counter here */
	auth_table_add(h->known_tab, KNOWN_SLOTS, k->pair, 0, 1, now);
	rm_hostshm_unlock(h);
}

uint32_t rm_auth_budget_ip_count(const char *rip)
{
	uint64_t k = ip_key(rip);
	double now = mono_now(), w = window();
	struct rm_hostshm *h = rm_hostshm_lock();
	uint32_t n;

	n = auth_table_count(h->ip_tab, IP_SLOTS, k, w, now);
	rm_hostshm_unlock(h);
	return n;
}

void rm_auth_budget_reset(const char *rip)
{
	uint64_t k = rip != NULL && *rip != '\0' ? ip_key(rip) : 0;
	struct rm_hostshm *h = rm_hostshm_lock();

	if (k != 0) {
		auth_table_del(h->ip_tab, IP_SLOTS, k);
	} else {
		auth_table_clear(h->ip_tab, IP_SLOTS);
		auth_table_clear(h->acct_tab, ACCT_SLOTS);
	}
	rm_hostshm_unlock(h);
}

/* ---- the auth cache ------------------------------------------------ */

static double cache_ttl(void)
{
	const struct rm_config *c = rm_conf();

	return c != NULL ? c->limits.auth_cache_ttl : 0;
}

static struct hostshm_cache_slot *cache_set(struct rm_hostshm *h, uint64_t user)
{
	return h->cache_tab +
	       (size_t)((user >> 16) % (CACHE_SLOTS / CACHE_WAYS)) * CACHE_WAYS;
}

static void cache_keys(const char *user, const char *password, uint64_t *u_r,
		       unsigned char m[32])
{
	char name[NAME_MAX_HASHED];
	size_t n = lower_name(user, name, sizeof(name));

	*u_r = key64("cache", name, n);
	if (m != NULL)
		rm_hostshm_mac(name, n, password, strlen(password), m);
}

int rm_auth_cache_get(const char *user, const char *password, uint64_t *gen_r)
{
	unsigned char m[32];
	struct hostshm_cache_slot *s;
	struct rm_hostshm *h;
	double now = mono_now();
	uint64_t u;
	int hit = 0;

	if (cache_ttl() <= 0)
		return 0;
	cache_keys(user, password, &u, m);
	h = rm_hostshm_lock();
	s = cache_set(h, u);
	for (size_t i = 0; i < CACHE_WAYS; i++) {
		if (s[i].user != u)
			continue;
		if (now < s[i].expires &&
		    CRYPTO_memcmp(s[i].mac, m, sizeof(m)) == 0) {
			*gen_r = s[i].gen;
			hit = 1;
		}
		break;
	}
	rm_hostshm_unlock(h);
	OPENSSL_cleanse(m, sizeof(m));
	return hit;
}

void rm_auth_cache_put(const char *user, const char *password, uint64_t gen,
		       double ttl)
{
	double now = mono_now();
	struct hostshm_cache_slot *s, *victim;
	struct rm_hostshm *h;
	unsigned char m[32];
	uint64_t u;

	if (ttl <= 0)
		return;
	cache_keys(user, password, &u, m);
	h = rm_hostshm_lock();
	s = cache_set(h, u);
	victim = &s[0];
	/* one record per user: the last password that worked */
	for (size_t i = 0; i < CACHE_WAYS; i++) {
		if (s[i].user == u) {
			victim = &s[i];
			break;
		}
		if (s[i].expires < victim->expires)
			victim = &s[i];
	}
	/* the owner mark last: a writer killed half-way leaves a free
	 * record, not a mix of two (the lock's recovery drops the cache
	 * anyway) */
	victim->user = 0;
	memcpy(victim->mac, m, sizeof(m));
	victim->gen = gen;
	victim->expires = now + ttl;
	RM_HOSTSHM_HOOK("auth_cache_put");
	victim->user = u;
	rm_hostshm_unlock(h);
	OPENSSL_cleanse(m, sizeof(m));
}

void rm_auth_cache_drop(const char *user)
{
	struct hostshm_cache_slot *s;
	struct rm_hostshm *h;
	uint64_t u;

	cache_keys(user, "", &u, NULL);
	h = rm_hostshm_lock();
	s = cache_set(h, u);
	for (size_t i = 0; i < CACHE_WAYS; i++)
		if (s[i].user == u)
			memset(&s[i], 0, sizeof(s[i]));
	rm_hostshm_unlock(h);
}
