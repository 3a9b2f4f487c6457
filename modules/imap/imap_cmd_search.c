/*
 * SEARCH and UID SEARCH.  Metadata keys (flags, keywords, size, dates,
 * sets) are answered on the loop from the view.  Keys that need the
 * message (HEADER, FROM..., BODY, TEXT, SENT*) run the whole search as
 * one job on the core's READ pool over a snapshot of the candidates:
 * the session waits, others are not held up, and a disconnect cancels
 * the job between two messages.  Text matches are substring matches of
 * i;unicode-casemap forms after transfer, RFC 2047 and charset
 * decoding; cheap keys are tried first so most messages are never
 * read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_casemap.h"
#include "imap_esearch.h"
#include "imap_search.h"
#include "imap_session.h"
#include "imap_threadid.h"

/* header-only keys read at most this much of a message */
#define HEAD_MAX (1024 * 1024)
#define HEAD_SLICE 8192

static const struct rmail_mime_limits limits = {
	.size = sizeof(struct rmail_mime_limits),
};

#define cand imap_search_cand

/* the message behind a candidate, loaded on the first text key */
struct text_ctx {
	const struct imap_mod *mod;
	struct rmail_mbox *mb;
	bool need_body;
	const struct cand *c;
	bool loaded, failed;
	char *data;
	size_t len;
	struct rmail_mime *mime;
	struct imap_buf fold; /* scratch */
	bool text_ready;
	struct imap_buf text; /* folded bodies for BODY/TEXT */
	bool head_ready;
	struct imap_buf head; /* folded decoded header for TEXT */
};

/* the index's answer for one key (core->index_search) */
struct imap_idx_verdict {
	struct rmail_index_result r;
	struct imap_idx_verdict *next; /* the job's, to free */
};

/* SEARCH THREADID from the header cache (core->index_headers): the
 * candidates it held, in UID order, with what their header derives
 * ("" names no id: the EMAILID decides); one for every THREADID key */
struct imap_tid_verdict {
	uint32_t *uids;
	char (*ids)[IMAP_THREADID_LEN + 1];
	size_t n;
};

struct search_job {
	struct imap_session *s;
	char user[RMAIL_ADDR_MAX + 1];
	char mailbox[RMAIL_MBOX_NAME_MAX + 1];
	uint32_t uidvalidity;
	struct imap_idx_verdict *verdicts;
	struct imap_tid_verdict *tids;
	bool backlog;	 /* the index was behind: ask for an update */
	bool indexed;	 /* the index was asked already (index_first) */
	uint32_t maxuid; /* the map's highest UID when the job began */
	struct imap_search_key *root;
	struct cand *c;
	size_t n;
	bool uid;
	bool need_body;
	unsigned ret; /* RETURN options (imap_esearch.h) */
	struct rmail_mbox *mb;
	uint32_t *hits;
	uint32_t *uids; /* the hits' UIDs, for SAVE */
	bool modseq;	/* a MODSEQ key: say the highest matched */
	uint64_t maxmodseq;
	size_t nhits;
	struct imap_search_post post; /* SORT, THREAD: fn NULL for SEARCH */
	char tag[128];
};

static bool is_text_key(const struct imap_search_key *k)
{
	const struct imap_search_key *ch;

	switch (k->type) {
	case IMAP_SKEY_AND:
	case IMAP_SKEY_OR:
	case IMAP_SKEY_NOT:
		for (ch = k->child; ch != NULL; ch = ch->next)
			if (is_text_key(ch))
				return true;
		return false;
	case IMAP_SKEY_EMAILID:	    /* a stat per message: on the pool */
	case IMAP_SKEY_THREADID:    /* the header's ids: on the pool */
	case IMAP_SKEY_SAVEDBEFORE: /* the store's records: on the pool */
	case IMAP_SKEY_SAVEDON:
	case IMAP_SKEY_SAVEDSINCE:
	case IMAP_SKEY_HEADER:
	case IMAP_SKEY_BODY:
	case IMAP_SKEY_TEXT:
	case IMAP_SKEY_SENTBEFORE:
	case IMAP_SKEY_SENTON:
	case IMAP_SKEY_SENTSINCE:
		return true;
	default:
		return false;
	}
}

/*
 * Resolve sets and keyword names, fold the search strings; -2 when
 * the command's memory does not hold them.  *text_r / *body_r: some
 * key needs the message / its body.
 */
