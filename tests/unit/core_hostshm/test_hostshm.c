/* Per-host limits live in one shared table: processes forked after
 * rm_hostshm_init() count against the same budgets, caps and rates,
 * IPv6 counts per /64, and a process killed while it holds the table's
 * lock (mid-update, through the test hook) leaves it usable. */
#include <glib.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/auth_budget.h"
#include "hostshm.h"
#include "net/conn_int.h"
#include "rm.h"

/* run fn(arg) in a child process; its exit status */
static int in_child(int (*fn)(int), int arg)
{
	pid_t pid = fork();
	int st = 0;

	g_assert_cmpint(pid, >=, 0);
	if (pid == 0)
		_exit(fn(arg));
	g_assert_cmpint(waitpid(pid, &st, 0), ==, pid);
	return st;
}

static int fail_logins(int n)
{
	struct auth_keys k;
	bool acct;
	char user[32];

	for (int i = 0; i < n; i++) {
		snprintf(user, sizeof(user), "u%d-%d", (int)getpid(), i);
		rm_auth_keys(user, "192.0.2.7", &k);
		if (rm_auth_budget_take(&k, &acct) < 0)
			return 1;
	}
	return 0;
}

static int rate_hits(int n)
{
	int ok = 0;

	for (int i = 0; i < n; i++)
		ok += rm_rate_hit("test_msgs", "alice@example.org", 10, 3600,
				  NULL);
	return ok;
}

static int take_conns(int col)
{
	rm_hostshm_set_proc((unsigned)col);
	for (int i = 0; i < 20; i++)
		if (!rm_ip_acquire("198.51.100.9"))
			return 1;
	/* exits holding them, like a worker that dies */
	return 0;
}

static void test_shared_by_processes(void)
{
	int st;

	g_assert_cmpint(rm_hostshm_init(), ==, 0);
	rm_auth_budget_reset("");
	/* login failures from two processes add up */
	st = in_child(fail_logins, 6);
	g_assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	st = in_child(fail_logins, 5);
	g_assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	g_assert_cmpuint(rm_auth_budget_ip_count("192.0.2.7"), ==, 11);

	/* one rate limit of 10 for the host: 7 + 7 hits, 10 pass */
	st = in_child(rate_hits, 7);
	g_assert_cmpint(WEXITSTATUS(st), ==, 7);
	st = in_child(rate_hits, 7);
	g_assert_cmpint(WEXITSTATUS(st), ==, 3);
	g_assert_cmpuint(rm_rate_count("test_msgs", "alice@example.org", 3600),
			 ==, 10);

	/* a worker's connections fill the per-IP cap (20) for the host */
	st = in_child(take_conns, 3);
	g_assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	g_assert_cmpuint(rm_ip_count("198.51.100.9"), ==, 20);
	g_assert_false(rm_ip_acquire("198.51.100.9"));
	/* the supervisor drops a dead worker's counts */
	rm_hostshm_proc_gone(3);
	g_assert_cmpuint(rm_ip_count("198.51.100.9"), ==, 0);
	g_assert_true(rm_ip_acquire("198.51.100.9"));
	rm_ip_release("198.51.100.9");
	g_assert_cmpuint(rm_ip_count("198.51.100.9"), ==, 0);
}

static int v6_conns(int n)
{
	char ip[64];

	/* every address differs, all in 2001:db8:1:2::/64 */
	for (int i = 0; i < n; i++) {
		snprintf(ip, sizeof(ip), "2001:db8:1:2:%x::%x", i, i + 1);
		if (!rm_ip_acquire(ip))
			return 1;
	}
	return 0;
}

static void test_ipv6_per_64(void)
{
	struct auth_keys a, b, c;
	int st;

	rm_auth_keys("x", "2001:db8:1:2::1", &a);
	rm_auth_keys("x", "2001:db8:1:2:ffff::9", &b);
	rm_auth_keys("x", "2001:db8:1:3::1", &c);
	g_assert_true(a.ip == b.ip);
	g_assert_true(a.ip != c.ip);
	st = in_child(v6_conns, 20);
	g_assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	g_assert_false(rm_ip_acquire("2001:db8:1:2::abcd"));
	g_assert_true(rm_ip_acquire("2001:db8:1:3::abcd"));
	rm_ip_release("2001:db8:1:3::abcd");
	rm_hostshm_proc_gone(0);
	/* rate keys that are IPv6 addresses too */
	g_assert_cmpint(rm_rate_hit("v6", "2001:db8:9:9::1", 1, 60, NULL), ==,
			1);
	g_assert_cmpint(rm_rate_hit("v6", "2001:db8:9:9::2", 1, 60, NULL), ==,
			0);
	g_assert_cmpint(rm_rate_hit("v6", "2001:db8:9:8::2", 1, 60, NULL), ==,
			1);
}

static const char *kill_at;

