/*
 * The per-mailbox change log (format 2): 32-byte records, each with the
 * modseq of the change it describes (the message names carry the same
 * modseq; docs/storage.md).  Flag and append records are a cache for
 * other views and IDLE, written after the rename without a sync.
 * Expunge records (tombstones) and keyword creations are the only
 * durable trace of their change: they are fdatasync'd before the
 * unlink (or move claim) they describe, and kept back to the horizon
 * when the log is rotated.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ss_mbox.h"

uint32_t ss_log_rotate_at = 1u << 20; /* 32768 records */
uint32_t ss_log_keep = 8192;

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint32_t rec_check(const unsigned char *rec)
{
	uint32_t h = 0x5a5a5a5au;
	int i;

	for (i = 0; i < 28; i += 4)
		h = (h ^ get32(rec + i)) * 0x9e3779b1u;
	return h ^ (h >> 15);
}

static void rec_encode(unsigned char *rec, const struct ss_logrec *r)
{
	memset(rec, 0, SS_REC);
	rec[0] = (unsigned char)r->type;
	rec[1] = 3;
	rec[2] = r->detail ? 1 : 0;
	put32(rec + 4, r->uid);
	put32(rec + 8, r->flags);
	put32(rec + 12, r->size);
	put32(rec + 16, (uint32_t)r->modseq);
	put32(rec + 20, (uint32_t)(r->modseq >> 32));
	put32(rec + 24, r->date);
	put32(rec + 28, rec_check(rec));
}

/* 0 and the record, or -1 when it is not a valid one */
static int rec_decode(const unsigned char *rec, struct ss_logrec *r)
{
	if (rec[1] != 3 || rec[3] != 0 || rec[2] > 1 ||
	    get32(rec + 28) != rec_check(rec))
		return -1;
	r->type = rec[0];
	r->detail = rec[2] == 1;
	r->uid = get32(rec + 4);
	r->flags = get32(rec + 8);
	r->size = get32(rec + 12);
	r->modseq = (uint64_t)get32(rec + 16) | (uint64_t)get32(rec + 20) << 32;
	r->date = get32(rec + 24);
	if (r->modseq == 0 || (r->uid == 0) != (r->type == SS_LOG_KEYWORD) ||
	    r->type < RMAIL_CHANGE_APPEND || r->type > SS_LOG_KEYWORD)
		return -1;
	return 0;
}

/*
 * On a network filesystem O_APPEND is not atomic between clients (the
 * NFS client writes at the size it last saw), so two hosts can write
 * records at the same offset and one is lost.  There the write happens
 * under flock(2) on the log, at the size read under the lock (taking the
 * lock revalidates the NFS attribute cache; unlocking flushes).
 */
static off_t locked_write(int fd, const unsigned char *rec, size_t len)
{
	struct stat sb;
	off_t end = 0;
	/* without the lock (a filesystem refusing it) still append at the
	 * freshest size: a lost record costs a rescan, never a message */
	bool locked = flock(fd, LOCK_EX) == 0;

	if (fstat(fd, &sb) == 0 &&
	    pwrite(fd, rec, len, sb.st_size) == (ssize_t)len)
		end = sb.st_size + (off_t)len;
	if (locked)
		flock(fd, LOCK_UN);
	return end;
}

/* mb->loglock held: the log open for appending, reopened when a rotation
 * replaced the file this process holds */
static int log_fd(struct rmail_mbox *mb)
{
	bool net = mb->st->fs_name != NULL;
	uint64_t gen = ss_modseq_loggen(mb);
	struct stat sb;

	/* the rotation count in the shared counter page saves a syscall
	 * per record; without it (network filesystems), fstat */
	if (mb->logfd >= 0 &&
	    (gen != UINT64_MAX ? gen == mb->loggen
			       : fstat(mb->logfd, &sb) == 0 && sb.st_nlink > 0))
		return mb->logfd;
	if (mb->logfd >= 0)
		close(mb->logfd);
	mb->loggen = gen;
	mb->logfd = openat(
		mb->dirfd, "changes",
		O_WRONLY | (net ? 0 : O_APPEND) | O_CREAT | O_CLOEXEC, 0640);
	return mb->logfd;
}

