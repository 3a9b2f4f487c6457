/*
 * Small-file plumbing of the user directory: atomic replacement,
 * ownership when running as root, directory locks and tree removal.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <unistd.h>

#include "users_int.h"

#define SS_RMTREE_DEPTH 64

void ss_ulog(struct ss_store *st, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (st->m != NULL && st->core != NULL && st->core->vlog != NULL) {
		st->core->vlog(st->m, level, fmt, ap);
	} else {
		fputs("shardstore: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}

void ss_fid_from_stat(struct ss_fid *id, const struct stat *sb)
{
	memset(id, 0, sizeof(*id));
	id->dev = sb->st_dev;
	id->ino = sb->st_ino;
	id->size = sb->st_size;
	id->mtime = sb->st_mtim;
	id->ctime = sb->st_ctim;
}

int64_t ss_ns_since(const struct timespec *then, const struct timespec *now)
{
	return ((int64_t)now->tv_sec - then->tv_sec) * 1000000000LL +
	       (now->tv_nsec - then->tv_nsec);
}

int ss_fid_settled(const struct ss_fid *fid, const struct timespec *at)
{
	return ss_ns_since(&fid->mtime, at) >= SS_FID_RACY_NS;
}

int ss_fid_equal(const struct ss_fid *a, const struct ss_fid *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       a->ctime.tv_sec == b->ctime.tv_sec &&
	       a->ctime.tv_nsec == b->ctime.tv_nsec;
}

int ss_open_rel(struct ss_store *st, const char *rel, int flags)
{
	return ss_openat(st->root_fd, rel, flags | O_CLOEXEC, 0);
}

int ss_read_small(struct ss_store *st, const char *rel, size_t maxlen,
		  char **buf_r, size_t *len_r, struct ss_fid *id_r)
{
	struct stat sb;
	char *buf;
	size_t got = 0;
	ssize_t n;
	int fd, saved;

	fd = ss_open_rel(st, rel, O_RDONLY);
	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) < 0)
		goto fail;
	if (!S_ISREG(sb.st_mode) || (size_t)sb.st_size > maxlen) {
		errno = EFBIG;
		goto fail;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (buf == NULL)
		goto fail;
	while (got < (size_t)sb.st_size) {
		n = read(fd, buf + got, (size_t)sb.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	if (id_r != NULL)
		ss_fid_from_stat(id_r, &sb);
	close(fd);
	*buf_r = buf;
	*len_r = got;
	return 0;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

void ss_fix_owner(struct ss_store *st, int fd)
{
	struct stat sb;

	/* The CLI runs as root; the daemon runs as the mail root's owner
	 * and must be able to rewrite what the CLI created. */
	if (geteuid() != 0 || fstat(st->root_fd, &sb) < 0)
		return;
	if (sb.st_uid == 0 && sb.st_gid == 0)
		return;
	(void)fchownat(fd, "", sb.st_uid, sb.st_gid, AT_EMPTY_PATH);
}

int ss_write_all(int fd, const void *d, size_t n)
{
	const char *p = d;

	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int ss_write_atomic_at(struct ss_store *st, int dfd, const char *what,
		       const char *name, const char *data, size_t len,
		       int exclusive, struct rmail_err *err)
{
	char tmp[128];
	uint32_t rnd = 0;
	int fd;

	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) < 0)
		rnd = (uint32_t)rand();
	snprintf(tmp, sizeof(tmp), ".tmp.%.40s.%ld.%08x", name, (long)getpid(),
		 rnd);
	fd = openat(dfd, tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return rmail_err_set(err, RMAIL_E_IO, "%s/%s: %s", what, tmp,
				     strerror(errno));
	if (ss_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		rmail_err_set(err, RMAIL_E_IO, "%s/%s: %s", what, name,
			      strerror(errno));
		close(fd);
		goto out_unlink;
	}
	ss_fix_owner(st, fd);
	close(fd);
	if (exclusive) {
		/* never replaces: a concurrent add loses */
		if (ss_rename_noreplace(st, dfd, tmp, dfd, name, false) < 0) {
			rmail_err_set(err,
				      errno == EEXIST ? RMAIL_E_EXISTS
						      : RMAIL_E_IO,
				      "%s/%s: %s", what, name, strerror(errno));
			goto out_unlink;
		}
	} else if (renameat(dfd, tmp, dfd, name) < 0) {
		rmail_err_set(err, RMAIL_E_IO, "%s/%s: %s", what, name,
			      strerror(errno));
		goto out_unlink;
	}
	if (fsync(dfd) < 0)
		return rmail_err_set(err, RMAIL_E_IO, "%s: fsync: %s", what,
				     strerror(errno));
	return 0;
out_unlink:
	unlinkat(dfd, tmp, 0);
	return -1;
}

int ss_write_atomic(struct ss_store *st, const char *dir_rel, const char *name,
		    const char *data, size_t len, int exclusive,
		    struct rmail_err *err)
{
	int dfd, ret;

