/*
 * The per-mailbox change log: 16-byte records appended with O_APPEND;
 * a record's modseq is its end offset, so no lock is shared between
 * processes.  A cache: renames are the truth, nothing here is fsync'd.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ss_mbox.h"

#define SS_REC 16

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

static void rec_encode(unsigned char *rec, uint32_t type, uint32_t uid,
		       uint32_t flags)
{
	rec[0] = (unsigned char)type;
	rec[1] = 1;
	rec[2] = rec[3] = 0;
	put32(rec + 4, uid);
	put32(rec + 8, flags);
	put32(rec + 12, type ^ uid ^ flags ^ 0x5a5a5a5au);
}

/* the 16-bit check of a version-2 (append detail) record */
static uint16_t detail_check(uint32_t uid, uint32_t size, uint32_t date)
{
	uint32_t x = uid ^ size ^ date ^ 0xa5c3a5c3u;

	return (uint16_t)(x ^ (x >> 16));
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

static uint64_t log_write(struct rmail_mbox *mb, const unsigned char *rec,
			  size_t len)
{
	bool net = mb->st->fs_name != NULL;
	off_t end = 0;

	/* the mutex only keeps this process's threads from moving the
	 * shared descriptor's offset between write and lseek */
	pthread_mutex_lock(&mb->loglock);
	if (mb->logfd < 0)
		mb->logfd = openat(mb->dirfd, "changes",
				   O_WRONLY | (net ? 0 : O_APPEND) | O_CREAT |
					   O_CLOEXEC,
				   0640);
	if (mb->logfd >= 0 && net)
		end = locked_write(mb->logfd, rec, len);
	else if (mb->logfd >= 0 && write(mb->logfd, rec, len) == (ssize_t)len)
		end = lseek(mb->logfd, 0, SEEK_CUR);
	pthread_mutex_unlock(&mb->loglock);
	return end < 0 ? 0 : (uint64_t)end;
}

uint64_t ss_log_append(struct rmail_mbox *mb, uint32_t type, uint32_t uid,
		       uint32_t flags)
{
	unsigned char rec[SS_REC];

	rec_encode(rec, type, uid, flags);
	return log_write(mb, rec, SS_REC);
}

/*
 * An append whose name the reader can rebuild (no keywords, size and date
 * within 32 bits) is preceded, in the same O_APPEND write, by a version-2
 * detail record with its size and date, so other views insert it without
 * reading the shard.  Readers that predate version 2 skip the detail.
 */
uint64_t ss_log_append_msg(struct rmail_mbox *mb, const struct ss_fname *f)
{
	unsigned char rec[2 * SS_REC];
	uint16_t chk;

	if (f->keywords != 0 || f->size > UINT32_MAX || f->date < 0 ||
	    f->date > (int64_t)UINT32_MAX)
		return ss_log_append(mb, RMAIL_CHANGE_APPEND, f->uid, f->flags);
	chk = detail_check(f->uid, (uint32_t)f->size, (uint32_t)f->date);
	rec[0] = RMAIL_CHANGE_APPEND;
	rec[1] = 2;
	rec[2] = (unsigned char)chk;
	rec[3] = (unsigned char)(chk >> 8);
	put32(rec + 4, f->uid);
	put32(rec + 8, (uint32_t)f->size);
	put32(rec + 12, (uint32_t)f->date);
	rec_encode(rec + SS_REC, RMAIL_CHANGE_APPEND, f->uid, f->flags);
	return log_write(mb, rec, sizeof(rec));
}

typedef void (*rec_fn)(void *arg, const struct rmail_change *c, uint32_t flags);

static int log_walk(struct rmail_mbox *mb, uint64_t since, rec_fn fn, void *arg,
		    uint64_t *end_r)
{
	unsigned char buf[SS_REC * 4096];
	uint64_t off = since - since % SS_REC;
	int fd = openat(mb->dirfd, "changes", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		*end_r = since;
		return errno == ENOENT ? 0 : -1;
	}
	while ((n = pread(fd, buf, sizeof(buf), (off_t)off)) >= SS_REC) {
		ssize_t i;

		n -= n % SS_REC; /* a torn tail waits for the rest */
		for (i = 0; i < n; i += SS_REC) {
			const unsigned char *r = buf + i;
			struct rmail_change c;
			uint32_t flags = get32(r + 8);

			c.type = r[0];
			c.uid = get32(r + 4);
			c.modseq = off + (uint64_t)i + SS_REC;
			if (r[1] != 1 || get32(r + 12) != (c.type ^ c.uid ^
							   flags ^ 0x5a5a5a5au))
				continue;
			fn(arg, &c, flags);
		}
		off += (uint64_t)n;
	}
	close(fd);
	*end_r = off;
	return 0;
}

struct changes_arg {
	rmail_change_fn cb;
	void *arg;
};

static void changes_cb(void *arg, const struct rmail_change *c, uint32_t flags)
{
	struct changes_arg *a = arg;

	(void)flags;
	a->cb(a->arg, c);
}

int ss_mbox_changes(struct rmail_mbox *mb, uint64_t since, rmail_change_fn cb,
		    void *arg, struct rmail_err *err)
{
	struct changes_arg a = {cb, arg};
	uint64_t end;

	if (log_walk(mb, since, changes_cb, &a, &end) < 0)
		return rmail_err_set(err, RMAIL_E_IO, "change log: %s",
				     strerror(errno));
	return 0;
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
			const unsigned char *r = buf + i;
			struct ss_logrec *l = &recs[n];

			l->type = r[0];
			l->uid = get32(r + 4);
			l->flags = get32(r + 8);
			l->modseq = off + (uint64_t)i + SS_REC;
			l->size = 0;
			l->date = 0;
			if (r[1] == 2 && l->type == RMAIL_CHANGE_APPEND &&
			    l->uid != 0 &&
			    (uint16_t)(r[2] | r[3] << 8) ==
				    detail_check(l->uid, l->flags,
						 get32(r + 12))) {
				l->type = SS_LOG_DETAIL;
				l->size = l->flags;
				l->date = get32(r + 12);
				l->flags = 0;
				n++;
				continue;
			}
			if (r[1] != 1 || l->uid == 0 ||
			    get32(r + 12) != (l->type ^ l->uid ^ l->flags ^
					      0x5a5a5a5au)) {
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