static int log_write(struct rmail_mbox *mb, const unsigned char *rec,
		     size_t len, bool sync)
{
	bool net = mb->st->fs_name != NULL;
	off_t end = 0;
	int fd, rc = -1;

	/* the mutex only keeps this process's threads from moving the
	 * shared descriptor's offset between write and lseek */
	pthread_mutex_lock(&mb->loglock);
	for (int tries = 0; tries < 4; tries++) {
		fd = log_fd(mb);
		if (fd < 0)
			break;
		/* a rotation (LOCK_EX) never drops a durable record written
		 * under LOCK_SH into the file it replaces */
		if (sync && !net)
			flock(fd, LOCK_SH);
		if (net)
			end = locked_write(fd, rec, len);
		else if (write(fd, rec, len) == (ssize_t)len)
			end = lseek(fd, 0, SEEK_CUR);
		rc = end > 0 && (!sync || fdatasync(fd) == 0) ? 0 : -1;
		if (sync && !net) {
			struct stat sb;
			bool gone = fstat(fd, &sb) == 0 && sb.st_nlink == 0;

			flock(fd, LOCK_UN);
			if (gone)
				continue; /* rotated meanwhile: write again */
		}
		break;
	}
	pthread_mutex_unlock(&mb->loglock);
	if (rc == 0 && (uint64_t)end > SS_LOG_ROTATE)
		ss_log_rotate(mb);
	return rc;
}

void ss_log_append_rec(struct rmail_mbox *mb, const struct ss_logrec *r)
{
	unsigned char rec[SS_REC];

	rec_encode(rec, r);
	(void)log_write(mb, rec, SS_REC, false);
}

void ss_log_append(struct rmail_mbox *mb, uint32_t type, uint32_t uid,
		   uint32_t flags, uint64_t modseq)
{
	struct ss_logrec r = {
		.type = type, .uid = uid, .flags = flags, .modseq = modseq};
	unsigned char rec[SS_REC];

	rec_encode(rec, &r);
	(void)log_write(mb, rec, SS_REC, false);
}

/*
 * An append whose name the reader can rebuild (no keywords, size and
 * date within 32 bits) carries them, so other views insert it without
 * reading the shard.
 */
void ss_log_append_msg(struct rmail_mbox *mb, const struct ss_fname *f)
{
	struct ss_logrec r = {.type = RMAIL_CHANGE_APPEND,
			      .uid = f->uid,
			      .flags = f->flags,
			      .modseq = f->modseq};
	unsigned char rec[SS_REC];

	if (f->keywords == 0 && f->size <= UINT32_MAX && f->date >= 0 &&
	    f->date <= (int64_t)UINT32_MAX) {
		r.detail = true;
		r.size = (uint32_t)f->size;
		r.date = (uint32_t)f->date;
	}
	rec_encode(rec, &r);
	(void)log_write(mb, rec, SS_REC, false);
}

int ss_log_durable(struct rmail_mbox *mb, const struct ss_logrec *recs,
		   size_t n)
{
	unsigned char *buf = malloc((n ? n : 1) * SS_REC);
	size_t i;
	int rc;

	if (buf == NULL)
		return -1;
	for (i = 0; i < n; i++)
		rec_encode(buf + i * SS_REC, &recs[i]);
	rc = n == 0 ? 0 : log_write(mb, buf, n * SS_REC, true);
	free(buf);
	return rc;
}

int ss_log_open_ro(struct rmail_mbox *mb, uint64_t *end_r, uint64_t *ino_r)
{
	struct stat sb;
	int fd = openat(mb->dirfd, "changes", O_RDONLY | O_CLOEXEC);

	*end_r = 0;
	*ino_r = 0;
	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) < 0) {
		close(fd);
		return -1;
	}
	/* a torn tail is left for the next reader */
	*end_r = (uint64_t)sb.st_size - (uint64_t)sb.st_size % SS_REC;
	*ino_r = (uint64_t)sb.st_ino;
	return fd;
}

