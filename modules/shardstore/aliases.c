/*
 * Aliases: domains/<d>/aliases.json maps a canonical local part to a
 * list of target addresses.  Admin-managed (CLI or by hand), cached per
 * domain and re-read when the file changes, like user.json.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "users_int.h"

#define SS_ALIASES_MAX (4 * 1024 * 1024)

struct ss_acache {
	struct ss_acache *next;
	char domain[RMAIL_ADDR_MAX + 1];
	int have_good, have_bad;
	int good_settled; /* read after `good` stopped changing */
	struct ss_fid good, bad;
	json_t *obj; /* last good version */
	/* ss_domain_is_local: one user directory seen with a user.json,
	 * or the settled identity of a users/ directory seen empty */
	char local_hint[256];
	int users_empty;
	struct ss_fid users_fid;
};

static void now_or_zero(struct timespec *ts)
{
	if (clock_gettime(CLOCK_REALTIME, ts) < 0)
		memset(ts, 0, sizeof(*ts)); /* nothing settles */
}

/* an alias's targets copied out of the cache */
struct targets {
	size_t n;
	char v[SS_ALIAS_TARGETS_MAX][RMAIL_ADDR_MAX + 1];
};

static int aliases_path(const char *domain, char *out, size_t outsz,
			struct rmail_err *err)
{
	char ddir[SS_PATH_MAX];
	int n;

	if (ss_domain_dir(domain, ddir, sizeof(ddir), err) < 0)
		return -1;
	n = snprintf(out, outsz, "%s/aliases.json", ddir);
	if (n < 0 || (size_t)n >= outsz)
		return rmail_err_set(err, RMAIL_E_INVAL, "path too long");
	return 0;
}

/* an object of non-empty arrays of address strings, bounded */
static json_t *aliases_parse(const char *data, size_t len,
			     struct rmail_err *err)
{
	json_error_t jerr;
	const char *key;
	json_t *root, *val, *t;
	size_t i;

	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		rmail_err_set(err, RMAIL_E_INVAL, "line %d column %d: %s",
			      jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		rmail_err_set(err, RMAIL_E_INVAL, "expected a JSON object");
		goto bad;
	}
	json_object_foreach(root, key, val)
	{
		if (strlen(key) == 0 || strlen(key) > RMAIL_ADDR_MAX ||
		    !json_is_array(val) || json_array_size(val) == 0 ||
		    json_array_size(val) > SS_ALIAS_TARGETS_MAX) {
			rmail_err_set(err, RMAIL_E_INVAL,
				      "%.100s: expected "
				      "1 to %d target addresses",
				      key, SS_ALIAS_TARGETS_MAX);
			goto bad;
		}
		json_array_foreach(val, i, t)
		{
			if (!json_is_string(t) ||
			    json_string_length(t) > RMAIL_ADDR_MAX) {
				rmail_err_set(err, RMAIL_E_INVAL,
					      "%.100s[%zu]: "
					      "expected an address",
					      key, i);
				goto bad;
			}
		}
	}
	return root;
bad:
	json_decref(root);
	return NULL;
}

static struct ss_acache *acache_get(struct ss_users *us, const char *domain)
{
	struct ss_acache *a;

	for (a = us->aliases; a != NULL; a = a->next)
		if (strcmp(a->domain, domain) == 0)
			return a;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	memcpy(a->domain, domain, strlen(domain) + 1);
	a->next = us->aliases;
	us->aliases = a;
	return a;
}

void ss_aliases_free(struct ss_users *us)
{
	struct ss_acache *a, *next;

	for (a = us->aliases; a != NULL; a = next) {
		next = a->next;
		json_decref(a->obj);
		free(a);
	}
	us->aliases = NULL;
}

typedef void (*alias_visit_fn)(void *arg, const char *domain, json_t *obj);

/* Run fn on the domain's current alias object with the lock held; an
 * absent file is an empty object. */
