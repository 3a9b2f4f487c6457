/*
 * SELECT, EXAMINE, CHECK, CLOSE, UNSELECT, EXPUNGE and UID EXPUNGE.
 * Expunging unlinks files and fsyncs: it runs on the WRITE pool, and the
 * EXPUNGE responses come from the view difference afterwards, the same
 * path that reports other sessions' expunges.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_modseq.h"
#include "imap_session.h"

static void do_select(struct imap_session *s, const struct imap_cmd *cmd,
		      bool ro)
{
	const struct rmail_store_ops *ops = imap_store(s->mod, NULL);
	struct rmail_mbox_status st = {.size = sizeof(st)};
	struct rmail_err err;
	struct imap_select_params prm;
	const char *name, *why = NULL;
	uint32_t unseen;

	if (cmd->args != NULL && cmd->args->next != NULL &&
	    (!imap_condstore_supported(s->mod) ||
	     imap_select_params_parse(cmd->args->next, &s->arena, &prm, &why) <
		     0)) {
		imap_tagged(s, cmd->tag, false, "BAD %s",
			    why != NULL ? why : "Unknown SELECT parameter");
		return;
	}
	if (cmd->args == NULL || cmd->args->next == NULL)
		memset(&prm, 0, sizeof(prm));
	if (prm.qresync && !s->qresync) {
		/* RFC 7162 3.2.5 */
		imap_tagged(s, cmd->tag, false, "BAD QRESYNC is not enabled");
		return;
	}
	name = imap_mbox_arg(s, cmd->tag, cmd->args);
	if (name == NULL)
		return;
	if (imap_view_select(s, name, ro, &err) < 0) {
		imap_tagged(s, cmd->tag, false, "NO %s%s", imap_err_code(&err),
			    err.msg);
		return;
	}
	ops->mbox_info(s->tr->mb, &st);
	imap_view_flags(s);
	imap_printf(s, "* %u EXISTS\r\n", s->exists);
	if (!s->rev2) /* RFC 9051 has no RECENT */
		imap_printf(s, "* %zu RECENT\r\n", s->recent.n);
	unseen = imap_view_first_unseen(s);
	/* RFC 9051 dropped the UNSEEN response code */
	if (unseen != 0 && !s->rev2)
		imap_printf(s, "* OK [UNSEEN %u] First unseen\r\n", unseen);
	imap_printf(s,
		    "* OK [UIDVALIDITY %u] UIDs valid\r\n"
		    "* OK [UIDNEXT %u] Predicted next UID\r\n",
		    st.uidvalidity, st.uidnext);
	if (s->rev2)
		imap_rev2_select_list(s, s->tr->name);
	{
		char id[RMAIL_OBJECTID_MAX];

		/* RFC 8474 4.2 */
		if (imap_mailboxid(s, s->tr->name, id) == 0)
			imap_printf(s, "* OK [MAILBOXID (%s)] Ok\r\n", id);
	}
	if (prm.condstore)
		s->condstore = true; /* the OK below says HIGHESTMODSEQ */
	if (s->condstore) {
		s->told_modseq = imap_highestmodseq(s);
		imap_printf(s, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
			    (unsigned long long)s->told_modseq);
	}
	/* a wrong UIDVALIDITY: the client starts over, a plain select */
	if (prm.qresync && prm.uidvalidity == st.uidvalidity)
		imap_qresync_select(s, &prm);
	imap_printf(s, "%s OK [%s] %s completed\r\n", cmd->tag,
		    ro ? "READ-ONLY" : "READ-WRITE", ro ? "EXAMINE" : "SELECT");
}

/*
 * The previous mailbox is closed first (RFC 7162 3.2.11's CLOSED,
 * harmless for older clients), but its tracker is held over the new
 * SELECT: selecting the same mailbox again then reuses the tracker's
 * copy of the view (a refresh) instead of building it from scratch.
 */
static void reselect(struct imap_session *s, const struct imap_cmd *cmd,
		     bool ro)
{
	struct imap_tracker *keep = NULL;

	if (s->state == IMAP_S_SELECTED) {
		keep = s->tr;
		if (keep != NULL)
			imap_tracker_hold(keep);
		imap_view_unselect(s);
		imap_printf(s, "* OK [CLOSED] Previous mailbox closed\r\n");
	}
	do_select(s, cmd, ro);
	if (keep != NULL)
		imap_tracker_put(keep);
}

void imap_cmd_select(struct imap_session *s, const struct imap_cmd *cmd,
		     bool uid)
{
	(void)uid;
	reselect(s, cmd, false);
}

void imap_cmd_examine(struct imap_session *s, const struct imap_cmd *cmd,
		      bool uid)
{
	(void)uid;
	reselect(s, cmd, true);
}

