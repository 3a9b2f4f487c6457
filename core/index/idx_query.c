/*
 * Reading the index: cached header fields, and candidates for a
 * substring search.  Any thread may call at any time; WAL lets readers
 * run beside the writer.  A file SQLite calls corrupt is marked for
 * the writer to replace (a reader holds no lease, so never deletes)
 * and the call fails: the caller reads the messages instead.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "idx.h"
#include "index.h"
#include "rm.h"

/*
 * Each thread keeps its last connection open: opening one (the schema,
 * the FTS5 table's setup) and its page cache filling again from
 * nothing cost more than a rare word's lookup.  It is used again only
 * while the path still names the same file (a rebuild or a removal
 * makes another); every read ends its transaction, so a kept
 * connection never holds back the writer's checkpoints.
 */
struct reader {
	sqlite3 *db;
	char *user;
	dev_t dev;
	ino_t ino;
};

static pthread_key_t reader_key;
static pthread_once_t reader_once = PTHREAD_ONCE_INIT;

static void reader_free(void *arg)
{
	struct reader *r = arg;

	if (r == NULL)
		return;
	idx_db_close(&r->db);
	free(r->user);
	free(r);
}

static void reader_init(void)
{
	(void)pthread_key_create(&reader_key, reader_free);
}

static struct reader *reader_slot(void)
{
	struct reader *r;

	(void)pthread_once(&reader_once, reader_init);
	r = pthread_getspecific(reader_key);
	if (r == NULL) {
		r = rm_xcalloc(1, sizeof(*r));
		(void)pthread_setspecific(reader_key, r);
	}
	return r;
}

static sqlite3 *reader_open(const char *user)
{
	struct reader *r = reader_slot();
	char path[4096];
	struct stat st;

	/* a file a reader found bad is left to the lease holder: until it
	 * replaces it, the caller scans */
	if (idx_db_path(user, path, sizeof(path)) < 0 || stat(path, &st) < 0 ||
	    idx_db_marked(path, &st)) {
		idx_db_close(&r->db);
		return NULL;
	}
	if (r->db != NULL && r->user != NULL && strcmp(r->user, user) == 0 &&
	    r->dev == st.st_dev && r->ino == st.st_ino)
		return r->db;
	idx_db_close(&r->db);
	free(r->user);
	r->user = NULL;
	r->db = idx_db_open(user, false);
	if (r->db == NULL || stat(path, &st) < 0) {
		idx_db_close(&r->db);
		return NULL;
	}
	r->user = rm_xstrdup(user);
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	return r->db;
}

/* the read is over: end its transaction, keep the connection */
static void reader_done(sqlite3 **db)
{
	if (*db != NULL && !sqlite3_get_autocommit(*db))
		(void)sqlite3_exec(*db, "COMMIT", NULL, NULL, NULL);
	*db = NULL;
}

/* the connection failed: not kept */
static void reader_drop(sqlite3 **db)
{
	struct reader *r = reader_slot();

	if (*db == r->db)
		r->db = NULL;
	idx_db_close(db);
}

/* A reader holds no lease: it marks the file its connection read (by
 * device and inode, not by path: a writer may have put another there
 * since) and never deletes it; the lease holder does. */
static int fail(sqlite3 **db, const char *user, int rc, struct rmail_err *err)
{
	struct reader *r = reader_slot();
	char path[4096];

	if (idx_db_is_corrupt(rc) && *db == r->db &&
	    idx_db_path(user, path, sizeof(path)) == 0) {
		rm_log(RMAIL_LOG_WARN,
		       "index: the file of %s is corrupt (%s): it will be "
		       "rebuilt",
		       user, sqlite3_errstr(rc));
		idx_db_mark_bad(path, r->dev, r->ino);
	}
	reader_drop(db);
	return rmail_err_set(err, RMAIL_E_IO, "index: %s", sqlite3_errstr(rc));
}