static int aliases_with(struct ss_store *st, const char *domain,
			alias_visit_fn fn, void *arg, struct rmail_err *err)
{
	struct ss_users *us = st->users;
	struct rmail_err perr;
	struct ss_acache *a;
	struct ss_fid fid;
	struct timespec t0;
	struct stat sb;
	char path[SS_PATH_MAX];
	char *buf = NULL;
	size_t len = 0;
	json_t *obj;
	int absent = 0, cached = 0;

	if (aliases_path(domain, path, sizeof(path), err) < 0)
		return -1;
	/* one stat while the file is unchanged; the path holds only
	 * encoded names and the open below refuses symlinks */
	if (fstatat(st->root_fd, path, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
		ss_fid_from_stat(&fid, &sb);
		pthread_mutex_lock(&us->lock);
		a = acache_get(us, domain);
		cached = a != NULL && a->have_good && a->good_settled &&
			 S_ISREG(sb.st_mode) && ss_fid_equal(&a->good, &fid);
		pthread_mutex_unlock(&us->lock);
	} else if (errno == ENOENT || errno == ENOTDIR) {
		absent = 1;
	}
	now_or_zero(&t0);
	if (!cached && !absent &&
	    ss_read_small(st, path, SS_ALIASES_MAX, &buf, &len, &fid) < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			return rmail_err_set(err, RMAIL_E_IO, "%s: %s", path,
					     strerror(errno));
		absent = 1;
	}
	pthread_mutex_lock(&us->lock);
	a = acache_get(us, domain);
	if (a == NULL) {
		pthread_mutex_unlock(&us->lock);
		free(buf);
		return rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
	}
	if (absent) {
		json_decref(a->obj);
		a->obj = json_object();
		a->have_good = 0;
		a->have_bad = 0;
	} else if (buf != NULL && (!a->have_good || !a->good_settled ||
				   !ss_fid_equal(&a->good, &fid))) {
		rmail_err_clear(&perr);
		obj = aliases_parse(buf, len, &perr);
		if (obj != NULL) {
			json_decref(a->obj);
			a->obj = obj;
			a->good = fid;
			a->good_settled = ss_fid_settled(&fid, &t0);
			a->have_good = 1;
			a->have_bad = 0;
		} else if (!a->have_bad || !ss_fid_equal(&a->bad, &fid)) {
			ss_ulog(st, RMAIL_LOG_ERR, "%s: %s%s", path, perr.msg,
				a->obj != NULL
					? "; keeping the last good version"
					: "");
			a->bad = fid;
			a->have_bad = 1;
		}
	}
	if (a->obj == NULL)
		a->obj = json_object();
	if (a->obj != NULL)
		fn(arg, domain, a->obj);
	pthread_mutex_unlock(&us->lock);
	free(buf);
	return 0;
}

static void copy_targets(void *arg, const char *domain, json_t *obj)
{
	struct targets *t = arg;
	const char *local = t->v[0];
	json_t *arr, *v;
	size_t i;

	(void)domain;
	arr = json_object_get(obj, local);
	t->n = 0;
	json_array_foreach(arr, i, v)
	{
		if (t->n == SS_ALIAS_TARGETS_MAX)
			break;
		snprintf(t->v[t->n++], RMAIL_ADDR_MAX + 1, "%s",
			 json_string_value(v));
	}
}

/* targets of local@domain (0 entries when no such alias) */
static int alias_targets(struct ss_store *st, const char *local,
			 const char *domain, struct targets *t,
			 struct rmail_err *err)
{
	snprintf(t->v[0], RMAIL_ADDR_MAX + 1, "%s", local);
	t->n = 0;
	return aliases_with(st, domain, copy_targets, t, err);
}

static void count_aliases(void *arg, const char *domain, json_t *obj)
{
	(void)domain;
	*(size_t *)arg = json_object_size(obj);
}

int ss_domain_has_aliases(struct ss_store *st, const char *domain,
			  struct rmail_err *err)
{
	size_t n = 0;

	if (aliases_with(st, domain, count_aliases, &n, err) < 0)
		return -1;
	return n > 0;
}

/* ---- editing ---------------------------------------------------------- */

/* read-modify-write under the domain directory's lock */
static int aliases_edit(struct ss_store *st, const char *domain,
			int (*edit)(json_t *root, void *arg,
				    struct rmail_err *err),
			void *arg, struct rmail_err *err)
{
	char ddir[SS_PATH_MAX], path[SS_PATH_MAX];
	char *buf = NULL, *text = NULL;
	size_t len = 0;
	json_t *root = NULL;
	int lockfd, ret = -1;

	if (ss_domain_dir(domain, ddir, sizeof(ddir), err) < 0 ||
	    aliases_path(domain, path, sizeof(path), err) < 0 ||
	    ss_mkdirs(st, ddir, err) < 0)
		return -1;
	lockfd = ss_lock_dir(st, ddir, err);
	if (lockfd < 0)
		return -1;
	if (ss_read_small(st, path, SS_ALIASES_MAX, &buf, &len, NULL) < 0) {
		if (errno != ENOENT) {
			rmail_err_set(err, RMAIL_E_IO, "%s: %s", path,
				      strerror(errno));
			goto out;
		}
		root = json_object();
	} else {
		root = aliases_parse(buf, len, err);
		if (root == NULL) {
			if (err != NULL)
				rmail_err_set(err, RMAIL_E_INVAL, "%s: %.200s",
					      path, err->msg);
			goto out;
		}
	}
	if (root == NULL || edit(root, arg, err) < 0)
		goto out;
	text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (text == NULL) {
		rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
		goto out;
	}
	ret = ss_write_atomic(st, ddir, "aliases.json", text, strlen(text), 0,
			      err);
out:
	close(lockfd);
	json_decref(root);
	free(buf);
	free(text);
	return ret;
}

struct add_args {
	const char *local;
	const char *const *targets;
	size_t n;
};

static int edit_add(json_t *root, void *arg, struct rmail_err *err)
{
	struct add_args *a = arg;
	json_t *arr, *v;
	size_t i, j;
	int dup;

	arr = json_object_get(root, a->local);
	if (arr == NULL) {
		arr = json_array();
		if (arr == NULL || json_object_set_new(root, a->local, arr))
			return rmail_err_set(err, RMAIL_E_INTERNAL,
					     "out of memory");
	}
	for (i = 0; i < a->n; i++) {
		dup = 0;
		json_array_foreach(arr, j, v) if (strcmp(json_string_value(v),
							 a->targets[i]) == 0)
			dup = 1;
		if (dup)
			continue;
		if (json_array_size(arr) >= SS_ALIAS_TARGETS_MAX)
			return rmail_err_set(err, RMAIL_E_INVAL,
					     "more than %d targets",
					     SS_ALIAS_TARGETS_MAX);
		json_array_append_new(arr, json_string(a->targets[i]));
	}
	return 0;
}

static int edit_del(json_t *root, void *arg, struct rmail_err *err)
{
	if (json_object_del(root, (const char *)arg) < 0)
		return rmail_err_set(err, RMAIL_E_NOENT, "no such alias");
	return 0;
}

int ss_alias_add(void *h, const char *alias, const char *const *targets,
		 size_t ntargets, struct rmail_err *err)
{
	struct ss_store *st = h;
	char canon[RMAIL_ADDR_MAX + 1], local[RMAIL_ADDR_MAX + 1];
	char domain[RMAIL_ADDR_MAX + 1];
	char(*tc)[RMAIL_ADDR_MAX + 1];
	const char **tv;
	struct add_args a;
	size_t i;
	int ret = -1;

	if (ntargets == 0 || ntargets > SS_ALIAS_TARGETS_MAX)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "an alias needs 1 to %d targets",
				     SS_ALIAS_TARGETS_MAX);
	if (ss_canon(alias, canon, local, domain, err) < 0)
		return -1;
	switch (ss_user_exists(st, canon, err)) {
	case 1:
		return rmail_err_set(err, RMAIL_E_EXISTS,
				     "%s is a user, not an alias", canon);
	case -1:
		return -1;
	}
	tc = calloc(ntargets, sizeof(*tc));
	tv = calloc(ntargets, sizeof(*tv));
	if (tc == NULL || tv == NULL) {
		rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
		goto out;
	}
	for (i = 0; i < ntargets; i++) {
		if (ss_canon(targets[i], tc[i], NULL, NULL, err) < 0)
			goto out;
		if (strcmp(tc[i], canon) == 0) {
			rmail_err_set(err, RMAIL_E_INVAL, "%s points at itself",
				      canon);
			goto out;
		}
		tv[i] = tc[i];
	}
	a.local = local;
	a.targets = tv;
	a.n = ntargets;
	ret = aliases_edit(st, domain, edit_add, &a, err);
out:
	free(tc);
	free(tv);
	return ret;
}

