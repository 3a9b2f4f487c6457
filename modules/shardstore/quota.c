/*
 * Quota usage: one small text file per user (<user dir>/quota) holding
 * the bytes in use as 20 zero-padded digits.  Not fsync'd: it is a cache
 * of what the message files add up to, rebuilt by a scan when missing or
 * unreadable and by `rmail quota recalc`.  Updates take an flock on the
 * file, so threads and processes charge it without losing an update; a
 * check only reads it, so it is O(1) and appends racing the same check
 * overshoot by at most the messages in flight.  A read is cached against
 * the file's stat (the rewrite is in place, so mtime and ctime carry the
 * change); a file written within the last second is read again, so
 * another process's charge is seen by the next check as before.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "users_int.h"

#define QUOTA_LEN 21 /* 20 digits + '\n' */

enum qmode {
	Q_READ,
	Q_CHARGE,
	Q_RECALC,
};

struct qcache {
	struct qcache *next;
	char canon[RMAIL_ADDR_MAX + 1];
	int have_fid;
	struct ss_fid fid; /* of a read made after the file settled */
	uint64_t used;
	/* the file's newest known change: within the last second a stat
	 * proves nothing, so it is skipped and the file read */
	struct timespec seen;
	/* uploads in progress in this process and the bytes they
	 * announced: spoken for until they commit or are abandoned */
	uint64_t reserved;
	uint32_t uploads;
};

struct ss_quota {
	uint64_t charges; /* statistics only */
	pthread_mutex_t lock;
	struct qcache **buckets;
	size_t nbuckets, count;
};

static size_t hash_str(const char *s)
{
	size_t h = 5381;

	while (*s != '\0')
		h = h * 33 + (unsigned char)*s++;
	return h;
}

/* called with q->lock held */
static struct qcache **qslot(struct ss_quota *q, const char *canon)
{
	struct qcache **pp = &q->buckets[hash_str(canon) % q->nbuckets];

	while (*pp != NULL && strcmp((*pp)->canon, canon) != 0)
		pp = &(*pp)->next;
	return pp;
}

static void qgrow(struct ss_quota *q)
{
	struct qcache **nb, *e, *next;
	size_t n = q->nbuckets * 4, i, b;

	nb = calloc(n, sizeof(*nb));
	if (nb == NULL)
		return; /* longer chains, still correct */
	for (i = 0; i < q->nbuckets; i++) {
		for (e = q->buckets[i]; e != NULL; e = next) {
			next = e->next;
			b = hash_str(e->canon) % n;
			e->next = nb[b];
			nb[b] = e;
		}
	}
	free(q->buckets);
	q->buckets = nb;
	q->nbuckets = n;
}

/* called with q->lock held; NULL when out of memory */
static struct qcache *qget(struct ss_quota *q, const char *canon)
{
	struct qcache **pp, *e;

	pp = qslot(q, canon);
	e = *pp;
	if (e == NULL) {
		e = calloc(1, sizeof(*e));
		if (e != NULL) {
			memcpy(e->canon, canon, strlen(canon) + 1);
			*pp = e;
			if (++q->count > q->nbuckets * 2)
				qgrow(q);
		}
	}
	return e;
}

/* 1 when the file changed within the last second as far as we know */
static int qcache_racy(struct ss_quota *q, const char *canon,
		       const struct timespec *now)
{
	struct qcache *e;
	int racy;

	pthread_mutex_lock(&q->lock);
	e = *qslot(q, canon);
	racy = e != NULL && ss_ns_since(&e->seen, now) < SS_FID_RACY_NS;
	pthread_mutex_unlock(&q->lock);
	return racy;
}

/* note a change at `when` (a stat's mtime, or our own write) */
static void qcache_seen(struct ss_quota *q, const char *canon,
			const struct timespec *when)
{
	struct qcache *e;

	pthread_mutex_lock(&q->lock);
	e = qget(q, canon);
	if (e != NULL && ss_ns_since(&e->seen, when) > 0)
		e->seen = *when;
	pthread_mutex_unlock(&q->lock);
}

/* 1 with *used_r when the cache holds a read of exactly this file */
static int qcache_hit(struct ss_quota *q, const char *canon,
		      const struct ss_fid *fid, uint64_t *used_r)
{
	struct qcache *e;
	int hit = 0;

	pthread_mutex_lock(&q->lock);
	e = *qslot(q, canon);
	if (e != NULL && e->have_fid && ss_fid_equal(&e->fid, fid)) {
		*used_r = e->used;
		hit = 1;
	}
	pthread_mutex_unlock(&q->lock);
	return hit;
}

