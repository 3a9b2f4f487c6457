/*
 * The core's resolver (core/dns) on the real loop and real libunbound,
 * forwarding to the test DNS server (tests/support/dnsd) on loopback:
 * every rcode, TXT joining, TC → TCP, timeouts, cancel, rm_dns_fill,
 * the worker bridge, and the start-up DNSSEC check against a server
 * that cannot sign (one error line, then queries still work).
 */
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dns/dns.h"
#include "dns/dns_rr.h"
#include "dnsd.h"
#include "rm.h"
#include "rmail/core.h"

#define TIMEOUT_MS 600

static struct rm_dnsd *dnsd;
static char fwd[64];

static const char zone[] =
	"# the resolver's test zone\n"
	"a.test A 192.0.2.1\n"
	"a.test AAAA 2001:db8::1\n"
	"mx.test MX 10 a.test\n"
	"mx.test MX 20 B.Test.\n"
	"null.test MX 0 .\n"
	"txt.test TXT \"v=spf1 \" \"ip4:192.0.2.0/24 \" \"-all\"\n"
	"txt.test TXT \"second record\"\n"
	"esc.test TXT \"a\\\"b\\\\c\\065\"\n"
	"nodata.test TXT NONE\n"
	"x.y.ent.test A 192.0.2.9\n"
	"slow.test TIMEOUT\n"
	"broken.test SERVFAIL\n"
	"alias.test CNAME a.test\n"
	"4.3.2.1.in-addr.arpa PTR mail.example.test.\n"
	"1.1.1.1.in-addr.arpa PTR ptr.example.test\n"
	"_25._tcp.a.test TLSA 3 1 1 0a0B0c\n"
	"per.test A 192.0.2.7\n"
	"per.test TXT TIMEOUT\n"
	"sp\\032a\\\"ce.test A 192.0.2.8\n"
	"5.2.0.192.in-addr.arpa PTR doc.test\n"
	"1.0.0.10.in-addr.arpa PTR lan.test\n";

struct ans {
	gboolean fired;
	int calls;
	struct ma_rrset rs;
};

static void got(void *arg, const struct ma_rrset *rs)
{
	struct ans *a = arg;

	a->calls++;
	a->fired = TRUE;
	g_assert_cmpint(rm_dns_rrset_copy(&a->rs, rs), ==, 0);
}

static void tick(void *arg)
{
	(void)arg;
	rm_loop_break();
}

static gboolean run_until(gboolean *flag, double timeout)
{
	struct rmail_timer *t = rm_timer_add(0.005, 0.005, tick, NULL);
	gint64 end = g_get_monotonic_time() + (gint64)(timeout * 1e6);

	while (!*flag && g_get_monotonic_time() < end)
		rm_loop_run();
	rm_timer_del(&t);
	return *flag;
}

static void run_for(double seconds)
{
	gboolean never = FALSE;

	(void)run_until(&never, seconds);
}

static struct ans ask(const char *name, int type)
{
	struct ans a = {0};

	(void)rm_dns_resolve(name, type, got, &a);
	/* never inside rm_dns_resolve */
	g_assert_false(a.fired);
	g_assert_true(run_until(&a.fired, 5));
	g_assert_cmpint(a.calls, ==, 1);
	return a;
}

static void start(const char *ta)
{
	struct rm_config c;
	const char *v[1] = {fwd};
	struct rmail_err err;

	memset(&c, 0, sizeof(c));
	c.dns.forwarders.n = 1;
	c.dns.forwarders.v = v;
	c.dns.trust_anchor = ta;
	c.dns.timeout_ms = TIMEOUT_MS;
	g_assert_cmpint(rm_dns_init(&c, &err), ==, 0);
}

