/* The fake connection: see fake_conn.h.  Mirrors core/conn.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_conn.h"
#include "fake_core.h"
#include "net/linebuf.h"
#include "net/proto_call.h"

#define FC_MAGIC 0x46434f4eu
#define FC_MIN_INBUF (16 * 1024)
#define FC_DEFAULT_MAX_LINE 8192
/* as core/conn_int.h: a corked queue this full goes out at once; the
 * watermarks of reading (stops above HIWAT) and on_drain (below LOWAT) */
#define FC_CORK_MAX (32 * 1024)
#define FC_HIWAT (256 * 1024)
#define FC_LOWAT (64 * 1024)

enum { FC_HANDSHAKE = 1, FC_OPEN, FC_CLOSING, FC_CLOSED };

struct rmail_conn {
	uint32_t magic;
	int refcount;
	int state;
	int close_reason;
	struct rmail_proto_ops ops;
	struct rmail_listen_opts opts;
	void *session;
	bool session_open;
	struct rmail_pool *pool;
	char id[16];
	char peer_ip[64];

	GByteArray *sock; /* sent by the peer, not read yet */
	bool sock_eof;
	bool sock_tls; /* what sock holds was sent inside TLS */

	GByteArray *in; /* in[pos..len) is buffered */
	size_t in_pos, in_cap;
	uint64_t in_consumed;
	struct rm_linebuf lb; /* the core's own scanner */
	bool eof, paused, bp_paused, in_dispatch;

	int cork;
	GString *queued;
	GString *out;
	unsigned sends;
	bool drain_owed;
	size_t window; /* bytes the peer takes per drain; 0: all */
	size_t room;   /* what it still takes now */

	bool tls;
	bool starttls_pending, starttls_written;
	double idle_timeout;

	bool on_pending, want_finalize;
	struct rmail_conn *pending_next;
};

static struct {
	const struct rmail_core *core;
	struct rmail_conn *pend;
	GSource *pend_src;
	bool no_tls;
	unsigned long long next_id;
} fc;

static void fc_finalize(struct rmail_conn *c);
static void fc_dispatch(struct rmail_conn *c);
static void fc_close_reason(struct rmail_conn *c, int reason);

#define CHECK(c) g_assert((c) != NULL && (c)->magic == FC_MAGIC)

/* ---- the service list ---------------------------------------------- */

static void fc_ref(struct rmail_conn *c)
{
	CHECK(c);
	c->refcount++;
}

static void fc_unref(struct rmail_conn *c)
{
	CHECK(c);
	g_assert_cmpint(c->refcount, >, 0);
	if (--c->refcount > 0)
		return;
	g_assert_cmpint(c->state, ==, FC_CLOSED);
	fc.core->pool_destroy(&c->pool);
	g_byte_array_free(c->sock, TRUE);
	g_byte_array_free(c->in, TRUE);
	g_string_free(c->queued, TRUE);
	g_string_free(c->out, TRUE);
	c->magic = 0;
	g_free(c);
}

static size_t in_len(const struct rmail_conn *c)
{
	return c->in->len - c->in_pos;
}

static bool want_read(const struct rmail_conn *c)
{
	return c->state == FC_OPEN && !c->paused && !c->bp_paused &&
	       !c->starttls_pending && !c->eof && in_len(c) < c->in_cap;
}

static void fc_cork(struct rmail_conn *c)
{
	c->cork++;
}

static void fc_uncork(struct rmail_conn *c);

static void fc_service(struct rmail_conn *c)
{
	if (c->state == FC_CLOSED)
		return;
	if (c->want_finalize ||
	    (c->state == FC_CLOSING && c->queued->len == 0)) {
		fc_finalize(c);
		return;
	}
	fc_cork(c);
	if (c->state == FC_OPEN)
		fc_dispatch(c);
	fc_uncork(c);
}

