/*
 * rmail_store_op_duration_seconds{op}: the store ops as the core sees
 * them, timed at the ops table so internal calls (move's copy, open's
 * refresh) are not counted twice.
 */
#ifndef SS_OPTIME_H
#define SS_OPTIME_H

#include "ss_mbox.h"

/* optime.c: the timed entries of the ops table */
int ss_t_mbox_open(void *h, const char *user, const char *name,
		   struct rmail_mbox **mb_r, struct rmail_err *err);
int ss_t_mbox_refresh(struct rmail_mbox *mb, struct rmail_err *err);
int ss_t_msg_flags(struct rmail_mbox *mb, uint32_t uid, int mode,
		   uint32_t flags, const char *const *keywords,
		   size_t nkeywords, struct rmail_msg *new_r,
		   struct rmail_err *err);
int ss_t_msg_flags_unchanged(struct rmail_mbox *mb, uint32_t uid,
			     uint64_t unchangedsince, int mode, uint32_t flags,
			     const char *const *keywords, size_t nkeywords,
			     struct rmail_msg *new_r, struct rmail_err *err);
int ss_t_msg_read(struct rmail_mbox *mb, uint32_t uid, uint64_t off, void *buf,
		  size_t len, size_t *got_r, struct rmail_err *err);
int ss_t_msg_copy(struct rmail_mbox *mb, const uint32_t *uids, size_t n,
		  const char *dst, uint32_t *dst_uids_r,
		  uint32_t *dst_uidvalidity_r, struct rmail_err *err);
int ss_t_msg_move_some(struct rmail_mbox *mb, const uint32_t *uids, size_t n,
		       const char *dst, uint32_t *dst_uids_r,
		       uint32_t *dst_uidvalidity_r, struct rmail_err *err);
int ss_t_msg_move(struct rmail_mbox *mb, const uint32_t *uids, size_t n,
		  const char *dst, uint32_t *dst_uids_r,
		  uint32_t *dst_uidvalidity_r, struct rmail_err *err);
int ss_t_msg_expunge(struct rmail_mbox *mb, const uint32_t *uids, size_t n,
		     struct rmail_err *err);
int ss_t_append_commit(struct rmail_append *ap, uint32_t *uid_r,
		       uint32_t *uidvalidity_r, struct rmail_err *err);

/* append.c: the store an append belongs to */
struct ss_store *ss_append_store(const struct rmail_append *ap);

#endif
