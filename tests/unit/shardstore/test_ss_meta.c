/*
 * METADATA entries (store ops 1.5 meta_get/meta_set): server and
 * mailbox tables kept apart, sorted and replaced as one change, binary
 * values, the entry and byte limits refusing a growing change whole but
 * never a removal, the table following RENAME (children too) and going
 * with DELETE, a second store instance seeing every write, and a
 * corrupt file reported rather than read.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "ss_meta.h"
#include "ss_test.h"

static void collect(void *arg, const char *name, const void *value, size_t len)
{
	GString *s = arg;

	g_string_append_printf(s, "%s%s=", s->len ? " " : "", name);
	g_string_append_len(s, value, (gssize)len);
}

/* "name=value ..." of a table, or "ERR <code>" */
static char *dump(struct ss_store *st, const char *mbox)
{
	GString *s = g_string_new(NULL);
	struct rmail_err err = {0};

	if (ss_meta_get(st, SS_USER, mbox, collect, s, &err) < 0)
		g_string_printf(s, "ERR %d", (int)err.code);
	return g_string_free(s, FALSE);
}

static void expect(struct ss_store *st, const char *mbox, const char *want)
{
	char *got = dump(st, mbox);

	g_assert_cmpstr(got, ==, want);
	g_free(got);
}

static int set1(struct ss_store *st, const char *mbox, const char *name,
		const char *value, size_t max_entries, uint64_t max_bytes,
		struct rmail_err *err)
{
	struct rmail_meta_entry e = {name, value,
				     value != NULL ? strlen(value) : 0};

	return ss_meta_set(st, SS_USER, mbox, &e, 1, max_entries, max_bytes,
			   err);
}

static void test_basic(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_err err = {0};
	struct rmail_meta_entry two[] = {
		{"/shared/b", "2", 1},
		{"/private/a", "1", 1},
	};
	static const char bin[] = {'x', 0, '\n', 'y'};

	(void)d;
	expect(&fx->st, NULL, "");
	expect(&fx->st, "INBOX", "");
	g_assert_cmpint(
		ss_meta_set(&fx->st, SS_USER, "INBOX", two, 2, 0, 0, &err), ==,
		0);
	expect(&fx->st, "INBOX", "/private/a=1 /shared/b=2");
	expect(&fx->st, NULL, "");
	g_assert_cmpint(
		set1(&fx->st, NULL, "/shared/comment", "srv", 0, 0, &err), ==,
		0);
	expect(&fx->st, NULL, "/shared/comment=srv");
	/* replace, remove, remove what is not there */
	g_assert_cmpint(set1(&fx->st, "INBOX", "/private/a", "one", 0, 0, &err),
			==, 0);
	g_assert_cmpint(set1(&fx->st, "INBOX", "/shared/b", NULL, 0, 0, &err),
			==, 0);
	g_assert_cmpint(set1(&fx->st, "INBOX", "/shared/zz", NULL, 0, 0, &err),
			==, 0);
	expect(&fx->st, "inbox", "/private/a=one");
	/* binary values, NUL and newline included */
	{
		struct rmail_meta_entry e = {"/private/bin", bin, sizeof(bin)};
		char *got;

		g_assert_cmpint(ss_meta_set(&fx->st, SS_USER, "INBOX", &e, 1, 0,
					    0, &err),
				==, 0);
		got = dump(&fx->st, "INBOX");
		/* the string stops at the value's NUL; the rest follows it */
		g_assert_cmpstr(got, ==, "/private/a=one /private/bin=x");
		g_assert_cmpmem(got + strlen(got) + 1, 2, "\ny", 2);
		g_free(got);
	}
	/* the last entry gone: the file goes */
	g_assert_cmpint(set1(&fx->st, "INBOX", "/private/a", NULL, 0, 0, &err),
			==, 0);
	g_assert_cmpint(
		set1(&fx->st, "INBOX", "/private/bin", NULL, 0, 0, &err), ==,
		0);
	expect(&fx->st, "INBOX", "");
	/* no such mailbox, no such user */
	g_assert_cmpint(set1(&fx->st, "nosuch", "/private/a", "1", 0, 0, &err),
			==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_NOENT);
	expect(&fx->st, "nosuch", "ERR 3");
	g_assert_cmpint(ss_meta_get(&fx->st, "bob@example.com", NULL, collect,
				    NULL, &err),
			==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_NOENT);
}

