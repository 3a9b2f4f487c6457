/*
 * RFC 5322 address lists (with the obsolete syntax of section 4.4:
 * source routes, phrases with dots, missing angle brackets) into the
 * flat rmail_mime_addr array IMAP ENVELOPE wants.  One forward pass
 * with no backtracking; lists longer than RM_MIME_MAX_ADDRS entries
 * are refused, so a header with 500,000 addresses (CVE-2024-23184
 * class) costs one linear scan and no large allocation.
 */
#include <stdlib.h>
#include <string.h>

#include "mime_int.h"

enum tok { T_END, T_ATOM, T_QSTR, T_COMMENT, T_DLIT, T_SPECIAL };

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static enum tok next_tok(const char **pp, const char **s_r, size_t *n_r)
{
	const char *p = *pp, *s;
	enum tok t;

	while (is_wsp(*p))
		p++;
	s = p;
	switch (*p) {
	case '\0':
		t = T_END;
		break;
	case '"':
		for (s = ++p; *p != '\0' && *p != '"'; p++)
			if (*p == '\\' && p[1] != '\0')
				p++;
		*n_r = (size_t)(p - s);
		if (*p == '"')
			p++;
		*s_r = s;
		*pp = p;
		return T_QSTR;
	case '(': {
		unsigned int depth = 0;

		for (; *p != '\0'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0)
				break;
		}
		*s_r = s + 1;
		*n_r = (size_t)(p - s - 1);
		*pp = *p != '\0' ? p + 1 : p;
		return T_COMMENT;
	}
	case '[':
		while (*p != '\0' && *p != ']')
			p++;
		if (*p == ']')
			p++;
		t = T_DLIT;
		break;
	case '<':
	case '>':
	case '@':
	case ',':
	case ';':
	case ':':
		p++;
		t = T_SPECIAL;
		break;
	case ')':
		/* stray: a special nobody handles, so it is skipped */
		p++;
		t = T_SPECIAL;
		break;
	default:
		while (*p != '\0' && !is_wsp(*p) &&
		       strchr("\"(),:;<>@[", *p) == NULL)
			p++;
		t = T_ATOM;
		break;
	}
	*s_r = s;
	*n_r = (size_t)(p - s);
	*pp = p;
	return t;
}

static void add_unescaped(struct rm_mbuf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n)
			i++;
		rm_mbuf_addc(b, s[i]);
	}
}

enum amode {
	M_PHRASE, /* display name or local part so far */
	M_ROUTE,  /* "<@a,@b:" */
	M_LOCAL,  /* inside <>, before '@' */
	M_DOMAIN, /* after '@', inside <> or not */
	M_AFTER,  /* after '>' */
};

struct aparse {
	struct rmail_pool *pool;
	struct rm_mbuf phrase, local, domain, route, comment;
	enum amode mode;
	bool angle, at, any;
	struct rmail_mime_addr *v;
	size_t n, cap;
	bool in_group, overflow;
};

static struct rmail_mime_addr *push(struct aparse *a)
{
	if (a->n == RM_MIME_MAX_ADDRS) {
		a->overflow = true;
		return NULL;
	}
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 8;
		a->v = rm_xrealloc(a->v, a->cap * sizeof(*a->v));
	}
	memset(&a->v[a->n], 0, sizeof(a->v[0]));
	return &a->v[a->n++];
}

static const char *pool_str(struct aparse *a, struct rm_mbuf *b, bool dec)
{
	const char *s;

	if (b->len == 0)
		return NULL;
	s = dec ? rm_mime_decode_2047(a->pool, b->p, b->len)
		: rm_pstrndup(a->pool, b->p, b->len);
	b->len = 0;
	return s;
}

static void flush(struct aparse *a)
{
	struct rmail_mime_addr *e;

	if (!a->any)
		goto reset;
	e = push(a);
	if (e == NULL)
		goto reset;
	if (!a->angle && !a->at) {
		/* a bare word: "undisclosed-recipients" */
		e->mailbox = pool_str(a, &a->local, false);
		if (e->mailbox == NULL)
			e->mailbox = "";
		goto reset;
	}
	if (a->angle)
		e->name = pool_str(a, &a->phrase, true);
	if (e->name == NULL) /* "user@host (Real Name)" */
		e->name = pool_str(a, &a->comment, true);
	e->mailbox = pool_str(a, &a->local, false);
	if (e->mailbox == NULL)
		e->mailbox = "";
	e->host = pool_str(a, &a->domain, false);
	e->route = pool_str(a, &a->route, false);
reset:
	a->phrase.len = a->local.len = a->domain.len = 0;
	a->route.len = a->comment.len = 0;
	a->mode = M_PHRASE;
	a->angle = a->at = a->any = false;
}

