/*
 * mod_imap: IMAP4rev1 (RFC 3501) and, after ENABLE, IMAP4rev2 (RFC 9051)
 * on 143 with STARTTLS and 993 with implicit TLS.  This file is the
 * descriptor and the listener glue; the protocol lives in imap_session.c
 * and the imap_cmd_*.c files.
 */
#include <stddef.h>
#include <string.h>

#include <rmail/rmail.h>

#include "imap_casemap.h"
#include "imap_session.h"

/* the module's state: handed to every handler as ctx, never global */
static struct imap_mod imap_state;

static const struct rmail_conf_key imap_keys[] = {
	{"listen", RMAIL_CONF_LISTEN, 0, offsetof(struct imap_conf, listen),
	 "[\"0.0.0.0:143\"]", "cleartext listeners (STARTTLS offered)", NULL},
	{"imaps_listen", RMAIL_CONF_LISTEN, 0,
	 offsetof(struct imap_conf, imaps_listen), "[\"0.0.0.0:993\"]",
	 "implicit-TLS listeners", NULL},
	{"allow_cleartext_login_loopback", RMAIL_CONF_BOOL,
	 RMAIL_CONF_RELOADABLE,
	 offsetof(struct imap_conf, allow_cleartext_login_loopback), "false",
	 "allow LOGIN without TLS from loopback peers only", NULL},
	{"max_line", RMAIL_CONF_SIZE, 0, offsetof(struct imap_conf, max_line),
	 "\"64K\"", "longest command line, CRLF included, literals not", NULL},
	{"max_command", RMAIL_CONF_SIZE, 0,
	 offsetof(struct imap_conf, max_command), "\"256K\"",
	 "memory for one parsed command (kept literals included)", NULL},
	{"appendlimit", RMAIL_CONF_SIZE, RMAIL_CONF_RELOADABLE,
	 offsetof(struct imap_conf, appendlimit), "\"35M\"",
	 "largest APPEND message (APPENDLIMIT=)", NULL},
	{"max_literal_preauth", RMAIL_CONF_SIZE, RMAIL_CONF_RELOADABLE,
	 offsetof(struct imap_conf, max_literal_preauth), "\"8K\"",
	 "largest literal before login", NULL},
	{"max_literals", RMAIL_CONF_INT, RMAIL_CONF_RELOADABLE,
	 offsetof(struct imap_conf, max_literals), "64", "literals per command",
	 NULL},
	{"max_depth", RMAIL_CONF_INT, RMAIL_CONF_RELOADABLE,
	 offsetof(struct imap_conf, max_depth), "16",
	 "parenthesis nesting per command", NULL},
	{"idle_timeout_preauth", RMAIL_CONF_DURATION, RMAIL_CONF_RELOADABLE,
	 offsetof(struct imap_conf, idle_timeout_preauth), "\"60s\"",
	 "inactivity before login closes the connection", NULL},
	{"login_timeout", RMAIL_CONF_DURATION, RMAIL_CONF_RELOADABLE,
	 offsetof(struct imap_conf, login_timeout), "\"3m\"",
	 "time from connecting to a successful login, however busy", NULL},
	{"idle_timeout", RMAIL_CONF_DURATION, RMAIL_CONF_RELOADABLE,
	 offsetof(struct imap_conf, idle_timeout), "\"30m\"",
	 "inactivity after login (IDLE included, RFC 3501 minimum)", NULL},
	{"auth_fail_disconnect", RMAIL_CONF_INT, RMAIL_CONF_RELOADABLE,
	 offsetof(struct imap_conf, auth_fail_disconnect), "3",
	 "failed logins on one connection before it is closed", NULL},
	{"fetch_outq", RMAIL_CONF_SIZE, RMAIL_CONF_RELOADABLE,
	 offsetof(struct imap_conf, fetch_outq), "\"256K\"",
	 "output queued by FETCH before it waits for the client", NULL},
	{"metadata_max_value", RMAIL_CONF_SIZE, RMAIL_CONF_RELOADABLE,
	 offsetof(struct imap_conf, metadata_max_value), "\"64K\"",
	 "largest METADATA value (SETMETADATA: [METADATA MAXSIZE])", NULL},
	{"metadata_max_entries", RMAIL_CONF_INT, RMAIL_CONF_RELOADABLE,
	 offsetof(struct imap_conf, metadata_max_entries), "100",
	 "METADATA entries per mailbox and for the server entries", NULL},
	{"metadata_max_total", RMAIL_CONF_SIZE, RMAIL_CONF_RELOADABLE,
	 offsetof(struct imap_conf, metadata_max_total), "\"1M\"",
	 "bytes of METADATA names and values per mailbox and for the "
	 "server entries",
	 NULL},
	RMAIL_CONF_END,
};

