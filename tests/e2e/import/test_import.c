/*
 * rmail import maildir / export maildir as real processes on a
 * temporary mail root: a Dovecot-style Maildir++ fixture goes in, is
 * exported back and compared (CRLF content, flags, keyword names,
 * folder names, uidlist order, sizes, dates); re-runs add nothing.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include "harness.h"

/* run, expect exit 0 and `want` in stdout */
static void run_ok(struct rmh_store *f, const char *args, const char *want)
{
	struct rmh_cmd r = rmh_store_run(f, NULL, args);

	if (r.status != 0 || (want != NULL && strstr(r.out, want) == NULL))
		g_error("rmail %s -> %d, wanted \"%s\"\n%s%s", args, r.status,
			want != NULL ? want : "", r.out, r.err);
	rmh_cmd_free(&r);
}

static void add_user(struct rmh_store *f, const char *addr)
{
	char *args = g_strdup_printf("user add %s --password-stdin", addr);
	struct rmh_cmd r = rmh_store_run(f, "pw", args);

	g_assert_cmpint(r.status, ==, 0);
	rmh_cmd_free(&r);
	g_free(args);
}

static char *path(struct rmh_store *f, const char *rel)
{
	return g_build_filename(f->dir, rel, NULL);
}

static void put(struct rmh_store *f, const char *rel, const char *text,
		time_t mtime)
{
	char *p = path(f, rel), *d = g_path_get_dirname(p);
	struct utimbuf ut = {mtime, mtime};

	g_assert_cmpint(g_mkdir_with_parents(d, 0700), ==, 0);
	g_assert_true(g_file_set_contents(p, text, -1, NULL));
	if (mtime != 0)
		g_assert_cmpint(utime(p, &ut), ==, 0);
	g_free(p);
	g_free(d);
}

static char *crlf(const char *lf)
{
	GString *s = g_string_new(NULL);

	for (; *lf != '\0'; lf++) {
		if (*lf == '\n' && (s->len == 0 || s->str[s->len - 1] != '\r'))
			g_string_append_c(s, '\r');
		g_string_append_c(s, *lf);
	}
	return g_string_free(s, FALSE);
}

/* One exported message, parsed from its name and contents. */
struct xmsg {
	guint64 date, uid, ssize, wsize;
	char *flags;	/* system flag letters */
	char *keywords; /* sorted names, space separated */
	char *body;
	gsize len;
	time_t mtime;
};

static void xmsg_clear(gpointer p)
{
	struct xmsg *m = p;

	g_free(m->flags);
	g_free(m->keywords);
	g_free(m->body);
}

