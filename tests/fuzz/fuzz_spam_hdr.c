/* libFuzzer harness for the spam marking field's reader (spam.h): the
 * input is a received header block.  Ranges must be whole, ascending,
 * inside the input, each starting a line with the field's name; the
 * value test must agree with a field being found at all. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "submit/hdr_find.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *m = (const char *)data;
	struct authres_range *r;
	size_t n, end = 0;
	bool has;

	n = rm_hdr_find(m, size, "X-Spam", &r);
	for (size_t i = 0; i < n; i++) {
		if (r[i].off < end || r[i].len < 7 ||
		    r[i].off + r[i].len > size ||
		    (r[i].off > 0 && m[r[i].off - 1] != '\n') ||
		    strncasecmp(m + r[i].off, "X-Spam", 6))
			abort();
		end = r[i].off + r[i].len;
	}
	free(r);
	has = rm_hdr_has_value(m, size, "X-Spam", "Yes");
	if (has && n == 0)
		abort();
	return 0;
}
