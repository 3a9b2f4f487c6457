/*
 * The SMTP session: command dispatch, the DATA/BDAT streams into the
 * core's submission service, and the session limits.  Input is parsed
 * straight out of the connection buffer (conn_peek/conn_consume) so the
 * parser and the body machine see the exact octets: bare CR and LF are
 * refused, never normalised.  Anything slow (password checks, the fsync
 * behind a 250) runs in the core's workers while reading is paused.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "smtp_reply.h"
#include "smtp_session.h"

static void tx_reset(struct smtp_session *s);

/* ---- replies and errors -------------------------------------------- */

static void reply_v(struct smtp_session *s, unsigned code, const char *enh,
		    const char *fmt, va_list ap) RMAIL_PRINTF(4, 0);

static void reply_v(struct smtp_session *s, unsigned code, const char *enh,
		    const char *fmt, va_list ap)
{
	char text[SMTP_REPLY_LINE_MAX], out[SMTP_REPLY_LINE_MAX * 12];
	size_t n;

	vsnprintf(text, sizeof(text) - 20, fmt, ap);
	if (smtp_reply_format(out, sizeof(out), code, enh, text, &n) < 0)
		n = (size_t)snprintf(out, sizeof(out), "%u %s\r\n", code,
				     enh != NULL ? enh : "");
	/* the core sends a callback's replies together (RFC 2920) */
	s->mod->core->conn_write(s->c, out, n);
}

void smtp_reply(struct smtp_session *s, unsigned code, const char *enh,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_v(s, code, enh, fmt, ap);
	va_end(ap);
}

void smtp_reject_metric(struct smtp_session *s, const char *reason)
{
	char labels[96];

	snprintf(labels, sizeof(labels), "reason=\"%s\"", reason);
	s->mod->core->metric_add("rmail_smtp_rejects_total", labels, 1);
}

static int too_many_errors(struct smtp_session *s)
{
	if (s->errors < (unsigned)smtp_cf(s)->max_errors)
		return 0;
	s->mod->core->conn_log(s->c, RMAIL_LOG_INFO,
			       "too many errors (%u), closing", s->errors);
	smtp_reply(s, 421, "4.7.0",
		   "%s Error: too many errors, closing "
		   "connection",
		   s->mod->core->conf_str("hostname"));
	smtp_reject_metric(s, "max_errors");
	s->closing = 1;
	return 1;
}

int smtp_error(struct smtp_session *s, const char *reason, unsigned code,
	       const char *enh, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_v(s, code, enh, fmt, ap);
	va_end(ap);
	smtp_reject_metric(s, reason);
	s->errors++;
	return too_many_errors(s);
}

static void msg_metric(struct smtp_session *s, const char *result)
{
	char labels[64];

	snprintf(labels, sizeof(labels), "result=\"%s\"", result);
	s->mod->core->metric_add("rmail_smtp_messages_total", labels, 1);
}

/* conn_suspend exists: the descriptor declares ABI 1.2, so the loader
 * refuses an older core */
void smtp_suspend(struct smtp_session *s)
{
	s->phase = SMTP_PH_WAIT;
	s->mod->core->conn_suspend(s->c);
}

int smtp_resume(struct smtp_session *s)
{
	struct rmail_conn *c = s->c;

	s->phase = SMTP_PH_CMD;
	if (s->closing && !s->mod->core->conn_closed(c))
		s->mod->core->conn_close(c);
	return s->mod->core->conn_resume(c) ? 0 : -1;
}

/* ---- session life ---------------------------------------------------- */

static void life_expired(void *arg)
{
	struct smtp_session *s = arg;

	/* a fired one-shot timer is still ours to free */
	s->mod->core->timer_del(&s->life);
	s->mod->core->conn_log(s->c, RMAIL_LOG_INFO,
			       "session time limit reached");
	smtp_reply(s, 421, "4.4.2", "%s Error: session time limit exceeded",
		   s->mod->core->conf_str("hostname"));
	smtp_reject_metric(s, "timeout");
	s->mod->core->conn_close(s->c);
}

static void helo_reset(struct smtp_session *s)
{
	s->helo = NULL;
	s->esmtp = 0;
	s->authed = 0;
	s->user[0] = '\0';
}

