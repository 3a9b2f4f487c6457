/* The index's buffers, and its fold: the core's i;unicode-casemap,
 * the one SEARCH uses, so both find the same messages. */
#include <stdlib.h>
#include <string.h>

#include "idx.h"
#include "text/casemap.h"

void idx_buf_add(struct idx_buf *b, const void *d, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (b->p == NULL)
			abort();
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void idx_buf_puts(struct idx_buf *b, const char *s)
{
	idx_buf_add(b, s, strlen(s));
}

void idx_buf_free(struct idx_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static void reserve(struct idx_buf *b, size_t extra)
{
	size_t cap;

	if (b->len + extra + 1 <= b->cap)
		return;
	cap = b->cap * 2 > b->len + extra + 1 ? b->cap * 2 : b->len + extra + 1;
	b->p = realloc(b->p, cap);
	if (b->p == NULL)
		abort();
	b->cap = cap;
}

void idx_fold(const char *s, size_t n, struct idx_buf *out)
{
	size_t need;

	/* ASCII folds to its own length: one call in the common case */
	reserve(out, n + 16);
	need = rm_casemap(s, n, out->p + out->len, out->cap - out->len - 1);
	if (need > out->cap - out->len - 1) {
		reserve(out, need);
		need = rm_casemap(s, n, out->p + out->len,
				  out->cap - out->len - 1);
	}
	out->len += need;
	out->p[out->len] = '\0';
}
