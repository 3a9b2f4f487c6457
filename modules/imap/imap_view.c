/*
 * Selected mailboxes.  Every session selecting a mailbox in this process
 * shares one store view through a tracker; a session keeps only what it
 * has not been told yet: the highest UID it announced, the UIDs expunged
 * from the view since (still holding their sequence numbers until an
 * EXPUNGE may be sent) and the UIDs whose flags changed.
 *
 * Sequence number n is the n-th UID of the merged list
 *   { view UIDs <= maxuid } + { gone }.
 */
#include <stdlib.h>
#include <string.h>

#include "imap_session.h"

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

/* ---- the view --------------------------------------------------- */

uint32_t imap_view_lower(struct rmail_mbox *mb, uint32_t uid)
{
	const struct rmail_store_ops *ops = imap_store(NULL);
	uint32_t lo = 0, hi = ops->mbox_count(mb);

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (ops->mbox_msg(mb, mid)->uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* view messages this session knows about */
static uint32_t known_count(struct imap_session *s)
{
	if (s->maxuid == UINT32_MAX)
		return imap_store(NULL)->mbox_count(s->tr->mb);
	return imap_view_lower(s->tr->mb, s->maxuid + 1);
}

uint32_t imap_seq_to_uid(struct imap_session *s, uint32_t seq)
{
	const struct rmail_store_ops *ops = imap_store(NULL);
	struct rmail_mbox *mb = s->tr->mb;
	uint32_t known = known_count(s);
	size_t j;

	if (seq == 0)
		return 0;
	for (j = 0; j < s->gone.n; j++) {
		uint32_t pos =
			(uint32_t)j + imap_view_lower(mb, s->gone.v[j]) + 1;

		if (seq < pos)
			break;
		if (seq == pos)
			return s->gone.v[j];
	}
	if (seq - 1 - j >= known)
		return 0;
	return ops->mbox_msg(mb, (uint32_t)(seq - 1 - j))->uid;
}

uint32_t imap_uid_to_seq(struct imap_session *s, uint32_t uid)
{
	const struct rmail_store_ops *ops = imap_store(NULL);
	struct rmail_mbox *mb = s->tr->mb;
	size_t before = uids_lower(&s->gone, uid);
	int64_t idx;

	if (uid > s->maxuid)
		return 0;
	if (before < s->gone.n && s->gone.v[before] == uid)
		return (uint32_t)before + imap_view_lower(mb, uid) + 1;
	idx = ops->mbox_find(mb, uid);
	if (idx < 0)
		return 0;
	return (uint32_t)idx + 1 + (uint32_t)before;
}

const struct rmail_msg *imap_view_msg(struct imap_session *s, uint32_t uid)
{
	const struct rmail_store_ops *ops = imap_store(NULL);
	int64_t idx;

	if (uid > s->maxuid)
		return NULL;
	idx = ops->mbox_find(s->tr->mb, uid);
	return idx < 0 ? NULL : ops->mbox_msg(s->tr->mb, (uint32_t)idx);
}

/* ---- trackers --------------------------------------------------- */

static void snap_take(struct imap_tracker *t)
{
	const struct rmail_store_ops *ops = imap_store(NULL);
	uint32_t i, n = ops->mbox_count(t->mb);

	t->snap.n = 0;
	for (i = 0; i < n; i++)
		uids_push(&t->snap, ops->mbox_msg(t->mb, i)->uid);
}

struct change_ctx {
	struct imap_tracker *t;
	uint64_t max;
};

static void on_change(void *arg, const struct rmail_change *ch)
{
	struct change_ctx *x = arg;
	struct imap_session *s;

	if (ch->modseq > x->max)
		x->max = ch->modseq;
	if (ch->type != RMAIL_CHANGE_FLAGS)
		return;
	for (s = x->t->sessions; s != NULL; s = s->tr_next) {
		if (imap_uids_has(&s->selfchg, ch->uid)) {
			/* its own STORE, already answered; the FETCH of
			 * a later change shows the current flags anyway */
			imap_uids_del(&s->selfchg, ch->uid);
			continue;
		}
		if (ch->uid <= s->maxuid)
			imap_uids_add(&s->flagchg, ch->uid);
	}
}

void imap_tracker_sync(struct imap_tracker *t)
{
	const struct rmail_store_ops *ops = imap_store(NULL);
	struct rmail_mbox_status st = {.size = sizeof(st)};
	struct change_ctx x = {t, t->modseq};
	struct rmail_err err;
	struct imap_session *s;
	uint32_t n, appended, oldmax;
	size_t i, k;

	if (ops->mbox_refresh(t->mb, &err) < 0)
		return;
	ops->mbox_info(t->mb, &st);
	if (st.highestmodseq != t->modseq) {
		if (st.highestmodseq < t->modseq)
			t->modseq = 0; /* a new log: take it all */
		x.max = t->modseq;
		if (ops->mbox_changes(t->mb, t->modseq, on_change, &x, &err) ==
		    0)
			t->modseq = x.max > st.highestmodseq ? x.max
							     : st.highestmodseq;
	}
	/* expunges, whoever made them: the snapshot minus the view */
	n = ops->mbox_count(t->mb);
	oldmax = t->snap.n > 0 ? t->snap.v[t->snap.n - 1] : 0;
	appended = n - imap_view_lower(t->mb, oldmax + 1);
	if (n - appended == t->snap.n) {
		/* nothing gone: only the new UIDs join the snapshot */
		for (i = n - appended; i < n; i++)
			uids_push(&t->snap,
				  ops->mbox_msg(t->mb, (uint32_t)i)->uid);
		t->uidnext = st.uidnext;
		return;
	}
	{
		for (i = 0, k = 0; i < t->snap.n; i++) {
			uint32_t u = t->snap.v[i];

			while (k < n &&
			       ops->mbox_msg(t->mb, (uint32_t)k)->uid < u)
				k++;
			if (k < n &&
			    ops->mbox_msg(t->mb, (uint32_t)k)->uid == u)
				continue;
			for (s = t->sessions; s != NULL; s = s->tr_next) {
				if (u <= s->maxuid)
					imap_uids_add(&s->gone, u);
				imap_uids_del(&s->flagchg, u);
			}
		}
	}
	t->uidnext = st.uidnext;
	t->uidvalidity = st.uidvalidity;
	snap_take(t);
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
	imap_flush();
}

static struct imap_tracker *tracker_get(const char *user, const char *name,
					struct rmail_err *err)
{
	const struct rmail_store_ops *ops;
	struct imap_tracker *t;
	struct rmail_mbox_status st = {.size = sizeof(st)};
	void *h;

	for (t = imap_g.trackers; t != NULL; t = t->next)
		if (strcmp(t->user, user) == 0 && strcmp(t->name, name) == 0) {
			t->refs++;
			imap_tracker_sync(t);
			return t;
		}
	ops = imap_store(&h);
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		abort();
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
	snap_take(t);
	/* without a watch IDLE still works on the client's next command */
	if (ops->watch_add(h, user, name, on_watch, t, &t->watch, err) < 0)
		t->watch = NULL;
	t->next = imap_g.trackers;
	imap_g.trackers = t;
	return t;
}

void imap_tracker_hold(struct imap_tracker *t)
{
	t->refs++;
}

void imap_tracker_put(struct imap_tracker *t)
{
	const struct rmail_store_ops *ops = imap_store(NULL);
	struct imap_tracker **pp;

	if (--t->refs > 0)
		return;
	for (pp = &imap_g.trackers; *pp != NULL; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	if (t->watch != NULL)
		ops->watch_del(&t->watch);
	ops->mbox_close(&t->mb);
	imap_uids_free(&t->snap);
	free(t->user);
	free(t->name);
	free(t);
}

int imap_view_select(struct imap_session *s, const char *name,
		     struct rmail_err *err)
{
	struct imap_tracker *t;
	uint32_t n;

	imap_view_unselect(s);
	t = tracker_get(s->user, name, err);
	if (t == NULL)
		return -1;
	s->tr = t;
	s->tr_next = t->sessions;
	t->sessions = s;
	n = imap_store(NULL)->mbox_count(t->mb);
	s->maxuid = n > 0 ? imap_store(NULL)->mbox_msg(t->mb, n - 1)->uid : 0;
	s->exists = n;
	s->recent = 0;
	s->state = IMAP_S_SELECTED;
	return 0;
}

void imap_view_poll(struct imap_session *s)
{
	if (s->tr != NULL)
		imap_tracker_sync(s->tr);
}

const struct rmail_msg *imap_view_find(struct imap_session *s, uint32_t uid,
				       uint32_t *seq_r)
{
	const struct rmail_store_ops *ops = imap_store(NULL);
	int64_t idx;

	*seq_r = 0;
	if (uid > s->maxuid)
		return NULL;
	idx = ops->mbox_find(s->tr->mb, uid);
	if (idx < 0)
		return NULL;
	*seq_r = (uint32_t)idx + 1 + (uint32_t)uids_lower(&s->gone, uid);
	return ops->mbox_msg(s->tr->mb, (uint32_t)idx);
}

void imap_view_unselect(struct imap_session *s)
{
	struct imap_session **pp;

	if (s->tr == NULL)
		return;
	for (pp = &s->tr->sessions; *pp != NULL; pp = &(*pp)->tr_next)
		if (*pp == s) {
			*pp = s->tr_next;
			break;
		}
	imap_tracker_put(s->tr);
	s->tr = NULL;
	s->tr_next = NULL;
	imap_uids_free(&s->gone);
	imap_uids_free(&s->flagchg);
	imap_uids_free(&s->selfchg);
	if (s->state == IMAP_S_SELECTED)
		s->state = IMAP_S_AUTH;
}

void imap_view_announce(struct imap_session *s, bool expunge_ok)
{
	const struct rmail_store_ops *ops = imap_store(NULL);
	struct rmail_mbox *mb;
	uint32_t n, total, newmax;
	size_t i;

	if (s->tr == NULL)
		return;
	mb = s->tr->mb;
	if (expunge_ok) {
		while (s->gone.n > 0) {
			uint32_t u = s->gone.v[s->gone.n - 1];
			uint32_t seq = imap_uid_to_seq(s, u);

			s->gone.n--;
			if (seq != 0)
				imap_printf(s, "* %u EXPUNGE\r\n", seq);
			s->exists--;
		}
	}
	n = ops->mbox_count(mb);
	newmax = n > 0 ? ops->mbox_msg(mb, n - 1)->uid : 0;
	if (newmax > s->maxuid)
		s->maxuid = newmax;
	total = known_count(s) + (uint32_t)s->gone.n;
	if (total > s->exists) {
		s->recent += total - s->exists;
		s->exists = total;
		imap_printf(s, "* %u EXISTS\r\n* %u RECENT\r\n", total,
			    s->recent);
	}
	s->exists = total;
	for (i = 0; i < s->flagchg.n; i++) {
		uint32_t u = s->flagchg.v[i];
		const struct rmail_msg *m = imap_view_msg(s, u);
		uint32_t seq;

		if (m == NULL || (seq = imap_uid_to_seq(s, u)) == 0)
			continue;
		imap_printf(s, "* %u FETCH (UID %u ", seq, u);
		imap_write_flags(s, m);
		imap_write(s, ")\r\n", 3);
	}
	s->flagchg.n = 0;
}

/* ---- sets ------------------------------------------------------- */

int imap_set_uids(struct imap_session *s, const char *set, bool uid,
		  uint32_t **uids_r, size_t *n_r, const char **error_r)
{
	const struct rmail_store_ops *ops = imap_store(NULL);
	struct imap_seqset raw, res;
	struct imap_uids out = {0};
	uint32_t max, i, k;

	*uids_r = NULL;
	*n_r = 0;
	if (imap_seqset_parse(set, strlen(set), &s->arena, &raw, error_r) < 0)
		return -1;
	if (uid) {
		max = s->maxuid;
		if (raw.has_star && known_count(s) == 0 && s->gone.n == 0)
			max = 0;
	} else {
		max = s->exists;
		if (raw.max_num > max) {
			*error_r = "Invalid message sequence number";
			return -1;
		}
	}
	if (imap_seqset_resolve(&raw, max, &s->arena, &res) < 0) {
		*error_r = "Set too large";
		return -1;
	}
	for (i = 0; i < res.n; i++) {
		if (uid) {
			uint32_t idx = imap_view_lower(s->tr->mb, res.r[i].lo);
			uint32_t cnt = known_count(s);

			for (k = idx; k < cnt; k++) {
				uint32_t u = ops->mbox_msg(s->tr->mb, k)->uid;

				if (u > res.r[i].hi)
					break;
				uids_push(&out, u);
			}
		} else {
			for (k = res.r[i].lo; k <= res.r[i].hi && k != 0; k++) {
				uint32_t u = imap_seq_to_uid(s, k);

				if (u != 0 && !imap_uids_has(&s->gone, u))
					uids_push(&out, u);
				if (k == UINT32_MAX)
					break;
			}
		}
	}
	*uids_r = out.v;
	*n_r = out.n;
	return 0;
}
