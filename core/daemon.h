/*
 * Internals shared by the daemon-side files: the pid file and the
 * privilege drop.  Never installed.
 */
#ifndef RM_DAEMON_H
#define RM_DAEMON_H

#include <stdbool.h>
#include <sys/types.h>

#include "rm.h"

/* pidfile.c: a live owner (holding the lock) refuses, a stale file is
 * taken over; the lock lives as long as the process. */
int rm_pidfile_acquire(const char *path, struct rmail_err *err);
void rm_pidfile_release(void);

/* privdrop.c */
struct rm_priv {
	bool active; /* run_as set and we are root */
	uid_t uid;
	gid_t gid;
	const char *user;
};
int rm_priv_resolve(const char *run_as, struct rm_priv *p_r,
		    struct rmail_err *err);
/* bind, as root, every RMAIL_CONF_LISTEN key of every listed module
 * (its configured or default value); the modules are read by a child
 * running as p (when p->active), never as root */
int rm_priv_prebind(const struct rm_config *conf, const struct rm_priv *p,
		    struct rmail_err *err);
int rm_priv_drop(const struct rm_priv *p, struct rmail_err *err);
/* can uid/gid (with its groups) access path with mode (R_OK|W_OK|X_OK)? */
bool rm_priv_can_access(const struct rm_priv *p, const char *path, int mode);

/* daemon.c: what a worker of the supervisor runs (its control socket,
 * bound by the supervisor, or -1); the config the supervisor validated
 * on a reload becomes the one restarted workers start with */
int rm_daemon_worker(int ctl_fd, bool print_endpoints);
void rm_daemon_swap_conf(struct rm_config *newc);
void rm_sd_notify_reloading(void);

/* supervisor.c: processes > 1 */
int rm_supervise(const struct rm_config *conf, const struct rm_priv *priv,
		 bool print_endpoints);
/* a worker tells the supervisor it is ready */
void rm_proc_ready(void);
/* worker i's control socket ("<control_socket>.i"), NULL without one */
char *rm_proc_ctl_path(uint32_t i);

#endif
