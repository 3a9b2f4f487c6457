/*
 * mod_sieve: Sieve (RFC 5228 and the extensions of sieve_extensions())
 * at local delivery.  A FILTER module on the DELIVERY stage: the core
 * calls `deliver` once per local recipient on a worker thread, after
 * the RECEIPT filters accepted the message; the answer is where the
 * copy goes (rmail_filter_target, with extra copies since ABI 1.5).
 * Scripts come from the store (ABI 1.5 sieve_* ops, written by
 * ManageSieve, the API and `rmail sieve`), plus global before/after
 * files from this section.  docs/sieve.md.
 */
#include <stddef.h>
#include <string.h>

#include "sf.h"

const struct rmail_core *sf_core;
struct rmail_mctx *sf_m;

#define OFF(f) offsetof(struct sf_conf, f)
#define RL RMAIL_CONF_RELOADABLE

static const struct rmail_conf_key sieve_keys[] = {
	{"before", RMAIL_CONF_STR_LIST, RL, OFF(before), "[]",
	 "Sieve files run before each user's script, in order", NULL},
	{"after", RMAIL_CONF_STR_LIST, RL, OFF(after), "[]",
	 "Sieve files run after each user's script, in order", NULL},
	{"global_dir", RMAIL_CONF_STR, RL | RMAIL_CONF_NULLABLE,
	 OFF(global_dir), "null",
	 "directory of `include :global NAME` scripts (NAME.sieve)", NULL},
	{"max_script_size", RMAIL_CONF_SIZE, RL, OFF(max_script_size), "\"1M\"",
	 "largest script compiled", NULL},
	{"max_redirects", RMAIL_CONF_INT, RL, OFF(max_redirects), "4",
	 "redirects per message and recipient", NULL},
	{"max_actions", RMAIL_CONF_INT, RL, OFF(max_actions), "32",
	 "actions per message and recipient", NULL},
	{"max_message", RMAIL_CONF_SIZE, RL, OFF(max_message), "\"10M\"",
	 "bytes of a message the tests read (header, body)", NULL},
	RMAIL_CONF_END,
};

static int sieve_init(struct rmail_mctx *m, struct rmail_err *err)
{
	(void)err;
	sf_m = m;
	sf_core = m->core;
	return 0;
}

static int sieve_start(struct rmail_mctx *m, struct rmail_err *err)
{
	const struct sf_conf *c = m->conf;
	void *h;
	const struct rmail_store_ops *ops = m->core->store(&h);

	/* a broken global script is the admin's to fix now, not at the
	 * first delivery */
	for (size_t i = 0; i < c->before.n + c->after.n; i++) {
		const char *p = i < c->before.n ? c->before.v[i]
						: c->after.v[i - c->before.n];
		struct sf_script *sc = sf_file_script(p, NULL, err);

		if (sc == NULL)
			return -1;
		sf_script_put(&sc);
	}
	if (ops == NULL || !RMAIL_HAS(ops, struct rmail_store_ops, sieve_get) ||
	    ops->sieve_get == NULL)
		m->core->log(m, RMAIL_LOG_WARN,
			     "the store keeps no Sieve scripts (ABI 1.5 "
			     "sieve_get): only global scripts run");
	m->core->log(m, RMAIL_LOG_INFO, "sieve: %zu before, %zu after; %s",
		     c->before.n, c->after.n, sieve_extensions());
	return 0;
}

static void sieve_reload_commit(struct rmail_mctx *m, const void *new_conf)
{
	(void)m;
	(void)new_conf;
	sf_cache_clear();
}

static void sieve_fini(struct rmail_mctx *m)
{
	(void)m;
	sf_cache_clear();
}

static int sieve_deliver(struct rmail_mctx *m,
			 const struct rmail_filter_msg *msg,
			 struct rmail_filter_target *t, struct rmail_err *err)
{
	(void)m;
	if (msg->stage != RMAIL_FILTER_DELIVERY || msg->rcpt == NULL)
		return 0;
	return sf_deliver(msg, t, err);
}

static const struct rmail_filter_ops sieve_ops = {
	.size = sizeof(struct rmail_filter_ops),
	.deliver = sieve_deliver,
};

RMAIL_MODULE_DEFINE(sieve, RMAIL_KIND_FILTER, "1.0", .section = "sieve",
		    .conf_keys = sieve_keys,
		    .conf_size = sizeof(struct sf_conf), .init = sieve_init,
		    .start = sieve_start, .reload_commit = sieve_reload_commit,
		    .fini = sieve_fini, .ops = &sieve_ops);
