/*
 * Compiled scripts, once per version: the user's active script keyed
 * by (user, name, store version, length), a global file by (path,
 * mtime, size).  A delivery asks the store for the version only (no
 * read) and compiles when it changed.  What a compile read through
 * `include` is part of the identity too: each included script's
 * version (or its absence) is remembered and checked at every look-up,
 * so editing only an included script takes effect at the next
 * delivery.  A script that does not compile is cached as such (same
 * identity), so a broken script costs no compile per message and is
 * logged once per change, then at most once an hour while it stays.
 * Entries are refcounted, so a script replaced while another worker
 * runs it stays alive until that run ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sf.h"

#define CACHE_MAX 4096

#define BROKEN_RELOG 3600 /* seconds between reminders of a broken script */

/* what a compile read besides the script itself */
struct dep {
	int global;	 /* 1: a global_dir file (path), 0: the user's */
	char *name;	 /* script name, or the file's path */
	int64_t version; /* store version or mtime ns; -1: absent */
	uint64_t len;
};

struct sf_script {
	int refs;		/* under cache_lock */
	struct sieve_script *s; /* NULL: did not compile (err) */
	char *err;
	char *what; /* for the log: "alice@x: main", a path */
	struct dep *deps;
	size_t ndeps;
	time_t logged;	  /* under cache_lock: last log of a failure */
	uint64_t skipped; /* under cache_lock: deliveries since */
};

struct entry {
	char *key;
	int64_t version;
	uint64_t len;
	struct sf_script *sc;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *cache;
static size_t ncache;

const struct sieve_script *sf_script_get(const struct sf_script *s)
{
	return s->s;
}

static void deps_free(struct dep *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(d[i].name);
	free(d);
}

static void unref_locked(struct sf_script *s)
{
	if (s != NULL && --s->refs == 0) {
		sieve_free(s->s);
		free(s->err);
		free(s->what);
		deps_free(s->deps, s->ndeps);
		free(s);
	}
}

void sf_script_put(struct sf_script **s)
{
	if (*s == NULL)
		return;
	pthread_mutex_lock(&cache_lock);
	unref_locked(*s);
	pthread_mutex_unlock(&cache_lock);
	*s = NULL;
}

void sf_cache_clear(void)
{
	pthread_mutex_lock(&cache_lock);
	for (size_t i = 0; i < ncache; i++) {
		free(cache[i].key);
		unref_locked(cache[i].sc);
	}
	free(cache);
	cache = NULL;
	ncache = 0;
	pthread_mutex_unlock(&cache_lock);
}

/* the current (version, len) of what a compile read: -1 when absent,
 * -2 when the store cannot tell (never equal: compile again) */
static void dep_now(const char *user, int global, const char *name,
		    int64_t *version, uint64_t *len)
{
	*version = -1;
	*len = 0;
	if (global) {
		struct stat sb;

		if (stat(name, &sb) == 0) {
			*version = (int64_t)sb.st_mtim.tv_sec * 1000000000LL +
				   sb.st_mtim.tv_nsec;
			*len = (uint64_t)sb.st_size;
		}
	} else {
		void *h;
		const struct rmail_store_ops *ops = sf_core->store(&h);
		struct rmail_err err;
		size_t l = 0;

		rmail_err_clear(&err);
		if (ops == NULL || user == NULL)
			return;
		if (ops->sieve_get(h, user, name, NULL, 0, &l, version, NULL,
				   &err) < 0)
			*version = err.code == RMAIL_E_NOENT ? -1 : -2;
		*len = l;
	}
}

static int deps_same(const struct sf_script *sc, const char *user)
{
	for (size_t i = 0; i < sc->ndeps; i++) {
		int64_t v;
		uint64_t l;

		dep_now(user, sc->deps[i].global, sc->deps[i].name, &v, &l);
		if (v == -2 || v != sc->deps[i].version || l != sc->deps[i].len)
			return 0;
	}
	return 1;
}

static struct sf_script *lookup(const char *key, int64_t version, uint64_t len,
				const char *user)
{
	struct sf_script *sc = NULL;

	pthread_mutex_lock(&cache_lock);
	for (size_t i = 0; i < ncache; i++)
		if (strcmp(cache[i].key, key) == 0) {
			if (cache[i].version == version &&
			    cache[i].len == len) {
				sc = cache[i].sc;
				sc->refs++;
			}
			break;
		}
	pthread_mutex_unlock(&cache_lock);
	/* the includes, outside the lock: each is a store look-up */
	if (sc != NULL && !deps_same(sc, user))
		sf_script_put(&sc);
	return sc;
}

static void insert(const char *key, int64_t version, uint64_t len,
		   struct sf_script *sc)
{
	size_t i;

