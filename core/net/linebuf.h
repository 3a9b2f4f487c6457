/*
 * The line scanner behind conn_read_line: pure (no I/O, no allocation),
 * resumable, so it can be fuzzed and tested with trickled input.
 */
#ifndef RM_LINEBUF_H
#define RM_LINEBUF_H

#include <stdbool.h>
#include <stddef.h>

#include <rmail/err.h>
#include <rmail/core.h>

struct rm_linebuf {
	size_t max_line; /* a line incl. its EOL; 0 = no limit */
	size_t scanned;	 /* bytes of this line known LF-free */
	bool skipping;	 /* dropping the rest of a long line */
};

void rm_linebuf_init(struct rm_linebuf *lb, size_t max_line);

/*
 * Scan data[0..len), which starts where the previous call left off
 * (the caller drops *consumed_r bytes after each call).  Returns
 * RMAIL_OK with *line_r (the line without CRLF or bare LF), RMAIL_AGAIN
 * when no complete line is there (bytes of a long line may still be
 * consumed), or RMAIL_TOOLONG once per line over max_line; the rest of
 * that line, up to its LF, is then discarded by the following calls.
 */
int rm_linebuf_next(struct rm_linebuf *lb, const char *data, size_t len,
		    struct rmail_line *line_r, size_t *consumed_r);

#endif
