/*
 * Mailbox management: names, create/delete/rename, list, subscriptions,
 * status, a new user's defaults and usage scans.  The hierarchy is flat
 * on disk: "a/b" is the single directory mail/a%2Fb.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ss_mbox.h"

static const char *const su_names[] = {"",     "sent",	  "drafts", "trash",
				       "junk", "archive", "all",    "flagged"};

int ss_mbox_name_canon(const char *name, char *out, size_t outsz,
		       struct rmail_err *err)
{
	size_t len, i;

	if (name == NULL || (len = strlen(name)) == 0 ||
	    len > RMAIL_MBOX_NAME_MAX || len + 1 > outsz)
		return rmail_err_set(err, RMAIL_E_INVAL, "bad mailbox name");
	if (name[0] == '/' || name[len - 1] == '/' || strstr(name, "//"))
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "bad mailbox hierarchy");
	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return rmail_err_set(err, RMAIL_E_INVAL,
					     "control character in name");
	memcpy(out, name, len + 1);
	if (strncasecmp(name, "INBOX", 5) == 0 &&
	    (name[5] == '\0' || name[5] == '/'))
		memcpy(out, "INBOX", 5);
	return 0;
}

static int user_dir(const char *user, char *cuser, size_t cusersz, char *dir,
		    size_t dirsz, struct rmail_err *err)
{
	char local[RMAIL_ADDR_MAX + 1], dom[256];

	if (ss_addr_canon(user, local, sizeof(local), dom, sizeof(dom), err) <
	    0)
		return -1;
	if ((size_t)snprintf(cuser, cusersz, "%s@%s", local, dom) >= cusersz)
		return rmail_err_set(err, RMAIL_E_INVAL, "address too long");
	return ss_user_dir(cuser, dir, dirsz, err);
}

int ss_mbox_path(const char *canon_user, const char *canon_name, char *out,
		 size_t outsz, struct rmail_err *err)
{
	char ud[SS_PATH_MAX], enc[256];
	int n;

	if (ss_user_dir(canon_user, ud, sizeof(ud), err) < 0 ||
	    ss_name_encode(canon_name, strlen(canon_name), enc, sizeof(enc),
			   err) < 0)
		return -1;
	n = snprintf(out, outsz, "%s/mail/%s", ud, enc);
	if (n < 0 || (size_t)n >= outsz)
		return rmail_err_set(err, RMAIL_E_INVAL, "path too long");
	return 0;
}

static int write_file(const struct ss_store *st, int dirfd, const char *name,
		      const char *data)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			0640);
	size_t len = strlen(data);

	if (fd < 0)
		return -1;
	ss_mbox_chown(st, fd);
	if (write(fd, data, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static int mkdir_owned(const struct ss_store *st, int dirfd, const char *name)
{
	int fd;

	if (mkdirat(dirfd, name, 0750) < 0)
		return errno == EEXIST ? 0 : -1;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		ss_mbox_chown(st, fd);
		close(fd);
	}
	return 0;
}

int ss_rmtree(int dirfd, const char *name)
{
	int fd = openat(dirfd, name,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return unlinkat(dirfd, name, 0);
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_type == DT_DIR)
			ss_rmtree(fd, de->d_name);
		else
			unlinkat(fd, de->d_name, 0);
	}
	closedir(d);
	return unlinkat(dirfd, name, AT_REMOVEDIR);
}

static uint32_t next_uidvalidity(void)
{
	static uint32_t last;
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	uint32_t v = (uint32_t)time(NULL);

	pthread_mutex_lock(&mu);
	if (v <= last)
		v = last + 1;
	last = v;
	pthread_mutex_unlock(&mu);
	return v;
}

/* open (creating) the user's mail/ directory */
static int mail_dir(struct ss_store *st, const char *user, char *cuser,
		    size_t cusersz, struct rmail_err *err)
{
	char ud[SS_PATH_MAX];
	int ufd, fd;

	if (user_dir(user, cuser, cusersz, ud, sizeof(ud), err) < 0)
		return -1;
	ufd = ss_openat(st->root_fd, ud, O_RDONLY | O_DIRECTORY, 0);
	if (ufd < 0)
		return rmail_err_set(
			err, errno == ENOENT ? RMAIL_E_NOENT : RMAIL_E_IO,
			"user %s: %s", cuser, strerror(errno));
	if (mkdir_owned(st, ufd, "mail") < 0) {
		close(ufd);
		return rmail_err_set(err, RMAIL_E_IO, "mail dir: %s",
				     strerror(errno));
	}
	fd = openat(ufd, "mail",
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	close(ufd);
	if (fd < 0)
		return rmail_err_set(err, RMAIL_E_IO, "mail dir: %s",
				     strerror(errno));
	return fd;
}

static int create_in(struct ss_store *st, int mfd, const char *cname,
		     uint32_t special_use, struct rmail_err *err)
{
	char enc[256], tmp[64], buf[128];
	int dfd;

	if (ss_name_encode(cname, strlen(cname), enc, sizeof(enc), err) < 0)
		return -1;
	snprintf(tmp, sizeof(tmp), ".new.%d.%u", (int)getpid(),
		 next_uidvalidity());
	if (mkdir_owned(st, mfd, tmp) < 0)
		return rmail_err_set(err, RMAIL_E_IO, "create: %s",
				     strerror(errno));
	dfd = openat(mfd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(buf, sizeof(buf), "1 %u 1 -\n", next_uidvalidity());
	if (dfd < 0 || write_file(st, dfd, "counter", buf) < 0 ||
	    write_file(st, dfd, "keywords", "") < 0 ||
	    write_file(st, dfd, "changes", "") < 0 ||
	    mkdir_owned(st, dfd, "tmp") < 0 || ss_modseq_create(st, dfd) < 0 ||
	    (special_use != 0 && special_use < 8 &&
	     (snprintf(buf, sizeof(buf), "%s\n", su_names[special_use]),
	      write_file(st, dfd, "special-use", buf) < 0)) ||
	    fsync(dfd) < 0) {
		rmail_err_set(err, RMAIL_E_IO, "create: %s", strerror(errno));
		goto fail;
	}
	if (ss_rename_noreplace(st, mfd, tmp, mfd, enc, true) < 0) {
		rmail_err_set(
			err, errno == EEXIST ? RMAIL_E_EXISTS : RMAIL_E_IO,
			"mailbox %s: %s", cname,
			errno == EEXIST ? "already exists" : strerror(errno));
		goto fail;
	}
	close(dfd);
	fsync(mfd);
	return 0;
fail:
	if (dfd >= 0)
		close(dfd);
	ss_rmtree(mfd, tmp);
	return -1;
}

int ss_mbox_create(void *h, const char *user, const char *name,
		   uint32_t special_use, struct rmail_err *err)
{
	struct ss_store *st = h;
	char cuser[RMAIL_ADDR_MAX + 1], cname[RMAIL_MBOX_NAME_MAX + 1];
	int mfd, rc;

	if (ss_mbox_name_canon(name, cname, sizeof(cname), err) < 0)
		return -1;
	mfd = mail_dir(st, user, cuser, sizeof(cuser), err);
	if (mfd < 0)
		return -1;
	rc = create_in(st, mfd, cname, special_use, err);
	close(mfd);
	return rc;
}

int ss_mbox_create_defaults(struct ss_store *st, const char *canon_user,
			    struct rmail_err *err)
{
	static const struct {
		const char *name;
		uint32_t su;
	} defs[] = {
		{"INBOX", RMAIL_SU_NONE},    {"Sent", RMAIL_SU_SENT},
		{"Drafts", RMAIL_SU_DRAFTS}, {"Trash", RMAIL_SU_TRASH},
		{"Junk", RMAIL_SU_JUNK},     {"Archive", RMAIL_SU_ARCHIVE},
	};
	size_t i;

	for (i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
		struct rmail_err e;

		if (ss_mbox_create(st, canon_user, defs[i].name, defs[i].su,
				   &e) < 0 &&
		    e.code != RMAIL_E_EXISTS) {
			if (err != NULL)
				*err = e;
			return -1;
		}
		ss_mbox_subscribe(st, canon_user, defs[i].name, 1, NULL);
	}
	return 0;
}

/* bytes of every message below a mailbox directory, from names only */
static uint64_t mbox_bytes(int mbfd)
{
	struct dirent *de;
	uint64_t total = 0;
	int fd = openat(mbfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		int64_t no = ss_shard_parse(de->d_name);
		struct rmail_msg *msgs;
		uint32_t n, i;
		int sfd;

		if (no < 0)
			continue;
		sfd = openat(mbfd, de->d_name,
			     O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sfd < 0)
			continue;
		if (ss_shard_scan(sfd, (uint32_t)no, &msgs, &n) >= 0) {
			for (i = 0; i < n; i++)
				total += msgs[i].size;
			free(msgs);
		}
		close(sfd);
	}
	closedir(d);
	return total;
}

int ss_user_usage_scan(struct ss_store *st, const char *canon_user,
		       uint64_t *bytes_r, struct rmail_err *err)
{
	char cuser[RMAIL_ADDR_MAX + 1];
	struct dirent *de;
	uint64_t total = 0;
	int mfd = mail_dir(st, canon_user, cuser, sizeof(cuser), err);
	DIR *d;

	if (mfd < 0)
		return -1;
	d = fdopendir(mfd);
	if (d == NULL) {
		close(mfd);
		return rmail_err_set(err, RMAIL_E_IO, "scan: %s",
				     strerror(errno));
	}
	while ((de = readdir(d)) != NULL) {
		int fd;

		if (de->d_name[0] == '.')
			continue;
		fd = openat(dirfd(d), de->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		total += mbox_bytes(fd);
		close(fd);
	}
	closedir(d);
	*bytes_r = total;
	return 0;
}

int ss_mbox_delete(void *h, const char *user, const char *name,
		   struct rmail_err *err)
{
	struct ss_store *st = h;
	char cuser[RMAIL_ADDR_MAX + 1], cname[RMAIL_MBOX_NAME_MAX + 1];
	char enc[256], tmp[64];
	int mfd, fd;

	if (ss_mbox_name_canon(name, cname, sizeof(cname), err) < 0)
		return -1;
	if (strcmp(cname, "INBOX") == 0)
		return rmail_err_set(err, RMAIL_E_PERM,
				     "INBOX cannot be deleted");
	if (ss_name_encode(cname, strlen(cname), enc, sizeof(enc), err) < 0)
		return -1;
	mfd = mail_dir(st, user, cuser, sizeof(cuser), err);
	if (mfd < 0)
		return -1;
	snprintf(tmp, sizeof(tmp), ".del.%d.%u", (int)getpid(),
		 next_uidvalidity());
	if (renameat(mfd, enc, mfd, tmp) < 0) {
		close(mfd);
		return rmail_err_set(
			err, errno == ENOENT ? RMAIL_E_NOENT : RMAIL_E_IO,
			"mailbox %s: %s", cname, strerror(errno));
	}
	ss_views_forget(st, cuser, cname);
	fd = openat(mfd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		uint64_t bytes = mbox_bytes(fd);

		close(fd);
		if (bytes > 0)
			ss_quota_charge(st, cuser, -(int64_t)bytes);
	}
	ss_rmtree(mfd, tmp);
	close(mfd);
	return 0;
}

struct name_list {
	char **v;
	size_t n, cap;
};

static void names_add(struct name_list *l, const char *s)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **nv = realloc(l->v, cap * sizeof(*nv));

		if (nv == NULL)
			return;
		l->v = nv;
		l->cap = cap;
	}
	if ((l->v[l->n] = strdup(s)) != NULL)
		l->n++;
}

static void names_free(struct name_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_names(int mfd, struct name_list *l)
{
	int fd = openat(mfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char dec[RMAIL_MBOX_NAME_MAX + 1];

		if (de->d_name[0] == '.' ||
		    ss_name_decode(de->d_name, dec, sizeof(dec), NULL) < 0)
			continue;
		names_add(l, dec);
	}
	closedir(d);
	if (l->n > 0)
		qsort(l->v, l->n, sizeof(char *), cmp_str);
	return 0;
}

int ss_mbox_rename(void *h, const char *user, const char *from, const char *to,
		   struct rmail_err *err)
{
	struct ss_store *st = h;
	char cuser[RMAIL_ADDR_MAX + 1], cf[RMAIL_MBOX_NAME_MAX + 1];
	char ct[RMAIL_MBOX_NAME_MAX + 1];
	struct name_list l = {0};
	size_t i, fl;
	int mfd, rc = 0;

	if (ss_mbox_name_canon(from, cf, sizeof(cf), err) < 0 ||
	    ss_mbox_name_canon(to, ct, sizeof(ct), err) < 0)
		return -1;
	fl = strlen(cf);
	if (strncmp(ct, cf, fl) == 0 && (ct[fl] == '\0' || ct[fl] == '/'))
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "cannot rename a mailbox into itself");
	if (strcmp(cf, "INBOX") == 0) {
		/* INBOX stays; its messages move to the new mailbox */
		struct rmail_mbox *mb;
		uint32_t *uids, n, k, uv;

		if (ss_mbox_create(st, user, ct, 0, err) < 0 ||
		    ss_mbox_open(st, user, "INBOX", &mb, err) < 0)
			return -1;
		n = mb->count;
		uids = calloc(n ? n : 1, 2 * sizeof(*uids));
		for (k = 0; uids != NULL && k < n; k++)
			uids[k] = ss_mbox_msg(mb, k)->uid;
		rc = uids == NULL ? -1
		     : n == 0
			     ? 0
			     : ss_msg_move(mb, uids, n, ct, uids + n, &uv, err);
		free(uids);
		ss_mbox_close(&mb);
		return rc;
	}
	mfd = mail_dir(st, user, cuser, sizeof(cuser), err);
	if (mfd < 0)
		return -1;
	if (list_names(mfd, &l) < 0) {
		close(mfd);
		return rmail_err_set(err, RMAIL_E_IO, "list: %s",
				     strerror(errno));
	}
	for (i = 0; i < l.n && strcmp(l.v[i], cf) != 0; i++)
		;
	if (i == l.n) {
		rc = rmail_err_set(err, RMAIL_E_NOENT, "no mailbox %s", cf);
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		char eo[256], en[256], nn[RMAIL_MBOX_NAME_MAX + 2];

		if (strncmp(l.v[i], cf, fl) != 0 ||
		    (l.v[i][fl] != '\0' && l.v[i][fl] != '/'))
			continue;
		if (snprintf(nn, sizeof(nn), "%s%s", ct, l.v[i] + fl) >
			    RMAIL_MBOX_NAME_MAX ||
		    ss_name_encode(l.v[i], strlen(l.v[i]), eo, sizeof(eo),
				   err) < 0 ||
		    ss_name_encode(nn, strlen(nn), en, sizeof(en), err) < 0) {
			rc = rmail_err_set(err, RMAIL_E_INVAL,
					   "new name too long");
			goto out;
		}
		if (ss_rename_noreplace(st, mfd, eo, mfd, en, true) < 0) {
			rc = rmail_err_set(
				err,
				errno == EEXIST ? RMAIL_E_EXISTS : RMAIL_E_IO,
				"rename %s: %s", nn, strerror(errno));
			goto out;
		}
	}
	fsync(mfd);
out:
	ss_views_forget(st, cuser, cf);
	names_free(&l);
	close(mfd);
	return rc;
}

static int subs_read(int ufd, struct name_list *l)
{
	char *buf, *p, *nl;
	struct stat sb;
	int fd = openat(ufd, "subscriptions", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	if (fstat(fd, &sb) < 0 || sb.st_size > (1 << 22) ||
	    (buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		close(fd);
		return -1;
	}
	sb.st_size = read(fd, buf, (size_t)sb.st_size);
	close(fd);
	buf[sb.st_size < 0 ? 0 : sb.st_size] = '\0';
	for (p = buf; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		*nl = '\0';
		if (*p != '\0')
			names_add(l, p);
	}
	free(buf);
	return 0;
}

int ss_mbox_subscribe(void *h, const char *user, const char *name,
		      int subscribe, struct rmail_err *err)
{
	struct ss_store *st = h;
	char cuser[RMAIL_ADDR_MAX + 1], cname[RMAIL_MBOX_NAME_MAX + 1];
	char ud[SS_PATH_MAX], tmp[64];
	struct name_list l = {0};
	size_t i, j;
	int ufd, fd, rc = 0;
	FILE *f;

	if (ss_mbox_name_canon(name, cname, sizeof(cname), err) < 0 ||
	    user_dir(user, cuser, sizeof(cuser), ud, sizeof(ud), err) < 0)
		return -1;
	ufd = ss_openat(st->root_fd, ud, O_RDONLY | O_DIRECTORY, 0);
	if (ufd < 0)
		return rmail_err_set(
			err, errno == ENOENT ? RMAIL_E_NOENT : RMAIL_E_IO,
			"user: %s", strerror(errno));
	subs_read(ufd, &l);
	for (i = 0, j = 0; i < l.n; i++) {
		if (strcmp(l.v[i], cname) == 0) {
			free(l.v[i]);
			continue;
		}
		l.v[j++] = l.v[i];
	}
	l.n = j;
	if (subscribe)
		names_add(&l, cname);
	snprintf(tmp, sizeof(tmp), ".tmp.subscriptions.%d", (int)getpid());
	fd = openat(ufd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	f = fd < 0 ? NULL : fdopen(fd, "w");
	if (f == NULL) {
		if (fd >= 0)
			close(fd);
		rc = rmail_err_set(err, RMAIL_E_IO, "subscriptions: %s",
				   strerror(errno));
		goto out;
	}
	ss_mbox_chown(st, fd);
	for (i = 0; i < l.n; i++)
		fprintf(f, "%s\n", l.v[i]);
	if (fclose(f) != 0 || renameat(ufd, tmp, ufd, "subscriptions") < 0)
		rc = rmail_err_set(err, RMAIL_E_IO, "subscriptions: %s",
				   strerror(errno));
out:
	names_free(&l);
	close(ufd);
	return rc;
}

static uint32_t special_use_of(int mfd, const char *name)
{
	char enc[256], rel[300], buf[32];
	ssize_t n;
	size_t i;
	int fd;

	if (ss_name_encode(name, strlen(name), enc, sizeof(enc), NULL) < 0)
		return 0;
	snprintf(rel, sizeof(rel), "%s/special-use", enc);
	fd = openat(mfd, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	for (i = 1; i < 8; i++)
		if (strcmp(buf, su_names[i]) == 0)
			return (uint32_t)i;
	return 0;
}

static bool has_prefix_child(const struct name_list *l, const char *name)
{
	size_t i, nl = strlen(name);

	for (i = 0; i < l->n; i++)
		if (strncmp(l->v[i], name, nl) == 0 && l->v[i][nl] == '/')
			return true;
	return false;
}

static bool in_list(const struct name_list *l, const char *name)
{
	return l->n > 0 &&
	       bsearch(&name, l->v, l->n, sizeof(char *), cmp_str) != NULL;
}

int ss_mbox_list(void *h, const char *user, rmail_mbox_fn cb, void *arg,
		 struct rmail_err *err)
{
	struct ss_store *st = h;
	char cuser[RMAIL_ADDR_MAX + 1], ud[SS_PATH_MAX];
	struct name_list l = {0}, subs = {0}, all = {0};
	struct rmail_mbox_entry e;
	size_t i;
	int mfd, ufd;

	mfd = mail_dir(st, user, cuser, sizeof(cuser), err);
	if (mfd < 0)
		return -1;
	if (list_names(mfd, &l) < 0) {
		close(mfd);
		return rmail_err_set(err, RMAIL_E_IO, "list: %s",
				     strerror(errno));
	}
	if (ss_user_dir(cuser, ud, sizeof(ud), NULL) == 0 &&
	    (ufd = ss_openat(st->root_fd, ud, O_RDONLY | O_DIRECTORY, 0)) >=
		    0) {
		subs_read(ufd, &subs);
		close(ufd);
	}
	if (subs.n > 0)
		qsort(subs.v, subs.n, sizeof(char *), cmp_str);
	/* every name plus its implicit parents */
	for (i = 0; i < l.n; i++) {
		char p[RMAIL_MBOX_NAME_MAX + 1], *s;

		names_add(&all, l.v[i]);
		snprintf(p, sizeof(p), "%s", l.v[i]);
		while ((s = strrchr(p, '/')) != NULL) {
			*s = '\0';
			if (!in_list(&l, p))
				names_add(&all, p);
		}
	}
	for (i = 0; i < subs.n; i++)
		if (!in_list(&l, subs.v[i]))
			names_add(&all, subs.v[i]);
	if (all.n > 0)
		qsort(all.v, all.n, sizeof(char *), cmp_str);
	for (i = 0; i < all.n; i++) {
		if (i > 0 && strcmp(all.v[i], all.v[i - 1]) == 0)
			continue;
		memset(&e, 0, sizeof(e));
		e.name = all.v[i];
		if (!in_list(&l, e.name))
			e.attrs |= has_prefix_child(&l, e.name)
					   ? RMAIL_MBOX_NOSELECT
					   : RMAIL_MBOX_NONEXISTENT;
		else
			e.special_use = special_use_of(mfd, e.name);
		if (has_prefix_child(&l, e.name))
			e.attrs |= RMAIL_MBOX_HASCHILDREN;
		if (in_list(&subs, e.name))
			e.attrs |= RMAIL_MBOX_SUBSCRIBED;
		cb(arg, &e);
	}
	names_free(&l);
	names_free(&subs);
	names_free(&all);
	close(mfd);
	return 0;
}

int ss_mbox_status(void *h, const char *user, const char *name,
		   struct rmail_mbox_status *st_r, struct rmail_err *err)
{
	struct rmail_mbox *mb;

	if (ss_mbox_open(h, user, name, &mb, err) < 0)
		return -1;
	pthread_mutex_lock(&mb->lock);
	ss_mbox_info(mb, st_r);
	pthread_mutex_unlock(&mb->lock);
	ss_mbox_close(&mb);
	return 0;
}
