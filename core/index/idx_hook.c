/*
 * Every change the daemon makes to a mailbox's messages asks the index
 * for an update, in one place: the core's copy of the store's table
 * (what rm_store and rmail_core.store hand out) has its append, copy,
 * move and expunge entries wrapped.  So SMTP and LMTP deliveries,
 * Sieve fileinto, the API's sends and moves and IMAP alike are
 * indexed without each module asking, and always after the store
 * answered: the request only queues work for the index thread, it
 * never sits on the acknowledgement path.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idx.h"
#include "index.h"
#include "rm.h"

static struct rmail_store_ops real;

/* what an open view or a running append belongs to, by pointer */
struct owner {
	struct owner *next;
	const void *key;
	unsigned refs;
	char *user, *mailbox;
};

#define NBUCKET 256

static pthread_mutex_t hmu = PTHREAD_MUTEX_INITIALIZER;
static struct owner *bucket[NBUCKET];
static size_t nowners; /* under hmu */

size_t rm_index_hook_tracked(void)
{
	size_t n;

	pthread_mutex_lock(&hmu);
	n = nowners;
	pthread_mutex_unlock(&hmu);
	return n;
}

static size_t slot(const void *key)
{
	uintptr_t k = (uintptr_t)key;

	return (size_t)((k >> 4) ^ (k >> 12)) % NBUCKET;
}

static void owner_add(const void *key, const char *user, const char *mailbox)
{
	struct owner *o;
	size_t b = slot(key);

	pthread_mutex_lock(&hmu);
	for (o = bucket[b]; o != NULL; o = o->next)
		if (o->key == key)
			break;
	if (o == NULL) {
		o = rm_xcalloc(1, sizeof(*o));
		o->key = key;
		o->user = rm_xstrdup(user);
		o->mailbox = rm_xstrdup(mailbox);
		o->next = bucket[b];
		bucket[b] = o;
		nowners++;
	}
	o->refs++;
	pthread_mutex_unlock(&hmu);
}

static void owner_put(const void *key)
{
	struct owner **pp, *o;

	pthread_mutex_lock(&hmu);
	for (pp = &bucket[slot(key)]; (o = *pp) != NULL; pp = &o->next)
		if (o->key == key)
			break;
	if (o != NULL && --o->refs == 0) {
		*pp = o->next;
		nowners--;
		free(o->user);
		free(o->mailbox);
		free(o);
	}
	pthread_mutex_unlock(&hmu);
}

/* ask for an update of key's mailbox (or of `other` of the same user) */
static void touch(const void *key, const char *other)
{
	char user[RMAIL_ADDR_MAX + 1], mbox[RMAIL_MBOX_NAME_MAX + 1];
	struct owner *o;
	bool found = false;

	pthread_mutex_lock(&hmu);
	for (o = bucket[slot(key)]; o != NULL; o = o->next)
		if (o->key == key)
			break;
	if (o != NULL) {
		snprintf(user, sizeof(user), "%s", o->user);
		snprintf(mbox, sizeof(mbox), "%s",
			 other != NULL ? other : o->mailbox);
		found = true;
	}
	pthread_mutex_unlock(&hmu);
	if (found)
		rm_index_update(user, mbox);
}

static int w_mbox_open(void *h, const char *user, const char *name,
		       struct rmail_mbox **mb_r, struct rmail_err *err)
{
	int rc = real.mbox_open(h, user, name, mb_r, err);

	if (rc == 0 && *mb_r != NULL)
		owner_add(*mb_r, user, name);
	return rc;
}

static void w_mbox_close(struct rmail_mbox **mb)
{
	if (mb != NULL && *mb != NULL)
		owner_put(*mb);
	real.mbox_close(mb);
}