static int smtp_accept(void *ctx, struct rmail_conn *c, void **session_r)
{
	struct smtp_mod *mod = ctx;
	const struct smtp_conf *cf = mod->m->conf;
	struct rmail_pool *p = mod->core->conn_pool(c);
	const int *kind = mod->core->conn_listen_arg(c);
	struct smtp_session *s = mod->core->pcalloc(p, sizeof(*s));

	s->magic = SMTP_SESSION_MAGIC;
	s->mod = mod;
	s->c = c;
	s->kind = kind != NULL ? *kind : SMTP_PORT_MX;
	s->tx = s->mod->core->pool_create(p);
	s->parser.max_line = (size_t)cf->max_line;
	if (cf->session_timeout > 0)
		s->life = s->mod->core->timer_add(cf->session_timeout, 0,
						  life_expired, s);
	*session_r = s;
	s->mod->core->conn_log(c, RMAIL_LOG_INFO, "connect port=%d%s",
			       s->mod->core->conn_local_port(c),
			       s->mod->core->conn_is_tls(c) ? " tls" : "");
	smtp_reply(s, 220, NULL, "%s %s", s->mod->core->conf_str("hostname"),
		   cf->banner != NULL ? cf->banner : "ESMTP");
	return 0;
}

static void smtp_tls_ready(void *ctx, struct rmail_conn *c, void *session)
{
	struct smtp_session *s = session;

	(void)ctx; /* s->mod */
	/* RFC 3207 4.2: forget everything learnt in cleartext */
	tx_reset(s);
	helo_reset(s);
	memset(&s->parser, 0, sizeof(s->parser));
	s->parser.max_line = (size_t)smtp_cf(s)->max_line;
	s->phase = SMTP_PH_CMD;
	s->mod->core->conn_log(c, RMAIL_LOG_INFO, "STARTTLS done: %s",
			       s->mod->core->conn_tls_info(c));
}

static void smtp_timeout(void *ctx, struct rmail_conn *c, void *session)
{
	struct smtp_session *s = session;

	(void)ctx; /* s->mod */
	s->mod->core->conn_log(c, RMAIL_LOG_INFO, "idle timeout");
	smtp_reject_metric(s, "timeout");
	smtp_reply(s, 421, "4.4.2", "%s Error: timeout exceeded",
		   s->mod->core->conf_str("hostname"));
}

static void smtp_close(void *ctx, struct rmail_conn *c, void *session,
		       int reason)
{
	struct smtp_session *s = session;

	(void)ctx; /* s->mod */
	if (s == NULL)
		return;
	if (s->life != NULL)
		s->mod->core->timer_del(&s->life);
	if (s->sub != NULL)
		s->mod->core->submit_abort(&s->sub);
	smtp_filter_close(s);
	s->mod->core->conn_log(c, RMAIL_LOG_INFO,
			       "disconnect reason=%d messages=%u "
			       "errors=%u",
			       reason, s->messages, s->errors);
}

/* ---- the transaction ------------------------------------------------- */

static void tx_reset(struct smtp_session *s)
{
	smtp_filter_abort(s);
	if (s->sub != NULL)
		s->mod->core->submit_abort(&s->sub);
	if (s->login_user != NULL)
		s->mod->core->secure_zero(s->login_user, strlen(s->login_user));
	s->mod->core->pool_reset(s->tx);
	s->login_user = NULL;
	s->has_mail = 0;
	s->mail_from = NULL;
	s->mail_params = NULL;
	s->size_decl = 0;
	s->requiretls = 0;
	s->rcpts = NULL;
	s->nrcpts = s->rcap = 0;
	s->in_bdat = s->bdat_discard = 0;
	s->chunk_left = 0;
	s->chunk_last = 0;
	s->write_failed = 0;
	s->parser.utf8 = 0;
}

static int body_out(void *arg, const char *data, size_t n)
{
	struct smtp_session *s = arg;
	struct rmail_err err = {0};

	if (s->write_failed || s->sub == NULL)
		return 0;
	/* keep reading to the end of the message, then answer 451 */
	if (s->mod->core->submit_write(s->sub, data, n, &err) < 0) {
		s->write_failed = 1;
		snprintf(s->write_err, sizeof(s->write_err), "%s", err.msg);
	}
	return 0;
}

