/* rmail quota get|recalc: usage against the limit, and rebuilding it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cmd_store.h"

static int quota_get(struct rm_cli *cli, int argc, char **argv)
{
	const struct rmail_store_ops *ops;
	struct rmail_err err;
	const char *pos[1];
	bool json = false;
	const struct rm_opt opts[] = {
		{"--json", false, NULL, &json},
		{NULL, false, NULL, NULL},
	};
	uint64_t used, limit;
	size_t n;
	void *h;
	int ret;

	ret = rm_cmd_args("quota get", "ADDRESS [--json]", argc, argv, opts,
			  pos, 1, 1, &n);
	if (ret != RM_EXIT_OK)
		return ret;
	if (rm_cli_store(cli, &ops, &h) < 0)
		return RM_EXIT_FAIL;
	rmail_err_clear(&err);
	if (ops->quota_get(h, pos[0], &used, &limit, &err) < 0)
		return rm_cmd_fail("quota get", &err);
	if (json) {
		json_t *o = json_pack("{s:s, s:I, s:I}", "address", pos[0],
				      "used_bytes", (json_int_t)used,
				      "limit_bytes", (json_int_t)limit);

		rm_cmd_json_print(o);
		json_decref(o);
	} else if (limit == 0) {
		printf("%s: %llu bytes used, no limit\n", pos[0],
		       (unsigned long long)used);
	} else {
		printf("%s: %llu of %llu bytes used (%.1f%%)\n", pos[0],
		       (unsigned long long)used, (unsigned long long)limit,
		       100.0 * (double)used / (double)limit);
	}
	return RM_EXIT_OK;
}

static int quota_recalc(struct rm_cli *cli, int argc, char **argv)
{
	const struct rmail_store_ops *ops;
	struct rmail_err err;
	const char *pos[1];
	const struct rm_opt opts[] = {{NULL, false, NULL, NULL}};
	size_t n;
	void *h;
	int ret;

	ret = rm_cmd_args("quota recalc", "[ADDRESS]", argc, argv, opts, pos, 0,
			  1, &n);
	if (ret != RM_EXIT_OK)
		return ret;
	if (rm_cli_store(cli, &ops, &h) < 0)
		return RM_EXIT_FAIL;
	rmail_err_clear(&err);
	if (ops->quota_recalc(h, n == 1 ? pos[0] : NULL, &err) < 0)
		return rm_cmd_fail("quota recalc", &err);
	printf("quota usage of %s recalculated\n",
	       n == 1 ? pos[0] : "every user");
	return RM_EXIT_OK;
}

static int quota_run(struct rm_cli *cli)
{
	static const struct rm_subcmd subs[] = {
		{"get", quota_get},
		{"recalc", quota_recalc},
		{NULL, NULL},
	};

	return rm_cmd_dispatch(cli, subs,
			       "quota get ADDRESS [--json] | "
			       "recalc [ADDRESS]");
}

const struct rm_command rm_cmd_quota = {
	.name = "quota",
	.usage = "get|recalc: mailbox quota usage",
	.run = quota_run,
};
