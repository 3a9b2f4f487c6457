/*
 * 8-bit content and its 7-bit form (RFC 6152 §3, RFC 2045 §6): what
 * a message needs of the next hop, and the message with every 8-bit
 * body re-encoded so it can cross a hop without 8BITMIME.  Pure (no
 * I/O), any thread.  Never installed.
 */
#ifndef RM_MIME_TO7BIT_H
#define RM_MIME_TO7BIT_H

#include "mime_int.h"

enum rm_8bit_class {
	RM_8BIT_ANY = 1u << 0, /* a byte >= 0x80 anywhere */
	RM_8BIT_HDR = 1u << 1, /* ... in a header block, at any MIME level */
	/* every 8-bit header block is UTF-8: an RFC 6532 message */
	RM_8BIT_HDR_UTF8 = 1u << 2,
};

bool rm_mime_has_8bit(const char *s, size_t n);
/* enum rm_8bit_class flags of the message */
unsigned rm_mime_8bit_class(const char *msg, size_t len);

/* quoted-printable (RFC 2045 §6.7), lines of at most 76 octets: CRLF
 * and LF are line breaks (CRLF out), everything else round-trips */
void rm_mime_qp_encode(struct rm_mbuf *out, const char *in, size_t len);
/* base64 in lines of 76 octets, CRLF between them, none after */
void rm_mime_b64_encode(struct rm_mbuf *out, const char *in, size_t len);

/*
 * The message with no 8-bit body left: each leaf part whose body has
 * an 8-bit octet is re-encoded (quoted-printable for text that is
 * mostly ASCII, base64 otherwise) and its Content-Transfer-Encoding
 * replaced; multiparts and message/rfc822 are walked into and their
 * "8bit"/"binary" labels become "7bit" when nothing 8-bit is left
 * below them; message/global is base64 as a whole; a part that cannot
 * carry an encoding (message/rfc822 or a multipart the parser could
 * not split) becomes application/octet-stream; 8-bit octets in
 * preambles, epilogues and delimiter lines become '?'.  Header blocks
 * are never changed beyond those fields (8-bit in them is SMTPUTF8's
 * business).  Returns the number of parts changed; then *out_r
 * (malloc'd, NUL-terminated) and *out_len_r hold the new message.
 * 0: nothing to change, *out_r NULL.
 */
size_t rm_mime_to7bit(const char *msg, size_t len, char **out_r,
		      size_t *out_len_r);

#endif