static gboolean pend_run(gpointer data)
{
	struct rmail_conn *list = fc.pend, *c;

	(void)data;
	fc.pend = NULL;
	while (list != NULL) {
		c = list;
		list = c->pending_next;
		c->pending_next = NULL;
		c->on_pending = false;
		fc_service(c);
		fc_unref(c);
	}
	if (fc.pend != NULL)
		return G_SOURCE_CONTINUE;
	g_source_unref(fc.pend_src);
	fc.pend_src = NULL;
	return G_SOURCE_REMOVE;
}

static void fc_schedule(struct rmail_conn *c)
{
	if (c->on_pending || c->state == FC_CLOSED)
		return;
	fc_ref(c);
	c->on_pending = true;
	c->pending_next = fc.pend;
	fc.pend = c;
	if (fc.pend_src == NULL) {
		fc.pend_src = g_idle_source_new();
		g_source_set_priority(fc.pend_src, G_PRIORITY_DEFAULT);
		g_source_set_callback(fc.pend_src, pend_run, NULL, NULL);
		g_source_attach(fc.pend_src, fake_core_context());
	}
}

/* ---- output -------------------------------------------------------- */

static void fc_begin_tls(struct rmail_conn *c)
{
	c->state = FC_HANDSHAKE;
}

/* one send: what the peer takes (all of it, or the window's room) */
static size_t fc_flush(struct rmail_conn *c)
{
	size_t n = c->queued->len;

	if (c->window > 0 && n > c->room)
		n = c->room;
	if (n == 0) {
		if (c->queued->len > 0)
			c->drain_owed = true; /* EAGAIN */
		return 0;
	}
	g_string_append_len(c->out, c->queued->str, (gssize)n);
	g_string_erase(c->queued, 0, (gssize)n);
	if (c->window > 0)
		c->room -= n;
	c->sends++;
	if (c->queued->len > 0)
		c->drain_owed = true;
	return n;
}

static void fc_after_output(struct rmail_conn *c, size_t before)
{
	if (c->state == FC_CLOSING) {
		if (c->queued->len == 0) {
			c->want_finalize = true;
			fc_schedule(c);
		}
		return;
	}
	if (c->state != FC_OPEN)
		return;
	if (c->starttls_pending && c->starttls_written && c->queued->len == 0) {
		fc_begin_tls(c);
		return;
	}
	if (c->queued->len >= before || c->queued->len >= FC_LOWAT)
		return;
	if (c->bp_paused) {
		c->bp_paused = false;
		if (in_len(c) > 0 || c->sock->len > 0)
			fc_schedule(c);
	}
	if (c->drain_owed && c->session_open && rm_proto_has_drain(&c->ops)) {
		c->drain_owed = c->queued->len > 0;
		rm_proto_drain(&c->ops, c, c->session);
	}
}

static void fc_uncork(struct rmail_conn *c)
{
	size_t before;

	g_assert_cmpint(c->cork, >, 0);
	while (c->cork == 1 && c->queued->len > 0 &&
	       (c->state == FC_OPEN || c->state == FC_CLOSING)) {
		before = c->queued->len;
		if (fc_flush(c) == 0)
			break;
		fc_after_output(c, before);
	}
	c->cork--;
}

static void fc_write(struct rmail_conn *c, const void *data, size_t n)
{
	CHECK(c);
	if (c->state != FC_OPEN)
		return;
	if (c->starttls_pending)
		c->starttls_written = true;
	g_string_append_len(c->queued, data, (gssize)n);
	if (c->cork == 0)
		fc_schedule(c);
	else if (c->queued->len >= FC_CORK_MAX)
		fc_flush(c);
	if (c->queued->len > FC_HIWAT)
		c->bp_paused = true;
}

static void fc_printf(struct rmail_conn *c, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	fc_write(c, s, strlen(s));
	g_free(s);
}

static size_t fc_outq(struct rmail_conn *c)
{
	CHECK(c);
	if (c->queued->len > 0)
		c->drain_owed = true;
	return c->queued->len;
}

/* ---- input --------------------------------------------------------- */

/* What the core does before a read: compact.  The old buffer is
 * poisoned and freed, so a line kept past its handler is caught. */
