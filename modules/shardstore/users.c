/*
 * The user directory: one user.json per user, cached in memory and
 * re-read whenever the file changes (admins hand-edit it), passwords
 * hashed with libxcrypt.
 */
#include <crypt.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "pwscheme.h"
#include "ss_mbox.h"
#include "users_int.h"

#define SS_USER_JSON_MAX (64 * 1024)

struct ss_ucache {
	struct ss_ucache *next;
	char canon[RMAIL_ADDR_MAX + 1];
	int have_good, have_bad;
	int good_settled;	 /* read after `good` stopped changing */
	struct ss_fid good, bad; /* file identities seen */
	struct ss_user_rec rec;	 /* the last good version */
};

/* Unknown users are hashed against this so that they cost the same as
 * a wrong password; made once per process, on first use. */
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[SS_USER_HASH_MAX];

/* ---- hashing ------------------------------------------------------- */

int ss_user_hash_new(const char *pw, char *out, size_t outsz,
		     struct rmail_err *err)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	const char *h;
	int ret = -1;

	if (crypt_gensalt_rn(SS_DEFAULT_PREFIX, 0, NULL, 0, salt,
			     sizeof(salt)) == NULL)
		return rmail_err_set(err, RMAIL_E_INTERNAL, "crypt_gensalt: %s",
				     strerror(errno));
	cd = calloc(1, sizeof(*cd));
	if (cd == NULL)
		return rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
	h = crypt_rn(pw, salt, cd, (int)sizeof(*cd));
	if (h == NULL || h[0] == '*' || strlen(h) >= outsz) {
		rmail_err_set(err, RMAIL_E_INTERNAL, "crypt failed");
		goto out;
	}
	memcpy(out, h, strlen(h) + 1);
	ret = 0;
out:
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ret;
}

static void pw_limits(struct ss_store *st, struct ss_pw_limits *lim)
{
	static const struct ss_pw_limits def = SS_PW_LIMITS_DEFAULT;
	int64_t mb = ss_conf(st)->argon2_max_memory_mb;

	*lim = def;
	if (mb > 0 && mb <= 4096)
		lim->argon2_max_kib = (uint32_t)mb * 1024;
}

/* an enum ss_pw_verdict; always does the full hashing work */
int ss_user_check_pw(struct ss_store *st, const char *pw, const char *hash,
		     char *scheme_r, size_t schemesz)
{
	struct ss_pw_limits lim;

	pw_limits(st, &lim);
	return ss_pw_verify(pw, hash, &lim, scheme_r, schemesz);
}

const char *ss_user_pw_verdict_str(int v)
{
	switch (v) {
	case SS_PW_MALFORMED:
		return "is malformed";
	case SS_PW_TOO_COSTLY:
		return "costs more than argon2_max_memory_mb or the round "
		       "caps allow";
	default:
		return "is not supported";
	}
}

static void dummy_init(void)
{
	char pw[33];
	unsigned char rnd[16];
	size_t i;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, 0x5a, sizeof(rnd));
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(pw + 2 * i, 3, "%02x", rnd[i]);
	if (ss_user_hash_new(pw, dummy_hash, sizeof(dummy_hash), NULL) < 0)
		memcpy(dummy_hash, "*", 2);
	explicit_bzero(pw, sizeof(pw));
}

/* ---- cache --------------------------------------------------------- */

static size_t hash_str(const char *s)
{
	size_t h = 5381;

	while (*s != '\0')
		h = h * 33 + (unsigned char)*s++;
	return h;
}

static struct ss_ucache **cache_slot(struct ss_users *us, const char *canon)
{
	struct ss_ucache **pp;

	pp = &us->buckets[hash_str(canon) % us->nbuckets];
	while (*pp != NULL && strcmp((*pp)->canon, canon) != 0)
		pp = &(*pp)->next;
	return pp;
}

static void cache_grow(struct ss_users *us)
{
	struct ss_ucache **nb, *e, *next;
	size_t n = us->nbuckets * 4, i, b;

	nb = calloc(n, sizeof(*nb));
	if (nb == NULL)
		return; /* longer chains, still correct */
	for (i = 0; i < us->nbuckets; i++) {
		for (e = us->buckets[i]; e != NULL; e = next) {
			next = e->next;
			b = hash_str(e->canon) % n;
			e->next = nb[b];
			nb[b] = e;
		}
	}
	free(us->buckets);
	us->buckets = nb;
	us->nbuckets = n;
}

