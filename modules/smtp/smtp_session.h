/*
 * mod_smtp internals shared by the descriptor (mod_smtp.c), the session
 * state machine (smtp_session.c), AUTH (smtp_auth.c) and the envelope
 * and header policy (smtp_policy.c).  Nothing here is exported.
 */
#ifndef SMTP_SESSION_H
#define SMTP_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include <rmail/rmail.h>

#include "smtp_body.h"
#include "smtp_parser.h"

struct smtp_conf {
	struct rmail_strlist listen;
	struct rmail_strlist submission_listen;
	struct rmail_strlist smtps_listen;
	uint64_t max_message_size;
	int64_t max_recipients;
	uint64_t max_line;
	uint64_t max_header_size;
	int64_t max_headers;
	int64_t max_errors;
	double idle_timeout;
	double session_timeout;
	int vrfy;
	const char *postmaster;
	const char *banner;
	int64_t ip_messages;
	int64_t user_messages;
	double message_window;
	int64_t max_auth_failures;
};

/* which listener a connection came in on */
enum smtp_port_kind {
	SMTP_PORT_MX = 0,	  /* 25: local delivery without AUTH */
	SMTP_PORT_SUBMISSION = 1, /* 587: STARTTLS + AUTH before MAIL */
	SMTP_PORT_SMTPS = 2,	  /* 465: implicit TLS, then as 587 */
};

enum smtp_phase {
	SMTP_PH_CMD = 0,
	SMTP_PH_DATA,	    /* streaming a DATA body */
	SMTP_PH_BDAT,	    /* streaming a BDAT chunk */
	SMTP_PH_AUTH_PLAIN, /* waiting for the PLAIN response */
	SMTP_PH_AUTH_USER,  /* LOGIN: waiting for the user name */
	SMTP_PH_AUTH_PASS,  /* LOGIN: waiting for the password */
	SMTP_PH_WAIT,	    /* async work (auth, commit) running */
};

#define SMTP_SESSION_MAGIC 0x534d5450u

struct smtp_mod;
struct smtp_session;

/* what a command does once the filters answered its step */
typedef void (*smtp_filter_cont)(struct smtp_session *s,
				 const struct rmail_filter_reply *r);

struct smtp_session {
	uint32_t magic;
	/* the module's state, the ctx of the listener: the one way to the
	 * core (s->mod->core) and the config */
	struct smtp_mod *mod;
	struct rmail_conn *c;
	int kind;  /* enum smtp_port_kind */
	int phase; /* enum smtp_phase */
	struct smtp_parser parser;
	struct rmail_pool *tx;	  /* transaction pool */
	struct rmail_timer *life; /* session_timeout */
	unsigned errors;
	unsigned messages;
	int closing;

	/* EHLO/HELO and AUTH: reset by STARTTLS */
	char *helo;
	int esmtp;
	int authed;
	char user[RMAIL_ADDR_MAX + 1];
	char *login_user; /* LOGIN: the user name, in tx */

	/* the transaction */
	int has_mail;
	char *mail_from; /* "" for the null sender */
	uint64_t size_decl;
	int requiretls; /* MAIL ... REQUIRETLS (RFC 8689) */
	const char **rcpts;
	size_t nrcpts, rcap;
	struct rmail_submit *sub;
	struct smtp_body body;
	int in_bdat;	  /* a BDAT sequence is running */
	int bdat_discard; /* the chunk is read, then refused */
	unsigned bdat_code;
	const char *bdat_reply;
	uint64_t chunk_left;
	int chunk_last;
	int write_failed;
	char write_err[256];
	double data_start;
	/* the header block, kept to check From: after authentication */

	/* per-session filters (smtp_filter.c) */
	struct rmail_filter_sess *fs;
	int fs_opened, fs_connected;
	uint32_t fs_step;
	smtp_filter_cont fs_cont;
	const char *mail_params; /* in tx */
	const char *pending_rcpt;
	int fs_refused; /* CONNECT refused: every command gets fs_code */
	unsigned fs_code;
	char fs_text[512];
};

struct smtp_mod {
	struct rmail_mctx *m;
	const struct rmail_core *core;
	char postmaster[RMAIL_ADDR_MAX + 1];
};

/* the session's config (m->conf follows a reload) */
static inline const struct smtp_conf *smtp_cf(const struct smtp_session *s)
{
	return s->mod->m->conf;
}

/* smtp_session.c: the listener handlers (1.2 layout: ctx is the
 * struct smtp_mod, set by the caller of listen) */
extern const struct rmail_proto_ops smtp_proto_ops;
void smtp_reply(struct smtp_session *s, unsigned code, const char *enh,
		const char *fmt, ...) RMAIL_PRINTF(4, 5);
/* a client error: reply, count it; 1 when the session must close */
int smtp_error(struct smtp_session *s, const char *reason, unsigned code,
	       const char *enh, const char *fmt, ...) RMAIL_PRINTF(5, 6);
void smtp_reject_metric(struct smtp_session *s, const char *reason);
/* suspend input while async work runs; smtp_resume undoes it.  Returns
 * 0 when the conn is still usable. */
void smtp_suspend(struct smtp_session *s);
int smtp_resume(struct smtp_session *s);

/* smtp_auth.c */
int smtp_cmd_auth(struct smtp_session *s, const struct smtp_cmd *cmd);
/* one continuation line of an AUTH exchange (no CRLF) */
int smtp_auth_line(struct smtp_session *s, const char *line, size_t len);

/* smtp_filter.c: run a step (HELO runs CONNECT first, once): 1 when
 * it runs (the session is suspended; cont, then the resume, follow),
 * 0 when no filter follows the session (cont is not called) */
int smtp_filter_run(struct smtp_session *s, uint32_t step, const char *rcpt,
		    smtp_filter_cont cont);
void smtp_filter_abort(struct smtp_session *s);
void smtp_filter_close(struct smtp_session *s);
/* a filter's refusal as the reply */
void smtp_filter_reply(struct smtp_session *s,
		       const struct rmail_filter_reply *r);

/* smtp_policy.c */
/* MAIL FROM: 0 = accepted, else the reply was written */
int smtp_policy_mail(struct smtp_session *s, const struct smtp_cmd *cmd);
/* RCPT TO: the recipient to use, or NULL when refused (reply written) */
const char *smtp_policy_rcpt(struct smtp_session *s,
			     const struct smtp_cmd *cmd);
/* resolve smtp.postmaster (or the first admin) into mod->postmaster */
void smtp_postmaster_resolve(struct smtp_mod *mod);

#endif
