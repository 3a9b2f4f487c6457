/* Encoder round trip: any bytes encode to a safe component or are
 * refused, decode back exactly, and decoding arbitrary text never
 * accepts a non-canonical or unsafe component. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ss.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char enc[256], dec[512], again[256], *s;
	size_t i;

	if (ss_name_encode((const char *)data, size, enc, sizeof(enc), NULL) ==
	    0) {
		if (enc[0] == '.' || strchr(enc, '/') != NULL)
			abort();
		for (i = 0; enc[i] != '\0'; i++)
			if ((unsigned char)enc[i] < 0x20 || enc[i] == 0x7f)
				abort();
		if (ss_name_decode(enc, dec, sizeof(dec), NULL) != 0 ||
		    memcmp(dec, data, size) != 0)
			abort();
	}
	/* the decoder on raw input: accepted only if canonical */
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (ss_name_decode(s, dec, sizeof(dec), NULL) == 0) {
		if (s[0] == '.' || strchr(s, '/') != NULL)
			abort();
		/* without escapes a name decodes to itself */
		if (memchr(s, '%', size) == NULL && strcmp(dec, s) != 0)
			abort();
		if (memchr(dec, '\0', 1) == NULL &&
		    (ss_name_encode(dec, strlen(dec), again, sizeof(again),
				    NULL) != 0 ||
		     (strstr(s, "%00") == NULL && strcmp(again, s) != 0)))
			abort();
	}
	free(s);
	return 0;
}
