/* Filter modules: called by the core's submission service at receipt
 * (end of DATA, API send) and before each local delivery. */
#ifndef RMAIL_FILTER_H
#define RMAIL_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include <rmail/module.h>

struct rmail_pool;

enum rmail_filter_stage {
	RMAIL_FILTER_RECEIPT = 1,  /* once per message, before the 250 */
	RMAIL_FILTER_DELIVERY = 2, /* once per local recipient */
};

enum rmail_filter_action {
	RMAIL_FILTER_ACCEPT = 0,
	RMAIL_FILTER_REJECT = 1,  /* code + text go to the client */
	RMAIL_FILTER_DISCARD = 2, /* accept, then drop silently */
};

struct rmail_filter_msg {
	uint32_t size;	       /* sizeof(struct rmail_filter_msg) */
	uint32_t stage;	       /* enum rmail_filter_stage */
	const char *mail_from; /* "" for the null sender */
	const char *const *rcpts;
	size_t nrcpts;
	const char *rcpt;    /* DELIVERY: the local recipient */
	const char *peer_ip; /* NULL for locally generated mail */
	const char *helo;
	const char *auth_user; /* NULL when unauthenticated */
	int fd;		       /* read-only, the whole message */
	uint64_t msg_size;
	/* 1.3: mail authentication of mail received on port 25; NULL
	 * when nothing was evaluated (submissions, locally generated
	 * mail, checks off).  Test with RMAIL_HAS() first.  Result
	 * strings are RFC 8601 names ("pass", "fail", "none",
	 * "temperror", "permerror", SPF's "softfail", "neutral"). */
	const char *auth_results; /* the value of rmail's own
				   * Authentication-Results field (after
				   * the colon, folded as in the message):
				   * one dkim= entry per signature */
	const char *spf_result;
	const char *dmarc_result;
	const char *dmarc_disposition; /* "none", "quarantine", "reject":
					* what rmail applies */
	const char *from_domain;       /* the RFC5322.From domain */
	/* 1.4: header lines the core puts on top of fd when it stores or
	 * relays the message (its own Authentication-Results and
	 * Received), "Name: value\r\n"...; the message a filter sees is
	 * prepend + fd.  Per-session DATA steps and (since 1.7) the
	 * DELIVERY stage, the same on a queue retry; else NULL. */
	const char *prepend;
};

struct rmail_filter_result {
	int action;	/* enum rmail_filter_action */
	int code;	/* REJECT: 4xx or 5xx; 0 = 550 */
	char text[256]; /* REJECT: "5.7.1 Spam detected" */
	/* header lines to prepend, each "Name: value\r\n"; "" = none */
	char add_headers[2048];
};

/* ---- 1.4: per-session filters -------------------------------------
 *
 * A filter module that sets sess_open/sess_step/sess_close follows an
 * SMTP session step by step (the milter model): one handle per session,
 * a reply at each step that reaches the client at that step (a reject
 * at RCPT refuses that recipient only, at DATA the whole message), and
 * at DATA a list of edits the core applies to the message before it is
 * stored or relayed.  Everything runs on the loop thread: a filter that
 * waits on the network watches its sockets with io_add/timer_add and
 * calls `done` later.  The core never runs two steps of one session at
 * once.  The API's send path has no SMTP session: the core synthesizes
 * CONNECT (peer "127.0.0.1" or the API client's address), HELO (the
 * server's hostname), MAIL, one RCPT per recipient, DATA and CLOSE in a
 * row, with `synthesized` set (docs/filters.md).
 */
enum rmail_filter_listener {
	RMAIL_FILTER_MX = 1,	     /* port 25 */
	RMAIL_FILTER_SUBMISSION = 2, /* 587/465, authenticated */
	RMAIL_FILTER_API = 3,	     /* the HTTP API's send */
};

enum rmail_filter_step_kind {
	RMAIL_FSTEP_CONNECT = 1,
	RMAIL_FSTEP_HELO = 2, /* every EHLO/HELO, again after STARTTLS */
	RMAIL_FSTEP_MAIL = 3,
	RMAIL_FSTEP_RCPT = 4, /* one per recipient the core accepted */
	RMAIL_FSTEP_DATA = 5, /* end of data: the whole message */
	/* the transaction ended without its DATA step (RSET, a new
	 * EHLO, a refused message): no reply, r and done are NULL */
	RMAIL_FSTEP_ABORT = 6,
};

