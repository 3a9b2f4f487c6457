/*
 * IDLE (RFC 2177).  The session waits for DONE in raw-line mode; the
 * tracker's store watch calls imap_idle_notify when any process changes
 * the mailbox, so updates reach the client within the store's watch
 * latency (about a second) instead of at its next command.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "imap_session.h"

void imap_cmd_idle(struct imap_session *s, const struct imap_cmd *cmd, bool uid)
{
	(void)uid;
	snprintf(s->idle_tag, sizeof(s->idle_tag), "%s", cmd->tag);
	s->mode = IMAP_M_IDLE;
	imap_printf(s, "+ idling\r\n");
	if (s->state == IMAP_S_SELECTED) {
		imap_view_poll(s);
		imap_view_announce(s, true);
	}
}

void imap_idle_notify(struct imap_session *s)
{
	if (s->mode == IMAP_M_IDLE && !s->closing &&
	    s->state == IMAP_S_SELECTED)
		imap_view_announce(s, true);
}

void imap_idle_line(struct imap_session *s, const char *line, size_t len)
{
	s->mode = IMAP_M_CMD;
	if (len != 4 || strncasecmp(line, "DONE", 4) != 0) {
		imap_printf(s, "%s BAD Expected DONE\r\n", s->idle_tag);
		return;
	}
	imap_tagged(s, s->idle_tag, true, "OK IDLE terminated");
}
