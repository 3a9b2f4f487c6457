/*
 * CONDSTORE and QRESYNC (RFC 7162), the session side: when they may be
 * offered, the modseqs shown, and the expunges since a modseq.
 *
 * Both are offered only on a store with msg_flags_unchanged (ABI 1.2):
 * that store keeps a durable per-message modseq, so a modseq the client
 * keeps across connections means the same state later.  A store without
 * it keeps the 1.1 behaviour (no CONDSTORE in CAPABILITY, the
 * parameters refused as unknown).  NOMODSEQ is never sent.
 */
#include <stdlib.h>
#include <string.h>

#include "imap_modseq.h"
#include "imap_session.h"

bool imap_condstore_supported(const struct imap_mod *mod)
{
	const struct rmail_store_ops *ops = imap_store(mod, NULL);

	return ops != NULL &&
	       RMAIL_HAS(ops, struct rmail_store_ops, msg_flags_unchanged) &&
	       ops->msg_flags_unchanged != NULL;
}

uint64_t imap_msg_modseq(const struct rmail_msg *m)
{
	return m->modseq != 0 ? m->modseq : 1;
}

bool imap_msg_changed_since(const struct rmail_msg *m, uint64_t since)
{
	return m->modseq == 0 || m->modseq > since;
}

uint64_t imap_highestmodseq(struct imap_session *s)
{
	if (s->tr == NULL)
		return 1;
	/* what the tracker has synced, never the live view's newer state:
	 * a client keeping it must not skip an expunge not yet told */
	return s->tr->modseq != 0 ? s->tr->modseq : 1;
}

void imap_condstore_enable(struct imap_session *s)
{
	if (s->condstore)
		return;
	s->condstore = true;
	if (s->tr != NULL) {
		s->told_modseq = imap_highestmodseq(s);
		imap_printf(s, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
			    (unsigned long long)s->told_modseq);
	}
}

void imap_write_modseq(struct imap_session *s, const struct rmail_msg *m)
{
	char buf[40];
	size_t len = 9;

	memcpy(buf, " MODSEQ (", 9);
	len += imap_put_u64(buf + len, imap_msg_modseq(m));
	buf[len++] = ')';
	imap_write(s, buf, len);
}

/* ---- sequence-set output ----------------------------------------- */

static void setw_flush(struct imap_setw *w)
{
	char buf[32];
	size_t len = 0;

	if (w->lo == 0)
		return;
	if (w->any)
		buf[len++] = ',';
	len += imap_put_u64(buf + len, w->lo);
	if (w->hi != w->lo) {
		buf[len++] = ':';
		len += imap_put_u64(buf + len, w->hi);
	}
	imap_buf_add(w->out, buf, len);
	w->any = true;
	w->lo = 0;
}

void imap_setw_add(struct imap_setw *w, uint32_t lo, uint32_t hi)
{
	if (lo == 0 || hi < lo)
		return;
	if (w->lo != 0 && w->hi < UINT32_MAX && lo <= w->hi + 1) {
		if (hi > w->hi)
			w->hi = hi;
		return;
	}
	setw_flush(w);
	w->lo = lo;
	w->hi = hi;
}

void imap_setw_end(struct imap_setw *w)
{
	setw_flush(w);
}

/* ---- expunges since a modseq -------------------------------------- */

struct exp_ctx {
	struct imap_uids uids;
};

static void on_expunge(void *arg, const struct rmail_change *c)
{
	struct exp_ctx *x = arg;

	if (c->type == RMAIL_CHANGE_EXPUNGE && c->uid != 0)
		imap_uids_add(&x->uids, c->uid);
}

static bool within_has(const struct imap_seqset *within, uint32_t uidmax,
		       uint32_t uid)
{
	if (within == NULL)
		return uid < uidmax;
	return imap_seqset_contains(within, uid) != 0;
}

/* every UID of [lo, hi] the view does not hold */
static void missing_range(const struct rmail_store_ops *ops,
			  struct rmail_mbox *mb, uint32_t lo, uint32_t hi,
			  struct imap_setw *w)
{
	uint32_t n = ops->mbox_count(mb), i = imap_view_lower(ops, mb, lo);
	uint32_t next = lo;

