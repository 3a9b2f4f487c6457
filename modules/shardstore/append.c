/*
 * Streaming append and the UID lock.  The temporary is written and
 * fsync'd outside the lock; under flock(counter) the UID is allocated and
 * the file renamed into its shard, so UIDs appear in ascending order
 * across processes; the shard directory is fsync'd after the unlock.
 */
#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ss_mbox.h"
#include "ss_optime.h"

#define SS_APPEND_BUF 65536

struct rmail_append {
	struct rmail_mbox *mb;
	int fd;
	char tmp[96];
	uint64_t size;
	uint32_t flags;
	uint64_t keywords;
	int64_t date;
	int ignore_quota;
	int nosync;
	uint32_t want_uid; /* rmail_append_opts.uid, 0: the next */
	bool counted;	   /* holds an upload slot and a reservation */
	uint64_t reserved; /* bytes of the user's quota held */
	bool last_cr;
	bool failed;
	bool committed;
	size_t blen;
	char buf[SS_APPEND_BUF];
};

/* highest UID on disk: the last non-empty shard */
static uint32_t highest_on_disk(struct rmail_mbox *mb)
{
	int64_t top = -1, no;
	uint32_t high = 0;
	int fd = openat(mb->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL)
		if ((no = ss_shard_parse(de->d_name)) > top)
			top = no;
	closedir(d);
	for (no = top; no >= 0 && high == 0; no--) {
		struct rmail_msg *msgs;
		uint32_t n;
		char rel[16];
		int sfd;

		snprintf(rel, sizeof(rel), "s%u", (uint32_t)no);
		sfd = openat(mb->dirfd, rel,
			     O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sfd < 0)
			continue;
		if (ss_shard_scan(sfd, (uint32_t)no, &msgs, &n) >= 0) {
			if (n > 0)
				high = msgs[n - 1].uid;
			free(msgs);
		}
		close(sfd);
	}
	return high;
}

int ss_uid_lock(struct rmail_mbox *mb, uint32_t *uidvalidity_r,
		uint32_t *next_r, struct rmail_err *err)
{
	char buf[128], boot[40], fboot[64] = "";
	unsigned v = 0, uv = 0, next = 0;
	ssize_t n;
	int rc;

	pthread_mutex_lock(&mb->alloc);
	do {
		rc = flock(mb->counterfd, LOCK_EX);
	} while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		pthread_mutex_unlock(&mb->alloc);
		return rmail_err_set(err, RMAIL_E_IO, "uid lock: %s",
				     strerror(errno));
	}
	n = pread(mb->counterfd, buf, sizeof(buf) - 1, 0);
	buf[n < 0 ? 0 : n] = '\0';
	if (sscanf(buf, "%u %u %u %63s", &v, &uv, &next, fboot) < 3 ||
	    uv == 0) {
		/* damaged counter: a new UIDVALIDITY is the safe answer */
		uv = (uint32_t)time(NULL);
		next = 1;
		mb->uid_verified = false;
	}
	ss_boot_id(boot);
	if (!mb->uid_verified || strcmp(boot, fboot) != 0) {
		uint32_t high = highest_on_disk(mb);

		if (high >= next)
			next = high + 1;
		mb->uid_verified = true;
	}
	mb->uidvalidity = uv;
	*uidvalidity_r = uv;
	*next_r = next == 0 ? 1 : next;
	mb->lock_next = *next_r;
	return 0;
}

void ss_uid_unlock(struct rmail_mbox *mb, uint32_t next)
{
	char buf[128], boot[40];
	int n;

	/* every UID allocated under this lock was saved now (RFC 8514) */
	if (next > mb->lock_next)
		ss_savedate_note(mb, mb->lock_next, next - 1);
	ss_boot_id(boot);
	n = snprintf(buf, sizeof(buf), "1 %u %u %s\n", mb->uidvalidity, next,
		     boot);
	if (pwrite(mb->counterfd, buf, (size_t)n, 0) == n)
		(void)!ftruncate(mb->counterfd, n);
	flock(mb->counterfd, LOCK_UN);
	pthread_mutex_unlock(&mb->alloc);
}

