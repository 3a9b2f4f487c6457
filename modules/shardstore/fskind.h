/*
 * What filesystem a mail root is on, and what a shared root on it needs.
 * No store state; `rmail check` hears it through the health op.
 */
#ifndef SS_FSKIND_H
#define SS_FSKIND_H

#include <stdbool.h>
#include <stddef.h>

struct rmfs_info {
	const char *name; /* "nfs", "fuse", "ceph", "cifs"...; NULL: local */
	bool network;	  /* another host's changes are invisible to inotify */
	char fstype[64]; /* from /proc/self/mountinfo ("nfs4", "fuse.glusterfs")
			  */
	char opts[2048]; /* its mount and superblock options, comma-separated */
};

/* fstatfs(dirfd) for the kind; `path` (may be NULL) finds the mount
 * options.  0, or -1 with errno. */
int rmfs_probe(int dirfd, const char *path, struct rmfs_info *fi);

/*
 * The next thing the mount lacks for a shared mail root (index i from 0
 * up), as one sentence in out; *definite is false when rmail cannot see
 * the setting and only reminds.  0 when there is no i-th item.
 */
int rmfs_advice(const struct rmfs_info *fi, unsigned i, char *out, size_t outsz,
		bool *definite);

#endif
