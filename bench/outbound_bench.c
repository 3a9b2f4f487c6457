/*
 * outbound_bench: the outbound queue's throughput to a loopback SMTP
 * sink with STARTTLS (tests/unit/core_submit/sink.c, tests/certs), one
 * session per message, one session at a time, in-process (the core's
 * queue code, no daemon).  Three TLS policies on the same sink:
 *   - opportunistic: a route in the string form (STARTTLS, unverified);
 *   - verified: a route with tls_verify verify and the sink's
 *     certificate as CA file, session resumption on;
 *   - verified without resumption (every session a full handshake).
 * Prints messages/s for each.  docs/delivery.md quotes the figures.
 *
 *	outbound_bench [-n msgs]     (RMAIL_SOURCE_DIR, else .)
 *
 * The mail root is on /dev/shm when it can be, so the queue's fsyncs do
 * not hide the sessions' cost.
 */
#include <fcntl.h>
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rm.h"
#include "sink.h"
#include "submit/submit_int.h"
#include "submit/tls_policy.h"

static char *dir;
static struct rm_config *current;

static void report(void *arg, const char *problem)
{
	(void)arg;
	fprintf(stderr, "config: %s\n", problem);
}

static void load(const char *delivery)
{
	struct rm_config *conf = NULL;
	char *path = g_build_filename(dir, "config.json", NULL);
	char *cfg =
		g_strdup_printf("{\"hostname\": \"bench.example.test\", "
				"\"mail_root\": \"%s/mail\", \"modules\": [], "
				"\"log_level\": \"error\", \"delivery\": {%s}}",
				dir, delivery);

	if (!g_file_set_contents(path, cfg, -1, NULL) ||
	    rm_config_load(path, &conf, report, NULL) < 0)
		exit(1);
	rm_conf_set(conf);
	rm_config_free(&current);
	current = conf;
	g_free(cfg);
	g_free(path);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* n entries to rcpt, one forced pass: messages/s */
static double run(const char *rcpt, int n)
{
	static const char msg[] = "Subject: bench\r\n\r\n"
				  "A line of body text for the bench.\r\n";
	const char *rcpts[] = {rcpt};
	char *tmp = g_build_filename(dir, "msg", NULL);
	guint c0 = sink_count();
	struct rm_msg_src src;
	struct rmail_err err;
	double t0, t;
	int fd;

	if (!g_file_set_contents(tmp, msg, -1, NULL))
		exit(1);
	fd = open(tmp, O_RDONLY);
	src.prefix = "";
	src.fd = fd;
	src.size = sizeof(msg) - 1;
	for (int i = 0; i < n; i++) {
		char id[RM_QID_MAX];

		rm_submit_new_id(id);
		if (rm_queue_add(id, "", rcpts, 1, &src, false, &err) < 0)
			exit(1);
	}
	close(fd);
	t0 = now();
	rm_queue_run(true);
	t = now() - t0;
	if (sink_count() - c0 != (guint)n) {
		fprintf(stderr, "%s: %u of %d delivered\n", rcpt,
			sink_count() - c0, n);
		exit(1);
	}
	g_free(tmp);
	return n / t;
}

int main(int argc, char **argv)
{
	const char *src = getenv("RMAIL_SOURCE_DIR");
	char *cert, *key;
	struct rmail_err err;
	guint port;
	int n = 500, opt;
	double o, v, vn;

	while ((opt = getopt(argc, argv, "n:")) != -1)
		if (opt == 'n')
			n = atoi(optarg);
	signal(SIGPIPE, SIG_IGN);
	if (src == NULL)
		src = ".";
	cert = g_build_filename(src, "tests", "certs", "cert.pem", NULL);
	key = g_build_filename(src, "tests", "certs", "key.pem", NULL);
	/* the queue's fsyncs would hide the sessions: tmpfs when there is
	 * one */
	dir = g_strdup("/dev/shm/rmail-obench-XXXXXX");
	if (access("/dev/shm", W_OK) != 0 || g_mkdtemp(dir) == NULL) {
		g_free(dir);
		dir = g_dir_make_tmp("rmail-obench-XXXXXX", NULL);
	}
	port = sink_start_tls(cert, key, NULL, NULL);
	{
		char *d = g_strdup_printf(
			"\"routes\": {\"o.test\": \"127.0.0.1:%u\", "
			"\"v.test\": {\"host\": \"127.0.0.1:%u\", "
			"\"ca_file\": \"%s\"}}",
			port, port, cert);

		load(d);
		g_free(d);
	}
	if (rm_submit_init(&err) < 0)
		return 1;
	rm_log_set_level(RMAIL_LOG_ERR);
	rm_smtp_timeout = 10;
	(void)run("x@o.test", 20); /* warm-up */
	(void)run("x@v.test", 20);
	o = run("x@o.test", n);
	v = run("x@v.test", n);
	rm_tls_resume = false;
	vn = run("x@v.test", n);
	printf("outbound, %d messages, one session each, sequential:\n", n);
	printf("  opportunistic STARTTLS:        %8.0f msg/s\n", o);
	printf("  verified (PKIX), resumption:   %8.0f msg/s\n", v);
	printf("  verified (PKIX), no resumption:%8.0f msg/s\n", vn);
	{
		char *cmd = g_strdup_printf("rm -rf '%s'", dir);

		if (system(cmd) != 0)
			return 1;
		g_free(cmd);
	}
	return 0;
}
