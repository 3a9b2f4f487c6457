/*
 * mod_exchange with processes: 2.  The API's login lockout is per host:
 * failures counted in either worker lock the (address, account) out in
 * both, `rmail ctl exchange lockout-list` shows it whichever worker
 * counted it, and `exchange lockout-reset ADDRESS` frees it in both,
 * also after the workers that counted it were killed and restarted
 * (the counts live in the host's shared table, which outlives them).
 */
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exhc.h"
#include "harness.h"

#define DOM "example.test"
#define BOB "bob@" DOM
#define PW "secret-pw"
#define LOCK_N 3
#define CLIENT "192.0.2.70"

static struct rmh *H;
static unsigned TPORT;

static int login_st(const char *fwd, const char *pw)
{
	char *x = g_strdup_printf("X-Forwarded-For: %s\r\n", fwd), *t;
	int st;

	t = ex_login(TPORT, true, NULL, BOB, pw, x, &st);
	g_free(t);
	g_free(x);
	return st;
}

static char *ctl(const char *const *words)
{
	const char *argv[10] = {"rmail", "-c", rmh_config_path(H), "ctl"};
	char *out = NULL, *err = NULL;
	int n = 4, rc;

	while (*words != NULL && n < 9)
		argv[n++] = *words++;
	argv[n] = NULL;
	rc = rmh_run_argv(H, argv, NULL, &out, &err);
	if (rc != 0)
		g_test_message("rmail ctl: rc %d: %s %s", rc, out, err);
	g_assert_cmpint(rc, ==, 0);
	g_free(err);
	return out;
}

/* both workers' pids once both are ready, else false */
static bool worker_pids(long pids[2])
{
	static const char *const st[] = {"status", NULL};
	char *out = ctl(st);
	bool ok = true;

	for (int i = 0; i < 2; i++) {
		char key[32];
		const char *p, *end;

		snprintf(key, sizeof(key), "worker %d pid ", i);
		p = strstr(out, key);
		if (p == NULL) {
			ok = false;
			continue;
		}
		end = strchr(p, '\n');
		pids[i] = strtol(p + strlen(key), NULL, 10);
		p = strstr(p, " ready ");
		if (p == NULL || (end != NULL && p > end) || pids[i] <= 0)
			ok = false;
	}
	g_free(out);
	return ok;
}

static void test_lockout_host_wide(void)
{
	static const char *const list[] = {"exchange", "lockout-list", NULL};
	static const char *const reset[] = {"exchange", "lockout-reset", CLIENT,
					    NULL};
	long pids[2], now[2];
	char *out;
	int i;

	/* one connection each: the workers share the accepting */
	for (i = 0; i < LOCK_N; i++)
		g_assert_cmpint(login_st(CLIENT, "wrong"), ==, 401);
	for (i = 0; i < 4; i++)
		g_assert_cmpint(login_st(CLIENT, PW), ==, 429);
	out = ctl(list);
	g_test_message("lockout-list: %s", out);
	g_assert_nonnull(strstr(out, CLIENT " " BOB));
	g_free(out);

	/* the workers that counted go; the host's table stays */
	g_assert_true(worker_pids(pids));
	for (i = 0; i < 2; i++)
		g_assert_cmpint(kill((pid_t)pids[i], SIGKILL), ==, 0);
	for (i = 0; i < 500; i++) {
		if (worker_pids(now) && now[0] != pids[0] && now[1] != pids[1])
			break;
		g_usleep(20000);
	}
	g_assert_cmpint(now[0], !=, pids[0]);
	g_assert_cmpint(now[1], !=, pids[1]);
	g_assert_cmpint(login_st(CLIENT, PW), ==, 429);
	out = ctl(list);
	g_assert_nonnull(strstr(out, CLIENT " " BOB));
	g_free(out);

	out = ctl(reset);
	g_test_message("lockout-reset: %s", out);
	g_assert_nonnull(
		strstr(out, "lockout reset: 1 account key(s) for " CLIENT));
	g_free(out);
	for (i = 0; i < 4; i++)
		g_assert_cmpint(login_st(CLIENT, PW), ==, 200);
	out = ctl(list);
	g_assert_null(strstr(out, CLIENT " " BOB));
	g_free(out);
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
	TPORT = rmh_port(H, "https");
	rmh_set(H, "processes", "2");
	rmh_set(H, "modules", "[\"mod_shardstore\", \"mod_exchange\"]");
	rmh_setf(H, "exchange_api",
		 "{\"listen\": [], \"tls_listen\": [\"127.0.0.1:%u\"], "
		 "\"trusted_proxies\": [\"127.0.0.1\"], "
		 "\"lockout\": {\"account_ip\": %d, \"ip\": 100}}",
		 TPORT, LOCK_N);
	rmh_write_config(H);
	add[2] = rmh_config_path(H);
	rc = rmh_run_argv(H, add, PW "\n", &out, &err);
	if (rc != 0)
		g_test_message("user add: %s", err);
	g_assert_cmpint(rc, ==, 0);
	g_free(out);
	g_free(err);
	g_assert_true(rmh_start(H));
	g_test_add_func("/exchange/procs/lockout-host-wide",
			test_lockout_host_wide);
	rc = g_test_run();
	if (rc != 0 || g_getenv("RMH_SHOW") != NULL)
		g_test_message("daemon stderr:\n%s", rmh_stderr(H));
	g_assert_cmpint(rmh_stop(H), ==, 0);
	rmh_free(H);
	return rc;
}
