/*
 * Password hashes written by compare-and-swap: an imported hash (rmail
 * import passwd) and the upgrade of a migrated hash to yescrypt on the
 * next successful login.  Both take the user directory's lock, re-read
 * user.json and write only while the hash there is still the one the
 * caller saw, so a password set meanwhile (rmail user passwd, the API,
 * a hand edit) always wins.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "pwscheme.h"
#include "users_int.h"

#define SS_USER_JSON_MAX (64 * 1024)

/* a user added without a password holds "!" (users.c) */
static int no_password(const char *hash)
{
	return hash[0] == '\0' || strcmp(hash, "!") == 0;
}

static int same_hash(const char *a, const char *b)
{
	size_t la = strlen(a);

	return la == strlen(b) && CRYPTO_memcmp(a, b, la) == 0;
}

static int hash_cas(struct ss_store *st, const char *canon,
		    const char *expected, const char *new_hash,
		    int new_password, struct rmail_err *err)
{
	struct ss_user_rec rec;
	char dir[SS_PATH_MAX], path[SS_PATH_MAX];
	char *old = NULL, *text = NULL;
	size_t oldlen = 0;
	int lockfd, ret = -1;

	memset(&rec, 0, sizeof(rec));
	if (ss_user_dir(canon, dir, sizeof(dir), err) < 0 ||
	    ss_user_json_path(canon, path, sizeof(path), err) < 0)
		return -1;
	lockfd = ss_lock_dir(st, dir, err);
	if (lockfd < 0) {
		if (err != NULL && err->code == RMAIL_E_NOENT)
			rmail_err_set(err, RMAIL_E_NOENT, "no such user: %s",
				      canon);
		return -1;
	}
	if (ss_read_small(st, path, SS_USER_JSON_MAX, &old, &oldlen, NULL) <
	    0) {
		rmail_err_set(err, errno == ENOENT ? RMAIL_E_NOENT : RMAIL_E_IO,
			      "%s: %s", errno == ENOENT ? "no such user" : path,
			      errno == ENOENT ? canon : strerror(errno));
		goto out;
	}
	if (ss_user_parse(old, oldlen, &rec, err) < 0) {
		if (err != NULL)
			rmail_err_set(err, RMAIL_E_INVAL, "%s: %.200s", path,
				      err->msg);
		goto out;
	}
	if (expected != NULL ? !same_hash(rec.hash, expected)
			     : !no_password(rec.hash)) {
		rmail_err_set(err, RMAIL_E_BUSY,
			      "the password of %s changed meanwhile", canon);
		goto out;
	}
	memcpy(rec.address, canon, strlen(canon) + 1);
	memcpy(rec.hash, new_hash, strlen(new_hash) + 1);
	if (new_password)
		rec.token_gen++;
	text = ss_user_render(&rec, old, oldlen);
	if (text == NULL) {
		rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
		goto out;
	}
	if (ss_write_atomic(st, dir, "user.json", text, strlen(text), 0, err) <
	    0)
		goto out;
	ret = 0;
out:
	close(lockfd);
	if (old != NULL) {
		explicit_bzero(old, oldlen);
		free(old);
	}
	if (text != NULL) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	explicit_bzero(&rec, sizeof(rec));
	return ret;
}

int ss_user_hash_cas(void *h, const char *address, const char *expected_hash,
		     const char *new_hash, struct rmail_err *err)
{
	char canon[RMAIL_ADDR_MAX + 1];
	int v;

	if (new_hash == NULL || strlen(new_hash) >= SS_USER_HASH_MAX)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "a password hash is 1 to %d bytes",
				     SS_USER_HASH_MAX - 1);
	/* user.json is one JSON string per hash: no control bytes */
	for (const char *p = new_hash; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return rmail_err_set(err, RMAIL_E_INVAL,
					     "control character in hash");
	v = ss_pw_storable(new_hash);
	if (v != 0)
		return rmail_err_set(
			err, RMAIL_E_INVAL, "not a hash rmail can keep: %s%s",
			ss_user_pw_verdict_str(v),
			v == SS_PW_UNSUPPORTED ? " (plaintext schemes are "
						 "hashed by rmail import)"
					       : "");
	if (ss_canon(address, canon, NULL, NULL, err) < 0)
		return -1;
	return hash_cas(h, canon, expected_hash, new_hash, 1, err);
}

int ss_user_rehash(void *h, const char *address, const char *password,
		   struct rmail_err *err)
{
	struct ss_store *st = h;
	struct ss_user_rec rec;
	char canon[RMAIL_ADDR_MAX + 1], newhash[SS_USER_HASH_MAX];
	int ret = -1;

	if (password == NULL || password[0] == '\0')
		return rmail_err_set(err, RMAIL_E_INVAL, "no password");
	if (ss_canon(address, canon, NULL, NULL, err) < 0 ||
	    ss_user_lookup(st, canon, &rec, err) < 0)
		return -1;
	if (ss_pw_is_default(rec.hash, SS_DEFAULT_PREFIX) ||
	    no_password(rec.hash)) {
		ret = 0;
		goto out;
	}
	/* the hash the caller's login checked may be gone already: this
	 * one is what the swap below expects, so check against it */
	if (ss_user_check_pw(st, password, rec.hash, NULL, 0) != SS_PW_MATCH) {
		rmail_err_set(err, RMAIL_E_BUSY,
			      "the password of %s changed meanwhile", canon);
		goto out;
	}
	if (ss_user_hash_new(password, newhash, sizeof(newhash), err) < 0)
		goto out;
	if (hash_cas(st, canon, rec.hash, newhash, 0, err) == 0)
		ret = 1;
out:
	explicit_bzero(newhash, sizeof(newhash));
	explicit_bzero(&rec, sizeof(rec));
	return ret;
}
