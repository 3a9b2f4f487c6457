/*
 * The store operations a STORAGE module provides (mod_shardstore) and
 * every protocol reaches through core->store().  Protocol modules never
 * touch the store's files.
 *
 * Handle: every op taking `void *h` gets the storage module's m->data,
 * as its init() set it; callers get it from core->store(&h).
 *
 * Threading: ops marked [slow] may block on disk or CPU (fsync,
 * password hashing, directory scans): call them from a core worker pool
 * (core->work_submit), never on the event loop.  Ops marked [loop] must
 * be called on the event-loop thread only: that is every view accessor
 * (mbox_open .. mbox_changes below), whose results point into the shared
 * view that mbox_refresh on the loop rebuilds.  Every other op is
 * thread-safe; unmarked ones are fast (memory or a single small file)
 * and fine anywhere.  The [slow] message ops take a view the caller
 * keeps open (mbox_close only once they are done) and may run on a
 * worker.
 *
 * Required entries: user_get, resolve, domain_is_local and quota_get.
 * The loader refuses a storage module whose table leaves one of them
 * NULL ("storage ops table lacks user_get, which ABI 1.0 requires").
 * Every other entry may be NULL: the daemon checks before each call it
 * makes (a store without append_* keeps mail queued, one without
 * user_verify refuses logins as "busy"), and so must a module that
 * calls the store.  The `rmail` admin commands (user, alias, quota,
 * import, export, diagnose) call the entries their job needs: a store
 * meant for them provides those.  Entries appended after 1.0 are
 * tested with RMAIL_HAS() and a NULL check.
 *
 * Callback arguments (rmail_user_fn, rmail_mbox_fn ...) live only
 * during the callback; the callbacks run on the caller's thread, before
 * the op returns.
 *
 * Names: user addresses are "local@domain" in any case, with an optional
 * "+detail"; the store canonicalises them.  Mailbox names are UTF-8 with
 * '/' as hierarchy delimiter; "INBOX" is case-insensitive.
 */
#ifndef RMAIL_STORE_H
#define RMAIL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <rmail/err.h>
#include <rmail/module.h>

#define RMAIL_ADDR_MAX 320
#define RMAIL_MBOX_NAME_MAX 1024
#define RMAIL_KEYWORD_MAX 64	 /* keywords per mailbox (bit mask) */
#define RMAIL_SIEVE_NAME_MAX 128 /* 1.5: bytes of a Sieve script name */

/* System flags. */
enum rmail_flag {
	RMAIL_F_SEEN = 1u << 0,
	RMAIL_F_ANSWERED = 1u << 1,
	RMAIL_F_FLAGGED = 1u << 2,
	RMAIL_F_DELETED = 1u << 3,
	RMAIL_F_DRAFT = 1u << 4,
};

enum rmail_special_use {
	RMAIL_SU_NONE = 0,
	RMAIL_SU_SENT,
	RMAIL_SU_DRAFTS,
	RMAIL_SU_TRASH,
	RMAIL_SU_JUNK,
	RMAIL_SU_ARCHIVE,
	RMAIL_SU_ALL,
	RMAIL_SU_FLAGGED,
};

enum rmail_mbox_attr {
	RMAIL_MBOX_NOSELECT = 1u << 0, /* exists only as a parent */
	RMAIL_MBOX_HASCHILDREN = 1u << 1,
	RMAIL_MBOX_SUBSCRIBED = 1u << 2,
	RMAIL_MBOX_NONEXISTENT = 1u << 3, /* subscribed but gone */
};

struct rmail_user {
	char address[RMAIL_ADDR_MAX + 1]; /* canonical local@domain */
	int admin;
	int disabled;
	uint64_t quota_bytes; /* quota_mb * 1 MiB */
	uint64_t quota_used;  /* bytes */
	uint64_t token_gen;   /* changes on passwd / disable */
	int64_t created;      /* unix seconds */
};

/* Fields set to -1 (or NULL) are left unchanged.  Sized: fields past
 * `size` are left unchanged too. */
