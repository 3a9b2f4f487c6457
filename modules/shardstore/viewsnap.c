/*
 * The view snapshot file (ss_viewsnap.h, docs/storage.md): loaded by a
 * view's first refresh, written in the background after enough changes
 * (at most every ss_snap_interval seconds per view) and at clean
 * shutdown, by one process at a time.  It is a cache: every block is
 * checked against its shard directory before use, and a file that does
 * not add up is ignored, so deleting it loses nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ss_mbox.h"
#include "ss_viewsnap.h"

uint32_t ss_snap_min_msgs = 1000; /* smaller mailboxes scan in a blink */
uint32_t ss_snap_min_changes = 1000;
double ss_snap_interval = 60.0;

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool racy(const struct timespec *mtime)
{
	struct timespec now;
	int64_t d;

	clock_gettime(CLOCK_REALTIME, &now);
	d = ((int64_t)now.tv_sec - mtime->tv_sec) * 1000000000LL +
	    (now.tv_nsec - mtime->tv_nsec);
	return d < SS_RACY_NS;
}

static bool full_pread(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got,
				  (off_t)(off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

/* the header and shard table of an open snapshot; 0 or -1 */
static int read_head(int fd, uint64_t *len_r, struct ss_snap_head *h,
		     struct ss_snap_shard **sh_r)
{
	unsigned char hdr[SS_SNAP_HDR], *buf;
	struct stat sb;
	uint32_t n;
	size_t tlen;
	int rc;

	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    (uint64_t)sb.st_size < SS_SNAP_HDR ||
	    !full_pread(fd, hdr, sizeof(hdr), 0))
		return -1;
	memcpy(&n, hdr + 64, 4);
	if (n > SS_SNAP_MAX_SHARDS)
		return -1;
	tlen = SS_SNAP_HDR + (size_t)n * SS_SNAP_ENT;
	if ((uint64_t)sb.st_size < tlen || (buf = malloc(tlen)) == NULL)
		return -1;
	rc = full_pread(fd, buf, tlen, 0)
		     ? ss_snap_parse_head(buf, tlen, (uint64_t)sb.st_size, h,
					  sh_r)
		     : -1;
	free(buf);
	*len_r = (uint64_t)sb.st_size;
	return rc;
}

/* the shard directory is still the one the block was read from */
static bool shard_same(int dirfd, const struct ss_snap_shard *e)
{
	char rel[16];
	struct stat sb;

	snprintf(rel, sizeof(rel), "s%u", e->no);
	return (e->flags & SS_SNAP_F_DIRTY) == 0 &&
	       fstatat(dirfd, rel, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISDIR(sb.st_mode) && (uint64_t)sb.st_ino == e->ino &&
	       (int64_t)sb.st_mtim.tv_sec == e->sec &&
	       (int64_t)sb.st_mtim.tv_nsec == e->nsec;
}

/*
 * The file is mapped, not read: a first open touches the header and the
 * shard table only (EXISTS, UNSEEN, sizes and modseqs are the table's
 * sums), and a block's records are read and checked the first time the
 * view uses them (ss_shard_ready).  Whether a shard is still the one a
 * block was read from is the refresh's stat of its directory (inode and
 * mtime), as for any cached shard.  The file is only ever replaced by a
 * rename, so the mapped inode keeps its length.
 */
int ss_snap_load(struct rmail_mbox *mb)
{
	struct ss_snap_shard *e = NULL;
	struct ss_snap_head h;
	struct ss_shard *sh = NULL;
	void *map = MAP_FAILED;
	struct stat sb;
	uint64_t len = 0;
	uint32_t i;
	int fd = openat(mb->dirfd, SS_SNAP_NAME,
			O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return 0;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    (uint64_t)sb.st_size < SS_SNAP_HDR ||
	    (uint64_t)sb.st_size > SIZE_MAX / 2)
		goto reject;
	len = (uint64_t)sb.st_size;
	map = mmap(NULL, (size_t)len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED ||
	    ss_snap_parse_head(map, (size_t)len, len, &h, &e) < 0 ||
	    h.uidvalidity != mb->uidvalidity || h.nshards == 0)
		goto reject;
	sh = calloc(h.nshards, sizeof(*sh));
	if (sh == NULL)
		goto reject;
	for (i = 0; i < h.nshards; i++) {
		struct ss_shard *s = &sh[i];

		s->msgs = (struct rmail_msg *)((char *)map + e[i].off);
		s->mapped = true;
		s->unchecked = true;
		s->check = e[i].check;
		s->no = e[i].no;
		s->count = s->cap = e[i].count;
		s->unseen = e[i].unseen;
		s->bytes = e[i].bytes;
		s->maxmod = e[i].maxmod;
		s->mtime.tv_sec = (time_t)e[i].sec;
		s->mtime.tv_nsec = (long)e[i].nsec;
		s->ino = e[i].ino;
		s->dups = (e[i].flags & SS_SNAP_F_DUPS) != 0;
		/* racy when read: the refresh scans it */
		s->dirty = (e[i].flags & SS_SNAP_F_DIRTY) != 0;
	}
	free(e);
	free(mb->first);
	mb->first = calloc(h.nshards + 1, sizeof(*mb->first));
	if (mb->first == NULL) {
		close(fd);
		free(sh);
		munmap(map, (size_t)len);
		return 0;
	}
	/* kept to see the file cut short under the mapping (someone
	 * else's truncate: rmail only replaces it) before a block is read */
	mb->snap_fd = fd;
	free(mb->shards);
	mb->shards = sh;
	mb->nshards = h.nshards;
	mb->snap_map = map;
	mb->snap_maplen = (size_t)len;
	mb->snap_used = h.nshards;
	mb->snap_loaded = true;
	mb->snap_log_pos = h.log_pos;
	mb->snap_log_ino = h.log_ino;
	mb->snap_highest = h.highest;
	return 1;
reject:
	close(fd);
	free(e);
	if (map != MAP_FAILED)
		munmap(map, (size_t)len);
	mb->snap_rejected = true;
	return 0;
}

static void view_totals(struct rmail_mbox *mb)
{
	uint32_t total = 0, unseen = 0;
	uint64_t size = 0;
	size_t i;

	for (i = 0; i < mb->nshards; i++) {
		mb->first[i] = total;
		total += mb->shards[i].count;
		unseen += mb->shards[i].unseen;
		size += mb->shards[i].bytes;
	}
	mb->first[mb->nshards] = total;
	mb->count = total;
	mb->unseen = unseen;
	mb->size = size;
}

/* a damaged block: its shard as the directory has it */
static int block_rescan(struct rmail_mbox *mb, struct ss_shard *s)
{
	struct rmail_msg *msgs = NULL;
	uint32_t n = 0, k;
	char rel[16];
	int fd, rc = -1;

	snprintf(rel, sizeof(rel), "s%u", s->no);
	fd = openat(mb->dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		rc = ss_shard_scan(fd, s->no, &msgs, &n);
		close(fd);
	}
	/* the old records stay mapped: pointers handed out remain valid */
	s->mapped = false;
	s->msgs = rc >= 0 ? msgs : NULL;
	s->count = s->cap = rc >= 0 ? n : 0;
	s->dups = rc > 0;
	s->unseen = 0;
	s->bytes = 0;
	for (k = 0; k < s->count; k++) {
		s->unseen += !(s->msgs[k].flags & RMAIL_F_SEEN);
		s->bytes += s->msgs[k].size;
		if (s->msgs[k].modseq > s->maxmod)
			s->maxmod = s->msgs[k].modseq;
	}
	s->patched = false;
	/* read it again at the next refresh if it could not be read now */
	s->rescan = rc < 0;
	mb->shard_scans++;
	mb->snap_pending += s->count + 1;
	return rc < 0 ? -1 : 0;
}

int ss_shard_ready_slow(struct rmail_mbox *mb, struct ss_shard *s)
{
	int rc = 0;

	pthread_mutex_lock(&mb->snaplock);
	if (s->unchecked) {
		struct ss_snap_shard e = {.no = s->no,
					  .count = s->count,
					  .unseen = s->unseen,
					  .bytes = s->bytes,
					  .maxmod = s->maxmod,
					  .check = s->check};
		size_t bl = (size_t)s->count * sizeof(*s->msgs);
		uintptr_t a = (uintptr_t)s->msgs & ~(uintptr_t)4095;
		struct stat sb;
		bool whole = mb->snap_fd >= 0 && fstat(mb->snap_fd, &sb) == 0 &&
			     (uint64_t)sb.st_size == mb->snap_maplen;
		struct rmail_msg *own = NULL;

		/* one read of the block rather than a fault per page; the
		 * copy is what gets checked and used, so a file changed in
		 * place later cannot change records already vouched for */
		if (whole) {
			if (bl > 0)
				madvise((void *)a,
					bl + ((uintptr_t)s->msgs - a),
					MADV_WILLNEED);
			own = malloc(bl ? bl : 1);
			if (own != NULL && bl > 0)
				memcpy(own, s->msgs, bl);
		}
		if (own != NULL && ss_snap_check_block(&e, own) == 0) {
			s->msgs = own;
			s->cap = s->count;
			s->mapped = false;
		} else {
			uint32_t before = s->count;

			free(own);
			ss_mbox_bump(mb);
			mb->snap_bad++;
			if (mb->snap_used > 0)
				mb->snap_used--;
			rc = block_rescan(mb, s);
			if (s->count != before && mb->first != NULL)
				view_totals(mb);
		}
		__atomic_store_n(&s->unchecked, false, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&mb->snaplock);
	return rc;
}

static int ent_cmp(const void *key, const void *ent)
{
	uint32_t no = *(const uint32_t *)key;
	const struct ss_snap_shard *e = ent;

	return no < e->no ? -1 : no > e->no;
}

/*
 * After a reboot the modseq counter resumes above every name on disk.
 * A shard whose directory is still the one its block was read from (the
 * rule a view follows) has the highest modseq its table entry records;
 * the others are scanned.  False without a usable snapshot.
 */
bool ss_snap_names_max(struct rmail_mbox *mb, uint64_t *max_r)
{
	struct ss_snap_shard *e = NULL;
	struct ss_snap_head h;
	struct dirent *de;
	uint64_t len, max = 0;
	DIR *d;
	int dfd, fd = openat(mb->dirfd, SS_SNAP_NAME,
			     O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return false;
	if (read_head(fd, &len, &h, &e) < 0 ||
	    h.uidvalidity != mb->uidvalidity) {
		close(fd);
		free(e);
		return false;
	}
	close(fd);
	dfd = openat(mb->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || (d = fdopendir(dfd)) == NULL) {
		if (dfd >= 0)
			close(dfd);
		free(e);
		return false;
	}
	while ((de = readdir(d)) != NULL) {
		int64_t no = ss_shard_parse(de->d_name);
		const struct ss_snap_shard *k;
		struct rmail_msg *msgs;
		uint32_t n, i, key;
		int sfd;

		if (no < 0)
			continue;
		key = (uint32_t)no;
		k = bsearch(&key, e, h.nshards, sizeof(*e), ent_cmp);
		if (k != NULL && shard_same(mb->dirfd, k)) {
			if (k->maxmod > max)
				max = k->maxmod;
			continue;
		}
		sfd = openat(mb->dirfd, de->d_name,
			     O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sfd < 0)
			continue;
		if (ss_shard_scan(sfd, key, &msgs, &n) >= 0) {
			for (i = 0; i < n; i++)
				if (msgs[i].modseq > max)
					max = msgs[i].modseq;
			free(msgs);
		}
		close(sfd);
	}
	closedir(d);
	free(e);
	*max_r = max;
	return true;
}

/* a fresh scan of shard `no` into *e and *msgs_r; false when it is gone */
static bool scan_shard(int dirfd, uint32_t no, struct ss_snap_shard *e,
		       struct rmail_msg **msgs_r)
{
	char rel[16];
	struct stat a, b;
	uint32_t n = 0;
	int fd, rc;

	snprintf(rel, sizeof(rel), "s%u", no);
	fd = openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (fstat(fd, &a) < 0 || (rc = ss_shard_scan(fd, no, msgs_r, &n)) < 0) {
		close(fd);
		return false;
	}
	if (fstat(fd, &b) < 0)
		b.st_mtim.tv_sec = 0;
	close(fd);
	memset(e, 0, sizeof(*e));
	e->no = no;
	e->count = n;
	e->ino = (uint64_t)a.st_ino;
	e->sec = (int64_t)a.st_mtim.tv_sec;
	e->nsec = (int64_t)a.st_mtim.tv_nsec;
	/* changed while read, or may change within the same tick */
	if (a.st_mtim.tv_sec != b.st_mtim.tv_sec ||
	    a.st_mtim.tv_nsec != b.st_mtim.tv_nsec || racy(&b.st_mtim))
		e->flags |= SS_SNAP_F_DIRTY;
	if (rc > 0)
		e->flags |= SS_SNAP_F_DUPS;
	return true;
}

int ss_snap_write(struct rmail_mbox *mb)
{
	struct ss_snap_head h = {0};
	struct ss_snap_shard *e = NULL;
	struct rmail_msg **blocks = NULL;
	uint64_t pending, total = 0;
	size_t i, n = 0, k;
	void *buf = NULL;
	int lease, rc = -1;

	/* the lease: one writer per mailbox across processes and threads
	 * (an flock belongs to the open file description) */
	lease = openat(mb->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lease < 0)
		return -1;
	if (flock(lease, LOCK_EX | LOCK_NB) < 0) {
		close(lease);
		return 1;
	}
	pthread_mutex_lock(&mb->lock);
	if (!mb->scanned || mb->gone) {
		pthread_mutex_unlock(&mb->lock);
		goto out;
	}
	n = mb->nshards;
	e = calloc(n ? n : 1, sizeof(*e));
	blocks = calloc(n ? n : 1, sizeof(*blocks));
	if (e == NULL || blocks == NULL) {
		pthread_mutex_unlock(&mb->lock);
		goto out;
	}
	/* a shard as scanned (not patched from the log since, mtime
	 * settled) is copied; the others are read again below */
	for (i = 0; i < n; i++) {
		struct ss_shard *s = &mb->shards[i];
		size_t bl;

		e[i].no = s->no;
		ss_shard_ready(mb, s);
		bl = (size_t)s->count * sizeof(struct rmail_msg);
		if (s->msgs == NULL || s->dirty || s->patched || s->ino == 0)
			continue;
		blocks[i] = malloc(bl ? bl : 1);
		if (blocks[i] == NULL)
			continue;
		if (bl > 0)
			memcpy(blocks[i], s->msgs, bl);
		e[i].count = s->count;
		e[i].ino = s->ino;
		e[i].sec = (int64_t)s->mtime.tv_sec;
		e[i].nsec = (int64_t)s->mtime.tv_nsec;
		e[i].flags = s->dups ? SS_SNAP_F_DUPS : 0;
	}
	h.uidvalidity = mb->uidvalidity;
	h.uidnext = mb->uidnext;
	h.highest = mb->highest;
	/* the log position `highest` covers: a first open reads the log
	 * from there only */
	h.log_pos = mb->log_read;
	h.log_ino = mb->log_ino;
	pending = mb->snap_pending;
	pthread_mutex_unlock(&mb->lock);
	for (i = 0, k = 0; i < n; i++) {
		if (blocks[i] == NULL &&
		    !scan_shard(mb->dirfd, e[i].no, &e[i], &blocks[i]))
			continue;
		e[k] = e[i];
		blocks[k] = blocks[i];
		total += e[k].count;
		k++;
	}
	h.nshards = (uint32_t)k;
	h.written = (int64_t)time(NULL);
	ss_boot_id(h.boot);
	buf = malloc(ss_snap_size(h.nshards, total));
	if (buf == NULL)
		goto out;
	ss_snap_encode(buf, &h, e, (const struct rmail_msg *const *)blocks);
	rc = ss_tmp_replace(mb, SS_SNAP_NAME, buf,
			    ss_snap_size(h.nshards, total));
	if (rc == 0) {
		pthread_mutex_lock(&mb->lock);
		mb->snap_pending = mb->snap_pending > pending
					   ? mb->snap_pending - pending
					   : 0;
		mb->snap_writes++;
		pthread_mutex_unlock(&mb->lock);
	}
out:
	free(buf);
	for (i = 0; blocks != NULL && i < n; i++)
		free(blocks[i]);
	free(blocks);
	free(e);
	flock(lease, LOCK_UN);
	close(lease);
	return rc;
}

static void *writer_main(void *arg)
{
	struct rmail_mbox *mb = arg;
	struct ss_store *st = mb->st;

	ss_snap_write(mb);
	pthread_mutex_lock(&mb->lock);
	mb->snap_busy = false;
	pthread_mutex_unlock(&mb->lock);
	ss_mbox_put(&mb);
	__atomic_sub_fetch(&st->snap_writers, 1, __ATOMIC_RELEASE);
	return NULL;
}

void ss_snap_maybe(struct rmail_mbox *mb)
{
	struct ss_store *st = mb->st;
	double now = mono_now();
	pthread_attr_t attr;
	pthread_t tid;
	bool go;

	pthread_mutex_lock(&mb->lock);
	go = mb->scanned && !mb->gone && !mb->snap_busy &&
	     mb->count >= ss_snap_min_msgs &&
	     mb->snap_pending >= ss_snap_min_changes &&
	     (mb->snap_at == 0 || now - mb->snap_at >= ss_snap_interval);
	if (go) {
		mb->snap_busy = true;
		mb->snap_at = now;
	}
	pthread_mutex_unlock(&mb->lock);
	if (!go)
		return;
	pthread_mutex_lock(&st->lock);
	mb->refs++;
	pthread_mutex_unlock(&st->lock);
	__atomic_add_fetch(&st->snap_writers, 1, __ATOMIC_ACQUIRE);
	/* off the caller's path: an IMAP SELECT does not wait for it */
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&tid, &attr, writer_main, mb) != 0)
		writer_main(mb);
	pthread_attr_destroy(&attr);
}

void ss_snap_drain(struct ss_store *st)
{
	while (__atomic_load_n(&st->snap_writers, __ATOMIC_ACQUIRE) > 0)
		usleep(1000);
}

void ss_snap_shutdown(struct rmail_mbox *mb)
{
	if (mb->scanned && !mb->gone && mb->count >= ss_snap_min_msgs &&
	    mb->snap_pending > 0)
		ss_snap_write(mb);
}

int ss_snap_verify(int mbfd, uint32_t uidvalidity, char *what, size_t whatsz)
{
	struct ss_snap_shard *e = NULL;
	struct ss_snap_head h;
	uint64_t len;
	uint32_t i;
	int fd = openat(mbfd, SS_SNAP_NAME, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int rc = 0;

	if (fd < 0)
		return 0;
	if (read_head(fd, &len, &h, &e) < 0) {
		snprintf(what, whatsz, "view snapshot: unreadable header");
		rc = 1;
		goto out;
	}
	if (h.uidvalidity != uidvalidity) {
		snprintf(what, whatsz,
			 "view snapshot of UIDVALIDITY %u, the mailbox has %u",
			 h.uidvalidity, uidvalidity);
		rc = 1;
		goto out;
	}
	for (i = 0; i < h.nshards && rc == 0; i++) {
		size_t bl = (size_t)e[i].count * sizeof(struct rmail_msg);
		struct rmail_msg *m = malloc(bl ? bl : 1), *d = NULL;
		struct ss_snap_shard f;

		if (m == NULL)
			break;
		if (!full_pread(fd, m, bl, e[i].off) ||
		    ss_snap_check_block(&e[i], m) < 0) {
			snprintf(what, whatsz,
				 "view snapshot: block of s%u is damaged",
				 e[i].no);
			rc = 1;
		} else if (shard_same(mbfd, &e[i]) &&
			   scan_shard(mbfd, e[i].no, &f, &d) &&
			   f.ino == e[i].ino && f.sec == e[i].sec &&
			   f.nsec == e[i].nsec &&
			   (f.count != e[i].count ||
			    (bl > 0 && memcmp(d, m, bl) != 0))) {
			/* a block readers would trust, unlike the names */
			snprintf(what, whatsz,
				 "view snapshot disagrees with shard s%u",
				 e[i].no);
			rc = 1;
		}
		free(d);
		free(m);
	}
out:
	free(e);
	close(fd);
	return rc;
}