	for (; i < n; i++) {
		uint32_t u = ops->mbox_msg(mb, i)->uid;

		if (u > hi)
			break;
		if (u > next)
			imap_setw_add(w, next, u - 1);
		next = u + 1;
		if (u == UINT32_MAX)
			return;
	}
	if (next <= hi && next != 0)
		imap_setw_add(w, next, hi);
}

void imap_vanished_since(struct imap_session *s, uint64_t since,
			 const struct imap_seqset *within, struct imap_buf *out)
{
	const struct rmail_store_ops *ops = imap_store(s->mod, NULL);
	struct rmail_mbox_status st = {.size = sizeof(st)};
	struct rmail_mbox *mb = s->tr->mb;
	struct imap_setw w = {.out = out};
	struct rmail_err err;
	uint64_t horizon;
	uint32_t uidmax;
	size_t i;

	ops->mbox_info(mb, &st);
	uidmax = st.uidnext; /* UIDs below it were ever given */
	horizon = RMAIL_HAS(&st, struct rmail_mbox_status, vanished_horizon)
			  ? st.vanished_horizon
			  : st.highestmodseq; /* no records: compare */
	if (since >= st.highestmodseq)
		return; /* nothing changed, nothing expunged */
	if (since >= horizon) {
		struct exp_ctx x = {{0}};

		if (ops->mbox_changes(mb, since, on_expunge, &x, &err) == 0) {
			for (i = 0; i < x.uids.n; i++) {
				uint32_t u = x.uids.v[i];

				if (within_has(within, uidmax, u) &&
				    ops->mbox_find(mb, u) < 0)
					imap_setw_add(&w, u, u);
			}
			imap_uids_free(&x.uids);
			imap_setw_end(&w);
			return;
		}
		imap_uids_free(&x.uids);
		/* the records cannot be read: compare instead */
	}
	if (within == NULL) {
		if (uidmax > 1)
			missing_range(ops, mb, 1, uidmax - 1, &w);
	} else {
		for (i = 0; i < within->n && within->r[i].lo < uidmax; i++)
			missing_range(ops, mb, within->r[i].lo,
				      within->r[i].hi < uidmax ? within->r[i].hi
							       : uidmax - 1,
				      &w);
	}
	imap_setw_end(&w);
}

/* ---- SELECT (QRESYNC ...) ------------------------------------------ */

void imap_qresync_select(struct imap_session *s,
			 const struct imap_select_params *p)
{
	const struct rmail_store_ops *ops = imap_store(s->mod, NULL);
	struct rmail_mbox *mb = s->tr->mb;
	const struct imap_seqset *within = NULL;
	struct imap_seqset known;
	struct imap_buf b = {0};
	uint32_t k, n = ops->mbox_count(mb), u, seq;

	/* seq-match-data only helps a server that cannot list expunges
	 * exactly; this one always can, so it is checked and unused */
	if (p->known_uids.n > 0 &&
	    imap_seqset_resolve(&p->known_uids, UINT32_MAX, &s->arena,
				&known) == 0)
		within = &known;
	imap_vanished_since(s, p->modseq, within, &b);
	if (b.len > 0)
		imap_printf(s, "* VANISHED (EARLIER) %.*s\r\n", (int)b.len,
			    b.p);
	imap_buf_free(&b);
	/* one pass over the view; only the changed ones are numbered */
	for (k = 0; k < n; k++) {
		const struct rmail_msg *m = ops->mbox_msg(mb, k);

		u = m->uid;
		if (!imap_msg_changed_since(m, p->modseq) || u > s->maxuid ||
		    (within != NULL && !imap_seqset_contains(within, u)) ||
		    (seq = imap_uid_to_seq(s, u)) == 0)
			continue;
		imap_printf(s, "* %u FETCH (UID %u ", seq, u);
		imap_write_flags(s, m);
		imap_write_modseq(s, m);
		imap_write(s, ")\r\n", 3);
	}
}
