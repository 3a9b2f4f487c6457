/*
 * Internals of the message submission service (core-submit): the spool,
 * local delivery, the outbound queue, MX look-up, the SMTP client and
 * bounces.  Core-only, never installed.
 *
 * Threading: everything marked [worker] blocks (fsync, network) and runs
 * on a core worker pool; the rest runs on the loop.
 */
#ifndef RM_SUBMIT_INT_H
#define RM_SUBMIT_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "rm.h"
#include "addr_syntax.h"
#include "client_reply.h"
#include "mx_parse.h"

struct rm_ma_result;

/* a hard bound on one message, whatever the protocol announced */
#define RM_MSG_MAX ((uint64_t)64 << 20)
#define RM_QID_MAX 32

/* what a message needs of the next hop (eightbit.c), kept in its
 * queue entry: docs/delivery.md "Outbound message format" */
enum rm_msg_flags {
	RM_MSG_8BIT = 1u << 0,	   /* an octet >= 0x80 (BODY=8BITMIME) */
	RM_MSG_SMTPUTF8 = 1u << 1, /* asked for, or UTF-8 in the envelope
				    * or a header: MAIL ... SMTPUTF8 */
	RM_MSG_UTF8HDR = 1u << 2,  /* UTF-8 in a header: never to a hop
				    * without SMTPUTF8 (RFC 6531 §3.2) */
	RM_MSG_KNOWN = 1u << 3,	   /* the above were decided */
};

/* a message on disk plus the header lines we prepend to it */
struct rm_msg_src {
	const char *prefix; /* "Name: value\r\n"..., may be "" */
	int fd;		    /* the body (whole message as received) */
	uint64_t size;	    /* bytes of fd */
	unsigned flags;	    /* enum rm_msg_flags */
};

/* ---- spool.c: the submission objects behind core->submit_* -------- */
int rm_rcpt_check(const char *rcpt, const char *auth_user, uint64_t size_hint);
struct rmail_submit *rm_spool_begin(const struct rmail_submit_opts *o,
				    struct rmail_err *err);
int rm_spool_write(struct rmail_submit *s, const void *data, size_t n,
		   struct rmail_err *err);
void rm_spool_commit(struct rmail_submit *s, rmail_submit_fn cb, void *arg);
void rm_spool_abort(struct rmail_submit **s);
/* "{mail_root}/spool" etc. into buf; -1 without a config */
int rm_submit_path(char *buf, size_t sz, const char *sub, const char *name);
/* a session towards a destination domain (case-insensitive): waits
 * while delivery.per_domain are open to it in the whole host (every
 * worker process); give it back after.  [worker thread] */
void rm_queue_slot_take(const char *dom);
void rm_queue_slot_give(const char *dom);

/* a fresh queue id: sortable by time, unique */
void rm_submit_new_id(char id[RM_QID_MAX]);
/* RFC 5322 date of t, into buf */
void rm_rfc5322_date(int64_t t, char *buf, size_t sz);

/* ---- submit_from.c [worker] --------------------------------------- */
/* The From:/Sender: rule of authenticated submission on the message in
 * fd: 0, or -1 with the reply code and "x.y.z text" to refuse with. */
int rm_submit_sender_check(int fd, uint64_t size, const char *user, int *code_r,
			   char *text, size_t sz);

/* ---- submit_dkim.c [worker] --------------------------------------- */
/* "DKIM-Signature: ...\r\n" lines (in pool) for the message prefix +
 * fd, signed with the active keys of its From: domain (or a parent's);
 * "" when not signed (dkim off, no key, no From:, or local_only and
 * the From: domain is not local) */
char *rm_submit_dkim(struct rmail_pool *pool, const char *prefix, int fd,
		     uint64_t size, const char *id, bool local_only);
