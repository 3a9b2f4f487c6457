/* Mailbox half of mod_shardstore: state shared by its files. */
#ifndef SS_MBOX_H
#define SS_MBOX_H

#include <time.h>

#include "ss.h"
#include "ss_fname.h"

#define SS_PATH_MAX 1024

struct ss_logrec;
/* shards whose mtime is this close to a scan stay dirty (racy mtime) */
#define SS_RACY_NS 20000000LL
/* defaults of shardstore.max_uploads_per_user, .tmp_sweep_interval */
#define SS_UPLOADS_MAX 10
#define SS_SWEEP_INTERVAL 3600.0

struct ss_conf {
	double poll_interval;
	int inotify;
	int64_t max_uploads_per_user;
	double tmp_sweep_interval;
	int64_t argon2_max_memory_mb; /* per check; see pwscheme.h */
};

struct ss_shard {
	uint32_t no;
	uint32_t count;
	uint32_t cap;		/* msgs allocated */
	uint32_t unseen;	/* messages without \Seen */
	uint64_t bytes;		/* sum of sizes */
	struct rmail_msg *msgs; /* ascending UID */
	struct timespec mtime;
	bool dirty;
	bool dups;	 /* a UID under several names */
	bool touched;	 /* refresh: a log record hit it */
	uint64_t maxmod; /* highest modseq of its names */
	bool rescan;	 /* refresh: log and disk disagree */
	uint64_t ino;	 /* of the directory scanned (view snapshot) */
	bool patched;	 /* changed since its scan (log, own change) */
	bool mapped;	 /* msgs is in the snapshot's read-only mapping */
	/* msgs is a snapshot block not yet checked against `check`: the
	 * first use checks it (ss_shard_ready), a bad one is rescanned */
	bool unchecked;
	uint64_t check;
};

struct rmail_mbox {
	struct ss_store *st;
	struct rmail_mbox *next; /* st->views list */
	int refs;
	bool gone;		       /* deleted/renamed: never reused */
	char user[RMAIL_ADDR_MAX + 1]; /* canonical */
	char name[RMAIL_MBOX_NAME_MAX + 1];
	char rel[SS_PATH_MAX]; /* mailbox dir under the root */
	int dirfd;	       /* O_RDONLY|O_DIRECTORY */
	int counterfd;
	int logfd;	       /* lazily opened, O_APPEND */
	int msfd;	       /* the modseq counter */
	void *ms;	       /* its shared mapping; NULL on netfs */
	uint64_t highest;      /* HIGHESTMODSEQ seen, never lowered */
	uint64_t loggen;       /* ss_modseq_loggen when logfd was opened */
	pthread_mutex_t lock;  /* view arrays, keywords */
	pthread_mutex_t alloc; /* threads around flock */
	pthread_mutex_t loglock;
	bool uid_verified;
	bool scanned;

