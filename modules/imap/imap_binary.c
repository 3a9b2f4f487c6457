/*
 * BINARY (RFC 3516): a section's content without its transfer
 * encoding, decoded by the core's MIME parser (mime_body).  Part
 * numbers resolve as for BODY[...] (imap_section_range), here over the
 * core's own part table, parsed with the same limits.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_mime.h"

static uint32_t nth_child(const struct rmail_core *core,
			  const struct rmail_mime *m, uint32_t idx, uint32_t n)
{
	size_t count = core->mime_part_count(m);
	uint32_t ch = core->mime_part(m, idx)->first_child;

	while (ch != RMAIL_MIME_NONE && ch < count && --n > 0)
		ch = core->mime_part(m, ch)->next_sibling;
	return ch < count ? ch : RMAIL_MIME_NONE;
}

/* the part a section names, or RMAIL_MIME_NONE */
static uint32_t part_index(const struct rmail_core *core,
			   const struct rmail_mime *m, const uint32_t *part,
			   unsigned int nparts)
{
	size_t count = core->mime_part_count(m);
	uint32_t msg = 0, cur = 0;
	unsigned int i;

	if (count == 0)
		return RMAIL_MIME_NONE;
	for (i = 0; i < nparts; i++) {
		const struct rmail_mime_part *p;

		if (msg == RMAIL_MIME_NONE || part[i] == 0)
			return RMAIL_MIME_NONE;
		if (core->mime_part(m, msg)->flags & RMAIL_MIME_MULTIPART) {
			cur = nth_child(core, m, msg, part[i]);
			if (cur == RMAIL_MIME_NONE)
				return RMAIL_MIME_NONE;
		} else if (part[i] == 1) {
			cur = msg;
		} else {
			return RMAIL_MIME_NONE;
		}
		p = core->mime_part(m, cur);
		if (p->flags & RMAIL_MIME_MESSAGE)
			msg = p->first_child < count ? p->first_child
						     : RMAIL_MIME_NONE;
		else if ((p->flags & RMAIL_MIME_MULTIPART) && cur != msg)
			msg = cur;
		else
			msg = RMAIL_MIME_NONE;
	}
	return cur;
}

static void set_copy(struct imap_bin_result *r, const char *d, size_t n)
{
	r->data = malloc(n + 1);
	if (r->data == NULL)
		abort();
	memcpy(r->data, d, n);
	r->data[n] = '\0';
	r->len = n;
	r->status = IMAP_BINST_OK;
}

/* identity encodings (RFC 2045 6.1), case already folded by the core */
static bool identity(const char *enc)
{
	return enc == NULL || enc[0] == '\0' || strcasecmp(enc, "7bit") == 0 ||
	       strcasecmp(enc, "8bit") == 0 || strcasecmp(enc, "binary") == 0;
}

void imap_binary_decode(const struct rmail_core *core, const char *data,
			size_t len, const uint32_t *part, unsigned int nparts,
			struct imap_bin_result *r)
{
	const struct rmail_mime_part *p;
	struct rmail_mime *m = NULL;
	struct rmail_err err;
	const char *out;
	size_t olen;
	uint32_t idx;

	memset(r, 0, sizeof(*r));
	r->status = IMAP_BINST_NOPART;
	if (nparts == 0) {
		/* BINARY[]: the message as it is, like BODY[] */
		set_copy(r, data, len);
		return;
	}
	if (core->mime_parse(data, len, &imap_mime_limits, &m, &err) < 0)
		return;
	idx = part_index(core, m, part, nparts);
	if (idx == RMAIL_MIME_NONE) {
		core->mime_free(&m);
		return;
	}
	p = core->mime_part(m, idx);
	if ((p->flags & (RMAIL_MIME_MULTIPART | RMAIL_MIME_MESSAGE)) ||
	    identity(p->encoding)) {
		/* a composite's encoding must be an identity (RFC 2045
		 * 6.4); the bytes are served as they are */
		set_copy(r, data + p->body_off, (size_t)p->body_len);
	} else if (strcasecmp(p->encoding, "base64") == 0 ||
		   strcasecmp(p->encoding, "quoted-printable") == 0) {
		if (core->mime_body(m, idx, 0, &out, &olen, &err) == 0)
			set_copy(r, out != NULL ? out : "", olen);
	} else {
		r->status = IMAP_BINST_UNKNOWN_CTE;
	}
	core->mime_free(&m);
}
