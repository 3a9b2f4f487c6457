/* The HTTP/1.1 request parser; see http_parser.h for the contract. */
#include <string.h>

#include <rmail/err.h>

#include "http_parser.h"

#define CHUNK_EXT_MAX 1024
#define TRAILER_MAX 8192

static int fail(struct http_parser *p, int status, const char *why)
{
	p->status = status;
	p->error = why;
	return RMAIL_INVALID;
}

void http_parser_init(struct http_parser *p, const struct http_limits *lim)
{
	memset(p, 0, sizeof(*p));
	p->lim = *lim;
	if (p->lim.max_headers == 0 || p->lim.max_headers > HTTP_MAX_HEADERS)
		p->lim.max_headers = HTTP_MAX_HEADERS;
}

void http_parser_reset(struct http_parser *p)
{
	struct http_limits lim = p->lim;

	http_parser_init(p, &lim);
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

int http_slice_eq(const struct http_slice *s, const char *str)
{
	size_t i, n = strlen(str);

	if (s->n != n)
		return 0;
	for (i = 0; i < n; i++)
		if (lower((unsigned char)s->p[i]) !=
		    lower((unsigned char)str[i]))
			return 0;
	return 1;
}

const struct http_slice *http_header_get(const struct http_request *req,
					 const char *name)
{
	size_t i;

	for (i = 0; i < req->nheaders; i++)
		if (http_slice_eq(&req->headers[i].name, name))
			return &req->headers[i].value;
	return NULL;
}

/* RFC 9110 tchar */
static int is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static const struct {
	const char *s;
	int m;
} methods[] = {
	{"GET", HTTP_GET},	 {"HEAD", HTTP_HEAD},
	{"POST", HTTP_POST},	 {"PUT", HTTP_PUT},
	{"DELETE", HTTP_DELETE}, {"OPTIONS", HTTP_OPTIONS},
	{"PATCH", HTTP_PATCH},
};

static int method_of(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strlen(methods[i].s) == n &&
		    memcmp(methods[i].s, s, n) == 0)
			return methods[i].m;
	return HTTP_OTHER;
}

/* end of the line starting at pos (index of LF) and the content end */
static size_t line_end(const char *d, size_t pos, size_t end, size_t *cend_r)
{
	const char *lf = memchr(d + pos, '\n', end - pos);
	size_t e = (size_t)(lf - d);

	*cend_r = (e > pos && d[e - 1] == '\r') ? e - 1 : e;
	return e;
}

static int parse_request_line(struct http_parser *p, const char *d, size_t pos,
			      size_t cend, struct http_request *r)
{
	size_t i = pos;

	while (i < cend && is_tchar((unsigned char)d[i]))
		i++;
	if (i == pos || i >= cend || d[i] != ' ')
		return fail(p, 400, "bad request line");
	r->method_str.p = d + pos;
	r->method_str.n = i - pos;
	r->method = method_of(d + pos, i - pos);
	pos = ++i;
	while (i < cend && (unsigned char)d[i] > ' ' && d[i] != 0x7f)
		i++;
	if (i == pos || i >= cend || d[i] != ' ')
		return fail(p, 400, "bad request target");
	r->target.p = d + pos;
	r->target.n = i - pos;
	if (d[pos] != '/' && !(r->target.n == 1 && d[pos] == '*'))
		return fail(p, 400, "bad request target");
	pos = i + 1;
	if (cend - pos != 8 || memcmp(d + pos, "HTTP/1.", 7) != 0 ||
	    d[pos + 7] < '0' || d[pos + 7] > '9') {
		if (cend - pos >= 5 && memcmp(d + pos, "HTTP/", 5) == 0)
			return fail(p, 505, "HTTP version not supported");
		return fail(p, 400, "bad HTTP version");
	}
	r->minor = d[pos + 7] - '0';
	return RMAIL_OK;
}

static int parse_field(struct http_parser *p, const char *d, size_t pos,
		       size_t cend, struct http_request *r)
{
	struct http_header *h;
	size_t i = pos;

	if (d[pos] == ' ' || d[pos] == '\t')
		return fail(p, 400, "folded header field");
	while (i < cend && is_tchar((unsigned char)d[i]))
		i++;
	if (i == pos || i >= cend || d[i] != ':')
		return fail(p, 400, "bad header field");
	if (r->nheaders >= p->lim.max_headers)
		return fail(p, 431, "too many header fields");
	h = &r->headers[r->nheaders++];
	h->name.p = d + pos;
	h->name.n = i - pos;
	i++;
	while (i < cend && (d[i] == ' ' || d[i] == '\t'))
		i++;
	while (cend > i && (d[cend - 1] == ' ' || d[cend - 1] == '\t'))
		cend--;
	h->value.p = d + i;
	h->value.n = cend - i;
	for (; i < cend; i++) {
		unsigned char c = (unsigned char)d[i];

		if ((c < ' ' && c != '\t') || c == 0x7f)
			return fail(p, 400, "control character in a field");
	}
	return RMAIL_OK;
}

