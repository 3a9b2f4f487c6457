/*
 * MTA-STS discovery end to end inside the core, without the internet:
 * the `_mta-sts` TXT records from the test DNS server through the
 * core's resolver, the policies from a loopback HTTPS server whose
 * certificates a throw-away CA issued (mta_sts.ca_file), reached
 * through mta_sts.connect_to.  A policy with a good certificate is used
 * and cached, the cache answers until the id= changes, a refetch that
 * fails (wrong certificate name) keeps the cached policy until it
 * expires, redirects and bodies over 64 KiB are refused, the background
 * pass refreshes a stale policy; and a TLS-RPT style HTTPS POST lands
 * with its content type.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <time.h>

#include "dns/dns.h"
#include "dnsd.h"
#include "rm.h"
#include "sts_fixture.h"
#include "submit/https_client.h"
#include "submit/mta_sts.h"
#include "submit/mta_sts_cache.h"

static char *dir, *sts_dir;
static struct rm_dnsd *dnsd;
static struct sts_server good, wrong;
static struct rm_config *conf;

static const char policy_enforce[] = "version: STSv1\n"
				     "mode: enforce\n"
				     "mx: *.good.test\n"
				     "max_age: 86400\n";

static char *zone(const char *good_id)
{
	return g_strdup_printf("$TTL 0\n"
			       "_mta-sts.good.test TXT \"v=STSv1; id=%s\"\n"
			       "_mta-sts.wrong.test TXT \"v=STSv1; id=1\"\n"
			       "_mta-sts.redir.test TXT \"v=STSv1; id=1\"\n"
			       "_mta-sts.big.test TXT \"v=STSv1; id=1\"\n"
			       "_mta-sts.two.test TXT \"v=STSv1; id=1\"\n"
			       "_mta-sts.two.test TXT \"v=STSv1; id=2\"\n"
			       "_mta-sts.temp.test SERVFAIL\n"
			       "none.test A 192.0.2.1\n",
			       good_id);
}

static void report(void *arg, const char *problem)
{
	(void)arg;
	g_printerr("config: %s\n", problem);
}

static void setup_all(void)
{
	char err[128], *z, *cfg, *path, *root;
	struct rmail_err e;

	dir = g_dir_make_tmp("mta-sts-XXXXXX", NULL);
	g_assert_nonnull(dir);
	sts_make_ca(dir);
	sts_make_cert(dir, "good",
		      "mta-sts.good.test,mta-sts.redir.test,mta-sts.big.test,"
		      "mta-sts.none.test,tlsrpt.good.test");
	sts_make_cert(dir, "wrong", "mta-sts.elsewhere.test");
	root = g_build_filename(dir, "www", NULL);
	sts_server_start(&good, dir, "good", root);
	g_free(root);
	root = g_build_filename(dir, "www-wrong", NULL);
	sts_server_start(&wrong, dir, "wrong", root);
	g_free(root);
	sts_policy_put(&wrong, "mta-sts.wrong.test", policy_enforce, -1);

	z = zone("1");
	dnsd = rm_dnsd_start(z, err, sizeof(err));
	g_assert_nonnull(dnsd);
	g_free(z);

	cfg = g_strdup_printf(
		"{\"hostname\": \"mx.example.test\", \"mail_root\": "
		"\"%s/mail\","
		" \"modules\": [], \"log_level\": \"error\","
		" \"dns\": {\"forwarders\": [\"127.0.0.1@%u\"],"
		" \"timeout_ms\": 500, \"trust_anchor\": null},"
		" \"mta_sts\": {\"ca_file\": \"%s/ca.pem\", \"connect_to\": ["
		"\"mta-sts.wrong.test:443:127.0.0.1:%u\","
		" \"::127.0.0.1:%u\"]}}",
		dir, rm_dnsd_port(dnsd), dir, wrong.port, good.port);
	path = g_build_filename(dir, "config.json", NULL);
	g_assert_true(g_file_set_contents(path, cfg, -1, NULL));
	g_assert_cmpint(rm_config_load(path, &conf, report, NULL), ==, 0);
	rm_conf_set(conf);
	g_assert_cmpint(rm_dns_init(conf, &e), ==, 0);
	sts_dir = g_build_filename(dir, "mail", "mta-sts", NULL);
	/* the daemon makes the mail root; here the test does */
	root = g_build_filename(dir, "mail", NULL);
	g_assert_cmpint(g_mkdir(root, 0700), ==, 0);
	g_free(root);
	g_free(cfg);
	g_free(path);
}

