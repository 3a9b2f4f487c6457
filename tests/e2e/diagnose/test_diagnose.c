/*
 * rmail diagnose against the real daemon: a healthy server gives
 * "0 failures, 0 warnings" and exit 0, the external message reaches the
 * sink through delivery.routes, nothing rmail-diag-* is left behind; a
 * module removed from the config makes its phase "skipped"; a listener
 * that does not answer is a failure, and the cleanup still runs; with
 * every listener behind PROXY protocol it still passes.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>
#include <string.h>

#include "harness.h"
#include "sink.h"

#define ALL                                                                    \
	"[\"mod_shardstore\", \"mod_smtp\", \"mod_imap\", "                    \
	"\"mod_exchange\"]"

static guint sink_port;
static const char *cors = "[]";

static void configure(struct rmh *h, const char *modules, guint api_port,
		      guint route_port)
{
	rmh_set(h, "modules", modules);
	rmh_setf(h, "control_socket", "\"%s/ctl.sock\"", rmh_dir(h));
	rmh_setf(h, "pid_file", "\"%s/rmail.pid\"", rmh_dir(h));
	rmh_setf(h, "smtp",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"submission_listen\": [\"127.0.0.1:%u\"], "
		 "\"smtps_listen\": [\"127.0.0.1:%u\"]}",
		 rmh_port(h, "smtp"), rmh_port(h, "submission"),
		 rmh_port(h, "smtps"));
	rmh_setf(h, "imap",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"imaps_listen\": [\"127.0.0.1:%u\"]}",
		 rmh_port(h, "imap"), rmh_port(h, "imaps"));
	rmh_setf(h, "exchange_api",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"tls_listen\": [\"127.0.0.1:%u\"], \"cors_origins\": %s}",
		 api_port, rmh_port(h, "https"), cors);
	rmh_setf(h, "delivery",
		 "{\"routes\": {\"ext.test\": "
		 "\"127.0.0.1:%u\"}}",
		 route_port);
	rmh_write_config(h);
}

/* no rmail-diag user or alias remains, in the store or on disk */
static void assert_nothing_left(struct rmh *h)
{
	char *out = NULL, *err = NULL, *dir;
	GDir *d;
	const char *name;

	g_assert_cmpint(rmh_run(h, &out, &err, "user", "list", NULL), ==, 0);
	g_assert_null(strstr(out, "rmail-diag"));
	g_free(out);
	g_free(err);
	g_assert_cmpint(rmh_run(h, &out, &err, "alias", "list", NULL), ==, 0);
	g_assert_null(strstr(out, "rmail-diag"));
	g_free(out);
	g_free(err);
	dir = g_strdup_printf("%s/mail/domains/example.test/users", rmh_dir(h));
	d = g_dir_open(dir, 0, NULL);
	while (d != NULL && (name = g_dir_read_name(d)) != NULL)
		g_assert_false(g_str_has_prefix(name, "rmail-diag"));
	if (d != NULL)
		g_dir_close(d);
	g_free(dir);
}

static void test_healthy(void)
{
	struct rmh *h = rmh_new();
	char *out = NULL, *err = NULL;
	guint before = sink_count(), i;
	gboolean reached = FALSE;
	int rc;

	configure(h, ALL, rmh_port(h, "http"), sink_port);
	g_assert_true(rmh_start(h));
	rc = rmh_run(h, &out, &err, "diagnose", NULL);
	g_test_message("%s%s", out, err);
	g_assert_nonnull(strstr(out, " checks, 0 failures, 0 warnings\n"));
	g_assert_cmpint(rc, ==, 0);
	/* every phase ran, the RFC checks name themselves */
	for (i = 1; i <= 8; i++) {
		char *p = g_strdup_printf("Phase %u: ", i);

		g_assert_nonnull(strstr(out, p));
		g_free(p);
	}
	g_assert_null(strstr(out, "SKIPPED"));
	g_assert_nonnull(strstr(out, "smtp.rfc.bare_lf"));
	g_assert_nonnull(strstr(out, "api.lockout"));
	g_free(out);
	g_free(err);
	/* the external message went to the sink through the route */
	for (i = before; i < sink_count(); i++) {
		char *r = sink_rcpts(i);

		reached = reached || (strstr(r, "rmail-diag-") != NULL &&
				      strstr(r, "@ext.test") != NULL);
		g_free(r);
	}
	g_assert_true(reached);
	assert_nothing_left(h);

	/* again, as JSON, with CORS origins reloaded in: the first run left
	 * nothing that trips the second (the lockout check's failures never
	 * count against 127.0.0.1), and the preflight from the first origin
	 * is allowed */
	cors = "[\"https://app.example.test\", \"https://b.example.test\"]";
	configure(h, ALL, rmh_port(h, "http"), sink_port);
	cors = "[]";
	g_assert_cmpint(rmh_run(h, &out, &err, "reload", NULL), ==, 0);
	g_free(out);
	g_free(err);
	rc = rmh_run(h, &out, &err, "diagnose", "--json", NULL);
	g_test_message("%s%s", out, err);
	g_assert_cmpint(rc, ==, 0);
	g_assert_nonnull(strstr(out, "preflight from https://app.example.test: "
				     "https://app.example.test"));
	{
		json_error_t je;
		json_t *j = json_loads(out, 0, &je);
		json_t *s = json_object_get(j, "summary");

		g_assert_nonnull(j);
		g_assert_cmpint(
			json_integer_value(json_object_get(s, "failures")), ==,
			0);
		g_assert_cmpint(
			json_integer_value(json_object_get(s, "warnings")), ==,
			0);
		g_assert_cmpint(
			json_integer_value(json_object_get(s, "checks")), >,
			50);
		g_assert_cmpint(json_array_size(json_object_get(j, "phases")),
				==, 8);
		json_decref(j);
	}
	g_free(out);
	g_free(err);
	assert_nothing_left(h);
	g_assert_cmpint(rmh_stop(h), ==, 0);
	rmh_free(h);
}

