/*
 * A protocol module built against the frozen ABI 1.2 headers, on the
 * ctx-first handler layout, keeping no global: its state lives in
 * m->data and reaches every handler as ctx.  Lines:
 *   CTX                      -> "OK ctx=intact" (ctx is this module's)
 *   STATUS <user> <mailbox>  -> "OK messages=N modseq=M horizon=yes|no"
 *   WAIT                     -> conn_suspend, a READ-pool job, then
 *                               "OK resumed" and conn_resume
 *   QUIT
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rmail/rmail.h>

#define FX12_MAGIC 0x46583132u /* "FX12" */

struct fx12_conf {
	struct rmail_strlist listen;
};

struct fx12 {
	uint32_t magic;
	struct rmail_mctx *m;
};

struct fx12_sess {
	struct fx12 *fx;
	struct rmail_conn *c;
};

static const struct rmail_conf_key fx12_keys[] = {
	{"listen", RMAIL_CONF_LISTEN, 0, offsetof(struct fx12_conf, listen),
	 "[]", "listen addresses", NULL},
	RMAIL_CONF_END,
};

static int fx_accept(void *ctx, struct rmail_conn *c, void **session_r)
{
	struct fx12 *fx = ctx;
	const struct rmail_core *core = fx->m->core;
	struct fx12_sess *s = core->pcalloc(core->conn_pool(c), sizeof(*s));

	s->fx = fx;
	s->c = c;
	*session_r = s;
	core->conn_printf(c, "* fx12 ready\r\n");
	return 0;
}

static void cmd_status(struct fx12_sess *s, const char *user, const char *box)
{
	const struct rmail_core *core = s->fx->m->core;
	struct rmail_mbox_status st = {.size = sizeof(st)};
	const struct rmail_store_ops *ops;
	struct rmail_err err;
	void *h;

	ops = core->store(&h);
	rmail_err_clear(&err);
	if (ops == NULL || ops->mbox_status(h, user, box, &st, &err) < 0) {
		core->conn_printf(s->c, "NO %s\r\n",
				  ops ? err.msg : "no store");
		return;
	}
	core->conn_printf(
		s->c, "OK messages=%u modseq=%llu horizon=%s\r\n", st.messages,
		(unsigned long long)st.highestmodseq,
		RMAIL_HAS(&st, struct rmail_mbox_status, vanished_horizon)
			? "yes"
			: "no");
}

static void wait_work(void *arg, const volatile int *cancel)
{
	(void)arg;
	(void)cancel;
}

static void wait_done(void *arg, int cancelled)
{
	struct fx12_sess *s = arg;
	const struct rmail_core *core = s->fx->m->core;

	if (!cancelled && !core->conn_closed(s->c))
		core->conn_printf(s->c, "OK resumed\r\n");
	core->conn_resume(s->c);
}

static int fx_input(void *ctx, struct rmail_conn *c, void *session)
{
	struct fx12 *fx = ctx;
	struct fx12_sess *s = session;
	const struct rmail_core *core = fx->m->core;
	char buf[512], a[256], b[256];
	struct rmail_line l;
	int rc;

	while ((rc = core->conn_read_line(c, &l)) == RMAIL_OK) {
		snprintf(buf, sizeof(buf), "%.*s", (int)l.len, l.data);
		if (strcmp(buf, "QUIT") == 0) {
			core->conn_printf(c, "OK bye\r\n");
			return RMAIL_CLOSE;
		}
		if (strcmp(buf, "CTX") == 0) {
			core->conn_printf(
				c, "OK ctx=%s\r\n",
				fx == fx->m->data && fx->magic == FX12_MAGIC &&
						s->fx == fx
					? "intact"
					: "wrong");
		} else if (strcmp(buf, "WAIT") == 0) {
			/* input stops until wait_done resumes it: a line
			 * pipelined behind WAIT is answered after it */
			core->conn_suspend(c);
			core->work_submit(RMAIL_WORK_READ, wait_work, wait_done,
					  s);
			return RMAIL_OK;
		} else if (sscanf(buf, "STATUS %255s %255s", a, b) == 2) {
			cmd_status(s, a, b);
		} else {
			core->conn_printf(c, "BAD %s\r\n", buf);
		}
	}
	return rc == RMAIL_AGAIN ? RMAIL_OK : RMAIL_CLOSE;
}

static void fx_close(void *ctx, struct rmail_conn *c, void *session, int reason)
{
	(void)ctx;
	(void)c;
	(void)session;
	(void)reason;
}

static const struct rmail_proto_ops fx_ops = {
	.size = sizeof(struct rmail_proto_ops),
	.ctx_accept = fx_accept,
	.ctx_input = fx_input,
	.ctx_close = fx_close,
};

static int fx_init(struct rmail_mctx *m, struct rmail_err *err)
{
	struct fx12 *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
	fx->magic = FX12_MAGIC;
	fx->m = m;
	m->data = fx;
	return 0;
}

static int fx_start(struct rmail_mctx *m, struct rmail_err *err)
{
	const struct fx12_conf *cf = m->conf;
	struct rmail_proto_ops ops = fx_ops;
	struct rmail_listen_opts o = {
		.size = sizeof(o),
		.proto = "fx12",
		.tls = RMAIL_TLS_NEVER,
		.max_line = 1024,
		.idle_timeout = 30,
	};

	ops.ctx = m->data;
	return m->core->listen(m, "listen", &cf->listen, &ops, &o, err);
}

static void fx_fini(struct rmail_mctx *m)
{
	free(m->data);
	m->data = NULL;
}

RMAIL_MODULE_DEFINE(fx12proto, RMAIL_KIND_PROTOCOL, "1.0",
		    .section = "fx12proto", .conf_keys = fx12_keys,
		    .conf_size = sizeof(struct fx12_conf), .init = fx_init,
		    .start = fx_start, .fini = fx_fini);