int ss_alias_del(void *h, const char *alias, struct rmail_err *err)
{
	struct ss_store *st = h;
	char canon[RMAIL_ADDR_MAX + 1], local[RMAIL_ADDR_MAX + 1];
	char domain[RMAIL_ADDR_MAX + 1];

	if (ss_canon(alias, canon, local, domain, err) < 0)
		return -1;
	if (aliases_edit(st, domain, edit_del, local, err) < 0) {
		if (err != NULL && err->code == RMAIL_E_NOENT)
			rmail_err_set(err, RMAIL_E_NOENT, "no such alias: %s",
				      canon);
		return -1;
	}
	return 0;
}

/* ---- listing ------------------------------------------------------------ */

struct alias_item {
	char *alias;
	size_t n;
	char **targets;
};

struct alias_items {
	struct alias_item *v;
	size_t n, cap;
	int oom;
};

static void collect_aliases(void *arg, const char *domain, json_t *obj)
{
	struct alias_items *ai = arg;
	struct alias_item *it, *nv;
	const char *key;
	json_t *val, *t;
	size_t i;

	json_object_foreach(obj, key, val)
	{
		if (ai->n == ai->cap) {
			ai->cap = ai->cap ? ai->cap * 2 : 16;
			nv = realloc(ai->v, ai->cap * sizeof(*nv));
			if (nv == NULL) {
				ai->oom = 1;
				return;
			}
			ai->v = nv;
		}
		it = &ai->v[ai->n];
		memset(it, 0, sizeof(*it));
		it->targets = calloc(json_array_size(val) + 1, sizeof(char *));
		if (asprintf(&it->alias, "%s@%s", key, domain) < 0 ||
		    it->targets == NULL) {
			free(it->targets);
			ai->oom = 1;
			return;
		}
		ai->n++;
		json_array_foreach(val, i, t)
		{
			it->targets[i] = strdup(json_string_value(t));
			if (it->targets[i] == NULL) {
				ai->oom = 1;
				return;
			}
			it->n = i + 1;
		}
	}
}

