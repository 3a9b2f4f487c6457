/* libFuzzer harness for the PROXY protocol header parser: whatever the
 * bytes, a complete header is never longer than the input or the cap,
 * every shorter prefix of it asks for more (never a different verdict),
 * and an address family is one the connection code can take. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "net/proxy_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rm_proxy_hdr h;
	const char *why;
	int n = rm_proxy_parse(data, size, &h, &why);

	if (n < 0) {
		if (why == NULL)
			abort();
		return 0;
	}
	if (n == 0)
		return 0;
	if ((size_t)n > size || n > RM_PROXY_MAX)
		abort();
	if (h.family != 0 && h.family != AF_INET && h.family != AF_INET6)
		abort();
	for (int k = 0; k < n; k++)
		if (rm_proxy_parse(data, (size_t)k, &h, &why) != 0)
			abort();
	return 0;
}
