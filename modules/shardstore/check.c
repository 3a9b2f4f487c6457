/*
 * The check op (`rmail check-store`): the store's fsck.  It walks the
 * on-disk format (docs/storage.md) with the module's own grammar (the
 * file names of ss_fname.h, the tmp names of tmpfiles.c), under the
 * same UID lock as appends, so it is safe with a daemon running.  Then
 * it verifies the derived caches: each user's quota usage file, each
 * mailbox's view snapshot.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ss_mbox.h"
#include "ss_viewsnap.h"

struct chk {
	struct ss_store *st;
	rmail_check_fn cb;
	void *arg;
	bool repair;
	int left;
	time_t now;
};

/* a/b[/c] into out; false when it does not fit */
static bool pjoin(char *out, size_t sz, const char *a, const char *b,
		  const char *c)
{
	int n = c != NULL ? snprintf(out, sz, "%s/%s/%s", a, b, c)
			  : snprintf(out, sz, "%s/%s", a, b);

	return n >= 0 && (size_t)n < sz;
}

static void report(struct chk *c, bool fixed, const char *path,
		   const char *what)
{
	if (!fixed)
		c->left++;
	if (c->cb != NULL)
		c->cb(c->arg, path, what, fixed);
}

/* the tmp sweep's rule (ss_tmp_abandoned), reported and, with repair,
 * applied now rather than at the next sweep interval */
static void check_tmp(struct chk *c, int mbfd, const char *path)
{
	int fd = openat(mbfd, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	struct dirent *de;
	struct stat sb;
	char p[4096];
	DIR *d;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		/* hidden names are claims in flight (move.c), never ours */
		if (de->d_name[0] == '.' ||
		    fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    S_ISDIR(sb.st_mode) ||
		    !ss_tmp_abandoned(de->d_name,
				      (int64_t)c->now - sb.st_mtime))
			continue;
		if (!pjoin(p, sizeof(p), path, "tmp", de->d_name))
			continue;
		report(c, c->repair && unlinkat(fd, de->d_name, 0) == 0, p,
		       "orphan temporary");
	}
	closedir(d);
}

struct best {
	char name[SS_FNAME_MAX + 1];
};

static void dup_uid(struct chk *c, int fd, const char *path, uint32_t uid,
		    const char *kept, const char *loser)
{
	char what[512];

	snprintf(what, sizeof(what), "uid %u under two names: kept %s, %s %s",
		 uid, kept, c->repair ? "removed" : "would remove", loser);
	report(c, c->repair && unlinkat(fd, loser, 0) == 0, path, what);
}

/* the rule readers use (ss_shard_scan): the higher modseq, then the
 * name sorting last */
static bool name_wins(const char *a, const char *b)
{
	struct ss_fname fa, fb;

	ss_fname_parse(a, strlen(a), &fa);
	ss_fname_parse(b, strlen(b), &fb);
	if (fa.modseq != fb.modseq)
		return fa.modseq > fb.modseq;
	return strcmp(a, b) > 0;
}

/* one shard: stray names, wrong shard, duplicate UIDs; highest UID and
 * highest modseq (*maxmod_r) */
