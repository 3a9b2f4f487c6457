/*
 * The per-mailbox modseq counter (docs/storage.md, "Modseqs"): the file
 * "modseq", mapped MAP_SHARED so every process on the host hands out
 * modseqs with one atomic fetch-add and no lock.  Durability comes from
 * a ceiling: every modseq handed out is below `ceiling`, which is made
 * durable (msync) before it is raised, once per SS_MODSEQ_CHUNK
 * allocations.  After a crash of the machine (another boot id) the
 * counter resumes above the ceiling and above everything on disk, plus
 * SS_MODSEQ_GAP.  A mailbox whose file is gone or damaged gets a new
 * UIDVALIDITY: its modseqs can no longer be vouched for.
 *
 * On a network filesystem each host has its own page cache, so a shared
 * mapping is no counter: there the value is read and written under
 * flock(2), held until the change carrying it is visible (ss_modseq_end).
 */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ss_mbox.h"
#include "users_int.h"

#define SS_MS_MAGIC "rmmodsq2"
#define SS_MS_FILE 4096

struct ss_mshdr {
	char magic[8];
	uint64_t next;	  /* the next modseq to hand out (atomic) */
	uint64_t ceiling; /* every modseq handed out is below it */
	uint64_t pending; /* a ceiling being made durable */
	uint64_t horizon; /* vanished horizon (atomic max) */
	uint64_t hwm;	  /* highest tombstone/keyword modseq (atomic max) */
	char boot[40];	  /* boot id of the last durable write */
	uint64_t loggen;  /* change log rotations (atomic) */
};

static void hdr_init(struct ss_mshdr *h, uint64_t next, uint64_t horizon,
		     uint64_t hwm)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, SS_MS_MAGIC, 8);
	h->next = next;
	h->ceiling = h->pending = next + SS_MODSEQ_CHUNK;
	h->horizon = horizon;
	h->hwm = hwm;
	ss_boot_id(h->boot);
}

static bool hdr_valid(const struct ss_mshdr *h)
{
	return memcmp(h->magic, SS_MS_MAGIC, 8) == 0 && h->next > 0 &&
	       h->next <= (uint64_t)INT64_MAX / 2 && h->horizon <= h->next;
}

static uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* Highest modseq the mailbox's files show: every message name and every
 * change-log record.  A full scan: only after a crash or a lost file. */
uint64_t ss_modseq_disk_max(struct rmail_mbox *mb)
{
	uint64_t max = ss_log_max_modseq(mb, true);
	int fd = openat(mb->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return max;
	}
	while ((de = readdir(d)) != NULL) {
		int64_t no = ss_shard_parse(de->d_name);
		struct rmail_msg *msgs;
		uint32_t n, i;
		int sfd;

		if (no < 0)
			continue;
		sfd = openat(mb->dirfd, de->d_name,
			     O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sfd < 0)
			continue;
		if (ss_shard_scan(sfd, (uint32_t)no, &msgs, &n) >= 0) {
			for (i = 0; i < n; i++)
				max = max64(max, msgs[i].modseq);
			free(msgs);
		}
		close(sfd);
	}
	closedir(d);
	return max;
}

/* the file written whole, made durable, put in place unless another
 * process did it first (then theirs is used) */
static int create_file(struct rmail_mbox *mb, const struct ss_mshdr *h)
{
	char tmp[64], page[SS_MS_FILE];
	int fd, rc;

	snprintf(tmp, sizeof(tmp), ".modseq.%ld.tmp", (long)getpid());
	memset(page, 0, sizeof(page));
	memcpy(page, h, sizeof(*h));
	fd = openat(mb->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0640);
	if (fd < 0)
		return -1;
	ss_mbox_chown(mb->st, fd);
	if (write(fd, page, sizeof(page)) != (ssize_t)sizeof(page) ||
	    fsync(fd) < 0) {
		close(fd);
		unlinkat(mb->dirfd, tmp, 0);
		return -1;
	}
	close(fd);
	rc = linkat(mb->dirfd, tmp, mb->dirfd, "modseq", 0);
	unlinkat(mb->dirfd, tmp, 0);
	if (rc < 0 && errno != EEXIST)
		return -1;
	return fsync(mb->dirfd) < 0 ? -1 : 0;
}

