/* GET/POST /api/aliases and DELETE /api/aliases/{alias}: admins only. */
#include <string.h>

#include "ex.h"

#define TARGETS_MAX 64

static int admin_only(struct ex_req *r)
{
	if (!r->user.admin) {
		ex_error(r, 403, "Admin only");
		return -1;
	}
	return 0;
}

static void on_alias(void *arg, const char *alias, const char *const *t,
		     size_t n)
{
	json_t *arr = arg, *ts = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(ts, json_string(t[i]));
	json_array_append_new(
		arr, json_pack("{s:s,s:o}", "alias", alias, "targets", ts));
}

void ex_api_aliases_get(struct ex_req *r)
{
	const struct rmail_store_ops *ops;
	struct rmail_err err;
	json_t *arr;
	void *h;

	if (admin_only(r) < 0)
		return;
	ops = r->mod->core->store(&h);
	arr = json_array();
	rmail_err_clear(&err);
	if (ops->alias_list(h, NULL, on_alias, arr, &err) < 0) {
		json_decref(arr);
		ex_error(r, 503, "Store unavailable");
		return;
	}
	ex_json(r, 200, json_pack("{s:o}", "aliases", arr));
}

void ex_api_aliases_post(struct ex_req *r)
{
	const struct rmail_store_ops *ops;
	const char *targets[TARGETS_MAX], *alias, *name;
	struct rmail_err err;
	json_t *j, *ja, *jt, *v;
	size_t i, n = 0;
	void *h;

	if (admin_only(r) < 0 || (j = ex_json_parse(r)) == NULL)
		return;
	ja = json_object_get(j, "alias");
	jt = json_object_get(j, "targets");
	if (json_is_string(jt)) {
		if (ex_json_addr(jt, &name, &targets[0]) < 0)
			goto bad;
		n = 1;
	} else if (json_is_array(jt) && json_array_size(jt) > 0 &&
		   json_array_size(jt) <= TARGETS_MAX) {
		json_array_foreach(jt, i, v)
		{
			if (ex_json_addr(v, &name, &targets[n]) < 0)
				goto bad;
			n++;
		}
	} else {
		goto bad;
	}
	if (ja == NULL || ex_json_addr(ja, &name, &alias) < 0)
		goto bad;
	ops = r->mod->core->store(&h);
	rmail_err_clear(&err);
	if (ops->alias_add(h, alias, targets, n, &err) < 0) {
		int st =
			err.code == RMAIL_E_EXISTS ? 409
			: err.code == RMAIL_E_INVAL || err.code == RMAIL_E_NOENT
				? 400
				: 503;

		json_decref(j);
		ex_error(r, st, st == 409 ? "Alias exists" : err.msg);
		return;
	}
	{
		json_t *out =
			json_pack("{s:s,s:O}", "alias", alias, "targets", jt);

		json_decref(j);
		ex_json(r, 201, out);
	}
	return;
bad:
	json_decref(j);
	ex_error(r, 400, "Expected {\"alias\": address, \"targets\": [...]}");
}

void ex_api_aliases_delete(struct ex_req *r)
{
	const struct rmail_store_ops *ops;
	struct rmail_err err;
	void *h;

	if (admin_only(r) < 0)
		return;
	if (!ex_str_safe(r->params[0]) ||
	    strlen(r->params[0]) > RMAIL_ADDR_MAX) {
		ex_error(r, 400, "Bad alias");
		return;
	}
	ops = r->mod->core->store(&h);
	rmail_err_clear(&err);
	if (ops->alias_del(h, r->params[0], &err) < 0) {
		if (err.code == RMAIL_E_NOENT)
			ex_error(r, 404, "No such alias");
		else if (err.code == RMAIL_E_INVAL)
			ex_error(r, 400, "Bad alias");
		else
			ex_error(r, 503, "Store unavailable");
		return;
	}
	ex_json(r, 200, json_pack("{s:s}", "deleted", r->params[0]));
}
