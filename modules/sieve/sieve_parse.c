/* The Sieve grammar (RFC 5228 8.2) to a generic tree of commands and
 * tests with their arguments; sieve_check.c then gives it meaning.
 * Recursion is bounded by the nesting limit, memory by the arena's cap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sieve_int.h"

struct sv_parser {
	struct sv_lexer lx;
	struct sv_arena *a;
	size_t max_nesting;
	char *err;
	size_t errlen;
};

void sv_err(char *err, size_t errlen, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err == NULL || errlen == 0)
		return;
	n = snprintf(err, errlen, "line %u: ", line);
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static int perr(struct sv_parser *p, const char *what)
{
	if (p->lx.tok == TK_ERR)
		snprintf(p->err, p->errlen, "%s", p->lx.err);
	else
		sv_err(p->err, p->errlen, p->lx.tline, "%s", what);
	return -1;
}

static int oom(struct sv_parser *p)
{
	sv_err(p->err, p->errlen, p->lx.tline,
	       "out of memory (script too complex)");
	return -1;
}

/* append to an arena array, doubling */
static void *grow(struct sv_arena *a, void *v, size_t n, size_t *cap, size_t sz)
{
	void *nv;

	if (n < *cap)
		return v;
	*cap = *cap != 0 ? *cap * 2 : 4;
	nv = sv_alloc(a, *cap * sz);
	if (nv != NULL && n > 0)
		memcpy(nv, v, n * sz);
	return nv;
}

static int string_list(struct sv_parser *p, struct sv_list *l)
{
	size_t cap = 0;

	l->v = NULL;
	l->n = 0;
	if (p->lx.tok == TK_STR) {
		l->v = sv_alloc(p->a, sizeof(*l->v));
		if (l->v == NULL)
			return oom(p);
		l->v[0].p = p->lx.s;
		l->v[0].n = p->lx.n;
		l->n = 1;
		sv_lex_next(&p->lx);
		return 0;
	}
	/* '[' */
	sv_lex_next(&p->lx);
	for (;;) {
		if (p->lx.tok != TK_STR)
			return perr(p, "expected a string in the list");
		l->v = grow(p->a, l->v, l->n, &cap, sizeof(*l->v));
		if (l->v == NULL)
			return oom(p);
		l->v[l->n].p = p->lx.s;
		l->v[l->n].n = p->lx.n;
		l->n++;
		sv_lex_next(&p->lx);
		if (p->lx.tok == TK_RBRACK)
			break;
		if (p->lx.tok != TK_COMMA)
			return perr(p,
				    "expected ',' or ']' in the string list");
		sv_lex_next(&p->lx);
	}
	sv_lex_next(&p->lx);
	return 0;
}

static struct sv_node *test(struct sv_parser *p, size_t depth);

/* arguments = *argument [test / test-list] */
static int arguments(struct sv_parser *p, struct sv_node *n, size_t depth)
{
	size_t cap = 0;

	for (;;) {
		struct sv_arg *g;
		enum sv_tok t = p->lx.tok;

		if (t != TK_STR && t != TK_LBRACK && t != TK_NUM && t != TK_TAG)
			break;
		n->args = grow(p->a, n->args, n->nargs, &cap, sizeof(*g));
		if (n->args == NULL)
			return oom(p);
		g = &n->args[n->nargs++];
		memset(g, 0, sizeof(*g));
		g->line = p->lx.tline;
		if (t == TK_NUM) {
			g->t = ARG_NUM;
			g->num = p->lx.num;
			sv_lex_next(&p->lx);
		} else if (t == TK_TAG) {
			g->t = ARG_TAG;
			g->tag = p->lx.s;
			sv_lex_next(&p->lx);
		} else {
			g->t = t == TK_STR ? ARG_STR : ARG_LIST;
			if (string_list(p, &g->l) < 0)
				return -1;
		}
	}
	if (p->lx.tok == TK_ID) {
		n->tests = sv_alloc(p->a, sizeof(*n->tests));
		if (n->tests == NULL)
			return oom(p);
		n->tests[0] = test(p, depth + 1);
		if (n->tests[0] == NULL)
			return -1;
		n->ntests = 1;
	} else if (p->lx.tok == TK_LPAREN) {
		size_t tcap = 0;

		if (depth + 1 > p->max_nesting)
			return perr(p, "tests nested too deeply");
		sv_lex_next(&p->lx);
		n->tlist = 1;
		for (;;) {
			struct sv_node *t1 = test(p, depth + 1);

			if (t1 == NULL)
				return -1;
			n->tests = grow(p->a, n->tests, n->ntests, &tcap,
					sizeof(*n->tests));
			if (n->tests == NULL)
				return oom(p);
			n->tests[n->ntests++] = t1;
			if (p->lx.tok == TK_RPAREN)
				break;
			if (p->lx.tok != TK_COMMA)
				return perr(p, "expected ',' or ')' in the "
					       "test list");
			sv_lex_next(&p->lx);
		}
		sv_lex_next(&p->lx);
	}
	return 0;
}