static int prepare(struct imap_session *s, struct imap_search_key *k,
		   const char *const *kw, size_t nkw, bool *text_r,
		   bool *body_r)
{
	for (; k != NULL; k = k->next) {
		struct imap_seqset r;
		struct imap_buf b = {0};
		char *p;
		size_t i;

		switch (k->type) {
		case IMAP_SKEY_AND:
		case IMAP_SKEY_OR:
		case IMAP_SKEY_NOT: {
			int rc = prepare(s, k->child, kw, nkw, text_r, body_r);

			if (rc < 0)
				return rc;
			break;
		}
		case IMAP_SKEY_UID:
		case IMAP_SKEY_SEQSET:
			if (k->seqset.saved) {
				/* "$" is UIDs for both keys; the session
				 * is busy (its "$" unchanged) until the
				 * job ends */
				k->type = IMAP_SKEY_UID;
				k->seqset = (struct imap_seqset){
					.r = s->saved, .n = s->nsaved};
				break;
			}
			if (imap_seqset_resolve(&k->seqset,
						k->type == IMAP_SKEY_UID
							? s->maxuid
							: s->exists,
						&s->arena, &r) < 0)
				return -2;
			k->seqset = r;
			break;
		case IMAP_SKEY_KEYWORD:
			/* bit + 1; 0 = not in the mailbox's table */
			k->flag = 0;
			for (i = 0; i < nkw && i < 64; i++)
				if (strcasecmp(kw[i], k->str) == 0)
					k->flag = (uint32_t)i + 1;
			break;
		case IMAP_SKEY_BODY:
		case IMAP_SKEY_TEXT:
			*body_r = true;
			/* fall through */
		case IMAP_SKEY_HEADER:
			*text_r = true;
			imap_casemap(k->str, k->str_len, &b);
			p = imap_arena_alloc(&s->arena, b.len + 1);
			if (p == NULL) {
				imap_buf_free(&b);
				return -2;
			}
			if (b.len > 0)
				memcpy(p, b.p, b.len);
			k->str = p;
			k->str_len = b.len;
			imap_buf_free(&b);
			break;
		case IMAP_SKEY_SENTBEFORE:
		case IMAP_SKEY_SENTON:
		case IMAP_SKEY_SENTSINCE:
		case IMAP_SKEY_EMAILID:
		case IMAP_SKEY_THREADID:
		case IMAP_SKEY_SAVEDBEFORE:
		case IMAP_SKEY_SAVEDON:
		case IMAP_SKEY_SAVEDSINCE:
			*text_r = true;
			break;
		default:
			break;
		}
	}
	return 0;
}

/* ---- the message side (worker thread) ------------------------------ */

static bool find_blank(const char *d, size_t n)
{
	return memmem(d, n, "\r\n\r\n", 4) != NULL ||
	       memmem(d, n, "\n\n", 2) != NULL;
}

static bool load(struct text_ctx *t)
{
	const struct rmail_store_ops *ops = imap_store(t->mod, NULL);
	uint64_t size = t->c->m.size, want;
	struct rmail_err err;
	size_t got, from;

	if (t->loaded)
		return !t->failed;
	t->loaded = true;
	t->failed = true;
	want = t->need_body || size <= HEAD_SLICE
		       ? size
		       : (size < HEAD_MAX ? size : HEAD_MAX);
	t->data = malloc((size_t)want + 1);
	if (t->data == NULL)
		abort();
	t->len = 0;
	while (t->len < want) {
		size_t n = t->need_body ? (size_t)(want - t->len)
					: (want - t->len < HEAD_SLICE
						   ? (size_t)(want - t->len)
						   : HEAD_SLICE);

		if (ops->msg_read(t->mb, t->c->m.uid, t->len, t->data + t->len,
				  n, &got, &err) < 0 ||
		    got == 0)
			break;
		/* header keys only: stop at the blank line.  Only the new
		 * bytes (and 3 before, for a CRLFCRLF across slices) are
		 * scanned: a header with no end is read once, not
		 * once per slice. */
		from = t->len > 3 ? t->len - 3 : 0;
		t->len += got;
		if (!t->need_body && find_blank(t->data + from, t->len - from))
			break;
	}
	if (t->mod->core->mime_parse(t->data, t->len, &limits, &t->mime, &err) <
	    0)
		return false;
	t->failed = false;
	return true;
}

static void unload(struct text_ctx *t)
{
	if (t->mime != NULL)
		t->mod->core->mime_free(&t->mime);
	free(t->data);
	t->data = NULL;
	t->loaded = t->failed = false;
	t->text_ready = t->head_ready = false;
	t->text.len = 0;
	t->head.len = 0;
}

static bool match_buf(const struct imap_buf *b, const struct imap_search_key *k)
{
	if (k->str_len == 0)
		return true;
	return b->len >= k->str_len &&
	       memmem(b->p, b->len, k->str, k->str_len) != NULL;
}

/* the core's extraction (rmail_core.search_text, one with the full-text
 * index); mod_imap (ABI 1.6) loads only into a core that has it, the
 * check keeps a foreign table from crashing us: nothing is searchable */
static void search_text(struct text_ctx *t, int what, const char *field,
			struct imap_buf *out)
{
	const struct rmail_core *core = t->mod->core;

	if (RMAIL_HAS(core, struct rmail_core, search_text) &&
	    core->search_text != NULL)
		core->search_text(t->mime, t->data, t->len, what, field,
				  &out->p, &out->len, &out->cap);
}

/*
 * FROM, TO, CC, BCC: each address as ENVELOPE shows it (the core's
 * parser: comments and source routes gone, display name decoded),
 * written "name <mailbox@host>", so a client's search agrees with what
 * it displays.  Each folded address ends with a NUL: a needle matches
 * within one address.
 */
static bool address_match(struct text_ctx *t, const char *field,
			  const struct imap_search_key *k)
{
	if (t->mod->core->mime_header(t->mime, 0, field, 0, 0) == NULL)
		return false;
	if (k->str_len == 0)
		return true;
	t->fold.len = 0;
	search_text(t, RMAIL_SEARCH_ADDRESSES, field, &t->fold);
	return match_buf(&t->fold, k);
}

static bool header_match(struct text_ctx *t, const char *field,
			 const struct imap_search_key *k)
{
	const char *v;
	size_t nth;

	if (!load(t))
		return false;
	if (k->address)
		return address_match(t, field, k);
	for (nth = 0; nth < 1000; nth++) {
		v = t->mod->core->mime_header(t->mime, 0, field, nth, 1);
		if (v == NULL)
			return false;
		if (k->str_len == 0)
			return true;
		t->fold.len = 0;
		imap_casemap(v, strlen(v), &t->fold);
		if (match_buf(&t->fold, k))
			return true;
	}
	return false;
}

