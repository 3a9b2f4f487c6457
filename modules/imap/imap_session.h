/*
 * mod_imap internals: the module context, one session per connection and
 * the per-process mailbox trackers that sessions share.
 */
#ifndef IMAP_SESSION_H
#define IMAP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rmail/rmail.h>

#include "imap_arena.h"
#include "imap_fetch.h"
#include "imap_mime.h"
#include "imap_parser.h"
#include "imap_seqset.h"

struct imap_conf {
	struct rmail_strlist listen;
	struct rmail_strlist imaps_listen;
	int allow_cleartext_login_loopback;
	uint64_t max_line;
	uint64_t appendlimit;
	uint64_t max_literal_preauth;
	uint64_t max_command;
	int64_t max_literals;
	int64_t max_depth;
	double idle_timeout_preauth;
	double login_timeout;
	double idle_timeout;
	int64_t auth_fail_disconnect;
	uint64_t fetch_outq;
	/* METADATA (RFC 5464) limits, per mailbox and for the server */
	uint64_t metadata_max_value;
	int64_t metadata_max_entries;
	uint64_t metadata_max_total;
};

struct imap_mod {
	struct rmail_mctx *m;
	const struct rmail_core *core;
	struct imap_tracker *trackers; /* selected mailboxes */
};

/* the config generation in force (m->conf changes on reload) */
static inline const struct imap_conf *imap_conf(const struct imap_mod *mod)
{
	return mod->m->conf;
}

enum imap_state {
	IMAP_S_NOAUTH,
	IMAP_S_AUTH,
	IMAP_S_SELECTED,
	IMAP_S_LOGOUT,
};

enum imap_mode {
	IMAP_M_CMD,  /* input goes to the command parser */
	IMAP_M_SASL, /* one base64 line of AUTHENTICATE */
	IMAP_M_IDLE, /* waiting for DONE */
};

/* a growable array of UIDs, sorted, no duplicates */
struct imap_uids {
	uint32_t *v;
	size_t n, cap;
};

/* messages sorted by UID, no duplicates */
struct imap_msgs {
	struct rmail_msg *v;
	size_t n, cap;
};

/* own flag changes whose change-log record is still to come */
struct imap_selfchg {
	struct {
		uint32_t uid;
		uint64_t modseq; /* of the record; 0: the UID's next one */
	} * v;
	size_t n, cap;
};

/*
 * One per (user, mailbox) selected in this process: the shared store
 * view, its change watch and a snapshot of its messages.  Sessions number
 * their messages from the snapshot, never from the live view: anyone in
 * the process may refresh the view, but only a sync changes the snapshot,
 * and a sync tells every session what left it.
 */
struct imap_tracker {
	struct imap_tracker *next;
	struct imap_mod *mod; /* whose trackers list holds it */
	char *user, *name;
	struct rmail_mbox *mb;
	struct rmail_watch *watch;
	struct imap_session *sessions; /* selecting it */
	unsigned refs;
	struct imap_msgs snap; /* the view at the last sync */
	/* until the snapshot first changes: a frozen copy of the view
	 * (mbox_freeze) that is the snapshot instead of `snap` */
	struct rmail_mbox *base;
	struct imap_msgs grave; /* expunged, still in a session's map */
	uint32_t recent_hwm;	/* without the store's mbox_recent */
	uint64_t modseq;	/* change log position */
	uint32_t uidnext;
	uint32_t uidvalidity;		  /* for the message cache key */
	struct imap_sortcache *sortcache; /* SORT/THREAD records, lazily */
};

struct imap_fetch_run;
struct imap_append_run;
struct imap_z;

struct imap_session {
	struct imap_mod *mod; /* the listener's ctx: module state and core */
	struct rmail_conn *c;
	int state;
	int mode;
	bool busy; /* an async command holds the input */
	bool closing;
	bool tls;
	unsigned auth_failures;
	double login_deadline; /* loop time by which to be logged in */
	char user[RMAIL_ADDR_MAX + 1];
	char tag[128]; /* of the running async command */
	char *sasl_tag;

	struct imap_parser parser;
	struct imap_arena parena;     /* the parser's, command cap */
	struct imap_arena arena;      /* per-command scratch */
	void *parena_mem, *arena_mem; /* one mapping, parena first */
	size_t mem_len;

