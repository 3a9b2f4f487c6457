/*
 * The shard store's fsck.  It works on the public on-disk format
 * (docs/storage.md) with the store's own file-name grammar, under the
 * same UID lock as the store, so it is safe with a daemon running.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../modules/shardstore/ss_fname.h"
#include "store_check.h"

#define ORPHAN_AGE 3600

struct chk {
	FILE *out;
	bool repair;
	unsigned found;
	int left;
	char host[64];
};

/* a/b[/c] into out; false when it does not fit */
static bool pjoin(char *out, size_t sz, const char *a, const char *b,
		  const char *c)
{
	int n = c != NULL ? snprintf(out, sz, "%s/%s/%s", a, b, c)
			  : snprintf(out, sz, "%s/%s", a, b);

	return n >= 0 && (size_t)n < sz;
}

static void report(struct chk *c, bool fixed, const char *path,
		   const char *what)
{
	c->found++;
	if (!fixed)
		c->left++;
	fprintf(c->out, "%s: %s%s\n", path, what, fixed ? " (repaired)" : "");
}

static void rmtree(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	struct dirent *de;
	DIR *d;

	if (fd < 0) {
		unlinkat(dirfd, name, 0);
		return;
	}
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_type == DT_DIR)
			rmtree(fd, de->d_name);
		else
			unlinkat(fd, de->d_name, 0);
	}
	closedir(d);
	unlinkat(dirfd, name, AT_REMOVEDIR);
}

/* "{host}.{pid}.{seq}.tmp" of a dead process of this host, or old */
static bool orphan_tmp(struct chk *c, int dfd, const char *name)
{
	char host[64];
	int pid;
	unsigned seq;
	struct stat sb;
	size_t hl;
	const char *dot = strchr(name, '.');

	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    time(NULL) - sb.st_mtime > ORPHAN_AGE)
		return true;
	if (dot == NULL || (hl = (size_t)(dot - name)) >= sizeof(host))
		return false;
	memcpy(host, name, hl);
	host[hl] = '\0';
	if (sscanf(dot + 1, "%d.%u.tmp", &pid, &seq) != 2 ||
	    strcmp(host, c->host) != 0 || pid <= 0)
		return false;
	return kill(pid, 0) < 0 && errno == ESRCH;
}

static void check_tmp(struct chk *c, int mbfd, const char *path)
{
	int fd = openat(mbfd, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	struct dirent *de;
	char p[4096];
	DIR *d;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !orphan_tmp(c, fd, de->d_name))
			continue;
		if (!pjoin(p, sizeof(p), path, "tmp", de->d_name))
			continue;
		report(c, c->repair && unlinkat(fd, de->d_name, 0) == 0, p,
		       "orphan temporary");
	}
	closedir(d);
}

struct best {
	char name[SS_FNAME_MAX + 1];
};

