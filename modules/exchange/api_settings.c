/*
 * GET/POST /api/settings: the logged-in user's own preferences, kept by
 * the store (user_setting_get/set, ABI 1.4).  One so far:
 * spam_to_junk (true by default; false keeps spam in INBOX).
 */
#include <string.h>

#include "ex.h"

struct set_job {
	struct ex_req *r;
	int spam_to_junk;
	int rc;
	struct rmail_err err;
};

static const struct rmail_store_ops *settings_store(struct ex_req *r, void **h)
{
	const struct rmail_store_ops *ops = r->mod->core->store(h);

	if (ops == NULL ||
	    !RMAIL_HAS(ops, struct rmail_store_ops, user_setting_set) ||
	    ops->user_setting_get == NULL || ops->user_setting_set == NULL) {
		ex_error(r, 501, "The store keeps no user settings");
		return NULL;
	}
	return ops;
}

static void answer(struct ex_req *r, int spam_to_junk)
{
	ex_json(r, 200, json_pack("{s:b}", "spam_to_junk", spam_to_junk));
}

void ex_api_settings_get(struct ex_req *r)
{
	const struct rmail_store_ops *ops;
	struct rmail_err err;
	char v[16];
	void *h;

	if ((ops = settings_store(r, &h)) == NULL)
		return;
	rmail_err_clear(&err);
	if (ops->user_setting_get(h, r->user.address, "spam_to_junk", v,
				  sizeof(v), &err) < 0) {
		ex_error(r, 503, "Store unavailable");
		return;
	}
	answer(r, strcmp(v, "no") != 0);
}

static void set_work(void *arg, const volatile int *cancel)
{
	struct set_job *j = arg;
	void *h;
	const struct rmail_store_ops *ops = j->r->mod->core->store(&h);

	(void)cancel;
	rmail_err_clear(&j->err);
	/* the default is stored as no setting at all */
	j->rc = ops->user_setting_set(h, j->r->user.address, "spam_to_junk",
				      j->spam_to_junk ? NULL : "no", &j->err);
}

static void set_done(void *arg, int cancelled)
{
	struct set_job *j = arg;

	if (!ex_async_end(j->r))
		return;
	if (cancelled || j->rc < 0)
		ex_error(j->r, 503, "Store unavailable");
	else
		answer(j->r, j->spam_to_junk);
}

void ex_api_settings_post(struct ex_req *r)
{
	struct set_job *j;
	json_t *body, *v;
	void *h;

	if (settings_store(r, &h) == NULL || (body = ex_json_parse(r)) == NULL)
		return;
	v = json_object_get(body, "spam_to_junk");
	if (!json_is_boolean(v) || json_object_size(body) != 1) {
		json_decref(body);
		ex_error(r, 400, "Expected {\"spam_to_junk\": true|false}");
		return;
	}
	j = r->mod->core->pcalloc(r->pool, sizeof(*j));
	j->r = r;
	j->spam_to_junk = json_is_true(v);
	json_decref(body);
	ex_async_begin(r);
	if (r->mod->core->work_submit(RMAIL_WORK_WRITE, set_work, set_done,
				      j) == NULL) {
		j->rc = -1;
		set_done(j, 0);
	}
}