	struct timespec dir_mtime;
	bool dir_dirty;
	struct ss_shard *shards;
	size_t nshards;
	uint32_t *first; /* index of each shard's first */
	uint32_t count;
	uint32_t uidvalidity, uidnext;
	uint32_t special_use;
	uint64_t size;
	uint32_t unseen;      /* kept with the flags */
	uint32_t uid_hi;      /* every UID up to it is seen */
	uint64_t log_read;    /* change log consumed so far */
	uint64_t log_ino;     /* its inode (rotation), 0: none */
	uint64_t shard_scans; /* shard rescans (tests, bench) */
	char **keywords;      /* RMAIL_KEYWORD_MAX slots, grows only */
	size_t nkeywords;
	uint64_t kw_ino, kw_bytes; /* identity of the file read */
	struct timespec kw_mtime;
	/* savedate.c: UIDNEXT when the UID lock was taken, and the cached
	 * "savedates" records of this UIDVALIDITY (under mb->lock) */
	uint32_t lock_next;
	struct ss_saverec *sd;
	size_t sd_n, sd_cap;
	uint64_t sd_ino, sd_read;
	uint32_t sd_uv;
	/* the view snapshot (viewsnap.c) */
	uint64_t snap_pending; /* messages read or patched since written */
	double snap_at;	       /* monotonic time of the last write */
	bool snap_busy, snap_tried, snap_rejected;
	uint32_t snap_used; /* shards taken from it (tests, bench) */
	uint64_t snap_writes;
	void *snap_map; /* the file, mapped read-only while shards use it */
	size_t snap_maplen;
	/* the log position the snapshot's highest modseq covers: the first
	 * refresh reads the log's tail from there only */
	uint64_t snap_log_pos, snap_log_ino, snap_highest;
	bool snap_loaded;
	uint32_t snap_bad;	  /* blocks found damaged on first use */
	bool snap_names;	  /* a reboot's modseq resume used it (tests) */
	pthread_mutex_t snaplock; /* checks of unchecked blocks */
	int snap_fd;		  /* the mapped file, -1 */
	/* mbox_version: bumped (atomically: the snapshot writer's block
	 * checks) whenever the records may have changed */
	uint64_t gen;
	/* a frozen copy (freeze.c): the view it was taken from, held so
	 * that the snapshot mapping its shared blocks point into stays */
	struct rmail_mbox *frozen_of;
};

/* mod_shardstore.c */
const struct ss_conf *ss_conf(const struct ss_store *st);
void ss_mbox_chown(const struct ss_store *st, int fd);
void ss_boot_id(char out[40]);

/* mbox.c */
int ss_mbox_name_canon(const char *name, char *out, size_t outsz,
		       struct rmail_err *err);
int ss_mbox_path(const char *canon_user, const char *canon_name, char *out,
		 size_t outsz, struct rmail_err *err);
int ss_mbox_list(void *h, const char *user, rmail_mbox_fn cb, void *arg,
		 struct rmail_err *err);
int ss_mbox_create(void *h, const char *user, const char *name,
		   uint32_t special_use, struct rmail_err *err);
int ss_mbox_delete(void *h, const char *user, const char *name,
		   struct rmail_err *err);
int ss_mbox_rename(void *h, const char *user, const char *from, const char *to,
		   struct rmail_err *err);
int ss_mbox_subscribe(void *h, const char *user, const char *name,
		      int subscribe, struct rmail_err *err);
int ss_mbox_status(void *h, const char *user, const char *name,
		   struct rmail_mbox_status *st_r, struct rmail_err *err);
int ss_rmtree(int dirfd, const char *name);

/* view.c */
int ss_mbox_get(struct ss_store *st, const char *user, const char *name,
		struct rmail_mbox **mb_r, struct rmail_err *err);
void ss_mbox_put(struct rmail_mbox **mb);
void ss_views_forget(struct ss_store *st, const char *user, const char *name);
void ss_views_free(struct ss_store *st);
int ss_mbox_open(void *h, const char *user, const char *name,
		 struct rmail_mbox **mb_r, struct rmail_err *err);
int ss_mbox_refresh(struct rmail_mbox *mb, struct rmail_err *err);
void ss_mbox_close(struct rmail_mbox **mb);
uint32_t ss_mbox_count(struct rmail_mbox *mb);
const struct rmail_msg *ss_mbox_msg(struct rmail_mbox *mb, uint32_t idx);
int64_t ss_mbox_find(struct rmail_mbox *mb, uint32_t uid);
void ss_mbox_info(struct rmail_mbox *mb, struct rmail_mbox_status *st_r);
size_t ss_mbox_keywords(struct rmail_mbox *mb, const char *const **names_r);
/* the view saw a UID under two names in uid's shard (restored backup) */
bool ss_shard_has_dups(struct rmail_mbox *mb, uint32_t uid);
/* scan one shard directory (fd) into a malloc'd sorted array; 1 when a
 * UID had several names (the last-sorting one is used), 0, or -1 */
