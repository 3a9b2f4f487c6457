/*
 * processes: 2, a supervisor and two workers on the same listeners:
 * READY once both are ready, `rmail ctl status` for the whole host, a
 * killed worker restarted while connections keep being accepted,
 * /metrics labelled per worker, and IDLE wake-ups from a delivery made
 * in the other worker (which worker holds a connection is read from
 * /proc).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <glib.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define USER "idle@example.test"
#define PW "pw-idle"
#define NIDLE 4
#define DELIVERIES 24

struct daemon {
	struct rmh *h;
	guint smtp, imap, admin;
};

static void start(struct daemon *d)
{
	const char *argv[] = {
		"rmail", "-c", NULL, "user", "add", USER, "--password-stdin",
		NULL};

	d->h = rmh_new();
	d->smtp = rmh_port(d->h, "smtp");
	d->imap = rmh_port(d->h, "imap");
	d->admin = rmh_port(d->h, "admin");
	rmh_set(d->h, "processes", "2");
	rmh_set(d->h, "modules",
		"[\"mod_shardstore\", \"mod_smtp\", \"mod_imap\"]");
	rmh_setf(d->h, "smtp",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"submission_listen\": [],"
		 " \"smtps_listen\": []}",
		 d->smtp);
	rmh_setf(d->h, "imap",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"imaps_listen\": [],"
		 " \"allow_cleartext_login_loopback\": true}",
		 d->imap);
	rmh_setf(d->h, "admin", "{\"listen\": [\"127.0.0.1:%u\"]}", d->admin);
	rmh_write_config(d->h);
	argv[2] = rmh_config_path(d->h);
	g_assert_cmpint(rmh_run_argv(d->h, argv, PW "\n", NULL, NULL), ==, 0);
	g_assert_true(rmh_start(d->h));
}

static char *ctl(struct daemon *d, const char *cmd)
{
	const char *argv[] = {"rmail", "-c", rmh_config_path(d->h),
			      "ctl",   cmd,  NULL};
	char *out = NULL;

	g_assert_cmpint(rmh_run_argv(d->h, argv, NULL, &out, NULL), ==, 0);
	return out;
}

static bool ready_line(const char *st, int i, long *pid)
{
	char key[32];
	const char *p, *end;

	snprintf(key, sizeof(key), "worker %d pid ", i);
	p = strstr(st, key);
	if (p == NULL)
		return false;
	end = strchr(p, '\n');
	*pid = strtol(p + strlen(key), NULL, 10);
	p = strstr(p, " ready ");
	return p != NULL && (end == NULL || p < end);
}

static void status_pids(struct daemon *d, long pids[2], bool *all_ready)
{
	char *st = ctl(d, "status");

	*all_ready = true;
	for (int i = 0; i < 2; i++)
		if (!ready_line(st, i, &pids[i]))
			*all_ready = false;
	g_free(st);
}

static void stop(struct daemon *d)
{
	g_assert_cmpint(rmh_stop(d->h), ==, 0);
	rmh_free(d->h);
}

static bool expect_code(struct rmh_conn *c, const char *code)
{
	char *line = NULL;
	bool ok;

	for (;;) {
		g_free(line);
		line = rmh_readline(c, 10);
		if (line == NULL || strlen(line) < 4 || line[3] != '-')
			break;
	}
	ok = line != NULL && g_str_has_prefix(line, code);
	if (!ok)
		g_test_message("expected %s, got %s", code,
			       line ? line : "(eof)");
	g_free(line);
	return ok;
}

/* ---- which worker holds a connection -------------------------------- */

static unsigned long server_inode(guint server_port, guint client_port)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[512];
	unsigned long inode = 0;

	g_assert_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned lp, rp, la, ra, st;
		unsigned long ino;

		if (sscanf(line,
			   " %*d: %x:%x %x:%x %x %*x:%*x %*x:%*x %*x %*u %*u "
			   "%lu",
			   &la, &lp, &ra, &rp, &st, &ino) != 6)
			continue;
		if (lp == server_port && rp == client_port && ino != 0)
			inode = ino;
	}
	fclose(f);
	return inode;
}

