/*
 * Shared by the store commands (cmd_user.c, cmd_alias.c, cmd_quota.c,
 * cmd_import.c, cmd_export.c): option parsing and error reporting.
 */
#ifndef RM_CMD_STORE_H
#define RM_CMD_STORE_H

#include "rm.h"

/* exit statuses */
#define RM_EXIT_OK 0
#define RM_EXIT_FAIL 1
#define RM_EXIT_USAGE 2

struct rm_opt {
	const char *name;       /* "--admin" */
	bool has_arg;
	const char **val_r;     /* set when has_arg */
	bool *set_r;            /* set when seen */
};

/* Split argv into options and up to maxpos positionals; prints a
 * one-line error naming `cmd` and returns -1 on a bad option. */
int rm_cmd_parse(const char *cmd, int argc, char **argv,
		 const struct rm_opt *opts, const char **pos_r,
		 size_t maxpos, size_t *npos_r);
/* "rmail <cmd>: <msg>" on stderr; returns RM_EXIT_FAIL */
int rm_cmd_fail(const char *cmd, const struct rmail_err *err);
int rm_cmd_failf(const char *cmd, const char *fmt, ...) RMAIL_PRINTF(2, 3);
/* "yes"/"no" (also true/false, 1/0): 1, 0, or -1 */
int rm_cmd_yesno(const char *s);
/* a non-negative decimal number; -1 when not one */
int rm_cmd_uint(const char *s, int64_t *v_r);

#endif
