/* libFuzzer harness for the TLS-RPT record parser (RFC 8460 §3): the
 * input is one `_smtp._tls` TXT record's data.  The rua= URIs become
 * report destinations, so each one is checked to be safe to use. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "submit/tlsrpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rm_tlsrpt_record r;

	if (rm_tlsrpt_record_parse((const char *)data, size, &r) != 0)
		return 0;
	if (r.nrua == 0 || r.nrua > RM_TLSRPT_RUA_MAX)
		abort();
	for (size_t i = 0; i < r.nrua; i++) {
		const char *u = r.rua[i];

		if (strlen(u) >= RM_TLSRPT_URI_MAX ||
		    strpbrk(u, " \t\r\n") != NULL)
			abort();
		if (strncasecmp(u, "mailto:", 7) == 0) {
			const char *at = strchr(u + 7, '@');

			if (at == NULL || at == u + 7 || at[1] == '\0' ||
			    strchr(at + 1, '@') != NULL ||
			    strpbrk(u + 7, "<>,;\"") != NULL)
				abort();
		} else if (strncasecmp(u, "https://", 8) != 0) {
			abort();
		}
	}
	return 0;
}
