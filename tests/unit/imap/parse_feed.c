#include <glib.h>
#include <string.h>

#include "parse_feed.h"

void imap_test_feed(struct imap_parser *p, const char *line, int mode,
		    size_t split)
{
	size_t len = strlen(line), off = 0, used, piece;
	int rc = IMAP_PARSE_AGAIN;

	while (off < len) {
		piece = mode == 0     ? len - off
			: mode == 1   ? 1
			: off < split ? split - off
				      : len - off;
		rc = imap_parse(p, line + off, piece, &used);
		g_assert_cmpuint(used, <=, piece);
		off += used;
		if (rc == IMAP_PARSE_NEED_CONTINUATION) {
			imap_parser_literal_accept(p);
			continue;
		}
		if (rc == IMAP_PARSE_OK)
			break;
		g_assert_cmpint(rc, ==, IMAP_PARSE_AGAIN);
	}
	g_assert_cmpint(rc, ==, IMAP_PARSE_OK);
	g_assert_cmpuint(off, ==, len);
}
