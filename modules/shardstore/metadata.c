/*
 * RFC 5464 METADATA entries (store ops 1.5 meta_get, meta_set): one
 * file "metadata" per mailbox directory (the mailbox's entries) and per
 * user directory (the user's server entries).
 *
 * Living in the mailbox directory is what makes them follow the mailbox:
 * RENAME renames the directory, DELETE removes it.  Every path goes
 * through the directory's descriptor, so a write racing a RENAME lands
 * in the renamed mailbox and one racing a DELETE goes with it.
 *
 * Writers serialise on flock(2) of the directory (the user directory's
 * lock is the one user.json writers take) and replace the file by
 * rename, so readers need no lock and always see a whole file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ss.h"
#include "ss_meta.h"
#include "ss_mbox.h"
#include "users_int.h"

#define META_FILE "metadata"

/* the directory holding the entries: the user's, or the mailbox's */
static int meta_dir(struct ss_store *st, const char *user, const char *mbox,
		    struct rmail_err *err)
{
	char local[RMAIL_ADDR_MAX + 1], dom[256], cuser[RMAIL_ADDR_MAX + 1];
	char cname[RMAIL_MBOX_NAME_MAX + 1], rel[SS_PATH_MAX];
	int fd;

	if (ss_addr_canon(user, local, sizeof(local), dom, sizeof(dom), err) <
	    0)
		return -1;
	if ((size_t)snprintf(cuser, sizeof(cuser), "%s@%s", local, dom) >=
	    sizeof(cuser))
		return rmail_err_set(err, RMAIL_E_INVAL, "address too long");
	if (mbox == NULL) {
		if (ss_user_dir(cuser, rel, sizeof(rel), err) < 0)
			return -1;
	} else if (ss_mbox_name_canon(mbox, cname, sizeof(cname), err) < 0 ||
		   ss_mbox_path(cuser, cname, rel, sizeof(rel), err) < 0) {
		return -1;
	}
	fd = ss_openat(st->root_fd, rel, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return rmail_err_set(
			err, errno == ENOENT ? RMAIL_E_NOENT : RMAIL_E_IO,
			"%s %s: %s", mbox != NULL ? "mailbox" : "user",
			mbox != NULL ? mbox : cuser, strerror(errno));
	return fd;
}

/* the file's bytes, malloc'd ("" when there is none) */
static int meta_read(int dfd, char **buf_r, size_t *len_r,
		     struct rmail_err *err)
{
	int fd = openat(dfd, META_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat sb;
	size_t got = 0;
	char *buf;

	*buf_r = NULL;
	*len_r = 0;
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return rmail_err_set(err, RMAIL_E_IO, "metadata: %s",
				     strerror(errno));
	}
	if (fstat(fd, &sb) < 0 || sb.st_size > SS_META_FILE_MAX) {
		close(fd);
		return rmail_err_set(err, RMAIL_E_IO, "metadata: %s",
				     sb.st_size > SS_META_FILE_MAX
					     ? "file too large"
					     : strerror(errno));
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
	}
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*buf_r = buf;
	*len_r = got;
	return 0;
}

struct get_ctx {
	rmail_meta_fn cb;
	void *arg;
};

static int get_one(void *arg, const char *name, size_t nlen, const char *value,
		   size_t vlen)
{
	struct get_ctx *g = arg;
	char n[RMAIL_META_NAME_MAX + 1];

	memcpy(n, name, nlen);
	n[nlen] = '\0';
	g->cb(g->arg, n, value, vlen);
	return 0;
}

int ss_meta_get(void *h, const char *user, const char *mbox, rmail_meta_fn cb,
		void *arg, struct rmail_err *err)
{
	struct get_ctx g = {cb, arg};
	size_t len;
	char *buf;
	int dfd, rc;

	dfd = meta_dir(h, user, mbox, err);
	if (dfd < 0)
		return -1;
	rc = meta_read(dfd, &buf, &len, err);
	close(dfd);
	if (rc < 0)
		return -1;
	if (ss_meta_parse(buf, len, get_one, &g) < 0)
		rc = rmail_err_set(err, RMAIL_E_IO, "metadata: corrupt file");
	free(buf);
	return rc;
}

/* the merged table, as (name, value) pairs pointing into the old file
 * or the caller's entries */
struct merged {
	struct mrec {
		const char *name;
		size_t nlen;
		const char *value;
		size_t vlen;
	} * v;
	size_t n, cap;
};

static int merged_add(void *arg, const char *name, size_t nlen,
		      const char *value, size_t vlen)
{
	struct merged *m = arg;

	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct mrec *nv = realloc(m->v, cap * sizeof(*nv));

		if (nv == NULL)
			return -1;
		m->v = nv;
		m->cap = cap;
	}
	m->v[m->n++] = (struct mrec){name, nlen, value, vlen};
	return 0;
}

static int mrec_cmp(const struct mrec *a, const char *name, size_t nlen)
{
	size_t k = a->nlen < nlen ? a->nlen : nlen;
	int c = memcmp(a->name, name, k);

	if (c != 0)
		return c;
	return a->nlen < nlen ? -1 : a->nlen > nlen;
}