static int parse_length(const struct http_slice *v, uint64_t *n_r)
{
	uint64_t n = 0;
	size_t i;

	if (v->n == 0 || v->n > 18)
		return -1;
	for (i = 0; i < v->n; i++) {
		if (v->p[i] < '0' || v->p[i] > '9')
			return -1;
		n = n * 10 + (uint64_t)(v->p[i] - '0');
	}
	*n_r = n;
	return 0;
}

/* does the comma-separated list contain the token (case-insensitive) */
static int list_has(const struct http_slice *v, const char *tok)
{
	size_t i = 0, s, e;
	struct http_slice t;

	while (i < v->n) {
		while (i < v->n &&
		       (v->p[i] == ' ' || v->p[i] == '\t' || v->p[i] == ','))
			i++;
		s = i;
		while (i < v->n && v->p[i] != ',')
			i++;
		e = i;
		while (e > s && (v->p[e - 1] == ' ' || v->p[e - 1] == '\t'))
			e--;
		t.p = v->p + s;
		t.n = e - s;
		if (t.n > 0 && http_slice_eq(&t, tok))
			return 1;
	}
	return 0;
}

static int head_semantics(struct http_parser *p, struct http_request *r)
{
	const struct http_slice *te = NULL;
	int have_cl = 0, hosts = 0;
	uint64_t cl = 0, v;
	size_t i;

	r->keep_alive = r->minor >= 1;
	for (i = 0; i < r->nheaders; i++) {
		const struct http_header *h = &r->headers[i];

		if (http_slice_eq(&h->name, "content-length")) {
			if (parse_length(&h->value, &v) < 0)
				return fail(p, 400, "bad Content-Length");
			if (have_cl && v != cl)
				return fail(p, 400,
					    "conflicting Content-Length");
			have_cl = 1;
			cl = v;
		} else if (http_slice_eq(&h->name, "transfer-encoding")) {
			if (te != NULL)
				return fail(p, 501,
					    "unsupported Transfer-Encoding");
			te = &h->value;
		} else if (http_slice_eq(&h->name, "host")) {
			hosts++;
		} else if (http_slice_eq(&h->name, "connection")) {
			if (list_has(&h->value, "close"))
				r->keep_alive = 0;
			else if (list_has(&h->value, "keep-alive"))
				r->keep_alive = 1;
		} else if (http_slice_eq(&h->name, "expect")) {
			if (!http_slice_eq(&h->value, "100-continue"))
				return fail(p, 400, "bad Expect");
			r->expect_continue = r->minor >= 1;
		}
	}
	if (hosts > 1 || (hosts == 0 && r->minor >= 1))
		return fail(p, 400, "missing or repeated Host");
	if (te != NULL) {
		/* both framings at once is the request-smuggling shape */
		if (have_cl || r->minor == 0)
			return fail(p, 400, "bad Transfer-Encoding");
		if (!http_slice_eq(te, "chunked"))
			return fail(p, 501, "unsupported Transfer-Encoding");
		r->chunked = 1;
		r->has_body = 1;
		p->bstate = HB_CHUNK_SIZE;
		return RMAIL_OK;
	}
	if (!have_cl && (r->method == HTTP_POST || r->method == HTTP_PUT ||
			 r->method == HTTP_PATCH))
		return fail(p, 411, "Content-Length required");
	if (cl > p->lim.max_body)
		return fail(p, 413, "request body too large");
	r->content_length = cl;
	r->has_body = cl > 0;
	p->remaining = cl;
	p->bstate = cl > 0 ? HB_LENGTH : HB_DONE;
	return RMAIL_OK;
}

int http_parse_head(struct http_parser *p, const char *data, size_t len,
		    struct http_request *req, size_t *used_r)
{
	size_t start = 0, i, end = 0, pos, e, cend, lim;
	const char *lf;

	/* stray CRLFs after a previous body are tolerated (RFC 9112 2.2);
	 * a bare LF is not, and is refused with the request line */
	while (len - start >= 2 && data[start] == '\r' &&
	       data[start + 1] == '\n')
		start += 2;
	if (start >= p->lim.max_head)
		return fail(p, 400, "empty lines");
	if (start == len || (len - start == 1 && data[start] == '\r')) {
		*used_r = 0;
		return RMAIL_AGAIN;
	}
	lim = len - start < p->lim.max_request_line ? len - start
						    : p->lim.max_request_line;
	lf = memchr(data + start, '\n', lim);
	if (lf == NULL) {
		if (len - start >= p->lim.max_request_line)
			return fail(p, 414, "request line too long");
		*used_r = 0;
		return RMAIL_AGAIN;
	}
	/* Every line ends in CRLF (RFC 9112 2.2): a bare LF would let a
	 * front proxy that frames the stream differently smuggle a request
	 * past us, so it is refused rather than tolerated. */
	i = p->scan > start ? p->scan : start;
	for (; i < len && i - start < p->lim.max_head; i++) {
		if (data[i] != '\n')
			continue;
		if (i == start || data[i - 1] != '\r')
			return fail(p, 400, "bare LF in the request head");
		if (i - start >= 3 && data[i - 2] == '\n') {
			end = i + 1;
			break;
		}
	}
	if (end == 0) {
		if (i - start >= p->lim.max_head)
			return fail(p, 431, "request header fields too large");
		p->scan = i;
		*used_r = 0;
		return RMAIL_AGAIN;
	}

