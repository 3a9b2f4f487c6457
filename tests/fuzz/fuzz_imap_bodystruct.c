/* libFuzzer harness for the IMAP message summary: any bytes as a
 * message go through the core MIME parser into ENVELOPE, BODYSTRUCTURE
 * and BODY; the section resolver then walks part paths taken from the
 * input, BINARY (RFC 3516) decodes the same paths and must agree with
 * it on which parts exist, and the SEARCH case mapping folds the raw
 * bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_casemap.h"
#include "imap_mime.h"
#include "mime/mime_int.h"
#include "rm.h"
#include "text/casemap.h"

static struct rmail_core core = {
	.size = sizeof(struct rmail_core),
	.mime_parse = rm_mime_parse,
	.mime_free = rm_mime_free,
	.mime_part_count = rm_mime_part_count,
	.mime_part = rm_mime_part,
	.mime_header = rm_mime_header,
	.mime_body = rm_mime_body,
	.mime_addresses = rm_mime_addresses,
	.base64_encode = rm_base64_encode,
	.casemap = rm_casemap,
};

/* a balanced list: every '(' closed, literals skipped by their count */
static void check_balanced(const char *s, size_t n)
{
	size_t i = 0;
	long depth = 0;
	int q = 0;

	while (i < n) {
		char c = s[i++];

		if (q) {
			if (c == '\\')
				i++;
			else if (c == '"')
				q = 0;
			continue;
		}
		if (c == '"') {
			q = 1;
		} else if (c == '{') {
			size_t len = strtoul(s + i, NULL, 10);
			const char *e = memchr(s + i, '}', n - i);

			if (e == NULL)
				abort();
			i = (size_t)(e - s) + 3 + len;
		} else if (c == '(') {
			depth++;
		} else if (c == ')' && --depth < 0) {
			abort();
		}
	}
	if (depth != 0 || q)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_msginfo *mi;
	struct imap_buf b = {0};
	uint32_t path[4];
	uint64_t off, len;
	unsigned k;

	imap_casemap_init(&core);

	mi = imap_msginfo_build(&core, (const char *)data, size);
	if (mi == NULL)
		return 0;
	check_balanced(mi->envelope, mi->envelope_len);
	check_balanced(mi->bodystructure, mi->bodystructure_len);
	check_balanced(mi->body, mi->body_len);
	/* PREVIEW: at most 256 characters, no control characters, no
	 * white space at either end */
	if (mi->preview_len > 256 * 4 ||
	    strlen(mi->preview) != mi->preview_len ||
	    (mi->preview_len > 0 && (mi->preview[0] == ' ' ||
				     mi->preview[mi->preview_len - 1] == ' ')))
		abort();
	for (k = 0; k < mi->preview_len; k++)
		if ((unsigned char)mi->preview[k] < 0x20 ||
		    mi->preview[k] == 0x7f)
			abort();
	for (k = 0; k < 4; k++)
		path[k] = size > k ? (uint32_t)(data[size - 1 - k] % 5) : 1;
	for (k = 0; k <= 4; k++) {
		struct imap_bin_result r;
		int w, have;

		for (w = IMAP_SECT_BODY; w <= IMAP_SECT_MSG_TEXT; w++)
			if (imap_section_range(mi, path, k, w, &off, &len) ==
				    0 &&
			    (off > size || len > size - off))
				abort();
		have = imap_section_range(mi, path, k, IMAP_SECT_BODY, &off,
					  &len) == 0;
		imap_binary_decode(&core, (const char *)data, size, path, k,
				   &r);
		/* the same parts exist for BODY[...] and BINARY[...];
		 * decoding never grows the data */
		if (k > 0 && have != (r.status != IMAP_BINST_NOPART))
			abort();
		if (r.status == IMAP_BINST_OK &&
		    (r.len > (k > 0 ? len : size) || r.data == NULL))
			abort();
		free(r.data);
	}
	imap_casemap((const char *)data, size, &b);
	imap_buf_free(&b);
	imap_msginfo_free(mi);
	return 0;
}
