/*
 * Per-message operations.  A message's file name is a function of its
 * state, so the view's state names the file; ENOENT means another
 * process changed it first: re-read the shard and retry (CAS).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "ss_mbox.h"

#define SS_CAS_TRIES 64

void ss_msg_rel(const struct ss_fname *f, char *out, size_t outsz)
{
	char name[SS_FNAME_MAX];

	ss_fname_format(f, name);
	snprintf(out, outsz, "s%u/%s", ss_shard_of(f->uid), name);
}

static void view_update(struct rmail_mbox *mb, const struct ss_fname *f)
{
	pthread_mutex_lock(&mb->lock);
	ss_view_set_flags(mb, f->uid, f->flags, f->keywords, f->modseq);
	pthread_mutex_unlock(&mb->lock);
}

/*
 * After a change carrying f->modseq became visible: when another change
 * took a higher modseq in between, it may have become visible first and
 * a reader may hold that as HIGHESTMODSEQ already.  The same state is
 * then renamed once more under a fresh modseq, above it.  (A change that
 * wins this second race carries nothing new: its state was visible.)
 */
void ss_msg_settle(struct rmail_mbox *mb, struct ss_fname *f)
{
	if (ss_modseq_end(mb, f->modseq))
		ss_msg_resettle(mb, f);
}

void ss_msg_resettle(struct rmail_mbox *mb, struct ss_fname *f)
{
	char from[SS_FNAME_MAX + 16], to[SS_FNAME_MAX + 16];
	struct ss_fname nf;

	nf = *f;
	nf.modseq = ss_modseq_begin(mb);
	if (nf.modseq == 0)
		return;
	ss_msg_rel(f, from, sizeof(from));
	ss_msg_rel(&nf, to, sizeof(to));
	if (renameat(mb->dirfd, from, mb->dirfd, to) == 0)
		*f = nf;
	ss_modseq_end(mb, nf.modseq);
}

static void fill_msg(struct rmail_msg *m, const struct ss_fname *f,
		     uint64_t modseq)
{
	if (m == NULL)
		return;
	memset(m, 0, sizeof(*m));
	m->uid = f->uid;
	m->flags = f->flags;
	m->keywords = f->keywords;
	m->size = f->size;
	m->internaldate = f->date;
	m->modseq = modseq;
}

/*
 * The compare-and-swap of a flag change: the rename from the name the
 * state was computed from.  With `unchangedsince` the state checked is
 * the one renamed away from, so a change in between makes the rename
 * fail and the check run again on the newer state.
 */
static int flags_cas(struct rmail_mbox *mb, uint32_t uid,
		     uint64_t unchangedsince, int mode, uint32_t flags,
		     const char *const *keywords, size_t nkeywords,
		     struct rmail_msg *new_r, struct rmail_err *err)
{
	struct ss_fname cur, nw;
	char from[SS_FNAME_MAX + 16], to[SS_FNAME_MAX + 16];
	uint64_t kw = 0, modseq = 0;
	int tries, e;