static void in_compact(struct rmail_conn *c)
{
	GByteArray *old = c->in;

	if (c->in_pos == 0)
		return;
	c->in = g_byte_array_sized_new((guint)c->in_cap);
	g_byte_array_append(c->in, old->data + c->in_pos,
			    (guint)(old->len - c->in_pos));
	memset(old->data, 0xA5, old->len);
	g_byte_array_free(old, TRUE);
	c->in_pos = 0;
}

static void fc_read(struct rmail_conn *c)
{
	size_t take;

	if (!want_read(c))
		return;
	if (c->sock->len > 0) {
		in_compact(c);
		take = c->in_cap - in_len(c);
		if (take > c->sock->len)
			take = c->sock->len;
		g_byte_array_append(c->in, c->sock->data, (guint)take);
		g_byte_array_remove_range(c->sock, 0, (guint)take);
	}
	if (c->sock->len == 0 && c->sock_eof)
		c->eof = true;
}

static void fc_dispatch(struct rmail_conn *c)
{
	uint64_t before;
	bool progress = true;
	int rc;

	if (c->in_dispatch || !c->session_open)
		return;
	c->in_dispatch = true;
	fc_ref(c);
	while (c->state == FC_OPEN && !c->paused && !c->bp_paused &&
	       !c->starttls_pending) {
		/* the next io event: read what the peer sent meanwhile */
		if ((!progress || in_len(c) == 0) && c->sock->len > 0 &&
		    want_read(c))
			fc_read(c);
		else if (!progress || in_len(c) == 0)
			break;
		before = c->in_consumed;
		rc = rm_proto_input(&c->ops, c, c->session);
		if (rc == RMAIL_CLOSE) {
			fc_close_reason(c, RMAIL_CLOSE_NORMAL);
			break;
		}
		progress = c->in_consumed != before;
	}
	if (c->sock->len == 0 && c->sock_eof && want_read(c))
		c->eof = true;
	c->in_dispatch = false;
	if (c->state == FC_OPEN && c->eof && !c->paused && !c->bp_paused &&
	    !c->starttls_pending)
		fc_close_reason(c, RMAIL_CLOSE_PEER);
	if (c->state == FC_OPEN && c->starttls_pending && c->starttls_written &&
	    c->queued->len == 0)
		fc_begin_tls(c);
	fc_unref(c);
}

static int fc_read_line(struct rmail_conn *c, struct rmail_line *l)
{
	size_t used;
	int rc;

	CHECK(c);
	if (c->state != FC_OPEN)
		return RMAIL_AGAIN;
	rc = rm_linebuf_next(&c->lb, (const char *)c->in->data + c->in_pos,
			     in_len(c), l, &used);
	c->in_pos += used;
	c->in_consumed += used;
	return rc;
}

static size_t fc_peek(struct rmail_conn *c, const char **data_r)
{
	CHECK(c);
	*data_r = (const char *)c->in->data + c->in_pos;
	return in_len(c);
}

static void fc_consume(struct rmail_conn *c, size_t n)
{
	CHECK(c);
	g_assert_cmpuint(n, <=, in_len(c));
	c->in_pos += n;
	c->in_consumed += n;
	c->lb.scanned = 0;
}

static void fc_pause_read(struct rmail_conn *c)
{
	CHECK(c);
	c->paused = true;
}

static void fc_resume_read(struct rmail_conn *c)
{
	CHECK(c);
	if (!c->paused)
		return;
	c->paused = false;
	if (c->state == FC_CLOSED)
		return;
	/* buffered bytes will not wake the socket: the loop hands them */
	if (in_len(c) > 0 || c->eof || c->sock->len > 0 || c->sock_eof)
		fc_schedule(c);
}

static void fc_suspend(struct rmail_conn *c)
{
	fc_pause_read(c);
	fc_ref(c);
}

static int fc_resume(struct rmail_conn *c)
{
	int open;

	CHECK(c);
	open = c->state == FC_OPEN || c->state == FC_HANDSHAKE;
	if (open)
		fc_resume_read(c);
	fc_unref(c);
	return open;
}

