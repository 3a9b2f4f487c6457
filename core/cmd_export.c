/*
 * rmail export maildir ADDRESS DIR: a user's mailboxes as a Maildir++
 * tree (INBOX at the root, "A/B" as ".A.B", flags in ":2,", keywords
 * through dovecot-keywords).  Files are written in tmp/ and linked into
 * cur/, so an existing file is never overwritten and a message whose
 * base name is already in the folder is not written again.
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
#include "maildir.h"

#define CMD "export"

struct exp {
	const struct rmail_store_ops *ops;
	void *h;
	char user[RMAIL_ADDR_MAX + 1];
	const char *root;
	struct rm_strset mboxes;
	size_t done, existed, failed, nfolders, dropped_kw;
};

static void list_cb(void *arg, const struct rmail_mbox_entry *e)
{
	struct exp *ex = arg;

	if ((e->attrs & (RMAIL_MBOX_NOSELECT | RMAIL_MBOX_NONEXISTENT)) == 0)
		rm_strset_add(&ex->mboxes, e->name, strlen(e->name));
}

static int mkdir_p(const char *path)
{
	return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

static bool write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

static bool write_new(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	bool ok;

	if (fd < 0)
		return false;
	ok = write_all(fd, text, strlen(text));
	return close(fd) == 0 && ok;
}

static void existing_bases(const char *dir, struct rm_strset *set)
{
	static const char *const subs[] = {"cur", "new"};
	struct rm_md_name nm;
	struct dirent *de;
	size_t i;
	char *p;
	DIR *d;

	for (i = 0; i < 2; i++) {
		p = rm_md_xasprintf("%s/%s", dir, subs[i]);
		d = opendir(p);
		free(p);
		while (d != NULL && (de = readdir(d)) != NULL)
			if (rm_md_name_parse(de->d_name, &nm) == 0)
				rm_strset_add(set, de->d_name, nm.baselen);
		if (d != NULL)
			closedir(d);
	}
}

/* store keyword index -> letter (-1 = none), merged into the folder's
 * dovecot-keywords, which is rewritten only when it gains names */
static void keyword_map(struct exp *ex, const char *dir,
			const char *const *names, size_t n, int *letter)
{
	char *kw[RM_MD_KEYWORDS] = {0}, *text = NULL, *tmp, *path;
	size_t i, len = 0, cap = 0, dropped = 0;
	bool changed = false;
	FILE *fp;
	int k;

	path = rm_md_xasprintf("%s/dovecot-keywords", dir);
	fp = fopen(path, "re");
	if (fp != NULL) {
		char buf[8192];

		len = fread(buf, 1, sizeof(buf), fp);
		fclose(fp);
		rm_md_keywords_parse(buf, len, kw);
	}
	for (i = 0; i < n; i++) {
		letter[i] = -1;
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
		tmp = rm_md_xasprintf("%s/tmp/.dovecot-keywords.%d", dir,
				      (int)getpid());
		fp = open_memstream(&text, &cap);
		for (k = 0; fp != NULL && k < RM_MD_KEYWORDS; k++)
			if (kw[k] != NULL)
				fprintf(fp, "%d %s\n", k, kw[k]);
		if (fp != NULL)
			fclose(fp);
		if (text == NULL || !write_new(tmp, text) ||
		    rename(tmp, path) < 0) {
			rm_cmd_failf(CMD, "%s: %s", path, strerror(errno));
			unlink(tmp);
		}
		free(text);
		free(tmp);
	}
	for (k = 0; k < RM_MD_KEYWORDS; k++)
		free(kw[k]);
	free(path);
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
		if (!write_all(out, buf, (size_t)n))
			return -1;
	}
}