/* index of name in the sorted table, or where it goes (*found 0) */
static size_t merged_find(const struct merged *m, const char *name, size_t nlen,
			  int *found)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = mrec_cmp(&m->v[mid], name, nlen);

		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

static int merged_apply(struct merged *m, const struct rmail_meta_entry *e)
{
	size_t nlen = strlen(e->name), i;
	int found;

	i = merged_find(m, e->name, nlen, &found);
	if (e->value == NULL) {
		if (found) {
			memmove(&m->v[i], &m->v[i + 1],
				(m->n - i - 1) * sizeof(m->v[0]));
			m->n--;
		}
		return 0;
	}
	if (found) {
		m->v[i].value = e->value;
		m->v[i].vlen = e->len;
		return 0;
	}
	if (merged_add(m, e->name, nlen, e->value, e->len) < 0)
		return -1;
	memmove(&m->v[i + 1], &m->v[i], (m->n - 1 - i) * sizeof(m->v[0]));
	m->v[i] = (struct mrec){e->name, nlen, e->value, e->len};
	return 0;
}

/* temp + fsync + rename + directory fsync, all in dfd */
static int meta_write(struct ss_store *st, int dfd, const struct merged *m,
		      struct rmail_err *err)
{
	size_t i, cap = sizeof(SS_META_MAGIC), len;
	char *buf;
	int rc;

	if (m->n == 0) {
		if (unlinkat(dfd, META_FILE, 0) < 0 && errno != ENOENT)
			return rmail_err_set(err, RMAIL_E_IO, "metadata: %s",
					     strerror(errno));
		fsync(dfd);
		return 0;
	}
	/* the caller bounded the whole to SS_META_FILE_MAX */
	for (i = 0; i < m->n; i++)
		cap += m->v[i].nlen + m->v[i].vlen + 48;
	buf = malloc(cap);
	if (buf == NULL)
		return rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
	len = sizeof(SS_META_MAGIC) - 1;
	memcpy(buf, SS_META_MAGIC, len);
	for (i = 0; i < m->n; i++) {
		len += (size_t)snprintf(buf + len, cap - len, "%zu %zu\n",
					m->v[i].nlen, m->v[i].vlen);
		memcpy(buf + len, m->v[i].name, m->v[i].nlen);
		len += m->v[i].nlen;
		memcpy(buf + len, m->v[i].value, m->v[i].vlen);
		len += m->v[i].vlen;
		buf[len++] = '\n';
	}
	rc = ss_write_atomic_at(st, dfd, "metadata", META_FILE, buf, len, 0,
				err);
	free(buf);
	return rc;
}

static int check_entries(const struct rmail_meta_entry *e, size_t n,
			 struct rmail_err *err)
{
	size_t i, len;

	for (i = 0; i < n; i++) {
		len = e[i].name != NULL ? strlen(e[i].name) : 0;
		if (len == 0 || len > RMAIL_META_NAME_MAX)
			return rmail_err_set(err, RMAIL_E_INVAL,
					     "an entry name is 1 to %d bytes",
					     RMAIL_META_NAME_MAX);
		if (e[i].value != NULL && e[i].len > SS_META_FILE_MAX)
			return rmail_err_set(err, RMAIL_E_TOOBIG,
					     "value too large");
	}
	return 0;
}

int ss_meta_set(void *h, const char *user, const char *mbox,
		const struct rmail_meta_entry *e, size_t n, size_t max_entries,
		uint64_t max_bytes, struct rmail_err *err)
{
	struct ss_store *st = h;
	struct merged m = {0};
	uint64_t bytes = 0, file = sizeof(SS_META_MAGIC);
	bool grows = false;
	size_t len, i;
	char *buf = NULL;
	int dfd, rc = -1;

	if (check_entries(e, n, err) < 0)
		return -1;
	dfd = meta_dir(st, user, mbox, err);
	if (dfd < 0)
		return -1;
	while (flock(dfd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			rmail_err_set(err, RMAIL_E_IO, "flock: %s",
				      strerror(errno));
			goto out;
		}
	}
	if (meta_read(dfd, &buf, &len, err) < 0)
		goto out;
	if (ss_meta_parse(buf, len, merged_add, &m) < 0) {
		rmail_err_set(err, RMAIL_E_IO, "metadata: corrupt file");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (e[i].value != NULL)
			grows = true;
		if (merged_apply(&m, &e[i]) < 0) {
			rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
			goto out;
		}
	}
	for (i = 0; i < m.n; i++) {
		bytes += m.v[i].nlen + m.v[i].vlen;
		file += m.v[i].nlen + m.v[i].vlen + 48;
	}
	/* a table already over a lowered limit may still shrink */
	if (grows && ((max_entries > 0 && m.n > max_entries) ||
		      (max_bytes > 0 && bytes > max_bytes))) {
		rmail_err_set(err, RMAIL_E_TOOBIG,
			      "over %zu entries or %llu bytes of metadata",
			      max_entries, (unsigned long long)max_bytes);
		goto out;
	}
	if (file > SS_META_FILE_MAX) {
		rmail_err_set(err, RMAIL_E_TOOBIG, "metadata file too large");
		goto out;
	}
	rc = meta_write(st, dfd, &m, err);
out:
	free(m.v);
	free(buf);
	close(dfd); /* drops the lock */
	return rc;
}