int ss_modseq_create(struct ss_store *st, int dirfd)
{
	struct rmail_mbox tmp;
	struct ss_mshdr h;

	memset(&tmp, 0, sizeof(tmp));
	tmp.st = st;
	tmp.dirfd = dirfd;
	/* 1 is the modseq of every message a migration renamed */
	hdr_init(&h, 2, 0, 0);
	return create_file(&tmp, &h);
}

/* a new UIDVALIDITY: clients drop what they hold and resynchronise */
static void uidvalidity_bump(struct rmail_mbox *mb)
{
	struct rmail_err err = {0};
	uint32_t uv, next, now = (uint32_t)time(NULL);

	if (ss_uid_lock(mb, &uv, &next, &err) < 0)
		return;
	mb->uidvalidity = now > uv ? now : uv + 1;
	ss_uid_unlock(mb, next);
}

/*
 * Make the file usable: present, valid and resumed after a crash.
 * Called once per view, under no lock of the mailbox.
 */
int ss_modseq_open(struct rmail_mbox *mb, struct rmail_err *err)
{
	struct ss_mshdr h;
	char boot[40];
	bool net = mb->st->fs_name != NULL;
	int fd;

	for (int tries = 0; tries < 4; tries++) {
		fd = openat(mb->dirfd, "modseq", O_RDWR | O_CLOEXEC);
		if (fd >= 0)
			break;
		if (errno != ENOENT)
			return rmail_err_set(err, RMAIL_E_IO, "modseq: %s",
					     strerror(errno));
		/* lost: nothing vouches for the modseqs clients hold */
		{
			uint64_t max = ss_modseq_disk_max(mb);

			hdr_init(&h, max + SS_MODSEQ_GAP, max + SS_MODSEQ_GAP,
				 0);
			if (create_file(mb, &h) < 0)
				return rmail_err_set(err, RMAIL_E_IO,
						     "modseq: %s",
						     strerror(errno));
			ss_ulog(mb->st, RMAIL_LOG_WARN,
				"%s: modseq counter was missing: new "
				"UIDVALIDITY, modseqs resume at %llu",
				mb->rel, (unsigned long long)h.next);
			uidvalidity_bump(mb);
		}
	}
	if (fd < 0)
		return rmail_err_set(err, RMAIL_E_IO, "modseq: %s",
				     strerror(errno));
	while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
		;
	memset(&h, 0, sizeof(h));
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    !hdr_valid(&h)) {
		uint64_t max = ss_modseq_disk_max(mb);

		hdr_init(&h, max + SS_MODSEQ_GAP, max + SS_MODSEQ_GAP, 0);
		ss_ulog(mb->st, RMAIL_LOG_WARN,
			"%s: modseq counter was damaged: new UIDVALIDITY, "
			"modseqs resume at %llu",
			mb->rel, (unsigned long long)h.next);
		if (pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
		    ftruncate(fd, SS_MS_FILE) < 0 || fdatasync(fd) < 0) {
			flock(fd, LOCK_UN);
			close(fd);
			return rmail_err_set(err, RMAIL_E_IO, "modseq: %s",
					     strerror(errno));
		}
		flock(fd, LOCK_UN);
		uidvalidity_bump(mb);
		while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
			;
		if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
			memset(&h, 0, sizeof(h));
	}
	ss_boot_id(boot);
	if (strncmp(boot, h.boot, sizeof(boot)) != 0) {
		/* the machine went down: the mapped `next` may not have
		 * reached the disk, the ceiling did.  The view snapshot
		 * spares reading the names of the shards it vouches for */
		uint64_t max, names;

		if (ss_snap_names_max(mb, &names)) {
			max = ss_log_max_modseq(mb, true);
			max = max64(max, names);
			mb->snap_names = true;
		} else {
			max = ss_modseq_disk_max(mb);
		}
		uint64_t next =
			max64(max64(h.next, max64(h.ceiling, h.pending)),
			      max + 1) +
			SS_MODSEQ_GAP;

		h.next = next;
		h.ceiling = h.pending = next + SS_MODSEQ_CHUNK;
		memcpy(h.boot, boot, sizeof(h.boot));
		if (pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
		    fdatasync(fd) < 0) {
			flock(fd, LOCK_UN);
			close(fd);
			return rmail_err_set(err, RMAIL_E_IO, "modseq: %s",
					     strerror(errno));
		}
		ss_ulog(mb->st, RMAIL_LOG_INFO,
			"%s: modseqs resume at %llu after an unclean stop",
			mb->rel, (unsigned long long)next);
	}
	flock(fd, LOCK_UN);
	if (!net) {
		void *p = mmap(NULL, SS_MS_FILE, PROT_READ | PROT_WRITE,
			       MAP_SHARED, fd, 0);

		if (p == MAP_FAILED) {
			close(fd);
			return rmail_err_set(err, RMAIL_E_IO, "modseq map: %s",
					     strerror(errno));
		}
		mb->ms = p;
	}
	mb->msfd = fd;
	return 0;
}