	dfd = ss_open_rel(st, dir_rel, O_RDONLY | O_DIRECTORY);
	if (dfd < 0)
		return rmail_err_set(
			err, errno == ENOENT ? RMAIL_E_NOENT : RMAIL_E_IO,
			"%s: %s", dir_rel, strerror(errno));
	ret = ss_write_atomic_at(st, dfd, dir_rel, name, data, len, exclusive,
				 err);
	close(dfd);
	return ret;
}

int ss_mkdirs(struct ss_store *st, const char *rel, struct rmail_err *err)
{
	char comp[SS_PATH_MAX];
	const char *p = rel, *slash;
	size_t n;
	int cur, next;

	cur = dup(st->root_fd);
	if (cur < 0)
		return rmail_err_set(err, RMAIL_E_IO, "dup: %s",
				     strerror(errno));
	while (*p != '\0') {
		slash = strchr(p, '/');
		n = slash != NULL ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || n >= sizeof(comp)) {
			close(cur);
			return rmail_err_set(err, RMAIL_E_INVAL, "bad path %s",
					     rel);
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (mkdirat(cur, comp, 0700) == 0) {
			next = ss_openat(cur, comp,
					 O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
			if (next >= 0)
				ss_fix_owner(st, next);
		} else if (errno == EEXIST) {
			next = ss_openat(cur, comp,
					 O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
		} else {
			next = -1;
		}
		if (next < 0) {
			rmail_err_set(err, RMAIL_E_IO, "%s: %s", rel,
				      strerror(errno));
			close(cur);
			return -1;
		}
		close(cur);
		cur = next;
		p += n;
		if (*p == '/')
			p++;
	}
	close(cur);
	return 0;
}

static int rmtree_depth(int dirfd, const char *name, int depth)
{
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int fd, ret = 0, isdir;

	if (depth > SS_RMTREE_DEPTH) {
		errno = ELOOP;
		return -1;
	}
	fd = openat(dirfd, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		isdir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN &&
		    fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0)
			isdir = S_ISDIR(sb.st_mode);
		if (isdir) {
			if (rmtree_depth(fd, de->d_name, depth + 1) < 0)
				ret = -1;
		} else if (unlinkat(fd, de->d_name, 0) < 0) {
			ret = -1;
		}
	}
	closedir(d);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
		ret = -1;
	return ret;
}

int ss_rmtree_at(int dirfd, const char *name)
{
	return rmtree_depth(dirfd, name, 0);
}

int ss_lock_dir(struct ss_store *st, const char *rel, struct rmail_err *err)
{
	int fd;

	fd = ss_open_rel(st, rel, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return rmail_err_set(
			err, errno == ENOENT ? RMAIL_E_NOENT : RMAIL_E_IO,
			"%s: %s", rel, strerror(errno));
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			rmail_err_set(err, RMAIL_E_IO, "flock %s: %s", rel,
				      strerror(errno));
			close(fd);
			return -1;
		}
	}
	return fd;
}

int ss_canon(const char *address, char *out, char *local_r, char *domain_r,
	     struct rmail_err *err)
{
	char local[RMAIL_ADDR_MAX + 1], domain[RMAIL_ADDR_MAX + 1];
	int n;

	if (address == NULL)
		return rmail_err_set(err, RMAIL_E_INVAL, "no address");
	if (ss_addr_canon(address, local, sizeof(local), domain, sizeof(domain),
			  err) < 0)
		return -1;
	n = snprintf(out, RMAIL_ADDR_MAX + 1, "%s@%s", local, domain);
	if (n < 0 || n > RMAIL_ADDR_MAX)
		return rmail_err_set(err, RMAIL_E_INVAL, "address too long");
	if (local_r != NULL)
		memcpy(local_r, local, strlen(local) + 1);
	if (domain_r != NULL)
		memcpy(domain_r, domain, strlen(domain) + 1);
	return 0;
}

int ss_domain_dir(const char *domain, char *out, size_t outsz,
		  struct rmail_err *err)
{
	char addr[RMAIL_ADDR_MAX + 1], path[SS_PATH_MAX];
	char *cut;
	int n;

	/* Derive it from ss_user_dir so both agree on the encoding. */
	n = snprintf(addr, sizeof(addr), "x@%s", domain);
	if (n < 0 || (size_t)n >= sizeof(addr))
		return rmail_err_set(err, RMAIL_E_INVAL, "domain too long");
	if (ss_user_dir(addr, path, sizeof(path), err) < 0)
		return -1;
	cut = strstr(path + strlen("domains/"), "/users/");
	if (strncmp(path, "domains/", 8) != 0 || cut == NULL)
		return rmail_err_set(err, RMAIL_E_INTERNAL,
				     "unexpected user dir %s", path);
	*cut = '\0';
	if (strlen(path) >= outsz)
		return rmail_err_set(err, RMAIL_E_INVAL, "path too long");
	memcpy(out, path, strlen(path) + 1);
	return 0;
}
