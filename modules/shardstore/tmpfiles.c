/*
 * The tmp/ folder of every mailbox: the name grammar of its files
 * ("{host}.{pid}.{seq}.tmp", docs/storage.md), their creation, and the
 * sweep that removes the ones nobody will finish: left by a process
 * that died, or older than SS_TMP_MAX_AGE.  One process per mail root
 * sweeps at a time, under an flock on {mail_root}/sweep.lease, and the
 * lease file's mtime records the last sweep so that several processes
 * sharing the root sweep it once per interval between them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ss_mbox.h"

#define SS_SWEEP_LEASE "sweep.lease"

/* this machine's name as a tmp name's host part: [A-Za-z0-9-] */
static const char *tmp_host(void)
{
	static char host[64];

	if (host[0] == '\0') {
		char h[64] = "";
		size_t i;

		if (gethostname(h, sizeof(h) - 1) < 0 || h[0] == '\0')
			memcpy(h, "localhost", 10);
		for (i = 0; h[i] != '\0'; i++)
			if (!((h[i] >= 'a' && h[i] <= 'z') ||
			      (h[i] >= 'A' && h[i] <= 'Z') ||
			      (h[i] >= '0' && h[i] <= '9') || h[i] == '-'))
				h[i] = '-';
		/* racing threads write the same bytes */
		memcpy(host, h, sizeof(host));
	}
	return host;
}

int ss_tmp_create(struct rmail_mbox *mb, char *name_r, size_t namesz)
{
	static unsigned seq;
	int fd;

	do {
		snprintf(name_r, namesz, "tmp/%s.%d.%u.tmp", tmp_host(),
			 (int)getpid(),
			 __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
		fd = openat(mb->dirfd, name_r,
			    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	} while (fd < 0 && errno == EEXIST);
	if (fd >= 0)
		ss_mbox_chown(mb->st, fd);
	return fd;
}

int ss_tmp_replace(struct rmail_mbox *mb, const char *name, const void *buf,
		   size_t len)
{
	char tmp[256];
	int fd = ss_tmp_create(mb, tmp, sizeof(tmp));

	if (fd < 0)
		return -1;
	if (ss_write_all(fd, buf, len) < 0 || fsync(fd) < 0) {
		close(fd);
		unlinkat(mb->dirfd, tmp, 0);
		return -1;
	}
	close(fd);
	if (renameat(mb->dirfd, tmp, mb->dirfd, name) < 0) {
		unlinkat(mb->dirfd, tmp, 0);
		return -1;
	}
	return 0;
}

int ss_tmp_parse(const char *name, char *host_r, size_t hostsz, int *pid_r)
{
	const char *dot = strchr(name, '.'), *p;
	unsigned long pid = 0, digits = 0;
	size_t hl;

	if (dot == NULL || dot == name)
		return -1;
	hl = (size_t)(dot - name);
	if (hl >= hostsz)
		return -1;
	for (p = dot + 1; *p >= '0' && *p <= '9'; p++, digits++)
		if ((pid = pid * 10 + (unsigned long)(*p - '0')) > 0x7fffffff)
			return -1;
	if (digits == 0 || pid == 0 || *p++ != '.')
		return -1;
	for (digits = 0; *p >= '0' && *p <= '9'; p++)
		digits++;
	if (digits == 0 || strcmp(p, ".tmp") != 0)
		return -1;
	memcpy(host_r, name, hl);
	host_r[hl] = '\0';
	*pid_r = (int)pid;
	return 0;
}

static int pid_dead(int pid)
{
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

int ss_tmp_abandoned(const char *name, int64_t age)
{
	char host[64];
	int pid;

	if (ss_tmp_parse(name, host, sizeof(host), &pid) == 0 &&
	    strcmp(host, tmp_host()) == 0) {
		/* ours: live handles remove their own files */
		if (pid == (int)getpid())
			return 0;
		if (pid_dead(pid))
			return 1;
	}
	/* another machine's, or a live process's (or its pid reused) */
	return age > SS_TMP_MAX_AGE;
}

/* ---- the sweep -------------------------------------------------- */

struct sweep {
	struct ss_store *st;
	const volatile int *cancel;
	time_t now;
	unsigned long removed;
};

/* each entry of dir `rel` under parent (no hidden ones), as a dirfd */
static void each_dir(struct sweep *sw, int parent, const char *rel,
		     void (*fn)(struct sweep *sw, int fd))
{
	int fd = ss_openat(parent, rel, O_RDONLY | O_DIRECTORY, 0), sub;
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return;
	}
	while (!*sw->cancel && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		sub = ss_openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY,
				0);
		if (sub < 0)
			continue;
		fn(sw, sub);
		close(sub);
	}
	closedir(d);
}

static void sweep_tmp(struct sweep *sw, int mbox_fd)
{
	int fd = ss_openat(mbox_fd, "tmp", O_RDONLY | O_DIRECTORY, 0);
	struct dirent *de;
	struct stat sb;
	DIR *d;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return;
	}
	while (!*sw->cancel && (de = readdir(d)) != NULL) {
		/* hidden names are never temporaries: ".move.*" is a
		 * claimed message in flight (or left by a crash for the
		 * admin to restore), and keeps the message's old mtime */
		if (de->d_name[0] == '.' ||
		    fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) <
			    0 ||
		    S_ISDIR(sb.st_mode))
			continue;
		if (ss_tmp_abandoned(de->d_name,
				     (int64_t)sw->now - sb.st_mtime) &&
		    unlinkat(dirfd(d), de->d_name, 0) == 0)
			sw->removed++;
	}
	closedir(d);
}

static void sweep_user(struct sweep *sw, int user_fd)
{
	each_dir(sw, user_fd, "mail", sweep_tmp);
}

static void sweep_domain(struct sweep *sw, int domain_fd)
{
	each_dir(sw, domain_fd, "users", sweep_user);
}

/* the lease: -1 when another process sweeps or swept lately */
static int lease_take(struct ss_store *st, double interval)
{
	struct timespec now;
	struct stat sb;
	int fd;

	fd = ss_openat(st->root_fd, SS_SWEEP_LEASE, O_RDWR | O_CREAT, 0640);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, &sb) < 0 ||
	    clock_gettime(CLOCK_REALTIME, &now) < 0) {
		close(fd);
		return -1;
	}
	if (sb.st_size == 0)
		ss_mbox_chown(st, fd);
	/* a fresh file has never recorded a sweep; 10% slack so timers of
	 * equal period do not skip a round */
	if (sb.st_size != 0 &&
	    (double)(now.tv_sec - sb.st_mtim.tv_sec) +
			    (double)(now.tv_nsec - sb.st_mtim.tv_nsec) / 1e9 <
		    interval * 0.9) {
		close(fd);
		return -1;
	}
	return fd;
}

int ss_tmp_sweep(struct ss_store *st, double interval,
		 const volatile int *cancel, unsigned long *removed_r)
{
	static const volatile int never;
	struct sweep sw = {st, cancel != NULL ? cancel : &never, 0, 0};
	int lease = lease_take(st, interval);

	*removed_r = 0;
	if (lease < 0)
		return 0;
	sw.now = time(NULL);
	each_dir(&sw, st->root_fd, "domains", sweep_domain);
	/* the write's mtime is the record of this sweep */
	if (pwrite(lease, "1", 1, 0) != 1)
		(void)futimens(lease, NULL);
	close(lease); /* drops the flock */
	*removed_r = sw.removed;
	return 1;
}
