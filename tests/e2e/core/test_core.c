/* End-to-end tests of the core: lifetime, config errors, check, reload,
 * certificate renewal, pid file and control socket. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <rmail/version.h>

#include "harness.h"

static guint count_lines_with(const char *text, const char *needle)
{
	char **lines = g_strsplit(text, "\n", -1);
	guint i, n = 0;

	for (i = 0; lines[i] != NULL; i++)
		if (strstr(lines[i], needle) != NULL)
			n++;
	g_strfreev(lines);
	return n;
}

static void echo_config(struct rmh *h, const char *greeting, bool tls,
			const char *cert)
{
	bool two = cert != NULL && strstr(cert, "cert2") != NULL;
	char *c = rmh_source_path(two ? "tests/certs/cert2.pem"
				      : "tests/certs/cert.pem");
	char *k = rmh_source_path(two ? "tests/certs/key2.pem"
				      : "tests/certs/key.pem");

	rmh_set(h, "modules", "[\"mod_echo\"]");
	rmh_setf(h, "echo",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"tls_listen\": [%s%u%s], \"greeting\": \"%s\"}",
		 rmh_port(h, "echo"), tls ? "\"127.0.0.1:" : "",
		 tls ? rmh_port(h, "echos") : 0, tls ? "\"" : "", greeting);
	if (!tls)
		rmh_setf(h, "echo",
			 "{\"listen\": [\"127.0.0.1:%u\"], "
			 "\"greeting\": \"%s\"}",
			 rmh_port(h, "echo"), greeting);
	rmh_setf(h, "tls", "{\"cert_file\": \"%s\", \"key_file\": \"%s\"}", c,
		 k);
	rmh_write_config(h);
	g_free(c);
	g_free(k);
}

static void expect_greeting(guint port, bool tls, const char *greeting)
{
	struct rmh_conn *c = rmh_connect(port, tls);
	char *want = g_strdup_printf("+OK %s", greeting), *line = NULL;

	g_assert_nonnull(c);
	g_assert_true(rmh_expect(c, "+OK", &line));
	g_assert_cmpstr(line, ==, want);
	g_assert_true(rmh_send(c, "QUIT"));
	g_assert_true(rmh_expect(c, "+OK bye", NULL));
	rmh_conn_close(c);
	g_free(line);
	g_free(want);
}

static void test_start_stop(void)
{
	struct rmh *h = rmh_new();
	char *err, *out;
	long rss;

	rmh_write_config(h);
	g_assert_true(rmh_start(h));
	rss = rmh_rss_kb(h);
	printf("# time-to-ready: %.1f ms, idle RSS: %ld KiB (no modules)\n",
	       rmh_ready_seconds(h) * 1e3, rss);
	g_assert_cmpint(rss, >, 0);
	g_assert_cmpint(rmh_stop(h), ==, 0);
	err = rmh_stderr(h);
	g_assert_nonnull(strstr(err, "ready"));
	g_assert_nonnull(strstr(err, "stopped"));
	g_assert_null(strstr(err, "<3>"));
	out = rmh_stdout(h);
	g_free(out);
	g_free(err);
	rmh_free(h);
}

static void test_ready_with_listener(void)
{
	struct rmh *h = rmh_new();
	char *out, *want;

	echo_config(h, "hello", true, NULL);
	g_assert_true(rmh_start(h));
	printf("# time-to-ready: %.1f ms, idle RSS: %ld KiB (mod_echo, TLS)\n",
	       rmh_ready_seconds(h) * 1e3, rmh_rss_kb(h));
	out = rmh_stdout(h);
	want = g_strdup_printf("echo: 127.0.0.1:%u\n", rmh_port(h, "echo"));
	g_assert_nonnull(strstr(out, want));
	g_free(want);
	want = g_strdup_printf("echos: 127.0.0.1:%u\n", rmh_port(h, "echos"));
	g_assert_nonnull(strstr(out, want));
	g_free(want);
	g_free(out);
	expect_greeting(rmh_port(h, "echo"), false, "hello");
	expect_greeting(rmh_port(h, "echos"), true, "hello");
	g_assert_cmpint(rmh_stop(h), ==, 0);
	rmh_free(h);
}

static void test_version(void)
{
	struct rmh *h = rmh_new();
	const char *argv[] = {"rmail", "--version", NULL};
	char *out = NULL, *want;

	g_assert_cmpint(rmh_run_argv(h, argv, NULL, &out, NULL), ==, 0);
	want = g_strdup_printf("rmail %s (module ABI %d.%d)\n", RMAIL_VERSION,
			       RMAIL_ABI_MAJOR, RMAIL_ABI_MINOR);
	g_assert_cmpstr(out, ==, want);
	g_free(want);
	g_free(out);
	rmh_free(h);
}

static void test_syntax_error(void)
{
	struct rmh *h = rmh_new();
	char *err;

	rmh_write_config_text(h, "{\n  \"hostname\": \"x\",\n"
				 "  \"modules\": [,]\n}\n");
	g_assert_cmpint(rmh_start_expect_exit(h, 30), ==, 1);
	err = rmh_stderr(h);
	g_test_message("stderr: %s", err);
	g_assert_cmpuint(count_lines_with(err, "<"), ==, 1);
	g_assert_nonnull(strstr(err, "config.json:3:"));
	g_free(err);
	rmh_free(h);
}

static void test_missing_module(void)
{
	struct rmh *h = rmh_new();
	char *err;

	rmh_set(h, "modules", "[\"mod_nosuchthing\"]");
	rmh_write_config(h);
	g_assert_true(rmh_start(h));
	g_assert_cmpint(rmh_stop(h), ==, 0);
	err = rmh_stderr(h);
	g_assert_cmpuint(count_lines_with(err, "mod_nosuchthing"), ==, 1);
	g_assert_cmpuint(count_lines_with(err, "<3>"), ==, 1);
	g_free(err);
	rmh_free(h);
}

static void test_port_in_use(void)
{
	struct rmh *h = rmh_new();
	struct sockaddr_in a = {.sin_family = AF_INET};
	char *err, *addr;
	int fd, one = 1;

	echo_config(h, "x", false, NULL);
	a.sin_port = htons((uint16_t)rmh_port(h, "echo"));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	g_assert_cmpint(bind(fd, (struct sockaddr *)&a, sizeof(a)), ==, 0);
	g_assert_cmpint(listen(fd, 1), ==, 0);
	g_assert_cmpint(rmh_start_expect_exit(h, 60), ==, 1);
	close(fd);
	err = rmh_stderr(h);
	g_test_message("stderr: %s", err);
	addr = g_strdup_printf("127.0.0.1:%u", rmh_port(h, "echo"));
	g_assert_cmpuint(count_lines_with(err, addr), ==, 1);
	g_free(addr);
	g_free(err);
	rmh_free(h);
}

static void test_check(void)
{
	struct rmh *h = rmh_new();
	char *out = NULL, *err = NULL;

	echo_config(h, "x", true, NULL);
	g_assert_cmpint(rmh_run(h, &out, &err, "check", NULL), ==, 0);
	g_assert_nonnull(strstr(out, "OK"));
	g_free(out);
	g_free(err);

	/* every problem printed, with its path */
	rmh_set(h, "bogus_key", "1");
	rmh_set(h, "modules", "[\"mod_echo\", \"mod_nosuchthing\"]");
	rmh_write_config(h);
	g_assert_cmpint(rmh_run(h, &out, &err, "check", NULL), ==, 1);
	g_test_message("check: %s%s", out, err);
	g_assert_nonnull(strstr(err, "bogus_key"));
	g_free(out);
	g_free(err);

	rmh_unset(h, "bogus_key");
	rmh_write_config(h);
	g_assert_cmpint(rmh_run(h, &out, &err, "check", NULL), ==, 1);
	g_assert_cmpuint(count_lines_with(err, "mod_nosuchthing"), ==, 1);
	g_free(out);
	g_free(err);

	/* a module's own keys are checked too */
	rmh_set(h, "modules", "[\"mod_echo\"]");
	rmh_set(h, "echo", "{\"greeting\": 42}");
	rmh_write_config(h);
	g_assert_cmpint(rmh_run(h, &out, &err, "check", NULL), ==, 1);
	g_assert_nonnull(strstr(err, "greeting"));
	g_free(out);
	g_free(err);

	rmh_write_config_text(h, "{\"modules\": [\n");
	g_assert_cmpint(rmh_run(h, &out, &err, "check", NULL), ==, 1);
	g_assert_nonnull(strstr(err, "config.json:"));
	g_free(out);
	g_free(err);
	rmh_free(h);
}

