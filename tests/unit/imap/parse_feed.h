/*
 * Drive the IMAP command parser over one command line in pieces: whole
 * (mode 0), byte by byte (1), or split in two at `split` (2), accepting
 * every literal.  Asserts the command parsed whole, using every byte.
 * The parser tests of each extension's grammar share it.
 */
#ifndef RM_TEST_PARSE_FEED_H
#define RM_TEST_PARSE_FEED_H

#include <stddef.h>

#include "imap_parser.h"

void imap_test_feed(struct imap_parser *p, const char *line, int mode,
		    size_t split);

#endif
