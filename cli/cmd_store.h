/*
 * Shared by the store commands (cmd_user.c, cmd_alias.c, cmd_quota.c,
 * cmd_import.c, cmd_export.c): option parsing and error reporting.
 */
#ifndef RM_CMD_STORE_H
#define RM_CMD_STORE_H

#include <jansson.h>

#include "cli.h"

/* exit statuses */
#define RM_EXIT_OK 0
#define RM_EXIT_FAIL 1
#define RM_EXIT_USAGE 2

struct rm_opt {
	const char *name; /* "--admin" */
	bool has_arg;
	const char **val_r; /* set when has_arg */
	bool *set_r;	    /* set when seen */
};

/* Split argv into options and up to maxpos positionals; prints a
 * one-line error naming `cmd` and returns -1 on a bad option. */
int rm_cmd_parse(const char *cmd, int argc, char **argv,
		 const struct rm_opt *opts, const char **pos_r, size_t maxpos,
		 size_t *npos_r);
/* rm_cmd_parse, then the usage line unless minpos..maxpos positionals
 * were given: RM_EXIT_OK to go on, else the exit status to return */
int rm_cmd_args(const char *cmd, const char *usage, int argc, char **argv,
		const struct rm_opt *opts, const char **pos_r, size_t minpos,
		size_t maxpos, size_t *npos_r);
/* "rmail <cmd>: usage: rmail <cmd> <usage>"; returns RM_EXIT_USAGE */
int rm_cmd_usage(const char *cmd, const char *usage);
/* "rmail <cmd>: <msg>" on stderr; returns RM_EXIT_FAIL */
int rm_cmd_fail(const char *cmd, const struct rmail_err *err);
int rm_cmd_failf(const char *cmd, const char *fmt, ...) RMAIL_PRINTF(2, 3);
/* "yes"/"no" (also true/false, 1/0): 1, 0, or -1 */
int rm_cmd_yesno(const char *s);
/* a non-negative decimal number; -1 when not one */
int rm_cmd_uint(const char *s, int64_t *v_r);

/* "user add" etc.: a table ends with a NULL name */
struct rm_subcmd {
	const char *name;
	int (*run)(struct rm_cli *cli, int argc, char **argv);
};
/* Runs the entry cli->argv[0] names, with the arguments after it; else
 * "usage: rmail <usage>" on stderr and RM_EXIT_USAGE. */
int rm_cmd_dispatch(struct rm_cli *cli, const struct rm_subcmd *subs,
		    const char *usage);

/* --json output: indented, then a newline */
void rm_cmd_json_print(json_t *j);
/* What a "list" command's store callback fills: with --json, one object
 * per entry in arr; without, it prints a line itself. */
struct rm_cmd_list {
	bool json;
	json_t *arr;
};
/* Ends a listing whose store call returned ret: prints the array when
 * ret is 0 and json is set, frees it; returns the exit status. */
int rm_cmd_list_end(const char *cmd, struct rm_cmd_list *lc, int ret,
		    const struct rmail_err *err);

#endif
