/* libFuzzer harness for the DKIM key record parser (hostile TXT data):
 * a parsed record has a key or is revoked, never both. */
#include <stdint.h>
#include <stdlib.h>

#include "mailauth/dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dkim_keyrec k;
	const char *why = NULL;

	if (dkim_keyrec_parse((const char *)data, size, &k, &why) == 0 &&
	    k.revoked == (k.p != NULL && k.plen > 0))
		abort();
	dkim_keyrec_free(&k);
	return 0;
}