/* would rm_submit_dkim sign this message (a key for its From:) */
bool rm_submit_dkim_would_sign(int fd, uint64_t size, bool local_only);
/* Before signing: an 8-bit message with a remote recipient becomes
 * 7-bit, since the signature must hold whatever the next hop offers.
 * 1 with src->fd/size replaced (the caller closes the old fd), 0 when
 * nothing changed, -1 on error.  src->flags updated. */
int rm_submit_sign_7bit(struct rm_msg_src *src, const char *const *rcpts,
			size_t n, bool local_only);

/* ---- eightbit.c [worker] ------------------------------------------ */
bool rm_str_8bit(const char *s);
/* enum rm_msg_flags of the message prefix + fd for this envelope;
 * utf8_asked: the sender gave SMTPUTF8 */
unsigned rm_msg_classify(int fd, uint64_t size, const char *prefix,
			 const char *from, const char *const *rcpts, size_t n,
			 bool utf8_asked);
/* the message's 7-bit form (mime/to7bit.h) in a new memfd: 1 with
 * *fd_r and *size_r, 0 when nothing needs converting, -1 on error */
int rm_msg_to7bit(int fd, uint64_t size, int *fd_r, uint64_t *size_r);
/* is any recipient outside this server's domains */
bool rm_rcpts_remote(const char *const *rcpts, size_t n);

/* ---- deliver.c [worker] ------------------------------------------- */
/* where local copies go (rm_deliver_req.junk, the queue's "junk") */
enum rm_junk {
	RM_JUNK_NO = 0,	    /* INBOX */
	RM_JUNK_ALWAYS = 1, /* \Junk: DMARC quarantine */
	RM_JUNK_SPAM = 2,   /* \Junk unless the user opted out (spam.c) */
};
/* the shared path of commits, bounces and queue runs: local rcpts to
 * their INBOX (DELIVERY filters run; alias fan-out; quota failures
 * bounce), the rest to one queue entry.  results_r has n entries. */
struct rm_deliver_req {
	const char *id;
	const char *mail_from;
	const char *const *rcpts;
	size_t n;
	const struct rm_msg_src *local;	 /* with Return-Path */
	const struct rm_msg_src *remote; /* without */
	const char *peer_ip, *helo, *auth_user;
	/* a commit whose sender still waits for the reply: a transaction
	 * that is refused sends no bounce */
	bool reply_pending;
	/* local copies go to each user's \Junk mailbox (DMARC quarantine,
	 * a spam verdict), not INBOX: enum rm_junk */
	int junk;
	/* port-25 authentication results for DELIVERY filters, or NULL */
	const struct rm_ma_result *ma;
	/* RFC 8689 REQUIRETLS: kept in the queue entry */
	bool requiretls;
	/* a queue run (queue.c) delivering an entry's local recipients:
	 * a copy that fails temporarily is QUEUED in results_r with the
	 * reason in its error but not queued anew, and nothing bounces
	 * (the queue keeps the entry and bounces what FAILED) */
	bool retry;
};
/* codes_r (n entries, or NULL): per recipient, 0 when accepted, else
 * the reply code of its failure (550/552 permanent, 451/452 when it is
 * neither stored nor queued) */
void rm_deliver_message(const struct rm_deliver_req *rq,
			struct rmail_rcpt_result *results_r, int *codes_r,
			size_t *nqueued_r);
/* the transaction can be acknowledged: no recipient DEFERRED and at
 * least one delivered or queued */
bool rm_deliver_accepted(const struct rmail_rcpt_result *rr, size_t n);
/* does the domain of addr belong to this server: 1, 0, or -1 when the
 * store cannot tell (err set) */
int rm_addr_local(const char *addr, struct rmail_err *err);
/* 1 user owns addr, 0 not, -1 the store could not tell (err set) */
int rm_addr_owned(const char *user, const char *addr, struct rmail_err *err);
void rm_delivery_failed_log(const char *id, const char *rcpt,
			    const char *reason);

