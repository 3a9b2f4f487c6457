/*
 * Resumable IMAP command parser.  A byte-at-a-time state machine, like
 * Redis' multibulk reader: the only state carried between chunks is in
 * struct imap_parser and the arena, so chunk boundaries never matter.
 */
#include <string.h>
#include <strings.h>

#include "imap_parser.h"

enum {
	S_TAG,
	S_EMPTY_CR, /* blank line, waiting for its LF */
	S_NAME,
	S_ARGS,
	S_ATOM,
	S_QUOTED,
	S_QUOTED_ESC,
	S_LIT_NUM,
	S_LIT_PLUS,
	S_LIT_CLOSE,
	S_LIT_CR,
	S_LIT_WAIT, /* NEED_CONTINUATION not answered yet */
	S_LIT_DATA,
	S_LIT_STREAM,
	S_EOL_CR,
	S_SKIP,
	S_SKIP_LIT,
	S_DEAD,
};

/* skip_tail: how far the end of a skipped line looks like "{n+}" */
enum { T_NONE, T_OPEN, T_NUM, T_PLUS, T_CLOSE, T_CR };

#define LIT_SIZE_MAX ((uint64_t)1 << 62)

static int is_tag_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return 0;
	return strchr("(){\"%*+\\", c) == NULL;
}

static int is_atom_char(unsigned char c)
{
	if (c <= 0x20 || c == 0x7f)
		return 0;
	return c != '(' && c != ')' && c != '{' && c != '"';
}

/*
 * RFC 3501 9 character classes, for the grammar helpers below: the
 * tokenizer is looser (it keeps "%", "*", backslash and "]" in atoms, which
 * LIST patterns, sequence sets and flags need) and the commands ask
 * which class an argument belongs to.
 */
enum {
	C_ATOM = 1,	/* ATOM-CHAR */
	C_ASTRING = 2,	/* ASTRING-CHAR: ATOM-CHAR / resp-specials */
	C_LISTCHAR = 4, /* list-char: ASTRING-CHAR / list-wildcards */
};

static int char_class(unsigned char c)
{
	if (c >= 0x80)
		return C_ATOM | C_ASTRING | C_LISTCHAR; /* UTF-8 names */
	if (c <= 0x20 || c == 0x7f || strchr("(){\"\\", c) != NULL)
		return 0;
	if (c == '%' || c == '*')
		return C_LISTCHAR;
	if (c == ']')
		return C_ASTRING | C_LISTCHAR;
	return C_ATOM | C_ASTRING | C_LISTCHAR;
}

static int atom_in_class(const struct imap_arg *a, int cls)
{
	size_t i;

	if (a == NULL || (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_NIL))
		return 0;
	for (i = 0; i < a->len; i++)
		if (!(char_class((unsigned char)a->str[i]) & cls))
			return 0;
	return a->len > 0;
}

/*
 * "[" opens a section (where spaces and lists may follow) only after
 * the fetch attributes that take one; anywhere else it is an ATOM-CHAR,
 * so a keyword "a[b" or a mailbox "[x" stays one atom.
 */
static int opens_section(const struct imap_parser *p)
{
	static const char *const atts[] = {
		"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE",
	};
	const char *tok = p->arena->base + p->tok_start;
	size_t len = p->arena->used - p->tok_start, i;

	if (p->cmd.name == NULL || (strcasecmp(p->cmd.name, "FETCH") != 0 &&
				    strcasecmp(p->cmd.name, "UID") != 0))
		return 0;
	for (i = 0; i < sizeof(atts) / sizeof(atts[0]); i++)
		if (strlen(atts[i]) == len &&
		    strncasecmp(tok, atts[i], len) == 0)
			return 1;
	return 0;
}

static void literal_done(struct imap_parser *p);

