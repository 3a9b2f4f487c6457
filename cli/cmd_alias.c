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
	const struct rm_opt opts[] = {{NULL, false, NULL, NULL}};
	size_t n;
	void *h;
	int ret;

	ret = rm_cmd_args("alias add", "ALIAS TARGET...", argc, argv, opts, pos,
			  2, MAX_TARGETS + 1, &n);
	if (ret != RM_EXIT_OK)
		return ret;
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
	const struct rm_opt opts[] = {{NULL, false, NULL, NULL}};
	size_t n;
	void *h;
	int ret;

	ret = rm_cmd_args("alias del", "ALIAS", argc, argv, opts, pos, 1, 1,
			  &n);
	if (ret != RM_EXIT_OK)
		return ret;
	if (rm_cli_store(cli, &ops, &h) < 0)
		return RM_EXIT_FAIL;
	rmail_err_clear(&err);
	if (ops->alias_del(h, pos[0], &err) < 0)
		return rm_cmd_fail("alias del", &err);
	printf("alias %s deleted\n", pos[0]);
	return RM_EXIT_OK;
}

static void list_one(void *arg, const char *alias, const char *const *t,
		     size_t n)
{
	struct rm_cmd_list *lc = arg;
	json_t *targets;
	size_t i;

	if (lc->json) {
		targets = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(targets, json_string(t[i]));
		json_array_append_new(lc->arr,
				      json_pack("{s:s, s:o}", "alias", alias,
						"targets", targets));
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
	struct rm_cmd_list lc = {0};
	struct rmail_err err;
	const char *pos[1];
	const struct rm_opt opts[] = {
		{"--json", false, NULL, &lc.json},
		{NULL, false, NULL, NULL},
	};
	size_t n;
	void *h;
	int ret;

	ret = rm_cmd_args("alias list", "[DOMAIN] [--json]", argc, argv, opts,
			  pos, 0, 1, &n);
	if (ret != RM_EXIT_OK)
		return ret;
	if (rm_cli_store(cli, &ops, &h) < 0)
		return RM_EXIT_FAIL;
	lc.arr = json_array();
	rmail_err_clear(&err);
	ret = ops->alias_list(h, n == 1 ? pos[0] : NULL, list_one, &lc, &err);
	return rm_cmd_list_end("alias list", &lc, ret, &err);
}

static int alias_run(struct rm_cli *cli)
{
	static const struct rm_subcmd subs[] = {
		{"add", alias_add},
		{"del", alias_del},
		{"list", alias_list},
		{NULL, NULL},
	};

	return rm_cmd_dispatch(cli, subs,
			       "alias add ALIAS TARGET... | "
			       "del ALIAS | list [DOMAIN] [--json]");
}

const struct rm_command rm_cmd_alias = {
	.name = "alias",
	.usage = "add|del|list: manage address aliases",
	.run = alias_run,
};
