/*
 * The session's per-session filters (filter.h, ABI 1.4: milters): the
 * core runs each step through them and answers on the loop; the
 * session stays suspended meanwhile, so pipelined commands wait and
 * every reply keeps its place.  A refusal at CONNECT answers every
 * later command but QUIT, as Postfix does.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "smtp_session.h"

static const struct rmail_core *core_of(const struct smtp_session *s)
{
	return s->mod->core;
}

static bool filters_on(const struct smtp_session *s)
{
	const struct rmail_core *k = core_of(s);

	return RMAIL_HAS(k, struct rmail_core, filter_sess_close) &&
	       k->filter_sess_open != NULL && k->filter_sess_step != NULL &&
	       k->filter_sess_close != NULL;
}

static void fill(struct smtp_session *s, struct rmail_filter_step *st,
		 uint32_t step)
{
	const struct rmail_core *k = core_of(s);

	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	st->step = step;
	st->helo = s->helo;
	st->tls_info = k->conn_tls_info(s->c);
	st->auth_user = s->authed ? s->user : NULL;
	st->mail_from = s->mail_from;
}

/* the CONNECT step's handle, opened at the first EHLO/HELO */
static void open_sess(struct smtp_session *s)
{
	const struct rmail_core *k = core_of(s);
	struct rmail_filter_step st;

	s->fs_opened = 1;
	fill(s, &st, RMAIL_FSTEP_CONNECT);
	st.listener = s->kind == SMTP_PORT_MX ? RMAIL_FILTER_MX
					      : RMAIL_FILTER_SUBMISSION;
	st.session_id = k->conn_id(s->c);
	st.peer_ip = k->conn_peer_ip(s->c);
	st.peer_port = k->conn_peer_port(s->c);
	st.local_ip = k->conn_is_loopback(s->c) ? "127.0.0.1" : NULL;
	st.local_port = k->conn_local_port(s->c);
	s->fs = k->filter_sess_open(&st);
}

static void step_done(void *arg, const struct rmail_filter_reply *r)
{
	struct smtp_session *s = arg;
	smtp_filter_cont cont = s->fs_cont;

	s->fs_cont = NULL;
	if (core_of(s)->conn_closed(s->c)) {
		smtp_resume(s);
		return;
	}
	if (s->fs_step == RMAIL_FSTEP_CONNECT) {
		if (r->action == RMAIL_FILTER_REJECT) {
			s->fs_refused = 1;
			s->fs_code = (unsigned)r->code;
			snprintf(s->fs_text, sizeof(s->fs_text), "%s", r->text);
			cont(s, r);
			smtp_resume(s);
			return;
		}
		smtp_filter_run(s, RMAIL_FSTEP_HELO, NULL, cont);
		return;
	}
	cont(s, r);
	smtp_resume(s);
}

int smtp_filter_run(struct smtp_session *s, uint32_t step, const char *rcpt,
		    smtp_filter_cont cont)
{
	struct rmail_filter_step st;

	if (!filters_on(s))
		return 0;
	if (!s->fs_opened)
		open_sess(s);
	if (s->fs == NULL)
		return 0;
	if (step == RMAIL_FSTEP_HELO && !s->fs_connected) {
		s->fs_connected = 1;
		step = RMAIL_FSTEP_CONNECT;
	}
	fill(s, &st, step);
	st.rcpt = rcpt;
	if (step == RMAIL_FSTEP_MAIL)
		st.mail_params = s->mail_params;
	s->fs_step = step;
	s->fs_cont = cont;
	if (s->phase != SMTP_PH_WAIT)
		smtp_suspend(s);
	core_of(s)->filter_sess_step(s->fs, &st, step_done, s);
	return 1;
}

void smtp_filter_abort(struct smtp_session *s)
{
	struct rmail_filter_step st;

	if (s->fs == NULL || !s->has_mail)
		return;
	fill(s, &st, RMAIL_FSTEP_ABORT);
	core_of(s)->filter_sess_step(s->fs, &st, NULL, NULL);
}

void smtp_filter_close(struct smtp_session *s)
{
	if (s->fs != NULL)
		core_of(s)->filter_sess_close(&s->fs);
}

void smtp_filter_reply(struct smtp_session *s,
		       const struct rmail_filter_reply *r)
{
	unsigned code =
		r->code >= 400 && r->code < 600 ? (unsigned)r->code : 550;

	smtp_reject_metric(s, "filter");
	smtp_reply(s, code, NULL, "%s",
		   r->text[0] != '\0' ? r->text
		   : code >= 500      ? "5.7.1 Command rejected"
				      : "4.7.1 Try again later");
}
