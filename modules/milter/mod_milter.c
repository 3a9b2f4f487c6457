/*
 * mod_milter: a FILTER module that puts the milters of the "milter"
 * section (rspamd, OpenDKIM, OpenDMARC, clamav-milter...) on the
 * core's per-session filter steps (filter.h, ABI 1.4).  The protocol
 * lives in milter_sess.c and milter_proto.c, the section's parsing in
 * milter_conf.c.  SIGHUP swaps the milter list for new sessions;
 * sessions already running finish with the list they began with.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <rmail/rmail.h>

#include "milter_conf.h"
#include "milter_sess.h"

static struct milter_mod milter_mod;

#define OFF(f) offsetof(struct milter_conf, f)
#define RL RMAIL_CONF_RELOADABLE

static const struct rmail_conf_key milter_keys[] = {
	{"milters", RMAIL_CONF_STR_LIST, RL, OFF(milters), "[]",
	 "milters in order, each a Postfix smtpd_milters entry: "
	 "\"inet:127.0.0.1:8891\" or \"{ unix:/path, default_action=accept, "
	 "listeners=mx }\"",
	 NULL},
	{"listeners", RMAIL_CONF_STR_LIST, RL, OFF(listeners),
	 "[\"mx\", \"submission\", \"api\"]",
	 "where milters apply unless an entry says: mx (port 25), "
	 "submission (587/465), api (the HTTP API's send)",
	 NULL},
	{"default_action", RMAIL_CONF_STR, RL, OFF(default_action),
	 "\"tempfail\"",
	 "when a milter is down, slow or breaks the protocol: tempfail "
	 "(4.7.1 for the session) or accept (go on without it)",
	 NULL},
	{"connect_timeout", RMAIL_CONF_DURATION, RL, OFF(connect_timeout),
	 "\"30s\"", "connecting and negotiating options", NULL},
	{"command_timeout", RMAIL_CONF_DURATION, RL, OFF(command_timeout),
	 "\"30s\"", "each reply to CONNECT, HELO, MAIL, RCPT, DATA", NULL},
	{"content_timeout", RMAIL_CONF_DURATION, RL, OFF(content_timeout),
	 "\"300s\"", "each reply to a header, the body and the end of message",
	 NULL},
	{"reuse_connections", RMAIL_CONF_BOOL, RL, OFF(reuse), "true",
	 "keep a milter's socket after SMFIC_QUIT_NC for the next session",
	 NULL},
	{"macros.connect", RMAIL_CONF_STR, RL, OFF(macros[MILTER_M_CONNECT]),
	 "\"j {daemon_name} {daemon_addr} v _ {client_addr} {client_name}\"",
	 "macros sent with CONNECT (Postfix milter_connect_macros)", NULL},
	{"macros.helo", RMAIL_CONF_STR, RL, OFF(macros[MILTER_M_HELO]),
	 "\"{tls_version} {cipher} {cipher_bits} {cert_subject} "
	 "{cert_issuer}\"",
	 "macros sent with HELO (milter_helo_macros)", NULL},
	{"macros.mail", RMAIL_CONF_STR, RL, OFF(macros[MILTER_M_MAIL]),
	 "\"i {auth_type} {auth_authen} {auth_author} {mail_addr} "
	 "{mail_host} {mail_mailer}\"",
	 "macros sent with MAIL (milter_mail_macros)", NULL},
	{"macros.rcpt", RMAIL_CONF_STR, RL, OFF(macros[MILTER_M_RCPT]),
	 "\"{rcpt_addr} {rcpt_host} {rcpt_mailer}\"",
	 "macros sent with RCPT (milter_rcpt_macros)", NULL},
	{"macros.data", RMAIL_CONF_STR, RL, OFF(macros[MILTER_M_DATA]), "\"i\"",
	 "macros sent with DATA (milter_data_macros)", NULL},
	{"macros.eoh", RMAIL_CONF_STR, RL, OFF(macros[MILTER_M_EOH]), "\"\"",
	 "macros sent with the end of headers (milter_end_of_header_macros)",
	 NULL},
	{"macros.eom", RMAIL_CONF_STR, RL, OFF(macros[MILTER_M_EOM]), "\"i\"",
	 "macros sent with the end of message (milter_end_of_data_macros)",
	 NULL},
	RMAIL_CONF_END,
};

static int milter_init(struct rmail_mctx *m, struct rmail_err *err)
{
	milter_mod.m = m;
	milter_mod.core = m->core;
	m->data = &milter_mod;
	return milter_set_build(m->conf, &milter_mod.set, err);
}

static int milter_start(struct rmail_mctx *m, struct rmail_err *err)
{
	(void)err;
	m->core->log(m, RMAIL_LOG_INFO, "%zu milters configured",
		     milter_mod.set != NULL ? milter_mod.set->n : 0);
	return 0;
}

static int milter_reload_check(struct rmail_mctx *m, const void *new_conf,
			       struct rmail_err *err)
{
	struct milter_set *s = NULL;

	(void)m;
	if (milter_set_build(new_conf, &s, err) < 0)
		return -1;
	milter_set_unref(&s);
	return 0;
}

static void milter_reload_commit(struct rmail_mctx *m, const void *new_conf)
{
	struct milter_set *s = NULL;
	struct rmail_err err;

	rmail_err_clear(&err);
	if (milter_set_build(new_conf, &s, &err) < 0) {
		m->core->log(m, RMAIL_LOG_ERR, "reload: %s", err.msg);
		return;
	}
	milter_set_unref(&milter_mod.set);
	milter_mod.set = s;
	m->core->log(m, RMAIL_LOG_INFO, "reloaded: %zu milters", s->n);
}

static void milter_fini(struct rmail_mctx *m)
{
	(void)m;
	milter_set_unref(&milter_mod.set);
}

/* ---- the filter ops (loop thread) --------------------------------- */

static int milter_sess_open(struct rmail_mctx *m,
			    const struct rmail_filter_step *st, void **sess_r)
{
	(void)m;
	*sess_r = milter_sess_new(&milter_mod, st);
	return 0;
}

static void milter_step(struct rmail_mctx *m, void *sess,
			const struct rmail_filter_step *st,
			struct rmail_filter_reply *r, rmail_filter_done_fn done,
			void *arg)
{
	(void)m;
	milter_sess_step(sess, st, r, done, arg);
}

static void milter_close(struct rmail_mctx *m, void *sess)
{
	(void)m;
	milter_sess_free(sess);
}

static const struct rmail_filter_ops milter_ops = {
	.size = sizeof(struct rmail_filter_ops),
	.sess_open = milter_sess_open,
	.sess_step = milter_step,
	.sess_close = milter_close,
};

RMAIL_MODULE_DEFINE(milter, RMAIL_KIND_FILTER, "1.0", .section = "milter",
		    .conf_keys = milter_keys,
		    .conf_size = sizeof(struct milter_conf),
		    .init = milter_init, .start = milter_start,
		    .reload_check = milter_reload_check,
		    .reload_commit = milter_reload_commit, .fini = milter_fini,
		    .ops = &milter_ops);
