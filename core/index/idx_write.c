/* Writing one message's rows: the header cache row and its full-text
 * row under the same id. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "idx.h"

static void bind_fold(sqlite3_stmt *st, int col, const struct idx_doc *d, int f)
{
	if (!d->has[f])
		sqlite3_bind_null(st, col);
	else
		sqlite3_bind_blob(st, col, d->fold[f].p ? d->fold[f].p : "",
				  (int)d->fold[f].len, SQLITE_STATIC);
}

/* FTS5 reads text up to its length, but a NUL ends what the trigram
 * tokenizer sees in some builds: give it newlines instead (the index
 * only narrows; the folded forms keep their NULs) */
static void bind_fts(sqlite3_stmt *st, int col, const struct idx_buf *b,
		     struct idx_buf *tmp)
{
	tmp->len = 0;
	if (b->len > 0)
		idx_buf_add(tmp, b->p, b->len);
	for (size_t i = 0; i < tmp->len; i++)
		if (tmp->p[i] == '\0')
			tmp->p[i] = '\n';
	sqlite3_bind_text(st, col, tmp->p ? tmp->p : "", (int)tmp->len,
			  SQLITE_STATIC);
}

/*
 * The full-text table is contentless, and SQLite before 3.43 deletes a
 * row of such a table only when given the text it indexed: that text
 * is kept beside it, compressed (each column as a 4-byte length and
 * its bytes), so an expunged message's row can be dropped.
 */
static int put_doc(sqlite3 *db, int64_t id, const struct idx_buf *col)
{
	struct idx_buf raw = {0};
	sqlite3_stmt *st = NULL;
	unsigned char *z;
	uLongf zn;
	int rc;

	for (int i = 0; i < IDX_F_COUNT; i++) {
		uint32_t n = (uint32_t)col[i].len;

		idx_buf_add(&raw, &n, sizeof(n));
		if (n > 0)
			idx_buf_add(&raw, col[i].p, n);
	}
	zn = compressBound((uLong)raw.len);
	z = malloc(zn);
	if (z == NULL)
		abort();
	if (compress2(z, &zn, (const Bytef *)raw.p, (uLong)raw.len, 1) !=
	    Z_OK) {
		free(z);
		idx_buf_free(&raw);
		return SQLITE_NOMEM;
	}
	rc = sqlite3_prepare_v2(db,
				"INSERT OR REPLACE INTO ftsdoc(id, n, z) "
				"VALUES(?,?,?)",
				-1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)raw.len);
		sqlite3_bind_blob(st, 3, z, (int)zn, SQLITE_STATIC);
		rc = sqlite3_step(st);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	sqlite3_finalize(st);
	free(z);
	idx_buf_free(&raw);
	return rc;
}

/* the full-text row of msg id `id`, given back its text: FTS5's
 * 'delete' (a row without a kept text, from before the format kept
 * it, cannot be: it stays, the join on msg hides it) */
static int drop_fts(sqlite3 *db, int64_t id)
{
	sqlite3_stmt *st = NULL, *del = NULL;
	unsigned char *raw = NULL;
	uLongf rn = 0;
	int rc;

	rc = sqlite3_prepare_v2(db, "SELECT n, z FROM ftsdoc WHERE id=?", -1,
				&st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		sqlite3_int64 n = sqlite3_column_int64(st, 0);
		const void *z = sqlite3_column_blob(st, 1);
		int zl = sqlite3_column_bytes(st, 1);

		/* n comes from the file: a length zlib cannot inflate zl
		 * bytes to (1032:1 at most) is a corrupt row, not an
		 * allocation the size of whatever it says */
		if (n < 0 || z == NULL || zl <= 0 ||
		    n > (sqlite3_int64)zl * 1032 + 64) {
			rc = SQLITE_CORRUPT;
		} else {
			rn = (uLongf)n;
			raw = malloc((size_t)n + 1);
			if (raw == NULL)
				abort();
			rc = uncompress(raw, &rn, z, (uLong)zl) != Z_OK ||
					     rn != (uLongf)n
				     ? SQLITE_CORRUPT
				     : SQLITE_OK;
		}
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_OK; /* nothing kept */
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK || raw == NULL) {
		free(raw);
		return rc;
	}
	rc = sqlite3_prepare_v2(db,
				"INSERT INTO fts(fts, rowid, subject, afrom, "
				"ato, acc, body, head) "
				"VALUES('delete',?,?,?,?,?,?,?)",
				-1, &del, NULL);
	if (rc == SQLITE_OK) {
		size_t off = 0;

		sqlite3_bind_int64(del, 1, id);
		for (int i = 0; i < IDX_F_COUNT; i++) {
			uint32_t n = 0;

			if (off + sizeof(n) <= rn) {
				memcpy(&n, raw + off, sizeof(n));
				off += sizeof(n);
			}
			if (n > rn - off) {
				rc = SQLITE_CORRUPT;
				break;
			}
			sqlite3_bind_text(del, 2 + i, (const char *)raw + off,
					  (int)n, SQLITE_STATIC);
			off += n;
		}
		if (rc == SQLITE_OK) {
			rc = sqlite3_step(del);
			rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
		}
	}
	sqlite3_finalize(del);
	free(raw);
	return rc;
}

