/*
 * Header field values: RFC 2047 encoded-words, Content-Type and
 * Content-Disposition parameters with RFC 2231 continuations and
 * charsets.  Every scan is a single forward pass, so a hostile field
 * costs time linear in its (already bounded) length.
 */
#include <string.h>

#include "mime_int.h"

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_token(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* Text outside encoded-words: UTF-8 if it is, windows-1252 if not. */
static void add_text(struct rm_mbuf *out, const char *s, size_t n)
{
	rm_mime_to_utf8(out, NULL, s, n);
}

struct ew {
	const char *charset; /* not NUL terminated */
	size_t charset_len;
	char enc; /* 'b' or 'q' */
	const char *text;
	size_t text_len;
	size_t end;	/* offset after "?=" */
	size_t fail_to; /* on failure: no word starts before */
};

/* Parse "=?cs?e?text?=" at in[i] (in[i..i+1] is "=?"). */
static bool ew_parse(const char *in, size_t len, size_t i, struct ew *w)
{
	size_t p = i + 2, cs = p;

	w->fail_to = i + 1;
	while (p < len && p - cs <= 64 && in[p] != '?' &&
	       is_token((unsigned char)in[p]))
		p++;
	if (p >= len || in[p] != '?' || p == cs || p + 2 >= len)
		return false;
	w->charset = in + cs;
	w->charset_len = p - cs;
	w->enc = (char)(in[p + 1] | 0x20);
	if ((w->enc != 'b' && w->enc != 'q') || in[p + 2] != '?')
		return false;
	p += 3;
	w->text = in + p;
	while (p < len && !(in[p] == '?' && p + 1 < len && in[p + 1] == '=')) {
		if (is_wsp(in[p])) {
			/* no word can start before here and end after */
			w->fail_to = p;
			return false;
		}
		p++;
	}
	if (p >= len) {
		w->fail_to = len;
		return false;
	}
	w->text_len = (size_t)(in + p - w->text);
	w->end = p + 2;
	return true;
}

static void flush_pending(struct rm_mbuf *out, struct rm_mbuf *pend, char *cs)
{
	if (pend->len > 0)
		rm_mime_to_utf8(out, cs, pend->p, pend->len);
	pend->len = 0;
}

void rm_mime_decode_2047_buf(struct rm_mbuf *out, const char *in, size_t len)
{
	struct rm_mbuf pend = {0};
	char cs[65] = "";
	size_t i = 0, lit = 0;
	bool after_word = false;
	struct ew w;

	while (i < len) {
		size_t n;
		char *star;

		if (!(in[i] == '=' && i + 1 < len && in[i + 1] == '?')) {
			i++;
			continue;
		}
		if (!ew_parse(in, len, i, &w)) {
			i = w.fail_to;
			continue;
		}
		/* text before the word; whitespace between two words is
		 * dropped (RFC 2047 6.2) */
		if (after_word) {
			for (n = lit; n < i && is_wsp(in[n]); n++)
				;
			if (n != i)
				after_word = false;
		}
		n = w.charset_len < 64 ? w.charset_len : 64;
		if (!after_word || strncmp(cs, w.charset, n) != 0 ||
		    cs[n] != '\0') {
			flush_pending(out, &pend, cs);
			if (!after_word)
				add_text(out, in + lit, i - lit);
			memcpy(cs, w.charset, n);
			cs[n] = '\0';
			/* RFC 2231 language suffix: "utf-8*en" */
			star = strchr(cs, '*');
			if (star != NULL)
				*star = '\0';
		}
		/* same charset: concatenate bytes first, so a character
		 * split across two words survives */
		if (w.enc == 'b')
			rm_mime_base64(&pend, w.text, w.text_len);
		else
			rm_mime_qp(&pend, w.text, w.text_len, true);
		i = w.end;
		lit = i;
		after_word = true;
	}
	flush_pending(out, &pend, cs);
	add_text(out, in + lit, len - lit);
	rm_mbuf_free(&pend);
}

char *rm_mime_decode_2047(struct rmail_pool *pool, const char *in, size_t len)
{
	struct rm_mbuf out = {0};

	rm_mime_decode_2047_buf(&out, in, len);
	return rm_mbuf_finish(&out, pool, NULL);
}

/* Skip whitespace and (nested) comments. */
static const char *skip_cfws(const char *p)
{
	for (;;) {
		while (is_wsp(*p))
			p++;
		if (*p != '(')
			return p;
		{
			unsigned int depth = 0;

			for (; *p != '\0'; p++) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				else if (*p == '(')
					depth++;
				else if (*p == ')' && --depth == 0) {
					p++;
					break;
				}
			}
		}
	}
}