int ss_log_load(int fd, uint64_t from, uint64_t end, struct ss_logrec **recs_r,
		size_t *n_r)
{
	unsigned char buf[SS_REC * 1024];
	size_t cap = (size_t)((end - from) / SS_REC), n = 0;
	struct ss_logrec *recs = malloc((cap ? cap : 1) * sizeof(*recs));
	uint64_t off = from;
	int bad = 0;

	if (recs == NULL)
		return -1;
	while (off < end) {
		size_t want = end - off < sizeof(buf) ? (size_t)(end - off)
						      : sizeof(buf);
		ssize_t got = pread(fd, buf, want, (off_t)off), i;

		if (got < SS_REC) {
			free(recs);
			return -1;
		}
		got -= got % SS_REC;
		for (i = 0; i < got; i += SS_REC) {
			if (rec_decode(buf + i, &recs[n]) < 0) {
				bad = 1;
				continue;
			}
			n++;
		}
		off += (uint64_t)got;
	}
	*recs_r = recs;
	*n_r = n;
	return bad;
}

/* every valid record of the log; -1 when there is none (ENOENT) */
static int load_all(struct rmail_mbox *mb, struct ss_logrec **recs_r,
		    size_t *n_r)
{
	uint64_t end, ino;
	int fd = ss_log_open_ro(mb, &end, &ino), rc;

	*recs_r = NULL;
	*n_r = 0;
	if (fd < 0)
		return -1;
	rc = ss_log_load(fd, 0, end, recs_r, n_r);
	close(fd);
	if (rc < 0) {
		*recs_r = NULL;
		*n_r = 0;
	}
	return 0;
}

uint64_t ss_log_max_modseq(struct rmail_mbox *mb, bool tombstones)
{
	struct ss_logrec *recs;
	uint64_t max = 0;
	size_t n, i;

	if (load_all(mb, &recs, &n) < 0)
		return 0;
	for (i = 0; i < n; i++)
		if (recs[i].modseq > max &&
		    (tombstones || recs[i].type != RMAIL_CHANGE_EXPUNGE ||
		     recs[i].detail))
			max = recs[i].modseq;
	free(recs);
	return max;
}

static int modseq_cmp(const void *a, const void *b)
{
	const struct ss_logrec *x = a, *y = b;

	return x->modseq < y->modseq ? -1 : x->modseq > y->modseq;
}

/*
 * Rotation: the log is replaced by its newest SS_LOG_KEEP tombstones and
 * its last keyword record; the horizon rises to the highest tombstone
 * dropped, durably, before the file that held it is replaced.  Under an
 * exclusive flock of the old file: durable writers hold it shared.
 */
