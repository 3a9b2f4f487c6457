/*
 * api_bench: Exchange API load on loopback against a real rmail daemon
 * that it starts itself (mod_shardstore + mod_exchange on a temporary
 * mail root).  Fills one INBOX with -n messages through the API, then
 * prints requests/s, p50 and p99 for GET /api/folders and for a page of
 * 50 messages, each with 1 and 32 keep-alive connections.
 *
 *	api_bench [-b path/to/rmail] [-k] [-m module_dir] [-n msgs] [-t secs]
 *
 * The temporary mail root is removed at the end unless -k keeps it.
 *
 * Defaults come from RMAIL_BIN / RMAIL_MODULE_DIR, else the build tree
 * layout (./rmail, ./modules).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_daemon.h"

#define USER "bench@example.test"
#define PW "bench-pw"
#define LAT_MAX 200000
#define RESP_MAX (4 * 1024 * 1024)

static char token[2048];
static int keep_dir;

struct cl {
	int fd;
	char *buf;
	size_t len;
};

struct worker {
	pthread_t th;
	const char *path;
	double until;
	long done;
	size_t nlat;
	double *lat;
	int failed;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rm_entry(const char *path, const struct stat *st, int type,
		    struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	remove(path);
	return 0;
}

static void die(const char *what);

static struct bench_daemon bd = {.prog = "api_bench", .die = die, .pid = -1};

/* a 100K-message run leaves ~400 MB behind otherwise */
static void remove_workdir(void)
{
	if (bd.dir[0] != '\0' && !keep_dir)
		nftw(bd.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void die(const char *what)
{
	perror(what);
	bench_daemon_stop(&bd);
	remove_workdir();
	exit(1);
}

static int cl_connect(struct cl *c)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(bd.port);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0)
		return -1;
	if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(c->fd);
		return -1;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (c->buf == NULL && (c->buf = malloc(RESP_MAX)) == NULL)
		die("malloc");
	c->len = 0;
	return 0;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, 0);

		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* one request on a keep-alive connection; the HTTP status or -1 */
static int cl_req(struct cl *c, const char *method, const char *path,
		  const char *ctype, const char *body, size_t blen)
{
	char head[4096];
	const char *e, *cl;
	size_t hlen, need;
	int n, status;

	n = snprintf(head, sizeof(head),
		     "%s %s HTTP/1.1\r\nHost: bench\r\n"
		     "%s%s%sContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
		     method, path, token[0] ? "Authorization: Bearer " : "",
		     token, token[0] ? "\r\n" : "", ctype, blen);
	if (n < 0 || (size_t)n >= sizeof(head) ||
	    send_all(c->fd, head, (size_t)n) < 0 ||
	    (blen > 0 && send_all(c->fd, body, blen) < 0))
		return -1;
	for (;;) {
		c->buf[c->len] = '\0';
		e = strstr(c->buf, "\r\n\r\n");
		if (e != NULL) {
			hlen = (size_t)(e - c->buf) + 4;
			cl = strcasestr(c->buf, "\r\nContent-Length:");
			need = hlen + (cl != NULL && cl < e
					       ? strtoul(cl + 17, NULL, 10)
					       : 0);
			if (need >= RESP_MAX)
				return -1;
			if (c->len >= need)
				break;
		}
		ssize_t r =
			recv(c->fd, c->buf + c->len, RESP_MAX - 1 - c->len, 0);
		if (r <= 0)
			return -1;
		c->len += (size_t)r;
	}
	status = atoi(c->buf + 9);
	memmove(c->buf, c->buf + need, c->len - need);
	c->len -= need;
	c->buf[c->len] = '\0';
	return status;
}

static void daemon_start(const char *bin, const char *mods)
{
	bd.bin = bin;
	bench_daemon_init(&bd, "/tmp/rmapi-bench-XXXXXX");
	bd.port = bench_free_port(&bd);
	bench_daemon_config(
		&bd,
		"{\"hostname\": \"mail.example.test\", \"mail_root\": "
		"\"%s\", \"module_dir\": \"%s\", \"modules\": "
		"[\"mod_shardstore\", \"mod_exchange\"], \"log_level\": "
		"\"warning\", \"exchange_api\": {\"listen\": "
		"[\"127.0.0.1:%u\"], \"tls_listen\": []}}\n",
		bd.root, mods, bd.port);
	bench_daemon_start(&bd, USER, PW);
	printf("mail root: %s\n", bd.root);
}

