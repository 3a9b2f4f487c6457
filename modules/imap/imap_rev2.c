/*
 * What an IMAP4rev2 session (after ENABLE IMAP4rev2) no longer has:
 * RFC 9051 dropped LSUB, CHECK, the RFC822* FETCH items and \Recent
 * (SEARCH RECENT/NEW/OLD, STATUS RECENT) from its grammar.  Their
 * replies are not in rev2's response grammar either, so a rev2 session
 * gets BAD, with what to use instead; rev1 sessions keep them all.
 */
#include "imap_session.h"

const char imap_rev2_no_recent[] =
	"No \\Recent in IMAP4rev2 (RFC 9051): use UNSEEN or UID ranges";

bool imap_rev2_refuse(struct imap_session *s, const char *tag, const char *what,
		      const char *instead)
{
	if (!s->rev2)
		return false;
	imap_tagged(s, tag, false,
		    "BAD %s is not in IMAP4rev2 (RFC 9051), use %s", what,
		    instead);
	return true;
}

void imap_rev2_select_list(struct imap_session *s, const char *name)
{
	char wire[RMAIL_MBOX_NAME_MAX * 4 + 8];

	/* the attributes "MAY be accurate" (RFC 9051 6.3.2): none are
	 * looked up, as after RENAME */
	if (imap_mbox_wire(s, name, wire, sizeof(wire)) < 0)
		return;
	imap_printf(s, "* LIST () \"/\" ");
	imap_write_astring(s, wire);
	imap_printf(s, "\r\n");
}