void ss_modseq_close(struct rmail_mbox *mb)
{
	if (mb->ms != NULL)
		munmap(mb->ms, SS_MS_FILE);
	mb->ms = NULL;
	if (mb->msfd >= 0)
		close(mb->msfd);
	mb->msfd = -1;
}

/* the header through the descriptor (network filesystems), locked */
static int net_read(struct rmail_mbox *mb, struct ss_mshdr *h)
{
	while (flock(mb->msfd, LOCK_EX) < 0)
		if (errno != EINTR)
			return -1;
	if (pread(mb->msfd, h, sizeof(*h), 0) != (ssize_t)sizeof(*h) ||
	    !hdr_valid(h)) {
		flock(mb->msfd, LOCK_UN);
		errno = EIO;
		return -1;
	}
	return 0;
}

/* m reached the ceiling: raise it, durably, before m is used */
static void extend(struct rmail_mbox *mb, uint64_t m)
{
	struct ss_mshdr *h = mb->ms;

	while (flock(mb->msfd, LOCK_EX) < 0 && errno == EINTR)
		;
	if (m >= __atomic_load_n(&h->ceiling, __ATOMIC_ACQUIRE)) {
		uint64_t c = m + SS_MODSEQ_CHUNK;

		/* recovery reads max(ceiling, pending): a ceiling other
		 * allocators may rely on is published only once durable */
		__atomic_store_n(&h->pending, c, __ATOMIC_RELEASE);
		ss_boot_id(h->boot);
		msync(h, SS_MS_FILE, MS_SYNC);
		__atomic_store_n(&h->ceiling, c, __ATOMIC_RELEASE);
	}
	flock(mb->msfd, LOCK_UN);
}

uint64_t ss_modseq_begin(struct rmail_mbox *mb)
{
	struct ss_mshdr *h = mb->ms, nh;
	uint64_t m;

	if (h != NULL) {
		m = __atomic_fetch_add(&h->next, 1, __ATOMIC_SEQ_CST);
		if (m >= __atomic_load_n(&h->ceiling, __ATOMIC_ACQUIRE))
			extend(mb, m);
		return m;
	}
	if (mb->msfd < 0 || net_read(mb, &nh) < 0)
		return 0;
	m = nh.next++;
	if (m >= nh.ceiling) {
		nh.ceiling = nh.pending = m + SS_MODSEQ_CHUNK;
		ss_boot_id(nh.boot);
	}
	if (pwrite(mb->msfd, &nh, sizeof(nh), 0) != (ssize_t)sizeof(nh) ||
	    (m + SS_MODSEQ_CHUNK == nh.ceiling && fdatasync(mb->msfd) < 0)) {
		flock(mb->msfd, LOCK_UN);
		return 0;
	}
	/* held until ss_modseq_end: the change is visible before anyone
	 * takes a higher modseq */
	return m;
}

