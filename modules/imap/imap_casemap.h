/*
 * i;unicode-casemap (RFC 5051) for SEARCH: UTF-8 in, the canonical
 * form out, so a substring match of mapped strings is the
 * case-insensitive match IMAP asks for.  The mapping is the core's
 * (rmail_core.casemap).
 */
#ifndef IMAP_CASEMAP_H
#define IMAP_CASEMAP_H

#include <stddef.h>
#include <stdint.h>

#include "imap_mime.h"

/* take the core's table (module init, and harnesses with their core) */
void imap_casemap_init(const struct rmail_core *core);

/* append the mapping of s[0..n) to out; invalid UTF-8 bytes become
 * U+FFFD so they cannot fake a match across characters */
void imap_casemap(const char *s, size_t n, struct imap_buf *out);

#endif