/* the Received: WITH protocol (RFC 3848); a transaction that gave
 * SMTPUTF8 says so with RFC 6531 §4.3's names, which is also how the
 * core learns the sender asked for it (docs/delivery.md "Outbound
 * message format") */
static const char *proto_name(struct smtp_session *s)
{
	int tls = s->mod->core->conn_is_tls(s->c);

	if (!s->esmtp)
		return "smtp";
	if (s->parser.utf8)
		return s->authed ? (tls ? "UTF8SMTPSA" : "UTF8SMTPA")
				 : (tls ? "UTF8SMTPS" : "UTF8SMTP");
	if (s->authed)
		return "esmtpsa";
	return tls ? "esmtps" : "esmtp";
}

static int body_begin(struct smtp_session *s, int mode)
{
	const struct smtp_conf *cf = smtp_cf(s);
	struct smtp_body_limits lim = {
		.max_size = cf->max_message_size,
		.max_header_size = cf->max_header_size,
		.max_headers = (uint32_t)cf->max_headers,
	};
	struct rmail_submit_opts o = {
		.size = sizeof(o),
		.proto = proto_name(s),
		.mail_from = s->mail_from,
		.rcpts = s->rcpts,
		.nrcpts = s->nrcpts,
		.auth_user = s->authed ? s->user : NULL,
		.peer_ip = s->mod->core->conn_peer_ip(s->c),
		.peer_name = NULL,
		.helo = s->helo,
		.tls_info = s->mod->core->conn_tls_info(s->c),
		.submission = s->authed,
		.size_hint = s->size_decl,
		.requiretls = s->requiretls,
		.filters = s->fs,
	};
	struct rmail_err err = {0};

	s->sub = s->mod->core->submit_begin(&o, &err);
	if (s->sub == NULL) {
		s->mod->core->conn_log(s->c, RMAIL_LOG_WARN, "submit_begin: %s",
				       err.msg);
		return -1;
	}
	s->write_failed = 0;
	s->data_start = s->mod->core->now();
	smtp_body_init(&s->body, mode, &lim, body_out, s);
	return 0;
}

static void commit_done(void *arg, const struct rmail_submit_result *r)
{
	struct smtp_session *s = arg;
	char labels[32];

	if (s->mod->core->conn_closed(s->c)) {
		smtp_resume(s);
		return;
	}
	if (r->ok) {
		s->messages++;
		msg_metric(s, "accepted");
		snprintf(labels, sizeof(labels), "proto=\"smtp\"");
		s->mod->core->metric_observe("rmail_smtp_data_seconds", labels,
					     s->mod->core->now() -
						     s->data_start);
		s->mod->core->conn_log(s->c, RMAIL_LOG_INFO,
				       "message accepted id=%s "
				       "from=<%s> nrcpt=%zu size=%llu%s%s",
				       r->queue_id, s->mail_from, s->nrcpts,
				       (unsigned long long)s->body.size,
				       s->authed ? " user=" : "",
				       s->authed ? s->user : "");
		smtp_reply(s, 250, "2.0.0", "Ok: queued as %s", r->queue_id);
	} else {
		unsigned code = r->code >= 400 && r->code < 600 ? r->code : 451;
		msg_metric(s, code >= 500 ? "rejected" : "failed");
		/* the submission service's From:/Sender: rule */
		if (s->authed && (strncmp(r->text, "5.6.0 ", 6) == 0 ||
				  strncmp(r->text, "5.7.1 From:", 11) == 0 ||
				  strncmp(r->text, "5.7.1 Sender:", 13) == 0))
			smtp_reject_metric(s, "spoof_header");
		s->mod->core->conn_log(s->c, RMAIL_LOG_INFO,
				       "message refused from=<%s>"
				       ": %u %s",
				       s->mail_from, code, r->text);
		smtp_reply(s, code, NULL, "%s",
			   r->text[0] != '\0'
				   ? r->text
				   : "4.3.0 Error: message not accepted");
	}
	s->has_mail = 0; /* the commit ended the filters' transaction */
	tx_reset(s);
	smtp_resume(s);
}

