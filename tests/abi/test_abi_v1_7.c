/*
 * ABI 1.7, frozen: the 1.7 sizes (and the 1.6 ones) as tests/abi/v1_7
 * computes them, and mod_fx17freeze (built against those headers alone)
 * loaded by today's core.  Over its control commands (see
 * v1_7/fx17_freeze.c) it takes a frozen copy of bob's INBOX view with
 * two unseen messages; a third is delivered and the first one marked
 * \Seen, and the view's mbox_version, count and mbox_first_unseen move
 * while the frozen copy's stay as they were.
 * Argument: the fx17 fixture directory.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include <rmail/rmail.h>

#include "harness.h"
#include "spam_common.h"

#define BOB "bob@example.test"

extern const size_t fx17_store_ops_size, fx17_core_size_1_6,
	fx17_store_ops_size_1_6;

static const char *fx17_dir;

static void test_sizes(void)
{
	g_assert_cmpuint(RMAIL_STORE_OPS_SIZE_1_7, ==, fx17_store_ops_size);
	g_assert_cmpuint(RMAIL_CORE_SIZE_1_6, ==, fx17_core_size_1_6);
	g_assert_cmpuint(RMAIL_STORE_OPS_SIZE_1_6, ==, fx17_store_ops_size_1_6);
}

static struct rmh *start(void)
{
	static const char *const own[] = {"mod_shardstore.so", "mod_smtp.so"};
	const char *add[] = {
		"rmail", "-c", NULL, "user", "add", BOB, "--password-stdin",
		NULL};
	struct rmh *h = rmh_new();
	char *dir = g_build_filename(rmh_dir(h), "modules", NULL), *src, *dst;
	char *out = NULL, *errs = NULL;

	g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
	for (size_t i = 0; i <= G_N_ELEMENTS(own); i++) {
		const char *name =
			i < G_N_ELEMENTS(own) ? own[i] : "mod_fx17freeze.so";

		src = g_build_filename(i < G_N_ELEMENTS(own)
					       ? g_getenv("RMAIL_MODULE_DIR")
					       : fx17_dir,
				       name, NULL);
		dst = g_build_filename(dir, name, NULL);
		g_assert_cmpint(symlink(src, dst), ==, 0);
		g_free(src);
		g_free(dst);
	}
	rmh_setf(h, "module_dir", "\"%s\"", dir);
	g_free(dir);
	rmh_set(h, "modules",
		"[\"mod_shardstore\", \"mod_smtp\", \"mod_fx17freeze\"]");
	rmh_setf(h, "smtp",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"submission_listen\": [], "
		 "\"smtps_listen\": []}",
		 rmh_port(h, "smtp"));
	rmh_set(h, "mailauth", "{\"inbound\": false}");
	rmh_write_config(h);
	add[2] = rmh_config_path(h);
	if (rmh_run_argv(h, add, "pw-bob-17\n", &out, &errs) != 0)
		g_error("user add: %s%s", out, errs);
	g_free(out);
	g_free(errs);
	g_assert_true(rmh_start(h));
	return h;
}

static void deliver(struct rmh *h, const char *tag)
{
	char *msg = g_strdup_printf("From: <s@far.test>\r\nSubject: %s\r\n\r\n"
				    "body %s\r\n",
				    tag, tag);
	char *l = sc_send(rmh_port(h, "smtp"), BOB, msg);

	g_assert_true(g_str_has_prefix(l, "250 "));
	g_free(l);
	g_free(msg);
}

/* `rmail ctl` words..., its answer (asserting success) without the
 * trailing newline */
static char *ctl(struct rmh *h, const char *w1, const char *w2, const char *w3)
{
	const char *argv[] = {"rmail", "-c", rmh_config_path(h), "ctl", w1, w2,
			      w3,      NULL};
	char *out = NULL, *err = NULL;
	int rc = rmh_run_argv(h, argv, NULL, &out, &err);

	if (rc != 0)
		g_error("rmail ctl %s %s: rc %d: %s %s", w1, w2, rc, out, err);
	g_free(err);
	return g_strchomp(out);
}

static void test_freeze(void)
{
	struct rmh *h = start();
	char *a;

	deliver(h, "t-fx17-a");
	deliver(h, "t-fx17-b");
	/* two unseen messages; the copy has the view's version */
	a = ctl(h, "fx17", "freeze", BOB);
	g_assert_cmpstr(a, ==, "count 2 unseen 1 same y");
	g_free(a);
	deliver(h, "t-fx17-c");
	/* the view: 3 messages, the first now \Seen, a new version; the
	 * frozen copy as it was taken */
	a = ctl(h, "fx17", "check", NULL);
	g_assert_cmpstr(a, ==, "view 3 2 y frozen 2 1 y");
	g_free(a);
	g_assert_cmpint(rmh_stop(h), ==, 0);
	rmh_free(h);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_assert_cmpint(argc, >, 1);
	fx17_dir = argv[1];
	g_test_add_func("/abi/v1_7/sizes", test_sizes);
	g_test_add_func("/abi/v1_7/freeze", test_freeze);
	return g_test_run();
}