static void kill_hook(const char *where)
{
	if (kill_at != NULL && strcmp(where, kill_at) == 0)
		raise(SIGKILL);
}

static int die_in_take(int unused)
{
	struct auth_keys k;
	bool acct;

	(void)unused;
	kill_at = "auth_budget_take";
	rm_hostshm_test_hook = kill_hook;
	rm_auth_keys("victim", "203.0.113.5", &k);
	rm_auth_budget_take(&k, &acct);
	return 0; /* not reached */
}

static int die_in_cache_put(int unused)
{
	(void)unused;
	kill_at = "auth_cache_put";
	rm_hostshm_test_hook = kill_hook;
	rm_auth_cache_put("carol", "pw2", 7, 60);
	return 0;
}

static int die_in_acquire(int unused)
{
	(void)unused;
	kill_at = "ip_acquire";
	rm_hostshm_test_hook = kill_hook;
	rm_ip_acquire("203.0.113.77");
	return 0;
}

static void alarm_fail(int sig)
{
	(void)sig;
	/* a lock a dead process held: every later locker would hang */
	_exit(99);
}

static void test_killed_mid_update(void)
{
	struct auth_keys k;
	uint64_t before = rm_hostshm_recoveries(), gen = 0;
	char *metrics;
	bool acct;
	int st;

	signal(SIGALRM, alarm_fail);
	rm_auth_budget_reset("");
	rm_auth_cache_put("carol", "pw1", 3, 60);
	g_assert_cmpint(rm_auth_cache_get("carol", "pw1", &gen), ==, 1);

	st = in_child(die_in_take, 0);
	g_assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	alarm(10);
	/* the next locker recovers: the dead update counted the IP */
	g_assert_cmpuint(rm_auth_budget_ip_count("203.0.113.5"), ==, 1);
	g_assert_cmpuint(rm_hostshm_recoveries(), ==, before + 1);
	rm_auth_keys("victim", "203.0.113.5", &k);
	g_assert_cmpint(rm_auth_budget_take(&k, &acct), ==, 0);
	g_assert_cmpuint(rm_auth_budget_ip_count("203.0.113.5"), ==, 2);
	/* the recovery dropped the auth cache: a miss, never a wrong hit */
	g_assert_cmpint(rm_auth_cache_get("carol", "pw1", &gen), ==, 0);

	st = in_child(die_in_cache_put, 0);
	g_assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	g_assert_cmpint(rm_auth_cache_get("carol", "pw2", &gen), ==, 0);
	g_assert_cmpuint(rm_hostshm_recoveries(), ==, before + 2);
	rm_auth_cache_put("carol", "pw2", 8, 60);
	g_assert_cmpint(rm_auth_cache_get("carol", "pw2", &gen), ==, 1);
	g_assert_cmpuint(gen, ==, 8);

	st = in_child(die_in_acquire, 0);
	g_assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	g_assert_cmpuint(rm_ip_count("203.0.113.77"), ==, 1);
	g_assert_cmpuint(rm_hostshm_recoveries(), ==, before + 3);
	rm_hostshm_proc_gone(0);
	g_assert_cmpuint(rm_ip_count("203.0.113.77"), ==, 0);
	alarm(0);
	/* the process that recovered counted it */
	metrics = rm_metrics_render();
	g_assert_nonnull(strstr(metrics, "rmail_hostshm_recoveries_total 3"));
	free(metrics);
}

static int hammer(int n)
{
	for (int i = 0; i < n; i++)
		rm_rate_hit("hammer", "k", 1000000, 3600, NULL);
	return 0;
}

/* no update is lost when processes contend for the lock */
static void test_contention(void)
{
	pid_t kids[3];
	int st;

	for (int i = 0; i < 3; i++) {
		kids[i] = fork();
		g_assert_cmpint(kids[i], >=, 0);
		if (kids[i] == 0)
			_exit(hammer(3000));
	}
	hammer(3000);
	for (int i = 0; i < 3; i++) {
		g_assert_cmpint(waitpid(kids[i], &st, 0), ==, kids[i]);
		g_assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	g_assert_cmpuint(rm_rate_count("hammer", "k", 3600), ==, 12000);
}

int main(int argc, char **argv)
{
	static struct rm_config conf;

	/* the defaults that matter here, and the auth cache on */
	conf.limits.max_connections_per_ip = 20;
	conf.limits.auth_ipv6_prefix = 64;
	conf.limits.auth_cache_ttl = 60;
	rm_conf_set(&conf);
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/hostshm/shared_by_processes",
			test_shared_by_processes);
	g_test_add_func("/hostshm/ipv6_per_64", test_ipv6_per_64);
	g_test_add_func("/hostshm/killed_mid_update", test_killed_mid_update);
	g_test_add_func("/hostshm/contention", test_contention);
	return g_test_run();
}