/* every text part, decoded and folded (SEARCH BODY) */
static void build_text(struct text_ctx *t)
{
	t->text_ready = true;
	search_text(t, RMAIL_SEARCH_BODY, NULL, &t->text);
}

/* TEXT also looks at the top-level header */
static void build_head(struct text_ctx *t)
{
	t->head_ready = true;
	search_text(t, RMAIL_SEARCH_HEAD, NULL, &t->head);
}

static bool sent_day(struct text_ctx *t, int32_t *day_r)
{
	const char *v;

	if (load(t)) {
		v = t->mod->core->mime_header(t->mime, 0, "Date", 0, 0);
		if (v != NULL && imap_sent_day(v, day_r) == 0)
			return true;
	}
	/* no usable Date: the internal date stands in (as Dovecot) */
	*day_r = (int32_t)(t->c->m.internaldate >= 0
				   ? t->c->m.internaldate / 86400
				   : (t->c->m.internaldate - 86399) / 86400);
	return true;
}

/* ---- the index (core->index_search) --------------------------------- */

static bool index_usable(const struct imap_mod *mod)
{
	const struct rmail_core *core = mod->core;

	return RMAIL_HAS(core, struct rmail_core, index_search) &&
	       core->index_search != NULL;
}

/* the index's field for a key, or 0 when it does not keep it */
static int index_field(const struct imap_search_key *k)
{
	if (k->str_len == 0)
		return 0; /* "has the field": no substring to look up */
	switch (k->type) {
	case IMAP_SKEY_BODY:
		return RMAIL_INDEX_BODY;
	case IMAP_SKEY_TEXT:
		return RMAIL_INDEX_TEXT;
	case IMAP_SKEY_HEADER:
		if (k->field == NULL)
			return 0;
		if (!k->address && strcasecmp(k->field, "Subject") == 0)
			return RMAIL_INDEX_SUBJECT;
		if (!k->address)
			return 0;
		if (strcasecmp(k->field, "From") == 0)
			return RMAIL_INDEX_FROM;
		if (strcasecmp(k->field, "To") == 0)
			return RMAIL_INDEX_TO;
		if (strcasecmp(k->field, "Cc") == 0)
			return RMAIL_INDEX_CC;
		return 0;
	default:
		return 0;
	}
}

/* ask the index about every key it keeps (worker thread); a key it
 * cannot answer keeps idx NULL and reads the messages */
static void index_prepare(struct search_job *j, struct imap_search_key *k,
			  uint32_t maxuid)
{
	const struct rmail_core *core = j->s->mod->core;

	for (; k != NULL; k = k->next) {
		struct imap_idx_verdict *v;
		struct rmail_err err;
		int field;

		if (k->type == IMAP_SKEY_AND || k->type == IMAP_SKEY_OR ||
		    k->type == IMAP_SKEY_NOT) {
			index_prepare(j, k->child, maxuid);
			continue;
		}
		field = index_field(k);
		if (field == 0)
			continue;
		v = calloc(1, sizeof(*v));
		if (v == NULL)
			abort();
		v->r.size = sizeof(v->r);
		rmail_err_clear(&err);
		if (core->index_search(j->user, j->mailbox, j->uidvalidity,
				       field, k->str, k->str_len, &v->r,
				       &err) < 0) {
			free(v);
			j->backlog = true;
			continue;
		}
		if (v->r.upto < maxuid)
			j->backlog = true;
		v->next = j->verdicts;
		j->verdicts = v;
		k->idx = v;
	}
}

/* 0: no match, 1: match, 2: read the message to know */
static int index_verdict(const struct imap_idx_verdict *v, uint32_t uid)
{
	size_t lo = 0, hi = v->r.n;

	if (uid > v->r.upto)
		return 2;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->r.uids[mid] < uid)
			lo = mid + 1;
		else if (v->r.uids[mid] > uid)
			hi = mid;
		else
			return v->r.exact ? 1 : 2;
	}
	return 0;
}

/* the id the cache's header derives for uid, NULL when it lacks uid */
static const char *tid_cached(const struct imap_tid_verdict *v, uint32_t uid)
{
	size_t lo = 0, hi = v->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->uids[mid] < uid)
			lo = mid + 1;
		else if (v->uids[mid] > uid)
			hi = mid;
		else
			return v->ids[mid];
	}
	return NULL;
}

static bool tid_equal(const struct imap_search_key *k, const char *id)
{
	return strlen(id) == k->str_len && memcmp(id, k->str, k->str_len) == 0;
}

/* THREADID: derived from the header as FETCH derives it, from the
 * header cache when it holds the message */
static bool threadid_match(struct text_ctx *t, const struct imap_search_key *k)
{
	const struct rmail_core *core = t->mod->core;
	char derived[IMAP_THREADID_LEN + 1], id[RMAIL_OBJECTID_MAX];
	const char *v = k->tid != NULL ? tid_cached(k->tid, t->c->m.uid) : NULL;

	/* neither a hashed id nor one of our own: no message has it */
	if (k->str_len < 2 || k->str[0] != 'T')
		return false;
	if (v != NULL && v[0] != '\0')
		return tid_equal(k, v);
	if (v != NULL) {
		derived[0] = '\0';
	} else {
		if (!load(t))
			return false;
		imap_threadid_derive(
			core->mime_header(t->mime, 0, "Message-ID", 0, 0),
			core->mime_header(t->mime, 0, "References", 0, 0),
			core->mime_header(t->mime, 0, "In-Reply-To", 0, 0),
			derived);
	}
	return imap_threadid(t->mod, t->mb, t->c->m.uid, derived, id) == 0 &&
	       tid_equal(k, id);
}

