/*
 * mod_shardstore internals shared by its source files.  Two halves:
 * the mailbox store (mod_shardstore.c, names.c, mbox_*.c, msg_*.c,
 * append.c, changelog.c, watch.c) and the user directory (users.c,
 * aliases.c, quota.c).  Functions named like store ops have exactly the
 * op's signature with `void *h` being a struct ss_store *.
 */
#ifndef SS_H
#define SS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include <rmail/rmail.h>

struct ss_users; /* users.c: cache of user.json files */
struct ss_quota; /* quota.c: usage counters */

struct ss_store {
	const struct rmail_core *core;
	struct rmail_mctx *m; /* NULL when used by CLI tools */
	const char *mail_root;
	int root_fd; /* O_PATH|O_DIRECTORY on mail_root */
	struct ss_users *users;
	struct ss_quota *quota;
	void *views;   /* open shared views (mbox side) */
	void *watches; /* inotify state (watch.c) */
	pthread_mutex_t lock;
	/* netfs.c, decided once per mail root when the store opens */
	const char *fs_name; /* network or FUSE filesystem; NULL: local */
	int noreplace; /* RENAME_NOREPLACE: 1 works, 0 emulated, -1 unknown */
	int snap_writers; /* view snapshot writes in flight (viewsnap.c) */
};

/* ---- lifecycle (mod_shardstore.c) ---------------------------------- */
/* Also used by the CLI (core/cmd_*.c) through the store ops. */
int ss_store_open(struct ss_store *st, const struct rmail_core *core,
		  const char *mail_root, struct rmail_err *err);
void ss_store_close(struct ss_store *st);

/* ---- netfs.c: shared roots on network filesystems ----------------- */
/* statfs and RENAME_NOREPLACE probe of the root (at store open) */
void ss_fs_probe(struct ss_store *st);
/* log what the probe found, once (the module, after st->m is set) */
void ss_fs_log(struct ss_store *st);
/*
 * rename old to new unless new exists (errno EEXIST): renameat2 with
 * RENAME_NOREPLACE, or where the filesystem refuses it, link + unlink
 * for a file and, for a directory, mkdir of new (the atomic claim) then
 * a rename over that empty directory.  0 or -1 with errno.
 */
int ss_rename_noreplace(struct ss_store *st, int olddfd, const char *old,
			int newdfd, const char *new_name, bool is_dir);

/* ---- names.c: one encoding for domains, local parts, mailboxes ---- */
/* canonical address: lower-case A-label domain, case-folded local
 * part, "+detail" removed.  0 or -1 (RMAIL_E_INVAL). */
int ss_addr_canon(const char *address, char *local_r, size_t localsz,
		  char *domain_r, size_t domainsz, struct rmail_err *err);
/* a path component that is safe under any directory: never "", ".",
 * "..", no '/', NUL or control characters; reversible. */
int ss_name_encode(const char *name, size_t len, char *out, size_t outsz,
		   struct rmail_err *err);
int ss_name_decode(const char *enc, char *out, size_t outsz,
		   struct rmail_err *err);
/* openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) relative to dirfd */
int ss_openat(int dirfd, const char *rel, int flags, mode_t mode);
/* all of d[0..n) to fd, through EINTR and short writes; -1 with errno */
int ss_write_all(int fd, const void *d, size_t n);
/* "domains/<d>/users/<u>" for a canonical address */
int ss_user_dir(const char *canon_address, char *out, size_t outsz,
		struct rmail_err *err);

/* ---- users.c / aliases.c / quota.c -------------------------------- */
int ss_users_open(struct ss_store *st, struct rmail_err *err);
void ss_users_close(struct ss_store *st);
int ss_user_get(void *h, const char *address, struct rmail_user *u_r,
		struct rmail_err *err);
int ss_user_verify(void *h, const char *address, const char *password,
		   struct rmail_user *u_r, struct rmail_err *err);
int ss_user_add(void *h, const char *address, const char *password, int admin,
		int64_t quota_mb, struct rmail_err *err);
int ss_user_update(void *h, const char *address,
		   const struct rmail_user_update *upd, struct rmail_err *err);
int ss_user_del(void *h, const char *address, int purge, struct rmail_err *err);
int ss_user_hash_cas(void *h, const char *address, const char *expected_hash,
		     const char *new_hash, struct rmail_err *err);
int ss_user_rehash(void *h, const char *address, const char *password,
		   struct rmail_err *err);
int ss_user_setting_get(void *h, const char *address, const char *name,
			char *value_r, size_t valsz, struct rmail_err *err);