/* called with us->lock held */
static struct ss_ucache *cache_get(struct ss_users *us, const char *canon)
{
	struct ss_ucache **pp = cache_slot(us, canon), *e;

	if (*pp != NULL)
		return *pp;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	memcpy(e->canon, canon, strlen(canon) + 1);
	*pp = e;
	if (++us->count > us->nbuckets * 2)
		cache_grow(us);
	return e;
}

static void cache_drop(struct ss_users *us, const char *canon)
{
	struct ss_ucache **pp, *e;

	pthread_mutex_lock(&us->lock);
	pp = cache_slot(us, canon);
	e = *pp;
	if (e != NULL) {
		*pp = e->next;
		us->count--;
		explicit_bzero(e, sizeof(*e));
		free(e);
	}
	pthread_mutex_unlock(&us->lock);
}

int ss_user_json_path(const char *canon, char *out, size_t outsz,
		      struct rmail_err *err)
{
	char dir[SS_PATH_MAX];
	int n;

	if (ss_user_dir(canon, dir, sizeof(dir), err) < 0)
		return -1;
	n = snprintf(out, outsz, "%s/user.json", dir);
	if (n < 0 || (size_t)n >= outsz)
		return rmail_err_set(err, RMAIL_E_INVAL, "path too long");
	return 0;
}

/* the cached record when user.json provably did not change since */
static int cache_hit(struct ss_users *us, const char *canon,
		     const struct ss_fid *fid, struct ss_user_rec *u_r)
{
	struct ss_ucache *e;
	int hit = 0;

	pthread_mutex_lock(&us->lock);
	e = *cache_slot(us, canon);
	if (e != NULL && e->have_good && e->good_settled &&
	    ss_fid_equal(&e->good, fid)) {
		*u_r = e->rec;
		hit = 1;
	}
	pthread_mutex_unlock(&us->lock);
	return hit;
}

int ss_user_lookup(struct ss_store *st, const char *canon,
		   struct ss_user_rec *u_r, struct rmail_err *err)
{
	struct ss_users *us = st->users;
	struct ss_user_rec rec;
	struct rmail_err perr;
	struct ss_ucache *e;
	struct ss_fid fid;
	struct timespec t0;
	struct stat sb;
	char path[SS_PATH_MAX];
	char *buf = NULL;
	size_t len = 0;
	int ret = -1, parsed, settled;

	if (ss_user_json_path(canon, path, sizeof(path), err) < 0)
		return -1;
	/* The hot path: one stat, no open, while the file is unchanged.
	 * The path holds only encoded names, so no "..": the open below
	 * still refuses symlinks whenever the contents are needed. */
	if (fstatat(st->root_fd, path, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
		ss_fid_from_stat(&fid, &sb);
		if (S_ISREG(sb.st_mode) && cache_hit(us, canon, &fid, u_r))
			return 0;
	} else if (errno != ENOENT && errno != ENOTDIR) {
		return rmail_err_set(err, RMAIL_E_IO, "%s: %s", path,
				     strerror(errno));
	}
	if (clock_gettime(CLOCK_REALTIME, &t0) < 0)
		memset(&t0, 0, sizeof(t0)); /* never settled */
	if (ss_read_small(st, path, SS_USER_JSON_MAX, &buf, &len, &fid) < 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			cache_drop(us, canon);
			return rmail_err_set(err, RMAIL_E_NOENT,
					     "no such user: %s", canon);
		}
		return rmail_err_set(err, RMAIL_E_IO, "%s: %s", path,
				     strerror(errno));
	}
	settled = ss_fid_settled(&fid, &t0);
	pthread_mutex_lock(&us->lock);
	e = cache_get(us, canon);
	if (e != NULL && e->have_good && e->good_settled &&
	    ss_fid_equal(&e->good, &fid)) {
		*u_r = e->rec;
		ret = 0;
		goto out;
	}
	rmail_err_clear(&perr);
	parsed = ss_user_parse(buf, len, &rec, &perr);
	if (parsed == 0) {
		memcpy(rec.address, canon, strlen(canon) + 1);
		if (e != NULL) {
			e->rec = rec;
			e->good = fid;
			e->good_settled = settled;
			e->have_good = 1;
			e->have_bad = 0;
		}
		*u_r = rec;
		ret = 0;
		goto out;
	}
	/* Log a broken file once per version, keep the last good one. */
	if (e == NULL || !e->have_bad || !ss_fid_equal(&e->bad, &fid)) {
		ss_ulog(st, RMAIL_LOG_ERR, "%s: %s%s", path, perr.msg,
			e != NULL && e->have_good
				? "; keeping the last good version"
				: "");
		if (e != NULL) {
			e->bad = fid;
			e->have_bad = 1;
		}
	}
	if (e != NULL && e->have_good) {
		*u_r = e->rec;
		ret = 0;
	} else {
		rmail_err_set(err, RMAIL_E_IO, "%s: %s", path, perr.msg);
	}
out:
	pthread_mutex_unlock(&us->lock);
	explicit_bzero(buf, len);
	free(buf);
	explicit_bzero(&rec, sizeof(rec));
	return ret;
}

