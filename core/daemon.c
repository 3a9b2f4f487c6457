/*
 * The daemon's lifetime: config, pid file, TLS, privilege drop, modules,
 * control socket, the loop; SIGHUP reloads, SIGINT/SIGTERM drain and
 * exit.  systemd's notify protocol is one datagram, sent by hand.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "admin_http.h"
#include "daemon.h"
#include "hostshm.h"
#include "dns/dns.h"
#include "index/index.h"
#include "mailauth/dkim_keys.h"
#include "submit/mta_sts.h"
#include "submit/tlsrpt.h"

struct daemon {
	struct rm_config *conf;
	struct rm_config *prev; /* kept one generation: late readers */
	struct rm_priv priv;
	struct rm_tls_files tls; /* the certificates in force */
	ev_signal sighup, sigint, sigterm;
	ev_timer drain;
	double drain_deadline;
	bool stopping;
	int status;
};

static struct daemon d;

void rm_sd_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t len;
	size_t n;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return;
	n = strlen(path);
	if (n >= sizeof(sun.sun_path))
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, n);
	if (path[0] == '@')
		sun.sun_path[0] = '\0'; /* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
		   (struct sockaddr *)&sun, len) < 0)
		rm_log(RMAIL_LOG_DEBUG, "sd_notify: %s", strerror(errno));
	close(fd);
}

void rm_sd_notify_reloading(void)
{
	struct timespec ts;
	char buf[96];

	/* systemd >= 253 wants the monotonic stamp with RELOADING=1 */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(buf, sizeof(buf), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ull +
			 (unsigned long long)ts.tv_nsec / 1000ull);
	rm_sd_notify(buf);
}

struct report_buf {
	char *buf;
	size_t size;
	size_t len;
};

static void report_collect(void *arg, const char *problem)
{
	struct report_buf *r = arg;
	int n;

	rm_log(RMAIL_LOG_ERR, "reload: %s", problem);
	if (r->len + 1 >= r->size)
		return;
	n = snprintf(r->buf + r->len, r->size - r->len, "%s%s",
		     r->len > 0 ? "; " : "", problem);
	if (n > 0)
		r->len += (size_t)n;
	if (r->len >= r->size)
		r->len = r->size - 1;
}

static int ensure_tls(const struct rm_config *conf, struct rm_tls_files *f,
		      struct rmail_err *err)
{
	if (rm_tls_ensure(conf, d.priv.active ? (int)d.priv.uid : -1,
			  d.priv.active ? (int)d.priv.gid : -1, f, err) < 0)
		return -1;
	return rm_tls_load_files(f, err);
}

int rm_daemon_reload(struct rmail_err *err)
{
	struct rm_config *newc = NULL;
	struct rmail_err e;
	struct report_buf rb;
	struct rm_tls_files tls;
	const char *restart;
	char reasons[sizeof(err->msg)];

	if (d.conf == NULL)
		return rmail_err_set(err, RMAIL_E_INTERNAL, "not running");
	rm_log(RMAIL_LOG_INFO, "reloading %s", d.conf->path);
	rm_sd_notify_reloading();
	rmail_err_clear(&e);
	reasons[0] = '\0';
	rb.buf = reasons;
	rb.size = sizeof(reasons);
	rb.len = 0;
	if (rm_config_load(d.conf->path, &newc, report_collect, &rb) < 0) {
		rmail_err_set(err, RMAIL_E_INVAL, "%s",
			      rb.len > 0 ? reasons : "config refused");
		goto refused;
	}
	if (ensure_tls(newc, &tls, &e) < 0) {
		rmail_err_set(err, RMAIL_E_INVAL, "tls: %s", e.msg);
		goto refused;
	}
	if (rm_modules_reload(newc, &e) < 0) {
		struct rmail_err e2;

		rmail_err_set(err, RMAIL_E_INVAL, "%s", e.msg);
		/* the new certificate must not outlive a refused config */
		if (d.tls.cert != NULL && rm_tls_load_files(&d.tls, &e2) < 0)
			rm_log(RMAIL_LOG_ERR,
			       "reload: restoring the old "
			       "certificate: %s",
			       e2.msg);
		goto refused;
	}
	restart = rm_config_restart_keys(d.conf, newc);
	if (restart != NULL && restart[0] != '\0') {
		rm_log(RMAIL_LOG_WARN,
		       "reload: restart needed for %s "
		       "(the running values stay; the rest applies)",
		       restart);
		rmail_err_set(err, RMAIL_E_NONE, "restart needed for %s",
			      restart);
	} else {
		rmail_err_clear(err);
	}
	rm_config_free(&d.prev);
	d.prev = d.conf;
	d.conf = newc;
	d.tls = tls;
	rm_conf_set(newc);
	rm_log_set_level(newc->log_level);
	rm_log(RMAIL_LOG_INFO, "dkim: %zu active signing keys",
	       dkim_keyring_load(newc->mail_root));
	rm_log(RMAIL_LOG_INFO, "reloaded %s", newc->path);
	rm_sd_notify("READY=1");
	return 0;

refused:
	rm_log(RMAIL_LOG_ERR, "reload refused, the running config stays: %s",
	       err->msg);
	rm_config_free(&newc);
	rm_sd_notify("READY=1");
	return -1;
}

