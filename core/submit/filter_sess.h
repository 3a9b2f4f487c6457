/*
 * The per-session filter chain behind core->filter_sess_* (filter.h,
 * ABI 1.4), and what the submission service needs of it.  Loop thread.
 */
#ifndef RM_FILTER_SESS_H
#define RM_FILTER_SESS_H

#include <stdbool.h>

#include "rm.h"

/* does any loaded filter module follow sessions */
bool rm_filter_sess_wanted(void);
struct rmail_filter_sess *
rm_filter_sess_open(const struct rmail_filter_step *st);
/* core->filter_sess_step: every step but DATA */
void rm_filter_sess_step(struct rmail_filter_sess *fs,
			 const struct rmail_filter_step *st,
			 rmail_filter_sess_fn cb, void *arg);
/* any step; edits of a DATA reply are allocated from pool */
void rm_filter_sess_run(struct rmail_filter_sess *fs,
			const struct rmail_filter_step *st,
			struct rmail_pool *pool, rmail_filter_sess_fn cb,
			void *arg);
/* the protocol module's end of the session */
void rm_filter_sess_close(struct rmail_filter_sess **fs);
/* a commit's own reference */
void rm_filter_sess_ref(struct rmail_filter_sess *fs);
void rm_filter_sess_release(struct rmail_filter_sess **fs);
/* the fields earlier steps told (listener, peer, helo, ...) */
const struct rmail_filter_step *
rm_filter_sess_base(const struct rmail_filter_sess *fs);

/* msg_edit.c [worker]: the message prepend + fd[0, size) with edits
 * applied (header and body edits only; the rest is the caller's),
 * into a new memfd: its descriptor, or -1 with errno and the reason in
 * err.  *size_r the new size. */
int rm_msg_edit(const char *prepend, int fd, uint64_t size,
		const struct rmail_filter_edit *edits, size_t nedits,
		uint64_t *size_r, struct rmail_err *err);
/* do edits touch the header block or the body */
bool rm_msg_edits_content(const struct rmail_filter_edit *edits, size_t nedits);

#endif
