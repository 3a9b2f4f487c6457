/*
 * smtp_bench: SMTP load on loopback against a real rmail daemon that it
 * starts itself (mod_shardstore + mod_smtp on a temporary mail root).
 * 2 KB messages to one local user.  Prints:
 *   - DATA -> 250 latency (from the DATA command to the final 250,
 *     which the server sends only once the message is durable), median
 *     and p99, with 1 connection;
 *   - messages/s accepted (250s) and delivered (files in INBOX) with 8
 *     and 32 connections.
 *
 *	smtp_bench [-b path/to/rmail] [-m module_dir] [-n msgs] [-t secs]
 *
 * Defaults come from RMAIL_BIN / RMAIL_MODULE_DIR, else the build tree
 * layout (./rmail, ./modules).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_daemon.h"

#define USER "bench@example.test"
#define MSG_SIZE 2048

static char msg[MSG_SIZE + 64];
static size_t msg_len;
static atomic_long accepted;
static atomic_int stop_flag;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "smtp_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct bench_daemon bd = {.prog = "smtp_bench", .die = die};

/* ---- a minimal blocking client ---------------------------------------- */

struct cl {
	int fd;
	char buf[8192];
	size_t len;
};

static int cl_connect(struct cl *c)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int one = 1;

	a.sin_port = htons(bd.port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->len = 0;
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(c->fd);
		return -1;
	}
	return 0;
}

