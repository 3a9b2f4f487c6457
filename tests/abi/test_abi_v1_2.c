/*
 * ABI 1.2 keeps working: a protocol module built against the frozen 1.2
 * headers (tests/abi/v1_2/), on the ctx-first handler layout with no
 * global, loads into this core; every handler gets its ctx, input stays
 * suspended across conn_suspend until conn_resume, and the store fills
 * the 1.2 rmail_mbox_status.
 *
 * Argument: the fx12 fixture directory.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include <rmail/rmail.h>

#include "harness.h"

extern const size_t fx12_store_ops_size, fx12_core_size, fx12_proto_ops_size,
	fx12_mbox_status_size;

static const char *fx12_dir;

static void test_sizes(void)
{
	g_assert_cmpuint(RMAIL_STORE_OPS_SIZE_1_2, ==, fx12_store_ops_size);
	g_assert_cmpuint(RMAIL_CORE_SIZE_1_2, ==, fx12_core_size);
	g_assert_cmpuint(RMAIL_PROTO_OPS_SIZE_1_2, ==, fx12_proto_ops_size);
	g_assert_cmpuint(RMAIL_MBOX_STATUS_SIZE_1_2, ==, fx12_mbox_status_size);
}

static void link_module(const char *dir, const char *from, const char *name)
{
	char *src = g_build_filename(from, name, NULL);
	char *dst = g_build_filename(dir, name, NULL);

	g_assert_cmpint(symlink(src, dst), ==, 0);
	g_free(src);
	g_free(dst);
}

static char *ask(struct rmh_conn *c, const char *line)
{
	g_assert_true(rmh_send(c, "%s", line));
	return rmh_readline(c, 10);
}

static void test_proto_1_2(void)
{
	struct rmh *h = rmh_new();
	char *dir = g_build_filename(rmh_dir(h), "modules", NULL), *line;
	const char *argv[] = {"rmail",
			      "-c",
			      NULL,
			      "user",
			      "add",
			      "fx@example.test",
			      "--password-stdin",
			      NULL};
	guint fx = rmh_port(h, "fx");
	struct rmh_conn *c;

	g_assert_cmpint(g_mkdir(dir, 0755), ==, 0);
	link_module(dir, fx12_dir, "mod_fx12proto.so");
	link_module(dir, g_getenv("RMAIL_MODULE_DIR"), "mod_shardstore.so");
	rmh_setf(h, "module_dir", "\"%s\"", dir);
	rmh_set(h, "modules", "[\"mod_shardstore\", \"mod_fx12proto\"]");
	rmh_setf(h, "fx12proto", "{\"listen\": [\"127.0.0.1:%u\"]}", fx);
	rmh_write_config(h);
	argv[2] = rmh_config_path(h);
	g_assert_cmpint(rmh_run_argv(h, argv, "pw-fx\n", NULL, NULL), ==, 0);
	g_assert_true(rmh_start(h));

	c = rmh_connect(fx, false);
	g_assert_nonnull(c);
	g_assert_true(rmh_expect(c, "* fx12 ready", NULL));
	line = ask(c, "CTX");
	g_assert_cmpstr(line, ==, "OK ctx=intact");
	g_free(line);
	line = ask(c, "STATUS fx@example.test INBOX");
	g_assert_true(g_str_has_prefix(line, "OK messages=0 modseq="));
	g_assert_nonnull(strstr(line, "horizon=yes"));
	g_free(line);
	/* CTX pipelined behind WAIT: answered only once WAIT resumed */
	g_assert_true(rmh_send_raw(c, "WAIT\r\nCTX\r\n", 11));
	line = rmh_readline(c, 10);
	g_assert_cmpstr(line, ==, "OK resumed");
	g_free(line);
	line = rmh_readline(c, 10);
	g_assert_cmpstr(line, ==, "OK ctx=intact");
	g_free(line);
	line = ask(c, "QUIT");
	g_assert_cmpstr(line, ==, "OK bye");
	g_free(line);
	rmh_conn_close(c);
	g_assert_cmpint(rmh_stop(h), ==, 0);
	g_free(dir);
	rmh_free(h);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	if (argc < 2) {
		g_printerr("usage: %s FX12_DIR\n", argv[0]);
		return 2;
	}
	fx12_dir = argv[1];
	g_test_add_func("/abi/v1_2/sizes", test_sizes);
	g_test_add_func("/abi/v1_2/proto", test_proto_1_2);
	return g_test_run();
}
