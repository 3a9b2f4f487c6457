/*
 * modules/shardstore/pwscheme.c on hostile stored hashes (an imported
 * passwd-file is untrusted): no crash, no over-read, and the costs are
 * capped low so a hash cannot make one run slow.  The input is
 * "password\nhash".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pwscheme.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ss_pw_limits lim = {64, 2, 2, 64};
	char buf[1024], *nl, scheme[32];
	int v;

	if (size >= sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	nl = strchr(buf, '\n');
	if (nl == NULL)
		return 0;
	*nl = '\0';
	v = ss_pw_verify(buf, nl + 1, &lim, scheme, sizeof(scheme));
	if (v < SS_PW_TOO_COSTLY || v > SS_PW_MATCH)
		abort();
	if (memchr(scheme, '\0', sizeof(scheme)) == NULL)
		abort();
	v = ss_pw_storable(nl + 1);
	/* storable runs no hash: only the parse */
	if (v > 0)
		abort();
	return 0;
}
