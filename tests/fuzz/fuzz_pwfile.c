/*
 * cli/migrate/pwfile.c on hostile passwd-file and shadow lines: whatever
 * it accepts is a user name without white space and a NUL-terminated
 * hash or password that fits, with a sane quota.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/pwfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rm_pw_entry e;
	int r = rm_pw_parse_line((const char *)data, size, &e);

	if (r == -1 && e.why == NULL)
		abort();
	if (r != 1)
		return 0;
	if (e.user[0] == '\0' || strpbrk(e.user, " \t:\n") != NULL ||
	    memchr(e.user, '\0', sizeof(e.user)) == NULL ||
	    memchr(e.hash, '\0', sizeof(e.hash)) == NULL ||
	    memchr(e.scheme, '\0', sizeof(e.scheme)) == NULL)
		abort();
	if (e.kind != RM_PW_NONE && e.hash[0] == '\0')
		abort();
	if (e.quota_mb < -1)
		abort();
	return 0;
}
