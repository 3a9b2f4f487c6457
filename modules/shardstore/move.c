/*
 * Move.  Each source message is claimed before anything is committed:
 * its current name is renamed into the destination's tmp/, the same
 * compare-and-swap on the name that flag changes use, so of concurrent
 * moves, expunges and flag changes of one message exactly one rename
 * wins and a lost one sees the message gone.  The claims are then
 * committed like a copy (one UID lock hold) and the source records its
 * expunges.  A claim is a dot name that carries the message's flags,
 * which check-store never removes: a crash between claim and commit
 * hides the message there, never loses it, and `check-store --repair`
 * commits it.  The user's usage does not change, so quota is neither checked
 * nor charged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ss_mbox.h"
#include "users_int.h"

#define SS_CAS_TRIES 64

struct claim {
	char tmp[256];	   /* in the destination; "" when not held */
	struct ss_fname f; /* the source's name */
	struct ss_fname d; /* the destination's (uid once committed) */
	uint64_t tomb;	   /* the source's tombstone modseq, 0: none */
	uint64_t m;	   /* that of the claim that held */
	bool settle;	   /* the destination name needs a restamp */
};

/* "tmp/.move.{host}.{pid}.{seq}" in dm, unique like a temporary */
static int claim_base(struct rmail_mbox *dm, char *out, size_t outsz)
{
	char t[96];
	int fd = ss_tmp_create(dm, t, sizeof(t));
	char *dot;

	if (fd < 0)
		return -1;
	close(fd);
	unlinkat(dm->dirfd, t, 0);
	dot = strrchr(t, '.'); /* ".tmp" */
	if (dot != NULL)
		*dot = '\0';
	snprintf(out, outsz, "tmp/.move.%s", t + 4);
	return 0;
}

/*
 * The claim's full name carries the message's destination file name
 * (source UID, flags with keywords already in the destination's
 * table): "{base}~{uid},{size},{date},{flags}.eml".  A crash before the
 * commit leaves everything check-store needs to commit it.
 */
static void claim_name(const char *base, const struct ss_fname *d, char *out,
		       size_t outsz)
{
	char name[SS_FNAME_MAX];

	ss_fname_format(d, name);
	snprintf(out, outsz, "%s~%s", base, name);
}

/* EXDEV: a private copy, then the source's unlink is the claim */
static int claim_copy(struct rmail_mbox *mb, struct rmail_mbox *dm,
		      const char *src, const char *tmp)
{
	int s = openat(mb->dirfd, src, O_RDONLY | O_CLOEXEC), d, rc;

	if (s < 0)
		return -1;
	d = openat(dm->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		   0640);
	if (d < 0) {
		close(s);
		return -1;
	}
	ss_mbox_chown(dm->st, d);
	rc = ss_copy_bytes(s, d);
	close(s);
	close(d);
	if (rc == 0 && unlinkat(mb->dirfd, src, 0) == 0)
		return 0;
	rc = errno;
	unlinkat(dm->dirfd, tmp, 0);
	errno = rc;
	return -1;
}

/* 1 claimed, 0 already gone, -1 error */
static int claim_one(struct rmail_mbox *mb, struct rmail_mbox *dm, uint32_t uid,
		     struct claim *c, struct rmail_err *err)
{
	char src[SS_FNAME_MAX + 16], base[128];
	struct ss_fname f, d;
	int tries;

	c->tmp[0] = '\0';
	c->tomb = 0;
	if (ss_msg_state(mb, uid, &f) < 0)
		return 0;
	if (claim_base(dm, base, sizeof(base)) < 0)
		return rmail_err_set(err, RMAIL_E_IO, "move: %s",
				     strerror(errno));
	for (tries = 0; tries < SS_CAS_TRIES; tries++) {
		int rc;

		/* the source's expunge is durable before its name goes */
		if (c->tomb == 0 && ss_msg_tombstone(mb, &f, &c->tomb) < 0) {
			c->tmp[0] = '\0';
			c->tomb = 0;
			return rmail_err_set(err, RMAIL_E_IO, "tombstone: %s",
					     strerror(errno));
		}
		/* keyword indexes differ per mailbox: map through names */
		d = f;
		if (ss_kw_translate(mb, dm, f.keywords, &d.keywords, err) < 0) {
			c->tmp[0] = '\0';
			return -1;
		}
		claim_name(base, &d, c->tmp, sizeof(c->tmp));
		ss_msg_rel(&f, src, sizeof(src));
		rc = renameat(mb->dirfd, src, dm->dirfd, c->tmp);
		if (rc < 0 && errno == EXDEV)
			rc = claim_copy(mb, dm, src, c->tmp);
		if (rc == 0) {
			c->f = f;
			c->d = d;
			c->m = c->tomb;
			/* (network filesystems: releases the counter before
			 * the destination's UID lock) */
			ss_modseq_end(mb, c->tomb);
			c->tomb = 0;
			return 1;
		}
		if (errno != ENOENT)
			break;
		/* changed or gone: the disk says which; changed, it may
		 * carry a higher modseq than the tombstone */
		ss_modseq_end(mb, c->tomb);
		c->tomb = 0;
		if (ss_msg_locate(mb, uid, &f) < 0) {
			c->tmp[0] = '\0';
			return 0;
		}
	}
	if (c->tomb != 0)
		ss_modseq_end(mb, c->tomb);
	c->tomb = 0;
	c->tmp[0] = '\0';
	return tries == SS_CAS_TRIES
		       ? rmail_err_set(err, RMAIL_E_BUSY, "move contended")
		       : rmail_err_set(err, RMAIL_E_IO, "move claim: %s",
				       strerror(errno));
}