static void teardown_all(void)
{
	char *argv[] = {"rm", "-rf", dir, NULL};

	rm_dns_shutdown();
	rm_conf_set(NULL);
	rm_config_free(&conf);
	rm_dnsd_stop(dnsd);
	sts_server_stop(&good);
	sts_server_stop(&wrong);
	g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL,
		     NULL, NULL, NULL);
	g_free(sts_dir);
	g_free(dir);
}

static void test_good_cached_idchange(void)
{
	struct rm_sts_policy p;
	char why[400] = "", *z, err[128], *f;

	sts_policy_put(&good, "mta-sts.good.test", policy_enforce, -1);
	g_assert_cmpint(
		rm_mta_sts_get_why("Good.Test.", &p, why, sizeof(why), NULL),
		==, 0);
	g_test_message("%s", why);
	g_assert_cmpint(p.mode, ==, RM_STS_ENFORCE);
	g_assert_cmpstr(p.id, ==, "1");
	g_assert_cmpuint(p.max_age, ==, 86400);
	g_assert_cmpint(p.expires - p.fetched, ==, 86400);
	g_assert_true(rm_mta_sts_mx_match(&p, "mx1.good.test"));
	g_assert_false(rm_mta_sts_mx_match(&p, "mx1.evil.test"));
	g_assert_cmpint(sts_server_requests(&good, "mta-sts.good.test"), ==, 1);
	f = g_build_filename(sts_dir, "good.test.json", NULL);
	g_assert_true(g_file_test(f, G_FILE_TEST_IS_REGULAR));
	g_free(f);

	/* the same id: the cache answers, nothing is fetched, even when
	 * the web server now serves something else */
	sts_policy_put(&good, "mta-sts.good.test", "garbage", -1);
	g_assert_cmpint(rm_mta_sts_get("good.test", &p), ==, 0);
	g_assert_cmpint(p.mode, ==, RM_STS_ENFORCE);
	g_assert_cmpint(sts_server_requests(&good, "mta-sts.good.test"), ==, 1);

	/* a new id= is fetched at once */
	sts_policy_put(&good, "mta-sts.good.test",
		       "version: STSv1\nmode: testing\nmx: mail.good.test\n"
		       "max_age: 3600\n",
		       -1);
	z = zone("2");
	g_assert_cmpint(rm_dnsd_load(dnsd, z, err, sizeof(err)), ==, 0);
	g_free(z);
	g_assert_cmpint(rm_mta_sts_get("good.test", &p), ==, 0);
	g_assert_cmpint(p.mode, ==, RM_STS_TESTING);
	g_assert_cmpstr(p.id, ==, "2");
	g_assert_true(rm_mta_sts_mx_match(&p, "mail.good.test"));
	g_assert_false(rm_mta_sts_mx_match(&p, "mx1.good.test"));
	g_assert_cmpint(sts_server_requests(&good, "mta-sts.good.test"), ==, 2);
	z = zone("1");
	g_assert_cmpint(rm_dnsd_load(dnsd, z, err, sizeof(err)), ==, 0);
	g_free(z);
}

