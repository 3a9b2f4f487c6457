/*
 * tls_storm: what a storm of TLS handshakes (mobile clients reconnecting)
 * does to sessions already open.  Starts rmail (mod_shardstore +
 * mod_imap, the generated certificates unless -c/-k name another
 * pair) on a temporary mail root; one logged-in cleartext IMAP
 * session sends NOOP every 10 ms, first alone, then while -C clients
 * open IMAPS connections in a loop (handshake, greeting, close).
 * Prints NOOP p50/p99 for both phases and handshakes/s.
 *
 * The daemon serves its generated RSA-4096 and ECDSA P-256 pair; -a
 * makes the clients offer only that key type's signature algorithms.
 *
 * -P runs the whole measure once per `processes` value (default 1) and
 * -a takes a list too, so one run compares "1,2" and "rsa,ecdsa"; with
 * more than one process the supervisor's RSS is printed as well.
 *
 *	tls_storm [-b rmail] [-m module_dir] [-t secs] [-C clients]
 *		  [-a rsa|ecdsa[,..]] [-P procs[,..]] [-c cert.pem -k key.pem]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_daemon.h"
#include "bench_proc.h"

#define USER "bench@example.test"
#define PW "bench-pw"

static atomic_long handshakes, failures;
static atomic_int stop_flag;
static unsigned short tls_port;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "tls_storm: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct bench_daemon bd = {.prog = "tls_storm", .die = die};

static int tcp_connect(unsigned short port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* reads until a line starting with tag (or "*" greeting) has arrived */
static int read_until(int fd, const char *tag)
{
	char buf[4096];
	size_t len = 0;

	for (;;) {
		ssize_t r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		char *line;

		if (r <= 0)
			return -1;
		len += (size_t)r;
		buf[len] = '\0';
		for (line = buf; line != NULL;) {
			if (strncmp(line, tag, strlen(tag)) == 0 &&
			    strchr(line, '\n') != NULL)
				return 0;
			line = strchr(line, '\n');
			line = line != NULL ? line + 1 : NULL;
		}
		if (len > sizeof(buf) / 2) {
			char *nl = strrchr(buf, '\n');

			if (nl != NULL) {
				len = strlen(nl + 1);
				memmove(buf, nl + 1, len + 1);
			}
		}
	}
}

