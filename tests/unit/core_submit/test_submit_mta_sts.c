/*
 * MTA-STS through the real queue, without the internet: MX and
 * `_mta-sts` records from the test DNS server, policies from a loopback
 * HTTPS server (sts_fixture), the MX sink's port standing for 25
 * (rm_smtp_mx_port) with a certificate from the same throw-away CA
 * (mta_sts.ca_file) for mx.good.sts.test and mx.testing.sts.test.
 *
 * enforce with a matching certificate -> delivered, logged Verified
 * policy=mta-sts; enforce and an MX the policy does not list ->
 * deferred, nothing sent; enforce and a certificate without the MX
 * name -> deferred; testing with an MX the policy does not list ->
 * delivered, and so with a listed MX whose certificate does not verify;
 * the day's TLS-RPT report counts each failure (and the enforce
 * sessions) under policy-type sts.
 */
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dnsd.h"
#include "mailauth/dmarc_report.h"
#include "rm.h"
#include "sink.h"
#include "sts_fixture.h"
#include "submit/submit_int.h"
#include "submit/tlsrpt.h"

static char *dir;
static struct rm_dnsd *dnsd;
static struct sts_server web;
static struct rm_config *current;

static const char zone[] = "$TTL 0\n"
			   "good.sts.test MX 10 mx.good.sts.test\n"
			   "mx.good.sts.test A 127.0.0.1\n"
			   "_mta-sts.good.sts.test TXT \"v=STSv1; id=1\"\n"
			   "wrongmx.sts.test MX 10 mx.elsewhere.test\n"
			   "mx.elsewhere.test A 127.0.0.1\n"
			   "_mta-sts.wrongmx.sts.test TXT \"v=STSv1; id=1\"\n"
			   "badcert.sts.test MX 10 mx.badcert.sts.test\n"
			   "mx.badcert.sts.test A 127.0.0.1\n"
			   "_mta-sts.badcert.sts.test TXT \"v=STSv1; id=1\"\n"
			   "testing.sts.test MX 10 mx.testing.sts.test\n"
			   "mx.testing.sts.test A 127.0.0.1\n"
			   "_mta-sts.testing.sts.test TXT \"v=STSv1; id=1\"\n"
			   "testcert.sts.test MX 10 mx.testcert.sts.test\n"
			   "mx.testcert.sts.test A 127.0.0.1\n"
			   "_mta-sts.testcert.sts.test TXT \"v=STSv1; id=1\"\n";

static void report(void *arg, const char *problem)
{
	(void)arg;
	g_printerr("config: %s\n", problem);
}

static void load(void)
{
	struct rm_config *conf = NULL;
	char *path = g_build_filename(dir, "config.json", NULL);
	char *cfg = g_strdup_printf(
		"{\"hostname\": \"client.example.test\", "
		"\"mail_root\": \"%s/mail\", \"modules\": [], "
		"\"log_level\": \"info\", "
		"\"dns\": {\"forwarders\": [\"127.0.0.1@%u\"], "
		"\"trust_anchor\": null, \"timeout_ms\": 1000}, "
		"\"mta_sts\": {\"ca_file\": \"%s/ca.pem\", "
		"\"connect_to\": [\"::127.0.0.1:%u\"]}, "
		"\"delivery\": {\"retry_initial\": \"1h\"}}",
		dir, rm_dnsd_port(dnsd), dir, web.port);

	g_assert_true(g_file_set_contents(path, cfg, -1, NULL));
	g_assert_cmpint(rm_config_load(path, &conf, report, NULL), ==, 0);
	rm_conf_set(conf);
	rm_config_free(&current);
	current = conf;
	g_free(cfg);
	g_free(path);
}

struct run {
	char *why; /* NULL: the entry left the queue */
	char *log;
};

static void run_free(struct run *r)
{
	g_free(r->why);
	g_free(r->log);
}

/* one entry for rcpt, one forced pass with stderr captured */
static struct run queue_once(const char *rcpt, const char *subject)
{
	const char *rcpts[] = {rcpt};
	char *msg = g_strdup_printf("Subject: %s\r\n\r\nbody\r\n", subject);
	char *tmp = g_build_filename(dir, "msg", NULL);
	char *logp = g_build_filename(dir, "pass.log", NULL);
	char id[RM_QID_MAX];
	struct rm_msg_src src = {0};
	struct rm_qentry e;
	struct rmail_err err;
	struct run r = {0};
	int fd, saved, lfd;

