/*
 * A protocol module built against the frozen ABI 1.3 headers that asks
 * the core's resolver.  Lines:
 *   DNS <name> <type>  -> "OK rcode=R n=N first=F" once answered, F the
 *                         first record (an address, "pref host", TXT
 *                         text), input suspended meanwhile
 *   DROP <name> <type> -> asks, cancels at once: "OK dropped", and no
 *                         answer ever comes
 *   QUIT
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rmail/rmail.h>

struct fx13_conf {
	struct rmail_strlist listen;
};

struct fx13_sess {
	struct rmail_mctx *m;
	struct rmail_conn *c;
};

static const struct rmail_conf_key fx13_keys[] = {
	{"listen", RMAIL_CONF_LISTEN, 0, offsetof(struct fx13_conf, listen),
	 "[]", "listen addresses", NULL},
	RMAIL_CONF_END,
};

static int fx_accept(void *ctx, struct rmail_conn *c, void **session_r)
{
	struct rmail_mctx *m = ctx;
	struct fx13_sess *s =
		m->core->pcalloc(m->core->conn_pool(c), sizeof(*s));

	s->m = m;
	s->c = c;
	*session_r = s;
	m->core->conn_printf(c, "* fx13 ready\r\n");
	return 0;
}

static void answered(void *arg, const struct rmail_dns_answer *a)
{
	struct fx13_sess *s = arg;
	const struct rmail_core *core = s->m->core;
	char first[300] = "-";

	if (a->n > 0) {
		const struct rmail_dns_rr *r = &a->rr[0];

		if (r->host != NULL)
			snprintf(first, sizeof(first), "%u %s", r->pref,
				 r->host);
		else if (r->data != NULL)
			snprintf(first, sizeof(first), "%.*s",
				 (int)(r->len < 200 ? r->len : 200), r->data);
		else
			inet_ntop(AF_INET, r->addr, first, sizeof(first));
	}
	if (!core->conn_closed(s->c))
		core->conn_printf(s->c, "OK rcode=%d n=%zu first=%s\r\n",
				  a->rcode, a->n, first);
	core->conn_resume(s->c);
}

static void never(void *arg, const struct rmail_dns_answer *a)
{
	struct fx13_sess *s = arg;

	(void)a;
	s->m->core->conn_printf(s->c, "BAD answer after cancel\r\n");
}

static int fx_input(void *ctx, struct rmail_conn *c, void *session)
{
	struct rmail_mctx *m = ctx;
	struct fx13_sess *s = session;
	const struct rmail_core *core = m->core;
	char buf[512], name[256];
	struct rmail_line l;
	int rc, type;

	while ((rc = core->conn_read_line(c, &l)) == RMAIL_OK) {
		snprintf(buf, sizeof(buf), "%.*s", (int)l.len, l.data);
		if (strcmp(buf, "QUIT") == 0) {
			core->conn_printf(c, "OK bye\r\n");
			return RMAIL_CLOSE;
		}
		/* a core older than 1.3 has no resolver for modules */
		if (!RMAIL_HAS(core, struct rmail_core, dns_cancel) ||
		    core->dns_query == NULL) {
			core->conn_printf(c, "NO no resolver\r\n");
		} else if (sscanf(buf, "DNS %255s %d", name, &type) == 2) {
			core->conn_suspend(c);
			if (core->dns_query(name, type, answered, s) == NULL) {
				core->conn_printf(c, "NO query refused\r\n");
				core->conn_resume(c);
			}
			return RMAIL_OK;
		} else if (sscanf(buf, "DROP %255s %d", name, &type) == 2) {
			struct rmail_dns_query *q =
				core->dns_query(name, type, never, s);

			if (q != NULL)
				core->dns_cancel(q);
			core->conn_printf(c, "OK dropped\r\n");
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

static int fx_start(struct rmail_mctx *m, struct rmail_err *err)
{
	const struct fx13_conf *cf = m->conf;
	struct rmail_proto_ops ops = fx_ops;
	struct rmail_listen_opts o = {
		.size = sizeof(o),
		.proto = "fx13",
		.tls = RMAIL_TLS_NEVER,
		.max_line = 1024,
		.idle_timeout = 30,
	};

	ops.ctx = m;
	return m->core->listen(m, "listen", &cf->listen, &ops, &o, err);
}

RMAIL_MODULE_DEFINE(fx13dns, RMAIL_KIND_PROTOCOL, "1.0", .section = "fx13dns",
		    .conf_keys = fx13_keys,
		    .conf_size = sizeof(struct fx13_conf), .start = fx_start);
