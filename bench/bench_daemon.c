#include "bench_daemon.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

void bench_daemon_init(struct bench_daemon *d, const char *tmpl)
{
	snprintf(d->dir, sizeof(d->dir), "%s", tmpl);
	if (mkdtemp(d->dir) == NULL)
		d->die("mkdtemp");
	snprintf(d->root, sizeof(d->root), "%s/mail", d->dir);
	snprintf(d->config, sizeof(d->config), "%s/config.json", d->dir);
}

unsigned short bench_free_port(struct bench_daemon *d)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &l) < 0)
		d->die("port");
	close(fd);
	return ntohs(a.sin_port);
}

void bench_daemon_config(struct bench_daemon *d, const char *fmt, ...)
{
	va_list ap;
	FILE *f = fopen(d->config, "w");

	if (f == NULL)
		d->die("config");
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

void bench_run(struct bench_daemon *d, const char *const *args, const char *in)
{
	int p[2], st;
	pid_t pid;

	if (pipe(p) < 0)
		d->die("pipe");
	pid = fork();
	if (pid == 0) {
		dup2(p[0], 0);
		close(p[1]);
		execv(d->bin, (char *const *)args);
		_exit(127);
	}
	close(p[0]);
	if (in != NULL && write(p[1], in, strlen(in)) < 0)
		d->die("write");
	close(p[1]);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0) {
		fprintf(stderr, "%s: %s %s failed\n", d->prog, d->bin, args[3]);
		exit(1);
	}
}

void bench_user_add(struct bench_daemon *d, const char *user, const char *pw)
{
	const char *args[] = {d->bin, "-c", d->config,		"user",
			      "add",  user, "--password-stdin", NULL};
	char in[256];

	snprintf(in, sizeof(in), "%s\n", pw);
	bench_run(d, args, in);
}

int bench_wait_port(unsigned short port, int tries, unsigned usec)
{
	for (int i = 0; i < tries; i++) {
		struct sockaddr_in a = {.sin_family = AF_INET};
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		a.sin_port = htons(port);
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (fd >= 0 &&
		    connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
			close(fd);
			return 0;
		}
		if (fd >= 0)
			close(fd);
		usleep(usec);
	}
	return -1;
}

void bench_daemon_start(struct bench_daemon *d, const char *user,
			const char *pw)
{
	const char *serve[] = {d->bin, "-c", d->config, "serve", NULL};

	bench_user_add(d, user, pw);
	d->pid = fork();
	if (d->pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		execv(d->bin, (char *const *)serve);
		_exit(127);
	}
	if (d->pid < 0)
		d->die("fork");
	/* a minute: on a loaded machine the first start generates the
	 * RSA-4096 key, which alone can take tens of seconds */
	if (bench_wait_port(d->port, 2400, 25000) < 0) {
		fprintf(stderr, "%s: daemon did not start\n", d->prog);
		/* not left behind, holding the caller's output open */
		kill(d->pid, SIGKILL);
		exit(1);
	}
}

void bench_daemon_stop(struct bench_daemon *d)
{
	if (d->pid <= 0)
		return;
	kill(d->pid, SIGTERM);
	waitpid(d->pid, NULL, 0);
	d->pid = -1;
}
