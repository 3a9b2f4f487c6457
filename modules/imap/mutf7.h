/*
 * Modified UTF-7 for mailbox names (RFC 3501 section 5.1.3).  Pure and
 * bounded: the caller gives the output buffer.  The decoder is strict: it
 * accepts only what the encoder would produce, so one name has exactly
 * one wire form.
 */
#ifndef IMAP_MUTF7_H
#define IMAP_MUTF7_H

#include <stddef.h>

/*
 * Both write a NUL-terminated string of at most out_size - 1 bytes into
 * out and its length into *out_len_r.  0 on success, -1 with a static
 * reason in *error_r (invalid input, or "Output too long").
 */
int mutf7_encode(const char *utf8, size_t len, char *out, size_t out_size,
		 size_t *out_len_r, const char **error_r);
int mutf7_decode(const char *mutf7, size_t len, char *out, size_t out_size,
		 size_t *out_len_r, const char **error_r);

/*
 * A mailbox name sent as UTF-8 (RFC 6855 3): strict UTF-8 and Net-Unicode
 * without controls (C0, DEL, C1) and without U+2028/U+2029.  0, or -1
 * with a static reason in *error_r.
 */
int mutf7_utf8_name(const char *utf8, size_t len, const char **error_r);

#endif
