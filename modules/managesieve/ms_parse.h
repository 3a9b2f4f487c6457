/* ManageSieve (RFC 5804) command lines: an atom, then strings (quoted
 * or literal, {N} and {N+}) and numbers, then CRLF.  A literal may hold
 * CRLFs, so a command is parsed from the buffered input as a whole. */
#ifndef MS_PARSE_H
#define MS_PARSE_H

#include <stddef.h>

#define MS_MAX_ARGS 4

struct ms_arg {
	char *s; /* malloc'd, NUL-terminated (scripts may hold NUL: see n) */
	size_t n;
	int is_num;
};

struct ms_cmd {
	char name[32]; /* upper-cased */
	struct ms_arg args[MS_MAX_ARGS];
	size_t nargs;
};

enum ms_parse_rc {
	MS_INCOMPLETE = 0, /* wait for more input */
	MS_OK = 1,
	MS_BAD = -1,	/* syntax: skip *used_r bytes, reply NO */
	MS_TOOBIG = -2, /* a literal over max_literal: close */
};

/* Parse one command from data[0..len).  *used_r: bytes it took (MS_OK,
 * MS_BAD).  cmd is filled on MS_OK; free it with ms_cmd_free. */
int ms_parse(const char *data, size_t len, size_t max_literal,
	     struct ms_cmd *cmd, size_t *used_r);
void ms_cmd_free(struct ms_cmd *cmd);

#endif