int rm_index_headers(const char *user, const char *mailbox,
		     uint32_t uidvalidity, const uint32_t *uids, size_t n,
		     rmail_index_hdr_fn cb, void *arg, struct rmail_err *err)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	uint32_t hwm;
	int64_t mid;
	size_t i = 0;
	int rc, found = 0;

	db = reader_open(user);
	if (db == NULL)
		return rmail_err_set(err, RMAIL_E_NOENT, "no index");
	if (n == 0) {
		reader_done(&db);
		return 0;
	}
	mid = idx_db_mbox(db, mailbox, uidvalidity, false, &hwm);
	if (mid <= 0) {
		reader_done(&db);
		return mid < 0 ? rmail_err_set(err, RMAIL_E_IO, "index") : 0;
	}
	rc = sqlite3_prepare_v2(db,
				"SELECT uid, subject, from_, to_, cc, date, "
				"message_id, refs, in_reply_to FROM hdr WHERE "
				"mbox=? AND uid BETWEEN ? AND ? ORDER BY uid",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail(&db, user, rc, err);
	sqlite3_bind_int64(st, 1, mid);
	sqlite3_bind_int64(st, 2, uids[0]);
	sqlite3_bind_int64(st, 3, uids[n - 1]);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint32_t uid = (uint32_t)sqlite3_column_int64(st, 0);
		struct rmail_index_hdr h;
		const char **f[] = {&h.subject,	   &h.from,	  &h.to,
				    &h.cc,	   &h.date,	  &h.message_id,
				    &h.references, &h.in_reply_to};

		while (i < n && uids[i] < uid)
			i++;
		if (i >= n)
			break;
		if (uids[i] != uid)
			continue;
		memset(&h, 0, sizeof(h));
		h.size = sizeof(h);
		h.uid = uid;
		for (int k = 0; k < IDX_H_COUNT; k++)
			*f[k] = (const char *)sqlite3_column_text(st, 1 + k);
		cb(arg, &h);
		found++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail(&db, user, rc, err);
	reader_done(&db);
	return found;
}

/* code points in s[0..n) (bytes that start one) */
static size_t n_chars(const char *s, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			c++;
	return c;
}

/* byte offset of the i-th code point */
static size_t char_off(const char *s, size_t n, size_t idx)
{
	size_t c = 0, i;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80) {
			if (c == idx)
				return i;
			c++;
		}
	return n;
}

#define MAX_TRIGRAMS 12

/* '{cols} : ("abc" AND "bcd" ...)': trigrams ANDed, not a phrase
 * (detail=column has no positions), so the answer is a superset */
static void match_expr(const char *cols, const char *s, size_t n,
		       struct idx_buf *q)
{
	size_t nc = n_chars(s, n), nt = nc - 2, step, k, i;

	idx_buf_puts(q, "{");
	idx_buf_puts(q, cols);
	idx_buf_puts(q, "} : (");
	step = nt <= MAX_TRIGRAMS
		       ? 1
		       : (nt + MAX_TRIGRAMS - 2) / (MAX_TRIGRAMS - 1);
	for (k = 0, i = 0; i < nt; k++) {
		size_t a = char_off(s, n, i), b = char_off(s, n, i + 3);

		if (k > 0)
			idx_buf_puts(q, " AND ");
		idx_buf_add(q, "\"", 1);
		for (size_t j = a; j < b; j++) {
			if (s[j] == '"')
				idx_buf_add(q, "\"", 1);
			idx_buf_add(q, s + j, 1);
		}
		idx_buf_add(q, "\"", 1);
		if (i == nt - 1)
			break;
		i += step;
		if (i > nt - 1)
			i = nt - 1;
	}
	idx_buf_add(q, ")", 1);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int rm_index_search(const char *user, const char *mailbox, uint32_t uidvalidity,
		    int field, const char *needle, size_t n,
		    struct rmail_index_result *r, struct rmail_err *err)
{
	static const char *const fcol[] = {
		[RMAIL_INDEX_SUBJECT] = "f_subject",
		[RMAIL_INDEX_FROM] = "f_from",
		[RMAIL_INDEX_TO] = "f_to",
		[RMAIL_INDEX_CC] = "f_cc",
	};
	static const char *const tcol[] = {
		[RMAIL_INDEX_SUBJECT] = "subject",
		[RMAIL_INDEX_FROM] = "afrom",
		[RMAIL_INDEX_TO] = "ato",
		[RMAIL_INDEX_CC] = "acc",
		[RMAIL_INDEX_BODY] = "body",
		[RMAIL_INDEX_TEXT] = "body head",
	};
	struct rmail_index_result out = {0};
	struct idx_buf q = {0}, sql = {0};
	bool header = field >= RMAIL_INDEX_SUBJECT && field <= RMAIL_INDEX_CC;
	bool tri;
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	uint32_t hwm;
	int64_t mid;
	int rc;

