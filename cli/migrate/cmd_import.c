/*
 * rmail import maildir DIR ADDRESS: a Maildir++ tree (Dovecot, Courier)
 * into a user's mailboxes through the store ops.  Appends skip their
 * fsync pair and each mailbox is synced once per batch; a per-mailbox
 * ledger of the maildir base names already imported, written only after
 * the batch is durable, makes a re-run import nothing twice.
 *
 * The tree may be a user's, imported by root: it is walked through
 * md_walk.h, and symbolic links, hard links, FIFOs and files of another
 * owner are skipped and reported, never read.
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include "cmd_store.h"
#include "import_sub.h"
#include "maildir.h"
#include "md_walk.h"

#define CMD "import"
#define BATCH_DEFAULT 1000
#define META_MAX (1024 * 1024) /* dovecot-keywords, dovecot-uidlist */

struct imp_msg {
	char *rel;	/* "cur/<name>" in the folder */
	size_t baseoff; /* rel + baseoff: the base name */
	struct rm_md_name nm;
	uint32_t uid; /* from dovecot-uidlist, 0 if none */
	int64_t mtime;
	bool dup; /* same base as another, skipped */
};

struct uidrec {
	char *base;
	uint32_t uid;
};

struct imp_folder {
	char *path; /* for messages: top/.Name */
	char *name; /* ".Name" under the top, NULL for INBOX */
	char mbox[RMAIL_MBOX_NAME_MAX + 1];
	char *kw[RM_MD_KEYWORDS];
	struct imp_msg *msgs;
	size_t n, cap;
	struct uidrec *uids;
	size_t nuids, capuids;
	uint32_t uidvalidity; /* dovecot-uidlist's, 0 if none */
	/* the UIDs of dovecot-uidlist are kept (see keep_uids) */
	bool keep;
	uint32_t uidnext;
};

