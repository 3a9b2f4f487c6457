/*
 * RFC 8514 save dates (store op 1.5 msg_savedate).
 *
 * File times cannot carry them: the mtime survives MOVE (a rename) and
 * COPY shares the inode (a link), the ctime changes with every flag
 * rename.  What does mark the moment a message enters a mailbox is the
 * UID lock: APPEND, COPY, MOVE and imports all take their new UIDs under
 * it.  So ss_uid_unlock appends one 16-byte record to "savedates" in the
 * mailbox directory for the UIDs it handed out, [first, last] at `time`
 * under the UIDVALIDITY, before it lets the next writer in.  Records
 * therefore come in ascending UID order per UIDVALIDITY, and a reader
 * finds a UID by binary search.  Flag changes take no UID: the save date
 * stays.  UIDs a failed commit skipped get a record no message uses.
 *
 * The file is not fsync'd (a commit is durable through its rename): a
 * crash may lose the records of the last commits, and messages from
 * before this file existed have none; msg_savedate says 0 ("no record")
 * for those and IMAP shows the internal date.  It grows by 16 bytes
 * per commit (not per message of a batch) and goes with the mailbox
 * directory.  Each time its record count reaches a power of two (from
 * SD_COMPACT_MIN on) the writer, still under the UID lock, lists the
 * UIDs on disk and, when more than half the records name none of them
 * (all expunged, or of an older UIDVALIDITY), writes the rest to a new
 * file renamed over it: readers see a new inode and read it again.  So
 * the checks cost O(1) per commit amortized, and the file stays within
 * about twice the records its messages need.  A UID counts as on disk
 * when either of two listings saw it, so a flag rename racing one
 * listing does not cost a message its save date.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ss_mbox.h"

#define SD_FILE "savedates"
/* a record count past this is not cached (a damaged file) */
#define SD_MAX_RECS (64u * 1024 * 1024)
/* the smallest file worth compacting, in records */
#define SD_COMPACT_MIN 64u

struct uidvec {
	uint32_t *v;
	size_t n, cap;
};

static int uv_push(struct uidvec *u, uint32_t uid)
{
	if (u->n == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 1024;
		uint32_t *nv = realloc(u->v, cap * sizeof(*nv));

		if (nv == NULL)
			return -1;
		u->v = nv;
		u->cap = cap;
	}
	u->v[u->n++] = uid;
	return 0;
}

/* every UID of the mailbox directory's shards into u (unsorted) */
static int list_uids(struct rmail_mbox *mb, struct uidvec *u)
{
	int fd = openat(mb->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	int64_t no;
	DIR *d;
	int rc = 0;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		struct rmail_msg *msgs;
		uint32_t n, i;
		char rel[16];
		int sfd;

		if ((no = ss_shard_parse(de->d_name)) < 0)
			continue;
		snprintf(rel, sizeof(rel), "s%u", (uint32_t)no);
		sfd = openat(mb->dirfd, rel,
			     O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sfd < 0) {
			rc = errno == ENOENT ? 0 : -1;
			continue;
		}
		if (ss_shard_scan(sfd, (uint32_t)no, &msgs, &n) < 0)
			rc = -1;
		else {
			for (i = 0; i < n && rc == 0; i++)
				rc = uv_push(u, msgs[i].uid);
			free(msgs);
		}
		close(sfd);
	}
	closedir(d);
	return rc;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* is a UID of [first, last] in the sorted v[0..n) */
static bool any_in(const uint32_t *v, size_t n, uint32_t first, uint32_t last)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid] < first)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && v[lo] <= last;
}

/*
 * The file holds nrec records: keep those naming a UID on disk, when
 * that drops more than half (UID lock held: no record is added
 * meanwhile).  Any failure leaves the file as it was.
 */
static void sd_compact(struct rmail_mbox *mb, int fd, size_t nrec)
{
	struct ss_saverec *r = malloc(nrec * sizeof(*r));
	struct uidvec u = {0};
	size_t i, keep = 0;

	if (r == NULL ||
	    pread(fd, r, nrec * sizeof(*r), 0) != (ssize_t)(nrec * sizeof(*r)))
		goto out;
	if (list_uids(mb, &u) < 0 || list_uids(mb, &u) < 0)
		goto out;
	qsort(u.v, u.n, sizeof(u.v[0]), cmp_u32);
	for (i = 0; i < nrec; i++)
		if (r[i].uidvalidity == mb->uidvalidity &&
		    r[i].first <= r[i].last &&
		    any_in(u.v, u.n, r[i].first, r[i].last))
			r[keep++] = r[i];
	if ((nrec - keep) * 2 <= nrec)
		goto out;
	/* the old file is whole until the rename: the new one must be
	 * too, a crash between would otherwise lose every record */
	ss_tmp_replace(mb, SD_FILE, r, keep * sizeof(*r));
out:
	free(u.v);
	free(r);
}