int ss_user_exists(struct ss_store *st, const char *canon,
		   struct rmail_err *err)
{
	struct ss_user_rec rec;
	struct rmail_err e;

	rmail_err_clear(&e);
	if (ss_user_lookup(st, canon, &rec, &e) == 0)
		return 1;
	if (e.code == RMAIL_E_NOENT || e.code == RMAIL_E_INVAL)
		return 0;
	if (err != NULL)
		*err = e;
	return -1;
}

static void to_public(struct ss_store *st, const struct ss_user_rec *rec,
		      struct rmail_user *u_r)
{
	uint64_t used = 0;

	memset(u_r, 0, sizeof(*u_r));
	memcpy(u_r->address, rec->address, strlen(rec->address) + 1);
	u_r->admin = rec->admin;
	u_r->disabled = rec->disabled;
	u_r->quota_bytes = (uint64_t)rec->quota_mb * 1024 * 1024;
	u_r->token_gen = rec->token_gen;
	u_r->created = rec->created;
	if (ss_quota_used(st, rec->address, &used, NULL) == 0)
		u_r->quota_used = used;
}

/* ---- ops ----------------------------------------------------------- */

int ss_user_get(void *h, const char *address, struct rmail_user *u_r,
		struct rmail_err *err)
{
	struct ss_store *st = h;
	struct ss_user_rec rec;
	char canon[RMAIL_ADDR_MAX + 1];

	if (ss_canon(address, canon, NULL, NULL, err) < 0)
		return -1;
	if (ss_user_lookup(st, canon, &rec, err) < 0)
		return -1;
	to_public(st, &rec, u_r);
	explicit_bzero(&rec, sizeof(rec));
	return 0;
}

int ss_user_verify(void *h, const char *address, const char *password,
		   struct rmail_user *u_r, struct rmail_err *err)
{
	struct ss_store *st = h;
	struct ss_user_rec rec;
	struct rmail_err lerr;
	char canon[RMAIL_ADDR_MAX + 1], scheme[32];
	int found, ok, v;

	pthread_once(&dummy_once, dummy_init);
	if (password == NULL)
		password = "";
	rmail_err_clear(&lerr);
	found = ss_canon(address, canon, NULL, NULL, NULL) == 0 &&
		ss_user_lookup(st, canon, &rec, &lerr) == 0;
	v = ss_user_check_pw(st, password, found ? rec.hash : dummy_hash,
			     scheme, sizeof(scheme));
	if (found && v < 0) {
		/* the same work as a real check, then say why in the log:
		 * the client only sees a failed login */
		ss_user_check_pw(st, password, dummy_hash, NULL, 0);
		ss_ulog(st, RMAIL_LOG_WARN,
			"%s: password hash scheme {%s} %s; reset the "
			"password (rmail user passwd)",
			canon, scheme, ss_user_pw_verdict_str(v));
		explicit_bzero(&rec, sizeof(rec));
		return rmail_err_set(err, RMAIL_E_NOTIMPL,
				     "password scheme %s %s", scheme,
				     ss_user_pw_verdict_str(v));
	}
	ok = v == SS_PW_MATCH;
	/* a record that could not be read is no wrong password: the
	 * client is told to try again, not that its login failed */
	if (!found && lerr.code != RMAIL_E_NONE && lerr.code != RMAIL_E_NOENT &&
	    lerr.code != RMAIL_E_INVAL)
		return rmail_err_set(err, RMAIL_E_BUSY, "user record: %s",
				     lerr.msg);
	if (!found || !ok) {
		explicit_bzero(&rec, sizeof(rec));
		return rmail_err_set(err, RMAIL_E_AUTH,
				     "Authentication failed");
	}
	if (rec.disabled) {
		explicit_bzero(&rec, sizeof(rec));
		return rmail_err_set(err, RMAIL_E_DISABLED, "Account disabled");
	}
	if (u_r != NULL)
		to_public(st, &rec, u_r);
	explicit_bzero(&rec, sizeof(rec));
	return 0;
}

