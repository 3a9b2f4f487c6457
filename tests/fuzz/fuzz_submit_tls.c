/* libFuzzer harness for the outbound TLS policy's parsers of untrusted
 * input: the input as TLSA rdata (a usable record's fields in range,
 * its data inside the input) and as a message whose header may carry
 * "TLS-Required: No" (never reading past the input: ASan checks). */
#include <stdlib.h>
#include <string.h>

#include "submit/tls_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rm_tlsa_view v;
	char *copy = malloc(size ? size : 1);

	if (rm_tlsa_parse(data, size, &v)) {
		if ((v.usage != 2 && v.usage != 3) || v.selector > 1 ||
		    v.mtype > 2 || v.len == 0 || v.data != data + 3 ||
		    v.len != size - 3)
			abort();
	}
	/* an exact-size copy: any read past the end is caught */
	if (copy != NULL) {
		memcpy(copy, data, size);
		(void)rm_tls_required_no_buf(copy, size);
		free(copy);
	}
	return 0;
}