int ss_user_setting_set(void *h, const char *address, const char *name,
			const char *value, struct rmail_err *err);
int ss_user_list(void *h, const char *domain, rmail_user_fn cb, void *arg,
		 struct rmail_err *err);
/* sieve_store.c (1.5) */
int ss_sieve_list(void *h, const char *user, rmail_sieve_fn cb, void *arg,
		  struct rmail_err *err);
int ss_sieve_get(void *h, const char *user, const char *name, char *buf,
		 size_t bufsz, size_t *len_r, int64_t *version_r, char *name_r,
		 struct rmail_err *err);
int ss_sieve_put(void *h, const char *user, const char *name, const char *text,
		 size_t len, struct rmail_err *err);
int ss_sieve_delete(void *h, const char *user, const char *name,
		    struct rmail_err *err);
int ss_sieve_rename(void *h, const char *user, const char *from, const char *to,
		    struct rmail_err *err);
int ss_sieve_activate(void *h, const char *user, const char *name,
		      struct rmail_err *err);
int ss_vacation_check(void *h, const char *user, const char *key, int64_t now,
		      int64_t period, struct rmail_err *err);
int ss_duplicate_check(void *h, const char *user, const char *key, int64_t now,
		       int64_t period, struct rmail_err *err);
int ss_alias_add(void *h, const char *alias, const char *const *targets,
		 size_t ntargets, struct rmail_err *err);
int ss_alias_del(void *h, const char *alias, struct rmail_err *err);
int ss_alias_list(void *h, const char *domain, rmail_alias_fn cb, void *arg,
		  struct rmail_err *err);
int ss_resolve(void *h, const char *address, rmail_addr_fn cb, void *arg,
	       struct rmail_err *err);
int ss_domain_is_local(void *h, const char *domain);
int ss_owns_address(void *h, const char *user, const char *address);
/* 1 yes, 0 no, -1 cannot tell (err set) */
int ss_domain_local_try(void *h, const char *domain, struct rmail_err *err);
int ss_owns_address_try(void *h, const char *user, const char *address,
			struct rmail_err *err);
int ss_quota_get(void *h, const char *user, uint64_t *used_r, uint64_t *limit_r,
		 struct rmail_err *err);
int ss_quota_recalc(void *h, const char *user, struct rmail_err *err);
/* the usage cache against the message files (check op): 1 differ, 0
 * agree, -1 with err; with repair a differing cache is rewritten */
int ss_quota_verify(struct ss_store *st, const char *canon, int repair,
		    uint64_t *cached_r, uint64_t *real_r,
		    struct rmail_err *err);
/* O(1) check before an append of `bytes` (RMAIL_E_QUOTA when over) */
int ss_quota_check(struct ss_store *st, const char *canon_user, uint64_t bytes,
		   struct rmail_err *err);
/*
 * An upload begins: `bytes` (its announced size) are held against the
 * user's quota until ss_quota_unreserve, so concurrent uploads cannot
 * together overshoot it; RMAIL_E_QUOTA when usage leaves no room,
 * RMAIL_E_BUSY when only the reservations of this process do (they may
 * still be abandoned) or when the user already has max_uploads (0: no
 * cap) uploads in progress in this process.
 */
int ss_quota_reserve(struct ss_store *st, const char *canon_user,
		     uint64_t bytes, uint32_t max_uploads,
		     struct rmail_err *err);
/* give back bytes; upload_done also ends the upload's count */
void ss_quota_unreserve(struct ss_store *st, const char *canon_user,
			uint64_t bytes, int upload_done);
/* account a committed append (+) or an expunge (-) */
void ss_quota_charge(struct ss_store *st, const char *canon_user,
		     int64_t delta);

/* ---- mailbox side, used by users.c ---------------------------------- */
/* create INBOX, Sent, Drafts, Trash, Junk, Archive for a new user */
int ss_mbox_create_defaults(struct ss_store *st, const char *canon_user,
			    struct rmail_err *err);
/* total bytes of every message of a user, from file names only */
int ss_user_usage_scan(struct ss_store *st, const char *canon_user,
		       uint64_t *bytes_r, struct rmail_err *err);

/* ---- appended by store-mbox: bulk appends (import, bench) ---------- */
struct rmail_append;
/* skip this append's fsync pair; ss_mbox_sync makes the batch durable */
void ss_append_set_nosync(struct rmail_append *ap);
/* syncfs + fsync of every shard directory of the mailbox */
int ss_mbox_sync(struct ss_store *st, const char *user, const char *mbox,
		 struct rmail_err *err);

#endif
