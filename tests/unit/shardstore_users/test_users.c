/*
 * The user directory of mod_shardstore: users, passwords, the mtime
 * re-read, aliases, resolution and quota, on a real temporary mail root.
 */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ss_mbox.h"
#include "users_int.h"

struct fx {
	char *root;
	struct ss_store st;
};

static void fx_setup(struct fx *f, gconstpointer data)
{
	struct rmail_err err;

	(void)data;
	f->root = g_dir_make_tmp("ssusers-XXXXXX", NULL);
	g_assert_nonnull(f->root);
	rmail_err_clear(&err);
	if (ss_store_open(&f->st, NULL, f->root, &err) < 0)
		g_error("ss_store_open: %s", err.msg);
}

static void fx_teardown(struct fx *f, gconstpointer data)
{
	(void)data;
	ss_store_close(&f->st);
	g_assert_cmpint(ss_rmtree_at(AT_FDCWD, f->root), ==, 0);
	g_free(f->root);
}

static char *user_file(struct fx *f, const char *local, const char *dom,
		       const char *name)
{
	return g_strdup_printf("%s/domains/%s/users/%s/%s", f->root, dom, local,
			       name);
}

/* replace a file the way an editor does, with a visibly new identity */
static void hand_edit(const char *path, const char *text)
{
	char *tmp = g_strconcat(path, ".edit", NULL);

	g_assert_true(g_file_set_contents(tmp, text, -1, NULL));
	g_assert_cmpint(rename(tmp, path), ==, 0);
	g_free(tmp);
}

static void add_ok(struct fx *f, const char *addr, const char *pw)
{
	struct rmail_err err;

	rmail_err_clear(&err);
	if (ss_user_add(&f->st, addr, pw, 0, -1, &err) < 0)
		g_error("add %s: %s", addr, err.msg);
}

/* ---- users ------------------------------------------------------------ */

static void test_add_get(struct fx *f, gconstpointer data)
{
	struct rmail_user u;
	struct rmail_err err;
	char *path, *text;

	(void)data;
	g_assert_cmpint(ss_user_add(&f->st, "Alice@Example.COM", "s3cret!", 1,
				    -1, &err),
			==, 0);
	g_assert_cmpint(
		ss_user_get(&f->st, "ALICE+lists@example.com", &u, &err), ==,
		0);
	g_assert_cmpstr(u.address, ==, "alice@example.com");
	g_assert_cmpint(u.admin, ==, 1);
	g_assert_cmpint(u.disabled, ==, 0);
	g_assert_cmpuint(u.quota_bytes, ==, 1024ull * 1024 * 1024);
	g_assert_cmpint(u.created, >, 0);
	g_assert_cmpuint(u.token_gen, >, 0);

	path = user_file(f, "alice", "example.com", "user.json");
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	g_assert_null(strstr(text, "s3cret!"));
	g_assert_nonnull(strstr(text, "\"password_hash\": \"$y$"));
	g_assert_nonnull(strstr(text, "\"quota_mb\": 1024"));
	g_free(text);
	g_free(path);

	g_assert_cmpint(
		ss_user_add(&f->st, "alice@example.com", "x", 0, -1, &err), ==,
		-1);
	g_assert_cmpint(err.code, ==, RMAIL_E_EXISTS);
	g_assert_cmpint(ss_user_get(&f->st, "bob@example.com", &u, &err), ==,
			-1);
	g_assert_cmpint(err.code, ==, RMAIL_E_NOENT);
	g_assert_cmpint(ss_user_add(&f->st, "no-at-sign", "x", 0, -1, &err), ==,
			-1);
	g_assert_cmpint(err.code, ==, RMAIL_E_INVAL);
	g_assert_cmpint(ss_user_add(&f->st, "q@example.com", "x", 0, 5, &err),
			==, 0);
	g_assert_cmpint(ss_user_get(&f->st, "q@example.com", &u, &err), ==, 0);
	g_assert_cmpuint(u.quota_bytes, ==, 5ull * 1024 * 1024);
}

static void test_verify(struct fx *f, gconstpointer data)
{
	struct rmail_user u;
	struct rmail_err e1, e2, e3;

	(void)data;
	add_ok(f, "carol@example.org", "right horse");
	g_assert_cmpint(ss_user_verify(&f->st, "Carol+x@EXAMPLE.org",
				       "right horse", &u, &e1),
			==, 0);
	g_assert_cmpstr(u.address, ==, "carol@example.org");
	g_assert_cmpint(ss_user_verify(&f->st, "carol@example.org",
				       "wrong horse", &u, &e1),
			==, -1);
	g_assert_cmpint(ss_user_verify(&f->st, "nobody@example.org",
				       "right horse", &u, &e2),
			==, -1);
	g_assert_cmpint(ss_user_verify(&f->st, "garbage", "x", &u, &e3), ==,
			-1);
	g_assert_cmpint(e1.code, ==, RMAIL_E_AUTH);
	g_assert_cmpint(e2.code, ==, RMAIL_E_AUTH);
	g_assert_cmpint(e3.code, ==, RMAIL_E_AUTH);
	g_assert_cmpstr(e1.msg, ==, e2.msg);
	g_assert_cmpstr(e1.msg, ==, e3.msg);
	g_assert_cmpint(
		ss_user_verify(&f->st, "carol@example.org", "", &u, &e1), ==,
		-1);
	g_assert_cmpint(
		ss_user_verify(&f->st, "carol@example.org", NULL, &u, &e1), ==,
		-1);
}

