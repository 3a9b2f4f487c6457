/*
 * rmail user / alias / quota run as real processes (build/rmail, the
 * built mod_shardstore.so) on a temporary mail root.
 */
#include <glib.h>
#include <string.h>

#include <jansson.h>

#include "harness.h"

static int run_status(struct rmh_store *f, const char *input, const char *args)
{
	struct rmh_cmd r = rmh_store_run(f, input, args);
	int s = r.status;

	rmh_cmd_free(&r);
	return s;
}

static json_t *run_json(struct rmh_store *f, const char *args)
{
	struct rmh_cmd r = rmh_store_run(f, NULL, args);
	json_error_t jerr;
	json_t *j;

	g_assert_cmpint(r.status, ==, 0);
	j = json_loads(r.out, 0, &jerr);
	if (j == NULL)
		g_error("not JSON (%s): %s", jerr.text, r.out);
	rmh_cmd_free(&r);
	return j;
}

static char *user_json(struct rmh_store *f, const char *dom, const char *local)
{
	char *path, *text = NULL;

	path = g_strdup_printf("%s/mail/domains/%s/users/%s/user.json", f->dir,
			       dom, local);
	if (!g_file_get_contents(path, &text, NULL, NULL))
		text = NULL;
	g_free(path);
	return text;
}

static void test_users(struct rmh_store *f, gconstpointer data)
{
	json_t *arr, *u;
	struct rmh_cmd r;
	char *before, *after;

	(void)data;
	g_assert_cmpint(run_status(f, "s3cret",
				   "user add Alice@Example.COM "
				   "--password-stdin --admin"),
			==, 0);
	g_assert_cmpint(run_status(f, "pw",
				   "user add bob@example.com "
				   "--password-stdin --quota-mb 5"),
			==, 0);
	g_assert_cmpint(run_status(f, "pw",
				   "user add carl@other.test "
				   "--password-stdin"),
			==, 0);

	r = rmh_store_run(f, "pw", "user add bob@EXAMPLE.com --password-stdin");
	g_assert_cmpint(r.status, ==, 1);
	g_assert_nonnull(strstr(r.err, "exists"));
	g_assert_null(strchr(strchr(r.err, '\n') + 1, '\n'));
	rmh_cmd_free(&r);
	/* no terminal and no --password-stdin: refused, not hung */
	g_assert_cmpint(run_status(f, NULL, "user add dan@example.com"), ==, 1);
	g_assert_cmpint(run_status(f, NULL, "user add"), ==, 2);
	g_assert_cmpint(run_status(f, NULL,
				   "user add x@example.com "
				   "--bogus"),
			==, 2);
	g_assert_cmpint(run_status(f, NULL, "user frobnicate"), ==, 2);

	arr = run_json(f, "user list --json");
	g_assert_true(json_is_array(arr));
	g_assert_cmpuint(json_array_size(arr), ==, 3);
	u = json_array_get(arr, 0);
	g_assert_cmpstr(json_string_value(json_object_get(u, "address")), ==,
			"alice@example.com");
	g_assert_true(json_is_true(json_object_get(u, "admin")));
	g_assert_cmpint(json_integer_value(json_object_get(u, "quota_mb")), ==,
			1024);
	u = json_array_get(arr, 1);
	g_assert_cmpstr(json_string_value(json_object_get(u, "address")), ==,
			"bob@example.com");
	g_assert_cmpint(json_integer_value(json_object_get(u, "quota_mb")), ==,
			5);
	json_decref(arr);
	arr = run_json(f, "user list other.test --json");
	g_assert_cmpuint(json_array_size(arr), ==, 1);
	json_decref(arr);

	/* passwd: a new hash and a new token generation */
	before = user_json(f, "example.com", "bob");
	g_assert_nonnull(before);
	g_assert_null(strstr(before, "\"pw\""));
	g_assert_cmpint(run_status(f, "new pw",
				   "user passwd bob@example.com "
				   "--password-stdin"),
			==, 0);
	after = user_json(f, "example.com", "bob");
	g_assert_cmpstr(before, !=, after);
	g_free(before);
	g_free(after);
	g_assert_cmpint(run_status(f, "x",
				   "user passwd nobody@example.com "
				   "--password-stdin"),
			==, 1);

	g_assert_cmpint(run_status(f, NULL,
				   "user set bob@example.com "
				   "--disabled yes --quota-mb 9 --admin yes"),
			==, 0);
	arr = run_json(f, "user list example.com --json");
	u = json_array_get(arr, 1);
	g_assert_true(json_is_true(json_object_get(u, "disabled")));
	g_assert_true(json_is_true(json_object_get(u, "admin")));
	g_assert_cmpint(json_integer_value(json_object_get(u, "quota_mb")), ==,
			9);
	json_decref(arr);
	g_assert_cmpint(run_status(f, NULL,
				   "user set bob@example.com "
				   "--disabled perhaps"),
			==, 2);
	g_assert_cmpint(run_status(f, NULL, "user set bob@example.com"), ==, 2);

	r = rmh_store_run(f, NULL, "user list");
	g_assert_cmpint(r.status, ==, 0);
	g_assert_nonnull(strstr(r.out, "bob@example.com"));
	g_assert_nonnull(strstr(r.out, "disabled"));
	rmh_cmd_free(&r);

	g_assert_cmpint(run_status(f, NULL, "user del bob@example.com"), ==, 0);
	g_assert_cmpint(run_status(f, NULL, "user del bob@example.com"), ==, 1);
	g_assert_cmpint(run_status(f, NULL,
				   "user del carl@other.test "
				   "--purge"),
			==, 0);
	arr = run_json(f, "user list --json");
	g_assert_cmpuint(json_array_size(arr), ==, 1);
	json_decref(arr);
}

