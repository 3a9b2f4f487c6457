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

struct rmail_filter_ops {
	uint32_t size; /* sizeof(struct rmail_filter_ops) */
	/* runs on a worker thread; must be thread-safe. */
	int (*filter)(struct rmail_mctx *m, const struct rmail_filter_msg *msg,
		      struct rmail_filter_result *res, struct rmail_err *err);
};

#endif
