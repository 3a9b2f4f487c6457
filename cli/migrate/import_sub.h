/*
 * The subcommands of rmail import besides maildir: passwd
 * (import_passwd.c) and aliases (import_aliases.c).
 */
#ifndef RM_IMPORT_SUB_H
#define RM_IMPORT_SUB_H

#include <stddef.h>

#include "cli.h"

int rm_import_passwd(struct rm_cli *cli, int argc, char **argv);
int rm_import_aliases(struct rm_cli *cli, int argc, char **argv);
/* a whole text file of at most 64 MiB, NUL-terminated; NULL with errno */
char *rm_import_read(const char *path, size_t *len_r);

#endif
