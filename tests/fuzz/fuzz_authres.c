/* libFuzzer harness for the Authentication-Results reader: the input is
 * a received header block; the authserv-id parser runs on it as a
 * field value too.  Ranges must be whole, ascending, inside the input,
 * and each must start a line with the field's name. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mailauth/authres.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *m = (const char *)data;
	struct authres_range *r;
	char id[64];
	size_t n, end = 0;

	if (authres_parse_id(m, size, id, sizeof(id)) == 0 &&
	    (id[0] == '\0' || strlen(id) >= sizeof(id)))
		abort();
	n = authres_find_ours(m, size, "mx.example", &r);
	for (size_t i = 0; i < n; i++) {
		if (r[i].off < end || r[i].len == 0 ||
		    r[i].off + r[i].len > size ||
		    (r[i].off > 0 && m[r[i].off - 1] != '\n') ||
		    strncasecmp(m + r[i].off, "Authentication-Results", 22))
			abort();
		end = r[i].off + r[i].len;
	}
	free(r);
	return 0;
}
