/*
 * Compiled scripts, once per version: the user's active script keyed
 * by (user, name, store version, length), a global file by (path,
 * mtime, size).  A delivery asks the store for the version only (no
 * read) and compiles when it changed.  Entries are refcounted, so a
 * script replaced while another worker runs it stays alive until that
 * run ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sf.h"

#define CACHE_MAX 4096

struct sf_script {
	int refs; /* under cache_lock */
	struct sieve_script *s;
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

static void unref_locked(struct sf_script *s)
{
	if (s != NULL && --s->refs == 0) {
		sieve_free(s->s);
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

static struct sf_script *lookup(const char *key, int64_t version, uint64_t len)
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
};

static char *global_include(const char *name, size_t *len_r)
{
	const struct sf_conf *c = sf_m->conf;
	char path[4096];
	struct stat sb;

	if (c->global_dir == NULL || strchr(name, '/') != NULL ||
	    name[0] == '.')
		return NULL;
	snprintf(path, sizeof(path), "%s/%s.sieve", c->global_dir, name);
	return read_file(path, c->max_script_size, len_r, &sb);
}

static char *include_cb(void *arg, int global, const char *name, size_t *len_r)
{
	struct inc_ctx *ic = arg;
	void *h;
	const struct rmail_store_ops *ops = sf_core->store(&h);
	size_t len = 0;
	char *buf;

	if (global || ic->user == NULL)
		return global_include(name, len_r);
	if (ops == NULL || ops->sieve_get(h, ic->user, name, NULL, 0, &len,
					  NULL, NULL, NULL) < 0)
		return NULL;
	buf = malloc(len + 1);
	if (ops->sieve_get(h, ic->user, name, buf, len, &len, NULL, NULL,
			   NULL) < 0) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	*len_r = len;
	return buf;
}

static struct sf_script *compile(const char *what, const char *text, size_t len,
				 const char *user, struct rmail_err *err)
{
	struct sieve_limits l = sf_limits();
	struct inc_ctx ic = {user};
	char msg[256] = "";
	struct sieve_script *s;
	struct sf_script *sc;

	s = sieve_compile(text, len, &l, include_cb, &ic, msg, sizeof(msg));
	if (s == NULL) {
		rmail_err_set(err, RMAIL_E_INVAL, "%s: %s", what, msg);
		return NULL;
	}
	sc = calloc(1, sizeof(*sc));
	sc->s = s;
	sc->refs = 1; /* the caller's */
	return sc;
}

struct sf_script *sf_user_script(const char *user, int *none,
				 struct rmail_err *err)
{
	void *h;
	const struct rmail_store_ops *ops = sf_core->store(&h);
	char name[RMAIL_SIEVE_NAME_MAX + 1], key[RMAIL_ADDR_MAX + 8];
	int64_t version = 0;
	size_t len = 0;
	struct sf_script *sc;
	char *text;

	*none = 0;
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
	sc = lookup(key, version, len);
	if (sc != NULL)
		return sc;
	text = malloc(len + 1);
	if (ops->sieve_get(h, user, name, text, len, &len, &version, NULL,
			   err) < 0) {
		free(text);
		return NULL;
	}
	sc = compile(name, text, len, user, err);
	free(text);
	if (sc != NULL)
		insert(key, version, len, sc);
	return sc;
}

struct sf_script *sf_file_script(const char *path, struct rmail_err *err)
{
	const struct sf_conf *c = sf_m->conf;
	char key[4200];
	struct stat sb;
	struct sf_script *sc;
	size_t len = 0;
	char *text;

	if (stat(path, &sb) < 0) {
		rmail_err_set(err, RMAIL_E_IO, "%s: %s", path, strerror(errno));
		return NULL;
	}
	snprintf(key, sizeof(key), "f:%s", path);
	sc = lookup(key,
		    (int64_t)sb.st_mtim.tv_sec * 1000000000LL +
			    sb.st_mtim.tv_nsec,
		    (uint64_t)sb.st_size);
	if (sc != NULL)
		return sc;
	text = read_file(path, c->max_script_size, &len, &sb);
	if (text == NULL) {
		rmail_err_set(err, RMAIL_E_IO, "%s: %s", path, strerror(errno));
		return NULL;
	}
	sc = compile(path, text, len, NULL, err);
	free(text);
	if (sc != NULL)
		insert(key,
		       (int64_t)sb.st_mtim.tv_sec * 1000000000LL +
			       sb.st_mtim.tv_nsec,
		       (uint64_t)sb.st_size, sc);
	return sc;
}