	g_assert_true(g_file_set_contents(tmp, msg, -1, NULL));
	fd = open(tmp, O_RDONLY);
	g_assert_cmpint(fd, >=, 0);
	src.prefix = "";
	src.fd = fd;
	src.size = strlen(msg);
	rm_submit_new_id(id);
	g_assert_cmpint(rm_queue_add(id, "", rcpts, 1, &src, false, &err), ==,
			0);
	close(fd);
	lfd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	g_assert_cmpint(lfd, >=, 0);
	saved = dup(2);
	dup2(lfd, 2);
	rm_queue_run(true);
	dup2(saved, 2);
	close(saved);
	close(lfd);
	g_assert_true(g_file_get_contents(logp, &r.log, NULL, NULL));
	g_printerr("%s", r.log);
	if (rm_queue_load(id, &e, NULL) == 0) {
		r.why = g_strdup(e.r[0].error ? e.r[0].error : "pending");
		g_printerr("%s: %s\n", rcpt, r.why);
		rm_queue_entry_free(&e);
		g_assert_cmpint(rm_queue_remove(id), ==, 0);
	}
	g_free(logp);
	g_free(tmp);
	g_free(msg);
	return r;
}

static gboolean sink_has_subject(guint from, const char *subject)
{
	for (guint i = from; i < sink_count(); i++) {
		char *m = sink_message(i);
		gboolean hit = strstr(m, subject) != NULL;

		g_free(m);
		if (hit)
			return TRUE;
	}
	return FALSE;
}

static void expect_sent(const char *rcpt, const char *subject,
			const char *logged)
{
	guint n0 = sink_count();
	struct run r = queue_once(rcpt, subject);

	g_assert_null(r.why);
	g_assert_true(sink_has_subject(n0, subject));
	g_assert_nonnull(strstr(r.log, logged));
	run_free(&r);
}

static void expect_deferred(const char *rcpt, const char *subject,
			    const char *reason)
{
	guint n0 = sink_count();
	struct run r = queue_once(rcpt, subject);

	g_assert_nonnull(r.why);
	g_assert_nonnull(strstr(r.why, reason));
	g_assert_cmpuint(sink_count(), ==, n0);
	run_free(&r);
}

static void test_enforce_ok(void)
{
	expect_sent("x@good.sts.test", "sts-enforce-ok",
		    "verify=Verified policy=mta-sts");
}

static void test_enforce_wrong_mx(void)
{
	expect_deferred("x@wrongmx.sts.test", "sts-wrong-mx",
			"not an MX of the MTA-STS policy of wrongmx.sts.test");
}

static void test_enforce_bad_cert(void)
{
	expect_deferred("x@badcert.sts.test", "sts-bad-cert",
			"certificate verification failed (PKIX)");
}

static void test_testing_delivered(void)
{
	expect_sent("x@testing.sts.test", "sts-testing",
		    "policy=opportunistic");
	/* a listed MX whose certificate does not verify: delivered too */
	expect_sent("x@testcert.sts.test", "sts-testing-cert",
		    "verify=Untrusted policy=mta-sts");
}

/* the day's TLS-RPT report of a domain, parsed */
struct found {
	const char *domain;
	json_t *report;
};

static void grab(void *arg, const struct rm_tlsrpt_report *r)
{
	struct found *f = arg;

	if (strcmp(r->domain, f->domain) == 0)
		f->report = json_loads(r->json, 0, NULL);
}

static json_t *report_of(const char *domain)
{
	char *tdir = g_build_filename(dir, "mail", "tlsrpt", NULL);
	char *sts = g_build_filename(dir, "mail", "mta-sts", NULL);
	struct rm_tlsrpt_meta m = {.org_name = "test",
				   .contact = "c@test",
				   .submitter = "client.example.test",
				   .sts_dir = sts};
	struct found f = {.domain = domain};
	char day[11];

	dmarc_report_day((int64_t)time(NULL), day);
	g_assert_cmpint(rm_tlsrpt_build_day(tdir, day, &m, grab, &f), ==, 0);
	g_assert_nonnull(f.report);
	g_free(tdir);
	g_free(sts);
	return f.report;
}

static json_int_t count(json_t *pol, const char *k)
{
	return json_integer_value(
		json_object_get(json_object_get(pol, "summary"), k));
}