struct rmail_user_update {
	uint32_t size; /* sizeof(struct rmail_user_update) */
	int admin;
	int disabled;
	int64_t quota_mb;
	const char *password;
};

struct rmail_mbox_entry {
	const char *name;
	uint32_t attrs;	      /* enum rmail_mbox_attr */
	uint32_t special_use; /* enum rmail_special_use */
};

/* Sized, caller-allocated: set `size` before the call; the store fills
 * at most that many bytes and sets `size` to what it filled. */
struct rmail_mbox_status {
	uint32_t size; /* sizeof(struct rmail_mbox_status) */
	uint32_t messages;
	uint32_t unseen;
	uint32_t recent;
	uint32_t uidnext;
	uint32_t uidvalidity;
	uint32_t special_use;
	uint64_t bytes; /* of all messages */
	uint64_t highestmodseq;
	/* 1.2: mbox_changes(since) lists every expunge with modseq > since
	 * whenever since >= vanished_horizon; below it the store cannot list
	 * them all (compare UIDs instead).  Test with RMAIL_HAS. */
	uint64_t vanished_horizon;
};

/* One message in a mailbox view; 40 bytes, fixed layout (one per
 * message in memory: it never grows, see module.h). */
/* RFC 8474 objectid buffers (msg_emailid, mbox_objectid), NUL included */
#define RMAIL_OBJECTID_MAX 64

struct rmail_msg {
	uint32_t uid;
	uint32_t flags;	      /* enum rmail_flag */
	uint64_t keywords;    /* bit i = keyword i of the view */
	uint64_t size;	      /* RFC822.SIZE (CRLF) */
	int64_t internaldate; /* unix seconds */
	uint64_t modseq;
};

enum rmail_flag_mode {
	RMAIL_FLAGS_SET = 0, /* replace */
	RMAIL_FLAGS_ADD = 1,
	RMAIL_FLAGS_REMOVE = 2,
};

enum rmail_change_type {
	RMAIL_CHANGE_APPEND = 1,
	RMAIL_CHANGE_FLAGS = 2,
	RMAIL_CHANGE_EXPUNGE = 3,
};

struct rmail_change {
	uint32_t type; /* enum rmail_change_type */
	uint32_t uid;
	uint64_t modseq;
};

struct rmail_append_opts {
	uint32_t size;	/* sizeof(struct rmail_append_opts) */
	uint32_t flags; /* enum rmail_flag */
	const char *const *keywords;
	size_t nkeywords;
	int64_t internaldate; /* 0 = now */
	uint64_t size_hint;   /* for the early quota check; 0 ok */
	int ignore_quota;     /* bounces, admin imports */
	/* bulk imports: skip this append's fsync pair; the batch becomes
	 * durable with mbox_sync().  Only read when size covers it. */
	int nosync;
	/* 1.3: the UID the message gets (imports keeping a source's UIDs);
	 * 0 lets the store choose.  It must be at least the mailbox's
	 * UIDNEXT when append_commit takes the UID lock, else the commit
	 * fails with RMAIL_E_EXISTS and stores nothing; UIDNEXT becomes
	 * uid + 1.  append_commit_many refuses it (RMAIL_E_INVAL).  Only
	 * read when size covers it; a store without mbox_set_uidvalidity
	 * ignores it. */
	uint32_t uid;
};

/* 1.5: RFC 5464 entry names ("/private/comment") are at most this long */
#define RMAIL_META_NAME_MAX 1024

/* 1.5: one entry of meta_set; value NULL removes the entry */
struct rmail_meta_entry {
	const char *name;
	const void *value;
	size_t len;
};

struct rmail_mbox;   /* shared, refcounted view */
struct rmail_append; /* one streaming append */
struct rmail_watch;  /* change-feed subscription */

typedef void (*rmail_user_fn)(void *arg, const struct rmail_user *u);
typedef void (*rmail_alias_fn)(void *arg, const char *alias,
			       const char *const *targets, size_t ntargets);
