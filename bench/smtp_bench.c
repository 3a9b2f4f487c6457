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
 * -P 1,2 runs instead, once per `processes` value, a fresh daemon with
 * 16 connections (messages/s accepted and delivered) and prints the
 * supervisor's RSS when there is one.
 *
 *	smtp_bench [-b path/to/rmail] [-m module_dir] [-n msgs] [-t secs]
 *		   [-a] [-d path/to/rm_test_dnsd] [-M accept|edit|inet:IP:PORT]
 *		   [-P procs[,..]]
 *		   [-S]
 *
 * Defaults come from RMAIL_BIN / RMAIL_MODULE_DIR, else the build tree
 * layout (./rmail, ./modules).  The daemon's resolver always forwards
 * to a private rm_test_dnsd (RMAIL_TEST_DNSD, else
 * ./tests/support/rm_test_dnsd), so nothing leaves the host.  Without
 * -a the port-25 authentication checks are off (mailauth.inbound
 * false); with -a they are on, and the message carries one rsa-sha256
 * DKIM signature of remote.test, whose zone publishes SPF, the key and
 * DMARC p=reject: SPF, DKIM and DMARC all pass.  With -M the daemon
 * loads mod_milter with one loopback stub milter (bench/milter_stub.c)
 * on port 25: "accept" answers every step at once, "edit" also adds a
 * header field at the end of message (the spool rewrite).
 * "-M inet:IP:PORT" points mod_milter at a milter already running
 * there instead (rspamd's proxy worker, say), so a real filter's cost
 * can be set against the stub's.  With -S the daemon loads mod_sieve
 * and the user has an active 20-rule script (header, address,
 * envelope, size and exists tests with fileinto, none matching the
 * bench message, so every copy still lands in INBOX): the Sieve cost
 * per delivery (docs/sieve.md).
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
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "bench_daemon.h"
#include "bench_proc.h"
#include "milter_stub.h"
#include "mailauth/dkim.h"

#define USER "bench@example.test"
#define MSG_SIZE 2048

static char msg[MSG_SIZE + 4096];
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

static pid_t dnsd_pid = -1;
static int dnsd_in = -1;

/* rm_test_dnsd on zone_path: its port (it serves until stdin closes) */
static unsigned dnsd_start(const char *prog, const char *zone_path)
{
	int in[2], out[2];
	char line[32];
	ssize_t n;

	if (pipe(in) < 0 || pipe(out) < 0)
		die("pipe");
	dnsd_pid = fork();
	if (dnsd_pid < 0)
		die("fork");
	if (dnsd_pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl(prog, prog, "--zone", zone_path, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	dnsd_in = in[1];
	n = read(out[0], line, sizeof(line) - 1);
	close(out[0]);
	if (n <= 0)
		die("rm_test_dnsd did not start");
	line[n] = '\0';
	return (unsigned)atoi(line);
}

static void dnsd_stop(void)
{
	if (dnsd_in >= 0)
		close(dnsd_in);
	if (dnsd_pid > 0)
		waitpid(dnsd_pid, NULL, 0);
}

/* one rsa-2048 key: the signature on msg and the zone's record */
static void sign_msg(const char *zone_path)
{
	EVP_PKEY *pk = EVP_RSA_gen(2048);
	BIO *b = BIO_new(BIO_s_mem());
	unsigned char *der = NULL;
	char *pem, *sig, pub[1024];
	struct dkim_signkey *k;
	struct dkim_signer *s;
	const struct dkim_signkey *keys[1];
	int dl;
	long pl;
	FILE *f;

	if (pk == NULL ||
	    PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL) != 1)
		die("rsa key");
	pl = BIO_get_mem_data(b, &pem);
	k = dkim_signkey_load_pem("remote.test", "bench", pem, (size_t)pl);
	dl = i2d_PUBKEY(pk, &der);
	if (k == NULL || dl <= 0 ||
	    EVP_EncodeBlock((unsigned char *)pub, der, dl) <= 0)
		die("dkim key");
	keys[0] = k;
	s = dkim_signer_new(keys, 1, NULL);
	/* the signer sees the message without the DATA terminator */
	dkim_signer_feed(s, msg, msg_len - 3);
	sig = dkim_signer_finish(s, (int64_t)time(NULL));
	if (sig == NULL || strlen(sig) + msg_len >= sizeof(msg))
		die("dkim sign");
	memmove(msg + strlen(sig), msg, msg_len);
	memcpy(msg, sig, strlen(sig));
	msg_len += strlen(sig);
	f = fopen(zone_path, "w");
	if (f == NULL)
		die(zone_path);
	fprintf(f,
		"remote.test TXT \"v=spf1 ip4:127.0.0.1 -all\"\n"
		"_dmarc.remote.test TXT \"v=DMARC1; p=reject\"\n"
		"bench._domainkey.remote.test TXT \"v=DKIM1; k=rsa; p=%s\"\n",
		pub);
	fclose(f);
	free(sig);
	dkim_signer_free(s);
	dkim_signkey_free(k);
	OPENSSL_free(der);
	BIO_free(b);
	EVP_PKEY_free(pk);
}

/* 20 rules, none matching the bench message (docs/sieve.md) */
static void sieve_install(void)
{
	char path[700];
	FILE *f;

	snprintf(path, sizeof(path), "%s/bench.sieve", bd.dir);
	f = fopen(path, "w");
	if (f == NULL)
		die(path);
	fprintf(f, "require [\"fileinto\", \"mailbox\", \"envelope\", "
		   "\"imap4flags\"];\r\n");
	for (int i = 0; i < 20; i++) {
		switch (i % 5) {
		case 0:
			fprintf(f,
				"if header :contains \"subject\" "
				"\"[list-%d]\" { fileinto :create "
				"\"Lists/%d\"; "
				"stop; }\r\n",
				i, i);
			break;
		case 1:
			fprintf(f,
				"if address :domain :is \"from\" "
				"\"sender%d.test\" { fileinto :create "
				"\"Senders\"; }\r\n",
				i);
			break;
		case 2:
			fprintf(f,
				"if envelope :localpart :matches \"from\" "
				"\"bounce-%d-*\" { discard; stop; }\r\n",
				i);
			break;
		case 3:
			fprintf(f,
				"if allof (size :over 500K, header :is "
				"\"x-rule\" \"%d\") { addflag \"\\\\Flagged\"; "
				"}\r\n",
				i);
			break;
		default:
			fprintf(f,
				"if exists \"x-list-%d\" { fileinto :create "
				"\"Other\"; }\r\n",
				i);
			break;
		}
	}
	fclose(f);
	{
		const char *put[] = {bd.bin,	   "-c", bd.config, "sieve",
				     "put",	   USER, "bench",   path,
				     "--activate", NULL};

		bench_run(&bd, put, NULL);
	}
}

static void daemon_start(const char *bin, const char *mods, bool checks,
			 unsigned dns_port, const char *milter_sock, int procs,
			 bool sieve)
{
	char milter[200] = "";

	if (milter_sock != NULL)
		snprintf(milter, sizeof(milter),
			 " \"milter\": {\"milters\": "
			 "[\"%s\"]},",
			 milter_sock);
	bd.bin = bin;
	bd.port = bench_free_port(&bd);
	bench_daemon_config(
		&bd,
		"{\"hostname\": \"mail.example.test\", \"mail_root\": "
		"\"%s\", \"module_dir\": \"%s\", \"modules\": "
		"[\"mod_shardstore\", \"mod_smtp\"%s%s], %s \"log_level\": "
		"\"warning\", \"processes\": %d,"
		" \"dns\": {\"forwarders\": [\"127.0.0.1@%u\"], "
		"\"trust_anchor\": null},"
		" \"mailauth\": {\"inbound\": %s},"
		" \"smtp\": {\"listen\": [\"127.0.0.1:%u\"], "
		"\"submission_listen\": [], \"smtps_listen\": []}}\n",
		bd.root, mods, milter_sock != NULL ? ", \"mod_milter\"" : "",
		sieve ? ", \"mod_sieve\"" : "", milter, procs, dns_port,
		checks ? "true" : "false", bd.port);
	bench_daemon_start(&bd, USER, "bench-pw");
	if (sieve)
		sieve_install();
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
	const char *dnsd = getenv("RMAIL_TEST_DNSD");
	char zone_path[700];
	int n = 2000, opt;
	double secs = 3;
	bool checks = false, sieve = false;
	const char *milter_mode = NULL, *milter_sock = NULL, *procs = NULL;
	char stub_sock[40];
	unsigned dns_port;

	while ((opt = getopt(argc, argv, "ab:d:m:n:t:M:P:S")) != -1) {
		switch (opt) {
		case 'P':
			procs = optarg;
			break;
		case 'a':
			checks = true;
			break;
		case 'M':
			milter_mode = optarg;
			break;
		case 'S':
			sieve = true;
			break;
		case 'd':
			dnsd = optarg;
			break;
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
				"[-m module_dir] [-n msgs] [-t secs] [-a] "
				"[-d rm_test_dnsd] "
				"[-M accept|edit|inet:IP:PORT] "
				"[-P procs[,..]] [-S]\n");
			return 2;
		}
	}
	if (bin == NULL)
		bin = "./rmail";
	if (mods == NULL)
		mods = "./modules";
	if (dnsd == NULL)
		dnsd = "./tests/support/rm_test_dnsd";
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
	bench_daemon_init(&bd, "/tmp/rmsmtp-bench-XXXXXX");
	snprintf(zone_path, sizeof(zone_path), "%s/zone", bd.dir);
	sign_msg(zone_path);
	dns_port = dnsd_start(dnsd, zone_path);
	printf("port-25 checks %s (SPF + DKIM rsa-sha256 + DMARC)\n",
	       checks ? "on" : "off");
	if (milter_mode != NULL && strncmp(milter_mode, "inet:", 5) == 0) {
		milter_sock = milter_mode;
	} else if (milter_mode != NULL) {
		snprintf(stub_sock, sizeof(stub_sock), "inet:127.0.0.1:%u",
			 milter_stub_start(strcmp(milter_mode, "edit") == 0));
		milter_sock = stub_sock;
	}
	printf("milter: %s\n", milter_mode != NULL ? milter_mode : "none");
	printf("sieve: %s\n", sieve ? "20-rule script" : "none");
	if (procs != NULL) {
		char *pl = strdup(procs), *p, *sp = NULL;

		for (p = strtok_r(pl, ",", &sp); p != NULL;
		     p = strtok_r(NULL, ",", &sp)) {
			int np = atoi(p) > 0 ? atoi(p) : 1;

			if (p != pl)
				bench_daemon_init(&bd,
						  "/tmp/rmsmtp-bench-XXXXXX");
			daemon_start(bin, absmods, checks, dns_port,
				     milter_sock, np, sieve);
			/* every worker up: the port answers before */
			usleep(np > 1 ? 1500000 : 300000);
			printf("processes %d:\n", np);
			load_run(16, secs);
			if (np > 1)
				printf("supervisor: RSS %ld kB, PSS %ld kB, "
				       "private %ld kB\n",
				       bench_proc_mem_kb(bd.pid, "Rss:"),
				       bench_proc_mem_kb(bd.pid, "Pss:"),
				       bench_proc_mem_kb(bd.pid,
							 "Private_Dirty:"));
			bench_daemon_stop(&bd);
			fflush(stdout);
		}
		free(pl);
		dnsd_stop();
		return 0;
	}
	daemon_start(bin, absmods, checks, dns_port, milter_sock, 1, sieve);
	latency_run(n);
	load_run(8, secs);
	load_run(32, secs);
	bench_daemon_stop(&bd);
	dnsd_stop();
	printf("mail root left at %s\n", bd.root);
	return 0;
}
