/*
 * LD_PRELOAD shim that makes a local directory behave, for rmail, like a
 * network filesystem (tests of issue 13 §5):
 *
 *   RMAIL_SHIM_NOREPLACE=1   renameat2(..., RENAME_NOREPLACE) fails with
 *                            EINVAL, as on GlusterFS (FUSE) and older NFS
 *   RMAIL_SHIM_FSTYPE=nfs|fuse|ceph
 *                            statfs/fstatfs report that f_type, and
 *                            inotify watches never fire (a remote
 *                            client's changes never reach inotify)
 *
 * Under ASan: ASAN_OPTIONS=verify_asan_link_order=0.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

static long fake_type(void)
{
	const char *t = getenv("RMAIL_SHIM_FSTYPE");

	if (t == NULL || *t == '\0')
		return 0;
	if (strcmp(t, "nfs") == 0)
		return 0x6969;
	if (strcmp(t, "fuse") == 0)
		return 0x65735546;
	if (strcmp(t, "ceph") == 0)
		return 0x00c36400;
	return 0;
}

int renameat2(int olddirfd, const char *oldpath, int newdirfd,
	      const char *newpath, unsigned int flags)
{
	const char *e = getenv("RMAIL_SHIM_NOREPLACE");

	if ((flags & RENAME_NOREPLACE) && e != NULL && *e != '\0' &&
	    strcmp(e, "0") != 0) {
		errno = EINVAL;
		return -1;
	}
	return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath,
			    flags);
}

static void patch(struct statfs *b)
{
	long t = fake_type();

	if (t != 0)
		b->f_type = t;
}

int statfs(const char *path, struct statfs *buf)
{
	int rc = (int)syscall(SYS_statfs, path, buf);

	if (rc == 0)
		patch(buf);
	return rc;
}

int fstatfs(int fd, struct statfs *buf)
{
	int rc = (int)syscall(SYS_fstatfs, fd, buf);

	if (rc == 0)
		patch(buf);
	return rc;
}

/* on 64-bit glibc the *64 variants share the layout */
int statfs64(const char *path, struct statfs64 *buf)
{
	return statfs(path, (struct statfs *)(void *)buf);
}

int fstatfs64(int fd, struct statfs64 *buf)
{
	return fstatfs(fd, (struct statfs *)(void *)buf);
}

int inotify_add_watch(int fd, const char *path, uint32_t mask)
{
	/* a watch that is accepted but never fires, as for changes made
	 * by another NFS client */
	if (fake_type() != 0) {
		(void)path;
		mask = IN_DELETE_SELF;
		path = "/";
	}
	return (int)syscall(SYS_inotify_add_watch, fd, path, mask);
}