typedef void (*rmail_addr_fn)(void *arg, const char *address);
typedef void (*rmail_mbox_fn)(void *arg, const struct rmail_mbox_entry *e);
typedef void (*rmail_change_fn)(void *arg, const struct rmail_change *c);
typedef void (*rmail_watch_fn)(void *arg);
/* 1.5: one METADATA entry (meta_get); value holds len bytes, not
 * NUL-terminated */
typedef void (*rmail_meta_fn)(void *arg, const char *name, const void *value,
			      size_t len);
/* One finding of check (a problem, `repaired` 1 when fixed) or one
 * advisory sentence of health (repaired 0).  `where` names what the
 * admin can find (a path, a mailbox), or NULL. */
typedef void (*rmail_check_fn)(void *arg, const char *where, const char *what,
			       int repaired);
/* 1.5: one Sieve script of sieve_list */
typedef void (*rmail_sieve_fn)(void *arg, const char *name, int active,
			       uint64_t bytes, int64_t version);

struct rmail_store_ops {
	uint32_t size; /* sizeof(struct rmail_store_ops) */

	/* ---- users, aliases, quota -------------------------------- */
	/* required */
	int (*user_get)(void *h, const char *address, struct rmail_user *u_r,
			struct rmail_err *err);
	/* [slow] verify a password.  Unknown user and wrong password give
	 * the same RMAIL_E_AUTH after the same work; disabled users get
	 * RMAIL_E_DISABLED only after a correct password. */
	int (*user_verify)(void *h, const char *address, const char *password,
			   struct rmail_user *u_r, struct rmail_err *err);
	/* [slow] creates the default mailboxes too. */
	int (*user_add)(void *h, const char *address, const char *password,
			int admin, int64_t quota_mb, struct rmail_err *err);
	int (*user_update)(void *h, const char *address,
			   const struct rmail_user_update *upd,
			   struct rmail_err *err);
	int (*user_del)(void *h, const char *address, int purge,
			struct rmail_err *err);
	int (*user_list)(void *h, const char *domain, rmail_user_fn cb,
			 void *arg, struct rmail_err *err);

	int (*alias_add)(void *h, const char *alias, const char *const *targets,
			 size_t ntargets, struct rmail_err *err);
	int (*alias_del)(void *h, const char *alias, struct rmail_err *err);
	int (*alias_list)(void *h, const char *domain, rmail_alias_fn cb,
			  void *arg, struct rmail_err *err);

	/* Expand an address (aliases, +detail, case) into the canonical
	 * addresses of local users; RMAIL_E_NOENT when nothing local.
	 * Required, as are domain_is_local and quota_get. */
	int (*resolve)(void *h, const char *address, rmail_addr_fn cb,
		       void *arg, struct rmail_err *err);
	int (*domain_is_local)(void *h, const char *domain);
	/* 1 when `address` is the user's own (any +detail) or an alias
	 * that reaches the user, else 0. */
	int (*owns_address)(void *h, const char *user, const char *address);

	int (*quota_get)(void *h, const char *user, uint64_t *used_r,
			 uint64_t *limit_r, struct rmail_err *err);
	/* [slow] user NULL = every user. */
	int (*quota_recalc)(void *h, const char *user, struct rmail_err *err);

	/* ---- mailboxes --------------------------------------------- */
	int (*mbox_list)(void *h, const char *user, rmail_mbox_fn cb, void *arg,
			 struct rmail_err *err);
	int (*mbox_create)(void *h, const char *user, const char *name,
			   uint32_t special_use, struct rmail_err *err);
	/* [slow] */
	int (*mbox_delete)(void *h, const char *user, const char *name,
			   struct rmail_err *err);
	/* [slow] renames children too; INBOX rename moves its messages. */
	int (*mbox_rename)(void *h, const char *user, const char *from,
			   const char *to, struct rmail_err *err);
	int (*mbox_subscribe)(void *h, const char *user, const char *name,
			      int subscribe, struct rmail_err *err);
	int (*mbox_status)(void *h, const char *user, const char *name,
			   struct rmail_mbox_status *st_r,
			   struct rmail_err *err);

