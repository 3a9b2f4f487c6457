/*
 * One HTTP connection: feed buffered input to the parser, one request
 * at a time (pipelined requests wait in the input buffer), route it,
 * read its body, run the handler and write the response.  While an
 * asynchronous handler runs, reading is paused; the answer resumes it.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ex.h"

#define EX_REQUEST_LINE_MAX 8192
#define EX_SESS_MAGIC 0x45585353u

enum ex_state {
	EX_HEAD = 0,
	EX_BODY,
	EX_RUN, /* handler running or async */
};

struct ex_sess {
	uint32_t magic;
	struct ex_mod *mod; /* the listener's ctx; each request copies it */
	struct rmail_conn *c;
	struct http_parser p;
	int state;
	int closed;
	int in_input; /* inside on_input: no resume needed */
	int paused;   /* reading paused for async work */
	struct ex_req *req;
	int discard;	/* read the body but do not keep it */
	int err_status; /* answer after the body is read */
	const char *err_msg;
	const char *allow;
	/* deadlines (loop time): head_start is 0 until a request's first
	 * byte; the body must keep an average body_min_rate after a grace
	 * of request_timeout */
	double head_start;
	double body_start;
	uint64_t body_bytes;
};

static const char *reason(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 411:
		return "Length Required";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Unknown";
	}
}

const char *ex_header(const struct ex_req *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nhdr; i++)
		if (strcasecmp(r->hname[i], name) == 0)
			return r->hval[i];
	return NULL;
}

/* the percent-decoded value of a query parameter, or NULL */
const char *ex_query(struct ex_req *r, const char *key)
{
	const struct rmail_core *core = r->mod->core;
	const char *q = r->query, *amp, *eq;
	size_t klen = strlen(key);
	char *v;

	while (q != NULL && *q != '\0') {
		amp = strchr(q, '&');
		if (amp == NULL)
			amp = q + strlen(q);
		eq = memchr(q, '=', (size_t)(amp - q));
		if (eq != NULL && (size_t)(eq - q) == klen &&
		    memcmp(q, key, klen) == 0) {
			v = core->pstrndup(r->pool, eq + 1,
					   (size_t)(amp - eq - 1));
			if (ex_pct_decode(v, 1) < 0)
				return NULL;
			return v;
		}
		q = *amp != '\0' ? amp + 1 : amp;
	}
	return NULL;
}

static void req_free(struct ex_sess *s)
{
	if (s->req != NULL) {
		struct rmail_pool *pool = s->req->pool;

		if (s->req->body != NULL)
			s->mod->core->secure_zero(s->req->body,
						  s->req->body_len);
		s->mod->core->pool_destroy(&pool);
		s->req = NULL;
	}
}

static void write_response(struct ex_sess *s, struct ex_req *r, int status,
			   const char *ctype, const void *body, size_t len,
			   const char *extra)
{
	const struct rmail_core *core = s->mod->core;
	const char *cors = r != NULL ? ex_cors_headers(r, 0) : "";
	int ka = r != NULL && r->keep_alive && !s->closed;

	core->conn_printf(
		s->c,
		"HTTP/1.1 %d %s\r\n"
		"Content-Length: %zu\r\n"
		"%s%s%s"
		"Cache-Control: no-store\r\n"
		"X-Content-Type-Options: nosniff\r\n"
		"Connection: %s\r\n"
		"%s%s\r\n",
		status, reason(status), len,
		ctype != NULL ? "Content-Type: " : "",
		ctype != NULL ? ctype : "", ctype != NULL ? "\r\n" : "",
		ka ? "keep-alive" : "close", cors, extra != NULL ? extra : "");
	if (len > 0 && (r == NULL || r->method != HTTP_HEAD))
		core->conn_write(s->c, body, len);
	if (r != NULL) {
		char labels[64];

		snprintf(labels, sizeof(labels), "code=\"%d\"", status);
		core->metric_add("rmail_http_requests_total", labels, 1);
	}
	if (!ka)
		s->closed = 1;
}