static void qcache_put(struct ss_quota *q, const char *canon,
		       const struct ss_fid *fid, uint64_t used)
{
	struct qcache *e;

	pthread_mutex_lock(&q->lock);
	e = qget(q, canon);
	if (e != NULL) {
		e->fid = *fid;
		e->have_fid = 1;
		e->used = used;
	}
	pthread_mutex_unlock(&q->lock);
}

static int quota_path(const char *canon, char *out, size_t outsz,
		      struct rmail_err *err)
{
	char dir[SS_PATH_MAX];
	int n;

	if (ss_user_dir(canon, dir, sizeof(dir), err) < 0)
		return -1;
	n = snprintf(out, outsz, "%s/quota", dir);
	if (n < 0 || (size_t)n >= outsz)
		return rmail_err_set(err, RMAIL_E_INVAL, "path too long");
	return 0;
}

static int parse_usage(const char *buf, size_t len, uint64_t *v_r)
{
	uint64_t v = 0;
	size_t i;

	if (len != QUOTA_LEN || buf[QUOTA_LEN - 1] != '\n')
		return -1;
	for (i = 0; i < QUOTA_LEN - 1; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return -1;
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(buf[i] - '0');
	}
	*v_r = v;
	return 0;
}

static int read_fd(int fd, uint64_t *v_r)
{
	char buf[QUOTA_LEN + 1];
	ssize_t n;

	n = pread(fd, buf, sizeof(buf), 0);
	if (n < 0)
		return -1;
	return parse_usage(buf, (size_t)n, v_r);
}

/* the locked path: create, rebuild, charge or recalc */
static int quota_update(struct ss_store *st, const char *canon, int mode,
			int64_t delta, uint64_t *used_r, struct rmail_err *err)
{
	char path[SS_PATH_MAX], buf[QUOTA_LEN + 1];
	struct stat sb;
	uint64_t v = 0;
	int fd, ret = -1, fresh = 0;

	if (quota_path(canon, path, sizeof(path), err) < 0)
		return -1;
	fd = ss_openat(st->root_fd, path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return rmail_err_set(
			err, errno == ENOENT ? RMAIL_E_NOENT : RMAIL_E_IO,
			"%s: %s", path, strerror(errno));
	if (fstat(fd, &sb) == 0 && sb.st_size == 0)
		ss_fix_owner(st, fd);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			rmail_err_set(err, RMAIL_E_IO, "flock %s: %s", path,
				      strerror(errno));
			goto out;
		}
	}
	if (mode == Q_RECALC || read_fd(fd, &v) < 0) {
		/* the scan sees every committed message, including the
		 * one being charged now: no delta on top of it */
		if (ss_user_usage_scan(st, canon, &v, err) < 0)
			goto out;
		fresh = 1;
	}
	if (mode == Q_CHARGE && !fresh) {
		if (delta < 0 && (uint64_t)-delta > v)
			v = 0;
		else
			v += (uint64_t)delta;
	}
	if (mode != Q_READ || fresh) {
		snprintf(buf, sizeof(buf), "%020" PRIu64 "\n", v);
		if (pwrite(fd, buf, QUOTA_LEN, 0) != QUOTA_LEN ||
		    ftruncate(fd, QUOTA_LEN) < 0) {
			rmail_err_set(err, RMAIL_E_IO, "%s: %s", path,
				      strerror(errno));
			goto out;
		}
	}
	if (mode != Q_READ || fresh) {
		struct timespec now;

		/* our own write: the next second of checks just read */
		if (st->quota != NULL &&
		    clock_gettime(CLOCK_REALTIME, &now) == 0)
			qcache_seen(st->quota, canon, &now);
	}
	if (used_r != NULL)
		*used_r = v;
	ret = 0;
out:
	close(fd); /* drops the flock */
	return ret;
}

/* check: compare the cached usage with what the message files add up
 * to, under the file's flock so no charge lands in between; with
 * repair, write the sum.  1 when they differ (or the file is missing or
 * unreadable), 0 when they agree, -1 with err. */
