/* A loopback SMTP sink whose EHLO offers exactly the extensions it is
 * given, for the outbound-format tests: it records each transaction's
 * MAIL and RCPT lines as they came and its DATA as on the wire. */
#ifndef SUBMIT_CAPSINK_H
#define SUBMIT_CAPSINK_H

#include <glib.h>

struct capsink;

/* caps: EHLO keyword lines separated by '\n' ("8BITMIME\nSIZE 100"),
 * "" for none.  Every command gets 250 (354 for DATA). */
struct capsink *capsink_start(const char *caps, guint *port_r);
/* completed DATA transactions */
guint capsink_count(struct capsink *k);
/* sessions that said QUIT without sending MAIL */
guint capsink_quits_before_mail(struct capsink *k);
/* the i-th transaction: its MAIL line without CRLF, its RCPT lines
 * comma-separated, its DATA bytes as on the wire (stuffed, with the
 * final ".\r\n"); all g_free */
char *capsink_mail(struct capsink *k, guint i);
char *capsink_rcpts(struct capsink *k, guint i);
char *capsink_raw(struct capsink *k, guint i, gsize *len_r);

#endif