static void test_imported_hash(struct fx *f, gconstpointer data)
{
	struct crypt_data cd;
	struct rmail_user u;
	struct rmail_err err;
	char *path, *text;
	const char *h;

	(void)data;
	add_ok(f, "dave@example.net", "initial");
	memset(&cd, 0, sizeof(cd));
	h = crypt_rn("imported pw", "$6$abcdefgh12345678$", &cd, sizeof(cd));
	g_assert_nonnull(h);
	g_assert_true(g_str_has_prefix(h, "$6$"));
	path = user_file(f, "dave", "example.net", "user.json");
	text = g_strdup_printf("{\"password_hash\": \"%s\", \"admin\": false,"
			       " \"quota_mb\": 10, \"token_gen\": 7}\n",
			       h);
	hand_edit(path, text);
	g_assert_cmpint(ss_user_verify(&f->st, "dave@example.net",
				       "imported pw", &u, &err),
			==, 0);
	g_assert_cmpuint(u.token_gen, ==, 7);
	g_assert_cmpint(
		ss_user_verify(&f->st, "dave@example.net", "initial", &u, &err),
		==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_AUTH);
	g_free(text);
	g_free(path);
}

static void test_disabled_and_gen(struct fx *f, gconstpointer data)
{
	struct rmail_user_update upd = {
		.size = sizeof(struct rmail_user_update),
		.admin = -1,
		.disabled = -1,
		.quota_mb = -1,
		.password = NULL};
	struct rmail_user u;
	struct rmail_err err;
	uint64_t g0, g1, g2;

	(void)data;
	add_ok(f, "erin@example.com", "pw1");
	g_assert_cmpint(ss_user_get(&f->st, "erin@example.com", &u, &err), ==,
			0);
	g0 = u.token_gen;

	upd.admin = 1;
	upd.quota_mb = 7;
	g_assert_cmpint(ss_user_update(&f->st, "erin@example.com", &upd, &err),
			==, 0);
	g_assert_cmpint(ss_user_get(&f->st, "erin@example.com", &u, &err), ==,
			0);
	g_assert_cmpint(u.admin, ==, 1);
	g_assert_cmpuint(u.quota_bytes, ==, 7ull << 20);
	g_assert_cmpuint(u.token_gen, ==, g0);

	upd = (struct rmail_user_update){
		.size = sizeof(struct rmail_user_update),
		.admin = -1,
		.disabled = 1,
		.quota_mb = -1,
		.password = NULL};
	g_assert_cmpint(ss_user_update(&f->st, "erin@example.com", &upd, &err),
			==, 0);
	g_assert_cmpint(
		ss_user_verify(&f->st, "erin@example.com", "pw1", &u, &err), ==,
		-1);
	g_assert_cmpint(err.code, ==, RMAIL_E_DISABLED);
	g_assert_cmpint(
		ss_user_verify(&f->st, "erin@example.com", "bad", &u, &err), ==,
		-1);
	g_assert_cmpint(err.code, ==, RMAIL_E_AUTH);
	g_assert_cmpint(ss_user_get(&f->st, "erin@example.com", &u, &err), ==,
			0);
	g1 = u.token_gen;
	g_assert_cmpuint(g1, !=, g0);

	upd = (struct rmail_user_update){
		.size = sizeof(struct rmail_user_update),
		.admin = -1,
		.disabled = 0,
		.quota_mb = -1,
		.password = "pw2"};
	g_assert_cmpint(ss_user_update(&f->st, "erin@example.com", &upd, &err),
			==, 0);
	g_assert_cmpint(
		ss_user_verify(&f->st, "erin@example.com", "pw1", &u, &err), ==,
		-1);
	g_assert_cmpint(err.code, ==, RMAIL_E_AUTH);
	g_assert_cmpint(
		ss_user_verify(&f->st, "erin@example.com", "pw2", &u, &err), ==,
		0);
	g2 = u.token_gen;
	g_assert_cmpuint(g2, !=, g1);
	g_assert_cmpuint(g2, !=, g0);
	g_assert_cmpint(u.admin, ==, 1);

	g_assert_cmpint(ss_user_update(&f->st, "nope@example.com", &upd, &err),
			==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_NOENT);
}

