/*
 * Spam into Junk: the header a filter adds to mark spam (spam.header,
 * spam.value: rspamd's "X-Spam: Yes" by default).  The client's own
 * copy of that field is removed before the filters run, so only a
 * filter can put it there; a message carrying it after the filters
 * goes to each local recipient's \Junk unless the recipient opted out
 * (user setting spam_to_junk = "no").
 */
#ifndef RM_SUBMIT_SPAM_H
#define RM_SUBMIT_SPAM_H

#include <stdbool.h>
#include <stddef.h>

#include "hdr_find.h"

/* [worker] When the header block of in_fd (its first max_header bytes
 * are searched) holds spam.header fields: a copy without them in a new
 * memfd, *out_fd_r (the caller closes it), *removed_r how many went.
 * Else *out_fd_r = -1, *removed_r = 0.  0, or -1 with errno. */
int rm_spam_strip_fd(int in_fd, int *out_fd_r, size_t max_header,
		     size_t *removed_r);

/* Do the header lines ("Name: value\r\n"..., what filters add) mark
 * the message as spam under spam.header / spam.value? */
bool rm_spam_verdict(const char *lines);

/* [worker] Does the user want spam in \Junk (the default), or kept in
 * INBOX (setting spam_to_junk = "no")?  A store that cannot tell says
 * yes. */
bool rm_spam_wants_junk(const char *user);

#endif