/* the end of DATA or BDAT LAST with a good message */
static void body_complete(struct smtp_session *s)
{
	struct rmail_submit *sub = s->sub;

	if (s->write_failed) {
		s->mod->core->conn_log(s->c, RMAIL_LOG_WARN, "spool write: %s",
				       s->write_err);
		msg_metric(s, "failed");
		smtp_reply(s, 451, "4.3.0", "Error: local error in processing");
		tx_reset(s);
		return;
	}
	s->sub = NULL;
	smtp_suspend(s);
	/* may call back at once: commit_done then resumes */
	s->mod->core->submit_commit(sub, commit_done, s);
}

static void body_limit(struct smtp_session *s)
{
	int e = s->body.err;

	msg_metric(s, "rejected");
	smtp_reject_metric(s, e == SMTP_BODY_E_HDR_COUNT ? "headers" : "size");
	s->mod->core->conn_log(s->c, RMAIL_LOG_INFO, "message refused: %s",
			       smtp_body_err_text(e));
	smtp_reply(s, smtp_body_err_code(e), smtp_body_err_enh(e), "%s",
		   smtp_body_err_text(e));
	tx_reset(s);
}

static int smuggling(struct smtp_session *s, const char *where)
{
	s->mod->core->conn_log(s->c, RMAIL_LOG_INFO,
			       "bare CR or LF in %s, closing", where);
	smtp_reject_metric(s, "bare_eol");
	if (s->sub != NULL)
		msg_metric(s, "rejected");
	smtp_reply(s, 521, "5.5.2",
		   "Error: bare CR or LF is not allowed, "
		   "closing connection");
	tx_reset(s);
	s->closing = 1;
	return RMAIL_CLOSE;
}

/* DATA: feed what is buffered to the body machine */
static int input_data(struct smtp_session *s)
{
	const char *data;
	size_t len = s->mod->core->conn_peek(s->c, &data), used = 0;
	int rc = smtp_body_feed(&s->body, data, len, &used);

	if (rc == RMAIL_INVALID) {
		s->mod->core->conn_consume(s->c, len);
		return smuggling(s, "DATA");
	}
	s->mod->core->conn_consume(s->c, used);
	if (rc == RMAIL_AGAIN)
		return RMAIL_OK;
	s->phase = SMTP_PH_CMD;
	if (rc == RMAIL_OK)
		body_complete(s);
	else if (rc == RMAIL_TOOLONG)
		body_limit(s);
	else {
		smtp_reply(s, 451, "4.3.0", "Error: local error in processing");
		tx_reset(s);
	}
	return s->closing && s->phase != SMTP_PH_WAIT ? RMAIL_CLOSE : RMAIL_OK;
}

static void bdat_chunk_done(struct smtp_session *s)
{
	int rc;

	s->phase = SMTP_PH_CMD;
	if (s->bdat_discard) {
		s->bdat_discard = 0;
		if (s->in_bdat)
			tx_reset(s);
		if (smtp_error(s, "sequence", s->bdat_code,
			       s->bdat_code == 554 ? "5.5.1" : "5.5.1", "%s",
			       s->bdat_reply))
			s->closing = 1;
		return;
	}
	if (!s->chunk_last) {
		smtp_reply(s, 250, "2.0.0", "Ok: %llu octets received",
			   (unsigned long long)s->body.size);
		return;
	}
	rc = smtp_body_finish(&s->body);
	s->in_bdat = 0;
	if (rc == RMAIL_INVALID)
		(void)smuggling(s, "BDAT");
	else if (rc == RMAIL_OK)
		body_complete(s);
	else if (rc == RMAIL_TOOLONG)
		body_limit(s);
	else {
		smtp_reply(s, 451, "4.3.0", "Error: local error in processing");
		tx_reset(s);
	}
}

