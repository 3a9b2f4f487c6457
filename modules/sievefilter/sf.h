/* mod_sieve's parts: the module (mod_sieve.c), the compile cache
 * (sf_cache.c), the message as the interpreter sees it (sf_msg.c) and
 * what a result becomes (sf_apply.c, sf_send.c). */
#ifndef SIEVEFILTER_SF_H
#define SIEVEFILTER_SF_H

#include <stddef.h>
#include <stdint.h>

#include <rmail/rmail.h>

#include "sieve.h"

struct sf_conf {
	struct rmail_strlist before; /* script files run before the user's */
	struct rmail_strlist after;  /* ... and after it */
	const char *global_dir; /* include :global NAME -> DIR/NAME.sieve */
	uint64_t max_script_size;
	int64_t max_redirects;
	int64_t max_actions;
	uint64_t max_message; /* bytes of a message the tests read */
};

extern const struct rmail_core *sf_core;
extern struct rmail_mctx *sf_m;

/* ---- sf_cache.c ------------------------------------------------------ */
struct sf_script; /* refcounted compiled script */
const struct sieve_script *sf_script_get(const struct sf_script *s);
void sf_script_put(struct sf_script **s);
/* the user's active script, compiled once per version (its includes'
 * versions included): NULL with *none set when the user has none; NULL
 * with err and *broken set when it does not compile (logged by the
 * cache, once per version and then hourly: not the caller's to log);
 * NULL with err alone when the store failed */
struct sf_script *sf_user_script(const char *user, int *none, int *broken,
				 struct rmail_err *err);
/* a global before/after file, compiled once per mtime; broken as above
 * (may be NULL) */
struct sf_script *sf_file_script(const char *path, int *broken,
				 struct rmail_err *err);
void sf_cache_clear(void);
struct sieve_limits sf_limits(void);

/* ---- sf_msg.c -------------------------------------------------------- */
struct sf_msg;
struct sf_msg *sf_msg_open(int fd, uint64_t size, const char *prepend,
			   struct rmail_err *err);
void sf_msg_free(struct sf_msg **m);
/* fill env's callbacks (header, body, mailbox_exists) for user */
void sf_msg_env(struct sf_msg *m, const char *user, struct sieve_env *env);
/* first value of a field, unfolded, not decoded; NULL when absent */
const char *sf_msg_header_raw(struct sf_msg *m, const char *name, size_t nth);
/* the first value of a field, RFC 2047-decoded */
const char *sf_msg_header_decoded(struct sf_msg *m, const char *name);
/* the whole message (prepend + fd) */
const char *sf_msg_data(struct sf_msg *m, size_t *len_r);

/* ---- sf_apply.c ------------------------------------------------------ */
/* a whole run (before, the user's, after) into t; 0, or -1 on error
 * (t then keeps the default: INBOX) */
int sf_deliver(const struct rmail_filter_msg *msg,
	       struct rmail_filter_target *t, struct rmail_err *err);

/* ---- sf_send.c ------------------------------------------------------- */
/* submit a message (from any thread: the submission runs on the loop)
 * from mail_from ("" null) to one rcpt; auth_user set signs it as the
 * user's own mail (DKIM) */
void sf_send(const char *what, const char *mail_from, const char *rcpt,
	     const char *auth_user, const char *data, size_t len);

#endif