	flags &= 0x1f;
	if (nkeywords > 0 &&
	    ss_kw_resolve(mb, keywords, nkeywords, &kw, err) < 0)
		return -1;
	if (ss_msg_state(mb, uid, &cur) < 0)
		return rmail_err_set(err, RMAIL_E_NOENT, "no message %u", uid);
	for (tries = 0; tries < SS_CAS_TRIES; tries++) {
		if (cur.modseq > unchangedsince) {
			fill_msg(new_r, &cur, cur.modseq);
			return rmail_err_set(
				err, RMAIL_E_MODIFIED,
				"message %u modified since %llu", uid,
				(unsigned long long)unchangedsince);
		}
		nw = cur;
		switch (mode) {
		case RMAIL_FLAGS_ADD:
			nw.flags |= flags;
			nw.keywords |= kw;
			break;
		case RMAIL_FLAGS_REMOVE:
			nw.flags &= ~flags;
			nw.keywords &= ~kw;
			break;
		default:
			nw.flags = flags;
			nw.keywords = kw;
			break;
		}
		if (nw.flags == cur.flags && nw.keywords == cur.keywords)
			break;
		/* the name carries the change's modseq: the rename that
		 * commits the change makes the modseq durable with it */
		nw.modseq = ss_modseq_begin(mb);
		if (nw.modseq == 0)
			return rmail_err_set(err, RMAIL_E_IO, "modseq: %s",
					     strerror(errno));
		ss_msg_rel(&cur, from, sizeof(from));
		ss_msg_rel(&nw, to, sizeof(to));
		if (renameat(mb->dirfd, from, mb->dirfd, to) == 0) {
			ss_msg_settle(mb, &nw);
			modseq = nw.modseq;
			ss_log_append(mb, RMAIL_CHANGE_FLAGS, uid, nw.flags,
				      modseq);
			break;
		}
		e = errno;
		ss_modseq_end(mb, nw.modseq);
		if (e != ENOENT)
			return rmail_err_set(err, RMAIL_E_IO, "rename: %s",
					     strerror(e));
		/* lost the race: the current name is on disk */
		if (ss_msg_locate(mb, uid, &cur) < 0)
			return rmail_err_set(err, RMAIL_E_NOENT,
					     "message %u expunged", uid);
	}
	if (tries == SS_CAS_TRIES)
		return rmail_err_set(err, RMAIL_E_BUSY,
				     "flag change contended");
	if (modseq != 0)
		view_update(mb, &nw);
	/* 0: no change (the 1.0 contract of msg_flags) */
	fill_msg(new_r, &nw, modseq);
	return 0;
}

int ss_msg_flags(struct rmail_mbox *mb, uint32_t uid, int mode, uint32_t flags,
		 const char *const *keywords, size_t nkeywords,
		 struct rmail_msg *new_r, struct rmail_err *err)
{
	return flags_cas(mb, uid, UINT64_MAX, mode, flags, keywords, nkeywords,
			 new_r, err);
}

int ss_msg_flags_unchanged(struct rmail_mbox *mb, uint32_t uid,
			   uint64_t unchangedsince, int mode, uint32_t flags,
			   const char *const *keywords, size_t nkeywords,
			   struct rmail_msg *new_r, struct rmail_err *err)
{
	return flags_cas(mb, uid, unchangedsince, mode, flags, keywords,
			 nkeywords, new_r, err);
}

/*
 * The \Recent mark lives in the mailbox's "recent" file, read and
 * raised under flock, so sessions in every process claim each message
 * once.  Not fsync'd: losing a claim in a crash only loses \Recent.
 */
int ss_mbox_recent(struct rmail_mbox *mb, uint32_t upto, uint32_t *prev_r,
		   struct rmail_err *err)
{
	char buf[16];
	ssize_t n;
	uint32_t prev = 0;
	int fd;

	fd = openat(mb->dirfd, "recent", O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return rmail_err_set(err, RMAIL_E_IO, "recent: %s",
				     strerror(errno));
	if (flock(fd, LOCK_EX) < 0) {
		close(fd);
		return rmail_err_set(err, RMAIL_E_IO, "recent lock: %s",
				     strerror(errno));
	}
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n > 0) {
		buf[n] = '\0';
		prev = (uint32_t)strtoul(buf, NULL, 10);
	}
	if (upto > prev) {
		n = snprintf(buf, sizeof(buf), "%u\n", upto);
		if (pwrite(fd, buf, (size_t)n, 0) == n)
			(void)!ftruncate(fd, n);
	}
	close(fd); /* drops the lock */
	*prev_r = prev;
	return 0;
}

int ss_msg_open(struct rmail_mbox *mb, uint32_t uid, int *fd_r,
		struct rmail_err *err)
{
	struct ss_fname f;
	char rel[SS_FNAME_MAX + 16];
	int tries, fd = -1;

	if (ss_msg_state(mb, uid, &f) < 0)
		return rmail_err_set(err, RMAIL_E_NOENT, "no message %u", uid);
	for (tries = 0; tries < SS_CAS_TRIES; tries++) {
		ss_msg_rel(&f, rel, sizeof(rel));
		fd = openat(mb->dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT)
			break;
		if (ss_msg_locate(mb, uid, &f) < 0)
			return rmail_err_set(err, RMAIL_E_NOENT,
					     "message %u expunged", uid);
	}
	if (fd < 0)
		return rmail_err_set(err, RMAIL_E_IO, "open: %s",
				     strerror(errno));
	*fd_r = fd;
	return 0;
}