static int cmp_item(const void *a, const void *b)
{
	return strcmp(((const struct alias_item *)a)->alias,
		      ((const struct alias_item *)b)->alias);
}

int ss_alias_list(void *h, const char *domain, rmail_alias_fn cb, void *arg,
		  struct rmail_err *err)
{
	struct ss_store *st = h;
	struct alias_items ai = {0};
	char canon[RMAIL_ADDR_MAX + 1], dom[RMAIL_ADDR_MAX + 1];
	char addr[RMAIL_ADDR_MAX + 1];
	struct dirent *de;
	size_t i, j;
	DIR *d;
	int fd, ret = -1;

	if (domain != NULL) {
		snprintf(addr, sizeof(addr), "x@%s", domain);
		if (ss_canon(addr, canon, NULL, dom, err) < 0 ||
		    aliases_with(st, dom, collect_aliases, &ai, err) < 0)
			goto out;
	} else {
		fd = ss_open_rel(st, "domains", O_RDONLY | O_DIRECTORY);
		d = fd >= 0 ? fdopendir(fd) : NULL;
		if (d == NULL && fd >= 0)
			close(fd);
		while (d != NULL && (de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.' ||
			    ss_name_decode(de->d_name, dom, sizeof(dom), NULL) <
				    0)
				continue;
			if (aliases_with(st, dom, collect_aliases, &ai, err) <
			    0) {
				closedir(d);
				goto out;
			}
		}
		if (d != NULL)
			closedir(d);
	}
	if (ai.oom) {
		rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
		goto out;
	}
	if (ai.n > 1)
		qsort(ai.v, ai.n, sizeof(*ai.v), cmp_item);
	for (i = 0; i < ai.n; i++)
		cb(arg, ai.v[i].alias, (const char *const *)ai.v[i].targets,
		   ai.v[i].n);
	ret = 0;
out:
	for (i = 0; i < ai.n; i++) {
		for (j = 0; j < ai.v[i].n; j++)
			free(ai.v[i].targets[j]);
		free(ai.v[i].targets);
		free(ai.v[i].alias);
	}
	free(ai.v);
	return ret;
}

/* ---- resolution ------------------------------------------------------ */

struct resolved {
	size_t n;
	char v[SS_ALIAS_TARGETS_MAX][RMAIL_ADDR_MAX + 1];
	struct rmail_err err; /* the first lookup that could not be made */
};

static int resolved_has(const struct resolved *r, const char *a)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->v[i], a) == 0)
			return 1;
	return 0;
}

/* canon is canonical; nested aliases are followed a few levels deep,
 * loops end there.  A user or alias file that cannot be read leaves its
 * error in r->err: "nobody" is then not a definite answer. */
static void expand(struct ss_store *st, const char *canon, int depth,
		   struct resolved *r)
{
	char local[RMAIL_ADDR_MAX + 1], domain[RMAIL_ADDR_MAX + 1];
	char tc[RMAIL_ADDR_MAX + 1];
	struct rmail_err e;
	struct targets *t;
	const char *at;
	size_t i;
	int ex;