	/* ---- views ------------------------------------------------- */
	/* [loop] open the process-wide shared view (refcounted). */
	int (*mbox_open)(void *h, const char *user, const char *name,
			 struct rmail_mbox **mb_r, struct rmail_err *err);
	/* [loop] revalidate against disk; cheap when nothing changed.
	 * Pointers from mbox_msg() are invalid after a refresh. */
	int (*mbox_refresh)(struct rmail_mbox *mb, struct rmail_err *err);
	/* [loop] */
	void (*mbox_close)(struct rmail_mbox **mb);
	/* [loop] */
	uint32_t (*mbox_count)(struct rmail_mbox *mb);
	/* [loop] idx in [0, count), ascending UID order; valid until the
	 * next mbox_refresh or mbox_close. */
	const struct rmail_msg *(*mbox_msg)(struct rmail_mbox *mb,
					    uint32_t idx);
	/* [loop] index of uid, or -1. */
	int64_t (*mbox_find)(struct rmail_mbox *mb, uint32_t uid);
	/* [loop] */
	void (*mbox_info)(struct rmail_mbox *mb,
			  struct rmail_mbox_status *st_r);
	/* [loop] the mailbox's keyword table; bit i of rmail_msg.keywords;
	 * valid until the next mbox_refresh or mbox_close. */
	size_t (*mbox_keywords)(struct rmail_mbox *mb,
				const char *const **names_r);
	/* [loop] changes with modseq > since.  The shard store (format 2)
	 * reports each UID's latest change from the refreshed view and the
	 * expunges from its tombstones (complete for since >=
	 * rmail_mbox_status.vanished_horizon), each with its exact
	 * modseq; not in modseq order. */
	int (*mbox_changes)(struct rmail_mbox *mb, uint64_t since,
			    rmail_change_fn cb, void *arg,
			    struct rmail_err *err);

	/* ---- messages ---------------------------------------------- */
	/* One rename, lock-free CAS; new_r gets the resulting state, its
	 * modseq that of the change (0: no change, or a store that does
	 * not say). */
	int (*msg_flags)(struct rmail_mbox *mb, uint32_t uid, int mode,
			 uint32_t flags, const char *const *keywords,
			 size_t nkeywords, struct rmail_msg *new_r,
			 struct rmail_err *err);
	/* read [off, off+len) of the message; *got_r < len at the end. */
	int (*msg_read)(struct rmail_mbox *mb, uint32_t uid, uint64_t off,
			void *buf, size_t len, size_t *got_r,
			struct rmail_err *err);
	/* a read-only descriptor on the message file; caller closes it. */
	int (*msg_open)(struct rmail_mbox *mb, uint32_t uid, int *fd_r,
			struct rmail_err *err);
	/* [slow] copy uids to mailbox `dst` of the same user; dst_uids_r
	 * (n entries) receives the new UIDs, in order. */
	int (*msg_copy)(struct rmail_mbox *mb, const uint32_t *uids, size_t n,
			const char *dst, uint32_t *dst_uids_r,
			uint32_t *dst_uidvalidity_r, struct rmail_err *err);
	/* [slow] move uids to `dst`.  Since 1.1 each source is claimed
	 * first, so concurrent moves of one message never copy it twice;
	 * all or nothing: RMAIL_E_NOENT, nothing moved, when one is gone. */
	int (*msg_move)(struct rmail_mbox *mb, const uint32_t *uids, size_t n,
			const char *dst, uint32_t *dst_uids_r,
			uint32_t *dst_uidvalidity_r, struct rmail_err *err);
	/* [slow] */
	int (*msg_expunge)(struct rmail_mbox *mb, const uint32_t *uids,
			   size_t n, struct rmail_err *err);

	/* ---- streaming append -------------------------------------- */
	/* begin checks quota against size_hint; write normalises bare LF
	 * to CRLF; commit is [slow] (fsync, UID lock, rename, dir fsync)
	 * and reports success only once the message is durable. */
	int (*append_begin)(void *h, const char *user, const char *mailbox,
			    const struct rmail_append_opts *o,
			    struct rmail_append **ap_r, struct rmail_err *err);
	int (*append_write)(struct rmail_append *ap, const void *data,
			    size_t len, struct rmail_err *err);
	int (*append_commit)(struct rmail_append *ap, uint32_t *uid_r,
			     uint32_t *uidvalidity_r, struct rmail_err *err);
	/* frees ap whether or not commit ran or succeeded */
	void (*append_free)(struct rmail_append **ap);

