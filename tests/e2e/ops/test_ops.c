/*
 * Operations: the unit `rmail install` generates, GET /metrics on
 * admin.listen, and the fail2ban filter matched against the line the
 * core really logs for a failed login.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "harness.h"
#include "rm.h"

static char *real(const char *p)
{
	char buf[PATH_MAX];

	g_assert_nonnull(realpath(p, buf));
	return g_strdup(buf);
}

/* any program (rmh_run_argv runs rmail only); exit status or -1 */
static int run_prog(const char *const *argv, char **out_r, char **err_r)
{
	GError *e = NULL;
	int st = -1;

	if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL,
			  NULL, out_r, err_r, &st, &e)) {
		g_test_message("%s: %s", argv[0], e->message);
		g_error_free(e);
		*out_r = g_strdup("");
		*err_r = g_strdup("");
		return -1;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void assert_has(const char *text, const char *needle)
{
	if (strstr(text, needle) == NULL)
		g_error("missing \"%s\" in:\n%s", needle, text);
}

static void test_dry_run(void)
{
	struct rmh *h = rmh_new();
	char *out = NULL, *err = NULL, *bin, *conf, *line;
	int rc;

	rmh_write_config(h);
	rc = rmh_run(h, &out, &err, "install", "--dry-run", "--no-user", NULL);
	g_assert_cmpint(rc, ==, 0);
	bin = real(rmh_bin());
	conf = real(rmh_config_path(h));
	line = g_strdup_printf("ExecStart=%s -c %s serve\n", bin, conf);
	assert_has(out, line);
	g_free(line);
	line = g_strdup_printf("ExecStartPre=%s -c %s check\n", bin, conf);
	assert_has(out, line);
	g_free(line);
	line = g_strdup_printf("ReadWritePaths=%s/mail\n", rmh_dir(h));
	assert_has(out, line);
	g_free(line);
	assert_has(out, "\nType=notify\n");
	assert_has(out, "\nRestart=on-failure\n");
	assert_has(out, "\nRestartSec=5\n");
	assert_has(out, "\nExecReload=/bin/kill -HUP $MAINPID\n");
	assert_has(out, "\nLimitNOFILE=");
	assert_has(out, "\nNoNewPrivileges=yes\n");
	assert_has(out, "\nProtectSystem=strict\n");
	assert_has(out, "\nPrivateTmp=yes\n");
	assert_has(out, "\nProtectHome=");
	assert_has(out, "\nWantedBy=multi-user.target\n");
	g_assert_null(strstr(out, "\nUser="));
	g_assert_null(strchr(out, '@')); /* every placeholder filled */
	assert_has(err, "Review WorkingDirectory, User and the limits");
	g_free(out);
	g_free(err);

	/* an existing service user: User= plus the bind capability */
	rc = rmh_run(h, &out, &err, "install", "--dry-run", "--user", "root",
		     NULL);
	g_assert_cmpint(rc, ==, 0);
	assert_has(out, "\nUser=root\n");
	assert_has(out, "\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n");
	g_free(out);
	g_free(err);

	/* pid file and socket in /run/rmail: RuntimeDirectory= */
	rmh_set(h, "pid_file", "\"/run/rmail/ops-test.pid\"");
	rmh_set(h, "control_socket", "\"/run/rmail/ops-test.sock\"");
	rmh_write_config(h);
	rc = rmh_run(h, &out, &err, "install", "--dry-run", "--no-user", NULL);
	g_assert_cmpint(rc, ==, 0);
	assert_has(out, "\nRuntimeDirectory=rmail\n");
	g_free(out);
	g_free(err);
	g_free(bin);
	g_free(conf);
	rmh_free(h);
}

static void test_verify_and_uninstall(void)
{
	struct rmh *h = rmh_new();
	char *out = NULL, *err = NULL, *unit, *sa;
	const char *argv[4];
	int rc;

	rmh_write_config(h);
	unit = g_build_filename(rmh_dir(h), "rmail.service", NULL);
	rc = rmh_run(h, &out, &err, "install", "--no-user", "--path", unit,
		     NULL);
	g_assert_cmpint(rc, ==, 0);
	g_assert_true(g_file_test(unit, G_FILE_TEST_IS_REGULAR));
	if (g_file_test("/run/systemd/system", G_FILE_TEST_IS_DIR))
		g_test_message("systemd runs here: systemctl was called");
	else
		assert_has(err, "systemd is not running");
	g_free(out);
	g_free(err);

	sa = g_find_program_in_path("systemd-analyze");
	if (sa != NULL) {
		argv[0] = sa;
		argv[1] = "verify";
		argv[2] = unit;
		argv[3] = NULL;
		rc = run_prog(argv, &out, &err);
		if (rc != 0)
			g_error("systemd-analyze verify failed: %s%s", out,
				err);
		g_free(out);
		g_free(err);
		/* the check can fail: a broken unit is refused */
		argv[2] = "/nonexistent/rmail.service";
		rc = run_prog(argv, &out, &err);
		g_assert_cmpint(rc, !=, 0);
		g_free(out);
		g_free(err);
		g_free(sa);
	} else {
		g_test_message("systemd-analyze not installed: verify skipped");
	}

	rc = rmh_run(h, &out, &err, "install", "--uninstall", "--path", unit,
		     NULL);
	g_assert_cmpint(rc, ==, 0);
	g_assert_false(g_file_test(unit, G_FILE_TEST_EXISTS));
	g_free(out);
	g_free(err);
	g_free(unit);
	rmh_free(h);
}

/* one request, the whole answer (the server closes) */
static char *http(guint port, const char *request)
{
	struct rmh_conn *c = rmh_connect(port, false);
	GString *s = g_string_new(NULL);
	char *l;
	int n = 0;

	g_assert_nonnull(c);
	g_assert_true(rmh_send_raw(c, request, strlen(request)));
	while (n++ < 100000 && (l = rmh_readline(c, 10.0)) != NULL) {
		g_string_append_printf(s, "%s\n", l);
		g_free(l);
	}
	rmh_conn_close(c);
	return g_string_free(s, FALSE);
}

static int64_t cert_not_after(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;
	struct tm tm;

	g_assert_nonnull(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	g_assert_nonnull(x);
	g_assert_cmpint(ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm), ==, 1);
	X509_free(x);
	return (int64_t)timegm(&tm);
}

static void test_metrics(void)
{
	static const char *const bare_lf[] = {
		"GET /metrics HTTP/1.1\nHost: x\n\n",
		"GET /metrics HTTP/1.1\r\nHost: x\nX: y\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nHost: x\r\n\n",
	};
	struct rmh *h = rmh_new();
	guint port = rmh_port(h, "admin");
	char *r, *want, *cert;
	GString *big;

	rmh_setf(h, "admin", "{\"listen\": [\"127.0.0.1:%u\"]}", port);
	rmh_write_config(h);
	g_assert_true(rmh_start(h));

	r = http(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
	g_assert_true(g_str_has_prefix(r, "HTTP/1.1 200 "));
	assert_has(r, "\nContent-Type: application/openmetrics-text; "
		      "version=1.0.0; charset=utf-8\n");
	g_assert_true(g_str_has_suffix(r, "\n# EOF\n"));
	assert_has(r, "\n# TYPE rmail_build_info gauge\n");
	want = g_strdup_printf("\nrmail_build_info{version=\"%s\","
			       "abi=\"%d.%d\"} 1\n",
			       RMAIL_VERSION, RMAIL_ABI_MAJOR, RMAIL_ABI_MINOR);
	assert_has(r, want);
	g_free(want);
	cert = rmh_source_path("tests/certs/cert.pem");
	want = g_strdup_printf("\nrmail_tls_cert_expiry_timestamp_seconds "
			       "%lld\n",
			       (long long)cert_not_after(cert));
	assert_has(r, want);
	g_free(want);
	g_free(cert);
	/* this very scrape is an open admin connection */
	assert_has(r, "\nrmail_connections{proto=\"admin\"} 1\n");
	assert_has(r, "\nrmail_connections_accepted_total{proto=\"admin\"} ");
	g_free(r);

	r = http(port, "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
	g_assert_true(g_str_has_prefix(r, "HTTP/1.1 200 "));
	g_free(r);
	r = http(port, "GET /other HTTP/1.1\r\nHost: x\r\n\r\n");
	g_assert_true(g_str_has_prefix(r, "HTTP/1.1 404 "));
	g_assert_null(strstr(r, "rmail_build_info"));
	g_free(r);
	r = http(port, "GET /metricsX HTTP/1.1\r\n\r\n");
	g_assert_true(g_str_has_prefix(r, "HTTP/1.1 404 "));
	g_free(r);
	r = http(port, "POST /metrics HTTP/1.1\r\n\r\n");
	g_assert_true(g_str_has_prefix(r, "HTTP/1.1 405 "));
	g_free(r);
	r = http(port, "garbage\r\n\r\n");
	g_assert_true(g_str_has_prefix(r, "HTTP/1.1 400 "));
	g_free(r);
	/* bare LF line ends, as the API refuses them: a front proxy that
	 * splits only at CRLF would read another request */
	for (size_t i = 0; i < G_N_ELEMENTS(bare_lf); i++) {
		r = http(port, bare_lf[i]);
		g_assert_true(g_str_has_prefix(r, "HTTP/1.1 400 "));
		g_free(r);
	}
	/* bounded: a request head of endless headers is cut off */
	big = g_string_new("GET /metrics HTTP/1.1\r\n");
	for (int i = 0; i < 200; i++)
		g_string_append_printf(big, "X-Pad-%d: %0200d\r\n", i, 0);
	g_string_append(big, "\r\n");
	r = http(port, big->str);
	g_assert_true(g_str_has_prefix(r, "HTTP/1.1 431 "));
	g_free(r);
	g_string_free(big, TRUE);

	/* after the closes, the gauge comes back to the scrape itself */
	r = http(port, "GET /metrics HTTP/1.1\r\n\r\n");
	assert_has(r, "\nrmail_connections{proto=\"admin\"} 1\n");
	g_free(r);

	g_assert_cmpint(rmh_stop(h), ==, 0);
	rmh_free(h);
}

/* the count of a histogram series in a scrape; -1 when absent */
static long long hist_count(const char *scrape, const char *series)
{
	char *key = g_strdup_printf("\n%s_count%s ",
				    "rmail_store_op_"
				    "duration_seconds",
				    series);
	const char *p = strstr(scrape, key);
	long long n = -1;

	if (p != NULL)
		n = g_ascii_strtoll(p + strlen(key), NULL, 10);
	g_free(key);
	return n;
}

/* IMAP command and its tagged answer, which must be OK */
static void imap_ok(struct rmh_conn *c, const char *tag, const char *cmd)
{
	char *prefix = g_strdup_printf("%s ", tag), *line = NULL;

	g_assert_true(rmh_send(c, "%s %s", tag, cmd));
	g_assert_true(rmh_expect(c, prefix, &line));
	if (!g_str_has_prefix(line + strlen(prefix), "OK"))
		g_error("%s %s: %s", tag, cmd, line);
	g_free(line);
	g_free(prefix);
}

/* The store's op histogram, fed by a real IMAP session: an APPEND is
 * one "append" observation, SELECT an "open", STORE a "flags". */
static void test_store_metrics(void)
{
	static const char body[] = "Subject: m\r\n\r\nhello\r\n";
	struct rmh *h = rmh_new();
	guint port = rmh_port(h, "admin"), iport = rmh_port(h, "imap");
	const char *argv[] = {"rmail",
			      "-c",
			      NULL,
			      "user",
			      "add",
			      "metrics@example.test",
			      "--password-stdin",
			      NULL};
	struct rmh_conn *c;
	char *out = NULL, *err = NULL, *r, *line = NULL;

	rmh_set(h, "modules", "[\"mod_shardstore\", \"mod_imap\"]");
	rmh_setf(h, "admin", "{\"listen\": [\"127.0.0.1:%u\"]}", port);
	rmh_setf(h, "imap",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"imaps_listen\": [], "
		 "\"allow_cleartext_login_loopback\": true}",
		 iport);
	rmh_write_config(h);
	g_assert_true(rmh_start(h));
	argv[2] = rmh_config_path(h);
	g_assert_cmpint(rmh_run_argv(h, argv, "pw-metrics\n", &out, &err), ==,
			0);
	g_free(out);
	g_free(err);

	/* nothing appended yet: no append series */
	r = http(port, "GET /metrics HTTP/1.1\r\n\r\n");
	g_assert_null(strstr(r, "rmail_store_op_duration_seconds_bucket"
				"{op=\"append\""));
	g_free(r);

	c = rmh_connect(iport, false);
	g_assert_nonnull(c);
	g_assert_true(rmh_expect(c, "* OK", NULL));
	imap_ok(c, "a", "LOGIN metrics@example.test pw-metrics");
	g_assert_true(rmh_send(c, "b APPEND INBOX {%zu+}", strlen(body)));
	g_assert_true(rmh_send_raw(c, body, strlen(body)));
	g_assert_true(rmh_send(c, "%s", ""));
	g_assert_true(rmh_expect(c, "b ", &line));
	g_assert_true(g_str_has_prefix(line, "b OK"));
	g_free(line);
	imap_ok(c, "c", "SELECT INBOX");
	imap_ok(c, "d", "STORE 1 +FLAGS (\\Seen)");
	imap_ok(c, "e", "LOGOUT");
	rmh_conn_close(c);

	r = http(port, "GET /metrics HTTP/1.1\r\n\r\n");
	assert_has(r, "\n# TYPE rmail_store_op_duration_seconds "
		      "histogram\n");
	assert_has(r, "\nrmail_store_op_duration_seconds_bucket"
		      "{op=\"append\",le=\"+Inf\"} ");
	assert_has(r, "\nrmail_store_op_duration_seconds_sum{op=\"append\"} ");
	g_assert_cmpint(hist_count(r, "{op=\"append\"}"), ==, 1);
	g_assert_cmpint(hist_count(r, "{op=\"open\"}"), >=, 1);
	g_assert_cmpint(hist_count(r, "{op=\"flags\"}"), >=, 1);
	g_free(r);

	g_assert_cmpint(rmh_stop(h), ==, 0);
	rmh_free(h);
}

/* The filter against the line rm_auth_log_failure really writes, in
 * the forms fail2ban sees: raw stderr and a journald/syslog line. */
static void test_fail2ban(void)
{
	char *dir, *logf, *filter, *py, *text = NULL, *out = NULL, *err = NULL;
	const char *script = "import configparser, re, sys\n"
			     "c = configparser.RawConfigParser(strict=False)\n"
			     "c.read(sys.argv[1])\n"
			     "rx = c.get('Definition', 'failregex').strip()\n"
			     "host = r'(?P<host>[0-9A-Fa-f.:]+)'\n"
			     "r = re.compile(rx.replace('<HOST>', host))\n"
			     "for line in open(sys.argv[2]):\n"
			     "    line = line.rstrip('\\n')\n"
			     "    m = r.search(line)\n"
			     "    print(m.group('host') if m else '-')\n";
	const char *argv[6];
	int fd, saved, rc;
	GError *e = NULL;
	GString *lines;
	gchar **v;

	py = g_find_program_in_path("python3");
	if (py == NULL) {
		g_test_skip("python3 not installed");
		return;
	}
	dir = g_dir_make_tmp("rmail-f2b-XXXXXX", &e);
	g_assert_no_error(e);
	logf = g_build_filename(dir, "stderr.log", NULL);
	fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	g_assert_cmpint(fd, >=, 0);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	rm_auth_log_failure("imap", "bob@example.test", "203.0.113.7",
			    "bad_password");
	rm_auth_log_failure("smtp", "evil rip=198.51.100.1", "2001:db8::5",
			    "bad password");
	rm_auth_log_failure("exchange", NULL, "192.0.2.9", NULL);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	g_assert_true(g_file_get_contents(logf, &text, NULL, NULL));
	g_test_message("logged:\n%s", text);
	/* stderr as is, and as journald/syslog shows it (prefix cut) */
	lines = g_string_new(text);
	v = g_strsplit(text, "\n", -1);
	for (int i = 0; v[i] != NULL && v[i][0] != '\0'; i++) {
		const char *msg = strchr(v[i], '>');

		g_string_append_printf(lines,
				       "Nov 29 07:00:00 mx rmail[42]: "
				       "%s\n",
				       msg != NULL ? msg + 1 : v[i]);
	}
	g_strfreev(v);
	g_string_append(lines, "<6>info: event=auth_ok proto=imap user=bob "
			       "rip=203.0.113.8\n");
	/* a good login and a session's end are no failures */
	g_string_append(lines, "<6>info: event=login proto=imap user=bob "
			       "rip=203.0.113.8 tls=TLSv1.3 session=3\n");
	g_string_append(lines, "<6>info: event=session_end proto=imap "
			       "session=3 user=bob rip=203.0.113.8 tls=- "
			       "in=10 out=20 duration=1.000 reason=closed\n");
	g_assert_true(g_file_set_contents(logf, lines->str, -1, NULL));
	g_string_free(lines, TRUE);

	filter = rmh_source_path("conf/fail2ban/rmail.conf");
	argv[0] = py;
	argv[1] = "-c";
	argv[2] = script;
	argv[3] = filter;
	argv[4] = logf;
	argv[5] = NULL;
	rc = run_prog(argv, &out, &err);
	if (rc != 0)
		g_error("python3: %s", err);
	g_assert_cmpstr(out, ==,
			"203.0.113.7\n2001:db8::5\n192.0.2.9\n"
			"203.0.113.7\n2001:db8::5\n192.0.2.9\n-\n-\n-\n");
	g_free(out);
	g_free(err);
	g_free(text);
	g_free(filter);
	g_unlink(logf);
	g_rmdir(dir);
	g_free(logf);
	g_free(dir);
	g_free(py);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/ops/install/dry-run", test_dry_run);
	g_test_add_func("/ops/install/verify-uninstall",
			test_verify_and_uninstall);
	g_test_add_func("/ops/metrics", test_metrics);
	g_test_add_func("/ops/metrics/store", test_store_metrics);
	g_test_add_func("/ops/fail2ban/filter", test_fail2ban);
	return g_test_run();
}