/* ---- lifetime ------------------------------------------------------ */

static void fc_close_reason(struct rmail_conn *c, int reason)
{
	CHECK(c);
	if (c->state == FC_CLOSING || c->state == FC_CLOSED)
		return;
	c->close_reason = reason;
	c->state = FC_CLOSING;
	if (c->queued->len == 0) {
		c->want_finalize = true;
		fc_schedule(c);
	} else if (c->cork == 0) {
		fc_schedule(c); /* the service flushes, then finalizes */
	}
}

static void fc_close(struct rmail_conn *c)
{
	fc_close_reason(c, RMAIL_CLOSE_NORMAL);
}

static void fc_finalize(struct rmail_conn *c)
{
	if (c->state == FC_CLOSED)
		return;
	c->state = FC_CLOSED;
	g_string_truncate(c->queued, 0);
	if (c->session_open) {
		c->session_open = false;
		rm_proto_close(&c->ops, c, c->session, c->close_reason);
	}
	fc_unref(c); /* the socket's reference */
}

static int fc_closed(struct rmail_conn *c)
{
	CHECK(c);
	return c->state == FC_CLOSING || c->state == FC_CLOSED;
}

static int fc_starttls(struct rmail_conn *c, struct rmail_err *err)
{
	CHECK(c);
	if (c->tls || c->starttls_pending)
		return rmail_err_set(err, RMAIL_E_INVAL, "TLS already active");
	if (c->opts.tls == RMAIL_TLS_NEVER)
		return rmail_err_set(err, RMAIL_E_NOTIMPL,
				     "STARTTLS not offered on this listener");
	if (fc.no_tls)
		return rmail_err_set(err, RMAIL_E_NOTIMPL,
				     "no TLS certificate loaded");
	if (in_len(c) > 0)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "pipelined input before TLS handshake");
	c->starttls_pending = true;
	c->starttls_written = false;
	return 0;
}

/* The client's hello arrived: the handshake succeeds, and nothing of
 * the cleartext session survives (core/conn.c conn_handshake_step). */
static void fc_handshake_done(struct rmail_conn *c)
{
	c->state = FC_OPEN;
	c->tls = true;
	c->starttls_pending = false;
	g_byte_array_set_size(c->in, 0);
	c->in_pos = 0;
	c->lb.scanned = 0;
	c->lb.skipping = false;
	rm_proto_tls_ready(&c->ops, c, c->session);
}

/* ---- accessors ----------------------------------------------------- */

static void fc_set_timeout(struct rmail_conn *c, double idle)
{
	CHECK(c);
	c->idle_timeout = idle > 0 ? idle : 300.;
}

static int fc_is_tls(struct rmail_conn *c)
{
	CHECK(c);
	return c->tls;
}

static const char *fc_tls_info(struct rmail_conn *c)
{
	CHECK(c);
	return c->tls ? "TLSv1.3 TLS_FAKE" : NULL;
}

static const char *fc_peer_ip(struct rmail_conn *c)
{
	CHECK(c);
	return c->peer_ip;
}

static int fc_peer_port(struct rmail_conn *c)
{
	CHECK(c);
	return 40000;
}

static int fc_local_port(struct rmail_conn *c)
{
	CHECK(c);
	return 1;
}

static int fc_is_loopback(struct rmail_conn *c)
{
	CHECK(c);
	return strncmp(c->peer_ip, "127.", 4) == 0 ||
	       strcmp(c->peer_ip, "::1") == 0;
}

static const char *fc_id(struct rmail_conn *c)
{
	CHECK(c);
	return c->id;
}

static struct rmail_pool *fc_pool(struct rmail_conn *c)
{
	CHECK(c);
	return c->pool;
}

static void *fc_listen_arg(struct rmail_conn *c)
{
	CHECK(c);
	return c->opts.arg;
}

static void fc_log(struct rmail_conn *c, int level, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	fc.core->log(NULL, level, "conn %s: %s", c->id, s);
	g_free(s);
}

