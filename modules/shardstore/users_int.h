/*
 * Private to the user directory half of mod_shardstore (users.c,
 * users_json.c, users_fs.c, aliases.c, quota.c).
 */
#ifndef SS_USERS_INT_H
#define SS_USERS_INT_H

#include <jansson.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "ss.h"

#define SS_USER_HASH_MAX 256
#define SS_PATH_MAX 1024
#define SS_DEFAULT_QUOTA_MB 1024
#define SS_ALIAS_TARGETS_MAX 64
#define SS_ALIAS_DEPTH_MAX 8

/* What one user.json says; the cache keeps the last good copy. */
struct ss_user_rec {
	char address[RMAIL_ADDR_MAX + 1];
	char hash[SS_USER_HASH_MAX];
	int admin;
	int disabled;
	int64_t quota_mb;
	int64_t created;
	uint64_t token_gen;
};

struct ss_ucache; /* users.c */
struct ss_acache; /* aliases.c */

struct ss_users {
	pthread_mutex_t lock;	    /* guards both caches */
	struct ss_ucache **buckets; /* by canonical address */
	size_t nbuckets;
	size_t count;
	struct ss_acache *aliases; /* one per domain seen */
};

/* ---- users_fs.c: small-file helpers ------------------------------- */
void ss_ulog(struct ss_store *st, int level, const char *fmt, ...)
	RMAIL_PRINTF(3, 4);
/* the identity of a file's contents for the mtime re-read */
struct ss_fid {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	struct timespec ctime;
};
void ss_fid_from_stat(struct ss_fid *id, const struct stat *sb);
int ss_fid_equal(const struct ss_fid *a, const struct ss_fid *b);
/* A file written less than SS_FID_RACY_NS before `at` may be rewritten
 * within the same timestamp tick at the same size: a stat then proves
 * nothing, so callers read it again. */
#define SS_FID_RACY_NS 1000000000LL
int64_t ss_ns_since(const struct timespec *then, const struct timespec *now);
int ss_fid_settled(const struct ss_fid *fid, const struct timespec *at);
/* open rel under the mail root; -1 with errno */
int ss_open_rel(struct ss_store *st, const char *rel, int flags);
/* read a whole small file (<= maxlen) into a malloc'd NUL-terminated
 * buffer; fills id.  -1 with errno (ENOENT when absent). */
int ss_read_small(struct ss_store *st, const char *rel, size_t maxlen,
		  char **buf_r, size_t *len_r, struct ss_fid *id_r);
/* temp + fsync + rename (or link when exclusive) + dir fsync */
int ss_write_atomic(struct ss_store *st, const char *dir_rel, const char *name,
		    const char *data, size_t len, int exclusive,
		    struct rmail_err *err);
/* the same into an open directory (one its caller holds locked); `what`
 * names it in errors */
int ss_write_atomic_at(struct ss_store *st, int dfd, const char *what,
		       const char *name, const char *data, size_t len,
		       int exclusive, struct rmail_err *err);
/* mkdir -p below the mail root, chowned to the root's owner */
int ss_mkdirs(struct ss_store *st, const char *rel, struct rmail_err *err);
/* give a freshly created fd the mail root's owner when we are root */
void ss_fix_owner(struct ss_store *st, int fd);
/* remove a directory tree below dirfd */
int ss_rmtree_at(int dirfd, const char *name);
/* flock a directory below the mail root; returns the fd to close */
int ss_lock_dir(struct ss_store *st, const char *rel, struct rmail_err *err);
/* canonical "local@domain" into out (RMAIL_ADDR_MAX + 1 bytes) */
int ss_canon(const char *address, char *out, char *local_r, char *domain_r,
	     struct rmail_err *err);
/* "domains/<enc domain>" for a canonical domain */
int ss_domain_dir(const char *domain, char *out, size_t outsz,
		  struct rmail_err *err);

/* ---- users_json.c: user.json <-> struct ------------------------- */
/* parse; a message into err on any syntax or type problem */
int ss_user_parse(const char *data, size_t len, struct ss_user_rec *u_r,
		  struct rmail_err *err);
/* render a user.json, keeping unknown keys of `old` (may be NULL);
 * malloc'd text */
char *ss_user_render(const struct ss_user_rec *u, const char *old,
		     size_t oldlen);
/* root as user.json's text (indented, a final newline), malloc'd;
 * takes root's reference.  NULL when out of memory. */
char *ss_user_dump(json_t *root);

/* ---- users.c ------------------------------------------------------ */
/* the scheme new hashes get (yescrypt) */
#define SS_DEFAULT_PREFIX "$y$"
/* hash pw in the default scheme */
int ss_user_hash_new(const char *pw, char *out, size_t outsz,
		     struct rmail_err *err);
/* an enum ss_pw_verdict under the configured cost caps */
int ss_user_check_pw(struct ss_store *st, const char *pw, const char *hash,
		     char *scheme_r, size_t schemesz);
/* why a negative verdict, for a log line */
const char *ss_user_pw_verdict_str(int v);
/* "domains/<d>/users/<u>/user.json" */
int ss_user_json_path(const char *canon, char *out, size_t outsz,
		      struct rmail_err *err);
/* the cached record of a canonical user (re-read when changed) */
int ss_user_lookup(struct ss_store *st, const char *canon,
		   struct ss_user_rec *u_r, struct rmail_err *err);
/* 1 yes, 0 no, -1 cannot tell (err set) */
int ss_user_exists(struct ss_store *st, const char *canon,
		   struct rmail_err *err);

/* ---- aliases.c ---------------------------------------------------- */
void ss_aliases_free(struct ss_users *us);
/* 1 when the domain has at least one alias, -1 cannot tell (err) */
int ss_domain_has_aliases(struct ss_store *st, const char *domain,
			  struct rmail_err *err);

/* ---- quota.c ------------------------------------------------------ */
int ss_quota_open(struct ss_store *st, struct rmail_err *err);
void ss_quota_close(struct ss_store *st);
/* usage from the quota file, creating it by a scan when absent */
int ss_quota_used(struct ss_store *st, const char *canon, uint64_t *used_r,
		  struct rmail_err *err);

#endif
