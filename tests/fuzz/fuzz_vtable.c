/*
 * cli/migrate/vtable.c on hostile virtual(5)/aliases text: every
 * logical line is reported once, an accepted one with 1 to
 * RM_VT_TARGETS_MAX non-empty targets none of which is a command, a
 * file or an :include:.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "migrate/vtable.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t calls;

static void on_entry(void *arg, unsigned lineno, const char *key,
		     const char *const *targets, size_t n, const char *problem)
{
	(void)arg;
	calls++;
	if (lineno == 0 || key == NULL)
		abort();
	if (problem != NULL) {
		if (n != 0)
			abort();
		return;
	}
	if (n == 0 || n > RM_VT_TARGETS_MAX || key[0] == '\0')
		abort();
	for (size_t i = 0; i < n; i++) {
		if (targets[i][0] == '\0' || targets[i][0] == '|' ||
		    targets[i][0] == '/' ||
		    strncasecmp(targets[i], ":include:", 9) == 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n;

	calls = 0;
	n = rm_vt_parse((const char *)data, size, on_entry, NULL);
	if (n != calls)
		abort();
	return 0;
}