int ss_shard_scan(int fd, uint32_t no, struct rmail_msg **msgs_r,
		  uint32_t *count_r);
/* the current state of uid on disk (re-reads its shard); -1 NOENT */
int ss_msg_locate(struct rmail_mbox *mb, uint32_t uid, struct ss_fname *f_r);
/* the state the view believes; falls back to ss_msg_locate */
int ss_msg_state(struct rmail_mbox *mb, uint32_t uid, struct ss_fname *f_r);
/* a shard's messages in memory of its own before they change (they
 * may be the snapshot's read-only pages); -1 when out of memory */
int ss_shard_own(struct ss_shard *s);
/* set a message's flags in the view (mb->lock held), keeping counters */
void ss_view_set_flags(struct rmail_mbox *mb, uint32_t uid, uint32_t flags,
		       uint64_t keywords, uint64_t modseq);
/* free a view no one holds (a frozen copy, once closed) */
void ss_mbox_free(struct rmail_mbox *mb);
/* the records may have changed: a new mbox_version */
static inline void ss_mbox_bump(struct rmail_mbox *mb)
{
	__atomic_add_fetch(&mb->gen, 1, __ATOMIC_RELEASE);
}

/* freeze.c: 1.7 rmail_store_ops.mbox_freeze, mbox_version and
 * mbox_first_unseen (see there) */
int ss_mbox_freeze(struct rmail_mbox *mb, struct rmail_mbox **frozen_r,
		   struct rmail_err *err);
uint64_t ss_mbox_version(struct rmail_mbox *mb);
uint32_t ss_mbox_first_unseen(struct rmail_mbox *mb);

/* keywords.c: the keyword table (mb->lock held where noted there) */
int ss_read_keywords(struct rmail_mbox *mb);
int ss_kw_revalidate(struct rmail_mbox *mb);
void ss_kw_cover(struct rmail_mbox *mb, uint64_t mask);
void ss_free_keywords(struct rmail_mbox *mb);
int ss_kw_resolve(struct rmail_mbox *mb, const char *const *kw, size_t n,
		  uint64_t *mask_r, struct rmail_err *err);
int ss_kw_translate(struct rmail_mbox *src, struct rmail_mbox *dst,
		    uint64_t mask, uint64_t *mask_r, struct rmail_err *err);

/* append.c: UID lock */
int ss_uid_lock(struct rmail_mbox *mb, uint32_t *uidvalidity_r,
		uint32_t *next_r, struct rmail_err *err);
void ss_uid_unlock(struct rmail_mbox *mb, uint32_t next);
int ss_shard_ensure(struct rmail_mbox *mb, uint32_t uid);
int ss_append_begin(void *h, const char *user, const char *mailbox,
		    const struct rmail_append_opts *o,
		    struct rmail_append **ap_r, struct rmail_err *err);
int ss_append_write(struct rmail_append *ap, const void *data, size_t len,
		    struct rmail_err *err);
int ss_append_commit(struct rmail_append *ap, uint32_t *uid_r,
		     uint32_t *uidvalidity_r, struct rmail_err *err);
void ss_append_free(struct rmail_append **ap);
int ss_append_commit_many(struct rmail_append *const *aps, size_t n,
			  uint32_t *uid_first_r, uint32_t *uidvalidity_r,
			  struct rmail_err *err);
/* 1.4 (objectid.c): see rmail_store_ops.msg_emailid, mbox_objectid */
int ss_msg_emailid(struct rmail_mbox *mb, uint32_t uid, char *out, size_t outsz,
		   struct rmail_err *err);
int ss_mbox_objectid(void *h, const char *user, const char *name, char *out,
		     size_t outsz, struct rmail_err *err);
/* 1.3: see rmail_store_ops.mbox_set_uidvalidity */
int ss_mbox_set_uidvalidity(void *h, const char *user, const char *name,
			    uint32_t uidvalidity, struct rmail_err *err);

