/*
 * Shared mail roots on network filesystems: what the root is on (statfs,
 * once at open) and the one no-replace rename every "create unless it
 * exists" goes through.  GlusterFS (FUSE) and some NFS servers refuse
 * renameat2(RENAME_NOREPLACE) with EINVAL; a lock-protected "check, then
 * rename" is no substitute (flock lost updates across GlusterFS mounts),
 * so the fallbacks rely on operations that fail atomically with EEXIST
 * on the server: link(2) and mkdir(2).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fskind.h"
#include "ss_mbox.h"

void ss_fs_probe(struct ss_store *st)
{
	struct rmfs_info fi;

	st->fs_name = NULL;
	st->noreplace = -1; /* decided by the first no-replace rename */
	if (rmfs_probe(st->root_fd, NULL, &fi) == 0 && fi.network)
		st->fs_name = fi.name;
}

void ss_fs_log(struct ss_store *st)
{
	const struct ss_conf *c = ss_conf(st);
	struct rmfs_info fi;
	char advice[512];
	bool definite;
	unsigned i;

	if (st->fs_name == NULL || st->m == NULL)
		return;
	st->core->log(st->m, RMAIL_LOG_INFO,
		      "mail root %s is on a network filesystem (%s): change "
		      "logs are polled every %gs%s and appended under a lock",
		      st->mail_root, st->fs_name, c->poll_interval,
		      c->inotify ? " besides inotify" : "");
	if (rmfs_probe(st->root_fd, st->mail_root, &fi) < 0)
		return;
	for (i = 0; rmfs_advice(&fi, i, advice, sizeof(advice), &definite); i++)
		st->core->log(st->m, definite ? RMAIL_LOG_WARN : RMAIL_LOG_INFO,
			      "mail root %s: %s", st->mail_root, advice);
}

/* the first refusal switches the mail root to the fallback, logged once */
static void noreplace_refused(struct ss_store *st, int e)
{
	int was = __atomic_exchange_n(&st->noreplace, 0, __ATOMIC_ACQ_REL);

	if (was != 0 && st->m != NULL)
		st->core->log(st->m, RMAIL_LOG_INFO,
			      "mail root %s: renameat2 RENAME_NOREPLACE is not "
			      "supported (%s); using link(2) and mkdir(2) "
			      "instead",
			      st->mail_root, strerror(e));
}

static bool same_file(int adfd, const char *a, int bdfd, const char *b)
{
	struct stat sa, sb;

	return fstatat(adfd, a, &sa, AT_SYMLINK_NOFOLLOW) == 0 &&
	       fstatat(bdfd, b, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	       sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int file_fallback(int olddfd, const char *old, int newdfd,
			 const char *new_name)
{
	if (linkat(olddfd, old, newdfd, new_name, 0) < 0) {
		int e = errno;

		/* NFS: a retransmitted LINK whose first reply was lost
		 * answers EEXIST although it worked (open(2), O_EXCL) */
		if (e != EEXIST || !same_file(olddfd, old, newdfd, new_name)) {
			errno = e;
			return -1;
		}
	}
	unlinkat(olddfd, old, 0);
	return 0;
}

/* mkdir claims the name atomically; rename(2) may then replace that
 * empty directory, and no other creator renames onto it because its
 * own mkdir (or RENAME_NOREPLACE) already failed */
static int dir_fallback(int olddfd, const char *old, int newdfd,
			const char *new_name)
{
	int e;

	if (mkdirat(newdfd, new_name, 0700) < 0)
		return -1;
	if (renameat(olddfd, old, newdfd, new_name) == 0)
		return 0;
	e = errno;
	unlinkat(newdfd, new_name, AT_REMOVEDIR);
	errno = e;
	return -1;
}

int ss_rename_noreplace(struct ss_store *st, int olddfd, const char *old,
			int newdfd, const char *new_name, bool is_dir)
{
	if (__atomic_load_n(&st->noreplace, __ATOMIC_ACQUIRE) != 0) {
		if (renameat2(olddfd, old, newdfd, new_name,
			      RENAME_NOREPLACE) == 0) {
			__atomic_store_n(&st->noreplace, 1, __ATOMIC_RELEASE);
			return 0;
		}
		if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
			return -1;
		noreplace_refused(st, errno);
	}
	return is_dir ? dir_fallback(olddfd, old, newdfd, new_name)
		      : file_fallback(olddfd, old, newdfd, new_name);
}