void imap_parser_set_limits(struct imap_parser *p,
			    const struct imap_parser_limits *lim)
{
	p->lim = *lim;
	if (p->lim.max_depth > IMAP_PARSER_MAX_DEPTH)
		p->lim.max_depth = IMAP_PARSER_MAX_DEPTH;
	if (p->lim.max_literal > LIT_SIZE_MAX)
		p->lim.max_literal = LIT_SIZE_MAX;
}

static void new_command(struct imap_parser *p)
{
	imap_arena_reset(p->arena);
	memset(&p->cmd, 0, sizeof(p->cmd));
	memset(&p->root, 0, sizeof(p->root));
	p->root.type = IMAP_ARG_LIST;
	p->stack[0] = &p->root;
	p->tail[0] = NULL;
	p->depth = 0;
	p->nliterals = 0;
	p->utf8_list = NULL;
	p->need_sep = 0;
	p->line_len = 0;
	p->tok_bracket = 0;
	p->tok_start = 0;
	p->error = NULL;
	p->chunk = NULL;
	p->chunk_len = 0;
	p->state = S_TAG;
}

void imap_parser_init(struct imap_parser *p, struct imap_arena *arena,
		      const struct imap_parser_limits *lim)
{
	memset(p, 0, sizeof(*p));
	p->arena = arena;
	imap_parser_set_limits(p, lim);
	new_command(p);
	p->last = IMAP_PARSE_AGAIN;
}

void imap_parser_literal_accept(struct imap_parser *p)
{
	if (p->state != S_LIT_WAIT)
		return;
	p->state = p->literal_streamed ? S_LIT_STREAM : S_LIT_DATA;
	p->last = IMAP_PARSE_AGAIN;
	if (p->lit_left == 0)
		literal_done(p);
}

void imap_parser_literal_refuse(struct imap_parser *p)
{
	if (p->state != S_LIT_WAIT)
		return;
	/* RFC 3501 7.5: the client sends nothing more of this command */
	p->state = S_TAG;
	p->last = IMAP_PARSE_TOOBIG;
}

/* Append one byte to the token under construction. */
static int tok_put(struct imap_parser *p, char c)
{
	struct imap_arena *a = p->arena;

	if (a->used >= a->cap)
		return -1;
	a->base[a->used++] = c;
	return 0;
}

static void tok_begin(struct imap_parser *p)
{
	p->tok_start = p->arena->used;
}

/* NUL-terminate the token; returns its start or NULL when full. */
static const char *tok_end(struct imap_parser *p, size_t *len_r)
{
	if (tok_put(p, '\0') < 0)
		return NULL;
	*len_r = p->arena->used - p->tok_start - 1;
	return p->arena->base + p->tok_start;
}

static struct imap_arg *arg_add(struct imap_parser *p, enum imap_arg_type type)
{
	struct imap_arg *a, *parent = p->stack[p->depth];

	a = imap_arena_alloc(p->arena, sizeof(*a));
	if (a == NULL)
		return NULL;
	a->type = type;
	if (p->tail[p->depth] == NULL)
		parent->list = a;
	else
		p->tail[p->depth]->next = a;
	p->tail[p->depth] = a;
	parent->len++;
	return a;
}

static int arg_add_token(struct imap_parser *p, enum imap_arg_type type)
{
	struct imap_arg *a;
	const char *s;
	size_t len;

	s = tok_end(p, &len);
	if (s == NULL)
		return -1;
	if (type == IMAP_ARG_ATOM && len == 3 && strcasecmp(s, "NIL") == 0)
		type = IMAP_ARG_NIL;
	a = arg_add(p, type);
	if (a == NULL)
		return -1;
	a->str = s;
	a->len = len;
	p->need_sep = 1;
	return 0;
}

/* Enter skip mode at the current byte, which is not consumed. */
static int bad(struct imap_parser *p, const char *why)
{
	p->error = why;
	p->state = S_SKIP;
	p->skip_tail = T_NONE;
	return IMAP_PARSE_BAD;
}