struct imp {
	const struct rmail_store_ops *ops;
	void *h;
	char user[RMAIL_ADDR_MAX + 1];
	char *ledger_dir; /* <mail_root>/<userdir>/import */
	size_t batch;
	bool tty, nosync;
	struct rm_md_tree tree;
	/* the tree's `subscriptions` file, when it has one: then only the
	 * names it lists are subscribed, not every imported folder */
	struct rm_strset subs;
	bool have_subs;
	size_t total, done, skipped, failed, refused;
	time_t last_progress;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void refuse(struct imp *im, const char *dir, const char *name,
		   const char *why)
{
	if (im->tty)
		fputc('\n', stderr);
	rm_cmd_failf(CMD, "skipping %s/%s: %s", dir, name, why);
	im->refused++;
}

static char *read_small(struct imp *im, struct imp_folder *f, int dfd,
			const char *name, size_t *len_r)
{
	char *buf = NULL;
	const char *why;
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd;

	fd = rm_md_open_file(&im->tree, dfd, name, &st, &why);
	if (fd < 0) {
		if (why != NULL)
			refuse(im, f->path, name, why);
		return NULL;
	}
	buf = malloc(META_MAX + 1);
	while (buf != NULL && len < META_MAX &&
	       (n = read(fd, buf + len, META_MAX - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (buf != NULL)
		buf[len] = '\0';
	*len_r = len;
	return buf;
}

static int cmp_uidrec(const void *a, const void *b)
{
	return strcmp(((const struct uidrec *)a)->base,
		      ((const struct uidrec *)b)->base);
}

static void uid_cb(void *arg, const char *base, size_t blen, uint32_t uid)
{
	struct imp_folder *f = arg;

	if (f->nuids == f->capuids) {
		f->capuids = f->capuids != 0 ? f->capuids * 2 : 256;
		f->uids = rm_xrealloc(f->uids, f->capuids * sizeof(*f->uids));
	}
	f->uids[f->nuids].base = rm_md_xstrndup(base, blen);
	f->uids[f->nuids].uid = uid;
	f->nuids++;
}

static uint32_t uid_of(struct imp_folder *f, const char *base, size_t blen)
{
	struct uidrec key, *r;
	char tmp[512];

	if (f->nuids == 0 || blen >= sizeof(tmp))
		return 0;
	memcpy(tmp, base, blen);
	tmp[blen] = '\0';
	key.base = tmp;
	r = bsearch(&key, f->uids, f->nuids, sizeof(*f->uids), cmp_uidrec);
	return r != NULL ? r->uid : 0;
}

static void scan_sub(struct imp *im, struct imp_folder *f, int dfd,
		     const char *sub)
{
	struct dirent *de;
	struct stat st;
	const char *why;
	char *subpath;
	DIR *d;
	int fd;

	fd = rm_md_open_dir(&im->tree, dfd, sub, &why);
	if (fd < 0) {
		if (why != NULL)
			refuse(im, f->path, sub, why);
		return;
	}
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return;
	}
	subpath = rm_md_xasprintf("%s/%s", f->path, sub);
	while ((de = readdir(d)) != NULL) {
		struct imp_msg *m;
		struct rm_md_name nm;
		int mfd;

		if (rm_md_name_parse(de->d_name, &nm) < 0)
			continue;
		mfd = rm_md_open_file(&im->tree, dirfd(d), de->d_name, &st,
				      &why);
		if (mfd < 0) {
			if (why != NULL)
				refuse(im, subpath, de->d_name, why);
			continue;
		}
		close(mfd);
		if (f->n == f->cap) {
			f->cap = f->cap != 0 ? f->cap * 2 : 256;
			f->msgs = rm_xrealloc(f->msgs, f->cap * sizeof(*m));
		}
		m = &f->msgs[f->n++];
		m->rel = rm_md_xasprintf("%s/%s", sub, de->d_name);
		m->baseoff = strlen(sub) + 1;
		m->nm = nm;
		m->mtime = st.st_mtime;
		m->uid = uid_of(f, m->rel + m->baseoff, nm.baselen);
		m->dup = false;
	}
	free(subpath);
	closedir(d);
}

/* dovecot-uidlist order first, then the rest by mtime and name */
static int cmp_msg(const void *a, const void *b)
{
	const struct imp_msg *x = a, *y = b;

	if ((x->uid != 0) != (y->uid != 0))
		return x->uid != 0 ? -1 : 1;
	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	return strverscmp(x->rel + x->baseoff, y->rel + y->baseoff);
}

static int cmp_base_ptr(const void *a, const void *b)
{
	const struct imp_msg *x = *(const struct imp_msg *const *)a;
	const struct imp_msg *y = *(const struct imp_msg *const *)b;
	size_t n =
		x->nm.baselen < y->nm.baselen ? x->nm.baselen : y->nm.baselen;
	int c = memcmp(x->rel + x->baseoff, y->rel + y->baseoff, n);

	if (c != 0 || x->nm.baselen != y->nm.baselen)
		return c != 0 ? c : x->nm.baselen < y->nm.baselen ? -1 : 1;
	/* cur/ before new/: its name carries the flags */
	return strcmp(x->rel, y->rel);
}

/* A message moving from new/ to cur/ during the scan is seen twice. */
static void mark_dups(struct imp_folder *f)
{
	struct imp_msg **v;
	size_t i;

	if (f->n < 2)
		return;
	v = rm_xcalloc(f->n, sizeof(*v));
	for (i = 0; i < f->n; i++)
		v[i] = &f->msgs[i];
	qsort(v, f->n, sizeof(*v), cmp_base_ptr);
	for (i = 1; i < f->n; i++)
		if (v[i]->nm.baselen == v[i - 1]->nm.baselen &&
		    memcmp(v[i]->rel + v[i]->baseoff,
			   v[i - 1]->rel + v[i - 1]->baseoff,
			   v[i]->nm.baselen) == 0)
			v[i]->dup = true;
	free(v);
}

static void folder_free(struct imp_folder *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		free(f->msgs[i].rel);
	for (i = 0; i < f->nuids; i++)
		free(f->uids[i].base);
	for (i = 0; i < RM_MD_KEYWORDS; i++)
		free(f->kw[i]);
	free(f->msgs);
	free(f->uids);
	free(f->path);
	free(f->name);
	memset(f, 0, sizeof(*f));
}

/* the folder's directory, opened afresh from the top; -1 (reported
 * when that is news) when it cannot be used */
static int folder_open(struct imp *im, struct imp_folder *f)
{
	const char *why;
	int fd;

	if (f->name == NULL)
		return openat(im->tree.fd, ".",
			      O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fd = rm_md_open_dir(&im->tree, im->tree.fd, f->name, &why);
	if (fd < 0 && why != NULL)
		rm_cmd_failf(CMD, "skipping %s: %s", f->path, why);
	return fd;
}

static void folder_load(struct imp *im, struct imp_folder *f)
{
	size_t len;
	char *text;
	int dfd = folder_open(im, f);

	if (dfd < 0)
		return;
	text = read_small(im, f, dfd, "dovecot-keywords", &len);
	if (text != NULL)
		rm_md_keywords_parse(text, len, f->kw);
	free(text);
	text = read_small(im, f, dfd, "dovecot-uidlist", &len);
	if (text != NULL && rm_md_uidlist_parse(text, len, uid_cb, f) == 0 &&
	    f->nuids > 0) {
		qsort(f->uids, f->nuids, sizeof(*f->uids), cmp_uidrec);
		f->uidvalidity = rm_md_uidlist_uidvalidity(text, len);
	}
	free(text);
	scan_sub(im, f, dfd, "new");
	scan_sub(im, f, dfd, "cur");
	close(dfd);
	if (f->n > 0)
		qsort(f->msgs, f->n, sizeof(*f->msgs), cmp_msg);
	mark_dups(f);
}

static char *ledger_path(struct imp *im, const char *mbox)
{
	char enc[256];

	if (rm_store_name_encode(mbox, strlen(mbox), enc, sizeof(enc)) < 0)
		return NULL;
	return rm_md_xasprintf("%s/%s", im->ledger_dir, enc);
}

static void ledger_load(struct imp *im, const char *mbox, struct rm_strset *set)
{
	char *path = ledger_path(im, mbox), *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *fp;

	fp = path != NULL ? fopen(path, "re") : NULL;
	free(path);
	if (fp == NULL)
		return;
	while ((n = getline(&line, &cap, fp)) > 0) {
		if (line[n - 1] == '\n')
			n--;
		if (n > 0)
			rm_strset_add(set, line, (size_t)n);
	}
	free(line);
	fclose(fp);
}

/* Record a durable batch; a crash before this only re-imports it. */
static int ledger_append(struct imp *im, const char *mbox, const char *buf,
			 size_t len)
{
	char *path;
	size_t off = 0;
	ssize_t n;
	int fd;

	if (len == 0)
		return 0;
	path = ledger_path(im, mbox);
	if (path == NULL)
		return -1;
	(void)mkdir(im->ledger_dir, 0750);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	free(path);
	if (fd < 0)
		return -1;
	while (off < len) {
		n = write(fd, buf + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	if (fdatasync(fd) < 0) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static void progress(struct imp *im, const char *mbox, bool force)
{
	time_t now;

	if (!im->tty)
		return;
	now = time(NULL);
	if (!force && now == im->last_progress && im->done % 500 != 0)
		return;
	im->last_progress = now;
	fprintf(stderr, "\r\033[Kimporting %zu/%zu: %.60s", im->done, im->total,
		mbox);
	fflush(stderr);
}

/* subfd: the folder's new/ and cur/ (-1 when unusable) */
static int import_one(struct imp *im, struct imp_folder *f, const int subfd[2],
		      const struct imp_msg *m, uint32_t want, uint32_t *uid_r,
		      struct rmail_err *err)
{
	const char *kws[RM_MD_KEYWORDS];
	struct rmail_append_opts o;
	struct rmail_append *ap = NULL;
	char buf[65536];
	const char *why;
	struct stat st;
	size_t nkw = 0;
	ssize_t n;
	int fd, i, rc = -1;
	int dfd = subfd[m->rel[0] == 'c'];

	/* checked again on the descriptor: the tree may have changed
	 * since the scan */
	fd = dfd >= 0 ? rm_md_open_file(&im->tree, dfd, m->rel + m->baseoff,
					&st, &why)
		      : -1;
	if (fd < 0)
		return rmail_err_set(err, RMAIL_E_IO, "%s",
				     why != NULL ? why : "vanished");
	for (i = 0; i < RM_MD_KEYWORDS; i++)
		if ((m->nm.kwletters & (1u << i)) && f->kw[i] != NULL)
			kws[nkw++] = f->kw[i];
	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.flags = m->nm.flags;
	o.keywords = kws;
	o.nkeywords = nkw;
	/* 0 would mean "now" to the store */
	o.internaldate = m->mtime > 0 ? m->mtime : 1;
	o.size_hint = m->nm.wsize;
	o.ignore_quota = 1;
	o.nosync = im->nosync;
	o.uid = want;
	if (im->ops->append_begin(im->h, im->user, f->mbox, &o, &ap, err) < 0)
		goto out;
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rmail_err_set(err, RMAIL_E_IO, "%s: %s", m->rel,
				      strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (im->ops->append_write(ap, buf, (size_t)n, err) < 0)
			goto out;
	}
	rc = im->ops->append_commit(ap, uid_r, NULL, err);
out:
	if (ap != NULL)
		im->ops->append_free(&ap);
	close(fd);
	return rc;
}

/* durable batch, then its ledger lines */
static int flush_batch(struct imp *im, const char *mbox, char **lbuf,
		       size_t *llen)
{
	struct rmail_err err;

	rmail_err_clear(&err);
	if (*llen == 0)
		return 0;
	if (im->nosync && im->ops->mbox_sync(im->h, im->user, mbox, &err) < 0) {
		rm_cmd_fail(CMD, &err);
		return -1;
	}
	if (ledger_append(im, mbox, *lbuf, *llen) < 0) {
		rm_cmd_failf(CMD, "cannot write the import ledger in %s: %s",
			     im->ledger_dir, strerror(errno));
		return -1;
	}
	*llen = 0;
	return 0;
}

/*
 * Into an empty mailbox the folder's UIDVALIDITY and the UIDs of its
 * dovecot-uidlist are kept, so IMAP clients keep their caches across
 * the move; a mailbox that already took them (an earlier run) goes on
 * keeping them.  Otherwise, or with a store without the 1.3 ops, the
 * store numbers the messages in the same order.
 */
static void keep_uids(struct imp *im, struct imp_folder *f)
{
	struct rmail_mbox_status st = {.size = sizeof(st)};
	struct rmail_err err;

	f->keep = false;
	if (f->uidvalidity == 0 ||
	    !RMAIL_HAS(im->ops, struct rmail_store_ops, mbox_set_uidvalidity) ||
	    im->ops->mbox_set_uidvalidity == NULL)
		return;
	rmail_err_clear(&err);
	if (im->ops->mbox_status(im->h, im->user, f->mbox, &st, &err) < 0)
		return;
	if (st.messages == 0 && st.uidvalidity != f->uidvalidity &&
	    im->ops->mbox_set_uidvalidity(im->h, im->user, f->mbox,
					  f->uidvalidity, &err) == 0) {
		st.uidvalidity = f->uidvalidity;
		st.uidnext = 1;
	}
	f->keep = st.uidvalidity == f->uidvalidity;
	f->uidnext = st.uidnext;
}

static int import_folder(struct imp *im, struct imp_folder *f)
{
	struct rm_strset seen = {0};
	struct rmail_err err;
	char *lbuf = NULL;
	size_t i, llen = 0, lcap = 0, pending = 0;
	int rc = 0, dfd, subfd[2] = {-1, -1};
	const char *why;

	rmail_err_clear(&err);
	if (f->n == 0)
		goto create;
	dfd = folder_open(im, f);
	if (dfd >= 0) {
		subfd[0] = rm_md_open_dir(&im->tree, dfd, "new", &why);
		subfd[1] = rm_md_open_dir(&im->tree, dfd, "cur", &why);
		close(dfd);
	}
create:
	if (strcasecmp(f->mbox, "INBOX") != 0 &&
	    im->ops->mbox_create(im->h, im->user, f->mbox, RMAIL_SU_NONE,
				 &err) < 0 &&
	    err.code != RMAIL_E_EXISTS) {
		rm_cmd_failf(CMD, "mailbox \"%s\": %s", f->mbox, err.msg);
		im->failed += f->n;
		rc = 0;
		goto out;
	}
	if (strcasecmp(f->mbox, "INBOX") != 0 && !im->have_subs)
		(void)im->ops->mbox_subscribe(im->h, im->user, f->mbox, 1,
					      NULL);
	ledger_load(im, f->mbox, &seen);
	keep_uids(im, f);
	for (i = 0; i < f->n && !stop_requested; i++) {
		const struct imp_msg *m = &f->msgs[i];
		const char *base = m->rel + m->baseoff;
		uint32_t want, got;
		int rc1;

		if (m->dup)
			continue;
		if (rm_strset_has(&seen, base, m->nm.baselen)) {
			im->skipped++;
			continue;
		}
		want = f->keep && m->uid >= f->uidnext ? m->uid : 0;
		got = 0;
		rmail_err_clear(&err);
		rc1 = import_one(im, f, subfd, m, want, &got, &err);
		if (rc1 < 0 && want != 0 && err.code == RMAIL_E_EXISTS) {
			/* taken meanwhile: the store's next UID then */
			rmail_err_clear(&err);
			rc1 = import_one(im, f, subfd, m, 0, &got, &err);
		}
		if (got >= f->uidnext)
			f->uidnext = got + 1;
		if (rc1 < 0) {
			/* the line goes under the progress counter */
			if (im->tty)
				fputc('\n', stderr);
			rm_cmd_failf(CMD, "%s/%s: %s", f->path, m->rel,
				     err.msg);
			im->failed++;
			continue;
		}
		if (llen + m->nm.baselen + 2 > lcap) {
			lcap = (lcap + m->nm.baselen + 2) * 2;
			lbuf = rm_xrealloc(lbuf, lcap);
		}
		memcpy(lbuf + llen, base, m->nm.baselen);
		llen += m->nm.baselen;
		lbuf[llen++] = '\n';
		im->done++;
		progress(im, f->mbox, false);
		if (++pending >= im->batch) {
			pending = 0;
			if (flush_batch(im, f->mbox, &lbuf, &llen) < 0) {
				rc = -1;
				break;
			}
		}
	}
	if (rc == 0 && flush_batch(im, f->mbox, &lbuf, &llen) < 0)
		rc = -1;
	free(lbuf);
	rm_strset_free(&seen);
out:
	for (i = 0; i < 2; i++)
		if (subfd[i] >= 0)
			close(subfd[i]);
	return rc;
}

static int cmp_folder(const void *a, const void *b)
{
	return strcmp(((const struct imp_folder *)a)->mbox,
		      ((const struct imp_folder *)b)->mbox);
}

/* INBOX (the root) and every ".A.B" directory */
static struct imp_folder *collect(struct imp *im, const char *root, size_t *n_r)
{
	struct imp_folder *v;
	struct dirent *de;
	const char *why;
	size_t n = 1, cap = 16;
	DIR *d = NULL;
	int fd;

	v = rm_xcalloc(cap, sizeof(*v));
	v[0].path = rm_xstrdup(root);
	snprintf(v[0].mbox, sizeof(v[0].mbox), "INBOX");
	fd = openat(im->tree.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && (d = fdopendir(fd)) == NULL)
		close(fd);
	while (d != NULL && (de = readdir(d)) != NULL) {
		char name[RMAIL_MBOX_NAME_MAX + 1];
		int ffd;

		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		ffd = rm_md_open_dir(&im->tree, dirfd(d), de->d_name, &why);
		if (ffd < 0) {
			if (why != NULL)
				refuse(im, root, de->d_name, why);
			continue;
		}
		close(ffd);
		if (rm_md_folder_decode(de->d_name, name, sizeof(name)) < 0) {
			rm_cmd_failf(CMD,
				     "skipping %s/%s: not a Maildir++ "
				     "folder name",
				     root, de->d_name);
			continue;
		}
		if (n == cap) {
			cap *= 2;
			v = rm_xrealloc(v, cap * sizeof(*v));
			memset(v + n, 0, (cap - n) * sizeof(*v));
		}
		v[n].path = rm_md_xasprintf("%s/%s", root, de->d_name);
		v[n].name = rm_xstrdup(de->d_name);
		snprintf(v[n].mbox, sizeof(v[n].mbox), "%s", name);
		n++;
	}
	if (d != NULL)
		closedir(d);
	qsort(v + 1, n - 1, sizeof(*v), cmp_folder);
	*n_r = n;
	return v;
}

char *rm_import_user_dir(const char *user)
{
	const struct rm_config *conf = rm_conf();
	char l[256], dom[256], *path, *dir;
	const char *at = strrchr(user, '@');
	struct stat st;

	if (conf == NULL || conf->mail_root == NULL || at == NULL ||
	    rm_store_name_encode(user, (size_t)(at - user), l, sizeof(l)) < 0 ||
	    rm_store_name_encode(at + 1, strlen(at + 1), dom, sizeof(dom)) <
		    0) {
		rm_cmd_failf(CMD, "cannot locate the user directory of %s",
			     user);
		return NULL;
	}
	dir = rm_md_xasprintf("%s/domains/%s/users/%s", conf->mail_root, dom,
			      l);
	/* the encoding is the store's: make sure it found the user */
	path = rm_md_xasprintf("%s/user.json", dir);
	if (stat(path, &st) < 0) {
		rm_cmd_failf(CMD, "no user directory for %s (%s)", user, path);
		free(path);
		free(dir);
		return NULL;
	}
	free(path);
	return dir;
}

static int ledger_dir(struct imp *im)
{
	char *dir = rm_import_user_dir(im->user);

	if (dir == NULL)
		return -1;
	im->ledger_dir = rm_md_xasprintf("%s/import", dir);
	free(dir);
	return 0;
}

static void subs_cb(void *arg, const char *mbox)
{
	rm_strset_add(arg, mbox, strlen(mbox));
}

/* Dovecot's subscriptions file at the top; a refused one is reported
 * and every folder is subscribed as without one */
static void subs_load(struct imp *im, struct imp_folder *top)
{
	size_t len;
	char *text = read_small(im, top, im->tree.fd, "subscriptions", &len);

	if (text == NULL)
		return;
	rm_md_subscriptions_parse(text, len, subs_cb, &im->subs);
	im->have_subs = true;
	free(text);
}

static void subs_apply(struct imp *im)
{
	struct rmail_err err;
	size_t i;

	for (i = 0; i < im->subs.n && im->ops->mbox_subscribe != NULL; i++) {
		rmail_err_clear(&err);
		if (im->ops->mbox_subscribe(im->h, im->user, im->subs.v[i], 1,
					    &err) < 0)
			rm_cmd_failf(CMD, "subscribing \"%s\": %s",
				     im->subs.v[i], err.msg);
	}
	rm_strset_free(&im->subs);
}

/* Dovecot keeps a user's Sieve scripts in the home (sieve/ and
 * .dovecot.sieve): the Maildir itself when mail_location is the home,
 * else its parent (~/Maildir).  `--sieve HOME` names it.  The number of
 * scripts that failed. */
static int import_sieve(struct imp *im, const char *maildir, const char *home)
{
	char *parent = NULL;
	bool found = false;
	int failed = 0;

	if (!rm_import_sieve_ok(im->ops))
		return 0;
	if (home != NULL)
		return rm_import_sieve_home("import maildir", im->ops, im->h,
					    im->user, home, &found);
	failed = rm_import_sieve_home("import maildir", im->ops, im->h,
				      im->user, maildir, &found);
	if (!found) {
		size_t l = strlen(maildir) + 4;

		parent = malloc(l);
		if (parent == NULL)
			return 1;
		snprintf(parent, l, "%s/..", maildir);
		failed = rm_import_sieve_home("import maildir", im->ops, im->h,
					      im->user, parent, &found);
		free(parent);
	}
	return failed;
}

static int import_run(struct rm_cli *cli)
{
	struct imp im = {.tree = {.fd = -1}};
	struct imp_folder *folders;
	struct rmail_user u;
	struct rmail_err err;
	struct sigaction sa;
	const char *pos[3], *batch = NULL, *sieve_home = NULL;
	bool no_sieve = false;
	const struct rm_opt opts[] = {
		{"--batch", true, &batch, NULL},
		{"--sieve", true, &sieve_home, NULL},
		{"--no-sieve", false, NULL, &no_sieve},
		{NULL, false, NULL, NULL},
	};
	int64_t nb = BATCH_DEFAULT;
	size_t n, nf, i, j, skipped_total;
	int rc = RM_EXIT_OK;

	if (cli->argc >= 1 && strcmp(cli->argv[0], "passwd") == 0)
		return rm_import_passwd(cli, cli->argc - 1, cli->argv + 1);
	if (cli->argc >= 1 && strcmp(cli->argv[0], "aliases") == 0)
		return rm_import_aliases(cli, cli->argc - 1, cli->argv + 1);
	if (cli->argc >= 1 && strcmp(cli->argv[0], "imap") == 0)
		return rm_import_imap(cli, cli->argc - 1, cli->argv + 1);
	if (cli->argc >= 1 && strcmp(cli->argv[0], "sieve") == 0)
		return rm_import_sieve(cli, cli->argc - 1, cli->argv + 1);
	if (rm_cmd_parse(CMD, cli->argc, cli->argv, opts, pos, 3, &n) < 0)
		return RM_EXIT_USAGE;
	if (n != 3 || strcmp(pos[0], "maildir") != 0 ||
	    (batch != NULL && (rm_cmd_uint(batch, &nb) < 0 || nb < 1))) {
		rm_cmd_failf(CMD, "usage: rmail import maildir DIR ADDRESS "
				  "[--batch N] [--sieve HOME | --no-sieve]");
		return RM_EXIT_USAGE;
	}
	/* the store first: it drops root privileges (run_as) */
	if (rm_cli_store(cli, &im.ops, &im.h) < 0)
		return RM_EXIT_FAIL;
	if (rm_md_tree_open(pos[1], &im.tree) < 0)
		return rm_cmd_failf(CMD, "%s: %s", pos[1], strerror(errno));
	rmail_err_clear(&err);
	if (im.ops->user_get(im.h, pos[2], &u, &err) < 0)
		return rm_cmd_fail(CMD, &err);
	snprintf(im.user, sizeof(im.user), "%s", u.address);
	if (ledger_dir(&im) < 0)
		return RM_EXIT_FAIL;
	im.batch = (size_t)nb;
	im.tty = isatty(2) == 1;
	/* a store without bulk ops: every append is durable */
	im.nosync = im.ops->mbox_sync != NULL;

	folders = collect(&im, pos[1], &nf);
	subs_load(&im, &folders[0]);
	for (i = 0; i < nf; i++) {
		folder_load(&im, &folders[i]);
		for (j = 0; j < folders[i].n; j++)
			im.total += !folders[i].msgs[j].dup;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (i = 0; i < nf; i++) {
		if (!stop_requested && import_folder(&im, &folders[i]) < 0)
			rc = RM_EXIT_FAIL;
		folder_free(&folders[i]);
	}
	free(folders);
	if (!stop_requested)
		subs_apply(&im);
	rm_strset_free(&im.subs);
	progress(&im, "done", true);
	if (im.tty)
		fputc('\n', stderr);
	skipped_total = im.skipped;
	printf("imported %zu messages into %s (%zu already imported, "
	       "%zu failed, %zu refused)\n",
	       im.done, im.user, skipped_total, im.failed, im.refused);
	if (stop_requested) {
		rm_cmd_failf(CMD, "interrupted; run it again to continue");
		rc = RM_EXIT_FAIL;
	}
	if (im.failed > 0 || im.refused > 0)
		rc = RM_EXIT_FAIL;
	if (!stop_requested && !no_sieve &&
	    import_sieve(&im, pos[1], sieve_home) > 0)
		rc = RM_EXIT_FAIL;
	rm_md_tree_close(&im.tree);
	free(im.ledger_dir);
	return rc;
}

const struct rm_command rm_cmd_import = {
	.name = "import",
	.usage = "maildir DIR ADDRESS | imap --host H --user U --password-file "
		 "F [...] ADDRESS | sieve ADDRESS HOME | passwd FILE [--domain "
		 "D] [--dry-run] "
		 "| aliases FILE [--domain D] [--dry-run]: import a Maildir++ "
		 "tree (and its home's Sieve scripts), any IMAP server's "
		 "mail, Dovecot/shadow users with "
		 "their hashes, Postfix virtual aliases",
	.run = import_run,
};
