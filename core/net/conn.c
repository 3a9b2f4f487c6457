/*
 * Connections: one ev_io and one ev_timer each, a fixed input buffer
 * with compaction, a chunked output queue with watermarks, and a
 * transport ops table (plain or TLS).  Module callbacks that could
 * re-enter the module (on_close, resumed input) are deferred to a
 * service list run from ev_idle/ev_check, never called from inside a
 * module's own call into the core.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn_int.h"
#include "proto_call.h"

#define DEFAULT_MAX_LINE 8192
#define CHUNK_SIZE (16 * 1024)
#define READS_PER_EVENT 4

static struct rmail_conn *conns;
static size_t nconns;
static unsigned long long next_id;

static struct rmail_conn *pend_head;
static ev_idle pend_idle;
static ev_check pend_check;
static bool pend_ready;

static void conn_finalize(struct rmail_conn *c);

/* rmail_connections{proto}: open connections per protocol, a gauge
 * kept beside the rmail_connections_accepted_total counter */
#define CONN_GAUGES 32
static struct {
	char labels[128];
	long n;
} conn_gauges[CONN_GAUGES];

static void conn_gauge(struct rmail_conn *c, long delta)
{
	const char *labels = rm_listener_labels(c->lst);
	size_t i;

	for (i = 0; i < CONN_GAUGES; i++)
		if (conn_gauges[i].labels[0] == '\0' ||
		    strcmp(conn_gauges[i].labels, labels) == 0)
			break;
	if (i == CONN_GAUGES || strlen(labels) >= sizeof(conn_gauges[i].labels))
		return;
	if (conn_gauges[i].labels[0] == '\0')
		snprintf(conn_gauges[i].labels, sizeof(conn_gauges[i].labels),
			 "%s", labels);
	conn_gauges[i].n += delta;
	rm_metric_set("rmail_connections", labels, (double)conn_gauges[i].n);
}
static void conn_dispatch(struct rmail_conn *c);
static void conn_handshake_step(struct rmail_conn *c);

static size_t inbuf_len(const struct rmail_conn *c)
{
	return c->in_last - c->in_pos;
}

/* The input buffer exists only while it holds bytes or a read runs:
 * an idle connection keeps none (most of its memory otherwise). */
static void conn_in_alloc(struct rmail_conn *c)
{
	if (c->in == NULL) {
		c->in = rm_xmalloc(c->in_cap);
		c->in_pos = c->in_last = 0;
	}
}

/* Only when nobody can hold a pointer into it: a paused module may keep
 * the line it read until it resumes. */
static void conn_in_release(struct rmail_conn *c)
{
	if (c->in != NULL && inbuf_len(c) == 0 && !c->paused &&
	    !c->in_dispatch) {
		free(c->in);
		c->in = NULL;
		c->in_pos = c->in_last = 0;
	}
}

static bool conn_want_read(const struct rmail_conn *c)
{
	return c->state == RM_CONN_OPEN && !c->paused && !c->bp_paused &&
	       !c->starttls_pending && !c->eof && inbuf_len(c) < c->in_cap;
}

static void conn_update_events(struct rmail_conn *c)
{
	struct ev_loop *loop = rm_loop();
	int ev = 0;

	if (c->cork > 0)
		return; /* the uncork settles the events once */
	if (c->hs_busy) {
		ev = 0;
	} else if (c->state == RM_CONN_HANDSHAKE) {
		ev = c->hs_want;
	} else if (c->state == RM_CONN_OPEN || c->state == RM_CONN_CLOSING) {
		if (conn_want_read(c) || c->tls_write_wants_read)
			ev |= EV_READ;
		if ((c->outq > 0 && !c->tls_write_wants_read) ||
		    c->tls_read_wants_write)
			ev |= EV_WRITE;
	}
	if (ev == c->io_events)
		return;
	ev_io_stop(loop, &c->io);
	c->io_events = ev;
	if (ev != 0) {
		ev_io_set(&c->io, c->fd, ev);
		ev_io_start(loop, &c->io);
	}
}