static int is_append_data(const struct imap_parser *p)
{
	if (!p->lim.stream_append || p->cmd.name == NULL ||
	    strcasecmp(p->cmd.name, "APPEND") != 0)
		return 0;
	/* RFC 6855 4: "UTF8 (" literal8 ")", the first thing in the list */
	if (p->depth == 1)
		return p->stack[1] == p->utf8_list && p->utf8_list->len == 0;
	/* APPEND mailbox [flags] [date] literal: any top-level literal
	 * after the mailbox name is message data */
	return p->depth == 0 && p->root.len >= 1;
}

/* RFC 5464: a SETMETADATA value may be a literal8 (kept, not streamed) */
static int is_metadata_value(const struct imap_parser *p)
{
	return p->cmd.name != NULL &&
	       strcasecmp(p->cmd.name, "SETMETADATA") == 0;
}

static int literal_begin(struct imap_parser *p)
{
	uint64_t n = p->lit_left;
	size_t need;

	p->nliterals++;
	p->literal_size = n;
	p->literal_streamed = is_append_data(p);
	p->line_len = 0;
	if (n > p->lim.max_literal) {
		if (p->lit_nonsync) {
			p->error =
				"Non-synchronizing literal over the size limit";
			p->state = S_DEAD;
			return IMAP_PARSE_CLOSE;
		}
		p->error = "Literal over the size limit";
		p->state = S_TAG;
		return IMAP_PARSE_TOOBIG;
	}
	if (p->nliterals > p->lim.max_literals)
		p->error = "Too many literals in one command";
	/* the data, its NUL and the node, with alignment slack */
	need = p->literal_streamed ? 0 : (size_t)n + 1;
	if (p->error == NULL &&
	    need + sizeof(struct imap_arg) + 16 > imap_arena_left(p->arena))
		p->error = "Command too long";
	if (p->error != NULL) {
		if (p->lit_nonsync) {
			p->skip_lit = n;
			p->state = S_SKIP_LIT;
		} else {
			p->state = S_TAG;
		}
		return IMAP_PARSE_BAD;
	}
	tok_begin(p);
	if (p->literal_streamed) {
		struct imap_arg *a = arg_add(p, IMAP_ARG_LITERAL);

		/* room was checked above */
		a->len = n;
		a->streamed = 1;
		a->nonsync = p->lit_nonsync;
		a->literal8 = p->lit_binary != 0;
		p->need_sep = 1;
		/* the session starts the upload now, from the arguments
		 * so far: link them as command_done will */
		p->cmd.args = p->root.list;
		p->cmd.nargs = (unsigned int)p->root.len;
	}
	if (!p->lit_nonsync) {
		p->state = S_LIT_WAIT;
		return IMAP_PARSE_NEED_CONTINUATION;
	}
	p->state = p->literal_streamed ? S_LIT_STREAM : S_LIT_DATA;
	if (n == 0)
		literal_done(p);
	return IMAP_PARSE_AGAIN;
}

static void literal_done(struct imap_parser *p)
{
	if (!p->literal_streamed) {
		size_t len = 0;
		const char *s = tok_end(p, &len);
		struct imap_arg *a = arg_add(p, IMAP_ARG_LITERAL);

		/* literal_begin reserved the room for both */
		if (s != NULL && a != NULL) {
			a->str = s;
			a->len = len;
			a->nonsync = p->lit_nonsync;
		}
	}
	p->need_sep = 1;
	p->state = S_ARGS;
}

static int command_done(struct imap_parser *p)
{
	if (p->depth > 0) {
		p->error = "Missing ')'";
		p->state = S_TAG;
		return IMAP_PARSE_BAD;
	}
	p->cmd.args = p->root.list;
	p->cmd.nargs = (unsigned int)p->root.len;
	p->state = S_TAG;
	return IMAP_PARSE_OK;
}

