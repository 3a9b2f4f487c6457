/*
 * A fake connection for session-level unit tests: the connection
 * entries of the fake core (fake_core.h), without a socket.  The test
 * plays the peer: it feeds bytes (whole, byte by byte, split anywhere),
 * reads back what the session sent, and drives the loop.
 *
 * It keeps the contract core/conn.c implements and include/rmail/core.h
 * documents:
 *  - every handler runs corked: its writes leave in one send once the
 *    outermost handler returns (fake_conn_sends() counts sends); writes
 *    from any other callback (a timer, work done) are sent once that
 *    callback returns, from the loop;
 *  - on_input is called while input is buffered, reading is not paused
 *    and the handler makes progress; bytes already buffered are handed
 *    over again, from the loop, after conn_resume_read/conn_resume;
 *  - conn_read_line as the core's line scanner (max_line, TOOLONG once
 *    per line); a line's bytes are poisoned and freed when the core
 *    would compact the buffer (a session reading stale lines fails
 *    under ASan, or sees 0xA5 bytes);
 *  - conn_close, a failed on_accept and RMAIL_CLOSE only mark the conn:
 *    on_close runs later from the loop, exactly once;
 *  - conn_starttls refuses while input is buffered behind the command;
 *    once the go-ahead is sent the conn waits for the handshake, which
 *    the first fake_conn_feed_tls() completes (buffered plaintext is
 *    dropped, on_tls_ready runs).  Plaintext fed before that fails the
 *    handshake, as on a real socket.
 */
#ifndef FAKE_CONN_H
#define FAKE_CONN_H

#include <glib.h>
#include <stdbool.h>

#include <rmail/rmail.h>

/* Accept a connection: on_accept runs now, corked, as the core would
 * (o->size must be set; o->tls IMPLICIT starts in TLS).  The test
 * holds a reference until fake_conn_free. */
struct rmail_conn *fake_conn_open(const struct rmail_proto_ops *ops,
				  const struct rmail_listen_opts *o,
				  const char *peer_ip);
/* Close (reason SHUTDOWN) if still open, run on_close, drop the test's
 * reference. */
void fake_conn_free(struct rmail_conn **c);

/* The peer sends: cleartext, or inside TLS after STARTTLS/implicit. */
void fake_conn_feed(struct rmail_conn *c, const void *data, size_t n);
void fake_conn_feed_tls(struct rmail_conn *c, const void *data, size_t n);
/* The peer half-closes (EOF after what was fed). */
void fake_conn_eof(struct rmail_conn *c);
/* Fire the idle timeout now (on_timeout, then close TIMEOUT). */
void fake_conn_timeout(struct rmail_conn *c);

/* Run the loop until nothing is pending (deferred services, posts,
 * inline work's done) or timeout seconds passed.  Timers not yet due
 * stay; threaded work (fake_core_set_threaded_work) needs
 * fake_core_run with a predicate. */
void fake_conn_settle(double timeout);

/* Everything sent so far, and in how many sends. */
const GString *fake_conn_output(struct rmail_conn *c);
unsigned fake_conn_sends(struct rmail_conn *c);
void fake_conn_output_clear(struct rmail_conn *c);

bool fake_conn_is_closed(struct rmail_conn *c); /* on_close has run */
int fake_conn_close_reason(struct rmail_conn *c);
bool fake_conn_is_paused(struct rmail_conn *c);
bool fake_conn_tls(struct rmail_conn *c);
/* STARTTLS accepted and its go-ahead sent: waiting for the handshake */
bool fake_conn_handshaking(struct rmail_conn *c);
/* A slow peer: each send takes at most `bytes` (0: everything, the
 * default) until the next fake_conn_drain, which is the socket turning
 * writable again: it sends up to `bytes` more, and on_drain follows as
 * in the core (queue below 64 KiB; above 256 KiB reading stops).
 * fake_conn_drain returns false when nothing was queued. */
void fake_conn_set_window(struct rmail_conn *c, size_t bytes);
bool fake_conn_drain(struct rmail_conn *c);
size_t fake_conn_outq(struct rmail_conn *c);
/* whether conn_starttls finds a certificate (default true) */
void fake_conn_set_tls_available(bool yes);

/* Called by fake_core_init: fill the connection entries. */
void fake_conn_install(struct rmail_core *core);

#endif
