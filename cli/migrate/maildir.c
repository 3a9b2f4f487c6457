/* Maildir++ names and metadata files: see maildir.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <rmail/store.h>

#include "maildir.h"

/* RFC 3501 modified base64: '+' and ',' */
static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64val(unsigned char c)
{
	const char *p = c != '\0' ? strchr(b64, c) : NULL;

	return p != NULL ? (int)(p - b64) : -1;
}

static bool put(char *out, size_t outsz, size_t *o, char c)
{
	if (*o + 1 >= outsz)
		return false;
	out[(*o)++] = c;
	return true;
}

static bool put_utf8(char *out, size_t outsz, size_t *o, uint32_t cp)
{
	if (cp < 0x80)
		return put(out, outsz, o, (char)cp);
	if (cp < 0x800)
		return put(out, outsz, o, (char)(0xc0 | cp >> 6)) &&
		       put(out, outsz, o, (char)(0x80 | (cp & 0x3f)));
	if (cp < 0x10000)
		return put(out, outsz, o, (char)(0xe0 | cp >> 12)) &&
		       put(out, outsz, o, (char)(0x80 | (cp >> 6 & 0x3f))) &&
		       put(out, outsz, o, (char)(0x80 | (cp & 0x3f)));
	return put(out, outsz, o, (char)(0xf0 | cp >> 18)) &&
	       put(out, outsz, o, (char)(0x80 | (cp >> 12 & 0x3f))) &&
	       put(out, outsz, o, (char)(0x80 | (cp >> 6 & 0x3f))) &&
	       put(out, outsz, o, (char)(0x80 | (cp & 0x3f)));
}

/* one "&...-" run at s (after the '&'); returns bytes used or -1 */
static long utf7_run(const char *s, char *out, size_t outsz, size_t *o)
{
	uint32_t bits = 0, hi = 0;
	int nbits = 0, v;
	long i = 0;

	for (; s[i] != '-'; i++) {
		if ((v = b64val((unsigned char)s[i])) < 0)
			return -1;
		bits = (bits << 6 | (uint32_t)v) & 0xffffff;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		v = (int)(bits >> nbits & 0xffff);
		if (hi != 0) {
			if (v < 0xdc00 || v > 0xdfff)
				return -1;
			v = (int)(0x10000 + ((hi - 0xd800) << 10) +
				  ((uint32_t)v - 0xdc00));
			hi = 0;
		} else if (v >= 0xd800 && v <= 0xdbff) {
			hi = (uint32_t)v;
			continue;
		} else if (v >= 0xdc00 && v <= 0xdfff) {
			return -1;
		}
		/* '/' would make a level of its own; NUL and controls are
		 * never mailbox names */
		if (v < 0x20 || v == '/' || v == 0x7f ||
		    !put_utf8(out, outsz, o, (uint32_t)v))
			return -1;
	}
	if (i == 0 || hi != 0 || nbits >= 6 ||
	    (bits & ((1u << nbits) - 1)) != 0)
		return -1;
	return i + 1;
}

int rm_md_name_decode(const char *name, char delim, char *out, size_t outsz)
{
	size_t o = 0;
	const char *s = name;
	long used;

	if (outsz == 0 || s[0] == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (delim != '\0' && c == (unsigned char)delim) {
			if (s[1] == '\0' || s[1] == delim || s == name)
				goto bad;
			if (!put(out, outsz, &o, '/'))
				goto bad;
		} else if (c == '&' && s[1] == '-') {
			if (!put(out, outsz, &o, '&'))
				goto bad;
			s++;
		} else if (c == '&') {
			used = utf7_run(s + 1, out, outsz, &o);
			if (used < 0)
				goto bad;
			s += used;
		} else if (c < 0x20 || c == 0x7f || c == '/') {
			goto bad;
		} else if (!put(out, outsz, &o, (char)c)) {
			/* raw UTF-8 too (Dovecot's UTF-8 layout option);
			 * the store checks it */
			goto bad;
		}
	}
	out[o] = '\0';
	return 0;
bad:
	out[0] = '\0';
	return -1;
}

int rm_md_folder_decode(const char *dir, char *out, size_t outsz)
{
	if (outsz == 0 || dir[0] != '.' || dir[1] == '\0') {
		if (outsz > 0)
			out[0] = '\0';
		return -1;
	}
	return rm_md_name_decode(dir + 1, '.', out, outsz);
}