	/* selected mailbox */
	struct imap_tracker *tr;
	struct imap_session *tr_next;
	bool readonly;
	/*
	 * The session's sequence map, a delta against the tracker's
	 * snapshot: its messages up to maxuid, minus `hidden`, plus `gone`.
	 */
	uint32_t maxuid;	  /* highest UID announced */
	uint32_t exists;	  /* EXISTS announced: the map's size */
	uint32_t nkw;		  /* keywords announced by * FLAGS */
	struct imap_uids gone;	  /* expunged, EXPUNGE not yet sent */
	struct imap_uids hidden;  /* in the snapshot, never announced */
	struct imap_uids flagchg; /* flag changes to announce */
	struct imap_uids recent;  /* \Recent here (claimed by us) */
	struct imap_selfchg selfchg;

	/* RFC 7162, for the rest of the connection once on */
	bool condstore;	      /* MODSEQ in every FETCH, HIGHESTMODSEQ */
	bool qresync;	      /* VANISHED instead of EXPUNGE */
	uint64_t told_modseq; /* last HIGHESTMODSEQ sent */
	/* RFC 6855 ENABLE UTF8=ACCEPT: mailbox names in UTF-8, not
	 * modified UTF-7, and UTF-8 in quoted strings both ways */
	bool utf8;
	/* RFC 9051 ENABLE IMAP4rev2: UTF-8 names too (not the CHARSET
	 * rule), no RECENT or \Recent, SEARCH answered with ESEARCH */
	bool rev2;

	struct imap_fetch_run *fetch;
	struct imap_append_run *append;
	struct rmail_work *search_work; /* text SEARCH on the READ pool */
	/* "$" (RFC 5182): UIDs of the last SEARCH with SAVE, malloc'd;
	 * emptied on SELECT, EXAMINE, CLOSE and UNSELECT */
	struct imap_seq_range *saved;
	unsigned nsaved;
	char idle_tag[128];
	/* COMPRESS=DEFLATE (imap_compress.c); NULL until COMPRESS */
	struct imap_z *z;
	struct rmail_timer *z_flush_t, *z_kick_t;
};

/* PERMANENTFLAGS, and without \* once the keyword table is full */
#define IMAP_PERMFLAGS_FULL "(\\Answered \\Flagged \\Deleted \\Seen \\Draft)"
#define IMAP_PERMFLAGS "(\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)"

/* ---- imap_session.c --------------------------------------------- */
/* the 1.2 handler layout: ctx is the module's struct imap_mod */
int imap_session_accept(void *ctx, struct rmail_conn *c, void **session_r);
int imap_session_input(void *ctx, struct rmail_conn *c, void *session);
void imap_session_drain(void *ctx, struct rmail_conn *c, void *session);
void imap_session_tls_ready(void *ctx, struct rmail_conn *c, void *session);
void imap_session_timeout(void *ctx, struct rmail_conn *c, void *session);
void imap_session_close(void *ctx, struct rmail_conn *c, void *session,
			int reason);

void imap_printf(struct imap_session *s, const char *fmt, ...)
	RMAIL_PRINTF(2, 3);
void imap_write(struct imap_session *s, const void *d, size_t n);
/* untagged updates (EXPUNGE only when allowed), then the tagged line */
void imap_tagged(struct imap_session *s, const char *tag, bool expunge_ok,
		 const char *fmt, ...) RMAIL_PRINTF(4, 5);
/* an async command begins (input paused) / ends (input resumed) */
void imap_async_begin(struct imap_session *s, const char *tag);
void imap_async_end(struct imap_session *s);
void imap_set_limits(struct imap_session *s);
/* write `s` as an IMAP string (quoted, or literal when needed) */
void imap_write_astring(struct imap_session *s, const char *str);
void imap_write_flags(struct imap_session *s, const struct rmail_msg *m);
/* decimal digits of v at p (no NUL); returns their number */
size_t imap_put_u64(char *p, uint64_t v);
/* store helpers */
/* the loaded store and its handle (h_r may be NULL) */
const struct rmail_store_ops *imap_store(const struct imap_mod *mod,
					 void **h_r);
/* UTF-8 name from a wire astring; NULL with a reply written */
const char *imap_mbox_arg(struct imap_session *s, const char *tag,
			  const struct imap_arg *a);
/* mailbox names are UTF-8 on the wire (UTF8=ACCEPT or IMAP4rev2) */
static inline bool imap_utf8_names(const struct imap_session *s)
{
	return s->utf8 || s->rev2;
}
/* a store name in this session's wire form (UTF-8 after ENABLE
 * UTF8=ACCEPT, else modified UTF-7) into out; -1 when it has none */
int imap_mbox_wire(const struct imap_session *s, const char *name, char *out,
		   size_t size);
bool imap_cleartext_blocked(struct imap_session *s);
void imap_capability_list(struct imap_session *s, char *buf, size_t n);

