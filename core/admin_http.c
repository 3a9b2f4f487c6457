/*
 * A deliberately tiny HTTP/1.1 server for admin.listen: one request
 * per connection, GET (or HEAD) /metrics answers the OpenMetrics
 * exposition, anything else 404.  It is meant for a loopback address
 * and a scraper, so it reads at most a few KiB of request head and
 * closes after every answer; no keep-alive, no bodies.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_http.h"
#include "daemon.h"

#define ADMIN_MAX_LINE 2048  /* request line or one header */
#define ADMIN_MAX_HEAD 16384 /* the whole request head */
#define ADMIN_MAX_HEADERS 64
#define ADMIN_IDLE 10.0

#define OPENMETRICS_TYPE                                                       \
	"application/openmetrics-text; version=1.0.0; charset=utf-8"

enum admin_target { T_NONE, T_METRICS, T_OTHER };

struct admin_req {
	size_t head_bytes;
	unsigned nlines;
	int target; /* enum admin_target */
	bool head_only;
	bool bad_method;
	bool waiting; /* for the other workers' tables: read no more */
};

/* the listener belongs to the core, not to a module: rm_listen only
 * needs a name for "admin.listen" in logs and the restart keys */
static struct rmail_mctx admin_mctx = {.name = "admin"};

static void reply(struct rmail_conn *c, int code, const char *reason,
		  const char *ctype, const char *body, bool head_only,
		  const char *extra)
{
	size_t n = body != NULL ? strlen(body) : 0;

	rm_conn_printf(c,
		       "HTTP/1.1 %d %s\r\n"
		       "Content-Type: %s\r\n"
		       "Content-Length: %zu\r\n"
		       "%s"
		       "Cache-Control: no-store\r\n"
		       "Connection: close\r\n\r\n",
		       code, reason, ctype, n, extra != NULL ? extra : "");
	if (!head_only && n > 0)
		rm_conn_write(c, body, n);
}

static void reply_text(struct rmail_conn *c, int code, const char *reason,
		       const char *extra)
{
	char body[64];

	snprintf(body, sizeof(body), "%d %s\n", code, reason);
	reply(c, code, reason, "text/plain; charset=utf-8", body, false, extra);
}

static void refresh_gauges(void)
{
	int64_t exp = rm_tls_cert_expiry();

	/* read at scrape time, so a certificate renewed by SIGHUP shows
	 * without a hook in the reload path */
	if (exp > 0)
		rm_metric_set("rmail_tls_cert_expiry_timestamp_seconds", NULL,
			      (double)exp);
}

/* how long worker 0 waits for the others' tables: a stopped or stuck
 * worker is reported down (rmail_worker_up 0), not waited for */
#define GATHER_TIMEOUT 1.0
/* scrapes gathering at once; more answer 503 */
#define GATHERS_MAX 4

struct gather_job {
	struct rmail_conn *c;
	bool head_only;
	char *text;
};

static atomic_int gathers;

/* every worker's table, each sample labelled worker="i" (worker 0
 * answers /metrics and asks the others on their control sockets) */
static char *render_host(void)
{
	static const char *const md[] = {"metrics", "dump"};
	uint32_t n = rm_proc_count(), self = rm_proc_index();
	char **paths = rm_xcalloc(n, sizeof(*paths)), **dumps;
	char *text;

	for (uint32_t i = 0; i < n; i++)
		paths[i] = i == self ? NULL : rm_proc_ctl_path(i);
	dumps = rm_control_gather(paths, n, 2, md, GATHER_TIMEOUT);
	dumps[self] = rm_metrics_dump();
	text = rm_metrics_render_workers((const char *const *)dumps, n);
	for (uint32_t i = 0; i < n; i++) {
		free(dumps[i]);
		free(paths[i]);
	}
	free(dumps);
	free(paths);
	return text;
}

static void gather_done(void *arg)
{
	struct gather_job *j = arg;

	if (!rm_conn_closed(j->c)) {
		reply(j->c, 200, "OK", OPENMETRICS_TYPE, j->text, j->head_only,
		      NULL);
		rm_conn_close(j->c);
	}
	(void)rm_conn_resume(j->c);
	free(j->text);
	free(j);
	atomic_fetch_sub(&gathers, 1);
}

/* off the loop: the loop keeps serving while the others answer */
static void *gather_main(void *arg)
{
	struct gather_job *j = arg;

	j->text = render_host();
	rm_loop_post(gather_done, j);
	return NULL;
}

/* true when the answer will come from gather_done */
static bool answer_host(struct rmail_conn *c, bool head_only)
{
	struct gather_job *j;
	pthread_attr_t a;
	pthread_t t;
	int e;

	if (atomic_fetch_add(&gathers, 1) >= GATHERS_MAX) {
		atomic_fetch_sub(&gathers, 1);
		reply_text(c, 503, "Service Unavailable", "Retry-After: 1\r\n");
		return false;
	}
	j = rm_xcalloc(1, sizeof(*j));
	j->c = c;
	j->head_only = head_only;
	rm_conn_suspend(c);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	e = pthread_create(&t, &a, gather_main, j);
	pthread_attr_destroy(&a);
	if (e != 0) {
		(void)rm_conn_resume(c);
		free(j);
		atomic_fetch_sub(&gathers, 1);
		reply_text(c, 503, "Service Unavailable", NULL);
		return false;
	}
	return true;
}