/* What the session knows at a step (core -> module, sized: test
 * appended fields with RMAIL_HAS).  Strings live until `done`. */
struct rmail_filter_step {
	uint32_t size;	   /* sizeof(struct rmail_filter_step) */
	uint32_t step;	   /* enum rmail_filter_step_kind */
	uint32_t listener; /* enum rmail_filter_listener */
	int synthesized;   /* 1: no SMTP session (the API's send) */
	const char *session_id;
	const char *peer_ip; /* "127.0.0.1" for the API without a peer */
	int peer_port;
	const char *peer_name; /* NULL when unknown */
	const char *local_ip;
	int local_port;
	const char *helo;     /* HELO and later */
	const char *tls_info; /* NULL in cleartext */
	const char *auth_user;
	const char *mail_from;	  /* MAIL and later, "" null sender */
	const char *mail_params;  /* "SIZE=123 BODY=8BITMIME", or "" */
	const char *rcpt;	  /* RCPT: the one asked about */
	const char *const *rcpts; /* DATA: every accepted recipient */
	size_t nrcpts;
	const char *queue_id;		    /* DATA */
	const struct rmail_filter_msg *msg; /* DATA: prepend + fd */
};

enum rmail_filter_edit_op {
	RMAIL_FEDIT_ADD_HEADER = 1,    /* after the last field */
	RMAIL_FEDIT_INSERT_HEADER = 2, /* before field `index` (0 = top) */
	/* the index-th (1-based) field called name; value NULL deletes */
	RMAIL_FEDIT_CHANGE_HEADER = 3,
	RMAIL_FEDIT_REPLACE_BODY = 4, /* value/len: the new body */
	RMAIL_FEDIT_ADD_RCPT = 5,     /* value: the address */
	RMAIL_FEDIT_DELETE_RCPT = 6,  /* value: the address */
	RMAIL_FEDIT_CHANGE_FROM = 7,  /* value: the address, "" null */
	RMAIL_FEDIT_QUARANTINE = 8,   /* value: the reason -> \Junk */
};

/* Fixed layout: one edit, in the order the filter gave them.  A field
 * value is what follows the colon: the core adds one space unless it
 * starts with white space; continuation lines may end in LF or CRLF. */
struct rmail_filter_edit {
	int op;		/* enum rmail_filter_edit_op */
	uint32_t index; /* INSERT_HEADER, CHANGE_HEADER */
	const char *name;
	const char *value;
	size_t len; /* REPLACE_BODY: bytes of value */
};

/* A step's reply (caller-allocated, sized: the core sets size and
 * pool, the filter fills the rest).  action: ACCEPT goes on, REJECT
 * refuses with code (4xx = try later, 0 = 550) and text ("5.7.1 ..."
 * or several lines separated by CRLF), DISCARD (MAIL, RCPT, DATA)
 * accepts the message and drops it. */
struct rmail_filter_reply {
	uint32_t size; /* sizeof(struct rmail_filter_reply) */
	int action;    /* enum rmail_filter_action */
	int code;
	char text[512];
	struct rmail_pool *pool; /* for edits: lives until the commit ends */
	/* DATA only */
	const struct rmail_filter_edit *edits;
	size_t nedits;
};

typedef void (*rmail_filter_done_fn)(void *arg);

/* the core's per-session filter chain (core.h filter_sess_*) */
struct rmail_filter_sess;
typedef void (*rmail_filter_sess_fn)(void *arg,
				     const struct rmail_filter_reply *r);

/* 1.5: one more copy at the DELIVERY stage (fixed layout) */
#define RMAIL_FILTER_COPIES_MAX 16
struct rmail_filter_copy {
	char mailbox[1024];
	uint32_t flags;
	char keywords[256];
};

/* DELIVERY stage, per local recipient (for a Sieve module): where the
 * copy goes.  Caller-allocated, sized; all zero keeps the default. */
