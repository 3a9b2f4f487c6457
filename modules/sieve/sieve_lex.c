/* The Sieve lexer (RFC 5228 8.1): identifiers, tags, numbers with
 * K/M/G, quoted and multi-line strings (decoded here), punctuation;
 * comments are skipped.  Every token carries its line for errors. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sieve_int.h"

void sv_lex_init(struct sv_lexer *l, const char *text, size_t len,
		 struct sv_arena *a)
{
	memset(l, 0, sizeof(*l));
	l->p = text;
	l->end = text + len;
	l->line = 1;
	l->a = a;
}

static enum sv_tok fail(struct sv_lexer *l, const char *what)
{
	snprintf(l->err, sizeof(l->err), "line %u: %s", l->line, what);
	l->tok = TK_ERR;
	return TK_ERR;
}

static int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* skip white space and comments; -1 on an unterminated comment */
static int skip_ws(struct sv_lexer *l)
{
	while (l->p < l->end) {
		char c = *l->p;

		if (c == '\n') {
			l->line++;
			l->p++;
		} else if (c == ' ' || c == '\t' || c == '\r') {
			l->p++;
		} else if (c == '#') {
			while (l->p < l->end && *l->p != '\n')
				l->p++;
		} else if (c == '/' && l->p + 1 < l->end && l->p[1] == '*') {
			unsigned start = l->line;

			l->p += 2;
			for (;;) {
				if (l->p + 1 >= l->end) {
					l->line = start;
					return -1;
				}
				if (l->p[0] == '*' && l->p[1] == '/')
					break;
				if (*l->p == '\n')
					l->line++;
				l->p++;
			}
			l->p += 2;
		} else {
			break;
		}
	}
	return 0;
}

static enum sv_tok quoted(struct sv_lexer *l)
{
	const char *q = l->p + 1;
	size_t n = 0;
	char *d;

	/* first pass: the end and the decoded length */
	for (const char *s = q;; s++) {
		if (s >= l->end)
			return fail(l, "unterminated string");
		if (*s == '"')
			break;
		if (*s == '\\') {
			s++;
			if (s >= l->end)
				return fail(l, "unterminated string");
		}
		n++;
	}
	d = sv_alloc(l->a, n + 1);
	if (d == NULL)
		return fail(l, "out of memory");
	l->s = d;
	l->n = n;
	for (l->p = q; *l->p != '"'; l->p++) {
		if (*l->p == '\\')
			l->p++; /* \x is x, for any x (RFC 5228 2.4.2) */
		if (*l->p == '\n')
			l->line++;
		*d++ = *l->p;
	}
	l->p++;
	return l->tok = TK_STR;
}

/* "text:" already consumed; lines up to "." alone, dot-unstuffed */
static enum sv_tok multiline(struct sv_lexer *l)
{
	const char *s = l->p, *body;
	char *d;
	size_t cap;

	while (s < l->end && (*s == ' ' || *s == '\t'))
		s++;
	if (s < l->end && *s == '#')
		while (s < l->end && *s != '\n')
			s++;
	if (s < l->end && *s == '\r')
		s++;
	if (s >= l->end || *s != '\n')
		return fail(l, "text: must end its line");
	s++;
	l->line++;
	body = s;
	/* first pass: the terminator and the decoded size (bare LF lines
	 * come out as CRLF) */
	cap = 1;
	for (;;) {
		const char *e = memchr(s, '\n', (size_t)(l->end - s));
		size_t ln;

		if (e == NULL) {
			l->line = l->tline;
			return fail(l, "unterminated multi-line string");
		}
		ln = (size_t)(e - s);
		if (ln > 0 && s[ln - 1] == '\r')
			ln--;
		if (ln == 1 && s[0] == '.')
			break;
		cap += ln + 2;
		s = e + 1;
	}
	d = sv_alloc(l->a, cap);
	if (d == NULL)
		return fail(l, "out of memory");
	l->s = d;
	s = body;
	for (;;) {
		const char *e = memchr(s, '\n', (size_t)(l->end - s));
		size_t ln = (size_t)(e - s);

		if (ln > 0 && s[ln - 1] == '\r')
			ln--;
		if (ln == 1 && s[0] == '.') {
			l->p = e + 1;
			l->line++;
			break;
		}
		if (ln > 0 && s[0] == '.') {
			s++;
			ln--;
		}
		memcpy(d, s, ln);
		d += ln;
		*d++ = '\r';
		*d++ = '\n';
		s = e + 1;
		l->line++;
	}
	l->n = (size_t)(d - l->s);
	return l->tok = TK_STR;
}

enum sv_tok sv_lex_next(struct sv_lexer *l)
{
	if (l->tok == TK_ERR)
		return TK_ERR;
	if (skip_ws(l) < 0)
		return fail(l, "unterminated comment");
	l->tline = l->line;
	if (l->p >= l->end)
		return l->tok = TK_EOF;
	char c = *l->p;

	if (c == '\0')
		return fail(l, "NUL character in script");
	if (strchr("[](),;{}", c) != NULL) {
		l->p++;
		return l->tok = (enum sv_tok)c;
	}
	if (c == '"')
		return quoted(l);
	if (is_digit(c)) {
		uint64_t v = 0;

		while (l->p < l->end && is_digit(*l->p)) {
			if (v > (UINT64_MAX - 9) / 10)
				return fail(l, "number too large");
			v = v * 10 + (uint64_t)(*l->p++ - '0');
		}
		if (l->p < l->end && strchr("kKmMgG", *l->p) != NULL) {
			unsigned sh = (*l->p == 'k' || *l->p == 'K')   ? 10
				      : (*l->p == 'm' || *l->p == 'M') ? 20
								       : 30;
			if (v > (UINT64_MAX >> sh))
				return fail(l, "number too large");
			v <<= sh;
			l->p++;
		}
		if (l->p < l->end && is_alpha(*l->p))
			return fail(l, "bad number");
		l->num = v;
		return l->tok = TK_NUM;
	}
	int tag = c == ':';

	if (tag)
		l->p++;
	if (l->p < l->end && is_alpha(*l->p)) {
		const char *s = l->p;

		while (l->p < l->end && (is_alpha(*l->p) || is_digit(*l->p)))
			l->p++;
		l->n = (size_t)(l->p - s);
		l->s = sv_memdup(l->a, s, l->n);
		if (l->s == NULL)
			return fail(l, "out of memory");
		if (!tag && l->n == 4 && strncasecmp(s, "text", 4) == 0 &&
		    l->p < l->end && *l->p == ':') {
			l->p++;
			return multiline(l);
		}
		return l->tok = tag ? TK_TAG : TK_ID;
	}
	if (tag)
		return fail(l, "':' without a tag name");
	char what[40];

	if ((unsigned char)c > 0x20 && (unsigned char)c < 0x7f)
		snprintf(what, sizeof(what), "unexpected character '%c'", c);
	else
		snprintf(what, sizeof(what), "unexpected byte 0x%02x",
			 (unsigned char)c);
	return fail(l, what);
}
