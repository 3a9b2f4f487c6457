/*
 * Frozen copies of a view (rmail_store_ops.mbox_freeze, ABI 1.7): what
 * an IMAP session announced stays answerable while the shared view is
 * refreshed under it, without copying every record at SELECT.
 *
 * A view's records live in per-shard arrays.  Those still in the view
 * snapshot's read-only mapping (not checked yet) never change: a check
 * copies them out, a change first takes a copy (ss_shard_own) and a
 * damaged block is replaced, the mapping staying as it is.  A frozen
 * copy points at those and checks them itself on first use, against its
 * own copy of the table entry; arrays already in memory may change in
 * place, so it copies them.  It holds the view, which keeps the mapping.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ss_mbox.h"

static int copy_shards(struct rmail_mbox *f, struct rmail_mbox *mb)
{
	size_t i;

	f->shards = calloc(mb->nshards ? mb->nshards : 1, sizeof(*f->shards));
	f->first = calloc(mb->nshards + 1, sizeof(*f->first));
	if (f->shards == NULL || f->first == NULL)
		return -1;
	for (i = 0; i < mb->nshards; i++) {
		const struct ss_shard *s = &mb->shards[i];
		struct ss_shard *c = &f->shards[i];

		*c = *s;
		c->touched = c->rescan = false;
		if (s->mapped || s->msgs == NULL) {
			/* shared: ss_mbox_free does not free mapped ones */
			f->nshards = i + 1;
			continue;
		}
		c->msgs = malloc(s->count ? s->count * sizeof(*c->msgs) : 1);
		if (c->msgs == NULL) {
			c->count = 0;
			f->nshards = i + 1;
			return -1;
		}
		memcpy(c->msgs, s->msgs, s->count * sizeof(*c->msgs));
		c->cap = s->count;
		f->nshards = i + 1;
	}
	memcpy(f->first, mb->first, (mb->nshards + 1) * sizeof(*f->first));
	return 0;
}

int ss_mbox_freeze(struct rmail_mbox *mb, struct rmail_mbox **frozen_r,
		   struct rmail_err *err)
{
	struct rmail_mbox *f;
	int rc;

	if (mb->frozen_of != NULL || !mb->scanned)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "freeze: not a refreshed view");
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
	f->st = mb->st;
	f->refs = 1;
	f->logfd = f->msfd = f->counterfd = -1;
	memcpy(f->user, mb->user, sizeof(f->user));
	memcpy(f->name, mb->name, sizeof(f->name));
	memcpy(f->rel, mb->rel, sizeof(f->rel));
	pthread_mutex_init(&f->lock, NULL);
	pthread_mutex_init(&f->alloc, NULL);
	pthread_mutex_init(&f->loglock, NULL);
	pthread_mutex_init(&f->snaplock, NULL);
	/* a damaged block is scanned from its shard (the one case where a
	 * frozen copy shows the directory as it is now, not as frozen) */
	f->dirfd = fcntl(mb->dirfd, F_DUPFD_CLOEXEC, 0);
	f->snap_fd =
		mb->snap_fd >= 0 ? fcntl(mb->snap_fd, F_DUPFD_CLOEXEC, 0) : -1;
	/* the snapshot writer checks blocks under both locks */
	pthread_mutex_lock(&mb->lock);
	pthread_mutex_lock(&mb->snaplock);
	rc = copy_shards(f, mb);
	f->count = mb->count;
	f->unseen = mb->unseen;
	f->size = mb->size;
	f->uidvalidity = mb->uidvalidity;
	f->uidnext = mb->uidnext;
	f->special_use = mb->special_use;
	f->highest = mb->highest;
	f->uid_hi = mb->uid_hi;
	f->snap_maplen = mb->snap_maplen;
	f->scanned = true;
	f->gen = __atomic_load_n(&mb->gen, __ATOMIC_ACQUIRE);
	pthread_mutex_unlock(&mb->snaplock);
	pthread_mutex_unlock(&mb->lock);
	if (rc < 0 || f->dirfd < 0) {
		ss_mbox_free(f);
		return rmail_err_set(err, RMAIL_E_INTERNAL, "freeze: %s",
				     rc < 0 ? "out of memory"
					    : "no descriptor");
	}
	pthread_mutex_lock(&mb->st->lock);
	mb->refs++;
	pthread_mutex_unlock(&mb->st->lock);
	f->frozen_of = mb;
	*frozen_r = f;
	return 0;
}

uint64_t ss_mbox_version(struct rmail_mbox *mb)
{
	return __atomic_load_n(&mb->gen, __ATOMIC_ACQUIRE);
}

/* the per-shard unseen sums (the snapshot table's, until a block is
 * read) say which block holds it: only that one is read */
uint32_t ss_mbox_first_unseen(struct rmail_mbox *mb)
{
	size_t i;
	uint32_t k;

	for (i = 0; i < mb->nshards; i++) {
		struct ss_shard *s = &mb->shards[i];

		if (s->unseen == 0 || ss_shard_ready(mb, s) < 0 ||
		    s->msgs == NULL)
			continue;
		for (k = 0; k < s->count; k++)
			if (!(s->msgs[k].flags & RMAIL_F_SEEN))
				return mb->first[i] + k + 1;
	}
	return 0;
}