/* a UTF-8 sequence at s: its code point and length, or 0 */
static size_t utf8_get(const unsigned char *s, uint32_t *cp_r)
{
	uint32_t cp;
	size_t len, i;

	if (s[0] < 0x80) {
		*cp_r = s[0];
		return s[0] != 0;
	}
	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
	cp = s[0] & (0xff >> (len + 1));
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
	    (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000))
		return 0;
	*cp_r = cp;
	return len;
}

static bool literal(uint32_t cp)
{
	return cp >= 0x20 && cp < 0x7f && cp != '&' && cp != '.';
}

static bool put_b64_unit(char *out, size_t outsz, size_t *o, uint32_t *bits,
			 int *nbits, uint32_t unit)
{
	*bits = (*bits << 16 | unit) & 0xffffffff;
	*nbits += 16;
	while (*nbits >= 6) {
		*nbits -= 6;
		if (!put(out, outsz, o, b64[*bits >> *nbits & 63]))
			return false;
	}
	return true;
}

int rm_md_folder_encode(const char *mbox, char *out, size_t outsz)
{
	const unsigned char *s = (const unsigned char *)mbox;
	size_t o = 0, len;
	uint32_t cp, bits;
	int nbits;

	if (outsz == 0 || !put(out, outsz, &o, '.') || *s == '\0')
		goto bad;
	while (*s != '\0') {
		if (*s == '/') {
			if (s[1] == '/' || s[1] == '\0' ||
			    s == (const unsigned char *)mbox ||
			    !put(out, outsz, &o, '.'))
				goto bad;
			s++;
			continue;
		}
		if ((len = utf8_get(s, &cp)) == 0 || cp < 0x20 || cp == 0x7f)
			goto bad;
		if (cp == '&') {
			if (!put(out, outsz, &o, '&') ||
			    !put(out, outsz, &o, '-'))
				goto bad;
			s++;
			continue;
		}
		if (literal(cp)) {
			if (!put(out, outsz, &o, (char)cp))
				goto bad;
			s++;
			continue;
		}
		/* a run of characters that need UTF-7 */
		if (!put(out, outsz, &o, '&'))
			goto bad;
		bits = 0;
		nbits = 0;
		while (*s != '\0' && *s != '/' &&
		       (len = utf8_get(s, &cp)) > 0 && !literal(cp) &&
		       cp != '&' && cp >= 0x20 && cp != 0x7f) {
			if (cp >= 0x10000) {
				cp -= 0x10000;
				if (!put_b64_unit(out, outsz, &o, &bits, &nbits,
						  0xd800 + (cp >> 10)) ||
				    !put_b64_unit(out, outsz, &o, &bits, &nbits,
						  0xdc00 + (cp & 0x3ff)))
					goto bad;
			} else if (!put_b64_unit(out, outsz, &o, &bits, &nbits,
						 cp)) {
				goto bad;
			}
			s += len;
		}
		if (*s != '\0' && *s != '/' && len == 0)
			goto bad;
		if (nbits > 0 &&
		    !put(out, outsz, &o, b64[bits << (6 - nbits) & 63]))
			goto bad;
		if (!put(out, outsz, &o, '-'))
			goto bad;
	}
	out[o] = '\0';
	return 0;
bad:
	if (outsz > 0)
		out[0] = '\0';
	return -1;
}

int rm_md_name_parse(const char *name, struct rm_md_name *r)
{
	const char *p, *colon;

	memset(r, 0, sizeof(*r));
	if (name[0] == '.' || name[0] == '\0' || name[0] == ':')
		return -1;
	for (p = name; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '/')
			return -1;
	colon = strchr(name, ':');
	r->baselen = colon != NULL ? (size_t)(colon - name) : strlen(name);
	for (p = name; p + 3 <= name + r->baselen; p++) {
		uint64_t v = 0;
		const char *d;

		if (strncmp(p, ",W=", 3) != 0)
			continue;
		for (d = p + 3; d < name + r->baselen && *d >= '0' &&
				*d <= '9' && v < UINT64_MAX / 10 - 10;
		     d++)
			v = v * 10 + (uint64_t)(*d - '0');
		if (d > p + 3 && (d == name + r->baselen || *d == ','))
			r->wsize = v;
	}
	if (colon == NULL || strncmp(colon, ":2,", 3) != 0)
		return 0;
	for (p = colon + 3; *p != '\0'; p++) {
		switch (*p) {
		case 'D':
			r->flags |= RMAIL_F_DRAFT;
			break;
		case 'F':
			r->flags |= RMAIL_F_FLAGGED;
			break;
		case 'R':
			r->flags |= RMAIL_F_ANSWERED;
			break;
		case 'S':
			r->flags |= RMAIL_F_SEEN;
			break;
		case 'T':
			r->flags |= RMAIL_F_DELETED;
			break;
		default:
			if (*p >= 'a' && *p <= 'z')
				r->kwletters |= 1u << (*p - 'a');
			/* 'P' (passed) and unknown letters: no IMAP flag */
			break;
		}
	}
	return 0;
}