	rmail_err_clear(&e);
	ex = ss_user_exists(st, canon, &e);
	if (ex == 1) {
		if (!resolved_has(r, canon) && r->n < SS_ALIAS_TARGETS_MAX)
			snprintf(r->v[r->n++], RMAIL_ADDR_MAX + 1, "%s", canon);
		return;
	}
	if (ex < 0 && r->err.code == RMAIL_E_NONE)
		r->err = e;
	if (depth >= SS_ALIAS_DEPTH_MAX)
		return;
	at = strrchr(canon, '@');
	if (at == NULL)
		return;
	snprintf(local, sizeof(local), "%.*s", (int)(at - canon), canon);
	snprintf(domain, sizeof(domain), "%s", at + 1);
	t = malloc(sizeof(*t));
	if (t == NULL) {
		if (r->err.code == RMAIL_E_NONE)
			rmail_err_set(&r->err, RMAIL_E_INTERNAL,
				      "out of memory");
		return;
	}
	rmail_err_clear(&e);
	if (alias_targets(st, local, domain, t, &e) == 0) {
		for (i = 0; i < t->n; i++)
			if (ss_canon(t->v[i], tc, NULL, NULL, NULL) == 0)
				expand(st, tc, depth + 1, r);
	} else if (r->err.code == RMAIL_E_NONE) {
		r->err = e;
	}
	free(t);
}

int ss_resolve(void *h, const char *address, rmail_addr_fn cb, void *arg,
	       struct rmail_err *err)
{
	struct ss_store *st = h;
	struct resolved *r;
	char canon[RMAIL_ADDR_MAX + 1];
	size_t i;

	if (ss_canon(address, canon, NULL, NULL, err) < 0)
		return -1;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
	expand(st, canon, 0, r);
	/* a partial expansion would deliver to some targets and lose
	 * the rest: all or "try later" */
	if (r->err.code != RMAIL_E_NONE) {
		if (err != NULL)
			*err = r->err;
		free(r);
		return -1;
	}
	if (r->n == 0) {
		free(r);
		return rmail_err_set(err, RMAIL_E_NOENT,
				     "no such user or alias: %s", canon);
	}
	for (i = 0; i < r->n; i++)
		cb(arg, r->v[i]);
	free(r);
	return 0;
}

/* Whether users/ (dir fd `fd`, consumed) holds a user.json: 1, 0, or
 * -1 with errno when it cannot be read.  The name of the first user
 * found goes to hint (hintsz bytes), *empty_r says the directory had
 * no entries at all. */
static int scan_users(int fd, char *hint, size_t hintsz, int *empty_r)
{
	char rel[SS_PATH_MAX];
	struct dirent *de;
	DIR *d;
	int found = 0, saved;

	*empty_r = 1;
	d = fdopendir(fd);
	if (d == NULL) {
		saved = errno;
		close(fd);
		*empty_r = 0;
		errno = saved;
		return -1;
	}
	errno = 0;
	while (!found && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		*empty_r = 0;
		snprintf(rel, sizeof(rel), "%s/user.json", de->d_name);
		found = faccessat(dirfd(d), rel, F_OK, AT_SYMLINK_NOFOLLOW) ==
			0;
		if (!found && errno != ENOENT && errno != ENOTDIR) {
			saved = errno;
			closedir(d);
			errno = saved;
			return -1;
		}
		if (found && strlen(de->d_name) < hintsz)
			memcpy(hint, de->d_name, strlen(de->d_name) + 1);
		errno = 0;
	}
	saved = found ? 0 : errno;
	closedir(d);
	if (saved != 0) {
		errno = saved;
		return -1;
	}
	return found;
}

/* On every RCPT: answered from the per-domain cache with one syscall
 * (the remembered user still has its user.json, or users/ is still the
 * settled empty directory seen before); otherwise users/ is scanned.
 * A users/ holding only deleted users is scanned each time: re-adding
 * one writes into its old directory without touching users/.  Only a
 * missing users/ or a scan that found nobody is a "no"; a directory
 * that cannot be opened or read (EMFILE, EIO ...) is "cannot tell". */
