/*
 * What IMAP needs from a parsed message, computed once and cached:
 * the ENVELOPE, BODYSTRUCTURE and BODY strings and the byte ranges of
 * every part, so sections can be served from the file.  Building is
 * pure (the core table is passed in) so it runs on a worker thread and
 * under libFuzzer; the cache is loop-only.
 */
#ifndef IMAP_MIME_H
#define IMAP_MIME_H

#include <stddef.h>
#include <stdint.h>

#include <rmail/core.h>

#include "imap_threadid.h"

/* a growable output buffer; OOM aborts */
struct imap_buf {
	char *p;
	size_t len, cap;
};

void imap_buf_add(struct imap_buf *b, const void *d, size_t n);
/* room for n more bytes after len */
void imap_buf_reserve(struct imap_buf *b, size_t n);
void imap_buf_puts(struct imap_buf *b, const char *s);
/* NIL, a quoted string, or a literal for 8-bit/CR/LF/long values */
void imap_buf_nstring(struct imap_buf *b, const char *s);
void imap_buf_free(struct imap_buf *b);
/* imap_bsparam.c: the parameter list of a raw Content-Type or
 * Content-Disposition value (NULL: none) as Dovecot sends it, with
 * ("charset" def_charset) when it has none and def_charset is set */
void imap_bs_params(struct imap_buf *b, const char *value,
		    const char *def_charset);

struct imap_mpart {
	uint64_t hdr_off, hdr_len, body_off, body_len;
	uint32_t first_child, next_sibling; /* or RMAIL_MIME_NONE */
	uint32_t flags;			    /* rmail_mime_part_flags */
};

struct imap_msginfo {
	/* cache key */
	char *key;
	uint32_t uid;
	uint64_t size;
	struct imap_msginfo *lru_prev, *lru_next, *hnext;

	const char *envelope, *bodystructure, *body;
	size_t envelope_len, bodystructure_len, body_len;
	const char *preview; /* RFC 8970, UTF-8, NUL-terminated */
	size_t preview_len;
	/* OBJECTID's THREADID from the header, "" when it names no id */
	char threadid[IMAP_THREADID_LEN + 1];
	struct imap_mpart *parts;
	uint32_t nparts;
	size_t mem; /* bytes held */
};

/* what every parse here uses: part indexes agree between parses */
extern const struct rmail_mime_limits imap_mime_limits;

/* parse `data` with core->mime_parse and build the strings; NULL only
 * when the parser refused the message outright */
struct imap_msginfo *imap_msginfo_build(const struct rmail_core *core,
					const char *data, size_t len);
void imap_msginfo_free(struct imap_msginfo *mi);

/*
 * The ENVELOPE of part `idx` (0, or the encapsulated message of a
 * message/rfc822 part) into b.
 */
void imap_envelope_write(const struct rmail_core *core, struct rmail_mime *m,
			 size_t idx, struct imap_buf *b);

enum imap_sect_what {
	IMAP_SECT_BODY,	      /* the part's body ([1.2]) */
	IMAP_SECT_MIME,	      /* the part's own header */
	IMAP_SECT_MSG_HEADER, /* HEADER of the message at the part */
	IMAP_SECT_MSG_TEXT,   /* TEXT of the message at the part */
};

/*
 * The byte range of a section: part numbers (may be 0 of them for the
 * whole message) and what.  -1 when the part does not exist; a
 * HEADER/TEXT of a part that is no message gives an empty range.
 */
int imap_section_range(const struct imap_msginfo *mi, const uint32_t *part,
		       unsigned int nparts, enum imap_sect_what what,
		       uint64_t *off_r, uint64_t *len_r);

/* ---- imap_preview.c (RFC 8970) ---------------------------------- */
/* the PREVIEW text of a parsed message into out (nothing: "") */
void imap_preview_build(const struct rmail_core *core, struct rmail_mime *m,
			struct imap_buf *out);

/* ---- imap_binary.c (RFC 3516) ----------------------------------- */
enum imap_bin_status {
	IMAP_BINST_NOPART, /* no such part: NIL (also a result not made) */
	IMAP_BINST_OK,
	IMAP_BINST_UNKNOWN_CTE, /* NO [UNKNOWN-CTE] */
};

struct imap_bin_result {
	int status; /* enum imap_bin_status */
	char *data; /* malloc'd decoded content (OK) */
	size_t len;
};

/*
 * The decoded content of a section (part numbers, none: the whole
 * message as it is) of the message `data`, with the core's MIME parser
 * and transfer decoders.  Pure: runs on a worker and under libFuzzer.
 * A composite part (multipart, message/rfc822) and 7bit, 8bit and
 * binary parts are their bytes as they are; base64 and
 * quoted-printable are decoded; any other encoding is UNKNOWN_CTE.
 */
void imap_binary_decode(const struct rmail_core *core, const char *data,
			size_t len, const uint32_t *part, unsigned int nparts,
			struct imap_bin_result *r);

/* ---- imap_msgcache.c (loop thread only) ------------------------- */
struct imap_msginfo *imap_cache_get(const char *user, const char *mbox,
				    uint32_t uidvalidity, uint32_t uid,
				    uint64_t size);
/* takes ownership; the key is set here */
void imap_cache_put(const char *user, const char *mbox, uint32_t uidvalidity,
		    uint32_t uid, uint64_t size, struct imap_msginfo *mi);
void imap_cache_clear(void);
/* bytes and entries held, for tests and the bench */
void imap_cache_stats(size_t *bytes_r, size_t *entries_r);

#endif
