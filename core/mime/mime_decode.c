/*
 * Transfer decodings and charset conversion for the MIME parser.
 * Everything here accepts hostile input and never fails: real
 * mailboxes hold broken base64, stray "=" in quoted-printable and
 * charset labels that lie, and a reader still wants the text.
 */
#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>

#include "mime_int.h"

void rm_mbuf_add(struct rm_mbuf *b, const void *data, size_t n)
{
	if (n == 0)
		return;
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 64;

		while (cap - b->len < n)
			cap *= 2;
		b->p = rm_xrealloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

void rm_mbuf_addc(struct rm_mbuf *b, char c)
{
	rm_mbuf_add(b, &c, 1);
}

char *rm_mbuf_finish(struct rm_mbuf *b, struct rmail_pool *pool, size_t *len_r)
{
	char *s = rm_pstrndup(pool, b->p != NULL ? b->p : "", b->len);

	if (len_r != NULL)
		*len_r = b->len;
	rm_mbuf_free(b);
	return s;
}

void rm_mbuf_free(struct rm_mbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* A quantum cut short after n sextets (2 or 3) still yields bytes. */
static void b64_partial(struct rm_mbuf *out, uint32_t acc, unsigned int n)
{
	char tmp[2];

	if (n == 2) {
		tmp[0] = (char)(acc >> 4);
		rm_mbuf_add(out, tmp, 1);
	} else if (n == 3) {
		tmp[0] = (char)(acc >> 10);
		tmp[1] = (char)(acc >> 2);
		rm_mbuf_add(out, tmp, 2);
	}
}

/* Bytes outside the alphabet are skipped; "=" ends a quantum, and
 * decoding resumes after it, because concatenated base64 blobs and
 * stray padding are common in old mail.  The alphabet is base64.c's. */
void rm_mime_base64(struct rm_mbuf *out, const char *in, size_t len)
{
	uint32_t acc = 0;
	unsigned int n = 0;
	char tmp[3];
	size_t i;
	int v;

	for (i = 0; i < len; i++) {
		if (in[i] == '=') {
			b64_partial(out, acc, n);
			acc = 0;
			n = 0;
			continue;
		}
		v = rm_base64_val((unsigned char)in[i]);
		if (v < 0)
			continue;
		acc = (acc << 6) | (uint32_t)v;
		if (++n == 4) {
			tmp[0] = (char)(acc >> 16);
			tmp[1] = (char)(acc >> 8);
			tmp[2] = (char)acc;
			rm_mbuf_add(out, tmp, 3);
			acc = 0;
			n = 0;
		}
	}
	/* unpadded tail */
	b64_partial(out, acc, n);
}

static int hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

void rm_mime_qp(struct rm_mbuf *out, const char *in, size_t len,
		bool q_encoding)
{
	size_t i = 0, j, start;

	while (i < len) {
		char c = in[i];

		if (c == '_' && q_encoding) {
			rm_mbuf_addc(out, ' ');
			i++;
		} else if (c == '=') {
			int h, l;

			if (i + 2 < len &&
			    (h = hex_val((unsigned char)in[i + 1])) >= 0 &&
			    (l = hex_val((unsigned char)in[i + 2])) >= 0) {
				rm_mbuf_addc(out, (char)(h << 4 | l));
				i += 3;
				continue;
			}
			/* soft line break, trailing blanks allowed */
			for (j = i + 1;
			     j < len && (in[j] == ' ' || in[j] == '\t'); j++)
				;
			if (!q_encoding && j < len && in[j] == '\r' &&
			    j + 1 < len && in[j + 1] == '\n') {
				i = j + 2;
			} else if (!q_encoding && j < len && in[j] == '\n') {
				i = j + 1;
			} else if (!q_encoding && j == len) {
				i = len;
			} else {
				/* not an escape: keep it as written */
				rm_mbuf_addc(out, '=');
				i++;
			}
		} else if (!q_encoding && (c == ' ' || c == '\t')) {
			/* trailing whitespace on a line is padding (RFC
			 * 2045 6.7 rule 3) */
			start = i;
			while (i < len && (in[i] == ' ' || in[i] == '\t'))
				i++;
			if (i < len && in[i] != '\r' && in[i] != '\n')
				rm_mbuf_add(out, in + start, i - start);
			else if (i + 1 < len && in[i] == '\r' &&
				 in[i + 1] != '\n')
				rm_mbuf_add(out, in + start, i - start);
		} else {
			rm_mbuf_addc(out, c);
			i++;
		}
	}
}

static void add_cp(struct rm_mbuf *out, uint32_t cp)
{
	char b[4];

	if (cp < 0x80) {
		b[0] = (char)cp;
		rm_mbuf_add(out, b, 1);
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3f));
		rm_mbuf_add(out, b, 2);
	} else {
		b[0] = (char)(0xe0 | cp >> 12);
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		rm_mbuf_add(out, b, 3);
	}
}

/* windows-1252 0x80..0x9f; the five holes map to C1 as WHATWG does */
static const uint16_t cp1252_c1[32] = {
	0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008d, 0x017d, 0x008f,
	0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
};

static void from_cp1252(struct rm_mbuf *out, const char *in, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c >= 0x80 && c < 0xa0)
			add_cp(out, cp1252_c1[c - 0x80]);
		else
			add_cp(out, c);
	}
}

/* Invalid sequences become U+FFFD, one per bad byte. */
static void utf8_repair(struct rm_mbuf *out, const char *in, size_t len)
{
	size_t i = 0, n;

	while (i < len) {
		n = rmail_utf8_seq((const unsigned char *)in + i, len - i);
		if (n > 0) {
			rm_mbuf_add(out, in + i, n);
			i += n;
		} else {
			add_cp(out, 0xfffd);
			i++;
		}
	}
}

