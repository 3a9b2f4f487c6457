/*
 * Modified UTF-7 codec: the decoder on arbitrary bytes, and both round
 * trips.  The decoder is strict, so whatever it accepts must come back
 * byte for byte from the encoder.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mutf7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char a[4096 * 4], b[4096 * 4];
	size_t alen, blen;
	const char *err;

	if (size > 4096)
		return 0;
	if (mutf7_decode((const char *)data, size, a, sizeof(a), &alen, &err) ==
	    0) {
		if (mutf7_encode(a, alen, b, sizeof(b), &blen, &err) != 0 ||
		    blen != size || memcmp(b, data, size) != 0)
			abort();
	}
	if (mutf7_encode((const char *)data, size, a, sizeof(a), &alen, &err) ==
	    0) {
		if (mutf7_decode(a, alen, b, sizeof(b), &blen, &err) != 0 ||
		    blen != size || memcmp(b, data, size) != 0)
			abort();
	}
	return 0;
}
