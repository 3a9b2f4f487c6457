/* GET /healthz: 200 when the listeners are up and the mail root takes
 * writes; 503 otherwise.  No authentication, no details for strangers. */
#include <stdio.h>
#include <unistd.h>

#include "ex.h"

void ex_healthz(struct ex_req *r)
{
	const char *root = ex.core->conf_str("mail_root");
	void *h;

	if (!ex.started || root == NULL || access(root, W_OK) != 0 ||
	    ex.core->store(&h) == NULL) {
		ex_json(r, 503, json_pack("{s:s}", "status", "unavailable"));
		return;
	}
	ex_json(r, 200, json_pack("{s:s}", "status", "ok"));
}
