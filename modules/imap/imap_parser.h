/*
 * Resumable IMAP command parser (RFC 3501 section 9, LITERAL+ of RFC 7888,
 * literal8 of RFC 3516 as APPEND message data, also inside RFC 6855's
 * "UTF8 (" literal8 ")").
 *
 * Pure: no I/O, no logging, no malloc.  The session feeds whatever bytes
 * it has; the parser copies what it keeps (tag, name, argument tree) into
 * the arena it was given, so a token may straddle any number of chunks
 * and the cost of a command is bounded by the arena size.
 *
 * APPEND message literals are not kept: they are handed back slice by
 * slice (IMAP_PARSE_LITERAL_CHUNK) pointing into the caller's input.
 */
#ifndef IMAP_PARSER_H
#define IMAP_PARSER_H

#include <stddef.h>
#include <stdint.h>

#include "imap_arena.h"

#define IMAP_PARSER_MAX_DEPTH 64

enum imap_parse_result {
	IMAP_PARSE_OK,	  /* one complete command in p->cmd */
	IMAP_PARSE_AGAIN, /* all input consumed, need more */
	/* a synchronizing literal was announced: answer with
	 * imap_parser_literal_accept() (after writing "+ ") or
	 * imap_parser_literal_refuse() (after a tagged NO) */
	IMAP_PARSE_NEED_CONTINUATION,
	/* p->chunk/p->chunk_len: a slice of APPEND message data */
	IMAP_PARSE_LITERAL_CHUNK,
	/* p->error says why; the rest of the command is skipped without
	 * further results, literals included */
	IMAP_PARSE_BAD,
	/* a synchronizing literal over the cap: reply "NO [TOOBIG]" and
	 * do not invite it; the client drops the command */
	IMAP_PARSE_TOOBIG,
	/* reply BAD with p->error and close; the parser stays dead */
	IMAP_PARSE_CLOSE,
};

enum imap_arg_type {
	IMAP_ARG_ATOM, /* may hold [section] and <partial> */
	IMAP_ARG_QUOTED,
	IMAP_ARG_LITERAL, /* str is NULL when the data was streamed */
	IMAP_ARG_NIL,
	IMAP_ARG_LIST,
};

struct imap_arg {
	enum imap_arg_type type;
	/* NUL-terminated copy (literals may hold NULs: trust len) */
	const char *str;
	size_t len;	       /* bytes, or members of a list */
	struct imap_arg *list; /* first member of a list */
	struct imap_arg *next; /* next sibling */
	unsigned int streamed : 1;
	unsigned int nonsync : 1;  /* literal announced as {n+} */
	unsigned int literal8 : 1; /* announced as ~{n} (RFC 3516) */
};

struct imap_cmd {
	const char *tag;  /* NULL until the tag is complete */
	const char *name; /* as sent; compare case-insensitively */
	/* first argument, NULL when none; for a streamed APPEND literal
	 * already linked (up to the literal) at IMAP_PARSE_LITERAL_CHUNK
	 * and IMAP_PARSE_NEED_CONTINUATION */
	struct imap_arg *args;
	unsigned int nargs;
};

struct imap_parser_limits {
	size_t max_line;	   /* one line, CRLF included, literals not */
	uint64_t max_literal;	   /* 8 KiB before login, APPENDLIMIT after */
	unsigned int max_literals; /* per command */
	unsigned int max_depth;	   /* list nesting */
	/* stream APPEND message literals instead of keeping them */
	unsigned int stream_append : 1;
};

struct imap_parser {
	struct imap_arena *arena; /* bounds the size of a command */
	struct imap_parser_limits lim;

	struct imap_cmd cmd;
	const char *error; /* text for BAD/TOOBIG/CLOSE */
	const char *chunk; /* LITERAL_CHUNK slice */
	size_t chunk_len;
	int chunk_last;	       /* the literal ends with this slice */
	uint64_t literal_size; /* announced literal, for the session */
	int literal_streamed;  /* it will come as chunks */

	/* private state */
	int state;
	int last; /* result of the previous call */
	size_t line_len;
	size_t tok_start; /* arena offset of the token */
	int tok_bracket;  /* 0, in [..] (1), in <..> (2) */
	uint64_t lit_left;
	int lit_nonsync;
	int lit_binary; /* the literal being read is a literal8 */
	int lit_digits;
	unsigned int nliterals;
	unsigned int depth;
	struct imap_arg *stack[IMAP_PARSER_MAX_DEPTH + 1];
	struct imap_arg *tail[IMAP_PARSER_MAX_DEPTH + 1];
	struct imap_arg root;
	int need_sep;
	/* skipping the rest of a refused command */
	int skip_tail; /* recogniser for "{n}" / "{n+}" */
	uint64_t skip_num;
	int skip_plus;
	uint64_t skip_lit;
	/* the list after APPEND's "UTF8" atom (RFC 6855), NULL if none */
	const struct imap_arg *utf8_list;
};

/* `arena` must outlive the parser; its capacity is the command size cap. */
void imap_parser_init(struct imap_parser *p, struct imap_arena *arena,
		      const struct imap_parser_limits *lim);
/* Change the caps between commands (after LOGIN, after SELECT...). */
void imap_parser_set_limits(struct imap_parser *p,
			    const struct imap_parser_limits *lim);

/*
 * Parse from data[0..len).  *consumed_r tells how much was used; the
 * rest (after OK, say) is the next command.  p->cmd stays valid until the
 * next call, which starts a new command after OK, BAD and TOOBIG.
 */
int imap_parse(struct imap_parser *p, const void *data, size_t len,
	       size_t *consumed_r);

void imap_parser_literal_accept(struct imap_parser *p);
/* The client drops the command: the next byte starts a new command. */
void imap_parser_literal_refuse(struct imap_parser *p);

/* Case-insensitive match of an atom argument. */
int imap_arg_atom_eq(const struct imap_arg *a, const char *s);
/* an RFC 3501 "atom" (NIL included: "NIL" is a valid flag keyword) */
int imap_arg_is_atom(const struct imap_arg *a);
/* an "astring": ASTRING-CHAR atom, quoted or kept literal */
int imap_arg_is_astring(const struct imap_arg *a);
/* a LIST/LSUB "list-mailbox": astring, or an atom with "%" and "*" */
int imap_arg_is_list_mailbox(const struct imap_arg *a);
const char *imap_parse_result_str(int result);

#endif