	/* ---- change feed ------------------------------------------- */
	/* [loop] cb runs on the loop (coalesced) within a second of any
	 * process changing the mailbox; then mbox_refresh/mbox_changes. */
	int (*watch_add)(void *h, const char *user, const char *mailbox,
			 rmail_watch_fn cb, void *arg, struct rmail_watch **w_r,
			 struct rmail_err *err);
	void (*watch_del)(struct rmail_watch **w);

	/* ---- bulk ----------------------------------------------------- */
	/* [slow] make every nosync append to the mailbox durable */
	int (*mbox_sync)(void *h, const char *user, const char *mailbox,
			 struct rmail_err *err);

	/* ---- 1.1 ----------------------------------------------------- */
	/* [slow] move what is still there: a message another process
	 * expunged or moved first (each source is claimed atomically, so
	 * exactly one mover wins) gets dst_uids_r[i] = 0 and is not copied.
	 * 0 even when none was left to move. */
	int (*msg_move_some)(struct rmail_mbox *mb, const uint32_t *uids,
			     size_t n, const char *dst, uint32_t *dst_uids_r,
			     uint32_t *dst_uidvalidity_r,
			     struct rmail_err *err);
	/* The mailbox's \Recent high-water mark, shared by every process:
	 * raise it to `upto` (never lowers it; 0 only reads) under the
	 * mailbox lock and return the mark before in *prev_r.  Not durable:
	 * a crash may lose or repeat a claim.  Test with RMAIL_HAS. */
	int (*mbox_recent)(struct rmail_mbox *mb, uint32_t upto,
			   uint32_t *prev_r, struct rmail_err *err);
	/* domain_is_local and owns_address, able to say "cannot tell":
	 * 1 yes, 0 a definite no, -1 the store could not look (EMFILE,
	 * EIO, ENOMEM ...) with err set; callers answer "try later" then.
	 * Test with RMAIL_HAS(); absent on 1.0 stores. */
	int (*domain_local_try)(void *h, const char *domain,
				struct rmail_err *err);
	int (*owns_address_try)(void *h, const char *user, const char *address,
				struct rmail_err *err);
	/* [slow] the store's fsck, behind `rmail check-store`: walk all it
	 * keeps, call cb once per problem; with repair, fix what is safe
	 * to fix.  Sweeps abandoned temporaries and verifies the derived
	 * caches the store keeps.  Safe with the daemon running.  The
	 * number of problems left unrepaired (>= 0), or -1 with err when
	 * the store cannot be walked.  Test with RMAIL_HAS(); absent, the
	 * store cannot check itself. */
	int (*check)(void *h, int repair, rmail_check_fn cb, void *arg,
		     struct rmail_err *err);
	/* Can the store serve now (`/healthz`, `rmail check`, diagnose)?
	 * 0 yes, -1 with err no.  cb (may be NULL) gets each advisory
	 * sentence that does not stop it serving (a network filesystem's
	 * mount options...).  Cheap without cb.  Test with RMAIL_HAS(). */
	int (*health)(void *h, rmail_check_fn cb, void *arg,
		      struct rmail_err *err);

