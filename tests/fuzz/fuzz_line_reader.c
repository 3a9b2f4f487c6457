/* libFuzzer harness for the line scanner: the first byte picks the
 * line limit and the second a chunk size, so trickled input is covered. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "net/linebuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rm_linebuf lb;
	struct rmail_line l;
	size_t start = 0, avail, used, chunk;
	int rc;

	if (size < 2)
		return 0;
	rm_linebuf_init(&lb, (size_t)data[0] + 1);
	chunk = (size_t)data[1] % 16 + 1;
	data += 2;
	size -= 2;
	for (avail = 0; avail < size;) {
		avail = avail + chunk < size ? avail + chunk : size;
		do {
			rc = rm_linebuf_next(&lb, (const char *)data + start,
					     avail - start, &l, &used);
			if (used > avail - start)
				abort();
			/* the line lies inside what was consumed */
			if (rc == RMAIL_OK &&
			    (l.data < (const char *)data + start ||
			     l.data + l.len >=
				     (const char *)data + start + used))
				abort();
			start += used;
		} while (rc != RMAIL_AGAIN || (used > 0 && start < avail));
	}
	return 0;
}
