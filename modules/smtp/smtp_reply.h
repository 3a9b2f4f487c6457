/* SMTP replies, single and multi-line, into a caller buffer. */
#ifndef SMTP_REPLY_H
#define SMTP_REPLY_H

#include <stddef.h>

#include <rmail/err.h>

#define SMTP_REPLY_LINE_MAX 512 /* RFC 5321 4.5.3.1.5, incl. CRLF */

/*
 * Writes "code-enh line\r\n" ... "code enh last\r\n", one reply line per
 * '\n'-separated line of text (enh may be NULL).  Control characters in
 * text become '?', so no caller string can inject a reply line.  Returns
 * 0 and the length in *len_r, or -1 when the reply does not fit in size
 * or a line would exceed SMTP_REPLY_LINE_MAX (nothing usable written).
 */
int smtp_reply_format(char *buf, size_t size, unsigned code, const char *enh,
		      const char *text, size_t *len_r) RMAIL_WARN_UNUSED;

#endif