static void test_reload_control(void)
{
	struct rmh *h = rmh_new();
	char *out = NULL, *err = NULL;

	echo_config(h, "one", false, NULL);
	g_assert_true(rmh_start(h));
	expect_greeting(rmh_port(h, "echo"), false, "one");

	echo_config(h, "two", false, NULL);
	g_assert_cmpint(rmh_run(h, &out, &err, "reload", NULL), ==, 0);
	g_test_message("reload: %s%s", out, err);
	g_assert_nonnull(strstr(out, "reloaded"));
	g_free(out);
	g_free(err);
	expect_greeting(rmh_port(h, "echo"), false, "two");

	/* a listen list needs a restart: said so, the rest applies */
	rmh_setf(h, "echo",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"greeting\": \"moved\"}",
		 rmh_port(h, "other"));
	rmh_write_config(h);
	g_assert_cmpint(rmh_run(h, &out, &err, "reload", NULL), ==, 0);
	g_test_message("reload: %s%s", out, err);
	g_assert_nonnull(strstr(out, "restart needed for echo.listen"));
	g_free(out);
	g_free(err);
	g_assert_true(rmh_wait_log(h, "restart needed for echo.listen", 10));
	expect_greeting(rmh_port(h, "echo"), false, "moved");
	echo_config(h, "two", false, NULL);
	g_assert_cmpint(rmh_run(h, NULL, NULL, "reload", NULL), ==, 0);

	/* refused by the module: the reason comes back, old config stays */
	echo_config(h, "three\\nfour", false, NULL);
	g_assert_cmpint(rmh_run(h, &out, &err, "reload", NULL), ==, 1);
	g_test_message("reload: %s%s", out, err);
	g_assert_nonnull(strstr(err, "greeting"));
	g_free(out);
	g_free(err);
	expect_greeting(rmh_port(h, "echo"), false, "two");

	/* refused config file: the reason with line:column */
	rmh_write_config_text(h, "{\n\"modules\": [}\n");
	g_assert_cmpint(rmh_run(h, &out, &err, "reload", NULL), ==, 1);
	g_test_message("reload: %s%s", out, err);
	g_assert_nonnull(strstr(err, "config.json:2:"));
	g_free(out);
	g_free(err);
	expect_greeting(rmh_port(h, "echo"), false, "two");
	g_assert_cmpint(rmh_stop(h), ==, 0);
	rmh_free(h);
}