static void test_rcodes(void)
{
	struct ans a;

	a = ask("a.test", MA_T_A);
	g_assert_cmpint(a.rs.rcode, ==, MA_DNS_OK);
	g_assert_cmpuint(a.rs.n, ==, 1);
	g_assert_cmpmem(a.rs.rr[0].addr, 4, "\xc0\x00\x02\x01", 4);
	g_assert_false(a.rs.secure);
	rm_dns_rrset_clear(&a.rs);

	a = ask("A.TEST.", MA_T_AAAA);
	g_assert_cmpint(a.rs.rcode, ==, MA_DNS_OK);
	g_assert_cmpuint(a.rs.n, ==, 1);
	g_assert_cmpuint(a.rs.rr[0].addr[0], ==, 0x20);
	g_assert_cmpuint(a.rs.rr[0].addr[15], ==, 1);
	rm_dns_rrset_clear(&a.rs);

	/* a type the name lacks; an explicit NONE; an empty non-terminal */
	a = ask("a.test", MA_T_TXT);
	g_assert_cmpint(a.rs.rcode, ==, MA_DNS_NODATA);
	rm_dns_rrset_clear(&a.rs);
	a = ask("nodata.test", MA_T_TXT);
	g_assert_cmpint(a.rs.rcode, ==, MA_DNS_NODATA);
	rm_dns_rrset_clear(&a.rs);
	a = ask("y.ent.test", MA_T_A);
	g_assert_cmpint(a.rs.rcode, ==, MA_DNS_NODATA);
	rm_dns_rrset_clear(&a.rs);

	a = ask("nowhere.test", MA_T_A);
	g_assert_cmpint(a.rs.rcode, ==, MA_DNS_NXDOMAIN);
	rm_dns_rrset_clear(&a.rs);

	a = ask("broken.test", MA_T_TXT);
	g_assert_cmpint(a.rs.rcode, ==, MA_DNS_TEMP);
	rm_dns_rrset_clear(&a.rs);

	/* CNAME followed: the target's records */
	a = ask("alias.test", MA_T_A);
	g_assert_cmpint(a.rs.rcode, ==, MA_DNS_OK);
	g_assert_cmpuint(a.rs.n, ==, 1);
	g_assert_cmpmem(a.rs.rr[0].addr, 4, "\xc0\x00\x02\x01", 4);
	rm_dns_rrset_clear(&a.rs);
}

static int rr_cmp_pref(const void *x, const void *y)
{
	const struct ma_rr *a = x, *b = y;

	return (int)a->pref - (int)b->pref;
}

static void test_types(void)
{
	struct ans a;

	a = ask("mx.test", MA_T_MX);
	g_assert_cmpint(a.rs.rcode, ==, MA_DNS_OK);
	g_assert_cmpuint(a.rs.n, ==, 2);
	qsort(a.rs.rr, a.rs.n, sizeof(a.rs.rr[0]), rr_cmp_pref);
	g_assert_cmpuint(a.rs.rr[0].pref, ==, 10);
	g_assert_cmpstr(a.rs.rr[0].host, ==, "a.test");
	g_assert_cmpstr(a.rs.rr[1].host, ==, "b.test");
	rm_dns_rrset_clear(&a.rs);

	a = ask("null.test", MA_T_MX);
	g_assert_cmpint(a.rs.rcode, ==, MA_DNS_OK);
	g_assert_cmpuint(a.rs.n, ==, 1);
	g_assert_cmpstr(a.rs.rr[0].host, ==, "");
	rm_dns_rrset_clear(&a.rs);

	a = ask("4.3.2.1.in-addr.arpa", MA_T_PTR);
	g_assert_cmpint(a.rs.rcode, ==, MA_DNS_OK);
	g_assert_cmpstr(a.rs.rr[0].host, ==, "mail.example.test");
	rm_dns_rrset_clear(&a.rs);

	a = ask("_25._tcp.a.test", MA_T_TLSA);
	g_assert_cmpint(a.rs.rcode, ==, MA_DNS_OK);
	g_assert_cmpuint(a.rs.rr[0].len, ==, 6);
	g_assert_cmpmem(a.rs.rr[0].data, 6, "\x03\x01\x01\x0a\x0b\x0c", 6);
	rm_dns_rrset_clear(&a.rs);
}

static void test_txt(void)
{
	struct ans a = ask("txt.test", MA_T_TXT);
	gboolean spf = FALSE, second = FALSE;

	g_assert_cmpint(a.rs.rcode, ==, MA_DNS_OK);
	g_assert_cmpuint(a.rs.n, ==, 2);
	for (size_t i = 0; i < a.rs.n; i++) {
		const char *d = (const char *)a.rs.rr[i].data;

		spf |= strcmp(d, "v=spf1 ip4:192.0.2.0/24 -all") == 0;
		second |= strcmp(d, "second record") == 0;
		g_assert_cmpuint(a.rs.rr[i].len, ==, strlen(d));
	}
	g_assert_true(spf && second);
	rm_dns_rrset_clear(&a.rs);

	a = ask("esc.test", MA_T_TXT);
	g_assert_cmpuint(a.rs.n, ==, 1);
	g_assert_cmpstr((const char *)a.rs.rr[0].data, ==, "a\"b\\cA");
	rm_dns_rrset_clear(&a.rs);
}