static const struct rmail_proto_ops imap_ops = {
	.size = sizeof(struct rmail_proto_ops),
	.ctx_accept = imap_session_accept,
	.ctx_input = imap_session_input,
	.ctx_drain = imap_session_drain,
	.ctx_tls_ready = imap_session_tls_ready,
	.ctx_timeout = imap_session_timeout,
	.ctx_close = imap_session_close,
};

static int imap_check(const struct imap_conf *cf, struct rmail_err *err)
{
	if (cf->max_line < 1024)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "imap.max_line: at least 1024");
	if (cf->max_command < cf->max_line)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "imap.max_command: below max_line");
	if (cf->max_literal_preauth + 1024 > cf->max_command)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "imap.max_literal_preauth: over "
				     "max_command");
	if (cf->max_depth < 1 || cf->max_depth > IMAP_PARSER_MAX_DEPTH)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "imap.max_depth: 1 to %d",
				     IMAP_PARSER_MAX_DEPTH);
	if (cf->metadata_max_entries < 1 || cf->metadata_max_value < 1 ||
	    cf->metadata_max_total < cf->metadata_max_value)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "imap.metadata_max_entries and "
				     "metadata_max_value must be >= 1, "
				     "metadata_max_total >= "
				     "metadata_max_value");
	if (cf->max_literals < 1 || cf->auth_fail_disconnect < 1)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "imap: max_literals and "
				     "auth_fail_disconnect must be >= 1");
	return 0;
}

static int imap_init(struct rmail_mctx *m, struct rmail_err *err)
{
	memset(&imap_state, 0, sizeof(imap_state));
	imap_state.m = m;
	imap_state.core = m->core;
	imap_casemap_init(m->core);
	return imap_check(m->conf, err);
}

static int imap_start(struct rmail_mctx *m, struct rmail_err *err)
{
	const struct imap_conf *cf = m->conf;
	struct rmail_proto_ops ops = imap_ops;
	void *sh;
	struct rmail_listen_opts o = {
		.size = sizeof(o),
		.proto = "imap",
		.tls = RMAIL_TLS_NONE,
		.max_line = (size_t)cf->max_line,
		.idle_timeout = cf->idle_timeout_preauth,
		.overload_reply = "* BYE Too many connections from your "
				  "address\r\n",
	};

	if (m->core->store(&sh) == NULL)
		return rmail_err_set(err, RMAIL_E_NOTIMPL,
				     "imap needs a storage module");
	ops.ctx = &imap_state;
	if (m->core->listen(m, "listen", &cf->listen, &ops, &o, err) < 0)
		return -1;
	o.tls = RMAIL_TLS_IMPLICIT;
	return m->core->listen(m, "imaps_listen", &cf->imaps_listen, &ops, &o,
			       err);
}

static int imap_reload_check(struct rmail_mctx *m, const void *new_conf,
			     struct rmail_err *err)
{
	(void)m;
	return imap_check(new_conf, err);
}

static void imap_reload_commit(struct rmail_mctx *m, const void *new_conf)
{
	(void)m;
	(void)new_conf;
}

static void imap_stop(struct rmail_mctx *m, int mode)
{
	(void)m;
	(void)mode;
}

static void imap_fini(struct rmail_mctx *m)
{
	(void)m;
}

RMAIL_MODULE_DEFINE(imap, RMAIL_KIND_PROTOCOL, "1.0", .section = "imap",
		    .conf_keys = imap_keys,
		    .conf_size = sizeof(struct imap_conf), .init = imap_init,
		    .start = imap_start, .reload_check = imap_reload_check,
		    .reload_commit = imap_reload_commit, .stop = imap_stop,
		    .fini = imap_fini);
