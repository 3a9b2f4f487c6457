/*
 * rmail export maildir ADDRESS DIR: a user's mailboxes as a Maildir++
 * tree (INBOX at the root, "A/B" as ".A.B", flags in ":2,", keywords
 * through dovecot-keywords, subscriptions in Dovecot's `subscriptions`
 * file at the top).  Files are written in tmp/ and linked into
 * cur/, so an existing file is never overwritten and a message whose
 * base name is already in the folder is not written again.
 *
 * DIR may have been prepared by someone else (a symlinked cur/ or
 * folder, a planted file name): everything is made and opened relative
 * to the top's descriptor through md_walk.h, without following a
 * symbolic link, so nothing is written outside the tree; what cannot
 * be used is refused and reported.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd_store.h"
#include "rm.h"
#include "maildir.h"
#include "md_walk.h"

#define CMD "export"

struct exp {
	const struct rmail_store_ops *ops;
	void *h;
	char user[RMAIL_ADDR_MAX + 1];
	const char *root;
	struct rm_md_tree tree;
	struct rm_strset mboxes, subs;
	size_t done, existed, failed, refused, nfolders, dropped_kw;
};

/* one folder being written: its directory and tmp/ new/ cur/ */
struct xfolder {
	char *path; /* for reports */
	int fd, sub[3];
};

enum { SUB_TMP, SUB_NEW, SUB_CUR };
static const char *const sub_names[] = {"tmp", "new", "cur"};

static void list_cb(void *arg, const struct rmail_mbox_entry *e)
{
	struct exp *ex = arg;

	if ((e->attrs & (RMAIL_MBOX_NOSELECT | RMAIL_MBOX_NONEXISTENT)) == 0)
		rm_strset_add(&ex->mboxes, e->name, strlen(e->name));
	/* a subscription to a mailbox that is gone is the user's too */
	if (e->attrs & RMAIL_MBOX_SUBSCRIBED)
		rm_strset_add(&ex->subs, e->name, strlen(e->name));
}

static void refuse(struct exp *ex, const char *dir, const char *name,
		   const char *why)
{
	rm_cmd_failf(CMD, "refusing %s/%s: %s", dir, name, why);
	ex->refused++;
}

/* a new file name under dirfd holding text; false (errno) if the name
 * was taken or the write failed, and then nothing of ours is left */
static bool write_new(int dirfd, const char *name, const char *text)
{
	int fd = rm_md_create_file(dirfd, name);
	bool ok;

	if (fd < 0)
		return false;
	ok = rm_write_all(fd, text, strlen(text)) == 0;
	if (close(fd) == 0 && ok)
		return true;
	unlinkat(dirfd, name, 0);
	return false;
}

/* why an entry of a folder cannot be a message file, NULL when fine */
static const char *entry_unusable(int dirfd, const struct dirent *de)
{
	struct stat st;

	if (de->d_type == DT_REG)
		return NULL;
	if (de->d_type == DT_UNKNOWN &&
	    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISREG(st.st_mode))
			return NULL;
		if (S_ISLNK(st.st_mode))
			return "a symbolic link";
	}
	return de->d_type == DT_LNK ? "a symbolic link" : "not a regular file";
}

/* Base names already in new/ and cur/.  One that is not a regular file
 * (a planted symlink) is refused: its message is not written. */
static void existing_bases(struct exp *ex, const struct xfolder *fo,
			   struct rm_strset *set)
{
	static const int subs[] = {SUB_CUR, SUB_NEW};
	struct rm_md_name nm;
	struct dirent *de;
	const char *why;
	char *dir;
	size_t i;
	int fd;
	DIR *d;

