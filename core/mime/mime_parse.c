/*
 * The MIME structure parser and the services-table entry points.
 *
 * One forward pass over the lines of the message builds the part tree;
 * the chain of open parts (root to current) is an explicit stack
 * bounded by max_depth, never recursion.  Lines starting with "--" are
 * compared with the boundaries of the open multiparts, deepest first;
 * a match closes every deeper part, which is how a missing final
 * boundary is tolerated.  Limits never make a parse fail: the part a
 * limit cut short carries RMAIL_MIME_TRUNCATED and parsing goes on.
 *
 * The parse copies the message into its pool, so the result (a cache
 * entry) does not depend on the caller's buffer.  A parsed message may
 * be used from any thread, but by one thread at a time: mime_header,
 * mime_body and mime_addresses allocate in its pool.
 */
#include <stdlib.h>
#include <string.h>

#include "mime_int.h"

struct mfield {
	const char *name;
	const char *value;   /* unfolded, raw */
	const char *decoded; /* RFC 2047, on first request */
};

struct mpriv {
	struct mfield *fields;
	uint32_t nfields;
	const char *body[2]; /* decoded; [1] also in UTF-8 */
	size_t body_len[2];
};

struct rmail_mime {
	struct rmail_pool *pool;
	const char *data;
	size_t len;
	struct rmail_mime_part *parts;
	struct mpriv *priv;
	uint32_t nparts;
};

/* ---- parse state ------------------------------------------------- */

struct open_ent {
	uint32_t part;
	uint64_t nl_body;     /* LFs before the part's body */
	const char *boundary; /* NULL unless an open multipart */
	size_t blen;
};

enum pstate { S_HEADER, S_BODY };

struct pctx {
	struct rmail_mime *m;
	struct rmail_mime_limits lim;
	struct rmail_mime_part *parts;
	struct mpriv *priv;
	uint32_t nparts, cap;
	struct open_ent *open; /* max_depth + 2 entries */
	uint32_t nopen;
	enum pstate state;
	/* header section being read */
	struct mfield *fv;
	uint32_t nf, fcap;
	struct rm_mbuf cur; /* current field, unfolded */
	bool have_cur;
};

static uint32_t lim_or(uint32_t v, uint32_t def)
{
	return v != 0 ? v : def;
}

static uint32_t new_part(struct pctx *c, uint32_t parent, uint64_t off)
{
	struct rmail_mime_part *p;
	uint32_t idx = c->nparts, s;

	if (c->nparts == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 8;
		c->parts = rm_xrealloc(c->parts, c->cap * sizeof(*c->parts));
		c->priv = rm_xrealloc(c->priv, c->cap * sizeof(*c->priv));
	}
	p = &c->parts[idx];
	memset(p, 0, sizeof(*p));
	memset(&c->priv[idx], 0, sizeof(c->priv[idx]));
	p->parent = parent;
	p->first_child = p->next_sibling = RMAIL_MIME_NONE;
	p->hdr_off = off;
	p->body_off = off;
	p->type = "text";
	p->subtype = "plain";
	if (parent != RMAIL_MIME_NONE) {
		p->depth = c->parts[parent].depth + 1;
		if (c->parts[parent].first_child == RMAIL_MIME_NONE) {
			c->parts[parent].first_child = idx;
		} else {
			s = idx - 1;
			/* the previous sibling is the latest part whose
			 * parent is ours */
			while (s != RMAIL_MIME_NONE &&
			       c->parts[s].parent != parent)
				s = c->parts[s].parent;
			if (s != RMAIL_MIME_NONE)
				c->parts[s].next_sibling = idx;
		}
	}
	c->nparts++;
	return idx;
}

static void flag_current(struct pctx *c, uint32_t flag)
{
	if (c->nopen > 0)
		c->parts[c->open[c->nopen - 1].part].flags |= flag;
}