static void test_reread(struct fx *f, gconstpointer data)
{
	struct rmail_user u;
	struct rmail_err err;
	char *path;

	(void)data;
	add_ok(f, "frank@example.com", "pw");
	g_assert_cmpint(ss_user_get(&f->st, "frank@example.com", &u, &err), ==,
			0);
	g_assert_cmpint(u.admin, ==, 0);
	path = user_file(f, "frank", "example.com", "user.json");
	hand_edit(path,
		  "{\"password_hash\": \"!\", \"admin\": true, "
		  "\"quota_mb\": 3, \"token_gen\": 42, \"x-note\": \"kept\"}");
	g_assert_cmpint(ss_user_get(&f->st, "frank@example.com", &u, &err), ==,
			0);
	g_assert_cmpint(u.admin, ==, 1);
	g_assert_cmpuint(u.quota_bytes, ==, 3ull << 20);
	g_assert_cmpuint(u.token_gen, ==, 42);

	/* a syntax error keeps the last good version in force */
	hand_edit(path, "{\"admin\": false, ");
	g_assert_cmpint(ss_user_get(&f->st, "frank@example.com", &u, &err), ==,
			0);
	g_assert_cmpint(u.admin, ==, 1);
	g_assert_cmpuint(u.token_gen, ==, 42);
	hand_edit(path, "{\"admin\": \"yes\"}");
	g_assert_cmpint(ss_user_get(&f->st, "frank@example.com", &u, &err), ==,
			0);
	g_assert_cmpint(u.admin, ==, 1);
	/* an update refuses to overwrite an unreadable file */
	g_assert_cmpint(
		ss_user_update(&f->st, "frank@example.com",
			       &(struct rmail_user_update){
				       .size = sizeof(struct rmail_user_update),
				       .admin = 0,
				       .disabled = -1,
				       .quota_mb = -1,
				       .password = NULL},
			       &err),
		==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_INVAL);

	hand_edit(path, "{\"password_hash\": \"!\", \"admin\": false, "
			"\"x-note\": \"kept\"}");
	g_assert_cmpint(ss_user_get(&f->st, "frank@example.com", &u, &err), ==,
			0);
	g_assert_cmpint(u.admin, ==, 0);
	g_assert_cmpuint(u.quota_bytes, ==, 1024ull << 20);
	/* rewrites keep keys they do not know */
	g_assert_cmpint(
		ss_user_update(&f->st, "frank@example.com",
			       &(struct rmail_user_update){
				       .size = sizeof(struct rmail_user_update),
				       .admin = 1,
				       .disabled = -1,
				       .quota_mb = -1,
				       .password = NULL},
			       &err),
		==, 0);
	{
		char *text;

		g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
		g_assert_nonnull(strstr(text, "\"x-note\": \"kept\""));
		g_free(text);
	}
	g_free(path);
}

/* the syntax error is logged once, on stderr without a module context */
static void test_reread_logs(struct fx *f, gconstpointer data)
{
	struct rmail_user u;
	struct rmail_err err;
	char *path;

	(void)data;
	if (g_test_subprocess()) {
		add_ok(f, "gina@example.com", "pw");
		g_assert_cmpint(
			ss_user_get(&f->st, "gina@example.com", &u, &err), ==,
			0);
		path = user_file(f, "gina", "example.com", "user.json");
		hand_edit(path, "{ nope");
		g_assert_cmpint(
			ss_user_get(&f->st, "gina@example.com", &u, &err), ==,
			0);
		g_assert_cmpint(
			ss_user_get(&f->st, "gina@example.com", &u, &err), ==,
			0);
		g_free(path);
		return;
	}
	g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
	g_test_trap_assert_passed();
	g_test_trap_assert_stderr("*user.json: line 1*keeping the last good "
				  "version*");
}

static void collect_user(void *arg, const struct rmail_user *u)
{
	g_ptr_array_add(arg, g_strdup(u->address));
}

static void test_list(struct fx *f, gconstpointer data)
{
	GPtrArray *seen = g_ptr_array_new_with_free_func(g_free);
	struct rmail_user u;
	struct rmail_err err;
	char *dir;

	(void)data;
	add_ok(f, "b@one.test", "x");
	add_ok(f, "a@one.test", "x");
	add_ok(f, "z@two.test", "x");
	g_assert_cmpint(ss_user_list(&f->st, NULL, collect_user, seen, &err),
			==, 0);
	g_assert_cmpuint(seen->len, ==, 3);
	g_assert_cmpstr(seen->pdata[0], ==, "a@one.test");
	g_assert_cmpstr(seen->pdata[1], ==, "b@one.test");
	g_assert_cmpstr(seen->pdata[2], ==, "z@two.test");
	g_ptr_array_set_size(seen, 0);
	g_assert_cmpint(
		ss_user_list(&f->st, "ONE.test", collect_user, seen, &err), ==,
		0);
	g_assert_cmpuint(seen->len, ==, 2);
	g_ptr_array_set_size(seen, 0);
	g_assert_cmpint(
		ss_user_list(&f->st, "none.test", collect_user, seen, &err), ==,
		0);
	g_assert_cmpuint(seen->len, ==, 0);

	/* del keeps the mail, purge removes the directory */
	g_assert_cmpint(ss_user_del(&f->st, "b@one.test", 0, &err), ==, 0);
	g_assert_cmpint(ss_user_get(&f->st, "b@one.test", &u, &err), ==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_NOENT);
	dir = g_strdup_printf("%s/domains/one.test/users/b", f->root);
	g_assert_true(g_file_test(dir, G_FILE_TEST_IS_DIR));
	g_assert_cmpint(ss_user_del(&f->st, "b@one.test", 0, &err), ==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_NOENT);
	/* re-adding reuses the directory */
	add_ok(f, "b@one.test", "y");
	g_assert_cmpint(ss_user_del(&f->st, "B@one.test", 1, &err), ==, 0);
	g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));
	g_ptr_array_set_size(seen, 0);
	g_assert_cmpint(ss_user_list(&f->st, NULL, collect_user, seen, &err),
			==, 0);
	g_assert_cmpuint(seen->len, ==, 2);
	g_assert_cmpint(ss_user_del(&f->st, "ghost@one.test", 1, &err), ==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_NOENT);
	g_free(dir);
	g_ptr_array_free(seen, TRUE);
}

