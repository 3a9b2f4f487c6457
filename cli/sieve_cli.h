/* Shared by `rmail sieve` (cmd_sieve.c) and `rmail import sieve`
 * (migrate/import_sieve.c). */
#ifndef RM_SIEVE_CLI_H
#define RM_SIEVE_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include <rmail/rmail.h>

/* compile without includes resolved: 0, or -1 with "line N: what" */
int rm_sieve_check(const char *text, size_t len, char *err, size_t errlen);
/* check, store, and activate when asked */
int rm_sieve_install(const struct rmail_store_ops *ops, void *h,
		     const char *user, const char *name, const char *text,
		     size_t len, bool activate, struct rmail_err *err);
/* a whole file / stdin (at most 1 MiB), malloc'd; NULL with errno */
char *rm_sieve_read_file(const char *path, size_t *len_r);
/* the same from fd, which it closes */
char *rm_sieve_read_fd(int fd, size_t *len_r);
char *rm_sieve_read_stdin(size_t *len_r);

#endif
