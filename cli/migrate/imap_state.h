/*
 * The sync state of `rmail import imap`, per source mailbox: which
 * source UID (under which UIDVALIDITY) became which UID here, with the
 * size and Message-ID that match them again when the source's
 * UIDVALIDITY changes.  Files under the user directory, declared in
 * docs/storage.md ("IMAP import state").
 */
#ifndef RM_IMAP_STATE_H
#define RM_IMAP_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rm_iss_ent {
	uint32_t src, dst;
	uint64_t size;
	char *msgid;  /* "" when none */
	bool pending; /* not on disk yet */
};

struct rm_iss {
	char *path;
	uint32_t uidvalidity;
	struct rm_iss_ent *v;
	size_t n, cap;
	size_t npending;
	bool sorted;
};

/* Loads dir/<enc mbox> (a missing file is an empty state); -1 when the
 * name cannot be encoded. */
int rm_iss_load(struct rm_iss *s, const char *dir, const char *mbox);
void rm_iss_add(struct rm_iss *s, uint32_t src, uint32_t dst, uint64_t size,
		const char *msgid);
/* the entry of a source UID, or NULL (sorts the entries: pointers
 * into them last until the next add) */
struct rm_iss_ent *rm_iss_find(struct rm_iss *s, uint32_t src);
/* Appends the entries not yet on disk, durably (after the messages
 * they name are durable); -1 with errno. */
int rm_iss_flush(struct rm_iss *s);
/* Rewrites the whole file (UIDVALIDITY changed, entries dropped):
 * written aside, synced, renamed; -1 with errno. */
int rm_iss_save(struct rm_iss *s);
void rm_iss_free(struct rm_iss *s);

#endif
