/*
 * Postfix virtual(5) tables and /etc/aliases-style lines, for rmail
 * import aliases (vtable.c).  Pure, fuzzed as is.
 */
#ifndef RM_VTABLE_H
#define RM_VTABLE_H

#include <stddef.h>

#define RM_VT_TARGETS_MAX 64
#define RM_VT_LINE_MAX 8192

/* One logical line: an alias with its targets, or (problem != NULL)
 * why it is not imported.  key and targets are as written, with a
 * trailing ':' of aliases(5) removed; they live during the call. */
typedef void (*rm_vt_fn)(void *arg, unsigned lineno, const char *key,
			 const char *const *targets, size_t n,
			 const char *problem);

/* Calls cb once per logical line (continuations joined, comments and
 * blank lines skipped); returns the number of logical lines. */
size_t rm_vt_parse(const char *buf, size_t len, rm_vt_fn cb, void *arg);

#endif
