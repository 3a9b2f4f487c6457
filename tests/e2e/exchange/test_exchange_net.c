/*
 * mod_exchange end to end, the network paths: the TLS listener with a
 * real TLS client, X-Forwarded-For from trusted and untrusted peers,
 * the cleartext-login refusal for remote clients, the lockout keyed on
 * the forwarded address, and `rmail ctl exchange lockout-reset`.
 * 127.0.0.1 is the trusted proxy; 127.0.0.2 is a loopback peer that
 * is not one.
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exhc.h"
#include "harness.h"

#define DOM "example.test"
#define BOB "bob@" DOM
#define PW "secret-pw"
#define LOCK_N 3

static struct rmh *H;
static unsigned PORT, TPORT;

static void write_conf(bool allow_remote)
{
	rmh_setf(H, "exchange_api",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"tls_listen\": [\"127.0.0.1:%u\"], "
		 "\"trusted_proxies\": [\"127.0.0.1\"], "
		 "\"allow_remote_cleartext_login\": %s, "
		 "\"lockout\": {\"account_ip\": %d, \"ip\": 100}}",
		 PORT, TPORT, allow_remote ? "true" : "false", LOCK_N);
	rmh_write_config(H);
}

static char *xff(const char *ip)
{
	return g_strdup_printf("X-Forwarded-For: %s\r\n", ip);
}

static int login_st(bool tls, const char *src, const char *fwd, const char *pw)
{
	char *x = fwd ? xff(fwd) : NULL, *t;
	int st;

	t = ex_login(tls ? TPORT : PORT, tls, src, BOB, pw, x, &st);
	g_free(t);
	g_free(x);
	return st;
}

/* LOCK_N failures at once (the core delays each failed answer) */
static void fail_logins(bool tls, const char *src, const char *fwd)
{
	struct exhc *c[LOCK_N];
	struct exresp r;
	char *req, *x = fwd ? xff(fwd) : g_strdup("");
	static const char body[] = "{\"username\":\"" BOB "\","
				   "\"password\":\"wrong\"}";
	int i;

	req = g_strdup_printf("POST /api/login HTTP/1.1\r\nHost: x\r\n%s"
			      "Content-Type: application/json\r\n"
			      "Content-Length: %zu\r\n\r\n%s",
			      x, sizeof(body) - 1, body);
	for (i = 0; i < LOCK_N; i++) {
		c[i] = exhc_connect(tls ? TPORT : PORT, tls, src);
		g_assert_true(exhc_send(c[i], req, strlen(req)));
	}
	for (i = 0; i < LOCK_N; i++) {
		g_assert_true(exhc_read(c[i], &r));
		g_assert_cmpint(r.status, ==, 401);
		exresp_free(&r);
		exhc_close(c[i]);
	}
	g_free(req);
	g_free(x);
}

static void test_tls(void)
{
	struct exhc *c = exhc_connect(TPORT, true, NULL);
	static const char body[] = "{\"username\":\"" BOB "\","
				   "\"password\":\"" PW "\"}";
	struct exresp r = exhc_req(c, "POST", "/api/login", NULL, NULL, body,
				   sizeof(body) - 1, NULL);
	json_t *j;
	char *tok;

	g_assert_cmpint(r.status, ==, 200);
	j = exresp_json(&r);
	tok = g_strdup(json_string_value(json_object_get(j, "token")));
	g_assert_nonnull(tok);
	json_decref(j);
	exresp_free(&r);
	/* same connection: keep-alive over TLS */
	r = exhc_req(c, "GET", "/api/folders", tok, NULL, NULL, 0, NULL);
	g_assert_cmpint(r.status, ==, 200);
	j = exresp_json(&r);
	g_assert_cmpuint(json_array_size(json_object_get(j, "folders")), >, 0);
	g_assert_nonnull(strstr(r.body, "\"name\":\"INBOX\""));
	json_decref(j);
	exresp_free(&r);
	r = exhc_req(c, "GET", "/api/folders", "bad", NULL, NULL, 0, NULL);
	g_assert_cmpint(r.status, ==, 401);
	exresp_free(&r);
	exhc_close(c);
	/* a remote client behind the proxy may log in over TLS */
	g_assert_cmpint(login_st(true, NULL, "192.0.2.7", PW), ==, 200);
	g_free(tok);
}

static void test_cleartext_remote(void)
{
	/* loopback, no proxy header: allowed */
	g_assert_cmpint(login_st(false, NULL, NULL, PW), ==, 200);
	/* the trusted proxy forwards a remote client: refused */
	g_assert_cmpint(login_st(false, NULL, "192.0.2.7", PW), ==, 403);
	g_assert_cmpint(login_st(false, NULL, "10.0.0.1, 192.0.2.7", PW), ==,
			403);
	/* a forwarded loopback client is still local */
	g_assert_cmpint(login_st(false, NULL, "127.0.0.1", PW), ==, 200);
	/* an untrusted peer's header is ignored: it is the loopback peer */
	g_assert_cmpint(login_st(false, "127.0.0.2", "192.0.2.7", PW), ==, 200);
}