int ss_shard_ensure(struct rmail_mbox *mb, uint32_t uid)
{
	char rel[16];
	int fd;

	snprintf(rel, sizeof(rel), "s%u", ss_shard_of(uid));
	if (mkdirat(mb->dirfd, rel, 0750) < 0)
		return errno == EEXIST ? 0 : -1;
	fd = openat(mb->dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		ss_mbox_chown(mb->st, fd);
		close(fd);
	}
	/* the new shard's entry must survive a crash too */
	return fsync(mb->dirfd);
}

int ss_append_begin(void *h, const char *user, const char *mailbox,
		    const struct rmail_append_opts *o,
		    struct rmail_append **ap_r, struct rmail_err *err)
{
	struct ss_store *st = h;
	struct rmail_append *ap;
	struct rmail_mbox *mb;
	uint64_t mask = 0;

	if (ss_mbox_get(st, user, mailbox, &mb, err) < 0)
		return -1;
	ap = calloc(1, sizeof(*ap));
	if (ap == NULL) {
		rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
		goto fail;
	}
	if (o == NULL || !o->ignore_quota) {
		uint64_t hint = o != NULL ? o->size_hint : 0;

		if (ss_quota_reserve(
			    st, mb->user, hint,
			    (uint32_t)ss_conf(st)->max_uploads_per_user,
			    err) < 0) {
			free(ap);
			goto fail;
		}
		ap->counted = true;
		ap->reserved = hint;
	}
	if (o != NULL && o->nkeywords > 0 &&
	    ss_kw_resolve(mb, o->keywords, o->nkeywords, &mask, err) < 0) {
		if (ap->counted)
			ss_quota_unreserve(st, mb->user, ap->reserved, 1);
		free(ap);
		goto fail;
	}
	ap->mb = mb;
	ap->flags = o != NULL ? o->flags & 0x1f : 0;
	ap->keywords = mask;
	ap->date = o != NULL && o->internaldate > 0 ? o->internaldate
						    : (int64_t)time(NULL);
	ap->ignore_quota = o != NULL && o->ignore_quota;
	ap->nosync = o != NULL && o->nosync;
	ap->want_uid = o != NULL ? o->uid : 0;
	ap->fd = ss_tmp_create(mb, ap->tmp, sizeof(ap->tmp));
	if (ap->fd < 0) {
		rmail_err_set(err, RMAIL_E_IO, "temporary: %s",
			      strerror(errno));
		if (ap->counted)
			ss_quota_unreserve(st, mb->user, ap->reserved, 1);
		free(ap);
		goto fail;
	}
	*ap_r = ap;
	return 0;
fail:
	ss_mbox_put(&mb);
	return -1;
}

void ss_append_set_nosync(struct rmail_append *ap)
{
	ap->nosync = 1;
}

static int flush_buf(struct rmail_append *ap, struct rmail_err *err)
{
	size_t off = 0;

	while (off < ap->blen) {
		ssize_t n = write(ap->fd, ap->buf + off, ap->blen - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ap->failed = true;
			return rmail_err_set(err, RMAIL_E_IO, "write: %s",
					     n < 0 ? strerror(errno)
						   : "short write");
		}
		off += (size_t)n;
	}
	ap->blen = 0;
	return 0;
}

int ss_append_write(struct rmail_append *ap, const void *data, size_t len,
		    struct rmail_err *err)
{
	const char *p = data;
	size_t i;

	if (ap->failed || ap->committed)
		return rmail_err_set(err, RMAIL_E_IO, "append failed");
	for (i = 0; i < len; i++) {
		if (ap->blen + 2 > SS_APPEND_BUF && flush_buf(ap, err) < 0)
			return -1;
		if (p[i] == '\n' && !ap->last_cr) {
			ap->buf[ap->blen++] = '\r';
			ap->size++;
		}
		ap->buf[ap->blen++] = p[i];
		ap->size++;
		ap->last_cr = p[i] == '\r';
	}
	return 0;
}