int ss_msg_read(struct rmail_mbox *mb, uint32_t uid, uint64_t off, void *buf,
		size_t len, size_t *got_r, struct rmail_err *err)
{
	size_t got = 0;
	int fd;

	if (ss_msg_open(mb, uid, &fd, err) < 0)
		return -1;
	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got,
				  (off_t)(off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return rmail_err_set(err, RMAIL_E_IO, "read: %s",
					     strerror(errno));
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*got_r = got;
	return 0;
}

/* a private copy when link(2) is not possible */
int ss_copy_bytes(int srcfd, int dstfd)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(srcfd, buf, sizeof(buf))) > 0)
		if (write(dstfd, buf, (size_t)n) != n)
			return -1;
	return n < 0 ? -1 : fsync(dstfd);
}

struct copy_item {
	char tmp[96];
	struct ss_fname f;
	bool settle;
};

int ss_msg_copy(struct rmail_mbox *mb, const uint32_t *uids, size_t n,
		const char *dst, uint32_t *dst_uids_r,
		uint32_t *dst_uidvalidity_r, struct rmail_err *err)
{
	struct rmail_mbox *dm;
	struct copy_item *it;
	uint32_t uv, next, lastshard = UINT32_MAX;
	uint64_t total = 0;
	size_t i;
	int rc = -1;

	if (ss_mbox_get(mb->st, mb->user, dst, &dm, err) < 0)
		return -1;
	it = calloc(n ? n : 1, sizeof(*it));
	if (it == NULL) {
		ss_mbox_put(&dm);
		return rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
	}
	for (i = 0; i < n; i++) {
		char rel[SS_FNAME_MAX + 16];
		int fd, tries, ok = 0, gone = 0;

		if (ss_msg_state(mb, uids[i], &it[i].f) < 0) {
			rmail_err_set(err, RMAIL_E_NOENT, "no message %u",
				      uids[i]);
			goto out;
		}
		for (tries = 0; tries < SS_CAS_TRIES; tries++) {
			fd = ss_tmp_create(dm, it[i].tmp, sizeof(it[i].tmp));
			if (fd < 0)
				break;
			close(fd);
			unlinkat(dm->dirfd, it[i].tmp, 0);
			ss_msg_rel(&it[i].f, rel, sizeof(rel));
			if (linkat(mb->dirfd, rel, dm->dirfd, it[i].tmp, 0) ==
			    0) {
				ok = 1;
				break;
			}
			if (errno == ENOENT) {
				gone = ss_msg_locate(mb, uids[i], &it[i].f) < 0;
				if (gone)
					break;
				continue;
			}
			/* EXDEV, EMLINK, EPERM: copy the bytes */
			{
				int s = openat(mb->dirfd, rel,
					       O_RDONLY | O_CLOEXEC);
				int d = s < 0 ? -1
					      : ss_tmp_create(
							dm, it[i].tmp,
							sizeof(it[i].tmp));

				if (s >= 0 && d >= 0 &&
				    ss_copy_bytes(s, d) == 0) {
					close(s);
					close(d);
					ok = 1;
					break;
				}
				if (s >= 0)
					close(s);
				if (d >= 0) {
					close(d);
					unlinkat(dm->dirfd, it[i].tmp, 0);
				}
				if (s < 0 && errno == ENOENT)
					continue;
				tries = SS_CAS_TRIES;
			}
		}
		if (!ok) {
			it[i].tmp[0] = '\0';
			/* expunged meanwhile: the caller's "no such message",
			 * not an I/O error a retry could cure */
			if (gone)
				rmail_err_set(err, RMAIL_E_NOENT,
					      "message %u expunged", uids[i]);
			else
				rmail_err_set(err, RMAIL_E_IO,
					      "copy of %u failed", uids[i]);
			goto out;
		}
		total += it[i].f.size;
	}
	/* keyword indexes differ per mailbox: map through the names */
	for (i = 0; i < n; i++)
		if (ss_kw_translate(mb, dm, it[i].f.keywords, &it[i].f.keywords,
				    err) < 0)
			goto out;
	if (ss_quota_check(mb->st, mb->user, total, err) < 0)
		goto out;
	if (ss_uid_lock(dm, &uv, &next, err) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		char rel[SS_FNAME_MAX + 16];
		int e;

		it[i].f.uid = next;
		it[i].f.modseq = ss_modseq_begin(dm);
		ss_msg_rel(&it[i].f, rel, sizeof(rel));
		if (it[i].f.modseq == 0 || ss_shard_ensure(dm, next) < 0 ||
		    renameat(dm->dirfd, it[i].tmp, dm->dirfd, rel) < 0) {
			e = errno;
			if (it[i].f.modseq != 0)
				ss_modseq_end(dm, it[i].f.modseq);
			rmail_err_set(err, RMAIL_E_IO, "copy rename: %s",
				      strerror(e));
			break;
		}
		it[i].settle = ss_modseq_end(dm, it[i].f.modseq);
		it[i].tmp[0] = '\0';
		dst_uids_r[i] = next++;
	}
	ss_uid_unlock(dm, next);
	if (i < n)
		goto out;
	for (i = 0; i < n; i++)
		if (it[i].settle)
			ss_msg_resettle(dm, &it[i].f);
	for (i = 0; i < n; i++) {
		uint32_t sh = ss_shard_of(it[i].f.uid);

		if (sh != lastshard) {
			char rel[16];
			int fd;

			snprintf(rel, sizeof(rel), "s%u", sh);
			fd = openat(dm->dirfd, rel,
				    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0 || fsync(fd) < 0) {
				if (fd >= 0)
					close(fd);
				rmail_err_set(err, RMAIL_E_IO, "fsync: %s",
					      strerror(errno));
				goto out;
			}
			close(fd);
			lastshard = sh;
		}
		ss_log_append_msg(dm, &it[i].f);
	}
	ss_quota_charge(mb->st, mb->user, (int64_t)total);
	if (dst_uidvalidity_r != NULL)
		*dst_uidvalidity_r = uv;
	rc = 0;
out:
	for (i = 0; i < n; i++)
		if (it[i].tmp[0] != '\0')
			unlinkat(dm->dirfd, it[i].tmp, 0);
	free(it);
	ss_mbox_put(&dm);
	return rc;
}