/* "[NONEXISTENT] " and friends for a store error */
const char *imap_err_code(const struct rmail_err *err);
/* "\\Sent" for RMAIL_SU_SENT, NULL for none */
const char *imap_special_use_name(uint32_t su);
/* "MESSAGES 3 UIDNEXT 4" for a STATUS item list of mailbox `name`;
 * -1 when invalid */
int imap_status_items(struct imap_session *s, const struct imap_arg *items,
		      const struct rmail_mbox_status *st, const char *name,
		      char *out, size_t outsz);
/* a flag list or flag atoms (STORE, APPEND); -1 when invalid */
int imap_flag_parse(const struct imap_arg *a, uint32_t *flags, const char **kw,
		    size_t *nkw);

/* ---- imap_view.c ------------------------------------------------ */
int imap_view_select(struct imap_session *s, const char *name, bool readonly,
		     struct rmail_err *err);
void imap_view_unselect(struct imap_session *s);
/* keep a tracker (and its view) alive across worker jobs */
void imap_tracker_hold(struct imap_tracker *t);
/* the tracker's snapshot: messages in it, and whether uid is one */
size_t imap_snap_count(const struct imap_tracker *t);
bool imap_snap_has(const struct imap_tracker *t, uint32_t uid);
/* [UNSEEN n] of a session that has just selected the tracker */
uint32_t imap_view_first_unseen(struct imap_session *s);
void imap_tracker_put(struct imap_tracker *t);
/* refresh the shared view and queue changes for its sessions */
void imap_tracker_sync(struct imap_tracker *t);
/* send pending untagged updates (no disk access) */
void imap_view_announce(struct imap_session *s, bool expunge_ok);
/* look for changes now: NOOP, CHECK, IDLE and after own writes */
void imap_view_poll(struct imap_session *s);
/* the live message of a UID in the map and its sequence number, or NULL */
const struct rmail_msg *imap_view_find(struct imap_session *s, uint32_t uid,
				       uint32_t *seq_r);
/* last known state of a UID in the map that was expunged; false if none */
bool imap_view_dead(struct imap_session *s, uint32_t uid, struct rmail_msg *m);
/* * FLAGS and PERMANENTFLAGS when the keyword table grew: before any
 * FETCH that may show a new keyword */
void imap_view_keywords(struct imap_session *s);
/* * FLAGS and PERMANENTFLAGS now (SELECT) */
void imap_view_flags(struct imap_session *s);
/* note an own flag change (msg_flags result) not to echo later */
void imap_view_selfchg(struct imap_session *s, uint32_t uid,
		       const struct rmail_msg *before,
		       const struct rmail_msg *after);
/* walk the map in order from UID `from` */
struct imap_map_it {
	size_t si, gi, hi, known;
	uint32_t seq;
};
void imap_map_start(struct imap_session *s, struct imap_map_it *it,
		    uint32_t from);
/* next UID in the map (false at the end); *dead when expunged */
bool imap_map_next(struct imap_session *s, struct imap_map_it *it,
		   uint32_t *uid_r, uint32_t *seq_r, bool *dead_r);
/* sequence number <-> UID in this session's numbering; 0 when none */
uint32_t imap_seq_to_uid(struct imap_session *s, uint32_t seq);
uint32_t imap_uid_to_seq(struct imap_session *s, uint32_t uid);
/* index in the view of the first UID >= uid */
uint32_t imap_view_lower(const struct rmail_store_ops *ops,
			 struct rmail_mbox *mb, uint32_t uid);
/* the live message of a UID in the map, or NULL (expunged, unknown) */
const struct rmail_msg *imap_view_msg(struct imap_session *s, uint32_t uid);
void imap_uids_add(struct imap_uids *u, uint32_t uid);
void imap_uids_del(struct imap_uids *u, uint32_t uid);
bool imap_uids_has(const struct imap_uids *u, uint32_t uid);
void imap_uids_free(struct imap_uids *u);
/*
 * Resolve a set (sequence numbers or UIDs) into the UIDs of the map it
 * names, ascending, expunged ones included; *uids_r is malloc'd.
 */
int imap_set_uids(struct imap_session *s, const char *set, bool uid,
		  uint32_t **uids_r, size_t *n_r, const char **error_r);

/* ---- imap_condstore.c ------------------------------------------- */
/* may CONDSTORE and QRESYNC be offered (the store has modseqs)? */
bool imap_condstore_supported(const struct imap_mod *mod);
/* a CONDSTORE enabling command ran: on for the rest of the connection;
 * with a mailbox selected its HIGHESTMODSEQ is sent */