int ss_append_commit(struct rmail_append *ap, uint32_t *uid_r,
		     uint32_t *uidvalidity_r, struct rmail_err *err)
{
	struct rmail_mbox *mb = ap->mb;
	struct ss_fname f;
	char dst[SS_FNAME_MAX + 16], name[SS_FNAME_MAX];
	uint32_t uv, uid;
	int sfd;
	bool settle;

	if (ap->failed || ap->committed)
		return rmail_err_set(err, RMAIL_E_IO, "append failed");
	if (flush_buf(ap, err) < 0)
		return -1;
	if (!ap->ignore_quota &&
	    ss_quota_check(mb->st, mb->user, ap->size, err) < 0)
		return -1;
	if ((!ap->nosync && fsync(ap->fd) < 0) || close(ap->fd) < 0) {
		ap->fd = -1;
		ap->failed = true;
		return rmail_err_set(err, RMAIL_E_IO, "fsync: %s",
				     strerror(errno));
	}
	ap->fd = -1;
	if (ss_uid_lock(mb, &uv, &uid, err) < 0)
		return -1;
	if (ap->want_uid != 0) {
		/* UIDs only ever ascend: a client may have seen any UID
		 * below UIDNEXT, so none of those may be given again */
		if (ap->want_uid < uid || ap->want_uid == UINT32_MAX) {
			ss_uid_unlock(mb, uid);
			return rmail_err_set(err, RMAIL_E_EXISTS,
					     "UID %u is below UIDNEXT %u",
					     ap->want_uid, uid);
		}
		uid = ap->want_uid;
	}
	f.uid = uid;
	f.size = ap->size;
	f.date = ap->date;
	f.flags = ap->flags;
	f.keywords = ap->keywords;
	f.modseq = ss_modseq_begin(mb);
	ss_fname_format(&f, name);
	snprintf(dst, sizeof(dst), "s%u/%s", ss_shard_of(uid), name);
	if (f.modseq == 0 || ss_shard_ensure(mb, uid) < 0 ||
	    renameat(mb->dirfd, ap->tmp, mb->dirfd, dst) < 0) {
		int e = errno;

		if (f.modseq != 0)
			ss_modseq_end(mb, f.modseq);
		ss_uid_unlock(mb, uid);
		ap->failed = true;
		return rmail_err_set(err, RMAIL_E_IO, "rename: %s",
				     strerror(e));
	}
	settle = ss_modseq_end(mb, f.modseq);
	ss_uid_unlock(mb, uid + 1);
	ap->committed = true;
	if (settle)
		ss_msg_resettle(mb, &f);
	if (!ap->nosync) {
		snprintf(dst, sizeof(dst), "s%u", ss_shard_of(uid));
		sfd = openat(mb->dirfd, dst,
			     O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sfd < 0 || fsync(sfd) < 0) {
			int e = errno;

			if (sfd >= 0)
				close(sfd);
			/* renamed but not durable: report the failure */
			return rmail_err_set(err, RMAIL_E_IO, "dir fsync: %s",
					     strerror(e));
		}
		close(sfd);
	}
	ss_log_append_msg(mb, &f);
	ss_quota_charge(mb->st, mb->user, (int64_t)ap->size);
	/* charged now: holding the reservation too would count it twice */
	if (ap->counted)
		ss_quota_unreserve(mb->st, mb->user, ap->reserved, 0);
	ap->reserved = 0;
	if (uid_r != NULL)
		*uid_r = uid;
	if (uidvalidity_r != NULL)
		*uidvalidity_r = uv;
	return 0;
}

/* close the temporary, durable unless nosync; the commit steps before
 * the UID lock */
static int append_seal(struct rmail_append *ap, struct rmail_err *err)
{
	if (ap->failed || ap->committed)
		return rmail_err_set(err, RMAIL_E_IO, "append failed");
	if (flush_buf(ap, err) < 0)
		return -1;
	if ((!ap->nosync && fsync(ap->fd) < 0) || close(ap->fd) < 0) {
		ap->fd = -1;
		ap->failed = true;
		return rmail_err_set(err, RMAIL_E_IO, "fsync: %s",
				     strerror(errno));
	}
	ap->fd = -1;
	return 0;
}