/* the durable tombstone of uid before the unlink or claim that removes
 * its name; its modseq in *m_r (the caller ends it) */
int ss_msg_tombstone(struct rmail_mbox *mb, const struct ss_fname *f,
		     uint64_t *m_r)
{
	struct ss_logrec t = {
		.type = RMAIL_CHANGE_EXPUNGE, .uid = f->uid, .flags = f->flags};

	t.modseq = *m_r = ss_modseq_begin(mb);
	if (t.modseq == 0)
		return -1;
	if (ss_log_durable(mb, &t, 1) < 0) {
		ss_modseq_end(mb, t.modseq);
		*m_r = 0;
		return -1;
	}
	return 0;
}

/* after the names are gone: the records other views apply (a restamp
 * when a higher modseq was taken meanwhile, see ss_msg_settle) */
void ss_msg_expunged(struct rmail_mbox *mb, struct ss_logrec *done, size_t n)
{
	uint64_t max = 0;
	size_t i;
	bool alone = true;

	/* this call's modseqs in one run up to the counter: no other
	 * change took one in between, none needs a restamp */
	for (i = 0; i + 1 < n; i++)
		if (done[i + 1].modseq != done[i].modseq + 1)
			alone = false;
	if (n > 0 && ss_modseq_end(mb, done[n - 1].modseq))
		alone = false;
	for (i = 0; i < n; i++) {
		if (!alone) {
			struct ss_fname f = {.uid = done[i].uid,
					     .flags = done[i].flags};
			uint64_t m;

			if (ss_msg_tombstone(mb, &f, &m) == 0) {
				ss_modseq_end(mb, m);
				done[i].modseq = m;
			}
		}
		done[i].detail = true;
		if (done[i].modseq > max)
			max = done[i].modseq;
		ss_log_append_rec(mb, &done[i]);
	}
	if (max > 0)
		ss_modseq_raise_hwm(mb, max);
}