/* Skip mode: the command was refused, drop the rest of it. */
static int skip_byte(struct imap_parser *p, unsigned char c)
{
	switch (c) {
	case '{':
		p->skip_tail = T_OPEN;
		p->skip_num = 0;
		p->skip_plus = 0;
		return IMAP_PARSE_AGAIN;
	case '+':
		p->skip_tail = p->skip_tail == T_NUM ? T_PLUS : T_NONE;
		p->skip_plus = 1;
		return IMAP_PARSE_AGAIN;
	case '}':
		p->skip_tail = (p->skip_tail == T_NUM || p->skip_tail == T_PLUS)
				       ? T_CLOSE
				       : T_NONE;
		return IMAP_PARSE_AGAIN;
	case '\r':
		p->skip_tail = p->skip_tail == T_CLOSE ? T_CR : T_NONE;
		return IMAP_PARSE_AGAIN;
	case '\n':
		if ((p->skip_tail == T_CLOSE || p->skip_tail == T_CR) &&
		    p->skip_plus) {
			/* the client sends a {n+} literal regardless */
			if (p->skip_num > p->lim.max_literal) {
				p->error = "Non-synchronizing literal over "
					   "the size limit";
				p->state = S_DEAD;
				return IMAP_PARSE_CLOSE;
			}
			p->skip_lit = p->skip_num;
			p->skip_tail = T_NONE;
			p->state = S_SKIP_LIT;
			return IMAP_PARSE_AGAIN;
		}
		/* a synchronizing literal is never sent uninvited */
		p->state = S_TAG;
		p->line_len = 0;
		return IMAP_PARSE_AGAIN;
	default:
		if (c >= '0' && c <= '9' &&
		    (p->skip_tail == T_OPEN || p->skip_tail == T_NUM)) {
			p->skip_tail = T_NUM;
			if (p->skip_num < LIT_SIZE_MAX)
				p->skip_num = p->skip_num * 10 + (c - '0');
		} else {
			p->skip_tail = T_NONE;
		}
		return IMAP_PARSE_AGAIN;
	}
}

/* Bytes of literal data available now. */
static size_t lit_take(const struct imap_parser *p, size_t avail)
{
	return avail < p->lit_left ? avail : (size_t)p->lit_left;
}

static int parse_byte(struct imap_parser *p, unsigned char c, int *eat_r);

int imap_parse(struct imap_parser *p, const void *data, size_t len,
	       size_t *consumed_r)
{
	const unsigned char *d = data;
	size_t i = 0, n;
	int rc, eat;

	*consumed_r = 0;
	if (p->state == S_DEAD)
		return p->last = IMAP_PARSE_CLOSE;
	if (p->state == S_LIT_WAIT)
		return p->last = IMAP_PARSE_NEED_CONTINUATION;
	if (p->last == IMAP_PARSE_OK || p->last == IMAP_PARSE_BAD ||
	    p->last == IMAP_PARSE_TOOBIG) {
		int st = p->state;
		uint64_t lit = p->skip_lit;

		new_command(p);
		/* a refused command may still be being skipped */
		if (st == S_SKIP || st == S_SKIP_LIT) {
			p->state = st;
			p->skip_lit = lit;
		}
	}
	p->last = IMAP_PARSE_AGAIN;

	while (i < len) {
		switch (p->state) {
		case S_SKIP_LIT:
			n = len - i < p->skip_lit ? len - i
						  : (size_t)p->skip_lit;
			i += n;
			p->skip_lit -= n;
			if (p->skip_lit == 0) {
				p->state = S_SKIP;
				p->skip_tail = T_NONE;
			}
			continue;
		case S_SKIP:
			rc = skip_byte(p, d[i++]);
			if (rc != IMAP_PARSE_AGAIN) {
				*consumed_r = i;
				return p->last = rc;
			}
			continue;
		case S_LIT_DATA:
			n = lit_take(p, len - i);
			/* a kept literal8 (a SETMETADATA value) is binary */
			if (!p->lit_binary && memchr(d + i, '\0', n) != NULL) {
				/* drop what is left of the literal, then
				 * the rest of the command */
				p->skip_lit = p->lit_left;
				p->state = S_SKIP_LIT;
				p->error = "NUL character in literal";
				*consumed_r = i;
				return p->last = IMAP_PARSE_BAD;
			}
			/* literal_begin made sure it fits */
			memcpy(p->arena->base + p->arena->used, d + i, n);
			p->arena->used += n;
			i += n;
			p->lit_left -= n;
			if (p->lit_left == 0)
				literal_done(p);
			continue;
		case S_LIT_STREAM:
			n = lit_take(p, len - i);
			p->chunk = (const char *)d + i;
			p->chunk_len = n;
			i += n;
			p->lit_left -= n;
			p->chunk_last = p->lit_left == 0;
			if (p->chunk_last)
				literal_done(p);
			*consumed_r = i;
			return p->last = IMAP_PARSE_LITERAL_CHUNK;
		default:
			break;
		}
		if (++p->line_len > p->lim.max_line) {
			rc = bad(p, "Line too long");
			*consumed_r = i;
			return p->last = rc;
		}
		rc = parse_byte(p, d[i], &eat);
		if (eat)
			i++;
		else
			p->line_len--;
		if (rc != IMAP_PARSE_AGAIN) {
			*consumed_r = i;
			return p->last = rc;
		}
	}
	*consumed_r = i;
	return p->last = IMAP_PARSE_AGAIN;
}