static void test_wrong_cert_keeps_cache(void)
{
	struct rm_sts_policy p;
	char why[400] = "";
	int64_t now = (int64_t)time(NULL);
	bool ff = false;

	g_assert_cmpint(rm_sts_cache_remove(sts_dir, "wrong.test"), ==, 0);
	/* no cache: the fetch fails on the certificate's name */
	g_assert_cmpint(
		rm_mta_sts_get_why("wrong.test", &p, why, sizeof(why), &ff), ==,
		-1);
	g_test_message("%s", why);
	g_assert_true(ff);
	g_assert_nonnull(strstr(why, "mta-sts.wrong.test"));
	g_assert_cmpint(sts_server_requests(&wrong, "mta-sts.wrong.test"), ==,
			0);
	/* a policy cached under another id stays in force */
	g_assert_cmpint(rm_sts_cache_store(sts_dir, "wrong.test", "0", now - 60,
					   policy_enforce,
					   strlen(policy_enforce)),
			==, 0);
	g_assert_cmpint(
		rm_mta_sts_get_why("wrong.test", &p, why, sizeof(why), NULL),
		==, 0);
	g_assert_cmpstr(p.id, ==, "0");
	g_assert_cmpint(p.mode, ==, RM_STS_ENFORCE);
	/* ... until it expires */
	g_assert_cmpint(rm_sts_cache_store(sts_dir, "wrong.test", "0",
					   now - 86401, policy_enforce,
					   strlen(policy_enforce)),
			==, 0);
	g_assert_cmpint(rm_mta_sts_get("wrong.test", &p), ==, -1);
}

static void test_redirect_refused(void)
{
	struct rm_sts_policy p;
	char why[400] = "",
	     *d = g_build_filename(good.root, "mta-sts.redir.test", NULL);
	char *f = g_build_filename(d, "redirect", NULL);

	g_assert_cmpint(g_mkdir_with_parents(d, 0700), ==, 0);
	g_assert_true(g_file_set_contents(
		f, "https://mta-sts.good.test/.well-known/mta-sts.txt", -1,
		NULL));
	sts_policy_put(&good, "mta-sts.good.test", policy_enforce, -1);
	g_assert_cmpint(
		rm_mta_sts_get_why("redir.test", &p, why, sizeof(why), NULL),
		==, -1);
	g_test_message("%s", why);
	g_assert_nonnull(strstr(why, "301"));
	g_assert_cmpint(sts_server_requests(&good, "mta-sts.redir.test"), ==,
			1);
	/* a failed fetch is held back: no second request for a while */
	g_assert_cmpint(rm_mta_sts_get("redir.test", &p), ==, -1);
	g_assert_cmpint(sts_server_requests(&good, "mta-sts.redir.test"), ==,
			1);
	g_free(d);
	g_free(f);
}

static void test_too_big_refused(void)
{
	struct rm_sts_policy p;
	char why[400] = "";
	size_t n = RM_STS_BODY_MAX + 4096;
	char *big = g_malloc(n);

	/* a valid policy padded with blank lines past 64 KiB */
	memset(big, '\n', n);
	memcpy(big, policy_enforce, strlen(policy_enforce));
	sts_policy_put(&good, "mta-sts.big.test", big, (gssize)n);
	g_assert_cmpint(
		rm_mta_sts_get_why("big.test", &p, why, sizeof(why), NULL), ==,
		-1);
	g_test_message("%s", why);
	g_assert_nonnull(strstr(why, "larger than"));
	/* the same padded to just 64 KiB is a policy */
	sts_policy_put(&good, "mta-sts.big.test", big, RM_STS_BODY_MAX);
	rm_mta_sts_forget_failures();
	g_assert_cmpint(
		rm_mta_sts_get_why("big.test", &p, why, sizeof(why), NULL), ==,
		0);
	g_free(big);
	g_assert_cmpint(rm_sts_cache_remove(sts_dir, "big.test"), ==, 0);
}

static void test_no_policy(void)
{
	struct rm_sts_policy p;
	int64_t now = (int64_t)time(NULL);

	g_assert_cmpint(rm_mta_sts_get("none.test", &p), ==, 1);
	g_assert_cmpint(rm_mta_sts_get("nowhere.test", &p), ==, 1);
	/* two STS records: none (§3.1) */
	g_assert_cmpint(rm_mta_sts_get("two.test", &p), ==, 1);
	g_assert_cmpint(rm_mta_sts_get("[192.0.2.1]", &p), ==, 1);
	/* DNS failing and nothing cached: temporary */
	g_assert_cmpint(rm_mta_sts_get("temp.test", &p), ==, -1);
	/* a cached policy outlives its TXT record (§5.1) */
	g_assert_cmpint(rm_sts_cache_store(sts_dir, "none.test", "7", now,
					   policy_enforce,
					   strlen(policy_enforce)),
			==, 0);
	g_assert_cmpint(rm_mta_sts_get("none.test", &p), ==, 0);
	g_assert_cmpstr(p.id, ==, "7");
	g_assert_cmpint(rm_sts_cache_remove(sts_dir, "none.test"), ==, 0);
}