/* ---- aliases ------------------------------------------------------------ */

static void collect_addr(void *arg, const char *a)
{
	g_ptr_array_add(arg, g_strdup(a));
}

static int has(GPtrArray *a, const char *s)
{
	guint i;

	for (i = 0; i < a->len; i++)
		if (strcmp(a->pdata[i], s) == 0)
			return 1;
	return 0;
}

static void collect_alias(void *arg, const char *alias, const char *const *t,
			  size_t n)
{
	GString *s = arg;
	size_t i;

	g_string_append_printf(s, "%s:", alias);
	for (i = 0; i < n; i++)
		g_string_append_printf(s, " %s", t[i]);
	g_string_append_c(s, ';');
}

static void test_aliases(struct fx *f, gconstpointer data)
{
	const char *sales[] = {"Alice@example.com", "bob+x@example.com"};
	const char *loop1[] = {"loop2@example.com"};
	const char *loop2[] = {"loop1@example.com"};
	const char *nest[] = {"sales@example.com", "carl@other.test"};
	const char *self[] = {"me@example.com"};
	GPtrArray *r = g_ptr_array_new_with_free_func(g_free);
	GString *s = g_string_new(NULL);
	struct rmail_err err;

	(void)data;
	add_ok(f, "alice@example.com", "x");
	add_ok(f, "bob@example.com", "x");
	add_ok(f, "carl@other.test", "x");
	g_assert_cmpint(
		ss_alias_add(&f->st, "Sales@Example.com", sales, 2, &err), ==,
		0);
	g_assert_cmpint(ss_resolve(&f->st, "SALES+q3@example.COM", collect_addr,
				   r, &err),
			==, 0);
	g_assert_cmpuint(r->len, ==, 2);
	g_assert_true(has(r, "alice@example.com"));
	g_assert_true(has(r, "bob@example.com"));
	g_ptr_array_set_size(r, 0);
	g_assert_cmpint(ss_resolve(&f->st, "Alice+news@example.com",
				   collect_addr, r, &err),
			==, 0);
	g_assert_cmpuint(r->len, ==, 1);
	g_assert_cmpstr(r->pdata[0], ==, "alice@example.com");
	g_ptr_array_set_size(r, 0);
	g_assert_cmpint(
		ss_resolve(&f->st, "nobody@example.com", collect_addr, r, &err),
		==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_NOENT);

	/* nested aliases, duplicates once, loops end */
	g_assert_cmpint(ss_alias_add(&f->st, "all@example.com", nest, 2, &err),
			==, 0);
	g_assert_cmpint(ss_alias_add(&f->st, "all@example.com", sales, 1, &err),
			==, 0);
	g_ptr_array_set_size(r, 0);
	g_assert_cmpint(
		ss_resolve(&f->st, "all@example.com", collect_addr, r, &err),
		==, 0);
	g_assert_cmpuint(r->len, ==, 3);
	g_assert_true(has(r, "carl@other.test"));
	g_assert_cmpint(
		ss_alias_add(&f->st, "loop1@example.com", loop1, 1, &err), ==,
		0);
	g_assert_cmpint(
		ss_alias_add(&f->st, "loop2@example.com", loop2, 1, &err), ==,
		0);
	g_assert_cmpint(
		ss_resolve(&f->st, "loop1@example.com", collect_addr, r, &err),
		==, -1);
	g_assert_cmpint(ss_alias_add(&f->st, "me@example.com", self, 1, &err),
			==, -1);
	g_assert_cmpint(
		ss_alias_add(&f->st, "alice@example.com", loop1, 1, &err), ==,
		-1);
	g_assert_cmpint(err.code, ==, RMAIL_E_EXISTS);
	g_assert_cmpint(ss_alias_add(&f->st, "x@example.com", loop1, 0, &err),
			==, -1);

	g_assert_cmpint(ss_alias_list(&f->st, NULL, collect_alias, s, &err), ==,
			0);
	g_assert_cmpstr(
		s->str, ==,
		"all@example.com: sales@example.com carl@other.test "
		"alice@example.com;"
		"loop1@example.com: loop2@example.com;"
		"loop2@example.com: loop1@example.com;"
		"sales@example.com: alice@example.com bob@example.com;");
	g_assert_cmpint(ss_alias_del(&f->st, "SALES@example.com", &err), ==, 0);
	g_assert_cmpint(ss_alias_del(&f->st, "sales@example.com", &err), ==,
			-1);
	g_assert_cmpint(err.code, ==, RMAIL_E_NOENT);
	g_string_truncate(s, 0);
	g_assert_cmpint(
		ss_alias_list(&f->st, "other.test", collect_alias, s, &err), ==,
		0);
	g_assert_cmpstr(s->str, ==, "");

	/* ownership */
	g_assert_cmpint(ss_owns_address(&f->st, "alice@example.com",
					"ALICE+tag@example.com"),
			==, 1);
	g_assert_cmpint(
		ss_owns_address(&f->st, "alice@example.com", "all@example.com"),
		==, 1);
	g_assert_cmpint(
		ss_owns_address(&f->st, "bob@example.com", "all@example.com"),
		==, 0);
	g_assert_cmpint(
		ss_owns_address(&f->st, "bob@example.com", "alice@example.com"),
		==, 0);
	g_assert_cmpint(ss_owns_address(&f->st, "bob@example.com", "garbage"),
			==, 0);

	/* local domains: users or aliases */
	g_assert_cmpint(ss_domain_is_local(&f->st, "EXAMPLE.com"), ==, 1);
	g_assert_cmpint(ss_domain_is_local(&f->st, "other.test"), ==, 1);
	g_assert_cmpint(ss_domain_is_local(&f->st, "elsewhere.test"), ==, 0);
	g_assert_cmpint(
		ss_alias_add(&f->st, "info@aliasonly.test", sales, 1, &err), ==,
		0);
	g_assert_cmpint(ss_domain_is_local(&f->st, "aliasonly.test"), ==, 1);
	g_assert_cmpint(ss_alias_del(&f->st, "info@aliasonly.test", &err), ==,
			0);
	g_assert_cmpint(ss_domain_is_local(&f->st, "aliasonly.test"), ==, 0);

	g_string_free(s, TRUE);
	g_ptr_array_free(r, TRUE);
}

