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
 * All tables are fixed-size arrays of plain records (auth_table.h), so
 * a flood of user names cannot grow memory and the tables could move to
 * shared memory for worker processes.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth_budget.h"
#include "auth_table.h"
#include "rm.h"

#define IP_SLOTS 16384
#define ACCT_SLOTS 16384
#define KNOWN_SLOTS 16384
#define CACHE_WAYS 4
#define CACHE_SLOTS 4096
#define NAME_MAX_HASHED 512

struct cache_slot {
	uint64_t user; /* 0: free */
	unsigned char mac[32];
	uint64_t gen;
	double expires;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static unsigned char hkey[32];
static struct auth_slot ip_tab[IP_SLOTS], acct_tab[ACCT_SLOTS],
	known_tab[KNOWN_SLOTS];
static struct cache_slot cache_tab[CACHE_SLOTS];

static void key_init(void)
{
	rm_random_bytes(hkey, sizeof(hkey));
}

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void mac(const void *a, size_t alen, const void *b, size_t blen,
		unsigned char out[32])
{
	unsigned char buf[2 * NAME_MAX_HASHED + 2];
	unsigned int olen = 32;

	pthread_once(&key_once, key_init);
	if (alen > NAME_MAX_HASHED)
		alen = NAME_MAX_HASHED;
	if (blen > NAME_MAX_HASHED)
		blen = NAME_MAX_HASHED;
	memcpy(buf, a, alen);
	buf[alen] = 0;
	memcpy(buf + alen + 1, b, blen);
	if (HMAC(EVP_sha256(), hkey, sizeof(hkey), buf, alen + 1 + blen, out,
		 &olen) == NULL)
		memset(out, 0, 32);
	OPENSSL_cleanse(buf, sizeof(buf));
}

static uint64_t key64(const char *tag, const void *data, size_t len)
{
	unsigned char out[32];
	uint64_t k;

	mac(tag, strlen(tag), data, len, out);
	memcpy(&k, out, sizeof(k));
	return k | 1; /* 0 marks a free record */
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
	unsigned prefix = c != NULL && c->limits.auth_ipv6_prefix > 0
				  ? c->limits.auth_ipv6_prefix
				  : 64;
	unsigned char a[17];

	if (rip == NULL)
		rip = "-";
	a[0] = 4;
	if (inet_pton(AF_INET, rip, a + 1) == 1)
		return key64("ip", a, 5);
	if (inet_pton(AF_INET6, rip, a + 1) != 1)
		return key64("ip?", rip, strlen(rip));
	/* an IPv4-mapped client is that IPv4 client */
	if (memcmp(a + 1, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
		memmove(a + 1, a + 13, 4);
		return key64("ip", a, 5);
	}
	a[0] = 6;
	for (unsigned bit = prefix; bit < 128; bit++)
		a[1 + bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
	return key64("ip", a, 17);
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

static bool is_known(const struct auth_keys *k, double now)
{
	const struct rm_config *c = rm_conf();
	double ttl = c != NULL && c->limits.auth_known_ip_ttl > 0
			     ? c->limits.auth_known_ip_ttl
			     : 30 * 86400.0;
	double last = auth_table_last(known_tab, KNOWN_SLOTS, k->pair);

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
	bool acct;
	int ret = -1;

	pthread_mutex_lock(&lock);
	acct = !is_known(k, now);
	if (auth_table_count(ip_tab, IP_SLOTS, k->ip, w, now) >= ip_lim)
		goto out;
	if (acct &&
	    auth_table_count(acct_tab, ACCT_SLOTS, k->acct, w, now) >= acct_lim)
		goto out;
	auth_table_add(ip_tab, IP_SLOTS, k->ip, 1, w, now);
	if (acct)
		auth_table_add(acct_tab, ACCT_SLOTS, k->acct, 1, w, now);
	ret = 0;
out:
	pthread_mutex_unlock(&lock);
	*acct_r = acct;
	return ret;
}

void rm_auth_budget_refund(const struct auth_keys *k, bool acct)
{
	double now = mono_now(), w = window();

	pthread_mutex_lock(&lock);
	auth_table_add(ip_tab, IP_SLOTS, k->ip, -1, w, now);
	if (acct)
		auth_table_add(acct_tab, ACCT_SLOTS, k->acct, -1, w, now);
	pthread_mutex_unlock(&lock);
}

void rm_auth_budget_known(const struct auth_keys *k)
{
	/* the window argument only shapes the unused counter here */
	pthread_mutex_lock(&lock);
	auth_table_add(known_tab, KNOWN_SLOTS, k->pair, 0, 1, mono_now());
	pthread_mutex_unlock(&lock);
}

uint32_t rm_auth_budget_ip_count(const char *rip)
{
	uint64_t k = ip_key(rip);
	uint32_t n;

	pthread_mutex_lock(&lock);
	n = auth_table_count(ip_tab, IP_SLOTS, k, window(), mono_now());
	pthread_mutex_unlock(&lock);
	return n;
}

void rm_auth_budget_reset(const char *rip)
{
	uint64_t k = rip != NULL && *rip != '\0' ? ip_key(rip) : 0;

	pthread_mutex_lock(&lock);
	if (k != 0) {
		auth_table_del(ip_tab, IP_SLOTS, k);
	} else {
		auth_table_clear(ip_tab, IP_SLOTS);
		auth_table_clear(acct_tab, ACCT_SLOTS);
	}
	pthread_mutex_unlock(&lock);
}

/* ---- the auth cache ------------------------------------------------ */

static double cache_ttl(void)
{
	const struct rm_config *c = rm_conf();

	return c != NULL ? c->limits.auth_cache_ttl : 0;
}

static struct cache_slot *cache_set(uint64_t user)
{
	return cache_tab +
	       (size_t)((user >> 16) % (CACHE_SLOTS / CACHE_WAYS)) * CACHE_WAYS;
}

static void cache_keys(const char *user, const char *password, uint64_t *u_r,
		       unsigned char m[32])
{
	char name[NAME_MAX_HASHED];
	size_t n = lower_name(user, name, sizeof(name));

	*u_r = key64("cache", name, n);
	if (m != NULL)
		mac(name, n, password, strlen(password), m);
}

int rm_auth_cache_get(const char *user, const char *password, uint64_t *gen_r)
{
	unsigned char m[32];
	struct cache_slot *s;
	double now = mono_now();
	uint64_t u;
	int hit = 0;

	if (cache_ttl() <= 0)
		return 0;
	cache_keys(user, password, &u, m);
	pthread_mutex_lock(&lock);
	s = cache_set(u);
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
	pthread_mutex_unlock(&lock);
	OPENSSL_cleanse(m, sizeof(m));
	return hit;
}

void rm_auth_cache_put(const char *user, const char *password, uint64_t gen,
		       double ttl)
{
	double now = mono_now();
	struct cache_slot *s, *victim;
	unsigned char m[32];
	uint64_t u;

	if (ttl <= 0)
		return;
	cache_keys(user, password, &u, m);
	pthread_mutex_lock(&lock);
	s = cache_set(u);
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
	victim->user = u;
	memcpy(victim->mac, m, sizeof(m));
	victim->gen = gen;
	victim->expires = now + ttl;
	pthread_mutex_unlock(&lock);
	OPENSSL_cleanse(m, sizeof(m));
}

void rm_auth_cache_drop(const char *user)
{
	struct cache_slot *s;
	uint64_t u;

	cache_keys(user, "", &u, NULL);
	pthread_mutex_lock(&lock);
	s = cache_set(u);
	for (size_t i = 0; i < CACHE_WAYS; i++)
		if (s[i].user == u)
			memset(&s[i], 0, sizeof(s[i]));
	pthread_mutex_unlock(&lock);
}
