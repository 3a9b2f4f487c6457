/* libFuzzer harness for DNS answer parsing: the input is a whole answer
 * message, walked for MX records and for A/AAAA addresses. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "submit/mx_parse.h"

static void on_mx(void *arg, unsigned pref, const char *host)
{
	size_t *n = arg;

	if (pref > 0xffff || strlen(host) >= 1025)
		abort();
	(*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rm_addr out[8];
	size_t nmx = 0, n;

	if (size > 65535)
		return 0;
	(void)rm_mx_parse(data, (int)size, on_mx, &nmx);
	n = rm_addrs_parse(data, (int)size, 25, out, 8);
	if (n > 8)
		abort();
	for (size_t i = 0; i < n; i++)
		if (out[i].ss.ss_family != AF_INET &&
		    out[i].ss.ss_family != AF_INET6)
			abort();
	return 0;
}