int ss_domain_local_try(void *h, const char *domain, struct rmail_err *err)
{
	struct ss_store *st = h;
	struct ss_users *us = st->users;
	char addr[RMAIL_ADDR_MAX + 1], canon[RMAIL_ADDR_MAX + 1];
	char dom[RMAIL_ADDR_MAX + 1], ddir[SS_PATH_MAX], rel[SS_PATH_MAX];
	char hint[256], path[SS_PATH_MAX + 300];
	struct ss_fid ufid, cfid;
	struct ss_acache *a;
	struct timespec t0;
	struct stat sb;
	int fd, found = 0, empty = 0, known_empty;

	if (domain == NULL)
		return 0;
	snprintf(addr, sizeof(addr), "x@%s", domain);
	if (ss_canon(addr, canon, NULL, dom, NULL) < 0 ||
	    ss_domain_dir(dom, ddir, sizeof(ddir), NULL) < 0)
		return 0;
	if ((size_t)snprintf(rel, sizeof(rel), "%s/users", ddir) >= sizeof(rel))
		return 0;
	pthread_mutex_lock(&us->lock);
	a = acache_get(us, dom);
	hint[0] = '\0';
	known_empty = 0;
	if (a != NULL) {
		memcpy(hint, a->local_hint, sizeof(hint));
		known_empty = a->users_empty;
		cfid = a->users_fid;
	}
	pthread_mutex_unlock(&us->lock);
	if (hint[0] != '\0') {
		snprintf(path, sizeof(path), "%s/%s/user.json", rel, hint);
		if (faccessat(st->root_fd, path, F_OK, AT_SYMLINK_NOFOLLOW) ==
		    0)
			return 1;
		hint[0] = '\0';
	}
	now_or_zero(&t0);
	fd = ss_open_rel(st, rel, O_RDONLY | O_DIRECTORY);
	if (fd < 0 && errno != ENOENT && errno != ENOTDIR)
		return rmail_err_set(err, RMAIL_E_IO, "%s: %s", rel,
				     strerror(errno));
	if (fd >= 0 && fstat(fd, &sb) == 0) {
		ss_fid_from_stat(&ufid, &sb);
		if (known_empty && ss_fid_equal(&ufid, &cfid)) {
			close(fd);
			return ss_domain_has_aliases(st, dom, err);
		}
		found = scan_users(fd, hint, sizeof(hint), &empty);
		if (found < 0)
			return rmail_err_set(err, RMAIL_E_IO, "%s: %s", rel,
					     strerror(errno));
		empty = empty && !found && ss_fid_settled(&ufid, &t0);
	} else if (fd >= 0) {
		close(fd);
		return rmail_err_set(err, RMAIL_E_IO, "%s: %s", rel,
				     strerror(errno));
	}
	pthread_mutex_lock(&us->lock);
	a = acache_get(us, dom);
	if (a != NULL) {
		memcpy(a->local_hint, found ? hint : "",
		       found ? sizeof(hint) : 1);
		a->users_empty = empty;
		if (empty)
			a->users_fid = ufid;
	}
	pthread_mutex_unlock(&us->lock);
	return found ? 1 : ss_domain_has_aliases(st, dom, err);
}

/* the 1.0 entry: "cannot tell" reads as "no" there */
int ss_domain_is_local(void *h, const char *domain)
{
	return ss_domain_local_try(h, domain, NULL) == 1;
}

struct owns_args {
	const char *user;
	int found;
};

static void owns_cb(void *arg, const char *address)
{
	struct owns_args *o = arg;

	if (strcmp(o->user, address) == 0)
		o->found = 1;
}

int ss_owns_address_try(void *h, const char *user, const char *address,
			struct rmail_err *err)
{
	char cu[RMAIL_ADDR_MAX + 1], ca[RMAIL_ADDR_MAX + 1];
	struct owns_args o;
	struct rmail_err e;

	if (ss_canon(user, cu, NULL, NULL, NULL) < 0 ||
	    ss_canon(address, ca, NULL, NULL, NULL) < 0)
		return 0;
	if (strcmp(cu, ca) == 0)
		return 1;
	o.user = cu;
	o.found = 0;
	rmail_err_clear(&e);
	if (ss_resolve(h, ca, owns_cb, &o, &e) < 0) {
		if (e.code == RMAIL_E_NOENT || e.code == RMAIL_E_INVAL)
			return 0;
		if (err != NULL)
			*err = e;
		return -1;
	}
	return o.found;
}

int ss_owns_address(void *h, const char *user, const char *address)
{
	return ss_owns_address_try(h, user, address, NULL) == 1;
}
