/*
 * Fault injection for e2e tests, loaded into the daemon with LD_PRELOAD
 * (librmfault.so).  No production code knows about it.
 *
 * RMAIL_FAULT_ROOT  absolute directory: only files below it are hit
 * RMAIL_FAULT_CTL   a control file the test rewrites at any time; one
 *                   rule per line:
 *
 *     OP ERRNO [skip=N] [count=M] [match=SUBSTRING]
 *
 * OP is open (open, openat, creat, the openat2 syscall), write (write, pwrite,
 * writev) or rename (rename, renameat, renameat2); ERRNO a name (EMFILE,
 * ENOSPC, EIO, ENFILE, ENOMEM, EAGAIN).  The first `skip` matching calls pass,
 * the next `count` (all when absent) fail with ERRNO.  Counters restart
 * whenever the file changes; an absent or empty file injects nothing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define RULES_MAX 8

enum op { OP_OPEN, OP_WRITE, OP_RENAME };

struct rule {
	int op;
	int err;
	long skip, count;
	char match[128];
	long seen; /* matching calls since the last reload */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct rule rules[RULES_MAX];
static int nrules;
static struct timespec ctl_mtime;
static off_t ctl_size = -1;
static ino_t ctl_ino;

static const struct {
	const char *name;
	int err;
} errnames[] = {
	{"EMFILE", EMFILE}, {"ENFILE", ENFILE}, {"ENOSPC", ENOSPC},
	{"EIO", EIO},	    {"ENOMEM", ENOMEM}, {"EAGAIN", EAGAIN},
	{"EDQUOT", EDQUOT},
};

static int parse_errno(const char *s)
{
	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (strcmp(errnames[i].name, s) == 0)
			return errnames[i].err;
	return 0;
}

static void parse_line(char *line)
{
	struct rule r = {.count = -1};
	char *save = NULL, *tok;
	int i = 0;

	for (tok = strtok_r(line, " \t\n", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t\n", &save), i++) {
		if (i == 0) {
			if (strcmp(tok, "open") == 0)
				r.op = OP_OPEN;
			else if (strcmp(tok, "write") == 0)
				r.op = OP_WRITE;
			else if (strcmp(tok, "rename") == 0)
				r.op = OP_RENAME;
			else
				return;
		} else if (i == 1) {
			r.err = parse_errno(tok);
		} else if (strncmp(tok, "skip=", 5) == 0) {
			r.skip = strtol(tok + 5, NULL, 10);
		} else if (strncmp(tok, "count=", 6) == 0) {
			r.count = strtol(tok + 6, NULL, 10);
		} else if (strncmp(tok, "match=", 6) == 0) {
			snprintf(r.match, sizeof(r.match), "%s", tok + 6);
		}
	}
	if (i >= 2 && r.err != 0 && nrules < RULES_MAX)
		rules[nrules++] = r;
}

/* re-read the control file when it changed; lock held */
static void reload(void)
{
	const char *ctl = getenv("RMAIL_FAULT_CTL");
	struct stat st;
	char buf[2048], *line, *save = NULL;
	FILE *f;
	size_t n;

	if (ctl == NULL || stat(ctl, &st) < 0) {
		nrules = 0;
		ctl_size = -1;
		return;
	}
	if (st.st_size == ctl_size && st.st_ino == ctl_ino &&
	    st.st_mtim.tv_sec == ctl_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == ctl_mtime.tv_nsec)
		return;
	ctl_size = st.st_size;
	ctl_ino = st.st_ino;
	ctl_mtime = st.st_mtim;
	nrules = 0;
	/* fopen goes through glibc's internal open, not ours */
	f = fopen(ctl, "re");
	if (f == NULL)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save))
		parse_line(line);
}

static int in_scope(const char *path)
{
	const char *root = getenv("RMAIL_FAULT_ROOT");
	size_t n;

	if (root == NULL || path == NULL)
		return 0;
	n = strlen(root);
	return strncmp(path, root, n) == 0 &&
	       (path[n] == '/' || path[n] == '\0');
}