void rm_md_info_format(uint32_t flags, uint32_t kwletters, char out[40])
{
	size_t o = 0;
	int i;

	memcpy(out, ":2,", 3);
	o = 3;
	if (flags & RMAIL_F_DRAFT)
		out[o++] = 'D';
	if (flags & RMAIL_F_FLAGGED)
		out[o++] = 'F';
	if (flags & RMAIL_F_ANSWERED)
		out[o++] = 'R';
	if (flags & RMAIL_F_SEEN)
		out[o++] = 'S';
	if (flags & RMAIL_F_DELETED)
		out[o++] = 'T';
	for (i = 0; i < RM_MD_KEYWORDS; i++)
		if (kwletters & (1u << i))
			out[o++] = (char)('a' + i);
	out[o] = '\0';
}

size_t rm_md_keywords_parse(const char *text, size_t len,
			    char *names[RM_MD_KEYWORDS])
{
	const char *p = text, *end = text + len, *nl, *q;
	size_t n = 0, idx, nlen;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		idx = 0;
		for (q = p; q < nl && *q >= '0' && *q <= '9' && idx < 1000; q++)
			idx = idx * 10 + (size_t)(*q - '0');
		nlen = q < nl ? (size_t)(nl - q - 1) : 0;
		if (nlen > 0 && q[1 + nlen - 1] == '\r')
			nlen--;
		if (q > p && q < nl && *q == ' ' && idx < RM_MD_KEYWORDS &&
		    nlen > 0 && nlen <= RM_MD_KEYWORD_MAX &&
		    names[idx] == NULL) {
			size_t i;
			bool ok = true;

			/* an IMAP atom: no controls, spaces or specials */
			for (i = 0; i < nlen; i++) {
				unsigned char c = (unsigned char)q[1 + i];

				if (c <= 0x20 || c >= 0x7f ||
				    strchr("(){%*\"\\]", c) != NULL)
					ok = false;
			}
			if (ok) {
				names[idx] = strndup(q + 1, nlen);
				n += names[idx] != NULL;
			}
		}
		p = nl + 1;
	}
	return n;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* one version 2 line to a version 1 storage name in out ("." first);
 * -1 when a level holds a byte Maildir++ cannot name ('.', controls) */