static void test_alias_reread(struct fx *f, gconstpointer data)
{
	GPtrArray *r = g_ptr_array_new_with_free_func(g_free);
	struct rmail_err err;
	char *path;

	(void)data;
	add_ok(f, "h@example.com", "x");
	add_ok(f, "i@example.com", "x");
	path = g_strdup_printf("%s/domains/example.com/aliases.json", f->root);
	hand_edit(path, "{\"team\": [\"h@example.com\"]}");
	g_assert_cmpint(
		ss_resolve(&f->st, "team@example.com", collect_addr, r, &err),
		==, 0);
	g_assert_cmpuint(r->len, ==, 1);
	hand_edit(path, "{\"team\": [\"h@example.com\", 3]}");
	g_ptr_array_set_size(r, 0);
	g_assert_cmpint(
		ss_resolve(&f->st, "team@example.com", collect_addr, r, &err),
		==, 0);
	g_assert_cmpuint(r->len, ==, 1);
	hand_edit(path, "{\"team\": [\"h@example.com\", \"i@example.com\"]}");
	g_ptr_array_set_size(r, 0);
	g_assert_cmpint(
		ss_resolve(&f->st, "team@example.com", collect_addr, r, &err),
		==, 0);
	g_assert_cmpuint(r->len, ==, 2);
	g_free(path);
	g_ptr_array_free(r, TRUE);
}

/* ---- quota --------------------------------------------------------------- */

/* a real append of `size` bytes (no line ends: size on disk = size) */
static void put_msg(struct fx *f, const char *user, size_t size)
{
	struct rmail_append_opts o = {.size = sizeof(o), .ignore_quota = 1};
	struct rmail_append *ap = NULL;
	struct rmail_err err;
	uint32_t uid, uidv;
	char *data = g_malloc(size);

	memset(data, 'a', size);
	rmail_err_clear(&err);
	if (ss_append_begin(&f->st, user, "INBOX", &o, &ap, &err) < 0 ||
	    ss_append_write(ap, data, size, &err) < 0 ||
	    ss_append_commit(ap, &uid, &uidv, &err) < 0)
		g_error("append to %s: %s", user, err.msg);
	ss_append_free(&ap);
	g_free(data);
}