static bool holds(long pid, unsigned long inode)
{
	char dir[64], want[64], path[512], link[64];
	struct dirent *de;
	bool found = false;
	DIR *dp;

	snprintf(dir, sizeof(dir), "/proc/%ld/fd", pid);
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	dp = opendir(dir);
	if (dp == NULL)
		return false;
	while (!found && (de = readdir(dp)) != NULL) {
		ssize_t n;

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		found = strcmp(link, want) == 0;
	}
	closedir(dp);
	return found;
}

/* 0 or 1, or -1 when not found */
static int worker_of(struct rmh_conn *c, guint server_port, const long pids[2])
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	unsigned long inode = 0;

	g_assert_cmpint(
		getsockname(rmh_conn_fd(c), (struct sockaddr *)&sin, &len), ==,
		0);
	/* the server side shows up once accepted */
	for (int k = 0; k < 200 && inode == 0; k++) {
		inode = server_inode(server_port, ntohs(sin.sin_port));
		if (inode == 0)
			g_usleep(5000);
	}
	for (int k = 0; k < 200 && inode != 0; k++) {
		for (int i = 0; i < 2; i++)
			if (holds(pids[i], inode))
				return i;
		g_usleep(5000);
	}
	return -1;
}

/* ---- tests ---------------------------------------------------------- */

