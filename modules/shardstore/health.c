/*
 * The health op: `/healthz`, `rmail check` and diagnose ask the store
 * whether it can serve, and hear its advice on the filesystem under it,
 * without knowing where the store keeps anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fskind.h"
#include "ss_mbox.h"

/* network-filesystem advice, one sentence per call of cb */
static void fs_advice(struct ss_store *st, rmail_check_fn cb, void *arg)
{
	struct rmfs_info fi;
	char what[768], advice[512];
	unsigned i;

	if (rmfs_probe(st->root_fd, st->mail_root, &fi) < 0 || !fi.network)
		return;
	snprintf(what, sizeof(what),
		 "on a network filesystem (%s%s%s): the store polls its "
		 "change logs (shardstore.poll_interval); see "
		 "docs/operations.md",
		 fi.name, fi.fstype[0] ? ", " : "", fi.fstype);
	cb(arg, st->mail_root, what, 0);
	for (i = 0; rmfs_advice(&fi, i, advice, sizeof(advice), NULL); i++)
		cb(arg, st->mail_root, advice, 0);
}

int ss_health(void *h, rmail_check_fn cb, void *arg, struct rmail_err *err)
{
	struct ss_store *st = h;

	/* every write of the store lands under domains/ */
	if (faccessat(st->root_fd, "domains", W_OK | X_OK, 0) < 0 &&
	    (errno != ENOENT || faccessat(st->root_fd, ".", W_OK, 0) < 0))
		return rmail_err_set(err, RMAIL_E_IO, "%s: %s", st->mail_root,
				     strerror(errno));
	if (cb != NULL)
		fs_advice(st, cb, arg);
	return 0;
}
