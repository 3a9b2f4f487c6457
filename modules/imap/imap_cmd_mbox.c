/*
 * Mailbox management: CREATE (with CREATE-SPECIAL-USE), DELETE, RENAME,
 * SUBSCRIBE, UNSUBSCRIBE and STATUS.  DELETE and RENAME touch many files
 * and run on the WRITE pool.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_session.h"

const char *imap_err_code(const struct rmail_err *err)
{
	switch (err->code) {
	case RMAIL_E_NOENT:
		return "[NONEXISTENT] ";
	case RMAIL_E_EXISTS:
		return "[ALREADYEXISTS] ";
	case RMAIL_E_PERM:
		return "[NOPERM] ";
	case RMAIL_E_QUOTA:
		return "[OVERQUOTA] ";
	case RMAIL_E_TOOBIG:
		return "[TOOBIG] ";
	case RMAIL_E_INVAL:
		return "[CANNOT] ";
	case RMAIL_E_NOTIMPL:
		return "[CANNOT] ";
	default:
		/* RMAIL_E_IO (ENOSPC, EMFILE, EIO), _BUSY, _INTERNAL
		 * (ENOMEM): the server cannot now, the client may retry */
		return "[UNAVAILABLE] ";
	}
}

static const struct {
	const char *name;
	uint32_t su;
} su_names[] = {
	{"\\Sent", RMAIL_SU_SENT},	 {"\\Drafts", RMAIL_SU_DRAFTS},
	{"\\Trash", RMAIL_SU_TRASH},	 {"\\Junk", RMAIL_SU_JUNK},
	{"\\Archive", RMAIL_SU_ARCHIVE}, {"\\All", RMAIL_SU_ALL},
	{"\\Flagged", RMAIL_SU_FLAGGED},
};

const char *imap_special_use_name(uint32_t su)
{
	size_t i;

	for (i = 0; i < sizeof(su_names) / sizeof(su_names[0]); i++)
		if (su_names[i].su == su)
			return su_names[i].name;
	return NULL;
}

void imap_cmd_create(struct imap_session *s, const struct imap_cmd *cmd,
		     bool uid)
{
	const struct imap_arg *opt = cmd->args ? cmd->args->next : NULL;
	const struct rmail_store_ops *ops;
	struct rmail_err err;
	uint32_t su = RMAIL_SU_NONE;
	const char *name;
	void *h;
	size_t i;

	(void)uid;
	name = imap_mbox_arg(s, cmd->tag, cmd->args);
	if (name == NULL)
		return;
	if (opt != NULL) {
		/* (USE (\Sent)) */
		const struct imap_arg *u = opt->list, *l;

		if (opt->type != IMAP_ARG_LIST || u == NULL ||
		    !imap_arg_atom_eq(u, "USE") || u->next == NULL ||
		    u->next->type != IMAP_ARG_LIST) {
			imap_tagged(s, cmd->tag, false,
				    "BAD Invalid CREATE parameters");
			return;
		}
		for (l = u->next->list; l != NULL; l = l->next) {
			for (i = 0; i < sizeof(su_names) / sizeof(su_names[0]);
			     i++)
				if (imap_arg_atom_eq(l, su_names[i].name))
					break;
			if (i == sizeof(su_names) / sizeof(su_names[0]) ||
			    su != RMAIL_SU_NONE) {
				imap_tagged(s, cmd->tag, false,
					    "NO [USEATTR] Unsupported "
					    "special-use attribute");
				return;
			}
			su = su_names[i].su;
		}
	}
	if (strcmp(name, "INBOX") == 0) {
		imap_tagged(s, cmd->tag, false,
			    "NO [ALREADYEXISTS] INBOX always exists");
		return;
	}
	ops = imap_store(s->mod, &h);
	if (ops->mbox_create(h, s->user, name, su, &err) < 0) {
		imap_tagged(s, cmd->tag, false, "NO %s%s", imap_err_code(&err),
			    err.msg);
		return;
	}
	{
		char id[RMAIL_OBJECTID_MAX];

		/* RFC 8474 4.1 */
		if (imap_mailboxid(s, name, id) == 0) {
			imap_tagged(s, cmd->tag, false,
				    "OK [MAILBOXID (%s)] CREATE completed", id);
			return;
		}
	}
	imap_tagged(s, cmd->tag, false, "OK CREATE completed");
}

/* ---- DELETE and RENAME on the WRITE pool ------------------------ */

struct mbox_job {
	struct imap_session *s;
	char *user, *from, *to;
	int rc;
	bool children; /* DELETE refused: `from` has inferiors */
	struct rmail_err err;
};

static void child_cb(void *arg, const struct rmail_mbox_entry *e)
{
	struct mbox_job *j = arg;
	size_t n = strlen(j->from);

	if (strncmp(e->name, j->from, n) == 0 && e->name[n] == '/' &&
	    !(e->attrs & RMAIL_MBOX_NONEXISTENT))
		j->children = true;
}