/* ---- the service list ---------------------------------------------- */

static void conn_service(struct rmail_conn *c);

static void pend_run(void)
{
	struct rmail_conn *list = pend_head, *c;

	/* a snapshot: what gets scheduled now runs on the next pass */
	pend_head = NULL;
	while (list != NULL) {
		c = list;
		list = c->pending_next;
		c->pending_next = NULL;
		c->on_pending = false;
		conn_service(c);
		rm_conn_unref(c);
	}
	if (pend_head == NULL)
		ev_idle_stop(rm_loop(), &pend_idle);
}

static void pend_idle_cb(struct ev_loop *l, ev_idle *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	pend_run();
}

static void pend_check_cb(struct ev_loop *l, ev_check *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	if (pend_head != NULL)
		pend_run();
}

static void conn_schedule(struct rmail_conn *c)
{
	struct ev_loop *loop = rm_loop();

	if (c->on_pending || c->state == RM_CONN_CLOSED)
		return;
	if (!pend_ready) {
		ev_idle_init(&pend_idle, pend_idle_cb);
		ev_check_init(&pend_check, pend_check_cb);
		ev_check_start(loop, &pend_check);
		/* the check watcher alone must not keep the loop alive */
		ev_unref(loop);
		pend_ready = true;
	}
	rm_conn_ref(c);
	c->on_pending = true;
	c->pending_next = pend_head;
	pend_head = c;
	/* an active idle watcher keeps the next poll from blocking */
	ev_idle_start(loop, &pend_idle);
}

/* ---- output -------------------------------------------------------- */

static void out_free_all(struct rmail_conn *c)
{
	struct rm_chunk *ch;

	while ((ch = c->out_head) != NULL) {
		c->out_head = ch->next;
		free(ch);
	}
	c->out_tail = NULL;
	c->outq = 0;
}

static void conn_fail(struct rmail_conn *c)
{
	if (c->state == RM_CONN_CLOSED)
		return;
	out_free_all(c);
	if (c->state != RM_CONN_CLOSING)
		c->close_reason = RMAIL_CLOSE_ERROR;
	c->state = RM_CONN_CLOSING;
	c->want_finalize = true;
	conn_schedule(c);
}

static void conn_touch(struct rmail_conn *c)
{
	if (c->state == RM_CONN_OPEN) {
		c->timer.repeat = c->idle_timeout;
		ev_timer_again(rm_loop(), &c->timer);
	}
}

/* returns the bytes written */
static size_t conn_flush(struct rmail_conn *c)
{
	size_t done = 0;
	struct rm_chunk *ch;
	ssize_t r;

	while ((ch = c->out_head) != NULL) {
		r = c->tr->send(c, ch->data + ch->off, ch->len - ch->off);
		if (r == RMAIL_AGAIN) {
			c->drain_owed = true;
			break;
		}
		if (r <= 0) {
			conn_fail(c);
			return done;
		}
		ch->off += (size_t)r;
		c->outq -= (size_t)r;
		c->bytes_out += (uint64_t)r;
		done += (size_t)r;
		if (ch->off == ch->len) {
			c->out_head = ch->next;
			if (c->out_head == NULL)
				c->out_tail = NULL;
			free(ch);
		}
	}
	if (done > 0)
		conn_touch(c);
	return done;
}

static void conn_begin_tls(struct rmail_conn *c)
{
	if (rm_tls_attach(c) < 0) {
		conn_fail(c);
		return;
	}
	c->state = RM_CONN_HANDSHAKE;
	c->timer.repeat = c->handshake_timeout;
	ev_timer_again(rm_loop(), &c->timer);
	conn_handshake_step(c);
}

