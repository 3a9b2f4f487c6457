/* rmail alias add|del|list: per-domain aliases through the store ops. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cmd_store.h"

#define MAX_TARGETS 64

static int alias_add(struct rm_cli *cli, int argc, char **argv)
{
	const struct rmail_store_ops *ops;
	struct rmail_err err;
	const char *pos[MAX_TARGETS + 1];
	const struct rm_opt opts[] = { { NULL, false, NULL, NULL } };
	size_t n;
	void *h;

	if (rm_cmd_parse("alias add", argc, argv, opts, pos, MAX_TARGETS + 1,
			 &n) < 0)
		return RM_EXIT_USAGE;
	if (n < 2) {
		rm_cmd_failf("alias add", "usage: rmail alias add ALIAS "
			     "TARGET...");
		return RM_EXIT_USAGE;
	}
	if (rm_cli_store(cli, &ops, &h) < 0)
		return RM_EXIT_FAIL;
	rmail_err_clear(&err);
	if (ops->alias_add(h, pos[0], pos + 1, n - 1, &err) < 0)
		return rm_cmd_fail("alias add", &err);
	printf("alias %s added\n", pos[0]);
	return RM_EXIT_OK;
}

static int alias_del(struct rm_cli *cli, int argc, char **argv)
{
	const struct rmail_store_ops *ops;
	struct rmail_err err;
	const char *pos[1];
	const struct rm_opt opts[] = { { NULL, false, NULL, NULL } };
	size_t n;
	void *h;

	if (rm_cmd_parse("alias del", argc, argv, opts, pos, 1, &n) < 0)
		return RM_EXIT_USAGE;
	if (n != 1) {
		rm_cmd_failf("alias del", "usage: rmail alias del ALIAS");
		return RM_EXIT_USAGE;
	}
	if (rm_cli_store(cli, &ops, &h) < 0)
		return RM_EXIT_FAIL;
	rmail_err_clear(&err);
	if (ops->alias_del(h, pos[0], &err) < 0)
		return rm_cmd_fail("alias del", &err);
	printf("alias %s deleted\n", pos[0]);
	return RM_EXIT_OK;
}

struct list_ctx {
	bool json;
	json_t *arr;
};

static void list_one(void *arg, const char *alias, const char *const *t,
		     size_t n)
{
	struct list_ctx *lc = arg;
	json_t *targets;
	size_t i;

	if (lc->json) {
		targets = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(targets, json_string(t[i]));
		json_array_append_new(lc->arr, json_pack("{s:s, s:o}",
			"alias", alias, "targets", targets));
		return;
	}
	printf("%s ->", alias);
	for (i = 0; i < n; i++)
		printf(" %s", t[i]);
	putchar('\n');
}

static int alias_list(struct rm_cli *cli, int argc, char **argv)
{
	const struct rmail_store_ops *ops;
	struct list_ctx lc = { 0 };
	struct rmail_err err;
	const char *pos[1];
	const struct rm_opt opts[] = {
		{ "--json", false, NULL, &lc.json },
		{ NULL, false, NULL, NULL },
	};
	size_t n;
	void *h;
	int ret;

	if (rm_cmd_parse("alias list", argc, argv, opts, pos, 1, &n) < 0)
		return RM_EXIT_USAGE;
	if (rm_cli_store(cli, &ops, &h) < 0)
		return RM_EXIT_FAIL;
	lc.arr = json_array();
	rmail_err_clear(&err);
	ret = ops->alias_list(h, n == 1 ? pos[0] : NULL, list_one, &lc, &err);
	if (ret == 0 && lc.json) {
		json_dumpf(lc.arr, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
	}
	json_decref(lc.arr);
	if (ret < 0)
		return rm_cmd_fail("alias list", &err);
	return RM_EXIT_OK;
}

static int alias_run(struct rm_cli *cli)
{
	if (cli->argc >= 1 && strcmp(cli->argv[0], "add") == 0)
		return alias_add(cli, cli->argc - 1, cli->argv + 1);
	if (cli->argc >= 1 && strcmp(cli->argv[0], "del") == 0)
		return alias_del(cli, cli->argc - 1, cli->argv + 1);
	if (cli->argc >= 1 && strcmp(cli->argv[0], "list") == 0)
		return alias_list(cli, cli->argc - 1, cli->argv + 1);
	fprintf(stderr, "usage: rmail alias add ALIAS TARGET... | "
		"del ALIAS | list [DOMAIN] [--json]\n");
	return RM_EXIT_USAGE;
}

const struct rm_command rm_cmd_alias = {
	.name = "alias",
	.usage = "add|del|list: manage address aliases",
	.run = alias_run,
};
