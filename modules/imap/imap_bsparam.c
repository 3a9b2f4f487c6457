/*
 * BODYSTRUCTURE parameter lists as Dovecot 2.3 sends them, from the
 * raw header value: plain parameters as they stand, in order, then the
 * RFC 2231 ones sorted by name, their sections joined.  A value with
 * an extended section goes out as "name*" "charset'lang'%XX..." undecoded:
 * an IMAP4rev1 string cannot carry 8-bit text safely, and clients
 * (Thunderbird, mutt, Apple Mail, Outlook) decode RFC 2231 themselves.
 * Encoded-words inside quoted values are kept for the same reason.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_mime.h"

#define BS_MAX_PARAMS 64

struct bsp {
	char *key; /* as sent; for 2231 ones the name before '*' */
	char *val;
	int idx;	/* -1: plain */
	bool ext;	/* a "*" section: charset'lang'%XX */
	bool star_only; /* "name*" without a section number */
};

static bool tspecial(unsigned char c)
{
	return c <= ' ' || c >= 0x7f || strchr("()<>@,;:\\\"/[]?=", c);
}

static const char *skip_cfws(const char *p)
{
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p != '(')
			return p;
		/* a comment, nested, with quoted-pairs */
		for (int depth = 0; *p != '\0';) {
			if (*p == '\\' && p[1] != '\0') {
				p += 2;
				continue;
			}
			if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
			p++;
		}
	}
}

static char *dupn(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d == NULL)
		abort();
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

/* key = value; NULL at the end or at what does not parse */
static const char *one(const char *p, char **key_r, char **val_r)
{
	const char *s;

	p = skip_cfws(p);
	s = p;
	while (*p != '\0' && !tspecial((unsigned char)*p))
		p++;
	if (p == s)
		return NULL;
	*key_r = dupn(s, (size_t)(p - s));
	p = skip_cfws(p);
	if (*p != '=')
		goto bad;
	p = skip_cfws(p + 1);
	if (*p == '"') {
		size_t n = 0;
		char *v = malloc(strlen(p) + 1);

		if (v == NULL)
			abort();
		for (p++; *p != '\0' && *p != '"'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			if (*p == '\r' || *p == '\n')
				continue; /* folding inside quotes */
			v[n++] = *p;
		}
		v[n] = '\0';
		if (*p != '"') {
			free(v);
			goto bad;
		}
		*val_r = v;
		return p + 1;
	}
	s = p;
	while (*p != '\0' && !tspecial((unsigned char)*p))
		p++;
	if (p == s)
		goto bad;
	*val_r = dupn(s, (size_t)(p - s));
	return p;
bad:
	free(*key_r);
	*key_r = NULL;
	return NULL;
}

/* "name*3*" into name, 3, extended; false when not RFC 2231 */
static bool split_2231(struct bsp *b)
{
	char *star = strchr(b->key, '*'), *q;

	if (star == NULL)
		return false;
	q = star + 1;
	if (*q == '\0') {
		b->idx = 0;
		b->ext = true;
		b->star_only = true;
	} else {
		int idx = 0, digits = 0;

		while (*q >= '0' && *q <= '9' && digits < 4) {
			idx = idx * 10 + (*q - '0');
			q++;
			digits++;
		}
		if (digits == 0)
			return false;
		b->ext = *q == '*';
		if (b->ext)
			q++;
		if (*q != '\0')
			return false;
		b->idx = idx;
	}
	*star = '\0';
	return true;
}

static int cmp_2231(const void *a, const void *b)
{
	const struct bsp *x = a, *y = b;
	int c = strcasecmp(x->key, y->key);

	return c != 0 ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static void pair(struct imap_buf *b, bool *any, const char *k, const char *k2,
		 const char *v)
{
	struct imap_buf key = {0};

	imap_buf_add(b, *any ? " " : "(", 1);
	imap_buf_puts(&key, k);
	imap_buf_puts(&key, k2);
	imap_buf_add(&key, "", 1);
	imap_buf_nstring(b, key.p);
	imap_buf_free(&key);
	imap_buf_add(b, " ", 1);
	imap_buf_nstring(b, v);
	*any = true;
}

/* sections r[i..j) of one name */
static void joined(struct imap_buf *b, bool *any, struct bsp *r, size_t i,
		   size_t j)
{
	struct imap_buf v = {0};
	bool ext = false, seq = true;
	char num[16];

	for (size_t k = i; k < j; k++) {
		ext = ext || r[k].ext;
		seq = seq && r[k].idx == (int)(k - i) && !r[k].star_only;
	}
	if (j - i == 1 && r[i].star_only) {
		pair(b, any, r[i].key, "*", r[i].val);
		return;
	}
	if (!seq) {
		/* a gap or a repeat: each section as sent */
		for (size_t k = i; k < j; k++) {
			snprintf(num, sizeof(num), "*%d%s", r[k].idx,
				 r[k].ext ? "*" : "");
			pair(b, any, r[k].key, num, r[k].val);
		}
		return;
	}
	for (size_t k = i; k < j; k++)
		imap_buf_puts(&v, r[k].val);
	imap_buf_add(&v, "", 1);
	pair(b, any, r[i].key, ext ? "*" : "", v.p);
	imap_buf_free(&v);
}

void imap_bs_params(struct imap_buf *b, const char *value,
		    const char *def_charset)
{
	struct bsp plain[BS_MAX_PARAMS], r[BS_MAX_PARAMS];
	size_t np = 0, nr = 0, i, j;
	const char *p = value;
	bool any = false;

	/* past the type (or disposition type) to the first ';' */
	while (p != NULL && *p != '\0' && *p != ';') {
		if (*p == '(')
			p = skip_cfws(p);
		else if (*p == '"') {
			for (p++; *p != '\0' && *p != '"'; p++)
				if (*p == '\\' && p[1] != '\0')
					p++;
			if (*p == '"')
				p++;
		} else
			p++;
	}
	while (p != NULL && *p == ';' && np + nr < BS_MAX_PARAMS) {
		struct bsp x = {.idx = -1};

		p = one(p + 1, &x.key, &x.val);
		if (p == NULL)
			break;
		if (split_2231(&x))
			r[nr++] = x;
		else
			plain[np++] = x;
		p = skip_cfws(p);
	}
	for (i = 0; i < np; i++) {
		if (def_charset != NULL &&
		    strcasecmp(plain[i].key, "charset") == 0)
			def_charset = NULL;
		pair(b, &any, plain[i].key, "", plain[i].val);
	}
	qsort(r, nr, sizeof(r[0]), cmp_2231);
	for (i = 0; i < nr; i = j) {
		for (j = i + 1; j < nr && strcasecmp(r[j].key, r[i].key) == 0;
		     j++)
			;
		if (def_charset != NULL && strcasecmp(r[i].key, "charset") == 0)
			def_charset = NULL;
		joined(b, &any, r, i, j);
	}
	if (def_charset != NULL)
		pair(b, &any, "charset", "", def_charset);
	imap_buf_add(b, any ? ")" : "NIL", any ? 1 : 3);
	for (i = 0; i < np; i++) {
		free(plain[i].key);
		free(plain[i].val);
	}
	for (i = 0; i < nr; i++) {
		free(r[i].key);
		free(r[i].val);
	}
}
