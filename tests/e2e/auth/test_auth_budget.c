/*
 * The core's login failure budget and auth cache, end to end: one
 * daemon with IMAP, SMTP submission and the HTTP API, so a failure on
 * one protocol is seen by the others.  127.0.0.1 and 127.0.0.2 (and .3)
 * are different client addresses on Linux loopback.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "exhc.h"
#include "harness.h"

#define DOM "example.test"
#define ALICE "alice@" DOM
#define BOB "bob@" DOM
#define PW "right-pw"

struct d {
	struct rmh *h;
	guint imap, sub, api;
};

static void add_user(struct d *d, const char *addr, const char *pw)
{
	const char *argv[] = {"rmail", "-c", rmh_config_path(d->h), "user",
			      "add",   addr, "--password-stdin",    NULL};
	char *in = g_strdup_printf("%s\n", pw), *out = NULL, *err = NULL;
	int rc = rmh_run_argv(d->h, argv, in, &out, &err);

	if (rc != 0)
		g_test_message("user add %s: %s", addr, err);
	g_assert_cmpint(rc, ==, 0);
	g_free(in);
	g_free(out);
	g_free(err);
}

static struct d *start(const char *limits)
{
	struct d *d = g_new0(struct d, 1);

	d->h = rmh_new();
	d->imap = rmh_port(d->h, "imap");
	d->sub = rmh_port(d->h, "submission");
	d->api = rmh_port(d->h, "api");
	rmh_set(d->h, "modules",
		"[\"mod_shardstore\", \"mod_imap\", \"mod_smtp\", "
		"\"mod_exchange\"]");
	rmh_setf(d->h, "imap",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"imaps_listen\": [], "
		 "\"allow_cleartext_login_loopback\": true}",
		 d->imap);
	/* no default ports (993, 465, 9003): another test may hold them */
	rmh_setf(d->h, "smtp",
		 "{\"listen\": [], \"smtps_listen\": [], "
		 "\"submission_listen\": [\"127.0.0.1:%u\"]}",
		 d->sub);
	rmh_setf(d->h, "exchange_api",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"tls_listen\": []}",
		 d->api);
	rmh_set(d->h, "limits", limits);
	rmh_write_config(d->h);
	add_user(d, ALICE, PW);
	add_user(d, BOB, PW);
	g_assert_true(rmh_start(d->h));
	return d;
}

static void stop(struct d *d)
{
	g_assert_cmpint(rmh_stop(d->h), ==, 0);
	rmh_free(d->h);
	g_free(d);
}

