/*
 * ABI 1.6, frozen: the 1.6 sizes as tests/abi/v1_6 computes them, and
 * mod_fx16probe (built against those headers alone) loaded by today's
 * core.  It files a marked port-25 message into a mailbox named by what
 * the 1.6 entries answered (see v1_6/fx16_probe.c): search_text of the
 * body and of From, index_match of the Subject, duplicate_check of the
 * tag per recipient and rate_keys' count of the tag rate_note noted.
 * Argument: the fx16 fixture directory.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include <rmail/rmail.h>

#include "harness.h"
#include "spam_common.h"

#define BOB "bob@example.test"

extern const size_t fx16_core_size, fx16_store_ops_size;

static const char *fx16_dir;

static void test_sizes(void)
{
	g_assert_cmpuint(RMAIL_CORE_SIZE_1_6, ==, fx16_core_size);
	g_assert_cmpuint(RMAIL_STORE_OPS_SIZE_1_6, ==, fx16_store_ops_size);
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
			i < G_N_ELEMENTS(own) ? own[i] : "mod_fx16probe.so";

		src = g_build_filename(i < G_N_ELEMENTS(own)
					       ? g_getenv("RMAIL_MODULE_DIR")
					       : fx16_dir,
				       name, NULL);
		dst = g_build_filename(dir, name, NULL);
		g_assert_cmpint(symlink(src, dst), ==, 0);
		g_free(src);
		g_free(dst);
	}
	rmh_setf(h, "module_dir", "\"%s\"", dir);
	g_free(dir);
	rmh_set(h, "modules",
		"[\"mod_shardstore\", \"mod_smtp\", \"mod_fx16probe\"]");
	rmh_setf(h, "smtp",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"submission_listen\": [], "
		 "\"smtps_listen\": []}",
		 rmh_port(h, "smtp"));
	rmh_set(h, "mailauth", "{\"inbound\": false}");
	rmh_write_config(h);
	add[2] = rmh_config_path(h);
	if (rmh_run_argv(h, add, "pw-bob-16\n", &out, &errs) != 0)
		g_error("user add: %s%s", out, errs);
	g_free(out);
	g_free(errs);
	g_assert_true(rmh_start(h));
	return h;
}

/* sends msg to bob and checks its one stored copy is in mailbox want */
static void deliver(struct rmh *h, const char *msg, const char *tag,
		    const char *want)
{
	char *l = sc_send(rmh_port(h, "smtp"), BOB, msg);
	char *dir = g_build_filename(rmh_dir(h), "mail", NULL);
	char *seg = g_strdup_printf("/%s/", want);
	GPtrArray *a = g_ptr_array_new_with_free_func(g_free);

	g_assert_true(g_str_has_prefix(l, "250 "));
	g_free(l);
	sc_find_all(dir, tag, a);
	g_assert_cmpuint(a->len, ==, 1);
	if (strstr(g_ptr_array_index(a, 0), seg) == NULL)
		g_error("%s: stored as %s, expected in %s", tag,
			(const char *)g_ptr_array_index(a, 0), want);
	g_ptr_array_unref(a);
	g_free(seg);
	g_free(dir);
}

static void test_probe(void)
{
	struct rmh *h = start();

	/* every entry hits: body, From, Subject; a first delivery */
	deliver(h,
		"From: Sender <S@Far.Test>\r\nSubject: A PROBE of 1.6\r\n"
		"X-Fx16: a1\r\n\r\nGrosse STRASSE, t-fx16-a\r\n",
		"t-fx16-a", "Fx16-new-bfs-r1");
	/* the same tag again: a duplicate, counted twice */
	deliver(h,
		"From: Sender <S@Far.Test>\r\nSubject: A PROBE of 1.6\r\n"
		"X-Fx16: a1\r\n\r\nGrosse STRASSE, t-fx16-b\r\n",
		"t-fx16-b", "Fx16-dup-bfs-r2");
	/* nothing matches: another sender, subject and body */
	deliver(h,
		"From: <other@near.test>\r\nSubject: plain\r\n"
		"X-Fx16: b2\r\n\r\nno street here, t-fx16-c\r\n",
		"t-fx16-c", "Fx16-new-___-r1");
	/* unmarked: the filter leaves it alone */
	deliver(h, "From: <s@far.test>\r\nSubject: probe\r\n\r\nt-fx16-d\r\n",
		"t-fx16-d", "INBOX");
	g_assert_cmpint(rmh_stop(h), ==, 0);
	rmh_free(h);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_assert_cmpint(argc, >, 1);
	fx16_dir = argv[1];
	g_test_add_func("/abi/v1_6/sizes", test_sizes);
	g_test_add_func("/abi/v1_6/probe", test_probe);
	return g_test_run();
}
