/*
 * Sieve scripts and vacation state (store ops sieve_*, vacation_check,
 * ABI 1.5).  Per user, in the user's directory:
 *   sieve/<encoded name>.sieve   one file per script, written atomically
 *   sieve/active                 the active script's name (absent: none)
 *   sieve/vacation               "unixtime key\n" per reply sent
 *   sieve/duplicates             "expiry key\n" per duplicate_check key
 * Writers hold flock on sieve/, so two processes never interleave an
 * activate with a rename, and vacation's check-and-record is atomic.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "users_int.h"

#define SIEVE_SUFFIX ".sieve"
#define SIEVE_MAX_TEXT (16u << 20)
#define VAC_MAX_FILE (4u << 20)
#define VAC_KEY_MAX 128
#define VAC_KEEP (366 * 86400LL)

static int check_name(const char *name, struct rmail_err *err)
{
	size_t n = name != NULL ? strlen(name) : 0;

	if (n == 0 || n > RMAIL_SIEVE_NAME_MAX)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "a script name is 1 to %d bytes",
				     RMAIL_SIEVE_NAME_MAX);
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '/')
			return rmail_err_set(err, RMAIL_E_INVAL,
					     "bad character in a script name");
	return 0;
}

/* "domains/../users/../sieve" for the user, which must exist */
static int sieve_dir(struct ss_store *st, const char *user, char *out,
		     size_t outsz, int create, struct rmail_err *err)
{
	char canon[RMAIL_ADDR_MAX + 1], dir[SS_PATH_MAX];
	struct stat sb;
	int fd;

	if (ss_canon(user, canon, NULL, NULL, err) < 0 ||
	    ss_user_dir(canon, dir, sizeof(dir), err) < 0)
		return -1;
	fd = ss_open_rel(st, dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return rmail_err_set(
			err, errno == ENOENT ? RMAIL_E_NOENT : RMAIL_E_IO,
			"%s: %s", errno == ENOENT ? "no such user" : dir,
			errno == ENOENT ? canon : strerror(errno));
	close(fd);
	if ((size_t)snprintf(out, outsz, "%s/sieve", dir) >= outsz)
		return rmail_err_set(err, RMAIL_E_INVAL, "path too long");
	if (!create)
		return 0;
	fd = ss_open_rel(st, out, O_RDONLY | O_DIRECTORY);
	if (fd >= 0 && fstat(fd, &sb) == 0) {
		close(fd);
		return 0;
	}
	if (fd >= 0)
		close(fd);
	return ss_mkdirs(st, out, err);
}

static int file_name(const char *name, char *out, size_t outsz,
		     struct rmail_err *err)
{
	char enc[RMAIL_SIEVE_NAME_MAX * 3 + 1];

	if (check_name(name, err) < 0 ||
	    ss_name_encode(name, strlen(name), enc, sizeof(enc), err) < 0)
		return -1;
	if ((size_t)snprintf(out, outsz, "%s%s", enc, SIEVE_SUFFIX) >= outsz)
		return rmail_err_set(err, RMAIL_E_INVAL, "name too long");
	return 0;
}

/* the active script's name into out ("" when none) */
static int read_active(struct ss_store *st, const char *dir, char *out,
		       size_t outsz, struct rmail_err *err)
{
	char path[SS_PATH_MAX];
	char *text = NULL;
	size_t len = 0;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/active", dir);
	if (ss_read_small(st, path, RMAIL_SIEVE_NAME_MAX + 2, &text, &len,
			  NULL) < 0) {
		if (errno == ENOENT)
			return 0;
		return rmail_err_set(err, RMAIL_E_IO, "%s: %s", path,
				     strerror(errno));
	}
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	snprintf(out, outsz, "%s", text);
	free(text);
	return 0;
}

static int lock_sieve(struct ss_store *st, const char *user, char *dir,
		      size_t dirsz, struct rmail_err *err)
{
	if (sieve_dir(st, user, dir, dirsz, 1, err) < 0)
		return -1;
	return ss_lock_dir(st, dir, err);
}

int ss_sieve_list(void *h, const char *user, rmail_sieve_fn cb, void *arg,
		  struct rmail_err *err)
{
	struct ss_store *st = h;
	char dir[SS_PATH_MAX], active[RMAIL_SIEVE_NAME_MAX + 2];
	char name[RMAIL_SIEVE_NAME_MAX + 1];
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int fd;

	if (sieve_dir(st, user, dir, sizeof(dir), 0, err) < 0 ||
	    read_active(st, dir, active, sizeof(active), err) < 0)
		return -1;
	fd = ss_open_rel(st, dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return errno == ENOENT
			       ? 0
			       : rmail_err_set(err, RMAIL_E_IO, "%s: %s", dir,
					       strerror(errno));
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return rmail_err_set(err, RMAIL_E_IO, "%s: %s", dir,
				     strerror(errno));
	}
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name), sl = strlen(SIEVE_SUFFIX);
		char enc[RMAIL_SIEVE_NAME_MAX * 3 + 1];

		if (n <= sl || n - sl >= sizeof(enc) ||
		    strcmp(de->d_name + n - sl, SIEVE_SUFFIX) != 0 ||
		    de->d_name[0] == '.')
			continue;
		memcpy(enc, de->d_name, n - sl);
		enc[n - sl] = '\0';
		if (ss_name_decode(enc, name, sizeof(name), NULL) < 0 ||
		    fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) <
			    0 ||
		    !S_ISREG(sb.st_mode))
			continue;
		cb(arg, name, strcmp(name, active) == 0, (uint64_t)sb.st_size,
		   (int64_t)sb.st_mtim.tv_sec * 1000000000LL +
			   sb.st_mtim.tv_nsec);
	}
	closedir(d);
	return 0;
}