static void test_quota(struct fx *f, gconstpointer data)
{
	struct rmail_err err;
	uint64_t used, limit;
	char *qpath;
	struct stat sb;

	(void)data;
	g_assert_cmpint(ss_user_add(&f->st, "q@example.com", "x", 0, 1, &err),
			==, 0);
	put_msg(f, "q@example.com", 1000);
	put_msg(f, "q@example.com", 24);
	g_assert_cmpint(
		ss_quota_get(&f->st, "Q+x@example.com", &used, &limit, &err),
		==, 0);
	g_assert_cmpuint(used, ==, 1024);
	g_assert_cmpuint(limit, ==, 1u << 20);
	qpath = user_file(f, "q", "example.com", "quota");
	g_assert_cmpint(stat(qpath, &sb), ==, 0);

	g_assert_cmpint(ss_quota_check(&f->st, "q@example.com", 1000, &err), ==,
			0);
	g_assert_cmpint(ss_quota_check(&f->st, "q@example.com",
				       (1u << 20) - 1024, &err),
			==, 0);
	g_assert_cmpint(ss_quota_check(&f->st, "q@example.com",
				       (1u << 20) - 1023, &err),
			==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_QUOTA);
	g_assert_cmpstr(err.msg, ==, "Quota exceeded");
	g_assert_cmpint(
		ss_quota_check(&f->st, "q@example.com", UINT64_MAX, &err), ==,
		-1);
	{
		/* the append path asks the same question */
		struct rmail_append_opts o = {.size = sizeof(o),
					      .size_hint = 1u << 20};
		struct rmail_append *ap = NULL;

		g_assert_cmpint(ss_append_begin(&f->st, "q@example.com",
						"INBOX", &o, &ap, &err),
				==, -1);
		g_assert_cmpint(err.code, ==, RMAIL_E_QUOTA);
		g_assert_null(ap);
	}

	/* charges are counted, not rescanned */
	ss_quota_charge(&f->st, "q@example.com", 2048);
	g_assert_cmpint(
		ss_quota_get(&f->st, "q@example.com", &used, NULL, &err), ==,
		0);
	g_assert_cmpuint(used, ==, 3072);
	ss_quota_charge(&f->st, "q@example.com", -100000);
	g_assert_cmpint(
		ss_quota_get(&f->st, "q@example.com", &used, NULL, &err), ==,
		0);
	g_assert_cmpuint(used, ==, 0);
	g_assert_cmpint(ss_quota_recalc(&f->st, "q@example.com", &err), ==, 0);
	g_assert_cmpint(
		ss_quota_get(&f->st, "q@example.com", &used, NULL, &err), ==,
		0);
	g_assert_cmpuint(used, ==, 1024);

	/* a broken usage file is rebuilt by a scan */
	g_assert_true(g_file_set_contents(qpath, "garbage", -1, NULL));
	g_assert_cmpint(
		ss_quota_get(&f->st, "q@example.com", &used, NULL, &err), ==,
		0);
	g_assert_cmpuint(used, ==, 1024);

	/* recalc of everybody */
	g_assert_cmpint(ss_user_add(&f->st, "r@example.com", "x", 0, 0, &err),
			==, 0);
	put_msg(f, "r@example.com", 10);
	ss_quota_charge(&f->st, "r@example.com", 999);
	ss_quota_charge(&f->st, "q@example.com", 999);
	g_assert_cmpint(ss_quota_recalc(&f->st, NULL, &err), ==, 0);
	g_assert_cmpint(
		ss_quota_get(&f->st, "r@example.com", &used, &limit, &err), ==,
		0);
	g_assert_cmpuint(used, ==, 10);
	g_assert_cmpuint(limit, ==, 0);
	/* quota_mb 0 is no limit */
	g_assert_cmpint(
		ss_quota_check(&f->st, "r@example.com", 1ull << 40, &err), ==,
		0);
	g_assert_cmpint(
		ss_quota_get(&f->st, "q@example.com", &used, NULL, &err), ==,
		0);
	g_assert_cmpuint(used, ==, 1024);
	g_assert_cmpint(ss_quota_recalc(&f->st, "zz@example.com", &err), ==,
			-1);
	g_assert_cmpint(err.code, ==, RMAIL_E_NOENT);
	g_free(qpath);
}

#define NTHREADS 8
#define NCHARGES 200

struct thr {
	struct fx *f;
	int id;
	int failures;
};

static void *charger(void *arg)
{
	struct thr *t = arg;
	int i;

	for (i = 0; i < NCHARGES; i++)
		ss_quota_charge(&t->f->st, "c@example.com", 3);
	return NULL;
}

static void *reader(void *arg)
{
	struct thr *t = arg;
	struct rmail_user u;
	struct rmail_err err;
	int i;

	for (i = 0; i < NCHARGES; i++) {
		if (ss_user_get(&t->f->st, "c@example.com", &u, &err) < 0)
			t->failures++;
		if (ss_quota_check(&t->f->st, "c@example.com", 1, &err) < 0)
			t->failures++;
	}
	return NULL;
}

static void *updater(void *arg)
{
	struct thr *t = arg;
	struct rmail_err err;
	int i;

	for (i = 0; i < 20; i++) {
		if (ss_user_update(
			    &t->f->st, "c@example.com",
			    &(struct rmail_user_update){
				    .size = sizeof(struct rmail_user_update),
				    .admin = i & 1,
				    .disabled = -1,
				    .quota_mb = -1,
				    .password = NULL},
			    &err) < 0)
			t->failures++;
	}
	return NULL;
}

