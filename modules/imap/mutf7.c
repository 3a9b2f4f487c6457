/* Modified UTF-7: printable ASCII stands for itself ("&" is "&-"),
 * anything else is UTF-16BE in base64 with ',' for '/' between '&' and
 * '-'. */
#include <stdint.h>

#include "mutf7.h"

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

struct out {
	char *p;
	size_t size, len;
};

static int put(struct out *o, char c)
{
	if (o->len + 1 >= o->size)
		return -1;
	o->p[o->len++] = c;
	return 0;
}

static int fail(const char **error_r, const char *why)
{
	*error_r = why;
	return -1;
}

/* Strict UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
static int utf8_next(const unsigned char *s, size_t len, size_t *i,
		     uint32_t *cp_r)
{
	unsigned char c = s[*i];
	uint32_t cp, min;
	size_t n, k;

	if (c < 0x80) {
		n = 0;
		cp = c;
		min = 0;
	} else if ((c & 0xe0) == 0xc0) {
		n = 1;
		cp = c & 0x1f;
		min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 2;
		cp = c & 0x0f;
		min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 3;
		cp = c & 0x07;
		min = 0x10000;
	} else {
		return -1;
	}
	if (n > len - *i - 1)
		return -1;
	for (k = 1; k <= n; k++) {
		if ((s[*i + k] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[*i + k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*i += n + 1;
	*cp_r = cp;
	return 0;
}

static int put_utf8(struct out *o, uint32_t cp)
{
	char b[4];
	int n, k;

	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	for (k = 0; k < n; k++) {
		if (put(o, b[k]) < 0)
			return -1;
	}
	return 0;
}

static int is_direct(uint32_t cp)
{
	return cp >= 0x20 && cp <= 0x7e;
}

int mutf7_encode(const char *utf8, size_t len, char *out, size_t out_size,
		 size_t *out_len_r, const char **error_r)
{
	const unsigned char *s = (const unsigned char *)utf8;
	struct out o = {out, out_size, 0};
	uint32_t cp, bits = 0;
	int nbits = 0, shifted = 0;
	size_t i = 0;

	if (out_size == 0)
		return fail(error_r, "Output too long");
	while (i < len) {
		if (utf8_next(s, len, &i, &cp) < 0)
			return fail(error_r, "Invalid UTF-8");
		if (cp == 0)
			return fail(error_r, "NUL in mailbox name");
		if (is_direct(cp)) {
			if (shifted) {
				if (nbits > 0 &&
				    put(&o, b64[(bits << (6 - nbits)) & 0x3f]) <
					    0)
					goto full;
				if (put(&o, '-') < 0)
					goto full;
				shifted = 0;
				nbits = 0;
				bits = 0;
			}
			if (put(&o, (char)cp) < 0 ||
			    (cp == '&' && put(&o, '-') < 0))
				goto full;
			continue;
		}
		if (!shifted) {
			if (put(&o, '&') < 0)
				goto full;
			shifted = 1;
		}
		{
			uint16_t u[2];
			int nu = 1, k;

			if (cp >= 0x10000) {
				cp -= 0x10000;
				u[0] = (uint16_t)(0xd800 | (cp >> 10));
				u[1] = (uint16_t)(0xdc00 | (cp & 0x3ff));
				nu = 2;
			} else {
				u[0] = (uint16_t)cp;
			}
			for (k = 0; k < nu; k++) {
				bits = (bits << 16) | u[k];
				nbits += 16;
				while (nbits >= 6) {
					nbits -= 6;
					if (put(&o,
						b64[(bits >> nbits) & 0x3f]) <
					    0)
						goto full;
				}
				bits &= (1u << nbits) - 1;
			}
		}
	}
	if (shifted) {
		if (nbits > 0 && put(&o, b64[(bits << (6 - nbits)) & 0x3f]) < 0)
			goto full;
		if (put(&o, '-') < 0)
			goto full;
	}
	out[o.len] = '\0';
	*out_len_r = o.len;
	return 0;
full:
	return fail(error_r, "Output too long");
}

static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

/* One shifted run, s[*i] just after '&' and not '-'. */
static int decode_run(const unsigned char *s, size_t len, size_t *i,
		      struct out *o, const char **error_r)
{
	uint32_t bits = 0, hi = 0, cp;
	int nbits = 0, v;
	unsigned int units = 0;

	for (;;) {
		if (*i >= len)
			return fail(error_r, "Unterminated base64 section");
		if (s[*i] == '-')
			break;
		v = b64_val(s[*i]);
		if (v < 0)
			return fail(error_r, "Invalid base64 character");
		(*i)++;
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		cp = (bits >> nbits) & 0xffff;
		bits &= (1u << nbits) - 1;
		units++;
		if (hi != 0) {
			if (cp < 0xdc00 || cp > 0xdfff)
				return fail(error_r, "Unpaired surrogate");
			cp = 0x10000 + ((hi - 0xd800) << 10) + (cp - 0xdc00);
			hi = 0;
		} else if (cp >= 0xd800 && cp <= 0xdbff) {
			hi = cp;
			continue;
		} else if (cp >= 0xdc00 && cp <= 0xdfff) {
			return fail(error_r, "Unpaired surrogate");
		} else if (is_direct(cp) || cp == 0) {
			return fail(error_r, "Non-canonical encoding: "
					     "printable ASCII in base64");
		}
		if (put_utf8(o, cp) < 0)
			return fail(error_r, "Output too long");
	}
	(*i)++;
	if (hi != 0)
		return fail(error_r, "Unpaired surrogate");
	if (units == 0 || nbits >= 6 || bits != 0)
		return fail(error_r, "Non-canonical base64 padding");
	return 0;
}

int mutf7_decode(const char *mutf7, size_t len, char *out, size_t out_size,
		 size_t *out_len_r, const char **error_r)
{
	const unsigned char *s = (const unsigned char *)mutf7;
	struct out o = {out, out_size, 0};
	size_t i = 0;
	int after_run = 0;

	if (out_size == 0)
		return fail(error_r, "Output too long");
	while (i < len) {
		unsigned char c = s[i++];

		if (c != '&') {
			if (!is_direct(c))
				return fail(error_r,
					    c >= 0x80 ? "8-bit character in "
							"mailbox name"
						      : "Control character in "
							"mailbox name");
			if (put(&o, (char)c) < 0)
				return fail(error_r, "Output too long");
			after_run = 0;
			continue;
		}
		if (i < len && s[i] == '-') {
			i++;
			if (put(&o, '&') < 0)
				return fail(error_r, "Output too long");
			after_run = 0;
			continue;
		}
		/* two runs back to back would be written as one */
		if (after_run)
			return fail(error_r, "Non-canonical encoding: "
					     "adjacent base64 sections");
		if (decode_run(s, len, &i, &o, error_r) < 0)
			return -1;
		after_run = 1;
	}
	out[o.len] = '\0';
	*out_len_r = o.len;
	return 0;
}

int mutf7_utf8_name(const char *utf8, size_t len, const char **error_r)
{
	const unsigned char *s = (const unsigned char *)utf8;
	uint32_t cp;
	size_t i = 0;

	while (i < len) {
		if (utf8_next(s, len, &i, &cp) < 0)
			return fail(error_r, "Invalid UTF-8");
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 ||
		    cp == 0x2029)
			return fail(error_r, "Control character in name");
	}
	return 0;
}