static char *lower_dup(struct rmail_pool *pool, const char *s, size_t n)
{
	char *d = rm_pstrndup(pool, s, n);
	size_t i;

	for (i = 0; i < n; i++)
		if (d[i] >= 'A' && d[i] <= 'Z')
			d[i] = (char)(d[i] + 32);
	return d;
}

const char *rm_mime_token(struct rmail_pool *pool, const char *value)
{
	const char *p = skip_cfws(value), *s = p;

	while (*p != '\0' && *p != ';' && *p != '(' && !is_wsp(*p))
		p++;
	if (p == s)
		return NULL;
	return lower_dup(pool, s, (size_t)(p - s));
}

struct rparam {
	const char *name; /* lower case, without "*N*" */
	size_t name_len;
	int section;	 /* -1: none */
	bool ext;	 /* trailing '*': charset'lang'%XX */
	const char *val; /* raw bytes, unquoted */
	size_t val_len;
	bool used;
};

static int hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void pct_decode(struct rm_mbuf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexv(s[i + 1]) >= 0 &&
		    hexv(s[i + 2]) >= 0) {
			rm_mbuf_addc(b, (char)(hexv(s[i + 1]) << 4 |
					       hexv(s[i + 2])));
			i += 2;
		} else {
			rm_mbuf_addc(b, s[i]);
		}
	}
}

/* Assemble the parameter named like rp[first] from all its RFC 2231
 * sections (bounded by RM_MIME_MAX_PARAMS, so the scan is small). */
static char *assemble(struct rmail_pool *pool, struct rparam *rp, size_t n,
		      size_t first)
{
	struct rm_mbuf raw = {0}, out = {0};
	char cs[65] = "";
	size_t i;
	int sec;
	bool found;

	if (rp[first].section < 0 && !rp[first].ext) {
		rp[first].used = true;
		/* plain value; RFC 2047 inside quotes is common practice */
		rm_mime_decode_2047_buf(&out, rp[first].val, rp[first].val_len);
		return rm_mbuf_finish(&out, pool, NULL);
	}
	for (sec = rp[first].section < 0 ? -1 : 0;; sec++) {
		found = false;
		for (i = first; i < n; i++) {
			const char *v;
			size_t vl;

			if (rp[i].used || rp[i].section != sec ||
			    rp[i].name_len != rp[first].name_len ||
			    memcmp(rp[i].name, rp[first].name,
				   rp[i].name_len) != 0)
				continue;
			rp[i].used = true;
			found = true;
			v = rp[i].val;
			vl = rp[i].val_len;
			if (rp[i].ext && sec <= 0) {
				const char *q1 = memchr(v, '\'', vl), *q2;

				q2 = q1 != NULL
					     ? memchr(q1 + 1, '\'',
						      (size_t)(v + vl - q1 - 1))
					     : NULL;
				if (q2 != NULL) {
					size_t cl = (size_t)(q1 - v);

					if (cl > 64)
						cl = 64;
					memcpy(cs, v, cl);
					cs[cl] = '\0';
					vl -= (size_t)(q2 + 1 - v);
					v = q2 + 1;
				}
			}
			if (rp[i].ext)
				pct_decode(&raw, v, vl);
			else
				rm_mbuf_add(&raw, v, vl);
			break;
		}
		if (!found || sec < 0)
			break;
	}
	rm_mime_to_utf8(&out, cs[0] != '\0' ? cs : NULL,
			raw.p != NULL ? raw.p : "", raw.len);
	rm_mbuf_free(&raw);
	return rm_mbuf_finish(&out, pool, NULL);
}

static const char *scan_param(const char *p, struct rparam *r,
			      struct rm_mbuf *qbuf, size_t *qoff)
{
	const char *s = p, *star;

