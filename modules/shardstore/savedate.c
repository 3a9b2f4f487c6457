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
 * for those and IMAP shows the internal date.  It only grows, by 16
 * bytes per commit (not per message of a batch), and goes with the
 * mailbox directory.
 */
#include <errno.h>
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

void ss_savedate_note(struct rmail_mbox *mb, uint32_t first, uint32_t last)
{
	struct ss_saverec r = {mb->uidvalidity, first, last,
			       (uint32_t)time(NULL)};
	int fd = openat(mb->dirfd, SD_FILE,
			O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
			0640);

	if (fd < 0)
		return;
	ss_mbox_chown(mb->st, fd);
	/* one write of a whole record: O_APPEND keeps records whole */
	(void)!write(fd, &r, sizeof(r));
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