/* savedate.c: RFC 8514 save dates (store op 1.5 msg_savedate) */
struct ss_saverec {
	uint32_t uidvalidity, first, last, time;
};
/* UIDs [first, last] were just committed (UID lock held) */
void ss_savedate_note(struct rmail_mbox *mb, uint32_t first, uint32_t last);
int ss_msg_savedate(struct rmail_mbox *mb, uint32_t uid, int64_t *date_r,
		    struct rmail_err *err);
void ss_savedate_free(struct rmail_mbox *mb);

/* tmpfiles.c: the tmp/ folders (name grammar, creation, sweep) */
/* a tmp/ file past this age (seconds) is abandoned whoever made it */
#define SS_TMP_MAX_AGE 3600
/* a new "tmp/{host}.{pid}.{seq}.tmp" in mb, opened for writing */
int ss_tmp_create(struct rmail_mbox *mb, char *name_r, size_t namesz);
/* name (in mb's directory) replaced by buf[0..len): a tmp/ file written,
 * fsync'd and renamed over it; 0, or -1 leaving it as it was */
int ss_tmp_replace(struct rmail_mbox *mb, const char *name, const void *buf,
		   size_t len);
/* the host and pid of a tmp file name; -1 when it is not one */
int ss_tmp_parse(const char *name, char *host_r, size_t hostsz, int *pid_r);
/* 1 when the tmp/ entry `name`, last written `age` seconds ago, will
 * never be finished: its process (on this host) is dead, or it is
 * older than SS_TMP_MAX_AGE and not this process's */
int ss_tmp_abandoned(const char *name, int64_t age);
/*
 * [slow] remove the abandoned files of every mailbox's tmp/, unless
 * another process holds the mail root's sweep lease or swept less than
 * `interval` seconds ago.  1 when this call swept (*removed_r files),
 * 0 when it left it to another.
 */
int ss_tmp_sweep(struct ss_store *st, double interval,
		 const volatile int *cancel, unsigned long *removed_r);

/* check.c, health.c: the 1.1 check and health ops */
int ss_check(void *h, int repair, rmail_check_fn cb, void *arg,
	     struct rmail_err *err);
int ss_health(void *h, rmail_check_fn cb, void *arg, struct rmail_err *err);

/* msg.c */
int ss_mbox_recent(struct rmail_mbox *mb, uint32_t upto, uint32_t *prev_r,
		   struct rmail_err *err);
int ss_msg_flags(struct rmail_mbox *mb, uint32_t uid, int mode, uint32_t flags,
		 const char *const *keywords, size_t nkeywords,
		 struct rmail_msg *new_r, struct rmail_err *err);
/* 1.2: msg_flags only while the message's modseq <= unchangedsince,
 * else RMAIL_E_MODIFIED with new_r the current state */
int ss_msg_flags_unchanged(struct rmail_mbox *mb, uint32_t uid,
			   uint64_t unchangedsince, int mode, uint32_t flags,
			   const char *const *keywords, size_t nkeywords,
			   struct rmail_msg *new_r, struct rmail_err *err);
/* re-stamp a change another change may have overtaken (see msg.c) */
void ss_msg_settle(struct rmail_mbox *mb, struct ss_fname *f);
void ss_msg_resettle(struct rmail_mbox *mb, struct ss_fname *f);
/* a durable tombstone before f's name goes; its modseq in *m_r */
int ss_msg_tombstone(struct rmail_mbox *mb, const struct ss_fname *f,
		     uint64_t *m_r);
/* the names of done[] (tombstones written) are gone: end their modseqs,
 * log them for other views, raise the durable high-water mark */
void ss_msg_expunged(struct rmail_mbox *mb, struct ss_logrec *done, size_t n);
int ss_msg_read(struct rmail_mbox *mb, uint32_t uid, uint64_t off, void *buf,
		size_t len, size_t *got_r, struct rmail_err *err);
