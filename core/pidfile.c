/* The pid file doubles as the instance lock: a running daemon holds an
 * flock(2) on it for its whole life, so a file left by a dead process
 * (no lock) is taken over and a live one refuses the start. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "daemon.h"

static int pid_fd = -1;
static char *pid_path;

static long read_pid(int fd)
{
	char buf[32];
	ssize_t n;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

int rm_pidfile_acquire(const char *path, struct rmail_err *err)
{
	char buf[32];
	int fd, n;

	if (path == NULL || path[0] == '\0')
		return 0;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return rmail_err_set(err, RMAIL_E_IO, "pid file %s: %s", path,
				     strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		long pid = read_pid(fd);

		close(fd);
		if (errno == EWOULDBLOCK)
			return rmail_err_set(
				err, RMAIL_E_EXISTS,
				"another rmail is running with this config "
				"(pid %ld, pid file %s)",
				pid, path);
		return rmail_err_set(err, RMAIL_E_IO, "pid file %s: %s", path,
				     strerror(errno));
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		close(fd);
		return rmail_err_set(err, RMAIL_E_IO, "pid file %s: %s", path,
				     strerror(errno));
	}
	pid_fd = fd;
	free(pid_path);
	pid_path = rm_xstrdup(path);
	return 0;
}

void rm_pidfile_release(void)
{
	if (pid_fd < 0)
		return;
	/* unlink while still holding the lock so no successor's file is
	 * removed; after a privilege drop this may fail, which is fine:
	 * an unlocked file is taken over on the next start */
	if (read_pid(pid_fd) == (long)getpid())
		(void)unlink(pid_path);
	close(pid_fd);
	pid_fd = -1;
	free(pid_path);
	pid_path = NULL;
}