void fake_conn_install(struct rmail_core *core)
{
	fc.core = core;
	core->conn_read_line = fc_read_line;
	core->conn_peek = fc_peek;
	core->conn_consume = fc_consume;
	core->conn_write = fc_write;
	core->conn_printf = fc_printf;
	core->conn_outq = fc_outq;
	core->conn_starttls = fc_starttls;
	core->conn_pause_read = fc_pause_read;
	core->conn_resume_read = fc_resume_read;
	core->conn_set_timeout = fc_set_timeout;
	core->conn_close = fc_close;
	core->conn_ref = fc_ref;
	core->conn_unref = fc_unref;
	core->conn_closed = fc_closed;
	core->conn_is_tls = fc_is_tls;
	core->conn_tls_info = fc_tls_info;
	core->conn_peer_ip = fc_peer_ip;
	core->conn_peer_port = fc_peer_port;
	core->conn_local_port = fc_local_port;
	core->conn_is_loopback = fc_is_loopback;
	core->conn_id = fc_id;
	core->conn_pool = fc_pool;
	core->conn_listen_arg = fc_listen_arg;
	core->conn_log = fc_log;
	core->conn_suspend = fc_suspend;
	core->conn_resume = fc_resume;
}

/* ---- the test's side ----------------------------------------------- */

struct rmail_conn *fake_conn_open(const struct rmail_proto_ops *ops,
				  const struct rmail_listen_opts *o,
				  const char *peer_ip)
{
	struct rmail_conn *c = g_new0(struct rmail_conn, 1);
	size_t max_line;

	fake_core_init();
	/* the copy at the core's size, as rm_listen keeps it */
	rmail_sized_copy(&c->ops, sizeof(c->ops), ops, ops->size);
	c->ops.size = sizeof(c->ops);
	g_assert_true(rm_proto_has_ctx(&c->ops)
			      ? c->ops.ctx_input != NULL
			      : c->ops.on_accept != NULL &&
					c->ops.on_input != NULL);
	c->magic = FC_MAGIC;
	c->refcount = 2; /* the socket's and the test's */
	rmail_sized_copy(&c->opts, sizeof(c->opts), o, o->size);
	c->pool = fc.core->pool_create(NULL);
	snprintf(c->id, sizeof(c->id), "%llu", ++fc.next_id);
	snprintf(c->peer_ip, sizeof(c->peer_ip), "%s",
		 peer_ip != NULL ? peer_ip : "192.0.2.1");
	max_line = c->opts.max_line ? c->opts.max_line : FC_DEFAULT_MAX_LINE;
	rm_linebuf_init(&c->lb, max_line);
	c->in_cap = max_line > FC_MIN_INBUF ? max_line : FC_MIN_INBUF;
	c->sock = g_byte_array_new();
	c->in = g_byte_array_new();
	c->queued = g_string_new(NULL);
	c->out = g_string_new(NULL);
	c->idle_timeout = 300.;
	c->tls = c->opts.tls == RMAIL_TLS_IMPLICIT;
	c->sock_tls = c->tls;
	c->state = FC_OPEN;
	fc_ref(c);
	fc_cork(c);
	c->session_open = true;
	if (rm_proto_accept(&c->ops, c, &c->session) < 0) {
		c->session_open = false;
		fc_close(c);
	} else {
		fc_dispatch(c);
	}
	fc_uncork(c);
	fc_unref(c);
	return c;
}

void fake_conn_free(struct rmail_conn **cp)
{
	struct rmail_conn *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	fc_close_reason(c, RMAIL_CLOSE_SHUTDOWN);
	fake_conn_settle(2.0);
	if (c->state != FC_CLOSED)
		fc_finalize(c);
	fc_unref(c);
}

/* an io event, as conn_io_cb: send what the peer takes, then read
 * and dispatch what it sent, corked */
