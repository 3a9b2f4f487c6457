/* rmail index rebuild ADDRESS: the user's header cache and full-text
 * index built again from the store (docs/storage.md). */
#include <stdio.h>

#include "cmd_store.h"
#include "index/index.h"

static int index_rebuild(struct rm_cli *cli, int argc, char **argv)
{
	const struct rmail_store_ops *ops;
	struct rmail_err err;
	const char *pos[1];
	const struct rm_opt opts[] = {{NULL, false, NULL, NULL}};
	int64_t n;
	size_t npos;
	void *h;
	int ret;

	ret = rm_cmd_args("index rebuild", "ADDRESS", argc, argv, opts, pos, 1,
			  1, &npos);
	if (ret != RM_EXIT_OK)
		return ret;
	if (rm_cli_store(cli, &ops, &h) < 0)
		return RM_EXIT_FAIL;
	rmail_err_clear(&err);
	n = rm_index_rebuild(pos[0], &err);
	if (n < 0)
		return rm_cmd_fail("index rebuild", &err);
	printf("index of %s rebuilt: %lld messages\n", pos[0], (long long)n);
	return RM_EXIT_OK;
}

static int index_run(struct rm_cli *cli)
{
	static const struct rm_subcmd subs[] = {
		{"rebuild", index_rebuild},
		{NULL, NULL},
	};

	return rm_cmd_dispatch(cli, subs, "index rebuild ADDRESS");
}

const struct rm_command rm_cmd_index = {
	.name = "index",
	.usage = "rebuild: the per-host header cache and full-text index",
	.run = index_run,
};