static void test_background_refresh(void)
{
	struct rm_sts_policy p;
	int64_t now = (int64_t)time(NULL);
	int before;

	sts_policy_put(&good, "mta-sts.good.test", policy_enforce, -1);
	/* past half its max_age: refreshed; a fresh one is left alone */
	g_assert_cmpint(rm_sts_cache_store(sts_dir, "good.test", "1",
					   now - 50000, policy_enforce,
					   strlen(policy_enforce)),
			==, 0);
	before = sts_server_requests(&good, "mta-sts.good.test");
	rm_mta_sts_refresh_all();
	g_assert_cmpint(sts_server_requests(&good, "mta-sts.good.test"), ==,
			before + 1);
	g_assert_cmpint(rm_sts_cache_load(sts_dir, "good.test", &p, NULL), ==,
			0);
	g_assert_cmpint(p.fetched, >=, now);
	rm_mta_sts_refresh_all();
	g_assert_cmpint(sts_server_requests(&good, "mta-sts.good.test"), ==,
			before + 1);
}

static void test_post(void)
{
	static const unsigned char body[] = {0x1f, 0x8b, 0x08, 0, 1, 2, 3};
	struct rm_https_req rq = {0};
	struct rm_https_resp resp;
	const char *const ct[] = {conf->mta_sts.connect_to.v[1]};
	char why[400] = "", *got = NULL, *type = NULL;
	char *bin = g_build_filename(good.root, "posts", "0.bin", NULL);
	char *tf = g_build_filename(good.root, "posts", "0.type", NULL);
	gsize n = 0;

	rq.url = "https://tlsrpt.good.test/v1/report";
	rq.ca_file = conf->mta_sts.ca_file;
	rq.connect_to = ct;
	rq.nconnect_to = 1;
	rq.body = body;
	rq.body_len = sizeof(body);
	rq.content_type = "application/tlsrpt+gzip";
	rq.max_response = 4096;
	rq.timeout_ms = 10000;
	g_assert_cmpint(rm_https_request(&rq, &resp, why, sizeof(why)), ==, 0);
	g_assert_cmpint(resp.status, ==, 201);
	rm_https_resp_free(&resp);
	g_assert_true(g_file_get_contents(bin, &got, &n, NULL));
	g_assert_cmpmem(got, n, body, sizeof(body));
	g_assert_true(g_file_get_contents(tf, &type, NULL, NULL));
	g_assert_cmpstr(type, ==, "application/tlsrpt+gzip");
	/* not https: refused before any connection */
	rq.url = "http://tlsrpt.good.test/v1/report";
	g_assert_cmpint(rm_https_request(&rq, &resp, why, sizeof(why)), ==, -1);
	g_free(got);
	g_free(type);
	g_free(bin);
	g_free(tf);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	setup_all();
	g_test_add_func("/mta_sts/fetch/good_cached_idchange",
			test_good_cached_idchange);
	g_test_add_func("/mta_sts/fetch/wrong_cert_keeps_cache",
			test_wrong_cert_keeps_cache);
	g_test_add_func("/mta_sts/fetch/redirect_refused",
			test_redirect_refused);
	g_test_add_func("/mta_sts/fetch/too_big_refused", test_too_big_refused);
	g_test_add_func("/mta_sts/fetch/no_policy", test_no_policy);
	g_test_add_func("/mta_sts/fetch/background_refresh",
			test_background_refresh);
	g_test_add_func("/mta_sts/fetch/post", test_post);
	rc = g_test_run();
	teardown_all();
	return rc;
}
