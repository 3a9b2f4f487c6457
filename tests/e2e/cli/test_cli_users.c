/*
 * rmail user / alias / quota run as real processes (build/rmail, the
 * built mod_shardstore.so) on a temporary mail root.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

struct fx {
	char *dir;
	char *config;
};

struct run {
	int status;
	char *out;
	char *err;
};

static void fx_setup(struct fx *f, gconstpointer data)
{
	const char *mods = g_getenv("RMAIL_MODULE_DIR");
	char *text, *root;

	(void)data;
	f->dir = g_dir_make_tmp("rmcli-XXXXXX", NULL);
	g_assert_nonnull(f->dir);
	root = g_build_filename(f->dir, "mail", NULL);
	g_assert_cmpint(g_mkdir(root, 0700), ==, 0);
	f->config = g_build_filename(f->dir, "config.json", NULL);
	text = g_strdup_printf("{\"hostname\": \"mx.test\", \"mail_root\": "
			       "\"%s\", \"module_dir\": \"%s\", \"modules\": "
			       "[\"mod_shardstore\"]}\n", root,
			       mods != NULL ? mods : "modules");
	g_assert_true(g_file_set_contents(f->config, text, -1, NULL));
	g_free(text);
	g_free(root);
}

static void rm_rf(const char *path)
{
	char *argv[] = { "rm", "-rf", (char *)path, NULL };

	g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH,
				   NULL, NULL, NULL, NULL, NULL, NULL));
}

static void fx_teardown(struct fx *f, gconstpointer data)
{
	(void)data;
	rm_rf(f->dir);
	g_free(f->dir);
	g_free(f->config);
}

/* a new session has no controlling terminal: nothing can prompt */
static void no_tty(gpointer data)
{
	(void)data;
	setsid();
}

/* run `rmail -c config ARGS`, with `input` on stdin when not NULL */
static struct run run(struct fx *f, const char *input, const char *args)
{
	const char *bin = g_getenv("RMAIL_BIN");
	struct run r = { 0 };
	GError *error = NULL;
	char *cmd, *qbin, *qconf, *qin, *argv[4];
	int status = 0;

	g_assert_nonnull(bin);
	qbin = g_shell_quote(bin);
	qconf = g_shell_quote(f->config);
	qin = g_shell_quote(input != NULL ? input : "");
	if (input != NULL)
		cmd = g_strdup_printf("printf '%%s\\n' %s | %s -c %s %s",
				      qin, qbin, qconf, args);
	else
		cmd = g_strdup_printf("%s -c %s %s </dev/null", qbin, qconf,
				      args);
	argv[0] = "/bin/sh";
	argv[1] = "-c";
	argv[2] = cmd;
	argv[3] = NULL;
	g_assert_true(g_spawn_sync(NULL, argv, NULL, 0, no_tty, NULL, &r.out,
				   &r.err, &status, &error));
	g_assert_no_error(error);
	r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
	g_test_message("$ rmail %s -> %d\n%s%s", args, r.status, r.out,
		       r.err);
	g_free(cmd);
	g_free(qbin);
	g_free(qconf);
	g_free(qin);
	return r;
}

static void run_free(struct run *r)
{
	g_free(r->out);
	g_free(r->err);
}

static int run_status(struct fx *f, const char *input, const char *args)
{
	struct run r = run(f, input, args);
	int s = r.status;

	run_free(&r);
	return s;
}

static json_t *run_json(struct fx *f, const char *args)
{
	struct run r = run(f, NULL, args);
	json_error_t jerr;
	json_t *j;

	g_assert_cmpint(r.status, ==, 0);
	j = json_loads(r.out, 0, &jerr);
	if (j == NULL)
		g_error("not JSON (%s): %s", jerr.text, r.out);
	run_free(&r);
	return j;
}

static char *user_json(struct fx *f, const char *dom, const char *local)
{
	char *path, *text = NULL;

	path = g_strdup_printf("%s/mail/domains/%s/users/%s/user.json",
			       f->dir, dom, local);
	if (!g_file_get_contents(path, &text, NULL, NULL))
		text = NULL;
	g_free(path);
	return text;
}

