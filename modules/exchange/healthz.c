/* GET /healthz: 200 when the listeners are up and the store says it can
 * serve; 503 otherwise.  No authentication, no details for strangers. */
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "ex.h"

static bool store_serves(const struct ex_req *r)
{
	const struct rmail_store_ops *ops;
	struct rmail_err err;
	const char *root;
	void *h;

	ops = r->mod->core->store(&h);
	if (ops == NULL)
		return false;
	if (RMAIL_HAS(ops, struct rmail_store_ops, health) &&
	    ops->health != NULL) {
		rmail_err_clear(&err);
		return ops->health(h, NULL, NULL, &err) == 0;
	}
	/* a 1.0 store cannot say: the mail root taking writes is the
	 * best guess the core config allows */
	root = r->mod->core->conf_str("mail_root");
	return root != NULL && access(root, W_OK) == 0;
}

void ex_healthz(struct ex_req *r)
{
	if (!r->mod->started || !store_serves(r)) {
		ex_json(r, 503, json_pack("{s:s}", "status", "unavailable"));
		return;
	}
	ex_json(r, 200, json_pack("{s:s}", "status", "ok"));
}
