/*
 * The command line: the dispatcher (cli.c) and what the commands share.
 * Part of the rmail executable, never of the daemon's core: nothing
 * under core/ includes this.
 */
#ifndef RM_CLI_H
#define RM_CLI_H

#include <stdbool.h>

#include "rm.h"

/* one file per command: cmd_serve.c, cmd_check.c, cmd_reload.c ... */
struct rm_cli {
	const char *config_path; /* -c or NULL */
	int argc;		 /* after the command name */
	char **argv;
	/* rm_cli_store: the modules' start-up log stays quiet (rmail
	 * check asks the store itself and prints its answer) */
	bool quiet_init;
};
struct rm_command {
	const char *name;
	const char *usage;
	int (*run)(struct rm_cli *cli);
};

/* For CLI commands that work on the store with or without a running
 * daemon: load the config, load and init the storage module (no
 * start, no listeners).  Problems go to stderr; -1 on failure. */
int rm_cli_store(struct rm_cli *cli, const struct rmail_store_ops **ops_r,
		 void **h_r);
/* read a password: from stdin when from_stdin, else prompt twice on the
 * terminal without echo; malloc'd, caller wipes and frees */
char *rm_cli_password(bool from_stdin, const char *prompt);

/* as root, become the mail root's owner (run_as, else the owner of
 * mail_root), so files a command writes belong to the service user */
int rm_cli_become_owner(const struct rm_config *conf);
/* TXT records of name, each string-concatenated, to fn, through the
 * core's resolver configured from conf's `dns` section; an
 * enum ma_dns_rcode (dkim_lookup.c) */
int rm_cli_txt_lookup(const struct rm_config *conf, const char *name,
		      void (*fn)(void *arg, const char *txt, size_t len),
		      void *arg);

/* the whole command line; returns the exit status */
int rm_cli_main(int argc, char **argv);
/* locate and load the config; problems printed, NULL on error */
struct rm_config *rm_cli_load_config(const struct rm_cli *cli);

/* One table of commands, in cli.c; each command's file defines one. */
extern const struct rm_command rm_cmd_serve, rm_cmd_check, rm_cmd_reload,
	rm_cmd_user, rm_cmd_alias, rm_cmd_quota, rm_cmd_check_store,
	rm_cmd_import, rm_cmd_export, rm_cmd_queue, rm_cmd_diagnose,
	rm_cmd_install, rm_cmd_ctl, rm_cmd_dmarc, rm_cmd_dkim, rm_cmd_dns;
/* appended */
extern const struct rm_command rm_cmd_tlsrpt;
extern const struct rm_command rm_cmd_sieve;
extern const struct rm_command rm_cmd_index;
/* cmd_dns_tls.c: the MTA-STS, TLS-RPT and TLSA part of `rmail dns` */
void rm_dns_print_transport(const struct rm_config *c, const char *domain,
			    const char *sts_mode, const char *tlsrpt_rua);

#endif