static void test_users(struct fx *f, gconstpointer data)
{
	json_t *arr, *u;
	struct run r;
	char *before, *after;

	(void)data;
	g_assert_cmpint(run_status(f, "s3cret", "user add Alice@Example.COM "
				   "--password-stdin --admin"), ==, 0);
	g_assert_cmpint(run_status(f, "pw", "user add bob@example.com "
				   "--password-stdin --quota-mb 5"), ==, 0);
	g_assert_cmpint(run_status(f, "pw", "user add carl@other.test "
				   "--password-stdin"), ==, 0);

	r = run(f, "pw", "user add bob@EXAMPLE.com --password-stdin");
	g_assert_cmpint(r.status, ==, 1);
	g_assert_nonnull(strstr(r.err, "exists"));
	g_assert_null(strchr(strchr(r.err, '\n') + 1, '\n'));
	run_free(&r);
	/* no terminal and no --password-stdin: refused, not hung */
	g_assert_cmpint(run_status(f, NULL, "user add dan@example.com"), ==,
			1);
	g_assert_cmpint(run_status(f, NULL, "user add"), ==, 2);
	g_assert_cmpint(run_status(f, NULL, "user add x@example.com "
				   "--bogus"), ==, 2);
	g_assert_cmpint(run_status(f, NULL, "user frobnicate"), ==, 2);

	arr = run_json(f, "user list --json");
	g_assert_true(json_is_array(arr));
	g_assert_cmpuint(json_array_size(arr), ==, 3);
	u = json_array_get(arr, 0);
	g_assert_cmpstr(json_string_value(json_object_get(u, "address")), ==,
			"alice@example.com");
	g_assert_true(json_is_true(json_object_get(u, "admin")));
	g_assert_cmpint(json_integer_value(json_object_get(u, "quota_mb")),
			==, 1024);
	u = json_array_get(arr, 1);
	g_assert_cmpstr(json_string_value(json_object_get(u, "address")), ==,
			"bob@example.com");
	g_assert_cmpint(json_integer_value(json_object_get(u, "quota_mb")),
			==, 5);
	json_decref(arr);
	arr = run_json(f, "user list other.test --json");
	g_assert_cmpuint(json_array_size(arr), ==, 1);
	json_decref(arr);

	/* passwd: a new hash and a new token generation */
	before = user_json(f, "example.com", "bob");
	g_assert_nonnull(before);
	g_assert_null(strstr(before, "\"pw\""));
	g_assert_cmpint(run_status(f, "new pw", "user passwd bob@example.com "
				   "--password-stdin"), ==, 0);
	after = user_json(f, "example.com", "bob");
	g_assert_cmpstr(before, !=, after);
	g_free(before);
	g_free(after);
	g_assert_cmpint(run_status(f, "x", "user passwd nobody@example.com "
				   "--password-stdin"), ==, 1);

	g_assert_cmpint(run_status(f, NULL, "user set bob@example.com "
				   "--disabled yes --quota-mb 9 --admin yes"),
			==, 0);
	arr = run_json(f, "user list example.com --json");
	u = json_array_get(arr, 1);
	g_assert_true(json_is_true(json_object_get(u, "disabled")));
	g_assert_true(json_is_true(json_object_get(u, "admin")));
	g_assert_cmpint(json_integer_value(json_object_get(u, "quota_mb")),
			==, 9);
	json_decref(arr);
	g_assert_cmpint(run_status(f, NULL, "user set bob@example.com "
				   "--disabled perhaps"), ==, 2);
	g_assert_cmpint(run_status(f, NULL, "user set bob@example.com"), ==,
			2);

	r = run(f, NULL, "user list");
	g_assert_cmpint(r.status, ==, 0);
	g_assert_nonnull(strstr(r.out, "bob@example.com"));
	g_assert_nonnull(strstr(r.out, "disabled"));
	run_free(&r);

	g_assert_cmpint(run_status(f, NULL, "user del bob@example.com"), ==,
			0);
	g_assert_cmpint(run_status(f, NULL, "user del bob@example.com"), ==,
			1);
	g_assert_cmpint(run_status(f, NULL, "user del carl@other.test "
				   "--purge"), ==, 0);
	arr = run_json(f, "user list --json");
	g_assert_cmpuint(json_array_size(arr), ==, 1);
	json_decref(arr);
}

static void test_aliases_quota(struct fx *f, gconstpointer data)
{
	json_t *arr, *a, *q;
	struct run r;

	(void)data;
	g_assert_cmpint(run_status(f, "pw", "user add alice@example.com "
				   "--password-stdin --quota-mb 2"), ==, 0);
	g_assert_cmpint(run_status(f, "pw", "user add bob@example.com "
				   "--password-stdin"), ==, 0);
	g_assert_cmpint(run_status(f, NULL, "alias add Sales@example.com "
				   "alice@example.com BOB@example.com"), ==,
			0);
	g_assert_cmpint(run_status(f, NULL, "alias add sales@example.com"),
			==, 2);
	g_assert_cmpint(run_status(f, NULL, "alias add alice@example.com "
				   "bob@example.com"), ==, 1);
	arr = run_json(f, "alias list --json");
	g_assert_cmpuint(json_array_size(arr), ==, 1);
	a = json_array_get(arr, 0);
	g_assert_cmpstr(json_string_value(json_object_get(a, "alias")), ==,
			"sales@example.com");
	g_assert_cmpuint(json_array_size(json_object_get(a, "targets")), ==,
			 2);
	g_assert_cmpstr(json_string_value(json_array_get(
		json_object_get(a, "targets"), 1)), ==, "bob@example.com");
	json_decref(arr);
	r = run(f, NULL, "alias list");
	g_assert_cmpstr(r.out, ==, "sales@example.com -> alice@example.com "
			"bob@example.com\n");
	run_free(&r);
	g_assert_cmpint(run_status(f, NULL, "alias del sales@example.com"),
			==, 0);
	g_assert_cmpint(run_status(f, NULL, "alias del sales@example.com"),
			==, 1);
	arr = run_json(f, "alias list --json");
	g_assert_cmpuint(json_array_size(arr), ==, 0);
	json_decref(arr);

	q = run_json(f, "quota get Alice+x@example.com --json");
	g_assert_cmpint(json_integer_value(json_object_get(q, "used_bytes")),
			==, 0);
	g_assert_cmpint(json_integer_value(json_object_get(q, "limit_bytes")),
			==, 2 * 1024 * 1024);
	json_decref(q);
	r = run(f, NULL, "quota get alice@example.com");
	g_assert_cmpint(r.status, ==, 0);
	g_assert_nonnull(strstr(r.out, "of 2097152 bytes"));
	run_free(&r);
	g_assert_cmpint(run_status(f, NULL, "quota get ghost@example.com"),
			==, 1);
	g_assert_cmpint(run_status(f, NULL, "quota recalc"), ==, 0);
	g_assert_cmpint(run_status(f, NULL, "quota recalc alice@example.com"),
			==, 0);
	g_assert_cmpint(run_status(f, NULL, "quota recalc ghost@example.com"),
			==, 1);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add("/e2e/cli/users", struct fx, NULL, fx_setup, test_users,
		   fx_teardown);
	g_test_add("/e2e/cli/aliases-quota", struct fx, NULL, fx_setup,
		   test_aliases_quota, fx_teardown);
	return g_test_run();
}
