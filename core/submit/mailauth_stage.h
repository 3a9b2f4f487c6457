/*
 * The end-of-DATA mail-authentication stage for mail received on port
 * 25 without authentication: SPF, DKIM verification and DMARC on the
 * bytes as received, between rm_spool_commit and commit_work.
 *
 * The message is read once on the READ pool (DKIM hashes, the From:
 * domain); the evaluators then run on the loop over one answer cache,
 * rerun after each rm_dns_fill until all are done, bounded by a round
 * count and a deadline (what is unfinished then is temperror).  The
 * connection is never blocked: done is called later, on the loop.
 */
#ifndef RM_MAILAUTH_STAGE_H
#define RM_MAILAUTH_STAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailauth/dkim.h"
#include "mailauth/dmarc.h"
#include "mailauth/spf.h"

struct rm_ma_input {
	int fd; /* the spool, read with pread from offset 0 (not owned) */
	const char *peer_ip, *helo, *mail_from;
	uint64_t size;
	bool in_memory; /* a memfd: reading it never waits on a disk */
};

/* What the stage found, then (rm_ma_decide) what it decided; lives
 * until rm_ma_result_free. */
struct rm_ma_result {
	int refuse_code; /* 0, or 550/451: refuse the transaction */
	char refuse_text[256];
	bool junk;	     /* DMARC quarantine: local copies to \Junk */
	int applied;	     /* enum dmarc_policy rmail applied */
	char *authres;	     /* the whole field with CRLF, malloc'd */
	char *authres_value; /* after "Authentication-Results: ", no CRLF */
	const char *spf_result, *dmarc_result, *dmarc_disposition;
	char from_domain[DMARC_DOMAIN_MAX]; /* "" when none */
	bool has_authres; /* the header block has an A-R field */
	bool is_report;	  /* a DMARC aggregate report: not recorded */
	char *mail_from;  /* the envelope sender, malloc'd */
	/* for the DMARC aggregate report data */
	bool record_report;
	struct dmarc_verdict dmarc;
	struct dmarc_auth auth;
	struct spf_verdict spf;
	size_t ndkim;
	struct dkim_sig_result dkim[DKIM_MAX_SIGS];
	struct dmarc_dkim_in dkim_in[DKIM_MAX_SIGS];
};

/* [loop] Start the stage; done(arg, r) is called once, later, on the
 * loop (r NULL when the work was cancelled at shutdown).  r is the
 * caller's: free it with rm_ma_result_free. */
void rm_ma_stage_start(const struct rm_ma_input *in,
		       void (*done)(void *arg, struct rm_ma_result *r),
		       void *arg);
void rm_ma_result_free(struct rm_ma_result *r);

/* [worker] from the evaluations: the refusal or Junk (it asks the
 * store whether the From: domain is local), the header field, the
 * metrics.  Once, before the result is used. */
void rm_ma_decide(struct rm_ma_result *r);

/* the 1.3 fields of a filter message (nothing when r is NULL) */
struct rmail_filter_msg;
void rm_ma_filter_fields(const struct rm_ma_result *r,
			 struct rmail_filter_msg *fm);

#endif