static int w_msg_copy(struct rmail_mbox *mb, const uint32_t *uids, size_t n,
		      const char *dst, uint32_t *dst_uids_r,
		      uint32_t *dst_uidvalidity_r, struct rmail_err *err)
{
	int rc = real.msg_copy(mb, uids, n, dst, dst_uids_r, dst_uidvalidity_r,
			       err);

	if (rc == 0)
		touch(mb, dst);
	return rc;
}

static int w_msg_move(struct rmail_mbox *mb, const uint32_t *uids, size_t n,
		      const char *dst, uint32_t *dst_uids_r,
		      uint32_t *dst_uidvalidity_r, struct rmail_err *err)
{
	int rc = real.msg_move(mb, uids, n, dst, dst_uids_r, dst_uidvalidity_r,
			       err);

	if (rc == 0) {
		touch(mb, dst);
		touch(mb, NULL); /* the sources' rows go */
	}
	return rc;
}

static int w_msg_move_some(struct rmail_mbox *mb, const uint32_t *uids,
			   size_t n, const char *dst, uint32_t *dst_uids_r,
			   uint32_t *dst_uidvalidity_r, struct rmail_err *err)
{
	int rc = real.msg_move_some(mb, uids, n, dst, dst_uids_r,
				    dst_uidvalidity_r, err);

	if (rc == 0) {
		touch(mb, dst);
		touch(mb, NULL);
	}
	return rc;
}

static int w_msg_expunge(struct rmail_mbox *mb, const uint32_t *uids, size_t n,
			 struct rmail_err *err)
{
	int rc = real.msg_expunge(mb, uids, n, err);

	if (rc == 0)
		touch(mb, NULL);
	return rc;
}

static int w_append_begin(void *h, const char *user, const char *mailbox,
			  const struct rmail_append_opts *o,
			  struct rmail_append **ap_r, struct rmail_err *err)
{
	int rc = real.append_begin(h, user, mailbox, o, ap_r, err);

	if (rc == 0 && *ap_r != NULL)
		owner_add(*ap_r, user, mailbox);
	return rc;
}

static int w_append_commit(struct rmail_append *ap, uint32_t *uid_r,
			   uint32_t *uidvalidity_r, struct rmail_err *err)
{
	int rc = real.append_commit(ap, uid_r, uidvalidity_r, err);

	if (rc == 0)
		touch(ap, NULL);
	return rc;
}

static int w_append_commit_many(struct rmail_append *const *aps, size_t n,
				uint32_t *uid_first_r, uint32_t *uidvalidity_r,
				struct rmail_err *err)
{
	int rc = real.append_commit_many(aps, n, uid_first_r, uidvalidity_r,
					 err);

	if (rc == 0 && n > 0)
		touch(aps[0], NULL);
	return rc;
}

static void w_append_free(struct rmail_append **ap)
{
	if (ap != NULL && *ap != NULL)
		owner_put(*ap);
	real.append_free(ap);
}

#define WRAP(f)                                                                \
	do {                                                                   \
		if (RMAIL_HAS(ops, struct rmail_store_ops, f) &&               \
		    ops->f != NULL)                                            \
			ops->f = w_##f;                                        \
	} while (0)

void rm_index_hook_store(struct rmail_store_ops *ops)
{
	/* the index off (index.enabled, read at load: the update thread
	 * starts only then too): the table stays the store's own, no
	 * lookup or allocation per view or append */
	if (idx_dir()[0] == '\0')
		return;
	/* views and appends are tracked only where both ends are wrapped */
	if (ops->mbox_open == w_mbox_open || ops->mbox_open == NULL ||
	    ops->mbox_close == NULL || ops->append_begin == NULL ||
	    ops->append_free == NULL)
		return;
	real = *ops;
	WRAP(mbox_open);
	WRAP(mbox_close);
	WRAP(msg_copy);
	WRAP(msg_move);
	WRAP(msg_move_some);
	WRAP(msg_expunge);
	WRAP(append_begin);
	WRAP(append_commit);
	WRAP(append_commit_many);
	WRAP(append_free);
}