/* ---- queue.c ------------------------------------------------------ */
enum rm_qstate {
	RM_Q_PENDING = 0,
	RM_Q_SENT = 1,
	RM_Q_FAILED = 2,
};
struct rm_qrcpt {
	char *addr;
	int state;   /* enum rm_qstate */
	char *error; /* last reply or reason, or NULL */
};
/* what the DELIVERY filters of a local copy were shown on the first
 * attempt, kept in the entry (.env "ctx") so a queue retry shows them
 * the same; any may be NULL */
struct rm_qctx {
	char *peer_ip, *helo, *auth_user;
	/* the 1.3 authentication fields of rmail_filter_msg */
	char *authres, *spf, *dmarc, *dmarc_disp, *from_domain;
};
struct rm_qentry {
	char id[RM_QID_MAX];
	char *from;
	int64_t created;
	double next; /* next attempt, unix seconds */
	uint32_t attempts;
	int junk;	 /* enum rm_junk: local recipients get it in \Junk */
	bool requiretls; /* RFC 8689: authenticated TLS or a bounce */
	unsigned flags;	 /* enum rm_msg_flags (0: an entry from before) */
	size_t n;
	struct rm_qrcpt *r;
	char *last_error;
	/* bytes at the head of {id}.msg that are the core's lines (the
	 * filters' fm.prepend); 0: unknown, an entry from before */
	uint64_t prefix;
	struct rm_qctx ctx;
};
/* [worker] write {id}.msg then {id}.env, both fsync'd, dir fsync'd;
 * -1 with errno kept from the failing call (ENOSPC tells 452 4.3.1) */
int rm_queue_add(const char *id, const char *from, const char *const *rcpts,
		 size_t n, const struct rm_msg_src *src, int junk,
		 struct rmail_err *err);
/* the same with flags (RM_QF_*) */
#define RM_QF_JUNK 1u
#define RM_QF_REQUIRETLS 2u
#define RM_QF_JUNK_SPAM 4u /* RM_JUNK_SPAM rather than RM_JUNK_ALWAYS */
int rm_queue_add_flags(const char *id, const char *from,
		       const char *const *rcpts, size_t n,
		       const struct rm_msg_src *src, unsigned flags,
		       struct rmail_err *err);
/* the same with the DELIVERY filters' context (ctx may be NULL) */
int rm_queue_add_ctx(const char *id, const char *from, const char *const *rcpts,
		     size_t n, const struct rm_msg_src *src, unsigned flags,
		     const struct rm_qctx *ctx, struct rmail_err *err);
int rm_queue_load(const char *id, struct rm_qentry *e_r, struct rmail_err *err);
int rm_queue_save(const struct rm_qentry *e, struct rmail_err *err);
void rm_queue_entry_free(struct rm_qentry *e);
/* flock the entry (non-blocking): 0 with *fd_r, 1 when busy, -1 gone */
int rm_queue_lock(const char *id, int *fd_r);
void rm_queue_unlock(int *fd);
int rm_queue_remove(const char *id);
/* ids in the queue, sorted; returns the count, *ids_r malloc'd */
size_t rm_queue_list(char (**ids_r)[RM_QID_MAX]);
/* [worker] one pass: every due entry (or every entry when force) */
void rm_queue_run(bool force);
/* loop: start the runner timer / ask for a pass soon */
void rm_queue_start(void);
void rm_queue_stop(void);
void rm_queue_kick(void);

/* ---- mx.c [worker] ------------------------------------------------ */
struct rm_mx {
	char host[256];
	unsigned pref;
};
/* hosts in preference order, random among equals; -1 with *perm_r set
 * for permanent failures (null MX, NXDOMAIN, .invalid) */
int rm_mx_lookup(const char *domain, struct rm_mx *out, size_t max, size_t *n_r,
		 bool *perm_r, char *why, size_t whysz);
/* the same, and whether the MX answer was DNSSEC-secure (secure_r may
 * be NULL) */