int ss_quota_verify(struct ss_store *st, const char *canon, int repair,
		    uint64_t *cached_r, uint64_t *real_r, struct rmail_err *err)
{
	char path[SS_PATH_MAX];
	int fd, bad, ret = -1;

	if (quota_path(canon, path, sizeof(path), err) < 0)
		return -1;
	fd = ss_openat(st->root_fd, path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0 && errno != ENOENT)
		return rmail_err_set(err, RMAIL_E_IO, "%s: %s", path,
				     strerror(errno));
	while (fd >= 0 && flock(fd, LOCK_SH) < 0 && errno == EINTR)
		;
	*cached_r = 0;
	bad = fd < 0 || read_fd(fd, cached_r) < 0;
	if (ss_user_usage_scan(st, canon, real_r, err) == 0) {
		bad = bad || *cached_r != *real_r;
		ret = bad;
	}
	if (fd >= 0)
		close(fd);
	if (ret == 1 && repair &&
	    quota_update(st, canon, Q_RECALC, 0, NULL, err) < 0)
		return -1;
	return ret;
}

/* The quota file's stat decides: unchanged and settled serves the
 * cached value; a stat within the last second proves nothing, so the
 * file is read (and cached only once a read happens after it settled). */
int ss_quota_used(struct ss_store *st, const char *canon, uint64_t *used_r,
		  struct rmail_err *err)
{
	struct ss_quota *q = st->quota;
	char path[SS_PATH_MAX];
	struct timespec now;
	struct ss_fid fid;
	struct stat sb;
	int fd, ok, have_fid = 0;

	if (quota_path(canon, path, sizeof(path), err) < 0)
		return -1;
	if (clock_gettime(CLOCK_REALTIME, &now) < 0)
		q = NULL; /* no clock, no cache */
	/* the path holds only encoded names: no "..", and the open
	 * below still refuses symlinks when the contents are needed */
	if (q != NULL && !qcache_racy(q, canon, &now) &&
	    fstatat(st->root_fd, path, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(sb.st_mode)) {
		ss_fid_from_stat(&fid, &sb);
		qcache_seen(q, canon, &fid.mtime);
		if (ss_ns_since(&fid.mtime, &now) >= SS_FID_RACY_NS) {
			if (qcache_hit(q, canon, &fid, used_r))
				return 0;
			have_fid = 1;
		}
	}
	fd = ss_open_rel(st, path, O_RDONLY);
	if (fd >= 0) {
		ok = read_fd(fd, used_r) == 0;
		/* cache only when the file we read is the settled one we
		 * stat'ed: a rewrite in between changes its stat */
		if (ok && have_fid && fstat(fd, &sb) == 0) {
			struct ss_fid now_fid;

			ss_fid_from_stat(&now_fid, &sb);
			if (ss_fid_equal(&now_fid, &fid))
				qcache_put(q, canon, &fid, *used_r);
		}
		close(fd);
		if (ok)
			return 0;
	}
	return quota_update(st, canon, Q_READ, 0, used_r, err);
}

int ss_quota_check(struct ss_store *st, const char *canon_user, uint64_t bytes,
		   struct rmail_err *err)
{
	struct ss_user_rec rec;
	uint64_t used, limit;

	if (ss_user_lookup(st, canon_user, &rec, err) < 0)
		return -1;
	if (rec.quota_mb == 0)
		return 0; /* 0 = unlimited */
	limit = (uint64_t)rec.quota_mb * 1024 * 1024;
	if (ss_quota_used(st, canon_user, &used, err) < 0)
		return -1;
	if (bytes > limit || used > limit - bytes)
		return rmail_err_set(err, RMAIL_E_QUOTA, "Quota exceeded");
	return 0;
}

int ss_quota_reserve(struct ss_store *st, const char *canon_user,
		     uint64_t bytes, uint32_t max_uploads,
		     struct rmail_err *err)
{
	struct ss_quota *q = st->quota;
	struct ss_user_rec rec;
	uint64_t used = 0, limit;
	struct qcache *e;
	int rc = 0;

