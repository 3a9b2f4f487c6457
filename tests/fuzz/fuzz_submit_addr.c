/* libFuzzer harness for the RFC 5321 address check: the input as one
 * NUL-terminated address; an accepted one must keep the invariants the
 * callers rely on (an '@', no CR/LF that could reach the wire). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "submit/addr_syntax.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (rm_addr_valid(s) &&
	    (strchr(s, '@') == NULL || strpbrk(s, "\r\n") != NULL))
		abort();
	free(s);
	return 0;
}