bool ss_modseq_end(struct rmail_mbox *mb, uint64_t m)
{
	if (mb->ms == NULL) {
		if (mb->msfd >= 0 && m != 0)
			flock(mb->msfd, LOCK_UN);
		return false;
	}
	/* someone took a modseq after m: they may have made a change
	 * visible before m's was, and a reader may have taken that higher
	 * modseq as HIGHESTMODSEQ.  The caller re-stamps its change. */
	return __atomic_load_n(&((struct ss_mshdr *)mb->ms)->next,
			       __ATOMIC_SEQ_CST) != m + 1;
}

static void atomic_max(uint64_t *p, uint64_t v)
{
	uint64_t cur = __atomic_load_n(p, __ATOMIC_ACQUIRE);

	while (cur < v &&
	       !__atomic_compare_exchange_n(p, &cur, v, false, __ATOMIC_SEQ_CST,
					    __ATOMIC_ACQUIRE))
		;
}

/* the field at `off` raised to v (network filesystems: under the lock) */
static void raise_field(struct rmail_mbox *mb, size_t off, uint64_t v)
{
	struct ss_mshdr nh;

	if (mb->ms != NULL) {
		atomic_max((uint64_t *)((char *)mb->ms + off), v);
		return;
	}
	if (mb->msfd < 0 || net_read(mb, &nh) < 0)
		return;
	if (*(uint64_t *)((char *)&nh + off) < v) {
		*(uint64_t *)((char *)&nh + off) = v;
		(void)!pwrite(mb->msfd, &nh, sizeof(nh), 0);
	}
	flock(mb->msfd, LOCK_UN);
}

static uint64_t read_field(struct rmail_mbox *mb, size_t off)
{
	struct ss_mshdr nh;

	if (mb->ms != NULL)
		return __atomic_load_n((uint64_t *)((char *)mb->ms + off),
				       __ATOMIC_ACQUIRE);
	if (mb->msfd < 0 ||
	    pread(mb->msfd, &nh, sizeof(nh), 0) != (ssize_t)sizeof(nh))
		return 0;
	return *(uint64_t *)((char *)&nh + off);
}

void ss_modseq_seen(struct rmail_mbox *mb, uint64_t max)
{
	/* a name or record above the counter (a mailbox renamed in, a
	 * restored backup): resume above it */
	if (max != 0 && read_field(mb, offsetof(struct ss_mshdr, next)) <= max)
		raise_field(mb, offsetof(struct ss_mshdr, next),
			    max + SS_MODSEQ_GAP);
}

uint64_t ss_modseq_horizon(struct rmail_mbox *mb)
{
	return read_field(mb, offsetof(struct ss_mshdr, horizon));
}

void ss_modseq_raise_horizon(struct rmail_mbox *mb, uint64_t h)
{
	raise_field(mb, offsetof(struct ss_mshdr, horizon), h);
}

int ss_modseq_sync_horizon(struct rmail_mbox *mb, uint64_t h)
{
	ss_modseq_raise_horizon(mb, h);
	if (mb->ms != NULL)
		return msync(mb->ms, SS_MS_FILE, MS_SYNC);
	return mb->msfd >= 0 ? fdatasync(mb->msfd) : -1;
}

uint64_t ss_modseq_hwm(struct rmail_mbox *mb)
{
	return read_field(mb, offsetof(struct ss_mshdr, hwm));
}

void ss_modseq_raise_hwm(struct rmail_mbox *mb, uint64_t m)
{
	raise_field(mb, offsetof(struct ss_mshdr, hwm), m);
}

uint64_t ss_modseq_loggen(struct rmail_mbox *mb)
{
	return mb->ms != NULL
		       ? __atomic_load_n(&((struct ss_mshdr *)mb->ms)->loggen,
					 __ATOMIC_ACQUIRE)
		       : UINT64_MAX;
}

void ss_modseq_log_rotated(struct rmail_mbox *mb)
{
	if (mb->ms != NULL)
		__atomic_fetch_add(&((struct ss_mshdr *)mb->ms)->loggen, 1,
				   __ATOMIC_SEQ_CST);
}

uint64_t ss_modseq_peek(struct rmail_mbox *mb)
{
	return read_field(mb, offsetof(struct ss_mshdr, next));
}
