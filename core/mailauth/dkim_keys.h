/*
 * DKIM signing keys on disk and in the daemon.
 *
 * {mail_root}/dkim/{domain}/{selector}.pem  the private key, 0600
 * {mail_root}/dkim/{domain}/{selector}.json its state, 0600:
 *   {"algorithm": "ed25519"|"rsa", "state": "pending"|"active"|"retired",
 *    "created": T, "activated": T, "retired": T}
 * Both written atomically (temp file, fsync, rename, fsync of the
 * folder), owned by the daemon's user.  Rotation is publish, then
 * activate: a new selector is pending until its TXT record is seen
 * (rmail dkim check) or forced; a retired key keeps its record in
 * `rmail dns` for the queue lifetime plus 7 days.
 */
#ifndef RM_DKIM_KEYS_H
#define RM_DKIM_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dkim.h"

enum dkim_key_state {
	DKIM_KEY_PENDING = 0,
	DKIM_KEY_ACTIVE = 1,
	DKIM_KEY_RETIRED = 2,
};
const char *dkim_key_state_name(int state);

struct dkim_keyinfo {
	char domain[256];
	char selector[64];
	int alg; /* DKIM_A_ED25519_SHA256 or DKIM_A_RSA_SHA256 */
	int state;
	int64_t created, activated, retired;
	int bits;
	char *txt; /* the TXT record's value, malloc'd */
};

/* a new key; active at once when `active`.  0, or -1 with why. */
int dkim_key_generate(const char *mail_root, const char *domain,
		      const char *selector, int alg, int bits, bool active,
		      char *why, size_t whysz);
/* every key (of domain, or of all domains when NULL), sorted by
 * domain then selector; returns the count, *out_r malloc'd */
size_t dkim_keys_list(const char *mail_root, const char *domain,
		      struct dkim_keyinfo **out_r);
void dkim_keys_list_free(struct dkim_keyinfo *k, size_t n);
int dkim_key_set_state(const char *mail_root, const char *domain,
		       const char *selector, int state, char *why,
		       size_t whysz);
/* a selector name is safe as a file name and a DNS label */
bool dkim_selector_ok(const char *s);
bool dkim_domain_ok(const char *d);

/* ---- the daemon's active keys ------------------------------------ */
struct dkim_keyring;
/* load the active keys of mail_root as the current ring (start,
 * SIGHUP); the old ring lives on while signers hold it.  The count. */
size_t dkim_keyring_load(const char *mail_root);
/* the current ring, held until dkim_keyring_put; NULL when none */
struct dkim_keyring *dkim_keyring_get(void);
void dkim_keyring_put(struct dkim_keyring *r);
/* keys for a From: domain: its own, else its closest parent's; the
 * newest active key of each algorithm in `algs` (a DKIM_A_* bit mask:
 * 1 << alg), ed25519 first.  Returns the count (0: do not sign). */
size_t dkim_keyring_find(const struct dkim_keyring *r, const char *domain,
			 unsigned algs, const struct dkim_signkey **out,
			 size_t max);
void dkim_keyring_clear(void);
/* keys in the ring (0 for NULL): nothing to sign with */
size_t dkim_keyring_size(const struct dkim_keyring *r);

#endif