static void test_tlsrpt_counts(void)
{
	json_t *r = report_of("testing.sts.test");
	json_t *pol = json_array_get(json_object_get(r, "policies"), 0);
	json_t *p = json_object_get(pol, "policy");
	json_t *fd = json_array_get(json_object_get(pol, "failure-details"), 0);
	char *s = json_dumps(r, JSON_INDENT(1));

	g_test_message("%s", s);
	free(s);
	g_assert_cmpstr(json_string_value(json_object_get(p, "policy-type")),
			==, "sts");
	g_assert_cmpstr(json_string_value(json_object_get(p, "policy-domain")),
			==, "testing.sts.test");
	/* the cached policy is what the report shows */
	g_assert_cmpstr(json_string_value(json_array_get(
				json_object_get(p, "mx-host"), 0)),
			==, "mx.nottheone.test");
	g_assert_cmpint(count(pol, "total-failure-session-count"), ==, 1);
	g_assert_cmpint(count(pol, "total-successful-session-count"), ==, 0);
	g_assert_cmpstr(json_string_value(json_object_get(fd, "result-type")),
			==, "validation-failure");
	g_assert_cmpstr(
		json_string_value(json_object_get(fd, "receiving-mx-hostname")),
		==, "mx.testing.sts.test");
	g_assert_cmpstr(json_string_value(json_object_get(fd, "receiving-ip")),
			==, "127.0.0.1");
	json_decref(r);

	r = report_of("good.sts.test");
	pol = json_array_get(json_object_get(r, "policies"), 0);
	g_assert_cmpint(count(pol, "total-successful-session-count"), ==, 1);
	g_assert_cmpint(count(pol, "total-failure-session-count"), ==, 0);
	json_decref(r);

	r = report_of("badcert.sts.test");
	pol = json_array_get(json_object_get(r, "policies"), 0);
	fd = json_array_get(json_object_get(pol, "failure-details"), 0);
	g_assert_cmpint(count(pol, "total-failure-session-count"), ==, 1);
	g_assert_cmpstr(json_string_value(json_object_get(fd, "result-type")),
			==, "certificate-host-mismatch");
	json_decref(r);

	r = report_of("testcert.sts.test");
	pol = json_array_get(json_object_get(r, "policies"), 0);
	fd = json_array_get(json_object_get(pol, "failure-details"), 0);
	g_assert_cmpint(count(pol, "total-failure-session-count"), ==, 1);
	g_assert_cmpstr(json_string_value(json_object_get(fd, "result-type")),
			==, "certificate-host-mismatch");
	json_decref(r);
}

int main(int argc, char **argv)
{
	struct rmail_err err;
	char msg[128], *cert, *key, *www;
	guint port;
	int rc;

	g_test_init(&argc, &argv, NULL);
	signal(SIGPIPE, SIG_IGN);
	dir = g_dir_make_tmp("rmail-sts-XXXXXX", NULL);
	g_assert_nonnull(dir);
	sts_make_ca(dir);
	sts_make_cert(dir, "web",
		      "mta-sts.good.sts.test,mta-sts.wrongmx.sts.test,"
		      "mta-sts.badcert.sts.test,mta-sts.testing.sts.test,"
		      "mta-sts.testcert.sts.test");
	sts_make_cert(dir, "mx", "mx.good.sts.test,mx.testing.sts.test");
	www = g_build_filename(dir, "www", NULL);
	sts_server_start(&web, dir, "web", www);
	sts_policy_put(&web, "mta-sts.good.sts.test",
		       "version: STSv1\nmode: enforce\nmx: *.good.sts.test\n"
		       "max_age: 86400\n",
		       -1);
	sts_policy_put(
		&web, "mta-sts.wrongmx.sts.test",
		"version: STSv1\nmode: enforce\nmx: mx.wrongmx.sts.test\n"
		"max_age: 86400\n",
		-1);
	sts_policy_put(&web, "mta-sts.badcert.sts.test",
		       "version: STSv1\nmode: enforce\n"
		       "mx: mx.badcert.sts.test\nmax_age: 86400\n",
		       -1);
	sts_policy_put(&web, "mta-sts.testing.sts.test",
		       "version: STSv1\nmode: testing\nmx: mx.nottheone.test\n"
		       "max_age: 86400\n",
		       -1);
	sts_policy_put(&web, "mta-sts.testcert.sts.test",
		       "version: STSv1\nmode: testing\n"
		       "mx: *.testcert.sts.test\nmax_age: 86400\n",
		       -1);
	dnsd = rm_dnsd_start(zone, msg, sizeof(msg));
	g_assert_nonnull(dnsd);
	cert = g_build_filename(dir, "mx.pem", NULL);
	key = g_build_filename(dir, "mx.key", NULL);
	port = sink_start_tls(cert, key, NULL, NULL);
	rm_smtp_mx_port = (int)port;
	rm_smtp_timeout = 5;
	g_assert_cmpint(rm_loop_init(), ==, 0);
	load();
	g_assert_cmpint(rm_submit_init(&err), ==, 0);
	g_test_add_func("/mta_sts/enforce_ok", test_enforce_ok);
	g_test_add_func("/mta_sts/enforce_wrong_mx", test_enforce_wrong_mx);
	g_test_add_func("/mta_sts/enforce_bad_cert", test_enforce_bad_cert);
	g_test_add_func("/mta_sts/testing_delivered", test_testing_delivered);
	g_test_add_func("/mta_sts/tlsrpt_counts", test_tlsrpt_counts);
	rc = g_test_run();
	sts_server_stop(&web);
	rm_dnsd_stop(dnsd);
	{
		char *argv2[] = {"rm", "-rf", dir, NULL};

		g_spawn_sync(NULL, argv2, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
			     NULL, NULL, NULL, NULL);
	}
	rm_conf_set(NULL);
	rm_config_free(&current);
	g_free(cert);
	g_free(key);
	g_free(www);
	g_free(dir);
	return rc;
}