	for (i = 0; i < 2; i++) {
		fd = openat(fo->sub[subs[i]], ".",
			    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		d = fd >= 0 ? fdopendir(fd) : NULL;
		if (d == NULL && fd >= 0)
			close(fd);
		while (d != NULL && (de = readdir(d)) != NULL) {
			if (rm_md_name_parse(de->d_name, &nm) < 0)
				continue;
			rm_strset_add(set, de->d_name, nm.baselen);
			why = entry_unusable(dirfd(d), de);
			if (why == NULL)
				continue;
			dir = rm_md_xasprintf("%s/%s", fo->path,
					      sub_names[subs[i]]);
			refuse(ex, dir, de->d_name, why);
			free(dir);
		}
		if (d != NULL)
			closedir(d);
	}
}

/* the folder's dovecot-keywords into kw; false when it is refused */
static bool keywords_read(struct exp *ex, const struct xfolder *fo,
			  char *kw[RM_MD_KEYWORDS])
{
	const char *why;
	struct stat st;
	char buf[8192];
	ssize_t len;
	int fd;

	fd = rm_md_open_file(&ex->tree, fo->fd, "dovecot-keywords", &st, &why);
	if (fd < 0) {
		if (why != NULL)
			refuse(ex, fo->path, "dovecot-keywords", why);
		return why == NULL;
	}
	len = read(fd, buf, sizeof(buf));
	close(fd);
	if (len > 0)
		rm_md_keywords_parse(buf, (size_t)len, kw);
	return true;
}

/* store keyword index -> letter (-1 = none), merged into the folder's
 * dovecot-keywords, which is rewritten only when it gains names */
static void keyword_map(struct exp *ex, const struct xfolder *fo,
			const char *const *names, size_t n, int *letter)
{
	char *kw[RM_MD_KEYWORDS] = {0}, *text = NULL, tmp[64];
	size_t i, cap = 0, dropped = 0;
	bool changed = false, usable;
	FILE *fp;
	int k;

	usable = keywords_read(ex, fo, kw);
	for (i = 0; i < n; i++) {
		letter[i] = -1;
		if (!usable)
			continue;
		for (k = 0; k < RM_MD_KEYWORDS; k++)
			if (kw[k] != NULL && strcasecmp(kw[k], names[i]) == 0)
				break;
		if (k == RM_MD_KEYWORDS)
			for (k = 0; k < RM_MD_KEYWORDS && kw[k] != NULL; k++)
				;
		if (k == RM_MD_KEYWORDS) {
			/* Maildir has 26 keyword letters per folder */
			dropped++;
			continue;
		}
		if (kw[k] == NULL) {
			kw[k] = rm_md_xstrndup(names[i], strlen(names[i]));
			changed = true;
		}
		letter[i] = k;
	}
	if (changed) {
		snprintf(tmp, sizeof(tmp), ".dovecot-keywords.%d",
			 (int)getpid());
		fp = open_memstream(&text, &cap);
		for (k = 0; fp != NULL && k < RM_MD_KEYWORDS; k++)
			if (kw[k] != NULL)
				fprintf(fp, "%d %s\n", k, kw[k]);
		if (fp != NULL)
			fclose(fp);
		/* renameat replaces a name, never writes through it */
		if (text == NULL || !write_new(fo->sub[SUB_TMP], tmp, text)) {
			rm_cmd_failf(CMD, "%s/tmp/%s: %s", fo->path, tmp,
				     strerror(errno));
		} else if (renameat(fo->sub[SUB_TMP], tmp, fo->fd,
				    "dovecot-keywords") < 0) {
			rm_cmd_failf(CMD, "%s/dovecot-keywords: %s", fo->path,
				     strerror(errno));
			unlinkat(fo->sub[SUB_TMP], tmp, 0);
		}
		free(text);
	}
	for (k = 0; k < RM_MD_KEYWORDS; k++)
		free(kw[k]);
	ex->dropped_kw += dropped;
}

static void msg_base(const struct rmail_msg *m, char *out, size_t outsz);

static int copy_fd(int in, int out)
{
	char buf[65536];
	ssize_t n;

	for (;;) {
		n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -1 : 0;
		if (rm_write_all(out, buf, (size_t)n) < 0)
			return -1;
	}
}

/* one message: tmp/<base>, mtime = internal date, link into cur/ */
static int export_msg(struct exp *ex, struct rmail_mbox *mb,
		      const struct xfolder *fo, const struct rmail_msg *m,
		      const int *letter, size_t nkw, struct rm_strset *have)
{
	const int tmpfd = fo->sub[SUB_TMP];
	struct rmail_err err;
	struct timespec ts[2];
	char base[128], info[40], dst[168];
	uint32_t letters = 0;
	size_t i;
	bool created = false;
	int in = -1, out = -1, rc = -1;

	msg_base(m, base, sizeof(base));
	if (rm_strset_has(have, base, strlen(base))) {
		ex->existed++;
		return 0;
	}
	for (i = 0; i < nkw && i < 64; i++)
		if ((m->keywords & (1ull << i)) && letter[i] >= 0)
			letters |= 1u << letter[i];
	rm_md_info_format(m->flags, letters, info);
	snprintf(dst, sizeof(dst), "%s%s", base, info);
	rmail_err_clear(&err);
	if (ex->ops->msg_open(mb, m->uid, &in, &err) < 0) {
		rm_cmd_failf(CMD, "uid %u: %s", m->uid, err.msg);
		goto out;
	}
	out = rm_md_create_file(tmpfd, base);
	if (out < 0) {
		/* taken (maybe a planted symlink): not ours to remove */
		rm_cmd_failf(CMD, "%s/tmp/%s: %s", fo->path, base,
			     strerror(errno));
		goto out;
	}
	created = true;
	if (copy_fd(in, out) < 0) {
		rm_cmd_failf(CMD, "%s/tmp/%s: %s", fo->path, base,
			     strerror(errno));
		goto out;
	}
	ts[0].tv_sec = ts[1].tv_sec = m->internaldate;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (futimens(out, ts) < 0 || close(out) < 0) {
		out = -1;
		rm_cmd_failf(CMD, "%s/tmp/%s: %s", fo->path, base,
			     strerror(errno));
		goto out;
	}
	out = -1;
	/* linkat never follows the new name */
	if (linkat(tmpfd, base, fo->sub[SUB_CUR], dst, 0) < 0) {
		if (errno == EEXIST) {
			ex->existed++;
			rc = 0;
		} else {
			rm_cmd_failf(CMD, "%s/cur/%s: %s", fo->path, dst,
				     strerror(errno));
		}
		goto out;
	}
	ex->done++;
	rc = 0;
out:
	if (out >= 0)
		close(out);
	if (in >= 0)
		close(in);
	if (created)
		unlinkat(tmpfd, base, 0);
	return rc;
}

static void msg_base(const struct rmail_msg *m, char *out, size_t outsz)
{
	snprintf(out, outsz, "%lld.%u.rmail,S=%llu,W=%llu",
		 (long long)m->internaldate, m->uid,
		 (unsigned long long)m->size, (unsigned long long)m->size);
}

/* dovecot-uidlist keeps the UID order for Dovecot and for a re-import
 * (dates alone need not be ascending); only into a folder without one */
static void write_uidlist(struct exp *ex, struct rmail_mbox *mb,
			  const struct xfolder *fo, uint32_t n)
{
	struct rmail_mbox_status st = {.size = sizeof(st)};
	const int tmpfd = fo->sub[SUB_TMP];
	char tmp[64], base[128];
	struct stat sb;
	uint32_t i;
	FILE *fp;
	int fd;

	if (fstatat(fo->fd, "dovecot-uidlist", &sb, AT_SYMLINK_NOFOLLOW) == 0 ||
	    errno != ENOENT)
		return;
	snprintf(tmp, sizeof(tmp), ".dovecot-uidlist.%d", (int)getpid());
	fd = rm_md_create_file(tmpfd, tmp);
	if (fd < 0)
		goto fail;
	fp = fdopen(fd, "w");
	if (fp == NULL) {
		close(fd);
		goto fail_created;
	}
	ex->ops->mbox_info(mb, &st);
	fprintf(fp, "3 V%u N%u\n", st.uidvalidity, st.uidnext);
	for (i = 0; i < n; i++) {
		const struct rmail_msg *m = ex->ops->mbox_msg(mb, i);

		if (m == NULL)
			continue;
		msg_base(m, base, sizeof(base));
		fprintf(fp, "%u :%s\n", m->uid, base);
	}
	if (fclose(fp) != 0 ||
	    linkat(tmpfd, tmp, fo->fd, "dovecot-uidlist", 0) < 0)
		goto fail_created;
	unlinkat(tmpfd, tmp, 0);
	return;
fail_created:
	rm_cmd_failf(CMD, "%s/dovecot-uidlist: %s", fo->path, strerror(errno));
	unlinkat(tmpfd, tmp, 0);
	return;
fail:
	rm_cmd_failf(CMD, "%s/dovecot-uidlist: %s", fo->path, strerror(errno));
}

static void folder_close(struct xfolder *fo)
{
	size_t i;

	for (i = 0; i < 3; i++)
		if (fo->sub[i] >= 0)
			close(fo->sub[i]);
	if (fo->fd >= 0)
		close(fo->fd);
	free(fo->path);
}

/* the folder's directory and tmp/ new/ cur/, made or opened from the
 * top; -1 (reported) when one of them cannot be used */
static int folder_make(struct exp *ex, const char *folder, struct xfolder *fo)
{
	const char *why;
	size_t i;

	fo->fd = fo->sub[0] = fo->sub[1] = fo->sub[2] = -1;
	if (folder == NULL) {
		fo->path = rm_md_xstrndup(ex->root, strlen(ex->root));
		fo->fd = fcntl(ex->tree.fd, F_DUPFD_CLOEXEC, 0);
		if (fo->fd < 0) {
			rm_cmd_failf(CMD, "%s: %s", fo->path, strerror(errno));
			return -1;
		}
	} else {
		fo->path = rm_md_xasprintf("%s/%s", ex->root, folder);
		fo->fd = rm_md_make_dir(&ex->tree, ex->tree.fd, folder, &why);
		if (fo->fd < 0) {
			refuse(ex, ex->root, folder, why);
			return -1;
		}
	}
	for (i = 0; i < 3; i++) {
		fo->sub[i] =
			rm_md_make_dir(&ex->tree, fo->fd, sub_names[i], &why);
		if (fo->sub[i] < 0) {
			refuse(ex, fo->path, sub_names[i], why);
			return -1;
		}
	}
	return 0;
}

static int export_mbox(struct exp *ex, const char *name)
{
	struct rm_strset have = {0};
	struct rmail_mbox *mb = NULL;
	struct rmail_err err;
	struct xfolder fo;
	const char *const *kwnames = NULL;
	char folder[4 * RMAIL_MBOX_NAME_MAX];
	int letter[RMAIL_KEYWORD_MAX];
	bool inbox = strcasecmp(name, "INBOX") == 0;
	uint32_t i, n;
	size_t nkw;
	int rc = 0;

	if (!inbox && rm_md_folder_encode(name, folder, sizeof(folder)) < 0) {
		rm_cmd_failf(CMD, "mailbox \"%s\": no Maildir++ name", name);
		return -1;
	}
	if (folder_make(ex, inbox ? NULL : folder, &fo) < 0) {
		folder_close(&fo);
		return -1;
	}
	rmail_err_clear(&err);
	if (ex->ops->mbox_open(ex->h, ex->user, name, &mb, &err) < 0) {
		folder_close(&fo);
		rm_cmd_failf(CMD, "mailbox \"%s\": %s", name, err.msg);
		return -1;
	}
	/* the Maildir++ marker of a folder; one already there is fine */
	if (!inbox)
		(void)write_new(fo.fd, "maildirfolder", "");
	existing_bases(ex, &fo, &have);
	nkw = ex->ops->mbox_keywords(mb, &kwnames);
	if (nkw > RMAIL_KEYWORD_MAX)
		nkw = RMAIL_KEYWORD_MAX;
	keyword_map(ex, &fo, kwnames, nkw, letter);
	n = ex->ops->mbox_count(mb);
	write_uidlist(ex, mb, &fo, n);
	for (i = 0; i < n; i++) {
		const struct rmail_msg *m = ex->ops->mbox_msg(mb, i);

		if (m == NULL ||
		    export_msg(ex, mb, &fo, m, letter, nkw, &have) < 0)
			ex->failed++;
	}
	ex->nfolders++;
	/* one sync for the whole folder instead of one per file */
	if (syncfs(fo.fd) < 0)
		rc = -1;
	ex->ops->mbox_close(&mb);
	rm_strset_free(&have);
	folder_close(&fo);
	return rc;
}

static void subs_cb(void *arg, const char *mbox)
{
	rm_strset_add(arg, mbox, strlen(mbox));
}

/* Dovecot's `subscriptions` at the top: version 1 (one storage name per
 * line, "A.B" as the folder's directory without its dot), which every
 * Dovecot 2 reads.  Merged with a file already there, then renamed into
 * place from tmp/, so a planted name is replaced, never written through. */
static void write_subscriptions(struct exp *ex)
{
	char folder[4 * RMAIL_MBOX_NAME_MAX], tmp[64], *text = NULL;
	static char buf[256 * 1024];
	const char *why, *prev = NULL;
	size_t i, cap = 0;
	struct stat st;
	ssize_t len, n;
	FILE *fp;
	int fd, tmpfd;

	fd = rm_md_open_file(&ex->tree, ex->tree.fd, "subscriptions", &st,
			     &why);
	if (fd < 0 && why != NULL) {
		refuse(ex, ex->root, "subscriptions", why);
		return;
	}
	if (fd >= 0) {
		/* whole lines only: a name cut at the buffer's end is lost
		 * rather than merged as another (shorter) name */
		len = 0;
		while ((size_t)len < sizeof(buf) &&
		       (n = read(fd, buf + len, sizeof(buf) - (size_t)len)) !=
			       0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				break;
			len += n;
		}
		close(fd);
		while (len > 0 && (size_t)len == sizeof(buf) &&
		       buf[len - 1] != '\n')
			len--;
		if (len > 0)
			rm_md_subscriptions_parse(buf, (size_t)len, subs_cb,
						  &ex->subs);
	}
	tmpfd = rm_md_make_dir(&ex->tree, ex->tree.fd, "tmp", &why);
	if (tmpfd < 0) {
		refuse(ex, ex->root, "tmp", why);
		return;
	}
	(void)rm_strset_has(&ex->subs, "", 0); /* sorts */
	fp = open_memstream(&text, &cap);
	for (i = 0; fp != NULL && i < ex->subs.n; i++) {
		const char *name = ex->subs.v[i];

		if (prev != NULL && strcmp(prev, name) == 0)
			continue;
		prev = name;
		if (strcasecmp(name, "INBOX") == 0)
			fputs("INBOX\n", fp);
		else if (rm_md_folder_encode(name, folder, sizeof(folder)) == 0)
			fprintf(fp, "%s\n", folder + 1);
	}
	if (fp != NULL)
		fclose(fp);
	snprintf(tmp, sizeof(tmp), ".subscriptions.%d", (int)getpid());
	if (text == NULL || !write_new(tmpfd, tmp, text)) {
		rm_cmd_failf(CMD, "%s/tmp/%s: %s", ex->root, tmp,
			     strerror(errno));
		ex->failed++;
	} else if (renameat(tmpfd, tmp, ex->tree.fd, "subscriptions") < 0) {
		rm_cmd_failf(CMD, "%s/subscriptions: %s", ex->root,
			     strerror(errno));
		unlinkat(tmpfd, tmp, 0);
		ex->failed++;
	}
	free(text);
	close(tmpfd);
}

static int export_run(struct rm_cli *cli)
{
	struct exp ex = {0};
	struct rmail_user u;
	struct rmail_err err;
	const char *pos[3], *why;
	size_t n, i;
	int rc = RM_EXIT_OK;

	if (rm_cmd_parse(CMD, cli->argc, cli->argv, NULL, pos, 3, &n) < 0)
		return RM_EXIT_USAGE;
	if (n != 3 || strcmp(pos[0], "maildir") != 0) {
		rm_cmd_failf(CMD, "usage: rmail export maildir ADDRESS DIR");
		return RM_EXIT_USAGE;
	}
	ex.root = pos[2];
	/* the store first: it drops root privileges (run_as), and DIR
	 * must belong to the user that writes it */
	if (rm_cli_store(cli, &ex.ops, &ex.h) < 0)
		return RM_EXIT_FAIL;
	rmail_err_clear(&err);
	if (ex.ops->user_get(ex.h, pos[1], &u, &err) < 0)
		return rm_cmd_fail(CMD, &err);
	snprintf(ex.user, sizeof(ex.user), "%s", u.address);
	if (rm_md_tree_create(ex.root, &ex.tree, &why) < 0)
		return rm_cmd_failf(CMD, "refusing %s: %s", ex.root, why);
	if (ex.ops->mbox_list(ex.h, ex.user, list_cb, &ex, &err) < 0) {
		rm_md_tree_close(&ex.tree);
		return rm_cmd_fail(CMD, &err);
	}
	/* sorted, so parents are written before their children */
	(void)rm_strset_has(&ex.mboxes, "", 0);
	for (i = 0; i < ex.mboxes.n; i++)
		if (export_mbox(&ex, ex.mboxes.v[i]) < 0)
			rc = RM_EXIT_FAIL;
	rm_strset_free(&ex.mboxes);
	write_subscriptions(&ex);
	rm_strset_free(&ex.subs);
	rm_md_tree_close(&ex.tree);
	printf("exported %zu messages from %zu mailboxes of %s to %s "
	       "(%zu already there, %zu failed, %zu refused)\n",
	       ex.done, ex.nfolders, ex.user, ex.root, ex.existed, ex.failed,
	       ex.refused);
	if (ex.dropped_kw > 0)
		rm_cmd_failf(CMD,
			     "%zu keywords not exported: Maildir has "
			     "26 keywords per folder",
			     ex.dropped_kw);
	if (ex.failed > 0 || ex.refused > 0)
		rc = RM_EXIT_FAIL;
	return rc;
}

const struct rm_command rm_cmd_export = {
	.name = "export",
	.usage = "maildir ADDRESS DIR: write a Maildir++ tree",
	.run = export_run,
};