static void test_limits(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_err err = {0};
	struct rmail_meta_entry three[] = {
		{"/private/a", "1", 1},
		{"/private/b", "2", 1},
		{"/private/c", "3", 1},
	};

	(void)d;
	g_assert_cmpint(
		ss_meta_set(&fx->st, SS_USER, "Sent", three, 2, 2, 0, &err), ==,
		0);
	/* a third entry: refused whole */
	g_assert_cmpint(
		ss_meta_set(&fx->st, SS_USER, "Sent", three + 1, 2, 2, 0, &err),
		==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_TOOBIG);
	expect(&fx->st, "Sent", "/private/a=1 /private/b=2");
	/* bytes: names and values; 11 + 11 fit in 22, not in 21 */
	g_assert_cmpint(set1(&fx->st, "Sent", "/private/a", "1", 0, 21, &err),
			==, -1);
	g_assert_cmpint(set1(&fx->st, "Sent", "/private/a", "1", 0, 22, &err),
			==, 0);
	/* a table over a lowered limit can still shrink */
	g_assert_cmpint(set1(&fx->st, "Sent", "/private/a", NULL, 1, 1, &err),
			==, 0);
	expect(&fx->st, "Sent", "/private/b=2");
}

static void test_rename_delete(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_err err = {0};
	struct ss_store other;

	(void)d;
	g_assert_cmpint(ss_mbox_create(&fx->st, SS_USER, "p", 0, &err), ==, 0);
	g_assert_cmpint(ss_mbox_create(&fx->st, SS_USER, "p/c", 0, &err), ==,
			0);
	g_assert_cmpint(set1(&fx->st, "p", "/private/x", "parent", 0, 0, &err),
			==, 0);
	g_assert_cmpint(set1(&fx->st, "p/c", "/private/x", "child", 0, 0, &err),
			==, 0);
	g_assert_cmpint(ss_mbox_rename(&fx->st, SS_USER, "p", "q", &err), ==,
			0);
	expect(&fx->st, "q", "/private/x=parent");
	expect(&fx->st, "q/c", "/private/x=child");
	expect(&fx->st, "p", "ERR 3");
	g_assert_cmpint(ss_mbox_create(&fx->st, SS_USER, "p", 0, &err), ==, 0);
	expect(&fx->st, "p", "");
	g_assert_cmpint(ss_mbox_delete(&fx->st, SS_USER, "q/c", &err), ==, 0);
	g_assert_cmpint(ss_mbox_create(&fx->st, SS_USER, "q/c", 0, &err), ==,
			0);
	expect(&fx->st, "q/c", "");
	/* INBOX's entries stay on INBOX */
	g_assert_cmpint(set1(&fx->st, "INBOX", "/private/i", "in", 0, 0, &err),
			==, 0);
	g_assert_cmpint(ss_mbox_rename(&fx->st, SS_USER, "INBOX", "old", &err),
			==, 0);
	expect(&fx->st, "INBOX", "/private/i=in");
	expect(&fx->st, "old", "");

	/* another instance reads and writes the same tables */
	ss_fx_open(fx->dir, &other);
	expect(&other, "q", "/private/x=parent");
	g_assert_cmpint(
		set1(&other, "q", "/shared/y", "from-other", 0, 0, &err), ==,
		0);
	expect(&fx->st, "q", "/private/x=parent /shared/y=from-other");
	ss_store_close(&other);
}

static void test_corrupt(struct ss_fx *fx, gconstpointer d)
{
	struct rmail_err err = {0};
	char *path = g_strdup_printf(
		"%s/domains/example.com/users/alice/mail/Drafts/metadata",
		fx->dir);

	(void)d;
	g_assert_cmpint(set1(&fx->st, "Drafts", "/private/a", "1", 0, 0, &err),
			==, 0);
	g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
	g_assert_true(g_file_set_contents(path, "RMMETA 1\n9 1\n/private/a1\n",
					  -1, NULL));
	expect(&fx->st, "Drafts", "ERR 8");
	/* a write does not build on a file it cannot read */
	g_assert_cmpint(set1(&fx->st, "Drafts", "/private/b", "2", 0, 0, &err),
			==, -1);
	g_assert_cmpint(err.code, ==, RMAIL_E_IO);
	g_free(path);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	fake_core_init();
	g_test_add("/shardstore/meta/basic", struct ss_fx, NULL, ss_fx_setup,
		   test_basic, ss_fx_teardown);
	g_test_add("/shardstore/meta/limits", struct ss_fx, NULL, ss_fx_setup,
		   test_limits, ss_fx_teardown);
	g_test_add("/shardstore/meta/rename-delete", struct ss_fx, NULL,
		   ss_fx_setup, test_rename_delete, ss_fx_teardown);
	g_test_add("/shardstore/meta/corrupt", struct ss_fx, NULL, ss_fx_setup,
		   test_corrupt, ss_fx_teardown);
	return g_test_run();
}
