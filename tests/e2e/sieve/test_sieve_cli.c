/*
 * `rmail sieve ...` and `rmail import sieve` on a real mail root: a
 * Pigeonhole home (~/sieve/NAME.sieve, ~/.dovecot.sieve a symlink) is
 * imported with the symlinked script active and a script that does not
 * compile reported and skipped; the admin commands store (compiled
 * first), show, rename, activate and delete.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define ALICE "alice@example.test"

static struct rmh *H;

static int run(const char *input, char **out_r, const char *a0, ...)
{
	const char *argv[16] = {"rmail", "-c", rmh_config_path(H), a0};
	size_t n = 4;
	char *out = NULL, *err = NULL;
	const char *a;
	va_list ap;
	int rc;

	va_start(ap, a0);
	while ((a = va_arg(ap, const char *)) != NULL && n < 15)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	rc = rmh_run_argv(H, argv, input, &out, &err);
	*out_r = g_strconcat(out, err, NULL);
	g_test_message("%s %s: %d %s", a0, argv[4], rc, *out_r);
	g_free(out);
	g_free(err);
	return rc;
}

static void test_import_pigeonhole(void)
{
	char *home = g_build_filename(rmh_dir(H), "home", NULL);
	char *sdir = g_build_filename(home, "sieve", NULL);
	char *p, *out;

	g_mkdir_with_parents(sdir, 0700);
	p = g_build_filename(sdir, "main.sieve", NULL);
	g_assert_true(g_file_set_contents(
		p, "require \"fileinto\";\nfileinto \"Lists\";\n", -1, NULL));
	g_free(p);
	p = g_build_filename(sdir, "spare.sieve", NULL);
	g_assert_true(g_file_set_contents(p, "keep;\n", -1, NULL));
	g_free(p);
	p = g_build_filename(sdir, "dovecot-only.sieve", NULL);
	g_assert_true(g_file_set_contents(
		p, "require \"vnd.dovecot.pipe\";\npipe \"x\";\n", -1, NULL));
	g_free(p);
	p = g_build_filename(home, ".dovecot.sieve", NULL);
	g_assert_cmpint(symlink("sieve/main.sieve", p), ==, 0);
	g_free(p);

	/* one script does not compile: reported, the others imported */
	g_assert_cmpint(run(NULL, &out, "import", "sieve", ALICE, home, NULL),
			==, 1);
	g_assert_nonnull(strstr(out, "dovecot-only.sieve"));
	g_free(out);
	g_assert_cmpint(run(NULL, &out, "sieve", "list", ALICE, NULL), ==, 0);
	g_assert_nonnull(strstr(out, "main ACTIVE"));
	g_assert_nonnull(strstr(out, "spare ("));
	g_assert_null(strstr(out, "dovecot-only"));
	g_free(out);
	g_free(sdir);
	g_free(home);
}

static void test_admin_commands(void)
{
	char *out;

	g_assert_cmpint(
		run("stop;\n", &out, "sieve", "put", ALICE, "x", "-", NULL), ==,
		0);
	g_free(out);
	g_assert_cmpint(run("frobnicate;\n", &out, "sieve", "put", ALICE, "y",
			    "-", NULL),
			==, 1);
	g_assert_nonnull(strstr(out, "line 1"));
	g_free(out);
	g_assert_cmpint(run(NULL, &out, "sieve", "get", ALICE, "x", NULL), ==,
			0);
	g_assert_cmpstr(out, ==, "stop;\n");
	g_free(out);
	g_assert_cmpint(run(NULL, &out, "sieve", "delete", ALICE, "main", NULL),
			==, 1);
	g_free(out);
	g_assert_cmpint(
		run(NULL, &out, "sieve", "rename", ALICE, "x", "z", NULL), ==,
		0);
	g_free(out);
	g_assert_cmpint(run(NULL, &out, "sieve", "activate", ALICE, "z", NULL),
			==, 0);
	g_free(out);
	g_assert_cmpint(run(NULL, &out, "sieve", "get", ALICE, NULL), ==, 0);
	g_assert_cmpstr(out, ==, "stop;\n");
	g_free(out);
	g_assert_cmpint(run(NULL, &out, "sieve", "deactivate", ALICE, NULL), ==,
			0);
	g_free(out);
	g_assert_cmpint(run(NULL, &out, "sieve", "delete", ALICE, "z", NULL),
			==, 0);
	g_free(out);
	g_assert_cmpint(run(NULL, &out, "sieve", "list", ALICE, "--json", NULL),
			==, 0);
	g_assert_nonnull(strstr(out, "\"main\""));
	g_assert_null(strstr(out, "\"z\""));
	g_free(out);
}

int main(int argc, char **argv)
{
	char *out;
	int rc;

	g_test_init(&argc, &argv, NULL);
	H = rmh_new();
	rmh_set(H, "modules", "[\"mod_shardstore\"]");
	rmh_write_config(H);
	g_assert_cmpint(run("pw-1\n", &out, "user", "add", ALICE,
			    "--password-stdin", NULL),
			==, 0);
	g_free(out);
	g_test_add_func("/sieve/cli/import-pigeonhole", test_import_pigeonhole);
	g_test_add_func("/sieve/cli/admin", test_admin_commands);
	rc = g_test_run();
	rmh_free(H);
	return rc;
}