/* ---- evaluation ----------------------------------------------------- */

static bool eval(const struct imap_search_key *k, struct text_ctx *t, int pass);

static bool eval_one(const struct imap_search_key *k, struct text_ctx *t)
{
	const struct cand *c = t->c;
	const struct rmail_msg *m = &c->m;
	int32_t day = (int32_t)(m->internaldate >= 0
					? m->internaldate / 86400
					: (m->internaldate - 86399) / 86400);
	const struct imap_search_key *ch;
	uint32_t f = 0;

	switch (k->type) {
	case IMAP_SKEY_AND:
		return eval(k->child, t, 0);
	case IMAP_SKEY_OR:
		for (ch = k->child; ch != NULL; ch = ch->next)
			if (eval_one(ch, t))
				return true;
		return false;
	case IMAP_SKEY_NOT:
		return !eval_one(k->child, t);
	case IMAP_SKEY_ALL:
		return true;
	case IMAP_SKEY_FLAG:
		if (k->flag & IMAP_SFLAG_RECENT)
			return c->recent == (k->set != 0);
		if (k->flag & IMAP_SFLAG_ANSWERED)
			f = RMAIL_F_ANSWERED;
		else if (k->flag & IMAP_SFLAG_DELETED)
			f = RMAIL_F_DELETED;
		else if (k->flag & IMAP_SFLAG_DRAFT)
			f = RMAIL_F_DRAFT;
		else if (k->flag & IMAP_SFLAG_FLAGGED)
			f = RMAIL_F_FLAGGED;
		else if (k->flag & IMAP_SFLAG_SEEN)
			f = RMAIL_F_SEEN;
		return ((m->flags & f) != 0) == (k->set != 0);
	case IMAP_SKEY_KEYWORD:
		if (k->flag == 0)
			return k->set == 0;
		return ((m->keywords >> (k->flag - 1)) & 1) == (k->set != 0);
	case IMAP_SKEY_LARGER:
		return m->size > k->size;
	case IMAP_SKEY_SMALLER:
		return m->size < k->size;
	case IMAP_SKEY_BEFORE:
		return day < k->date;
	case IMAP_SKEY_ON:
		return day == k->date;
	case IMAP_SKEY_SINCE:
		return day >= k->date;
	case IMAP_SKEY_MODSEQ:
		return k->modseq == 0 ||
		       imap_msg_changed_since(m, k->modseq - 1);
	case IMAP_SKEY_EMAILID: {
		const struct rmail_store_ops *ops = imap_store(t->mod, NULL);
		char id[RMAIL_OBJECTID_MAX];
		struct rmail_err err;

		return ops->msg_emailid(t->mb, m->uid, id, sizeof(id), &err) ==
			       0 &&
		       strlen(id) == k->str_len &&
		       memcmp(id, k->str, k->str_len) == 0;
	}
	case IMAP_SKEY_THREADID:
		return threadid_match(t, k);
	case IMAP_SKEY_SAVEDATESUPPORTED:
		return true; /* every mailbox, once the store has them */
	case IMAP_SKEY_SAVEDBEFORE:
	case IMAP_SKEY_SAVEDON:
	case IMAP_SKEY_SAVEDSINCE: {
		int64_t sd = imap_savedate(t->mod, t->mb, m);

		day = (int32_t)(sd >= 0 ? sd / 86400 : (sd - 86399) / 86400);
		if (k->type == IMAP_SKEY_SAVEDBEFORE)
			return day < k->date;
		if (k->type == IMAP_SKEY_SAVEDON)
			return day == k->date;
		return day >= k->date;
	}
	case IMAP_SKEY_UID:
		return imap_seqset_contains(&k->seqset, m->uid) != 0;
	case IMAP_SKEY_SEQSET:
		return imap_seqset_contains(&k->seqset, c->seq) != 0;
	case IMAP_SKEY_SENTBEFORE:
	case IMAP_SKEY_SENTON:
	case IMAP_SKEY_SENTSINCE:
		sent_day(t, &day);
		if (k->type == IMAP_SKEY_SENTBEFORE)
			return day < k->date;
		if (k->type == IMAP_SKEY_SENTON)
			return day == k->date;
		return day >= k->date;
	case IMAP_SKEY_HEADER:
		if (k->idx != NULL) {
			int v = index_verdict(k->idx, m->uid);

			if (v != 2)
				return v == 1;
		}
		return header_match(t, k->field, k);
	case IMAP_SKEY_BODY:
	case IMAP_SKEY_TEXT:
		if (k->idx != NULL) {
			int v = index_verdict(k->idx, m->uid);

			if (v != 2)
				return v == 1;
		}
		if (!load(t))
			return false;
		if (!t->text_ready)
			build_text(t);
		if (match_buf(&t->text, k))
			return true;
		if (k->type == IMAP_SKEY_BODY)
			return false;
		if (!t->head_ready)
			build_head(t);
		return match_buf(&t->head, k);
	}
	return false;
}