int ss_sieve_get(void *h, const char *user, const char *name, char *buf,
		 size_t bufsz, size_t *len_r, int64_t *version_r, char *name_r,
		 struct rmail_err *err)
{
	struct ss_store *st = h;
	char dir[SS_PATH_MAX], active[RMAIL_SIEVE_NAME_MAX + 2];
	char fname[RMAIL_SIEVE_NAME_MAX * 3 + 16], path[SS_PATH_MAX * 2];
	struct stat sb;
	size_t got = 0;
	int fd;

	if (sieve_dir(st, user, dir, sizeof(dir), 0, err) < 0)
		return -1;
	if (name == NULL) {
		if (read_active(st, dir, active, sizeof(active), err) < 0)
			return -1;
		if (active[0] == '\0')
			return rmail_err_set(err, RMAIL_E_NOENT,
					     "no active script");
		name = active;
	}
	if (file_name(name, fname, sizeof(fname), err) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, fname);
	fd = ss_open_rel(st, path, O_RDONLY);
	if (fd < 0)
		return rmail_err_set(
			err, errno == ENOENT ? RMAIL_E_NOENT : RMAIL_E_IO,
			"%s: %s", errno == ENOENT ? "no such script" : path,
			errno == ENOENT ? name : strerror(errno));
	if (fstat(fd, &sb) < 0) {
		close(fd);
		return rmail_err_set(err, RMAIL_E_IO, "%s: %s", path,
				     strerror(errno));
	}
	while (buf != NULL && got < bufsz) {
		ssize_t r = pread(fd, buf + got, bufsz - got, (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			return rmail_err_set(err, RMAIL_E_IO, "%s: %s", path,
					     strerror(errno));
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (len_r != NULL)
		*len_r = (size_t)sb.st_size;
	if (version_r != NULL)
		*version_r = (int64_t)sb.st_mtim.tv_sec * 1000000000LL +
			     sb.st_mtim.tv_nsec;
	if (name_r != NULL) {
		/* check_name bounded it */
		size_t n = strlen(name);

		memcpy(name_r, name, n + 1);
	}
	return 0;
}

int ss_sieve_put(void *h, const char *user, const char *name, const char *text,
		 size_t len, struct rmail_err *err)
{
	struct ss_store *st = h;
	char dir[SS_PATH_MAX], fname[RMAIL_SIEVE_NAME_MAX * 3 + 16];
	int lockfd, rc;

	if (file_name(name, fname, sizeof(fname), err) < 0)
		return -1;
	if (len > SIEVE_MAX_TEXT)
		return rmail_err_set(err, RMAIL_E_TOOBIG, "script too big");
	lockfd = lock_sieve(st, user, dir, sizeof(dir), err);
	if (lockfd < 0)
		return -1;
	rc = ss_write_atomic(st, dir, fname, text, len, 0, err);
	close(lockfd);
	return rc;
}

static int exists_at(struct ss_store *st, const char *dir, const char *fname)
{
	char path[SS_PATH_MAX * 2];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, fname);
	fd = ss_open_rel(st, path, O_RDONLY);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

/* unlink or rename below dir, then fsync dir so it is durable */
static int dir_op(struct ss_store *st, const char *dir, const char *from,
		  const char *to, struct rmail_err *err)
{
	int dfd = ss_open_rel(st, dir, O_RDONLY | O_DIRECTORY), rc;

	if (dfd < 0)
		return rmail_err_set(err, RMAIL_E_IO, "%s: %s", dir,
				     strerror(errno));
	rc = to == NULL ? unlinkat(dfd, from, 0) : renameat(dfd, from, dfd, to);
	if (rc < 0) {
		rmail_err_set(err, errno == ENOENT ? RMAIL_E_NOENT : RMAIL_E_IO,
			      "%s/%s: %s", dir, from, strerror(errno));
		close(dfd);
		return -1;
	}
	(void)fsync(dfd);
	close(dfd);
	return 0;
}

int ss_sieve_delete(void *h, const char *user, const char *name,
		    struct rmail_err *err)
{
	struct ss_store *st = h;
	char dir[SS_PATH_MAX], fname[RMAIL_SIEVE_NAME_MAX * 3 + 16];
	char active[RMAIL_SIEVE_NAME_MAX + 2];
	int lockfd, rc = -1;

	if (file_name(name, fname, sizeof(fname), err) < 0)
		return -1;
	lockfd = lock_sieve(st, user, dir, sizeof(dir), err);
	if (lockfd < 0)
		return -1;
	if (read_active(st, dir, active, sizeof(active), err) < 0)
		goto out;
	if (strcmp(active, name) == 0) {
		rmail_err_set(err, RMAIL_E_BUSY, "the script is active");
		goto out;
	}
	rc = dir_op(st, dir, fname, NULL, err);
	if (rc < 0 && err != NULL && err->code == RMAIL_E_NOENT)
		rmail_err_set(err, RMAIL_E_NOENT, "no such script: %s", name);
out:
	close(lockfd);
	return rc;
}

int ss_sieve_rename(void *h, const char *user, const char *from, const char *to,
		    struct rmail_err *err)
{
	struct ss_store *st = h;
	char dir[SS_PATH_MAX], ffrom[RMAIL_SIEVE_NAME_MAX * 3 + 16];
	char fto[RMAIL_SIEVE_NAME_MAX * 3 + 16];
	char active[RMAIL_SIEVE_NAME_MAX + 2];
	int lockfd, rc = -1;

	if (file_name(from, ffrom, sizeof(ffrom), err) < 0 ||
	    file_name(to, fto, sizeof(fto), err) < 0)
		return -1;
	lockfd = lock_sieve(st, user, dir, sizeof(dir), err);
	if (lockfd < 0)
		return -1;
	if (read_active(st, dir, active, sizeof(active), err) < 0)
		goto out;
	if (!exists_at(st, dir, ffrom)) {
		rmail_err_set(err, RMAIL_E_NOENT, "no such script: %s", from);
		goto out;
	}
	if (strcmp(from, to) != 0 && exists_at(st, dir, fto)) {
		rmail_err_set(err, RMAIL_E_EXISTS, "a script %s exists", to);
		goto out;
	}
	if (dir_op(st, dir, ffrom, fto, err) < 0)
		goto out;
	rc = 0;
	if (strcmp(active, from) == 0)
		rc = ss_write_atomic(st, dir, "active", to, strlen(to), 0, err);
out:
	close(lockfd);
	return rc;
}

int ss_sieve_activate(void *h, const char *user, const char *name,
		      struct rmail_err *err)
{
	struct ss_store *st = h;
	char dir[SS_PATH_MAX], fname[RMAIL_SIEVE_NAME_MAX * 3 + 16];
	int lockfd, rc = -1;

	if (name != NULL && file_name(name, fname, sizeof(fname), err) < 0)
		return -1;
	lockfd = lock_sieve(st, user, dir, sizeof(dir), err);
	if (lockfd < 0)
		return -1;
	if (name == NULL) {
		rc = dir_op(st, dir, "active", NULL, err);
		if (rc < 0 && err != NULL && err->code == RMAIL_E_NOENT) {
			rmail_err_clear(err);
			rc = 0;
		}
	} else if (!exists_at(st, dir, fname)) {
		rmail_err_set(err, RMAIL_E_NOENT, "no such script: %s", name);
	} else {
		rc = ss_write_atomic(st, dir, "active", name, strlen(name), 0,
				     err);
	}
	close(lockfd);
	return rc;
}

static int check_key(const char *key, struct rmail_err *err)
{
	size_t n = key != NULL ? strlen(key) : 0;

	if (n == 0 || n > VAC_KEY_MAX ||
	    strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			"0123456789_.=+-") != n)
		return rmail_err_set(err, RMAIL_E_INVAL, "bad vacation key");
	return 0;
}

/* A check-and-record under the sieve/ lock on file `fname` of
 * "unixtime key" lines.  Vacation (expiry 0) records when a reply went
 * out and matches within `period` before now, entries a year old go;
 * duplicates (expiry 1) record until when the key holds and drop the
 * entries past it, so the file stays as small as the periods make it. */
static int record_check(void *h, const char *user, const char *fname,
			const char *key, int64_t now, int64_t period,
			int expiry, struct rmail_err *err)
{
	struct ss_store *st = h;
	char dir[SS_PATH_MAX], path[SS_PATH_MAX + 16];
	char *text = NULL, *out, *line, *save = NULL;
	size_t len = 0, o = 0, klen;
	int lockfd, seen = 0, rc = -1;

	if (check_key(key, err) < 0)
		return -1;
	klen = strlen(key);
	lockfd = lock_sieve(st, user, dir, sizeof(dir), err);
	if (lockfd < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, fname);
	if (ss_read_small(st, path, VAC_MAX_FILE, &text, &len, NULL) < 0) {
		if (errno != ENOENT) {
			rmail_err_set(err, RMAIL_E_IO, "%s: %s", path,
				      strerror(errno));
			goto out_unlock;
		}
		text = NULL;
		len = 0;
	}
	/* rewrite without the expired entries, then add ours */
	out = malloc(len + klen + 32);
	if (out == NULL) {
		rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
		goto out_unlock;
	}
	for (line = text != NULL ? strtok_r(text, "\n", &save) : NULL;
	     line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');
		long long t;

		if (sp == NULL)
			continue;
		t = strtoll(line, NULL, 10);
		if (expiry ? t <= now : t < now - VAC_KEEP)
			continue;
		if (strcmp(sp + 1, key) == 0) {
			if (expiry || (t > now - period && t <= now)) {
				seen = 1;
				break;
			}
			continue; /* replaced by ours */
		}
		o += (size_t)sprintf(out + o, "%s\n", line);
	}
	if (seen) {
		rc = 1;
	} else {
		o += (size_t)sprintf(out + o, "%lld %s\n",
				     (long long)(expiry ? now + period : now),
				     key);
		rc = ss_write_atomic(st, dir, fname, out, o, 0, err) < 0 ? -1
									 : 0;
	}
	free(out);
out_unlock:
	free(text);
	close(lockfd);
	return rc;
}

int ss_vacation_check(void *h, const char *user, const char *key, int64_t now,
		      int64_t period, struct rmail_err *err)
{
	return record_check(h, user, "vacation", key, now, period, 0, err);
}

int ss_duplicate_check(void *h, const char *user, const char *key, int64_t now,
		       int64_t period, struct rmail_err *err)
{
	if (period <= 0)
		return rmail_err_set(err, RMAIL_E_INVAL, "bad period");
	return record_check(h, user, "duplicates", key, now, period, 1, err);
}
