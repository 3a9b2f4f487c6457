/*
 * The subcommands of rmail import besides maildir: passwd
 * (import_passwd.c), aliases (import_aliases.c) and imap (import_imap.c).
 */
#ifndef RM_IMPORT_SUB_H
#define RM_IMPORT_SUB_H

#include <stddef.h>

#include "cli.h"

int rm_import_passwd(struct rm_cli *cli, int argc, char **argv);
int rm_import_aliases(struct rm_cli *cli, int argc, char **argv);
int rm_import_imap(struct rm_cli *cli, int argc, char **argv);
int rm_import_sieve(struct rm_cli *cli, int argc, char **argv);
/* <mail_root>/domains/D/users/L of a canonical user, checked to hold
 * its user.json (malloc'd), or NULL reported */
char *rm_import_user_dir(const char *user);
/* a whole text file of at most 64 MiB, NUL-terminated; NULL with errno */
char *rm_import_read(const char *path, size_t *len_r);

#endif