static void job_work(void *arg, const volatile int *cancel)
{
	struct mbox_job *j = arg;
	void *h;
	const struct rmail_store_ops *ops = imap_store(j->s->mod, &h);

	(void)cancel;
	if (j->to == NULL) {
		struct rmail_err lerr;

		j->rc = ops->mbox_delete(h, j->user, j->from, &j->err);
		/* RFC 9051 6.3.5: a name left only as the parent of others
		 * (\Noselect) cannot go; say why with [HASCHILDREN] */
		if (j->rc < 0 && j->err.code == RMAIL_E_NOENT)
			(void)ops->mbox_list(h, j->user, child_cb, j, &lerr);
	} else
		j->rc = ops->mbox_rename(h, j->user, j->from, j->to, &j->err);
}

/* RFC 9051 6.3.6: an IMAP4rev2 session learns the new name with the
 * OLDNAME extended item (the attributes are not looked up again) */
static void rename_oldname(struct imap_session *s, const char *from,
			   const char *to)
{
	char wfrom[RMAIL_MBOX_NAME_MAX * 4 + 8], wto[sizeof(wfrom)];

	if (!s->rev2 || imap_mbox_wire(s, from, wfrom, sizeof(wfrom)) < 0 ||
	    imap_mbox_wire(s, to, wto, sizeof(wto)) < 0)
		return;
	imap_printf(s, "* LIST () \"/\" ");
	imap_write_astring(s, wto);
	imap_printf(s, " (\"OLDNAME\" (");
	imap_write_astring(s, wfrom);
	imap_printf(s, "))\r\n");
}

static void job_done(void *arg, int cancelled)
{
	struct mbox_job *j = arg;
	struct imap_session *s = j->s;

	if (!s->closing && !cancelled && j->rc == 0 && j->to != NULL)
		rename_oldname(s, j->from, j->to);
	if (!s->closing) {
		if (cancelled)
			imap_tagged(s, s->tag, false, "NO Cancelled");
		else if (j->rc < 0 && j->children)
			imap_tagged(s, s->tag, false,
				    "NO [HASCHILDREN] Mailbox has inferiors, "
				    "delete them first");
		else if (j->rc < 0)
			imap_tagged(s, s->tag, false, "NO %s%s",
				    imap_err_code(&j->err), j->err.msg);
		else
			imap_tagged(s, s->tag, false, "OK %s completed",
				    j->to == NULL ? "DELETE" : "RENAME");
	}
	free(j->user);
	free(j->from);
	free(j->to);
	free(j);
	imap_async_end(s);
}

static void start_job(struct imap_session *s, const char *tag, const char *from,
		      const char *to)
{
	struct mbox_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		abort();
	j->s = s;
	j->user = strdup(s->user);
	j->from = strdup(from);
	j->to = to != NULL ? strdup(to) : NULL;
	imap_async_begin(s, tag);
	s->mod->core->work_submit(RMAIL_WORK_WRITE, job_work, job_done, j);
}

void imap_cmd_delete(struct imap_session *s, const struct imap_cmd *cmd,
		     bool uid)
{
	const char *name;

	(void)uid;
	name = imap_mbox_arg(s, cmd->tag, cmd->args);
	if (name == NULL)
		return;
	if (strcmp(name, "INBOX") == 0) {
		imap_tagged(s, cmd->tag, false,
			    "NO [CANNOT] INBOX cannot be deleted");
		return;
	}
	start_job(s, cmd->tag, name, NULL);
}

void imap_cmd_rename(struct imap_session *s, const struct imap_cmd *cmd,
		     bool uid)
{
	const char *from, *to;

	(void)uid;
	if (cmd->nargs != 2) {
		imap_tagged(s, cmd->tag, false, "BAD RENAME from to");
		return;
	}
	from = imap_mbox_arg(s, cmd->tag, cmd->args);
	if (from == NULL)
		return;
	to = imap_mbox_arg(s, cmd->tag, cmd->args->next);
	if (to == NULL)
		return;
	if (strcmp(to, "INBOX") == 0) {
		imap_tagged(s, cmd->tag, false,
			    "NO [ALREADYEXISTS] INBOX always exists");
		return;
	}
	start_job(s, cmd->tag, from, to);
}

static void subscribe(struct imap_session *s, const struct imap_cmd *cmd,
		      int on)
{
	const struct rmail_store_ops *ops;
	struct rmail_err err;
	const char *name;
	void *h;

	name = imap_mbox_arg(s, cmd->tag, cmd->args);
	if (name == NULL)
		return;
	ops = imap_store(s->mod, &h);
	if (ops->mbox_subscribe(h, s->user, name, on, &err) < 0) {
		imap_tagged(s, cmd->tag, false, "NO %s%s", imap_err_code(&err),
			    err.msg);
		return;
	}
	imap_tagged(s, cmd->tag, false, "OK %sSUBSCRIBE completed",
		    on ? "" : "UN");
}

void imap_cmd_subscribe(struct imap_session *s, const struct imap_cmd *cmd,
			bool uid)
{
	(void)uid;
	subscribe(s, cmd, 1);
}

void imap_cmd_unsubscribe(struct imap_session *s, const struct imap_cmd *cmd,
			  bool uid)
{
	(void)uid;
	subscribe(s, cmd, 0);
}

