/*
 * Authentication-Results (RFC 8601): the field rmail adds to mail it
 * received on port 25, and the removal of fields that claim rmail's
 * authserv-id (a sender must not be able to forge them).
 *
 * Everything that comes from the message or the peer (domains, the
 * envelope sender, HELO) goes through one quoting routine: a value that
 * is not an RFC 2045 token is written as a quoted-string, control
 * characters (CR, LF included) are dropped, so no input can end the
 * field or start another.
 */
#ifndef RM_MA_AUTHRES_H
#define RM_MA_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

/* one DKIM signature's result; strings may be NULL (omitted) */
struct authres_dkim {
	const char *result; /* "pass", "fail", ... (RFC 8601 §2.7.1) */
	const char *d;	    /* header.d */
	const char *s;	    /* header.s */
	const char *a;	    /* header.a */
	const char *b;	    /* the signature's b=; its first 8 characters
			     * go out as header.b (RFC 6008) */
	const char *reason; /* a comment, e.g. "body hash mismatch" */
};

struct authres_in {
	/* SPF: NULL = not evaluated (no spf= entry) */
	const char *spf_result;
	const char *spf_mailfrom; /* smtp.mailfrom (address or domain) */
	const char *spf_helo;	  /* smtp.helo, when MAIL FROM was null */
	/* DKIM: ndkim signatures; none and dkim_checked = dkim=none */
	bool dkim_checked;
	size_t ndkim;
	const struct authres_dkim *dkim;
	/* DMARC: NULL = not evaluated */
	const char *dmarc_result;
	const char *dmarc_from;	       /* header.from */
	const char *dmarc_policy;      /* the published p=/sp= that applied */
	const char *dmarc_disposition; /* what rmail did: none, quarantine,
					* reject */
};

/* The whole field, "Authentication-Results: id;\r\n\t...\r\n", folded
 * at 78 columns where the input allows, malloc'd.  Nothing evaluated:
 * "Authentication-Results: id; none". */
char *authres_build(const char *authserv_id, const struct authres_in *in);

/* Append `v` to buf (cap bytes, NUL-terminated, truncated silently) as
 * an RFC 8601 value: as is when it is a token or local@domain of
 * tokens, else a quoted-string; control characters dropped; at most
 * 255 bytes of it.  For callers that build their own entries. */
void authres_value(char *buf, size_t cap, const char *v);

/* ---- removal ------------------------------------------------------ */

struct authres_range {
	size_t off, len; /* a whole field: name, folded lines, line end */
};

/* The authserv-id of one field value (what follows the colon, folded
 * or not): leading CFWS skipped, a token or quoted-string; a trailing
 * dot removed.  0, or -1 when there is none. */
int authres_parse_id(const char *value, size_t len, char *id, size_t sz);

/* Every Authentication-Results field of the header block at the start
 * of msg (scanning stops at the first empty line) whose authserv-id
 * equals `ours`, case-insensitively, whatever version or results
 * follow.  Ranges in ascending order, malloc'd into *out (NULL when
 * none); returns their count. */
size_t authres_find_ours(const char *msg, size_t len, const char *ours,
			 struct authres_range **out);

/* Copy in_fd from offset 0 to its end into out_fd (at its current
 * position), leaving out the ranges (ascending, as above).  0, or -1
 * with errno set. */
int authres_copy_without(int in_fd, int out_fd, const struct authres_range *r,
			 size_t n);

/* The two above on a spool file: read in_fd's header block (at most
 * `max_header` bytes are searched; a longer header is searched that
 * far), copy in_fd to out_fd without our fields.  *removed_r: how many
 * went.  0, or -1 with errno. */
int authres_strip_fd(int in_fd, int out_fd, const char *ours, size_t max_header,
		     size_t *removed_r);

#endif
