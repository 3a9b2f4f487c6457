/*
 * processes: N > 1.  The supervisor binds every listener and the control
 * sockets (before the privilege drop, as a single process does), forks N
 * workers that each run the full event loop on the inherited sockets,
 * restarts a worker that dies (with back-off), passes signals on, tells
 * systemd READY once every worker is ready, and turns SIGHUP into a
 * rolling reload.
 *
 * Inherited sockets rather than SO_REUSEPORT: a listener keeps one
 * accept queue owned by the kernel, not by a worker, so connections
 * queued when a worker exits or restarts stay for the others; with
 * SO_REUSEPORT each worker has its own queue and the connections in it
 * are reset when it closes.  Every worker watches the same sockets (libev
 * has no EPOLLEXCLUSIVE); a connection wakes them all and the losers get
 * EAGAIN from accept4, a cost that stays small with one worker a core.
 *
 * The supervisor loads no module and runs no event loop: a poll over a
 * signalfd, the workers' ready pipe and the control socket, so a fork
 * from it starts a worker from a clean state at any time.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "hostshm.h"

#define BACKOFF_MIN 0.1
#define BACKOFF_MAX 30.0
#define STABLE_AFTER 10.0 /* a worker up this long starts back-off over */
#define STOP_GRACE 5.0	  /* past shutdown_timeout, then SIGKILL */

struct wproc {
	pid_t pid; /* 0: not running */
	int ctl_fd;
	char *ctl_path;
	bool ready;
	double started;
	double backoff;
	double restart_at; /* > 0: to be restarted then */
	unsigned starts;
};

static struct {
	const struct rm_priv *priv;
	uint32_t n;
	struct wproc *w;
	sigset_t oldmask;
	pid_t self;
	int sigfd;
	int ready_rd, ready_wr;
	int ctl_fd;
	char *ctl_path;
	bool print;
	bool stopping;
	bool all_ready;
	bool failed;
	double stop_deadline;
	double started;
} sv = {.sigfd = -1, .ready_rd = -1, .ready_wr = -1, .ctl_fd = -1};

static uint32_t proc_index, proc_count = 1;
static int ready_fd = -1;

uint32_t rm_ncpu(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (uint32_t)n : 1;
}

uint32_t rm_proc_index(void)
{
	return proc_index;
}

uint32_t rm_proc_count(void)
{
	return proc_count;
}

uint32_t rm_proc_share(uint32_t n)
{
	uint32_t s = (n + proc_count - 1) / proc_count;

	return s > 0 ? s : 1;
}

void rm_proc_ready(void)
{
	uint32_t i = proc_index;

	if (ready_fd >= 0 && write(ready_fd, &i, sizeof(i)) < 0)
		rm_log(RMAIL_LOG_WARN, "ready pipe: %s", strerror(errno));
}