static void login_and_fill(int n)
{
	static const char creds[] = "{\"username\": \"" USER "\", "
				    "\"password\": \"" PW "\"}";
	struct cl c = {0};
	char msg[2048];
	const char *t, *e;
	double t0;
	int i, len;

	/* login by hand: cl_req drops the bodies it reads */
	if (cl_connect(&c) < 0)
		die("connect");
	len = snprintf(msg, sizeof(msg),
		       "POST /api/login HTTP/1.1\r\n"
		       "Host: b\r\nContent-Type: application/json\r\n"
		       "Content-Length: %zu\r\n\r\n%s",
		       strlen(creds), creds);
	if (send_all(c.fd, msg, (size_t)len) < 0)
		die("send");
	for (e = NULL; e == NULL;) {
		ssize_t r = recv(c.fd, c.buf + c.len, RESP_MAX - 1 - c.len, 0);

		if (r <= 0)
			die("login");
		c.len += (size_t)r;
		c.buf[c.len] = '\0';
		t = strstr(c.buf, "\"token\":");
		if (t == NULL)
			continue;
		t += 8;
		while (*t == ' ')
			t++;
		if (*t == '"')
			e = strchr(++t, '"');
	}
	if ((size_t)(e - t) >= sizeof(token))
		die("token");
	memcpy(token, t, (size_t)(e - t));
	token[e - t] = '\0';
	close(c.fd);
	if (cl_connect(&c) < 0)
		die("connect");
	t0 = now();
	for (i = 0; i < n; i++) {
		len = snprintf(msg, sizeof(msg),
			       "From: Load <load@remote.test>"
			       "\r\nTo: <" USER ">\r\nSubject: bench %d\r\n"
			       "Message-ID: <b%d@remote.test>\r\n\r\n"
			       "The quick brown fox jumps over the lazy dog "
			       "%d.\r\n",
			       i, i, i);
		if (cl_req(&c, "POST", "/api/folders/INBOX/messages",
			   "message/rfc822", msg, (size_t)len) != 201)
			die("append");
	}
	printf("filled INBOX with %d messages in %.1f s\n", n, now() - t0);
	close(c.fd);
	free(c.buf);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct cl c = {0};

	if (cl_connect(&c) < 0) {
		w->failed = 1;
		return NULL;
	}
	while (now() < w->until) {
		double t0 = now();

		if (cl_req(&c, "GET", w->path, "application/json", NULL, 0) !=
		    200) {
			w->failed = 1;
			break;
		}
		if (w->nlat < LAT_MAX)
			w->lat[w->nlat++] = now() - t0;
		w->done++;
	}
	close(c.fd);
	free(c.buf);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void load_run(const char *label, const char *path, int conns,
		     double secs)
{
	struct worker *w = calloc((size_t)conns, sizeof(*w));
	double *all, t0;
	size_t nall = 0;
	long done = 0;
	int i, failed = 0;

	if (w == NULL)
		die("calloc");
	t0 = now();
	for (i = 0; i < conns; i++) {
		w[i].path = path;
		w[i].until = t0 + secs;
		w[i].lat = malloc(LAT_MAX * sizeof(double));
		if (w[i].lat == NULL ||
		    pthread_create(&w[i].th, NULL, worker_main, &w[i]) != 0)
			die("thread");
	}
	for (i = 0; i < conns; i++) {
		pthread_join(w[i].th, NULL);
		done += w[i].done;
		nall += w[i].nlat;
		failed |= w[i].failed;
	}
	t0 = now() - t0;
	all = malloc((nall + 1) * sizeof(double));
	if (all == NULL)
		die("malloc");
	for (nall = 0, i = 0; i < conns; i++) {
		memcpy(all + nall, w[i].lat, w[i].nlat * sizeof(double));
		nall += w[i].nlat;
		free(w[i].lat);
	}
	qsort(all, nall, sizeof(double), cmp_double);
	if (nall == 0)
		printf("%-22s conns=%-2d no requests completed%s\n", label,
		       conns, failed ? " (errors)" : "");
	else
		printf("%-22s conns=%-2d %8.0f req/s  p50 %7.3f ms  "
		       "p99 %7.3f ms%s\n",
		       label, conns, (double)done / t0, all[nall / 2] * 1e3,
		       all[nall * 99 / 100] * 1e3, failed ? "  (errors)" : "");
	free(all);
	free(w);
}

int main(int argc, char **argv)
{
	const char *bin = getenv("RMAIL_BIN"),
		   *mods = getenv("RMAIL_MODULE_DIR");
	char absmods[512];
	int n = 5000, opt;
	double secs = 3;

	while ((opt = getopt(argc, argv, "b:km:n:t:")) != -1) {
		switch (opt) {
		case 'b':
			bin = optarg;
			break;
		case 'k':
			keep_dir = 1;
			break;
		case 'm':
			mods = optarg;
			break;
		case 'n':
			n = atoi(optarg) > 50 ? atoi(optarg) : 50;
			break;
		case 't':
			secs = atof(optarg) > 0.5 ? atof(optarg) : 0.5;
			break;
		default:
			fprintf(stderr,
				"usage: api_bench [-b rmail] "
				"[-k] [-m module_dir] [-n msgs] [-t secs]\n");
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
	daemon_start(bin, absmods);
	login_and_fill(n);
	load_run("GET /api/folders", "/api/folders", 1, secs);
	load_run("GET /api/folders", "/api/folders", 32, secs);
	load_run("GET INBOX page of 50",
		 "/api/folders/INBOX/messages?page=1&per_page=50", 1, secs);
	load_run("GET INBOX page of 50",
		 "/api/folders/INBOX/messages?page=1&per_page=50", 32, secs);
	bench_daemon_stop(&bd);
	remove_workdir();
	return 0;
}