	pthread_mutex_lock(&cache_lock);
	for (i = 0; i < ncache; i++)
		if (strcmp(cache[i].key, key) == 0)
			break;
	if (i == ncache) {
		if (ncache == CACHE_MAX) {
			/* crude but bounded: a full cache starts over */
			for (size_t k = 0; k < ncache; k++) {
				free(cache[k].key);
				unref_locked(cache[k].sc);
			}
			ncache = i = 0;
		}
		cache = realloc(cache, (ncache + 1) * sizeof(*cache));
		cache[i].key = strdup(key);
		cache[i].sc = NULL;
		ncache++;
	}
	unref_locked(cache[i].sc);
	cache[i].version = version;
	cache[i].len = len;
	cache[i].sc = sc;
	sc->refs++; /* the cache's */
	pthread_mutex_unlock(&cache_lock);
}

struct sieve_limits sf_limits(void)
{
	const struct sf_conf *c = sf_m->conf;
	struct sieve_limits l;

	memset(&l, 0, sizeof(l));
	l.max_script = (size_t)c->max_script_size;
	l.max_actions = (size_t)c->max_actions;
	l.max_redirects = (size_t)c->max_redirects;
	return l;
}

static char *read_file(const char *path, size_t max, size_t *len_r,
		       struct stat *sb)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;
	size_t got = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, sb) < 0 || (uint64_t)sb->st_size > max) {
		close(fd);
		errno = EFBIG;
		return NULL;
	}
	buf = malloc((size_t)sb->st_size + 1);
	while (got < (size_t)sb->st_size) {
		ssize_t r = read(fd, buf + got, (size_t)sb->st_size - got);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*len_r = got;
	return buf;
}

struct inc_ctx {
	const char *user;
	struct dep *deps;
	size_t ndeps;
};

static void dep_add(struct inc_ctx *ic, int global, const char *name,
		    int64_t version, uint64_t len)
{
	struct dep *d;

	for (size_t i = 0; i < ic->ndeps; i++)
		if (ic->deps[i].global == global &&
		    strcmp(ic->deps[i].name, name) == 0)
			return;
	ic->deps = realloc(ic->deps, (ic->ndeps + 1) * sizeof(*ic->deps));
	d = &ic->deps[ic->ndeps++];
	d->global = global;
	d->name = strdup(name);
	d->version = version;
	d->len = len;
}

static char *global_include(struct inc_ctx *ic, const char *name, size_t *len_r)
{
	const struct sf_conf *c = sf_m->conf;
	char path[4096];
	struct stat sb;
	char *text;

	if (c->global_dir == NULL || strchr(name, '/') != NULL ||
	    name[0] == '.')
		return NULL;
	snprintf(path, sizeof(path), "%s/%s.sieve", c->global_dir, name);
	text = read_file(path, c->max_script_size, len_r, &sb);
	/* absent too: creating it later must be noticed */
	dep_add(ic, 1, path,
		text != NULL ? (int64_t)sb.st_mtim.tv_sec * 1000000000LL +
				       sb.st_mtim.tv_nsec
			     : -1,
		text != NULL ? (uint64_t)sb.st_size : 0);
	return text;
}

static char *include_cb(void *arg, int global, const char *name, size_t *len_r)
{
	struct inc_ctx *ic = arg;
	void *h;
	const struct rmail_store_ops *ops = sf_core->store(&h);
	struct rmail_err err;
	int64_t version = -1;
	size_t len = 0;
	char *buf;

	if (global || ic->user == NULL)
		return global_include(ic, name, len_r);
	rmail_err_clear(&err);
	if (ops == NULL || ops->sieve_get(h, ic->user, name, NULL, 0, &len,
					  NULL, NULL, &err) < 0) {
		dep_add(ic, 0, name, err.code == RMAIL_E_NOENT ? -1 : -2, 0);
		return NULL;
	}
	buf = malloc(len + 1);
	if (ops->sieve_get(h, ic->user, name, buf, len, &len, &version, NULL,
			   &err) < 0) {
		dep_add(ic, 0, name, err.code == RMAIL_E_NOENT ? -1 : -2, 0);
		free(buf);
		return NULL;
	}
	/* the version read with the text: a later write changes it */
	dep_add(ic, 0, name, version, len);
	buf[len] = '\0';
	*len_r = len;
	return buf;
}

/* always a script: one that did not compile holds its error */
static struct sf_script *compile(const char *what, const char *text, size_t len,
				 const char *user)
{
	struct sieve_limits l = sf_limits();
	struct inc_ctx ic = {user, NULL, 0};
	char msg[256] = "";
	struct sf_script *sc = calloc(1, sizeof(*sc));

	sc->s = sieve_compile(text, len, &l, include_cb, &ic, msg, sizeof(msg));
	if (sc->s == NULL)
		sc->err = strdup(msg);
	sc->what = strdup(what);
	sc->deps = ic.deps;
	sc->ndeps = ic.ndeps;
	sc->refs = 1; /* the caller's */
	return sc;
}

