/*
 * libFuzzer harness for mod_shardstore's METADATA file (ss_meta.h): the
 * parser never reads outside the buffer, reports entries with names of
 * 1..RMAIL_META_NAME_MAX bytes without NUL in strictly ascending
 * order, and a file it accepts is re-written byte for byte by the
 * format's own rule.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_meta.h"

struct acc {
	char *out;
	size_t len, cap;
	char prev[RMAIL_META_NAME_MAX + 1];
	size_t prevlen;
	int any;
};

static void check(int cond)
{
	if (!cond)
		abort();
}

static void put(struct acc *a, const void *d, size_t n)
{
	if (a->len + n > a->cap) {
		a->cap = (a->len + n) * 2 + 64;
		a->out = realloc(a->out, a->cap);
		check(a->out != NULL);
	}
	memcpy(a->out + a->len, d, n);
	a->len += n;
}

static int one(void *arg, const char *name, size_t nlen, const char *value,
	       size_t vlen)
{
	struct acc *a = arg;
	char hdr[64];
	int n;

	check(nlen > 0 && nlen <= RMAIL_META_NAME_MAX);
	check(memchr(name, '\0', nlen) == NULL);
	if (a->any) {
		int c = memcmp(a->prev, name,
			       a->prevlen < nlen ? a->prevlen : nlen);

		check(c < 0 || (c == 0 && a->prevlen < nlen));
	}
	memcpy(a->prev, name, nlen);
	a->prevlen = nlen;
	a->any = 1;
	n = snprintf(hdr, sizeof(hdr), "%zu %zu\n", nlen, vlen);
	put(a, hdr, (size_t)n);
	put(a, name, nlen);
	put(a, value, vlen);
	put(a, "\n", 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct acc a;
	char *copy = malloc(size ? size : 1);

	check(copy != NULL);
	memcpy(copy, data, size);
	a.len = 0;
	a.any = 0;
	if (ss_meta_parse(copy, size, one, &a) == 0 && size > 0) {
		check(size >= sizeof(SS_META_MAGIC) - 1);
		check(a.len == size - (sizeof(SS_META_MAGIC) - 1));
		check(memcmp(a.out, copy + sizeof(SS_META_MAGIC) - 1, a.len) ==
		      0);
	}
	free(copy);
	return 0;
}