static void test_aliases_quota(struct rmh_store *f, gconstpointer data)
{
	json_t *arr, *a, *q;
	struct rmh_cmd r;

	(void)data;
	g_assert_cmpint(run_status(f, "pw",
				   "user add alice@example.com "
				   "--password-stdin --quota-mb 2"),
			==, 0);
	g_assert_cmpint(run_status(f, "pw",
				   "user add bob@example.com "
				   "--password-stdin"),
			==, 0);
	g_assert_cmpint(run_status(f, NULL,
				   "alias add Sales@example.com "
				   "alice@example.com BOB@example.com"),
			==, 0);
	g_assert_cmpint(run_status(f, NULL, "alias add sales@example.com"), ==,
			2);
	g_assert_cmpint(run_status(f, NULL,
				   "alias add alice@example.com "
				   "bob@example.com"),
			==, 1);
	arr = run_json(f, "alias list --json");
	g_assert_cmpuint(json_array_size(arr), ==, 1);
	a = json_array_get(arr, 0);
	g_assert_cmpstr(json_string_value(json_object_get(a, "alias")), ==,
			"sales@example.com");
	g_assert_cmpuint(json_array_size(json_object_get(a, "targets")), ==, 2);
	g_assert_cmpstr(json_string_value(json_array_get(
				json_object_get(a, "targets"), 1)),
			==, "bob@example.com");
	json_decref(arr);
	r = rmh_store_run(f, NULL, "alias list");
	g_assert_cmpstr(r.out, ==,
			"sales@example.com -> alice@example.com "
			"bob@example.com\n");
	rmh_cmd_free(&r);
	g_assert_cmpint(run_status(f, NULL, "alias del sales@example.com"), ==,
			0);
	g_assert_cmpint(run_status(f, NULL, "alias del sales@example.com"), ==,
			1);
	arr = run_json(f, "alias list --json");
	g_assert_cmpuint(json_array_size(arr), ==, 0);
	json_decref(arr);

	q = run_json(f, "quota get Alice+x@example.com --json");
	g_assert_cmpint(json_integer_value(json_object_get(q, "used_bytes")),
			==, 0);
	g_assert_cmpint(json_integer_value(json_object_get(q, "limit_bytes")),
			==, 2 * 1024 * 1024);
	json_decref(q);
	r = rmh_store_run(f, NULL, "quota get alice@example.com");
	g_assert_cmpint(r.status, ==, 0);
	g_assert_nonnull(strstr(r.out, "of 2097152 bytes"));
	rmh_cmd_free(&r);
	g_assert_cmpint(run_status(f, NULL, "quota get ghost@example.com"), ==,
			1);
	g_assert_cmpint(run_status(f, NULL, "quota recalc"), ==, 0);
	g_assert_cmpint(run_status(f, NULL, "quota recalc alice@example.com"),
			==, 0);
	g_assert_cmpint(run_status(f, NULL, "quota recalc ghost@example.com"),
			==, 1);
}

/* `rmail check-store` is the store's check op, run by the real CLI:
 * a clean root, then a stray file and a damaged quota cache found,
 * repaired, and clean again */
static void test_check_store(struct rmh_store *f, gconstpointer d)
{
	struct rmh_cmd r;
	char *p, *dir;

	(void)d;
	g_assert_cmpint(run_status(f, "pw-alice\n",
				   "user add alice@example.com "
				   "--password-stdin"),
			==, 0);
	r = rmh_store_run(f, NULL, "check-store");
	g_assert_cmpint(r.status, ==, 0);
	g_assert_nonnull(strstr(r.out, "check-store: 0 problems found"));
	rmh_cmd_free(&r);
	p = g_strdup_printf("%s/mail/domains/example.com/users/alice/mail/"
			    "INBOX/s0/stray.txt",
			    f->dir);
	dir = g_path_get_dirname(p);
	g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
	g_free(dir);
	g_assert_true(g_file_set_contents(p, "x", -1, NULL));
	g_free(p);
	p = g_strdup_printf("%s/mail/domains/example.com/users/alice/quota",
			    f->dir);
	g_assert_true(
		g_file_set_contents(p, "00000000000000000042\n", -1, NULL));
	g_free(p);
	r = rmh_store_run(f, NULL, "check-store");
	g_test_message("check-store: %s", r.out);
	g_assert_cmpint(r.status, ==, 1);
	g_assert_nonnull(strstr(r.out, "stray.txt: not a message file name"));
	g_assert_nonnull(strstr(r.out, "alice@example.com: quota usage cache "
				       "says 42 bytes"));
	g_assert_nonnull(strstr(r.out, "2 problems found, 2 left"));
	rmh_cmd_free(&r);
	r = rmh_store_run(f, NULL, "check-store --repair");
	g_assert_nonnull(strstr(r.out, "(repaired)"));
	/* a stray name is the admin's to look at: it stays */
	g_assert_nonnull(strstr(r.out, "2 problems found, 1 left"));
	rmh_cmd_free(&r);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add("/e2e/cli/users", struct rmh_store, NULL, rmh_store_setup,
		   test_users, rmh_store_teardown);
	g_test_add("/e2e/cli/aliases-quota", struct rmh_store, NULL,
		   rmh_store_setup, test_aliases_quota, rmh_store_teardown);
	g_test_add("/e2e/cli/check-store", struct rmh_store, NULL,
		   rmh_store_setup, test_check_store, rmh_store_teardown);
	return g_test_run();
}