/* a list of keys, all must match: the cheap ones first */
static bool eval(const struct imap_search_key *k, struct text_ctx *t, int pass)
{
	const struct imap_search_key *x;

	(void)pass;
	for (x = k; x != NULL; x = x->next)
		if (!is_text_key(x) && !eval_one(x, t))
			return false;
	for (x = k; x != NULL; x = x->next)
		if (is_text_key(x) && !eval_one(x, t))
			return false;
	return true;
}

/* ---- the command ------------------------------------------------------ */

/* does the search use a key of type `type` */
static bool has_key(const struct imap_search_key *k, int type)
{
	for (; k != NULL; k = k->next)
		if ((int)k->type == type ||
		    ((k->type == IMAP_SKEY_AND || k->type == IMAP_SKEY_OR ||
		      k->type == IMAP_SKEY_NOT) &&
		     has_key(k->child, type)))
			return true;
	return false;
}

/* does the search use MODSEQ (then its reply carries one) */
static bool has_modseq(const struct imap_search_key *k)
{
	for (; k != NULL; k = k->next)
		if (k->type == IMAP_SKEY_MODSEQ ||
		    ((k->type == IMAP_SKEY_AND || k->type == IMAP_SKEY_OR ||
		      k->type == IMAP_SKEY_NOT) &&
		     has_modseq(k->child)))
			return true;
	return false;
}

bool imap_search_has_modseq(const struct imap_search_key *k)
{
	return has_modseq(k);
}

bool imap_search_has_recent(const struct imap_search_key *k)
{
	for (; k != NULL; k = k->next)
		if ((k->type == IMAP_SKEY_FLAG &&
		     k->flag == IMAP_SFLAG_RECENT) ||
		    ((k->type == IMAP_SKEY_AND || k->type == IMAP_SKEY_OR ||
		      k->type == IMAP_SKEY_NOT) &&
		     imap_search_has_recent(k->child)))
			return true;
	return false;
}

struct hits_out {
	struct imap_session *s;
	const struct search_job *j;
};

/*
 * A SEARCH or SORT answer line; with a MODSEQ key and a match, the
 * highest modseq matched ends it: "(MODSEQ n)" after SEARCH/SORT,
 * "MODSEQ n" in ESEARCH (RFC 7162 3.1.5).  The line's CRLF comes in its
 * last piece.
 */
void imap_write_modseq_line(struct imap_session *s, const char *d, size_t n,
			    uint64_t maxmodseq, bool esearch)
{
	if (maxmodseq != 0 && n >= 2 && d[n - 2] == '\r' && d[n - 1] == '\n') {
		imap_write(s, d, n - 2);
		imap_printf(s,
			    esearch ? " MODSEQ %llu\r\n" : " (MODSEQ %llu)\r\n",
			    (unsigned long long)maxmodseq);
		return;
	}
	imap_write(s, d, n);
}

static void out_session(void *ctx, const char *d, size_t n)
{
	struct hits_out *o = ctx;
	const struct search_job *j = o->j;

	imap_write_modseq_line(o->s, d, n, j->nhits > 0 ? j->maxmodseq : 0,
			       (j->ret & IMAP_ESR_PRESENT) != 0);
}

void imap_saved_clear(struct imap_session *s)
{
	free(s->saved);
	s->saved = NULL;
	s->nsaved = 0;
}

/* the untagged answer, and "$" for SAVE (RFC 5182 2.4) */
static void answer(struct imap_session *s, const struct search_job *j,
		   const char *tag)
{
	struct hits_out o = {s, j};

	imap_esearch_write(tag, j->uid, j->ret, j->hits, j->nhits, out_session,
			   &o);
	if (j->ret & IMAP_ESR_SAVE) {
		imap_saved_clear(s);
		s->saved = imap_esearch_saved(j->ret, j->uids, j->nhits,
					      &s->nsaved);
	}
}

struct tid_fill {
	struct imap_tid_verdict *v;
	size_t cap; /* the candidates asked for */
};

static void tid_one(void *arg, const struct rmail_index_hdr *ih)
{
	struct tid_fill *x = arg;
	struct imap_tid_verdict *v = x->v;

	/* reported once each, in UID order, among those asked for */
	if (v->n >= x->cap || (v->n > 0 && ih->uid <= v->uids[v->n - 1]))
		return;
	v->uids[v->n] = ih->uid;
	imap_threadid_derive(ih->message_id, ih->references, ih->in_reply_to,
			     v->ids[v->n]);
	v->n++;
}

/* every THREADID key that can match shares the job's one table */
static void tid_attach(struct search_job *j, struct imap_search_key *k)
{
	for (; k != NULL; k = k->next) {
		if (k->type == IMAP_SKEY_AND || k->type == IMAP_SKEY_OR ||
		    k->type == IMAP_SKEY_NOT)
			tid_attach(j, k->child);
		/* an id we never make needs no look */
		else if (k->type == IMAP_SKEY_THREADID && k->tid == NULL &&
			 k->str_len >= 2 && k->str[0] == 'T')
			k->tid = j->tids;
	}
}

/* worker: the header cache's fields of the candidates, one pass
 * whatever the number of THREADID keys (a client may send thousands);
 * what it lacks is read from the message */