static void conn_after_output(struct rmail_conn *c, size_t before)
{
	if (c->state == RM_CONN_CLOSING) {
		if (c->outq == 0) {
			c->want_finalize = true;
			conn_schedule(c);
		}
		return;
	}
	if (c->state != RM_CONN_OPEN)
		return;
	if (c->starttls_pending && c->starttls_written && c->outq == 0 &&
	    c->ssl == NULL) {
		conn_begin_tls(c);
		return;
	}
	if (c->outq >= before || c->outq >= RM_CONN_LOWAT)
		return;
	if (c->bp_paused) {
		c->bp_paused = false;
		if (inbuf_len(c) > 0 || rm_tls_has_pending(c))
			conn_schedule(c);
	}
	/* only a module that saw a queue can be waiting for the drain */
	if (c->drain_owed && c->session_open && rm_proto_has_drain(c->ops)) {
		c->drain_owed = c->outq > 0;
		rm_proto_drain(c->ops, c, c->session);
	}
}

/* Module callbacks run corked: their writes, however many, leave in as
 * few sends as the socket allows once the outermost callback returns,
 * so no module needs its own reply batching against small packets. */
static struct rmail_conn *current;

static void conn_cork(struct rmail_conn *c)
{
	if (c->cork++ == 0) {
		c->outer = current;
		current = c;
	}
}

struct rmail_conn *rm_conn_current(void)
{
	return current;
}

static void conn_uncork(struct rmail_conn *c)
{
	size_t before;

	RM_ASSERT(c->cork > 0);
	/* on_drain may queue more: go on while the socket takes it */
	while (c->cork == 1 && c->outq > 0 && !c->tls_write_wants_read &&
	       (c->state == RM_CONN_OPEN || c->state == RM_CONN_CLOSING)) {
		before = c->outq;
		if (conn_flush(c) == 0)
			break;
		conn_after_output(c, before);
	}
	if (--c->cork == 0) {
		current = c->outer;
		c->outer = NULL;
		if (c->state != RM_CONN_CLOSED)
			conn_update_events(c);
	}
}

void rm_conn_write(struct rmail_conn *c, const void *data, size_t n)
{
	struct rm_chunk *ch = NULL;
	const char *p = data;
	size_t room, take;

	RM_CONN_CHECK(c);
	if (c->state != RM_CONN_OPEN && c->state != RM_CONN_HANDSHAKE)
		return;
	if (c->starttls_pending && c->ssl == NULL)
		c->starttls_written = true;
	while (n > 0) {
		ch = c->out_tail;
		room = ch != NULL ? ch->cap - ch->len : 0;
		if (room == 0) {
			size_t cap = n > CHUNK_SIZE ? n : CHUNK_SIZE;

			ch = rm_xmalloc(sizeof(*ch) + cap);
			ch->next = NULL;
			ch->off = ch->len = 0;
			ch->cap = cap;
			if (c->out_tail != NULL)
				c->out_tail->next = ch;
			else
				c->out_head = ch;
			c->out_tail = ch;
			room = cap;
		}
		take = n < room ? n : room;
		memcpy(ch->data + ch->len, p, take);
		ch->len += take;
		c->outq += take;
		p += take;
		n -= take;
	}
	if (c->cork == 0) {
		/* from a timer or a completion: sent once that returns */
		conn_schedule(c);
	} else if (c->outq >= RM_CONN_CORK_MAX && c->state == RM_CONN_OPEN &&
		   !c->tls_write_wants_read) {
		conn_flush(c);
	}
	if (c->outq > RM_CONN_HIWAT)
		c->bp_paused = true;
}

void rm_conn_printf(struct rmail_conn *c, const char *fmt, ...)
{
	char buf[1024], *big;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(buf)) {
		rm_conn_write(c, buf, (size_t)n);
		return;
	}
	big = rm_xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rm_conn_write(c, big, (size_t)n);
	free(big);
}

size_t rm_conn_outq(struct rmail_conn *c)
{
	RM_CONN_CHECK(c);
	if (c->outq > 0)
		c->drain_owed = true;
	return c->outq;
}

/* ---- input --------------------------------------------------------- */

