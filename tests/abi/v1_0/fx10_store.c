/*
 * A storage module built against the frozen ABI 1.0 headers: one user
 * (fx@example.test, password "fxpass") with an INBOX held in memory.
 * Enough of the store ops for the core to deliver to it and for a
 * protocol module and the CLI to read it back.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <rmail/rmail.h>

#define FX_USER "fx@example.test"
#define FX_DOMAIN "example.test"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t nmsgs;
static uint64_t nbytes;

struct rmail_append {
	uint64_t bytes;
};

static int is_user(const char *a)
{
	return a != NULL && strcasecmp(a, FX_USER) == 0;
}

static void fill_user(struct rmail_user *u)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->address, sizeof(u->address), "%s", FX_USER);
	u->quota_bytes = 1u << 30;
	pthread_mutex_lock(&lock);
	u->quota_used = nbytes;
	pthread_mutex_unlock(&lock);
}

static int user_get(void *h, const char *address, struct rmail_user *u_r,
		    struct rmail_err *err)
{
	(void)h;
	if (!is_user(address))
		return rmail_err_set(err, RMAIL_E_NOENT, "no such user");
	fill_user(u_r);
	return 0;
}

static int user_verify(void *h, const char *address, const char *password,
		       struct rmail_user *u_r, struct rmail_err *err)
{
	(void)h;
	if (!is_user(address) || password == NULL ||
	    strcmp(password, "fxpass") != 0)
		return rmail_err_set(err, RMAIL_E_AUTH, "bad credentials");
	fill_user(u_r);
	return 0;
}

static int user_list(void *h, const char *domain, rmail_user_fn cb, void *arg,
		     struct rmail_err *err)
{
	struct rmail_user u;

	(void)h;
	(void)err;
	if (domain == NULL || strcasecmp(domain, FX_DOMAIN) == 0) {
		fill_user(&u);
		cb(arg, &u);
	}
	return 0;
}

static int resolve(void *h, const char *address, rmail_addr_fn cb, void *arg,
		   struct rmail_err *err)
{
	(void)h;
	if (!is_user(address))
		return rmail_err_set(err, RMAIL_E_NOENT, "not local");
	cb(arg, FX_USER);
	return 0;
}

static int domain_is_local(void *h, const char *domain)
{
	(void)h;
	return domain != NULL && strcasecmp(domain, FX_DOMAIN) == 0;
}

static int owns_address(void *h, const char *user, const char *address)
{
	(void)h;
	return is_user(user) && is_user(address);
}

static int quota_get(void *h, const char *user, uint64_t *used_r,
		     uint64_t *limit_r, struct rmail_err *err)
{
	(void)h;
	if (!is_user(user))
		return rmail_err_set(err, RMAIL_E_NOENT, "no such user");
	pthread_mutex_lock(&lock);
	*used_r = nbytes;
	pthread_mutex_unlock(&lock);
	*limit_r = 1u << 30;
	return 0;
}

static int mbox_status(void *h, const char *user, const char *name,
		       struct rmail_mbox_status *st_r, struct rmail_err *err)
{
	struct rmail_mbox_status st = {.size = sizeof(st)};

	(void)h;
	if (!is_user(user) || strcasecmp(name, "INBOX") != 0)
		return rmail_err_set(err, RMAIL_E_NOENT, "no such mailbox");
	if (st_r->size < sizeof(st))
		return rmail_err_set(err, RMAIL_E_INVAL, "short status");
	pthread_mutex_lock(&lock);
	st.messages = st.unseen = nmsgs;
	st.uidnext = nmsgs + 1;
	st.bytes = nbytes;
	pthread_mutex_unlock(&lock);
	st.uidvalidity = 1;
	/* a 1.0 store writes 1.0 bytes, whatever the caller's size */
	memcpy(st_r, &st, sizeof(st));
	return 0;
}

static int append_begin(void *h, const char *user, const char *mailbox,
			const struct rmail_append_opts *o,
			struct rmail_append **ap_r, struct rmail_err *err)
{
	(void)h;
	if (!is_user(user) || strcasecmp(mailbox, "INBOX") != 0)
		return rmail_err_set(err, RMAIL_E_NOENT, "no such mailbox");
	if (o != NULL && o->size < sizeof(*o))
		return rmail_err_set(err, RMAIL_E_INVAL, "short opts");
	*ap_r = calloc(1, sizeof(**ap_r));
	if (*ap_r == NULL)
		return rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
	return 0;
}

static int append_write(struct rmail_append *ap, const void *data, size_t len,
			struct rmail_err *err)
{
	(void)data;
	(void)err;
	ap->bytes += len;
	return 0;
}

static int append_commit(struct rmail_append *ap, uint32_t *uid_r,
			 uint32_t *uidvalidity_r, struct rmail_err *err)
{
	(void)err;
	pthread_mutex_lock(&lock);
	nmsgs++;
	nbytes += ap->bytes;
	if (uid_r != NULL)
		*uid_r = nmsgs;
	pthread_mutex_unlock(&lock);
	if (uidvalidity_r != NULL)
		*uidvalidity_r = 1;
	return 0;
}

static void append_free(struct rmail_append **ap)
{
	free(*ap);
	*ap = NULL;
}

static const struct rmail_store_ops fx10_store_ops = {
	.size = sizeof(struct rmail_store_ops),
	.user_get = user_get,
	.user_verify = user_verify,
	.user_list = user_list,
	.resolve = resolve,
	.domain_is_local = domain_is_local,
	.owns_address = owns_address,
	.quota_get = quota_get,
	.mbox_status = mbox_status,
	.append_begin = append_begin,
	.append_write = append_write,
	.append_commit = append_commit,
	.append_free = append_free,
};

static int fx10_store_init(struct rmail_mctx *m, struct rmail_err *err)
{
	(void)err;
	m->data = m->pool; /* any non-NULL handle */
	return 0;
}

RMAIL_MODULE_DEFINE(fx10store, RMAIL_KIND_STORAGE, "1.0",
		    .init = fx10_store_init, .ops = &fx10_store_ops);
