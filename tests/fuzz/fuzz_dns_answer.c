/* libFuzzer harness for the resolver's answer conversion (core/dns/
 * dns_rr.c): the first byte picks the question type, then records as
 * a 16-bit length and that many rdata bytes, the shape libunbound
 * hands over (a hostile forwarder controls their content). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns_rr.h"

#define RECS_MAX 64

static const int types[] = {MA_T_A,   MA_T_AAAA, MA_T_MX, MA_T_TXT,
			    MA_T_PTR, MA_T_TLSA, 99,	  257};

static void check_host(const char *h)
{
	size_t n = strlen(h);

	if (n > 253)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)h[i] <= ' ' || (unsigned char)h[i] >= 0x7f ||
		    (h[i] >= 'A' && h[i] <= 'Z'))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *recs[RECS_MAX + 1];
	int lens[RECS_MAX + 1];
	struct ma_rrset rs;
	size_t n = 0, o = 1, kept;
	int type;

	if (size < 1)
		return 0;
	type = types[data[0] % (sizeof(types) / sizeof(types[0]))];
	while (n < RECS_MAX && o + 2 <= size) {
		size_t l = (size_t)data[o] << 8 | data[o + 1];

		o += 2;
		if (l > size - o)
			l = size - o;
		/* copies, so ASan sees any read past a record */
		recs[n] = malloc(l ? l : 1);
		memcpy(recs[n], data + o, l);
		lens[n++] = (int)l;
		o += l;
	}
	recs[n] = NULL;
	memset(&rs, 0, sizeof(rs));
	kept = rm_dns_rr_convert(type, recs, lens, n, &rs);
	if (kept != rs.n || rs.n > n)
		abort();
	for (size_t i = 0; i < rs.n; i++) {
		const struct ma_rr *r = &rs.rr[i];

		if (r->host != NULL)
			check_host(r->host);
		if (r->data != NULL && (r->len > size || r->data[r->len] != 0))
			abort();
		if ((type == MA_T_MX || type == MA_T_PTR) && r->host == NULL)
			abort();
	}
	{
		struct ma_rrset copy;

		if (rm_dns_rrset_copy(&copy, &rs) == 0 && copy.n != rs.n)
			abort();
		rm_dns_rrset_clear(&copy);
	}
	rm_dns_rrset_clear(&rs);
	for (size_t i = 0; i < n; i++)
		free(recs[i]);
	return 0;
}
