/* Bump-allocating pools freed all at once (nginx/Dovecot).  Built with
 * RM_POOL_DEBUG every allocation is its own malloc, so ASan sees
 * overruns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm.h"

#define RM_POOL_BLOCK 4096
#define RM_POOL_LARGE 1024
#define RM_POOL_ALIGN 16

struct pool_chunk {
	struct pool_chunk *next;
	size_t used, cap;
	_Alignas(RM_POOL_ALIGN) unsigned char data[];
};

struct pool_cleanup {
	struct pool_cleanup *next;
	rmail_cleanup_fn fn;
	void *arg;
};

struct rmail_pool {
	struct rmail_pool *parent;
	struct rmail_pool *children; /* destroyed with the parent */
	struct rmail_pool *next_sibling, *prev_sibling;
	struct pool_chunk *chunks; /* current chunk first */
	struct pool_chunk *large;  /* one allocation each */
	struct pool_cleanup *cleanups;
};

void *rm_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		rm_panic("out of memory allocating %zu bytes", n);
	return p;
}

void *rm_xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);

	if (p == NULL)
		rm_panic("out of memory allocating %zu x %zu bytes", n, m);
	return p;
}

void *rm_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		rm_panic("out of memory reallocating %zu bytes", n);
	return q;
}

char *rm_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = rm_xmalloc(n);

	memcpy(d, s, n);
	return d;
}

struct rmail_pool *rm_pool_create(struct rmail_pool *parent)
{
	struct rmail_pool *p = rm_xcalloc(1, sizeof(*p));

	p->parent = parent;
	if (parent != NULL) {
		p->next_sibling = parent->children;
		if (parent->children != NULL)
			parent->children->prev_sibling = p;
		parent->children = p;
	}
	return p;
}

static void pool_free_contents(struct rmail_pool *p)
{
	struct pool_cleanup *cl;
	struct pool_chunk *c, *next;

	while (p->children != NULL) {
		struct rmail_pool *child = p->children;

		rm_pool_destroy(&child);
	}
	/* cleanups run newest first, before any memory goes away */
	while ((cl = p->cleanups) != NULL) {
		p->cleanups = cl->next;
		cl->fn(cl->arg);
	}
	for (c = p->large; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	p->large = NULL;
}

void rm_pool_reset(struct rmail_pool *p)
{
	struct pool_chunk *c, *next;

	pool_free_contents(p);
	/* keep the first chunk: transaction pools are reset often */
	if (p->chunks != NULL) {
		for (c = p->chunks->next; c != NULL; c = next) {
			next = c->next;
			free(c);
		}
		p->chunks->next = NULL;
		p->chunks->used = 0;
	}
}

void rm_pool_destroy(struct rmail_pool **pp)
{
	struct rmail_pool *p = *pp;
	struct pool_chunk *c, *next;

	if (p == NULL)
		return;
	*pp = NULL;
	pool_free_contents(p);
	for (c = p->chunks; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	if (p->parent != NULL) {
		if (p->prev_sibling != NULL)
			p->prev_sibling->next_sibling = p->next_sibling;
		else
			p->parent->children = p->next_sibling;
		if (p->next_sibling != NULL)
			p->next_sibling->prev_sibling = p->prev_sibling;
	}
	free(p);
}

static void *pool_large(struct rmail_pool *p, size_t n)
{
	struct pool_chunk *c;

	if (n > SIZE_MAX - sizeof(*c))
		rm_panic("pool allocation of %zu bytes overflows", n);
	c = rm_xmalloc(sizeof(*c) + n);
	c->used = c->cap = n;
	c->next = p->large;
	p->large = c;
	return c->data;
}

void *rm_palloc(struct rmail_pool *p, size_t n)
{
	struct pool_chunk *c;
	size_t need;

#ifdef RM_POOL_DEBUG
	return pool_large(p, n);
#endif
	if (n >= RM_POOL_LARGE)
		return pool_large(p, n);
	need = (n + RM_POOL_ALIGN - 1) & ~(size_t)(RM_POOL_ALIGN - 1);
	c = p->chunks;
	if (c == NULL || c->cap - c->used < need) {
		c = rm_xmalloc(sizeof(*c) + RM_POOL_BLOCK);
		c->used = 0;
		c->cap = RM_POOL_BLOCK;
		c->next = p->chunks;
		p->chunks = c;
	}
	c->used += need;
	return c->data + c->used - need;
}

void *rm_pcalloc(struct rmail_pool *p, size_t n)
{
	void *m = rm_palloc(p, n);

	memset(m, 0, n);
	return m;
}

char *rm_pstrndup(struct rmail_pool *p, const char *s, size_t n)
{
	char *d = rm_palloc(p, n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *rm_pstrdup(struct rmail_pool *p, const char *s)
{
	return s == NULL ? NULL : rm_pstrndup(p, s, strlen(s));
}

char *rm_pvsprintf(struct rmail_pool *p, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;
	char *d;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		n = 0;
	d = rm_palloc(p, (size_t)n + 1);
	vsnprintf(d, (size_t)n + 1, fmt, ap);
	return d;
}

char *rm_psprintf(struct rmail_pool *p, const char *fmt, ...)
{
	va_list ap;
	char *d;

	va_start(ap, fmt);
	d = rm_pvsprintf(p, fmt, ap);
	va_end(ap);
	return d;
}

void rm_pool_cleanup_add(struct rmail_pool *p, rmail_cleanup_fn fn, void *arg)
{
	struct pool_cleanup *cl = rm_palloc(p, sizeof(*cl));

	cl->fn = fn;
	cl->arg = arg;
	cl->next = p->cleanups;
	p->cleanups = cl;
}
