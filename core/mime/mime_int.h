/*
 * MIME parser internals shared by mime_parse.c (structure and the
 * services-table entry points), mime_header.c (RFC 2047, parameters),
 * mime_addr.c (RFC 5322 address lists) and mime_decode.c (transfer
 * decodings, charsets).  Never installed.
 */
#ifndef RM_MIME_INT_H
#define RM_MIME_INT_H

#include "rm.h"

/* Core defaults for a 0 in struct rmail_mime_limits (see mime.h). */
#define RM_MIME_DEF_DEPTH 32u
#define RM_MIME_DEF_PARTS 5000u
#define RM_MIME_DEF_HEADERS 1000u     /* per part */
#define RM_MIME_DEF_HEADER_LEN 65536u /* unfolded field */
#define RM_MIME_DEF_LINE_LEN 1048576u
/* Address lists longer than this are refused (CVE-2024-23184 class). */
#define RM_MIME_MAX_ADDRS 10000u
/* Content-Type/Disposition parameters kept per field. */
#define RM_MIME_MAX_PARAMS 64u

/* Growable byte buffer (malloc) used while building a pool string. */
struct rm_mbuf {
	char *p;
	size_t len, cap;
};

void rm_mbuf_add(struct rm_mbuf *b, const void *data, size_t n);
void rm_mbuf_addc(struct rm_mbuf *b, char c);
/* copy into the pool, NUL terminated, and free the buffer */
char *rm_mbuf_finish(struct rm_mbuf *b, struct rmail_pool *pool, size_t *len_r);
void rm_mbuf_free(struct rm_mbuf *b);

/* ---- mime_decode.c ---------------------------------------------- */
void rm_mime_base64(struct rm_mbuf *out, const char *in, size_t len);
/* q_encoding: RFC 2047 "Q" (underscore is a space, no soft breaks) */
void rm_mime_qp(struct rm_mbuf *out, const char *in, size_t len,
		bool q_encoding);
/* Append in (labelled charset, NULL when unknown) as UTF-8.  Never
 * fails: unknown labels and bad bytes fall back (see mime_decode.c). */
void rm_mime_to_utf8(struct rm_mbuf *out, const char *charset, const char *in,
		     size_t len);

/* ---- mime_header.c ---------------------------------------------- */
/* RFC 2047 encoded-words to UTF-8; 8-bit bytes outside them are taken
 * as UTF-8 when valid, else windows-1252. */
char *rm_mime_decode_2047(struct rmail_pool *pool, const char *in, size_t len);
void rm_mime_decode_2047_buf(struct rm_mbuf *out, const char *in, size_t len);
/* "type/subtype; params" or "value; params" (Content-Disposition when
 * subtype_r is NULL).  Names lower case, values decoded to UTF-8
 * (RFC 2231 continuations and charsets, RFC 2047 tolerated).  Returns
 * false when the leading value is missing or malformed. */
bool rm_mime_parse_ctype(struct rmail_pool *pool, const char *value,
			 const char **type_r, const char **subtype_r,
			 struct rmail_strmap *params_r);
const char *rm_mime_strmap_get(const struct rmail_strmap *m, const char *key);
/* lower-cased copy, whitespace and one comment trimmed: "7bit" */
const char *rm_mime_token(struct rmail_pool *pool, const char *value);

/* ---- mime_addr.c ------------------------------------------------ */
int rm_mime_addr_parse(struct rmail_pool *pool, const char *value,
		       const struct rmail_mime_addr **addrs_r, size_t *n_r);

#endif
