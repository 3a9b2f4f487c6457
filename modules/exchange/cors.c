/* CORS: the configured origins get the Access-Control headers; other
 * origins get none, which is how a browser learns it is refused. */
#include <string.h>

#include "ex.h"

int ex_cors_allowed(const struct ex_mod *mod, const char *origin)
{
	const struct rmail_strlist *l = &ex_conf(mod)->cors_origins;
	size_t i;

	if (origin == NULL || !ex_str_safe(origin))
		return 0;
	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], "*") == 0 || strcmp(l->v[i], origin) == 0)
			return 1;
	return 0;
}

const char *ex_cors_headers(struct ex_req *r, int preflight)
{
	if (!ex_cors_allowed(r->mod, r->origin))
		return "";
	if (!preflight)
		return r->mod->core->psprintf(
			r->pool,
			"Access-Control-Allow-Origin: %s\r\n"
			"Vary: Origin\r\n",
			r->origin);
	return "Access-Control-Allow-Methods: GET, POST, DELETE, OPTIONS\r\n"
	       "Access-Control-Allow-Headers: Authorization, Content-Type\r\n"
	       "Access-Control-Max-Age: 600\r\n";
}
