/* libFuzzer harness for the DMARC policy record parser: the input is
 * one TXT record's data (it may hold NUL bytes). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmarc_record r;
	int st = dmarc_record_parse((const char *)data, size, &r);

	if (st != DMARC_REC_OK)
		return 0;
	if (r.p > DMARC_P_REJECT || r.sp > DMARC_P_REJECT || r.pct > 100 ||
	    r.nrua > DMARC_MAX_RUA || strlen(r.fo) >= sizeof(r.fo))
		abort();
	for (size_t i = 0; i < r.nrua; i++) {
		const char *a = r.rua[i].addr;

		if (strlen(a) >= sizeof(r.rua[i].addr) ||
		    strchr(a, '@') == NULL || strpbrk(a, "\r\n <>,") != NULL)
			abort();
	}
	return 0;
}