/*
 * RFC 9051 STATUS DELETED: the store's status has no such count, so the
 * shared view is opened (as SELECT would, refreshed) and its flags
 * counted; -1 when the mailbox cannot be opened.
 */
static int deleted_count(struct imap_session *s, const char *name,
			 unsigned long long *v_r)
{
	const struct rmail_store_ops *ops;
	struct rmail_mbox *mb = NULL;
	struct rmail_err err;
	uint32_t i, n;
	void *h;

	ops = imap_store(s->mod, &h);
	if (ops->mbox_open(h, s->user, name, &mb, &err) < 0)
		return -1;
	if (ops->mbox_refresh(mb, &err) < 0) {
		ops->mbox_close(&mb);
		return -1;
	}
	*v_r = 0;
	n = ops->mbox_count(mb);
	for (i = 0; i < n; i++)
		*v_r += (ops->mbox_msg(mb, i)->flags & RMAIL_F_DELETED) != 0;
	ops->mbox_close(&mb);
	return 0;
}

/* "(MESSAGES 3 UIDNEXT 4)" for the items in list `items` */
int imap_status_items(struct imap_session *s, const struct imap_arg *items,
		      const struct rmail_mbox_status *st, const char *name,
		      char *out, size_t outsz)
{
	const struct imap_arg *a;
	size_t len = 0;
	bool modseq = false;

	if (items == NULL || items->type != IMAP_ARG_LIST)
		return -1;
	for (a = items->list; a != NULL; a = a->next) {
		unsigned long long v;
		const char *n;

		if (a->type != IMAP_ARG_ATOM)
			return -1;
		n = a->str;
		if (strcasecmp(n, "MAILBOXID") == 0 && s != NULL &&
		    imap_objectid_supported(s->mod)) {
			/* RFC 8474 4: an objectid, not a number */
			char id[RMAIL_OBJECTID_MAX];

			if (imap_mailboxid(s, name, id) < 0)
				continue; /* gone meanwhile: say less */
			len += (size_t)snprintf(out + len, outsz - len,
						"%sMAILBOXID (%s)",
						len == 0 ? "" : " ", id);
			if (len >= outsz)
				return -1;
			continue;
		}
		if (strcasecmp(n, "MESSAGES") == 0)
			v = st->messages;
		else if (strcasecmp(n, "RECENT") == 0 &&
			 !(s != NULL && s->rev2)) /* RFC 9051: no \Recent */
			v = st->recent;
		else if (strcasecmp(n, "UIDNEXT") == 0)
			v = st->uidnext;
		else if (strcasecmp(n, "UIDVALIDITY") == 0)
			v = st->uidvalidity;
		else if (strcasecmp(n, "UNSEEN") == 0)
			v = st->unseen;
		else if (strcasecmp(n, "SIZE") == 0)
			v = st->bytes;
		else if (strcasecmp(n, "DELETED") == 0 && s != NULL) {
			if (deleted_count(s, name, &v) < 0)
				continue; /* gone meanwhile: say less */
		} else if (strcasecmp(n, "HIGHESTMODSEQ") == 0 &&
			   imap_condstore_supported(s->mod)) {
			/* a CONDSTORE enabling command (RFC 7162 3.1) */
			v = st->highestmodseq != 0 ? st->highestmodseq : 1;
			modseq = true;
		} else
			return -1;
		{
			size_t start = len + (len == 0 ? 0 : 1), k;

			len += (size_t)snprintf(out + len, outsz - len,
						"%s%s %llu",
						len == 0 ? "" : " ", n, v);
			if (len >= outsz)
				return -1;
			/* the item names as the RFC spells them */
			for (k = start; k < start + strlen(n); k++)
				if (out[k] >= 'a' && out[k] <= 'z')
					out[k] = (char)(out[k] - 'a' + 'A');
		}
	}
	if (modseq && s != NULL)
		imap_condstore_enable(s);
	return 0;
}

void imap_cmd_status(struct imap_session *s, const struct imap_cmd *cmd,
		     bool uid)
{
	const struct rmail_store_ops *ops;
	struct rmail_mbox_status st = {.size = sizeof(st)};
	struct rmail_err err;
	const char *name;
	char items[256];
	void *h;

	(void)uid;
	name = imap_mbox_arg(s, cmd->tag, cmd->args);
	if (name == NULL)
		return;
	ops = imap_store(s->mod, &h);
	if (ops->mbox_status(h, s->user, name, &st, &err) < 0) {
		imap_tagged(s, cmd->tag, false, "NO %s%s", imap_err_code(&err),
			    err.msg);
		return;
	}
	if (imap_status_items(s, cmd->args->next, &st, name, items,
			      sizeof(items)) < 0) {
		imap_tagged(s, cmd->tag, false, "BAD Invalid status items");
		return;
	}
	imap_printf(s, "* STATUS ");
	imap_write_astring(s, cmd->args->str);
	imap_printf(s, " (%s)\r\n", items);
	imap_tagged(s, cmd->tag, true, "OK STATUS completed");
}
