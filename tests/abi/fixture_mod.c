/* One source, many fixture modules: -D switches break one rule each.
 * FX_NAME is the file/symbol name, FX_DESC_NAME the descriptor name. */
#include <stddef.h>
#include <string.h>

#include <rmail/rmail.h>

#include "fixture_conf.h"

#ifndef FX_MAGIC
#define FX_MAGIC RMAIL_MODULE_MAGIC
#endif
#ifndef FX_MAJOR
#define FX_MAJOR RMAIL_ABI_MAJOR
#endif
#ifndef FX_MINOR
#define FX_MINOR RMAIL_ABI_MINOR
#endif
#ifndef FX_SIZE
#define FX_SIZE sizeof(struct rmail_module)
#endif
#ifndef FX_SIG
#define FX_SIG RMAIL_BUILD_SIG
#endif
#ifndef FX_DESC_NAME
#define FX_DESC_NAME RMAIL_STR(FX_NAME)
#endif
#ifndef FX_SYMBOL
#define FX_SYMBOL FX_CAT(rmail_module_, FX_NAME)
#endif
#ifndef FX_KIND
#define FX_KIND RMAIL_KIND_PROTOCOL
#endif
#ifndef FX_SECTION
#define FX_SECTION RMAIL_STR(FX_NAME)
#endif
#define FX_CAT2(a, b) a##b
#define FX_CAT(a, b) FX_CAT2(a, b)

static const struct rmail_conf_key keys[] = {
	{"listen", RMAIL_CONF_LISTEN, 0, offsetof(struct fx_conf, listen),
	 "[\"127.0.0.1:2525\"]", "where to listen", NULL},
	{"greeting", RMAIL_CONF_STR, RMAIL_CONF_RELOADABLE,
	 offsetof(struct fx_conf, greeting), "\"hello\"", "banner", NULL},
	{"max_line", RMAIL_CONF_SIZE, 0, offsetof(struct fx_conf, max_line),
	 "\"1K\"", "line limit", NULL},
#ifdef FX_ODD_LISTEN
	/* a listen key whose name says nothing about listening */
	{"endpoints", RMAIL_CONF_LISTEN, 0, offsetof(struct fx_conf, endpoints),
	 "[]", "more listeners", NULL},
#endif
	RMAIL_CONF_END};

static int fx_init(struct rmail_mctx *m, struct rmail_err *err)
{
	const struct fx_conf *c = m->conf;

	if (c == NULL || c->greeting == NULL)
		return rmail_err_set(err, RMAIL_E_INVAL, "no conf");
	m->data = m->core->pstrdup(m->pool, "inited");
	return 0;
}

#ifndef FX_OPS_SIZE
#define FX_OPS_SIZE sizeof(struct rmail_store_ops)
#endif

#ifndef FX_STORE_EMPTY
static int fx_user_get(void *h, const char *address, struct rmail_user *u_r,
		       struct rmail_err *err)
{
	(void)h;
	(void)address;
	(void)u_r;
	return rmail_err_set(err, RMAIL_E_NOENT, "no users here");
}

static int fx_resolve(void *h, const char *address, rmail_addr_fn cb, void *arg,
		      struct rmail_err *err)
{
	(void)h;
	(void)address;
	(void)cb;
	(void)arg;
	return rmail_err_set(err, RMAIL_E_NOENT, "no users here");
}

static int fx_domain_is_local(void *h, const char *domain)
{
	(void)h;
	(void)domain;
	return 0;
}

static int fx_quota_get(void *h, const char *user, uint64_t *used_r,
			uint64_t *limit_r, struct rmail_err *err)
{
	(void)h;
	(void)user;
	(void)used_r;
	(void)limit_r;
	return rmail_err_set(err, RMAIL_E_NOENT, "no users here");
}

#endif

/* FX_STORE_EMPTY: a table with none of the entries the core needs */
static const struct rmail_store_ops fx_store_ops = {
	.size = (uint32_t)(FX_OPS_SIZE),
#ifndef FX_STORE_EMPTY
	.user_get = fx_user_get,
	.resolve = fx_resolve,
	.domain_is_local = fx_domain_is_local,
	.quota_get = fx_quota_get,
#endif
};

RMAIL_EXPORT const struct rmail_module FX_SYMBOL = {
	.magic = FX_MAGIC,
	.abi_major = FX_MAJOR,
	.abi_minor = FX_MINOR,
	.size = (uint32_t)(FX_SIZE),
	.kind = FX_KIND,
	.name = FX_DESC_NAME,
	.version = "0.0.1",
	.build_sig = FX_SIG,
	.section = FX_SECTION,
	.conf_keys = keys,
	.conf_size = sizeof(struct fx_conf),
	.init = fx_init,
	.ops = FX_KIND == RMAIL_KIND_STORAGE ? &fx_store_ops : NULL,
};