static int exec_id(sqlite3 *db, const char *sql, int64_t a, int64_t b)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, a);
	if (sqlite3_bind_parameter_count(st) > 1)
		sqlite3_bind_int64(st, 2, b);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int idx_db_drop(sqlite3 *db, int64_t mbox, uint32_t uid, int64_t id)
{
	int rc = drop_fts(db, id);

	if (rc == SQLITE_OK)
		rc = exec_id(db, "DELETE FROM ftsdoc WHERE id=?", id, 0);
	if (rc == SQLITE_OK)
		rc = exec_id(db, "DELETE FROM msg WHERE id=?", id, 0);
	if (rc == SQLITE_OK)
		rc = exec_id(db, "DELETE FROM hdr WHERE mbox=? AND uid=?", mbox,
			     uid);
	return rc;
}

int idx_db_put(sqlite3 *db, int64_t mbox, uint32_t uid, const struct idx_doc *d)
{
	sqlite3_stmt *st = NULL;
	struct idx_buf col[IDX_F_COUNT] = {0};
	int64_t id;
	int i, rc;

	rc = sqlite3_prepare_v2(
		db,
		"INSERT OR REPLACE INTO hdr(mbox, uid, subject, from_, to_, "
		"cc, date, message_id, refs, in_reply_to) "
		"VALUES(?,?,?,?,?,?,?,?,?,?)",
		-1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, mbox);
	sqlite3_bind_int64(st, 2, uid);
	for (i = 0; i < IDX_H_COUNT; i++)
		if (d->hdr[i] != NULL)
			sqlite3_bind_text(st, 3 + i, d->hdr[i], -1,
					  SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return rc;
	rc = sqlite3_prepare_v2(db,
				"INSERT OR REPLACE INTO msg(mbox, uid, "
				"f_subject, f_from, f_to, f_cc) "
				"VALUES(?,?,?,?,?,?)",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, mbox);
	sqlite3_bind_int64(st, 2, uid);
	bind_fold(st, 3, d, IDX_F_SUBJECT);
	bind_fold(st, 4, d, IDX_F_FROM);
	bind_fold(st, 5, d, IDX_F_TO);
	bind_fold(st, 6, d, IDX_F_CC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return rc;
	id = sqlite3_last_insert_rowid(db);
	rc = sqlite3_prepare_v2(db,
				"INSERT INTO fts(rowid, subject, afrom, ato, "
				"acc, body, head) VALUES(?,?,?,?,?,?,?)",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	for (i = 0; i < IDX_F_COUNT; i++)
		bind_fts(st, 2 + i, &d->fold[i], &col[i]);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		rc = put_doc(db, id, col);
	for (i = 0; i < IDX_F_COUNT; i++)
		idx_buf_free(&col[i]);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int idx_db_set_hwm(sqlite3 *db, int64_t mbox, uint32_t hwm)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, "UPDATE mbox SET hwm=? WHERE id=?", -1, &st,
				NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, hwm);
	sqlite3_bind_int64(st, 2, mbox);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}