/* the absolute path of (dirfd, path), or of fd when path is NULL */
static int abs_path(int dirfd, const char *path, char *out, size_t outsz)
{
	char link[64], dir[PATH_MAX];
	ssize_t n;

	if (path != NULL && path[0] == '/') {
		snprintf(out, outsz, "%s", path);
		return 0;
	}
	if (path != NULL && dirfd == AT_FDCWD) {
		if (getcwd(dir, sizeof(dir)) == NULL)
			return -1;
		snprintf(out, outsz, "%s/%s", dir, path);
		return 0;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
	n = readlink(link, dir, sizeof(dir) - 1);
	if (n < 0)
		return -1;
	dir[n] = '\0';
	if (path == NULL)
		snprintf(out, outsz, "%s", dir);
	else
		snprintf(out, outsz, "%s/%s", dir, path);
	return 0;
}

/* 0 to let the call through, else the errno to fail it with */
static int check(int op, int dirfd, const char *path)
{
	char full[PATH_MAX + 256];
	int fail = 0, any = 0, i;

	if (getenv("RMAIL_FAULT_CTL") == NULL)
		return 0;
	pthread_mutex_lock(&lock);
	reload();
	for (i = 0; i < nrules; i++)
		any |= rules[i].op == op;
	if (!any || abs_path(dirfd, path, full, sizeof(full)) < 0 ||
	    !in_scope(full)) {
		pthread_mutex_unlock(&lock);
		return 0;
	}
	for (i = 0; i < nrules && fail == 0; i++) {
		struct rule *r = &rules[i];

		if (r->op != op ||
		    (r->match[0] != '\0' && strstr(full, r->match) == NULL))
			continue;
		r->seen++;
		if (r->seen > r->skip &&
		    (r->count < 0 || r->seen <= r->skip + r->count))
			fail = r->err;
	}
	pthread_mutex_unlock(&lock);
	return fail;
}

#define REAL(name)                                                             \
	static __typeof__(name) *real;                                         \
	if (real == NULL)                                                      \
	real = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

static int mode_arg(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & __O_TMPFILE) == __O_TMPFILE
		       ? va_arg(ap, int)
		       : 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	int mode, e;

	REAL(open);
	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	if ((e = check(OP_OPEN, AT_FDCWD, path)) != 0) {
		errno = e;
		return -1;
	}
	return real(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	int mode, e;

	REAL(open64);
	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	if ((e = check(OP_OPEN, AT_FDCWD, path)) != 0) {
		errno = e;
		return -1;
	}
	return real(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	int mode, e;

	REAL(openat);
	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	if ((e = check(OP_OPEN, dirfd, path)) != 0) {
		errno = e;
		return -1;
	}
	return real(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	int mode, e;

	REAL(openat64);
	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	if ((e = check(OP_OPEN, dirfd, path)) != 0) {
		errno = e;
		return -1;
	}
	return real(dirfd, path, flags, mode);
}

int creat(const char *path, mode_t mode)
{
	return open(path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	int e;

	REAL(write);
	if (fd > 2 && (e = check(OP_WRITE, fd, NULL)) != 0) {
		errno = e;
		return -1;
	}
	return real(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	int e;

	REAL(pwrite);
	if (fd > 2 && (e = check(OP_WRITE, fd, NULL)) != 0) {
		errno = e;
		return -1;
	}
	return real(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	int e;

	REAL(pwrite64);
	if (fd > 2 && (e = check(OP_WRITE, fd, NULL)) != 0) {
		errno = e;
		return -1;
	}
	return real(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
	int e;

	REAL(writev);
	if (fd > 2 && (e = check(OP_WRITE, fd, NULL)) != 0) {
		errno = e;
		return -1;
	}
	return real(fd, iov, n);
}

int rename(const char *from, const char *to)
{
	int e;

	REAL(rename);
	if ((e = check(OP_RENAME, AT_FDCWD, to)) != 0) {
		errno = e;
		return -1;
	}
	return real(from, to);
}

int renameat(int fd1, const char *from, int fd2, const char *to)
{
	int e;

	REAL(renameat);
	if ((e = check(OP_RENAME, fd2, to)) != 0) {
		errno = e;
		return -1;
	}
	return real(fd1, from, fd2, to);
}

int renameat2(int fd1, const char *from, int fd2, const char *to,
	      unsigned flags)
{
	int e;

	REAL(renameat2);
	if ((e = check(OP_RENAME, fd2, to)) != 0) {
		errno = e;
		return -1;
	}
	return real(fd1, from, fd2, to, flags);
}

/* the store opens through syscall(SYS_openat2): every other number goes
 * straight through (six register arguments, as glibc's own wrapper) */
long syscall(long nr, ...)
{
	va_list ap;
	long a[6];
	int e, i;

	REAL(syscall);
	va_start(ap, nr);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (nr == SYS_openat2 &&
	    (e = check(OP_OPEN, (int)a[0], (const char *)a[1])) != 0) {
		errno = e;
		return -1;
	}
	return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