struct rmail_filter_target {
	uint32_t size; /* sizeof(struct rmail_filter_target) */
	int action;    /* ACCEPT, REJECT (code/text), DISCARD */
	int code;
	char text[256];
	/* the mailbox, created when missing; "" = INBOX (or \Junk when
	 * the message was quarantined) */
	char mailbox[1024];
	uint32_t flags;	    /* enum rmail_flag set on the copy */
	char keywords[256]; /* space-separated keywords set on it */
	/* 1.5: more copies of the message for this recipient (Sieve's
	 * several fileinto, keep with fileinto): each stored as well,
	 * mailbox "" = the default one, as above.  A core that does not
	 * know them stores the first copy only. */
	uint32_t ncopies;
	struct rmail_filter_copy copies[RMAIL_FILTER_COPIES_MAX];
};

/*
 * 1.4: events.  A protocol module (or the store) reports what a user
 * did through core->event_emit; the core hands each event to every
 * FILTER module whose table has on_event, on a worker thread, after
 * the producer's reply went out: a consumer never delays the user.
 */
enum rmail_event_kind {
	/* messages copied or moved by a user from one mailbox to another
	 * where the two differ in special use (enum rmail_special_use):
	 * into or out of \Junk, \Trash, \Archive ... */
	RMAIL_EVENT_MSG_MOVED = 1,
};

enum rmail_event_how {
	RMAIL_EVENT_COPY = 1,
	RMAIL_EVENT_MOVE = 2,
};

/* Sized: set `size`.  The producer fills kind .. nuids; the core
 * dispatches one message at a time, with uids pointing at `uid`,
 * nuids 1 and the fields after nuids filled. */
struct rmail_event {
	uint32_t size;	   /* sizeof(struct rmail_event) */
	uint32_t kind;	   /* enum rmail_event_kind */
	uint32_t how;	   /* enum rmail_event_how */
	const char *proto; /* "imap", "http": who asked */
	const char *user;  /* canonical address */
	const char *from_mbox;
	const char *to_mbox;
	uint32_t uidvalidity; /* of to_mbox */
	const uint32_t *uids; /* in to_mbox */
	size_t nuids;
	/* filled by the core for consumers */
	uint32_t from_special_use; /* enum rmail_special_use, 0: none */
	uint32_t to_special_use;
	uint32_t uid;	   /* this message, in to_mbox */
	int fd;		   /* read-only, the whole message; valid only
			    * during on_event (dup it to keep it) */
	uint64_t msg_size; /* bytes of fd */
};

struct rmail_filter_ops {
	uint32_t size; /* sizeof(struct rmail_filter_ops) */
	/* runs on a worker thread; must be thread-safe. */
	int (*filter)(struct rmail_mctx *m, const struct rmail_filter_msg *msg,
		      struct rmail_filter_result *res, struct rmail_err *err);

	/* ---- 1.4: per-session filters (see above), loop thread ----- */
	/* at CONNECT, before its step: *sess_r is the session's handle,
	 * NULL when the filter does not follow this session (another
	 * listener); -1 on error (the session goes on without it) */
	int (*sess_open)(struct rmail_mctx *m,
			 const struct rmail_filter_step *st, void **sess_r);
	/* fill r, then call done(arg) exactly once on the loop thread,
	 * inside this call or later.  ABORT: r and done are NULL. */
	void (*sess_step)(struct rmail_mctx *m, void *sess,
			  const struct rmail_filter_step *st,
			  struct rmail_filter_reply *r,
			  rmail_filter_done_fn done, void *arg);
	/* the session ended; no step is pending */
	void (*sess_close)(struct rmail_mctx *m, void *sess);
	/* DELIVERY stage with a target: runs on a worker after `filter`
	 * accepted, like it (must be thread-safe) */
	int (*deliver)(struct rmail_mctx *m, const struct rmail_filter_msg *msg,
		       struct rmail_filter_target *t, struct rmail_err *err);
	/* ---- 1.4: events ------------------------------------------- */
	/* [worker thread, thread-safe] One event (struct rmail_event):
	 * queue the work and return; the core's worker pool is shared with
	 * the store's reads.  May be NULL: the module gets no events. */
	void (*on_event)(struct rmail_mctx *m, const struct rmail_event *ev);
};

#endif
