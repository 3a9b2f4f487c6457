/*
 * One message as the index keeps it, and the searchable text of a
 * message: the one extraction both the index and mod_imap's SEARCH use
 * (rmail_core.search_text), so a substring of one is a substring of
 * the other by construction.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "idx.h"
#include "index.h"
#include "rm.h"

static const struct rmail_mime_limits limits = {
	.size = sizeof(struct rmail_mime_limits),
};

static const char *const hdr_names[IDX_H_COUNT] = {
	"Subject", "From",	 "To",	       "Cc",
	"Date",	   "Message-ID", "References", "In-Reply-To",
};

static void addr_text(struct idx_buf *b, const struct rmail_mime_addr *a)
{
	b->len = 0;
	if (a->mailbox == NULL) {
		if (a->group != NULL)
			idx_buf_add(b, a->group, strlen(a->group));
		return;
	}
	if (a->name != NULL) {
		idx_buf_add(b, a->name, strlen(a->name));
		idx_buf_add(b, " <", 2);
	}
	idx_buf_add(b, a->mailbox, strlen(a->mailbox));
	if (a->host != NULL) {
		idx_buf_add(b, "@", 1);
		idx_buf_add(b, a->host, strlen(a->host));
	}
	if (a->name != NULL)
		idx_buf_add(b, ">", 1);
}

/* every address of every `field` header, each folded and ended by a
 * NUL; the number of addresses */
static size_t fold_addresses(struct rmail_mime *m, const char *field,
			     struct idx_buf *out, bool *has_r)
{
	struct idx_buf one = {0};
	const struct rmail_mime_addr *a;
	const char *v;
	size_t nth, n, i, pieces = 0;

	for (nth = 0; nth < 1000; nth++) {
		v = rm_mime_header(m, 0, field, nth, 0);
		if (v == NULL)
			break;
		if (has_r != NULL)
			*has_r = true;
		if (rm_mime_addresses(m, v, &a, &n) < 0)
			continue;
		for (i = 0; i < n; i++) {
			addr_text(&one, &a[i]);
			if (one.len == 0)
				continue;
			idx_fold(one.p, one.len, out);
			idx_buf_add(out, "", 1);
			pieces++;
		}
	}
	idx_buf_free(&one);
	return pieces;
}

/* a part's header: raw, plus the decoded forms of the fields that
 * carry encoded-words */
static void add_head(struct rmail_mime *m, const char *data, size_t len,
		     size_t idx, struct idx_buf *out)
{
	static const char *const dec[] = {
		"Subject", "From", "To", "Cc", "Bcc", "Reply-To",
	};
	const struct rmail_mime_part *p = rm_mime_part(m, idx);
	size_t i;

	if (p != NULL && p->hdr_off + p->hdr_len <= len)
		idx_fold(data + p->hdr_off, (size_t)p->hdr_len, out);
	for (i = 0; i < sizeof(dec) / sizeof(dec[0]); i++) {
		const char *v = rm_mime_header(m, idx, dec[i], 0, 1);

		if (v == NULL)
			continue;
		idx_buf_add(out, "", 1);
		idx_fold(v, strlen(v), out);
	}
	idx_buf_add(out, "", 1);
}

/* What a user reads as text, as Dovecot searches it: text parts, the
 * reports of a bounce or a read receipt (Reporting-MTA,
 * Final-Recipient ...), and the header of every attached message (its
 * own text parts are parts of the tree too). */
static bool is_text_part(const struct rmail_mime_part *p)
{
	static const char *const msg[] = {
		"delivery-status",	  "disposition-notification",
		"global-delivery-status", "global-disposition-notification",
		"global-headers",	  "rfc822-headers",
	};

	if (strcmp(p->type, "text") == 0)
		return true;
	if (strcmp(p->type, "message") != 0 || p->subtype == NULL)
		return false;
	for (size_t i = 0; i < sizeof(msg) / sizeof(msg[0]); i++)
		if (strcmp(p->subtype, msg[i]) == 0)
			return true;
	return false;
}

static size_t build_body(struct rmail_mime *m, const char *data, size_t len,
			 struct idx_buf *out)
{
	size_t i, n = rm_mime_part_count(m), pieces = 0;
	struct rmail_err err;