static int eol(struct imap_parser *p, unsigned char c, int *eat_r)
{
	*eat_r = 1;
	if (c == '\r') {
		p->state = S_EOL_CR;
		return IMAP_PARSE_AGAIN;
	}
	return command_done(p);
}

static int start_literal_size(struct imap_parser *p, unsigned char c)
{
	if (c >= '0' && c <= '9') {
		if (p->lit_digits++ > 0 && p->lit_left == 0)
			return bad(p, "Invalid literal size");
		if (p->lit_left > LIT_SIZE_MAX / 10)
			p->lit_left = LIT_SIZE_MAX;
		else
			p->lit_left = p->lit_left * 10 + (c - '0');
		return IMAP_PARSE_AGAIN;
	}
	if (p->lit_digits == 0)
		return bad(p, "Invalid literal size");
	if (c == '+') {
		p->lit_nonsync = 1;
		p->state = S_LIT_PLUS;
		return IMAP_PARSE_AGAIN;
	}
	if (c == '}') {
		p->state = S_LIT_CLOSE;
		return IMAP_PARSE_AGAIN;
	}
	return bad(p, "Invalid literal size");
}

static int args_byte(struct imap_parser *p, unsigned char c, int *eat_r)
{
	struct imap_arg *a;
	int utf8;

	if (p->need_sep && c != ' ' && c != ')' && c != '\r' && c != '\n')
		return bad(p, "Missing space between arguments");
	switch (c) {
	case ' ':
		p->need_sep = 0;
		return IMAP_PARSE_AGAIN;
	case '\r':
	case '\n':
		return eol(p, c, eat_r);
	case '(':
		if (p->depth + 1 > p->lim.max_depth)
			return bad(p, "Lists nested too deeply");
		/* after the mailbox: a mailbox named UTF8 is no marker */
		utf8 = is_append_data(p) && p->root.len >= 2 &&
		       imap_arg_atom_eq(p->tail[0], "UTF8");
		a = arg_add(p, IMAP_ARG_LIST);
		if (a == NULL)
			return bad(p, "Command too long");
		if (utf8)
			p->utf8_list = a;
		p->depth++;
		p->stack[p->depth] = a;
		p->tail[p->depth] = NULL;
		return IMAP_PARSE_AGAIN;
	case ')':
		if (p->depth == 0)
			return bad(p, "Unexpected ')'");
		p->depth--;
		p->need_sep = 1;
		return IMAP_PARSE_AGAIN;
	case '"':
		tok_begin(p);
		p->state = S_QUOTED;
		return IMAP_PARSE_AGAIN;
	case '{':
		p->lit_left = 0;
		p->lit_digits = 0;
		p->lit_nonsync = 0;
		p->lit_binary = 0;
		p->state = S_LIT_NUM;
		return IMAP_PARSE_AGAIN;
	case '\0':
		return bad(p, "NUL character in command");
	default:
		if (!is_atom_char(c) && c != '[')
			return bad(p, "Invalid character in atom");
		tok_begin(p);
		p->tok_bracket = 0;
		p->state = S_ATOM;
		*eat_r = 0;
		return IMAP_PARSE_AGAIN;
	}
}