/* BDAT: exactly chunk_left octets, whatever they contain */
static int input_bdat(struct smtp_session *s)
{
	const char *data;
	size_t len = s->mod->core->conn_peek(s->c, &data), used = 0;
	size_t take = len < s->chunk_left ? len : (size_t)s->chunk_left;
	int rc = RMAIL_AGAIN;

	if (!s->bdat_discard && take > 0)
		rc = smtp_body_feed(&s->body, data, take, &used);
	if (rc == RMAIL_INVALID) {
		s->mod->core->conn_consume(s->c, len);
		return smuggling(s, "BDAT");
	}
	if (rc == RMAIL_ERROR)
		s->write_failed = 1;
	s->mod->core->conn_consume(s->c, take);
	s->chunk_left -= take;
	if (s->chunk_left == 0)
		bdat_chunk_done(s);
	return s->closing && s->phase != SMTP_PH_WAIT ? RMAIL_CLOSE : RMAIL_OK;
}

/* an AUTH continuation line: CRLF-terminated, no bare CR or LF */
static int input_auth(struct smtp_session *s)
{
	const char *data, *lf;
	size_t len = s->mod->core->conn_peek(s->c, &data), max;
	size_t n;

	max = (size_t)smtp_cf(s)->max_line;
	lf = memchr(data, '\n', len < max ? len : max);
	if (lf == NULL) {
		if (len < max)
			return RMAIL_OK;
		s->mod->core->conn_consume(s->c, len);
		s->phase = SMTP_PH_CMD;
		smtp_reply(s, 500, "5.5.6",
			   "Authentication exchange line is "
			   "too long, closing connection");
		s->closing = 1;
		return RMAIL_CLOSE;
	}
	n = (size_t)(lf - data);
	if (n == 0 || data[n - 1] != '\r' || memchr(data, '\r', n - 1) ||
	    memchr(data, '\0', n)) {
		s->mod->core->conn_consume(s->c, n + 1);
		return smuggling(s, "AUTH");
	}
	if (smtp_auth_line(s, data, n - 1) < 0) {
		s->mod->core->conn_consume(s->c, n + 1);
		return RMAIL_CLOSE;
	}
	s->mod->core->conn_consume(s->c, n + 1);
	return s->closing ? RMAIL_CLOSE : RMAIL_OK;
}

/* ---- commands -------------------------------------------------------- */

static void ehlo_reply(struct smtp_session *s,
		       const struct rmail_filter_reply *r)
{
	const struct smtp_conf *cf = smtp_cf(s);
	const char *host = s->mod->core->conf_str("hostname");
	int tls = s->mod->core->conn_is_tls(s->c);
	char *out;

	if (r != NULL && r->action == RMAIL_FILTER_REJECT) {
		s->helo = NULL;
		smtp_filter_reply(s, r);
		return;
	}
	if (!s->esmtp) {
		smtp_reply(s, 250, NULL, "%s", host);
		return;
	}
	out = s->mod->core->psprintf(
		s->tx,
		"%s Hello %s [%s]\nPIPELINING\nSIZE %llu"
		"\n8BITMIME\nENHANCEDSTATUSCODES\n%s%sSMTPUTF8\n"
		"CHUNKING%s",
		host, s->helo, s->mod->core->conn_peer_ip(s->c),
		(unsigned long long)cf->max_message_size,
		tls ? "" : "STARTTLS\n",
		tls && !s->authed ? "AUTH PLAIN LOGIN\n" : "",
		/* RFC 8689: offered where the parameter is accepted */
		tls ? "\nREQUIRETLS" : "");
	smtp_reply(s, 250, NULL, "%s", out);
}

static void cmd_ehlo(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	tx_reset(s);
	s->helo = s->mod->core->pstrndup(s->mod->core->conn_pool(s->c),
					 cmd->arg.p, cmd->arg.len);
	s->esmtp = cmd->verb != SMTP_CMD_HELO;
	if (smtp_filter_run(s, RMAIL_FSTEP_HELO, NULL, ehlo_reply) == 0)
		ehlo_reply(s, NULL);
}

