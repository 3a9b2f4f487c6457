/*
 * Shared mailbox views: one struct rmail_mbox per process and mailbox,
 * built from shard directory entries only (getdents, no stat/open of
 * messages) and revalidated per shard by directory mtime.  40 bytes per
 * message (struct rmail_msg) plus a few per shard.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ss_mbox.h"

#define SS_VIEWS_IDLE_MAX 32 /* unreferenced views kept warm */
#define SS_PATCH_MAX 65536   /* log records applied in place per refresh */

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int ts_cmp(const struct timespec *a, const struct timespec *b)
{
	if (a->tv_sec != b->tv_sec)
		return a->tv_sec < b->tv_sec ? -1 : 1;
	if (a->tv_nsec != b->tv_nsec)
		return a->tv_nsec < b->tv_nsec ? -1 : 1;
	return 0;
}

/* A directory changed at `mtime` may change again within the same clock
 * tick without its mtime moving: such a directory stays dirty. */
static bool ts_racy(const struct timespec *mtime, const struct timespec *now)
{
	int64_t d = ((int64_t)now->tv_sec - mtime->tv_sec) * 1000000000LL +
		    (now->tv_nsec - mtime->tv_nsec);

	return d < SS_RACY_NS;
}

int ss_shard_scan(int fd, uint32_t no, struct rmail_msg **msgs_r,
		  uint32_t *count_r)
{
	const size_t bufsz = 256u << 10;
	char *buf = malloc(bufsz);
	uint32_t base = no << SS_SHARD_BITS, n = 0, cap = 256, i;
	int32_t *slot;
	struct rmail_msg *msgs;
	long got;
	int dups = 0;

	if (buf == NULL)
		return -1;
	slot = malloc(sizeof(*slot) << SS_SHARD_BITS);
	msgs = malloc(cap * sizeof(*msgs));
	if (slot == NULL || msgs == NULL)
		goto fail;
	memset(slot, 0xff, sizeof(*slot) << SS_SHARD_BITS);
	if (lseek(fd, 0, SEEK_SET) < 0)
		goto fail;
	while ((got = syscall(SYS_getdents64, fd, buf, bufsz)) > 0) {
		long off;

		for (off = 0; off < got;) {
			struct linux_dirent64 *d = (void *)(buf + off);
			struct ss_fname f;
			size_t len = strlen(d->d_name);

			off += d->d_reclen;
			if (ss_fname_parse(d->d_name, len, &f) < 0 ||
			    ss_shard_of(f.uid) != no)
				continue;
			if (slot[f.uid - base] >= 0) {
				/* one message under two names (restored
				 * backup, a crash mid-migration): keep the
				 * newest, then the name sorting last */
				char a[SS_FNAME_MAX];
				struct rmail_msg *o = &msgs[slot[f.uid - base]];
				struct ss_fname of = {
					o->uid,	 o->flags,	  o->keywords,
					o->size, o->internaldate, o->modseq};

				ss_fname_format(&of, a);
				dups = 1;
				if (f.modseq < o->modseq ||
				    (f.modseq == o->modseq &&
				     strcmp(d->d_name, a) <= 0))
					continue;
				o->flags = f.flags;
				o->keywords = f.keywords;
				o->size = f.size;
				o->internaldate = f.date;
				o->modseq = f.modseq;
				continue;
			}
			if (n == cap) {
				struct rmail_msg *nm;

				cap *= 2;
				nm = realloc(msgs, cap * sizeof(*msgs));
				if (nm == NULL)
					goto fail;
				msgs = nm;
			}
			slot[f.uid - base] = (int32_t)n;
			msgs[n].uid = f.uid;
			msgs[n].flags = f.flags;
			msgs[n].keywords = f.keywords;
			msgs[n].size = f.size;
			msgs[n].internaldate = f.date;
			msgs[n].modseq = f.modseq;
			n++;
		}
	}
	if (got < 0)
		goto fail;
	{
		/* emit in UID order through the slot table: O(n + 16384) */
		struct rmail_msg *sorted = malloc((n ? n : 1) * sizeof(*msgs));
		uint32_t j = 0;

		if (sorted == NULL)
			goto fail;
		for (i = 0; i < (1u << SS_SHARD_BITS) && j < n; i++)
			if (slot[i] >= 0)
				sorted[j++] = msgs[slot[i]];
		free(msgs);
		msgs = sorted;
	}
	free(slot);
	free(buf);
	*msgs_r = msgs;
	*count_r = n;
	return dups;
fail:
	free(slot);
	free(msgs);
	free(buf);
	return -1;
}

