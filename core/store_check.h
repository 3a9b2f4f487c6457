/* `rmail check-store`: the shard store's fsck (core/store_check.c). */
#ifndef RM_STORE_CHECK_H
#define RM_STORE_CHECK_H

#include <stdbool.h>
#include <stdio.h>

/* Walk every mailbox under mail_root (docs/storage.md): orphan
 * temporaries, leftover .new./.del. directories, one UID under several
 * names, stray files, counters at or below the highest UID.  Each
 * finding is a line on out; with repair the fix is applied and said.
 * Returns the number of problems left unrepaired, or -1 when the root
 * cannot be read. */
int rm_store_check(const char *mail_root, bool repair, FILE *out,
		   unsigned *found_r);

#endif
