/*
 * TEMPORARY test-only stand-ins for the two mailbox-side functions the
 * user directory calls, until the mailbox half of mod_shardstore links.
 * Usage = the sizes of every *.eml below the user directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ss.h"

int ss_mbox_create_defaults(struct ss_store *st, const char *canon_user,
			    struct rmail_err *err)
{
	(void)st;
	(void)canon_user;
	(void)err;
	return 0;
}

static int sum_tree(int dfd, uint64_t *sum, int depth)
{
	struct dirent *de;
	struct stat sb;
	size_t n;
	DIR *d;
	int fd;

	if (depth > 16)
		return 0;
	d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    fstatat(dirfd(d), de->d_name, &sb,
			    AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		n = strlen(de->d_name);
		if (S_ISDIR(sb.st_mode)) {
			fd = openat(dirfd(d), de->d_name,
				    O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
			if (fd >= 0)
				sum_tree(fd, sum, depth + 1);
		} else if (n > 4 && strcmp(de->d_name + n - 4, ".eml") == 0) {
			*sum += (uint64_t)sb.st_size;
		}
	}
	closedir(d);
	return 0;
}

int ss_user_usage_scan(struct ss_store *st, const char *canon_user,
		       uint64_t *bytes_r, struct rmail_err *err)
{
	char dir[1024];
	int fd;

	if (ss_user_dir(canon_user, dir, sizeof(dir), err) < 0)
		return -1;
	fd = ss_openat(st->root_fd, dir, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return rmail_err_set(err, RMAIL_E_NOENT, "%s: %s", dir,
				     strerror(errno));
	*bytes_r = 0;
	return sum_tree(fd, bytes_r, 0);
}
