/*
 * OBJECTID (RFC 8474) from the store's ids (store ops 1.4): EMAILID of
 * a message, MAILBOXID of a mailbox; THREADID from the message's
 * header (imap_threadid.c), or from its EMAILID when the header names
 * no id.  With an older store nothing is advertised and the items and
 * keys are BAD.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "imap_session.h"

bool imap_objectid_supported(const struct imap_mod *mod)
{
	const struct rmail_store_ops *ops = imap_store(mod, NULL);

	return RMAIL_HAS(ops, struct rmail_store_ops, mbox_objectid) &&
	       ops->msg_emailid != NULL && ops->mbox_objectid != NULL;
}

int imap_emailid(struct imap_session *s, struct rmail_mbox *mb, uint32_t uid,
		 char out[RMAIL_OBJECTID_MAX])
{
	const struct rmail_store_ops *ops = imap_store(s->mod, NULL);
	struct rmail_err err;

	if (!imap_objectid_supported(s->mod))
		return -1;
	return ops->msg_emailid(mb, uid, out, RMAIL_OBJECTID_MAX, &err);
}

int imap_mailboxid(struct imap_session *s, const char *name,
		   char out[RMAIL_OBJECTID_MAX])
{
	const struct rmail_store_ops *ops;
	struct rmail_err err;
	void *h;

	if (!imap_objectid_supported(s->mod))
		return -1;
	ops = imap_store(s->mod, &h);
	return ops->mbox_objectid(h, s->user, name, out, RMAIL_OBJECTID_MAX,
				  &err);
}

int imap_threadid(const struct imap_mod *mod, struct rmail_mbox *mb,
		  uint32_t uid, const char *derived,
		  char out[RMAIL_OBJECTID_MAX])
{
	const struct rmail_store_ops *ops = imap_store(mod, NULL);
	char eid[RMAIL_OBJECTID_MAX];
	struct rmail_err err;

	if (!imap_objectid_supported(mod))
		return -1;
	if (derived != NULL && derived[0] != '\0') {
		snprintf(out, RMAIL_OBJECTID_MAX, "%s", derived);
		return 0;
	}
	if (ops->msg_emailid(mb, uid, eid, sizeof(eid), &err) < 0)
		return -1;
	return imap_threadid_own(eid, out, RMAIL_OBJECTID_MAX) ? 0 : -1;
}