static int open_shard(struct rmail_mbox *mb, uint32_t no)
{
	char rel[16];

	snprintf(rel, sizeof(rel), "s%u", no);
	return openat(mb->dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int ss_msg_locate(struct rmail_mbox *mb, uint32_t uid, struct ss_fname *f_r)
{
	struct rmail_msg *msgs;
	uint32_t n, lo, hi;
	int fd = open_shard(mb, ss_shard_of(uid)), rc = -1;

	if (fd < 0)
		return -1;
	if (ss_shard_scan(fd, ss_shard_of(uid), &msgs, &n) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	for (lo = 0, hi = n; lo < hi;) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (msgs[mid].uid < uid) {
			lo = mid + 1;
		} else if (msgs[mid].uid > uid) {
			hi = mid;
		} else {
			f_r->uid = uid;
			f_r->flags = msgs[mid].flags;
			f_r->keywords = msgs[mid].keywords;
			f_r->size = msgs[mid].size;
			f_r->date = msgs[mid].internaldate;
			f_r->modseq = msgs[mid].modseq;
			rc = 0;
			break;
		}
	}
	free(msgs);
	return rc;
}

int ss_msg_state(struct rmail_mbox *mb, uint32_t uid, struct ss_fname *f_r)
{
	int64_t idx;

	pthread_mutex_lock(&mb->lock);
	idx = ss_mbox_find(mb, uid);
	if (idx >= 0) {
		const struct rmail_msg *m = ss_mbox_msg(mb, (uint32_t)idx);

		f_r->uid = uid;
		f_r->flags = m->flags;
		f_r->keywords = m->keywords;
		f_r->size = m->size;
		f_r->date = m->internaldate;
		f_r->modseq = m->modseq;
	}
	pthread_mutex_unlock(&mb->lock);
	return idx >= 0 ? 0 : ss_msg_locate(mb, uid, f_r);
}

bool ss_shard_has_dups(struct rmail_mbox *mb, uint32_t uid)
{
	bool r = false;
	size_t i;

	pthread_mutex_lock(&mb->lock);
	for (i = 0; i < mb->nshards; i++)
		if (mb->shards[i].no == ss_shard_of(uid))
			r = mb->shards[i].dups;
	pthread_mutex_unlock(&mb->lock);
	return r;
}

static void read_meta(struct rmail_mbox *mb)
{
	static const char *const su[] = {"",	  "sent",   "drafts",
					 "trash", "junk",   "archive",
					 "all",	  "flagged"};
	char buf[32];
	int fd = openat(mb->dirfd, "special-use", O_RDONLY | O_CLOEXEC);
	ssize_t n;
	size_t i;

	mb->special_use = 0;
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	for (i = 1; i < sizeof(su) / sizeof(su[0]); i++)
		if (strcmp(buf, su[i]) == 0)
			mb->special_use = (uint32_t)i;
}

static void read_counter(struct rmail_mbox *mb)
{
	char buf[128];
	unsigned v, uv, next;
	ssize_t n = pread(mb->counterfd, buf, sizeof(buf) - 1, 0);

	buf[n < 0 ? 0 : n] = '\0';
	if (sscanf(buf, "%u %u %u", &v, &uv, &next) == 3) {
		mb->uidvalidity = uv;
		mb->uidnext = next;
	}
}

int ss_shard_own(struct ss_shard *s)
{
	struct rmail_msg *m;

	if (!s->mapped)
		return 0;
	m = malloc((s->count ? s->count : 1) * sizeof(*m));
	if (m == NULL)
		return -1;
	memcpy(m, s->msgs, s->count * sizeof(*m));
	s->msgs = m;
	s->cap = s->count;
	s->mapped = false;
	return 0;
}

static void shard_free_msgs(struct ss_shard *s)
{
	if (!s->mapped)
		free(s->msgs);
	s->msgs = NULL;
	s->mapped = false;
	s->unchecked = false;
}

/* a shard gone from the directory: one fewer taken from the snapshot
 * when it was still unread */
static void shard_drop(struct rmail_mbox *mb, struct ss_shard *s)
{
	if (s->unchecked && mb->snap_used > 0)
		mb->snap_used--;
	shard_free_msgs(s);
}

static int shard_cmp(const void *a, const void *b)
{
	const struct ss_shard *x = a, *y = b;

	return x->no < y->no ? -1 : x->no > y->no;
}

/* Re-read the list of shard directories (the mailbox dir changed). */
static int reload_shards(struct rmail_mbox *mb)
{
	struct ss_shard *sh = NULL;
	size_t n = 0, cap = 0, i, j;
	struct dirent *de;
	DIR *d;
	int fd = openat(mb->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		int64_t no = ss_shard_parse(de->d_name);

		if (no < 0)
			continue;
		if (n == cap) {
			struct ss_shard *ns;

			cap = cap ? cap * 2 : 16;
			ns = realloc(sh, cap * sizeof(*sh));
			if (ns == NULL) {
				closedir(d);
				free(sh);
				return -1;
			}
			sh = ns;
		}
		memset(&sh[n], 0, sizeof(sh[n]));
		sh[n].no = (uint32_t)no;
		sh[n].dirty = true;
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(sh, n, sizeof(*sh), shard_cmp);
	/* keep the cached arrays of shards that still exist */
	for (i = 0, j = 0; i < n; i++) {
		while (j < mb->nshards && mb->shards[j].no < sh[i].no)
			shard_drop(mb, &mb->shards[j++]);
		if (j < mb->nshards && mb->shards[j].no == sh[i].no)
			sh[i] = mb->shards[j++];
	}
	while (j < mb->nshards)
		shard_drop(mb, &mb->shards[j++]);
	free(mb->shards);
	free(mb->first);
	mb->shards = sh;
	mb->nshards = n;
	mb->first = calloc(n + 1, sizeof(*mb->first));
	return mb->first == NULL ? -1 : 0;
}

static struct ss_shard *shard_by_no(struct rmail_mbox *mb, uint32_t no)
{
	size_t lo = 0, hi = mb->nshards;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (mb->shards[mid].no < no)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < mb->nshards && mb->shards[lo].no == no ? &mb->shards[lo]
							   : NULL;
}

static int64_t shard_find(const struct ss_shard *s, uint32_t uid)
{
	uint32_t a = 0, b = s->count;

	while (a < b) {
		uint32_t mid = a + (b - a) / 2;

		if (s->msgs[mid].uid == uid)
			return mid;
		if (s->msgs[mid].uid < uid)
			a = mid + 1;
		else
			b = mid;
	}
	return -1;
}

static void shard_sums(struct ss_shard *s)
{
	uint32_t k;

	s->unseen = 0;
	s->bytes = 0;
	for (k = 0; k < s->count; k++) {
		s->bytes += s->msgs[k].size;
		s->unseen += !(s->msgs[k].flags & RMAIL_F_SEEN);
		if (s->msgs[k].modseq > s->maxmod)
			s->maxmod = s->msgs[k].modseq;
	}
}

static void shard_set_flags(struct ss_shard *s, uint32_t k, uint32_t flags)
{
	s->unseen -= !(s->msgs[k].flags & RMAIL_F_SEEN);
	s->unseen += !(flags & RMAIL_F_SEEN);
	s->msgs[k].flags = flags;
}

void ss_view_set_flags(struct rmail_mbox *mb, uint32_t uid, uint32_t flags,
		       uint64_t keywords, uint64_t modseq)
{
	struct ss_shard *s = shard_by_no(mb, ss_shard_of(uid));
	int64_t k = s != NULL && ss_shard_ready(mb, s) == 0 && s->msgs != NULL
			    ? shard_find(s, uid)
			    : -1;

	if (k < 0 || ss_shard_own(s) < 0)
		return;
	ss_mbox_bump(mb);
	mb->unseen -= !(s->msgs[k].flags & RMAIL_F_SEEN);
	mb->unseen += !(flags & RMAIL_F_SEEN);
	shard_set_flags(s, (uint32_t)k, flags);
	s->msgs[k].keywords = keywords;
	s->patched = true;
	mb->snap_pending++;
	/* a change of this process is newer than what the view holds,
	 * unless another process's later one was read meanwhile */
	if (modseq > s->msgs[k].modseq)
		s->msgs[k].modseq = modseq;
	if (modseq > s->maxmod)
		s->maxmod = modseq;
	if (modseq > mb->highest)
		mb->highest = modseq;
	/* bits from a name read after the view's table */
	ss_kw_cover(mb, keywords);
}

/* Insert a message the log describes in full (append with its detail
 * record); -1 when out of memory (the shard is then rescanned). */
static int shard_insert(struct ss_shard *s, uint32_t uid, uint32_t flags,
			uint64_t size, int64_t date, uint64_t modseq)
{
	uint32_t a = 0, b = s->count;
	struct rmail_msg *m;

	if (ss_shard_own(s) < 0)
		return -1;
	if (s->count == s->cap) {
		uint32_t cap = s->cap + s->cap / 4 + 16;
		struct rmail_msg *nm = realloc(s->msgs, cap * sizeof(*nm));

		if (nm == NULL)
			return -1;
		s->msgs = nm;
		s->cap = cap;
	}
	while (a < b) {
		uint32_t mid = a + (b - a) / 2;

		if (s->msgs[mid].uid < uid)
			a = mid + 1;
		else
			b = mid;
	}
	memmove(&s->msgs[a + 1], &s->msgs[a],
		(s->count - a) * sizeof(*s->msgs));
	m = &s->msgs[a];
	memset(m, 0, sizeof(*m));
	m->uid = uid;
	m->flags = flags;
	m->size = size;
	m->internaldate = date;
	m->modseq = modseq;
	s->count++;
	s->bytes += size;
	s->unseen += !(flags & RMAIL_F_SEEN);
	return 0;
}

static int uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Apply log records to the cached shards by UID instead of re-reading
 * them.  The log only says what a process meant to do: the final name of
 * every message a record touched must exist, or the shard is rescanned
 * (keyword changes, which records do not carry, land there too). */
static void log_patch(struct rmail_mbox *mb, const struct ss_logrec *recs,
		      size_t n)
{
	uint32_t *check = malloc((n ? n : 1) * sizeof(*check));
	size_t i, nc = 0;

	for (i = 0; i < n; i++) {
		const struct ss_logrec *r = &recs[i];
		struct ss_shard *s;
		int64_t k;

		/* a tombstone precedes its unlink: only the record written
		 * after it (detail set) says the message is gone */
		if (r->type == RMAIL_CHANGE_EXPUNGE && !r->detail)
			continue;
		if (r->modseq > mb->highest)
			mb->highest = r->modseq;
		if (r->type == SS_LOG_KEYWORD)
			continue;
		s = shard_by_no(mb, ss_shard_of(r->uid));
		/* a shard the view does not list yet is scanned when the
		 * mailbox directory's change makes it appear */
		if (s == NULL)
			continue;
		s->touched = true;
		ss_shard_ready(mb, s);
		if (s->rescan || s->msgs == NULL)
			continue;
		if (r->type != RMAIL_CHANGE_APPEND && ss_shard_own(s) < 0) {
			s->rescan = true;
			continue;
		}
		k = shard_find(s, r->uid);
		switch (r->type) {
		case RMAIL_CHANGE_APPEND:
			/* without its detail (size and date), only the
			 * shard knows the new name.  Writers
			 * log after the UID lock, so records may come out of
			 * UID order: a UID above the next one means a lower
			 * one may be renamed but not logged yet, and only
			 * the shard shows it (UIDs must appear ascending). */
			if (k < 0 &&
			    (!r->detail || r->uid != mb->uid_hi + 1 ||
			     shard_insert(s, r->uid, r->flags & 0x1f, r->size,
					  (int64_t)r->date, r->modseq) < 0)) {
				s->rescan = true;
			} else {
				if (k < 0)
					mb->uid_hi = r->uid;
				if (check != NULL)
					check[nc++] = r->uid;
			}
			break;
		case RMAIL_CHANGE_FLAGS:
			if (k < 0) {
				s->rescan = true;
				break;
			}
			/* records of one UID may come out of modseq order
			 * (two writers): the newer state wins, the name
			 * check below catches the rest */
			if (r->modseq >= s->msgs[k].modseq) {
				shard_set_flags(s, (uint32_t)k,
						r->flags & 0x1f);
				s->msgs[k].modseq = r->modseq;
			}
			if (r->modseq > s->maxmod)
				s->maxmod = r->modseq;
			if (check != NULL)
				check[nc++] = r->uid;
			break;
		case RMAIL_CHANGE_EXPUNGE:
			if (k >= 0) {
				s->bytes -= s->msgs[k].size;
				s->unseen -= !(s->msgs[k].flags & RMAIL_F_SEEN);
				memmove(&s->msgs[k], &s->msgs[k + 1],
					(s->count - (uint32_t)k - 1) *
						sizeof(*s->msgs));
				s->count--;
			}
			break;
		default:
			s->rescan = true;
			break;
		}
	}
	if (check == NULL) {
		for (i = 0; i < mb->nshards; i++)
			if (mb->shards[i].touched)
				mb->shards[i].rescan = true;
		return;
	}
	qsort(check, nc, sizeof(*check), uid_cmp);
	for (i = 0; i < nc; i++) {
		struct ss_shard *s = shard_by_no(mb, ss_shard_of(check[i]));
		char path[SS_FNAME_MAX + 16];
		struct ss_fname f;
		struct stat sb;
		int64_t k;
		int len;

		if ((i > 0 && check[i] == check[i - 1]) || s->rescan)
			continue;
		k = shard_find(s, check[i]);
		if (k < 0)
			continue; /* expunged by a later record */
		f.uid = check[i];
		f.flags = s->msgs[k].flags;
		f.keywords = s->msgs[k].keywords;
		f.size = s->msgs[k].size;
		f.date = s->msgs[k].internaldate;
		f.modseq = s->msgs[k].modseq;
		len = snprintf(path, sizeof(path), "s%u/", s->no);
		ss_fname_format(&f, path + len);
		if (fstatat(mb->dirfd, path, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			s->rescan = true;
	}
	free(check);
}

static int rescan_shard(struct rmail_mbox *mb, struct ss_shard *s,
			const struct stat *ss, const struct timespec *now)
{
	int fd = open_shard(mb, s->no);
	struct rmail_msg *msgs = NULL;
	uint32_t n = 0;

	if (fd >= 0) {
		int rc = ss_shard_scan(fd, s->no, &msgs, &n);

		close(fd);
		if (rc < 0)
			return -1;
		s->dups = rc > 0;
	}
	shard_free_msgs(s);
	__atomic_store_n(&s->unchecked, false, __ATOMIC_RELEASE);
	s->msgs = msgs;
	s->count = n;
	s->cap = n;
	s->maxmod = 0;
	shard_sums(s);
	s->mtime = ss->st_mtim;
	s->ino = (uint64_t)ss->st_ino;
	s->dirty = ts_racy(&ss->st_mtim, now);
	s->patched = false;
	mb->shard_scans++;
	mb->snap_pending += n + 1;
	return 0;
}

/*
 * HIGHESTMODSEQ of a first refresh from a snapshot: the snapshot's, plus
 * the log records written after the position it covers, when the log is
 * still that file (same inode, not shorter); false otherwise (the whole
 * log is read).
 */
static bool log_tail_max(struct rmail_mbox *mb, int logfd, uint64_t log_end,
			 uint64_t log_ino, uint64_t *max_r)
{
	struct ss_logrec *recs = NULL;
	size_t n = 0, i;
	uint64_t max;

	if (!mb->snap_loaded || log_ino != mb->snap_log_ino ||
	    log_end < mb->snap_log_pos ||
	    ss_log_load(logfd, mb->snap_log_pos, log_end, &recs, &n) < 0)
		return false;
	max = mb->snap_highest;
	/* what ss_log_max_modseq(mb, false) counts */
	for (i = 0; i < n; i++)
		if (recs[i].modseq > max &&
		    (recs[i].type != RMAIL_CHANGE_EXPUNGE || recs[i].detail))
			max = recs[i].modseq;
	free(recs);
	*max_r = max;
	return true;
}

/*
 * The log is read before the shards are stat'ed: a writer renames first
 * and logs second, so a change the shard mtimes show but the records
 * read do not is either explained by a later record (read next time) or
 * makes an untouched shard look changed (rescanned).
 */
static int refresh_locked(struct rmail_mbox *mb, struct rmail_err *err)
{
	struct timespec now;
	struct stat sb;
	size_t i, nrecs = 0;
	uint32_t total = 0, unseen = 0;
	uint64_t size = 0, log_end, log_ino;
	struct ss_logrec *recs = NULL;
	bool log_ok = false, tail_ok = false, changed = !mb->scanned;
	uint64_t tail_max = 0;
	int logfd, rc = 0;

	clock_gettime(CLOCK_REALTIME, &now);
	if (fstat(mb->dirfd, &sb) < 0)
		return rmail_err_set(err, RMAIL_E_IO, "mailbox: %s",
				     strerror(errno));
	/* a first refresh takes what the snapshot vouches for; the rest
	 * runs as for a view that has never read the log */
	if (!mb->scanned && !mb->snap_tried) {
		mb->snap_tried = true;
		ss_snap_load(mb);
	}
	logfd = ss_log_open_ro(mb, &log_end, &log_ino);
	/* usable: the same file, not shorter, a bounded tail; or a log
	 * created since the view last found none */
	if (logfd >= 0 && mb->scanned &&
	    ((log_ino == mb->log_ino && log_end >= mb->log_read) ||
	     (mb->log_ino == 0 && mb->log_read == 0)) &&
	    (log_end - mb->log_read) / SS_REC <= SS_PATCH_MAX) {
		int lr = ss_log_load(logfd, mb->log_read, log_end, &recs,
				     &nrecs);

		log_ok = lr == 0;
		if (lr < 0) {
			recs = NULL;
			nrecs = 0;
		}
	}
	if (logfd >= 0 && !mb->scanned)
		tail_ok = log_tail_max(mb, logfd, log_end, log_ino, &tail_max);
	if (logfd >= 0)
		close(logfd);
	if (!mb->scanned || mb->dir_dirty ||
	    ts_cmp(&sb.st_mtim, &mb->dir_mtime) != 0) {
		size_t before = mb->nshards;

		if (reload_shards(mb) < 0) {
			rc = rmail_err_set(err, RMAIL_E_IO, "mailbox: %s",
					   strerror(errno));
			goto out;
		}
		read_meta(mb);
		mb->dir_mtime = sb.st_mtim;
		mb->dir_dirty = ts_racy(&sb.st_mtim, &now);
		/* a shard gone; a new one is scanned below */
		if (mb->nshards != before)
			changed = true;
	}
	if (log_ok && nrecs > 0) {
		log_patch(mb, recs, nrecs);
		mb->snap_pending += nrecs;
		changed = true;
	}
	for (i = 0; i < mb->nshards; i++) {
		struct ss_shard *s = &mb->shards[i];
		char rel[16];
		struct stat ss;
		bool moved;

		snprintf(rel, sizeof(rel), "s%u", s->no);
		if (fstatat(mb->dirfd, rel, &ss, 0) < 0) {
			ss.st_mtim.tv_sec = 0;
			ss.st_mtim.tv_nsec = 0;
		}
		moved = ts_cmp(&ss.st_mtim, &s->mtime) != 0 ||
			(s->unchecked && (uint64_t)ss.st_ino != s->ino);
		/* a changed or racy shard is trusted only when the log
		 * accounts for it and every touched name checked out */
		if (s->msgs == NULL || s->rescan ||
		    ((moved || s->dirty) && !(log_ok && s->touched))) {
			if (s->unchecked && mb->snap_used > 0)
				mb->snap_used--;
			changed = true;
			if (rescan_shard(mb, s, &ss, &now) < 0) {
				rc = rmail_err_set(err, RMAIL_E_IO,
						   "shard scan");
				goto out;
			}
		} else if (moved || s->touched) {
			changed = true;
			s->patched = true;
			s->mtime = ss.st_mtim;
			s->dirty = ts_racy(&ss.st_mtim, &now);
		}
		s->touched = s->rescan = false;
		/* its last UID below: the only records a first open reads */
		if (i + 1 == mb->nshards)
			ss_shard_ready(mb, s);
		mb->first[i] = total;
		total += s->count;
		unseen += s->unseen;
		size += s->bytes;
	}
	mb->first[mb->nshards] = total;
	/* scanned shards hold every UID renamed before the scan; patched
	 * ones every UID up to uid_hi */
	if (mb->nshards > 0 && mb->shards[mb->nshards - 1].count > 0) {
		struct ss_shard *l = &mb->shards[mb->nshards - 1];

		if (l->msgs[l->count - 1].uid > mb->uid_hi)
			mb->uid_hi = l->msgs[l->count - 1].uid;
	}
	mb->size = size;
	mb->unseen = unseen;
	mb->count = total;
	read_counter(mb);
	if (mb->nshards > 0 && mb->shards[mb->nshards - 1].count > 0) {
		struct ss_shard *l = &mb->shards[mb->nshards - 1];

		if (l->msgs[l->count - 1].uid >= mb->uidnext)
			mb->uidnext = l->msgs[l->count - 1].uid + 1;
	}
	/* HIGHESTMODSEQ: the names, the records read, the durable records
	 * of the counter file; the counter resumes above all of them */
	{
		uint64_t hi = mb->highest;

		for (i = 0; i < mb->nshards; i++)
			if (mb->shards[i].maxmod > hi)
				hi = mb->shards[i].maxmod;
		if (!mb->scanned && logfd < 0) {
			/* no log: tombstones up to the last durable record
			 * are gone, the horizon covers them */
			uint64_t hwm = ss_modseq_hwm(mb);

			if (hwm > ss_modseq_horizon(mb))
				ss_modseq_raise_horizon(mb, hwm);
		}
		if (!mb->scanned) {
			uint64_t lm = tail_ok ? tail_max
					      : ss_log_max_modseq(mb, false);

			hi = hi > lm ? hi : lm;
		}
		if (hi > mb->highest)
			mb->highest = hi;
		ss_modseq_seen(mb, mb->highest);
	}
	/* after the names: the table then names every bit they use */
	if (ss_kw_revalidate(mb) < 0) {
		rc = rmail_err_set(err, RMAIL_E_IO, "keywords: %s",
				   strerror(errno));
		goto out;
	}
	mb->scanned = true;
	mb->log_read = log_end;
	mb->log_ino = log_ino;
out:
	/* also after a failure: part of the records may have changed */
	if (changed)
		ss_mbox_bump(mb);
	if (rc < 0)
		for (i = 0; i < mb->nshards; i++)
			mb->shards[i].touched = mb->shards[i].rescan = false;
	free(recs);
	return rc;
}

int ss_mbox_refresh(struct rmail_mbox *mb, struct rmail_err *err)
{
	int rc;

	/* a frozen copy keeps its records */
	if (mb->frozen_of != NULL)
		return 0;
	pthread_mutex_lock(&mb->lock);
	rc = refresh_locked(mb, err);
	pthread_mutex_unlock(&mb->lock);
	if (rc == 0)
		ss_snap_maybe(mb);
	return rc;
}

void ss_mbox_free(struct rmail_mbox *mb)
{
	size_t i;

	for (i = 0; i < mb->nshards; i++)
		shard_free_msgs(&mb->shards[i]);
	free(mb->shards);
	free(mb->first);
	if (mb->snap_map != NULL)
		munmap(mb->snap_map, mb->snap_maplen);
	if (mb->snap_fd >= 0)
		close(mb->snap_fd);
	ss_free_keywords(mb);
	ss_savedate_free(mb);
	if (mb->dirfd >= 0)
		close(mb->dirfd);
	if (mb->counterfd >= 0)
		close(mb->counterfd);
	if (mb->logfd >= 0)
		close(mb->logfd);
	ss_modseq_close(mb);
	pthread_mutex_destroy(&mb->lock);
	pthread_mutex_destroy(&mb->alloc);
	pthread_mutex_destroy(&mb->loglock);
	pthread_mutex_destroy(&mb->snaplock);
	free(mb);
}

/* same directory as when the view was opened (not renamed away)? */
static bool still_there(struct rmail_mbox *mb)
{
	struct stat a, b;

	return fstat(mb->dirfd, &a) == 0 &&
	       fstatat(mb->st->root_fd, mb->rel, &b, AT_SYMLINK_NOFOLLOW) ==
		       0 &&
	       a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

int ss_mbox_get(struct ss_store *st, const char *user, const char *name,
		struct rmail_mbox **mb_r, struct rmail_err *err)
{
	char local[RMAIL_ADDR_MAX + 1], dom[256];
	char cuser[RMAIL_ADDR_MAX + 1], cname[RMAIL_MBOX_NAME_MAX + 1];
	struct rmail_mbox *mb, **pp;

	if (ss_addr_canon(user, local, sizeof(local), dom, sizeof(dom), err) <
		    0 ||
	    ss_mbox_name_canon(name, cname, sizeof(cname), err) < 0)
		return -1;
	if ((size_t)snprintf(cuser, sizeof(cuser), "%s@%s", local, dom) >=
	    sizeof(cuser))
		return rmail_err_set(err, RMAIL_E_INVAL, "address too long");
	pthread_mutex_lock(&st->lock);
	for (pp = (struct rmail_mbox **)&st->views; (mb = *pp) != NULL;
	     pp = &mb->next) {
		if (mb->gone || strcmp(mb->user, cuser) != 0 ||
		    strcmp(mb->name, cname) != 0)
			continue;
		if (!still_there(mb)) {
			mb->gone = true;
			continue;
		}
		mb->refs++;
		pthread_mutex_unlock(&st->lock);
		*mb_r = mb;
		return 0;
	}
	mb = calloc(1, sizeof(*mb));
	if (mb == NULL) {
		pthread_mutex_unlock(&st->lock);
		return rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
	}
	mb->st = st;
	mb->refs = 1;
	mb->logfd = -1;
	mb->msfd = -1;
	mb->counterfd = -1;
	mb->dirfd = -1;
	mb->snap_fd = -1;
	snprintf(mb->user, sizeof(mb->user), "%s", cuser);
	snprintf(mb->name, sizeof(mb->name), "%s", cname);
	pthread_mutex_init(&mb->lock, NULL);
	pthread_mutex_init(&mb->alloc, NULL);
	pthread_mutex_init(&mb->loglock, NULL);
	pthread_mutex_init(&mb->snaplock, NULL);
	if (ss_mbox_path(cuser, cname, mb->rel, sizeof(mb->rel), err) < 0)
		goto fail;
	mb->dirfd = ss_openat(st->root_fd, mb->rel, O_RDONLY | O_DIRECTORY, 0);
	if (mb->dirfd < 0) {
		rmail_err_set(err, errno == ENOENT ? RMAIL_E_NOENT : RMAIL_E_IO,
			      "mailbox %s: %s", cname, strerror(errno));
		goto fail;
	}
	mb->counterfd = openat(mb->dirfd, "counter", O_RDWR | O_CLOEXEC);
	if (mb->counterfd < 0) {
		rmail_err_set(err, RMAIL_E_IO, "mailbox %s counter: %s", cname,
			      strerror(errno));
		goto fail;
	}
	/* the snapshot's UIDVALIDITY is checked against it there */
	read_counter(mb);
	if (ss_modseq_open(mb, err) < 0)
		goto fail;
	read_counter(mb);
	mb->next = st->views;
	st->views = mb;
	pthread_mutex_unlock(&st->lock);
	*mb_r = mb;
	return 0;
fail:
	pthread_mutex_unlock(&st->lock);
	ss_mbox_free(mb);
	return -1;
}

/* Drop unreferenced views beyond the warm cache, and gone ones.  Called
 * with st->lock held. */
static void views_trim(struct ss_store *st)
{
	struct rmail_mbox *mb, **pp;
	size_t idle = 0;

	for (pp = (struct rmail_mbox **)&st->views; (mb = *pp) != NULL;) {
		if (mb->refs == 0 && (mb->gone || ++idle > SS_VIEWS_IDLE_MAX)) {
			*pp = mb->next;
			ss_mbox_free(mb);
			continue;
		}
		pp = &mb->next;
	}
}

void ss_mbox_put(struct rmail_mbox **mbp)
{
	struct rmail_mbox *mb = *mbp;
	struct ss_store *st;

	if (mb == NULL)
		return;
	*mbp = NULL;
	if (mb->frozen_of != NULL) {
		struct rmail_mbox *of = mb->frozen_of;

		ss_mbox_free(mb);
		ss_mbox_put(&of);
		return;
	}
	/* the trim may free mb itself (gone, or past the warm cache):
	 * nothing of it is read after */
	st = mb->st;
	pthread_mutex_lock(&st->lock);
	mb->refs--;
	views_trim(st);
	pthread_mutex_unlock(&st->lock);
}

void ss_views_forget(struct ss_store *st, const char *user, const char *name)
{
	struct rmail_mbox *mb;
	size_t nl = strlen(name);

	pthread_mutex_lock(&st->lock);
	for (mb = st->views; mb != NULL; mb = mb->next)
		if (strcmp(mb->user, user) == 0 &&
		    strncmp(mb->name, name, nl) == 0 &&
		    (mb->name[nl] == '\0' || mb->name[nl] == '/'))
			mb->gone = true;
	views_trim(st);
	pthread_mutex_unlock(&st->lock);
}

void ss_views_free(struct ss_store *st)
{
	struct rmail_mbox *mb;

	ss_snap_drain(st);
	while ((mb = st->views) != NULL) {
		st->views = mb->next;
		ss_snap_shutdown(mb);
		ss_mbox_free(mb);
	}
}

int ss_mbox_open(void *h, const char *user, const char *name,
		 struct rmail_mbox **mb_r, struct rmail_err *err)
{
	struct rmail_mbox *mb;

	if (ss_mbox_get(h, user, name, &mb, err) < 0)
		return -1;
	if (ss_mbox_refresh(mb, err) < 0) {
		ss_mbox_put(&mb);
		return -1;
	}
	*mb_r = mb;
	return 0;
}

void ss_mbox_close(struct rmail_mbox **mb)
{
	ss_mbox_put(mb);
}

uint32_t ss_mbox_count(struct rmail_mbox *mb)
{
	return mb->count;
}

const struct rmail_msg *ss_mbox_msg(struct rmail_mbox *mb, uint32_t idx)
{
	size_t lo, hi;

	/* a snapshot block checked on first use may turn out damaged and
	 * be replaced by a scan (another count): look again then */
	for (;;) {
		if (idx >= mb->count)
			return NULL;
		lo = 0;
		hi = mb->nshards;
		while (hi - lo > 1) {
			size_t mid = lo + (hi - lo) / 2;

			if (mb->first[mid] <= idx)
				lo = mid;
			else
				hi = mid;
		}
		while (mb->first[lo] + mb->shards[lo].count <= idx)
			lo++;
		if (!__atomic_load_n(&mb->shards[lo].unchecked,
				     __ATOMIC_ACQUIRE))
			break;
		ss_shard_ready(mb, &mb->shards[lo]);
	}
	return &mb->shards[lo].msgs[idx - mb->first[lo]];
}

int64_t ss_mbox_find(struct rmail_mbox *mb, uint32_t uid)
{
	size_t lo = 0, hi = mb->nshards, i;
	uint32_t no = ss_shard_of(uid), a, b;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (mb->shards[mid].no < no)
			lo = mid + 1;
		else
			hi = mid;
	}
	i = lo;
	if (i >= mb->nshards || mb->shards[i].no != no ||
	    ss_shard_ready(mb, &mb->shards[i]) < 0)
		return -1;
	for (a = 0, b = mb->shards[i].count; a < b;) {
		uint32_t mid = a + (b - a) / 2;
		uint32_t u = mb->shards[i].msgs[mid].uid;

		if (u == uid)
			return (int64_t)mb->first[i] + mid;
		if (u < uid)
			a = mid + 1;
		else
			b = mid;
	}
	return -1;
}

void ss_mbox_info(struct rmail_mbox *mb, struct rmail_mbox_status *st_r)
{
	memset(st_r, 0, sizeof(*st_r));
	st_r->size = sizeof(*st_r);
	st_r->messages = mb->count;
	st_r->unseen = mb->unseen;
	st_r->uidnext = mb->uidnext;
	st_r->uidvalidity = mb->uidvalidity;
	st_r->special_use = mb->special_use;
	st_r->bytes = mb->size;
	{
		uint64_t hwm = ss_modseq_hwm(mb);

		/* keyword creations and tombstones count too */
		st_r->highestmodseq = mb->highest > hwm ? mb->highest : hwm;
	}
	st_r->vanished_horizon = ss_modseq_horizon(mb);
}

size_t ss_mbox_keywords(struct rmail_mbox *mb, const char *const **names_r)
{
	size_t n = __atomic_load_n(&mb->nkeywords, __ATOMIC_ACQUIRE);

	*names_r = (const char *const *)mb->keywords;
	return n;
}
