/*
 * rmail ctl COMMAND...: send one request to the running daemon's control
 * socket and print the answer.  Modules register their own commands
 * ("exchange lockout-reset [IP]", ...), so administrators and scripts
 * need one generic client rather than a CLI command per module.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "daemon.h"

#define CTL_OUT 16384

static int ctl_run(struct rm_cli *cli)
{
	struct rm_config *conf;
	struct rmail_err err;
	char *out;
	int rc = 0;

	if (cli->argc < 1 || strcmp(cli->argv[0], "--help") == 0 ||
	    strcmp(cli->argv[0], "-h") == 0) {
		fprintf(stderr, "usage: rmail ctl COMMAND [ARGS...]\n"
				"  e.g. rmail ctl status, rmail ctl exchange "
				"lockout-reset 192.0.2.7\n");
		return cli->argc < 1 ? 2 : 0;
	}
	conf = rm_cli_load_config(cli);
	if (conf == NULL)
		return 1;
	if (conf->control_socket == NULL) {
		rm_log(RMAIL_LOG_ERR, "the config names no control socket");
		rm_config_free(&conf);
		return 1;
	}
	out = rm_xmalloc(CTL_OUT);
	rmail_err_clear(&err);
	if (rm_control_call(conf->control_socket, cli->argc,
			    (const char *const *)cli->argv, out, CTL_OUT,
			    &err) < 0) {
		fprintf(stderr, "rmail: %s\n", err.msg);
		rc = 1;
	} else {
		fputs(out, stdout);
		if (out[0] != '\0' && out[strlen(out) - 1] != '\n')
			fputc('\n', stdout);
	}
	free(out);
	rm_config_free(&conf);
	return rc;
}

const struct rm_command rm_cmd_ctl = {
	.name = "ctl",
	.usage = "send a control command to the running daemon",
	.run = ctl_run,
};
