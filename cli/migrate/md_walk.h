/*
 * Walking a Maildir tree someone else may control (`rmail import` runs
 * as root on a user's tree, `rmail export` writes into one): every
 * component is opened relative to its parent's descriptor without
 * following a symbolic link, and what was opened is checked through
 * its own descriptor (fstat), never by name first, so nothing can be
 * swapped in between.  Files must be regular, have one link (a hard
 * link defeats O_NOFOLLOW) and belong to the owner of the tree's top.
 */
#ifndef RM_MD_WALK_H
#define RM_MD_WALK_H

#include <sys/stat.h>
#include <sys/types.h>

struct rm_md_tree {
	int fd; /* the top directory */
	uid_t uid;
};

/* the top itself, as the administrator named it; -1 with errno */
int rm_md_tree_open(const char *path, struct rm_md_tree *t);
void rm_md_tree_close(struct rm_md_tree *t);

/* A directory `name` under dirfd.  -1 when it cannot be used: *why_r
 * says why ("a symbolic link", ...), or is NULL when it does not exist
 * or is not a directory at all (nothing to report). */
int rm_md_open_dir(const struct rm_md_tree *t, int dirfd, const char *name,
		   const char **why_r);
/* A file to read.  -1 when refused (*why_r set) or absent (NULL);
 * st_r gets its fstat. */
int rm_md_open_file(const struct rm_md_tree *t, int dirfd, const char *name,
		    struct stat *st_r, const char **why_r);

/* For writing (`rmail export`).  The top, made when missing: its last
 * component must not be a symbolic link and it must belong to the
 * user running the command.  -1 with *why_r. */
int rm_md_tree_create(const char *path, struct rm_md_tree *t,
		      const char **why_r);
/* A directory `name` under dirfd, made when missing, then opened as by
 * rm_md_open_dir; -1 with *why_r always set. */
int rm_md_make_dir(const struct rm_md_tree *t, int dirfd, const char *name,
		   const char **why_r);
/* A new file `name` under dirfd to write: never an existing one nor
 * through a symbolic link (EEXIST then); -1 with errno. */
int rm_md_create_file(int dirfd, const char *name);

#endif