static void field_flush(struct pctx *c)
{
	const char *p, *colon, *v, *end;
	size_t nl;

	if (!c->have_cur)
		return;
	c->have_cur = false;
	p = c->cur.p;
	end = p + c->cur.len;
	colon = memchr(p, ':', c->cur.len);
	if (colon == NULL || colon == p)
		return;
	/* "Subject : x" is obsolete syntax; a name with spaces inside
	 * ("From alice Mon Jan 1 12:00") is not a field */
	nl = (size_t)(colon - p);
	while (nl > 0 && (p[nl - 1] == ' ' || p[nl - 1] == '\t'))
		nl--;
	if (nl == 0)
		return;
	for (size_t i = 0; i < nl; i++)
		if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f)
			return;
	if (c->nf >= c->lim.max_headers) {
		flag_current(c, RMAIL_MIME_TRUNCATED);
		return;
	}
	v = colon + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (c->nf == c->fcap) {
		c->fcap = c->fcap ? c->fcap * 2 : 16;
		c->fv = rm_xrealloc(c->fv, c->fcap * sizeof(*c->fv));
	}
	c->fv[c->nf].name = rm_pstrndup(c->m->pool, p, nl);
	c->fv[c->nf].value = rm_pstrndup(c->m->pool, v, (size_t)(end - v));
	c->fv[c->nf].decoded = NULL;
	c->nf++;
}

static void header_line(struct pctx *c, const char *s, size_t n)
{
	size_t room;

	if (n > 0 && (s[0] == ' ' || s[0] == '\t')) {
		if (!c->have_cur)
			return; /* continuation of nothing */
	} else {
		field_flush(c);
		c->have_cur = true;
		c->cur.len = 0;
	}
	/* unfolding removes only the line break (RFC 5322 2.2.3) */
	room = c->lim.max_header_len - c->cur.len;
	if (n > room) {
		flag_current(c, RMAIL_MIME_TRUNCATED);
		n = room;
	}
	rm_mbuf_add(&c->cur, s, n);
}

static const char *find_field(const struct mfield *f, uint32_t n,
			      const char *name)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (strcasecmp(f[i].name, name) == 0)
			return f[i].value;
	return NULL;
}

static const char *dec_field(struct pctx *c, const char *name)
{
	const char *v = find_field(c->fv, c->nf, name);

	return v != NULL ? rm_mime_decode_2047(c->m->pool, v, strlen(v)) : NULL;
}

static bool identity_cte(const char *enc)
{
	return enc == NULL || strcmp(enc, "7bit") == 0 ||
	       strcmp(enc, "8bit") == 0 || strcmp(enc, "binary") == 0;
}

/* The header section of the current part ends; nothing is opened. */
static void headers_done(struct pctx *c, uint32_t idx)
{
	struct rmail_pool *pool = c->m->pool;
	struct rmail_mime_part *p = &c->parts[idx];
	const char *v, *t, *st;
	struct rmail_strmap none = {0, NULL, NULL};
	bool digest = false;

	field_flush(c);
	c->priv[idx].fields =
		rm_palloc(pool, (c->nf ? c->nf : 1) * sizeof(struct mfield));
	if (c->nf > 0)
		memcpy(c->priv[idx].fields, c->fv,
		       c->nf * sizeof(struct mfield));
	c->priv[idx].nfields = c->nf;

	if (p->parent != RMAIL_MIME_NONE) {
		const struct rmail_mime_part *pp = &c->parts[p->parent];

		digest = strcmp(pp->type, "multipart") == 0 &&
			 strcmp(pp->subtype, "digest") == 0;
	}
	p->params = none;
	p->disp_params = none;
	v = find_field(c->fv, c->nf, "Content-Type");
	if (v != NULL && rm_mime_parse_ctype(pool, v, &t, &st, &p->params)) {
		p->type = t;
		p->subtype = st;
	} else if (digest) {
		p->type = "message";
		p->subtype = "rfc822";
	}
	p->charset = rm_mime_strmap_get(&p->params, "charset");
	v = find_field(c->fv, c->nf, "Content-Transfer-Encoding");
	p->encoding = v != NULL ? rm_mime_token(pool, v) : NULL;
	v = find_field(c->fv, c->nf, "Content-Disposition");
	if (v != NULL &&
	    rm_mime_parse_ctype(pool, v, &t, NULL, &p->disp_params))
		p->disposition = t;
	p->filename = rm_mime_strmap_get(&p->disp_params, "filename");
	if (p->filename == NULL)
		p->filename = rm_mime_strmap_get(&p->params, "name");
	v = find_field(c->fv, c->nf, "Content-ID");
	p->id = v != NULL ? rm_pstrdup(pool, v) : NULL;
	p->description = dec_field(c, "Content-Description");
	v = find_field(c->fv, c->nf, "Content-MD5");
	p->md5 = v != NULL ? rm_pstrdup(pool, v) : NULL;
	v = find_field(c->fv, c->nf, "Content-Language");
	p->language = v != NULL ? rm_pstrdup(pool, v) : NULL;
	v = find_field(c->fv, c->nf, "Content-Location");
	p->location = v != NULL ? rm_pstrdup(pool, v) : NULL;
	c->nf = 0;
}

