/*
 * bench_daemon: the rmail daemon a loopback bench starts for itself on a
 * temporary directory (config, user, serve, wait for the port, stop).
 * Every failure goes to the bench's own die(), which must not return,
 * so each bench keeps its own error messages and cleanup.
 */
#ifndef BENCH_DAEMON_H
#define BENCH_DAEMON_H

#include <sys/types.h>

struct bench_daemon {
	const char *prog;	       /* prefix of error messages */
	void (*die)(const char *what); /* reports errno; never returns */
	const char *bin;	       /* the rmail binary */
	char dir[64];		       /* the temporary directory */
	char root[512];		       /* dir/mail */
	char config[600];	       /* dir/config.json */
	unsigned short port;	       /* where bench_wait_port() looks */
	pid_t pid;		       /* the serving daemon, or <= 0 */
};

/* mkdtemp(tmpl) into dir, and root and config below it */
void bench_daemon_init(struct bench_daemon *d, const char *tmpl);

/* a loopback port that was free a moment ago */
unsigned short bench_free_port(struct bench_daemon *d);

/* writes the config file; the format is the whole JSON document */
void bench_daemon_config(struct bench_daemon *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* runs d->bin with args, in on its stdin; exits unless it succeeds */
void bench_run(struct bench_daemon *d, const char *const *args, const char *in);

/* `rmail -c config user add user --password-stdin` */
void bench_user_add(struct bench_daemon *d, const char *user, const char *pw);

/* 0 once 127.0.0.1:port accepts, -1 after tries attempts */
int bench_wait_port(unsigned short port, int tries, unsigned usec);

/* user add, `rmail serve` with stdout on /dev/null, wait for d->port;
 * exits if the daemon does not come up within 10 s */
void bench_daemon_start(struct bench_daemon *d, const char *user,
			const char *pw);

/* SIGTERM to the daemon and wait for it */
void bench_daemon_stop(struct bench_daemon *d);

#endif