	memset(req, 0, sizeof(*req));
	pos = start;
	e = line_end(data, pos, end, &cend);
	if (parse_request_line(p, data, pos, cend, req) != RMAIL_OK)
		return RMAIL_INVALID;
	for (pos = e + 1; pos < end; pos = e + 1) {
		e = line_end(data, pos, end, &cend);
		if (cend == pos)
			break; /* the empty line */
		if (parse_field(p, data, pos, cend, req) != RMAIL_OK)
			return RMAIL_INVALID;
	}
	if (head_semantics(p, req) != RMAIL_OK)
		return RMAIL_INVALID;
	*used_r = end;
	return RMAIL_OK;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int emit(struct http_parser *p, const char *d, size_t n,
		http_sink_fn sink, void *arg)
{
	if (n > p->lim.max_body - p->total)
		return fail(p, 413, "request body too large");
	p->total += n;
	if (n > 0)
		sink(arg, d, n);
	return RMAIL_OK;
}

int http_parse_body(struct http_parser *p, const char *data, size_t len,
		    size_t *used_r, http_sink_fn sink, void *arg)
{
	size_t i = 0, n;
	int h;

	*used_r = 0;
	while (p->bstate != HB_DONE) {
		if (i >= len) {
			*used_r = i;
			return RMAIL_AGAIN;
		}
		switch (p->bstate) {
		case HB_LENGTH:
		case HB_CHUNK_DATA:
			n = len - i;
			if ((uint64_t)n > p->remaining)
				n = (size_t)p->remaining;
			if (emit(p, data + i, n, sink, arg) != RMAIL_OK)
				return RMAIL_INVALID;
			i += n;
			p->remaining -= n;
			if (p->remaining == 0)
				p->bstate = p->bstate == HB_LENGTH
						    ? HB_DONE
						    : HB_CHUNK_DATA_CR;
			break;
		case HB_CHUNK_SIZE:
			h = hexval((unsigned char)data[i]);
			if (h >= 0) {
				if (++p->digits > 15)
					return fail(p, 400,
						    "chunk size too long");
				p->remaining = p->remaining * 16 + (uint64_t)h;
				i++;
				break;
			}
			if (p->digits == 0)
				return fail(p, 400, "bad chunk size");
			if (p->remaining > p->lim.max_body - p->total)
				return fail(p, 413, "request body too large");
			p->bstate = HB_CHUNK_EXT;
			p->ext_len = 0;
			break;
		case HB_CHUNK_EXT:
			if (data[i] == '\r') {
				p->bstate = HB_CHUNK_SIZE_LF;
			} else if (data[i] == '\n') {
				return fail(p, 400, "bare LF in chunk framing");
			} else if (p->ext_len == 0 && data[i] != ';' &&
				   data[i] != ' ' && data[i] != '\t') {
				return fail(p, 400, "bad chunk size");
			} else if (++p->ext_len > CHUNK_EXT_MAX) {
				return fail(p, 400, "chunk extension too long");
			}
			i++;
			break;
		case HB_CHUNK_SIZE_LF:
			if (data[i] != '\n')
				return fail(p, 400, "bad chunk framing");
			i++;
			p->digits = 0;
			if (p->remaining == 0) {
				p->bstate = HB_TRAILER_START;
				p->trailer_len = 0;
			} else {
				p->bstate = HB_CHUNK_DATA;
			}
			break;
		case HB_CHUNK_DATA_CR:
			if (data[i] == '\r') {
				p->bstate = HB_CHUNK_DATA_LF;
				i++;
				break;
			}
			return fail(p, 400, "bad chunk framing");
		case HB_CHUNK_DATA_LF:
			if (data[i] != '\n')
				return fail(p, 400, "bad chunk framing");
			i++;
			p->bstate = HB_CHUNK_SIZE;
			p->remaining = 0;
			break;
		case HB_TRAILER_START:
			if (data[i] == '\r') {
				i++;
				p->bstate = HB_TRAILER_LF;
				break;
			}
			p->bstate = HB_TRAILER;
			break;
		case HB_TRAILER:
			/* trailer fields are read and dropped, bounded */
			if (++p->trailer_len > TRAILER_MAX)
				return fail(p, 431, "trailer too large");
			if (data[i] == '\n')
				return fail(p, 400, "bare LF in a trailer");
			if (data[i] == '\r')
				p->bstate = HB_TRAILER_FIELD_LF;
			i++;
			break;
		case HB_TRAILER_FIELD_LF:
			if (data[i] != '\n')
				return fail(p, 400, "bad chunk framing");
			i++;
			p->bstate = HB_TRAILER_START;
			break;
		case HB_TRAILER_LF:
			if (data[i] != '\n')
				return fail(p, 400, "bad chunk framing");
			i++;
			p->bstate = HB_DONE;
			break;
		default:
			return fail(p, 400, "bad parser state");
		}
	}
	*used_r = i;
	return RMAIL_OK;
}