static uint64_t initial_token_gen(void)
{
	uint32_t r = 0;

	/* Random start: a deleted and re-added user must not accept the
	 * tokens of its previous incarnation. */
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint32_t)time(NULL);
	return (uint64_t)(r & 0x7fffffffu) + 1;
}

int ss_user_add(void *h, const char *address, const char *password, int admin,
		int64_t quota_mb, struct rmail_err *err)
{
	struct ss_store *st = h;
	struct ss_user_rec rec;
	char dir[SS_PATH_MAX];
	char *text = NULL;
	int ret = -1;

	memset(&rec, 0, sizeof(rec));
	if (ss_canon(address, rec.address, NULL, NULL, err) < 0)
		return -1;
	if (ss_user_dir(rec.address, dir, sizeof(dir), err) < 0)
		return -1;
	if (password != NULL && password[0] != '\0') {
		if (ss_user_hash_new(password, rec.hash, sizeof(rec.hash),
				     err) < 0)
			return -1;
	} else {
		/* no password: the account exists but cannot log in */
		memcpy(rec.hash, "!", 2);
	}
	rec.admin = admin ? 1 : 0;
	rec.quota_mb = quota_mb >= 0 ? quota_mb : SS_DEFAULT_QUOTA_MB;
	rec.created = (int64_t)time(NULL);
	rec.token_gen = initial_token_gen();
	text = ss_user_render(&rec, NULL, 0);
	if (text == NULL) {
		rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
		goto out;
	}
	if (ss_mkdirs(st, dir, err) < 0)
		goto out;
	if (ss_write_atomic(st, dir, "user.json", text, strlen(text), 1, err) <
	    0) {
		if (err != NULL && err->code == RMAIL_E_EXISTS)
			rmail_err_set(err, RMAIL_E_EXISTS, "user exists: %s",
				      rec.address);
		goto out;
	}
	if (ss_mbox_create_defaults(st, rec.address, err) < 0)
		goto out;
	ret = 0;
out:
	if (text != NULL) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	explicit_bzero(&rec, sizeof(rec));
	return ret;
}

int ss_user_update(void *h, const char *address,
		   const struct rmail_user_update *upd, struct rmail_err *err)
{
	struct ss_store *st = h;
	struct ss_user_rec rec;
	char canon[RMAIL_ADDR_MAX + 1], dir[SS_PATH_MAX], path[SS_PATH_MAX];
	char newhash[SS_USER_HASH_MAX];
	char *old = NULL, *text = NULL;
	size_t oldlen = 0;
	int lockfd, ret = -1;

	if (ss_canon(address, canon, NULL, NULL, err) < 0 ||
	    ss_user_dir(canon, dir, sizeof(dir), err) < 0 ||
	    ss_user_json_path(canon, path, sizeof(path), err) < 0)
		return -1;
	if (upd->quota_mb < -1 || upd->quota_mb > INT64_MAX / (1 << 20))
		return rmail_err_set(err, RMAIL_E_INVAL, "bad quota");
	/* hash outside the lock: it is the slow part */
	if (upd->password != NULL &&
	    ss_user_hash_new(upd->password, newhash, sizeof(newhash), err) < 0)
		return -1;
	lockfd = ss_lock_dir(st, dir, err);
	if (lockfd < 0) {
		if (err != NULL && err->code == RMAIL_E_NOENT)
			rmail_err_set(err, RMAIL_E_NOENT, "no such user: %s",
				      canon);
		goto out_zero;
	}
	if (ss_read_small(st, path, SS_USER_JSON_MAX, &old, &oldlen, NULL) <
	    0) {
		rmail_err_set(err, errno == ENOENT ? RMAIL_E_NOENT : RMAIL_E_IO,
			      "%s: %s", errno == ENOENT ? "no such user" : path,
			      errno == ENOENT ? canon : strerror(errno));
		goto out;
	}
	/* refuse to overwrite a hand-edit we cannot read */
	if (ss_user_parse(old, oldlen, &rec, err) < 0) {
		if (err != NULL)
			rmail_err_set(err, RMAIL_E_INVAL, "%s: %.200s", path,
				      err->msg);
		goto out;
	}
	memcpy(rec.address, canon, strlen(canon) + 1);
	if (upd->admin >= 0)
		rec.admin = upd->admin ? 1 : 0;
	if (upd->disabled >= 0) {
		if (upd->disabled && !rec.disabled)
			rec.token_gen++;
		rec.disabled = upd->disabled ? 1 : 0;
	}
	if (upd->quota_mb >= 0)
		rec.quota_mb = upd->quota_mb;
	if (upd->password != NULL) {
		memcpy(rec.hash, newhash, strlen(newhash) + 1);
		rec.token_gen++;
	}
	text = ss_user_render(&rec, old, oldlen);
	if (text == NULL) {
		rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
		goto out;
	}
	if (ss_write_atomic(st, dir, "user.json", text, strlen(text), 0, err) <
	    0)
		goto out;
	ret = 0;
out:
	close(lockfd);
	if (old != NULL) {
		explicit_bzero(old, oldlen);
		free(old);
	}
	if (text != NULL) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
out_zero:
	explicit_bzero(newhash, sizeof(newhash));
	explicit_bzero(&rec, sizeof(rec));
	return ret;
}

