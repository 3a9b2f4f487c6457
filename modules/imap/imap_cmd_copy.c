/*
 * COPY, MOVE and their UID forms (UIDPLUS COPYUID, RFC 6851 MOVE).  The
 * store links and fsyncs: it runs on the WRITE pool.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_session.h"

struct copy_job {
	struct imap_session *s;
	struct rmail_mbox *mb;
	char *src, *dst, *user;
	uint32_t *uids, *dst_uids, uidvalidity;
	size_t n;
	bool move;
	bool expunged; /* the NOENT was a source message, not dst */
	int rc;
	struct rmail_err err;
};

/* "1:3,7" of ascending-or-not UIDs, in order (COPYUID pairs them up) */
static char *uid_set(const uint32_t *u, size_t n)
{
	size_t cap = n * 24 + 16, len = 0, i = 0;
	char *out = malloc(cap);

	if (out == NULL)
		abort();
	out[0] = '\0';
	while (i < n) {
		size_t k = i;

		while (k + 1 < n && u[k + 1] == u[k] + 1)
			k++;
		if (k == i)
			len += (size_t)snprintf(out + len, cap - len, "%s%u",
						len ? "," : "", u[i]);
		else
			len += (size_t)snprintf(out + len, cap - len, "%s%u:%u",
						len ? "," : "", u[i], u[k]);
		i = k + 1;
	}
	return out;
}

static void copy_work(void *arg, const volatile int *cancel)
{
	struct copy_job *j = arg;
	const struct rmail_store_ops *ops = imap_store(j->s->mod, NULL);

	(void)cancel;
	/* 1.1 stores say which messages another session took first */
	if (j->move && RMAIL_HAS(ops, struct rmail_store_ops, msg_move_some) &&
	    ops->msg_move_some != NULL)
		j->rc = ops->msg_move_some(j->mb, j->uids, j->n, j->dst,
					   j->dst_uids, &j->uidvalidity,
					   &j->err);
	else if (j->move)
		j->rc = ops->msg_move(j->mb, j->uids, j->n, j->dst, j->dst_uids,
				      &j->uidvalidity, &j->err);
	else
		j->rc = ops->msg_copy(j->mb, j->uids, j->n, j->dst, j->dst_uids,
				      &j->uidvalidity, &j->err);
	/* NOENT is a missing destination or a message expunged since the
	 * session looked (by another process, or the store's answer to a
	 * whole-set move): the destination says which */
	if (j->rc < 0 && j->err.code == RMAIL_E_NOENT) {
		struct rmail_mbox_status st = {.size = sizeof(st)};
		struct rmail_err e;
		void *h;

		ops = imap_store(j->s->mod, &h);
		rmail_err_clear(&e);
		j->expunged =
			ops->mbox_status(h, j->user, j->dst, &st, &e) == 0;
	}
}

/* Tell the filter modules (the spam learner) through the core: the
 * core drops it unless the two mailboxes differ in special use */
static void emit_moved(struct copy_job *j, const uint32_t *dst_uids, size_t n)
{
	const struct rmail_core *core = j->s->mod->core;
	struct rmail_event ev;
	struct rmail_err err;

	if (n == 0 || !RMAIL_HAS(core, struct rmail_core, event_emit) ||
	    core->event_emit == NULL)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.size = sizeof(ev);
	ev.kind = RMAIL_EVENT_MSG_MOVED;
	ev.how = j->move ? RMAIL_EVENT_MOVE : RMAIL_EVENT_COPY;
	ev.proto = "imap";
	ev.user = j->user;
	ev.from_mbox = j->src;
	ev.to_mbox = j->dst;
	ev.uidvalidity = j->uidvalidity;
	ev.uids = dst_uids;
	ev.nuids = n;
	rmail_err_clear(&err);
	if (core->event_emit(j->s->mod->m, &ev, &err) < 0)
		core->log(j->s->mod->m, RMAIL_LOG_WARN, "event: %s", err.msg);
}

