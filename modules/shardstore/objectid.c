/*
 * RFC 8474 object ids (store ops 1.4), derived from what the layout
 * already keeps, so no file format changes and every process agrees:
 *
 *  - EMAILID: the message file's inode and modification time (ns).
 *    A message file is written once, before its commit rename, and
 *    never again: flag changes and MOVE rename it (same inode, same
 *    mtime), COPY links it (the copy shares the id, which RFC 8474
 *    allows: same content).  An inode number freed by an expunge may
 *    come back, but not with the same nanosecond mtime.  A message
 *    moved or copied across filesystems (EXDEV: the bytes are copied)
 *    and a restored backup get new ids.
 *  - MAILBOXID: the mailbox directory's inode and its UIDVALIDITY.
 *    RENAME renames the directory (same inode, same UIDVALIDITY); a
 *    new mailbox that reuses a freed inode has a new UIDVALIDITY.
 *    Setting the UIDVALIDITY of an empty mailbox (an import) gives it
 *    a new id.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ss.h"
#include "ss_mbox.h"

/* renames racing the stat, as in msg.c */
#define SS_CAS_TRIES 64

int ss_msg_emailid(struct rmail_mbox *mb, uint32_t uid, char *out, size_t outsz,
		   struct rmail_err *err)
{
	struct ss_fname f;
	char rel[SS_FNAME_MAX + 16];
	struct stat sb;
	int tries, rc = -1;

	if (ss_msg_state(mb, uid, &f) < 0)
		return rmail_err_set(err, RMAIL_E_NOENT, "no message %u", uid);
	/* a flag change elsewhere renames the file: look again */
	for (tries = 0; tries < SS_CAS_TRIES; tries++) {
		ss_msg_rel(&f, rel, sizeof(rel));
		rc = fstatat(mb->dirfd, rel, &sb, AT_SYMLINK_NOFOLLOW);
		if (rc == 0 || errno != ENOENT)
			break;
		if (ss_msg_locate(mb, uid, &f) < 0)
			return rmail_err_set(err, RMAIL_E_NOENT,
					     "message %u expunged", uid);
	}
	if (rc < 0)
		return rmail_err_set(err, RMAIL_E_IO, "stat: %s",
				     strerror(errno));
	if ((size_t)snprintf(out, outsz, "M%llx-%llx-%lx",
			     (unsigned long long)sb.st_ino,
			     (unsigned long long)sb.st_mtim.tv_sec,
			     (unsigned long)sb.st_mtim.tv_nsec) >= outsz)
		return rmail_err_set(err, RMAIL_E_INVAL, "buffer too small");
	return 0;
}

int ss_mbox_objectid(void *h, const char *user, const char *name, char *out,
		     size_t outsz, struct rmail_err *err)
{
	struct rmail_mbox_status st = {.size = sizeof(st)};
	struct rmail_mbox *mb;
	struct stat sb;
	int rc;

	if (ss_mbox_open(h, user, name, &mb, err) < 0)
		return -1;
	pthread_mutex_lock(&mb->lock);
	ss_mbox_info(mb, &st);
	pthread_mutex_unlock(&mb->lock);
	rc = fstat(mb->dirfd, &sb);
	ss_mbox_close(&mb);
	if (rc < 0)
		return rmail_err_set(err, RMAIL_E_IO, "stat: %s",
				     strerror(errno));
	if ((size_t)snprintf(out, outsz, "F%llx-%x",
			     (unsigned long long)sb.st_ino,
			     st.uidvalidity) >= outsz)
		return rmail_err_set(err, RMAIL_E_INVAL, "buffer too small");
	return 0;
}
