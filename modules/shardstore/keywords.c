/*
 * The keyword table of a mailbox.  On disk it is replaced whole (temp
 * file, fsync, rename) under the UID lock, so every process sees a new
 * table by the file's identity.  In memory it only grows: indexes never
 * change, so names handed out stay valid and a table read after the
 * file names it describes (writers make it durable before any name uses
 * a new bit) covers every bit of them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ss_mbox.h"

static bool kw_beyond(uint64_t mask, size_t n)
{
	return n < 64 && (mask >> n) != 0;
}

static void kw_ident(struct rmail_mbox *mb, const struct stat *sb)
{
	mb->kw_ino = sb != NULL ? (uint64_t)sb->st_ino : 0;
	mb->kw_bytes = sb != NULL ? (uint64_t)sb->st_size : 0;
	mb->kw_mtime = sb != NULL ? sb->st_mtim : (struct timespec){0, 0};
}

/* mb->lock held (or the view not shared yet) */
int ss_read_keywords(struct rmail_mbox *mb)
{
	char buf[RMAIL_KEYWORD_MAX * 256 + 1], *p, *nl;
	int fd = openat(mb->dirfd, "keywords", O_RDONLY | O_CLOEXEC);
	struct stat sb;
	size_t idx = 0;
	ssize_t n;

	if (mb->keywords == NULL) {
		mb->keywords = calloc(RMAIL_KEYWORD_MAX, sizeof(char *));
		if (mb->keywords == NULL) {
			if (fd >= 0)
				close(fd);
			return -1;
		}
	}
	if (fd < 0) {
		kw_ident(mb, NULL);
		return errno == ENOENT ? 0 : -1;
	}
	if (fstat(fd, &sb) < 0) {
		close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	kw_ident(mb, &sb);
	for (p = buf; *p != '\0' && idx < RMAIL_KEYWORD_MAX;
	     p = nl + 1, idx++) {
		char *name;

		nl = strchr(p, '\n');
		if (nl == NULL)
			break;
		if (idx < mb->nkeywords)
			continue;
		*nl = '\0';
		name = strdup(p);
		if (name == NULL)
			return -1;
		mb->keywords[idx] = name;
		/* lock-free readers take (names, n): the name first */
		__atomic_store_n(&mb->nkeywords, idx + 1, __ATOMIC_RELEASE);
	}
	return 0;
}

void ss_free_keywords(struct rmail_mbox *mb)
{
	size_t i;

	for (i = 0; i < mb->nkeywords; i++)
		free(mb->keywords[i]);
	free(mb->keywords);
	mb->keywords = NULL;
	mb->nkeywords = 0;
}

/* mb->lock held: re-read the table when the file is another one now */
int ss_kw_revalidate(struct rmail_mbox *mb)
{
	struct stat sb;

	if (fstatat(mb->dirfd, "keywords", &sb, 0) < 0) {
		if (errno != ENOENT)
			return -1;
		return mb->keywords == NULL ? ss_read_keywords(mb) : 0;
	}
	if (mb->keywords != NULL && (uint64_t)sb.st_ino == mb->kw_ino &&
	    (uint64_t)sb.st_size == mb->kw_bytes &&
	    sb.st_mtim.tv_sec == mb->kw_mtime.tv_sec &&
	    sb.st_mtim.tv_nsec == mb->kw_mtime.tv_nsec)
		return 0;
	return ss_read_keywords(mb);
}

/* mb->lock held: a table that names every bit of mask, if the disk has
 * one (bits beyond it come from names read after the table) */
void ss_kw_cover(struct rmail_mbox *mb, uint64_t mask)
{
	if (mb->keywords == NULL || kw_beyond(mask, mb->nkeywords))
		(void)ss_read_keywords(mb);
}

/* Under the UID lock and mb->lock: the table plus `add`, replaced
 * whole, durable before any name uses the new index. */
static int kw_write(struct rmail_mbox *mb, const char *add)
{
	char buf[RMAIL_KEYWORD_MAX * 256 + 1];
	size_t len = 0, i;
	int fd;

	for (i = 0; i < mb->nkeywords; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s\n",
					mb->keywords[i]);
	len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s\n", add);
	fd = openat(mb->dirfd, ".keywords.tmp",
		    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	ss_mbox_chown(mb->st, fd);
	if (write(fd, buf, len) != (ssize_t)len || fsync(fd) < 0) {
		close(fd);
		unlinkat(mb->dirfd, ".keywords.tmp", 0);
		return -1;
	}
	close(fd);
	if (renameat(mb->dirfd, ".keywords.tmp", mb->dirfd, "keywords") < 0 ||
	    fsync(mb->dirfd) < 0)
		return -1;
	return 0;
}

/* Under the UID lock and mb->lock, the table durable: a new keyword is
 * a change of the mailbox (RFC 7162: HIGHESTMODSEQ rises), recorded
 * durably in the log (the names do not show it). */
static void kw_bump(struct rmail_mbox *mb)
{
	struct ss_logrec r = {.type = SS_LOG_KEYWORD};

	r.modseq = ss_modseq_begin(mb);
	if (r.modseq == 0)
		return;
	if (ss_log_durable(mb, &r, 1) == 0) {
		ss_modseq_raise_hwm(mb, r.modseq);
		if (r.modseq > mb->highest)
			mb->highest = r.modseq;
	}
	ss_modseq_end(mb, r.modseq);
}

/* Keyword names to a mask; a keyword new to the mailbox is added to the
 * table under the UID lock, durably, before any name uses it. */
int ss_kw_resolve(struct rmail_mbox *mb, const char *const *kw, size_t n,
		  uint64_t *mask_r, struct rmail_err *err)
{
	uint64_t mask = 0;
	size_t i, k;
	bool locked = false;
	uint32_t uv, next;

	pthread_mutex_lock(&mb->lock);
	if (mb->keywords == NULL)
		ss_read_keywords(mb);
	for (i = 0; i < n; i++) {
		for (k = 0; k < mb->nkeywords; k++)
			if (strcasecmp(mb->keywords[k], kw[i]) == 0)
				break;
		if (k == mb->nkeywords && !locked) {
			/* re-read under the lock: another process may have
			 * added it */
			pthread_mutex_unlock(&mb->lock);
			if (ss_uid_lock(mb, &uv, &next, err) < 0)
				return -1;
			locked = true;
			pthread_mutex_lock(&mb->lock);
			if (ss_read_keywords(mb) < 0) {
				pthread_mutex_unlock(&mb->lock);
				ss_uid_unlock(mb, next);
				return rmail_err_set(err, RMAIL_E_IO,
						     "keywords: %s",
						     strerror(errno));
			}
			i = (size_t)-1;
			mask = 0;
			continue;
		}
		if (k == mb->nkeywords) {
			size_t len = strlen(kw[i]);
			char *name;

			if (len == 0 || len > 250 || strpbrk(kw[i], "\r\n")) {
				pthread_mutex_unlock(&mb->lock);
				ss_uid_unlock(mb, next);
				return rmail_err_set(err, RMAIL_E_INVAL,
						     "keyword refused");
			}
			/* a full table is a limit, not a bad keyword */
			if (mb->nkeywords >= RMAIL_KEYWORD_MAX) {
				pthread_mutex_unlock(&mb->lock);
				ss_uid_unlock(mb, next);
				return rmail_err_set(
					err, RMAIL_E_TOOBIG,
					"Keyword table full: at most %d "
					"keywords per mailbox",
					RMAIL_KEYWORD_MAX);
			}
			name = strdup(kw[i]);
			if (name == NULL || kw_write(mb, kw[i]) < 0) {
				int e = name == NULL ? ENOMEM : errno;

				free(name);
				pthread_mutex_unlock(&mb->lock);
				ss_uid_unlock(mb, next);
				return rmail_err_set(err, RMAIL_E_IO,
						     "keywords: %s",
						     strerror(e));
			}
			mb->keywords[k] = name;
			__atomic_store_n(&mb->nkeywords, k + 1,
					 __ATOMIC_RELEASE);
			kw_bump(mb);
		}
		mask |= 1ull << k;
	}
	pthread_mutex_unlock(&mb->lock);
	if (locked)
		ss_uid_unlock(mb, next);
	*mask_r = mask;
	return 0;
}

/* mask of src's keywords as the same names in dst's table (added there
 * when new); bits no table names are dropped */
int ss_kw_translate(struct rmail_mbox *src, struct rmail_mbox *dst,
		    uint64_t mask, uint64_t *mask_r, struct rmail_err *err)
{
	const char *names[RMAIL_KEYWORD_MAX];
	size_t nk = 0, k;

	*mask_r = 0;
	if (mask == 0)
		return 0;
	pthread_mutex_lock(&src->lock);
	ss_kw_cover(src, mask);
	for (k = 0; k < src->nkeywords && k < 64; k++)
		if (mask & (1ull << k))
			names[nk++] = src->keywords[k];
	pthread_mutex_unlock(&src->lock);
	return ss_kw_resolve(dst, names, nk, mask_r, err);
}