static int cl_send(struct cl *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* read one whole reply; returns its code or -1 */
static int cl_reply(struct cl *c)
{
	for (;;) {
		char *lf = memchr(c->buf, '\n', c->len);

		if (lf != NULL) {
			size_t n = (size_t)(lf - c->buf) + 1;
			int code = atoi(c->buf),
			    more = n > 4 && c->buf[3] == '-';

			memmove(c->buf, c->buf + n, c->len - n);
			c->len -= n;
			if (!more)
				return code;
			continue;
		}
		ssize_t r = recv(c->fd, c->buf + c->len,
				 sizeof(c->buf) - c->len, 0);
		if (r <= 0)
			return -1;
		c->len += (size_t)r;
	}
}

static int cl_cmd(struct cl *c, const char *line)
{
	if (cl_send(c, line, strlen(line)) < 0)
		return -1;
	return cl_reply(c);
}

static int cl_open(struct cl *c)
{
	if (cl_connect(c) < 0 || cl_reply(c) != 220 ||
	    cl_cmd(c, "EHLO bench.test\r\n") != 250)
		return -1;
	return 0;
}

/* one message; *lat_r = DATA command to final 250 */
static int cl_message(struct cl *c, double *lat_r)
{
	static const char env[] = "MAIL FROM:<load@remote.test>\r\n"
				  "RCPT TO:<" USER ">\r\n";
	double t0;

	if (cl_send(c, env, sizeof(env) - 1) < 0 || cl_reply(c) != 250 ||
	    cl_reply(c) != 250)
		return -1;
	t0 = now();
	if (cl_cmd(c, "DATA\r\n") != 354 || cl_send(c, msg, msg_len) < 0 ||
	    cl_reply(c) != 250)
		return -1;
	if (lat_r != NULL)
		*lat_r = now() - t0;
	return 0;
}

/* ---- the daemon --------------------------------------------------------- */

static void daemon_start(const char *bin, const char *mods)
{
	bd.bin = bin;
	bench_daemon_init(&bd, "/tmp/rmsmtp-bench-XXXXXX");
	bd.port = bench_free_port(&bd);
	bench_daemon_config(
		&bd,
		"{\"hostname\": \"mail.example.test\", \"mail_root\": "
		"\"%s\", \"module_dir\": \"%s\", \"modules\": "
		"[\"mod_shardstore\", \"mod_smtp\"], \"log_level\": "
		"\"warning\","
		" \"smtp\": {\"listen\": [\"127.0.0.1:%u\"], "
		"\"submission_listen\": [], \"smtps_listen\": []}}\n",
		bd.root, mods, bd.port);
	bench_daemon_start(&bd, USER, "bench-pw");
}

static long eml_count;

static int count_cb(const char *path, const struct stat *st, int type,
		    struct FTW *ftw)
{
	size_t n = strlen(path);

	(void)st;
	(void)ftw;
	if (type == FTW_F && n > 4 && strcmp(path + n - 4, ".eml") == 0 &&
	    strstr(path, "/INBOX") != NULL)
		eml_count++;
	return 0;
}

static long inbox_count(void)
{
	char dir[700];

	snprintf(dir, sizeof(dir), "%s/domains/example.test/users/bench",
		 bd.root);
	eml_count = 0;
	nftw(dir, count_cb, 32, FTW_PHYS);
	return eml_count;
}

/* ---- the runs ------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void latency_run(int n)
{
	double *lat = calloc((size_t)n, sizeof(*lat));
	struct cl c;

	if (lat == NULL || cl_open(&c) < 0)
		die("latency connect");
	for (int i = 0; i < n; i++)
		if (cl_message(&c, &lat[i]) < 0)
			die("latency message");
	close(c.fd);
	qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
	printf("1 connection, %d x 2 KB: DATA->250 median %.3f ms, "
	       "p99 %.3f ms\n",
	       n, lat[n / 2] * 1e3, lat[(size_t)((double)n * 0.99)] * 1e3);
	free(lat);
}

static void *load_thread(void *arg)
{
	struct cl c;

	(void)arg;
	if (cl_open(&c) < 0)
		return NULL;
	while (!atomic_load(&stop_flag)) {
		if (cl_message(&c, NULL) < 0)
			break;
		atomic_fetch_add(&accepted, 1);
	}
	close(c.fd);
	return NULL;
}

static void load_run(int conns, double secs)
{
	pthread_t th[64];
	long before = inbox_count(), target, got;
	double t0, t_acc, t_del;

	atomic_store(&accepted, 0);
	atomic_store(&stop_flag, 0);
	t0 = now();
	for (int i = 0; i < conns; i++)
		pthread_create(&th[i], NULL, load_thread, NULL);
	usleep((useconds_t)(secs * 1e6));
	atomic_store(&stop_flag, 1);
	for (int i = 0; i < conns; i++)
		pthread_join(th[i], NULL);
	t_acc = now() - t0;
	target = before + atomic_load(&accepted);
	while ((got = inbox_count()) < target && now() - t0 < secs + 60)
		usleep(10000);
	t_del = now() - t0;
	printf("%2d connections: %.0f msg/s accepted, %.0f msg/s delivered "
	       "into INBOX (%ld accepted, %ld delivered)\n",
	       conns, (double)atomic_load(&accepted) / t_acc,
	       (double)(got - before) / t_del, atomic_load(&accepted),
	       got - before);
}

int main(int argc, char **argv)
{
	const char *bin = getenv("RMAIL_BIN"),
		   *mods = getenv("RMAIL_MODULE_DIR");
	char absmods[512];
	int n = 2000, opt;
	double secs = 3;

	while ((opt = getopt(argc, argv, "b:m:n:t:")) != -1) {
		switch (opt) {
		case 'b':
			bin = optarg;
			break;
		case 'm':
			mods = optarg;
			break;
		case 'n':
			n = atoi(optarg) > 10 ? atoi(optarg) : 10;
			break;
		case 't':
			secs = atof(optarg) > 0.5 ? atof(optarg) : 0.5;
			break;
		default:
			fprintf(stderr,
				"usage: smtp_bench [-b rmail] "
				"[-m module_dir] [-n msgs] [-t secs]\n");
			return 2;
		}
	}
	if (bin == NULL)
		bin = "./rmail";
	if (mods == NULL)
		mods = "./modules";
	if (realpath(mods, absmods) == NULL)
		die(mods);
	signal(SIGPIPE, SIG_IGN);
	msg_len = (size_t)snprintf(msg, sizeof(msg),
				   "From: <load@remote."
				   "test>\r\nTo: <" USER ">\r\nSubject: bench"
				   "\r\n\r\n");
	while (msg_len < MSG_SIZE - 80)
		msg_len += (size_t)snprintf(msg + msg_len,
					    sizeof(msg) - msg_len, "%.70s\r\n",
					    "The quick brown fox jumps over "
					    "the lazy dog 0123456789 abcdefg"
					    "hijklmnopqrstuvwxyz");
	msg_len +=
		(size_t)snprintf(msg + msg_len, sizeof(msg) - msg_len, ".\r\n");
	daemon_start(bin, absmods);
	latency_run(n);
	load_run(8, secs);
	load_run(32, secs);
	bench_daemon_stop(&bd);
	printf("mail root left at %s\n", bd.root);
	return 0;
}
