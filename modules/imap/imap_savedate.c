/*
 * SAVEDATE (RFC 8514) from the store's msg_savedate (store ops 1.5):
 * FETCH SAVEDATE and the SAVEDBEFORE/SAVEDON/SAVEDSINCE and
 * SAVEDATESUPPORTED search keys.  Every mailbox supports save dates
 * once the store does; a message the store has no record of (saved
 * before the store kept them, or a record a crash lost) shows its
 * internal date, the nearest thing to when it was saved.  With an
 * older store nothing is advertised and the item and keys are BAD.
 */
#include "imap_session.h"

bool imap_savedate_supported(const struct imap_mod *mod)
{
	const struct rmail_store_ops *ops = imap_store(mod, NULL);

	return RMAIL_HAS(ops, struct rmail_store_ops, msg_savedate) &&
	       ops->msg_savedate != NULL;
}

int64_t imap_savedate(const struct imap_mod *mod, struct rmail_mbox *mb,
		      const struct rmail_msg *m)
{
	const struct rmail_store_ops *ops = imap_store(mod, NULL);
	struct rmail_err err;
	int64_t t = 0;

	if (imap_savedate_supported(mod) &&
	    ops->msg_savedate(mb, m->uid, &t, &err) == 1)
		return t;
	return m->internaldate;
}