static void tid_prepare(struct search_job *j, const uint32_t *uids)
{
	const struct rmail_core *core = j->s->mod->core;
	struct imap_tid_verdict *v;
	struct tid_fill x;
	struct rmail_err err;
	int got;

	v = calloc(1, sizeof(*v));
	if (v == NULL)
		abort();
	v->uids = malloc(j->n * sizeof(*v->uids));
	v->ids = malloc(j->n * sizeof(*v->ids));
	if (v->uids == NULL || v->ids == NULL)
		abort();
	j->tids = v;
	x.v = v;
	x.cap = j->n;
	rmail_err_clear(&err);
	got = core->index_headers(j->user, j->mailbox, j->uidvalidity, uids,
				  j->n, tid_one, &x, &err);
	if (got < 0 || (size_t)got < j->n)
		j->backlog = true;
	tid_attach(j, j->root);
}

static void tid_start(struct search_job *j)
{
	const struct rmail_core *core = j->s->mod->core;
	uint32_t *uids;
	size_t i;

	if (j->tids != NULL || j->user[0] == '\0' || j->n == 0 ||
	    !RMAIL_HAS(core, struct rmail_core, index_headers) ||
	    core->index_headers == NULL ||
	    !has_key(j->root, IMAP_SKEY_THREADID))
		return;
	uids = malloc(j->n * sizeof(*uids));
	if (uids == NULL)
		abort();
	for (i = 0; i < j->n; i++)
		uids[i] = j->c[i].m.uid;
	tid_prepare(j, uids);
	free(uids);
}

static void run(struct search_job *j, const volatile int *cancel)
{
	struct text_ctx t;
	size_t i;

	if (!j->indexed && j->user[0] != '\0' && j->n > 0 &&
	    index_usable(j->s->mod))
		index_prepare(j, j->root, j->c[j->n - 1].m.uid);
	tid_start(j);
	memset(&t, 0, sizeof(t));
	t.mod = j->s->mod;
	t.mb = j->mb;
	t.need_body = j->need_body;
	for (i = 0; i < j->n; i++) {
		if (cancel != NULL && *cancel)
			break;
		t.c = &j->c[i];
		if (!eval(j->root, &t, 0)) {
			/* no match */
		} else if (j->post.work != NULL) {
			/* SORT, THREAD: the matches stay, in map order */
			j->c[j->nhits++] = j->c[i];
		} else {
			if (j->uids != NULL)
				j->uids[j->nhits] = j->c[i].m.uid;
			j->hits[j->nhits++] =
				j->uid ? j->c[i].m.uid : j->c[i].seq;
			if (j->modseq &&
			    imap_msg_modseq(&j->c[i].m) > j->maxmodseq)
				j->maxmodseq = imap_msg_modseq(&j->c[i].m);
		}
		if (t.loaded)
			unload(&t);
	}
	imap_buf_free(&t.fold);
	imap_buf_free(&t.text);
	imap_buf_free(&t.head);
	if (j->post.work != NULL && !(cancel != NULL && *cancel))
		j->post.work(j->post.arg, j->c, j->nhits, cancel);
}

static void search_work(void *arg, const volatile int *cancel)
{
	run(arg, cancel);
}

static void job_free(struct search_job *j)
{
	while (j->verdicts != NULL) {
		struct imap_idx_verdict *v = j->verdicts;

		j->verdicts = v->next;
		free(v->r.uids);
		free(v);
	}
	if (j->tids != NULL) {
		free(j->tids->uids);
		free(j->tids->ids);
		free(j->tids);
	}
	free(j->c);
	free(j->hits);
	free(j->uids);
	free(j);
}

static void search_done(void *arg, int cancelled)
{
	struct search_job *j = arg;
	struct imap_session *s = j->s;
	bool alive =
		!cancelled && !s->closing && !s->mod->core->conn_closed(s->c);

	s->search_work = NULL;
	/* what was read from the messages this time is indexed for the
	 * next search, off the loop */
	if (j->backlog &&
	    RMAIL_HAS(s->mod->core, struct rmail_core, index_update) &&
	    s->mod->core->index_update != NULL)
		s->mod->core->index_update(j->user, j->mailbox);
	if (j->post.done != NULL)
		j->post.done(j->post.arg, s, j->tag, alive);
	else if (alive) {
		answer(s, j, j->tag);
		imap_tagged(s, j->tag, false, "OK SEARCH completed");
	}
	job_free(j);
	imap_async_end(s);
}

/*
 * What every search checks before it runs; -1 with the reply written.
 * text_r, body_r: some key needs the message / its body.
 */
static int setup(struct imap_session *s, const char *tag,
		 struct imap_search_key *root, bool *text_r, bool *body_r)
{
	const struct rmail_store_ops *ops = imap_store(s->mod, NULL);
	const char *const *kw;
	size_t nkw;

	if ((has_key(root, IMAP_SKEY_EMAILID) ||
	     has_key(root, IMAP_SKEY_THREADID)) &&
	    !imap_objectid_supported(s->mod)) {
		imap_tagged(s, tag, false,
			    "BAD Unknown search key EMAILID or THREADID");
		return -1;
	}
	if ((has_key(root, IMAP_SKEY_SAVEDBEFORE) ||
	     has_key(root, IMAP_SKEY_SAVEDON) ||
	     has_key(root, IMAP_SKEY_SAVEDSINCE) ||
	     has_key(root, IMAP_SKEY_SAVEDATESUPPORTED)) &&
	    !imap_savedate_supported(s->mod)) {
		imap_tagged(s, tag, false, "BAD Unknown search key SAVED*");
		return -1;
	}
	if (has_modseq(root)) {
		if (!imap_condstore_supported(s->mod)) {
			imap_tagged(s, tag, false,
				    "BAD Unknown search key MODSEQ");
			return -1;
		}
		imap_condstore_enable(s);
	}
	nkw = ops->mbox_keywords(s->tr->mb, &kw);
	if (prepare(s, root, kw, nkw, text_r, body_r) < 0) {
		imap_tagged(s, tag, false, "BAD Search set too large");
		return -1;
	}
	return 0;
}

