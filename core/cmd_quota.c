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
		{ "--json", false, NULL, &json },
		{ NULL, false, NULL, NULL },
	};
	uint64_t used, limit;
	size_t n;
	void *h;

	if (rm_cmd_parse("quota get", argc, argv, opts, pos, 1, &n) < 0)
		return RM_EXIT_USAGE;
	if (n != 1) {
		rm_cmd_failf("quota get", "usage: rmail quota get ADDRESS "
			     "[--json]");
		return RM_EXIT_USAGE;
	}
	if (rm_cli_store(cli, &ops, &h) < 0)
		return RM_EXIT_FAIL;
	rmail_err_clear(&err);
	if (ops->quota_get(h, pos[0], &used, &limit, &err) < 0)
		return rm_cmd_fail("quota get", &err);
	if (json) {
		json_t *o = json_pack("{s:s, s:I, s:I}", "address", pos[0],
				      "used_bytes", (json_int_t)used,
				      "limit_bytes", (json_int_t)limit);

		json_dumpf(o, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
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
	const struct rm_opt opts[] = { { NULL, false, NULL, NULL } };
	size_t n;
	void *h;

	if (rm_cmd_parse("quota recalc", argc, argv, opts, pos, 1, &n) < 0)
		return RM_EXIT_USAGE;
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
	if (cli->argc >= 1 && strcmp(cli->argv[0], "get") == 0)
		return quota_get(cli, cli->argc - 1, cli->argv + 1);
	if (cli->argc >= 1 && strcmp(cli->argv[0], "recalc") == 0)
		return quota_recalc(cli, cli->argc - 1, cli->argv + 1);
	fprintf(stderr, "usage: rmail quota get ADDRESS [--json] | "
		"recalc [ADDRESS]\n");
	return RM_EXIT_USAGE;
}

const struct rm_command rm_cmd_quota = {
	.name = "quota",
	.usage = "get|recalc: mailbox quota usage",
	.run = quota_run,
};
