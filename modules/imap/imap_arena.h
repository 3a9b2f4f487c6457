/*
 * A bump allocator over a caller-provided buffer.  Everything the pure
 * IMAP parsers build lives in one of these, so the memory a command can
 * cost is exactly the buffer the session handed in.
 */
#ifndef IMAP_ARENA_H
#define IMAP_ARENA_H

#include <stddef.h>
#include <stdint.h>

struct imap_arena {
	char *base;
	size_t cap;
	size_t used;
};

static inline void imap_arena_init(struct imap_arena *a, void *mem, size_t cap)
{
	a->base = mem;
	a->cap = cap;
	a->used = 0;
}

static inline void imap_arena_reset(struct imap_arena *a)
{
	a->used = 0;
}

static inline size_t imap_arena_left(const struct imap_arena *a)
{
	return a->cap - a->used;
}

/* Zeroed, pointer-aligned memory, or NULL when the buffer is full. */
static inline void *imap_arena_alloc(struct imap_arena *a, size_t n)
{
	size_t align = sizeof(void *) > sizeof(uint64_t) ? sizeof(void *)
							 : sizeof(uint64_t);
	size_t off = (a->used + align - 1) & ~(align - 1);
	char *p;
	size_t i;

	if (off > a->cap || n > a->cap - off)
		return NULL;
	p = a->base + off;
	for (i = 0; i < n; i++)
		p[i] = 0;
	a->used = off + n;
	return p;
}

#endif