static void test_sighup_certificate(void)
{
	struct rmh *h = rmh_new();
	char *c1 = rmh_source_path("tests/certs/cert.pem");
	char *c2 = rmh_source_path("tests/certs/cert2.pem");
	char *f1 = rmh_cert_file_sha256(c1), *f2 = rmh_cert_file_sha256(c2);
	struct rmh_conn *old, *fresh;
	char *fp, *line = NULL;

	g_assert_nonnull(f1);
	g_assert_nonnull(f2);
	g_assert_cmpstr(f1, !=, f2);
	echo_config(h, "tls", true, "tests/certs/cert.pem");
	g_assert_true(rmh_start(h));
	old = rmh_connect(rmh_port(h, "echos"), true);
	g_assert_nonnull(old);
	g_assert_true(rmh_expect(old, "+OK tls", NULL));
	fp = rmh_conn_peer_cert_sha256(old);
	g_assert_cmpstr(fp, ==, f1);
	g_free(fp);

	echo_config(h, "tls", true, "tests/certs/cert2.pem");
	rmh_notify_mark(h);
	rmh_signal(h, SIGHUP);
	g_assert_true(rmh_wait_notify(h, "RELOADING=1", 30));
	g_assert_true(rmh_wait_notify(h, "READY=1", 30));

	fresh = rmh_connect(rmh_port(h, "echos"), true);
	g_assert_nonnull(fresh);
	g_assert_true(rmh_expect(fresh, "+OK tls", NULL));
	fp = rmh_conn_peer_cert_sha256(fresh);
	g_assert_cmpstr(fp, ==, f2);
	g_free(fp);
	rmh_conn_close(fresh);

	/* the connection opened before the reload is still served */
	g_assert_true(rmh_send(old, "PING"));
	g_assert_true(rmh_expect(old, "+PONG", &line));
	g_free(line);
	rmh_conn_close(old);
	g_assert_cmpint(rmh_stop(h), ==, 0);
	g_free(c1);
	g_free(c2);
	g_free(f1);
	g_free(f2);
	rmh_free(h);
}