static int log_count(struct d *d, const char *needle)
{
	char *log = rmh_stderr(d->h), *p = log;
	int n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	g_free(log);
	return n;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- IMAP --------------------------------------------------------- */

static struct rmh_conn *imap_open(struct d *d, const char *src)
{
	struct rmh_conn *c = rmh_connect_from(d->imap, false, src);
	char *g;

	g_assert_nonnull(c);
	g = rmh_readline(c, 10);
	g_assert_nonnull(g);
	g_assert_true(g_str_has_prefix(g, "* OK"));
	g_free(g);
	return c;
}

/* the tagged answer to "a LOGIN user pw" on c (free it) */
static char *imap_answer(struct rmh_conn *c)
{
	char *l;

	while ((l = rmh_readline(c, 15)) != NULL) {
		if (g_str_has_prefix(l, "a "))
			return l;
		g_free(l);
	}
	return g_strdup("(EOF)");
}

static char *imap_login(struct d *d, const char *src, const char *user,
			const char *pw)
{
	struct rmh_conn *c = imap_open(d, src);
	char *r;

	g_assert_true(rmh_send(c, "a LOGIN \"%s\" \"%s\"", user, pw));
	r = imap_answer(c);
	rmh_conn_close(c);
	g_test_message("IMAP LOGIN %s from %s: %s", user,
		       src != NULL ? src : "127.0.0.1", r);
	return r;
}

static void imap_expect(struct d *d, const char *src, const char *user,
			const char *pw, const char *want)
{
	char *r = imap_login(d, src, user, pw);

	if (!g_str_has_prefix(r, want))
		g_error("LOGIN %s/%s from %s: expected \"%s\", got \"%s\"",
			user, pw, src != NULL ? src : "127.0.0.1", want, r);
	g_free(r);
}

#define NPAR 10
#define IP_LIMIT 4

/* Parallel connections from one address cannot get more password
 * checks than the budget: the rest are refused before any check. */
static void test_imap_parallel_ip_budget(void)
{
	struct d *d = start("{\"auth_fail_limit\": 4, "
			    "\"auth_fail_account_limit\": 1000}");
	struct rmh_conn *c[NPAR];
	int failed = 0, refused = 0;

	for (int i = 0; i < NPAR; i++)
		c[i] = imap_open(d, NULL);
	/* every guess names another user: only the per-IP budget counts */
	for (int i = 0; i < NPAR; i++)
		g_assert_true(
			rmh_send(c[i], "a LOGIN guess%d@" DOM " wrong", i));
	for (int i = 0; i < NPAR; i++) {
		char *r = imap_answer(c[i]);

		g_test_message("parallel %d: %s", i, r);
		if (g_str_has_prefix(r, "a NO [AUTHENTICATIONFAILED]"))
			failed++;
		else if (g_str_has_prefix(r, "a NO [UNAVAILABLE]"))
			refused++;
		g_free(r);
		rmh_conn_close(c[i]);
	}
	g_assert_cmpint(failed, ==, IP_LIMIT);
	g_assert_cmpint(refused, ==, NPAR - IP_LIMIT);
	/* over the budget even the right password is never tried */
	imap_expect(d, NULL, ALICE, PW, "a NO [UNAVAILABLE]");
	g_assert_cmpint(log_count(d, "reason=bad_credentials"), ==, IP_LIMIT);
	g_assert_cmpint(log_count(d, "proto=imap user=" ALICE
				     " rip=127.0.0.1 reason=rate_limited"),
			==, 1);
	/* another address has its own budget */
	imap_expect(d, "127.0.0.2", ALICE, PW, "a OK");
	stop(d);
}

/* A stranger's failures lock the account for strangers only: the owner,
 * from an address that logged in before, still gets in. */
static void test_owner_not_locked_out(void)
{
	struct d *d = start("{\"auth_fail_limit\": 100, "
			    "\"auth_fail_account_limit\": 3}");

	imap_expect(d, "127.0.0.2", ALICE, PW, "a OK");
	for (int i = 0; i < 3; i++)
		imap_expect(d, NULL, ALICE, "guess",
			    "a NO [AUTHENTICATIONFAILED]");
	/* the account is over its budget for addresses it does not know */
	imap_expect(d, NULL, ALICE, PW, "a NO [UNAVAILABLE]");
	imap_expect(d, "127.0.0.3", ALICE, PW, "a NO [UNAVAILABLE]");
	/* other accounts are not */
	imap_expect(d, NULL, BOB, PW, "a OK");
	/* the owner's address is */
	imap_expect(d, "127.0.0.2", ALICE, PW, "a OK");
	/* and the owner's typos are still checked, not refused */
	imap_expect(d, "127.0.0.2", ALICE, "typo",
		    "a NO [AUTHENTICATIONFAILED]");
	imap_expect(d, "127.0.0.2", ALICE, PW, "a OK");
	stop(d);
}

/* ---- SMTP --------------------------------------------------------- */

static char *smtp_line(struct rmh_conn *c)
{
	char *l;

	/* the last line of a multi-line reply */
	while ((l = rmh_readline(c, 15)) != NULL) {
		if (strlen(l) < 4 || l[3] != '-')
			return l;
		g_free(l);
	}
	return g_strdup("(EOF)");
}

static void smtp_cmd(struct rmh_conn *c, const char *line, const char *want)
{
	char *l;

	g_assert_true(rmh_send(c, "%s", line));
	l = smtp_line(c);
	if (!g_str_has_prefix(l, want))
		g_error("%s: expected \"%s\", got \"%s\"", line, want, l);
	g_free(l);
}

static void smtp_auth(struct d *d, const char *user, const char *pw,
		      const char *want)
{
	struct rmh_conn *c = rmh_connect(d->sub, false);
	GString *s = g_string_new(NULL);
	char *b, *line, *l;

	g_assert_nonnull(c);
	l = smtp_line(c);
	g_assert_true(g_str_has_prefix(l, "220 "));
	g_free(l);
	smtp_cmd(c, "EHLO client.test", "250 ");
	smtp_cmd(c, "STARTTLS", "220 ");
	g_assert_true(rmh_conn_starttls(c));
	smtp_cmd(c, "EHLO client.test", "250 ");
	g_string_append_c(s, '\0');
	g_string_append(s, user);
	g_string_append_c(s, '\0');
	g_string_append(s, pw);
	b = g_base64_encode((const guchar *)s->str, s->len);
	line = g_strdup_printf("AUTH PLAIN %s", b);
	smtp_cmd(c, line, want);
	g_free(line);
	g_free(b);
	g_string_free(s, TRUE);
	rmh_conn_close(c);
}

/* One budget: failures over IMAP close SMTP AUTH and the API login. */
static void test_budget_shared_by_protocols(void)
{
	struct d *d = start("{\"auth_fail_limit\": 3, "
			    "\"auth_fail_account_limit\": 1000}");
	char *tok;
	int st = 0;

	for (int i = 0; i < 3; i++)
		imap_expect(d, NULL, BOB, "guess",
			    "a NO [AUTHENTICATIONFAILED]");
	smtp_auth(d, BOB, PW, "454 4.7.0");
	g_assert_true(rmh_wait_log(d->h,
				   "proto=smtp user=" BOB
				   " rip=127.0.0.1 reason=rate_limited",
				   5));
	tok = ex_login(d->api, false, NULL, BOB, PW, NULL, &st);
	g_assert_cmpint(st, ==, 429);
	g_assert_null(tok);
	g_assert_true(rmh_wait_log(d->h,
				   "proto=http user=" BOB
				   " rip=127.0.0.1 reason=rate_limited",
				   5));
	/* the budget is per address */
	tok = ex_login(d->api, false, "127.0.0.2", BOB, PW, NULL, &st);
	g_assert_cmpint(st, ==, 200);
	g_free(tok);
	g_assert_cmpint(log_count(d, "reason=bad_credentials"), ==, 3);
	stop(d);
}

/* ---- the auth cache ----------------------------------------------- */

static double timed_login(struct rmh_conn *c, const char *user, const char *pw,
			  const char *want)
{
	double t0 = now(), dt;
	char *r;

	g_assert_true(rmh_send(c, "a LOGIN \"%s\" \"%s\"", user, pw));
	r = imap_answer(c);
	dt = now() - t0;
	if (!g_str_has_prefix(r, want))
		g_error("LOGIN %s: expected \"%s\", got \"%s\"", user, want, r);
	g_free(r);
	return dt;
}

static double login_time(struct d *d, const char *user, const char *pw,
			 const char *want)
{
	struct rmh_conn *c = imap_open(d, NULL);
	double dt = timed_login(c, user, pw, want);

	rmh_conn_close(c);
	return dt;
}

static void cli(struct d *d, const char *input, ...) G_GNUC_NULL_TERMINATED;
static void cli(struct d *d, const char *input, ...)
{
	const char *argv[16] = {"rmail", "-c", rmh_config_path(d->h)};
	char *out = NULL, *err = NULL;
	va_list ap;
	int n = 3, rc;

	va_start(ap, input);
	while (n < 15 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	rc = rmh_run_argv(d->h, argv, input, &out, &err);
	if (rc != 0)
		g_test_message("%s %s: %s", argv[3], argv[4], err);
	g_assert_cmpint(rc, ==, 0);
	g_free(out);
	g_free(err);
}

/* A valid login repeated within the TTL skips the password hash; a
 * change made by another process (the CLI) takes effect at once. */
static void test_cache_fast_and_invalidated(void)
{
	struct d *d = start("{\"auth_cache_ttl\": \"60s\"}");
	double first, best = 1e9;

	first = login_time(d, ALICE, PW, "a OK");
	for (int i = 0; i < 5; i++) {
		double t = login_time(d, ALICE, PW, "a OK");

		if (t < best)
			best = t;
	}
	g_test_message("first login %.2f ms, cached best %.2f ms", first * 1e3,
		       best * 1e3);
	g_assert_cmpfloat(best, <, first / 3);
	/* failures are never cached: a wrong password is checked.  Each
	 * refusal comes from its own address, so the failure delay that
	 * grows per address does not slow the test down. */
	imap_expect(d, "127.0.0.11", ALICE, "wrong",
		    "a NO [AUTHENTICATIONFAILED]");
	cli(d, "new-pw\n", "user", "passwd", ALICE, "--password-stdin", NULL);
	imap_expect(d, "127.0.0.12", ALICE, PW, "a NO [AUTHENTICATIONFAILED]");
	imap_expect(d, NULL, ALICE, "new-pw", "a OK");
	imap_expect(d, NULL, ALICE, "new-pw", "a OK");
	/* disabled from the CLI: the cached entry is not used */
	cli(d, NULL, "user", "set", ALICE, "--disabled", "yes", NULL);
	imap_expect(d, "127.0.0.13", ALICE, "new-pw", "a NO");
	cli(d, NULL, "user", "set", ALICE, "--disabled", "no", NULL);
	imap_expect(d, NULL, ALICE, "new-pw", "a OK");
	/* deleted and made again with another password */
	cli(d, NULL, "user", "del", ALICE, NULL);
	imap_expect(d, "127.0.0.14", ALICE, "new-pw", "a NO");
	add_user(d, ALICE, "third-pw");
	imap_expect(d, "127.0.0.15", ALICE, "new-pw", "a NO");
	imap_expect(d, NULL, ALICE, "third-pw", "a OK");
	stop(d);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/auth_budget/imap_parallel_ip",
			test_imap_parallel_ip_budget);
	g_test_add_func("/auth_budget/owner_not_locked_out",
			test_owner_not_locked_out);
	g_test_add_func("/auth_budget/shared_by_protocols",
			test_budget_shared_by_protocols);
	g_test_add_func("/auth_budget/cache", test_cache_fast_and_invalidated);
	return g_test_run();
}
