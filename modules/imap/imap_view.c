/*
 * Selected mailboxes.  Every session selecting a mailbox in this process
 * shares one store view through a tracker, which keeps a snapshot of the
 * view's messages from its last sync.  A session keeps only what it has
 * not been told yet, as a delta against that snapshot:
 *
 *   its map = { snapshot UIDs <= maxuid } - hidden + gone
 *
 * `gone` are UIDs expunged since (they keep their sequence numbers until
 * an EXPUNGE may be sent, RFC 3501 7.4.1), `hidden` are UIDs that became
 * visible below maxuid after it was announced (a cross-shard scan race)
 * and can never join the map.  The live view only supplies the current
 * flags and data of messages in the map; a UID missing from it is an
 * expunged message, answered from the last state the tracker saw.
 *
 * Until the view first changes, the snapshot is a frozen copy of the
 * store's view (mbox_freeze, ABI 1.7) instead of an array of its own:
 * a SELECT after a restart then reads no record it does not need (the
 * store reads a block of its view snapshot on first use), and the
 * tracker copies the records only when the snapshot must change.
 */
#include <stdlib.h>
#include <string.h>

#include "imap_session.h"
#include "imap_sorthdr.h"

/* ---- UID lists -------------------------------------------------- */

static size_t uids_lower(const struct imap_uids *u, uint32_t uid)
{
	size_t lo = 0, hi = u->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (u->v[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void uids_push(struct imap_uids *u, uint32_t uid)
{
	if (u->n == u->cap) {
		size_t cap = u->cap != 0 ? u->cap * 2 : 8;
		uint32_t *v = realloc(u->v, cap * sizeof(*v));

		if (v == NULL)
			abort();
		u->v = v;
		u->cap = cap;
	}
	u->v[u->n++] = uid;
}

void imap_uids_add(struct imap_uids *u, uint32_t uid)
{
	size_t i = uids_lower(u, uid);

	if (i < u->n && u->v[i] == uid)
		return;
	uids_push(u, uid);
	memmove(u->v + i + 1, u->v + i, (u->n - 1 - i) * sizeof(*u->v));
	u->v[i] = uid;
}

void imap_uids_del(struct imap_uids *u, uint32_t uid)
{
	size_t i = uids_lower(u, uid);

	if (i < u->n && u->v[i] == uid) {
		memmove(u->v + i, u->v + i + 1, (u->n - i - 1) * sizeof(*u->v));
		u->n--;
	}
}

bool imap_uids_has(const struct imap_uids *u, uint32_t uid)
{
	size_t i = uids_lower(u, uid);

	return i < u->n && u->v[i] == uid;
}

void imap_uids_free(struct imap_uids *u)
{
	free(u->v);
	memset(u, 0, sizeof(*u));
}

/* ---- message arrays --------------------------------------------- */

static size_t msgs_lower(const struct imap_msgs *m, uint32_t uid)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->v[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct rmail_msg *msgs_find(const struct imap_msgs *m,
					 uint32_t uid)
{
	size_t i = msgs_lower(m, uid);

	return i < m->n && m->v[i].uid == uid ? &m->v[i] : NULL;
}

static void msgs_push(struct imap_msgs *m, const struct rmail_msg *msg)
{
	if (m->n == m->cap) {
		size_t cap = m->cap != 0 ? m->cap * 2 : 64;
		struct rmail_msg *v = realloc(m->v, cap * sizeof(*v));

		if (v == NULL)
			abort();
		m->v = v;
		m->cap = cap;
	}
	m->v[m->n++] = *msg;
}

/* keep m sorted: the grave receives UIDs in the order they vanish */
static void msgs_insert(struct imap_msgs *m, const struct rmail_msg *msg)
{
	size_t i = msgs_lower(m, msg->uid);

	if (i < m->n && m->v[i].uid == msg->uid) {
		m->v[i] = *msg;
		return;
	}
	msgs_push(m, msg);
	memmove(&m->v[i + 1], &m->v[i], (m->n - 1 - i) * sizeof(*m->v));
	m->v[i] = *msg;
}

static void msgs_free(struct imap_msgs *m)
{
	free(m->v);
	memset(m, 0, sizeof(*m));
}

/* ---- the snapshot: a frozen store view, or the tracker's copy ----- */

static size_t snap_n(const struct imap_tracker *t)
{
	return t->base != NULL ? imap_store(t->mod, NULL)->mbox_count(t->base)
			       : t->snap.n;
}

/* a block the store finds damaged on first use is read again from its
 * shard, and may have fewer records than announced: past the end reads
 * as the highest UID, never a NULL */
static uint32_t snap_uid(const struct imap_tracker *t, size_t i)
{
	const struct rmail_msg *m;

	if (t->base == NULL)
		return t->snap.v[i].uid;
	m = imap_store(t->mod, NULL)->mbox_msg(t->base, (uint32_t)i);
	return m != NULL ? m->uid : UINT32_MAX;
}

static uint32_t snap_max(const struct imap_tracker *t);

/* every record a binary search touches reads its block of a frozen
 * copy: past the end (the last block, read by the open) and UIDs in it
 * (one block) first */
static size_t snap_lower(const struct imap_tracker *t, uint32_t uid)
{
	size_t lo = 0, hi;
	int64_t idx;

	if (t->base == NULL)
		return msgs_lower(&t->snap, uid);
	hi = snap_n(t);
	if (hi == 0 || uid > snap_max(t))
		return hi;
	idx = imap_store(t->mod, NULL)->mbox_find(t->base, uid);
	if (idx >= 0)
		return (size_t)idx;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (snap_uid(t, mid) < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct rmail_msg *snap_find(const struct imap_tracker *t,
					 uint32_t uid)
{
	const struct rmail_store_ops *ops;
	int64_t idx;

	if (t->base == NULL)
		return msgs_find(&t->snap, uid);
	ops = imap_store(t->mod, NULL);
	idx = ops->mbox_find(t->base, uid);
	return idx < 0 ? NULL : ops->mbox_msg(t->base, (uint32_t)idx);
}

static uint32_t snap_max(const struct imap_tracker *t)
{
	size_t n = snap_n(t);
	uint32_t u = n > 0 ? snap_uid(t, n - 1) : 0;

	return u == UINT32_MAX && t->base != NULL ? 0 : u;
}

/* the records of a store view (live or frozen) into out */
static void msgs_take(const struct rmail_store_ops *ops, struct rmail_mbox *mb,
		      struct imap_msgs *out)
{
	uint32_t i, n = ops->mbox_count(mb);

	out->n = 0;
	/* one allocation: a million messages would copy twice over */
	if (out->cap < n) {
		struct rmail_msg *v = realloc(out->v, n * sizeof(*v));

		if (v == NULL)
			abort();
		out->v = v;
		out->cap = n;
	}
	/* a block the store checks on first use may be read again from
	 * its shard: the view can end sooner than it said */
	for (i = 0; i < n; i++) {
		const struct rmail_msg *m = ops->mbox_msg(mb, i);

		if (m == NULL)
			break;
		out->v[out->n++] = *m;
	}
}

/* the snapshot as an array of the tracker's own, before it changes */
static void snap_own(struct imap_tracker *t)
{
	const struct rmail_store_ops *ops = imap_store(t->mod, NULL);

	if (t->base == NULL)
		return;
	msgs_take(ops, t->base, &t->snap);
	ops->mbox_close(&t->base);
}

size_t imap_snap_count(const struct imap_tracker *t)
{
	return snap_n(t);
}

bool imap_snap_has(const struct imap_tracker *t, uint32_t uid)
{
	return snap_find(t, uid) != NULL;
}

/* ---- the view --------------------------------------------------- */

uint32_t imap_view_lower(const struct rmail_store_ops *ops,
			 struct rmail_mbox *mb, uint32_t uid)
{
	return rmail_mbox_lower(ops, mb, ops->mbox_count(mb), uid);
}

/* snapshot messages up to maxuid (hidden ones included) */
static size_t snap_known(struct imap_session *s)
{
	if (s->maxuid == UINT32_MAX)
		return snap_n(s->tr);
	return snap_lower(s->tr, s->maxuid + 1);
}

static bool in_map(struct imap_session *s, uint32_t uid)
{
	if (uid == 0 || uid > s->maxuid)
		return false;
	if (imap_uids_has(&s->gone, uid))
		return true;
	return snap_find(s->tr, uid) != NULL && !imap_uids_has(&s->hidden, uid);
}

/* the sequence number uid has (or would have) in the map */
static uint32_t rank(struct imap_session *s, uint32_t uid)
{
	return (uint32_t)(snap_lower(s->tr, uid) - uids_lower(&s->hidden, uid) +
			  uids_lower(&s->gone, uid) + 1);
}

uint32_t imap_uid_to_seq(struct imap_session *s, uint32_t uid)
{
	return in_map(s, uid) ? rank(s, uid) : 0;
}

uint32_t imap_seq_to_uid(struct imap_session *s, uint32_t seq)
{
	const struct imap_tracker *t = s->tr;
	size_t lo = 0, hi = snap_known(s), j;

	if (seq == 0 || seq > s->exists)
		return 0;
	/* the first snapshot message whose rank reaches seq */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t u = snap_uid(t, mid);
		size_t r = mid + 1 - uids_lower(&s->hidden, u + 1) +
			   uids_lower(&s->gone, u);

		if (r < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < snap_known(s) && !imap_uids_has(&s->hidden, snap_uid(t, lo)) &&
	    rank(s, snap_uid(t, lo)) == seq)
		return snap_uid(t, lo);
	for (j = 0; j < s->gone.n; j++)
		if (rank(s, s->gone.v[j]) == seq)
			return s->gone.v[j];
	return 0;
}

const struct rmail_msg *imap_view_msg(struct imap_session *s, uint32_t uid)
{
	const struct rmail_store_ops *ops = imap_store(s->mod, NULL);
	int64_t idx;

	if (!in_map(s, uid) || imap_uids_has(&s->gone, uid))
		return NULL;
	idx = ops->mbox_find(s->tr->mb, uid);
	return idx < 0 ? NULL : ops->mbox_msg(s->tr->mb, (uint32_t)idx);
}

const struct rmail_msg *imap_view_find(struct imap_session *s, uint32_t uid,
				       uint32_t *seq_r)
{
	const struct rmail_store_ops *ops = imap_store(s->mod, NULL);
	size_t i = snap_lower(s->tr, uid); /* one search for both answers */
	int64_t idx;

	*seq_r = 0;
	if (uid == 0 || uid > s->maxuid || i >= snap_n(s->tr) ||
	    snap_uid(s->tr, i) != uid || imap_uids_has(&s->hidden, uid) ||
	    imap_uids_has(&s->gone, uid))
		return NULL;
	idx = ops->mbox_find(s->tr->mb, uid);
	if (idx < 0)
		return NULL;
	*seq_r = (uint32_t)(i - uids_lower(&s->hidden, uid) +
			    uids_lower(&s->gone, uid) + 1);
	return ops->mbox_msg(s->tr->mb, (uint32_t)idx);
}

bool imap_view_dead(struct imap_session *s, uint32_t uid, struct rmail_msg *m)
{
	const struct rmail_msg *d;

	if (!in_map(s, uid))
		return false;
	d = msgs_find(&s->tr->grave, uid);
	if (d == NULL)
		d = snap_find(s->tr, uid); /* left the live view */
	if (d == NULL)
		return false;
	*m = *d;
	return true;
}

void imap_map_start(struct imap_session *s, struct imap_map_it *it,
		    uint32_t from)
{
	it->si = snap_lower(s->tr, from);
	it->gi = uids_lower(&s->gone, from);
	it->hi = uids_lower(&s->hidden, from);
	it->seq = (uint32_t)(it->si - it->hi + it->gi);
	it->known = snap_known(s);
}

bool imap_map_next(struct imap_session *s, struct imap_map_it *it,
		   uint32_t *uid_r, uint32_t *seq_r, bool *dead_r)
{
	size_t known = it->known;

	for (;;) {
		uint32_t su = it->si < known ? snap_uid(s->tr, it->si) : 0;
		uint32_t gu = it->gi < s->gone.n ? s->gone.v[it->gi] : 0;

		if (su == UINT32_MAX && s->tr->base != NULL)
			su = 0; /* a damaged block read shorter */
		if (su == 0 && gu == 0)
			return false;
		if (gu != 0 && (su == 0 || gu < su)) {
			it->gi++;
			*uid_r = gu;
			*dead_r = true;
			*seq_r = ++it->seq;
			return true;
		}
		it->si++;
		if (it->hi < s->hidden.n && s->hidden.v[it->hi] == su) {
			it->hi++;
			continue;
		}
		*uid_r = su;
		*dead_r = false;
		*seq_r = ++it->seq;
		return true;
	}
}

/* ---- own changes ------------------------------------------------ */

static void selfchg_add(struct imap_selfchg *c, uint32_t uid, uint64_t modseq)
{
	if (c->n == c->cap) {
		size_t cap = c->cap != 0 ? c->cap * 2 : 8;
		void *v = realloc(c->v, cap * sizeof(*c->v));

		if (v == NULL)
			abort();
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n].uid = uid;
	c->v[c->n].modseq = modseq;
	c->n++;
}

/* true when the change is one of ours (and forget it) */
static bool selfchg_take(struct imap_selfchg *c, uint32_t uid, uint64_t modseq)
{
	size_t i, any = c->n;

	for (i = 0; i < c->n; i++) {
		if (c->v[i].uid != uid)
			continue;
		if (c->v[i].modseq == modseq)
			break;
		if (c->v[i].modseq == 0 && any == c->n)
			any = i;
	}
	if (i == c->n)
		i = any;
	if (i == c->n)
		return false;
	c->v[i] = c->v[--c->n];
	return true;
}

void imap_view_selfchg(struct imap_session *s, uint32_t uid,
		       const struct rmail_msg *before,
		       const struct rmail_msg *after)
{
	struct rmail_msg *sm;

	snap_own(s->tr);
	sm = (struct rmail_msg *)msgs_find(&s->tr->snap, uid);

	/* if another session expunges it before the next sync, its grave
	 * copy must not show flags older than this STORE's reply */
	if (sm != NULL) {
		sm->flags = after->flags;
		sm->keywords = after->keywords;
		if (after->modseq > sm->modseq)
			sm->modseq = after->modseq;
	}
	if (after->modseq != 0)
		selfchg_add(&s->selfchg, uid, after->modseq);
	else if (before == NULL || before->flags != after->flags ||
		 before->keywords != after->keywords)
		selfchg_add(&s->selfchg, uid, 0); /* a store without modseqs */
}

/* ---- \Recent ---------------------------------------------------- */

/*
 * Raise the mailbox's \Recent high-water mark to upto; the mark before.
 * Through the store (under its mailbox lock, so across processes) when
 * it can, else per process.
 */
static uint32_t recent_claim(struct imap_tracker *t, uint32_t upto)
{
	const struct rmail_store_ops *ops = imap_store(t->mod, NULL);
	struct rmail_err err;
	uint32_t prev;

	if (RMAIL_HAS(ops, struct rmail_store_ops, mbox_recent) &&
	    ops->mbox_recent != NULL &&
	    ops->mbox_recent(t->mb, upto, &prev, &err) == 0)
		return prev;
	prev = t->recent_hwm;
	if (upto > prev)
		t->recent_hwm = upto;
	return prev;
}

/* claim the snapshot messages above `from` up to `upto` */
static void recent_take(struct imap_session *s, uint32_t from, uint32_t upto)
{
	uint32_t prev;
	size_t i, n;

	/* IMAP4rev2 has no \Recent: the messages stay for rev1 sessions */
	if (s->readonly || s->rev2 || upto <= from)
		return;
	prev = recent_claim(s->tr, upto);
	if (prev > from)
		from = prev;
	n = snap_n(s->tr);
	for (i = snap_lower(s->tr, from + 1);
	     i < n && snap_uid(s->tr, i) <= upto; i++)
		imap_uids_add(&s->recent, snap_uid(s->tr, i));
}

/* ---- trackers --------------------------------------------------- */

struct change_ctx {
	struct imap_tracker *t;
	uint64_t max;
};

static void on_change(void *arg, const struct rmail_change *ch)
{
	struct change_ctx *x = arg;
	const struct rmail_store_ops *ops = imap_store(x->t->mod, NULL);
	struct imap_session *s;
	struct rmail_msg *sm;
	int64_t idx;

	if (ch->modseq > x->max)
		x->max = ch->modseq;
	if (ch->type != RMAIL_CHANGE_FLAGS)
		return;
	snap_own(x->t);
	/* the snapshot keeps the last flags for expunged messages */
	sm = (struct rmail_msg *)msgs_find(&x->t->snap, ch->uid);
	idx = ops->mbox_find(x->t->mb, ch->uid);
	if (sm != NULL && idx >= 0) {
		const struct rmail_msg *m =
			ops->mbox_msg(x->t->mb, (uint32_t)idx);

		sm->flags = m->flags;
		sm->keywords = m->keywords;
		sm->modseq = m->modseq;
	}
	for (s = x->t->sessions; s != NULL; s = s->tr_next) {
		/* its own STORE, already answered */
		if (selfchg_take(&s->selfchg, ch->uid, ch->modseq))
			continue;
		if (ch->uid <= s->maxuid)
			imap_uids_add(&s->flagchg, ch->uid);
	}
}

/* forget expunged messages no session still has in its map */
static void grave_prune(struct imap_tracker *t)
{
	struct imap_session *s;
	size_t i, k = 0;

	for (i = 0; i < t->grave.n; i++) {
		uint32_t u = t->grave.v[i].uid;

		for (s = t->sessions; s != NULL; s = s->tr_next)
			if (imap_uids_has(&s->gone, u))
				break;
		if (s != NULL)
			t->grave.v[k++] = t->grave.v[i];
	}
	t->grave.n = k;
}

static void vanished(struct imap_tracker *t, const struct rmail_msg *m)
{
	struct imap_session *s;
	bool keep = false;

	for (s = t->sessions; s != NULL; s = s->tr_next) {
		imap_uids_del(&s->flagchg, m->uid);
		if (imap_uids_has(&s->hidden, m->uid)) {
			imap_uids_del(&s->hidden, m->uid);
			continue;
		}
		if (m->uid <= s->maxuid) {
			imap_uids_add(&s->gone, m->uid);
			keep = true;
		}
	}
	if (keep)
		msgs_insert(&t->grave, m);
}

static void late(struct imap_tracker *t, uint32_t uid)
{
	struct imap_session *s;

	for (s = t->sessions; s != NULL; s = s->tr_next)
		if (uid <= s->maxuid)
			imap_uids_add(&s->hidden, uid);
}

/* the new snapshot from the old one and the refreshed view */
static void snap_merge(struct imap_tracker *t)
{
	const struct rmail_store_ops *ops = imap_store(t->mod, NULL);
	struct imap_msgs old = t->snap, nw = {0};
	uint32_t n = ops->mbox_count(t->mb), oldmax = snap_max(t), k = 0;
	size_t i;

	nw.cap = old.cap;
	nw.v = malloc(nw.cap * sizeof(*nw.v));
	if (nw.v == NULL)
		abort();
	for (i = 0; i < old.n; i++) {
		uint32_t u = old.v[i].uid;
		const struct rmail_msg *m;

		while (k < n && (m = ops->mbox_msg(t->mb, k))->uid < u) {
			late(t, m->uid);
			msgs_push(&nw, m);
			k++;
		}
		if (k < n && (m = ops->mbox_msg(t->mb, k))->uid == u) {
			msgs_push(&nw, m);
			k++;
			continue;
		}
		vanished(t, &old.v[i]);
	}
	for (; k < n; k++) {
		const struct rmail_msg *m = ops->mbox_msg(t->mb, k);

		if (m->uid <= oldmax)
			late(t, m->uid);
		msgs_push(&nw, m);
	}
	msgs_free(&old);
	t->snap = nw;
}

void imap_tracker_sync(struct imap_tracker *t)
{
	const struct rmail_store_ops *ops = imap_store(t->mod, NULL);
	struct rmail_mbox_status st = {.size = sizeof(st)};
	struct change_ctx x = {t, t->modseq};
	struct rmail_err err;
	uint32_t n, low, i;

	if (ops->mbox_refresh(t->mb, &err) < 0)
		return;
	ops->mbox_info(t->mb, &st);
	/* the same version: the frozen copy still is the view */
	if (t->base != NULL &&
	    ops->mbox_version(t->mb) == ops->mbox_version(t->base))
		goto flags;
	snap_own(t);
	n = ops->mbox_count(t->mb);
	low = imap_view_lower(ops, t->mb, snap_max(t) + 1);
	if (low == t->snap.n) {
		/* nothing gone, nothing late: the new UIDs join */
		for (i = low; i < n; i++)
			msgs_push(&t->snap, ops->mbox_msg(t->mb, i));
	} else {
		snap_merge(t);
	}
flags:
	/* flag changes after the snapshot, so they update it */
	if (st.highestmodseq != t->modseq) {
		/* a 1.1 store's log may start again low: take it all.  A
		 * store with durable modseqs never goes down; its
		 * HIGHESTMODSEQ may trail the modseqs of changes the view
		 * already holds, which must not replay them all */
		if (st.highestmodseq < t->modseq &&
		    !imap_condstore_supported(t->mod))
			t->modseq = 0;
		x.max = t->modseq;
		if (ops->mbox_changes(t->mb, t->modseq, on_change, &x, &err) ==
		    0)
			t->modseq = x.max > st.highestmodseq ? x.max
							     : st.highestmodseq;
	}
	t->uidnext = st.uidnext;
	t->uidvalidity = st.uidvalidity;
}

static void on_watch(void *arg)
{
	struct imap_tracker *t = arg;
	struct imap_session *s, *next;

	imap_tracker_sync(t);
	for (s = t->sessions; s != NULL; s = next) {
		next = s->tr_next;
		if (s->mode == IMAP_M_IDLE)
			imap_idle_notify(s);
	}
}

/*
 * A tracker is reused (another session on the mailbox, or this session
 * selecting it again) only while its mailbox is the one under that name:
 * one deleted and created again, or renamed away and another renamed
 * in, has another UIDVALIDITY, and gets a tracker of its own.
 */
static bool tracker_current(struct imap_tracker *t,
			    const struct rmail_store_ops *ops, void *h)
{
	struct rmail_mbox_status st = {.size = sizeof(st)};
	struct rmail_err err;

	return ops->mbox_status(h, t->user, t->name, &st, &err) == 0 &&
	       st.uidvalidity == t->uidvalidity;
}

static struct imap_tracker *tracker_get(struct imap_mod *mod, const char *user,
					const char *name, struct rmail_err *err)
{
	const struct rmail_store_ops *ops;
	struct imap_tracker *t;
	struct rmail_mbox_status st = {.size = sizeof(st)};
	void *h;

	ops = imap_store(mod, &h);
	for (t = mod->trackers; t != NULL; t = t->next)
		if (strcmp(t->user, user) == 0 && strcmp(t->name, name) == 0 &&
		    tracker_current(t, ops, h)) {
			t->refs++;
			imap_tracker_sync(t);
			return t;
		}
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		abort();
	t->mod = mod;
	if (ops->mbox_open(h, user, name, &t->mb, err) < 0) {
		free(t);
		return NULL;
	}
	if (ops->mbox_refresh(t->mb, err) < 0) {
		ops->mbox_close(&t->mb);
		free(t);
		return NULL;
	}
	t->user = strdup(user);
	t->name = strdup(name);
	t->refs = 1;
	ops->mbox_info(t->mb, &st);
	t->modseq = st.highestmodseq;
	t->uidnext = st.uidnext;
	t->uidvalidity = st.uidvalidity;
	if (!RMAIL_HAS(ops, struct rmail_store_ops, mbox_first_unseen) ||
	    ops->mbox_freeze == NULL || ops->mbox_version == NULL ||
	    ops->mbox_freeze(t->mb, &t->base, err) < 0) {
		t->base = NULL;
		msgs_take(ops, t->mb, &t->snap);
	}
	/* without a watch IDLE still works on the client's next command */
	if (ops->watch_add(h, user, name, on_watch, t, &t->watch, err) < 0)
		t->watch = NULL;
	t->next = mod->trackers;
	mod->trackers = t;
	return t;
}

void imap_tracker_hold(struct imap_tracker *t)
{
	t->refs++;
}

void imap_tracker_put(struct imap_tracker *t)
{
	const struct rmail_store_ops *ops = imap_store(t->mod, NULL);
	struct imap_tracker **pp;

	if (--t->refs > 0)
		return;
	for (pp = &t->mod->trackers; *pp != NULL; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	if (t->watch != NULL)
		ops->watch_del(&t->watch);
	if (t->base != NULL)
		ops->mbox_close(&t->base);
	ops->mbox_close(&t->mb);
	msgs_free(&t->snap);
	msgs_free(&t->grave);
	imap_sortcache_free(t->sortcache);
	free(t->user);
	free(t->name);
	free(t);
}

int imap_view_select(struct imap_session *s, const char *name, bool readonly,
		     struct rmail_err *err)
{
	struct imap_tracker *t;

	imap_view_unselect(s);
	t = tracker_get(s->mod, s->user, name, err);
	if (t == NULL)
		return -1;
	s->tr = t;
	s->tr_next = t->sessions;
	t->sessions = s;
	s->readonly = readonly;
	s->maxuid = snap_max(t);
	s->exists = (uint32_t)snap_n(t);
	s->nkw = 0;
	recent_take(s, 0, s->maxuid);
	s->state = IMAP_S_SELECTED;
	return 0;
}

uint32_t imap_view_first_unseen(struct imap_session *s)
{
	const struct rmail_store_ops *ops = imap_store(s->mod, NULL);
	const struct imap_tracker *t = s->tr;
	size_t i, n = snap_n(t);

	/* the session numbers its messages as the snapshot, from 1 */
	if (t->base != NULL && ops->mbox_first_unseen != NULL)
		return ops->mbox_first_unseen(t->base);
	for (i = 0; i < n; i++) {
		const struct rmail_msg *m =
			t->base != NULL ? ops->mbox_msg(t->base, (uint32_t)i)
					: &t->snap.v[i];

		if (m == NULL)
			break;
		if (!(m->flags & RMAIL_F_SEEN))
			return (uint32_t)i + 1;
	}
	return 0;
}

void imap_view_poll(struct imap_session *s)
{
	if (s->tr != NULL)
		imap_tracker_sync(s->tr);
}

void imap_view_unselect(struct imap_session *s)
{
	struct imap_session **pp;

	imap_saved_clear(s);
	if (s->tr == NULL)
		return;
	for (pp = &s->tr->sessions; *pp != NULL; pp = &(*pp)->tr_next)
		if (*pp == s) {
			*pp = s->tr_next;
			break;
		}
	imap_uids_free(&s->gone);
	grave_prune(s->tr);
	imap_tracker_put(s->tr);
	s->tr = NULL;
	s->tr_next = NULL;
	imap_uids_free(&s->hidden);
	imap_uids_free(&s->flagchg);
	imap_uids_free(&s->recent);
	free(s->selfchg.v);
	memset(&s->selfchg, 0, sizeof(s->selfchg));
	if (s->state == IMAP_S_SELECTED)
		s->state = IMAP_S_AUTH;
}

void imap_view_flags(struct imap_session *s)
{
	const char *const *kw;
	size_t nkw, k;

	nkw = imap_store(s->mod, NULL)->mbox_keywords(s->tr->mb, &kw);
	if (nkw > RMAIL_KEYWORD_MAX)
		nkw = RMAIL_KEYWORD_MAX;
	imap_printf(s, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen "
		       "\\Draft");
	for (k = 0; k < nkw; k++)
		imap_printf(s, " %s", kw[k]);
	/* \* promises that new keywords can be made: not once the
	 * table is full (RFC 3501 7.1) */
	imap_printf(s, ")\r\n* OK [PERMANENTFLAGS %s] Limited\r\n",
		    s->readonly		       ? "()"
		    : nkw >= RMAIL_KEYWORD_MAX ? IMAP_PERMFLAGS_FULL
					       : IMAP_PERMFLAGS);
	s->nkw = (uint32_t)nkw;
}

void imap_view_keywords(struct imap_session *s)
{
	const char *const *kw;

	if (s->tr != NULL &&
	    imap_store(s->mod, NULL)->mbox_keywords(s->tr->mb, &kw) > s->nkw &&
	    s->nkw < 64)
		imap_view_flags(s);
}

void imap_view_announce(struct imap_session *s, bool expunge_ok)
{
	struct imap_tracker *t = s->tr;
	uint32_t newmax;
	size_t i;

	if (t == NULL)
		return;
	imap_view_keywords(s);
	if (expunge_ok && s->gone.n > 0 && s->qresync) {
		/* one VANISHED for them all; the client renumbers (RFC
		 * 7162 3.2.10), so the order does not matter */
		struct imap_buf b = {0};
		struct imap_setw w = {.out = &b};

		for (i = 0; i < s->gone.n; i++) {
			imap_setw_add(&w, s->gone.v[i], s->gone.v[i]);
			imap_uids_del(&s->recent, s->gone.v[i]);
		}
		imap_setw_end(&w);
		imap_printf(s, "* VANISHED %.*s\r\n", (int)b.len, b.p);
		imap_buf_free(&b);
		s->exists -= (uint32_t)s->gone.n;
		s->gone.n = 0;
		grave_prune(t);
	}
	if (expunge_ok && s->gone.n > 0) {
		/* from the top: lower numbers stay valid */
		while (s->gone.n > 0) {
			uint32_t u = s->gone.v[s->gone.n - 1];

			imap_printf(s, "* %u EXPUNGE\r\n", rank(s, u));
			s->gone.n--;
			s->exists--;
			imap_uids_del(&s->recent, u);
		}
		grave_prune(t);
	}
	newmax = snap_max(t);
	if (newmax > s->maxuid) {
		size_t lo = snap_lower(t, s->maxuid + 1);
		uint32_t old = s->maxuid;

		s->maxuid = newmax;
		s->exists += (uint32_t)(snap_n(t) - lo);
		recent_take(s, old, newmax);
		imap_printf(s, "* %u EXISTS\r\n", s->exists);
		if (!s->rev2) /* RFC 9051 has no RECENT */
			imap_printf(s, "* %zu RECENT\r\n", s->recent.n);
	}
	for (i = 0; i < s->flagchg.n; i++) {
		uint32_t u = s->flagchg.v[i];
		const struct rmail_msg *m = imap_view_msg(s, u);

		if (m == NULL)
			continue;
		imap_printf(s, "* %u FETCH (UID %u ", rank(s, u), u);
		imap_write_flags(s, m);
		if (s->condstore)
			imap_write_modseq(s, m);
		imap_write(s, ")\r\n", 3);
	}
	s->flagchg.n = 0;
	/* a QRESYNC client keeps this to resync from later: only once
	 * every change it covers has been told */
	if (s->qresync && s->gone.n == 0 &&
	    imap_highestmodseq(s) != s->told_modseq) {
		s->told_modseq = imap_highestmodseq(s);
		imap_printf(s, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
			    (unsigned long long)s->told_modseq);
	}
}

/* ---- sets ------------------------------------------------------- */

int imap_set_uids(struct imap_session *s, const char *set, bool uid,
		  uint32_t **uids_r, size_t *n_r, const char **error_r)
{
	struct imap_seqset raw, res;
	struct imap_uids out = {0};
	struct imap_map_it it;
	uint32_t max = 0, i, u, seq;
	bool dead;

	*uids_r = NULL;
	*n_r = 0;
	if (imap_seqset_parse(set, strlen(set), &s->arena, &raw, error_r) < 0)
		return -1;
	if (raw.saved) {
		/* "$" holds UIDs whichever way the command numbers; those
		 * no longer in the map drop out below (RFC 5182 2.1) */
		res = (struct imap_seqset){.r = s->saved, .n = s->nsaved};
		uid = true;
	} else if (uid) {
		max = s->maxuid;
		if (raw.has_star && s->exists == 0)
			max = 0;
	} else {
		max = s->exists;
		if (raw.max_num > max) {
			*error_r = "Invalid message sequence number";
			return -1;
		}
	}
	if (!raw.saved && imap_seqset_resolve(&raw, max, &s->arena, &res) < 0) {
		*error_r = "Set too large";
		return -1;
	}
	/* resolved ranges are ascending and disjoint */
	for (i = 0; i < res.n; i++) {
		uint32_t lo = res.r[i].lo, hi = res.r[i].hi;

		if (lo == 0)
			lo = 1;
		if (!uid) {
			if (lo > hi || (lo = imap_seq_to_uid(s, lo)) == 0)
				continue;
			hi = imap_seq_to_uid(s, hi);
			if (hi == 0)
				hi = s->maxuid;
		}
		imap_map_start(s, &it, lo);
		while (imap_map_next(s, &it, &u, &seq, &dead) && u <= hi)
			uids_push(&out, u);
	}
	*uids_r = out.v;
	*n_r = out.n;
	return 0;
}