static uint32_t check_shard(struct chk *c, int mbfd, const char *sname,
			    uint32_t no, const char *path, uint64_t *maxmod_r)
{
	struct best *best = calloc(1u << SS_SHARD_BITS, sizeof(*best));
	uint32_t high = 0, base = no << SS_SHARD_BITS;
	int fd = openat(mbfd, sname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	struct dirent *de;
	char p[4096];
	DIR *d;

	if (best == NULL || fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		free(best);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		struct ss_fname f;
		char *b;
		size_t len = strlen(de->d_name);

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (!pjoin(p, sizeof(p), path, sname, de->d_name))
			continue;
		if (ss_fname_parse(de->d_name, len, &f) < 0) {
			report(c, false, p, "not a message file name");
			continue;
		}
		if (ss_shard_of(f.uid) != no) {
			report(c, false, p, "message in the wrong shard");
			continue;
		}
		if (f.uid > high)
			high = f.uid;
		if (f.modseq > *maxmod_r)
			*maxmod_r = f.modseq;
		b = best[f.uid - base].name;
		if (b[0] == '\0') {
			memcpy(b, de->d_name, len + 1);
		} else if (name_wins(de->d_name, b)) {
			char loser[SS_FNAME_MAX + 1];

			memcpy(loser, b, sizeof(loser));
			memcpy(b, de->d_name, len + 1);
			dup_uid(c, fd, path, f.uid, b, loser);
		} else {
			dup_uid(c, fd, path, f.uid, b, de->d_name);
		}
	}
	closedir(d);
	free(best);
	return high;
}

static void check_counter(struct chk *c, int mbfd, uint32_t high,
			  const char *path)
{
	char buf[128], what[128];
	unsigned v, uv = 0, next = 0;
	int fd = openat(mbfd, "counter", O_RDWR | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0) {
		report(c, false, path, "no UID counter");
		return;
	}
	flock(fd, LOCK_EX);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[n < 0 ? 0 : n] = '\0';
	if (sscanf(buf, "%u %u %u", &v, &uv, &next) < 3 || uv == 0) {
		report(c, false, path, "unreadable UID counter");
	} else if (next <= high) {
		bool fixed = false;

		if (c->repair) {
			/* boot id "-": the next append re-verifies */
			n = snprintf(buf, sizeof(buf), "1 %u %u -\n", uv,
				     high + 1);
			fixed = pwrite(fd, buf, (size_t)n, 0) == n &&
				ftruncate(fd, n) == 0;
		}
		snprintf(what, sizeof(what),
			 "UID counter %u is not above the highest UID %u", next,
			 high);
		report(c, fixed, path, what);
	}
	flock(fd, LOCK_UN);
	close(fd);
}

/* a mailbox handle for the counter and the log, without a view */
static bool light_open(struct ss_store *st, int mbfd, const char *path,
		       struct rmail_mbox *mb)
{
	struct rmail_err err = {0};

	memset(mb, 0, sizeof(*mb));
	mb->st = st;
	mb->dirfd = mbfd;
	mb->logfd = -1;
	mb->msfd = -1;
	snprintf(mb->rel, sizeof(mb->rel), "%s", path);
	mb->counterfd = openat(mbfd, "counter", O_RDWR | O_CLOEXEC);
	pthread_mutex_init(&mb->lock, NULL);
	pthread_mutex_init(&mb->alloc, NULL);
	pthread_mutex_init(&mb->loglock, NULL);
	if (mb->counterfd >= 0 && ss_modseq_open(mb, &err) == 0)
		return true;
	if (mb->counterfd >= 0)
		close(mb->counterfd);
	pthread_mutex_destroy(&mb->lock);
	pthread_mutex_destroy(&mb->alloc);
	pthread_mutex_destroy(&mb->loglock);
	return false;
}

static void light_close(struct rmail_mbox *mb)
{
	ss_modseq_close(mb);
	if (mb->logfd >= 0)
		close(mb->logfd);
	close(mb->counterfd);
	pthread_mutex_destroy(&mb->lock);
	pthread_mutex_destroy(&mb->alloc);
	pthread_mutex_destroy(&mb->loglock);
}

/*
 * The modseq counter: present, and above every modseq a name carries.
 * A missing one is made again by --repair, which also gives the mailbox
 * a new UIDVALIDITY (nothing vouches for its modseqs any more).
 */
static void check_modseq(struct chk *c, int mbfd, uint64_t maxmod,
			 const char *path)
{
	struct rmail_mbox mb;
	char what[160];
	struct stat sb;

	if (fstatat(mbfd, "modseq", &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		report(c,
		       c->repair && light_open(c->st, mbfd, path, &mb) &&
			       (light_close(&mb), true),
		       path, "no modseq counter (repair: new UIDVALIDITY)");
		return;
	}
	if (!light_open(c->st, mbfd, path, &mb)) {
		report(c, false, path, "unreadable modseq counter");
		return;
	}
	if (ss_modseq_peek(&mb) <= maxmod) {
		snprintf(what, sizeof(what),
			 "modseq counter %llu is not above the highest "
			 "modseq %llu",
			 (unsigned long long)ss_modseq_peek(&mb),
			 (unsigned long long)maxmod);
		if (c->repair)
			ss_modseq_seen(&mb, maxmod);
		report(c, c->repair && ss_modseq_peek(&mb) > maxmod, path,
		       what);
	}
	light_close(&mb);
}

/*
 * Commit a claim under a new UID, as the move would have: a modseq from
 * the mailbox's counter, the UID lock, the next UID, the rename into its
 * shard, the counter, the log.
 */
static bool commit_claim(struct chk *c, int mbfd, int tfd, const char *claim,
			 struct ss_fname *f, const char *path)
{
	char buf[160], boot[64] = "-", shard[16], rel[SS_FNAME_MAX + 16];
	char name[SS_FNAME_MAX];
	unsigned v, uv = 0, next = 0;
	bool ok = false, moved = false;
	struct rmail_mbox mb;
	int fd, n;
	ssize_t got;

	if (!light_open(c->st, mbfd, path, &mb))
		return false;
	f->modseq = ss_modseq_begin(&mb);
	fd = openat(mbfd, "counter", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || f->modseq == 0) {
		if (fd >= 0)
			close(fd);
		ss_modseq_end(&mb, f->modseq);
		light_close(&mb);
		return false;
	}
	flock(fd, LOCK_EX);
	got = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[got < 0 ? 0 : got] = '\0';
	if (sscanf(buf, "%u %u %u %63s", &v, &uv, &next, boot) < 3 || uv == 0 ||
	    next == 0 || next == UINT32_MAX)
		goto out;
	f->uid = next;
	snprintf(shard, sizeof(shard), "s%u", ss_shard_of(next));
	if (mkdirat(mbfd, shard, 0750) < 0 && errno != EEXIST)
		goto out;
	ss_fname_format(f, name);
	snprintf(rel, sizeof(rel), "%s/%s", shard, name);
	if (renameat(tfd, claim, mbfd, rel) < 0)
		goto out;
	moved = true;
	n = snprintf(buf, sizeof(buf), "1 %u %u %s\n", uv, next + 1, boot);
	ok = pwrite(fd, buf, (size_t)n, 0) == n && ftruncate(fd, n) == 0;
out:
	flock(fd, LOCK_UN);
	close(fd);
	ss_modseq_end(&mb, f->modseq);
	if (moved)
		ss_log_append_msg(&mb, f);
	light_close(&mb);
	return ok;
}

/* ".move.{host}.{pid}.{seq}~{file name}": a move that never committed */
static void check_claims(struct chk *c, int mbfd, const char *path)
{
	int fd = openat(mbfd, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	char p[4096], tname[256];
	struct ss_fname f;
	struct dirent *de;
	struct stat sb;
	const char *name, *tilde;
	DIR *d;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, ".move.", 6) != 0)
			continue;
		name = de->d_name + 6;
		tilde = strchr(name, '~');
		if (tilde == NULL ||
		    ss_fname_parse(tilde + 1, strlen(tilde + 1), &f) < 0)
			continue; /* not a claim of this format */
		/* a live mover's claim is about to be committed: the same
		 * rule as a temporary's, aged by ctime, since the claiming
		 * rename keeps the message's old mtime */
		snprintf(tname, sizeof(tname), "%.*s.tmp", (int)(tilde - name),
			 name);
		if (fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !ss_tmp_abandoned(tname,
				      (int64_t)(time(NULL) - sb.st_ctime)))
			continue;
		if (!pjoin(p, sizeof(p), path, "tmp", de->d_name))
			continue;
		report(c,
		       c->repair &&
			       commit_claim(c, mbfd, fd, de->d_name, &f, path),
		       p, "leftover move claim");
	}
	closedir(d);
}