static gint cmp_uid(gconstpointer a, gconstpointer b)
{
	const struct xmsg *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static gint cmp_pstr(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* a folder of an export: its cur/ messages in UID order */
static GArray *read_folder(const char *dir)
{
	GArray *v = g_array_new(FALSE, TRUE, sizeof(struct xmsg));
	char *kw[26] = {0}, *text = NULL, *cur, **lines, **l;
	const char *name;
	GDir *d;

	g_array_set_clear_func(v, xmsg_clear);
	cur = g_build_filename(dir, "dovecot-keywords", NULL);
	if (g_file_get_contents(cur, &text, NULL, NULL)) {
		lines = g_strsplit(text, "\n", -1);
		for (l = lines; *l != NULL; l++) {
			unsigned idx;
			char nm[256];

			if (sscanf(*l, "%u %255s", &idx, nm) == 2 && idx < 26)
				kw[idx] = g_strdup(nm);
		}
		g_strfreev(lines);
		g_free(text);
	}
	g_free(cur);
	cur = g_build_filename(dir, "cur", NULL);
	d = g_dir_open(cur, 0, NULL);
	g_assert_nonnull(d);
	while ((name = g_dir_read_name(d)) != NULL) {
		struct xmsg m = {0};
		GPtrArray *names = g_ptr_array_new();
		GString *fl = g_string_new(NULL);
		const char *info = strstr(name, ":2,");
		char *p = g_build_filename(cur, name, NULL), *s;
		struct stat st;

		g_assert_cmpint(sscanf(name,
				       "%" G_GUINT64_FORMAT
				       ".%" G_GUINT64_FORMAT
				       ".rmail,S=%" G_GUINT64_FORMAT
				       ",W=%" G_GUINT64_FORMAT,
				       &m.date, &m.uid, &m.ssize, &m.wsize),
				==, 4);
		g_assert_nonnull(info);
		for (s = (char *)info + 3; *s != '\0'; s++) {
			if (*s >= 'a' && *s <= 'z') {
				g_assert_nonnull(kw[*s - 'a']);
				g_ptr_array_add(names, kw[*s - 'a']);
			} else {
				g_string_append_c(fl, *s);
			}
		}
		g_ptr_array_sort(names, cmp_pstr);
		g_ptr_array_add(names, NULL);
		m.keywords = g_strjoinv(" ", (char **)names->pdata);
		g_ptr_array_free(names, TRUE);
		m.flags = g_string_free(fl, FALSE);
		g_assert_true(g_file_get_contents(p, &m.body, &m.len, NULL));
		g_assert_cmpint(stat(p, &st), ==, 0);
		m.mtime = st.st_mtime;
		g_free(p);
		g_array_append_val(v, m);
	}
	g_dir_close(d);
	g_free(cur);
	g_array_sort(v, cmp_uid);
	for (int i = 0; i < 26; i++)
		g_free(kw[i]);
	return v;
}

static const char *const msg_a = "From: a@x\nSubject: A\n\nline 1\nline 2\n";
static const char *const msg_b = "From: b@x\nSubject: B\n\nbee\n";
static const char *const msg_c = "From: c@x\nSubject: C\n\nsee\r\nmixed\n";
static const char *const msg_w = "From: w@x\nSubject: W\n\nwork\n";
static const char *const msg_k = "From: k@x\nSubject: K\n\ncafe\n";

static void make_fixture(struct rmh_store *f)
{
	/* dovecot-uidlist order b, a, c differs from name/mtime order */
	put(f, "md/cur/1000.a.host:2,S", msg_a, 1600000000);
	put(f, "md/cur/1001.b.host,S=40,W=999:2,RSab", msg_b, 1600000100);
	put(f, "md/new/1002.c.host", msg_c, 1600000200);
	/* UIDs with gaps: kept, with the UIDVALIDITY */
	put(f, "md/dovecot-uidlist",
	    "3 V1600000000 N10 Gabc\n"
	    "5 G1 :1001.b.host,S=40,W=999\n7 :1000.a.host\n"
	    "9 :1002.c.host\n",
	    0);
	put(f, "md/dovecot-keywords", "0 $Label1\n1 Important\n", 0);
	put(f, "md/.Work.Projects/cur/2000.w.host:2,Fa", msg_w, 1600000300);
	put(f, "md/.Work.Projects/dovecot-keywords", "0 Important\n", 0);
	put(f, "md/.Work.Projects/maildirfolder", "", 0);
	put(f, "md/.Caf&AOk-/cur/3000.k.host:2,", msg_k, 1600000400);
	/* moved to cur/ while we looked: one message, with cur/'s flags */
	put(f, "md/new/1000.a.host", msg_a, 1600000000);
	/* not messages */
	put(f, "md/tmp/999.t.host", "partial", 0);
	put(f, "md/cur/.hidden", "x", 0);
}

static void check_msg(const struct xmsg *m, const char *lf, time_t mtime,
		      const char *flags, const char *keywords)
{
	char *want = crlf(lf);

	g_assert_cmpmem(m->body, m->len, want, strlen(want));
	g_assert_cmpuint(m->ssize, ==, strlen(want));
	g_assert_cmpuint(m->wsize, ==, strlen(want));
	g_assert_cmpuint(m->date, ==, (guint64)mtime);
	g_assert_cmpint(m->mtime, ==, mtime);
	g_assert_cmpstr(m->flags, ==, flags);
	g_assert_cmpstr(m->keywords, ==, keywords);
	g_free(want);
}

static GArray *folder(struct rmh_store *f, const char *rel)
{
	char *p = path(f, rel);
	GArray *v = read_folder(p);

	g_free(p);
	return v;
}

/* two exports hold the same messages in the same order */
static void same_folder(struct rmh_store *f, const char *a, const char *b)
{
	GArray *x = folder(f, a), *y = folder(f, b);
	guint i;

	g_assert_cmpuint(x->len, ==, y->len);
	for (i = 0; i < x->len; i++) {
		struct xmsg *p = &g_array_index(x, struct xmsg, i);
		struct xmsg *q = &g_array_index(y, struct xmsg, i);

		g_assert_cmpmem(p->body, p->len, q->body, q->len);
		g_assert_cmpstr(p->flags, ==, q->flags);
		g_assert_cmpstr(p->keywords, ==, q->keywords);
		g_assert_cmpuint(p->date, ==, q->date);
	}
	g_array_free(x, TRUE);
	g_array_free(y, TRUE);
}

static void test_roundtrip(struct rmh_store *f, gconstpointer data)
{
	GArray *v;
	char *md, *out, *args;
	struct rmh_cmd r;

	(void)data;
	make_fixture(f);
	add_user(f, "ann@example.com");
	add_user(f, "bea@example.com");
	md = path(f, "md");
	out = path(f, "out");

	args = g_strdup_printf("import maildir %s Ann@Example.com", md);
	run_ok(f, args, "imported 5 messages");
	/* again: the ledger says everything is in */
	run_ok(f, args,
	       "imported 0 messages into ann@example.com "
	       "(5 already imported");
	g_free(args);

	args = g_strdup_printf("export maildir ann@example.com %s", out);
	run_ok(f, args, "exported 5 messages");
	run_ok(f, args, "exported 0 messages");
	g_free(args);

	v = folder(f, "out");
	g_assert_cmpuint(v->len, ==, 3);
	/* dovecot-uidlist's UIDVALIDITY and UIDs were kept */
	g_assert_cmpuint(g_array_index(v, struct xmsg, 0).uid, ==, 5);
	g_assert_cmpuint(g_array_index(v, struct xmsg, 1).uid, ==, 7);
	g_assert_cmpuint(g_array_index(v, struct xmsg, 2).uid, ==, 9);
	{
		char *ul = path(f, "out/dovecot-uidlist"), *text = NULL;

		g_assert_true(g_file_get_contents(ul, &text, NULL, NULL));
		g_assert_true(g_str_has_prefix(text, "3 V1600000000 N10"));
		g_free(text);
		g_free(ul);
	}
	check_msg(&g_array_index(v, struct xmsg, 0), msg_b, 1600000100, "RS",
		  "$Label1 Important");
	check_msg(&g_array_index(v, struct xmsg, 1), msg_a, 1600000000, "S",
		  "");
	check_msg(&g_array_index(v, struct xmsg, 2), msg_c, 1600000200, "", "");
	g_array_free(v, TRUE);
	v = folder(f, "out/.Work.Projects");
	g_assert_cmpuint(v->len, ==, 1);
	check_msg(&g_array_index(v, struct xmsg, 0), msg_w, 1600000300, "F",
		  "Important");
	g_array_free(v, TRUE);
	v = folder(f, "out/.Caf&AOk-");
	g_assert_cmpuint(v->len, ==, 1);
	check_msg(&g_array_index(v, struct xmsg, 0), msg_k, 1600000400, "", "");
	g_array_free(v, TRUE);

	/* the export imports back to the same thing */
	args = g_strdup_printf("import maildir %s bea@example.com", out);
	run_ok(f, args, "imported 5 messages");
	g_free(args);
	g_free(out);
	out = path(f, "out2");
	args = g_strdup_printf("export maildir bea@example.com %s", out);
	run_ok(f, args, "exported 5 messages");
	g_free(args);
	same_folder(f, "out", "out2");
	same_folder(f, "out/.Work.Projects", "out2/.Work.Projects");
	same_folder(f, "out/.Caf&AOk-", "out2/.Caf&AOk-");

	/* bad use */
	r = rmh_store_run(f, NULL,
			  "import maildir /nonexistent ann@example.com");
	g_assert_cmpint(r.status, ==, 1);
	rmh_cmd_free(&r);
	args = g_strdup_printf("import maildir %s nobody@example.com", md);
	r = rmh_store_run(f, NULL, args);
	g_assert_cmpint(r.status, ==, 1);
	rmh_cmd_free(&r);
	g_free(args);
	r = rmh_store_run(f, NULL, "import mbox x y");
	g_assert_cmpint(r.status, ==, 2);
	rmh_cmd_free(&r);
	g_free(md);
	g_free(out);
}

/* 10K small messages: the batch speed, printed, never asserted */
static void test_speed(struct rmh_store *f, gconstpointer data)
{
	char *md, *args, *p;
	gint64 t0, t1;
	int i;

	(void)data;
	add_user(f, "big@example.com");
	md = path(f, "big");
	p = g_build_filename(md, "cur", NULL);
	g_assert_cmpint(g_mkdir_with_parents(p, 0700), ==, 0);
	g_free(p);
	for (i = 0; i < 10000; i++) {
		char rel[64], body[256];

		snprintf(rel, sizeof(rel), "big/cur/%d.m%d.host:2,S",
			 1600000000 + i, i);
		snprintf(body, sizeof(body),
			 "From: x@y\nSubject: %d\n\n"
			 "message body %d\nsecond line\n",
			 i, i);
		put(f, rel, body, 0);
	}
	args = g_strdup_printf("import maildir %s big@example.com", md);
	t0 = g_get_monotonic_time();
	run_ok(f, args, "imported 10000 messages");
	t1 = g_get_monotonic_time();
	g_test_message("import of 10000 messages: %.2f s, %.0f messages/s",
		       (double)(t1 - t0) / 1e6,
		       10000.0 / ((double)(t1 - t0) / 1e6));
	g_printerr("# import of 10000 messages: %.2f s, %.0f messages/s\n",
		   (double)(t1 - t0) / 1e6,
		   10000.0 / ((double)(t1 - t0) / 1e6));
	run_ok(f, args, "imported 0 messages");
	g_free(args);
	g_free(md);
}

static void mkdirs(struct rmh_store *f, const char *rel)
{
	char *p = path(f, rel);

	g_assert_cmpint(g_mkdir_with_parents(p, 0700), ==, 0);
	g_free(p);
}

static void symlink_at(struct rmh_store *f, const char *target_rel,
		       const char *rel)
{
	char *t = path(f, target_rel), *l = path(f, rel);

	g_assert_cmpint(symlink(t, l), ==, 0);
	g_free(t);
	g_free(l);
}

/* does any file under dir hold `needle` */
static bool tree_has(const char *dir, const char *needle)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;
	bool found = false;

	if (d == NULL)
		return false;
	while (!found && (name = g_dir_read_name(d)) != NULL) {
		char *p = g_build_filename(dir, name, NULL), *text = NULL;

		if (g_file_test(p, G_FILE_TEST_IS_SYMLINK))
			found = true; /* export never writes one */
		else if (g_file_test(p, G_FILE_TEST_IS_DIR))
			found = tree_has(p, needle);
		else if (g_file_get_contents(p, &text, NULL, NULL))
			found = strstr(text, needle) != NULL;
		g_free(text);
		g_free(p);
	}
	g_dir_close(d);
	return found;
}

static void want_reported(const struct rmh_cmd *r, const char *what)
{
	if (strstr(r->err, what) == NULL)
		g_error("%s not reported:\n%s", what, r->err);
}

/* A hostile tree: nothing outside it is read, through a symlinked
 * folder, cur/ or message, a hard link or a FIFO; each is reported. */
static void test_hostile_tree(struct rmh_store *f, gconstpointer data)
{
	char *md, *args, *out, *p;
	struct rmh_cmd r;

	(void)data;
	add_user(f, "eve@example.com");
	put(f, "md/cur/1.ok.host:2,S", "From: ok@x\nSubject: ok\n\nfine\n", 0);
	mkdirs(f, "md/new");
	/* outside the tree */
	put(f, "outside/file", "From: s@x\n\nSECRET-LINK\n", 0);
	put(f, "outside/hard", "From: s@x\n\nSECRET-HARD\n", 0);
	put(f, "outside/curdir/6.y.host:2,S", "From: s@x\n\nSECRET-FOLDER\n",
	    0);
	put(f, "outside/folder/cur/7.z.host:2,S",
	    "From: s@x\n\nSECRET-DIRLINK\n", 0);
	put(f, "outside/curdir2/8.w.host:2,S", "From: s@x\n\nSECRET-CUR\n", 0);
	put(f, "outside/kw", "0 SECRET-KEYWORD\n", 0);
	/* a message symlink, a hard link, a FIFO */
	symlink_at(f, "outside/file", "md/cur/2.link.host:2,S");
	{
		char *a = path(f, "outside/hard"),
		     *b = path(f, "md/cur/3.hard.host:2,S");

		g_assert_cmpint(link(a, b), ==, 0);
		g_free(a);
		g_free(b);
	}
	p = path(f, "md/cur/4.fifo.host:2,S");
	g_assert_cmpint(mkfifo(p, 0600), ==, 0);
	g_free(p);
	/* .Folder/cur a symlink, .Linked a symlinked folder, keywords */
	mkdirs(f, "md/.Folder/new");
	symlink_at(f, "outside/curdir", "md/.Folder/cur");
	symlink_at(f, "outside/folder", "md/.Linked");
	symlink_at(f, "outside/kw", "md/dovecot-keywords");
	/* another owner than the tree's (root can make one) */
	if (geteuid() == 0) {
		p = path(f, "md/cur/5.owner.host:2,S");
		g_assert_true(g_file_set_contents(
			p, "From: o@x\n\nSECRET-OWNER\n", -1, NULL));
		g_assert_cmpint(chown(p, 65534, 65534), ==, 0);
		g_free(p);
	}
	/* a second tree whose cur/ itself is a symlink */
	mkdirs(f, "md2/new");
	symlink_at(f, "outside/curdir2", "md2/cur");

	md = path(f, "md");
	args = g_strdup_printf("import maildir %s eve@example.com", md);
	r = rmh_store_run(f, NULL, args);
	g_test_message("import: %d\n%s%s", r.status, r.out, r.err);
	g_assert_cmpint(r.status, ==, 1);
	g_assert_nonnull(strstr(r.out, "imported 1 messages"));
	want_reported(&r, "2.link.host:2,S");
	want_reported(&r, "3.hard.host:2,S");
	want_reported(&r, "4.fifo.host:2,S");
	want_reported(&r, ".Folder/cur");
	want_reported(&r, ".Linked");
	want_reported(&r, "dovecot-keywords");
	if (geteuid() == 0)
		want_reported(&r, "5.owner.host:2,S");
	rmh_cmd_free(&r);
	g_free(args);
	g_free(md);

	md = path(f, "md2");
	args = g_strdup_printf("import maildir %s eve@example.com", md);
	r = rmh_store_run(f, NULL, args);
	g_test_message("import: %d\n%s%s", r.status, r.out, r.err);
	g_assert_cmpint(r.status, ==, 1);
	g_assert_nonnull(strstr(r.out, "imported 0 messages"));
	want_reported(&r, "md2/cur");
	rmh_cmd_free(&r);
	g_free(args);
	g_free(md);

	/* what went in: the one good message, nothing else */
	out = path(f, "out");
	args = g_strdup_printf("export maildir eve@example.com %s", out);
	run_ok(f, args, "exported 1 messages");
	g_assert_false(tree_has(out, "SECRET"));
	g_free(args);
	g_free(out);
}

static guint dir_count(struct rmh_store *f, const char *rel)
{
	char *p = path(f, rel);
	GDir *d = g_dir_open(p, 0, NULL);
	guint n = 0;

	g_assert_nonnull(d);
	while (g_dir_read_name(d) != NULL)
		n++;
	g_dir_close(d);
	g_free(p);
	return n;
}

/* export into out, expect it refused (exit 1) and `what` reported */
static struct rmh_cmd export_refused(struct rmh_store *f, const char *out,
				     const char *what)
{
	char *p = path(f, out),
	     *args = g_strdup_printf("export maildir ann@example.com %s", p);
	struct rmh_cmd r = rmh_store_run(f, NULL, args);

	g_test_message("export %s: %d\n%s%s", out, r.status, r.out, r.err);
	if (r.status != 1)
		g_error("export into %s -> %d, wanted 1\n%s%s", out, r.status,
			r.out, r.err);
	want_reported(&r, what);
	g_free(args);
	g_free(p);
	return r;
}

/* rel made and given to another owner: an export into out writes
 * nothing into it */
static void foreign_dir_refused(struct rmh_store *f, const char *out,
				const char *rel)
{
	char *p = path(f, rel);
	struct rmh_cmd r;

	mkdirs(f, rel);
	g_assert_cmpint(chown(p, 65534, 65534), ==, 0);
	g_free(p);
	r = export_refused(f, out, "owned by");
	rmh_cmd_free(&r);
	g_assert_cmpuint(dir_count(f, rel), ==, 0);
}

/* An export destination someone prepared: nothing is written outside
 * it through a symlinked top, cur/, folder or file name, or into a
 * directory of another owner; each is refused and reported. */
static void test_export_hostile(struct rmh_store *f, gconstpointer data)
{
	char *md, *args, *good, *base, *p, *text = NULL;
	const char *name;
	struct rmh_cmd r;
	GDir *d;

	(void)data;
	make_fixture(f);
	add_user(f, "ann@example.com");
	md = path(f, "md");
	args = g_strdup_printf("import maildir %s ann@example.com", md);
	run_ok(f, args, "imported 5 messages");
	g_free(args);
	/* a clean export tells the message file names */
	good = path(f, "good");
	args = g_strdup_printf("export maildir ann@example.com %s", good);
	run_ok(f, args, "exported 5 messages");
	g_free(args);
	p = path(f, "good/cur");
	d = g_dir_open(p, 0, NULL);
	g_assert_nonnull(d);
	name = g_dir_read_name(d);
	g_assert_nonnull(name);
	base = g_strndup(name, strcspn(name, ":"));
	g_dir_close(d);
	g_free(p);

	mkdirs(f, "outside/cur");
	mkdirs(f, "outside/folder");
	mkdirs(f, "outside/top");
	put(f, "outside/file", "KEEP", 0);
	put(f, "outside/kw", "0 SECRET-KEYWORD\n", 0);

	/* cur/ a symlink out of the tree */
	mkdirs(f, "out1");
	symlink_at(f, "outside/cur", "out1/cur");
	r = export_refused(f, "out1", "out1/cur");
	want_reported(&r, "symbolic link");
	rmh_cmd_free(&r);
	g_assert_cmpuint(dir_count(f, "outside/cur"), ==, 0);

	/* a folder a symlink: the other mailboxes are still exported */
	mkdirs(f, "out2");
	symlink_at(f, "outside/folder", "out2/.Work.Projects");
	r = export_refused(f, "out2", ".Work.Projects");
	rmh_cmd_free(&r);
	g_assert_cmpuint(dir_count(f, "outside/folder"), ==, 0);
	g_assert_cmpuint(dir_count(f, "out2/cur"), ==, 3);

	/* file names planted as symlinks: the tmp/ name of a message, a
	 * message already "there", dovecot-keywords */
	mkdirs(f, "out3/tmp");
	mkdirs(f, "out3/cur");
	p = g_strdup_printf("out3/tmp/%s", base);
	symlink_at(f, "outside/planted", p);
	g_free(p);
	symlink_at(f, "outside/file", "out3/cur/1.planted.rmail,S=1,W=1:2,S");
	symlink_at(f, "outside/kw", "out3/dovecot-keywords");
	r = export_refused(f, "out3", base);
	want_reported(&r, "1.planted.rmail");
	want_reported(&r, "dovecot-keywords");
	rmh_cmd_free(&r);
	p = path(f, "outside/planted");
	g_assert_false(g_file_test(p, G_FILE_TEST_EXISTS));
	g_free(p);
	p = path(f, "outside/file");
	g_assert_true(g_file_get_contents(p, &text, NULL, NULL));
	g_assert_cmpstr(text, ==, "KEEP");
	g_free(text);
	g_free(p);
	p = path(f, "out3/dovecot-keywords");
	g_assert_true(g_file_test(p, G_FILE_TEST_IS_SYMLINK));
	g_free(p);

	/* the destination itself a symlink */
	symlink_at(f, "outside/top", "out4");
	r = export_refused(f, "out4", "symbolic link");
	rmh_cmd_free(&r);
	g_assert_cmpuint(dir_count(f, "outside/top"), ==, 0);

	/* a directory of another owner (root can make one) */
	if (geteuid() == 0) {
		foreign_dir_refused(f, "out5", "out5/cur");
		/* the top too: not the exporting user's to write */
		foreign_dir_refused(f, "out6", "out6");
	}
	g_free(base);
	g_free(good);
	g_free(md);
}

/* As root with run_as, the import reads the tree as that user: a file
 * only root may read stays out. */
static void test_run_as(struct rmh_store *f, gconstpointer data)
{
	struct passwd *pw = getpwnam("nobody");
	char *text = NULL, *conf, *md, *args, *p, *root;
	struct rmh_cmd r;

	(void)data;
	if (geteuid() != 0 || pw == NULL) {
		g_test_skip("needs root and a user \"nobody\"");
		return;
	}
	g_assert_true(g_file_get_contents(f->config, &text, NULL, NULL));
	conf = g_strdup_printf("{\"run_as\": \"nobody\", %s", text + 1);
	g_assert_true(g_file_set_contents(f->config, conf, -1, NULL));
	g_assert_cmpint(chmod(f->dir, 0755), ==, 0);
	root = path(f, "mail");
	/* root's mail root, writable by all: only run_as makes the
	 * command drop its privileges (an owned root already did) */
	g_assert_cmpint(chmod(root, 0777), ==, 0);
	add_user(f, "rae@example.com");
	put(f, "md/cur/1.root.host:2,S", "From: r@x\n\nROOT-ONLY\n", 0);
	p = path(f, "md/cur/1.root.host:2,S");
	g_assert_cmpint(chmod(p, 0600), ==, 0);
	md = path(f, "md");
	/* the tree is open to all; the one message is not */
	g_assert_cmpint(chmod(md, 0755), ==, 0);
	g_free(p);
	p = path(f, "md/cur");
	g_assert_cmpint(chmod(p, 0755), ==, 0);
	args = g_strdup_printf("import maildir %s rae@example.com", md);
	r = rmh_store_run(f, NULL, args);
	g_test_message("import: %d\n%s%s", r.status, r.out, r.err);
	g_assert_nonnull(strstr(r.out, "imported 0 messages"));
	g_assert_nonnull(strstr(r.err, "Permission denied"));
	g_assert_cmpint(r.status, ==, 1);
	rmh_cmd_free(&r);
	g_free(args);
	g_free(md);
	g_free(p);
	g_free(root);
	g_free(conf);
	g_free(text);
}
/* the lines of DIR/subscriptions (Dovecot's Maildir++ file), sorted */
static char *subs_of(struct rmh_store *f, const char *rel)
{
	char *p = path(f, rel), *text = NULL, **v, *joined;

	if (!g_file_get_contents(p, &text, NULL, NULL))
		g_error("no %s", p);
	v = g_strsplit(text, "\n", -1);
	qsort(v, g_strv_length(v), sizeof(char *), cmp_pstr);
	joined = g_strjoinv(",", v);
	g_strfreev(v);
	g_free(text);
	g_free(p);
	return joined;
}

/* Subscriptions travel both ways through Dovecot's `subscriptions`
 * file: an import subscribes what the file lists (both of Dovecot's
 * formats), not every folder, and an export writes the file. */
static void test_subscriptions(struct rmh_store *f, gconstpointer data)
{
	char *md, *out, *args, *got;

	(void)data;
	put(f, "md/cur/1.i.host:2,", msg_a, 1600000000);
	put(f, "md/.Work.Projects/cur/2.w.host:2,", msg_w, 1600000100);
	put(f, "md/.Caf&AOk-/cur/3.k.host:2,", msg_k, 1600000200);
	put(f, "md/.Old/cur/4.o.host:2,", msg_b, 1600000300);
	/* version 1: storage names, '.' between levels */
	put(f, "md/subscriptions", "INBOX\nWork.Projects\nCaf&AOk-\n", 0);
	add_user(f, "ann@example.com");
	add_user(f, "bea@example.com");
	md = path(f, "md");
	args = g_strdup_printf("import maildir %s ann@example.com", md);
	run_ok(f, args, "imported 4 messages");
	g_free(args);
	out = path(f, "out");
	args = g_strdup_printf("export maildir ann@example.com %s", out);
	run_ok(f, args, "exported 4 messages");
	/* twice: the file is replaced, not appended to */
	run_ok(f, args, "exported 0 messages");
	g_free(args);
	got = subs_of(f, "out/subscriptions");
	/* the defaults of a new user, plus the file's, never Old or the
	 * \Noselect parent Work */
	g_assert_cmpstr(got, ==,
			",Archive,Caf&AOk-,Drafts,INBOX,Junk,Sent,Trash,"
			"Work.Projects");
	g_free(got);

	/* version 2 (Dovecot 2.2+): a header, levels split by a tab */
	put(f, "md/subscriptions", "V\t2\n\nWork\tProjects\nCaf&AOk-\n", 0);
	args = g_strdup_printf("import maildir %s bea@example.com", md);
	run_ok(f, args, "imported 4 messages");
	g_free(args);
	g_free(out);
	out = path(f, "out2");
	args = g_strdup_printf("export maildir bea@example.com %s", out);
	run_ok(f, args, "exported 4 messages");
	g_free(args);
	got = subs_of(f, "out2/subscriptions");
	g_assert_cmpstr(got, ==,
			",Archive,Caf&AOk-,Drafts,INBOX,Junk,Sent,Trash,"
			"Work.Projects");
	g_free(got);
	g_free(md);
	g_free(out);
}

/* A Dovecot home: mail in ~/Maildir, Pigeonhole's scripts in ~/sieve
 * and ~/.dovecot.sieve (a symlink to the active one).  `import maildir`
 * brings the scripts too, through the store's sieve ops; one that does
 * not compile is reported, a symlink inside sieve/ never read. */
static void test_sieve_scripts(struct rmh_store *f, gconstpointer data)
{
	char *md, *args, *active, *outside;
	struct rmh_cmd r;

	(void)data;
	put(f, "home/Maildir/cur/1.i.host:2,", msg_a, 1600000000);
	put(f, "home/sieve/filters.sieve",
	    "require \"fileinto\";\nif header :contains \"subject\" "
	    "\"x\" { fileinto \"Work\"; }\n",
	    0);
	put(f, "home/sieve/old.sieve", "keep;\n", 0);
	put(f, "home/sieve/broken.sieve", "if {\n", 0);
	put(f, "secret.txt", "keep;\n", 0);
	outside = path(f, "secret.txt");
	active = path(f, "home/sieve/linked.sieve");
	g_assert_cmpint(symlink(outside, active), ==, 0);
	g_free(active);
	g_free(outside);
	active = path(f, "home/.dovecot.sieve");
	g_assert_cmpint(symlink("sieve/filters.sieve", active), ==, 0);
	g_free(active);
	add_user(f, "sid@example.com");
	md = path(f, "home/Maildir");
	args = g_strdup_printf("import maildir %s sid@example.com", md);
	r = rmh_store_run(f, NULL, args);
	g_test_message("%s%s", r.out, r.err);
	/* the broken script makes it fail, after importing the rest */
	g_assert_cmpint(r.status, !=, 0);
	g_assert_nonnull(strstr(r.out, "imported 1 messages"));
	g_assert_nonnull(strstr(r.err, "broken.sieve"));
	rmh_cmd_free(&r);
	g_free(args);
	r = rmh_store_run(f, NULL, "sieve list sid@example.com --json");
	g_test_message("%s%s", r.out, r.err);
	g_assert_cmpint(r.status, ==, 0);
	g_assert_nonnull(strstr(r.out, "\"filters\""));
	g_assert_nonnull(strstr(r.out, "\"old\""));
	g_assert_null(strstr(r.out, "\"broken\""));
	g_assert_null(strstr(r.out, "\"linked\""));
	rmh_cmd_free(&r);
	r = rmh_store_run(f, NULL, "sieve get sid@example.com");
	g_assert_cmpint(r.status, ==, 0);
	g_assert_nonnull(strstr(r.out, "fileinto \"Work\""));
	rmh_cmd_free(&r);
	g_free(md);
}

/* the home is the user's: a `sieve` that is a link to a directory
 * elsewhere on the host is not read through */
static void test_sieve_dir_link(struct rmh_store *f, gconstpointer data)
{
	char *md, *args, *link, *outside;
	struct rmh_cmd r;

	(void)data;
	put(f, "home/Maildir/cur/1.i.host:2,", msg_a, 1600000000);
	put(f, "elsewhere/evil.sieve", "keep;\n", 0);
	outside = path(f, "elsewhere");
	link = path(f, "home/sieve");
	g_assert_cmpint(symlink(outside, link), ==, 0);
	g_free(link);
	g_free(outside);
	add_user(f, "sid@example.com");
	md = path(f, "home/Maildir");
	args = g_strdup_printf("import maildir %s sid@example.com", md);
	r = rmh_store_run(f, NULL, args);
	g_test_message("%s%s", r.out, r.err);
	g_assert_nonnull(strstr(r.out, "imported 1 messages"));
	rmh_cmd_free(&r);
	g_free(args);
	r = rmh_store_run(f, NULL, "sieve list sid@example.com --json");
	g_test_message("%s%s", r.out, r.err);
	g_assert_cmpint(r.status, ==, 0);
	g_assert_null(strstr(r.out, "\"evil\""));
	rmh_cmd_free(&r);
	g_free(md);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add("/import/roundtrip", struct rmh_store, NULL, rmh_store_setup,
		   test_roundtrip, rmh_store_teardown);
	g_test_add("/import/speed", struct rmh_store, NULL, rmh_store_setup,
		   test_speed, rmh_store_teardown);
	g_test_add("/import/hostile_tree", struct rmh_store, NULL,
		   rmh_store_setup, test_hostile_tree, rmh_store_teardown);
	g_test_add("/import/export_hostile", struct rmh_store, NULL,
		   rmh_store_setup, test_export_hostile, rmh_store_teardown);
	g_test_add("/import/run_as", struct rmh_store, NULL, rmh_store_setup,
		   test_run_as, rmh_store_teardown);
	g_test_add("/import/sieve-scripts", struct rmh_store, NULL,
		   rmh_store_setup, test_sieve_scripts, rmh_store_teardown);
	g_test_add("/import/sieve-dir-link", struct rmh_store, NULL,
		   rmh_store_setup, test_sieve_dir_link, rmh_store_teardown);
	g_test_add("/import/subscriptions", struct rmh_store, NULL,
		   rmh_store_setup, test_subscriptions, rmh_store_teardown);
	return g_test_run();
}