/* an uncommitted claim goes back where it was (its UID is its own),
 * under a modseq above its tombstone's: it reappears as a change */
static void unclaim(struct rmail_mbox *mb, struct rmail_mbox *dm,
		    struct claim *c)
{
	char src[SS_FNAME_MAX + 16];
	uint64_t m;

	if (c->tmp[0] == '\0')
		return;
	m = ss_modseq_begin(mb);
	if (m != 0)
		c->f.modseq = m;
	ss_msg_rel(&c->f, src, sizeof(src));
	if (renameat(dm->dirfd, c->tmp, mb->dirfd, src) == 0)
		c->tmp[0] = '\0';
	else
		ss_ulog(mb->st, RMAIL_LOG_ERR,
			"move: %s/%s kept hidden in %s/%s: %s", mb->rel, src,
			dm->rel, c->tmp, strerror(errno));
	if (m != 0)
		ss_msg_settle(mb, &c->f);
}

static void fsync_shard(struct rmail_mbox *mb, uint32_t uid, uint32_t *last)
{
	char rel[16];
	int fd;

	if (ss_shard_of(uid) == *last)
		return;
	*last = ss_shard_of(uid);
	snprintf(rel, sizeof(rel), "s%u", *last);
	fd = openat(mb->dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static int move(struct rmail_mbox *mb, const uint32_t *uids, size_t n,
		const char *dst, uint32_t *dst_uids_r,
		uint32_t *dst_uidvalidity_r, bool all, struct rmail_err *err)
{
	struct rmail_mbox *dm;
	struct claim *c;
	uint32_t uv, next, last = UINT32_MAX;
	size_t i, held = 0;
	int rc = -1;

	if (ss_mbox_get(mb->st, mb->user, dst, &dm, err) < 0)
		return -1;
	c = calloc(n ? n : 1, sizeof(*c));
	if (c == NULL) {
		ss_mbox_put(&dm);
		return rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
	}
	for (i = 0; i < n; i++) {
		int r = claim_one(mb, dm, uids[i], &c[i], err);

		dst_uids_r[i] = 0;
		if (r < 0)
			goto out;
		if (r == 0 && all) {
			rmail_err_set(err, RMAIL_E_NOENT, "message %u expunged",
				      uids[i]);
			goto out;
		}
		held += (size_t)r;
	}
	if (held == 0) {
		if (dst_uidvalidity_r != NULL)
			*dst_uidvalidity_r = dm->uidvalidity;
		rc = 0;
		goto out;
	}
	if (ss_uid_lock(dm, &uv, &next, err) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		char rel[SS_FNAME_MAX + 16];

		if (c[i].tmp[0] == '\0')
			continue;
		c[i].d.uid = next;
		c[i].d.modseq = ss_modseq_begin(dm);
		ss_msg_rel(&c[i].d, rel, sizeof(rel));
		if (c[i].d.modseq == 0 || ss_shard_ensure(dm, next) < 0 ||
		    renameat(dm->dirfd, c[i].tmp, dm->dirfd, rel) < 0) {
			int e = errno;

			if (c[i].d.modseq != 0)
				ss_modseq_end(dm, c[i].d.modseq);
			rmail_err_set(err, RMAIL_E_IO, "move rename: %s",
				      strerror(e));
			break;
		}
		c[i].settle = ss_modseq_end(dm, c[i].d.modseq);
		c[i].tmp[0] = '\0';
		dst_uids_r[i] = next++;
	}
	ss_uid_unlock(dm, next);
	for (i = 0; i < n; i++)
		if (dst_uids_r[i] != 0 && c[i].settle)
			ss_msg_resettle(dm, &c[i].d);
	/* what was committed stays moved, even after an error */
	for (i = 0; i < n; i++) {
		if (dst_uids_r[i] == 0)
			continue;
		fsync_shard(dm, dst_uids_r[i], &last);
		ss_log_append_msg(dm, &c[i].d);
	}
	last = UINT32_MAX;
	{
		struct ss_logrec *done = calloc(n ? n : 1, sizeof(*done));
		size_t nd = 0;

		for (i = 0; i < n; i++) {
			if (dst_uids_r[i] == 0)
				continue;
			fsync_shard(mb, uids[i], &last);
			if (done == NULL)
				continue;
			done[nd].type = RMAIL_CHANGE_EXPUNGE;
			done[nd].uid = uids[i];
			done[nd].flags = c[i].f.flags;
			done[nd].modseq = c[i].m;
			nd++;
		}
		if (done != NULL)
			ss_msg_expunged(mb, done, nd);
		free(done);
	}
	for (i = 0; i < n && c[i].tmp[0] == '\0'; i++)
		;
	if (i == n) {
		if (dst_uidvalidity_r != NULL)
			*dst_uidvalidity_r = uv;
		rc = 0;
	}
out:
	for (i = 0; i < n; i++)
		unclaim(mb, dm, &c[i]);
	free(c);
	ss_mbox_put(&dm);
	return rc;
}

int ss_msg_move(struct rmail_mbox *mb, const uint32_t *uids, size_t n,
		const char *dst, uint32_t *dst_uids_r,
		uint32_t *dst_uidvalidity_r, struct rmail_err *err)
{
	return move(mb, uids, n, dst, dst_uids_r, dst_uidvalidity_r, true, err);
}

int ss_msg_move_some(struct rmail_mbox *mb, const uint32_t *uids, size_t n,
		     const char *dst, uint32_t *dst_uids_r,
		     uint32_t *dst_uidvalidity_r, struct rmail_err *err)
{
	return move(mb, uids, n, dst, dst_uids_r, dst_uidvalidity_r, false,
		    err);
}