static void finish(void)
{
	ev_timer_stop(rm_loop(), &d.drain);
	rm_loop_break();
}

static void drain_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	if (rm_conn_count() == 0 && rm_work_pending() == 0) {
		finish();
		return;
	}
	if (rm_now() >= d.drain_deadline) {
		rm_log(RMAIL_LOG_WARN,
		       "shutdown timeout: closing %zu "
		       "connection(s)",
		       rm_conn_count());
		rm_conn_close_all(RMAIL_CLOSE_SHUTDOWN);
		finish();
	}
}

static void stop_cb(struct ev_loop *l, ev_signal *w, int revents)
{
	(void)l;
	(void)revents;
	if (d.stopping) {
		/* a second signal: the operator does not want to wait */
		rm_log(RMAIL_LOG_WARN, "stopping now");
		rm_modules_stop(RMAIL_STOP_NOW);
		rm_conn_close_all(RMAIL_CLOSE_SHUTDOWN);
		finish();
		return;
	}
	d.stopping = true;
	rm_log(RMAIL_LOG_INFO, "%s: stopping", strsignal(w->signum));
	rm_sd_notify("STOPPING=1");
	rm_listen_stop_accepting();
	rm_modules_stop(RMAIL_STOP_GRACEFUL);
	d.drain_deadline = rm_now() + d.conf->shutdown_timeout;
	ev_timer_init(&d.drain, drain_cb, 0., 0.05);
	ev_timer_start(rm_loop(), &d.drain);
}

static void hup_cb(struct ev_loop *l, ev_signal *w, int revents)
{
	struct rmail_err err;

	(void)l;
	(void)w;
	(void)revents;
	if (d.stopping)
		return;
	rmail_err_clear(&err);
	(void)rm_daemon_reload(&err);
}

static void print_listener(void *arg, const char *proto, const char *addr,
			   int tls)
{
	(void)arg;
	(void)tls;
	printf("%s: %s\n", proto, addr);
}

static void report_log(void *arg, const char *problem)
{
	(void)arg;
	rm_log(RMAIL_LOG_ERR, "%s", problem);
}

static void signals_start(void)
{
	struct ev_loop *l = rm_loop();

	/* a peer closing mid-write must not kill the daemon */
	signal(SIGPIPE, SIG_IGN);
	ev_signal_init(&d.sighup, hup_cb, SIGHUP);
	ev_signal_init(&d.sigint, stop_cb, SIGINT);
	ev_signal_init(&d.sigterm, stop_cb, SIGTERM);
	ev_signal_start(l, &d.sighup);
	ev_signal_start(l, &d.sigint);
	ev_signal_start(l, &d.sigterm);
}

static void signals_stop(void)
{
	struct ev_loop *l;

	if (!ev_is_active(&d.sighup))
		return; /* a supervisor: no loop of its own */
	l = rm_loop();

	ev_signal_stop(l, &d.sighup);
	ev_signal_stop(l, &d.sigint);
	ev_signal_stop(l, &d.sigterm);
}

