/* sieve_compile(): limits, the arena, parse then check, and the
 * compile-time resolution of RFC 6609 includes (their names are
 * constants), each distinct script compiled once per top script. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sieve_int.h"

/* the arena of one script: the tree costs a few times the text, so cap
 * it at a multiple of the text and say "too complex" beyond */
static size_t arena_cap(size_t len)
{
	return 256 * 1024 + 64 * len;
}

static struct sieve_script *compile_text(struct sv_cctx *c, const char *text,
					 size_t len, char *err, size_t errlen)
{
	struct sieve_script *s;

	if (len > c->lim.max_script) {
		sv_err(err, errlen, 1, "script too large (%zu > %zu bytes)",
		       len, c->lim.max_script);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		sv_err(err, errlen, 1, "out of memory");
		return NULL;
	}
	s->a.cap = arena_cap(len);
	s->lim = c->lim;
	if (sv_parse(s, text, len, err, errlen) < 0 ||
	    sv_check(c, s, err, errlen) < 0) {
		sv_arena_free(&s->a);
		free(s);
		return NULL;
	}
	return s;
}

struct sieve_script *sv_include(struct sv_cctx *c, int global, const char *name,
				int optional, unsigned line, char *err,
				size_t errlen)
{
	struct sieve_script *s;
	char *text, sub[200];
	size_t len = 0;

	for (size_t i = 0; i < c->depth; i++)
		if (c->stack[i].global == global &&
		    strcmp(c->stack[i].name, name) == 0) {
			sv_err(err, errlen, line, "include loop through \"%s\"",
			       name);
			return NULL;
		}
	for (s = c->top->incs; s != NULL; s = s->incs_next)
		if (s->global == global && strcmp(s->name, name) == 0)
			return s;
	if (c->depth >= c->lim.max_includes) {
		sv_err(err, errlen, line, "includes nested too deeply (%zu)",
		       c->lim.max_includes);
		return NULL;
	}
	if (c->nscripts >= 8 * c->lim.max_includes) {
		sv_err(err, errlen, line, "too many included scripts");
		return NULL;
	}
	text = c->inc(c->inc_arg, global, name, &len);
	if (text == NULL) {
		if (optional) {
			err[0] = '\0';
			return NULL;
		}
		sv_err(err, errlen, line, "include: no %s script \"%s\"",
		       global ? "global" : "personal", name);
		return NULL;
	}
	c->stack[c->depth].global = global;
	c->stack[c->depth].name = name;
	c->depth++;
	s = compile_text(c, text, len, sub, sizeof(sub));
	c->depth--;
	free(text);
	if (s == NULL) {
		sv_err(err, errlen, line, "in included \"%s\": %s", name, sub);
		return NULL;
	}
	c->nscripts++;
	s->global = global;
	s->name = sv_memdup(&s->a, name, strlen(name));
	s->incs_next = c->top->incs;
	c->top->incs = s;
	return s;
}

static void limits(struct sieve_limits *d, const struct sieve_limits *l)
{
	static const struct sieve_limits zero;

	if (l == NULL)
		l = &zero;
	*d = *l;
	if (d->max_script == 0)
		d->max_script = SIEVE_DEF_MAX_SCRIPT;
	if (d->max_nesting == 0)
		d->max_nesting = SIEVE_DEF_MAX_NESTING;
	if (d->max_includes == 0)
		d->max_includes = SIEVE_DEF_MAX_INCLUDES;
	if (d->max_actions == 0)
		d->max_actions = SIEVE_DEF_MAX_ACTIONS;
	if (d->max_redirects == 0)
		d->max_redirects = SIEVE_DEF_MAX_REDIRECTS;
	if (d->max_steps == 0)
		d->max_steps = SIEVE_DEF_MAX_STEPS;
}

struct sieve_script *sieve_compile(const char *text, size_t len,
				   const struct sieve_limits *lim,
				   sieve_include_fn inc, void *inc_arg,
				   char *err, size_t errlen)
{
	struct sv_cctx c;
	struct sieve_script holder, *s;
	char dummy[1];

	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	memset(&c, 0, sizeof(c));
	limits(&c.lim, lim);
	c.inc = inc;
	c.inc_arg = inc_arg;
	c.stack = calloc(c.lim.max_includes + 1, sizeof(*c.stack));
	if (c.stack == NULL) {
		sv_err(err, errlen, 1, "out of memory");
		return NULL;
	}
	/* includes compiled on the way hang off `holder` until the top
	 * script exists */
	memset(&holder, 0, sizeof(holder));
	c.top = &holder;
	s = compile_text(&c, text, len, err, errlen);
	free(c.stack);
	if (s == NULL) {
		for (struct sieve_script *i = holder.incs, *n; i; i = n) {
			n = i->incs_next;
			sv_arena_free(&i->a);
			free(i);
		}
		return NULL;
	}
	s->incs = holder.incs;
	return s;
}

void sieve_free(struct sieve_script *s)
{
	if (s == NULL)
		return;
	for (struct sieve_script *i = s->incs, *n; i != NULL; i = n) {
		n = i->incs_next;
		sv_arena_free(&i->a);
		free(i);
	}
	sv_arena_free(&s->a);
	free(s);
}
