/* HTTP request parser vectors: whole, byte by byte, split everywhere. */
#include <glib.h>
#include <string.h>

#include <rmail/err.h>

#include "http_parser.h"

static const struct http_limits LIM = {
	.max_request_line = 256,
	.max_head = 1024,
	.max_headers = 8,
	.max_body = 64,
};

struct vec {
	const char *in;
	int status; /* 0 = valid */
	const char *target;
	const char *body;
	int keep_alive;
	size_t trailing; /* bytes left after the request */
};

static const struct vec vecs[] = {
	{"GET /api/folders HTTP/1.1\r\nHost: x\r\n\r\n", 0, "/api/folders", "",
	 1, 0},
	{"GET / HTTP/1.0\r\n\r\n", 0, "/", "", 0, 0},
	{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0, "/", "", 1, 0},
	{"GET /a?b=c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 0,
	 "/a?b=c", "", 0, 0},
	/* bare LF anywhere in the head or the chunk framing is refused, so
	 * a stricter front proxy and rmail cannot frame a stream apart */
	{"GET /a?b=c HTTP/1.1\nHost: x\nConnection: close\n\n", 400, NULL, NULL,
	 0, 0},
	{"GET / HTTP/1.1\nHost: x\r\n\r\n", 400, NULL, NULL, 0, 0},
	{"GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", 400, NULL, NULL, 0, 0},
	{"GET / HTTP/1.1\r\nHost: x\r\n\n", 400, NULL, NULL, 0, 0},
	{"GET / HTTP/1.1\r\nHost: x\n\r\n", 400, NULL, NULL, 0, 0},
	{"\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400, NULL, NULL, 0, 0},
	{"GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n", 400, NULL, NULL, 0, 0},
	{"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	 "5\nhello\r\n0\r\n\r\n",
	 400, NULL, NULL, 0, 0},
	{"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	 "5;e=1\nhello\r\n0\r\n\r\n",
	 400, NULL, NULL, 0, 0},
	{"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	 "5\r\nhello\n0\r\n\r\n",
	 400, NULL, NULL, 0, 0},
	{"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	 "5\r\nhello\r\n0\n\r\n",
	 400, NULL, NULL, 0, 0},
	{"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	 "5\r\nhello\r\n0\r\n\n",
	 400, NULL, NULL, 0, 0},
	{"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	 "5\r\nhello\r\n0\r\nX-T: 1\n\r\n",
	 400, NULL, NULL, 0, 0},
	{"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	 "5\r\nhello\r\n0\r\nX-T: 1\r\n\n",
	 400, NULL, NULL, 0, 0},
	{"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	 "5\r\nhello\r\n0\r\nX-T: 1\rX\r\n\r\n",
	 400, NULL, NULL, 0, 0},
	{"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET", 0,
	 "/p", "hello", 1, 3},
	{"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	 "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n",
	 0, "/p", "hello world", 1, 0},
	{"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, "/", "", 1, 0},
	{"GET / HTTP/1.1\r\n\r\n", 400, NULL, NULL, 0, 0},
	{"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, NULL, NULL, 0, 0},
	{"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400, NULL, NULL, 0, 0},
	{"GET x HTTP/1.1\r\nHost: x\r\n\r\n", 400, NULL, NULL, 0, 0},
	{"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, NULL, NULL, 0, 0},
	{"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400, NULL, NULL, 0, 0},
	{"POST / HTTP/1.1\r\nHost: x\r\n\r\n", 411, NULL, NULL, 0, 0},
	{"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 65\r\n\r\n", 413, NULL,
	 NULL, 0, 0},
	{"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
	 "Content-Length: 2\r\n\r\n",
	 400, NULL, NULL, 0, 0},
	{"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
	 "Transfer-Encoding: chunked\r\n\r\n",
	 400, NULL, NULL, 0, 0},
	{"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501,
	 NULL, NULL, 0, 0},
	{"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, NULL,
	 NULL, 0, 0},
	{"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	 "41\r\n",
	 413, NULL, NULL, 0, 0},
	{"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	 "zz\r\n",
	 400, NULL, NULL, 0, 0},
	{"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	 "2\r\nabX\r\n",
	 400, NULL, NULL, 0, 0},
	{"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n"
	 "E: 5\r\nF: 6\r\nG: 7\r\nH: 8\r\n\r\n",
	 431, NULL, NULL, 0, 0},
	{"GET / HTTP/1.1\r\nHost: x\r\nA: a\001b\r\n\r\n", 400, NULL, NULL, 0,
	 0},
};

struct run {
	int rc;
	int status;
	GString *body;
	char target[512];
	int keep_alive;
	size_t left;
};

static void sink(void *arg, const char *d, size_t n)
{
	g_string_append_len(arg, d, n);
}

/* feed `in` in the given piece sizes, as a connection buffer would */
static void feed(const char *in, size_t len, const size_t *cuts, size_t ncuts,
		 struct run *out)
{
	struct http_parser p;
	struct http_request req;
	GString *buf = g_string_new(NULL);
	size_t off = 0, ci = 0, used;
	int in_body = 0, rc = RMAIL_AGAIN;

	http_parser_init(&p, &LIM);
	out->body = g_string_new(NULL);
	out->status = 0;
	for (;;) {
		size_t next = ci < ncuts ? cuts[ci++] : len;

		if (next > len)
			next = len;
		if (next > off) {
			g_string_append_len(buf, in + off, next - off);
			off = next;
		}
		if (!in_body) {
			rc = http_parse_head(&p, buf->str, buf->len, &req,
					     &used);
			if (rc == RMAIL_OK) {
				g_assert_cmpuint(req.target.n, <,
						 sizeof(out->target));
				memcpy(out->target, req.target.p, req.target.n);
				out->target[req.target.n] = '\0';
				out->keep_alive = req.keep_alive;
				g_string_erase(buf, 0, (gssize)used);
				in_body = 1;
			}
		}
		if (in_body) {
			rc = http_parse_body(&p, buf->str, buf->len, &used,
					     sink, out->body);
			g_string_erase(buf, 0, (gssize)used);
		}
		if (rc == RMAIL_INVALID || (in_body && rc == RMAIL_OK) ||
		    off >= len)
			break;
	}
	out->rc = rc;
	out->status = rc == RMAIL_INVALID ? p.status : 0;
	out->left = buf->len + (len - off);
	g_string_free(buf, TRUE);
}

static void check(const struct vec *v, struct run *r, const char *how)
{
	if (v->status != 0) {
		if (r->rc != RMAIL_INVALID || r->status != v->status)
			g_error("%s: %s: rc %d status %d, want %d", how, v->in,
				r->rc, r->status, v->status);
	} else {
		if (r->rc != RMAIL_OK)
			g_error("%s: %s: rc %d status %d", how, v->in, r->rc,
				r->status);
		g_assert_cmpstr(r->target, ==, v->target);
		g_assert_cmpstr(r->body->str, ==, v->body);
		g_assert_cmpint(r->keep_alive, ==, v->keep_alive);
		g_assert_cmpuint(r->left, ==, v->trailing);
	}
	g_string_free(r->body, TRUE);
}

static void test_whole(void)
{
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(vecs); i++) {
		struct run r;

		feed(vecs[i].in, strlen(vecs[i].in), NULL, 0, &r);
		check(&vecs[i], &r, "whole");
	}
}

static void test_bytewise(void)
{
	size_t i, k;

	for (i = 0; i < G_N_ELEMENTS(vecs); i++) {
		size_t len = strlen(vecs[i].in);
		size_t *cuts = g_new(size_t, len);
		struct run r;

		for (k = 0; k < len; k++)
			cuts[k] = k + 1;
		feed(vecs[i].in, len, cuts, len, &r);
		check(&vecs[i], &r, "bytewise");
		g_free(cuts);
	}
}

static void test_split(void)
{
	size_t i, k;

	for (i = 0; i < G_N_ELEMENTS(vecs); i++) {
		size_t len = strlen(vecs[i].in);

		for (k = 1; k < len; k++) {
			struct run r;

			feed(vecs[i].in, len, &k, 1, &r);
			check(&vecs[i], &r, "split");
		}
	}
}

static void test_limits(void)
{
	struct http_parser p;
	struct http_request req;
	char big[2048];
	size_t used;

	http_parser_init(&p, &LIM);
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	g_assert_cmpint(http_parse_head(&p, big, 300, &req, &used), ==,
			RMAIL_INVALID);
	g_assert_cmpint(p.status, ==, 414);
	/* a long header block without its end */
	http_parser_init(&p, &LIM);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	g_assert_cmpint(http_parse_head(&p, big, sizeof(big), &req, &used), ==,
			RMAIL_INVALID);
	g_assert_cmpint(p.status, ==, 431);
}

static void test_pipeline(void)
{
	static const char two[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
				  "GET /b HTTP/1.1\r\nHost: x\r\n\r\n";
	struct http_parser p;
	struct http_request req;
	size_t used, used2;

	http_parser_init(&p, &LIM);
	g_assert_cmpint(http_parse_head(&p, two, sizeof(two) - 1, &req, &used),
			==, RMAIL_OK);
	g_assert_cmpuint(req.target.n, ==, 2);
	g_assert_true(memcmp(req.target.p, "/a", 2) == 0);
	g_assert_cmpint(http_parse_body(&p, two + used, 0, &used2, sink, NULL),
			==, RMAIL_OK);
	http_parser_reset(&p);
	g_assert_cmpint(http_parse_head(&p, two + used, sizeof(two) - 1 - used,
					&req, &used2),
			==, RMAIL_OK);
	g_assert_true(memcmp(req.target.p, "/b", 2) == 0);
	g_assert_cmpuint(used + used2, ==, sizeof(two) - 1);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/exchange/http/whole", test_whole);
	g_test_add_func("/exchange/http/bytewise", test_bytewise);
	g_test_add_func("/exchange/http/split", test_split);
	g_test_add_func("/exchange/http/limits", test_limits);
	g_test_add_func("/exchange/http/pipeline", test_pipeline);
	return g_test_run();
}