	/* ---- 1.2 ----------------------------------------------------- */
	/* msg_flags, applied atomically only while the message's modseq is
	 * <= unchangedsince (RFC 7162 UNCHANGEDSINCE); otherwise -1 with
	 * RMAIL_E_MODIFIED and new_r filled with the current state.  A
	 * change that changes nothing succeeds without a new modseq.  Test
	 * with RMAIL_HAS(). */
	int (*msg_flags_unchanged)(struct rmail_mbox *mb, uint32_t uid,
				   uint64_t unchangedsince, int mode,
				   uint32_t flags, const char *const *keywords,
				   size_t nkeywords, struct rmail_msg *new_r,
				   struct rmail_err *err);
	/* [slow] commit n appends (begun and written, all to the same
	 * mailbox) as one batch (IMAP MULTIAPPEND): all are stored, with
	 * the consecutive UIDs *uid_first_r .. +n-1 taken under one UID
	 * lock, or none (quota for the whole batch, a failed fsync or
	 * rename: what was renamed is renamed back; UIDs may be skipped). Every
	 * ap is still freed with append_free.  Not atomic for readers: another
	 * process refreshing its view while the renames run (under the UID
	 * lock, no fsync between them) may see the first messages of the batch
	 * before the last, and after a failed rename may see messages that
	 * then vanish.  Test with RMAIL_HAS(). */
	int (*append_commit_many)(struct rmail_append *const *aps, size_t n,
				  uint32_t *uid_first_r,
				  uint32_t *uidvalidity_r,
				  struct rmail_err *err);
	/* [slow] Compare-and-swap the user's password hash: new_hash is
	 * written only while the stored hash is still expected_hash (NULL:
	 * only while the user has no password), else RMAIL_E_BUSY and
	 * nothing written.  new_hash is a hash in a scheme the store
	 * verifies (crypt(3), or Dovecot's "{SCHEME}..." forms); plaintext
	 * schemes and unknown ones are RMAIL_E_INVAL.  Sessions and tokens
	 * of the user end as on a password change.  Test with RMAIL_HAS()
	 * and a NULL check. */
	int (*user_hash_cas)(void *h, const char *address,
			     const char *expected_hash, const char *new_hash,
			     struct rmail_err *err);
	/* [slow] After a successful login: when the stored hash is not in
	 * the store's default scheme, verify `password` against it and
	 * replace it by a default-scheme hash of the same password, by
	 * compare-and-swap against the hash just verified, so a password
	 * changed meanwhile is never overwritten (RMAIL_E_BUSY then).
	 * 1 rehashed, 0 nothing to do, -1 with err.  Tokens stay valid
	 * (same password).  Test with RMAIL_HAS() and a NULL check. */
	int (*user_rehash)(void *h, const char *address, const char *password,
			   struct rmail_err *err);

	/* ---- 1.3 ----------------------------------------------------- */
	/* [slow] Give an empty mailbox (no message on disk) the
	 * UIDVALIDITY `uidvalidity` (> 0) and restart its UIDs at 1, so an
	 * import can keep a source's UIDVALIDITY and UIDs (with
	 * rmail_append_opts.uid).  The same UIDVALIDITY is a no-op that
	 * keeps UIDNEXT; RMAIL_E_EXISTS when the mailbox holds a message,
	 * RMAIL_E_INVAL for 0.  Sessions that have the mailbox selected see
	 * the new UIDVALIDITY at their next refresh.  Test with RMAIL_HAS()
	 * and a NULL check; absent, imports let the store choose UIDs. */
	int (*mbox_set_uidvalidity)(void *h, const char *user, const char *name,
				    uint32_t uidvalidity,
				    struct rmail_err *err);

	/* ---- 1.4 ----------------------------------------------------- */
	/* Per-user settings: small string values by name, the user's own
	 * preferences ("spam_to_junk": "yes" or "no", see
	 * docs/filters.md).  Names are 1 to 64 of [a-z0-9_.-]; values at
	 * most 255 bytes of printable text.  get: 1 with the value in
	 * value_r (NUL-terminated, truncated to valsz), 0 when the user
	 * has no such setting (value_r ""), -1 with err (RMAIL_E_NOENT: no
	 * such user).  set: value NULL removes the setting.  Test with
	 * RMAIL_HAS() and a NULL check; absent, every user has the
	 * defaults. */
	int (*user_setting_get)(void *h, const char *address, const char *name,
				char *value_r, size_t valsz,
				struct rmail_err *err);
	/* [slow] */
	int (*user_setting_set)(void *h, const char *address, const char *name,
				const char *value, struct rmail_err *err);
	/* RFC 8474 OBJECTID.  Ids are 1..RMAIL_OBJECTID_MAX-1 bytes of
	 * [A-Za-z0-9_-], NUL-terminated in out (outsz >= RMAIL_OBJECTID_MAX).
	 * msg_emailid: the id of the message's immutable content, the same
	 * in every process, across flag changes and msg_move, never given
	 * to a message with different content; msg_copy may keep it.
	 * RMAIL_E_NOENT when the message is gone.  mbox_objectid: the
	 * mailbox's id, the same across mbox_rename (not for INBOX, whose
	 * messages move to a new mailbox), never reused for another
	 * mailbox.  Test both with RMAIL_HAS() and a NULL check. */
	int (*msg_emailid)(struct rmail_mbox *mb, uint32_t uid, char *out,
			   size_t outsz, struct rmail_err *err);
	int (*mbox_objectid)(void *h, const char *user, const char *name,
			     char *out, size_t outsz, struct rmail_err *err);

