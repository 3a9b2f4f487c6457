/*
 * Message submission: placeholders.  Issue 3 (SMTP: local delivery,
 * queue and SMTP client) implements these; until then every call fails
 * cleanly so protocols can be written and tested against the table.
 */
#include "rm.h"

#define NOT_YET "message submission is not available yet"

int rm_rcpt_policy(const char *rcpt, const char *auth_user,
		   uint64_t size_hint);
struct rmail_submit *rm_submit_begin(const struct rmail_submit_opts *o,
				     struct rmail_err *err);
int rm_submit_write(struct rmail_submit *s, const void *data, size_t n,
		    struct rmail_err *err);
void rm_submit_commit(struct rmail_submit *s, rmail_submit_fn cb, void *arg);
void rm_submit_abort(struct rmail_submit **s);

int rm_rcpt_policy(const char *rcpt, const char *auth_user,
		   uint64_t size_hint)
{
	(void)rcpt;
	(void)auth_user;
	(void)size_hint;
	return RMAIL_RCPT_TEMPFAIL;
}

struct rmail_submit *rm_submit_begin(const struct rmail_submit_opts *o,
				     struct rmail_err *err)
{
	(void)o;
	rmail_err_set(err, RMAIL_E_NOTIMPL, NOT_YET);
	return NULL;
}

int rm_submit_write(struct rmail_submit *s, const void *data, size_t n,
		    struct rmail_err *err)
{
	(void)s;
	(void)data;
	(void)n;
	return rmail_err_set(err, RMAIL_E_NOTIMPL, NOT_YET);
}

void rm_submit_commit(struct rmail_submit *s, rmail_submit_fn cb, void *arg)
{
	struct rmail_submit_result r = { .ok = 0, .code = 451,
					 .text = "4.3.0 " NOT_YET };

	(void)s;
	if (cb != NULL)
		cb(arg, &r);
}

void rm_submit_abort(struct rmail_submit **s)
{
	if (s != NULL)
		*s = NULL;
}