static void test_untrusted_xff_ignored_by_lockout(void)
{
	char ip[32];
	int i;

	/* each failure claims another address; all count for 127.0.0.2 */
	for (i = 0; i < LOCK_N; i++) {
		snprintf(ip, sizeof(ip), "198.51.100.%d", i + 1);
		g_assert_cmpint(login_st(false, "127.0.0.2", ip, "wrong"), ==,
				401);
	}
	g_assert_cmpint(login_st(false, "127.0.0.2", "198.51.100.99", PW), ==,
			429);
	g_assert_cmpint(login_st(false, "127.0.0.2", NULL, PW), ==, 429);
	/* the owner elsewhere is not locked out */
	g_assert_cmpint(login_st(false, NULL, NULL, PW), ==, 200);
}

static void ctl(const char *const *words, int want_rc, char **out_r)
{
	const char *argv[10] = {"rmail", "-c", rmh_config_path(H), "ctl"};
	char *out = NULL, *err = NULL;
	int n = 4, rc;

	while (*words != NULL && n < 9)
		argv[n++] = *words++;
	argv[n] = NULL;
	rc = rmh_run_argv(H, argv, NULL, &out, &err);
	if (rc != want_rc)
		g_test_message("rmail ctl: rc %d: %s %s", rc, out, err);
	g_assert_cmpint(rc, ==, want_rc);
	if (out_r != NULL)
		*out_r = out;
	else
		g_free(out);
	g_free(err);
}

static void test_lockout_forwarded_and_reset(void)
{
	static const char *reset50[] = {"exchange", "lockout-reset",
					"192.0.2.50", NULL};
	static const char *reset_all[] = {"exchange", "lockout-reset", NULL};
	static const char *bogus[] = {"no-such-command", NULL};
	gint64 t0;
	char *out;

	/* behind the trusted proxy the lockout keys on the client */
	fail_logins(true, NULL, "192.0.2.50");
	t0 = g_get_monotonic_time();
	g_assert_cmpint(login_st(true, NULL, "192.0.2.50", PW), ==, 429);
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 2000000);
	g_assert_cmpint(login_st(true, NULL, "192.0.2.51", PW), ==, 200);
	g_assert_cmpint(login_st(true, NULL, NULL, PW), ==, 200);
	g_assert_cmpint(login_st(true, NULL, "192.0.2.50", PW), ==, 429);
	/* the administrator lifts it: the owner gets in at once */
	ctl(reset50, 0, &out);
	g_assert_nonnull(strstr(out, "192.0.2.50"));
	g_free(out);
	t0 = g_get_monotonic_time();
	g_assert_cmpint(login_st(true, NULL, "192.0.2.50", PW), ==, 200);
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 2000000);
	/* without an address every lockout goes */
	fail_logins(true, NULL, "192.0.2.60");
	g_assert_cmpint(login_st(true, NULL, "192.0.2.60", PW), ==, 429);
	ctl(reset_all, 0, NULL);
	g_assert_cmpint(login_st(true, NULL, "192.0.2.60", PW), ==, 200);
	/* the 127.0.0.2 lockout of the test before went with it */
	g_assert_cmpint(login_st(false, "127.0.0.2", NULL, PW), ==, 200);
	ctl(bogus, 1, NULL);
}

static void test_allow_remote_cleartext(void)
{
	char *out = NULL, *err = NULL;
	int rc;

	g_assert_cmpint(login_st(false, NULL, "192.0.2.8", PW), ==, 403);
	write_conf(true);
	rc = rmh_run(H, &out, &err, "reload", NULL);
	if (rc != 0)
		g_test_message("reload: %s %s", out, err);
	g_assert_cmpint(rc, ==, 0);
	g_free(out);
	g_free(err);
	g_assert_cmpint(login_st(false, NULL, "192.0.2.8", PW), ==, 200);
}

int main(int argc, char **argv)
{
	const char *add[] = {
		"rmail", "-c", NULL, "user", "add", BOB, "--password-stdin",
		NULL};
	char *out = NULL, *err = NULL;
	int rc;

	g_test_init(&argc, &argv, NULL);
	H = rmh_new();
	PORT = rmh_port(H, "http");
	TPORT = rmh_port(H, "https");
	rmh_set(H, "modules", "[\"mod_shardstore\", \"mod_exchange\"]");
	write_conf(false);
	add[2] = rmh_config_path(H);
	rc = rmh_run_argv(H, add, PW "\n", &out, &err);
	if (rc != 0)
		g_test_message("user add: %s", err);
	g_assert_cmpint(rc, ==, 0);
	g_free(out);
	g_free(err);
	g_assert_true(rmh_start(H));
	g_test_add_func("/exchange/net/tls", test_tls);
	g_test_add_func("/exchange/net/cleartext_remote",
			test_cleartext_remote);
	g_test_add_func("/exchange/net/untrusted_xff_ignored",
			test_untrusted_xff_ignored_by_lockout);
	g_test_add_func("/exchange/net/lockout_forwarded_reset",
			test_lockout_forwarded_and_reset);
	g_test_add_func("/exchange/net/allow_remote_cleartext",
			test_allow_remote_cleartext);
	rc = g_test_run();
	if (rc != 0 || g_getenv("RMH_SHOW") != NULL)
		g_test_message("daemon stderr:\n%s", rmh_stderr(H));
	g_assert_cmpint(rmh_stop(H), ==, 0);
	rmh_free(H);
	return rc;
}
