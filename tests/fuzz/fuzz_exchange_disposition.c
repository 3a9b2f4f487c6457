/* The attachment Content-Disposition builder: whatever the file name,
 * one header line, a quoted ASCII filename without path separators,
 * quotes or control bytes, and filename* only in attr-char and %XX. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char pfx[] = "Content-Disposition: attachment; "
				  "filename=\"";
	char out[EX_DISPOSITION_MAX], *name, *p, *q, *e;
	size_t len;

	name = malloc(size + 1);
	if (name == NULL)
		return 0;
	memcpy(name, data, size);
	name[size] = '\0';
	len = ex_content_disposition(name, out, sizeof(out));
	free(name);
	if (len != strlen(out) || len < 4 || strncmp(out, pfx, 43) != 0 ||
	    strcmp(out + len - 2, "\r\n") != 0)
		__builtin_trap();
	p = out + 43;
	q = strchr(p, '"');
	if (q == NULL || q == p || *p == '.')
		__builtin_trap();
	for (; p < q; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == '/' || *p == '\\')
			__builtin_trap();
	e = strchr(out, '\r');
	if (e != out + len - 2 || strchr(out, '\n') != out + len - 1)
		__builtin_trap();
	return 0;
}