void imap_condstore_enable(struct imap_session *s);
/* RFC 7162 modseqs are positive: a store's 0 ("not known") reads as 1 */
uint64_t imap_msg_modseq(const struct rmail_msg *m);
/* changed after `since`?  A modseq the store does not know (0) may be
 * any: it counts as changed, so answers are only longer, never wrong */
bool imap_msg_changed_since(const struct rmail_msg *m, uint64_t since);
/* HIGHESTMODSEQ of the selected mailbox as this session knows it */
uint64_t imap_highestmodseq(struct imap_session *s);
/* " MODSEQ (n)" */
void imap_write_modseq(struct imap_session *s, const struct rmail_msg *m);

/* an ascending UID or number list written as a sequence-set */
struct imap_setw {
	struct imap_buf *out;
	uint32_t lo, hi; /* the range being built; lo 0: none */
	bool any;
};
void imap_setw_add(struct imap_setw *w, uint32_t lo, uint32_t hi);
void imap_setw_end(struct imap_setw *w);
/*
 * UIDs in `within` (resolved, or NULL: 1..UIDNEXT-1) expunged with a
 * modseq above `since`, as a sequence-set in out (empty: none).  From
 * the store's expunge records while since >= its vanished horizon;
 * below it every UID of `within` missing from the mailbox (exact, only
 * longer).
 */
void imap_vanished_since(struct imap_session *s, uint64_t since,
			 const struct imap_seqset *within,
			 struct imap_buf *out);

struct imap_select_params;
/* after SELECT (QRESYNC ...)'s other replies: VANISHED (EARLIER) and
 * the FETCH of every message changed since the client's modseq */
void imap_qresync_select(struct imap_session *s,
			 const struct imap_select_params *p);

/* ---- imap_compress.c (RFC 4978) --------------------------------- */
bool imap_z_active(const struct imap_session *s);
/* compress into the connection (after COMPRESS) */
void imap_z_write(struct imap_session *s, const void *d, size_t n);
/* end the reply: Z_SYNC_FLUSH, and the deflater is freed */
void imap_z_flush(struct imap_session *s);
/* input as the parser sees it: inflated after COMPRESS, else the
 * connection's buffer */
size_t imap_in_peek(struct imap_session *s, const char **d_r);
void imap_in_consume(struct imap_session *s, size_t n);
/* the same without reusing consumed bytes: safe while a parser slice
 * may point at them (looking ahead for pipelined commands) */
size_t imap_in_peek_ahead(struct imap_session *s, const char **d_r);
/* between handlers: free the input buffer when empty */
void imap_in_idle(struct imap_session *s);
/* the most imap_in_peek ever returns (a raw line must fit) */
size_t imap_in_cap(const struct imap_session *s);
/* the client's stream is corrupt and everything before it was read */
bool imap_in_broken(const struct imap_session *s);
/* inflated input the core does not know about is waiting */
bool imap_in_held(const struct imap_session *s);
/* after an async command: parse held input from the loop */
void imap_z_kick(struct imap_session *s);
void imap_z_free(struct imap_session *s);

/* ---- imap_objectid.c (RFC 8474) --------------------------------- */
/* the store has msg_emailid and mbox_objectid (ABI 1.4) */
bool imap_objectid_supported(const struct imap_mod *mod);
/* 0 with the id in out, -1 (unsupported, gone) */
int imap_emailid(struct imap_session *s, struct rmail_mbox *mb, uint32_t uid,
		 char out[RMAIL_OBJECTID_MAX]);
int imap_mailboxid(struct imap_session *s, const char *name,
		   char out[RMAIL_OBJECTID_MAX]);
/* the THREADID of uid: `derived` (imap_threadid_derive) when the
 * message names an id, else its own from the EMAILID; 0, or -1 (NIL:
 * gone or unsupported).  Any thread. */
int imap_threadid(const struct imap_mod *mod, struct rmail_mbox *mb,
		  uint32_t uid, const char *derived,
		  char out[RMAIL_OBJECTID_MAX]);

/* ---- imap_cmd_metadata.c (RFC 5464) ------------------------------ */
/* the store has meta_get and meta_set (ABI 1.5) */
bool imap_metadata_supported(const struct imap_mod *mod);

/* ---- imap_savedate.c (RFC 8514) --------------------------------- */
/* the store has msg_savedate (ABI 1.5) */
bool imap_savedate_supported(const struct imap_mod *mod);
/* when m was saved into mb (unix seconds): the store's record, else
 * its internal date.  Any thread. */