/*
 * MULTIAPPEND: every temporary sealed first, then one UID lock for
 * consecutive UIDs and all the renames; a failed rename renames the
 * earlier ones back, and the UIDs tried are not given out again.  The
 * directory fsyncs, the change log and the quota charge come after the
 * unlock, as for one.
 */
int ss_append_commit_many(struct rmail_append *const *aps, size_t n,
			  uint32_t *uid_first_r, uint32_t *uidvalidity_r,
			  struct rmail_err *err)
{
	struct rmail_mbox *mb;
	struct ss_fname *f;
	bool *resettle;
	char dst[SS_FNAME_MAX + 16], name[SS_FNAME_MAX];
	uint64_t total = 0;
	uint32_t uv, uid, last_shard = UINT32_MAX;
	size_t i, k;
	int sfd, rc = 0;

	if (n == 0 || aps[0] == NULL)
		return rmail_err_set(err, RMAIL_E_INVAL, "empty batch");
	mb = aps[0]->mb;
	for (i = 0; i < n; i++) {
		if (aps[i] == NULL || aps[i]->mb != mb)
			return rmail_err_set(err, RMAIL_E_INVAL,
					     "batch spans mailboxes");
		if (aps[i]->want_uid != 0)
			return rmail_err_set(err, RMAIL_E_INVAL,
					     "a batch takes consecutive UIDs");
	}
	for (i = 0; i < n; i++) {
		if (append_seal(aps[i], err) < 0)
			return -1;
		if (!aps[i]->ignore_quota)
			total += aps[i]->size;
	}
	if (total > 0 && ss_quota_check(mb->st, mb->user, total, err) < 0)
		return -1;
	f = calloc(n, sizeof(*f));
	resettle = calloc(n, sizeof(*resettle));
	if (f == NULL || resettle == NULL) {
		free(f);
		free(resettle);
		return rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
	}
	if (ss_uid_lock(mb, &uv, &uid, err) < 0) {
		free(f);
		free(resettle);
		return -1;
	}
	for (k = 0; k < n; k++) {
		bool ok;

		f[k].uid = uid + (uint32_t)k;
		f[k].size = aps[k]->size;
		f[k].date = aps[k]->date;
		f[k].flags = aps[k]->flags;
		f[k].keywords = aps[k]->keywords;
		/* one modseq per message, taken and ended around its own
		 * rename as a single append does (the network-filesystem
		 * path holds a lock between the two) */
		f[k].modseq = ss_modseq_begin(mb);
		ss_fname_format(&f[k], name);
		snprintf(dst, sizeof(dst), "s%u/%s", ss_shard_of(f[k].uid),
			 name);
		ok = f[k].modseq != 0 && ss_shard_ensure(mb, f[k].uid) == 0 &&
		     renameat(mb->dirfd, aps[k]->tmp, mb->dirfd, dst) == 0;
		if (f[k].modseq != 0)
			resettle[k] = ss_modseq_end(mb, f[k].modseq);
		if (!ok)
			break;
	}
	if (k < n) {
		int e = errno;
		/* the UIDs tried stay used: should a rename back fail, no
		 * later append may take a UID a file still carries */
		uint32_t next = uid + (uint32_t)k + 1;

		while (k-- > 0) {
			ss_fname_format(&f[k], name);
			snprintf(dst, sizeof(dst), "s%u/%s",
				 ss_shard_of(f[k].uid), name);
			(void)renameat(mb->dirfd, dst, mb->dirfd, aps[k]->tmp);
		}
		ss_uid_unlock(mb, next);
		for (i = 0; i < n; i++)
			aps[i]->failed = true;
		free(f);
		free(resettle);
		return rmail_err_set(err, RMAIL_E_IO, "rename: %s",
				     strerror(e));
	}
	ss_uid_unlock(mb, uid + (uint32_t)n);
	for (k = 0; k < n; k++) {
		if (resettle[k])
			ss_msg_resettle(mb, &f[k]);
	}
	/* the directory fsyncs first, so the log records follow each
	 * other closely: readers patching from the log see a batch whole
	 * more often (docs/imap.md: the window) */
	for (k = 0; k < n; k++) {
		uint32_t shard = ss_shard_of(f[k].uid);

		aps[k]->committed = true;
		if (aps[k]->nosync || shard == last_shard)
			continue;
		last_shard = shard;
		snprintf(dst, sizeof(dst), "s%u", shard);
		sfd = openat(mb->dirfd, dst,
			     O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sfd < 0 || fsync(sfd) < 0)
			rc = rmail_err_set(err, RMAIL_E_IO, "dir fsync: %s",
					   strerror(errno));
		if (sfd >= 0)
			close(sfd);
	}
	for (k = 0; k < n; k++) {
		struct rmail_append *ap = aps[k];

		ss_log_append_msg(mb, &f[k]);
		ss_quota_charge(mb->st, mb->user, (int64_t)ap->size);
		if (ap->counted)
			ss_quota_unreserve(mb->st, mb->user, ap->reserved, 0);
		ap->reserved = 0;
	}
	free(f);
	free(resettle);
	if (uid_first_r != NULL)
		*uid_first_r = uid;
	if (uidvalidity_r != NULL)
		*uidvalidity_r = uv;
	/* renamed but not durable: report the failure, as for one */
	return rc;
}

