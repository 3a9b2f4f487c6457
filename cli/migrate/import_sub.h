/*
 * The subcommands of rmail import besides maildir: passwd
 * (import_passwd.c), aliases (import_aliases.c) and imap (import_imap.c).
 */
#ifndef RM_IMPORT_SUB_H
#define RM_IMPORT_SUB_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"

int rm_import_passwd(struct rm_cli *cli, int argc, char **argv);
int rm_import_aliases(struct rm_cli *cli, int argc, char **argv);
int rm_import_imap(struct rm_cli *cli, int argc, char **argv);
int rm_import_sieve(struct rm_cli *cli, int argc, char **argv);
/* Pigeonhole's scripts of HOME (sieve/NAME.sieve, .dovecot.sieve the
 * active one) into user, each compiled first; the number that failed,
 * reported on stderr.  The tree may be the user's: nothing below HOME
 * is read through a link (md_walk.h).  *found_r: HOME has either. */
struct rmail_store_ops;
bool rm_import_sieve_ok(const struct rmail_store_ops *ops);
int rm_import_sieve_home(const char *cmd, const struct rmail_store_ops *ops,
			 void *h, const char *user, const char *home,
			 bool *found_r);
/* <mail_root>/domains/D/users/L of a canonical user, checked to hold
 * its user.json (malloc'd), or NULL reported */
char *rm_import_user_dir(const char *user);
/* a whole text file of at most 64 MiB, NUL-terminated; NULL with errno */
char *rm_import_read(const char *path, size_t *len_r);

#endif
