/* `rmail check-store [--repair]`: the store's own check op.  The core
 * knows nothing of the on-disk layout; a store without the op (1.0, or
 * one that does not implement it) is told apart with one line. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "index/index.h"

static void finding(void *arg, const char *where, const char *what,
		    int repaired)
{
	unsigned *found = arg;

	(*found)++;
	printf("%s%s%s%s\n", where != NULL ? where : "",
	       where != NULL ? ": " : "", what, repaired ? " (repaired)" : "");
}

static int run(struct rm_cli *cli)
{
	const struct rmail_store_ops *ops;
	struct rmail_err err;
	bool repair = false;
	unsigned found = 0;
	void *h;
	int i, left;

	for (i = 0; i < cli->argc; i++) {
		if (strcmp(cli->argv[i], "--repair") == 0) {
			repair = true;
		} else {
			fprintf(stderr,
				"usage: rmail check-store [--repair]\n");
			return 2;
		}
	}
	/* opening the store validates the config and the FORMAT file */
	if (rm_cli_store(cli, &ops, &h) < 0)
		return 1;
	if (!RMAIL_HAS(ops, struct rmail_store_ops, check) ||
	    ops->check == NULL) {
		fprintf(stderr, "check-store: this store cannot check itself "
				"(no check op)\n");
		return 1;
	}
	rmail_err_clear(&err);
	left = ops->check(h, repair, finding, &found, &err);
	if (left < 0) {
		fprintf(stderr, "check-store: %s\n", err.msg);
		return 1;
	}
	/* the per-host index (core/index): verified, or dropped after a
	 * repair changed the store under it */
	left += rm_index_check(repair, repair && found > 0, finding, &found);
	printf("check-store: %u problem%s found, %d left\n", found,
	       found == 1 ? "" : "s", left);
	return left == 0 ? 0 : 1;
}

const struct rm_command rm_cmd_check_store = {
	.name = "check-store",
	.usage = "check-store [--repair]   check (and fix) the mail store",
	.run = run,
};
