/*
 * Format migrations (docs/storage.md, "Root and version").  Each one is
 * idempotent and restartable: a crash mid-way leaves FORMAT at the old
 * version and the next open runs it again over what is left.
 *
 * 1 -> 2: message names gain their modseq field.  Every message is
 * renamed to its format-2 name with modseq 1 (no client ever saw a
 * modseq of format 1: CONDSTORE came with format 2), move claims
 * likewise, the 16-byte change log goes (it carries no modseq; its
 * expunges were never durable) and the mailbox gets its modseq counter.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ss_mbox.h"

/* 0, or -1 with errno */
static int migrate_shard(int mbfd, const char *sname)
{
	int fd = openat(mbfd, sname,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		struct ss_fname f;
		char name[SS_FNAME_MAX];
		size_t len = strlen(de->d_name);

		if (ss_fname_parse(de->d_name, len, &f) == 0 ||
		    ss_fname_parse_v1(de->d_name, len, &f) < 0)
			continue;
		f.modseq = 1;
		ss_fname_format(&f, name);
		if (renameat(dirfd(d), de->d_name, dirfd(d), name) < 0)
			rc = -1;
	}
	if (fsync(dirfd(d)) < 0)
		rc = -1;
	closedir(d);
	return rc;
}

/* "tmp/.move.{id}~{v1 name}" -> "~{v2 name}" */
static int migrate_claims(int mbfd)
{
	int fd = openat(mbfd, "tmp",
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return errno == ENOENT ? 0 : -1;
	}
	while ((de = readdir(d)) != NULL) {
		const char *tilde = strchr(de->d_name, '~');
		struct ss_fname f;
		char name[SS_FNAME_MAX], to[512];

		if (strncmp(de->d_name, ".move.", 6) != 0 || tilde == NULL ||
		    ss_fname_parse(tilde + 1, strlen(tilde + 1), &f) == 0 ||
		    ss_fname_parse_v1(tilde + 1, strlen(tilde + 1), &f) < 0)
			continue;
		f.modseq = 1;
		ss_fname_format(&f, name);
		snprintf(to, sizeof(to), "%.*s~%s", (int)(tilde - de->d_name),
			 de->d_name, name);
		if (renameat(dirfd(d), de->d_name, dirfd(d), to) < 0)
			rc = -1;
	}
	closedir(d);
	return rc;
}

static int migrate_mailbox(struct ss_store *st, int mfd, const char *name)
{
	int fd = openat(mfd, name,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int rc = 0;

	if (fd < 0)
		return -1;
	if ((d = fdopendir(dup(fd))) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (ss_shard_parse(de->d_name) >= 0 &&
		    migrate_shard(fd, de->d_name) < 0)
			rc = -1;
	closedir(d);
	if (migrate_claims(fd) < 0)
		rc = -1;
	/* the counter first, then the old log: a rerun finds either */
	if (fstatat(fd, "modseq", &sb, AT_SYMLINK_NOFOLLOW) < 0 &&
	    ss_modseq_create(st, fd) < 0)
		rc = -1;
	if (rc == 0 && unlinkat(fd, "changes", 0) < 0 && errno != ENOENT)
		rc = -1;
	close(fd);
	return rc;
}

/* calls fn on each non-dot directory entry of dirfd/rel */
static int each_dir(struct ss_store *st, int parent, const char *rel,
		    int (*fn)(struct ss_store *, int, const char *))
{
	int fd = openat(parent, rel,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && fn(st, dirfd(d), de->d_name) < 0)
			rc = -1;
	closedir(d);
	return rc;
}

static int migrate_user(struct ss_store *st, int ufd, const char *name)
{
	int fd = openat(ufd, name,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
	    rc;

	if (fd < 0)
		return -1;
	rc = each_dir(st, fd, "mail", migrate_mailbox);
	close(fd);
	return rc;
}

static int migrate_domain(struct ss_store *st, int dfd, const char *name)
{
	int fd = openat(dfd, name,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
	    rc;

	if (fd < 0)
		return -1;
	rc = each_dir(st, fd, "users", migrate_user);
	close(fd);
	return rc;
}

int ss_migrate_1_2(struct ss_store *st, struct rmail_err *err)
{
	if (each_dir(st, st->root_fd, "domains", migrate_domain) < 0)
		return rmail_err_set(err, RMAIL_E_IO,
				     "%s: migration to format 2 failed: %s",
				     st->mail_root, strerror(errno));
	return 0;
}
