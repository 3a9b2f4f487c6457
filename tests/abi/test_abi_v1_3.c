/*
 * ABI 1.3 keeps working: a protocol module built against the frozen 1.3
 * headers (tests/abi/v1_3/) asks the core's resolver through
 * rmail_core.dns_query, against the test DNS server: answers of each
 * kind reach it on the loop with its input suspended meanwhile, and a
 * cancelled query never calls back.
 *
 * Argument: the fx13 fixture directory.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include <rmail/rmail.h>

#include "dnsd.h"
#include "harness.h"

extern const size_t fx13_store_ops_size, fx13_core_size, fx13_append_opts_size,
	fx13_filter_msg_size;

static const char *fx13_dir;

static void test_sizes(void)
{
	g_assert_cmpuint(RMAIL_STORE_OPS_SIZE_1_3, ==, fx13_store_ops_size);
	g_assert_cmpuint(RMAIL_CORE_SIZE_1_3, ==, fx13_core_size);
	g_assert_cmpuint(RMAIL_APPEND_OPTS_SIZE_1_3, ==, fx13_append_opts_size);
	g_assert_cmpuint(RMAIL_FILTER_MSG_SIZE_1_3, ==, fx13_filter_msg_size);
}

static char *ask(struct rmh_conn *c, const char *line)
{
	g_assert_true(rmh_send(c, "%s", line));
	return rmh_readline(c, 10);
}

static void test_dns_1_3(void)
{
	static const char zone[] = "fx.example.test A 192.0.2.33\n"
				   "fx.example.test MX 10 mx.fx.example.test\n"
				   "fx.example.test TXT \"v=spf1 \" \"-all\"\n"
				   "broken.example.test SERVFAIL\n";
	char derr[200];
	struct rm_dnsd *dns = rm_dnsd_start(zone, derr, sizeof(derr));
	struct rmh *h = rmh_new();
	char *dir = g_build_filename(rmh_dir(h), "modules", NULL), *line;
	char *src = g_build_filename(fx13_dir, "mod_fx13dns.so", NULL);
	char *dst = g_build_filename(dir, "mod_fx13dns.so", NULL);
	guint fx = rmh_port(h, "fx");
	struct rmh_conn *c;

	g_assert_nonnull(dns);
	g_assert_cmpint(g_mkdir(dir, 0755), ==, 0);
	g_assert_cmpint(symlink(src, dst), ==, 0);
	rmh_setf(h, "module_dir", "\"%s\"", dir);
	rmh_set(h, "modules", "[\"mod_fx13dns\"]");
	rmh_setf(h, "fx13dns", "{\"listen\": [\"127.0.0.1:%u\"]}", fx);
	rmh_setf(h, "dns",
		 "{\"forwarders\": [\"127.0.0.1@%u\"], \"trust_anchor\": null,"
		 " \"timeout_ms\": 2000}",
		 rm_dnsd_port(dns));
	rmh_write_config(h);
	g_assert_true(rmh_start(h));

	c = rmh_connect(fx, false);
	g_assert_nonnull(c);
	g_assert_true(rmh_expect(c, "* fx13 ready", NULL));
	line = ask(c, "DNS fx.example.test 1");
	g_assert_cmpstr(line, ==, "OK rcode=0 n=1 first=192.0.2.33");
	g_free(line);
	line = ask(c, "DNS fx.example.test 15");
	g_assert_cmpstr(line, ==, "OK rcode=0 n=1 first=10 mx.fx.example.test");
	g_free(line);
	line = ask(c, "DNS fx.example.test 16");
	g_assert_cmpstr(line, ==, "OK rcode=0 n=1 first=v=spf1 -all");
	g_free(line);
	line = ask(c, "DNS fx.example.test 28");
	g_assert_cmpstr(line, ==, "OK rcode=1 n=0 first=-");
	g_free(line);
	line = ask(c, "DNS none.example.test 1");
	g_assert_cmpstr(line, ==, "OK rcode=2 n=0 first=-");
	g_free(line);
	line = ask(c, "DNS broken.example.test 1");
	g_assert_cmpstr(line, ==, "OK rcode=3 n=0 first=-");
	g_free(line);
	/* cancelled: no answer ever, the next line is QUIT's */
	line = ask(c, "DROP fx.example.test 16");
	g_assert_cmpstr(line, ==, "OK dropped");
	g_free(line);
	g_usleep(300 * 1000);
	line = ask(c, "QUIT");
	g_assert_cmpstr(line, ==, "OK bye");
	g_free(line);
	rmh_conn_close(c);
	g_assert_cmpint(rmh_stop(h), ==, 0);
	rm_dnsd_stop(dns);
	g_free(src);
	g_free(dst);
	g_free(dir);
	rmh_free(h);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	if (argc < 2) {
		g_printerr("usage: %s FX13_DIR\n", argv[0]);
		return 2;
	}
	fx13_dir = argv[1];
	g_test_add_func("/abi/v1_3/sizes", test_sizes);
	g_test_add_func("/abi/v1_3/dns", test_dns_1_3);
	return g_test_run();
}