int ss_msg_open(struct rmail_mbox *mb, uint32_t uid, int *fd_r,
		struct rmail_err *err);
int ss_msg_copy(struct rmail_mbox *mb, const uint32_t *uids, size_t n,
		const char *dst, uint32_t *dst_uids_r,
		uint32_t *dst_uidvalidity_r, struct rmail_err *err);
void ss_msg_rel(const struct ss_fname *f, char *out, size_t outsz);
int ss_copy_bytes(int srcfd, int dstfd);

/* move.c: claim, then commit.  ss_msg_move is all or nothing (1.0:
 * RMAIL_E_NOENT when a message is gone, nothing moved); the 1.1
 * ss_msg_move_some moves what is still there, dst_uids_r[i] = 0 for the
 * rest. */
int ss_msg_move(struct rmail_mbox *mb, const uint32_t *uids, size_t n,
		const char *dst, uint32_t *dst_uids_r,
		uint32_t *dst_uidvalidity_r, struct rmail_err *err);
int ss_msg_move_some(struct rmail_mbox *mb, const uint32_t *uids, size_t n,
		     const char *dst, uint32_t *dst_uids_r,
		     uint32_t *dst_uidvalidity_r, struct rmail_err *err);
int ss_msg_expunge(struct rmail_mbox *mb, const uint32_t *uids, size_t n,
		   struct rmail_err *err);

/* changelog.c: 32-byte records with their modseq (docs/storage.md) */
#define SS_REC 32
#define SS_LOG_KEYWORD 4u /* a keyword created (uid 0) */
/* rotate past this size, keeping the newest SS_LOG_KEEP tombstones
 * (variables only so that tests can make them small) */
#define SS_LOG_ROTATE ss_log_rotate_at
#define SS_LOG_KEEP ss_log_keep
extern uint32_t ss_log_rotate_at, ss_log_keep;

struct ss_logrec {
	uint32_t type, uid, flags;
	uint32_t size, date; /* appends: valid when detail */
	bool detail;	     /* expunges: the unlink is done */
	uint64_t modseq;
};
/* a cache record (flags, append), after the rename, not synced */
void ss_log_append(struct rmail_mbox *mb, uint32_t type, uint32_t uid,
		   uint32_t flags, uint64_t modseq);
void ss_log_append_rec(struct rmail_mbox *mb, const struct ss_logrec *r);
/* an append record, with the size and date when 32 bits hold them */
void ss_log_append_msg(struct rmail_mbox *mb, const struct ss_fname *f);
/* records made durable (fdatasync) before the change they describe:
 * tombstones, keyword creations; 0 or -1 */
int ss_log_durable(struct rmail_mbox *mb, const struct ss_logrec *recs,
		   size_t n);
/* highest modseq of the log; tombstones whose unlink is not confirmed
 * count only when `tombstones` */
uint64_t ss_log_max_modseq(struct rmail_mbox *mb, bool tombstones);
void ss_log_rotate(struct rmail_mbox *mb);
int ss_mbox_changes(struct rmail_mbox *mb, uint64_t since, rmail_change_fn cb,
		    void *arg, struct rmail_err *err);

/* the log read-only with its usable end and inode; fd, or -1 (none) */
int ss_log_open_ro(struct rmail_mbox *mb, uint64_t *end_r, uint64_t *ino_r);
/* the valid records in [from, end): 0, 1 when some were corrupt (left
 * out), -1 on a read error */
int ss_log_load(int fd, uint64_t from, uint64_t end, struct ss_logrec **recs_r,
		size_t *n_r);

/* migrate.c: format 1 -> 2 (idempotent, restartable) */
int ss_migrate_1_2(struct ss_store *st, struct rmail_err *err);

