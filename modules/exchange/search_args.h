/* The search endpoint's arguments, checked (pure: fuzzed by
 * tests/fuzz/fuzz_exchange_search.c). */
#ifndef EX_SEARCH_ARGS_H
#define EX_SEARCH_ARGS_H

#include <stddef.h>
#include <stdint.h>

/* bytes of q after percent-decoding; more is a 400 */
#define EX_SEARCH_Q_MAX 256
#define EX_SEARCH_LIMIT_MAX 200
#define EX_SEARCH_LIMIT_DEFAULT 50

struct ex_search_args {
	const char *q; /* valid UTF-8, 1..EX_SEARCH_Q_MAX bytes, no NUL */
	size_t qlen;
	int field;	 /* enum rmail_index_field */
	uint32_t limit;	 /* 1..EX_SEARCH_LIMIT_MAX */
	uint32_t before; /* only UIDs below it; 0: from the newest */
};

/* The percent-decoded values (NULL: absent) into a; NULL when they are
 * valid, else the message of the 400. */
const char *ex_search_args(const char *q, const char *field, const char *limit,
			   const char *before, struct ex_search_args *a);

#endif