static void *storm(void *arg)
{
	SSL_CTX *ctx = arg;
	char buf[512];

	while (!atomic_load(&stop_flag)) {
		int fd = tcp_connect(tls_port);
		SSL *ssl;

		if (fd < 0) {
			atomic_fetch_add(&failures, 1);
			continue;
		}
		ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		if (SSL_connect(ssl) == 1 &&
		    SSL_read(ssl, buf, sizeof(buf)) > 0)
			atomic_fetch_add(&handshakes, 1);
		else
			atomic_fetch_add(&failures, 1);
		ERR_clear_error();
		SSL_free(ssl);
		close(fd);
	}
	return NULL;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* NOOPs every 10 ms for secs; p50/p99 in ms */
static void noops(int fd, double secs, double *p50, double *p99)
{
	size_t cap = (size_t)(secs * 200) + 16, n = 0;
	double *v = malloc(cap * sizeof(*v)), end = now() + secs;
	char cmd[32];

	if (v == NULL)
		die("malloc");
	while (now() < end && n < cap) {
		double t0 = now();
		int k = snprintf(cmd, sizeof(cmd), "n%zu NOOP\r\n", n);
		char tag[32];

		snprintf(tag, sizeof(tag), "n%zu OK", n);
		if (send(fd, cmd, (size_t)k, 0) != k || read_until(fd, tag) < 0)
			die("NOOP");
		v[n++] = (now() - t0) * 1e3;
		usleep(10000);
	}
	qsort(v, n, sizeof(*v), cmp_d);
	*p50 = v[n / 2];
	*p99 = v[(n * 99) / 100];
	free(v);
}

static void run(const char *mods, const char *cert, const char *key,
		const char *alg, int procs, double secs, int nclients)
{
	double p50, p99, s50, s99, t0, el, cpu0, cpu1;
	pthread_t th[64];
	char tlsconf[1200] = "";
	SSL_CTX *ctx;
	long sup_rss = -1, sup_pss = -1, sup_priv = -1;
	int fd;

	atomic_store(&stop_flag, 0);
	atomic_store(&failures, 0);
	bench_daemon_init(&bd, "/tmp/rmail-tlsstorm-XXXXXX");
	bd.port = bench_free_port(&bd);
	tls_port = bench_free_port(&bd);
	if (cert != NULL && key != NULL)
		snprintf(tlsconf, sizeof(tlsconf),
			 ", \"tls\": {\"cert_file\": \"%s\", \"key_file\": "
			 "\"%s\"}",
			 cert, key);
	bench_daemon_config(
		&bd,
		"{\"hostname\": \"mail.example.test\", \"mail_root\": \"%s\", "
		"\"module_dir\": \"%s\", \"modules\": [\"mod_shardstore\", "
		"\"mod_imap\"], \"log_level\": \"warning\", \"processes\": "
		"%d%s,"
		" \"imap\": {\"listen\": [\"127.0.0.1:%u\"], \"imaps_listen\": "
		"[\"127.0.0.1:%u\"], \"allow_cleartext_login_loopback\": "
		"true}}\n",
		bd.root, mods, procs, tlsconf, bd.port, tls_port);
	bench_daemon_start(&bd, USER, PW);

	fd = tcp_connect(bd.port);
	if (fd < 0 || read_until(fd, "* OK") < 0)
		die("connect");
	if (send(fd, "a LOGIN " USER " " PW "\r\n", strlen(USER PW) + 11, 0) <
		    0 ||
	    read_until(fd, "a OK") < 0)
		die("LOGIN");
	noops(fd, secs / 2, &p50, &p99);
	if (procs > 1) {
		sup_rss = bench_proc_mem_kb(bd.pid, "Rss:");
		sup_pss = bench_proc_mem_kb(bd.pid, "Pss:");
		sup_priv = bench_proc_mem_kb(bd.pid, "Private_Dirty:");
	}

	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	/* every connection a full handshake, as after a network change */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	if (SSL_CTX_set1_sigalgs_list(
		    ctx, strcmp(alg, "ecdsa") == 0
				 ? "ECDSA+SHA256"
				 : "RSA-PSS+SHA256:RSA+SHA256") != 1)
		die("sigalgs");
	for (int i = 0; i < nclients; i++)
		pthread_create(&th[i], NULL, storm, ctx);
	usleep(300000); /* the storm is on */
	atomic_store(&handshakes, 0);
	t0 = now();
	cpu0 = bench_tree_cpu_ms(bd.pid) / 1000.0;
	noops(fd, secs, &s50, &s99);
	el = now() - t0;
	long hs = atomic_load(&handshakes);
	cpu1 = bench_tree_cpu_ms(bd.pid) / 1000.0;
	atomic_store(&stop_flag, 1);
	for (int i = 0; i < nclients; i++)
		pthread_join(th[i], NULL);
	close(fd);
	SSL_CTX_free(ctx);
	bench_daemon_stop(&bd);
	printf("processes %d, %s:\n", procs, alg);
	printf("NOOP alone:            p50 %.2f ms  p99 %.2f ms\n", p50, p99);
	printf("NOOP, %2d clients' TLS: p50 %.2f ms  p99 %.2f ms\n", nclients,
	       s50, s99);
	printf("handshakes/s (%s):   %.0f (%ld failed)\n", alg, (double)hs / el,
	       atomic_load(&failures));
	printf("server CPU a handshake: %.3f ms (all processes)\n",
	       hs > 0 ? (cpu1 - cpu0) * 1e3 / (double)hs : 0.0);
	if (sup_rss >= 0)
		printf("supervisor:            RSS %ld kB, PSS %ld kB, "
		       "private %ld kB\n",
		       sup_rss, sup_pss, sup_priv);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *mods = getenv("RMAIL_MODULE_DIR"), *cert = NULL,
		   *key = NULL, *algs = "rsa", *procs = "1";
	double secs = 10;
	int nclients = 8, opt;
	char *al, *pl, *a, *p, *sa = NULL, *sp = NULL;

	bd.bin = getenv("RMAIL_BIN") ? getenv("RMAIL_BIN") : "./rmail";
	if (mods == NULL)
		mods = "./modules";
	while ((opt = getopt(argc, argv, "b:m:t:C:c:k:a:P:")) != -1) {
		switch (opt) {
		case 'b':
			bd.bin = optarg;
			break;
		case 'm':
			mods = optarg;
			break;
		case 't':
			secs = atof(optarg);
			break;
		case 'C':
			nclients = atoi(optarg);
			break;
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'a':
			algs = optarg;
			break;
		case 'P':
			procs = optarg;
			break;
		default:
			fprintf(stderr, "usage: tls_storm [-b rmail] [-m dir] "
					"[-t secs] [-C clients] "
					"[-a rsa|ecdsa[,..]] [-P procs[,..]] "
					"[-c cert -k key]\n");
			return 2;
		}
	}
	if (nclients < 1 || nclients > 64)
		nclients = 8;
	pl = strdup(procs);
	for (p = strtok_r(pl, ",", &sp); p != NULL;
	     p = strtok_r(NULL, ",", &sp)) {
		al = strdup(algs);
		for (a = strtok_r(al, ",", &sa); a != NULL;
		     a = strtok_r(NULL, ",", &sa))
			run(mods, cert, key, a, atoi(p) > 0 ? atoi(p) : 1, secs,
			    nclients);
		free(al);
	}
	free(pl);
	return 0;
}