static void test_two_instances(void)
{
	struct rmh *a = rmh_new(), *b = rmh_new(), *same = rmh_new();
	const char *argv[] = {"rmail", "-c", NULL, "serve", NULL};
	char *err = NULL;

	/* pid file and socket default from the config's path */
	echo_config(a, "a", false, NULL);
	echo_config(b, "b", false, NULL);
	g_assert_true(rmh_start(a));
	g_assert_true(rmh_start(b));
	expect_greeting(rmh_port(a, "echo"), false, "a");
	expect_greeting(rmh_port(b, "echo"), false, "b");

	/* the same config twice: refused with one clear line */
	argv[2] = rmh_config_path(a);
	g_assert_cmpint(rmh_run_argv(same, argv, NULL, NULL, &err), ==, 1);
	g_test_message("second start: %s", err);
	g_assert_nonnull(strstr(err, "already running") != NULL
				 ? strstr(err, "already running")
				 : strstr(err, "another rmail is running"));
	g_free(err);
	expect_greeting(rmh_port(a, "echo"), false, "a");
	g_assert_cmpint(rmh_stop(a), ==, 0);
	g_assert_cmpint(rmh_stop(b), ==, 0);
	rmh_free(a);
	rmh_free(b);
	rmh_free(same);
}

static void test_stale_takeover(void)
{
	struct rmh *h = rmh_new();
	char *out = NULL, *err = NULL;

	echo_config(h, "first", false, NULL);
	g_assert_true(rmh_start(h));
	/* a crash leaves the pid file and the control socket behind */
	rmh_signal(h, SIGKILL);
	g_assert_cmpint(rmh_stop(h), ==, -1);

	echo_config(h, "second", false, NULL);
	g_assert_true(rmh_start(h));
	expect_greeting(rmh_port(h, "echo"), false, "second");
	err = rmh_stderr(h);
	g_assert_nonnull(strstr(err, "took over stale control socket"));
	g_free(err);
	g_assert_cmpint(rmh_run(h, &out, &err, "reload", NULL), ==, 0);
	g_free(out);
	g_free(err);
	g_assert_cmpint(rmh_stop(h), ==, 0);
	rmh_free(h);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/e2e/core/start-stop", test_start_stop);
	g_test_add_func("/e2e/core/ready-with-listener",
			test_ready_with_listener);
	g_test_add_func("/e2e/core/version", test_version);
	g_test_add_func("/e2e/core/syntax-error", test_syntax_error);
	g_test_add_func("/e2e/core/missing-module", test_missing_module);
	g_test_add_func("/e2e/core/port-in-use", test_port_in_use);
	g_test_add_func("/e2e/core/check", test_check);
	g_test_add_func("/e2e/core/reload-control", test_reload_control);
	g_test_add_func("/e2e/core/sighup-certificate",
			test_sighup_certificate);
	g_test_add_func("/e2e/core/two-instances", test_two_instances);
	g_test_add_func("/e2e/core/stale-takeover", test_stale_takeover);
	return g_test_run();
}
