/*
 * i;unicode-casemap for the index.  It must fold exactly as mod_imap's
 * SEARCH does, so it reads the same generated table
 * (modules/imap/imap_casemap_table.c, compiled into rmcore by
 * core/CMakeLists.txt) until the table moves into a core service.
 */
#include <stdlib.h>
#include <string.h>

#include "idx.h"

/* the layout of modules/imap/imap_casemap.h */
struct imap_casemap_ent {
	uint32_t cp;
	uint32_t off;
	uint32_t len;
};

extern const uint32_t imap_casemap_n;
extern const struct imap_casemap_ent imap_casemap_tab[];
extern const unsigned char imap_casemap_pool[];

void idx_buf_add(struct idx_buf *b, const void *d, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (b->p == NULL)
			abort();
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void idx_buf_puts(struct idx_buf *b, const char *s)
{
	idx_buf_add(b, s, strlen(s));
}

void idx_buf_free(struct idx_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static void put_utf8(struct idx_buf *out, uint32_t cp)
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
	idx_buf_add(out, b, n);
}

static uint32_t next_cp(const unsigned char *s, size_t n, size_t *len_r)
{
	uint32_t cp, min;
	size_t need, i;

	*len_r = 1;
	if (s[0] < 0x80)
		return s[0];
	if ((s[0] & 0xE0) == 0xC0) {
		cp = s[0] & 0x1F;
		need = 1;
		min = 0x80;
	} else if ((s[0] & 0xF0) == 0xE0) {
		cp = s[0] & 0x0F;
		need = 2;
		min = 0x800;
	} else if ((s[0] & 0xF8) == 0xF0) {
		cp = s[0] & 0x07;
		need = 3;
		min = 0x10000;
	} else {
		return UINT32_MAX;
	}
	if (n <= need)
		return UINT32_MAX;
	for (i = 1; i <= need; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return UINT32_MAX;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return UINT32_MAX;
	*len_r = need + 1;
	return cp;
}

static const struct imap_casemap_ent *lookup(uint32_t cp)
{
	uint32_t lo = 0, hi = imap_casemap_n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (imap_casemap_tab[mid].cp < cp)
			lo = mid + 1;
		else if (imap_casemap_tab[mid].cp > cp)
			hi = mid;
		else
			return &imap_casemap_tab[mid];
	}
	return NULL;
}

void idx_fold(const char *str, size_t n, struct idx_buf *out)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, len;

	while (i < n) {
		uint32_t cp;
		const struct imap_casemap_ent *e;
		size_t run = i;

		while (run < n && s[run] < 0x80)
			run++;
		if (run > i) {
			size_t k, base = out->len;

			idx_buf_add(out, s + i, run - i);
			for (k = base; k < out->len; k++)
				if (out->p[k] >= 'a' && out->p[k] <= 'z')
					out->p[k] = (char)(out->p[k] - 32);
			i = run;
			continue;
		}
		cp = next_cp(s + i, n - i, &len);
		i += len;
		if (cp == UINT32_MAX) {
			put_utf8(out, 0xFFFD);
		} else if (cp >= 0xAC00 && cp <= 0xD7A3) {
			uint32_t si = cp - 0xAC00;

			put_utf8(out, 0x1100 + si / 588);
			put_utf8(out, 0x1161 + (si % 588) / 28);
			if (si % 28 != 0)
				put_utf8(out, 0x11A7 + si % 28);
		} else if ((e = lookup(cp)) != NULL) {
			idx_buf_add(out, imap_casemap_pool + e->off, e->len);
		} else {
			idx_buf_add(out, s + i - len, len);
		}
	}
}