void ss_log_rotate(struct rmail_mbox *mb)
{
	struct ss_logrec *recs = NULL, *keep;
	unsigned char *buf = NULL;
	uint64_t end, ino, horizon = 0;
	size_t n = 0, nk = 0, i, ntomb = 0;
	struct ss_logrec kw = {0};
	char tmp[64];
	int fd = ss_log_open_ro(mb, &end, &ino), wfd = -1;
	struct stat sb;

	if (fd < 0)
		return;
	while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
		;
	/* another process rotated first */
	if (fstat(fd, &sb) < 0 || sb.st_nlink == 0 ||
	    (uint64_t)sb.st_size <= SS_LOG_ROTATE)
		goto out;
	end = (uint64_t)sb.st_size - (uint64_t)sb.st_size % SS_REC;
	if (ss_log_load(fd, 0, end, &recs, &n) < 0)
		goto out;
	keep = recs;
	for (i = 0; i < n; i++) {
		if (recs[i].type == SS_LOG_KEYWORD &&
		    recs[i].modseq > kw.modseq)
			kw = recs[i];
		if (recs[i].type == RMAIL_CHANGE_EXPUNGE)
			keep[ntomb++] = recs[i];
	}
	qsort(keep, ntomb, sizeof(*keep), modseq_cmp);
	if (ntomb > SS_LOG_KEEP) {
		horizon = keep[ntomb - SS_LOG_KEEP - 1].modseq;
		keep += ntomb - SS_LOG_KEEP;
		ntomb = SS_LOG_KEEP;
	}
	nk = ntomb + (kw.modseq != 0);
	buf = malloc((nk ? nk : 1) * SS_REC);
	if (buf == NULL)
		goto out;
	for (i = 0; i < ntomb; i++)
		rec_encode(buf + i * SS_REC, &keep[i]);
	if (kw.modseq != 0)
		rec_encode(buf + ntomb * SS_REC, &kw);
	snprintf(tmp, sizeof(tmp), ".changes.%ld.tmp", (long)getpid());
	wfd = openat(mb->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		     0640);
	if (wfd < 0)
		goto out;
	ss_mbox_chown(mb->st, wfd);
	if (write(wfd, buf, nk * SS_REC) != (ssize_t)(nk * SS_REC) ||
	    fsync(wfd) < 0) {
		unlinkat(mb->dirfd, tmp, 0);
		goto out;
	}
	/* the horizon covers what is dropped before it is gone */
	if (horizon != 0 && ss_modseq_sync_horizon(mb, horizon) < 0) {
		unlinkat(mb->dirfd, tmp, 0);
		goto out;
	}
	if (renameat(mb->dirfd, tmp, mb->dirfd, "changes") < 0) {
		unlinkat(mb->dirfd, tmp, 0);
	} else {
		ss_modseq_log_rotated(mb);
		fsync(mb->dirfd);
	}
out:
	if (wfd >= 0)
		close(wfd);
	free(buf);
	free(recs);
	flock(fd, LOCK_UN);
	close(fd);
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Changes after `since`, from the view (refreshed by the caller) and the
 * log's tombstones: every message whose modseq is above since (APPEND
 * when that modseq is its append's, else FLAGS) and every tombstone
 * above since of a UID the view no longer holds.  A tombstone of a UID
 * still there belongs to an expunge that did not happen (a crash between
 * the record and the unlink, or a lost race): the message's own later
 * changes carry higher modseqs.
 */
int ss_mbox_changes(struct rmail_mbox *mb, uint64_t since, rmail_change_fn cb,
		    void *arg, struct rmail_err *err)
{
	struct ss_logrec *recs;
	uint64_t *appends;
	size_t n = 0, na = 0, i;
	uint32_t idx, count;

	if (load_all(mb, &recs, &n) < 0 && errno != ENOENT)
		return rmail_err_set(err, RMAIL_E_IO, "change log: %s",
				     strerror(errno));
	appends = malloc((n ? n : 1) * sizeof(*appends));
	if (appends == NULL) {
		free(recs);
		return rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
	}
	for (i = 0; i < n; i++)
		if (recs[i].type == RMAIL_CHANGE_APPEND &&
		    recs[i].modseq > since)
			appends[na++] = recs[i].modseq;
	qsort(appends, na, sizeof(*appends), u64_cmp);
	pthread_mutex_lock(&mb->lock);
	count = ss_mbox_count(mb);
	for (idx = 0; idx < count; idx++) {
		const struct rmail_msg *m = ss_mbox_msg(mb, idx);
		struct rmail_change c = {RMAIL_CHANGE_FLAGS, m->uid, m->modseq};

		if (m->modseq <= since)
			continue;
		if (na > 0 && bsearch(&m->modseq, appends, na, sizeof(*appends),
				      u64_cmp) != NULL)
			c.type = RMAIL_CHANGE_APPEND;
		cb(arg, &c);
	}
	for (i = 0; i < n; i++) {
		struct rmail_change c = {RMAIL_CHANGE_EXPUNGE, recs[i].uid,
					 recs[i].modseq};

		/* the tombstone, not the record written after the unlink
		 * with the same modseq */
		if (recs[i].type != RMAIL_CHANGE_EXPUNGE || recs[i].detail ||
		    recs[i].modseq <= since || ss_mbox_find(mb, c.uid) >= 0)
			continue;
		/* its unlink is done (the view lost the UID): HIGHESTMODSEQ
		 * covers what is reported, so a caller resuming from it
		 * never sees it go down */
		if (c.modseq > mb->highest)
			mb->highest = c.modseq;
		cb(arg, &c);
	}
	pthread_mutex_unlock(&mb->lock);
	free(appends);
	free(recs);
	return 0;
}