/* over libunbound's EDNS size the server truncates: TCP must follow */
static void test_tcp_fallback(void)
{
	GString *z = g_string_new(zone);
	char err[128];
	unsigned tcp0 = rm_dnsd_tcp_queries(dnsd);
	struct ans a;
	size_t total = 0;

	g_string_append(z, "big.test TXT");
	for (int i = 0; i < 16; i++) {
		g_string_append(z, " \"");
		for (int k = 0; k < 250; k++)
			g_string_append_c(z, (char)('a' + (i + k) % 26));
		g_string_append_c(z, '"');
	}
	g_string_append_c(z, '\n');
	g_assert_cmpint(rm_dnsd_load(dnsd, z->str, err, sizeof(err)), ==, 0);
	a = ask("big.test", MA_T_TXT);
	g_assert_cmpint(a.rs.rcode, ==, MA_DNS_OK);
	g_assert_cmpuint(a.rs.n, ==, 1);
	total = a.rs.rr[0].len;
	g_assert_cmpuint(total, ==, 16 * 250);
	g_assert_cmpuint(rm_dnsd_tcp_queries(dnsd), >, tcp0);
	rm_dns_rrset_clear(&a.rs);
	g_string_free(z, TRUE);
}

static void test_timeout(void)
{
	gint64 t0 = g_get_monotonic_time();
	struct ans a = ask("slow.test", MA_T_TXT);
	double took = (double)(g_get_monotonic_time() - t0) / 1e6;

	g_assert_cmpint(a.rs.rcode, ==, MA_DNS_TEMP);
	g_assert_cmpfloat(took, >=, TIMEOUT_MS / 1000.0 - 0.05);
	g_assert_cmpfloat(took, <, TIMEOUT_MS / 1000.0 + 0.5);
	rm_dns_rrset_clear(&a.rs);
	/* the forwarder is still used after a timeout */
	a = ask("a.test", MA_T_A);
	g_assert_cmpint(a.rs.rcode, ==, MA_DNS_OK);
	rm_dns_rrset_clear(&a.rs);
}

static void test_cancel(void)
{
	struct ans a = {0}, b = {0}, c = {0};
	struct rm_dns_q *qa = rm_dns_resolve("a.test", MA_T_A, got, &a);
	struct rm_dns_q *qb = rm_dns_resolve("slow.test", MA_T_A, got, &b);

	(void)rm_dns_resolve("mx.test", MA_T_MX, got, &c);
	rm_dns_cancel(qa);
	rm_dns_cancel(qb);
	rm_dns_cancel(NULL);
	g_assert_true(run_until(&c.fired, 5));
	/* past the timeout too: neither cancelled callback ever runs */
	run_for(TIMEOUT_MS / 1000.0 + 0.2);
	g_assert_cmpint(a.calls, ==, 0);
	g_assert_cmpint(b.calls, ==, 0);
	g_assert_cmpint(c.calls, ==, 1);
	rm_dns_rrset_clear(&c.rs);
}

/* NAME TYPE TIMEOUT, escaped owner names, the reverse zones unbound
 * would answer itself */
static void test_special_names(void)
{
	struct ans a;

	a = ask("per.test", MA_T_A);
	g_assert_cmpint(a.rs.rcode, ==, MA_DNS_OK);
	rm_dns_rrset_clear(&a.rs);
	a = ask("per.test", MA_T_TXT);
	g_assert_cmpint(a.rs.rcode, ==, MA_DNS_TEMP);
	rm_dns_rrset_clear(&a.rs);
	a = ask("sp a\"ce.test", MA_T_A);
	g_assert_cmpint(a.rs.rcode, ==, MA_DNS_OK);
	g_assert_cmpmem(a.rs.rr[0].addr, 4, "\xc0\x00\x02\x08", 4);
	rm_dns_rrset_clear(&a.rs);
	a = ask("5.2.0.192.in-addr.arpa", MA_T_PTR);
	g_assert_cmpint(a.rs.rcode, ==, MA_DNS_OK);
	rm_dns_rrset_clear(&a.rs);
	a = ask("1.0.0.10.in-addr.arpa", MA_T_PTR);
	g_assert_cmpint(a.rs.rcode, ==, MA_DNS_OK);
	rm_dns_rrset_clear(&a.rs);
}

static void fill_done(void *arg)
{
	int *n = arg;

	(*n)++;
}

static gboolean fill_flag;
static void fill_done_flag(void *arg)
{
	fill_done(arg);
	fill_flag = TRUE;
}

