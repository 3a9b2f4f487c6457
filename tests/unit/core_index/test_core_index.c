/*
 * core/index through its own functions (what rmail_core.index_headers
 * and index_search call), over the real shard store: the header cache
 * answers for exactly the UIDs asked that it holds, in order, with the
 * values SORT and THREAD need; header searches are exact, short
 * needles work, the high-water mark covers what was indexed; and the
 * index folds exactly as mod_imap's SEARCH does (both through the
 * core's casemap).
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "imap_casemap.h"
#include "index/idx.h"
#include "index/index.h"
#include "rm.h"

#define USER "hc@example.test"

/* what imap_casemap needs of mod_imap's buffers */
void imap_buf_reserve(struct imap_buf *b, size_t n)
{
	if (b->cap - b->len < n) {
		b->cap = (b->len + n + 1) * 2;
		b->p = g_realloc(b->p, b->cap);
	}
}

void imap_buf_add(struct imap_buf *b, const void *d, size_t n)
{
	imap_buf_reserve(b, n + 1);
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

void imap_buf_free(struct imap_buf *b)
{
	g_free(b->p);
	memset(b, 0, sizeof(*b));
}

static const struct rmail_store_ops *ops;
static void *h;
static char *tmp;

static void append(const char *msg)
{
	struct rmail_append_opts o = {.size = sizeof(o), .nosync = 1};
	struct rmail_append *ap = NULL;
	struct rmail_err err;
	uint32_t uid, uv;

	g_assert_cmpint(ops->append_begin(h, USER, "INBOX", &o, &ap, &err), ==,
			0);
	g_assert_cmpint(ops->append_write(ap, msg, strlen(msg), &err), ==, 0);
	g_assert_cmpint(ops->append_commit(ap, &uid, &uv, &err), ==, 0);
	ops->append_free(&ap);
}

static uint32_t inbox_uidvalidity(void)
{
	struct rmail_mbox_status st = {.size = sizeof(st)};
	struct rmail_err err;

	g_assert_cmpint(ops->mbox_status(h, USER, "INBOX", &st, &err), ==, 0);
	return st.uidvalidity;
}

struct seen {
	GPtrArray *lines;
	uint32_t last;
};

static void hdr_cb(void *arg, const struct rmail_index_hdr *x)
{
	struct seen *s = arg;

	g_assert_cmpuint(x->size, >=, RMAIL_INDEX_HDR_SIZE_1_5);
	g_assert_cmpuint(x->uid, >, s->last);
	s->last = x->uid;
	g_ptr_array_add(
		s->lines,
		g_strdup_printf("%u|%s|%s|%s|%s|%s|%s|%s|%s", x->uid,
				x->subject ? x->subject : "-",
				x->from ? x->from : "-", x->to ? x->to : "-",
				x->cc ? x->cc : "-", x->date ? x->date : "-",
				x->message_id ? x->message_id : "-",
				x->references ? x->references : "-",
				x->in_reply_to ? x->in_reply_to : "-"));
}

static void test_headers(void)
{
	uint32_t uv = inbox_uidvalidity();
	/* 2 and 4 exist, 9999 does not: it is not reported */
	const uint32_t uids[] = {2, 4, 9999};
	struct seen s = {g_ptr_array_new_with_free_func(g_free), 0};
	struct rmail_err err;
	int n;

	n = rm_index_headers(USER, "inbox", uv, uids, 3, hdr_cb, &s, &err);
	g_assert_cmpint(n, ==, 2);
	g_assert_cmpstr(s.lines->pdata[0], ==,
			"2|Re: Grüße|\"Carol\" <carol@example.org>|Dave "
			"<dave@example.net>|frank@example.com|Tue, 2 Jan 2024 "
			"10:00:00 +0100|<m2@example.test>|<m1@example.test>|"
			"<m1@example.test>");
	g_assert_cmpstr(s.lines->pdata[1], ==,
			"4|-|x@example.test|-|-|-|-|-|-");
	g_ptr_array_free(s.lines, TRUE);
	/* another UIDVALIDITY: nothing cached */
	s.lines = g_ptr_array_new_with_free_func(g_free);
	s.last = 0;
	n = rm_index_headers(USER, "INBOX", uv + 1, uids, 3, hdr_cb, &s, &err);
	g_assert_cmpint(n, ==, 0);
	g_ptr_array_free(s.lines, TRUE);
}

/* one batch over every UID: the call SORT makes */
static void test_headers_batch(void)
{
	uint32_t uv = inbox_uidvalidity(), *uids = g_new(uint32_t, 2100);
	struct seen s = {g_ptr_array_new_with_free_func(g_free), 0};
	struct rmail_err err;
	gint64 t0;
	int n;

	for (uint32_t i = 0; i < 2100; i++)
		uids[i] = i + 1;
	t0 = g_get_monotonic_time();
	n = rm_index_headers(USER, "INBOX", uv, uids, 2100, hdr_cb, &s, &err);
	g_test_message("index_headers, %d UIDs: %.2f ms", n,
		       (double)(g_get_monotonic_time() - t0) / 1000.0);
	g_assert_cmpint(n, ==, 2004);
	g_free(uids);
	g_ptr_array_free(s.lines, TRUE);
}

static char *uids_of(const struct rmail_index_result *r)
{
	GString *g = g_string_new("");

	for (size_t i = 0; i < r->n && i < 20; i++)
		g_string_append_printf(g, "%s%u", i ? " " : "", r->uids[i]);
	if (r->n > 20)
		g_string_append_printf(g, " ...%zu", r->n);
	return g_string_free(g, FALSE);
}

static char *search(int field, const char *needle, int *exact_r)
{
	struct rmail_index_result r = {.size = sizeof(r)};
	struct rmail_err err;
	struct imap_buf f = {0};
	char *out;

	imap_casemap(needle, strlen(needle), &f);
	g_assert_cmpint(rm_index_search(USER, "INBOX", inbox_uidvalidity(),
					field, f.p, f.len, &r, &err),
			==, 0);
	g_assert_cmpuint(r.upto, ==, 2004);
	*exact_r = r.exact;
	out = uids_of(&r);
	free(r.uids);
	imap_buf_free(&f);
	return out;
}

static void test_search(void)
{
	struct rmail_index_result r = {.size = sizeof(r)};
	struct rmail_err err;
	int exact;
	char *s;

	s = search(RMAIL_INDEX_SUBJECT, "grüsse", &exact);
	g_assert_cmpstr(s, ==, "1 2");
	g_assert_true(exact);
	g_free(s);
	/* shorter than a trigram: the cached forms are scanned */
	s = search(RMAIL_INDEX_SUBJECT, "ü", &exact);
	g_assert_cmpstr(s, ==, "1 2");
	g_free(s);
	s = search(RMAIL_INDEX_FROM, "carol <carol@", &exact);
	g_assert_cmpstr(s, ==, "2");
	g_free(s);
	s = search(RMAIL_INDEX_CC, "frank", &exact);
	g_assert_cmpstr(s, ==, "2");
	g_free(s);
	s = search(RMAIL_INDEX_BODY, "needle", &exact);
	g_assert_cmpstr(s, ==, "3");
	g_assert_false(exact);
	g_free(s);
	s = search(RMAIL_INDEX_TEXT, "message-id", &exact);
	g_assert_cmpstr(s, ==, "1 2");
	g_free(s);
	s = search(RMAIL_INDEX_SUBJECT, "filler", &exact);
	g_assert_cmpstr(s, ==,
			"5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 "
			"24 ...2000");
	g_free(s);
	/* BODY shorter than a trigram, a NUL: the caller reads messages */
	g_assert_cmpint(rm_index_search(USER, "INBOX", inbox_uidvalidity(),
					RMAIL_INDEX_BODY, "AB", 2, &r, &err),
			==, -1);
	g_assert_cmpint(rm_index_search(USER, "INBOX", inbox_uidvalidity(),
					RMAIL_INDEX_SUBJECT, "A\0B", 3, &r,
					&err),
			==, -1);
	/* an unknown mailbox: nothing indexed, everything is backlog */
	g_assert_cmpint(rm_index_search(USER, "Nope", 1, RMAIL_INDEX_BODY,
					"ABC", 3, &r, &err),
			==, 0);
	g_assert_cmpuint(r.upto, ==, 0);
	g_assert_cmpuint(r.n, ==, 0);
}

/* index_match (rmail_core 1.6): the confirmation a caller runs on an
 * index candidate compares the same forms: decoded bodies, decoded
 * subjects, addresses as "name <mailbox@host>", TEXT adding the
 * header; an empty needle asks whether the field is there */
static int match(const char *msg, size_t n, int field, const char *needle,
		 struct rmail_err *err)
{
	struct idx_buf b = {0};
	int rc;

	idx_fold(needle, strlen(needle), &b);
	rc = rm_index_match(msg, n, field, b.p != NULL ? b.p : "", b.len, err);
	idx_buf_free(&b);
	return rc;
}

static void test_match(void)
{
	static const char msg[] =
		"From: Alice <alice@example.test>\r\n"
		"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
		"X-Note: zebra\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n"
		"YSBuZWVkbGUgaW4gYmFzZTY0\r\n"
		"--b\r\nContent-Type: text/plain\r\n\r\nsecond part\r\n"
		"--b--\r\n";
	const size_t n = sizeof(msg) - 1;
	struct rmail_err err;

#define M(f, needle) match(msg, n, f, needle, &err)
	g_assert_cmpint(M(RMAIL_INDEX_BODY, "needle in base64"), ==, 1);
	g_assert_cmpint(M(RMAIL_INDEX_BODY, "second part"), ==, 1);
	g_assert_cmpint(M(RMAIL_INDEX_BODY, "base64"), ==, 1);
	g_assert_cmpint(M(RMAIL_INDEX_BODY, "zebra"), ==, 0);
	g_assert_cmpint(M(RMAIL_INDEX_TEXT, "zebra"), ==, 1);
	g_assert_cmpint(M(RMAIL_INDEX_SUBJECT, "grüsse"), ==, 1);
	g_assert_cmpint(M(RMAIL_INDEX_SUBJECT, "needle"), ==, 0);
	g_assert_cmpint(M(RMAIL_INDEX_FROM, "alice <alice@example"), ==, 1);
	g_assert_cmpint(M(RMAIL_INDEX_TO, ""), ==, 0);
	g_assert_cmpint(M(RMAIL_INDEX_FROM, ""), ==, 1);
	g_assert_cmpint(M(0, "x"), ==, -1);
#undef M
}

/* the index must fold as SEARCH does, or its answers would differ */
static void test_fold_same(void)
{
	static const char *const s[] = {
		"Straße",   "ǅ",    "ﬁ",	   "Ωμέγα", "가각",
		"\xff\xfe", "\xc3", "ÉéE\xcc\x81", "İı",    "\xf0\x9f\x98\x80",
		"Ⅻ",	    "ǰ",    "x\x00y",
	};
	GRand *rnd = g_rand_new_with_seed(22);

	for (size_t i = 0; i < G_N_ELEMENTS(s) + 2000; i++) {
		char buf[64];
		const char *in;
		size_t n;
		struct imap_buf a = {0};
		struct idx_buf b = {0};

		if (i < G_N_ELEMENTS(s)) {
			in = s[i];
			n = strlen(in) + (i == G_N_ELEMENTS(s) - 1 ? 2 : 0);
		} else {
			n = (size_t)g_rand_int_range(rnd, 0, sizeof(buf));
			for (size_t k = 0; k < n; k++)
				buf[k] = (char)g_rand_int(rnd);
			in = buf;
		}
		imap_casemap(in, n, &a);
		idx_fold(in, n, &b);
		g_assert_cmpmem(a.p, a.len, b.p, b.len);
		imap_buf_free(&a);
		idx_buf_free(&b);
	}
	g_rand_free(rnd);
}

/* put a damaged copy of the user's file in its place (a new inode, as
 * a writer's rebuild makes): `garble` overwrites every page but the
 * first, else it is cut to its header */
static void damaged_copy(const char *path, bool garble, struct stat *st_r)
{
	char *tmpf = g_strdup_printf("%s.tmp", path), *data;
	gsize len;

	g_assert_true(g_file_get_contents(path, &data, &len, NULL));
	if (garble) {
		for (gsize off = 4096; off + 20 <= len; off += 512)
			memcpy(data + off, "\xde\xad\xbe\xef garbage garbage",
			       20);
	} else {
		len = 100;
	}
	g_assert_true(g_file_set_contents(tmpf, data, (gssize)len, NULL));
	/* the old file's WAL goes with it, as a writer's replacement does */
	for (int i = 0; i < 2; i++) {
		char *x = g_strdup_printf("%s%s", path, i ? "-shm" : "-wal");

		(void)unlink(x);
		g_free(x);
	}
	g_assert_cmpint(rename(tmpf, path), ==, 0);
	g_assert_cmpint(stat(path, st_r), ==, 0);
	g_free(data);
	g_free(tmpf);
}

/* A reader that meets a corrupt file while a writer holds the lease
 * (the writer may be rebuilding it: the path may already name its new
 * file) must not delete it: the query fails, so the caller scans, and
 * the file is left to the lease holder, which replaces it on its next
 * open. */
static void test_reader_corrupt_in_use(void)
{
	const uint32_t uids[] = {1, 2};
	char path[4096];
	int lease;

	g_assert_cmpint(idx_db_path(USER, path, sizeof(path)), ==, 0);
	for (int garble = 1; garble >= 0; garble--) {
		struct rmail_index_result r = {.size = sizeof(r)};
		struct seen s = {g_ptr_array_new_with_free_func(g_free), 0};
		struct rmail_err err;
		struct stat before, after;
		sqlite3 *db;
		char *got;
		int exact;

		lease = idx_lease_take(USER);
		g_assert_cmpint(lease, >=, 0);
		damaged_copy(path, garble, &before);
		g_assert_cmpint(rm_index_search(USER, "INBOX",
						inbox_uidvalidity(),
						RMAIL_INDEX_BODY, "needle", 6,
						&r, &err),
				==, -1);
		(void)rm_index_headers(USER, "INBOX", inbox_uidvalidity(), uids,
				       2, hdr_cb, &s, &err);
		g_ptr_array_free(s.lines, TRUE);
		g_assert_cmpint(stat(path, &after), ==, 0);
		g_assert_cmpuint(after.st_ino, ==, before.st_ino);
		/* asked again: still not trusted, still not deleted */
		g_assert_cmpint(rm_index_search(USER, "INBOX",
						inbox_uidvalidity(),
						RMAIL_INDEX_BODY, "needle", 6,
						&r, &err),
				==, -1);
		g_assert_cmpint(stat(path, &after), ==, 0);
		g_assert_cmpuint(after.st_ino, ==, before.st_ino);
		/* the lease holder's open replaces what a reader found bad */
		db = idx_db_open(USER, true);
		g_assert_nonnull(db);
		idx_db_close(&db);
		idx_lease_drop(lease);
		/* a valid (empty) file now: the mailbox is all backlog */
		g_assert_cmpint(rm_index_search(USER, "INBOX",
						inbox_uidvalidity(),
						RMAIL_INDEX_BODY, "needle", 6,
						&r, &err),
				==, 0);
		g_assert_cmpuint(r.upto, ==, 0);
		free(r.uids);
		/* built again: the index answers */
		g_assert_cmpint(rm_index_rebuild(USER, &err), ==, 2004);
		got = search(RMAIL_INDEX_BODY, "needle", &exact);
		g_assert_cmpstr(got, ==, "3");
		g_free(got);
	}
}

/* index on: the hook tracks each open view (what test_core_index_off
 * checks stays at 0 with the index off) */
static void test_hook_tracks(void)
{
	struct rmail_mbox *mb = NULL;
	struct rmail_err err;
	size_t n0 = rm_index_hook_tracked();

	g_assert_cmpint(ops->mbox_open(h, USER, "INBOX", &mb, &err), ==, 0);
	g_assert_cmpuint(rm_index_hook_tracked(), ==, n0 + 1);
	ops->mbox_close(&mb);
	g_assert_cmpuint(rm_index_hook_tracked(), ==, n0);
}

static void count_finding(void *arg, const char *where, const char *what,
			  int repaired)
{
	(void)where;
	(void)what;
	(void)repaired;
	(*(int *)arg)++;
}

/* check-store: a file a reader marked unusable is a finding even if it
 * passes quick_check (a reader's statement failed on it); --repair
 * drops it under the lease, as the writer would */
static void test_check_marked(void)
{
	struct rmail_err err;
	struct stat st;
	char path[4096];
	int found = 0;
	char *got;
	int exact;

	g_assert_cmpint(idx_db_path(USER, path, sizeof(path)), ==, 0);
	g_assert_cmpint(rm_index_check(0, 0, count_finding, &found), ==, 0);
	g_assert_cmpint(found, ==, 0);
	g_assert_cmpint(stat(path, &st), ==, 0);
	idx_db_mark_bad(path, st.st_dev, st.st_ino);
	g_assert_cmpint(rm_index_check(0, 0, count_finding, &found), ==, 1);
	g_assert_cmpint(found, ==, 1);
	g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
	g_assert_cmpint(rm_index_check(1, 0, count_finding, &found), ==, 0);
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
	g_assert_cmpint(rm_index_rebuild(USER, &err), ==, 2004);
	got = search(RMAIL_INDEX_BODY, "needle", &exact);
	g_assert_cmpstr(got, ==, "3");
	g_free(got);
}

/* check-store --repair after the store repaired something drops every
 * index file, but never one a writer holds: the writer would go on
 * writing into an unlinked file, or recreate half an index beside the
 * drop.  Held: kept and counted as left; free: dropped. */
static void test_drop_all_in_use(void)
{
	char path[4096];
	int lease, found = 0;

	/* runs after zz-check-in-use removed the real file: any file
	 * named *.sqlite is dropped on this path */
	g_assert_cmpint(idx_db_path(USER, path, sizeof(path)), ==, 0);
	g_assert_true(g_file_set_contents(path, "stale", -1, NULL));
	lease = idx_lease_take(USER);
	g_assert_cmpint(lease, >=, 0);
	g_assert_cmpint(rm_index_check(1, 1, count_finding, &found), ==, 1);
	g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
	idx_lease_drop(lease);
	found = 0;
	g_assert_cmpint(rm_index_check(1, 1, count_finding, &found), ==, 0);
	g_assert_cmpint(found, ==, 1);
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
}

/* check-store beside a running writer: a file whose lease a writer
 * holds is neither called corrupt nor deleted; once free, a damaged
 * file is found and --repair drops it (runs last: it damages it) */
static void test_check_in_use(void)
{
	char path[4096];
	int lease, found = 0, fd;

	g_assert_cmpint(idx_db_path(USER, path, sizeof(path)), ==, 0);
	fd = open(path, O_WRONLY);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(pwrite(fd, "garbage!garbage!", 16, 0), ==, 16);
	close(fd);
	lease = idx_lease_take(USER);
	g_assert_cmpint(lease, >=, 0);
	g_assert_cmpint(rm_index_check(1, 0, count_finding, &found), ==, 0);
	g_assert_cmpint(found, ==, 0);
	g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
	idx_lease_drop(lease);
	g_assert_cmpint(rm_index_check(0, 0, count_finding, &found), ==, 1);
	g_assert_cmpint(found, ==, 1);
	g_assert_cmpint(rm_index_check(1, 0, count_finding, &found), ==, 0);
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
}

int main(int argc, char **argv)
{
	struct rm_cli cli = {.quiet_init = true};
	struct rmail_err err;
	char *conf, *text;
	int rc;

	g_test_init(&argc, &argv, NULL);
	imap_casemap_init(rm_core());
	tmp = g_dir_make_tmp("core-index-XXXXXX", NULL);
	conf = g_build_filename(tmp, "config.json", NULL);
	text = g_strdup_printf("{\"hostname\": \"mx.test\", \"mail_root\": "
			       "\"%s/mail\", \"module_dir\": \"%s\", "
			       "\"modules\": [\"mod_shardstore\"]}",
			       tmp, g_getenv("RMAIL_MODULE_DIR"));
	g_assert_true(g_file_set_contents(conf, text, -1, NULL));
	cli.config_path = conf;
	g_assert_cmpint(rm_cli_store(&cli, &ops, &h), ==, 0);
	g_assert_cmpint(ops->user_add(h, USER, "pw-secret-1", 0, 0, &err), ==,
			0);
	append("From: Alice <alice@example.test>\r\n"
	       "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
	       "Message-ID: <m1@example.test>\r\n\r\nhello\r\n");
	append("From: \"Carol\" <carol@example.org>\r\n"
	       "To: Dave <dave@example.net>\r\nCc: frank@example.com\r\n"
	       "Subject: Re: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
	       "Date: Tue, 2 Jan 2024 10:00:00 +0100\r\n"
	       "Message-ID: <m2@example.test>\r\n"
	       "References: <m1@example.test>\r\n"
	       "In-Reply-To: <m1@example.test>\r\n\r\nanswer\r\n");
	append("From: y@example.test\r\nContent-Type: text/plain; "
	       "charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	       "YSBuZWVkbGUgaW4gYmFzZTY0\r\n");
	append("From: x@example.test\r\n\r\nno subject\r\n");
	for (int i = 0; i < 2000; i++) {
		char m[128];

		snprintf(m, sizeof(m),
			 "From: f%d@example.test\r\nSubject: filler %d\r\n\r\n"
			 "body %d\r\n",
			 i, i, i);
		append(m);
	}
	g_assert_cmpint(ops->mbox_sync(h, USER, "INBOX", &err), ==, 0);
	g_assert_cmpint(rm_index_rebuild(USER, &err), ==, 2004);
	g_test_add_func("/core/index/headers", test_headers);
	g_test_add_func("/core/index/headers-batch", test_headers_batch);
	g_test_add_func("/core/index/search", test_search);
	g_test_add_func("/core/index/fold-same-as-imap", test_fold_same);
	g_test_add_func("/core/index/match", test_match);
	g_test_add_func("/core/index/hook-tracks", test_hook_tracks);
	g_test_add_func("/core/index/reader-corrupt-in-use",
			test_reader_corrupt_in_use);
	g_test_add_func("/core/index/check-marked", test_check_marked);
	g_test_add_func("/core/index/zz-check-in-use", test_check_in_use);
	g_test_add_func("/core/index/zz-drop-all-in-use", test_drop_all_in_use);
	rc = g_test_run();
	{
		char *cmd = g_strdup_printf("rm -rf '%s'", tmp);

		if (system(cmd) != 0)
			rc = 1;
		g_free(cmd);
	}
	g_free(conf);
	g_free(text);
	g_free(tmp);
	return rc;
}
