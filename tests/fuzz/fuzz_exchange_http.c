/* HTTP request parser: the input split at a data-chosen offset, then
 * pipelined requests until an error or the end.  A head the parser
 * accepts must not hold a bare LF. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <rmail/err.h>

#include "http_parser.h"

static void sink(void *arg, const char *d, size_t n)
{
	size_t *total = arg;

	if (n > 0 && d[0] == d[n - 1])
		(*total)++;
	*total += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct http_limits lim = {
		.max_request_line = 512,
		.max_head = 4096,
		.max_headers = 16,
		.max_body = 4096,
	};
	struct http_parser p;
	struct http_request req;
	const char *d = (const char *)data;
	size_t off = 0, used, total = 0, avail;
	int rc, guard = 0;

	if (size == 0)
		return 0;
	http_parser_init(&p, &lim);
	/* the first byte picks how much the "connection" delivered */
	avail = 1 + data[0] % (size);
	d++;
	size--;
	while (off < size && guard++ < 1000) {
		size_t n = avail < size - off ? avail : size - off;

		rc = http_parse_head(&p, d + off, n, &req, &used);
		if (rc == RMAIL_AGAIN) {
			if (n == size - off)
				break;
			avail *= 2;
			continue;
		}
		if (rc != RMAIL_OK)
			break;
		/* an accepted head has CRLF line ends only */
		for (size_t k = 0; k < used; k++)
			if (d[off + k] == '\n' &&
			    (k == 0 || d[off + k - 1] != '\r'))
				__builtin_trap();
		off += used;
		rc = http_parse_body(&p, d + off, size - off, &used, sink,
				     &total);
		off += used;
		if (rc != RMAIL_OK)
			break;
		http_parser_reset(&p);
	}
	return 0;
}
