/*
 * The login failure budget and the auth cache behind rm_auth_login
 * (auth.c).  Every key is a keyed hash (HMAC-SHA256 under a random
 * per-process key, first 64 bits): the tables hold no client text and
 * no pointers.  [any thread: one lock]
 */
#ifndef RM_AUTH_BUDGET_H
#define RM_AUTH_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

struct auth_keys {
	uint64_t ip;   /* the address, IPv6 cut to limits.auth_ipv6_prefix */
	uint64_t acct; /* the lowercased login name */
	uint64_t pair; /* (acct, ip): the account logged in from there */
};

void rm_auth_keys(const char *user, const char *rip, struct auth_keys *k);

/* Reserve one password check: 0 and counted (the account too unless
 * its owner logged in from this IP lately: *acct_r), or -1 when the IP
 * or the account is over its budget and nothing may be checked. */
int rm_auth_budget_take(const struct auth_keys *k, bool *acct_r);
/* give the reservation back (success, or no verdict) */
void rm_auth_budget_refund(const struct auth_keys *k, bool acct);
/* a correct password: the IP becomes known to the account */
void rm_auth_budget_known(const struct auth_keys *k);
uint32_t rm_auth_budget_ip_count(const char *rip);
/* forget the IP's counts (NULL or "": every table) */
void rm_auth_budget_reset(const char *rip);

/* 1 when user + password passed a check within limits.auth_cache_ttl;
 * *gen_r is the user's token_gen then, which the caller compares with
 * the store's (a passwd or disable changes it, whoever made it) */
int rm_auth_cache_get(const char *user, const char *password, uint64_t *gen_r);
/* ttl: limits.auth_cache_ttl, read by the caller on the loop thread */
void rm_auth_cache_put(const char *user, const char *password, uint64_t gen,
		       double ttl);
void rm_auth_cache_drop(const char *user);

#endif
