/*
 * QUOTA (RFC 9208) with one quota root per user, "", holding the
 * STORAGE resource in KiB from the store's quota_get.  SETQUOTA is
 * refused: limits are an administrator's business (rmail quota).
 */
#include <string.h>

#include "imap_session.h"

/* "* QUOTA "" (STORAGE used limit)"; false with a reply on error */
static bool quota_line(struct imap_session *s, const char *tag)
{
	void *h;
	const struct rmail_store_ops *ops = imap_store(s->mod, &h);
	struct rmail_err err;
	uint64_t used, limit;

	if (ops->quota_get(h, s->user, &used, &limit, &err) < 0) {
		imap_tagged(s, tag, false, "NO %s%s", imap_err_code(&err),
			    err.msg);
		return false;
	}
	if (limit == 0) {
		imap_printf(s, "* QUOTA \"\" ()\r\n"); /* unlimited */
		return true;
	}
	/* usage rounds up: one byte over is not "0 KiB used" */
	imap_printf(s, "* QUOTA \"\" (STORAGE %llu %llu)\r\n",
		    (unsigned long long)((used + 1023) / 1024),
		    (unsigned long long)(limit / 1024));
	return true;
}

void imap_cmd_getquota(struct imap_session *s, const struct imap_cmd *cmd,
		       bool uid)
{
	const struct imap_arg *a = cmd->args;

	(void)uid;
	if (a == NULL || a->next != NULL || a->type == IMAP_ARG_LIST ||
	    a->type == IMAP_ARG_NIL) {
		imap_tagged(s, cmd->tag, false, "BAD GETQUOTA quota-root");
		return;
	}
	if (a->str == NULL || a->str[0] != '\0') {
		imap_tagged(s, cmd->tag, false,
			    "NO [NONEXISTENT] No such quota root");
		return;
	}
	if (quota_line(s, cmd->tag))
		imap_tagged(s, cmd->tag, true, "OK GETQUOTA completed");
}

void imap_cmd_getquotaroot(struct imap_session *s, const struct imap_cmd *cmd,
			   bool uid)
{
	void *h;
	const struct rmail_store_ops *ops = imap_store(s->mod, &h);
	struct rmail_mbox_status st = {.size = sizeof(st)};
	struct rmail_err err;
	const char *name;

	(void)uid;
	if (cmd->args == NULL || cmd->args->next != NULL) {
		imap_tagged(s, cmd->tag, false, "BAD GETQUOTAROOT mailbox");
		return;
	}
	name = imap_mbox_arg(s, cmd->tag, cmd->args);
	if (name == NULL)
		return;
	if (ops->mbox_status(h, s->user, name, &st, &err) < 0) {
		imap_tagged(s, cmd->tag, false, "NO %s%s", imap_err_code(&err),
			    err.msg);
		return;
	}
	/* the name goes back as the client sent it (mUTF-7) */
	imap_write(s, "* QUOTAROOT ", 12);
	imap_write_astring(s, cmd->args->str != NULL ? cmd->args->str : name);
	imap_write(s, " \"\"\r\n", 5);
	if (quota_line(s, cmd->tag))
		imap_tagged(s, cmd->tag, true, "OK GETQUOTAROOT completed");
}

void imap_cmd_setquota(struct imap_session *s, const struct imap_cmd *cmd,
		       bool uid)
{
	(void)uid;
	imap_tagged(s, cmd->tag, false,
		    "NO [NOPERM] Quotas are set by the administrator");
}
