/* i;unicode-casemap: ASCII inline, Hangul by rule, the rest by table. */
#include <string.h>

#include <rmail/mime.h>

#include "text/casemap.h"

struct sink {
	char *p;
	size_t cap, len;
};

static void put(struct sink *o, const void *d, size_t n)
{
	if (o->len < o->cap)
		memcpy(o->p + o->len, d,
		       n <= o->cap - o->len ? n : o->cap - o->len);
	o->len += n;
}

static void put_utf8(struct sink *o, uint32_t cp)
{
	char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xC0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xE0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		b[0] = (char)(0xF0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	put(o, b, n);
}

/* one code point at s (n > 0 bytes left); *len_r its byte length;
 * UINT32_MAX for an invalid sequence (length 1) */
static uint32_t next_cp(const unsigned char *s, size_t n, size_t *len_r)
{
	size_t k = rmail_utf8_seq(s, n), i;
	uint32_t cp;

	*len_r = 1;
	if (k == 0)
		return UINT32_MAX;
	cp = k == 1 ? s[0] : s[0] & (0x7Fu >> k);
	for (i = 1; i < k; i++)
		cp = (cp << 6) | (s[i] & 0x3F);
	*len_r = k;
	return cp;
}

static const struct rm_casemap_ent *lookup(uint32_t cp)
{
	uint32_t lo = 0, hi = rm_casemap_n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (rm_casemap_tab[mid].cp < cp)
			lo = mid + 1;
		else if (rm_casemap_tab[mid].cp > cp)
			hi = mid;
		else
			return &rm_casemap_tab[mid];
	}
	return NULL;
}

size_t rm_casemap(const char *str, size_t n, char *out, size_t cap)
{
	const unsigned char *s = (const unsigned char *)str;
	struct sink o = {out, cap, 0};
	size_t i = 0, len;

	while (i < n) {
		uint32_t cp;
		const struct rm_casemap_ent *e;

		size_t run = i;

		/* ASCII runs: copied, then upper-cased in place */
		while (run < n && s[run] < 0x80)
			run++;
		if (run > i) {
			size_t k, base = o.len;

			put(&o, s + i, run - i);
			for (k = base; k < o.len && k < o.cap; k++)
				if (out[k] >= 'a' && out[k] <= 'z')
					out[k] = (char)(out[k] - 32);
			i = run;
			continue;
		}
		cp = next_cp(s + i, n - i, &len);
		i += len;
		if (cp == UINT32_MAX) {
			put_utf8(&o, 0xFFFD);
		} else if (cp >= 0xAC00 && cp <= 0xD7A3) {
			/* Hangul syllable: L V (T) jamo */
			uint32_t si = cp - 0xAC00;

			put_utf8(&o, 0x1100 + si / 588);
			put_utf8(&o, 0x1161 + (si % 588) / 28);
			if (si % 28 != 0)
				put_utf8(&o, 0x11A7 + si % 28);
		} else if ((e = lookup(cp)) != NULL) {
			put(&o, rm_casemap_pool + e->off, e->len);
		} else {
			put(&o, s + i - len, len);
		}
	}
	return o.len;
}