/* false: answered, close; true: the answer comes later */
static bool answer(struct rmail_conn *c, struct admin_req *r)
{
	char *text;

	if (r->target != T_METRICS) {
		reply_text(c, 404, "Not Found", NULL);
		return false;
	}
	if (r->bad_method) {
		reply_text(c, 405, "Method Not Allowed",
			   "Allow: GET, HEAD\r\n");
		return false;
	}
	refresh_gauges();
	if (rm_proc_count() > 1)
		return answer_host(c, r->head_only);
	text = rm_metrics_render();
	reply(c, 200, "OK", OPENMETRICS_TYPE, text, r->head_only, NULL);
	free(text);
	return false;
}

/* "GET /metrics HTTP/1.1": method, target and version, or -1 */
static int parse_request_line(struct admin_req *r, const char *s, size_t n)
{
	const char *sp1, *sp2, *path;
	size_t plen;

	sp1 = memchr(s, ' ', n);
	if (sp1 == NULL)
		return -1;
	sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - s));
	if (sp2 == NULL)
		return -1;
	if ((size_t)(s + n - (sp2 + 1)) < 8 || memcmp(sp2 + 1, "HTTP/1.", 7))
		return -1;
	path = sp1 + 1;
	plen = (size_t)(sp2 - path);
	if (plen == 0 || path[0] != '/')
		return -1;
	/* a query string is ignored, as scrapers may add one */
	if ((plen == 8 || (plen > 8 && path[8] == '?')) &&
	    memcmp(path, "/metrics", 8) == 0)
		r->target = T_METRICS;
	else
		r->target = T_OTHER;
	if ((size_t)(sp1 - s) == 3 && memcmp(s, "GET", 3) == 0)
		return 0;
	if ((size_t)(sp1 - s) == 4 && memcmp(s, "HEAD", 4) == 0) {
		r->head_only = true;
		return 0;
	}
	r->bad_method = true;
	return 0;
}

/* the 1.2 layout with no ctx: nothing outlives a request here */
static int admin_accept(void *ctx, struct rmail_conn *c, void **session_r)
{
	(void)ctx;
	*session_r = rm_pcalloc(rm_conn_pool(c), sizeof(struct admin_req));
	rm_conn_set_timeout(c, ADMIN_IDLE);
	return 0;
}

static int admin_input(void *ctx, struct rmail_conn *c, void *session)
{
	struct admin_req *r = session;
	struct rmail_line l;
	int rc;

	(void)ctx;
	if (r->waiting)
		return RMAIL_OK;
	for (;;) {
		rc = rm_conn_read_line(c, &l);
		if (rc == RMAIL_AGAIN)
			return RMAIL_OK;
		if (rc == RMAIL_TOOLONG) {
			reply_text(c, 431, "Request Header Fields Too Large",
				   NULL);
			return RMAIL_CLOSE;
		}
		if (rc != RMAIL_OK)
			return RMAIL_CLOSE;
		/* every line ends in CRLF (RFC 9112 2.2), as the API wants
		 * it: a proxy splitting only at CRLF would read another
		 * request than we do */
		if (l.eol != RMAIL_EOL_CRLF) {
			reply_text(c, 400, "Bad Request", NULL);
			return RMAIL_CLOSE;
		}
		r->head_bytes += l.len + 2;
		if (r->head_bytes > ADMIN_MAX_HEAD ||
		    ++r->nlines > ADMIN_MAX_HEADERS) {
			reply_text(c, 431, "Request Header Fields Too Large",
				   NULL);
			return RMAIL_CLOSE;
		}
		if (r->nlines == 1) {
			if (parse_request_line(r, l.data, l.len) < 0) {
				reply_text(c, 400, "Bad Request", NULL);
				return RMAIL_CLOSE;
			}
			continue;
		}
		/* headers are not needed; the blank line ends the head */
		if (l.len == 0) {
			if (answer(c, r)) {
				r->waiting = true;
				return RMAIL_OK;
			}
			return RMAIL_CLOSE;
		}
	}
}

static void admin_timeout(void *ctx, struct rmail_conn *c, void *session)
{
	(void)ctx;
	(void)session;
	reply_text(c, 408, "Request Timeout", NULL);
}

static const struct rmail_proto_ops admin_ops = {
	.size = sizeof(struct rmail_proto_ops),
	.ctx_accept = admin_accept,
	.ctx_input = admin_input,
	.ctx_timeout = admin_timeout,
};

int rm_admin_start(struct rmail_err *err)
{
	const struct rm_config *conf = rm_conf();
	struct rmail_listen_opts o = {
		.size = sizeof(o),
		.proto = "admin",
		.tls = RMAIL_TLS_NEVER,
		.max_line = ADMIN_MAX_LINE,
		.idle_timeout = ADMIN_IDLE,
		.handshake_timeout = ADMIN_IDLE,
		.overload_reply = "HTTP/1.1 503 Service Unavailable\r\n"
				  "Content-Length: 0\r\n"
				  "Connection: close\r\n\r\n",
	};
	char labels[128];

	snprintf(labels, sizeof(labels), "version=\"%s\",abi=\"%d.%d\"",
		 RMAIL_VERSION, RMAIL_ABI_MAJOR, RMAIL_ABI_MINOR);
	rm_metric_set("rmail_build_info", labels, 1);
	refresh_gauges();
	if (conf == NULL || conf->admin_listen.n == 0)
		return 0;
	return rm_listen(&admin_mctx, "listen", &conf->admin_listen, &admin_ops,
			 &o, err);
}
