/* libFuzzer harness for rmail diagnose's response parsers: the input
 * is a whole HTTP response as read to EOF (then a few header look-ups),
 * and each of its lines as an IMAP line that may end in a literal
 * marker.  A head the parser accepts has CRLF line ends only. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose/diag_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"Transfer-Encoding",
					    "Access-Control-Allow-Origin",
					    "Content-Length", "X"};
	struct dg_http r;
	char out[128], *line;
	size_t i, start = 0;

	if (dg_http_parse((const char *)data, size, &r) == 0) {
		for (i = 0; r.head[i] != '\0'; i++)
			if (r.head[i] == '\n' &&
			    (i == 0 || r.head[i - 1] != '\r'))
				abort();
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			(void)dg_http_header(&r, names[i], out, sizeof(out));
		if (r.body[r.body_len] != '\0')
			abort();
		free(r.head);
		free(r.body);
	} else if (r.head != NULL || r.body != NULL) {
		abort();
	}
	for (i = 0; i <= size; i++) {
		if (i < size && data[i] != '\n')
			continue;
		line = strndup((const char *)data + start, i - start);
		if (line != NULL && dg_literal_size(line) < -1)
			abort();
		free(line);
		start = i + 1;
	}
	return 0;
}