static int atom_byte(struct imap_parser *p, unsigned char c, int *eat_r)
{
	if (p->tok_bracket) {
		if (c == '\r' || c == '\n' || c == '\0')
			return bad(p, "Unterminated '[' in atom");
		if (c == '[')
			return bad(p, "Nested '[' in atom");
		if (c == ']')
			p->tok_bracket = 0;
	} else if (c == ' ' || c == ')' || c == '\r' || c == '\n') {
		if (arg_add_token(p, IMAP_ARG_ATOM) < 0)
			return bad(p, "Command too long");
		p->state = S_ARGS;
		*eat_r = 0;
		return IMAP_PARSE_AGAIN;
	} else if (c == '[' && opens_section(p)) {
		p->tok_bracket = 1;
	} else if (c == '{' && p->arena->used == p->tok_start + 1 &&
		   p->arena->base[p->tok_start] == '~') {
		/* literal8 (RFC 3516); a lone "~" is an atom.  It is
		 * message data, so only where APPEND takes a message */
		if (!is_append_data(p) && !is_metadata_value(p)) {
			/* the "{" is left to skip mode, which must see a
			 * {n+} literal */
			*eat_r = 0;
			return bad(p, "literal8 is only for APPEND messages");
		}
		p->arena->used = p->tok_start; /* drop the "~" */
		p->lit_left = 0;
		p->lit_digits = 0;
		p->lit_nonsync = 0;
		p->lit_binary = 1;
		p->state = S_LIT_NUM;
		return IMAP_PARSE_AGAIN;
	} else if (c == '\0') {
		return bad(p, "NUL character in command");
	} else if (!is_atom_char(c)) {
		*eat_r = 0; /* a "{" may announce a {n+} literal to skip */
		return bad(p, "Invalid character in atom");
	}
	if (tok_put(p, (char)c) < 0)
		return bad(p, "Command too long");
	return IMAP_PARSE_AGAIN;
}

static int quoted_byte(struct imap_parser *p, unsigned char c)
{
	if (c == '\r' || c == '\n')
		return bad(p, "Unterminated quoted string");
	if (c == '\0')
		return bad(p, "NUL character in command");
	if (p->state == S_QUOTED_ESC) {
		if (c != '"' && c != '\\')
			return bad(p, "Invalid escape in quoted string");
		p->state = S_QUOTED;
	} else if (c == '\\') {
		p->state = S_QUOTED_ESC;
		return IMAP_PARSE_AGAIN;
	} else if (c == '"') {
		if (arg_add_token(p, IMAP_ARG_QUOTED) < 0)
			return bad(p, "Command too long");
		p->state = S_ARGS;
		return IMAP_PARSE_AGAIN;
	}
	if (tok_put(p, (char)c) < 0)
		return bad(p, "Command too long");
	return IMAP_PARSE_AGAIN;
}

