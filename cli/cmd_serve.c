/* rmail serve: run the daemon in the foreground (the default command). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "daemon.h"

static int serve_run(struct rm_cli *cli)
{
	struct rmail_err err;
	const char *path;
	bool exists = false;

	if (cli->argc > 0) {
		fprintf(stderr, "usage: rmail [-c FILE] serve\n");
		return 2;
	}
	path = rm_config_locate(cli->config_path, &exists);
	if (path == NULL) {
		rm_log(RMAIL_LOG_ERR, "no config file location");
		return 1;
	}
	if (!exists) {
		/* a file named explicitly must exist; only the bare default
		 * lookup creates one */
		if (cli->config_path != NULL ||
		    getenv("RMAIL_CONFIG") != NULL) {
			rm_log(RMAIL_LOG_ERR, "config file not found: %s",
			       path);
			return 1;
		}
		path = "config.json";
		rmail_err_clear(&err);
		if (rm_config_write_default(path, &err) < 0) {
			rm_log(RMAIL_LOG_ERR, "cannot write %s: %s", path,
			       err.msg);
			return 1;
		}
		printf("no config found: wrote the default config to "
		       "./config.json (review it, then start again or carry "
		       "on)\n");
		fflush(stdout);
	}
	return rm_daemon_run(path, true);
}

const struct rm_command rm_cmd_serve = {
	.name = "serve",
	.usage = "run the daemon in the foreground (default)",
	.run = serve_run,
};
