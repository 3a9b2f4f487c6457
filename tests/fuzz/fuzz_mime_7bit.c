/* libFuzzer harness for the 7-bit conversion (core/mime/to7bit.c): any
 * input, hostile structure included, converts without a crash to a
 * message with nothing 8-bit outside its header blocks, that a second
 * conversion leaves alone; the 8-bit classes agree with the bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime/to7bit.h"

static void bodies_7bit(const char *msg, size_t len)
{
	struct rmail_mime *m;
	struct rmail_err err;
	char *copy = malloc(len + 1);

	if (copy == NULL)
		abort();
	memcpy(copy, msg, len);
	if (rm_mime_parse(msg, len, NULL, &m, &err) != 0)
		abort();
	for (size_t i = 0; i < rm_mime_part_count(m); i++) {
		const struct rmail_mime_part *p = rm_mime_part(m, i);

		if (p->hdr_off + p->hdr_len > len)
			abort();
		memset(copy + p->hdr_off, 'h', p->hdr_len);
	}
	if (rm_mime_has_8bit(copy, len))
		abort();
	rm_mime_free(&m);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *msg = (const char *)data;
	char *out = NULL, *again = NULL;
	size_t n = 0, n2 = 0;
	unsigned cls = rm_mime_8bit_class(msg, size);

	if (((cls & RM_8BIT_ANY) != 0) != rm_mime_has_8bit(msg, size))
		abort();
	if (rm_mime_to7bit(msg, size, &out, &n) == 0) {
		if (out != NULL)
			abort();
		return 0;
	}
	if (out == NULL || out[n] != '\0')
		abort();
	bodies_7bit(out, n);
	if (rm_mime_to7bit(out, n, &again, &n2) != 0)
		abort();
	free(out);
	return 0;
}