/*
 * A new UIDVALIDITY for an empty mailbox, under the UID lock so that no
 * append can slip a message in between the check and the change.  With
 * a new UIDVALIDITY clients drop every UID they held, so UIDs restart.
 */
int ss_mbox_set_uidvalidity(void *h, const char *user, const char *name,
			    uint32_t uidvalidity, struct rmail_err *err)
{
	struct rmail_mbox *mb;
	uint32_t uv, next;
	int rc = 0;

	if (uidvalidity == 0)
		return rmail_err_set(err, RMAIL_E_INVAL, "UIDVALIDITY 0");
	if (ss_mbox_get(h, user, name, &mb, err) < 0)
		return -1;
	if (ss_uid_lock(mb, &uv, &next, err) < 0) {
		ss_mbox_put(&mb);
		return -1;
	}
	if (uv != uidvalidity) {
		if (highest_on_disk(mb) != 0) {
			rc = rmail_err_set(err, RMAIL_E_EXISTS,
					   "mailbox \"%s\" is not empty", name);
		} else {
			mb->uidvalidity = uidvalidity;
			next = 1;
		}
	}
	ss_uid_unlock(mb, next);
	ss_mbox_put(&mb);
	return rc;
}

struct ss_store *ss_append_store(const struct rmail_append *ap)
{
	return ap != NULL && ap->mb != NULL ? ap->mb->st : NULL;
}

void ss_append_free(struct rmail_append **app)
{
	struct rmail_append *ap = *app;

	if (ap == NULL)
		return;
	*app = NULL;
	if (ap->fd >= 0)
		close(ap->fd);
	if (!ap->committed)
		unlinkat(ap->mb->dirfd, ap->tmp, 0);
	if (ap->counted)
		ss_quota_unreserve(ap->mb->st, ap->mb->user, ap->reserved, 1);
	ss_mbox_put(&ap->mb);
	free(ap);
}

int ss_mbox_sync(struct ss_store *st, const char *user, const char *mbox,
		 struct rmail_err *err)
{
	struct rmail_mbox *mb;
	struct dirent *de;
	int fd, rc = 0;
	DIR *d;

	if (ss_mbox_get(st, user, mbox, &mb, err) < 0)
		return -1;
	fd = openat(mb->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || syncfs(fd) < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		ss_mbox_put(&mb);
		return rmail_err_set(err, RMAIL_E_IO, "sync: %s",
				     strerror(errno));
	}
	while ((de = readdir(d)) != NULL) {
		int sfd;

		if (ss_shard_parse(de->d_name) < 0)
			continue;
		sfd = openat(mb->dirfd, de->d_name,
			     O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sfd < 0 || fsync(sfd) < 0)
			rc = rmail_err_set(err, RMAIL_E_IO, "sync: %s",
					   strerror(errno));
		if (sfd >= 0)
			close(sfd);
	}
	closedir(d);
	ss_mbox_put(&mb);
	return rc;
}
