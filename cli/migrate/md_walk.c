/* Descriptor-relative, symlink-free Maildir walking; see md_walk.h. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "md_walk.h"

int rm_md_tree_open(const char *path, struct rm_md_tree *t)
{
	struct stat st;

	t->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->fd < 0)
		return -1;
	if (fstat(t->fd, &st) < 0) {
		int e = errno;

		close(t->fd);
		t->fd = -1;
		errno = e;
		return -1;
	}
	t->uid = st.st_uid;
	return 0;
}

void rm_md_tree_close(struct rm_md_tree *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

static const char *open_error(int e)
{
	switch (e) {
	case ELOOP:
		return "a symbolic link";
	case ENOENT:
	case ENOTDIR:
		return NULL;
	default:
		return strerror(e);
	}
}

/* why opening `name` under dirfd failed with e, NULL when absent */
static const char *dir_error(int dirfd, const char *name, int e)
{
	struct stat st;

	/* O_DIRECTORY wins over O_NOFOLLOW: a symlink is ENOTDIR.
	 * Looking by name only words the report; nothing is opened
	 * after it. */
	if (e == ENOTDIR &&
	    fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		return "a symbolic link";
	return open_error(e);
}

int rm_md_open_dir(const struct rm_md_tree *t, int dirfd, const char *name,
		   const char **why_r)
{
	struct stat st;
	int fd;

	*why_r = NULL;
	fd = openat(dirfd, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		*why_r = dir_error(dirfd, name, errno);
		return -1;
	}
	if (fstat(fd, &st) < 0 || st.st_uid != t->uid) {
		*why_r = "owned by another user than the tree";
		close(fd);
		return -1;
	}
	return fd;
}

int rm_md_tree_create(const char *path, struct rm_md_tree *t,
		      const char **why_r)
{
	struct stat st;

	*why_r = NULL;
	t->fd = -1;
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		*why_r = strerror(errno);
		return -1;
	}
	t->fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (t->fd < 0) {
		*why_r = dir_error(AT_FDCWD, path, errno);
		if (*why_r == NULL)
			*why_r = "not a directory";
		return -1;
	}
	/* what we create belongs to us: a top of another owner would
	 * refuse our own folders, and is not ours to write into */
	if (fstat(t->fd, &st) < 0 || st.st_uid != geteuid()) {
		*why_r = "owned by another user than the one exporting";
		rm_md_tree_close(t);
		return -1;
	}
	t->uid = st.st_uid;
	return 0;
}

int rm_md_make_dir(const struct rm_md_tree *t, int dirfd, const char *name,
		   const char **why_r)
{
	int fd;

	if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST) {
		*why_r = strerror(errno);
		return -1;
	}
	fd = rm_md_open_dir(t, dirfd, name, why_r);
	if (fd < 0 && *why_r == NULL)
		*why_r = "not a directory";
	return fd;
}

int rm_md_create_file(int dirfd, const char *name)
{
	return openat(dirfd, name,
		      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC |
			      O_NOCTTY,
		      0600);
}

int rm_md_open_file(const struct rm_md_tree *t, int dirfd, const char *name,
		    struct stat *st_r, const char **why_r)
{
	int fd;

	*why_r = NULL;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer */
	fd = openat(dirfd, name,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		*why_r = errno == ENXIO ? "not a regular file"
					: open_error(errno);
		return -1;
	}
	if (fstat(fd, st_r) < 0)
		*why_r = strerror(errno);
	else if (!S_ISREG(st_r->st_mode))
		*why_r = "not a regular file";
	else if (st_r->st_nlink != 1)
		*why_r = "a hard link (more than one link)";
	else if (st_r->st_uid != t->uid)
		*why_r = "owned by another user than the tree";
	if (*why_r != NULL) {
		close(fd);
		return -1;
	}
	/* reads block as usual */
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}
