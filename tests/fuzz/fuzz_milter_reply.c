/* libFuzzer harness for the milter reply parser: the input is a byte
 * stream from a milter, framed packet by packet as mod_milter reads
 * its socket; each packet is parsed as a reply and as an option
 * negotiation, and what a parse returns is read back in full. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "milter_proto.h"

static size_t touch(const char *s)
{
	return s != NULL ? strlen(s) : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0, used, sum = 0;
	struct milter_pkt p;

	while (off < size &&
	       milter_frame(data + off, size - off, &p, &used) == 1) {
		char *store = malloc(p.len + 2);
		struct milter_reply r;
		struct milter_optneg o;
		const char *why = NULL;

		if (milter_parse_reply(&p, &r, store, p.len + 2, &why) == 0) {
			sum += touch(r.s1) + touch(r.s2) + strlen(r.text);
			for (size_t i = 0; i < r.blen; i++)
				sum += r.body[i];
		}
		if (milter_parse_optneg(&p, &o, store, p.len + 2, &why) == 0)
			for (int i = 0; i < MILTER_M_COUNT; i++)
				sum += touch(o.macros[i]);
		free(store);
		off += used;
	}
	return sum == (size_t)-1;
}