	/* ---- 1.5 ----------------------------------------------------- */
	/* Sieve scripts (RFC 5228), the ManageSieve model (RFC 5804): a
	 * user has named scripts, at most one of them active.  Names are
	 * 1..RMAIL_SIEVE_NAME_MAX bytes of UTF-8 without control
	 * characters or '/'.  The store keeps the text as given; quotas on
	 * count and size are the caller's (docs/sieve.md).  Test each with
	 * RMAIL_HAS() and a NULL check; absent, the user has no script. */
	int (*sieve_list)(void *h, const char *user, rmail_sieve_fn cb,
			  void *arg, struct rmail_err *err);
	/* name NULL: the active script (RMAIL_E_NOENT when none), its
	 * name into name_r (RMAIL_SIEVE_NAME_MAX + 1 bytes, may be NULL).
	 * Copies at most bufsz bytes into buf (buf NULL, bufsz 0: only the
	 * facts); *len_r is the whole script's length, *version_r changes
	 * with every write of it (the file's mtime in ns): a compile
	 * cache's key.  Either may be NULL. */
	int (*sieve_get)(void *h, const char *user, const char *name, char *buf,
			 size_t bufsz, size_t *len_r, int64_t *version_r,
			 char *name_r, struct rmail_err *err);
	/* [slow] create or replace (durable before it returns); an active
	 * script stays active with the new text */
	int (*sieve_put)(void *h, const char *user, const char *name,
			 const char *text, size_t len, struct rmail_err *err);
	/* [slow] RMAIL_E_BUSY for the active script (RFC 5804 ACTIVE) */
	int (*sieve_delete)(void *h, const char *user, const char *name,
			    struct rmail_err *err);
	/* [slow] RMAIL_E_EXISTS when `to` exists; the active one stays
	 * active under its new name */
	int (*sieve_rename)(void *h, const char *user, const char *from,
			    const char *to, struct rmail_err *err);
	/* [slow] name NULL: no script is active */
	int (*sieve_activate)(void *h, const char *user, const char *name,
			      struct rmail_err *err);
	/* [slow] Vacation's "already replied" state (RFC 5230 section
	 * 4.2), shared by every process on the mail root: 1 when a reply
	 * for `key` (1..128 of [A-Za-z0-9_.=+-]: the caller's digest of
	 * sender and :handle) was recorded within `period` seconds before
	 * `now` (send nothing), else 0 after recording `now` (send one).
	 * Atomic across processes.  Entries older than a year go. */
	int (*vacation_check)(void *h, const char *user, const char *key,
			      int64_t now, int64_t period,
			      struct rmail_err *err);
	/* RFC 5464 METADATA annotations of mailbox `mbox` of `user`, or of
	 * the user's server entries when mbox is NULL.  Names are what the
	 * caller gives, 1..RMAIL_META_NAME_MAX bytes without NUL (IMAP
	 * lower-cases them first); values any bytes.  A mailbox's entries
	 * follow it across mbox_rename (not INBOX's: they stay on INBOX)
	 * and go with mbox_delete.  meta_get calls cb once per entry in
	 * ascending byte order of name; RMAIL_E_NOENT for no such mailbox
	 * or user.  Test with RMAIL_HAS() and a NULL check; absent, IMAP
	 * does not offer METADATA. */
	int (*meta_get)(void *h, const char *user, const char *mbox,
			rmail_meta_fn cb, void *arg, struct rmail_err *err);
	/* [slow] set (value non-NULL) or remove (value NULL) n entries as
	 * one change, seen by every process once it returns: all or none.
	 * RMAIL_E_TOOBIG, nothing written, when the result would hold more
	 * than max_entries entries or more than max_bytes bytes of names
	 * and values (0: no limit); removing is never refused. */
	int (*meta_set)(void *h, const char *user, const char *mbox,
			const struct rmail_meta_entry *e, size_t n,
			size_t max_entries, uint64_t max_bytes,
			struct rmail_err *err);
	/* RFC 8514 SAVEDATE: when message uid was saved into this mailbox
	 * (APPEND, COPY, MOVE, a delivery; flag changes keep it), unix
	 * seconds in *date_r, the same in every process.  1 with the
	 * date, 0 when the store has no record of it (a message older than
	 * the store's records, or one a crash lost: callers show the
	 * internal date), -1 with err.  Any thread, on a view the caller
	 * keeps open.  Test with RMAIL_HAS() and a NULL check; absent,
	 * IMAP does not offer SAVEDATE. */
	int (*msg_savedate)(struct rmail_mbox *mb, uint32_t uid,
			    int64_t *date_r, struct rmail_err *err);

