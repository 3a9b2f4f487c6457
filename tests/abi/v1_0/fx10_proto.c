/*
 * A protocol module built against the frozen ABI 1.0 headers.  Lines:
 *   STATUS <user> <mailbox>  -> "OK messages=N bytes=B canary=intact"
 *   USER <address>           -> "OK <canonical address>" or "NO ..."
 *   QUIT
 * STATUS hands the store a 1.0-sized rmail_mbox_status followed by a
 * canary: a newer store that wrote past the caller's size would break it.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <rmail/rmail.h>

struct fx10_conf {
	struct rmail_strlist listen;
};

static struct rmail_mctx *fx_m;

static const struct rmail_conf_key fx10_keys[] = {
	{"listen", RMAIL_CONF_LISTEN, 0, offsetof(struct fx10_conf, listen),
	 "[]", "listen addresses", NULL},
	RMAIL_CONF_END,
};

static int fx_accept(struct rmail_conn *c, void **session_r)
{
	*session_r = NULL;
	fx_m->core->conn_printf(c, "* fx10 ready\r\n");
	return 0;
}

static void cmd_status(struct rmail_conn *c, const char *user, const char *box)
{
	const struct rmail_core *core = fx_m->core;
	struct {
		struct rmail_mbox_status st;
		uint64_t canary;
	} b;
	const struct rmail_store_ops *ops;
	struct rmail_err err;
	void *h;

	memset(&b, 0, sizeof(b));
	b.st.size = sizeof(b.st);
	b.canary = 0x5a5a5a5a5a5a5a5aull;
	ops = core->store(&h);
	rmail_err_clear(&err);
	if (ops == NULL || ops->mbox_status(h, user, box, &b.st, &err) < 0) {
		core->conn_printf(c, "NO %s\r\n", ops ? err.msg : "no store");
		return;
	}
	core->conn_printf(
		c, "OK messages=%u bytes=%llu size=%u canary=%s\r\n",
		b.st.messages, (unsigned long long)b.st.bytes, b.st.size,
		b.canary == 0x5a5a5a5a5a5a5a5aull ? "intact" : "overwritten");
}

static void cmd_user(struct rmail_conn *c, const char *addr)
{
	const struct rmail_core *core = fx_m->core;
	const struct rmail_store_ops *ops = core->store(NULL);
	struct rmail_user u;
	struct rmail_err err;
	void *h;

	ops = core->store(&h);
	rmail_err_clear(&err);
	if (ops->user_get(h, addr, &u, &err) < 0)
		core->conn_printf(c, "NO %s\r\n", err.msg);
	else
		core->conn_printf(c, "OK %s\r\n", u.address);
}

static int fx_input(struct rmail_conn *c, void *session)
{
	const struct rmail_core *core = fx_m->core;
	char buf[512], a[256], b[256];
	struct rmail_line l;
	int rc;

	(void)session;
	while ((rc = core->conn_read_line(c, &l)) == RMAIL_OK) {
		snprintf(buf, sizeof(buf), "%.*s", (int)l.len, l.data);
		if (strcmp(buf, "QUIT") == 0) {
			core->conn_printf(c, "OK bye\r\n");
			return RMAIL_CLOSE;
		}
		if (sscanf(buf, "STATUS %255s %255s", a, b) == 2)
			cmd_status(c, a, b);
		else if (sscanf(buf, "USER %255s", a) == 1)
			cmd_user(c, a);
		else
			core->conn_printf(c, "BAD %s\r\n", buf);
	}
	return rc == RMAIL_AGAIN ? RMAIL_OK : RMAIL_CLOSE;
}

/* a 1.0 protocol table: the core must call on_close through it */
static void fx_close(struct rmail_conn *c, void *session, int reason)
{
	(void)c;
	(void)session;
	(void)reason;
}

static const struct rmail_proto_ops fx_ops = {
	.size = sizeof(struct rmail_proto_ops),
	.on_accept = fx_accept,
	.on_input = fx_input,
	.on_close = fx_close,
};

static int fx_init(struct rmail_mctx *m, struct rmail_err *err)
{
	(void)err;
	fx_m = m;
	return 0;
}

static int fx_start(struct rmail_mctx *m, struct rmail_err *err)
{
	const struct fx10_conf *cf = m->conf;
	struct rmail_listen_opts o = {
		.size = sizeof(o),
		.proto = "fx10",
		.tls = RMAIL_TLS_NEVER,
		.max_line = 1024,
		.idle_timeout = 30,
	};

	return m->core->listen(m, "listen", &cf->listen, &fx_ops, &o, err);
}

RMAIL_MODULE_DEFINE(fx10proto, RMAIL_KIND_PROTOCOL, "1.0",
		    .section = "fx10proto", .conf_keys = fx10_keys,
		    .conf_size = sizeof(struct fx10_conf), .init = fx_init,
		    .start = fx_start);