static void conn_do_read(struct rmail_conn *c)
{
	bool got = false;
	ssize_t r;

	for (int i = 0; i < READS_PER_EVENT && conn_want_read(c); i++) {
		conn_in_alloc(c);
		if (c->in_pos > 0) {
			memmove(c->in, c->in + c->in_pos, inbuf_len(c));
			c->in_last -= c->in_pos;
			c->in_pos = 0;
		}
		r = c->tr->recv(c, c->in + c->in_last, c->in_cap - c->in_last);
		if (r == RMAIL_AGAIN)
			break;
		if (r < 0) {
			conn_fail(c);
			return;
		}
		if (r == 0) {
			c->eof = true;
			break;
		}
		c->in_last += (size_t)r;
		c->bytes_in += (uint64_t)r;
		got = true;
	}
	if (got)
		conn_touch(c);
	/* TLS records already decrypted do not make the fd readable */
	if (conn_want_read(c) && rm_tls_has_pending(c))
		conn_schedule(c);
	conn_dispatch(c);
}

static void conn_dispatch(struct rmail_conn *c)
{
	uint64_t before;
	int rc;

	if (c->in_dispatch || !c->session_open)
		return;
	c->in_dispatch = true;
	rm_conn_ref(c);
	while (c->state == RM_CONN_OPEN && !c->paused && !c->bp_paused &&
	       !c->starttls_pending && inbuf_len(c) > 0) {
		before = c->in_consumed;
		rc = rm_proto_input(c->ops, c, c->session);
		if (rc == RMAIL_CLOSE) {
			rm_conn_close(c);
			break;
		}
		if (c->in_consumed == before)
			break; /* it needs more bytes */
	}
	c->in_dispatch = false;
	conn_in_release(c);
	if (c->state == RM_CONN_OPEN && c->eof && !c->paused && !c->bp_paused &&
	    !c->starttls_pending)
		rm_conn_close_reason(c, RMAIL_CLOSE_PEER);
	if (c->state == RM_CONN_OPEN && c->starttls_pending &&
	    c->starttls_written && c->outq == 0 && c->ssl == NULL)
		conn_begin_tls(c);
	if (c->state != RM_CONN_CLOSED)
		conn_update_events(c);
	rm_conn_unref(c);
}

int rm_conn_read_line(struct rmail_conn *c, struct rmail_line *l)
{
	size_t used;
	int rc;

	RM_CONN_CHECK(c);
	if (c->state != RM_CONN_OPEN)
		return RMAIL_AGAIN;
	rc = rm_linebuf_next(&c->lb, c->in != NULL ? c->in + c->in_pos : "",
			     inbuf_len(c), l, &used);
	c->in_pos += used;
	c->in_consumed += used;
	return rc;
}

size_t rm_conn_peek(struct rmail_conn *c, const char **data_r)
{
	RM_CONN_CHECK(c);
	*data_r = c->in != NULL ? c->in + c->in_pos : "";
	return inbuf_len(c);
}

void rm_conn_consume(struct rmail_conn *c, size_t n)
{
	RM_CONN_CHECK(c);
	RM_ASSERT(n <= inbuf_len(c));
	c->in_pos += n;
	c->in_consumed += n;
	/* a raw consume moves the line start */
	c->lb.scanned = 0;
	if (c->state != RM_CONN_CLOSED && !c->in_dispatch)
		conn_update_events(c);
}

void rm_conn_pause_read(struct rmail_conn *c)
{
	RM_CONN_CHECK(c);
	c->paused = true;
	if (c->state != RM_CONN_CLOSED && !c->in_dispatch)
		conn_update_events(c);
}

void rm_conn_resume_read(struct rmail_conn *c)
{
	RM_CONN_CHECK(c);
	if (!c->paused)
		return;
	c->paused = false;
	if (c->state == RM_CONN_CLOSED)
		return;
	conn_in_release(c);
	/* bytes already buffered will not wake the fd: pipelining */
	if (inbuf_len(c) > 0 || c->eof || rm_tls_has_pending(c))
		conn_schedule(c);
	if (!c->in_dispatch)
		conn_update_events(c);
}

void rm_conn_suspend(struct rmail_conn *c)
{
	rm_conn_pause_read(c);
	rm_conn_ref(c);
}