	if (r == NULL || r->size < RMAIL_INDEX_RESULT_SIZE_1_5)
		return rmail_err_set(err, RMAIL_E_INVAL, "result size");
	if (field < RMAIL_INDEX_SUBJECT || field > RMAIL_INDEX_TEXT ||
	    needle == NULL || n == 0 || memchr(needle, '\0', n) != NULL)
		return rmail_err_set(err, RMAIL_E_INVAL, "not indexed");
	tri = n_chars(needle, n) >= 3;
	if (!tri && !header)
		return rmail_err_set(err, RMAIL_E_INVAL, "needle too short");
	db = reader_open(user);
	if (db == NULL)
		return rmail_err_set(err, RMAIL_E_NOENT, "no index");
	/* one read transaction: the high-water mark and the rows agree */
	rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return fail(&db, user, rc, err);
	mid = idx_db_mbox(db, mailbox, uidvalidity, false, &hwm);
	if (mid <= 0) {
		reader_done(&db);
		if (mid < 0)
			return rmail_err_set(err, RMAIL_E_IO, "index");
		goto done;
	}
	if (tri) {
		match_expr(tcol[field], needle, n, &q);
		idx_buf_puts(&sql, "SELECT m.uid");
		if (header) {
			idx_buf_puts(&sql, ", m.");
			idx_buf_puts(&sql, fcol[field]);
		}
		idx_buf_puts(&sql, " FROM fts CROSS JOIN msg m ON "
				   "m.id=fts.rowid WHERE fts MATCH ?1 AND "
				   "m.mbox=?2");
	} else {
		idx_buf_puts(&sql, "SELECT uid, ");
		idx_buf_puts(&sql, fcol[field]);
		idx_buf_puts(&sql, " FROM msg WHERE mbox=?2");
	}
	rc = sqlite3_prepare_v2(db, sql.p, (int)sql.len, &st, NULL);
	if (rc != SQLITE_OK) {
		idx_buf_free(&q);
		idx_buf_free(&sql);
		return fail(&db, user, rc, err);
	}
	if (tri)
		sqlite3_bind_text(st, 1, q.p, (int)q.len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, mid);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint32_t uid = (uint32_t)sqlite3_column_int64(st, 0);

		if (uid > hwm)
			continue;
		if (header) {
			const void *v = sqlite3_column_blob(st, 1);
			int vl = sqlite3_column_bytes(st, 1);

			if (v == NULL || (size_t)vl < n ||
			    memmem(v, (size_t)vl, needle, n) == NULL)
				continue;
		}
		if (out.n == cap) {
			cap = cap ? cap * 2 : 256;
			out.uids =
				rm_xrealloc(out.uids, cap * sizeof(uint32_t));
		}
		out.uids[out.n++] = uid;
	}
	sqlite3_finalize(st);
	idx_buf_free(&q);
	idx_buf_free(&sql);
	if (rc != SQLITE_DONE) {
		free(out.uids);
		return fail(&db, user, rc, err);
	}
	reader_done(&db);
	if (out.n > 1)
		qsort(out.uids, out.n, sizeof(uint32_t), cmp_u32);
done:
	out.upto = hwm;
	out.exact = header;
	r->uids = out.uids;
	r->n = out.n;
	r->upto = out.upto;
	r->exact = out.exact;
	return 0;
}
