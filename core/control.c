/*
 * The control socket: a unix stream socket, mode 0600, peers checked
 * with SO_PEERCRED (root or our own uid).  One request per connection:
 * a line of words separated by blanks; the answer is a status line
 * "OK" or "ERR", then the command's text, then the server closes.
 * Requests are tiny and local, so they are served synchronously with a
 * short receive timeout rather than through a per-client state machine.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"

#define CTL_LINE_MAX 1024
#define CTL_ARGS_MAX 32
/* room for a worker's metrics dump (supervisor.c) */
#define CTL_OUT_MAX 262144

struct ctl_cmd {
	char *name; /* one or more words */
	size_t nwords;
	struct rmail_mctx *m;
	rmail_control_fn fn;
	void *arg;
};

static struct ctl_cmd *cmds;
static size_t ncmds;
static int ctl_fd = -1;
static struct rmail_io *ctl_io;
static char *ctl_path;
static double started_at;
static rmail_control_fn fallback_fn;
static void *fallback_arg;

static int fill_addr(const char *path, struct sockaddr_un *sun,
		     struct rmail_err *err)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "control socket path too long: %s", path);
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return 0;
}

static size_t count_words(const char *s)
{
	size_t n = 0;
	bool in = false;

	for (; *s != '\0'; s++) {
		if (*s == ' ' || *s == '\t') {
			in = false;
		} else if (!in) {
			in = true;
			n++;
		}
	}
	return n;
}

int rm_control_register(struct rmail_mctx *m, const char *name,
			rmail_control_fn fn, void *arg)
{
	size_t i, nw = count_words(name);

	if (nw == 0 || nw > CTL_ARGS_MAX || fn == NULL)
		return -1;
	for (i = 0; i < ncmds; i++)
		if (strcmp(cmds[i].name, name) == 0)
			return -1;
	cmds = rm_xrealloc(cmds, (ncmds + 1) * sizeof(*cmds));
	cmds[ncmds].name = rm_xstrdup(name);
	cmds[ncmds].nwords = nw;
	cmds[ncmds].m = m;
	cmds[ncmds].fn = fn;
	cmds[ncmds].arg = arg;
	ncmds++;
	return 0;
}

static int builtin_ping(void *arg, int argc, const char *const *argv, char *out,
			size_t outsz)
{
	(void)arg;
	(void)argc;
	(void)argv;
	snprintf(out, outsz, "pong");
	return 0;
}

static int builtin_reload(void *arg, int argc, const char *const *argv,
			  char *out, size_t outsz)
{
	struct rmail_err err;

	(void)arg;
	(void)argc;
	(void)argv;
	rmail_err_clear(&err);
	if (rm_daemon_reload(&err) < 0) {
		snprintf(out, outsz, "reload refused: %s", err.msg);
		return -1;
	}
	snprintf(out, outsz, "reloaded%s%s", err.msg[0] ? "; " : "", err.msg);
	return 0;
}

static int builtin_status(void *arg, int argc, const char *const *argv,
			  char *out, size_t outsz)
{
	struct timespec ts;

	(void)arg;
	(void)argc;
	(void)argv;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(out, outsz,
		 "pid %ld\nversion %s\nuptime %.0f s\nmodules %zu\n"
		 "connections %zu\npending work %zu",
		 (long)getpid(), RMAIL_VERSION, (double)ts.tv_sec - started_at,
		 rm_module_count(), rm_conn_count(), rm_work_pending());
	return 0;
}

/* what the worker answering /metrics merges (supervisor.c) */
static int builtin_metrics_dump(void *arg, int argc, const char *const *argv,
				char *out, size_t outsz)
{
	char *dump = rm_metrics_dump();

	(void)arg;
	(void)argc;
	(void)argv;
	snprintf(out, outsz, "%s", dump);
	free(dump);
	return 0;
}

static void register_builtins(void)
{
	if (ncmds > 0)
		return;
	rm_control_register(NULL, "ping", builtin_ping, NULL);
	rm_control_register(NULL, "status", builtin_status, NULL);
	rm_control_register(NULL, "reload", builtin_reload, NULL);
	rm_control_register(NULL, "metrics dump", builtin_metrics_dump, NULL);
}

void rm_control_reset(void)
{
	for (size_t i = 0; i < ncmds; i++)
		free(cmds[i].name);
	free(cmds);
	cmds = NULL;
	ncmds = 0;
	fallback_fn = NULL;
	fallback_arg = NULL;
}