int rm_conn_resume(struct rmail_conn *c)
{
	int open;

	RM_CONN_CHECK(c);
	open = c->state == RM_CONN_OPEN || c->state == RM_CONN_HANDSHAKE;
	if (open)
		rm_conn_resume_read(c);
	rm_conn_unref(c);
	return open;
}

/* ---- events -------------------------------------------------------- */

static void conn_service(struct rmail_conn *c)
{
	if (c->state == RM_CONN_CLOSED)
		return;
	if (c->want_finalize || (c->state == RM_CONN_CLOSING && c->outq == 0)) {
		conn_finalize(c);
		return;
	}
	/* a closing conn may be here only for the flush in the uncork */
	conn_cork(c);
	if (c->state == RM_CONN_OPEN && conn_want_read(c) &&
	    rm_tls_has_pending(c))
		conn_do_read(c);
	else if (c->state == RM_CONN_OPEN)
		conn_dispatch(c);
	conn_uncork(c);
}

static void conn_accept_session(struct rmail_conn *c)
{
	c->session_open = true;
	if (rm_proto_accept(c->ops, c, &c->session) < 0) {
		c->session_open = false;
		rm_conn_close(c);
	}
}

static void conn_handshake_result(struct rmail_conn *c, int r)
{
	if (r == RMAIL_AGAIN) {
		conn_update_events(c);
		return;
	}
	if (r != 1) {
		c->state = RM_CONN_CLOSING;
		c->close_reason = RMAIL_CLOSE_ERROR;
		conn_finalize(c);
		return;
	}
	c->state = RM_CONN_OPEN;
	c->timer.repeat = c->idle_timeout;
	ev_timer_again(rm_loop(), &c->timer);
	rm_conn_log(c, RMAIL_LOG_DEBUG, "TLS established: %s", c->tls_info);
	if (!c->session_open) {
		conn_accept_session(c);
	} else {
		/* nothing of the cleartext session survives */
		c->starttls_pending = false;
		c->in_pos = c->in_last = 0;
		rm_linebuf_init(&c->lb, c->lb.max_line);
		rm_proto_tls_ready(c->ops, c, c->session);
	}
	if (c->state == RM_CONN_OPEN && rm_tls_has_pending(c))
		conn_schedule(c);
	if (c->state != RM_CONN_CLOSED)
		conn_update_events(c);
}

static void hs_work(void *arg, const volatile int *cancel)
{
	struct rmail_conn *c = arg;

	(void)cancel;
	c->hs_result = rm_tls_handshake(c);
}

static void hs_done(void *arg, int cancelled)
{
	struct rmail_conn *c = arg;

	c->hs_busy = false;
	conn_cork(c);
	if (c->finalize_owed) {
		c->finalize_owed = false;
		conn_finalize(c);
	} else if (c->state == RM_CONN_HANDSHAKE) {
		conn_handshake_result(c,
				      cancelled ? RMAIL_ERROR : c->hs_result);
	}
	/* else closing: its scheduled finalize runs now that we are back */
	conn_uncork(c);
	rm_conn_unref(c);
}

/* Every step runs on the TLS pool: the first one signs with the
 * server's key (4.8 ms for RSA-4096 here), which on the loop would stall
 * every session of the process while clients reconnect.  The conn is
 * parked meanwhile; the result comes back through hs_done. */
static void conn_handshake_step(struct rmail_conn *c)
{
	if (c->hs_busy)
		return;
	c->hs_busy = true;
	conn_update_events(c);
	rm_conn_ref(c);
	rm_work_submit(RM_WORK_TLS, hs_work, hs_done, c);
}

static void conn_io_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct rmail_conn *c = rm_container_of(w, struct rmail_conn, io);
	size_t before;

	(void)l;
	(void)revents;
	rm_conn_ref(c);
	conn_cork(c);
	if (c->state == RM_CONN_HANDSHAKE) {
		conn_handshake_step(c);
		goto out;
	}
	if (c->outq > 0) {
		before = c->outq;
		conn_flush(c);
		conn_after_output(c, before);
	}
	if (conn_want_read(c))
		conn_do_read(c);