/* finish the current request: next one, or close */
static void after_async(struct ex_sess *s);

/* The core's connection timer restarts on every read, so a client
 * trickling a byte now and then would never meet a plain timeout:
 * re-arm it after each read with what is left before `deadline`. */
static void arm_deadline(struct ex_sess *s, double deadline)
{
	double left = deadline - s->mod->core->now();

	s->mod->core->conn_set_timeout(s->c, left > 0.001 ? left : 0.001);
}

static void arm_body_deadline(struct ex_sess *s)
{
	const struct ex_conf *cf = ex_conf(s->mod);
	double deadline = s->mod->core->now() + cf->request_timeout;

	if (cf->body_min_rate > 0)
		deadline = s->body_start + cf->request_timeout +
			   (double)s->body_bytes / (double)cf->body_min_rate;
	/* no single pause longer than request_timeout either */
	if (deadline > s->mod->core->now() + cf->request_timeout)
		deadline = s->mod->core->now() + cf->request_timeout;
	arm_deadline(s, deadline);
}

static void req_done(struct ex_sess *s)
{
	const struct rmail_core *core = s->mod->core;

	req_free(s);
	http_parser_reset(&s->p);
	s->state = EX_HEAD;
	s->discard = 0;
	s->err_status = 0;
	s->allow = NULL;
	s->head_start = 0;
	if (s->closed) {
		core->conn_close(s->c);
		return;
	}
	core->conn_set_timeout(s->c, ex_conf(s->mod)->idle_timeout);
	if (s->paused) {
		s->paused = 0;
		core->conn_resume_read(s->c);
	}
}

void ex_respond(struct ex_req *r, int status, const char *ctype,
		const void *body, size_t len, const char *extra_headers)
{
	struct ex_sess *s = r->s;

	if (r->responded)
		return;
	r->responded = 1;
	write_response(s, r, status, ctype, body, len, extra_headers);
	if (!s->in_input)
		after_async(s);
}

void ex_json(struct ex_req *r, int status, json_t *j)
{
	char *txt = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);

	json_decref(j);
	if (txt == NULL) {
		ex_respond(r, 500, "application/json",
			   "{\"error\":\"Internal error\"}", 26, NULL);
		return;
	}
	ex_respond(r, status, "application/json", txt, strlen(txt), NULL);
	free(txt);
}

void ex_error(struct ex_req *r, int status, const char *msg)
{
	ex_json(r, status, json_pack("{s:s}", "error", msg));
}

/* a bare error before a request could be built */
static void raw_error(struct ex_sess *s, int status, const char *msg)
{
	char body[160];
	int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", msg);

	s->closed = 1;
	write_response(s, NULL, status, "application/json", body, (size_t)n,
		       NULL);
}

json_t *ex_json_parse(struct ex_req *r)
{
	json_t *j = NULL;

	if (r->body != NULL)
		j = ex_json_load(r->body, r->body_len);
	if (j == NULL)
		ex_error(r, 400, "Malformed JSON body");
	return j;
}

void ex_async_begin(struct ex_req *r)
{
	r->mod->core->conn_ref(r->c);
	r->mod->core->conn_pause_read(r->c);
	r->s->paused = 1;
}

int ex_async_end(struct ex_req *r)
{
	const struct rmail_core *core = r->mod->core;
	struct rmail_conn *c = r->c;
	struct ex_sess *s = r->s;

	if (core->conn_closed(c)) {
		req_free(s);
		core->conn_unref(c);
		return 0;
	}
	core->conn_unref(c);
	return 1;
}

/* called when an async handler has answered (from the loop) */
static void after_async(struct ex_sess *s)
{
	req_done(s);
}

static struct ex_req *req_new(struct ex_sess *s, const struct http_request *h)
{
	const struct rmail_core *core = s->mod->core;
	struct rmail_pool *pool = core->pool_create(core->conn_pool(s->c));
	struct ex_req *r = core->pcalloc(pool, sizeof(*r));
	const char *q;
	size_t i;

