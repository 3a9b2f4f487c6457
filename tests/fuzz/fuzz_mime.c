/* libFuzzer harness for the core MIME parser.  The first byte picks
 * small limits (so the limit paths run), the rest is the message; every
 * part's headers, addresses and bodies are then decoded, as IMAP FETCH
 * ENVELOPE/BODYSTRUCTURE and SEARCH would. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime_int.h"

static const char *const hdrs[] = {
	"From", "To", "Cc", "Subject", "Content-Type", NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rmail_mime_limits lim = {.size = sizeof(lim)};
	struct rmail_mime *m;
	struct rmail_err err;
	size_t i, np;

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		lim.max_depth = 1 + (data[0] >> 1 & 3);
		lim.max_parts = 1 + (data[0] >> 3 & 7);
		lim.max_headers = 1 + (data[0] >> 6);
		lim.max_header_len = 16;
		lim.max_line_len = 32;
	}
	if (rm_mime_parse((const char *)data + 1, size - 1, &lim, &m, &err) !=
	    0)
		abort();
	np = rm_mime_part_count(m);
	for (i = 0; i < np; i++) {
		const struct rmail_mime_part *p = rm_mime_part(m, i);
		const char *b, *v;
		size_t bl, n;
		const struct rmail_mime_addr *a;

		if (p->body_off + p->body_len > size - 1 ||
		    p->hdr_off + p->hdr_len > p->body_off ||
		    (i > 0 && p->parent >= i))
			abort();
		for (const char *const *h = hdrs; *h != NULL; h++) {
			v = rm_mime_header(m, i, *h, 0, 1);
			if (v != NULL && !rmail_utf8_valid(v, strlen(v)))
				abort();
			v = rm_mime_header(m, i, *h, 0, 0);
			if (v != NULL)
				(void)rm_mime_addresses(m, v, &a, &n);
		}
		if (p->filename != NULL &&
		    !rmail_utf8_valid(p->filename, strlen(p->filename)))
			abort();
		if (rm_mime_body(m, i, 1, &b, &bl, &err) != 0)
			abort();
		if (strcmp(p->type, "text") == 0 && !rmail_utf8_valid(b, bl))
			abort();
	}
	rm_mime_free(&m);
	return 0;
}
