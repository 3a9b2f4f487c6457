/*
 * ABI 1.1 keeps working: a storage module built against the frozen 1.1
 * headers (tests/abi/v1_1/) loads into this core, and the core uses its
 * 1.1 entries: a lookup the store cannot make is "try later" (451), a
 * definite no stays a refusal.
 *
 * Argument: the fx11 fixture directory.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include <rmail/rmail.h>

#include "harness.h"

extern const size_t fx11_store_ops_size, fx11_store_ops_sizeof;

static const char *fx11_dir;

static void test_sizes(void)
{
	g_assert_cmpuint(RMAIL_STORE_OPS_SIZE_1_1, ==, fx11_store_ops_size);
	g_assert_cmpuint(sizeof(struct rmail_store_ops), >=,
			 fx11_store_ops_sizeof);
}

static char *rcpt(struct rmh_conn *c, const char *to)
{
	g_assert_true(rmh_send(c, "RCPT TO:<%s>", to));
	return rmh_readline(c, 10);
}

static void test_store_1_1(void)
{
	struct rmh *h = rmh_new();
	char *dir = g_build_filename(rmh_dir(h), "modules", NULL), *src, *dst,
	     *line;
	guint smtp = rmh_port(h, "smtp");
	struct rmh_conn *c;

	g_assert_cmpint(g_mkdir(dir, 0755), ==, 0);
	src = g_build_filename(fx11_dir, "mod_fx11store.so", NULL);
	dst = g_build_filename(dir, "mod_fx11store.so", NULL);
	g_assert_cmpint(symlink(src, dst), ==, 0);
	g_free(src);
	g_free(dst);
	src = g_build_filename(g_getenv("RMAIL_MODULE_DIR"), "mod_smtp.so",
			       NULL);
	dst = g_build_filename(dir, "mod_smtp.so", NULL);
	g_assert_cmpint(symlink(src, dst), ==, 0);
	g_free(src);
	g_free(dst);

	rmh_setf(h, "module_dir", "\"%s\"", dir);
	rmh_set(h, "modules", "[\"mod_fx11store\", \"mod_smtp\"]");
	rmh_setf(h, "smtp",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"submission_listen\": [], "
		 "\"smtps_listen\": []}",
		 smtp);
	rmh_write_config(h);
	g_assert_true(rmh_start(h));

	c = rmh_connect(smtp, false);
	g_assert_nonnull(c);
	g_assert_true(rmh_expect(c, "220 ", NULL));
	g_assert_true(rmh_send(c, "EHLO client.test"));
	g_assert_true(rmh_expect(c, "250 ", NULL));
	g_assert_true(rmh_send(c, "MAIL FROM:<someone@remote.test>"));
	g_assert_true(rmh_expect(c, "250 ", NULL));
	line = rcpt(c, "fx@example.test");
	g_assert_true(g_str_has_prefix(line, "250 "));
	g_free(line);
	/* the 1.1 entry said "cannot tell": temporary, never relay denied */
	line = rcpt(c, "someone@flaky.test");
	g_assert_true(g_str_has_prefix(line, "451 4.3.0"));
	g_free(line);
	/* a definite no stays a permanent refusal */
	line = rcpt(c, "someone@remote.test");
	g_assert_true(g_str_has_prefix(line, "554 "));
	g_free(line);
	rmh_send(c, "QUIT");
	rmh_conn_close(c);
	g_assert_cmpint(rmh_stop(h), ==, 0);
	g_free(dir);
	rmh_free(h);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	if (argc < 2) {
		g_printerr("usage: %s FX11_DIR\n", argv[0]);
		return 2;
	}
	fx11_dir = argv[1];
	g_test_add_func("/abi/v1_1/sizes", test_sizes);
	g_test_add_func("/abi/v1_1/store", test_store_1_1);
	return g_test_run();
}