static void fc_io(struct rmail_conn *c)
{
	size_t before;

	fc_ref(c);
	fc_cork(c);
	if (c->queued->len > 0 &&
	    (c->state == FC_OPEN || c->state == FC_CLOSING)) {
		before = c->queued->len;
		if (fc_flush(c) > 0)
			fc_after_output(c, before);
	}
	if (c->state == FC_OPEN)
		fc_dispatch(c);
	fc_uncork(c);
	fc_unref(c);
}

static void feed(struct rmail_conn *c, const void *data, size_t n, bool tls)
{
	CHECK(c);
	if (c->state == FC_CLOSED || c->state == FC_CLOSING)
		return;
	if (c->state == FC_HANDSHAKE) {
		if (!tls || c->sock->len > 0) {
			/* cleartext where a ClientHello belongs */
			c->state = FC_CLOSING;
			c->close_reason = RMAIL_CLOSE_ERROR;
			c->want_finalize = true;
			fc_schedule(c);
			return;
		}
		fc_ref(c);
		fc_cork(c);
		fc_handshake_done(c);
		c->sock_tls = true;
		fc_uncork(c);
		fc_unref(c);
	}
	if (tls != c->sock_tls) {
		/* a record layer mismatch: the peer broke the stream */
		fc_close_reason(c, RMAIL_CLOSE_ERROR);
		return;
	}
	g_byte_array_append(c->sock, data, (guint)n);
	fc_io(c);
}

void fake_conn_feed(struct rmail_conn *c, const void *data, size_t n)
{
	feed(c, data, n, false);
}

void fake_conn_feed_tls(struct rmail_conn *c, const void *data, size_t n)
{
	feed(c, data, n, true);
}

void fake_conn_eof(struct rmail_conn *c)
{
	CHECK(c);
	c->sock_eof = true;
	fc_io(c);
}

void fake_conn_timeout(struct rmail_conn *c)
{
	CHECK(c);
	if (c->state != FC_OPEN)
		return;
	fc_ref(c);
	fc_cork(c);
	if (c->session_open)
		rm_proto_timeout(&c->ops, c, c->session);
	fc_close_reason(c, RMAIL_CLOSE_TIMEOUT);
	fc_uncork(c);
	fc_unref(c);
}

void fake_conn_settle(double timeout)
{
	GMainContext *ctx = fake_core_context();
	gint64 end = g_get_monotonic_time() + (gint64)(timeout * 1e6);
	int idle = 0;

	/* two empty passes in a row: what a pass attaches runs next */
	while (idle < 2 && g_get_monotonic_time() < end)
		idle = g_main_context_iteration(ctx, FALSE) ? 0 : idle + 1;
}

const GString *fake_conn_output(struct rmail_conn *c)
{
	CHECK(c);
	return c->out;
}

unsigned fake_conn_sends(struct rmail_conn *c)
{
	CHECK(c);
	return c->sends;
}

void fake_conn_output_clear(struct rmail_conn *c)
{
	CHECK(c);
	g_string_truncate(c->out, 0);
	c->sends = 0;
}

bool fake_conn_is_closed(struct rmail_conn *c)
{
	CHECK(c);
	return c->state == FC_CLOSED;
}

int fake_conn_close_reason(struct rmail_conn *c)
{
	CHECK(c);
	return c->close_reason;
}

bool fake_conn_is_paused(struct rmail_conn *c)
{
	CHECK(c);
	return c->paused;
}

bool fake_conn_tls(struct rmail_conn *c)
{
	CHECK(c);
	return c->tls;
}

bool fake_conn_handshaking(struct rmail_conn *c)
{
	CHECK(c);
	return c->state == FC_HANDSHAKE;
}

void fake_conn_set_window(struct rmail_conn *c, size_t bytes)
{
	CHECK(c);
	c->window = bytes;
	c->room = bytes;
}

bool fake_conn_drain(struct rmail_conn *c)
{
	CHECK(c);
	if (c->queued->len == 0)
		return false;
	c->room = c->window;
	fc_io(c);
	return true;
}

size_t fake_conn_outq(struct rmail_conn *c)
{
	CHECK(c);
	return c->queued->len;
}

void fake_conn_set_tls_available(bool yes)
{
	fc.no_tls = !yes;
}