	/* ---- 1.6 ----------------------------------------------------- */
	/* [slow] Duplicate tracking (the model of RFC 7352), per user and
	 * shared by every process on the mail root: 1 when `key` (as
	 * vacation_check's) was recorded less than its period ago (do it
	 * not again), else 0 after recording it for `period` (> 0)
	 * seconds from `now`.  Atomic across processes; an entry goes
	 * once its period is over.  mod_sieve records each redirect it
	 * sends, so a message delivered again (a 4xx the client retried)
	 * is not redirected twice.  Test with RMAIL_HAS() and a NULL
	 * check; absent, nothing is deduplicated. */
	int (*duplicate_check)(void *h, const char *user, const char *key,
			       int64_t now, int64_t period,
			       struct rmail_err *err);

	/* ---- 1.7 ----------------------------------------------------- */
	/* [loop] A frozen copy of view mb as of its last mbox_refresh, for
	 * a caller that must keep answering from what it announced while
	 * the shared view moves on (an IMAP session's sequence map).
	 * Cheap: records the view has not read yet (a view snapshot's
	 * blocks after a restart) are shared and read on first use, only
	 * records already in memory are copied.  Its records never change
	 * and its pointers stay valid until mbox_close; mbox_count,
	 * mbox_msg, mbox_find, mbox_version, mbox_first_unseen and
	 * mbox_close apply to it (mbox_refresh does nothing), no other op
	 * does.  Test with RMAIL_HAS() and a NULL check (with
	 * mbox_version); absent, copy the records. */
	int (*mbox_freeze)(struct rmail_mbox *mb, struct rmail_mbox **frozen_r,
			   struct rmail_err *err);
	/* [loop] A number that changes whenever the records of view mb may
	 * have changed (a refresh that read a change, a flag change made
	 * through this process); a frozen view keeps the number of the
	 * view it was taken from: while the view and a frozen copy of it
	 * have the same number, they hold the same records. */
	uint64_t (*mbox_version)(struct rmail_mbox *mb);
	/* [loop] The index + 1 of the first message without \Seen, 0 when
	 * every message has it; reads only the records around it (an IMAP
	 * SELECT's [UNSEEN n]).  Test with RMAIL_HAS() and a NULL check. */
	uint32_t (*mbox_first_unseen)(struct rmail_mbox *mb);
};

/* The index of the first of a view's first `count` messages whose UID
 * is at least `uid` (count when none): a binary search over mbox_msg,
 * which is in UID order.  No ABI entry: inline, built into the caller. */
static inline uint32_t rmail_mbox_lower(const struct rmail_store_ops *ops,
					struct rmail_mbox *mb, uint32_t count,
					uint32_t uid)
{
	uint32_t lo = 0, hi = count;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (ops->mbox_msg(mb, mid)->uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

#endif
