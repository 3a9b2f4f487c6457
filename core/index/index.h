/* The header cache and full-text index as the rest of the core sees
 * it (core/index; the rmail_core entries index_headers, index_search,
 * index_update).  Internal to the core. */
#ifndef RM_INDEX_H
#define RM_INDEX_H

#include <stdint.h>

#include <rmail/core.h>

int rm_index_headers(const char *user, const char *mailbox,
		     uint32_t uidvalidity, const uint32_t *uids, size_t n,
		     rmail_index_hdr_fn cb, void *arg, struct rmail_err *err);
int rm_index_search(const char *user, const char *mailbox, uint32_t uidvalidity,
		    int field, const char *needle, size_t n,
		    struct rmail_index_result *r, struct rmail_err *err);
int rm_index_match(const char *data, size_t len, int field, const char *needle,
		   size_t n, struct rmail_err *err);
/* rmail_core.search_text (idx_doc.c) */
size_t rm_search_text(struct rmail_mime *mime, const char *data, size_t len,
		      int what, const char *field, char **buf, size_t *len_r,
		      size_t *cap_r);
/* [loop] */
void rm_index_update(const char *user, const char *mailbox);

/* the update thread: started by serve, stopped (jobs dropped) at exit */
int rm_index_start(void);
void rm_index_stop(void);

/* [blocking, no loop running: the CLI] drop the user's index and
 * build it again from every mailbox; the number of messages indexed,
 * or -1 with err */
int64_t rm_index_rebuild(const char *user, struct rmail_err *err);

/* [blocking] check-store's part: every index file passes quick_check
 * (a finding per bad one, deleted with repair); repair with drop_all
 * deletes every file.  Returns the findings left. */
int rm_index_check(int repair, int drop_all, rmail_check_fn cb, void *arg);

/* [blocking] index the messages of an open view above the high-water
 * UID (the update job and rebuild share it); `uids` are the view's */
int rm_index_mailbox(const char *user, const char *mailbox,
		     uint32_t uidvalidity, struct rmail_mbox *mb,
		     const uint32_t *uids, const uint64_t *sizes, size_t n,
		     const volatile int *cancel);

/* wrap the core's copy of the store's table so that every append,
 * copy, move and expunge asks for an update (idx_hook.c) */
void rm_index_hook_store(struct rmail_store_ops *ops);
/* the views and appends the hook tracks now (tests) */
size_t rm_index_hook_tracked(void);

#endif