	r->mod = s->mod;
	r->s = s;
	r->c = s->c;
	r->pool = pool;
	r->method = h->method;
	r->method_str = core->pstrndup(pool, h->method_str.p, h->method_str.n);
	q = memchr(h->target.p, '?', h->target.n);
	if (q != NULL) {
		r->path = core->pstrndup(pool, h->target.p,
					 (size_t)(q - h->target.p));
		r->query = core->pstrndup(
			pool, q + 1,
			h->target.n - (size_t)(q - h->target.p) - 1);
	} else {
		r->path = core->pstrndup(pool, h->target.p, h->target.n);
	}
	r->nhdr = h->nheaders;
	r->hname = core->pcalloc(pool, sizeof(char *) * (h->nheaders + 1));
	r->hval = core->pcalloc(pool, sizeof(char *) * (h->nheaders + 1));
	for (i = 0; i < h->nheaders; i++) {
		r->hname[i] = core->pstrndup(pool, h->headers[i].name.p,
					     h->headers[i].name.n);
		r->hval[i] = core->pstrndup(pool, h->headers[i].value.p,
					    h->headers[i].value.n);
	}
	r->origin = (char *)ex_header(r, "Origin");
	r->keep_alive = h->keep_alive;
	r->rip = ex_client_ip(r);
	return r;
}

