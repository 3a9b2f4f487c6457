/*
 * ABI 1.5, frozen: the 1.5 sizes as tests/abi/v1_5 computes them, and
 * mod_fx15copies (built against those headers alone) loaded by today's
 * core: a port-25 message it marks is stored twice, in "One" (\Seen)
 * and "Two" with the keyword the core's casemap made; an unmarked one
 * stays in INBOX.  Argument: the fx15 fixture directory.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include <rmail/rmail.h>

#include "harness.h"
#include "spam_common.h"

#define BOB "bob@example.test"

extern const size_t fx15_core_size, fx15_index_hdr_size, fx15_index_result_size,
	fx15_store_ops_size, fx15_filter_target_size;

static const char *fx15_dir;

static void test_sizes(void)
{
	g_assert_cmpuint(RMAIL_CORE_SIZE_1_5, ==, fx15_core_size);
	g_assert_cmpuint(RMAIL_INDEX_HDR_SIZE_1_5, ==, fx15_index_hdr_size);
	g_assert_cmpuint(RMAIL_INDEX_RESULT_SIZE_1_5, ==,
			 fx15_index_result_size);
	g_assert_cmpuint(RMAIL_STORE_OPS_SIZE_1_5, ==, fx15_store_ops_size);
	g_assert_cmpuint(RMAIL_FILTER_TARGET_SIZE_1_5, ==,
			 fx15_filter_target_size);
}

static GPtrArray *copies(struct rmh *h, const char *tag)
{
	GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
	char *dir = g_build_filename(rmh_dir(h), "mail", NULL);

	sc_find_all(dir, tag, a);
	g_free(dir);
	return a;
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
			i < G_N_ELEMENTS(own) ? own[i] : "mod_fx15copies.so";

		src = g_build_filename(i < G_N_ELEMENTS(own)
					       ? g_getenv("RMAIL_MODULE_DIR")
					       : fx15_dir,
				       name, NULL);
		dst = g_build_filename(dir, name, NULL);
		g_assert_cmpint(symlink(src, dst), ==, 0);
		g_free(src);
		g_free(dst);
	}
	rmh_setf(h, "module_dir", "\"%s\"", dir);
	g_free(dir);
	rmh_set(h, "modules",
		"[\"mod_shardstore\", \"mod_smtp\", \"mod_fx15copies\"]");
	rmh_setf(h, "smtp",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"submission_listen\": [], "
		 "\"smtps_listen\": []}",
		 rmh_port(h, "smtp"));
	rmh_set(h, "mailauth", "{\"inbound\": false}");
	rmh_write_config(h);
	add[2] = rmh_config_path(h);
	if (rmh_run_argv(h, add, "pw-bob-15\n", &out, &errs) != 0)
		g_error("user add: %s%s", out, errs);
	g_free(out);
	g_free(errs);
	g_assert_true(rmh_start(h));
	return h;
}

static void test_copies(void)
{
	struct rmh *h = start();
	char *l, *kwpath, *kw = NULL, *shard, *mbox;
	GPtrArray *a;
	const char *one = NULL, *two = NULL;

	l = sc_send(rmh_port(h, "smtp"), BOB,
		    "From: <s@far.test>\r\nSubject: fx15\r\n"
		    "X-Fx15: copies\r\n\r\nbody t-fx15\r\n");
	g_assert_true(g_str_has_prefix(l, "250 "));
	g_free(l);
	a = copies(h, "body t-fx15");
	g_assert_cmpuint(a->len, ==, 2);
	for (guint i = 0; i < a->len; i++) {
		const char *p = g_ptr_array_index(a, i);

		if (strstr(p, "/One/") != NULL)
			one = p;
		if (strstr(p, "/Two/") != NULL)
			two = p;
	}
	g_assert_nonnull(one);
	g_assert_nonnull(two);
	/* {uid},{size},{date},{modseq},{flags}.eml: \Seen on the first */
	g_assert_nonnull(strchr(strrchr(one, ','), 'S'));
	/* the second copy's keyword, as the core folded it, in the
	 * mailbox's keyword table (mail/{enc}/keywords, beside its shards) */
	shard = g_path_get_dirname(two);
	mbox = g_path_get_dirname(shard);
	kwpath = g_build_filename(mbox, "keywords", NULL);
	g_free(shard);
	g_free(mbox);
	if (!g_file_get_contents(kwpath, &kw, NULL, NULL))
		g_error("no %s", kwpath);
	g_assert_nonnull(strstr(kw, "STRASSE"));
	g_free(kw);
	g_free(kwpath);
	g_ptr_array_unref(a);

	l = sc_send(rmh_port(h, "smtp"), BOB,
		    "From: <s@far.test>\r\nSubject: plain\r\n\r\n"
		    "body t-fx15-plain\r\n");
	g_assert_true(g_str_has_prefix(l, "250 "));
	g_free(l);
	a = copies(h, "body t-fx15-plain");
	g_assert_cmpuint(a->len, ==, 1);
	g_assert_nonnull(strstr(g_ptr_array_index(a, 0), "/INBOX/"));
	g_ptr_array_unref(a);
	g_assert_cmpint(rmh_stop(h), ==, 0);
	rmh_free(h);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_assert_cmpint(argc, >, 1);
	fx15_dir = argv[1];
	g_test_add_func("/abi/v1_5/sizes", test_sizes);
	g_test_add_func("/abi/v1_5/copies", test_copies);
	return g_test_run();
}