/* Tag and command name: plain atoms, stored NUL-terminated. */
static int word_byte(struct imap_parser *p, unsigned char c, int *eat_r)
{
	size_t len;
	const char *s;
	int tag = p->state == S_TAG;

	if (tag && p->arena->used == 0 && (c == '\r' || c == '\n')) {
		/* blank lines between commands are ignored */
		p->state = c == '\r' ? S_EMPTY_CR : S_TAG;
		p->line_len = 0;
		return IMAP_PARSE_AGAIN;
	}
	if (c == ' ' || c == '\r' || c == '\n') {
		if (p->arena->used == p->tok_start)
			return bad(p, tag ? "Missing tag"
					  : "Missing command name");
		s = tok_end(p, &len);
		if (s == NULL)
			return bad(p, "Command too long");
		if (tag) {
			p->cmd.tag = s;
			if (c != ' ')
				return bad(p, "Missing command name");
			tok_begin(p);
			p->state = S_NAME;
			return IMAP_PARSE_AGAIN;
		}
		p->cmd.name = s;
		p->state = S_ARGS;
		*eat_r = c == ' ';
		return IMAP_PARSE_AGAIN;
	}
	if (c == '\0')
		return bad(p, "NUL character in command");
	if (!is_tag_char(c))
		return bad(p, tag ? "Invalid character in tag"
				  : "Invalid character in command name");
	if (tok_put(p, (char)c) < 0)
		return bad(p, "Command too long");
	return IMAP_PARSE_AGAIN;
}

static int parse_byte(struct imap_parser *p, unsigned char c, int *eat_r)
{
	*eat_r = 1;
	switch (p->state) {
	case S_TAG:
	case S_NAME:
		return word_byte(p, c, eat_r);
	case S_EMPTY_CR:
		if (c != '\n')
			return bad(p, "CR without LF");
		p->state = S_TAG;
		p->line_len = 0;
		return IMAP_PARSE_AGAIN;
	case S_ARGS:
		return args_byte(p, c, eat_r);
	case S_ATOM:
		return atom_byte(p, c, eat_r);
	case S_QUOTED:
	case S_QUOTED_ESC:
		return quoted_byte(p, c);
	case S_LIT_NUM:
		return start_literal_size(p, c);
	case S_LIT_PLUS:
		if (c != '}')
			return bad(p, "Invalid literal size");
		p->state = S_LIT_CLOSE;
		return IMAP_PARSE_AGAIN;
	case S_LIT_CLOSE:
		if (c == '\r') {
			p->state = S_LIT_CR;
			return IMAP_PARSE_AGAIN;
		}
		/* fall through */
	case S_LIT_CR:
		if (c != '\n')
			return bad(p, "Literal must end the line");
		if (p->lit_nonsync && p->lit_left > p->lim.max_literal) {
			p->error = "Non-synchronizing literal over the size "
				   "limit";
			p->state = S_DEAD;
			return IMAP_PARSE_CLOSE;
		}
		return literal_begin(p);
	case S_EOL_CR:
		if (c != '\n')
			return bad(p, "CR without LF");
		return command_done(p);
	default:
		return bad(p, "Internal parser error");
	}
}

int imap_arg_atom_eq(const struct imap_arg *a, const char *s)
{
	return a != NULL &&
	       (a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_NIL) &&
	       strcasecmp(a->str, s) == 0;
}

int imap_arg_is_atom(const struct imap_arg *a)
{
	return atom_in_class(a, C_ATOM);
}

int imap_arg_is_astring(const struct imap_arg *a)
{
	if (a == NULL)
		return 0;
	switch (a->type) {
	case IMAP_ARG_ATOM:
	case IMAP_ARG_NIL:
		return atom_in_class(a, C_ASTRING);
	case IMAP_ARG_QUOTED:
		return 1;
	case IMAP_ARG_LITERAL:
		return !a->streamed;
	default:
		return 0;
	}
}

int imap_arg_is_list_mailbox(const struct imap_arg *a)
{
	if (a != NULL && (a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_NIL))
		return atom_in_class(a, C_LISTCHAR);
	return imap_arg_is_astring(a);
}

const char *imap_parse_result_str(int result)
{
	static const char *const names[] = {
		"OK",	  "AGAIN", "NEED_CONTINUATION", "LITERAL_CHUNK", "BAD",
		"TOOBIG", "CLOSE",
	};

	if (result < 0 || result >= (int)(sizeof(names) / sizeof(names[0])))
		return "?";
	return names[result];
}
