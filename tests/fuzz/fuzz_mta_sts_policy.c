/* libFuzzer harness for the MTA-STS parsers (RFC 8461): the input is a
 * policy file as served over HTTPS, and also one `_mta-sts` TXT
 * record; a parsed policy is checked against its invariants and used
 * for an MX match. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "submit/mta_sts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rm_sts_policy p;
	char id[RM_STS_ID_MAX];

	if (rm_sts_txt_parse((const char *)data, size, id) == 0 &&
	    (strlen(id) == 0 || strlen(id) >= RM_STS_ID_MAX))
		abort();
	if (rm_sts_policy_parse((const char *)data, size, &p) != 0)
		return 0;
	if (p.mode > RM_STS_ENFORCE || p.max_age > RM_STS_MAX_AGE_MAX ||
	    p.nmx > RM_STS_MX_MAX || (p.mode != RM_STS_NONE && p.nmx == 0))
		abort();
	for (size_t i = 0; i < p.nmx; i++) {
		const char *m = p.mx[i];
		size_t n = strlen(m);

		if (n == 0 || n >= RM_STS_HOST_MAX ||
		    strpbrk(m, " \t\r\n:/") != NULL)
			abort();
		/* a plain pattern matches itself */
		if (m[0] != '*' && !rm_mta_sts_mx_match(&p, m))
			abort();
	}
	(void)rm_mta_sts_mx_match(&p, "mx.example.com");
	return 0;
}