/* Close the open parts deeper than `keep` entries at offset e, with
 * nl_e LFs before e. */
static void close_to(struct pctx *c, uint32_t keep, uint64_t e, uint64_t nl_e)
{
	while (c->nopen > keep) {
		struct open_ent *o = &c->open[--c->nopen];
		struct rmail_mime_part *p = &c->parts[o->part];

		if (e <= p->body_off) {
			p->body_len = 0;
			p->body_lines = 0;
			continue;
		}
		p->body_len = e - p->body_off;
		/* line endings, as Dovecot counts them: a last line without
		 * one (the CRLF before a boundary belongs to the boundary)
		 * is not counted; docs/imap.md "Parity with Dovecot" */
		p->body_lines = (uint32_t)(nl_e - o->nl_body);
	}
}

/* A multipart whose parts cannot be parsed (no boundary, cut by a
 * limit or by the end) has no children; IMAP cannot describe such a
 * multipart, so it is reported as the text/plain RFC 2046 5.1.1 tells
 * readers to assume. */
static void demote_multipart(struct rmail_mime_part *p)
{
	if (strcmp(p->type, "multipart") == 0) {
		p->type = "text";
		p->subtype = "plain";
	}
}

/* A boundary or the end arrived inside a header section: the headers
 * stop there and the body is empty. */
static void cut_headers(struct pctx *c, uint64_t e)
{
	struct rmail_mime_part *p = &c->parts[c->open[c->nopen - 1].part];

	p->body_off = e > p->hdr_off ? e : p->hdr_off;
	p->hdr_len = p->body_off - p->hdr_off;
	headers_done(c, c->open[c->nopen - 1].part);
	demote_multipart(p);
	c->state = S_BODY;
}

static void push_open(struct pctx *c, uint32_t part, uint64_t nl_body)
{
	struct open_ent *o = &c->open[c->nopen++];

	o->part = part;
	o->nl_body = nl_body;
	o->boundary = NULL;
	o->blen = 0;
}

/* The blank line ending the current part's headers was read; next is
 * the offset after it and nl the LFs before next.  Decide what the
 * body is: a multipart, an encapsulated message or a leaf. */
static void body_starts(struct pctx *c, uint64_t next, uint64_t nl)
{
	struct open_ent *o = &c->open[c->nopen - 1];
	uint32_t idx = o->part;
	struct rmail_mime_part *p = &c->parts[idx];
	bool deep;
	const char *b;

	p->body_off = next;
	p->hdr_len = next - p->hdr_off;
	o->nl_body = nl;
	headers_done(c, idx);
	c->state = S_BODY;
	/* part structs may move when the array grows: index, re-fetch */
	deep = p->depth + 1 > c->lim.max_depth;
	if (strcmp(p->type, "multipart") == 0) {
		b = rm_mime_strmap_get(&p->params, "boundary");
		if (b == NULL || *b == '\0' || strlen(b) > 998) {
			demote_multipart(p);
			return;
		}
		if (deep) {
			p->flags |= RMAIL_MIME_TRUNCATED;
			demote_multipart(p);
			return;
		}
		p->flags |= RMAIL_MIME_MULTIPART;
		o->boundary = b;
		o->blen = strlen(b);
		return;
	}
	if (strcmp(p->type, "message") == 0 &&
	    (strcmp(p->subtype, "rfc822") == 0 ||
	     strcmp(p->subtype, "global") == 0) &&
	    identity_cte(p->encoding)) {
		uint32_t child;

		if (deep) {
			p->flags |= RMAIL_MIME_TRUNCATED;
			return;
		}
		if (c->nparts >= c->lim.max_parts) {
			p->flags |= RMAIL_MIME_TRUNCATED;
			return;
		}
		p->flags |= RMAIL_MIME_MESSAGE;
		child = new_part(c, idx, next);
		push_open(c, child, nl);
		c->state = S_HEADER;
		c->nf = 0;
		c->have_cur = false;
	}
}

/* Index into the open chain of the multipart whose boundary the line
 * s[0..n) opens or closes, deepest first; -1 if none.  Prefix match
 * ("--b" then anything) as deployed parsers do. */
static int match_boundary(const struct pctx *c, const char *s, size_t n,
			  bool *close_r)
{
	uint32_t i;

	for (i = c->nopen; i-- > 0;) {
		const struct open_ent *o = &c->open[i];

		if (o->boundary == NULL || n < o->blen + 2 ||
		    memcmp(s + 2, o->boundary, o->blen) != 0)
			continue;
		*close_r = n >= o->blen + 4 && s[o->blen + 2] == '-' &&
			   s[o->blen + 3] == '-';
		return (int)i;
	}
	return -1;
}