int64_t imap_savedate(const struct imap_mod *mod, struct rmail_mbox *mb,
		      const struct rmail_msg *m);

/* ---- imap_cmd_search.c ------------------------------------------ */
/* empty "$" */
void imap_saved_clear(struct imap_session *s);

struct imap_search_key;

/* one message a search job looks at */
struct imap_search_cand {
	uint32_t seq;
	bool recent;
	struct rmail_msg m; /* a copy: the view moves under the job */
	const void *priv;   /* the caller's, set in cands() */
};

/* what SORT and THREAD do around the search of their criteria */
struct imap_search_post {
	/* loop, before the job: every candidate, in map order */
	void (*cands)(void *arg, struct imap_search_cand *c, size_t n);
	/* READ pool: the matches, in map order (not when cancelled) */
	void (*work)(void *arg, struct imap_search_cand *hits, size_t n,
		     const volatile int *cancel);
	/* loop, always once: answer when alive, free arg */
	void (*done)(void *arg, struct imap_session *s, const char *tag,
		     bool alive);
	void *arg;
};

/*
 * Run the parsed criteria `root` as one job on the READ pool, then
 * post->work there; the session is busy until post->done.  -1 with the
 * tagged reply written (nothing called) when the criteria are refused.
 */
int imap_search_start(struct imap_session *s, const char *tag,
		      struct imap_search_key *root, bool uid,
		      const struct imap_search_post *post);
/* the criteria hold a MODSEQ key: the answer names the highest
 * modseq matched (RFC 7162 3.1.5) */
bool imap_search_has_modseq(const struct imap_search_key *k);
/* RECENT, NEW or OLD among the criteria: not in IMAP4rev2 (RFC 9051
 * dropped \Recent), BAD for a session that enabled it */
bool imap_search_has_recent(const struct imap_search_key *k);
extern const char imap_rev2_no_recent[];
/* BAD for a command or item RFC 9051 dropped ("what"), naming the
 * rev2 way ("instead"), when the session enabled IMAP4rev2: true then */
bool imap_rev2_refuse(struct imap_session *s, const char *tag, const char *what,
		      const char *instead);
/* RFC 9051 6.3.2: SELECT/EXAMINE answer a rev2 session with the
 * mailbox's LIST line, the name as the server spells it */
void imap_rev2_select_list(struct imap_session *s, const char *name);
void imap_write_modseq_line(struct imap_session *s, const char *d, size_t n,
			    uint64_t maxmodseq, bool esearch);

/* ---- command handlers ------------------------------------------- */
typedef void imap_cmd_fn(struct imap_session *s, const struct imap_cmd *cmd,
			 bool uid);

imap_cmd_fn imap_cmd_capability, imap_cmd_noop, imap_cmd_logout,
	imap_cmd_starttls, imap_cmd_login, imap_cmd_authenticate, imap_cmd_id,
	imap_cmd_enable, imap_cmd_namespace;
imap_cmd_fn imap_cmd_create, imap_cmd_delete, imap_cmd_rename,
	imap_cmd_subscribe, imap_cmd_unsubscribe, imap_cmd_status;
imap_cmd_fn imap_cmd_list, imap_cmd_lsub;
imap_cmd_fn imap_cmd_select, imap_cmd_examine, imap_cmd_close,
	imap_cmd_unselect, imap_cmd_check, imap_cmd_expunge;
imap_cmd_fn imap_cmd_fetch, imap_cmd_store, imap_cmd_search, imap_cmd_copy,
	imap_cmd_move, imap_cmd_append, imap_cmd_idle;
imap_cmd_fn imap_cmd_getquota, imap_cmd_getquotaroot, imap_cmd_setquota;
imap_cmd_fn imap_cmd_compress;
imap_cmd_fn imap_cmd_sort, imap_cmd_thread;
imap_cmd_fn imap_cmd_getmetadata, imap_cmd_setmetadata;

void imap_sasl_line(struct imap_session *s, const char *line, size_t len);
void imap_idle_line(struct imap_session *s, const char *line, size_t len);
void imap_idle_notify(struct imap_session *s);
/* fetch continues from on_drain */
void imap_fetch_continue(struct imap_session *s);
void imap_fetch_free(struct imap_session *s);
/* append: parser events */
int imap_append_literal(struct imap_session *s, bool sync);
int imap_append_chunk(struct imap_session *s, const char *d, size_t n);
void imap_append_done(struct imap_session *s, const struct imap_cmd *cmd);
void imap_append_abort(struct imap_session *s);
/* the store commits batches (MULTIAPPEND advertised) */
bool imap_multiappend_ok(const struct imap_mod *mod);

#endif
