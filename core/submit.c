/*
 * The submission entries of the services table.  The service itself
 * (spool.c, deliver.c, queue.c ...) belongs to the daemon half of the
 * core; it is referenced weakly so the config-only test builds, which
 * compile services.c without it, still link and answer "not available".
 */
#include "submit_int.h"

#define NOT_YET "message submission is not available"

int rm_rcpt_policy(const char *rcpt, const char *auth_user,
		   uint64_t size_hint);
struct rmail_submit *rm_submit_begin(const struct rmail_submit_opts *o,
				     struct rmail_err *err);
int rm_submit_write(struct rmail_submit *s, const void *data, size_t n,
		    struct rmail_err *err);
void rm_submit_commit(struct rmail_submit *s, rmail_submit_fn cb, void *arg);
void rm_submit_abort(struct rmail_submit **s);

#pragma weak rm_rcpt_check
#pragma weak rm_spool_begin
#pragma weak rm_spool_write
#pragma weak rm_spool_commit
#pragma weak rm_spool_abort

int rm_rcpt_policy(const char *rcpt, const char *auth_user,
		   uint64_t size_hint)
{
	if (&rm_rcpt_check == NULL)
		return RMAIL_RCPT_TEMPFAIL;
	return rm_rcpt_check(rcpt, auth_user, size_hint);
}

struct rmail_submit *rm_submit_begin(const struct rmail_submit_opts *o,
				     struct rmail_err *err)
{
	if (&rm_spool_begin == NULL) {
		rmail_err_set(err, RMAIL_E_NOTIMPL, NOT_YET);
		return NULL;
	}
	return rm_spool_begin(o, err);
}

int rm_submit_write(struct rmail_submit *s, const void *data, size_t n,
		    struct rmail_err *err)
{
	if (&rm_spool_write == NULL || s == NULL)
		return rmail_err_set(err, RMAIL_E_NOTIMPL, NOT_YET);
	return rm_spool_write(s, data, n, err);
}

void rm_submit_commit(struct rmail_submit *s, rmail_submit_fn cb, void *arg)
{
	struct rmail_submit_result r = { .ok = 0, .code = 451,
					 .text = "4.3.0 " NOT_YET };

	if (&rm_spool_commit != NULL && s != NULL) {
		rm_spool_commit(s, cb, arg);
		return;
	}
	if (cb != NULL)
		cb(arg, &r);
}

void rm_submit_abort(struct rmail_submit **s)
{
	if (&rm_spool_abort != NULL) {
		rm_spool_abort(s);
		return;
	}
	if (s != NULL)
		*s = NULL;
}