/* one shard: stray names, wrong shard, duplicate UIDs; highest UID */
static uint32_t check_shard(struct chk *c, int mbfd, const char *sname,
			    uint32_t no, const char *path)
{
	struct best *best = calloc(1u << SS_SHARD_BITS, sizeof(*best));
	uint32_t high = 0, base = no << SS_SHARD_BITS;
	int fd = openat(mbfd, sname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	struct dirent *de;
	char p[4096], what[512];
	DIR *d;

	if (best == NULL || fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		free(best);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		struct ss_fname f;
		char *loser;
		size_t len = strlen(de->d_name);

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (!pjoin(p, sizeof(p), path, sname, de->d_name))
			continue;
		if (ss_fname_parse(de->d_name, len, &f) < 0) {
			report(c, false, p, "not a message file name");
			continue;
		}
		if (ss_shard_of(f.uid) != no) {
			report(c, false, p, "message in the wrong shard");
			continue;
		}
		if (f.uid > high)
			high = f.uid;
		if (best[f.uid - base].name[0] == '\0') {
			memcpy(best[f.uid - base].name, de->d_name, len + 1);
			continue;
		}
		/* the rule readers use: the name sorting last wins */
		if (strcmp(de->d_name, best[f.uid - base].name) > 0) {
			char tmp[SS_FNAME_MAX + 1];

			memcpy(tmp, best[f.uid - base].name, sizeof(tmp));
			memcpy(best[f.uid - base].name, de->d_name, len + 1);
			loser = tmp;
			snprintf(what, sizeof(what),
				 "uid %u under two names: kept %s, %s %s",
				 f.uid, best[f.uid - base].name,
				 c->repair ? "removed" : "would remove", loser);
			report(c, c->repair && unlinkat(fd, loser, 0) == 0,
			       path, what);
		} else {
			snprintf(what, sizeof(what),
				 "uid %u under two names: kept %s, %s %s",
				 f.uid, best[f.uid - base].name,
				 c->repair ? "removed" : "would remove",
				 de->d_name);
			report(c, c->repair && unlinkat(fd, de->d_name, 0) == 0,
			       path, what);
		}
	}
	closedir(d);
	free(best);
	return high;
}

static void check_counter(struct chk *c, int mbfd, uint32_t high,
			  const char *path)
{
	char buf[128], what[128];
	unsigned v, uv = 0, next = 0;
	int fd = openat(mbfd, "counter", O_RDWR | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0) {
		report(c, false, path, "no UID counter");
		return;
	}
	flock(fd, LOCK_EX);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[n < 0 ? 0 : n] = '\0';
	if (sscanf(buf, "%u %u %u", &v, &uv, &next) < 3 || uv == 0) {
		report(c, false, path, "unreadable UID counter");
	} else if (next <= high) {
		bool fixed = false;

		if (c->repair) {
			n = snprintf(buf, sizeof(buf), "1 %u %u -\n", uv,
				     high + 1);
			fixed = pwrite(fd, buf, (size_t)n, 0) == n &&
				ftruncate(fd, n) == 0;
		}
		snprintf(what, sizeof(what),
			 "UID counter %u is not above the highest UID %u", next,
			 high);
		report(c, fixed, path, what);
	}
	flock(fd, LOCK_UN);
	close(fd);
}

/* the 16-byte version-1 append record of docs/storage.md */
static void log_append(int mbfd, uint32_t uid, uint32_t flags)
{
	uint32_t check = 1u ^ uid ^ flags ^ 0x5a5a5a5au;
	unsigned char r[16] = {1, 1, 0, 0};
	int fd = openat(mbfd, "changes",
			O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return; /* no log: views rescan */
	for (int i = 0; i < 4; i++) {
		r[4 + i] = (unsigned char)(uid >> (8 * i));
		r[8 + i] = (unsigned char)(flags >> (8 * i));
		r[12 + i] = (unsigned char)(check >> (8 * i));
	}
	if (write(fd, r, sizeof(r)) != (ssize_t)sizeof(r))
		(void)0; /* the rename is the truth, the log a cache */
	close(fd);
}

/*
 * Commit a claim under a new UID, as the move would have: the UID lock,
 * the next UID, the rename into its shard, the counter, the log.
 */
static bool commit_claim(int mbfd, int tfd, const char *claim,
			 struct ss_fname *f)
{
	char buf[160], boot[64] = "-", shard[16], rel[SS_FNAME_MAX + 16];
	char name[SS_FNAME_MAX];
	unsigned v, uv = 0, next = 0;
	bool ok = false;
	int fd = openat(mbfd, "counter", O_RDWR | O_NOFOLLOW | O_CLOEXEC), n;
	ssize_t got;

	if (fd < 0)
		return false;
	flock(fd, LOCK_EX);
	got = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[got < 0 ? 0 : got] = '\0';
	if (sscanf(buf, "%u %u %u %63s", &v, &uv, &next, boot) < 3 || uv == 0 ||
	    next == 0 || next == UINT32_MAX)
		goto out;
	f->uid = next;
	snprintf(shard, sizeof(shard), "s%u", ss_shard_of(next));
	if (mkdirat(mbfd, shard, 0750) < 0 && errno != EEXIST)
		goto out;
	ss_fname_format(f, name);
	snprintf(rel, sizeof(rel), "%s/%s", shard, name);
	if (renameat(tfd, claim, mbfd, rel) < 0)
		goto out;
	n = snprintf(buf, sizeof(buf), "1 %u %u %s\n", uv, next + 1, boot);
	ok = pwrite(fd, buf, (size_t)n, 0) == n && ftruncate(fd, n) == 0;
	log_append(mbfd, next, f->flags);
out:
	flock(fd, LOCK_UN);
	close(fd);
	return ok;
}

/* ".move.{host}.{pid}.{seq}~{file name}": a move that never committed */
static void check_claims(struct chk *c, int mbfd, const char *path)
{
	int fd = openat(mbfd, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	char p[4096], host[64];
	struct ss_fname f;
	struct dirent *de;
	struct stat sb;
	const char *name, *tilde, *dot;
	unsigned seq;
	int pid;
	DIR *d;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, ".move.", 6) != 0)
			continue;
		name = de->d_name + 6;
		tilde = strchr(name, '~');
		dot = strchr(name, '.');
		if (tilde == NULL || dot == NULL || dot > tilde ||
		    (size_t)(dot - name) >= sizeof(host) ||
		    ss_fname_parse(tilde + 1, strlen(tilde + 1), &f) < 0)
			continue; /* not a claim of this format */
		memcpy(host, name, (size_t)(dot - name));
		host[dot - name] = '\0';
		/* a live mover's claim is about to be committed */
		if ((fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		     time(NULL) - sb.st_mtime <= ORPHAN_AGE) &&
		    (sscanf(dot + 1, "%d.%u~", &pid, &seq) != 2 ||
		     strcmp(host, c->host) != 0 || pid <= 0 ||
		     kill(pid, 0) == 0 || errno != ESRCH))
			continue;
		if (!pjoin(p, sizeof(p), path, "tmp", de->d_name))
			continue;
		report(c, c->repair && commit_claim(mbfd, fd, de->d_name, &f),
		       p, "leftover move claim");
	}
	closedir(d);
}