/* the view snapshot (a cache): wrong ones are deleted, never trusted */
static void check_snapshot(struct chk *c, int mbfd, const char *path)
{
	char buf[128], what[256];
	unsigned v, uv = 0, next;
	int fd = openat(mbfd, "counter", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : pread(fd, buf, sizeof(buf) - 1, 0);

	if (fd >= 0)
		close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	if (sscanf(buf, "%u %u %u", &v, &uv, &next) < 2 || uv == 0)
		return; /* check_counter reports it */
	if (ss_snap_verify(mbfd, uv, what, sizeof(what)) > 0)
		report(c, c->repair && unlinkat(mbfd, SS_SNAP_NAME, 0) == 0,
		       path, what);
}

static void check_mailbox(struct chk *c, int mfd, const char *name,
			  const char *path)
{
	int fd = openat(mfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	uint32_t high = 0;
	uint64_t maxmod = 0;
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return;
	check_tmp(c, fd, path);
	if ((d = fdopendir(dup(fd))) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		int64_t no = ss_shard_parse(de->d_name);
		uint32_t h;

		if (no < 0)
			continue;
		h = check_shard(c, fd, de->d_name, (uint32_t)no, path, &maxmod);
		if (h > high)
			high = h;
	}
	closedir(d);
	check_counter(c, fd, high, path);
	check_modseq(c, fd, maxmod, path);
	check_claims(c, fd, path);
	check_snapshot(c, fd, path);
	close(fd);
}

/* calls fn(c, dirfd, entry, path) for each non-dot entry of dir */
static void each(struct chk *c, int dirfd, const char *dir, const char *path,
		 void (*fn)(struct chk *, int, const char *, const char *))
{
	int fd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	struct dirent *de;
	char p[4096];
	DIR *d;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (!pjoin(p, sizeof(p), path, de->d_name, NULL))
			continue;
		fn(c, fd, de->d_name, p);
	}
	closedir(d);
}

static void check_mail_dir(struct chk *c, int ufd, const char *name,
			   const char *path)
{
	int fd = openat(ufd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	struct dirent *de;
	char p[4096];
	DIR *d;

	if (fd < 0 || (d = fdopendir(dup(fd))) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (!pjoin(p, sizeof(p), path, de->d_name, NULL))
			continue;
		/* mbox.c's create and delete stage under these names */
		if (strncmp(de->d_name, ".new.", 5) == 0 ||
		    strncmp(de->d_name, ".del.", 5) == 0) {
			if (c->repair)
				ss_rmtree(fd, de->d_name);
			report(c, c->repair, p,
			       "leftover of an interrupted create/delete");
		} else if (de->d_name[0] != '.') {
			check_mailbox(c, fd, de->d_name, p);
		}
	}
	closedir(d);
	close(fd);
}

static void check_user(struct chk *c, int usersfd, const char *name,
		       const char *path)
{
	int fd = openat(usersfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	char p[4096];

	if (fd < 0)
		return;
	if (pjoin(p, sizeof(p), path, "mail", NULL))
		check_mail_dir(c, fd, "mail", p);
	close(fd);
}

static void check_domain(struct chk *c, int domfd, const char *name,
			 const char *path)
{
	int fd = openat(domfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	char p[4096];

	if (fd < 0)
		return;
	if (pjoin(p, sizeof(p), path, "users", NULL))
		each(c, fd, "users", p, check_user);
	close(fd);
}

static void check_quota(void *arg, const struct rmail_user *u)
{
	struct chk *c = arg;
	struct rmail_err err;
	uint64_t cached = 0, real = 0;
	char what[160];
	int rc;

	rmail_err_clear(&err);
	rc = ss_quota_verify(c->st, u->address, c->repair, &cached, &real,
			     &err);
	if (rc < 0) {
		report(c, false, u->address, err.msg);
	} else if (rc > 0) {
		snprintf(what, sizeof(what),
			 "quota usage cache says %llu bytes, the messages "
			 "add up to %llu",
			 (unsigned long long)cached, (unsigned long long)real);
		report(c, c->repair, u->address, what);
	}
}

int ss_check(void *h, int repair, rmail_check_fn cb, void *arg,
	     struct rmail_err *err)
{
	struct ss_store *st = h;
	struct chk c = {st, cb, arg, repair != 0, 0, time(NULL)};
	char p[4096];

	if (!pjoin(p, sizeof(p), st->mail_root, "domains", NULL))
		return rmail_err_set(err, RMAIL_E_INVAL, "path too long");
	each(&c, st->root_fd, "domains", p, check_domain);
	if (ss_user_list(st, NULL, check_quota, &c, err) < 0)
		return -1;
	return c.left;
}
