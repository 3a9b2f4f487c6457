/*
 * Building rmail's Authentication-Results field (RFC 8601 §2.2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/authres.h"

#define FOLD_AT 78
#define VALUE_MAX 255

static bool tspecial(unsigned char c)
{
	/* RFC 2045 §5.1 */
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static bool token_char(unsigned char c)
{
	return c > ' ' && c < 0x7f && !tspecial(c);
}

static bool is_token(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!token_char((unsigned char)s[i]))
			return false;
	return true;
}

/* a token, or [local-part] "@" domain of tokens */
static bool bare_ok(const char *v, size_t n)
{
	const char *at = memchr(v, '@', n);

	if (at == NULL)
		return is_token(v, n);
	return (at == v || is_token(v, (size_t)(at - v))) &&
	       is_token(at + 1, n - (size_t)(at - v) - 1);
}

static void add(char *buf, size_t cap, size_t *o, char c)
{
	if (*o + 1 < cap)
		buf[(*o)++] = c;
}

void authres_value(char *buf, size_t cap, const char *v)
{
	size_t o = strlen(buf), n = strlen(v);

	if (n > VALUE_MAX)
		n = VALUE_MAX;
	if (bare_ok(v, n)) {
		for (size_t i = 0; i < n; i++)
			add(buf, cap, &o, v[i]);
	} else {
		add(buf, cap, &o, '"');
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)v[i];

			if (c < ' ' || c == 0x7f)
				continue; /* CR, LF, NUL, ...: never in a header
					   */
			if (c == '"' || c == '\\')
				add(buf, cap, &o, '\\');
			add(buf, cap, &o, (char)c);
		}
		add(buf, cap, &o, '"');
	}
	if (cap > 0)
		buf[o] = '\0';
}

/* a comment's text: no parentheses, backslashes or controls, so it
 * cannot end early or nest */
static void comment(char *buf, size_t cap, const char *v)
{
	size_t o = strlen(buf), n = strlen(v);

	add(buf, cap, &o, '(');
	for (size_t i = 0; i < n && i < VALUE_MAX; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c >= ' ' && c != 0x7f && c != '(' && c != ')' && c != '\\')
			add(buf, cap, &o, (char)c);
	}
	add(buf, cap, &o, ')');
	if (cap > 0)
		buf[o] = '\0';
}

/* The field as atoms: each is written after a space, or after a fold
 * when the line would pass FOLD_AT. */
struct out {
	char *p;
	size_t len, cap, col;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		o->cap = (o->len + n + 1) * 2;
		o->p = realloc(o->p, o->cap);
		if (o->p == NULL)
			abort();
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void atom(struct out *o, const char *s)
{
	size_t n = strlen(s);

	if (o->col + 1 + n > FOLD_AT) {
		put(o, "\r\n\t", 3);
		o->col = 8;
	} else {
		put(o, " ", 1);
		o->col++;
	}
	put(o, s, n);
	o->col += n;
}

/* "ptype.prop=value" with the value quoted as needed */
static void prop(struct out *o, const char *name, const char *v)
{
	char b[2 * VALUE_MAX + 40];

	if (v == NULL || *v == '\0')
		return;
	snprintf(b, sizeof(b), "%s=", name);
	authres_value(b, sizeof(b), v);
	atom(o, b);
}

static void method(struct out *o, bool *first, const char *m, const char *r)
{
	char b[96], rv[64] = "";

	/* results come from code, but are values like any other */
	authres_value(rv, sizeof(rv), r != NULL ? r : "none");
	snprintf(b, sizeof(b), "%s=%s", m, rv);
	if (!*first) {
		put(o, ";", 1);
		o->col++;
	}
	*first = false;
	atom(o, b);
}

char *authres_build(const char *authserv_id, const struct authres_in *in)
{
	struct out o = {0};
	bool first = true;
	char b[2 * VALUE_MAX + 40];

	put(&o, "Authentication-Results:", 23);
	o.col = 23;
	b[0] = '\0';
	authres_value(b, sizeof(b), authserv_id);
	atom(&o, b);
	put(&o, ";", 1);
	o.col++;
	if (in->spf_result != NULL) {
		method(&o, &first, "spf", in->spf_result);
		if (in->spf_mailfrom != NULL && *in->spf_mailfrom != '\0')
			prop(&o, "smtp.mailfrom", in->spf_mailfrom);
		else
			prop(&o, "smtp.helo", in->spf_helo);
	}
	if (in->dkim_checked && in->ndkim == 0)
		method(&o, &first, "dkim", "none");
	for (size_t i = 0; i < in->ndkim; i++) {
		const struct authres_dkim *d = &in->dkim[i];

		method(&o, &first, "dkim", d->result);
		if (d->reason != NULL) {
			b[0] = '\0';
			comment(b, sizeof(b), d->reason);
			atom(&o, b);
		}
		prop(&o, "header.d", d->d);
		prop(&o, "header.s", d->s);
		prop(&o, "header.a", d->a);
		if (d->b != NULL) {
			char pre[9];

			snprintf(pre, sizeof(pre), "%s", d->b);
			prop(&o, "header.b", pre);
		}
	}
	if (in->dmarc_result != NULL) {
		method(&o, &first, "dmarc", in->dmarc_result);
		if (in->dmarc_policy != NULL) {
			char c[128];

			snprintf(c, sizeof(c), "p=%s dis=%s", in->dmarc_policy,
				 in->dmarc_disposition != NULL
					 ? in->dmarc_disposition
					 : "none");
			b[0] = '\0';
			comment(b, sizeof(b), c);
			atom(&o, b);
		}
		prop(&o, "header.from", in->dmarc_from);
	}
	if (first)
		atom(&o, "none");
	put(&o, "\r\n", 2);
	return o.p;
}