int rm_mx_lookup_sec(const char *domain, struct rm_mx *out, size_t max,
		     size_t *n_r, bool *perm_r, bool *secure_r, char *why,
		     size_t whysz);
/* the port MX hosts are reached on: 25 (tests move it) */
extern int rm_smtp_mx_port;
/* addresses of host (A and AAAA, through delivery.dns_servers when
 * set, else the system resolver) */
int rm_mx_addrs(const char *host, int port, bool use_dns, struct rm_addr *out,
		size_t max, size_t *n_r);

/* ---- smtp_client.c [worker] --------------------------------------- */
struct rm_smtp_rcpt {
	const char *addr;
	int code; /* reply to RCPT or DATA; 0 = untried */
	char reply[256];
};
/* how to talk to the next hop; NULL = opportunistic STARTTLS, no AUTH */
struct rm_tls_policy;
struct rm_tls_result;
struct rm_smtp_opts {
	int tls;	  /* enum rm_relay_tls */
	const char *user; /* AUTH PLAIN under TLS only, or NULL */
	const char *password;
	/* the TLS policy (tls_policy.h); NULL: opportunistic, or none
	 * with tls RM_RELAY_NONE */
	const struct rm_tls_policy *policy;
	struct rm_tls_result *res; /* filled when not NULL */
	/* RFC 8689: MAIL ... REQUIRETLS, and only to a peer that
	 * advertises it after TLS */
	bool requiretls;
};
/* One session: per-recipient codes filled.  Returns 0 when the session
 * ran (codes are meaningful), -1 on a connection-level failure (try the
 * next host), with the reason in why. */
/* the message of one delivery attempt; its 7-bit form is made on the
 * first hop without 8BITMIME and kept for the next (fd7; the caller
 * closes it with rm_smtp_msg_done) */
struct rm_smtp_msg {
	int fd;
	uint64_t size;
	unsigned flags; /* enum rm_msg_flags */
	int fd7;	/* -1 until made */
	uint64_t size7;
};
void rm_smtp_msg_done(struct rm_smtp_msg *m);
int rm_smtp_send(const struct rm_addr *a, const char *host,
		 const struct rm_smtp_opts *o, const char *from,
		 struct rm_smtp_rcpt *r, size_t n, struct rm_smtp_msg *msg,
		 char *why, size_t whysz);
/* seconds for connect and each reply (tests make it short) */
extern double rm_smtp_timeout;

/* ---- report_mail.c [worker]: reports rmail writes (DMARC, TLS-RPT) */
/* a new message file spool/tmp/{id} (path filled): the stream to write
 * it with and its descriptor in *fd_r; NULL on error */
FILE *rm_report_mail_open(const char *id, char *path, size_t pathsz, int *fd_r);
/* base64 of p in 76-column CRLF lines */
void rm_report_b64_lines(FILE *f, const unsigned char *p, size_t n);
/* flush f, sign, deliver or queue to `to` with the null return path,
 * then close f and fd and unlink path; what and tag name it in the log.
 * 1 when delivered or queued, 0 otherwise */
int rm_report_mail_send(const char *what, const char *tag, const char *id,
			FILE *f, int fd, const char *path, const char *to);

/* ---- bounce.c [worker] -------------------------------------------- */
struct rm_bounce_rcpt {
	const char *addr;
	const char *diag; /* "550 5.1.1 no such user" */
	bool expired;
};
/* an RFC 3464 report to `to` ("" = nothing sent); the original message
 * (its header block) from msg_fd */
void rm_bounce_send(const char *to, const char *orig_id,
		    const struct rm_bounce_rcpt *r, size_t n, int msg_fd);
/* the same; requiretls: the bounce of a REQUIRETLS message is itself
 * relayed only under REQUIRETLS (RFC 8689 §5) */
void rm_bounce_send_rt(const char *to, const char *orig_id,
		       const struct rm_bounce_rcpt *r, size_t n, int msg_fd,
		       bool requiretls);

#endif
