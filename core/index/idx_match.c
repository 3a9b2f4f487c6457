/*
 * rmail_core.index_match: one message checked against a folded needle
 * on the same forms the index stores (idx_doc_build builds them all,
 * idx_doc_cols only the field's), so a caller
 * confirming an index_search candidate, or scanning without an index,
 * compares exactly what IMAP SEARCH and the index compare.
 */
#include <string.h>

#include "idx.h"
#include "index.h"

static int field_col(int field)
{
	switch (field) {
	case RMAIL_INDEX_SUBJECT:
		return IDX_F_SUBJECT;
	case RMAIL_INDEX_FROM:
		return IDX_F_FROM;
	case RMAIL_INDEX_TO:
		return IDX_F_TO;
	case RMAIL_INDEX_CC:
		return IDX_F_CC;
	case RMAIL_INDEX_BODY:
	case RMAIL_INDEX_TEXT:
		return IDX_F_BODY;
	default:
		return -1;
	}
}

static bool in(const struct idx_buf *b, const char *needle, size_t n)
{
	return b->len >= n && memmem(b->p, b->len, needle, n) != NULL;
}

int rm_index_match(const char *data, size_t len, int field, const char *needle,
		   size_t n, struct rmail_err *err)
{
	struct idx_doc d;
	int col = field_col(field), rc;
	unsigned cols;

	if (col < 0) {
		rmail_err_set(err, RMAIL_E_INVAL, "index_match: bad field %d",
			      field);
		return -1;
	}
	/* only the columns compared: a subject or address search does not
	 * decode and fold every text part of every candidate */
	cols = 1u << col;
	if (field == RMAIL_INDEX_TEXT)
		cols |= 1u << IDX_F_HEAD;
	if (idx_doc_cols(data, len, cols, &d) < 0) {
		rmail_err_set(err, RMAIL_E_INVAL, "unparsable message");
		return -1;
	}
	if (n == 0)
		rc = col == IDX_F_BODY || d.has[col];
	else
		rc = in(&d.fold[col], needle, n) ||
		     (field == RMAIL_INDEX_TEXT &&
		      in(&d.fold[IDX_F_HEAD], needle, n));
	idx_doc_free(&d);
	return rc;
}
