/* libFuzzer harness for the DKIM-Signature tag-list parser: any input
 * either fails or yields a signature whose invariants the verifier
 * relies on (From signed, b= span inside the input, d= non-empty). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dkim_sig sig;
	const char *why = NULL;
	bool from = false;

	if (dkim_sig_parse((const char *)data, size, &sig, &why) == 0) {
		for (size_t i = 0; i < sig.nh; i++)
			if (strcmp(sig.h[i], "from") == 0)
				from = true;
		if (!from || sig.b_voff > sig.b_vend || sig.b_vend > size ||
		    sig.d == NULL || sig.d[0] == '\0' || sig.blen == 0 ||
		    sig.i == NULL || strchr(sig.i, '@') == NULL)
			abort();
	} else if (why == NULL || why[0] == '\0') {
		abort();
	}
	dkim_sig_free(&sig);
	return 0;
}