/*
 * The tombstones of the whole call are durable (one fdatasync) before
 * the first unlink, so a crash never loses an expunge's modseq; a
 * tombstone whose unlink never happened is ignored while the UID exists.
 */
int ss_msg_expunge(struct rmail_mbox *mb, const uint32_t *uids, size_t n,
		   struct rmail_err *err)
{
	uint32_t lastshard = UINT32_MAX;
	struct ss_logrec *t = calloc(n ? n : 1, sizeof(*t));
	struct ss_logrec *done = calloc(n ? n : 1, sizeof(*done));
	struct ss_fname *fs = calloc(n ? n : 1, sizeof(*fs));
	int64_t freed = 0;
	size_t i, nt = 0, nd = 0;
	int rc = 0;

	if (t == NULL || done == NULL || fs == NULL) {
		rc = rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (ss_msg_state(mb, uids[i], &fs[nt]) < 0)
			continue;
		t[nt].type = RMAIL_CHANGE_EXPUNGE;
		t[nt].uid = uids[i];
		t[nt].flags = fs[nt].flags;
		t[nt].modseq = ss_modseq_begin(mb);
		if (t[nt].modseq == 0) {
			rc = rmail_err_set(err, RMAIL_E_IO, "modseq: %s",
					   strerror(errno));
			break;
		}
		nt++;
	}
	if (rc == 0 && ss_log_durable(mb, t, nt) < 0)
		rc = rmail_err_set(err, RMAIL_E_IO, "tombstones: %s",
				   strerror(errno));
	if (rc < 0) {
		if (nt > 0)
			ss_modseq_end(mb, t[nt - 1].modseq);
		goto out;
	}
	for (i = 0; i < nt; i++) {
		struct ss_fname f = fs[i];
		char rel[SS_FNAME_MAX + 16];
		uint64_t m = t[i].modseq;
		int tries, gone = 0;

		for (tries = 0; tries < SS_CAS_TRIES; tries++) {
			if (m == 0 && ss_msg_tombstone(mb, &f, &m) < 0) {
				rc = rmail_err_set(err, RMAIL_E_IO,
						   "tombstone: %s",
						   strerror(errno));
				break;
			}
			ss_msg_rel(&f, rel, sizeof(rel));
			if (unlinkat(mb->dirfd, rel, 0) == 0) {
				gone = 1;
				/* other names of the same UID go too */
				if (ss_shard_has_dups(mb, f.uid) &&
				    ss_msg_locate(mb, f.uid, &f) == 0)
					continue;
				break;
			}
			if (errno != ENOENT) {
				rc = rmail_err_set(err, RMAIL_E_IO,
						   "unlink: %s",
						   strerror(errno));
				break;
			}
			if (ss_msg_locate(mb, f.uid, &f) < 0)
				break;
			/* changed meanwhile, maybe under a higher modseq: a
			 * new tombstone above it */
			m = 0;
		}
		if (rc < 0)
			break;
		if (!gone)
			continue;
		done[nd] = t[i];
		done[nd].modseq = m;
		nd++;
		freed += (int64_t)f.size;
		if (ss_shard_of(f.uid) != lastshard) {
			char sd[16];
			int fd;

			lastshard = ss_shard_of(f.uid);
			snprintf(sd, sizeof(sd), "s%u", lastshard);
			fd = openat(mb->dirfd, sd,
				    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd >= 0) {
				fsync(fd);
				close(fd);
			}
		}
	}
	if (nd == 0 && nt > 0)
		ss_modseq_end(mb, t[nt - 1].modseq);
	ss_msg_expunged(mb, done, nd);
	if (freed > 0)
		ss_quota_charge(mb->st, mb->user, -freed);
out:
	free(t);
	free(done);
	free(fs);
	return rc;
}
