/* A bump allocator with a byte cap: a compiled script and a run each own
 * one, so hostile input is bounded by the cap and freed in one go. */
#include <stdlib.h>
#include <string.h>

#include "sieve_int.h"

struct sv_chunk {
	struct sv_chunk *next;
	size_t size, off;
	_Alignas(16) unsigned char data[];
};

#define SV_CHUNK 8192

void *sv_alloc(struct sv_arena *a, size_t n)
{
	struct sv_chunk *c = a->head;

	n = (n + 15) & ~(size_t)15;
	if (n == 0)
		n = 16;
	if (a->cap != 0 && (n > a->cap || a->used > a->cap - n))
		return NULL;
	if (c == NULL || c->size - c->off < n) {
		size_t sz = n > SV_CHUNK ? n : SV_CHUNK;

		c = malloc(sizeof(*c) + sz);
		if (c == NULL)
			return NULL;
		c->size = sz;
		c->off = 0;
		c->next = a->head;
		a->head = c;
	}
	void *p = c->data + c->off;

	c->off += n;
	a->used += n;
	memset(p, 0, n);
	return p;
}

char *sv_memdup(struct sv_arena *a, const char *p, size_t n)
{
	char *d = sv_alloc(a, n + 1);

	if (d != NULL && n > 0)
		memcpy(d, p, n);
	return d;
}

void sv_arena_free(struct sv_arena *a)
{
	struct sv_chunk *c = a->head;

	while (c != NULL) {
		struct sv_chunk *n = c->next;

		free(c);
		c = n;
	}
	a->head = NULL;
	a->used = 0;
}