static struct sv_node *test(struct sv_parser *p, size_t depth)
{
	struct sv_node *n;

	if (depth > p->max_nesting) {
		perr(p, "tests nested too deeply");
		return NULL;
	}
	if (p->lx.tok != TK_ID) {
		perr(p, "expected a test");
		return NULL;
	}
	n = sv_alloc(p->a, sizeof(*n));
	if (n == NULL) {
		oom(p);
		return NULL;
	}
	n->line = p->lx.tline;
	n->name = p->lx.s;
	sv_lex_next(&p->lx);
	if (arguments(p, n, depth) < 0)
		return NULL;
	return n;
}

static int commands(struct sv_parser *p, struct sv_node **first, size_t depth,
		    int inner);

static struct sv_node *command(struct sv_parser *p, size_t depth)
{
	struct sv_node *n = sv_alloc(p->a, sizeof(*n));

	if (n == NULL) {
		oom(p);
		return NULL;
	}
	n->line = p->lx.tline;
	n->name = p->lx.s;
	sv_lex_next(&p->lx);
	if (arguments(p, n, depth) < 0)
		return NULL;
	if (p->lx.tok == TK_SEMI) {
		sv_lex_next(&p->lx);
		return n;
	}
	if (p->lx.tok != TK_LBRACE) {
		perr(p, "expected ';' or '{'");
		return NULL;
	}
	if (depth + 1 > p->max_nesting) {
		perr(p, "blocks nested too deeply");
		return NULL;
	}
	sv_lex_next(&p->lx);
	n->has_block = 1;
	if (commands(p, &n->block, depth + 1, 1) < 0)
		return NULL;
	sv_lex_next(&p->lx); /* '}' */
	return n;
}

static int commands(struct sv_parser *p, struct sv_node **first, size_t depth,
		    int inner)
{
	struct sv_node **tail = first;

	for (;;) {
		if (p->lx.tok == TK_ERR)
			return perr(p, "");
		if (p->lx.tok == TK_RBRACE) {
			if (!inner)
				return perr(p, "unexpected '}'");
			return 0;
		}
		if (p->lx.tok == TK_EOF) {
			if (inner)
				return perr(p, "missing '}' at end of script");
			return 0;
		}
		if (p->lx.tok != TK_ID)
			return perr(p, "expected a command");
		*tail = command(p, depth);
		if (*tail == NULL)
			return -1;
		tail = &(*tail)->next;
	}
}

/* parse `text` into s->first; the arena is s->a */
int sv_parse(struct sieve_script *s, const char *text, size_t len, char *err,
	     size_t errlen)
{
	struct sv_parser p;

	memset(&p, 0, sizeof(p));
	p.a = &s->a;
	p.max_nesting = s->lim.max_nesting;
	p.err = err;
	p.errlen = errlen;
	sv_lex_init(&p.lx, text, len, &s->a);
	sv_lex_next(&p.lx);
	return commands(&p, &s->first, 0, 0);
}
