/*
 * A storage module built against the frozen ABI 1.1 headers: one user,
 * fx@example.test, and the 1.1 tri-state lookups.  The domain
 * "flaky.test" is one the store cannot look up right now: a 1.1 core
 * must answer "try later" for it, never "not local".
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <rmail/rmail.h>

#define FX_USER "fx@example.test"

static int user_get(void *h, const char *address, struct rmail_user *u_r,
		    struct rmail_err *err)
{
	(void)h;
	if (strcasecmp(address, FX_USER) != 0)
		return rmail_err_set(err, RMAIL_E_NOENT, "no such user");
	memset(u_r, 0, sizeof(*u_r));
	snprintf(u_r->address, sizeof(u_r->address), "%s", FX_USER);
	return 0;
}

static int user_list(void *h, const char *domain, rmail_user_fn cb, void *arg,
		     struct rmail_err *err)
{
	struct rmail_user u;

	if (domain != NULL && strcasecmp(domain, "example.test") != 0)
		return 0;
	if (user_get(h, FX_USER, &u, err) < 0)
		return -1;
	cb(arg, &u);
	return 0;
}

static int quota_get(void *h, const char *user, uint64_t *used_r,
		     uint64_t *limit_r, struct rmail_err *err)
{
	(void)h;
	if (strcasecmp(user, FX_USER) != 0)
		return rmail_err_set(err, RMAIL_E_NOENT, "no such user");
	*used_r = 0;
	*limit_r = 0;
	return 0;
}

static int resolve(void *h, const char *address, rmail_addr_fn cb, void *arg,
		   struct rmail_err *err)
{
	(void)h;
	if (strcasecmp(address, FX_USER) != 0)
		return rmail_err_set(err, RMAIL_E_NOENT, "not local");
	cb(arg, FX_USER);
	return 0;
}

/* the 1.0 forms cannot say "cannot tell": flaky.test reads as remote */
static int domain_is_local(void *h, const char *domain)
{
	(void)h;
	return strcasecmp(domain, "example.test") == 0;
}

static int owns_address(void *h, const char *user, const char *address)
{
	(void)h;
	return strcasecmp(user, FX_USER) == 0 &&
	       strcasecmp(address, FX_USER) == 0;
}

static int domain_local_try(void *h, const char *domain, struct rmail_err *err)
{
	if (strcasecmp(domain, "flaky.test") == 0)
		return rmail_err_set(err, RMAIL_E_IO,
				     "fixture: lookup unavailable");
	return domain_is_local(h, domain);
}

static int owns_address_try(void *h, const char *user, const char *address,
			    struct rmail_err *err)
{
	const char *at = strrchr(address, '@');

	if (at != NULL && strcasecmp(at + 1, "flaky.test") == 0)
		return rmail_err_set(err, RMAIL_E_IO,
				     "fixture: lookup unavailable");
	return owns_address(h, user, address);
}

static const struct rmail_store_ops fx11_store_ops = {
	.size = sizeof(struct rmail_store_ops),
	.user_get = user_get,
	.user_list = user_list,
	.resolve = resolve,
	.quota_get = quota_get,
	.domain_is_local = domain_is_local,
	.owns_address = owns_address,
	.domain_local_try = domain_local_try,
	.owns_address_try = owns_address_try,
};

static int fx11_store_init(struct rmail_mctx *m, struct rmail_err *err)
{
	(void)err;
	m->data = m->pool; /* any non-NULL handle */
	return 0;
}

RMAIL_MODULE_DEFINE(fx11store, RMAIL_KIND_STORAGE, "1.1",
		    .init = fx11_store_init, .ops = &fx11_store_ops);