static void test_status_and_metrics(void)
{
	struct daemon d;
	long pids[2];
	bool ready;
	char *st, *r;
	struct rmh_conn *c;
	GString *s = g_string_new(NULL);

	start(&d);
	status_pids(&d, pids, &ready);
	g_assert_true(ready);
	g_assert_cmpint(pids[0], >, 0);
	g_assert_cmpint(pids[1], >, 0);
	g_assert_cmpint(pids[0], !=, pids[1]);
	g_assert_cmpint(pids[0], !=, rmh_pid(d.h));
	st = ctl(&d, "status");
	g_assert_nonnull(strstr(st, "processes 2\n"));
	g_assert_nonnull(strstr(st, "\nconnections "));
	g_free(st);
	/* `rmail reload` is the supervisor's rolling reload */
	st = ctl(&d, "reload");
	g_assert_true(g_str_has_prefix(st, "reloaded"));
	g_free(st);
	g_assert_true(rmh_wait_log(d.h, "reloaded", 5));

	/* one scrape shows both workers, one exposition */
	c = rmh_connect(d.admin, false);
	g_assert_nonnull(c);
	g_assert_true(rmh_send(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n"));
	for (char *l; (l = rmh_readline(c, 10)) != NULL;) {
		g_string_append_printf(s, "%s\n", l);
		g_free(l);
	}
	rmh_conn_close(c);
	r = s->str;
	g_assert_true(g_str_has_prefix(r, "HTTP/1.1 200 "));
	g_assert_true(g_str_has_suffix(r, "\n# EOF\n"));
	g_assert_nonnull(strstr(r, "worker=\"0\""));
	g_assert_nonnull(strstr(r, "worker=\"1\""));
	g_assert_nonnull(strstr(r, "\n# TYPE rmail_connections gauge\n"));
	g_assert_null(
		strstr(strstr(r, "\n# TYPE rmail_connections gauge\n") + 1,
		       "\n# TYPE rmail_connections gauge\n"));
	g_string_free(s, TRUE);
	stop(&d);
}

static void test_restart(void)
{
	struct daemon d;
	long pids[2], now[2];
	bool ready = false;
	int accepted = 0;

	start(&d);
	status_pids(&d, pids, &ready);
	g_assert_true(ready);
	g_assert_cmpint(kill((pid_t)pids[1], SIGKILL), ==, 0);
	/* the listeners stay open: every connect is answered meanwhile */
	for (int k = 0; k < 300; k++) {
		struct rmh_conn *c = rmh_connect(d.smtp, false);

		g_assert_nonnull(c);
		g_assert_true(expect_code(c, "220"));
		(void)rmh_send(c, "QUIT");
		rmh_conn_close(c);
		accepted++;
		status_pids(&d, now, &ready);
		if (ready && now[1] != pids[1])
			break;
		g_usleep(20000);
	}
	g_assert_true(ready);
	g_assert_cmpint(now[0], ==, pids[0]);
	g_assert_cmpint(now[1], !=, pids[1]);
	g_assert_true(rmh_wait_log(d.h, "restarting in", 5));
	g_test_message("%d connections answered during the restart", accepted);
	stop(&d);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void test_idle_across_workers(void)
{
	struct daemon d;
	struct rmh_conn *idle[NIDLE];
	int where[NIDLE], per[2] = {0, 0};
	double cross[NIDLE * DELIVERIES], same[NIDLE * DELIVERIES];
	size_t ncross = 0, nsame = 0;
	long pids[2];
	bool ready;
	char tag[8];

	start(&d);
	status_pids(&d, pids, &ready);
	g_assert_true(ready);
	/* sessions on both workers: reconnect until each has some */
	for (int i = 0; i < NIDLE; i++) {
		for (int tries = 0;; tries++) {
			idle[i] = rmh_connect(d.imap, false);
			g_assert_nonnull(idle[i]);
			where[i] = worker_of(idle[i], d.imap, pids);
			g_assert_cmpint(where[i], >=, 0);
			if (tries > 40 || per[where[i]] < NIDLE / 2)
				break;
			rmh_conn_close(idle[i]);
		}
		per[where[i]]++;
		g_assert_true(rmh_expect(idle[i], "* OK", NULL));
		g_assert_true(rmh_send(idle[i], "a LOGIN " USER " " PW));
		g_assert_true(rmh_expect(idle[i], "a OK", NULL));
		g_assert_true(rmh_send(idle[i], "b SELECT INBOX"));
		g_assert_true(rmh_expect(idle[i], "b OK", NULL));
		g_assert_true(rmh_send(idle[i], "c IDLE"));
		g_assert_true(rmh_expect(idle[i], "+ ", NULL));
	}
	g_test_message("IDLE sessions: %d in worker 0, %d in worker 1", per[0],
		       per[1]);
	g_assert_cmpint(per[0], >, 0);
	g_assert_cmpint(per[1], >, 0);
	for (int m = 1; m <= DELIVERIES; m++) {
		struct rmh_conn *c = rmh_connect(d.smtp, false);
		char want[32];
		int w;
		gint64 t0;

		g_assert_nonnull(c);
		w = worker_of(c, d.smtp, pids);
		g_assert_cmpint(w, >=, 0);
		g_assert_true(expect_code(c, "220"));
		g_assert_true(rmh_send(c, "EHLO idle.test"));
		g_assert_true(expect_code(c, "250"));
		g_assert_true(rmh_send(c, "MAIL FROM:<x@far.test>"));
		g_assert_true(expect_code(c, "250"));
		g_assert_true(rmh_send(c, "RCPT TO:<" USER ">"));
		g_assert_true(expect_code(c, "250"));
		g_assert_true(rmh_send(c, "DATA"));
		g_assert_true(expect_code(c, "354"));
		g_assert_true(rmh_send(c, "Subject: %d\r\n\r\nbody\r\n.", m));
		g_assert_true(expect_code(c, "250"));
		t0 = g_get_monotonic_time();
		snprintf(want, sizeof(want), "* %d EXISTS", m);
		for (int i = 0; i < NIDLE; i++) {
			double dt;

			/* RECENT and others may come first */
			for (;;) {
				char *l = rmh_readline(idle[i], 5);

				g_assert_nonnull(l);
				if (strcmp(l, want) == 0) {
					g_free(l);
					break;
				}
				g_free(l);
			}
			dt = (double)(g_get_monotonic_time() - t0) / 1e6;
			if (where[i] != w)
				cross[ncross++] = dt;
			else
				same[nsame++] = dt;
		}
		(void)rmh_send(c, "QUIT");
		rmh_conn_close(c);
	}
	qsort(cross, ncross, sizeof(double), cmp_double);
	qsort(same, nsame, sizeof(double), cmp_double);
	g_test_message("cross-worker wake-ups: %zu, p50 %.1f ms, p99 %.1f ms; "
		       "same worker: %zu, p50 %.1f ms",
		       ncross, cross[ncross / 2] * 1e3,
		       cross[(ncross * 99) / 100] * 1e3, nsame,
		       nsame ? same[nsame / 2] * 1e3 : 0.0);
	g_assert_cmpuint(ncross, >=, 10);
	g_assert_cmpfloat(cross[ncross / 2], <=, 0.100);
	g_assert_cmpfloat(cross[(ncross * 99) / 100], <=, 1.0);
	for (int i = 0; i < NIDLE; i++) {
		snprintf(tag, sizeof(tag), "c OK");
		g_assert_true(rmh_send(idle[i], "DONE"));
		g_assert_true(rmh_expect(idle[i], tag, NULL));
		rmh_conn_close(idle[i]);
	}
	stop(&d);
}

/* one scrape: the whole answer, "" when none came within secs */
static char *scrape(struct daemon *d, double secs)
{
	GString *s = g_string_new(NULL);
	struct rmh_conn *c = rmh_connect(d->admin, false);

	g_assert_nonnull(c);
	g_assert_true(rmh_send(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n"));
	for (char *l; (l = rmh_readline(c, secs)) != NULL;) {
		g_string_append_printf(s, "%s\n", l);
		g_free(l);
	}
	rmh_conn_close(c);
	return g_string_free(s, FALSE);
}

/* A stopped worker (SIGSTOP: alive, never answering) neither stalls
 * worker 0's loop nor its /metrics: the scrape comes within a bound,
 * with worker 0's samples and the stopped one marked down; `rmail ctl
 * status` is bounded too.  Once it runs again it is back in both. */
static void test_metrics_worker_stopped(void)
{
	struct daemon d;
	long pids[2];
	bool ready;
	char *r, *st;
	gint64 t0;
	double took;

	start(&d);
	status_pids(&d, pids, &ready);
	g_assert_true(ready);
	g_assert_cmpint(kill((pid_t)pids[1], SIGSTOP), ==, 0);
	t0 = g_get_monotonic_time();
	r = scrape(&d, 8);
	took = (double)(g_get_monotonic_time() - t0) / 1e6;
	g_test_message("scrape with worker 1 stopped: %.2f s", took);
	g_assert_true(g_str_has_prefix(r, "HTTP/1.1 200 "));
	g_assert_true(g_str_has_suffix(r, "\n# EOF\n"));
	g_assert_cmpfloat(took, <, 5.0);
	g_assert_nonnull(
		strstr(r, "rmail_worker_start_time_seconds{worker=\"0\"}"));
	g_assert_null(
		strstr(r, "rmail_worker_start_time_seconds{worker=\"1\"}"));
	g_assert_nonnull(strstr(r, "\nrmail_worker_up{worker=\"0\"} 1\n"));
	g_assert_nonnull(strstr(r, "\nrmail_worker_up{worker=\"1\"} 0\n"));
	g_free(r);
	t0 = g_get_monotonic_time();
	st = ctl(&d, "status");
	took = (double)(g_get_monotonic_time() - t0) / 1e6;
	g_test_message("ctl status with worker 1 stopped: %.2f s", took);
	g_assert_cmpfloat(took, <, 8.0);
	g_assert_nonnull(strstr(st, "processes 2\n"));
	g_free(st);
	g_assert_cmpint(kill((pid_t)pids[1], SIGCONT), ==, 0);
	r = scrape(&d, 8);
	g_assert_true(g_str_has_prefix(r, "HTTP/1.1 200 "));
	g_assert_nonnull(
		strstr(r, "rmail_worker_start_time_seconds{worker=\"1\"}"));
	g_assert_nonnull(strstr(r, "\nrmail_worker_up{worker=\"1\"} 1\n"));
	g_free(r);
	stop(&d);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/workers/status-and-metrics", test_status_and_metrics);
	g_test_add_func("/workers/restart", test_restart);
	g_test_add_func("/workers/idle-across-workers",
			test_idle_across_workers);
	g_test_add_func("/workers/metrics-worker-stopped",
			test_metrics_worker_stopped);
	return g_test_run();
}