static void copy_done(void *arg, int cancelled)
{
	struct copy_job *j = arg;
	struct imap_session *s = j->s;
	const char *name = j->move ? "MOVE" : "COPY";

	if (!cancelled && j->rc == 0) {
		uint32_t *moved = calloc(j->n, sizeof(*moved));
		size_t i, k = 0;

		if (moved == NULL)
			abort();
		/* a message another session took first was not moved */
		for (i = 0; i < j->n; i++)
			if (j->dst_uids[i] != 0)
				moved[k++] = j->dst_uids[i];
		emit_moved(j, moved, k);
		free(moved);
	}
	if (s->closing) {
		/* nothing to tell */
		goto out;
	}
	imap_view_poll(s);
	if (cancelled || j->rc < 0) {
		if (!cancelled && j->expunged)
			/* RFC 2180 4.4.1, as when the session knew */
			imap_tagged(s, s->tag, false,
				    "NO [EXPUNGEISSUED] Some of the messages "
				    "were expunged");
		else if (!cancelled && j->err.code == RMAIL_E_NOENT)
			imap_tagged(s, s->tag, false,
				    "NO [TRYCREATE] No such mailbox");
		else if (!cancelled && j->err.code == RMAIL_E_QUOTA)
			imap_tagged(s, s->tag, false,
				    "NO [OVERQUOTA] Quota exceeded");
		else
			imap_tagged(s, s->tag, false, "NO %s%s",
				    imap_err_code(&j->err), j->err.msg);
	} else if (j->move) {
		size_t i, k = 0;
		char *src, *dst;

		/* only the pairs that moved: a message another session
		 * expunged or moved first gets no COPYUID entry */
		for (i = 0; i < j->n; i++)
			if (j->dst_uids[i] != 0) {
				j->uids[k] = j->uids[i];
				j->dst_uids[k++] = j->dst_uids[i];
			}
		src = uid_set(j->uids, k);
		dst = uid_set(j->dst_uids, k);
		if (k > 0)
			imap_printf(s, "* OK [COPYUID %u %s %s] Moved\r\n",
				    j->uidvalidity, src, dst);
		/* the EXPUNGEs: MOVE allows them (RFC 6851 3.3) */
		if (k < j->n)
			imap_tagged(s, s->tag, true,
				    "OK [EXPUNGEISSUED] MOVE completed, %zu "
				    "message(s) already expunged",
				    j->n - k);
		else
			imap_tagged(s, s->tag, true, "OK MOVE completed");
		free(src);
		free(dst);
	} else {
		char *src = uid_set(j->uids, j->n);
		char *dst = uid_set(j->dst_uids, j->n);

		imap_tagged(s, s->tag, false,
			    "OK [COPYUID %u %s %s] %s completed",
			    j->uidvalidity, src, dst, name);
		free(src);
		free(dst);
	}
out:
	free(j->src);
	free(j->dst);
	free(j->user);
	free(j->uids);
	free(j->dst_uids);
	free(j);
	imap_async_end(s);
}

static void copy_cmd(struct imap_session *s, const struct imap_cmd *cmd,
		     bool uid, bool move)
{
	const struct imap_arg *set = cmd->args;
	struct copy_job *j;
	const char *dst, *why;
	uint32_t *uids;
	size_t n, i;

	if (set == NULL || set->type != IMAP_ARG_ATOM || set->next == NULL) {
		imap_tagged(s, cmd->tag, false, "BAD %s set mailbox",
			    move ? "MOVE" : "COPY");
		return;
	}
	dst = imap_mbox_arg(s, cmd->tag, set->next);
	if (dst == NULL)
		return;
	if (move && s->readonly) {
		imap_tagged(s, cmd->tag, false,
			    "NO [READ-ONLY] Mailbox is read-only");
		return;
	}
	if (imap_set_uids(s, set->str, uid, &uids, &n, &why) < 0) {
		imap_tagged(s, cmd->tag, false, "BAD %s", why);
		return;
	}
	for (i = 0; i < n; i++)
		if (imap_view_msg(s, uids[i]) == NULL) {
			/* RFC 2180 4.4.1: refuse rather than copy part */
			free(uids);
			imap_tagged(s, cmd->tag, false,
				    "NO [EXPUNGEISSUED] Some of the messages "
				    "were expunged");
			return;
		}
	if (n == 0) {
		free(uids);
		imap_tagged(s, cmd->tag, false,
			    "OK %s completed (nothing "
			    "to do)",
			    move ? "MOVE" : "COPY");
		return;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		abort();
	j->s = s;
	j->mb = s->tr->mb;
	j->src = strdup(s->tr->name);
	j->dst = strdup(dst);
	j->user = strdup(s->user);
	if (j->src == NULL || j->dst == NULL || j->user == NULL)
		abort();
	j->uids = uids;
	j->n = n;
	j->move = move;
	j->dst_uids = calloc(n, sizeof(uint32_t));
	if (j->dst_uids == NULL)
		abort();
	imap_async_begin(s, cmd->tag);
	s->mod->core->work_submit(RMAIL_WORK_WRITE, copy_work, copy_done, j);
}

void imap_cmd_copy(struct imap_session *s, const struct imap_cmd *cmd, bool uid)
{
	copy_cmd(s, cmd, uid, false);
}

void imap_cmd_move(struct imap_session *s, const struct imap_cmd *cmd, bool uid)
{
	copy_cmd(s, cmd, uid, true);
}