	for (i = 0; i < n; i++) {
		const struct rmail_mime_part *p = rm_mime_part(m, i);
		const char *b;
		size_t blen;

		if (p == NULL || (p->flags & RMAIL_MIME_MULTIPART))
			continue;
		if (p->flags & RMAIL_MIME_MESSAGE) {
			if (p->first_child != RMAIL_MIME_NONE) {
				add_head(m, data, len, p->first_child, out);
				pieces++;
			}
			continue;
		}
		if (!is_text_part(p))
			continue;
		if (rm_mime_body(m, i, 1, &b, &blen, &err) < 0)
			continue;
		idx_fold(b, blen, out);
		idx_buf_add(out, "", 1);
		pieces++;
	}
	return pieces;
}

size_t idx_text(struct rmail_mime *m, const char *data, size_t len, int what,
		const char *field, struct idx_buf *out)
{
	switch (what) {
	case RMAIL_SEARCH_BODY:
		return build_body(m, data, len, out);
	case RMAIL_SEARCH_HEAD:
		add_head(m, data, len, 0, out);
		return 1;
	case RMAIL_SEARCH_ADDRESSES:
		return field != NULL ? fold_addresses(m, field, out, NULL) : 0;
	default:
		return 0;
	}
}

size_t rm_search_text(struct rmail_mime *mime, const char *data, size_t len,
		      int what, const char *field, char **buf, size_t *len_r,
		      size_t *cap_r)
{
	struct idx_buf b = {*buf, *len_r, *cap_r};
	size_t n;

	if (mime == NULL)
		return 0;
	n = idx_text(mime, data, len, what, field, &b);
	*buf = b.p;
	*len_r = b.len;
	*cap_r = b.cap;
	return n;
}

/* the folded columns in `cols` (bits of enum idx_fold_col) of a
 * parsed message */
static void build_cols(struct rmail_mime *m, const char *data, size_t len,
		       unsigned cols, struct idx_doc *d)
{
	static const char *const addr[] = {
		[IDX_F_FROM] = "From",
		[IDX_F_TO] = "To",
		[IDX_F_CC] = "Cc",
	};
	const char *v;
	size_t nth;

	for (nth = 0; (cols & 1u << IDX_F_SUBJECT) && nth < 1000; nth++) {
		v = rm_mime_header(m, 0, "Subject", nth, 1);
		if (v == NULL)
			break;
		d->has[IDX_F_SUBJECT] = true;
		idx_fold(v, strlen(v), &d->fold[IDX_F_SUBJECT]);
		idx_buf_add(&d->fold[IDX_F_SUBJECT], "", 1);
	}
	for (int c = IDX_F_FROM; c <= IDX_F_CC; c++)
		if (cols & 1u << c)
			fold_addresses(m, addr[c], &d->fold[c], &d->has[c]);
	if (cols & 1u << IDX_F_BODY)
		build_body(m, data, len, &d->fold[IDX_F_BODY]);
	if (cols & 1u << IDX_F_HEAD)
		add_head(m, data, len, 0, &d->fold[IDX_F_HEAD]);
}

int idx_doc_cols(const char *data, size_t len, unsigned cols, struct idx_doc *d)
{
	struct rmail_mime *m = NULL;
	struct rmail_err err;

	memset(d, 0, sizeof(*d));
	if (rm_mime_parse(data, len, &limits, &m, &err) < 0)
		return -1;
	build_cols(m, data, len, cols, d);
	rm_mime_free(&m);
	return 0;
}

int idx_doc_build(const char *data, size_t len, struct idx_doc *d)
{
	struct rmail_mime *m = NULL;
	struct rmail_err err;
	const char *v;
	int i;

	memset(d, 0, sizeof(*d));
	if (rm_mime_parse(data, len, &limits, &m, &err) < 0)
		return -1;
	for (i = 0; i < IDX_H_COUNT; i++) {
		v = rm_mime_header(m, 0, hdr_names[i], 0, i == IDX_H_SUBJECT);
		if (v != NULL)
			d->hdr[i] = rm_xstrdup(v);
	}
	build_cols(m, data, len, (1u << IDX_F_COUNT) - 1, d);
	rm_mime_free(&m);
	return 0;
}

void idx_doc_free(struct idx_doc *d)
{
	for (int i = 0; i < IDX_H_COUNT; i++)
		free(d->hdr[i]);
	for (int i = 0; i < IDX_F_COUNT; i++)
		idx_buf_free(&d->fold[i]);
	memset(d, 0, sizeof(*d));
}
