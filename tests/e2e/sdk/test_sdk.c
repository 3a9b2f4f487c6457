/* The SDK end to end: `cmake --install` into a staging prefix, build
 * sdk/examples/echo from a copy outside the tree with
 * find_package(RmailSDK) pointed at that prefix only, load the module
 * into a running daemon and talk to it. */
#include <stdio.h>
#include <string.h>

#include "harness.h"

static int run(struct rmh *h, const char *const *argv, char **out_r)
{
	char *out = NULL, *err = NULL;
	int rc;
	GError *e = NULL;
	int status = 0;

	/* rmh_run_argv runs rmail; tools go through g_spawn_sync */
	(void)h;
	if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL,
			  NULL, &out, &err, &status, &e)) {
		g_test_message("%s: %s", argv[0], e->message);
		g_error_free(e);
		return -1;
	}
	rc = g_spawn_check_wait_status(status, NULL) ? 0 : 1;
	if (rc != 0)
		g_test_message("%s failed:\n%s\n%s", argv[2], out, err);
	if (out_r != NULL)
		*out_r = out;
	else
		g_free(out);
	g_free(err);
	return rc;
}

static void copy_file(const char *from, const char *to)
{
	char *data = NULL;
	gsize len = 0;

	g_assert_true(g_file_get_contents(from, &data, &len, NULL));
	g_assert_true(g_file_set_contents(to, data, (gssize)len, NULL));
	g_free(data);
}

static void test_sdk_roundtrip(void)
{
	struct rmh *h = rmh_new();
	const char *build = g_getenv("RMAIL_BUILD_DIR");
	char *stage = g_build_filename(rmh_dir(h), "stage", NULL);
	char *src = g_build_filename(rmh_dir(h), "echo-src", NULL);
	char *bin = g_build_filename(rmh_dir(h), "echo-build", NULL);
	char *pc, *line = NULL, *from, *to, *so;
	char *prefix_arg = g_strdup_printf("-DCMAKE_PREFIX_PATH=%s", stage);
	char *cc_arg = g_strdup_printf("-DCMAKE_C_COMPILER=%s", RMH_CC);
	char *dir_arg = g_strdup_printf("-DRmailSDK_DIR=%s/%s/cmake/RmailSDK",
					stage, RMH_LIBDIR);
	struct rmh_conn *c;
	const char *names[] = {"CMakeLists.txt", "mod_echo.c"};
	guint i;

	g_assert_nonnull(build);
	{
		const char *argv[] = {RMH_CMAKE,  "--install", build,
				      "--prefix", stage,       NULL};

		g_assert_cmpint(run(h, argv, NULL), ==, 0);
	}
	pc = g_build_filename(stage, RMH_LIBDIR, "pkgconfig", "rmail-sdk.pc",
			      NULL);
	g_assert_true(g_file_test(pc, G_FILE_TEST_EXISTS));
	g_free(pc);

	/* a copy outside the source tree: only the staged SDK is visible */
	g_assert_cmpint(g_mkdir_with_parents(src, 0700), ==, 0);
	for (i = 0; i < G_N_ELEMENTS(names); i++) {
		char *rel =
			g_build_filename("sdk/examples/echo", names[i], NULL);

		from = rmh_source_path(rel);
		to = g_build_filename(src, names[i], NULL);
		copy_file(from, to);
		g_free(rel);
		g_free(from);
		g_free(to);
	}
	{
		const char *argv[] = {
			RMH_CMAKE,
			"-S",
			src,
			"-B",
			bin,
			prefix_arg,
			cc_arg,
			dir_arg,
			"-DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF",
			"-DCMAKE_C_FLAGS=-Wall -Wextra -Werror",
			NULL};

		g_assert_cmpint(run(h, argv, NULL), ==, 0);
	}
	{
		const char *argv[] = {RMH_CMAKE, "--build", bin, NULL};

		g_assert_cmpint(run(h, argv, NULL), ==, 0);
	}
	so = g_build_filename(bin, "mod_echo.so", NULL);
	g_assert_true(g_file_test(so, G_FILE_TEST_EXISTS));
	g_free(so);

	rmh_setf(h, "module_dir", "\"%s\"", bin);
	rmh_set(h, "modules", "[\"mod_echo\"]");
	rmh_setf(h, "echo",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"greeting\": \"third party\"}",
		 rmh_port(h, "echo"));
	rmh_write_config(h);
	g_assert_true(rmh_start(h));
	c = rmh_connect(rmh_port(h, "echo"), false);
	g_assert_nonnull(c);
	g_assert_true(rmh_expect(c, "+OK", &line));
	g_assert_cmpstr(line, ==, "+OK third party");
	g_free(line);
	g_assert_true(rmh_send(c, "hello sdk"));
	g_assert_true(rmh_expect(c, "+ECHO", &line));
	g_assert_cmpstr(line, ==, "+ECHO hello sdk");
	g_free(line);
	g_assert_true(rmh_send(c, "PING"));
	g_assert_true(rmh_expect(c, "+PONG", NULL));
	g_assert_true(rmh_send(c, "QUIT"));
	g_assert_true(rmh_expect(c, "+OK bye", NULL));
	rmh_conn_close(c);
	g_assert_cmpint(rmh_stop(h), ==, 0);

	g_free(prefix_arg);
	g_free(cc_arg);
	g_free(dir_arg);
	g_free(stage);
	g_free(src);
	g_free(bin);
	rmh_free(h);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/e2e/sdk/roundtrip", test_sdk_roundtrip);
	return g_test_run();
}