/* modseq.c: the per-mailbox modseq counter */
#define SS_MODSEQ_CHUNK 65536u /* allocations per durable ceiling */
#define SS_MODSEQ_GAP 1000000u /* resume this far above a crash */
/* map the counter of a view (recovering it); once per view */
int ss_modseq_open(struct rmail_mbox *mb, struct rmail_err *err);
void ss_modseq_close(struct rmail_mbox *mb);
/* the counter of a new mailbox, in its directory */
int ss_modseq_create(struct ss_store *st, int dirfd);
/* a modseq for one change, 0 on failure; then the change's rename or
 * unlink, then ss_modseq_end: true when the change must be re-stamped
 * with a fresh modseq (someone took a higher one meanwhile) */
uint64_t ss_modseq_begin(struct rmail_mbox *mb);
bool ss_modseq_end(struct rmail_mbox *mb, uint64_t m);
/* the counter resumes above a modseq found on disk */
void ss_modseq_seen(struct rmail_mbox *mb, uint64_t max);
uint64_t ss_modseq_peek(struct rmail_mbox *mb);
/* rotations of the change log on this host (UINT64_MAX: cannot tell,
 * network filesystems); a rotation counts itself after its rename */
uint64_t ss_modseq_loggen(struct rmail_mbox *mb);
void ss_modseq_log_rotated(struct rmail_mbox *mb);
uint64_t ss_modseq_horizon(struct rmail_mbox *mb);
void ss_modseq_raise_horizon(struct rmail_mbox *mb, uint64_t h);
/* raised and durable before the tombstones below it go; 0 or -1 */
int ss_modseq_sync_horizon(struct rmail_mbox *mb, uint64_t h);
uint64_t ss_modseq_hwm(struct rmail_mbox *mb);
void ss_modseq_raise_hwm(struct rmail_mbox *mb, uint64_t m);
/* [slow] the highest modseq of every name and log record */
uint64_t ss_modseq_disk_max(struct rmail_mbox *mb);

/* viewsnap.c: the view snapshot (ss_viewsnap.h); thresholds are
 * variables only so that tests can make them small */
extern uint32_t ss_snap_min_msgs, ss_snap_min_changes;
extern double ss_snap_interval;
/* a fresh view (mb->lock held) takes the shards its snapshot vouches
 * for; 1 when it used one, 0 (none, or rejected: snap_rejected) */
int ss_snap_load(struct rmail_mbox *mb);
/* s's records, checked when they come from the snapshot (a damaged
 * block is replaced by a scan of its shard); callable with or without
 * mb->lock.  0, or -1 when the shard could not be read (s->rescan) */
int ss_shard_ready_slow(struct rmail_mbox *mb, struct ss_shard *s);
/* the highest modseq of the names, from the snapshot for the shards it
 * still vouches for (mb->uidvalidity read); false without one */
bool ss_snap_names_max(struct rmail_mbox *mb, uint64_t *max_r);
static inline int ss_shard_ready(struct rmail_mbox *mb, struct ss_shard *s)
{
	return __atomic_load_n(&s->unchecked, __ATOMIC_ACQUIRE)
		       ? ss_shard_ready_slow(mb, s)
		       : 0;
}
/* [slow] write it now under the lease: 0, 1 when another writer holds
 * the lease, -1 */
int ss_snap_write(struct rmail_mbox *mb);
/* after a refresh: a background write when enough changed */
void ss_snap_maybe(struct rmail_mbox *mb);
/* wait for the background writers of st */
void ss_snap_drain(struct ss_store *st);
/* clean shutdown: write it when the view changed since */
void ss_snap_shutdown(struct rmail_mbox *mb);
/* check-store: 1 (with what) when the file is damaged, stale or would
 * be trusted while a shard says otherwise, else 0 */
int ss_snap_verify(int mbfd, uint32_t uidvalidity, char *what, size_t whatsz);

/* watch.c */
int ss_watch_add(void *h, const char *user, const char *mailbox,
		 rmail_watch_fn cb, void *arg, struct rmail_watch **w_r,
		 struct rmail_err *err);
void ss_watch_del(struct rmail_watch **w);
void ss_watches_free(struct ss_store *st);

#endif