/* one message: tmp/<base>, mtime = internal date, link into cur/ */
static int export_msg(struct exp *ex, struct rmail_mbox *mb, const char *dir,
		      const struct rmail_msg *m, const int *letter, size_t nkw,
		      struct rm_strset *have)
{
	struct rmail_err err;
	struct timespec ts[2];
	char base[128], info[40], *tmp, *dst;
	uint32_t letters = 0;
	size_t i;
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
	tmp = rm_md_xasprintf("%s/tmp/%s", dir, base);
	dst = rm_md_xasprintf("%s/cur/%s%s", dir, base, info);
	rmail_err_clear(&err);
	if (ex->ops->msg_open(mb, m->uid, &in, &err) < 0) {
		rm_cmd_failf(CMD, "uid %u: %s", m->uid, err.msg);
		goto out;
	}
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0 || copy_fd(in, out) < 0) {
		rm_cmd_failf(CMD, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	ts[0].tv_sec = ts[1].tv_sec = m->internaldate;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (futimens(out, ts) < 0 || close(out) < 0) {
		out = -1;
		rm_cmd_failf(CMD, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	out = -1;
	if (link(tmp, dst) < 0) {
		if (errno == EEXIST) {
			ex->existed++;
			rc = 0;
		} else {
			rm_cmd_failf(CMD, "%s: %s", dst, strerror(errno));
		}
		goto out;
	}
	ex->done++;
	rc = 0;
out:
	if (out >= 0) {
		close(out);
	}
	if (in >= 0)
		close(in);
	unlink(tmp);
	free(tmp);
	free(dst);
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
			  const char *dir, uint32_t n)
{
	struct rmail_mbox_status st = {.size = sizeof(st)};
	char *path, *tmp, base[128];
	uint32_t i;
	FILE *fp;
	int fd;

	path = rm_md_xasprintf("%s/dovecot-uidlist", dir);
	tmp = rm_md_xasprintf("%s/tmp/.dovecot-uidlist.%d", dir, (int)getpid());
	if (access(path, F_OK) == 0 || errno != ENOENT)
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	fp = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (fp == NULL) {
		if (fd >= 0)
			close(fd);
		goto fail;
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
	if (fclose(fp) != 0 || link(tmp, path) < 0)
		goto fail;
	goto out;
fail:
	rm_cmd_failf(CMD, "%s: %s", path, strerror(errno));
out:
	unlink(tmp);
	free(tmp);
	free(path);
}

static int export_mbox(struct exp *ex, const char *name)
{
	struct rm_strset have = {0};
	struct rmail_mbox *mb = NULL;
	struct rmail_err err;
	const char *const *kwnames = NULL;
	char folder[4 * RMAIL_MBOX_NAME_MAX], *dir, *p;
	int letter[RMAIL_KEYWORD_MAX];
	uint32_t i, n;
	size_t nkw;
	int rc = 0, fd;

	if (strcasecmp(name, "INBOX") == 0) {
		dir = rm_md_xstrndup(ex->root, strlen(ex->root));
	} else if (rm_md_folder_encode(name, folder, sizeof(folder)) < 0) {
		rm_cmd_failf(CMD, "mailbox \"%s\": no Maildir++ name", name);
		return -1;
	} else {
		dir = rm_md_xasprintf("%s/%s", ex->root, folder);
	}
	rmail_err_clear(&err);
	if (ex->ops->mbox_open(ex->h, ex->user, name, &mb, &err) < 0) {
		free(dir);
		rm_cmd_failf(CMD, "mailbox \"%s\": %s", name, err.msg);
		return -1;
	}
	if (mkdir_p(dir) < 0) {
		rm_cmd_failf(CMD, "%s: %s", dir, strerror(errno));
		rc = -1;
		goto out;
	}
	for (i = 0; i < 3; i++) {
		static const char *const subs[] = {"tmp", "new", "cur"};

		p = rm_md_xasprintf("%s/%s", dir, subs[i]);
		if (mkdir_p(p) < 0) {
			rm_cmd_failf(CMD, "%s: %s", p, strerror(errno));
			rc = -1;
		}
		free(p);
	}
	if (rc < 0)
		goto out;
	if (dir != NULL && strcasecmp(name, "INBOX") != 0) {
		/* the Maildir++ marker of a folder */
		p = rm_md_xasprintf("%s/maildirfolder", dir);
		(void)write_new(p, "");
		free(p);
	}
	existing_bases(dir, &have);
	nkw = ex->ops->mbox_keywords(mb, &kwnames);
	if (nkw > RMAIL_KEYWORD_MAX)
		nkw = RMAIL_KEYWORD_MAX;
	keyword_map(ex, dir, kwnames, nkw, letter);
	n = ex->ops->mbox_count(mb);
	write_uidlist(ex, mb, dir, n);
	for (i = 0; i < n; i++) {
		const struct rmail_msg *m = ex->ops->mbox_msg(mb, i);

		if (m == NULL ||
		    export_msg(ex, mb, dir, m, letter, nkw, &have) < 0)
			ex->failed++;
	}
	ex->nfolders++;
	/* one sync for the whole folder instead of one per file */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		if (syncfs(fd) < 0)
			rc = -1;
		close(fd);
	}
out:
	ex->ops->mbox_close(&mb);
	rm_strset_free(&have);
	free(dir);
	return rc;
}

static int export_run(struct rm_cli *cli)
{
	struct exp ex = {0};
	struct rmail_user u;
	struct rmail_err err;
	const char *pos[3];
	size_t n, i;
	int rc = RM_EXIT_OK;

	if (rm_cmd_parse(CMD, cli->argc, cli->argv, NULL, pos, 3, &n) < 0)
		return RM_EXIT_USAGE;
	if (n != 3 || strcmp(pos[0], "maildir") != 0) {
		rm_cmd_failf(CMD, "usage: rmail export maildir ADDRESS DIR");
		return RM_EXIT_USAGE;
	}
	ex.root = pos[2];
	if (mkdir_p(ex.root) < 0)
		return rm_cmd_failf(CMD, "%s: %s", ex.root, strerror(errno));
	if (rm_cli_store(cli, &ex.ops, &ex.h) < 0)
		return RM_EXIT_FAIL;
	rmail_err_clear(&err);
	if (ex.ops->user_get(ex.h, pos[1], &u, &err) < 0)
		return rm_cmd_fail(CMD, &err);
	snprintf(ex.user, sizeof(ex.user), "%s", u.address);
	if (ex.ops->mbox_list(ex.h, ex.user, list_cb, &ex, &err) < 0)
		return rm_cmd_fail(CMD, &err);
	/* sorted, so parents are written before their children */
	(void)rm_strset_has(&ex.mboxes, "", 0);
	for (i = 0; i < ex.mboxes.n; i++)
		if (export_mbox(&ex, ex.mboxes.v[i]) < 0)
			rc = RM_EXIT_FAIL;
	rm_strset_free(&ex.mboxes);
	printf("exported %zu messages from %zu mailboxes of %s to %s "
	       "(%zu already there, %zu failed)\n",
	       ex.done, ex.nfolders, ex.user, ex.root, ex.existed, ex.failed);
	if (ex.dropped_kw > 0)
		rm_cmd_failf(CMD,
			     "%zu keywords not exported: Maildir has "
			     "26 keywords per folder",
			     ex.dropped_kw);
	if (ex.failed > 0)
		rc = RM_EXIT_FAIL;
	return rc;
}

const struct rm_command rm_cmd_export = {
	.name = "export",
	.usage = "maildir ADDRESS DIR: write a Maildir++ tree",
	.run = export_run,
};