static void test_fill(void)
{
	struct ma_dns_cache *c = ma_dns_cache_new(64);
	const struct ma_rrset *rs;
	int done = 0;

	g_assert_cmpint(ma_dns_get(c, "a.test", MA_T_A)->rcode, ==,
			MA_DNS_PENDING);
	(void)ma_dns_get(c, "txt.test", MA_T_TXT);
	(void)ma_dns_get(c, "nowhere.test", MA_T_MX);
	(void)ma_dns_get(c, "broken.test", MA_T_A);
	fill_flag = FALSE;
	g_assert_cmpint(rm_dns_fill(c, fill_done_flag, &done), ==, 4);
	g_assert_cmpint(done, ==, 0);
	g_assert_true(run_until(&fill_flag, 5));
	run_for(0.05);
	g_assert_cmpint(done, ==, 1);
	g_assert_cmpint(ma_dns_get(c, "a.test", MA_T_A)->rcode, ==, MA_DNS_OK);
	rs = ma_dns_get(c, "txt.test", MA_T_TXT);
	g_assert_cmpint(rs->rcode, ==, MA_DNS_OK);
	g_assert_cmpuint(rs->n, ==, 2);
	g_assert_cmpint(ma_dns_get(c, "nowhere.test", MA_T_MX)->rcode, ==,
			MA_DNS_NXDOMAIN);
	g_assert_cmpint(ma_dns_get(c, "broken.test", MA_T_A)->rcode, ==,
			MA_DNS_TEMP);

	/* nothing wanted: done still comes, later */
	fill_flag = FALSE;
	g_assert_cmpint(rm_dns_fill(c, fill_done_flag, &done), ==, 0);
	g_assert_cmpint(done, ==, 1);
	g_assert_true(run_until(&fill_flag, 1));
	g_assert_cmpint(done, ==, 2);

	/* cancelled: done never comes */
	(void)ma_dns_get(c, "mx.test", MA_T_MX);
	(void)ma_dns_get(c, "slow.test", MA_T_MX);
	g_assert_cmpint(rm_dns_fill(c, fill_done, &done), ==, 2);
	rm_dns_fill_cancel(c);
	run_for(TIMEOUT_MS / 1000.0 + 0.2);
	g_assert_cmpint(done, ==, 2);
	ma_dns_cache_free(c);
}

struct wait_job {
	const char *name;
	int type, rcode;
	size_t n;
};

static gpointer waiter(gpointer arg)
{
	struct wait_job *j = arg;
	struct ma_rrset rs;

	j->rcode = rm_dns_resolve_wait(j->name, j->type, &rs);
	j->n = rs.n;
	rm_dns_rrset_clear(&rs);
	return NULL;
}

static void test_wait(void)
{
	struct wait_job j[3] = {{"mx.test", MA_T_MX, -9, 0},
				{"slow.test", MA_T_A, -9, 0},
				{"nowhere.test", MA_T_A, -9, 0}};
	GThread *th[3];
	struct ma_rrset rs;
	gboolean all = FALSE;

	for (int i = 0; i < 3; i++)
		th[i] = g_thread_new("w", waiter, &j[i]);
	/* the loop runs here while the workers wait */
	for (gint64 end = g_get_monotonic_time() + 5000000;
	     !all && g_get_monotonic_time() < end;) {
		run_for(0.02);
		all = j[0].rcode != -9 && j[1].rcode != -9 && j[2].rcode != -9;
	}
	for (int i = 0; i < 3; i++)
		g_thread_join(th[i]);
	g_assert_cmpint(j[0].rcode, ==, MA_DNS_OK);
	g_assert_cmpuint(j[0].n, ==, 2);
	g_assert_cmpint(j[1].rcode, ==, MA_DNS_TEMP);
	g_assert_cmpint(j[2].rcode, ==, MA_DNS_NXDOMAIN);
	/* on the loop thread outside the loop: the loop runs inside */
	g_assert_cmpint(rm_dns_resolve_wait("a.test", MA_T_A, &rs), ==,
			MA_DNS_OK);
	g_assert_cmpuint(rs.n, ==, 1);
	rm_dns_rrset_clear(&rs);
}

struct mod_ans {
	gboolean fired;
	int calls, rcode, secure;
	size_t n;
	char host[64];
};

static void mod_got(void *arg, const struct rmail_dns_answer *a)
{
	struct mod_ans *m = arg;

	m->calls++;
	m->fired = TRUE;
	m->rcode = a->rcode;
	m->secure = a->secure;
	m->n = a->n;
	if (a->n > 0 && a->rr[0].host != NULL)
		g_strlcpy(m->host, a->rr[0].host, sizeof(m->host));
}