static int cmd_starttls(struct smtp_session *s)
{
	struct rmail_err err = {0};

	if (s->mod->core->conn_is_tls(s->c))
		return smtp_error(s, "sequence", 503, "5.5.1",
				  "Error: TLS already active");
	if (s->has_mail)
		return smtp_error(s, "sequence", 503, "5.5.1",
				  "Error: STARTTLS inside a transaction");
	if (s->mod->core->conn_starttls(s->c, &err) < 0) {
		if (err.code == RMAIL_E_INVAL) {
			/* CVE-2011-0411 class: never hand these to TLS */
			s->mod->core->conn_log(s->c, RMAIL_LOG_INFO,
					       "STARTTLS "
					       "refused: %s",
					       err.msg);
			smtp_reject_metric(s, "starttls_injection");
			smtp_reply(s, 554, "5.5.1",
				   "Error: command pipelined "
				   "after STARTTLS, closing connection");
			s->closing = 1;
			return 1;
		}
		return smtp_error(s, "tls", 454, "4.7.0",
				  "TLS not available: %s", err.msg);
	}
	smtp_reply(s, 220, "2.0.0", "Ready to start TLS");
	return 0;
}

static void mail_reply(struct smtp_session *s,
		       const struct rmail_filter_reply *r)
{
	if (r != NULL && r->action == RMAIL_FILTER_REJECT) {
		tx_reset(s);
		smtp_filter_reply(s, r);
		return;
	}
	smtp_reply(s, 250, "2.1.0", "Ok");
}

static int cmd_mail(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	if (s->helo == NULL)
		return smtp_error(s, "sequence", 503, "5.5.1",
				  "Error: send HELO/EHLO first");
	if (s->has_mail)
		return smtp_error(s, "sequence", 503, "5.5.1",
				  "Error: nested MAIL command");
	if (s->kind != SMTP_PORT_MX && !s->authed) {
		if (!s->mod->core->conn_is_tls(s->c))
			return smtp_error(s, "auth_required", 530, "5.7.0",
					  "Must issue a STARTTLS command "
					  "first");
		return smtp_error(s, "auth_required", 530, "5.7.0",
				  "Authentication required");
	}
	/* RFC 8689 §4.1: only a TLS session can promise the message was
	 * protected so far */
	if (cmd->requiretls && !s->mod->core->conn_is_tls(s->c))
		return smtp_error(s, "requiretls", 530, "5.7.10",
				  "REQUIRETLS needs a TLS session");
	if (smtp_policy_mail(s, cmd) != 0)
		return too_many_errors(s);
	s->has_mail = 1;
	s->requiretls = cmd->requiretls;
	s->mail_from =
		cmd->path.is_null
			? ""
			: s->mod->core->pstrndup(s->tx, cmd->path.mailbox.p,
						 cmd->path.mailbox.len);
	s->size_decl = cmd->has_size ? cmd->size : 0;
	s->parser.utf8 = cmd->smtputf8;
	s->mail_params = s->mod->core->psprintf(
		s->tx, "%s%s%s",
		cmd->has_size
			? s->mod->core->psprintf(s->tx, "SIZE=%llu",
						 (unsigned long long)cmd->size)
			: "",
		cmd->has_size && cmd->smtputf8 ? " " : "",
		cmd->smtputf8 ? "SMTPUTF8" : "");
	if (smtp_filter_run(s, RMAIL_FSTEP_MAIL, NULL, mail_reply) == 0)
		mail_reply(s, NULL);
	return 0;
}

static void rcpt_reply(struct smtp_session *s,
		       const struct rmail_filter_reply *r);

static int cmd_rcpt(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	const char *rcpt;

	if (!s->has_mail)
		return smtp_error(s, "sequence", 503, "5.5.1",
				  "Error: need MAIL command");
	if (s->nrcpts >= (size_t)smtp_cf(s)->max_recipients) {
		smtp_reject_metric(s, "recipients");
		smtp_reply(s, 452, "4.5.3", "Error: too many recipients");
		return 0;
	}
	rcpt = smtp_policy_rcpt(s, cmd);
	if (rcpt == NULL)
		return too_many_errors(s);
	s->pending_rcpt = rcpt;
	if (smtp_filter_run(s, RMAIL_FSTEP_RCPT, rcpt, rcpt_reply) == 0)
		rcpt_reply(s, NULL);
	return 0;
}

