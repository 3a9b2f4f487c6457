/* `rmail check-store [--repair]` */
#include <stdio.h>
#include <string.h>

#include "rm.h"
#include "store_check.h"

static int run(struct rm_cli *cli)
{
	const struct rmail_store_ops *ops;
	const struct rm_config *conf;
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
	conf = rm_conf();
	if (conf == NULL || conf->mail_root == NULL) {
		fprintf(stderr, "check-store: no mail_root\n");
		return 1;
	}
	left = rm_store_check(conf->mail_root, repair, stdout, &found);
	if (left < 0)
		return 1;
	printf("check-store: %u problem%s found, %d left\n", found,
	       found == 1 ? "" : "s", left);
	return left == 0 ? 0 : 1;
}

const struct rm_command rm_cmd_check_store = {
	.name = "check-store",
	.usage = "check-store [--repair]   check (and fix) the mail store",
	.run = run,
};