void imap_cmd_check(struct imap_session *s, const struct imap_cmd *cmd,
		    bool uid)
{
	(void)uid;
	if (imap_rev2_refuse(s, cmd->tag, "CHECK", "NOOP"))
		return;
	imap_view_poll(s);
	imap_tagged(s, cmd->tag, true, "OK CHECK completed");
}

void imap_cmd_unselect(struct imap_session *s, const struct imap_cmd *cmd,
		       bool uid)
{
	(void)uid;
	imap_view_unselect(s);
	imap_printf(s, "%s OK UNSELECT completed\r\n", cmd->tag);
}

/* ---- expunge ---------------------------------------------------- */

struct expunge_job {
	struct imap_session *s;
	struct rmail_mbox *mb;
	uint32_t *uids;
	size_t n;
	bool close;
	int rc;
	struct rmail_err err;
};

static void expunge_work(void *arg, const volatile int *cancel)
{
	struct expunge_job *j = arg;

	(void)cancel;
	j->rc = j->n == 0
			? 0
			: imap_store(j->s->mod, NULL)
				  ->msg_expunge(j->mb, j->uids, j->n, &j->err);
}

static void expunge_done(void *arg, int cancelled)
{
	struct expunge_job *j = arg;
	struct imap_session *s = j->s;

	if (!s->closing) {
		imap_view_poll(s);
		if (j->close) {
			imap_view_unselect(s);
			imap_printf(s, "%s OK CLOSE completed\r\n", s->tag);
		} else if (cancelled || j->rc < 0) {
			imap_tagged(s, s->tag, true, "NO %s%s",
				    imap_err_code(&j->err), j->err.msg);
		} else if (s->condstore) {
			/* the expunges are a change the client records
			 * (RFC 7162 3.1.6) */
			imap_tagged(s, s->tag, true,
				    "OK [HIGHESTMODSEQ %llu] EXPUNGE completed",
				    (unsigned long long)imap_highestmodseq(s));
		} else {
			imap_tagged(s, s->tag, true, "OK EXPUNGE completed");
		}
	}
	free(j->uids);
	free(j);
	imap_async_end(s);
}

static void start_expunge(struct imap_session *s, const char *tag,
			  const uint32_t *set, size_t nset, bool close)
{
	const struct rmail_store_ops *ops = imap_store(s->mod, NULL);
	struct expunge_job *j = calloc(1, sizeof(*j));
	uint32_t i, n = ops->mbox_count(s->tr->mb);

	if (j == NULL)
		abort();
	j->s = s;
	j->mb = s->tr->mb;
	j->close = close;
	j->uids = malloc((set != NULL ? nset : n) * sizeof(uint32_t) + 4);
	if (j->uids == NULL)
		abort();
	if (set != NULL) {
		for (i = 0; i < nset; i++) {
			const struct rmail_msg *m = imap_view_msg(s, set[i]);

			if (m != NULL && (m->flags & RMAIL_F_DELETED))
				j->uids[j->n++] = m->uid;
		}
	} else {
		for (i = 0; i < n; i++) {
			const struct rmail_msg *m = ops->mbox_msg(s->tr->mb, i);

			if (m->uid <= s->maxuid && (m->flags & RMAIL_F_DELETED))
				j->uids[j->n++] = m->uid;
		}
	}
	imap_async_begin(s, tag);
	s->mod->core->work_submit(RMAIL_WORK_WRITE, expunge_work, expunge_done,
				  j);
}

void imap_cmd_close(struct imap_session *s, const struct imap_cmd *cmd,
		    bool uid)
{
	(void)uid;
	if (s->readonly) {
		imap_view_unselect(s);
		imap_printf(s, "%s OK CLOSE completed\r\n", cmd->tag);
		return;
	}
	start_expunge(s, cmd->tag, NULL, 0, true);
}

void imap_cmd_expunge(struct imap_session *s, const struct imap_cmd *cmd,
		      bool uid)
{
	uint32_t *uids = NULL;
	size_t n = 0;
	const char *why;

	if (s->readonly) {
		imap_tagged(s, cmd->tag, false,
			    "NO [READ-ONLY] Mailbox is read-only");
		return;
	}
	if (uid) {
		if (cmd->args == NULL || cmd->args->type != IMAP_ARG_ATOM ||
		    imap_set_uids(s, cmd->args->str, true, &uids, &n, &why) <
			    0) {
			imap_tagged(s, cmd->tag, false, "BAD Invalid UID set");
			return;
		}
		if (n == 0)
			imap_tagged(s, cmd->tag, true, "OK EXPUNGE completed");
		else
			start_expunge(s, cmd->tag, uids, n, false);
		free(uids);
		return;
	}
	start_expunge(s, cmd->tag, NULL, 0, false);
}
