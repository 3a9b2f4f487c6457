/*
 * PREVIEW (RFC 8970): up to 256 characters of what a reader sees first,
 * built with the message summary (so cached with it).  The text is the
 * first text/plain part of the message itself (or, without one, the
 * first text/html with its markup dropped) that is not an attachment
 * and not inside an attached message, transfer- and charset-decoded to
 * UTF-8 by the core, with every run of white space (line breaks
 * included) made one space.  No text: the empty string.
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "imap_mime.h"

#define PREVIEW_CHARS 256
/* how much of a part is looked at: enough for 256 characters after
 * markup and white space go */
#define PREVIEW_SCAN (64 * 1024)

/* a leaf the reader sees inline, in the message itself */
static bool inline_text(const struct rmail_core *core, struct rmail_mime *m,
			size_t idx, const char *subtype)
{
	const struct rmail_mime_part *p = core->mime_part(m, idx);
	uint32_t up;

	if (p->flags & (RMAIL_MIME_MULTIPART | RMAIL_MIME_MESSAGE) ||
	    strcmp(p->type, "text") != 0 || strcmp(p->subtype, subtype) != 0 ||
	    (p->disposition != NULL &&
	     strcasecmp(p->disposition, "attachment") == 0))
		return false;
	for (up = p->parent; up != RMAIL_MIME_NONE;
	     up = core->mime_part(m, up)->parent)
		if (core->mime_part(m, up)->flags & RMAIL_MIME_MESSAGE)
			return false;
	return true;
}

/* a UTF-8 lead byte (not a continuation byte) */
static bool lead(unsigned char c)
{
	return (c & 0xc0) != 0x80;
}

void imap_preview_build(const struct rmail_core *core, struct rmail_mime *m,
			struct imap_buf *out)
{
	static const char *const kinds[] = {"plain", "html"};
	size_t n = core->mime_part_count(m), idx = n, i, k, chars = 0;
	struct rmail_err err;
	const char *d;
	size_t len;
	bool html, in_tag = false, space = false;

	for (k = 0; k < 2 && idx == n; k++)
		for (i = 0; i < n && idx == n; i++)
			if (inline_text(core, m, i, kinds[k]))
				idx = i;
	if (idx == n || core->mime_body(m, idx, 1, &d, &len, &err) < 0 ||
	    d == NULL)
		return;
	html = strcmp(core->mime_part(m, idx)->subtype, "html") == 0;
	if (len > PREVIEW_SCAN)
		len = PREVIEW_SCAN;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)d[i];

		if (html && c == '<') {
			in_tag = true;
			continue;
		}
		if (in_tag) {
			if (c == '>') {
				in_tag = false;
				space = out->len > 0;
			}
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
		    c == '\f' || c == '\v' || c < 0x20 || c == 0x7f) {
			space = out->len > 0;
			continue;
		}
		if (lead(c)) {
			if (chars + (space ? 1 : 0) >= PREVIEW_CHARS)
				break;
			if (space) {
				imap_buf_add(out, " ", 1);
				chars++;
				space = false;
			}
			chars++;
		}
		imap_buf_add(out, (const char *)&d[i], 1);
	}
	/* never end inside a UTF-8 sequence (the scan cap may cut one) */
	for (i = out->len; i > 0 && !lead((unsigned char)out->p[i - 1]); i--)
		;
	if (i > 0) {
		unsigned char c = (unsigned char)out->p[i - 1];
		size_t want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;

		if (out->len - (i - 1) < want)
			out->len = i - 1;
	}
}
