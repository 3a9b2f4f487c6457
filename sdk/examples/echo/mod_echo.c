/*
 * mod_echo: a small line protocol, the SDK's worked example.
 *
 *	"echo": {"listen": ["127.0.0.1:7777"], "tls_listen": [],
 *		 "greeting": "rmail echo ready"}
 *
 * The server greets with "+OK <greeting>"; PING answers "+PONG", QUIT
 * answers "+OK bye" and closes, anything else comes back as
 * "+ECHO <line>".  `greeting` may change on SIGHUP; the listen lists
 * need a restart.
 */
#include <stddef.h>
#include <string.h>

#include <rmail/rmail.h>

#define ECHO_MAX_LINE 1024

struct echo_conf {
	struct rmail_strlist listen;
	struct rmail_strlist tls_listen;
	const char *greeting;
};

struct echo_session {
	struct rmail_mctx *m; /* the listener's ctx */
	unsigned lines;
};

static const struct rmail_conf_key echo_keys[] = {
	{"listen", RMAIL_CONF_LISTEN, 0, offsetof(struct echo_conf, listen),
	 "[]", "cleartext listen addresses", NULL},
	{"tls_listen", RMAIL_CONF_LISTEN, 0,
	 offsetof(struct echo_conf, tls_listen), "[]",
	 "implicit-TLS listen addresses", NULL},
	{"greeting", RMAIL_CONF_STR, RMAIL_CONF_RELOADABLE,
	 offsetof(struct echo_conf, greeting), "\"rmail echo ready\"",
	 "text after +OK in the greeting", NULL},
	RMAIL_CONF_END,
};

static const struct echo_conf *conf_of(const struct rmail_mctx *m)
{
	return m->conf;
}

/* ctx is what echo_start put in the table: this instance's rmail_mctx,
 * so the module needs no global */
static int echo_accept(void *ctx, struct rmail_conn *c, void **session_r)
{
	struct rmail_mctx *m = ctx;
	const struct rmail_core *core = m->core;
	struct echo_session *s;

	s = core->pcalloc(core->conn_pool(c), sizeof(*s));
	s->m = m;
	*session_r = s;
	core->conn_printf(c, "+OK %s\r\n", conf_of(m)->greeting);
	return 0;
}

static int echo_input(void *ctx, struct rmail_conn *c, void *session)
{
	struct echo_session *s = session;
	const struct rmail_core *core = s->m->core;
	struct rmail_line l;
	int rc;

	(void)ctx; /* s->m */
	while ((rc = core->conn_read_line(c, &l)) == RMAIL_OK) {
		s->lines++;
		if (l.len == 4 && strncmp(l.data, "QUIT", 4) == 0) {
			core->conn_printf(c, "+OK bye\r\n");
			return RMAIL_CLOSE;
		}
		if (l.len == 4 && strncmp(l.data, "PING", 4) == 0)
			core->conn_printf(c, "+PONG\r\n");
		else
			core->conn_printf(c, "+ECHO %.*s\r\n", (int)l.len,
					  l.data);
	}
	if (rc == RMAIL_TOOLONG) {
		core->conn_printf(c, "-ERR line too long\r\n");
		return RMAIL_OK;
	}
	if (rc == RMAIL_AGAIN)
		return RMAIL_OK;
	return RMAIL_CLOSE;
}

static void echo_timeout(void *ctx, struct rmail_conn *c, void *session)
{
	struct echo_session *s = session;

	(void)ctx;
	s->m->core->conn_printf(c, "-ERR idle timeout\r\n");
}

static void echo_close(void *ctx, struct rmail_conn *c, void *session,
		       int reason)
{
	(void)ctx;
	(void)c;
	(void)session;
	(void)reason;
}

/* the ABI 1.2 layout: every handler gets the table's ctx first */
static const struct rmail_proto_ops echo_ops = {
	.size = sizeof(struct rmail_proto_ops),
	.ctx_accept = echo_accept,
	.ctx_input = echo_input,
	.ctx_timeout = echo_timeout,
	.ctx_close = echo_close,
};

static int echo_start(struct rmail_mctx *m, struct rmail_err *err)
{
	const struct echo_conf *cf = conf_of(m);
	struct rmail_listen_opts o = {
		.size = sizeof(o),
		.proto = "echo",
		.tls = RMAIL_TLS_NEVER,
		.max_line = ECHO_MAX_LINE,
		.idle_timeout = 60,
	};
	/* listen copies the table: a stack copy carrying ctx is enough */
	struct rmail_proto_ops ops = echo_ops;

	ops.ctx = m;
	if (m->core->listen(m, "listen", &cf->listen, &ops, &o, err) < 0)
		return -1;
	o.tls = RMAIL_TLS_IMPLICIT;
	return m->core->listen(m, "tls_listen", &cf->tls_listen, &ops, &o, err);
}

static int echo_reload_check(struct rmail_mctx *m, const void *new_conf,
			     struct rmail_err *err)
{
	const struct echo_conf *n = new_conf;

	(void)m;
	if (n->greeting == NULL || strpbrk(n->greeting, "\r\n") != NULL)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "echo.greeting: must be one line");
	return 0;
}

static void echo_reload_commit(struct rmail_mctx *m, const void *new_conf)
{
	(void)new_conf;
	m->core->log(m, RMAIL_LOG_INFO, "greeting is now \"%s\"",
		     ((const struct echo_conf *)new_conf)->greeting);
}

RMAIL_MODULE_DEFINE(echo, RMAIL_KIND_PROTOCOL, "1.0.0", .section = "echo",
		    .conf_keys = echo_keys,
		    .conf_size = sizeof(struct echo_conf), .start = echo_start,
		    .reload_check = echo_reload_check,
		    .reload_commit = echo_reload_commit, );