static bool has_8bit(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

static void parse_lines(struct pctx *c, const char *d, size_t len)
{
	uint64_t pos = 0, nl = 0;

	c->open[0].part = new_part(c, RMAIL_MIME_NONE, 0);
	c->nopen = 1;
	c->open[0].boundary = NULL;
	c->state = S_HEADER;
	while (pos < len) {
		const char *lf = memchr(d + pos, '\n', len - pos);
		uint64_t next = lf != NULL ? (uint64_t)(lf - d) + 1 : len;
		uint64_t end = lf != NULL ? (uint64_t)(lf - d) : len;
		size_t n;
		bool close;
		int k;

		if (end > pos && d[end - 1] == '\r')
			end--;
		n = (size_t)(end - pos);
		if (n > c->lim.max_line_len)
			flag_current(c, RMAIL_MIME_TRUNCATED);
		if (n >= 2 && d[pos] == '-' && d[pos + 1] == '-' &&
		    (k = match_boundary(c, d + pos, n, &close)) >= 0) {
			/* the line break before a boundary belongs to it */
			uint64_t e = pos, nl_e = nl;
			struct open_ent *o = &c->open[k];

			if (pos > 0) {
				e = pos - 1;
				nl_e = nl - 1;
				if (e > 0 && d[e - 1] == '\r')
					e--;
			}
			if (c->state == S_HEADER)
				cut_headers(c, e);
			close_to(c, (uint32_t)k + 1, e, nl_e);
			if (close) {
				o->boundary = NULL; /* epilogue follows */
			} else if (c->nparts >= c->lim.max_parts) {
				c->parts[o->part].flags |= RMAIL_MIME_TRUNCATED;
			} else {
				push_open(c, new_part(c, o->part, next),
					  nl + 1);
				c->state = S_HEADER;
				c->nf = 0;
				c->have_cur = false;
			}
		} else if (c->state == S_HEADER) {
			if (has_8bit(d + pos, n))
				flag_current(c, RMAIL_MIME_8BIT);
			if (n == 0)
				body_starts(c, next, nl + (lf != NULL));
			else
				header_line(c, d + pos,
					    n < c->lim.max_line_len
						    ? n
						    : c->lim.max_line_len);
		} else if (c->nopen > 0 &&
			   c->open[c->nopen - 1].boundary == NULL &&
			   has_8bit(d + pos, n)) {
			flag_current(c, RMAIL_MIME_8BIT);
		}
		if (lf != NULL)
			nl++;
		pos = next;
	}
	if (c->state == S_HEADER)
		cut_headers(c, len);
	close_to(c, 0, len, nl);
}

int rm_mime_parse(const char *data, size_t len,
		  const struct rmail_mime_limits *lim, struct rmail_mime **m_r,
		  struct rmail_err *err)
{
	struct rmail_pool *pool;
	struct rmail_mime *m;
	struct rmail_mime_limits limcopy;
	struct pctx c = {0};
	uint32_t i;

	*m_r = NULL;
	if (data == NULL && len > 0)
		return rmail_err_set(err, RMAIL_E_INVAL, "no message data");
	/* below 1.0 (a zeroed struct): every limit at its default; a
	 * limit the caller's minor did not have reads as 0 = default */
	if (lim != NULL && lim->size < RMAIL_MIME_LIMITS_SIZE_1_0)
		lim = NULL;
	if (lim != NULL) {
		limcopy.size = (uint32_t)rmail_sized_copy(
			&limcopy, sizeof(limcopy), lim, lim->size);
		lim = &limcopy;
	}
	c.lim.max_depth = lim_or(lim ? lim->max_depth : 0, RM_MIME_DEF_DEPTH);
	c.lim.max_parts = lim_or(lim ? lim->max_parts : 0, RM_MIME_DEF_PARTS);
	c.lim.max_headers =
		lim_or(lim ? lim->max_headers : 0, RM_MIME_DEF_HEADERS);
	c.lim.max_header_len =
		lim_or(lim ? lim->max_header_len : 0, RM_MIME_DEF_HEADER_LEN);
	c.lim.max_line_len =
		lim_or(lim ? lim->max_line_len : 0, RM_MIME_DEF_LINE_LEN);
	if (c.lim.max_depth > 4096)
		c.lim.max_depth = 4096;

	pool = rm_pool_create(NULL);
	m = rm_pcalloc(pool, sizeof(*m));
	m->pool = pool;
	m->data = rm_pstrndup(pool, len > 0 ? data : "", len);
	m->len = len;
	c.m = m;
	/* root, then at most max_depth levels below it */
	c.open = rm_xcalloc(c.lim.max_depth + 2, sizeof(*c.open));
	parse_lines(&c, m->data, len);

	m->nparts = c.nparts;
	m->parts = rm_palloc(pool, c.nparts * sizeof(*m->parts));
	m->priv = rm_palloc(pool, c.nparts * sizeof(*m->priv));
	memcpy(m->parts, c.parts, c.nparts * sizeof(*m->parts));
	memcpy(m->priv, c.priv, c.nparts * sizeof(*m->priv));
	for (i = 0; i < c.nparts; i++)
		if (m->parts[i].depth > c.lim.max_depth)
			m->parts[i].flags |= RMAIL_MIME_TRUNCATED;
	free(c.parts);
	free(c.priv);
	free(c.open);
	free(c.fv);
	rm_mbuf_free(&c.cur);
	*m_r = m;
	return 0;
}

void rm_mime_free(struct rmail_mime **m)
{
	struct rmail_pool *pool;

	if (m == NULL || *m == NULL)
		return;
	pool = (*m)->pool;
	*m = NULL;
	rm_pool_destroy(&pool);
}

size_t rm_mime_part_count(const struct rmail_mime *m)
{
	return m != NULL ? m->nparts : 0;
}

const struct rmail_mime_part *rm_mime_part(const struct rmail_mime *m,
					   size_t idx)
{
	return m != NULL && idx < m->nparts ? &m->parts[idx] : NULL;
}

const char *rm_mime_header(struct rmail_mime *m, size_t idx, const char *name,
			   size_t nth, int decode)
{
	struct mpriv *pv;
	uint32_t i;

	if (m == NULL || idx >= m->nparts || name == NULL)
		return NULL;
	pv = &m->priv[idx];
	for (i = 0; i < pv->nfields; i++) {
		struct mfield *f = &pv->fields[i];

		if (strcasecmp(f->name, name) != 0 || nth-- > 0)
			continue;
		if (!decode)
			return f->value;
		if (f->decoded == NULL)
			f->decoded = rm_mime_decode_2047(m->pool, f->value,
							 strlen(f->value));
		return f->decoded;
	}
	return NULL;
}

int rm_mime_body(struct rmail_mime *m, size_t idx, int to_utf8,
		 const char **out_r, size_t *len_r, struct rmail_err *err)
{
	const struct rmail_mime_part *p;
	struct mpriv *pv;
	struct rm_mbuf b = {0}, u = {0};
	const char *raw;
	int slot = to_utf8 ? 1 : 0;

	*out_r = NULL;
	*len_r = 0;
	if (m == NULL || idx >= m->nparts)
		return rmail_err_set(err, RMAIL_E_NOENT, "no MIME part %zu",
				     idx);
	p = &m->parts[idx];
	pv = &m->priv[idx];
	if (pv->body[slot] != NULL)
		goto done;
	raw = m->data + p->body_off;
	if (p->encoding != NULL && strcmp(p->encoding, "base64") == 0 &&
	    !(p->flags & (RMAIL_MIME_MULTIPART | RMAIL_MIME_MESSAGE)))
		rm_mime_base64(&b, raw, p->body_len);
	else if (p->encoding != NULL &&
		 strcmp(p->encoding, "quoted-printable") == 0 &&
		 !(p->flags & (RMAIL_MIME_MULTIPART | RMAIL_MIME_MESSAGE)))
		rm_mime_qp(&b, raw, p->body_len, false);
	else
		rm_mbuf_add(&b, raw, p->body_len);
	if (to_utf8 && strcmp(p->type, "text") == 0) {
		rm_mime_to_utf8(&u, p->charset, b.p != NULL ? b.p : "", b.len);
		rm_mbuf_free(&b);
		b = u;
	}
	pv->body[slot] = rm_mbuf_finish(&b, m->pool, &pv->body_len[slot]);
done:
	*out_r = pv->body[slot];
	*len_r = pv->body_len[slot];
	return 0;
}

int rm_mime_addresses(struct rmail_mime *m, const char *value,
		      const struct rmail_mime_addr **addrs_r, size_t *n_r)
{
	*addrs_r = NULL;
	*n_r = 0;
	if (m == NULL || value == NULL)
		return -1;
	return rm_mime_addr_parse(m->pool, value, addrs_r, n_r);
}