static bool label_is(const char *l, const char *const *names)
{
	for (; *names != NULL; names++)
		if (strcmp(l, *names) == 0)
			return true;
	return false;
}

static const char *const labels_unknown[] = {
	"",
	"us-ascii",
	"ascii",
	"us",
	"ansi_x3.4-1968",
	"iso646-us",
	"unknown",
	"unknown-8bit",
	"x-unknown",
	"default",
	"8bit",
	"x-user-defined",
	"none",
	NULL,
};
static const char *const labels_utf8[] = {
	"utf-8", "utf8", "unicode-1-1-utf-8", "x-unicode20utf8", NULL,
};
static const char *const labels_1252[] = {
	"iso-8859-1",	"iso8859-1", "iso_8859-1", "latin1",	  "l1",
	"windows-1252", "cp1252",    "x-cp1252",   "iso-8859-15", NULL,
};

/* Labels iconv spells differently or that name a subset of what
 * senders actually use. */
static const char *label_alias(const char *l)
{
	static const char *const map[][2] = {
		{"gb2312", "GB18030"},
		{"gbk", "GB18030"},
		{"x-gbk", "GB18030"},
		{"ks_c_5601-1987", "CP949"},
		{"euc-kr", "CP949"},
		{"x-sjis", "CP932"},
		{"shift_jis", "CP932"},
		{"shift-jis", "CP932"},
		{"iso-8859-8-i", "ISO-8859-8"},
		{"tis-620", "CP874"},
		{"big5", "BIG5-HKSCS"},
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(l, map[i][0]) == 0)
			return map[i][1];
	return l;
}

static bool iconv_conv_raw(struct rm_mbuf *out, const char *label,
			   const char *in, size_t len);

/* glibc's "UTF-8" decoder (reached through odd labels such as
 * "utf-8$") passes code points beyond U+10FFFF: check what iconv
 * produced. */
static bool iconv_conv(struct rm_mbuf *out, const char *label, const char *in,
		       size_t len)
{
	struct rm_mbuf tmp = {0};

	if (!iconv_conv_raw(&tmp, label, in, len))
		return false;
	if (rmail_utf8_valid(tmp.p, tmp.len))
		rm_mbuf_add(out, tmp.p, tmp.len);
	else
		utf8_repair(out, tmp.p, tmp.len);
	rm_mbuf_free(&tmp);
	return true;
}

static bool iconv_conv_raw(struct rm_mbuf *out, const char *label,
			   const char *in, size_t len)
{
	iconv_t cd = iconv_open("UTF-8", label);
	char obuf[4096];
	char *ip = (char *)in, *op;
	size_t il = len, ol;

	if (cd == (iconv_t)-1)
		return false;
	while (il > 0) {
		size_t r;

		op = obuf;
		ol = sizeof(obuf);
		r = iconv(cd, &ip, &il, &op, &ol);
		rm_mbuf_add(out, obuf, (size_t)(op - obuf));
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG)
			continue;
		/* EILSEQ or a truncated sequence (EINVAL): mark, skip */
		add_cp(out, 0xfffd);
		ip++;
		il--;
		if (errno == EINVAL)
			break;
	}
	op = obuf;
	ol = sizeof(obuf);
	if (iconv(cd, NULL, NULL, &op, &ol) != (size_t)-1)
		rm_mbuf_add(out, obuf, (size_t)(op - obuf));
	iconv_close(cd);
	return true;
}

/*
 * Conversion rules, in order:
 *  - no label, us-ascii or a placeholder: the bytes as UTF-8 when
 *    valid, else windows-1252 (8-bit mail with no or a wrong label);
 *  - utf-8: invalid sequences become U+FFFD;
 *  - iso-8859-1 and friends: windows-1252, as every mail reader does;
 *  - anything iconv knows: iconv, bad sequences become U+FFFD;
 *  - a label iconv does not know: as for no label.
 */
void rm_mime_to_utf8(struct rm_mbuf *out, const char *charset, const char *in,
		     size_t len)
{
	char label[64];
	size_t i, n = 0;
	const char *l;

	if (charset != NULL) {
		for (i = 0; charset[i] != '\0'; i++) {
			unsigned char c = (unsigned char)charset[i];

			if (c == ' ' || c == '\t' || c == '"')
				continue;
			/* no "//TRANSLIT" games and no odd bytes */
			if (n + 1 >= sizeof(label) || c == '/' || c < 0x21 ||
			    c > 0x7e) {
				n = 0;
				charset = NULL;
				break;
			}
			label[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
	}
	label[n] = '\0';
	l = label;
	if (charset == NULL || label_is(l, labels_unknown)) {
		if (rmail_utf8_valid(in, len))
			rm_mbuf_add(out, in, len);
		else
			from_cp1252(out, in, len);
		return;
	}
	if (label_is(l, labels_utf8)) {
		if (rmail_utf8_valid(in, len))
			rm_mbuf_add(out, in, len);
		else
			utf8_repair(out, in, len);
		return;
	}
	if (label_is(l, labels_1252)) {
		/* iso-8859-15 differs in 8 places; close enough only when
		 * iconv cannot do it */
		if (strcmp(l, "iso-8859-15") != 0 ||
		    !iconv_conv(out, "ISO-8859-15", in, len))
			from_cp1252(out, in, len);
		return;
	}
	if (!iconv_conv(out, label_alias(l), in, len)) {
		if (rmail_utf8_valid(in, len))
			rm_mbuf_add(out, in, len);
		else
			from_cp1252(out, in, len);
	}
}