/* the job without candidates (cands_all, cands_narrow add them) */
static struct search_job *job_alloc(struct imap_session *s,
				    struct imap_search_key *root, bool uid,
				    unsigned ret, bool body)
{
	struct search_job *job;

	job = calloc(1, sizeof(*job));
	if (job == NULL)
		abort();
	job->s = s;
	job->root = root;
	job->uid = uid;
	job->modseq = has_modseq(root);
	job->ret = ret;
	job->need_body = body;
	job->mb = s->tr->mb;
	job->maxuid = s->maxuid;
	/* the index is asked by name (core/index) */
	if (s->tr->user != NULL && s->tr->name != NULL) {
		snprintf(job->user, sizeof(job->user), "%s", s->tr->user);
		snprintf(job->mailbox, sizeof(job->mailbox), "%s", s->tr->name);
		job->uidvalidity = s->tr->uidvalidity;
	}
	return job;
}

static void cands_alloc(struct search_job *job, size_t max)
{
	job->c = malloc((max + 1) * sizeof(*job->c));
	job->hits = malloc((max + 1) * sizeof(uint32_t));
	if (job->ret & IMAP_ESR_SAVE)
		job->uids = malloc((max + 1) * sizeof(uint32_t));
	if (job->c == NULL || job->hits == NULL ||
	    ((job->ret & IMAP_ESR_SAVE) && job->uids == NULL))
		abort();
}

static void cand_add(struct search_job *job, const struct rmail_msg *m,
		     uint32_t seq)
{
	struct cand *c = &job->c[job->n++];

	memset(c, 0, sizeof(*c));
	c->m = *m;
	c->seq = seq;
	c->recent = imap_uids_has(&job->s->recent, m->uid);
}

/* the candidates: the session's map from UID `from`, with the live
 * view's state; expunged messages keep their numbers but match
 * nothing */
static void cands_from(struct search_job *job, uint32_t from)
{
	struct imap_session *s = job->s;
	const struct rmail_store_ops *ops = imap_store(s->mod, NULL);
	struct rmail_mbox *mb = s->tr->mb;
	uint32_t k, known, seq, u;
	struct imap_map_it it;
	bool dead;

	known = ops->mbox_count(mb);
	k = from > 1 ? imap_view_lower(ops, mb, from) : 0;
	imap_map_start(s, &it, from);
	while (imap_map_next(s, &it, &u, &seq, &dead)) {
		const struct rmail_msg *m = NULL;

		while (k < known && (m = ops->mbox_msg(mb, k))->uid < u)
			k++;
		if (dead || k >= known || m->uid != u)
			continue;
		k++;
		cand_add(job, m, seq);
	}
}

static void cands_all(struct search_job *job)
{
	cands_alloc(job, job->s->exists);
	cands_from(job, 1);
}

/*
 * Only the messages the index leaves possible: the UIDs of `v` (a key
 * every match must satisfy) and those above what it has indexed.  A
 * search costs its hits and the backlog, not the mailbox.
 */
static void cands_narrow(struct search_job *job,
			 const struct imap_idx_verdict *v)
{
	struct imap_session *s = job->s;
	uint32_t above = 0, seq;
	size_t i;

	if (v->r.upto < s->maxuid) {
		struct imap_map_it it;
		uint32_t u;
		bool dead;

		imap_map_start(s, &it, v->r.upto + 1);
		while (imap_map_next(s, &it, &u, &seq, &dead))
			above++;
	}
	cands_alloc(job, v->r.n + above);
	for (i = 0; i < v->r.n; i++) {
		const struct rmail_msg *m =
			imap_view_find(s, v->r.uids[i], &seq);

		if (m != NULL)
			cand_add(job, m, seq);
	}
	if (above > 0)
		cands_from(job, v->r.upto + 1);
}

static struct search_job *job_new(struct imap_session *s,
				  struct imap_search_key *root, bool uid,
				  unsigned ret, bool body)
{
	struct search_job *job = job_alloc(s, root, uid, ret, body);

	cands_all(job);
	return job;
}

static void submit(struct imap_session *s, struct search_job *job,
		   const char *tag)
{
	/* the keys live in s->arena, which stays ours while busy; the
	 * tracker (and its view) stays selected until imap_async_end */
	snprintf(job->tag, sizeof(job->tag), "%s", tag);
	imap_async_begin(s, tag);
	s->search_work = s->mod->core->work_submit(RMAIL_WORK_READ, search_work,
						   search_done, job);
}

/* ---- index first ------------------------------------------------------ */

/* a key of the top-level list (ANDed with the others) the index keeps:
 * then it is asked before any candidate is taken */
static bool index_first(struct imap_session *s,
			const struct imap_search_key *root)
{
	const struct imap_search_key *k;

	if (!index_usable(s->mod) || s->tr->user == NULL ||
	    s->tr->name == NULL || s->exists == 0)
		return false;
	for (k = root; k != NULL; k = k->next)
		if (index_field(k) != 0)
			return true;
	return false;
}