static void body_sink(void *arg, const char *data, size_t n)
{
	struct ex_sess *s = arg;
	struct ex_req *r = s->req;
	char *nb;

	if (s->discard)
		return;
	/* the parser has bounded the total by max_body_size */
	if (r->body_len + n + 1 > r->body_cap) {
		size_t cap = r->body_cap ? r->body_cap : 4096;

		while (cap < r->body_len + n + 1)
			cap *= 2;
		nb = r->mod->core->palloc(r->pool, cap);
		if (r->body_len > 0)
			memcpy(nb, r->body, r->body_len);
		r->body = nb;
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
}

static void preflight(struct ex_req *r)
{
	ex_respond(r, 204, NULL, NULL, 0, ex_cors_headers(r, 1));
}

static void dispatch(struct ex_sess *s)
{
	struct ex_req *r = s->req;

	s->state = EX_RUN;
	if (s->err_status != 0) {
		s->err_status = 0;
		if (s->allow != NULL) {
			static const char msg[] =
				"{\"error\":\"Method not allowed\"}";
			char *extra = r->mod->core->psprintf(
				r->pool, "Allow: %s\r\n", s->allow);

			ex_respond(r, 405, "application/json", msg,
				   sizeof(msg) - 1, extra);
		} else {
			ex_error(r, 404, s->err_msg);
		}
		return;
	}
	if (r->method == HTTP_OPTIONS) {
		preflight(r);
		return;
	}
	if (r->needs_auth && ex_authenticate(r) < 0)
		return;
	r->handler(r);
}

static int start_request(struct ex_sess *s, const struct http_request *h)
{
	const struct rmail_core *core = s->mod->core;
	struct ex_req *r = req_new(s, h);
	int status = 0;
	const char *allow = NULL;

	s->req = r;
	s->head_start = 0;
	s->body_start = core->now();
	s->body_bytes = 0;
	arm_body_deadline(s);
	if (ex_route(r, &status, &allow) < 0) {
		s->discard = 1;
		s->err_status = status;
		s->allow = allow;
		s->err_msg = status == 405   ? "Method not allowed"
			     : status == 400 ? "Bad path"
					     : "Not found";
		if (status == 400) {
			/* a bad path keeps nothing useful: answer now */
			s->err_status = 0;
			ex_error(r, 400, "Bad path");
			return -1;
		}
	}
	if (h->expect_continue && !s->discard)
		core->conn_printf(s->c, "HTTP/1.1 100 Continue\r\n\r\n");
	s->state = EX_BODY;
	return 0;
}

static int ex_accept(void *ctx, struct rmail_conn *c, void **session_r)
{
	struct ex_mod *mod = ctx;
	const struct rmail_core *core = mod->core;
	const struct ex_conf *cf = ex_conf(mod);
	struct ex_sess *s = core->pcalloc(core->conn_pool(c), sizeof(*s));
	struct http_limits lim = {
		.max_request_line = EX_REQUEST_LINE_MAX,
		.max_head = (size_t)cf->max_header_size,
		.max_headers = HTTP_MAX_HEADERS,
		.max_body = cf->max_body_size,
	};

	s->magic = EX_SESS_MAGIC;
	s->mod = mod;
	s->c = c;
	http_parser_init(&s->p, &lim);
	core->conn_set_timeout(c, cf->idle_timeout);
	*session_r = s;
	return 0;
}

static int input_loop(struct rmail_conn *c, struct ex_sess *s);

static int ex_input(void *ctx, struct rmail_conn *c, void *session)
{
	struct ex_sess *s = session;
	int rc;

	(void)ctx; /* s->mod */
	s->in_input = 1;
	rc = input_loop(c, s);
	s->in_input = 0;
	return rc;
}

static int input_loop(struct rmail_conn *c, struct ex_sess *s)
{
	const struct rmail_core *core = s->mod->core;
	struct http_request h;
	const char *d;
	size_t n, used;
	int rc;

	while (!s->closed) {
		n = core->conn_peek(c, &d);
		if (s->state == EX_RUN)
			return RMAIL_OK; /* async: input waits */
		if (s->state == EX_HEAD) {
			if (n == 0)
				return RMAIL_OK;
			rc = http_parse_head(&s->p, d, n, &h, &used);
			if (rc == RMAIL_AGAIN) {
				if (s->head_start == 0)
					s->head_start = core->now();
				arm_deadline(s,
					     s->head_start +
						     ex_conf(s->mod)
							     ->request_timeout);
				return RMAIL_OK;
			}
			if (rc != RMAIL_OK) {
				raw_error(s, s->p.status, s->p.error);
				return RMAIL_CLOSE;
			}
			if (start_request(s, &h) < 0) {
				core->conn_consume(c, used);
				req_done(s);
				continue;
			}
			core->conn_consume(c, used);
			continue;
		}
		/* EX_BODY */
		rc = http_parse_body(&s->p, d, n, &used, body_sink, s);
		core->conn_consume(c, used);
		if (rc == RMAIL_AGAIN) {
			s->body_bytes += used;
			arm_body_deadline(s);
			return RMAIL_OK;
		}
		if (rc != RMAIL_OK) {
			s->closed = 1;
			ex_error(s->req, s->p.status, s->p.error);
			req_free(s);
			return RMAIL_CLOSE;
		}
		dispatch(s);
		if (s->req != NULL && s->req->responded) {
			req_done(s);
			continue;
		}
		/* the handler went asynchronous: reading is paused */
		return RMAIL_OK;
	}
	return RMAIL_CLOSE;
}

static void ex_timeout(void *ctx, struct rmail_conn *c, void *session)
{
	struct ex_sess *s = session;

	(void)ctx; /* s->mod */
	if (s->state != EX_HEAD ||
	    s->mod->core->conn_peek(c, &(const char *){0}))
		raw_error(s, 408, "Request timeout");
}

static void ex_close(void *ctx, struct rmail_conn *c, void *session, int reason)
{
	struct ex_sess *s = session;

	(void)ctx;
	(void)c;
	(void)reason;
	s->closed = 1;
	/* an async handler still owns its request: it frees it */
	if (s->state != EX_RUN)
		req_free(s);
}

const struct rmail_proto_ops ex_proto_ops = {
	.size = sizeof(struct rmail_proto_ops),
	.ctx_accept = ex_accept,
	.ctx_input = ex_input,
	.ctx_timeout = ex_timeout,
	.ctx_close = ex_close,
};