void rm_control_set_fallback(rmail_control_fn fn, void *arg)
{
	fallback_fn = fn;
	fallback_arg = arg;
}

/* the command whose words prefix the request the most */
static const struct ctl_cmd *match(int argc, char **argv)
{
	const struct ctl_cmd *best = NULL;
	size_t i, w;

	for (i = 0; i < ncmds; i++) {
		const char *p = cmds[i].name;

		if (cmds[i].nwords > (size_t)argc)
			continue;
		for (w = 0; w < cmds[i].nwords; w++) {
			size_t n = strlen(argv[w]);

			while (*p == ' ' || *p == '\t')
				p++;
			if (strncmp(p, argv[w], n) != 0 ||
			    (p[n] != '\0' && p[n] != ' ' && p[n] != '\t'))
				break;
			p += n;
		}
		if (w == cmds[i].nwords &&
		    (best == NULL || best->nwords < cmds[i].nwords))
			best = &cmds[i];
	}
	return best;
}

static bool peer_allowed(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return false;
	return cr.uid == 0 || cr.uid == geteuid();
}

static void write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void serve_client(int fd)
{
	char line[CTL_LINE_MAX + 1], *argv[CTL_ARGS_MAX + 1], *save, *tok;
	char *out = NULL;
	const struct ctl_cmd *c;
	struct timeval tv = {.tv_sec = 2};
	size_t len = 0;
	int argc = 0, rc;

	if (!peer_allowed(fd)) {
		write_all(fd, "ERR\npermission denied\n", 22);
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (len < CTL_LINE_MAX) {
		ssize_t n = recv(fd, line + len, CTL_LINE_MAX - len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(line, '\n', len) != NULL)
			break;
	}
	line[len] = '\0';
	if (memchr(line, '\n', len) == NULL && len >= CTL_LINE_MAX) {
		write_all(fd, "ERR\nrequest too long\n", 21);
		return;
	}
	line[strcspn(line, "\r\n")] = '\0';
	for (tok = strtok_r(line, " \t", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t", &save)) {
		if (argc == CTL_ARGS_MAX) {
			write_all(fd, "ERR\ntoo many arguments\n", 23);
			return;
		}
		argv[argc++] = tok;
	}
	argv[argc] = NULL;
	c = argc > 0 ? match(argc, argv) : NULL;
	if (c == NULL && argc > 0 && fallback_fn != NULL) {
		out = rm_xcalloc(1, CTL_OUT_MAX);
		rc = fallback_fn(fallback_arg, argc, (const char *const *)argv,
				 out, CTL_OUT_MAX);
		goto answer;
	}
	if (c == NULL) {
		char msg[CTL_LINE_MAX + 64];
		int n = snprintf(msg, sizeof(msg), "ERR\nunknown command: %s\n",
				 argc > 0 ? argv[0] : "(empty)");

		write_all(fd, msg, (size_t)n);
		return;
	}
	out = rm_xcalloc(1, CTL_OUT_MAX);
	rc = c->fn(c->arg, argc, (const char *const *)argv, out, CTL_OUT_MAX);
answer:
	out[CTL_OUT_MAX - 1] = '\0';
	write_all(fd, rc == 0 ? "OK\n" : "ERR\n", rc == 0 ? 3 : 4);
	write_all(fd, out, strlen(out));
	if (out[0] != '\0' && out[strlen(out) - 1] != '\n')
		write_all(fd, "\n", 1);
	rm_secure_zero(out, CTL_OUT_MAX);
	free(out);
}

void rm_control_serve_one(int listen_fd)
{
	int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (c < 0)
		return;
	serve_client(c);
	close(c);
}

static void accept_cb(void *arg, int fd, int revents)
{
	(void)arg;
	(void)revents;
	rm_control_serve_one(fd);
}

/* A socket nobody answers on is a leftover of a dead instance. */
static int take_over(const char *path, struct rmail_err *err)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode))
		return rmail_err_set(
			err, RMAIL_E_EXISTS,
			"control socket %s exists and is not a socket", path);
	if (fill_addr(path, &sun, err) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return rmail_err_set(err, RMAIL_E_IO, "socket: %s",
				     strerror(errno));
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (rc == 0)
		return rmail_err_set(
			err, RMAIL_E_EXISTS,
			"control socket %s is in use by a running rmail", path);
	if (unlink(path) < 0)
		return rmail_err_set(
			err, RMAIL_E_IO,
			"cannot remove stale control socket %s: %s", path,
			strerror(errno));
	rm_log(RMAIL_LOG_INFO, "took over stale control socket %s", path);
	return 0;
}

