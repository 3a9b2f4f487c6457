/*
 * The command dispatcher.  Each command lives in its own cmd_*.c file
 * and is listed once, in the table below: `rmail --help` prints it in
 * this order.
 */
#include <errno.h>
#include <fcntl.h>
#include <dlfcn.h>
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "daemon.h"

static const struct rm_command *const commands[] = {
	&rm_cmd_serve,	&rm_cmd_check, &rm_cmd_reload,	    &rm_cmd_user,
	&rm_cmd_alias,	&rm_cmd_quota, &rm_cmd_check_store, &rm_cmd_import,
	&rm_cmd_export, &rm_cmd_queue, &rm_cmd_diagnose,    &rm_cmd_install,
	&rm_cmd_ctl,	&rm_cmd_dmarc, &rm_cmd_dkim,	    &rm_cmd_dns,
	&rm_cmd_tlsrpt, &rm_cmd_sieve, &rm_cmd_index,
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

struct rm_config *rm_cli_load_config(const struct rm_cli *cli)
{
	struct rm_config *conf = NULL;
	const char *path;
	bool exists = false;

	path = rm_config_locate(cli->config_path, &exists);
	if (path == NULL || !exists) {
		rm_log(RMAIL_LOG_ERR, "config file not found: %s",
		       path != NULL ? path : "(none)");
		return NULL;
	}
	if (rm_config_load(path, &conf, rm_config_report_log, NULL) < 0)
		return NULL;
	return conf;
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: rmail [-c FILE] [COMMAND [ARGS...]]\n"
		   "       rmail --version | --help\n\n"
		   "options:\n"
		   "  -c, --config FILE  config file (default: $RMAIL_CONFIG,"
		   " ./config.json,\n"
		   "                     /etc/rmail/config.json)\n\n"
		   "commands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		if (commands[i] != NULL)
			fprintf(f, "  %-12s %s\n", commands[i]->name,
				commands[i]->usage);
}

static const struct rm_command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (commands[i] != NULL && strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

int rm_cli_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const struct rm_command *cmd;
	struct rm_cli cli = {0};
	int c;

	/* "+": stop at the command name, its options are its own */
	while ((c = getopt_long(argc, argv, "+c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cli.config_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("rmail %s (module ABI %d.%d)\n", RMAIL_VERSION,
			       RMAIL_ABI_MAJOR, RMAIL_ABI_MINOR);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc && strcmp(argv[optind], "help") == 0) {
		usage(stdout);
		return 0;
	}
	cmd = find_command(optind < argc ? argv[optind] : "serve");
	if (cmd == NULL) {
		fprintf(stderr, "rmail: unknown command \"%s\"\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	if (optind < argc)
		optind++;
	cli.argc = argc - optind;
	cli.argv = argv + optind;
	/* commands parse their own options with getopt from the start */
	optind = 1;
	return cmd->run(&cli);
}

/* ---- helpers for commands that work on the store ----------------- */

int rm_cli_become_owner(const struct rm_config *conf)
{
	struct rm_priv priv;
	struct rmail_err err;
	struct stat st;

	/* as root with run_as, a command touching the mail root runs as
	 * that user, like the daemon: it may read trees (import) that a
	 * user controls, and must write only what the service may */
	rmail_err_clear(&err);
	if (geteuid() == 0 && conf->run_as != NULL) {
		if (rm_priv_resolve(conf->run_as, &priv, &err) < 0 ||
		    rm_priv_drop(&priv, &err) < 0) {
			rm_log(RMAIL_LOG_ERR, "%s", err.msg);
			return -1;
		}
		if (priv.active)
			return 0;
	}
	/* files written by root-run commands belong to the service user */
	if (geteuid() != 0 || conf->mail_root == NULL ||
	    stat(conf->mail_root, &st) < 0 || st.st_uid == 0)
		return 0;
	if (setgroups(0, NULL) < 0 || setgid(st.st_gid) < 0 ||
	    setuid(st.st_uid) < 0) {
		rm_log(RMAIL_LOG_ERR, "cannot become the owner of %s: %s",
		       conf->mail_root, strerror(errno));
		return -1;
	}
	return 0;
}

int rm_cli_store(struct rm_cli *cli, const struct rmail_store_ops **ops_r,
		 void **h_r)
{
	struct rm_config *conf;
	const char **keep;
	struct rmail_err err;
	size_t i, n = 0;

	*ops_r = NULL;
	*h_r = NULL;
	rmail_err_clear(&err);
	conf = rm_cli_load_config(cli);
	if (conf == NULL)
		return -1;
	if (rm_cli_become_owner(conf) < 0)
		return -1;
	/* only storage modules: a CLI run must not touch protocol state */
	keep = rm_xcalloc(conf->modules.n + 1, sizeof(*keep));
	for (i = 0; i < conf->modules.n; i++) {
		const struct rmail_module *mod = NULL;
		const char *name = conf->modules.v[i];
		const char *shrt =
			strncmp(name, "mod_", 4) == 0 ? name + 4 : name;
		char *file;
		void *dl = NULL;

		file = rm_psprintf(conf->pool, "%s/mod_%s.so", conf->module_dir,
				   shrt);
		if (rm_module_validate(file, shrt, &mod, &dl, &err) == 0 &&
		    mod->kind == RMAIL_KIND_STORAGE)
			keep[n++] = name;
		if (dl != NULL)
			dlclose(dl);
	}
	conf->modules.v = keep;
	conf->modules.n = n;
	rm_conf_set(conf);
	/* a CLI run shows warnings and errors, not the daemon's info */
	rm_log_set_level(cli->quiet_init		    ? RMAIL_LOG_ERR
			 : conf->log_level < RMAIL_LOG_WARN ? conf->log_level
							    : RMAIL_LOG_WARN);
	if (rm_loop_init() < 0 ||
	    rm_workers_init(conf->delivery.workers, conf->workers.read,
			    conf->workers.hash) < 0) {
		rm_log(RMAIL_LOG_ERR, "cannot start the worker pools");
		return -1;
	}
	if (rm_modules_load(conf, rm_config_report_log, NULL) == 0) {
		rm_log(RMAIL_LOG_ERR,
		       "no storage module could be loaded "
		       "(modules in %s)",
		       conf->module_dir);
		return -1;
	}
	if (rm_modules_init(&err) < 0) {
		rm_log(RMAIL_LOG_ERR, "%s", err.msg);
		return -1;
	}
	if (cli->quiet_init)
		rm_log_set_level(conf->log_level < RMAIL_LOG_WARN
					 ? conf->log_level
					 : RMAIL_LOG_WARN);
	*ops_r = rm_store(h_r);
	if (*ops_r == NULL) {
		rm_log(RMAIL_LOG_ERR, "no storage module loaded");
		return -1;
	}
	return 0;
}

static char *read_line_fd(FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	n = getline(&line, &cap, f);
	if (n < 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

static char *prompt_noecho(FILE *tty, const char *prompt)
{
	struct termios old, quiet;
	char *line;
	int fd = fileno(tty);
	bool restore;

	fprintf(tty, "%s", prompt);
	fflush(tty);
	restore = tcgetattr(fd, &old) == 0;
	if (restore) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	line = read_line_fd(tty);
	if (restore)
		tcsetattr(fd, TCSAFLUSH, &old);
	return line;
}

static void wipe_free(char *s)
{
	if (s != NULL) {
		rm_secure_zero(s, strlen(s));
		free(s);
	}
}

char *rm_cli_password(bool from_stdin, const char *prompt)
{
	char *a, *b;
	FILE *tty;

	if (from_stdin) {
		a = read_line_fd(stdin);
		if (a == NULL || a[0] == '\0') {
			wipe_free(a);
			rm_log(RMAIL_LOG_ERR, "no password on stdin");
			return NULL;
		}
		return a;
	}
	tty = fopen("/dev/tty", "r+e");
	if (tty == NULL) {
		rm_log(RMAIL_LOG_ERR, "no terminal to ask for a password "
				      "(use --password-stdin)");
		return NULL;
	}
	a = prompt_noecho(tty, prompt != NULL ? prompt : "Password: ");
	b = a != NULL ? prompt_noecho(tty, "Again: ") : NULL;
	fclose(tty);
	if (a == NULL || b == NULL || strcmp(a, b) != 0 || a[0] == '\0') {
		rm_log(RMAIL_LOG_ERR, a != NULL && b != NULL && a[0] != '\0'
					      ? "the passwords differ"
					      : "no password given");
		wipe_free(a);
		wipe_free(b);
		return NULL;
	}
	wipe_free(b);
	return a;
}
