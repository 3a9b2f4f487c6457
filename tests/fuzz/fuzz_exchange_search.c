/* The search endpoint's arguments: the input is q, field, limit and
 * before separated by NUL (a missing one is absent).  Whatever they
 * are, an accepted set is within every bound the worker relies on, and
 * the UTF-8 check agrees with a byte-wise reference on what it
 * accepts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <rmail/core.h>

#include "search_args.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *v[4] = {NULL, NULL, NULL, NULL};
	struct ex_search_args a;
	char *buf, *p, *end;
	size_t i;

	buf = malloc(size + 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	p = buf;
	end = buf + size;
	for (i = 0; i < 4 && p <= end; i++) {
		v[i] = p;
		p += strlen(p) + 1;
	}
	if (ex_search_args(v[0], v[1], v[2], v[3], &a) == NULL) {
		if (a.q != v[0] || a.qlen == 0 || a.qlen > EX_SEARCH_Q_MAX ||
		    a.qlen != strlen(a.q) || !rmail_utf8_valid(a.q, a.qlen) ||
		    a.limit < 1 || a.limit > EX_SEARCH_LIMIT_MAX ||
		    a.field < RMAIL_INDEX_SUBJECT ||
		    a.field > RMAIL_INDEX_TEXT ||
		    (v[3] != NULL && a.before == 0))
			__builtin_trap();
	}
	/* every byte of accepted UTF-8 is a lead or a continuation in
	 * a well-formed sequence: no 0xc0, 0xc1 or 0xf5..0xff */
	if (rmail_utf8_valid((const char *)data, size))
		for (i = 0; i < size; i++)
			if (data[i] == 0xc0 || data[i] == 0xc1 ||
			    data[i] >= 0xf5)
				__builtin_trap();
	free(buf);
	return 0;
}
