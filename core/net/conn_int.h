/*
 * Connection internals shared by conn.c, listen.c, the transports and
 * tls.c.  Never seen by modules.
 */
#ifndef RM_CONN_INT_H
#define RM_CONN_INT_H

#include <stdbool.h>
#include <sys/types.h>
#include <netinet/in.h>

#include <ev.h>

#include "rm.h"
#include "linebuf.h"

#define RM_CONN_MAGIC 0x434f4e4eu /* "CONN" */
#define RM_CONN_HIWAT (256 * 1024)
#define RM_CONN_LOWAT (64 * 1024)
#define RM_CONN_MIN_INBUF (16 * 1024)
#define RM_CONN_CLOSE_FLUSH 5.0 /* seconds for a last flush */
/* a corked queue this full goes out at once: batching gains nothing */
#define RM_CONN_CORK_MAX (32 * 1024)

#define RM_CONN_CHECK(c) RM_ASSERT((c) != NULL && (c)->magic == RM_CONN_MAGIC)

/* recv/send: >0 bytes, 0 EOF (recv only), RMAIL_AGAIN or RMAIL_ERROR */
struct rm_transport {
	const char *name;
	ssize_t (*recv)(struct rmail_conn *c, void *buf, size_t n);
	ssize_t (*send)(struct rmail_conn *c, const void *buf, size_t n);
	void (*shutdown)(struct rmail_conn *c);
};

extern const struct rm_transport rm_transport_plain;
extern const struct rm_transport rm_transport_tls;

enum rm_conn_state {
	RM_CONN_HANDSHAKE = 1, /* TLS handshake running */
	RM_CONN_OPEN,
	RM_CONN_CLOSING, /* flushing the last output */
	RM_CONN_CLOSED,	 /* fd closed, on_close called */
};

struct rm_chunk {
	struct rm_chunk *next;
	size_t off, len, cap;
	char data[];
};

struct rm_listener;

struct rmail_conn {
	uint32_t magic;
	int refcount;
	int fd;
	int state; /* enum rm_conn_state */
	int close_reason;
	ev_io io;
	ev_timer timer;
	int io_events; /* mask currently armed */
	struct rmail_pool *pool;
	struct rm_listener *lst;
	const struct rmail_proto_ops *ops;
	const struct rmail_listen_opts *opts;
	void *session;
	bool session_open; /* on_accept succeeded: on_close owed */

	const struct rm_transport *tr;
	void *ssl; /* SSL * */
	bool tls_read_wants_write;
	bool tls_write_wants_read;
	int hs_want; /* EV_READ/EV_WRITE wanted by SSL */
	/* a handshake step runs on the TLS pool: the conn is parked (no
	 * events), and its fd and SSL are the worker's until it is back */
	bool hs_busy;
	bool finalize_owed;    /* closed meanwhile: finalize when back */
	int hs_result;	       /* the step's rm_tls_handshake() */
	bool starttls_pending; /* accepted; waiting for the go-ahead */
	bool starttls_written; /* the go-ahead was queued */

	char id[16];
	char peer_ip[INET6_ADDRSTRLEN];
	int peer_port;
	int local_port;
	char tls_info[96];
	char prefix[96]; /* "smtp[c=42 peer=127.0.0.1]" */
	char user[128];	 /* logged in, for the session_end line */
	double started;
	uint64_t bytes_in, bytes_out; /* protocol bytes, after TLS */
	struct rmail_conn *outer;     /* the current conn before this one's
				       * outermost cork */

	/* input: in[pos..last) is buffered */
	char *in;
	size_t in_cap, in_pos, in_last;
	uint64_t in_consumed; /* progress counter for dispatch */
	struct rm_linebuf lb;
	bool eof;
	bool paused;	/* by the module */
	bool bp_paused; /* by the high watermark */
	bool in_dispatch;

	/* output */
	struct rm_chunk *out_head, *out_tail;
	size_t outq;
	/* >0 while the core runs a callback for this conn: writes only
	 * queue, and the outermost uncork sends them in one go */
	int cork;
	bool drain_owed; /* the module may be waiting for on_drain */

	double idle_timeout;
	double handshake_timeout;

	bool on_pending; /* on the service list */
	bool want_finalize;
	struct rmail_conn *pending_next;
	struct rmail_conn *prev, *next; /* all live conns */
};

/* conn.c: a new accepted socket; takes ownership of fd */
void rm_conn_new(struct rm_listener *l, int fd, const struct sockaddr *sa,
		 socklen_t salen, int local_port);
/* conn.c: "192.0.2.1" (IPv4-mapped shown as IPv4) and the port of sa */
void rm_peer_of(const struct sockaddr *sa, char *ip, size_t sz, int *port_r);
/* proxy_accept.c: is `where` ("smtp.listen") behind a PROXY balancer;
 * take an accepted socket from peer_ip and start it once the header is
 * in; drop every socket still waiting for one (listeners closing) */
bool rm_proxy_listener(const char *where);
void rm_proxy_accept(struct rm_listener *l, int fd, const char *peer_ip,
		     int local_port);
void rm_proxy_close_all(void);
/* conn.c: close with a reason (the public close is NORMAL) */
void rm_conn_close_reason(struct rmail_conn *c, int reason);

/* listen.c: accessors for conn.c */
const struct rmail_proto_ops *rm_listener_ops(struct rm_listener *l);
const struct rmail_listen_opts *rm_listener_opts(struct rm_listener *l);
const char *rm_listener_labels(struct rm_listener *l);
/* accept_pause.c: accept() ran out of descriptors (err is EMFILE or
 * ENFILE): stop watching io for a moment.  fd_freed resumes every
 * paused listener at once; pause_forget drops them (listeners closing) */
void rm_accept_pause(ev_io *io, const char *bound, const char *where, int err);
void rm_accept_fd_freed(void);
void rm_accept_pause_forget(void);
/* per-IP accounting: returns false when the cap is hit */
bool rm_ip_acquire(const char *ip);
void rm_ip_release(const char *ip);
/* the host's connections from ip's prefix, every process together */
uint32_t rm_ip_count(const char *ip);

/* transport_tls.c: start a server-side TLS session on c (SSL_new) */
int rm_tls_attach(struct rmail_conn *c);
/* 1 done, RMAIL_AGAIN (c->hs_want set), RMAIL_ERROR */
int rm_tls_handshake(struct rmail_conn *c);
bool rm_tls_has_pending(struct rmail_conn *c);
void rm_tls_free(struct rmail_conn *c);

/* cidr.c: "10.0.0.0/8", "::1", "192.0.2.7" against an address; an
 * IPv4-mapped IPv6 address matches as IPv4.  -1 on a bad cidr. */
int rm_cidr_match(const char *ip, const char *cidr);
/* normalise "::ffff:1.2.3.4" to "1.2.3.4" in place */
void rm_ip_normalize(char *ip, size_t sz);

/* loop.c: run posted callbacks now (shutdown, after the loop stopped) */
void rm_loop_drain_posts(void);

#endif