void ss_savedate_note(struct rmail_mbox *mb, uint32_t first, uint32_t last)
{
	struct ss_saverec r = {mb->uidvalidity, first, last,
			       (uint32_t)time(NULL)};
	int fd = openat(mb->dirfd, SD_FILE,
			O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
			0640);
	struct stat sb;
	size_t n;

	if (fd < 0)
		return;
	ss_mbox_chown(mb->st, fd);
	/* one write of a whole record: O_APPEND keeps records whole */
	if (write(fd, &r, sizeof(r)) == (ssize_t)sizeof(r) &&
	    fstat(fd, &sb) == 0 && sb.st_size % sizeof(r) == 0) {
		n = (size_t)sb.st_size / sizeof(r);
		if (n >= SD_COMPACT_MIN && n <= SD_MAX_RECS &&
		    (n & (n - 1)) == 0)
			sd_compact(mb, fd, n);
	}
	close(fd);
}

void ss_savedate_free(struct rmail_mbox *mb)
{
	free(mb->sd);
	mb->sd = NULL;
	mb->sd_n = mb->sd_cap = 0;
	mb->sd_read = 0;
}

/* read the records past what the cache holds (mb->lock held) */
static int sd_load(struct rmail_mbox *mb, uint32_t uv)
{
	int fd = openat(mb->dirfd, SD_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct ss_saverec buf[256];
	struct stat sb;
	uint64_t end;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &sb) < 0) {
		close(fd);
		return -1;
	}
	if ((uint64_t)sb.st_ino != mb->sd_ino || mb->sd_uv != uv ||
	    (uint64_t)sb.st_size < mb->sd_read) {
		ss_savedate_free(mb);
		mb->sd_ino = (uint64_t)sb.st_ino;
		mb->sd_uv = uv;
	}
	end = (uint64_t)sb.st_size - (uint64_t)sb.st_size % sizeof(buf[0]);
	while (mb->sd_read < end) {
		size_t want = end - mb->sd_read < sizeof(buf)
				      ? (size_t)(end - mb->sd_read)
				      : sizeof(buf);
		ssize_t got = pread(fd, buf, want, (off_t)mb->sd_read);
		size_t i, k;

		if (got <= 0)
			break;
		got -= got % (ssize_t)sizeof(buf[0]);
		if (got == 0)
			break;
		mb->sd_read += (uint64_t)got;
		for (i = 0, k = (size_t)got / sizeof(buf[0]); i < k; i++) {
			/* other UIDVALIDITYs, and what does not ascend
			 * (a damaged record), are left out */
			if (buf[i].uidvalidity != uv ||
			    buf[i].first > buf[i].last ||
			    (mb->sd_n > 0 &&
			     buf[i].first <= mb->sd[mb->sd_n - 1].last))
				continue;
			if (mb->sd_n == mb->sd_cap) {
				size_t cap = mb->sd_cap ? mb->sd_cap * 2 : 64;
				struct ss_saverec *nv;

				if (cap > SD_MAX_RECS ||
				    (nv = realloc(mb->sd, cap * sizeof(*nv))) ==
					    NULL) {
					close(fd);
					return -1;
				}
				mb->sd = nv;
				mb->sd_cap = cap;
			}
			mb->sd[mb->sd_n++] = buf[i];
		}
	}
	close(fd);
	return 0;
}

/* the record holding uid, or NULL (mb->lock held) */
static const struct ss_saverec *sd_find(const struct rmail_mbox *mb,
					uint32_t uid)
{
	size_t lo = 0, hi = mb->sd_n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (mb->sd[mid].first <= uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || mb->sd[lo - 1].last < uid)
		return NULL;
	return &mb->sd[lo - 1];
}

int ss_msg_savedate(struct rmail_mbox *mb, uint32_t uid, int64_t *date_r,
		    struct rmail_err *err)
{
	const struct ss_saverec *r;
	struct rmail_mbox_status st = {.size = sizeof(st)};
	int rc = 0;

	*date_r = 0;
	pthread_mutex_lock(&mb->lock);
	ss_mbox_info(mb, &st);
	/* records ascend: a UID below the last cached one without a
	 * record never gets one; above it, a commit since the last look */
	if ((mb->sd_uv != st.uidvalidity || mb->sd_n == 0 ||
	     uid > mb->sd[mb->sd_n - 1].last) &&
	    sd_load(mb, st.uidvalidity) < 0) {
		pthread_mutex_unlock(&mb->lock);
		return rmail_err_set(err, RMAIL_E_IO, "savedates: %s",
				     strerror(errno));
	}
	r = sd_find(mb, uid);
	if (r != NULL) {
		*date_r = (int64_t)r->time;
		rc = 1;
	}
	pthread_mutex_unlock(&mb->lock);
	return rc;
}