/* A script that does not compile: logged when its version is first
 * seen, then at most once an hour while deliveries still meet it.
 * NULL with err (RMAIL_E_INVAL) and *broken set. */
static struct sf_script *broken_script(struct sf_script *sc, int fresh,
				       int *broken, struct rmail_err *err)
{
	time_t now = time(NULL);
	uint64_t skipped = 0;
	int log = fresh;

	pthread_mutex_lock(&cache_lock);
	if (!fresh) {
		sc->skipped++;
		if (now - sc->logged >= BROKEN_RELOG) {
			log = 1;
			skipped = sc->skipped;
		}
	}
	if (log) {
		sc->logged = now;
		sc->skipped = 0;
	}
	pthread_mutex_unlock(&cache_lock);
	if (log && fresh)
		sf_core->log(sf_m, RMAIL_LOG_ERR,
			     "%s: %s: does not compile: messages are kept in "
			     "INBOX until it changes",
			     sc->what, sc->err);
	else if (log)
		sf_core->log(sf_m, RMAIL_LOG_ERR,
			     "%s: %s: still does not compile: %llu messages "
			     "kept in INBOX since the last report",
			     sc->what, sc->err, (unsigned long long)skipped);
	rmail_err_set(err, RMAIL_E_INVAL, "%s: %s", sc->what, sc->err);
	if (broken != NULL)
		*broken = 1;
	sf_script_put(&sc);
	return NULL;
}

struct sf_script *sf_user_script(const char *user, int *none, int *broken,
				 struct rmail_err *err)
{
	void *h;
	const struct rmail_store_ops *ops = sf_core->store(&h);
	char name[RMAIL_SIEVE_NAME_MAX + 1], key[RMAIL_ADDR_MAX + 8];
	char what[RMAIL_ADDR_MAX + RMAIL_SIEVE_NAME_MAX + 8];
	int64_t version = 0;
	size_t len = 0;
	struct sf_script *sc;
	char *text;

	*none = 0;
	*broken = 0;
	if (ops == NULL || !RMAIL_HAS(ops, struct rmail_store_ops, sieve_get) ||
	    ops->sieve_get == NULL) {
		*none = 1;
		return NULL;
	}
	if (ops->sieve_get(h, user, NULL, NULL, 0, &len, &version, name, err) <
	    0) {
		if (err->code == RMAIL_E_NOENT) {
			*none = 1;
			rmail_err_clear(err);
		}
		return NULL;
	}
	snprintf(key, sizeof(key), "u:%s", user);
	sc = lookup(key, version, len, user);
	if (sc != NULL)
		return sc->s != NULL ? sc : broken_script(sc, 0, broken, err);
	text = malloc(len + 1);
	if (ops->sieve_get(h, user, name, text, len, &len, &version, NULL,
			   err) < 0) {
		free(text);
		return NULL;
	}
	snprintf(what, sizeof(what), "%s: script \"%s\"", user, name);
	sc = compile(what, text, len, user);
	free(text);
	insert(key, version, len, sc);
	return sc->s != NULL ? sc : broken_script(sc, 1, broken, err);
}

struct sf_script *sf_file_script(const char *path, int *broken,
				 struct rmail_err *err)
{
	const struct sf_conf *c = sf_m->conf;
	char key[4200];
	struct stat sb;
	struct sf_script *sc;
	size_t len = 0;
	char *text;

	if (broken != NULL)
		*broken = 0;
	if (stat(path, &sb) < 0) {
		rmail_err_set(err, RMAIL_E_IO, "%s: %s", path, strerror(errno));
		return NULL;
	}
	snprintf(key, sizeof(key), "f:%s", path);
	sc = lookup(key,
		    (int64_t)sb.st_mtim.tv_sec * 1000000000LL +
			    sb.st_mtim.tv_nsec,
		    (uint64_t)sb.st_size, NULL);
	if (sc != NULL)
		return sc->s != NULL ? sc : broken_script(sc, 0, broken, err);
	text = read_file(path, c->max_script_size, &len, &sb);
	if (text == NULL) {
		rmail_err_set(err, RMAIL_E_IO, "%s: %s", path, strerror(errno));
		return NULL;
	}
	sc = compile(path, text, len, NULL);
	free(text);
	insert(key,
	       (int64_t)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec,
	       (uint64_t)sb.st_size, sc);
	return sc->s != NULL ? sc : broken_script(sc, 1, broken, err);
}