/* the top-level verdict listing the fewest UIDs, or NULL */
static const struct imap_idx_verdict *
narrowest(const struct imap_search_key *root)
{
	const struct imap_idx_verdict *best = NULL;
	const struct imap_search_key *k;

	for (k = root; k != NULL; k = k->next)
		if (k->idx != NULL && (best == NULL || k->idx->r.n < best->r.n))
			best = k->idx;
	return best;
}

/* can every candidate be answered without reading it: each key that
 * needs the message has an exact verdict covering them all */
static bool decidable(const struct imap_search_key *k, uint32_t maxuid)
{
	for (; k != NULL; k = k->next) {
		if (k->type == IMAP_SKEY_AND || k->type == IMAP_SKEY_OR ||
		    k->type == IMAP_SKEY_NOT) {
			if (!decidable(k->child, maxuid))
				return false;
			continue;
		}
		if (!is_text_key(k))
			continue;
		if (k->idx == NULL || !k->idx->r.exact ||
		    k->idx->r.upto < maxuid)
			return false;
	}
	return true;
}

/* worker: only the index's answers, no message read */
static void index_work(void *arg, const volatile int *cancel)
{
	struct search_job *j = arg;

	(void)cancel;
	j->indexed = true;
	index_prepare(j, j->root, j->maxuid);
}

/* loop: take the candidates the index leaves; answer here when no
 * message needs reading, else confirm them on the pool */
static void index_done(void *arg, int cancelled)
{
	struct search_job *j = arg;
	struct imap_session *s = j->s;
	const struct imap_idx_verdict *v;

	s->search_work = NULL;
	if (cancelled || s->closing || s->mod->core->conn_closed(s->c)) {
		search_done(j, 1);
		return;
	}
	v = narrowest(j->root);
	if (v != NULL)
		cands_narrow(j, v);
	else
		cands_all(j);
	if (j->n == 0 || decidable(j->root, j->c[j->n - 1].m.uid)) {
		run(j, NULL);
		search_done(j, 0);
		return;
	}
	s->search_work = s->mod->core->work_submit(RMAIL_WORK_READ, search_work,
						   search_done, j);
}

void imap_cmd_search(struct imap_session *s, const struct imap_cmd *cmd,
		     bool uid)
{
	struct imap_search_key *root;
	const char *why = "Invalid search";
	const struct imap_arg *args;
	unsigned ret;
	bool text = false, body = false;
	struct search_job *job;
	int rc;

	args = cmd->args;
	if (imap_esearch_parse(&args, &ret, &why) < 0) {
		imap_tagged(s, cmd->tag, false, "BAD %s", why);
		return;
	}
	/* RFC 9051 6.4.4: IMAP4rev2 answers ESEARCH, "RETURN ()" implied */
	if (s->rev2 && !(ret & IMAP_ESR_PRESENT))
		ret = IMAP_ESR_PRESENT | IMAP_ESR_ALL;
	/* RFC 6855 3: the strings are UTF-8 once enabled, a charset label
	 * conflicts with that */
	if (s->utf8 && imap_arg_atom_eq(args, "CHARSET")) {
		imap_tagged(s, cmd->tag, false,
			    "BAD No CHARSET after ENABLE UTF8=ACCEPT");
		return;
	}
	rc = imap_search_parse(args, &s->arena,
			       (unsigned)imap_conf(s->mod)->max_depth, &root,
			       &why);
	/* RFC 5182 2.1: a NO to a SEARCH with SAVE empties "$", a BAD
	 * leaves it */
	if (rc == IMAP_SEARCH_BADCHARSET && (ret & IMAP_ESR_SAVE))
		imap_saved_clear(s);
	if (rc == IMAP_SEARCH_BADCHARSET) {
		imap_tagged(s, cmd->tag, false,
			    "NO [BADCHARSET (US-ASCII UTF-8)] %s", why);
		return;
	}
	if (rc != IMAP_SEARCH_OK) {
		imap_tagged(s, cmd->tag, false, "BAD %s", why);
		return;
	}
	if (s->rev2 && imap_search_has_recent(root)) {
		imap_tagged(s, cmd->tag, false, "BAD %s", imap_rev2_no_recent);
		return;
	}
	if (setup(s, cmd->tag, root, &text, &body) < 0)
		return;
	if (text && index_first(s, root)) {
		job = job_alloc(s, root, uid, ret, body);
		snprintf(job->tag, sizeof(job->tag), "%s", cmd->tag);
		imap_async_begin(s, cmd->tag);
		s->search_work = s->mod->core->work_submit(
			RMAIL_WORK_READ, index_work, index_done, job);
		return;
	}
	job = job_new(s, root, uid, ret, body);
	if (!text) {
		run(job, NULL);
		answer(s, job, cmd->tag);
		job_free(job);
		imap_tagged(s, cmd->tag, false, "OK SEARCH completed");
		return;
	}
	submit(s, job, cmd->tag);
}

int imap_search_start(struct imap_session *s, const char *tag,
		      struct imap_search_key *root, bool uid,
		      const struct imap_search_post *post)
{
	bool text = false, body = false;
	struct search_job *job;

	if (setup(s, tag, root, &text, &body) < 0)
		return -1;
	job = job_new(s, root, uid, 0, body);
	job->post = *post;
	if (post->cands != NULL)
		post->cands(post->arg, job->c, job->n);
	submit(s, job, tag);
	return 0;
}
