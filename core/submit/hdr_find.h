/*
 * Header fields by name in a received header block (hdr_find.c): what
 * spam.c removes and reads.  No core dependency.
 */
#ifndef RM_SUBMIT_HDR_FIND_H
#define RM_SUBMIT_HDR_FIND_H

#include <stdbool.h>
#include <stddef.h>

#include "mailauth/authres.h"

/* Every field called `name` (case-insensitive, WSP allowed before the
 * colon, folded lines included) in the header block at the start of
 * msg, up to its first empty line; ranges ascending, malloc'd into
 * *out (NULL when none). */
size_t rm_hdr_find(const char *msg, size_t len, const char *name,
		   struct authres_range **out);

/* Is there a field `name` whose value, unfolded and trimmed, is
 * `value` (case-insensitive)? */
bool rm_hdr_has_value(const char *msg, size_t len, const char *name,
		      const char *value);

#endif