static void test_quota_threads(struct fx *f, gconstpointer data)
{
	pthread_t th[NTHREADS + 3];
	struct thr t[NTHREADS + 3];
	struct rmail_err err;
	uint64_t used;
	int i;

	(void)data;
	add_ok(f, "c@example.com", "x");
	put_msg(f, "c@example.com", 100);
	g_assert_cmpint(
		ss_quota_get(&f->st, "c@example.com", &used, NULL, &err), ==,
		0);
	g_assert_cmpuint(used, ==, 100);
	for (i = 0; i < NTHREADS + 3; i++) {
		t[i] = (struct thr){f, i, 0};
		pthread_create(&th[i], NULL,
			       i < NTHREADS	  ? charger
			       : i < NTHREADS + 2 ? reader
						  : updater,
			       &t[i]);
	}
	for (i = 0; i < NTHREADS + 3; i++) {
		pthread_join(th[i], NULL);
		g_assert_cmpint(t[i].failures, ==, 0);
	}
	g_assert_cmpint(
		ss_quota_get(&f->st, "c@example.com", &used, NULL, &err), ==,
		0);
	g_assert_cmpuint(used, ==, 100 + 3 * NTHREADS * NCHARGES);
}

/* ---- migrated hashes: compare-and-swap, rehash ------------------------ */

/* python3 hashlib: SSHA512 of "correct horse" with salt 01..08 */
#define SSHA512_HORSE                                                          \
	"{SSHA512}ggObOJHDWCqgI5uFv/j9yDNYMvdTgt+Toj8d6cGrSG/e+E9GbH4DkQ8y5j"  \
	"Y3NblhoGens+zNVX1mZaFy0qwRwwECAwQFBgcI"
/* the argon2 CLI: -id -t 3 -m 16 -p 1, salt "somesaltsomesalt" */
#define ARGON2ID_HORSE                                                         \
	"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$EQ"   \
	"n6ufNBHabX894pCwYhAbItgn5/8i6yNpUQ8CXRFd4"

static char *stored_hash(struct fx *f, const char *local, const char *dom)
{
	struct ss_user_rec rec;
	char *path = user_file(f, local, dom, "user.json"), *text;
	struct rmail_err err;
	char *h;

	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	rmail_err_clear(&err);
	g_assert_cmpint(ss_user_parse(text, strlen(text), &rec, &err), ==, 0);
	h = g_strdup(rec.hash);
	g_free(text);
	g_free(path);
	return h;
}

static void test_hash_cas(struct fx *f, gconstpointer data)
{
	struct rmail_user u;
	struct rmail_err err;
	uint64_t gen;
	char *h;

	(void)data;
	add_ok(f, "erin@example.com", NULL);
	g_assert_cmpint(ss_user_get(&f->st, "erin@example.com", &u, &err), ==,
			0);
	gen = u.token_gen;
	/* plaintext and unknown schemes are never written */
	g_assert_cmpint(ss_user_hash_cas(&f->st, "erin@example.com", NULL,
					 "{PLAIN}correct horse", &err),
			==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_INVAL);
	g_assert_cmpint(ss_user_hash_cas(&f->st, "erin@example.com", NULL,
					 "{CRAM-MD5}0011", &err),
			==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_INVAL);
	h = stored_hash(f, "erin", "example.com");
	g_assert_cmpstr(h, ==, "!");
	g_free(h);
	/* NULL: only while there is no password */
	g_assert_cmpint(ss_user_hash_cas(&f->st, "erin@example.com", NULL,
					 SSHA512_HORSE, &err),
			==, 0);
	g_assert_cmpint(ss_user_verify(&f->st, "erin@example.com",
				       "correct horse", &u, &err),
			==, 0);
	g_assert_cmpuint(u.token_gen, !=, gen);
	g_assert_cmpint(ss_user_hash_cas(&f->st, "erin@example.com", NULL,
					 ARGON2ID_HORSE, &err),
			==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_BUSY);
	/* a stale expected hash: the password changed since, nothing is
	 * written */
	g_assert_cmpint(ss_user_hash_cas(&f->st, "erin@example.com",
					 ARGON2ID_HORSE, ARGON2ID_HORSE, &err),
			==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_BUSY);
	h = stored_hash(f, "erin", "example.com");
	g_assert_cmpstr(h, ==, SSHA512_HORSE);
	g_free(h);
	g_assert_cmpint(ss_user_hash_cas(&f->st, "erin@example.com",
					 SSHA512_HORSE, ARGON2ID_HORSE, &err),
			==, 0);
	g_assert_cmpint(ss_user_verify(&f->st, "erin@example.com",
				       "correct horse", &u, &err),
			==, 0);
	g_assert_cmpint(ss_user_hash_cas(&f->st, "nobody@example.com", NULL,
					 ARGON2ID_HORSE, &err),
			==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_NOENT);
}