static int subs_v2_unescape(const char *p, const char *end, char *out,
			    size_t outsz)
{
	size_t o = 1;
	int hi, lo;
	char c;

	out[0] = '.';
	for (; p < end; p++) {
		c = *p;
		if (c == '\t') {
			c = '.';
		} else if (c == '\\') {
			if (end - p < 3 || (hi = hexval(p[1])) < 0 ||
			    (lo = hexval(p[2])) < 0)
				return -1;
			c = (char)(hi * 16 + lo);
			p += 2;
			if (c == '.' || (unsigned char)c < 0x20)
				return -1;
		}
		if (o + 1 >= outsz)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

size_t rm_md_subscriptions_parse(const char *text, size_t len,
				 void (*fn)(void *arg, const char *mbox),
				 void *arg)
{
	const char *p = text, *end = text + len, *nl, *le;
	char stor[4 * RMAIL_MBOX_NAME_MAX + 2], mbox[RMAIL_MBOX_NAME_MAX + 1];
	bool v2 = len >= 4 && memcmp(text, "V\t2\n", 4) == 0;
	size_t n = 0, llen;

	if (v2)
		p += 4;
	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		le = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
		llen = (size_t)(le - p);
		if (llen == 0 || memchr(p, '\0', llen) != NULL)
			continue;
		if (llen == 5 && strncasecmp(p, "INBOX", 5) == 0) {
			fn(arg, "INBOX");
			n++;
			continue;
		}
		if (v2) {
			if (subs_v2_unescape(p, le, stor, sizeof(stor)) < 0)
				continue;
		} else {
			if (llen + 2 > sizeof(stor))
				continue;
			stor[0] = '.';
			memcpy(stor + 1, p, llen);
			stor[llen + 1] = '\0';
		}
		if (rm_md_folder_decode(stor, mbox, sizeof(mbox)) < 0)
			continue;
		fn(arg, mbox);
		n++;
	}
	return n;
}

int rm_md_uidlist_parse(const char *text, size_t len,
			void (*fn)(void *arg, const char *base, size_t blen,
				   uint32_t uid),
			void *arg)
{
	const char *p = text, *end = text + len, *nl, *q, *b, *be;
	uint64_t uid;
	int version;

	if (len < 2 || text[0] < '1' || text[0] > '3' || text[1] != ' ')
		return -1;
	version = text[0] - '0';
	nl = memchr(p, '\n', len);
	if (nl == NULL)
		return 0;
	for (p = nl + 1; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		uid = 0;
		for (q = p;
		     q < nl && *q >= '0' && *q <= '9' && uid <= UINT32_MAX; q++)
			uid = uid * 10 + (uint64_t)(*q - '0');
		if (q == p || q == nl || *q != ' ' || uid == 0 ||
		    uid > UINT32_MAX)
			continue;
		if (version == 3) {
			/* "<uid> [ext fields] :<file name>" */
			for (b = q; b + 1 < nl && !(b[0] == ' ' && b[1] == ':');
			     b++)
				;
			if (b + 1 >= nl)
				continue;
			b += 2;
		} else {
			b = q + 1;
		}
		for (be = b; be < nl && *be != ':' && *be != ' ' && *be != '\r';
		     be++)
			;
		if (be > b)
			fn(arg, b, (size_t)(be - b), (uint32_t)uid);
	}
	return 0;
}

uint32_t rm_md_uidlist_uidvalidity(const char *text, size_t len)
{
	const char *p = text + 2, *end;
	uint64_t uv = 0;

	if (len < 2 || text[0] < '1' || text[0] > '3' || text[1] != ' ')
		return 0;
	end = memchr(text, '\n', len);
	if (end == NULL)
		end = text + len;
	if (text[0] == '3') {
		/* "3 V<uidvalidity> N<next> G<guid> ...": find " V" */
		for (; p < end && !(p[-1] == ' ' && p[0] == 'V'); p++)
			;
		if (p >= end)
			return 0;
		p++;
	}
	for (; p < end && *p >= '0' && *p <= '9' && uv <= UINT32_MAX; p++)
		uv = uv * 10 + (uint64_t)(*p - '0');
	return uv <= UINT32_MAX && (p == end || *p == ' ' || *p == '\r')
		       ? (uint32_t)uv
		       : 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void rm_strset_add(struct rm_strset *s, const char *str, size_t len)
{
	if (s->n == s->cap) {
		size_t cap = s->cap != 0 ? s->cap * 2 : 64;
		char **v = realloc(s->v, cap * sizeof(*v));

		if (v == NULL)
			abort();
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n] = strndup(str, len);
	if (s->v[s->n] == NULL)
		abort();
	s->n++;
	s->sorted = false;
}

bool rm_strset_has(struct rm_strset *s, const char *str, size_t len)
{
	size_t lo = 0, hi, mid;
	int c;

	if (!s->sorted) {
		if (s->n > 0)
			qsort(s->v, s->n, sizeof(*s->v), cmp_str);
		s->sorted = true;
	}
	hi = s->n;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strncmp(s->v[mid], str, len);
		if (c == 0 && s->v[mid][len] != '\0')
			c = 1;
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

void rm_strset_free(struct rm_strset *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static bool store_plain(unsigned char c, size_t pos)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	if (c == '.')
		return pos != 0;
	return c != '\0' && strchr("-_+,=@ ", c) != NULL;
}

int rm_store_name_encode(const char *name, size_t len, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)name;
	size_t i = 0, o = 0, k;
	uint32_t cp;

	if (len == 0 || outsz == 0)
		return -1;
	while (i < len) {
		k = 0;
		if (store_plain(s[i], i))
			k = 1;
		else if (s[i] >= 0x80 && (k = utf8_get(s + i, &cp)) > 0 &&
			 (cp < 0xa0 || i + k > len))
			k = 0;
		if (k == 0) {
			if (o + 3 >= outsz || o + 3 > 255)
				return -1;
			out[o++] = '%';
			out[o++] = hex[s[i] >> 4];
			out[o++] = hex[s[i] & 15];
			i++;
			continue;
		}
		if (o + k >= outsz || o + k > 255)
			return -1;
		memcpy(out + o, s + i, k);
		o += k;
		i += k;
	}
	out[o] = '\0';
	return 0;
}

char *rm_md_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	return s;
}

char *rm_md_xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (p == NULL)
		abort();
	return p;
}
