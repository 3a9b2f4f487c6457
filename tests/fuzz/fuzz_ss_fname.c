/* The message file-name parsers (format 2, and format 1 for the
 * migration): strict, and anything they accept re-formats to exactly
 * the same name (one state, one name). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ss_fname.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ss_fname f;
	char out[SS_FNAME_MAX + 8];
	size_t n;

	if (ss_fname_parse_v1((const char *)data, size, &f) == 0) {
		if (f.uid == 0 || f.date < 0 || (f.flags & ~0x1fu) != 0 ||
		    f.modseq != 0)
			abort();
		n = ss_fname_format_v1(&f, out);
		if (n != size || memcmp(out, data, size) != 0)
			abort();
	}
	if (ss_fname_parse((const char *)data, size, &f) != 0)
		return 0;
	if (f.uid == 0 || f.date < 0 || (f.flags & ~0x1fu) != 0 ||
	    f.modseq == 0 || f.modseq > INT64_MAX)
		abort();
	n = ss_fname_format(&f, out);
	if (n != size || memcmp(out, data, size) != 0)
		abort();
	return 0;
}