/* every listener behind a load balancer (PROXY protocol, loopback a
 * trusted proxy): diagnose sends its PROXY header and passes, and the
 * daemon refused none (issue 21) */
static void test_behind_proxy(void)
{
	struct rmh *h = rmh_new();
	char *out = NULL, *err = NULL, *log;
	int rc;

	rmh_set(h, "proxy_protocol",
		"{\"listeners\": [\"smtp.listen\", "
		"\"smtp.submission_listen\", \"smtp.smtps_listen\", "
		"\"imap.listen\", \"imap.imaps_listen\", "
		"\"exchange_api.listen\", \"exchange_api.tls_listen\"], "
		"\"trusted_proxies\": [\"127.0.0.0/8\"]}");
	configure(h, ALL, rmh_port(h, "http"), sink_port);
	g_assert_true(rmh_start(h));
	rc = rmh_run(h, &out, &err, "diagnose", NULL);
	g_test_message("%s%s", out, err);
	g_assert_nonnull(strstr(out, " checks, 0 failures, 0 warnings\n"));
	g_assert_nonnull(strstr(out, "sends them a PROXY v2 header"));
	g_assert_cmpint(rc, ==, 0);
	g_free(out);
	g_free(err);
	log = rmh_stderr(h);
	g_assert_null(strstr(log, "event=proxy_refused"));
	g_free(log);
	assert_nothing_left(h);
	g_assert_cmpint(rmh_stop(h), ==, 0);
	rmh_free(h);
}

static void test_module_disabled(void)
{
	struct rmh *h = rmh_new();
	char *out = NULL, *err = NULL;
	int rc;

	configure(h, "[\"mod_shardstore\", \"mod_smtp\", \"mod_imap\"]",
		  rmh_port(h, "http"), sink_port);
	g_assert_true(rmh_start(h));
	rc = rmh_run(h, &out, &err, "diagnose", NULL);
	g_test_message("%s%s", out, err);
	g_assert_nonnull(strstr(out, "Phase 7: Exchange API: SKIPPED"));
	g_assert_null(strstr(out, "api.login"));
	g_assert_nonnull(strstr(out, " checks, 0 failures, 0 warnings\n"));
	g_assert_cmpint(rc, ==, 0);
	g_free(out);
	g_free(err);
	assert_nothing_left(h);
	g_assert_cmpint(rmh_stop(h), ==, 0);
	rmh_free(h);
}

/* a listener in the config that nobody serves: FAIL, exit 1; a route
 * that leads nowhere: WARN; the diagnostic users, an earlier run's
 * leftover and the queued message are still removed */
static void test_failure_still_cleans(void)
{
	struct rmh *h = rmh_new();
	char *out = NULL, *err = NULL;
	int rc;

	/* the route leads nowhere: the external message stays queued */
	configure(h, ALL, rmh_port(h, "http"), rmh_port(h, "deadsink"));
	g_assert_true(rmh_start(h));
	configure(h, ALL, rmh_port(h, "nobody"), rmh_port(h, "deadsink"));
	/* what an interrupted earlier run leaves */
	{
		const char *argv[] = {"rmail",
				      "-c",
				      rmh_config_path(h),
				      "user",
				      "add",
				      "rmail-diag-0ld@example.test",
				      "--password-stdin",
				      NULL};

		rc = rmh_run_argv(h, argv, "secret-pw\n", &out, &err);
		g_assert_cmpint(rc, ==, 0);
		g_free(out);
		g_free(err);
	}
	rc = rmh_run(h, &out, &err, "diagnose", NULL);
	g_test_message("%s%s", out, err);
	g_assert_cmpint(rc, ==, 1);
	g_assert_nonnull(strstr(out, "FAIL  config.listen"));
	g_assert_nonnull(strstr(out, "FAIL  api."));
	g_assert_null(strstr(out, " 0 failures"));
	g_assert_nonnull(strstr(out, "(1 left by an earlier run)"));
	g_assert_nonnull(strstr(out, "WARN  smtp.external"));
	g_assert_nonnull(strstr(out, "PASS  cleanup.queue"));
	g_free(out);
	g_free(err);
	assert_nothing_left(h);
	/* the queue holds nothing of the run */
	rc = rmh_run(h, &out, &err, "queue", "list", NULL);
	g_assert_cmpint(rc, ==, 0);
	g_assert_nonnull(strstr(out, "queue is empty"));
	g_free(out);
	g_free(err);
	g_assert_cmpint(rmh_stop(h), ==, 0);
	rmh_free(h);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	sink_port = sink_start();
	g_test_add_func("/diagnose/healthy", test_healthy);
	g_test_add_func("/diagnose/module_disabled", test_module_disabled);
	g_test_add_func("/diagnose/behind_proxy", test_behind_proxy);
	g_test_add_func("/diagnose/failure_still_cleans",
			test_failure_still_cleans);
	return g_test_run();
}