static void word(struct aparse *a, enum tok t, const char *s, size_t n)
{
	struct rm_mbuf *b;

	a->any = true;
	switch (a->mode) {
	case M_PHRASE:
		if (a->phrase.len > 0)
			rm_mbuf_addc(&a->phrase, ' ');
		if (t == T_QSTR) {
			add_unescaped(&a->phrase, s, n);
			add_unescaped(&a->local, s, n);
		} else {
			rm_mbuf_add(&a->phrase, s, n);
			rm_mbuf_add(&a->local, s, n);
		}
		return;
	case M_ROUTE:
		rm_mbuf_add(&a->route, s, n);
		return;
	case M_LOCAL:
	case M_DOMAIN:
		b = a->mode == M_LOCAL ? &a->local : &a->domain;
		if (t == T_QSTR)
			add_unescaped(b, s, n);
		else
			rm_mbuf_add(b, s, n);
		return;
	case M_AFTER:
		return;
	}
}

static void special(struct aparse *a, char c)
{
	struct rmail_mime_addr *e;

	switch (c) {
	case '<':
		if (a->angle)
			return;
		a->angle = a->any = true;
		a->local.len = a->domain.len = 0;
		a->mode = M_LOCAL;
		return;
	case '>':
		if (a->angle)
			a->mode = M_AFTER;
		return;
	case '@':
		a->any = true;
		if (a->mode == M_LOCAL && a->local.len == 0 &&
		    a->route.len == 0) {
			a->mode = M_ROUTE;
			rm_mbuf_addc(&a->route, '@');
		} else if (a->mode == M_ROUTE) {
			rm_mbuf_addc(&a->route, '@');
		} else if (a->mode == M_PHRASE || a->mode == M_LOCAL) {
			a->at = true;
			a->mode = M_DOMAIN;
		}
		return;
	case ':':
		if (a->mode == M_ROUTE) {
			a->mode = M_LOCAL;
			return;
		}
		if (a->mode != M_PHRASE || a->in_group)
			return;
		e = push(a);
		if (e != NULL) {
			e->group = pool_str(a, &a->phrase, true);
			if (e->group == NULL)
				e->group = "";
		}
		a->in_group = true;
		a->phrase.len = a->local.len = a->comment.len = 0;
		a->any = false;
		return;
	case ',':
		if (a->mode == M_ROUTE) {
			rm_mbuf_addc(&a->route, ',');
			return;
		}
		flush(a);
		return;
	case ';':
		flush(a);
		if (a->in_group) {
			(void)push(a); /* group end: all NULL */
			a->in_group = false;
		}
		return;
	}
}

int rm_mime_addr_parse(struct rmail_pool *pool, const char *value,
		       const struct rmail_mime_addr **addrs_r, size_t *n_r)
{
	struct aparse a = {.pool = pool};
	struct rmail_mime_addr *out;
	const char *p = value, *s;
	size_t n;
	enum tok t;

	*addrs_r = NULL;
	*n_r = 0;
	if (value == NULL)
		return -1;
	while (!a.overflow && (t = next_tok(&p, &s, &n)) != T_END) {
		if (t == T_SPECIAL)
			special(&a, *s);
		else if (t == T_COMMENT) {
			a.comment.len = 0;
			rm_mbuf_add(&a.comment, s, n);
		} else
			word(&a, t, s, n);
	}
	if (!a.overflow) {
		flush(&a);
		if (a.in_group)
			(void)push(&a);
	}
	rm_mbuf_free(&a.phrase);
	rm_mbuf_free(&a.local);
	rm_mbuf_free(&a.domain);
	rm_mbuf_free(&a.route);
	rm_mbuf_free(&a.comment);
	if (a.overflow) {
		free(a.v);
		return -1;
	}
	out = rm_palloc(pool, (a.n ? a.n : 1) * sizeof(*out));
	if (a.n > 0)
		memcpy(out, a.v, a.n * sizeof(*out));
	free(a.v);
	*addrs_r = out;
	*n_r = a.n;
	return 0;
}
