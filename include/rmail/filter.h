/* Filter modules: called by the core's submission service at receipt
 * (end of DATA, API send) and before each local delivery. */
#ifndef RMAIL_FILTER_H
#define RMAIL_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include <rmail/module.h>

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
};

struct rmail_filter_result {
	int action;	/* enum rmail_filter_action */
	int code;	/* REJECT: 4xx or 5xx; 0 = 550 */
	char text[256]; /* REJECT: "5.7.1 Spam detected" */
	/* header lines to prepend, each "Name: value\r\n"; "" = none */
	char add_headers[2048];
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

	/* ---- 1.4 ----------------------------------------------------- */
	/* [worker thread, thread-safe] One event (struct rmail_event):
	 * queue the work and return; the core's worker pool is shared with
	 * the store's reads.  May be NULL: the module gets no events. */
	void (*on_event)(struct rmail_mctx *m, const struct rmail_event *ev);
};

#endif
