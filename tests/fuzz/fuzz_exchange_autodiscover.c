/* The autodiscover EMailAddress scanner, alone (the rest of
 * autodiscover.c needs the core). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[RMAIL_ADDR_MAX + 1];

	if (ex_autodiscover_email((const char *)data, size, out, sizeof(out)) ==
		    0 &&
	    (strlen(out) == 0 || strchr(out, '@') == NULL ||
	     strchr(out, '<') != NULL))
		__builtin_trap();
	return 0;
}