	if (ss_user_lookup(st, canon_user, &rec, err) < 0)
		return -1;
	limit = (uint64_t)rec.quota_mb * 1024 * 1024; /* 0 = unlimited */
	if (limit != 0 && ss_quota_used(st, canon_user, &used, err) < 0)
		return -1;
	if (q == NULL)
		return limit != 0 && (bytes > limit || used > limit - bytes)
			       ? rmail_err_set(err, RMAIL_E_QUOTA,
					       "Quota exceeded")
			       : 0;
	pthread_mutex_lock(&q->lock);
	e = qget(q, canon_user);
	if (e == NULL)
		rc = rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
	else if (max_uploads > 0 && e->uploads >= max_uploads)
		rc = rmail_err_set(err, RMAIL_E_BUSY,
				   "Too many uploads in progress for this "
				   "user (at most %u)",
				   max_uploads);
	else if (limit != 0 && (bytes > limit || used > limit - bytes))
		rc = rmail_err_set(err, RMAIL_E_QUOTA, "Quota exceeded");
	else if (limit != 0 && e->reserved > limit - bytes - used)
		/* it fits what is stored: only uploads that may yet be
		 * abandoned stand in the way, so the answer is "later",
		 * never a bounce */
		rc = rmail_err_set(err, RMAIL_E_BUSY,
				   "Quota held by uploads in progress for "
				   "this user; try again when they end");
	if (rc == 0) {
		e->reserved += bytes;
		e->uploads++;
	}
	pthread_mutex_unlock(&q->lock);
	return rc;
}

void ss_quota_unreserve(struct ss_store *st, const char *canon_user,
			uint64_t bytes, int upload_done)
{
	struct ss_quota *q = st->quota;
	struct qcache *e;

	if (q == NULL)
		return;
	pthread_mutex_lock(&q->lock);
	e = *qslot(q, canon_user);
	if (e != NULL) {
		e->reserved -= bytes < e->reserved ? bytes : e->reserved;
		if (upload_done && e->uploads > 0)
			e->uploads--;
	}
	pthread_mutex_unlock(&q->lock);
}

void ss_quota_charge(struct ss_store *st, const char *canon_user, int64_t delta)
{
	struct rmail_err err;

	rmail_err_clear(&err);
	if (quota_update(st, canon_user, Q_CHARGE, delta, NULL, &err) < 0)
		ss_ulog(st, RMAIL_LOG_WARN,
			"quota of %s not charged (%s); "
			"run `rmail quota recalc`",
			canon_user, err.msg);
	else if (st->quota != NULL)
		__atomic_add_fetch(&st->quota->charges, 1, __ATOMIC_RELAXED);
}

int ss_quota_get(void *h, const char *user, uint64_t *used_r, uint64_t *limit_r,
		 struct rmail_err *err)
{
	struct ss_store *st = h;
	struct ss_user_rec rec;
	char canon[RMAIL_ADDR_MAX + 1];
	uint64_t used;

	if (ss_canon(user, canon, NULL, NULL, err) < 0 ||
	    ss_user_lookup(st, canon, &rec, err) < 0 ||
	    ss_quota_used(st, canon, &used, err) < 0)
		return -1;
	if (used_r != NULL)
		*used_r = used;
	if (limit_r != NULL)
		*limit_r = (uint64_t)rec.quota_mb * 1024 * 1024;
	return 0;
}

struct recalc_all {
	struct ss_store *st;
	struct rmail_err *err;
	int failed;
};

static void recalc_one(void *arg, const struct rmail_user *u)
{
	struct recalc_all *ra = arg;

	if (quota_update(ra->st, u->address, Q_RECALC, 0, NULL,
			 ra->failed ? NULL : ra->err) < 0)
		ra->failed = 1;
}

int ss_quota_recalc(void *h, const char *user, struct rmail_err *err)
{
	struct ss_store *st = h;
	struct recalc_all ra = {st, err, 0};
	struct ss_user_rec rec;
	char canon[RMAIL_ADDR_MAX + 1];

	if (user == NULL) {
		if (ss_user_list(st, NULL, recalc_one, &ra, err) < 0)
			return -1;
		return ra.failed ? -1 : 0;
	}
	if (ss_canon(user, canon, NULL, NULL, err) < 0 ||
	    ss_user_lookup(st, canon, &rec, err) < 0)
		return -1;
	return quota_update(st, canon, Q_RECALC, 0, NULL, err);
}

int ss_quota_open(struct ss_store *st, struct rmail_err *err)
{
	struct ss_quota *q;

	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
	q->nbuckets = 256;
	q->buckets = calloc(q->nbuckets, sizeof(*q->buckets));
	if (q->buckets == NULL) {
		free(q);
		return rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
	}
	pthread_mutex_init(&q->lock, NULL);
	st->quota = q;
	return 0;
}

void ss_quota_close(struct ss_store *st)
{
	struct ss_quota *q = st->quota;
	struct qcache *e, *next;
	size_t i;

	if (q == NULL)
		return;
	for (i = 0; i < q->nbuckets; i++) {
		for (e = q->buckets[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(q->buckets);
	pthread_mutex_destroy(&q->lock);
	free(q);
	st->quota = NULL;
}
