/*
 * mod_shardstore's Sieve store ops (ABI 1.5): scripts with one active,
 * RFC 5804's rules (the active one cannot be deleted, a rename keeps it
 * active), vacation's check-and-record, atomic across threads, and
 * duplicate_check (1.6).
 */
#include <fcntl.h>
#include <glib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	f->root = g_dir_make_tmp("sssieve-XXXXXX", NULL);
	g_assert_nonnull(f->root);
	rmail_err_clear(&err);
	if (ss_store_open(&f->st, NULL, f->root, &err) < 0)
		g_error("ss_store_open: %s", err.msg);
	if (ss_user_add(&f->st, "alice@example.com", "pw", 0, -1, &err) < 0)
		g_error("user_add: %s", err.msg);
}

static void fx_teardown(struct fx *f, gconstpointer data)
{
	(void)data;
	ss_store_close(&f->st);
	g_assert_cmpint(ss_rmtree_at(AT_FDCWD, f->root), ==, 0);
	g_free(f->root);
}

struct listing {
	GString *s;
};

static void list_cb(void *arg, const char *name, int active, uint64_t bytes,
		    int64_t version)
{
	struct listing *l = arg;

	g_assert_cmpint(version, >, 0);
	g_string_append_printf(l->s, "%s%s:%llu;", active ? "*" : "", name,
			       (unsigned long long)bytes);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *listing(struct fx *f)
{
	struct listing l = {g_string_new("")};
	struct rmail_err err;
	char **parts, *out;

	g_assert_cmpint(
		ss_sieve_list(&f->st, "alice@example.com", list_cb, &l, &err),
		==, 0);
	/* directory order is the filesystem's: sort for the comparison */
	parts = g_strsplit(l.s->str, ";", -1);
	g_string_free(l.s, TRUE);
	qsort(parts, g_strv_length(parts), sizeof(*parts), cmp_str);
	out = g_strjoinv(";", parts);
	g_strfreev(parts);
	return out;
}

static void test_scripts(struct fx *f, gconstpointer data)
{
	const char *u = "Alice@example.com";
	struct rmail_err err;
	char buf[64], name[RMAIL_SIEVE_NAME_MAX + 1];
	size_t len = 0;
	int64_t v1 = 0, v2 = 0;
	char *l;

	(void)data;
	l = listing(f);
	g_assert_cmpstr(l, ==, "");
	g_free(l);
	g_assert_cmpint(
		ss_sieve_get(&f->st, u, NULL, NULL, 0, NULL, NULL, NULL, &err),
		==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_NOENT);
	g_assert_cmpint(ss_sieve_put(&f->st, u, "main", "keep;\r\n", 7, &err),
			==, 0);
	g_assert_cmpint(ss_sieve_put(&f->st, u, "vacation ü", "stop;", 5, &err),
			==, 0);
	g_assert_cmpint(ss_sieve_put(&f->st, u, "a/b", "x", 1, &err), ==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_INVAL);
	g_assert_cmpint(
		ss_sieve_put(&f->st, "nobody@example.com", "x", "x", 1, &err),
		==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_NOENT);
	l = listing(f);
	g_assert_cmpstr(l, ==, ";main:7;vacation ü:5");
	g_free(l);

	g_assert_cmpint(ss_sieve_activate(&f->st, u, "nope", &err), ==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_NOENT);
	g_assert_cmpint(ss_sieve_activate(&f->st, u, "main", &err), ==, 0);
	memset(buf, 0, sizeof(buf));
	g_assert_cmpint(ss_sieve_get(&f->st, u, NULL, buf, sizeof(buf), &len,
				     &v1, name, &err),
			==, 0);
	g_assert_cmpstr(buf, ==, "keep;\r\n");
	g_assert_cmpuint(len, ==, 7);
	g_assert_cmpstr(name, ==, "main");
	/* a short buffer still reports the whole length */
	g_assert_cmpint(
		ss_sieve_get(&f->st, u, "main", buf, 2, &len, NULL, NULL, &err),
		==, 0);
	g_assert_cmpuint(len, ==, 7);

	/* the active script: not deleted; a rewrite changes its version */
	g_assert_cmpint(ss_sieve_delete(&f->st, u, "main", &err), ==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_BUSY);
	usleep(2000);
	g_assert_cmpint(ss_sieve_put(&f->st, u, "main", "discard;", 8, &err),
			==, 0);
	g_assert_cmpint(
		ss_sieve_get(&f->st, u, NULL, NULL, 0, &len, &v2, NULL, &err),
		==, 0);
	g_assert_cmpuint(len, ==, 8);
	g_assert_cmpint(v2, !=, v1);

	/* rename: onto an existing name refused, the active one follows */
	g_assert_cmpint(ss_sieve_rename(&f->st, u, "main", "vacation ü", &err),
			==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_EXISTS);
	g_assert_cmpint(ss_sieve_rename(&f->st, u, "main", "filters", &err), ==,
			0);
	l = listing(f);
	g_assert_cmpstr(l, ==, ";*filters:8;vacation ü:5");
	g_free(l);
	g_assert_cmpint(ss_sieve_rename(&f->st, u, "gone", "x", &err), ==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_NOENT);

	g_assert_cmpint(ss_sieve_activate(&f->st, u, NULL, &err), ==, 0);
	g_assert_cmpint(ss_sieve_delete(&f->st, u, "filters", &err), ==, 0);
	g_assert_cmpint(ss_sieve_delete(&f->st, u, "filters", &err), ==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_NOENT);
	l = listing(f);
	g_assert_cmpstr(l, ==, ";vacation ü:5");
	g_free(l);
}

static void test_vacation(struct fx *f, gconstpointer data)
{
	const char *u = "alice@example.com";
	struct rmail_err err;
	int64_t day = 86400, t0 = 1700000000;

	(void)data;
	g_assert_cmpint(ss_vacation_check(&f->st, u, "k1", t0, 7 * day, &err),
			==, 0);
	g_assert_cmpint(
		ss_vacation_check(&f->st, u, "k1", t0 + day, 7 * day, &err), ==,
		1);
	g_assert_cmpint(
		ss_vacation_check(&f->st, u, "k2", t0 + day, 7 * day, &err), ==,
		0);
	/* the period has passed: a new reply, recorded anew */
	g_assert_cmpint(
		ss_vacation_check(&f->st, u, "k1", t0 + 8 * day, 7 * day, &err),
		==, 0);
	g_assert_cmpint(
		ss_vacation_check(&f->st, u, "k1", t0 + 9 * day, 7 * day, &err),
		==, 1);
	g_assert_cmpint(ss_vacation_check(&f->st, u, "bad key", t0, day, &err),
			==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_INVAL);
	g_assert_cmpint(ss_vacation_check(&f->st, "nobody@example.com", "k", t0,
					  day, &err),
			==, -1);
}

/* duplicate_check (1.6): a key holds for its own period, then goes;
 * the file keeps only live entries; vacation's state is apart */
static void test_duplicates(struct fx *f, gconstpointer data)
{
	const char *u = "alice@example.com";
	struct rmail_err err;
	int64_t day = 86400, t0 = 1700000000;
	char *path, *text = NULL;

	(void)data;
	g_assert_cmpint(
		ss_duplicate_check(&f->st, u, "redirect.a", t0, day, &err), ==,
		0);
	g_assert_cmpint(ss_duplicate_check(&f->st, u, "redirect.a",
					   t0 + day - 1, day, &err),
			==, 1);
	g_assert_cmpint(ss_duplicate_check(&f->st, u, "redirect.b", t0 + 10,
					   3600, &err),
			==, 0);
	g_assert_cmpint(
		ss_vacation_check(&f->st, u, "redirect.a", t0, day, &err), ==,
		0);
	/* past its period: recorded anew; b's shorter one went */
	g_assert_cmpint(ss_duplicate_check(&f->st, u, "redirect.a", t0 + day,
					   day, &err),
			==, 0);
	path = g_build_filename(f->root, "domains", "example.com", "users",
				"alice", "sieve", "duplicates", NULL);
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	g_assert_null(strstr(text, "redirect.b"));
	g_assert_nonnull(strstr(text, "redirect.a"));
	g_free(text);
	g_free(path);
	g_assert_cmpint(
		ss_duplicate_check(&f->st, u, "redirect.a", t0, 0, &err), ==,
		-1);
	g_assert_cmpint(ss_duplicate_check(&f->st, u, "bad key", t0, day, &err),
			==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_INVAL);
}

struct race {
	struct fx *f;
	int rc;
};

static void *race_one(void *arg)
{
	struct race *r = arg;
	struct rmail_err err;

	r->rc = ss_vacation_check(&r->f->st, "alice@example.com", "same",
				  1700000000, 86400, &err);
	return NULL;
}

static void test_vacation_race(struct fx *f, gconstpointer data)
{
	struct race r[8];
	pthread_t th[8];
	int replies = 0;

	(void)data;
	for (int i = 0; i < 8; i++) {
		r[i].f = f;
		g_assert_cmpint(pthread_create(&th[i], NULL, race_one, &r[i]),
				==, 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		g_assert_cmpint(r[i].rc, >=, 0);
		replies += r[i].rc == 0;
	}
	g_assert_cmpint(replies, ==, 1);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn)                                                          \
	g_test_add("/shardstore/sieve/" name, struct fx, NULL, fx_setup, fn,   \
		   fx_teardown)
	ADD("scripts", test_scripts);
	ADD("vacation", test_vacation);
	ADD("vacation-race", test_vacation_race);
	ADD("duplicates", test_duplicates);
	return g_test_run();
}