int rm_control_bind(const char *path, struct rmail_err *err)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd;

	if (fill_addr(path, &sun, err) < 0 || take_over(path, err) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return rmail_err_set(err, RMAIL_E_IO, "socket: %s",
				     strerror(errno));
	/* created 0600 from the start: no window where others may connect */
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		umask(old);
		rmail_err_set(err, RMAIL_E_IO, "control socket %s: %s", path,
			      strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	if (listen(fd, 16) < 0) {
		rmail_err_set(err, RMAIL_E_IO, "control socket %s: %s", path,
			      strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

static void stamp_start(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	started_at = (double)ts.tv_sec;
}

int rm_control_start(const char *path, struct rmail_err *err)
{
	int fd;

	register_builtins();
	stamp_start();
	if (path == NULL || path[0] == '\0')
		return 0;
	fd = rm_control_bind(path, err);
	if (fd < 0)
		return -1;
	ctl_fd = fd;
	ctl_path = rm_xstrdup(path);
	ctl_io = rm_io_add(fd, RMAIL_IO_READ, accept_cb, NULL);
	return 0;
}

/* a worker's socket, bound by the supervisor, which also removes it */
int rm_control_start_fd(int fd)
{
	rm_control_reset();
	register_builtins();
	stamp_start();
	if (fd < 0)
		return 0;
	ctl_fd = fd;
	ctl_io = rm_io_add(fd, RMAIL_IO_READ, accept_cb, NULL);
	return 0;
}

void rm_control_stop(void)
{
	if (ctl_io != NULL)
		rm_io_del(&ctl_io);
	if (ctl_fd >= 0) {
		close(ctl_fd);
		ctl_fd = -1;
		if (ctl_path != NULL)
			(void)unlink(ctl_path);
	}
	free(ctl_path);
	ctl_path = NULL;
	rm_control_reset();
}

int rm_control_call(const char *path, int argc, const char *const *argv,
		    char *out, size_t outsz, struct rmail_err *err)
{
	struct sockaddr_un sun;
	char *req, *buf;
	size_t len = 0, cap = CTL_OUT_MAX + 8, reqlen = 0, body;
	int fd, i, ok;

	if (fill_addr(path, &sun, err) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return rmail_err_set(err, RMAIL_E_IO, "socket: %s",
				     strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		rmail_err_set(err, RMAIL_E_IO,
			      "cannot reach the daemon at %s: %s (is it "
			      "running?)",
			      path, strerror(errno));
		close(fd);
		return -1;
	}
	for (i = 0; i < argc; i++)
		reqlen += strlen(argv[i]) + 1;
	req = rm_xmalloc(reqlen + 2);
	req[0] = '\0';
	for (i = 0, len = 0; i < argc; i++) {
		size_t n = strlen(argv[i]);

		memcpy(req + len, argv[i], n);
		len += n;
		req[len++] = i + 1 < argc ? ' ' : '\n';
	}
	if (argc == 0)
		req[len++] = '\n';
	write_all(fd, req, len);
	free(req);
	buf = rm_xmalloc(cap);
	len = 0;
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;

		/* a reload may take a while (certificate generation) */
		if (poll(&pfd, 1, 120000) <= 0)
			break;
		n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == cap - 1)
			break;
	}
	close(fd);
	buf[len] = '\0';
	ok = strncmp(buf, "OK\n", 3) == 0;
	if (!ok && strncmp(buf, "ERR\n", 4) != 0) {
		free(buf);
		return rmail_err_set(err, RMAIL_E_IO,
				     "no answer from the daemon at %s", path);
	}
	body = ok ? 3 : 4;
	if (out != NULL && outsz > 0)
		snprintf(out, outsz, "%s", buf + body);
	if (!ok) {
		char *nl;

		rmail_err_set(err, RMAIL_E_INVAL, "%s", buf + body);
		nl = strrchr(err->msg, '\n');
		if (nl != NULL && nl[1] == '\0')
			*nl = '\0';
	}
	free(buf);
	return ok ? 0 : -1;
}