out:
	conn_uncork(c);
	rm_conn_unref(c);
}

static void conn_timer_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	struct rmail_conn *c = rm_container_of(w, struct rmail_conn, timer);

	(void)l;
	(void)revents;
	rm_conn_ref(c);
	conn_cork(c);
	switch (c->state) {
	case RM_CONN_HANDSHAKE:
		rm_conn_log(c, RMAIL_LOG_INFO, "TLS handshake timed out");
		c->state = RM_CONN_CLOSING;
		c->close_reason = RMAIL_CLOSE_TIMEOUT;
		conn_finalize(c);
		break;
	case RM_CONN_OPEN:
		rm_conn_log(c, RMAIL_LOG_INFO, "idle timeout");
		if (c->session_open)
			rm_proto_timeout(c->ops, c, c->session);
		rm_conn_close_reason(c, RMAIL_CLOSE_TIMEOUT);
		break;
	case RM_CONN_CLOSING:
		/* the peer does not read our last words: give up */
		out_free_all(c);
		conn_finalize(c);
		break;
	default:
		break;
	}
	conn_uncork(c);
	rm_conn_unref(c);
}

/* ---- lifetime ------------------------------------------------------ */

void rm_conn_close_reason(struct rmail_conn *c, int reason)
{
	RM_CONN_CHECK(c);
	if (c->state == RM_CONN_CLOSING || c->state == RM_CONN_CLOSED)
		return;
	c->close_reason = reason;
	if (c->state == RM_CONN_HANDSHAKE)
		out_free_all(c);
	c->state = RM_CONN_CLOSING;
	if (c->outq == 0) {
		c->want_finalize = true;
		conn_schedule(c);
		return;
	}
	ev_timer_stop(rm_loop(), &c->timer);
	ev_timer_set(&c->timer, RM_CONN_CLOSE_FLUSH, 0.);
	ev_timer_start(rm_loop(), &c->timer);
	if (!c->in_dispatch)
		conn_update_events(c);
}

void rm_conn_close(struct rmail_conn *c)
{
	rm_conn_close_reason(c, RMAIL_CLOSE_NORMAL);
}

static void conn_finalize(struct rmail_conn *c)
{
	struct ev_loop *loop = rm_loop();

	if (c->state == RM_CONN_CLOSED)
		return;
	ev_io_stop(loop, &c->io);
	ev_timer_stop(loop, &c->timer);
	c->io_events = 0;
	if (c->hs_busy) {
		/* the worker still uses the fd: closing it now could hand
		 * its number to the next accept under the worker's feet */
		c->finalize_owed = true;
		return;
	}
	if (c->ssl != NULL)
		c->tr->shutdown(c);
	close(c->fd);
	c->fd = -1;
	rm_accept_fd_freed();
	rm_ip_release(c->ip_key);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	nconns--;
	conn_gauge(c, -1);
	c->state = RM_CONN_CLOSED;
	out_free_all(c);
	rm_conn_log(c, RMAIL_LOG_DEBUG, "closed (reason %d)", c->close_reason);
	if (c->session_open)
		rm_session_log_end(c, c->opts->proto, c->user, c->bytes_in,
				   c->bytes_out, ev_now(loop) - c->started,
				   c->close_reason);
	if (c->session_open) {
		c->session_open = false;
		rm_proto_close(c->ops, c, c->session, c->close_reason);
	}
	rm_conn_unref(c); /* the reference of the open socket */
}

void rm_conn_ref(struct rmail_conn *c)
{
	RM_CONN_CHECK(c);
	c->refcount++;
}

void rm_conn_unref(struct rmail_conn *c)
{
	RM_CONN_CHECK(c);
	RM_ASSERT(c->refcount > 0);
	if (--c->refcount > 0)
		return;
	RM_ASSERT(c->state == RM_CONN_CLOSED);
	if (c->ssl != NULL)
		rm_tls_free(c);
	rm_pool_destroy(&c->pool);
	free(c->in);
	c->magic = 0;
	free(c);
}