/* a fresh install (or the default config) starts with no mail root */
static int ensure_mail_root(const struct rm_config *conf, struct rmail_err *err)
{
	const char *root = conf->mail_root;

	if (root == NULL || mkdir(root, 0750) == 0) {
		if (root != NULL && d.priv.active &&
		    chown(root, d.priv.uid, d.priv.gid) < 0)
			return rmail_err_set(err, RMAIL_E_IO, "chown %s: %s",
					     root, strerror(errno));
		if (root != NULL)
			rm_log(RMAIL_LOG_INFO, "created mail_root %s", root);
		return 0;
	}
	if (errno == EEXIST)
		return 0;
	return rmail_err_set(err, RMAIL_E_IO, "cannot create mail_root %s: %s",
			     root, strerror(errno));
}

static void log_ready(size_t nmods, const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	rm_log(RMAIL_LOG_INFO,
	       "ready: %zu module(s), pid %ld, "
	       "%.0f ms",
	       nmods, (long)getpid(),
	       (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
		       (double)(t1.tv_nsec - t0->tv_nsec) / 1e6);
}

/* the jobs that run once a host (the queue's retry scan, MTA-STS
 * refreshes, /metrics) belong to worker 0; the report senders, sweeps
 * and mod_spamlearn take their mail root's lease in any worker */
static int serve(const struct timespec *t0, bool print_endpoints)
{
	struct rmail_err err;
	size_t nmods;
	bool first = rm_proc_index() == 0;

	rmail_err_clear(&err);
	/* per-host pools: shared out over the workers, not multiplied */
	if (rm_workers_init(rm_proc_share(d.conf->delivery.workers),
			    rm_proc_share(d.conf->workers.read),
			    rm_proc_share(d.conf->workers.hash)) < 0) {
		rmail_err_set(&err, RMAIL_E_INTERNAL, "worker pools failed");
		rm_log(RMAIL_LOG_ERR, "%s", err.msg);
		rm_control_stop();
		return 1;
	}
	/* the resolver, after the drop: libunbound starts its thread and
	 * reads the trust anchor on first use.  Its DNSSEC check runs in
	 * the background; start-up does not wait for it. */
	if (rm_dns_init(d.conf, &err) < 0) {
		rm_log(RMAIL_LOG_ERR, "%s", err.msg);
		rm_control_stop();
		return 1;
	}
	nmods = rm_modules_load(d.conf, report_log, NULL);
	if (rm_modules_init(&err) < 0 || rm_modules_start(&err) < 0)
		goto fail_mods;
	/* message submission (core-submit): spool, queue runner, the
	 * "queue kick" control command */
	if (rm_submit_init(&err) < 0 || rm_submit_start(&err) < 0)
		goto fail_mods;
	/* the header cache and full-text index: its update thread (one
	 * per worker process; the per-file lease keeps one writer) */
	if (rm_index_start() < 0)
		rm_log(RMAIL_LOG_WARN,
		       "index: no update thread, searches scan");
	rm_dmarc_send_start();
	/* MTA-STS policy refresh, TLS-RPT daily reports */
	if (first)
		rm_mta_sts_start();
	rm_tlsrpt_send_start();
	/* ops: the admin HTTP listener (admin.listen, GET /metrics) */
	if (first && rm_admin_start(&err) < 0)
		goto fail_mods;
	if (print_endpoints)
		rm_listen_foreach(print_listener, NULL);
	fflush(stdout);
	log_ready(nmods, t0);
	if (rm_proc_count() > 1) {
		/* every worker shows in /metrics, idle or not */
		rm_metric_set("rmail_worker_start_time_seconds", NULL,
			      (double)time(NULL));
		rm_proc_ready();
	} else
		rm_sd_notify("READY=1");
	rm_loop_run();

	rm_control_stop();
	rm_workers_shutdown(d.drain_deadline > rm_now()
				    ? d.drain_deadline - rm_now()
				    : 1.0);
	rm_index_stop();
	rm_modules_fini();
	rm_dns_shutdown();
	rm_log(RMAIL_LOG_INFO, "stopped");
	return 0;

fail_mods:
	rm_log(RMAIL_LOG_ERR, "%s", err.msg);
	rm_modules_stop(RMAIL_STOP_NOW);
	rm_conn_close_all(RMAIL_CLOSE_SHUTDOWN);
	rm_control_stop();
	rm_workers_shutdown(1.0);
	rm_index_stop();
	rm_modules_fini();
	rm_dns_shutdown();
	return 1;
}

int rm_daemon_worker(int ctl_fd, bool print_endpoints)
{
	struct rmail_err err;
	struct timespec t0;
	int status;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rmail_err_clear(&err);
	/* the supervisor's config in force; the previous one is its own */
	d.prev = NULL;
	d.stopping = false;
	if (rm_loop_init() < 0) {
		rm_log(RMAIL_LOG_ERR, "event loop init failed");
		return 1;
	}
	signals_start();
	rm_control_start_fd(ctl_fd);
	/* the files the supervisor made, read afresh: a restarted worker
	 * serves the certificate of the last reload */
	if (ensure_tls(d.conf, &d.tls, &err) < 0) {
		rm_log(RMAIL_LOG_ERR, "%s", err.msg);
		rm_control_stop();
		return 1;
	}
	status = serve(&t0, print_endpoints);
	signals_stop();
	return status;
}

void rm_daemon_swap_conf(struct rm_config *newc)
{
	rm_config_free(&d.prev);
	d.prev = d.conf;
	d.conf = newc;
	rm_conf_set(newc);
	rm_log_set_level(newc->log_level);
}

int rm_daemon_run(const char *config_path, bool print_endpoints)
{
	struct rmail_err err;
	struct timespec t0;
	int status = 1;

	memset(&d, 0, sizeof(d));
	rmail_err_clear(&err);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (rm_config_load(config_path, &d.conf, rm_config_report_log, NULL) <
	    0)
		return 1;
	rm_conf_set(d.conf);
	rm_log_set_level(d.conf->log_level);
	/* the per-host limits table, before anything forks: worker
	 * processes inherit it (hostshm.h) */
	if (rm_hostshm_init() < 0)
		return 1;
	(void)rm_fdlimit_warn(rm_fdlimit_raise(),
			      d.conf->limits.max_connections);
	if (rm_priv_resolve(d.conf->run_as, &d.priv, &err) < 0)
		goto fail;
	if (rm_pidfile_acquire(d.conf->pid_file, &err) < 0)
		goto fail;
	if (d.conf->processes > 1) {
		if (ensure_mail_root(d.conf, &err) < 0 ||
		    ensure_tls(d.conf, &d.tls, &err) < 0) {
			rm_log(RMAIL_LOG_ERR, "%s", err.msg);
			goto out;
		}
		status = rm_supervise(d.conf, &d.priv, print_endpoints);
		goto out;
	}
	if (rm_loop_init() < 0) {
		rmail_err_set(&err, RMAIL_E_INTERNAL, "event loop init failed");
		goto fail_pid;
	}
	signals_start();
	if (ensure_mail_root(d.conf, &err) < 0 ||
	    ensure_tls(d.conf, &d.tls, &err) < 0)
		goto fail_pid;
	/* before any drop: the run directory may be root's.  Requests
	 * wait in the backlog until the loop runs, after start. */
	if (rm_control_start(d.conf->control_socket, &err) < 0)
		goto fail_pid;
	if (d.priv.active) {
		if (rm_priv_prebind(d.conf, &d.priv, &err) < 0 ||
		    rm_priv_drop(&d.priv, &err) < 0)
			goto fail_pid;
		rm_log(RMAIL_LOG_INFO, "running as %s", d.priv.user);
	}
	status = serve(&t0, print_endpoints);
	goto out;

fail_pid:
	rm_log(RMAIL_LOG_ERR, "%s", err.msg);
	rm_control_stop();
out:
	signals_stop();
	rm_pidfile_release();
	rm_conf_set(NULL);
	rm_config_free(&d.prev);
	rm_config_free(&d.conf);
	return status;
fail:
	rm_log(RMAIL_LOG_ERR, "%s", err.msg);
	rm_conf_set(NULL);
	rm_config_free(&d.conf);
	return status;
}