static void rcpt_reply(struct smtp_session *s,
		       const struct rmail_filter_reply *r)
{
	const char *rcpt = s->pending_rcpt;

	s->pending_rcpt = NULL;
	if (r != NULL && r->action == RMAIL_FILTER_REJECT) {
		/* that recipient only */
		smtp_filter_reply(s, r);
		return;
	}
	if (s->nrcpts == s->rcap) {
		size_t cap = s->rcap ? s->rcap * 2 : 8;
		const char **v = s->mod->core->palloc(s->tx, cap * sizeof(*v));

		if (s->nrcpts > 0)
			memcpy(v, s->rcpts, s->nrcpts * sizeof(*v));
		s->rcpts = v;
		s->rcap = cap;
	}
	s->rcpts[s->nrcpts++] = rcpt;
	smtp_reply(s, 250, "2.1.5", "Ok");
}

static int cmd_data(struct smtp_session *s)
{
	if (!s->has_mail)
		return smtp_error(s, "sequence", 503, "5.5.1",
				  "Error: need MAIL command");
	if (s->nrcpts == 0)
		return smtp_error(s, "sequence", 554, "5.5.1",
				  "Error: no valid recipients");
	if (s->in_bdat)
		return smtp_error(s, "sequence", 503, "5.5.1",
				  "Error: DATA during a BDAT transfer");
	if (body_begin(s, SMTP_BODY_DATA) < 0) {
		msg_metric(s, "failed");
		smtp_reply(s, 451, "4.3.0", "Error: local error in processing");
		tx_reset(s);
		return 0;
	}
	smtp_reply(s, 354, NULL, "End data with <CR><LF>.<CR><LF>");
	s->phase = SMTP_PH_DATA;
	return 0;
}

static void cmd_bdat(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	s->phase = SMTP_PH_BDAT;
	s->chunk_left = cmd->chunk_size;
	s->chunk_last = cmd->last;
	s->bdat_discard = 0;
	if (!s->has_mail || s->nrcpts == 0) {
		s->bdat_discard = 1;
		s->bdat_code = s->has_mail ? 554 : 503;
		s->bdat_reply = s->has_mail ? "Error: no valid recipients"
					    : "Error: need MAIL command";
	} else if (!s->in_bdat) {
		if (body_begin(s, SMTP_BODY_BDAT) < 0) {
			s->bdat_discard = 1;
			s->bdat_code = 451;
			s->bdat_reply = "Error: local error in processing";
		} else {
			s->in_bdat = 1;
		}
	}
	if (s->chunk_left == 0)
		bdat_chunk_done(s);
}

static void cmd_vrfy(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	char addr[RMAIL_ADDR_MAX + 1];
	size_t n = cmd->arg.len;
	const char *p = cmd->arg.p;
	int pol;

	if (n >= 2 && p[0] == '<' && p[n - 1] == '>') {
		p++;
		n -= 2;
	}
	if (!smtp_cf(s)->vrfy || n == 0 || n > RMAIL_ADDR_MAX ||
	    memchr(p, '@', n) == NULL) {
		smtp_reply(s, 252, "2.5.0",
			   "Cannot VRFY user, but will "
			   "accept message and attempt delivery");
		return;
	}
	memcpy(addr, p, n);
	addr[n] = '\0';
	pol = s->mod->core->rcpt_policy(addr, NULL, 0);
	if (pol == RMAIL_RCPT_LOCAL)
		smtp_reply(s, 250, "2.1.5", "<%s>", addr);
	else if (pol == RMAIL_RCPT_NOUSER)
		smtp_reply(s, 550, "5.1.1",
			   "<%s>: Recipient address rejected:"
			   " User unknown",
			   addr);
	else
		smtp_reply(s, 252, "2.5.0",
			   "Cannot VRFY user, but will "
			   "accept message and attempt delivery");
}

static int parse_error(struct smtp_session *s, const struct smtp_cmd *cmd,
		       int rc)
{
	if (rc == RMAIL_TOOLONG || cmd->err == SMTP_PERR_TOOLONG)
		return smtp_error(s, "line_too_long", 500, "5.5.6",
				  "Error: line too long");
	if (cmd->err == SMTP_PERR_BARE_EOL)
		return 2;
	if (cmd->err_detail != NULL)
		return smtp_error(s, "syntax", smtp_perr_code(cmd->err),
				  smtp_perr_enh(cmd->err), "%s: %s",
				  smtp_perr_text(cmd->err), cmd->err_detail);
	return smtp_error(s, "syntax", smtp_perr_code(cmd->err),
			  smtp_perr_enh(cmd->err), "%s",
			  smtp_perr_text(cmd->err));
}

