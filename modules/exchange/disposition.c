/*
 * A Content-Disposition header for a downloaded attachment.  The
 * filename comes from a hostile message: it must neither break the
 * header (quotes, CR/LF), nor name a path (/ \ ..), nor reach the client
 * as raw bytes outside ASCII.  An ASCII fallback goes in filename=, the
 * UTF-8 name percent-encoded in filename* (RFC 6266, RFC 8187) when it
 * is not plain ASCII.  Pure, so it is easy to test and fuzz.
 */
#include <stdio.h>
#include <string.h>

#include "ex.h"

#define NAME_MAX_BYTES 200
#define PFX "Content-Disposition: attachment; filename=\""
#define EXT "; filename*=UTF-8''"

/* RFC 8187 attr-char */
static int attr_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || strchr("!#$&+-.^_`|~", c) != NULL;
}

/* characters a file name must not carry whatever the encoding */
static int unsafe(unsigned char c)
{
	return c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == '"' ||
	       c == ':';
}

static void put(char *out, size_t outsz, size_t *len, const char *s, size_t n)
{
	if (*len + n + 1 > outsz)
		return;
	memcpy(out + *len, s, n);
	*len += n;
	out[*len] = '\0';
}

size_t ex_content_disposition(const char *fn, char *out, size_t outsz)
{
	const unsigned char *s = (const unsigned char *)(fn ? fn : "");
	size_t n = strlen((const char *)s), i, k, m, len = 0;
	char ascii[NAME_MAX_BYTES + 1], ext[NAME_MAX_BYTES * 12 + 1];
	size_t alen = 0, elen = 0;
	int non_ascii = 0;

	if (outsz == 0)
		return 0;
	out[0] = '\0';
	for (i = 0; i < n && alen < NAME_MAX_BYTES; i += k) {
		k = rmail_utf8_seq(s + i, n - i);
		if (k == 0) {
			/* invalid UTF-8 stays out of both forms */
			k = 1;
			ascii[alen++] = '_';
			ext[elen++] = '_';
			continue;
		}
		if (k > 1) {
			non_ascii = 1;
			ascii[alen++] = '_';
			for (m = 0; m < k; m++)
				elen += (size_t)snprintf(ext + elen,
							 sizeof(ext) - elen,
							 "%%%02X", s[i + m]);
			continue;
		}
		if (unsafe(s[i])) {
			ascii[alen++] = '_';
			ext[elen++] = '_';
			continue;
		}
		ascii[alen++] = (char)s[i];
		if (attr_char(s[i]))
			ext[elen++] = (char)s[i];
		else
			elen += (size_t)snprintf(ext + elen, sizeof(ext) - elen,
						 "%%%02X", s[i]);
	}
	ascii[alen] = '\0';
	ext[elen] = '\0';
	/* no hidden files, no "." or ".." */
	for (i = 0; i < alen && ascii[i] == '.'; i++)
		ascii[i] = '_';
	for (i = 0; i < elen && ext[i] == '.'; i++)
		ext[i] = '_';
	if (!non_ascii && strspn(ascii, "_ ") == alen) {
		snprintf(ascii, sizeof(ascii), "attachment");
		alen = strlen(ascii);
	}
	put(out, outsz, &len, PFX, strlen(PFX));
	put(out, outsz, &len, ascii, alen);
	put(out, outsz, &len, "\"", 1);
	if (non_ascii) {
		put(out, outsz, &len, EXT, strlen(EXT));
		put(out, outsz, &len, ext, elen);
	}
	put(out, outsz, &len, "\r\n", 2);
	return len;
}
