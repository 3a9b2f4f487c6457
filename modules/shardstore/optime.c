/*
 * Timed wrappers of the store ops: one clock_gettime pair per op, and
 * none at all without a daemon to report to (in-process tests and the
 * benchmark open the store with no module context).
 */
#include <sys/types.h>
#include <time.h>

#include "ss_optime.h"

#define OP_METRIC "rmail_store_op_duration_seconds"

static bool op_timed(const struct ss_store *st)
{
	return st != NULL && st->m != NULL && st->core != NULL &&
	       st->core->metric_observe != NULL;
}

static void op_start(const struct ss_store *st, struct timespec *t0)
{
	if (op_timed(st))
		clock_gettime(CLOCK_MONOTONIC, t0);
	else
		t0->tv_sec = t0->tv_nsec = 0;
}

/* failures are timed too: a slow failing disk is what to alert on */
static void op_done(const struct ss_store *st, const char *labels,
		    const struct timespec *t0)
{
	struct timespec t1;
	double secs;

	if ((t0->tv_sec == 0 && t0->tv_nsec == 0) || !op_timed(st))
		return;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0->tv_sec) +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
	st->core->metric_observe(OP_METRIC, labels, secs < 0 ? 0 : secs);
}

int ss_t_mbox_open(void *h, const char *user, const char *name,
		   struct rmail_mbox **mb_r, struct rmail_err *err)
{
	struct timespec t0;
	int ret;

	op_start(h, &t0);
	ret = ss_mbox_open(h, user, name, mb_r, err);
	op_done(h, "op=\"open\"", &t0);
	return ret;
}

int ss_t_mbox_refresh(struct rmail_mbox *mb, struct rmail_err *err)
{
	struct timespec t0;
	int ret;

	op_start(mb->st, &t0);
	ret = ss_mbox_refresh(mb, err);
	op_done(mb->st, "op=\"refresh\"", &t0);
	return ret;
}

int ss_t_msg_flags(struct rmail_mbox *mb, uint32_t uid, int mode,
		   uint32_t flags, const char *const *keywords,
		   size_t nkeywords, struct rmail_msg *new_r,
		   struct rmail_err *err)
{
	struct timespec t0;
	int ret;

	op_start(mb->st, &t0);
	ret = ss_msg_flags(mb, uid, mode, flags, keywords, nkeywords, new_r,
			   err);
	op_done(mb->st, "op=\"flags\"", &t0);
	return ret;
}

int ss_t_msg_flags_unchanged(struct rmail_mbox *mb, uint32_t uid,
			     uint64_t unchangedsince, int mode, uint32_t flags,
			     const char *const *keywords, size_t nkeywords,
			     struct rmail_msg *new_r, struct rmail_err *err)
{
	struct timespec t0;
	int ret;

	op_start(mb->st, &t0);
	ret = ss_msg_flags_unchanged(mb, uid, unchangedsince, mode, flags,
				     keywords, nkeywords, new_r, err);
	op_done(mb->st, "op=\"flags\"", &t0);
	return ret;
}

int ss_t_msg_read(struct rmail_mbox *mb, uint32_t uid, uint64_t off, void *buf,
		  size_t len, size_t *got_r, struct rmail_err *err)
{
	struct timespec t0;
	int ret;

	op_start(mb->st, &t0);
	ret = ss_msg_read(mb, uid, off, buf, len, got_r, err);
	op_done(mb->st, "op=\"read\"", &t0);
	return ret;
}

int ss_t_msg_copy(struct rmail_mbox *mb, const uint32_t *uids, size_t n,
		  const char *dst, uint32_t *dst_uids_r,
		  uint32_t *dst_uidvalidity_r, struct rmail_err *err)
{
	struct timespec t0;
	int ret;

	op_start(mb->st, &t0);
	ret = ss_msg_copy(mb, uids, n, dst, dst_uids_r, dst_uidvalidity_r, err);
	op_done(mb->st, "op=\"copy\"", &t0);
	return ret;
}

int ss_t_msg_move(struct rmail_mbox *mb, const uint32_t *uids, size_t n,
		  const char *dst, uint32_t *dst_uids_r,
		  uint32_t *dst_uidvalidity_r, struct rmail_err *err)
{
	struct timespec t0;
	int ret;

	op_start(mb->st, &t0);
	ret = ss_msg_move(mb, uids, n, dst, dst_uids_r, dst_uidvalidity_r, err);
	op_done(mb->st, "op=\"move\"", &t0);
	return ret;
}

int ss_t_msg_move_some(struct rmail_mbox *mb, const uint32_t *uids, size_t n,
		       const char *dst, uint32_t *dst_uids_r,
		       uint32_t *dst_uidvalidity_r, struct rmail_err *err)
{
	struct timespec t0;
	int ret;

	op_start(mb->st, &t0);
	ret = ss_msg_move_some(mb, uids, n, dst, dst_uids_r, dst_uidvalidity_r,
			       err);
	op_done(mb->st, "op=\"move\"", &t0);
	return ret;
}

int ss_t_msg_expunge(struct rmail_mbox *mb, const uint32_t *uids, size_t n,
		     struct rmail_err *err)
{
	struct timespec t0;
	int ret;

	op_start(mb->st, &t0);
	ret = ss_msg_expunge(mb, uids, n, err);
	op_done(mb->st, "op=\"expunge\"", &t0);
	return ret;
}

int ss_t_append_commit(struct rmail_append *ap, uint32_t *uid_r,
		       uint32_t *uidvalidity_r, struct rmail_err *err)
{
	/* read before the commit: the handle stays valid until free */
	const struct ss_store *st = ss_append_store(ap);
	struct timespec t0;
	int ret;

	op_start(st, &t0);
	ret = ss_append_commit(ap, uid_r, uidvalidity_r, err);
	op_done(st, "op=\"append\"", &t0);
	return ret;
}
