/*
 * A bounded, incremental HTTP/1.1 request parser.  Pure: no I/O, no
 * allocation, no logging.
 *
 * The head (request line and header fields) is scanned for its end as
 * bytes arrive; the scan resumes where it stopped, so a head trickled
 * one byte at a time costs O(n).  Once complete it is parsed in one go
 * and the request's strings are slices into the caller's buffer, valid
 * until the caller consumes `used` bytes.  The body (Content-Length or
 * chunked) is decoded by a resumable state machine that hands decoded
 * bytes to a sink and never looks back.
 *
 * Lines end in CRLF only: a bare LF in the head or in the chunk framing
 * is a 400, so a stricter front proxy and rmail frame a stream alike.
 *
 * Errors carry the HTTP status to answer: 400, 411, 413, 414, 431, 501,
 * 505.  After an error the connection cannot be resynchronised.
 */
#ifndef EX_HTTP_PARSER_H
#define EX_HTTP_PARSER_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEADERS 64

enum http_method {
	HTTP_OTHER = 0,
	HTTP_GET,
	HTTP_HEAD,
	HTTP_POST,
	HTTP_PUT,
	HTTP_DELETE,
	HTTP_OPTIONS,
	HTTP_PATCH,
};

struct http_limits {
	size_t max_request_line; /* incl. CRLF: beyond it 414 */
	size_t max_head;	 /* request line + fields: 431 */
	size_t max_headers;	 /* field count (<= HTTP_MAX_HEADERS) */
	uint64_t max_body;	 /* decoded body bytes: 413 */
};

struct http_slice {
	const char *p;
	size_t n;
};

struct http_header {
	struct http_slice name;
	struct http_slice value; /* leading/trailing blanks trimmed */
};

struct http_request {
	int method; /* enum http_method */
	struct http_slice method_str;
	struct http_slice target; /* origin-form or "*" */
	int minor;		  /* HTTP/1.<minor> */
	size_t nheaders;
	struct http_header headers[HTTP_MAX_HEADERS];
	int keep_alive;
	int has_body; /* Content-Length > 0 or chunked */
	int chunked;
	uint64_t content_length;
	int expect_continue;
};

enum http_body_state {
	HB_NONE = 0,
	HB_LENGTH,
	HB_CHUNK_SIZE,
	HB_CHUNK_EXT,
	HB_CHUNK_SIZE_LF,
	HB_CHUNK_DATA,
	HB_CHUNK_DATA_CR,
	HB_CHUNK_DATA_LF,
	HB_TRAILER_START,
	HB_TRAILER,
	HB_TRAILER_FIELD_LF,
	HB_TRAILER_LF,
	HB_DONE,
};

struct http_parser {
	struct http_limits lim;
	size_t scan;	   /* head bytes already searched */
	int status;	   /* HTTP status after RMAIL_INVALID */
	const char *error; /* short reason after RMAIL_INVALID */
	/* body */
	int bstate;	    /* enum http_body_state */
	uint64_t remaining; /* in the body or the current chunk */
	uint64_t total;	    /* decoded so far */
	unsigned digits;
	size_t ext_len;
	size_t trailer_len;
};

typedef void (*http_sink_fn)(void *arg, const char *data, size_t n);

void http_parser_init(struct http_parser *p, const struct http_limits *lim);
/* ready for the next request on the same connection */
void http_parser_reset(struct http_parser *p);

/* RMAIL_OK: the head is complete, *used_r bytes long, req filled and
 * the body state set up; RMAIL_AGAIN: need more bytes (nothing to
 * consume yet); RMAIL_INVALID: p->status says what to answer. */
int http_parse_head(struct http_parser *p, const char *data, size_t len,
		    struct http_request *req, size_t *used_r);

/* Decode body bytes.  *used_r input bytes may be consumed; decoded bytes
 * go to sink.  RMAIL_OK: the body is complete; RMAIL_AGAIN: feed more;
 * RMAIL_INVALID: p->status. */
int http_parse_body(struct http_parser *p, const char *data, size_t len,
		    size_t *used_r, http_sink_fn sink, void *arg);

/* the value of the first field `name` (case-insensitive) or NULL */
const struct http_slice *http_header_get(const struct http_request *req,
					 const char *name);
/* case-insensitive comparison of a slice with a C string */
int http_slice_eq(const struct http_slice *s, const char *str);

#endif