int ss_user_del(void *h, const char *address, int purge, struct rmail_err *err)
{
	struct ss_store *st = h;
	char canon[RMAIL_ADDR_MAX + 1], dir[SS_PATH_MAX], ddir[SS_PATH_MAX];
	char domain[RMAIL_ADDR_MAX + 1], tmp[64];
	uint32_t rnd = 0;
	int ufd = -1, dfd = -1, lockfd, ret = -1;

	if (ss_canon(address, canon, NULL, domain, err) < 0 ||
	    ss_user_dir(canon, dir, sizeof(dir), err) < 0 ||
	    ss_domain_dir(domain, ddir, sizeof(ddir), err) < 0)
		return -1;
	lockfd = ss_lock_dir(st, dir, err);
	if (lockfd < 0) {
		if (err != NULL && err->code == RMAIL_E_NOENT)
			rmail_err_set(err, RMAIL_E_NOENT, "no such user: %s",
				      canon);
		return -1;
	}
	ufd = ss_open_rel(st, dir, O_RDONLY | O_DIRECTORY);
	if (ufd < 0 ||
	    renameat(ufd, "user.json", ufd, "user.json.deleted") < 0) {
		if (errno == ENOENT)
			rmail_err_set(err, RMAIL_E_NOENT, "no such user: %s",
				      canon);
		else
			rmail_err_set(err, RMAIL_E_IO, "%s/user.json: %s", dir,
				      strerror(errno));
		goto out;
	}
	fsync(ufd);
	cache_drop(st->users, canon);
	if (!purge) {
		ret = 0;
		goto out;
	}
	/* Move the tree out of users/ first: a crash mid-removal leaves
	 * a hidden leftover, never a half-deleted user. */
	dfd = ss_open_rel(st, ddir, O_RDONLY | O_DIRECTORY);
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) < 0)
		rnd = (uint32_t)time(NULL);
	snprintf(tmp, sizeof(tmp), ".purge.%ld.%08x", (long)getpid(), rnd);
	if (dfd < 0 || renameat(st->root_fd, dir, dfd, tmp) < 0) {
		rmail_err_set(err, RMAIL_E_IO, "%s: %s", dir, strerror(errno));
		goto out;
	}
	if (ss_rmtree_at(dfd, tmp) < 0) {
		rmail_err_set(err, RMAIL_E_IO, "%s/%s: %s", ddir, tmp,
			      strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (dfd >= 0)
		close(dfd);
	if (ufd >= 0)
		close(ufd);
	close(lockfd);
	return ret;
}

/* ---- listing --------------------------------------------------------- */

struct name_vec {
	char **v;
	size_t n, cap;
};

static int vec_push(struct name_vec *nv, const char *s)
{
	char **nvv;

	if (nv->n == nv->cap) {
		nv->cap = nv->cap ? nv->cap * 2 : 64;
		nvv = realloc(nv->v, nv->cap * sizeof(*nvv));
		if (nvv == NULL)
			return -1;
		nv->v = nvv;
	}
	nv->v[nv->n] = strdup(s);
	if (nv->v[nv->n] == NULL)
		return -1;
	nv->n++;
	return 0;
}

static void vec_free(struct name_vec *nv)
{
	size_t i;

	for (i = 0; i < nv->n; i++)
		free(nv->v[i]);
	free(nv->v);
	memset(nv, 0, sizeof(*nv));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* names of the entries of a directory below the mail root, skipping
 * dot entries; ENOENT gives an empty list */
static int list_dir(struct ss_store *st, const char *rel, struct name_vec *nv,
		    struct rmail_err *err)
{
	struct dirent *de;
	DIR *d;
	int fd;

	fd = ss_open_rel(st, rel, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return rmail_err_set(err, RMAIL_E_IO, "%s: %s", rel,
				     strerror(errno));
	}
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return rmail_err_set(err, RMAIL_E_IO, "%s: %s", rel,
				     strerror(errno));
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (vec_push(nv, de->d_name) < 0) {
			closedir(d);
			return rmail_err_set(err, RMAIL_E_INTERNAL,
					     "out of memory");
		}
	}
	closedir(d);
	return 0;
}

/* every canonical address with a user.json in domain dir `denc` */
static int collect_domain(struct ss_store *st, const char *denc,
			  struct name_vec *out, struct rmail_err *err)
{
	struct name_vec locals = {0};
	char rel[SS_PATH_MAX], dom[RMAIL_ADDR_MAX + 1];
	char loc[RMAIL_ADDR_MAX + 1], addr[2 * RMAIL_ADDR_MAX + 2];
	size_t i;
	int ret = -1;

	if (ss_name_decode(denc, dom, sizeof(dom), NULL) < 0)
		return 0; /* not one of ours */
	snprintf(rel, sizeof(rel), "domains/%s/users", denc);
	if (list_dir(st, rel, &locals, err) < 0)
		goto out;
	for (i = 0; i < locals.n; i++) {
		if (ss_name_decode(locals.v[i], loc, sizeof(loc), NULL) < 0)
			continue;
		snprintf(addr, sizeof(addr), "%s@%s", loc, dom);
		if (vec_push(out, addr) < 0) {
			rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
			goto out;
		}
	}
	ret = 0;
out:
	vec_free(&locals);
	return ret;
}

int ss_user_list(void *h, const char *domain, rmail_user_fn cb, void *arg,
		 struct rmail_err *err)
{
	struct ss_store *st = h;
	struct name_vec doms = {0}, addrs = {0};
	struct rmail_user u;
	char canon[RMAIL_ADDR_MAX + 1], dom[RMAIL_ADDR_MAX + 1];
	char ddir[SS_PATH_MAX], addr[RMAIL_ADDR_MAX + 1];
	size_t i;
	int ret = -1;

	if (domain != NULL) {
		snprintf(addr, sizeof(addr), "x@%s", domain);
		if (ss_canon(addr, canon, NULL, dom, err) < 0 ||
		    ss_domain_dir(dom, ddir, sizeof(ddir), err) < 0)
			return -1;
		if (vec_push(&doms, ddir + strlen("domains/")) < 0)
			goto oom;
	} else if (list_dir(st, "domains", &doms, err) < 0) {
		goto out;
	}
	for (i = 0; i < doms.n; i++)
		if (collect_domain(st, doms.v[i], &addrs, err) < 0)
			goto out;
	if (addrs.n > 1)
		qsort(addrs.v, addrs.n, sizeof(*addrs.v), cmp_str);
	for (i = 0; i < addrs.n; i++) {
		/* directories without user.json (deleted users) skip */
		if (ss_user_get(st, addrs.v[i], &u, NULL) == 0)
			cb(arg, &u);
	}
	ret = 0;
	goto out;
oom:
	rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
out:
	vec_free(&doms);
	vec_free(&addrs);
	return ret;
}

/* ---- lifecycle ------------------------------------------------------ */

int ss_users_open(struct ss_store *st, struct rmail_err *err)
{
	struct ss_users *us;

	us = calloc(1, sizeof(*us));
	if (us == NULL)
		return rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
	us->nbuckets = 256;
	us->buckets = calloc(us->nbuckets, sizeof(*us->buckets));
	if (us->buckets == NULL) {
		free(us);
		return rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
	}
	pthread_mutex_init(&us->lock, NULL);
	st->users = us;
	if (ss_quota_open(st, err) < 0) {
		ss_users_close(st);
		return -1;
	}
	return 0;
}

void ss_users_close(struct ss_store *st)
{
	struct ss_users *us = st->users;
	struct ss_ucache *e, *next;
	size_t i;

	ss_quota_close(st);
	if (us == NULL)
		return;
	for (i = 0; i < us->nbuckets; i++) {
		for (e = us->buckets[i]; e != NULL; e = next) {
			next = e->next;
			explicit_bzero(e, sizeof(*e));
			free(e);
		}
	}
	ss_aliases_free(us);
	free(us->buckets);
	pthread_mutex_destroy(&us->lock);
	free(us);
	st->users = NULL;
}