static void overload(int fd, const struct rmail_listen_opts *o)
{
	/* best effort on a fresh socket: its send buffer is empty */
	if (o->overload_reply != NULL && o->tls != RMAIL_TLS_IMPLICIT)
		(void)!send(fd, o->overload_reply, strlen(o->overload_reply),
			    MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

void rm_peer_of(const struct sockaddr *sa, char *ip, size_t sz, int *port_r)
{
	ip[0] = '\0';
	*port_r = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, ip, (socklen_t)sz);
		*port_r = ntohs(s4->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, (socklen_t)sz);
		*port_r = ntohs(s6->sin6_port);
		rm_ip_normalize(ip, sz);
	} else {
		snprintf(ip, sz, "local");
	}
}

void rm_conn_new(struct rm_listener *l, int fd, const struct sockaddr *sa,
		 socklen_t salen, int local_port)
{
	const struct rmail_listen_opts *o = rm_listener_opts(l);
	const struct rm_config *conf = rm_conf();
	struct rmail_conn *c;
	char ip[INET6_ADDRSTRLEN];
	uint64_t ip_key = 0;
	int port;

	(void)salen;
	rm_peer_of(sa, ip, sizeof(ip), &port);
	if (conf != NULL && conf->limits.max_connections > 0 &&
	    nconns >= conf->limits.max_connections) {
		rm_log(RMAIL_LOG_WARN,
		       "%s: connection from %s refused: "
		       "limits.max_connections (%u) reached",
		       o->proto, ip, conf->limits.max_connections);
		overload(fd, o);
		return;
	}
	if (!rm_ip_acquire(ip, &ip_key)) {
		rm_log(RMAIL_LOG_INFO,
		       "%s: connection from %s refused: "
		       "limits.max_connections_per_ip reached",
		       o->proto, ip);
		overload(fd, o);
		return;
	}
	c = rm_xcalloc(1, sizeof(*c));
	c->ip_key = ip_key;
	c->magic = RM_CONN_MAGIC;
	c->refcount = 1;
	c->fd = fd;
	c->pool = rm_pool_create(NULL);
	c->lst = l;
	c->ops = rm_listener_ops(l);
	c->opts = o;
	c->tr = &rm_transport_plain;
	snprintf(c->peer_ip, sizeof(c->peer_ip), "%s", ip);
	c->peer_port = port;
	c->local_port = local_port;
	c->started = ev_now(rm_loop());
	snprintf(c->id, sizeof(c->id), "%llu", ++next_id);
	snprintf(c->prefix, sizeof(c->prefix), "%s[c=%s peer=%s]", o->proto,
		 c->id, c->peer_ip);
	rm_linebuf_init(&c->lb, o->max_line ? o->max_line : DEFAULT_MAX_LINE);
	c->in_cap = c->lb.max_line > RM_CONN_MIN_INBUF ? c->lb.max_line
						       : RM_CONN_MIN_INBUF;
	c->idle_timeout = o->idle_timeout > 0 ? o->idle_timeout : 300.;
	c->handshake_timeout =
		o->handshake_timeout > 0 ? o->handshake_timeout : 30.;
	ev_io_init(&c->io, conn_io_cb, fd, 0);
	ev_init(&c->timer, conn_timer_cb);
	c->next = conns;
	if (conns != NULL)
		conns->prev = c;
	conns = c;
	nconns++;
	/* not rmail_connections_total: its family would clash with the
	 * rmail_connections gauge in the exposition */
	rm_metric_add("rmail_connections_accepted_total", rm_listener_labels(l),
		      1);
	conn_gauge(c, 1);
	rm_conn_log(c, RMAIL_LOG_DEBUG, "connected on port %d", local_port);
	c->state = RM_CONN_OPEN; /* for TLS: until attached */
	rm_conn_ref(c);
	conn_cork(c);
	if (o->tls == RMAIL_TLS_IMPLICIT) {
		conn_begin_tls(c);
	} else {
		conn_touch(c);
		conn_accept_session(c);
		if (c->state == RM_CONN_OPEN)
			conn_dispatch(c);
	}
	conn_uncork(c);
	rm_conn_unref(c);
}

