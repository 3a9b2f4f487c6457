/* Line scanning for conn_read_line; see linebuf.h. */
#include <string.h>

#include "linebuf.h"

void rm_linebuf_init(struct rm_linebuf *lb, size_t max_line)
{
	lb->max_line = max_line;
	lb->scanned = 0;
	lb->skipping = false;
}

static int skip_long(struct rm_linebuf *lb, const char *data, size_t len,
		     size_t *consumed_r)
{
	const char *lf = memchr(data, '\n', len);

	if (lf == NULL) {
		*consumed_r = len;
		return RMAIL_AGAIN;
	}
	*consumed_r = (size_t)(lf - data) + 1;
	lb->skipping = false;
	lb->scanned = 0;
	return RMAIL_AGAIN;
}

int rm_linebuf_next(struct rm_linebuf *lb, const char *data, size_t len,
		    struct rmail_line *line_r, size_t *consumed_r)
{
	const char *lf;
	size_t total, n;

	*consumed_r = 0;
	if (lb->skipping) {
		int rc = skip_long(lb, data, len, consumed_r);

		/* the caller calls again for what follows the LF */
		if (lb->skipping || *consumed_r == len)
			return rc;
		data += *consumed_r;
		len -= *consumed_r;
		n = *consumed_r;
		rc = rm_linebuf_next(lb, data, len, line_r, consumed_r);
		*consumed_r += n;
		return rc;
	}
	if (lb->scanned > len)
		lb->scanned = 0; /* the caller reset its buffer */
	lf = memchr(data + lb->scanned, '\n', len - lb->scanned);
	if (lf == NULL) {
		lb->scanned = len;
		if (lb->max_line != 0 && len >= lb->max_line) {
			/* even an LF next would make it too long */
			lb->skipping = true;
			lb->scanned = 0;
			*consumed_r = len;
			return RMAIL_TOOLONG;
		}
		return RMAIL_AGAIN;
	}
	total = (size_t)(lf - data) + 1;
	lb->scanned = 0;
	*consumed_r = total;
	if (lb->max_line != 0 && total > lb->max_line)
		return RMAIL_TOOLONG;
	line_r->data = data;
	if (total >= 2 && data[total - 2] == '\r') {
		line_r->len = total - 2;
		line_r->eol = RMAIL_EOL_CRLF;
	} else {
		line_r->len = total - 1;
		line_r->eol = RMAIL_EOL_LF;
	}
	return RMAIL_OK;
}