char *rm_proc_ctl_path(uint32_t i)
{
	const struct rm_config *c = rm_conf();
	size_t n;
	char *p;

	if (c == NULL || c->control_socket == NULL ||
	    c->control_socket[0] == '\0')
		return NULL;
	n = strlen(c->control_socket) + 16;
	p = rm_xmalloc(n);
	snprintf(p, n, "%s.%u", c->control_socket, (unsigned)i);
	return p;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void spawn(uint32_t i)
{
	struct wproc *w = &sv.w[i];
	pid_t pid;

	fflush(NULL); /* nothing buffered is written twice */
	pid = fork();
	if (pid < 0) {
		rm_log(RMAIL_LOG_ERR, "worker %u: fork: %s", (unsigned)i,
		       strerror(errno));
		w->restart_at = mono() + (w->backoff > 0 ? w->backoff : 1.0);
		return;
	}
	if (pid == 0) {
		bool print = sv.print && i == 0 && w->starts == 0;

		/* a terminal's ^C reaches the supervisor, which passes it
		 * on once; a supervisor gone without a word stops us */
		(void)setpgid(0, 0);
		(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != sv.self)
			_exit(1);
		close(sv.sigfd);
		close(sv.ready_rd);
		if (sv.ctl_fd >= 0)
			close(sv.ctl_fd);
		for (uint32_t j = 0; j < sv.n; j++)
			if (j != i && sv.w[j].ctl_fd >= 0)
				close(sv.w[j].ctl_fd);
		sigprocmask(SIG_SETMASK, &sv.oldmask, NULL);
		/* this worker's column of per-IP connection counts */
		rm_hostshm_set_proc(i);
		/* NotifyAccess=main: only the supervisor speaks to systemd */
		unsetenv("NOTIFY_SOCKET");
		proc_index = i;
		ready_fd = sv.ready_wr;
		rm_control_reset();
		_exit(rm_daemon_worker(w->ctl_fd, print));
	}
	w->pid = pid;
	w->ready = false;
	w->started = mono();
	w->restart_at = 0;
	w->starts++;
	rm_log(RMAIL_LOG_INFO, "worker %u started, pid %ld", (unsigned)i,
	       (long)pid);
}

static size_t live_workers(void)
{
	size_t n = 0;

	for (uint32_t i = 0; i < sv.n; i++)
		if (sv.w[i].pid > 0)
			n++;
	return n;
}

static void signal_all(int sig)
{
	for (uint32_t i = 0; i < sv.n; i++)
		if (sv.w[i].pid > 0)
			kill(sv.w[i].pid, sig);
}

static void begin_stop(int sig)
{
	const struct rm_config *c = rm_conf();

	if (sv.stopping) {
		/* a second signal: the workers stop now too */
		rm_log(RMAIL_LOG_WARN, "stopping now");
		signal_all(sig);
		return;
	}
	sv.stopping = true;
	rm_log(RMAIL_LOG_INFO, "%s: stopping %zu worker(s)", strsignal(sig),
	       live_workers());
	rm_sd_notify("STOPPING=1");
	sv.stop_deadline =
		mono() + (c != NULL ? c->shutdown_timeout : 10.0) + STOP_GRACE;
	signal_all(sig);
}

static void describe_exit(int st, char *buf, size_t sz)
{
	if (WIFEXITED(st))
		snprintf(buf, sz, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, sz, "killed by %s", strsignal(WTERMSIG(st)));
	else
		snprintf(buf, sz, "ended (status %d)", st);
}

static void reap(void)
{
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		char why[96];
		uint32_t i;
		struct wproc *w = NULL;
		double lived;

		for (i = 0; i < sv.n; i++)
			if (sv.w[i].pid == pid)
				w = &sv.w[i];
		if (w == NULL)
			continue;
		i = (uint32_t)(w - sv.w);
		w->pid = 0;
		/* its connections died with it: the per-IP caps forget them */
		rm_hostshm_proc_gone(i);
		describe_exit(st, why, sizeof(why));
		if (sv.stopping) {
			rm_log(RMAIL_LOG_INFO, "worker %u (pid %ld) %s",
			       (unsigned)i, (long)pid, why);
			continue;
		}
		if (!sv.all_ready) {
			/* a worker that cannot start will not start on a
			 * retry either: fail like a single process */
			rm_log(RMAIL_LOG_ERR,
			       "worker %u (pid %ld) %s before ready",
			       (unsigned)i, (long)pid, why);
			sv.failed = true;
			begin_stop(SIGTERM);
			continue;
		}
		lived = mono() - w->started;
		if (lived >= STABLE_AFTER || w->backoff <= 0)
			w->backoff = BACKOFF_MIN;
		else if ((w->backoff *= 2) > BACKOFF_MAX)
			w->backoff = BACKOFF_MAX;
		w->restart_at = mono() + w->backoff;
		rm_log(RMAIL_LOG_WARN,
		       "worker %u (pid %ld) %s after %.1f s; restarting in "
		       "%.1f s",
		       (unsigned)i, (long)pid, why, lived, w->backoff);
	}
}

static void read_ready(void)
{
	uint32_t i;

	while (read(sv.ready_rd, &i, sizeof(i)) == (ssize_t)sizeof(i)) {
		if (i >= sv.n || sv.w[i].pid <= 0)
			continue;
		sv.w[i].ready = true;
		if (sv.all_ready) {
			rm_log(RMAIL_LOG_INFO, "worker %u ready, pid %ld",
			       (unsigned)i, (long)sv.w[i].pid);
			continue;
		}
		for (i = 0; i < sv.n; i++)
			if (!sv.w[i].ready)
				break;
		if (i < sv.n)
			continue;
		sv.all_ready = true;
		rm_log(RMAIL_LOG_INFO,
		       "ready: %u worker processes, supervisor pid %ld, %.0f "
		       "ms",
		       (unsigned)sv.n, (long)sv.self,
		       (mono() - sv.started) * 1e3);
		rm_sd_notify("READY=1");
	}
}

