/*
 * One control command to several workers' control sockets at once,
 * bounded by one deadline.  /metrics (worker 0) and `rmail ctl status`
 * (the supervisor) ask every worker; a worker that is stopped
 * (SIGSTOP, a debugger) or stuck still accepts on its socket, since the
 * kernel queues the connection, and would otherwise hold the caller for
 * rm_control_call's two minutes.  Non-blocking sockets polled together:
 * the slowest worker costs the deadline once, not once per worker.
 * [any thread]
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "rm.h"

/* as control.c's CTL_OUT_MAX, plus the status line */
#define GATHER_MAX (262144 + 8)

struct gather_one {
	int fd;
	char *buf;
	size_t len;
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* connected and the request sent, or -1 */
static int open_one(const char *path, const char *req, size_t reqlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	if (path == NULL || strlen(path) >= sizeof(sun.sun_path))
		return -1;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	/* a unix socket connects at once or fails (EAGAIN: backlog full) */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    send(fd, req, reqlen, MSG_NOSIGNAL) != (ssize_t)reqlen) {
		close(fd);
		return -1;
	}
	return fd;
}

/* "OK\n" + body: the body, else NULL */
static char *finish(struct gather_one *g)
{
	char *out = NULL;

	if (g->buf != NULL && g->len >= 3 && memcmp(g->buf, "OK\n", 3) == 0) {
		out = rm_xmalloc(g->len - 2);
		memcpy(out, g->buf + 3, g->len - 3);
		out[g->len - 3] = '\0';
	}
	free(g->buf);
	g->buf = NULL;
	return out;
}

char **rm_control_gather(char *const *paths, size_t n, int argc,
			 const char *const *argv, double timeout)
{
	struct gather_one *g = rm_xcalloc(n ? n : 1, sizeof(*g));
	struct pollfd *p = rm_xcalloc(n ? n : 1, sizeof(*p));
	char **out = rm_xcalloc(n ? n : 1, sizeof(*out));
	double deadline = mono() + timeout;
	size_t reqlen = 0, left = 0;
	char *req;

	for (int i = 0; i < argc; i++)
		reqlen += strlen(argv[i]) + 1;
	req = rm_xmalloc(reqlen + 2);
	reqlen = 0;
	for (int i = 0; i < argc; i++) {
		size_t k = strlen(argv[i]);

		memcpy(req + reqlen, argv[i], k);
		reqlen += k;
		req[reqlen++] = i + 1 < argc ? ' ' : '\n';
	}
	if (argc == 0)
		req[reqlen++] = '\n';
	for (size_t i = 0; i < n; i++) {
		g[i].fd = open_one(paths[i], req, reqlen);
		if (g[i].fd >= 0) {
			g[i].buf = rm_xmalloc(GATHER_MAX);
			left++;
		}
	}
	free(req);
	while (left > 0) {
		double now = mono();
		int ms, r;

		if (now >= deadline)
			break;
		ms = (int)((deadline - now) * 1e3) + 1;
		for (size_t i = 0; i < n; i++) {
			p[i].fd = g[i].fd;
			p[i].events = POLLIN;
			p[i].revents = 0;
		}
		r = poll(p, (nfds_t)n, ms);
		if (r < 0 && errno != EINTR)
			break;
		for (size_t i = 0; i < n && r > 0; i++) {
			ssize_t k;

			if (g[i].fd < 0 || p[i].revents == 0)
				continue;
			k = recv(g[i].fd, g[i].buf + g[i].len,
				 GATHER_MAX - 1 - g[i].len, 0);
			if (k < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (k > 0)
				g[i].len += (size_t)k;
			if (k > 0 && g[i].len < GATHER_MAX - 1)
				continue;
			/* the server closes after its answer */
			close(g[i].fd);
			g[i].fd = -1;
			if (k < 0)
				g[i].len = 0;
			out[i] = finish(&g[i]);
			left--;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (g[i].fd >= 0)
			close(g[i].fd);
		free(g[i].buf);
	}
	free(g);
	free(p);
	return out;
}