static void check_mailbox(struct chk *c, int mfd, const char *name,
			  const char *path)
{
	int fd = openat(mfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	uint32_t high = 0;
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return;
	check_tmp(c, fd, path);
	if ((d = fdopendir(dup(fd))) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		int64_t no = ss_shard_parse(de->d_name);
		uint32_t h;

		if (no < 0)
			continue;
		h = check_shard(c, fd, de->d_name, (uint32_t)no, path);
		if (h > high)
			high = h;
	}
	closedir(d);
	check_counter(c, fd, high, path);
	check_claims(c, fd, path);
	close(fd);
}

/* calls fn(c, dirfd, entry, path) for each non-dot entry of dir */
static void each(struct chk *c, int dirfd, const char *dir, const char *path,
		 void (*fn)(struct chk *, int, const char *, const char *))
{
	int fd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	struct dirent *de;
	char p[4096];
	DIR *d;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (!pjoin(p, sizeof(p), path, de->d_name, NULL))
			continue;
		fn(c, fd, de->d_name, p);
	}
	closedir(d);
}

static void check_mail_dir(struct chk *c, int ufd, const char *name,
			   const char *path)
{
	int fd = openat(ufd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	struct dirent *de;
	char p[4096];
	DIR *d;

	if (fd < 0 || (d = fdopendir(dup(fd))) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (!pjoin(p, sizeof(p), path, de->d_name, NULL))
			continue;
		if (strncmp(de->d_name, ".new.", 5) == 0 ||
		    strncmp(de->d_name, ".del.", 5) == 0) {
			if (c->repair)
				rmtree(fd, de->d_name);
			report(c, c->repair, p,
			       "leftover of an interrupted create/delete");
		} else if (de->d_name[0] != '.') {
			check_mailbox(c, fd, de->d_name, p);
		}
	}
	closedir(d);
	close(fd);
}

static void check_user(struct chk *c, int usersfd, const char *name,
		       const char *path)
{
	int fd = openat(usersfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	char p[4096];

	if (fd < 0)
		return;
	if (!pjoin(p, sizeof(p), path, "mail", NULL)) {
		close(fd);
		return;
	}
	check_mail_dir(c, fd, "mail", p);
	close(fd);
}

static void check_domain(struct chk *c, int domfd, const char *name,
			 const char *path)
{
	int fd = openat(domfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	char p[4096];

	if (fd < 0)
		return;
	if (!pjoin(p, sizeof(p), path, "users", NULL)) {
		close(fd);
		return;
	}
	each(c, fd, "users", p, check_user);
	close(fd);
}

int rm_store_check(const char *mail_root, bool repair, FILE *out,
		   unsigned *found_r)
{
	struct chk c = {.out = out, .repair = repair};
	char p[4096];
	size_t i;
	int root = open(mail_root, O_RDONLY | O_DIRECTORY);

	if (root < 0) {
		fprintf(out, "%s: %s\n", mail_root, strerror(errno));
		return -1;
	}
	if (gethostname(c.host, sizeof(c.host) - 1) < 0)
		memcpy(c.host, "localhost", 10);
	for (i = 0; c.host[i] != '\0'; i++)
		if (!((c.host[i] >= 'a' && c.host[i] <= 'z') ||
		      (c.host[i] >= 'A' && c.host[i] <= 'Z') ||
		      (c.host[i] >= '0' && c.host[i] <= '9') ||
		      c.host[i] == '-'))
			c.host[i] = '-';
	if (!pjoin(p, sizeof(p), mail_root, "domains", NULL)) {
		close(root);
		return -1;
	}
	each(&c, root, "domains", p, check_domain);
	close(root);
	if (found_r != NULL)
		*found_r = c.found;
	return c.left;
}