	while (is_token((unsigned char)*p) || (unsigned char)*p >= 0x80)
		p++;
	r->name = s;
	r->name_len = (size_t)(p - s);
	r->section = -1;
	r->ext = false;
	/* name*N*, name*N, name* */
	star = memchr(s, '*', r->name_len);
	if (star != NULL) {
		const char *q = star + 1;
		int sec = 0, digits = 0;

		while (q < p && *q >= '0' && *q <= '9' && digits < 4) {
			sec = sec * 10 + (*q - '0');
			q++;
			digits++;
		}
		if (digits > 0)
			r->section = sec;
		if (q < p && *q == '*')
			r->ext = true, q++;
		else if (digits == 0)
			r->ext = true;
		if (q == p)
			r->name_len = (size_t)(star - s);
		else
			r->section = -1, r->ext = false;
	}
	p = skip_cfws(p);
	if (*p != '=') {
		r->val = "";
		r->val_len = 0;
		return p;
	}
	p = skip_cfws(p + 1);
	if (*p == '"') {
		/* unescape into the shared buffer; offsets, since it moves */
		*qoff = qbuf->len;
		for (p++; *p != '\0' && *p != '"'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			rm_mbuf_addc(qbuf, *p);
		}
		if (*p == '"')
			p++;
		r->val = NULL;
		r->val_len = qbuf->len - *qoff;
		return p;
	}
	/* tolerant: an unquoted value runs to ';' (spaces and all) */
	s = p;
	while (*p != '\0' && *p != ';')
		p++;
	r->val = s;
	r->val_len = (size_t)(p - s);
	while (r->val_len > 0 && is_wsp(s[r->val_len - 1]))
		r->val_len--;
	/* a trailing comment: "UTF-8 (Unicode)" */
	if (r->val_len > 0 && s[r->val_len - 1] == ')') {
		const char *open = NULL;

		for (const char *q = s; q < s + r->val_len; q++)
			if (*q == '(' && q > s && is_wsp(q[-1]))
				open = q;
		if (open != NULL) {
			r->val_len = (size_t)(open - s);
			while (r->val_len > 0 && is_wsp(s[r->val_len - 1]))
				r->val_len--;
		}
	}
	return p;
}

bool rm_mime_parse_ctype(struct rmail_pool *pool, const char *value,
			 const char **type_r, const char **subtype_r,
			 struct rmail_strmap *params_r)
{
	struct rparam rp[RM_MIME_MAX_PARAMS];
	size_t qoff[RM_MIME_MAX_PARAMS];
	struct rm_mbuf qbuf = {0};
	const char *p = skip_cfws(value), *s;
	const char **k, **v;
	size_t n = 0, i, m;
	bool ok = true;

	s = p;
	while (is_token((unsigned char)*p))
		p++;
	*type_r = p > s ? lower_dup(pool, s, (size_t)(p - s)) : NULL;
	if (*type_r == NULL)
		ok = false;
	if (subtype_r != NULL) {
		*subtype_r = NULL;
		p = skip_cfws(p);
		if (*p == '/') {
			p = skip_cfws(p + 1);
			s = p;
			while (is_token((unsigned char)*p))
				p++;
			if (p > s)
				*subtype_r =
					lower_dup(pool, s, (size_t)(p - s));
		}
		if (*subtype_r == NULL)
			ok = false;
	}
	for (;;) {
		while (*p != '\0' && *p != ';')
			p++;
		if (*p == '\0' || n == RM_MIME_MAX_PARAMS)
			break;
		p = skip_cfws(p + 1);
		if (!is_token((unsigned char)*p))
			continue;
		p = scan_param(p, &rp[n], &qbuf, &qoff[n]);
		rp[n].used = false;
		if (rp[n].name_len > 0)
			n++;
	}
	for (i = 0; i < n; i++) {
		if (rp[i].val == NULL)
			rp[i].val = qbuf.p != NULL ? qbuf.p + qoff[i] : "";
		rp[i].name = lower_dup(pool, rp[i].name, rp[i].name_len);
	}
	k = rm_pcalloc(pool, (n + 1) * sizeof(*k));
	v = rm_pcalloc(pool, (n + 1) * sizeof(*v));
	m = 0;
	/* extended forms first: RFC 2231 values win over plain ones */
	for (int pass = 0; pass < 2; pass++) {
		for (i = 0; i < n; i++) {
			bool ext = rp[i].ext || rp[i].section >= 0;

			if (rp[i].used || ext != (pass == 0))
				continue;
			if (rm_mime_strmap_get(&(struct rmail_strmap){m, k, v},
					       rp[i].name) != NULL) {
				rp[i].used = true;
				continue;
			}
			k[m] = rp[i].name;
			v[m] = assemble(pool, rp, n, i);
			m++;
		}
	}
	rm_mbuf_free(&qbuf);
	params_r->n = m;
	params_r->k = k;
	params_r->v = v;
	return ok;
}

const char *rm_mime_strmap_get(const struct rmail_strmap *m, const char *key)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (strcmp(m->k[i], key) == 0)
			return m->v[i];
	return NULL;
}