/* 1 when the session must close after the reply */
static int dispatch(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	if (s->fs_refused && cmd->verb != SMTP_CMD_QUIT) {
		smtp_reply(s,
			   s->fs_code >= 400 && s->fs_code < 600 ? s->fs_code
								 : 554,
			   NULL, "%s",
			   s->fs_text[0] ? s->fs_text
					 : "5.7.1 Connection rejected");
		return 0;
	}
	switch (cmd->verb) {
	case SMTP_CMD_EHLO:
	case SMTP_CMD_HELO:
		cmd_ehlo(s, cmd);
		return 0;
	case SMTP_CMD_MAIL:
		return cmd_mail(s, cmd);
	case SMTP_CMD_RCPT:
		return cmd_rcpt(s, cmd);
	case SMTP_CMD_DATA:
		return cmd_data(s);
	case SMTP_CMD_BDAT:
		cmd_bdat(s, cmd);
		return 0;
	case SMTP_CMD_RSET:
		tx_reset(s);
		smtp_reply(s, 250, "2.0.0", "Ok");
		return 0;
	case SMTP_CMD_NOOP:
		smtp_reply(s, 250, "2.0.0", "Ok");
		return 0;
	case SMTP_CMD_QUIT:
		smtp_reply(s, 221, "2.0.0", "Bye");
		return 1;
	case SMTP_CMD_VRFY:
		cmd_vrfy(s, cmd);
		return 0;
	case SMTP_CMD_HELP:
		smtp_reply(s, 214, "2.0.0",
			   "Commands: EHLO HELO MAIL RCPT "
			   "DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH"
			   "\nSee RFC 5321");
		return 0;
	case SMTP_CMD_STARTTLS:
		return cmd_starttls(s);
	case SMTP_CMD_AUTH:
		return smtp_cmd_auth(s, cmd);
	default:
		return smtp_error(s, "syntax", 500, "5.5.2",
				  "Error: command not recognized");
	}
}

static int input_cmd(struct smtp_session *s)
{
	struct smtp_cmd cmd;
	const char *data;
	size_t len = s->mod->core->conn_peek(s->c, &data);
	int rc, r;

	memset(&cmd, 0, sizeof(cmd));
	rc = smtp_parse(&s->parser, data, len, &cmd);
	/* the command's bytes go before STARTTLS checks what follows */
	s->mod->core->conn_consume(s->c, cmd.consumed);
	if (rc == RMAIL_AGAIN)
		return RMAIL_OK;
	if (rc == RMAIL_OK)
		r = dispatch(s, &cmd);
	else
		r = parse_error(s, &cmd, rc);
	if (r == 2)
		return smuggling(s, "command");
	if (r != 0 || s->closing) {
		s->closing = 1;
		return RMAIL_CLOSE;
	}
	return RMAIL_OK;
}

static int input_phase(struct smtp_session *s)
{
	if (s->closing)
		return RMAIL_CLOSE;
	switch (s->phase) {
	case SMTP_PH_DATA:
		return input_data(s);
	case SMTP_PH_BDAT:
		return input_bdat(s);
	case SMTP_PH_AUTH_PLAIN:
	case SMTP_PH_AUTH_USER:
	case SMTP_PH_AUTH_PASS:
		return input_auth(s);
	case SMTP_PH_WAIT:
		return RMAIL_OK;
	default:
		return input_cmd(s);
	}
}

static int smtp_input(void *ctx, struct rmail_conn *c, void *session)
{
	(void)ctx;
	(void)c;
	return input_phase(session);
}

/* the 1.2 layout: mod_smtp.c sets ctx to its state at listen time,
 * which smtp_accept keeps in the session; the others find it there */
const struct rmail_proto_ops smtp_proto_ops = {
	.size = sizeof(struct rmail_proto_ops),
	.ctx_accept = smtp_accept,
	.ctx_input = smtp_input,
	.ctx_tls_ready = smtp_tls_ready,
	.ctx_timeout = smtp_timeout,
	.ctx_close = smtp_close,
};