/* what a module sees through the services table */
static void test_services(void)
{
	const struct rmail_core *core = rm_core();
	struct mod_ans m = {0}, x = {0}, c = {0};
	struct rmail_dns_query *q;

	g_assert_true(RMAIL_HAS(core, struct rmail_core, dns_cancel));
	g_assert_nonnull(core->dns_query);
	(void)core->dns_query("1.1.1.1.in-addr.arpa", RMAIL_DNS_PTR, mod_got,
			      &m);
	(void)core->dns_query("nowhere.test", RMAIL_DNS_MX, mod_got, &x);
	q = core->dns_query("a.test", RMAIL_DNS_A, mod_got, &c);
	core->dns_cancel(q);
	core->dns_cancel(NULL);
	g_assert_false(m.fired);
	g_assert_true(run_until(&m.fired, 5));
	g_assert_true(run_until(&x.fired, 5));
	run_for(0.05);
	g_assert_cmpint(m.rcode, ==, RMAIL_DNS_OK);
	g_assert_cmpuint(m.n, ==, 1);
	g_assert_cmpstr(m.host, ==, "ptr.example.test");
	g_assert_cmpint(m.secure, ==, 0);
	g_assert_cmpint(x.rcode, ==, RMAIL_DNS_NXDOMAIN);
	g_assert_cmpint(c.calls, ==, 0);
	g_assert_cmpint(m.calls + x.calls, ==, 2);
}

/*
 * With the root trust anchor and a server that cannot sign, the check
 * turns validation off with one error line, quickly; queries asked
 * during the check wait for it and are answered.  Runs the init in a
 * child whose stderr is the log.
 */
static void test_dnssec_stripped(void)
{
	if (g_test_subprocess()) {
		struct ans a = {0};

		rm_dns_shutdown();
		start("/usr/share/dns/root.key");
		g_assert_false(rm_dns_validating());
		(void)rm_dns_resolve("a.test", MA_T_A, got, &a);
		g_assert_true(run_until(&a.fired, 3));
		g_assert_cmpint(a.rs.rcode, ==, MA_DNS_OK);
		g_assert_false(a.rs.secure);
		g_assert_false(rm_dns_validating());
		rm_dns_rrset_clear(&a.rs);
		a = ask("mx.test", MA_T_MX);
		g_assert_cmpint(a.rs.rcode, ==, MA_DNS_OK);
		rm_dns_rrset_clear(&a.rs);
		rm_dns_shutdown();
		return;
	}
	g_assert_true(
		g_file_test("/usr/share/dns/root.key", G_FILE_TEST_EXISTS));
	g_test_trap_subprocess(NULL, 10000000, G_TEST_SUBPROCESS_DEFAULT);
	g_test_trap_assert_passed();
	g_test_trap_assert_stderr("*do not return DNSSEC-signed answers*");
	/* exactly one line about it */
	g_test_trap_assert_stderr_unmatched("*DNSSEC*\n*DNSSEC*");
}

int main(int argc, char **argv)
{
	char err[128];
	int rc;

	g_test_init(&argc, &argv, NULL);
	rm_log_set_level(g_getenv("DNS_DEBUG") ? RMAIL_LOG_DEBUG
					       : RMAIL_LOG_WARN);
	dnsd = rm_dnsd_start(zone, err, sizeof(err));
	g_assert_nonnull(dnsd);
	snprintf(fwd, sizeof(fwd), "127.0.0.1@%u", rm_dnsd_port(dnsd));
	g_assert_cmpint(rm_loop_init(), ==, 0);
	start(NULL);
	g_assert_false(rm_dns_validating());
	g_test_add_func("/dns/rcodes", test_rcodes);
	g_test_add_func("/dns/types", test_types);
	g_test_add_func("/dns/txt", test_txt);
	g_test_add_func("/dns/tcp_fallback", test_tcp_fallback);
	g_test_add_func("/dns/timeout", test_timeout);
	g_test_add_func("/dns/cancel", test_cancel);
	g_test_add_func("/dns/special_names", test_special_names);
	g_test_add_func("/dns/fill", test_fill);
	g_test_add_func("/dns/wait", test_wait);
	g_test_add_func("/dns/services", test_services);
	g_test_add_func("/dns/dnssec_stripped", test_dnssec_stripped);
	rc = g_test_run();
	rm_dns_shutdown();
	rm_dnsd_stop(dnsd);
	return rc;
}
