/* Writing one message's rows: the header cache row and its full-text
 * row under the same id. */
#include <sqlite3.h>
#include <string.h>

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
			  SQLITE_TRANSIENT);
}

int idx_db_put(sqlite3 *db, int64_t mbox, uint32_t uid, const struct idx_doc *d)
{
	sqlite3_stmt *st = NULL;
	struct idx_buf tmp = {0};
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
		bind_fts(st, 2 + i, &d->fold[i], &tmp);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	idx_buf_free(&tmp);
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