/* ---- the control socket: the host's view ---------------------------- */

static int call_worker(uint32_t i, int argc, const char *const *argv, char *out,
		       size_t outsz)
{
	struct rmail_err err;

	rmail_err_clear(&err);
	if (sv.w[i].pid <= 0 || sv.w[i].ctl_path == NULL) {
		snprintf(out, outsz, "worker %u is not running", (unsigned)i);
		return -1;
	}
	if (rm_control_call(sv.w[i].ctl_path, argc, argv, out, outsz, &err) <
	    0) {
		snprintf(out, outsz, "worker %u: %s", (unsigned)i, err.msg);
		return -1;
	}
	return 0;
}

static int sv_ping(void *arg, int argc, const char *const *argv, char *out,
		   size_t outsz)
{
	(void)arg;
	(void)argc;
	(void)argv;
	snprintf(out, outsz, "pong");
	return 0;
}

static unsigned long long field(const char *text, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = text; p != NULL && *p != '\0';) {
		if (strncmp(p, name, n) == 0 && p[n] == ' ')
			return strtoull(p + n + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return 0;
}

/* every worker at once, bounded: a stopped worker shows 0
 * connections rather than holding the answer (ctl_gather.c) */
#define STATUS_TIMEOUT 2.0

static int sv_status(void *arg, int argc, const char *const *argv, char *out,
		     size_t outsz)
{
	static const char *const st[] = {"status"};
	unsigned long long conns = 0, pending = 0, mods = 0;
	size_t len = 0, cap = 4096;
	char *lines = rm_xmalloc(cap), **paths, **ans;

	(void)arg;
	(void)argc;
	(void)argv;
	lines[0] = '\0';
	paths = rm_xcalloc(sv.n, sizeof(*paths));
	for (uint32_t i = 0; i < sv.n; i++)
		paths[i] = sv.w[i].pid > 0 ? sv.w[i].ctl_path : NULL;
	ans = rm_control_gather(paths, sv.n, 1, st, STATUS_TIMEOUT);
	for (uint32_t i = 0; i < sv.n; i++) {
		unsigned long long c = 0, p = 0;
		int n;

		if (ans[i] != NULL) {
			c = field(ans[i], "connections");
			p = field(ans[i], "pending work");
			if (mods == 0)
				mods = field(ans[i], "modules");
		}
		conns += c;
		pending += p;
		n = snprintf(lines + len, cap - len,
			     "\nworker %u pid %ld %s connections %llu", i,
			     (long)sv.w[i].pid,
			     sv.w[i].pid <= 0 ? "down"
			     : ans[i] == NULL ? "not answering"
			     : sv.w[i].ready  ? "ready"
					      : "starting",
			     c);
		if (n > 0 && (size_t)n < cap - len)
			len += (size_t)n;
		free(ans[i]);
	}
	free(ans);
	free(paths);
	snprintf(out, outsz,
		 "pid %ld\nversion %s\nuptime %.0f s\nmodules %llu\n"
		 "connections %llu\npending work %llu\nprocesses %u%s",
		 (long)sv.self, RMAIL_VERSION, mono() - sv.started, mods, conns,
		 pending, (unsigned)sv.n, lines);
	free(lines);
	return 0;
}

static void report_collect(void *arg, const char *problem)
{
	char *buf = arg;
	size_t len = strlen(buf);

	rm_log(RMAIL_LOG_ERR, "reload: %s", problem);
	snprintf(buf + len, 512 - len, "%s%s", len > 0 ? "; " : "", problem);
}

/* validate once, then one worker after the other: the others accept
 * meanwhile, and every worker keeps its sessions */
static int rolling_reload(char *out, size_t outsz)
{
	static const char *const rl[] = {"reload"};
	struct rm_config *newc = NULL;
	char reasons[512] = "", one[1024];
	const struct rm_config *cur = rm_conf();
	int rc = 0;

	rm_log(RMAIL_LOG_INFO, "reloading %s in %u workers", cur->path,
	       (unsigned)sv.n);
	rm_sd_notify_reloading();
	if (rm_config_load(cur->path, &newc, report_collect, reasons) < 0) {
		snprintf(out, outsz, "reload refused: %s",
			 reasons[0] ? reasons : "config refused");
		rm_log(RMAIL_LOG_ERR,
		       "reload refused, the running config stays: %s", reasons);
		rm_sd_notify("READY=1");
		return -1;
	}
	out[0] = '\0';
	for (uint32_t i = 0; i < sv.n && rc == 0; i++) {
		if (sv.w[i].pid <= 0)
			continue; /* restarts with the new config */
		if (sv.w[i].ctl_path == NULL) {
			kill(sv.w[i].pid, SIGHUP);
			continue;
		}
		if (call_worker(i, 1, rl, one, sizeof(one)) < 0) {
			snprintf(out, outsz, "reload refused by worker %u: %s",
				 (unsigned)i, one);
			rc = -1;
		} else if (i == 0) {
			snprintf(out, outsz, "%s", one);
		}
	}
	if (rc == 0) {
		rm_daemon_swap_conf(newc);
		rm_log(RMAIL_LOG_INFO, "reloaded %s in %u workers",
		       rm_conf()->path, (unsigned)sv.n);
	} else {
		rm_log(RMAIL_LOG_ERR, "%s", out);
		rm_config_free(&newc);
	}
	rm_sd_notify("READY=1");
	return rc;
}

static int sv_reload(void *arg, int argc, const char *const *argv, char *out,
		     size_t outsz)
{
	(void)arg;
	(void)argc;
	(void)argv;
	return rolling_reload(out, outsz);
}

/* The jobs that run once a host live in worker 0; state that other
 * commands act on (the lockouts of `exchange lockout-reset`, the
 * per-IP counts) is in the host's shared table, seen by every worker. */
static int sv_forward(void *arg, int argc, const char *const *argv, char *out,
		      size_t outsz)
{
	(void)arg;
	return call_worker(0, argc, argv, out, outsz);
}

/* ---- start and the loop --------------------------------------------- */

static int bind_sockets(const struct rm_config *conf, struct rmail_err *err)
{
	if (conf->control_socket != NULL && conf->control_socket[0] != '\0') {
		sv.ctl_fd = rm_control_bind(conf->control_socket, err);
		if (sv.ctl_fd < 0)
			return -1;
		sv.ctl_path = rm_xstrdup(conf->control_socket);
	}
	for (uint32_t i = 0; i < sv.n; i++) {
		struct wproc *w = &sv.w[i];

		w->ctl_fd = -1;
		w->ctl_path = rm_proc_ctl_path(i);
		if (w->ctl_path == NULL)
			continue;
		w->ctl_fd = rm_control_bind(w->ctl_path, err);
		if (w->ctl_fd < 0)
			return -1;
		/* the supervisor calls it after the drop */
		if (sv.priv->active &&
		    chown(w->ctl_path, sv.priv->uid, sv.priv->gid) < 0)
			return rmail_err_set(err, RMAIL_E_IO, "chown %s: %s",
					     w->ctl_path, strerror(errno));
	}
	return 0;
}

static void unbind_sockets(void)
{
	if (sv.ctl_fd >= 0) {
		close(sv.ctl_fd);
		(void)unlink(sv.ctl_path);
	}
	free(sv.ctl_path);
	for (uint32_t i = 0; i < sv.n; i++) {
		if (sv.w[i].ctl_fd >= 0) {
			close(sv.w[i].ctl_fd);
			(void)unlink(sv.w[i].ctl_path);
		}
		free(sv.w[i].ctl_path);
	}
}

static void handle_signals(void)
{
	struct signalfd_siginfo si;

	while (read(sv.sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap();
			break;
		case SIGHUP:
			if (!sv.stopping) {
				char out[1024];

				(void)rolling_reload(out, sizeof(out));
			}
			break;
		case SIGTERM:
		case SIGINT:
			begin_stop((int)si.ssi_signo);
			break;
		default:
			break;
		}
	}
}

static int next_timeout_ms(void)
{
	double now = mono(), next = -1;

	for (uint32_t i = 0; i < sv.n; i++) {
		double t = sv.w[i].restart_at;

		if (!sv.stopping && sv.w[i].pid == 0 && t > 0 &&
		    (next < 0 || t < next))
			next = t;
	}
	if (sv.stopping && (next < 0 || sv.stop_deadline < next))
		next = sv.stop_deadline;
	if (next < 0)
		return -1;
	return next <= now ? 0 : (int)((next - now) * 1e3) + 1;
}

static void run_loop(void)
{
	while (!sv.stopping || live_workers() > 0) {
		struct pollfd p[3] = {
			{.fd = sv.sigfd, .events = POLLIN},
			{.fd = sv.ready_rd, .events = POLLIN},
			{.fd = sv.stopping ? -1 : sv.ctl_fd, .events = POLLIN},
		};
		double now;

		if (poll(p, 3, next_timeout_ms()) < 0 && errno != EINTR)
			rm_panic("supervisor poll: %s", strerror(errno));
		if (p[0].revents)
			handle_signals();
		if (p[1].revents)
			read_ready();
		if (p[2].revents)
			rm_control_serve_one(sv.ctl_fd);
		now = mono();
		if (sv.stopping && now >= sv.stop_deadline) {
			rm_log(RMAIL_LOG_WARN,
			       "%zu worker(s) still running after the "
			       "shutdown timeout: killed",
			       live_workers());
			signal_all(SIGKILL);
			sv.stop_deadline = now + 3600;
		}
		for (uint32_t i = 0; i < sv.n && !sv.stopping; i++)
			if (sv.w[i].pid == 0 && sv.w[i].restart_at > 0 &&
			    sv.w[i].restart_at <= now)
				spawn(i);
	}
}

int rm_supervise(const struct rm_config *conf, const struct rm_priv *priv,
		 bool print_endpoints)
{
	struct rmail_err err;
	sigset_t mask;
	int pfd[2];

	rmail_err_clear(&err);
	sv.priv = priv;
	sv.n = conf->processes;
	sv.w = rm_xcalloc(sv.n, sizeof(*sv.w));
	for (uint32_t i = 0; i < sv.n; i++)
		sv.w[i].ctl_fd = -1;
	sv.print = print_endpoints;
	sv.self = getpid();
	sv.started = mono();
	proc_count = sv.n;
	signal(SIGPIPE, SIG_IGN);
	if (bind_sockets(conf, &err) < 0)
		goto fail;
	/* every listener of every module, as root when run_as is set: the
	 * workers inherit them, a restarted one too */
	if (rm_priv_prebind(conf, priv, &err) < 0 ||
	    rm_listen_prebind("admin", "listen", &conf->admin_listen, &err) < 0)
		goto fail;
	/* the per-host table (hostshm.c) was mapped by rm_daemon_run
	 * before this: every worker, a restarted one too, inherits it */
	if (priv->active) {
		if (rm_priv_drop(priv, &err) < 0)
			goto fail;
		rm_log(RMAIL_LOG_INFO, "running as %s", priv->user);
	}
	if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK) < 0) {
		rmail_err_set(&err, RMAIL_E_INTERNAL, "pipe: %s",
			      strerror(errno));
		goto fail;
	}
	sv.ready_rd = pfd[0];
	sv.ready_wr = pfd[1];
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, &sv.oldmask);
	sv.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sv.sigfd < 0) {
		rmail_err_set(&err, RMAIL_E_INTERNAL, "signalfd: %s",
			      strerror(errno));
		goto fail;
	}
	rm_control_reset();
	rm_control_register(NULL, "ping", sv_ping, NULL);
	rm_control_register(NULL, "status", sv_status, NULL);
	rm_control_register(NULL, "reload", sv_reload, NULL);
	rm_control_set_fallback(sv_forward, NULL);
	for (uint32_t i = 0; i < sv.n; i++)
		spawn(i);
	run_loop();
	rm_control_reset();
	unbind_sockets();
	close(sv.sigfd);
	close(sv.ready_rd);
	close(sv.ready_wr);
	sigprocmask(SIG_SETMASK, &sv.oldmask, NULL);
	free(sv.w);
	rm_log(RMAIL_LOG_INFO, "stopped");
	return sv.failed ? 1 : 0;

fail:
	rm_log(RMAIL_LOG_ERR, "%s", err.msg);
	unbind_sockets();
	free(sv.w);
	return 1;
}
