/*
 * The submission entries of the services table.  The service itself
 * lives in spool.c (objects, commit), deliver.c, queue.c, mx.c,
 * smtp_client.c and bounce.c; see submit_int.h.
 */
#include "submit_int.h"

int rm_rcpt_policy(const char *rcpt, const char *auth_user, uint64_t size_hint)
{
	return rm_rcpt_check(rcpt, auth_user, size_hint);
}

struct rmail_submit *rm_submit_begin(const struct rmail_submit_opts *o,
				     struct rmail_err *err)
{
	/* without a store nothing could be delivered or bounced */
	if (rm_store(NULL) == NULL) {
		rmail_err_set(err, RMAIL_E_NOTIMPL,
			      "message submission needs a storage module");
		return NULL;
	}
	return rm_spool_begin(o, err);
}

int rm_submit_write(struct rmail_submit *s, const void *data, size_t n,
		    struct rmail_err *err)
{
	if (s == NULL)
		return rmail_err_set(err, RMAIL_E_INVAL, "no submission");
	return rm_spool_write(s, data, n, err);
}

void rm_submit_commit(struct rmail_submit *s, rmail_submit_fn cb, void *arg)
{
	struct rmail_submit_result r = {
		.ok = 0, .code = 451, .text = "4.3.0 no submission"};

	if (s != NULL) {
		rm_spool_commit(s, cb, arg);
		return;
	}
	if (cb != NULL)
		cb(arg, &r);
}

void rm_submit_abort(struct rmail_submit **s)
{
	rm_spool_abort(s);
}