size_t rm_conn_count(void)
{
	return nconns;
}

void rm_conn_close_all(int reason)
{
	for (struct rmail_conn *c = conns; c != NULL; c = c->next)
		rm_conn_close_reason(c, reason);
}

/* ---- accessors ----------------------------------------------------- */

int rm_conn_starttls(struct rmail_conn *c, struct rmail_err *err)
{
	RM_CONN_CHECK(c);
	if (c->ssl != NULL || c->starttls_pending)
		return rmail_err_set(err, RMAIL_E_INVAL, "TLS already active");
	if (c->opts->tls == RMAIL_TLS_NEVER)
		return rmail_err_set(err, RMAIL_E_NOTIMPL,
				     "STARTTLS not offered on this listener");
	if (rm_tls_server_ctx() == NULL)
		return rmail_err_set(err, RMAIL_E_NOTIMPL,
				     "no TLS certificate loaded");
	if (inbuf_len(c) > 0)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "pipelined input before TLS handshake");
	c->starttls_pending = true;
	c->starttls_written = false;
	return 0;
}

void rm_conn_set_timeout(struct rmail_conn *c, double idle)
{
	RM_CONN_CHECK(c);
	c->idle_timeout = idle > 0 ? idle : 300.;
	conn_touch(c);
}

int rm_conn_closed(struct rmail_conn *c)
{
	RM_CONN_CHECK(c);
	return c->state == RM_CONN_CLOSING || c->state == RM_CONN_CLOSED;
}

int rm_conn_is_tls(struct rmail_conn *c)
{
	RM_CONN_CHECK(c);
	return c->ssl != NULL && c->state != RM_CONN_HANDSHAKE;
}

const char *rm_conn_tls_info(struct rmail_conn *c)
{
	RM_CONN_CHECK(c);
	return rm_conn_is_tls(c) ? c->tls_info : NULL;
}

const char *rm_conn_peer_ip(struct rmail_conn *c)
{
	RM_CONN_CHECK(c);
	return c->peer_ip;
}

int rm_conn_peer_port(struct rmail_conn *c)
{
	RM_CONN_CHECK(c);
	return c->peer_port;
}

int rm_conn_local_port(struct rmail_conn *c)
{
	RM_CONN_CHECK(c);
	return c->local_port;
}

int rm_conn_is_loopback(struct rmail_conn *c)
{
	RM_CONN_CHECK(c);
	return rm_cidr_match(c->peer_ip, "127.0.0.0/8") == 1 ||
	       rm_cidr_match(c->peer_ip, "::1") == 1;
}

const char *rm_conn_tls_version(struct rmail_conn *c)
{
	static char v[32];
	size_t n;

	RM_CONN_CHECK(c);
	if (!rm_conn_is_tls(c))
		return NULL;
	/* loop thread only: the log line copies it at once */
	n = strcspn(c->tls_info, " ");
	snprintf(v, sizeof(v), "%.*s", (int)n, c->tls_info);
	return v;
}

void rm_conn_set_user(struct rmail_conn *c, const char *user)
{
	RM_CONN_CHECK(c);
	snprintf(c->user, sizeof(c->user), "%s", user != NULL ? user : "");
}

const char *rm_conn_id(struct rmail_conn *c)
{
	RM_CONN_CHECK(c);
	return c->id;
}

struct rmail_pool *rm_conn_pool(struct rmail_conn *c)
{
	RM_CONN_CHECK(c);
	return c->pool;
}

void *rm_conn_listen_arg(struct rmail_conn *c)
{
	RM_CONN_CHECK(c);
	return c->opts->arg;
}

void rm_conn_log(struct rmail_conn *c, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rm_vlog(level, c->prefix, fmt, ap);
	va_end(ap);
}
