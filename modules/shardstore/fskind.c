/*
 * Filesystem kind of a mail root (statfs f_type) and the mount options a
 * shared root needs there (see docs/operations.md, "Shared mail roots").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>

#include "fskind.h"

static const struct {
	unsigned long magic;
	const char *name;
} kinds[] = {
	{0x6969, "nfs"},
	{0x65735546, "fuse"}, /* GlusterFS, ceph-fuse, sshfs, ... */
	{0x00c36400, "ceph"},
	{0x517b, "smb"},
	{0xff534d42, "cifs"},
	{0xfe534d42, "smb2"},
	{0x5346414f, "afs"},
	{0x6b414653, "afs"}, /* kAFS */
	{0x01021997, "9p"},
	{0x73757245, "coda"},
	{0x0bd00bd0, "lustre"},
	{0x47504653, "gpfs"},
	{0x01161970, "gfs2"},  /* cluster filesystems: inotify sees only */
	{0x7461636f, "ocfs2"}, /* this node's changes */
	{0x20030528, "orangefs"},
};

/* "\040" and friends in mountinfo paths */
static void unescape(char *s)
{
	char *o = s;

	while (*s != '\0') {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
				      (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
}

static bool under(const char *path, const char *mnt, size_t *len_r)
{
	size_t n = strlen(mnt);

	if (strcmp(mnt, "/") == 0)
		n = 0;
	else if (strncmp(path, mnt, n) != 0 ||
		 (path[n] != '\0' && path[n] != '/'))
		return false;
	*len_r = n;
	return true;
}

/* the mount holding path: the longest mount point above it, the last
 * one listed when several are stacked */
static void mount_of(const char *path, struct rmfs_info *fi)
{
	char *real = realpath(path, NULL), *line = NULL;
	size_t cap = 0, best = 0;
	bool found = false;
	FILE *f;

	if (real == NULL)
		return;
	f = fopen("/proc/self/mountinfo", "re");
	while (f != NULL && getline(&line, &cap, f) > 0) {
		char *save = NULL, *tok, *mnt = NULL, *mopts = NULL;
		char *type = NULL, *sopts = NULL;
		int field = 0;
		bool dash = false;
		size_t len;

		line[strcspn(line, "\n")] = '\0';
		for (tok = strtok_r(line, " ", &save); tok != NULL;
		     tok = strtok_r(NULL, " ", &save), field++) {
			if (field == 4)
				mnt = tok;
			else if (field == 5)
				mopts = tok;
			else if (!dash && field > 5 && strcmp(tok, "-") == 0)
				dash = true, field = 100;
			else if (field == 101)
				type = tok;
			else if (field == 103)
				sopts = tok;
		}
		if (mnt == NULL || type == NULL)
			continue;
		unescape(mnt);
		if (!under(real, mnt, &len) || (found && len < best))
			continue;
		found = true;
		best = len;
		snprintf(fi->fstype, sizeof(fi->fstype), "%s", type);
		snprintf(fi->opts, sizeof(fi->opts), "%s%s%s",
			 mopts != NULL ? mopts : "", sopts != NULL ? "," : "",
			 sopts != NULL ? sopts : "");
	}
	if (f != NULL)
		fclose(f);
	free(line);
	free(real);
}

int rmfs_probe(int dirfd, const char *path, struct rmfs_info *fi)
{
	struct statfs sb;
	size_t i;

	memset(fi, 0, sizeof(*fi));
	if (fstatfs(dirfd, &sb) < 0)
		return -1;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if ((unsigned long)sb.f_type == kinds[i].magic) {
			fi->name = kinds[i].name;
			fi->network = true;
		}
	if (path != NULL)
		mount_of(path, fi);
	return 0;
}

/* the value of option `key=` in a comma list, or NULL; a bare `key`
 * gives "" */
static const char *opt(const char *opts, const char *key, char *val,
		       size_t valsz)
{
	size_t kl = strlen(key);
	const char *p = opts;

	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, ',');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

		if (n >= kl && strncmp(p, key, kl) == 0 &&
		    (n == kl || p[kl] == '=')) {
			size_t vl = n == kl ? 0 : n - kl - 1;

			if (vl >= valsz)
				vl = valsz - 1;
			memcpy(val, p + kl + (n == kl ? 0 : 1), vl);
			val[vl] = '\0';
			return val;
		}
		p = end != NULL ? end + 1 : NULL;
	}
	return NULL;
}

static bool opt_is(const char *opts, const char *key, const char *want)
{
	char v[64];

	return opt(opts, key, v, sizeof(v)) != NULL && strcmp(v, want) == 0;
}

int rmfs_advice(const struct rmfs_info *fi, unsigned i, char *out, size_t outsz,
		bool *definite)
{
	const char *items[4];
	bool def[4];
	unsigned n = 0;
	char v[64];
	bool is_nfs = fi->name != NULL && strcmp(fi->name, "nfs") == 0;

	if (!fi->network)
		return 0;
	if (is_nfs) {
		if (!(opt(fi->opts, "noac", v, sizeof(v)) != NULL ||
		      (opt_is(fi->opts, "acregmax", "0") &&
		       opt_is(fi->opts, "acdirmax", "0")))) {
			def[n] = true;
			items[n++] = "NFS attribute caching is on: mount with "
				     "actimeo=0 (or noac), or other hosts' "
				     "changes to keywords, users and quota are "
				     "seen up to a minute late";
		}
		if (opt(fi->opts, "local_lock", v, sizeof(v)) != NULL &&
		    strcmp(v, "none") != 0) {
			def[n] = true;
			items[n++] = "NFS local_lock is set: flock(2) then "
				     "locks only this host; mount with "
				     "local_lock=none";
		}
		if (opt_is(fi->opts, "vers", "3") ||
		    opt_is(fi->opts, "nfsvers", "3")) {
			def[n] = true;
			items[n++] = "NFSv3: locks depend on lockd (NLM); "
				     "mount NFSv4.1 or later";
		}
	} else if ((strcmp(fi->name, "fuse") == 0 ||
		    strncmp(fi->fstype, "fuse", 4) == 0) &&
		   strstr(fi->fstype, "ceph") == NULL) {
		def[n] = false;
		items[n++] = "FUSE filesystem: rmail cannot see its cache "
			     "settings; it needs uncached I/O and "
			     "attributes (GlusterFS: "
			     "direct-io-mode=enable,attribute-timeout=0,"
			     "entry-timeout=0,negative-timeout=0; "
			     "docs/operations.md)";
	} else if (strcmp(fi->name, "cifs") == 0 ||
		   strcmp(fi->name, "smb2") == 0 ||
		   strcmp(fi->name, "smb") == 0) {
		if (!opt_is(fi->opts, "cache", "none")) {
			def[n] = true;
			items[n++] = "SMB/CIFS client caching is on: mount "
				     "with cache=none,actimeo=0";
		}
	} else if (strcmp(fi->name, "ceph") != 0 &&
		   strstr(fi->fstype, "ceph") == NULL) {
		def[n] = false;
		items[n++] = "network filesystem: make sure attribute "
			     "caching is off and locks are shared between "
			     "hosts (docs/operations.md)";
	}
	if (i >= n)
		return 0;
	snprintf(out, outsz, "%s", items[i]);
	if (definite != NULL)
		*definite = def[i];
	return 1;
}