static void test_rehash(struct fx *f, gconstpointer data)
{
	const struct rmail_user_update upd = {sizeof(upd), -1, -1, -1,
					      "changed meanwhile"};
	struct rmail_user u;
	struct rmail_err err;
	uint64_t gen;
	char *h;

	(void)data;
	add_ok(f, "finn@example.com", NULL);
	g_assert_cmpint(ss_user_hash_cas(&f->st, "finn@example.com", NULL,
					 ARGON2ID_HORSE, &err),
			==, 0);
	g_assert_cmpint(ss_user_verify(&f->st, "finn@example.com",
				       "correct horse", &u, &err),
			==, 0);
	gen = u.token_gen;
	g_assert_cmpint(
		ss_user_rehash(&f->st, "finn@example.com", "wrong horse", &err),
		==, -1);
	h = stored_hash(f, "finn", "example.com");
	g_assert_cmpstr(h, ==, ARGON2ID_HORSE);
	g_free(h);
	g_assert_cmpint(ss_user_rehash(&f->st, "finn@example.com",
				       "correct horse", &err),
			==, 1);
	h = stored_hash(f, "finn", "example.com");
	g_assert_true(g_str_has_prefix(h, "$y$"));
	g_free(h);
	g_assert_cmpint(ss_user_verify(&f->st, "finn@example.com",
				       "correct horse", &u, &err),
			==, 0);
	g_assert_cmpuint(u.token_gen, ==, gen); /* same password */
	/* done once */
	g_assert_cmpint(ss_user_rehash(&f->st, "finn@example.com",
				       "correct horse", &err),
			==, 0);

	/* the race: a login checked the old hash, then the admin set a new
	 * password before the rehash ran; the new one stays */
	add_ok(f, "gail@example.com", NULL);
	g_assert_cmpint(ss_user_hash_cas(&f->st, "gail@example.com", NULL,
					 SSHA512_HORSE, &err),
			==, 0);
	g_assert_cmpint(ss_user_verify(&f->st, "gail@example.com",
				       "correct horse", &u, &err),
			==, 0);
	/* another migrated hash of another password (python3 hashlib) */
	g_assert_cmpint(ss_user_hash_cas(&f->st, "gail@example.com",
					 SSHA512_HORSE,
					 "{SSHA256}qVczUPsVvZZDxCxW27xkIs9X+y/"
					 "mEeJ730o9SE81939zYWx0c2FsdA==",
					 &err),
			==, 0);
	g_assert_cmpint(ss_user_rehash(&f->st, "gail@example.com",
				       "correct horse", &err),
			==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_BUSY);
	h = stored_hash(f, "gail", "example.com");
	g_assert_true(g_str_has_prefix(h, "{SSHA256}"));
	g_free(h);
	/* and a new password set by the admin in the default scheme */
	g_assert_cmpint(ss_user_update(&f->st, "gail@example.com", &upd, &err),
			==, 0);
	g_assert_cmpint(ss_user_rehash(&f->st, "gail@example.com",
				       "correct horse", &err),
			==, 0);
	g_assert_cmpint(ss_user_verify(&f->st, "gail@example.com",
				       "changed meanwhile", &u, &err),
			==, 0);
	g_assert_cmpint(ss_user_verify(&f->st, "gail@example.com",
				       "correct horse", &u, &err),
			==, -1);
}

static void test_unsupported_scheme(struct fx *f, gconstpointer data)
{
	struct rmail_user u;
	struct rmail_err err;
	char *path;

	(void)data;
	add_ok(f, "hal@example.net", "initial");
	path = user_file(f, "hal", "example.net", "user.json");
	hand_edit(path, "{\"password_hash\": \"{CRAM-MD5}e02d374fde0dc75a17a557"
			"039a3a5338c7743304777dccd376f332bee68d2cf6\", "
			"\"token_gen\": 3}\n");
	g_assert_cmpint(
		ss_user_verify(&f->st, "hal@example.net", "initial", &u, &err),
		==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_NOTIMPL);
	g_assert_nonnull(strstr(err.msg, "CRAM-MD5"));
	g_free(path);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn)                                                          \
	g_test_add("/shardstore/users/" name, struct fx, NULL, fx_setup, fn,   \
		   fx_teardown)
	ADD("add-get", test_add_get);
	ADD("verify", test_verify);
	ADD("imported-hash", test_imported_hash);
	ADD("disabled-token-gen", test_disabled_and_gen);
	ADD("mtime-reread", test_reread);
	ADD("mtime-reread-logs", test_reread_logs);
	ADD("list-del", test_list);
	ADD("aliases", test_aliases);
	ADD("alias-reread", test_alias_reread);
	ADD("quota", test_quota);
	ADD("quota-threads", test_quota_threads);
	ADD("hash-cas", test_hash_cas);
	ADD("rehash", test_rehash);
	ADD("unsupported-scheme", test_unsupported_scheme);
	return g_test_run();
}
