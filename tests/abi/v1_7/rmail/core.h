/*
 * The core services table.  A module reaches the core only through the
 * `struct rmail_core` it receives in its rmail_mctx; it never calls core
 * symbols directly.  Entries are appended at the end (ABI minor bump);
 * a module that runs on cores older than its headers tests an entry
 * with RMAIL_HAS(core, struct rmail_core, entry) before calling it.
 *
 * Threading: everything runs on the single event-loop thread unless
 * marked [any thread].  Blocking work goes to work_submit().
 *
 * Callbacks: every pointer a callback receives (results, lines, user
 * records, strings) lives only until that callback returns; copy what
 * you keep.  The core never calls a module back from inside that
 * module's own call into it unless the entry says so (submit_commit).
 */
#ifndef RMAIL_CORE_H
#define RMAIL_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <rmail/dns.h>
#include <rmail/err.h>
#include <rmail/filter.h>
#include <rmail/mime.h>
#include <rmail/module.h>
#include <rmail/store.h>

struct rmail_pool;
struct rmail_conn;
struct rmail_timer;
struct rmail_io;
struct rmail_work;
struct rmail_submit;

enum rmail_log_level {
	RMAIL_LOG_ERR = 3, /* syslog priorities */
	RMAIL_LOG_WARN = 4,
	RMAIL_LOG_INFO = 6,
	RMAIL_LOG_DEBUG = 7,
};

/* ---- connections ------------------------------------------------- */

enum rmail_tls_mode {
	RMAIL_TLS_NONE = 0,	/* cleartext, STARTTLS allowed */
	RMAIL_TLS_IMPLICIT = 1, /* handshake before on_accept */
	RMAIL_TLS_NEVER = 2,	/* cleartext, STARTTLS refused */
};

enum rmail_eol {
	RMAIL_EOL_CRLF = 0,
	RMAIL_EOL_LF = 1, /* bare LF: protocols may refuse it */
};

enum rmail_close_reason {
	RMAIL_CLOSE_NORMAL = 0, /* the module closed it */
	RMAIL_CLOSE_PEER,	/* EOF or reset from the peer */
	RMAIL_CLOSE_TIMEOUT,
	RMAIL_CLOSE_ERROR,    /* I/O or TLS error */
	RMAIL_CLOSE_SHUTDOWN, /* daemon stopping */
};

/* Filled by conn_read_line.  `data` points into the connection's input
 * buffer: it stays valid until the handler that read it returns (the
 * core compacts or frees the buffer only between handlers, and
 * conn_consume/conn_read_line never move it), so copy a line you keep
 * past that, e.g. into conn_pool(). */
struct rmail_line {
	const char *data; /* not NUL-terminated; no EOL */
	size_t len;
	int eol; /* enum rmail_eol */
};

/*
 * The handlers of one listener.  `session` is what on_accept stored; it
 * is passed back to every other handler.  After on_close the conn is
 * gone: drop every reference to it (see conn_ref for async work).
 * (Here on_X stands for the handler of either layout: on_X or ctx_X.)
 *
 * Two layouts, chosen by the entries the table sets (not by `size`
 * alone, so a 1.2 module may still fill the 1.0 entries):
 *  - the 1.0 layout, on_accept .. on_close: handlers get no module
 *    context;
 *  - the 1.2 layout, `ctx` and ctx_accept .. ctx_close: every handler
 *    gets `ctx` first, as set in the table passed to listen() (the core
 *    copies the table there, so a table built on the stack with the
 *    module's state in `ctx` is fine).  Use this one: it needs no
 *    global for the module's state.
 * A table whose size covers the 1.2 entries and sets any ctx_* handler
 * is called only the 1.2 way; otherwise only the 1.0 way.  A table that
 * sets handlers of both layouts is refused by listen() ("SECT.KEY:
 * rmail_proto_ops mixes the 1.0 handlers (on_*) and the 1.2 handlers
 * (ctx_*); set one layout").  A module setting ctx_* handlers is built
 * for ABI 1.2, so an older core refuses to load it rather than never
 * calling them.
 *
 * Required: on_accept and on_input, or ctx_accept and ctx_input;
 * listen() refuses a table without the pair of its layout.  Every other
 * handler may be NULL (the core then does nothing for that event), and
 * so may `ctx`.
 *
 * Output is corked while a handler runs: whatever it writes, in any
 * number of conn_write/conn_printf calls, is flushed once, in as few
 * sends as the socket takes, after the outermost handler returns (only
 * a reply past the cork limit, tens of KiB, is sent as it grows).
 * Writes from any other callback (a timer, work done, auth, submit)
 * are queued likewise and sent once that callback returns: batch
 * nothing yourself.
 *
 * on_close is never called from inside the module's own call into the
 * core: conn_close, a failed write or a refused on_accept only mark the
 * conn; on_close runs later from the loop, exactly once per on_accept
 * that succeeded (none when on_accept returned -1).
 */
struct rmail_proto_ops {
	uint32_t size; /* sizeof(struct rmail_proto_ops) */
	/* write the greeting; return -1 to refuse the connection */
	int (*on_accept)(struct rmail_conn *c, void **session_r);
	/* input is buffered: consume it with conn_read_line/conn_peek;
	 * return RMAIL_OK, or RMAIL_CLOSE to close after flushing.
	 * Called again for data already buffered when reading resumes. */
	int (*on_input)(struct rmail_conn *c, void *session);
	/* output fell below the low watermark (continue a long reply) */
	void (*on_drain)(struct rmail_conn *c, void *session);
	/* STARTTLS handshake done: reset the protocol state */
	void (*on_tls_ready)(struct rmail_conn *c, void *session);
	/* idle timeout: write a goodbye; the core closes after it */
	void (*on_timeout)(struct rmail_conn *c, void *session);
	void (*on_close)(struct rmail_conn *c, void *session, int reason);

	/* ---- 1.2: the ctx-first layout (see above); each handler does
	 * what its on_* twin does, with `ctx` as its first argument ---- */
	/* the module's state, passed as-is to every ctx_* handler */
	void *ctx;
	int (*ctx_accept)(void *ctx, struct rmail_conn *c, void **session_r);
	int (*ctx_input)(void *ctx, struct rmail_conn *c, void *session);
	void (*ctx_drain)(void *ctx, struct rmail_conn *c, void *session);
	void (*ctx_tls_ready)(void *ctx, struct rmail_conn *c, void *session);
	void (*ctx_timeout)(void *ctx, struct rmail_conn *c, void *session);
	void (*ctx_close)(void *ctx, struct rmail_conn *c, void *session,
			  int reason);
};

struct rmail_listen_opts {
	uint32_t size;		  /* sizeof(struct rmail_listen_opts) */
	const char *proto;	  /* "smtp", "imap": logs and metrics */
	int tls;		  /* enum rmail_tls_mode */
	size_t max_line;	  /* line limit incl. CRLF */
	double idle_timeout;	  /* seconds; 0 = 300 */
	double handshake_timeout; /* seconds; 0 = 30 */
	/* written, then closed, when the per-IP connection cap is hit */
	const char *overload_reply;
	void *arg; /* conn_listen_arg() */
};

/* ---- users and authentication ----------------------------------- */

struct rmail_auth_result {
	int ok;
	int code;		/* RMAIL_E_AUTH, _DISABLED, _BUSY ... */
	struct rmail_user user; /* valid when ok */
	uint32_t failures;	/* recent failures from this IP */
};

typedef void (*rmail_auth_fn)(void *arg, const struct rmail_auth_result *r);

/* ---- message submission ----------------------------------------- */

enum rmail_rcpt_policy {
	RMAIL_RCPT_LOCAL = 0,	  /* a local user or alias */
	RMAIL_RCPT_RELAY = 1,	  /* remote, and the sender may relay */
	RMAIL_RCPT_NOUSER = 2,	  /* local domain, no such user: 550 5.1.1 */
	RMAIL_RCPT_DENIED = 3,	  /* remote, no relay: 554 5.7.1 */
	RMAIL_RCPT_OVERQUOTA = 4, /* 452 4.2.2 */
	RMAIL_RCPT_BADADDR = 5,	  /* syntax: 501 5.1.3 */
	RMAIL_RCPT_TEMPFAIL = 6,  /* 451 4.3.0 */
};

struct rmail_submit_opts {
	uint32_t size;	       /* sizeof(struct rmail_submit_opts) */
	const char *proto;     /* "smtp", "esmtps", "esmtpsa", "http" */
	const char *mail_from; /* "" = null sender */
	const char *const *rcpts;
	size_t nrcpts;
	const char *auth_user; /* NULL when unauthenticated */
	const char *peer_ip;   /* NULL for local */
	const char *peer_name;
	const char *helo;
	const char *tls_info; /* "TLSv1.3 TLS_AES_256_GCM_SHA384" */
	int submission;	      /* add Message-ID/Date when missing */
	uint64_t size_hint;
	/* appended in 1.4: MAIL carried REQUIRETLS (RFC 8689): relayed
	 * only over authenticated TLS to a peer that supports it */
	int requiretls;
	/* 1.4: the session's filter chain (filter_sess_open), whose DATA
	 * step the commit runs; NULL runs no per-session filter, or, for
	 * proto "http", a synthesized session (filter.h).  The
	 * submission holds its own reference. */
	struct rmail_filter_sess *filters;
};

enum rmail_rcpt_status {
	RMAIL_RCPT_DELIVERED = 0,
	RMAIL_RCPT_QUEUED = 1,
	RMAIL_RCPT_FAILED = 2,	 /* permanent (bounce) */
	RMAIL_RCPT_DEFERRED = 3, /* temporary */
};

struct rmail_rcpt_result {
	const char *rcpt;
	int status; /* enum rmail_rcpt_status */
	char error[256];
};

/*
 * ok = 1 only when every recipient's copy is durable: fsync'd into its
 * mailbox or into the queue, or failed for good (then in rcpts[] and
 * bounced) while at least one other was accepted.  No DEFERRED status
 * is ever reported with ok = 1.  ok = 0: nothing may be acknowledged;
 * code/text is the one reply for the whole transaction -- 451 4.3.0 or
 * 452 4.3.1 (disk full) when a copy could be neither stored nor
 * queued (copies stored for other recipients are kept: a retry may
 * duplicate them), the failure itself (552 5.2.2, 550 ...) when every
 * recipient failed for good (no bounce is sent then), a filter's code.
 */
struct rmail_submit_result {
	int ok;		/* every copy durable: acknowledge */
	int code;	/* the reply code when !ok */
	char text[256]; /* "4.3.0 ..." when !ok */
	char queue_id[32];
	size_t nrcpts;
	const struct rmail_rcpt_result *rcpts;
};

typedef void (*rmail_submit_fn)(void *arg, const struct rmail_submit_result *r);

/* ---- misc -------------------------------------------------------- */

enum rmail_work_kind {
	RMAIL_WORK_WRITE = 0, /* durable writes: delivery.workers */
	RMAIL_WORK_READ = 1,  /* store reads, scans, searches */
	RMAIL_WORK_HASH = 2,  /* password hashing */
};

/* work runs on a worker thread; done runs on the loop afterwards, also
 * when cancelled (cancelled = 1 then). */
typedef void (*rmail_work_fn)(void *arg, const volatile int *cancel);
typedef void (*rmail_done_fn)(void *arg, int cancelled);
typedef void (*rmail_timer_fn)(void *arg);
typedef void (*rmail_io_fn)(void *arg, int fd, int revents);
typedef void (*rmail_post_fn)(void *arg);
typedef void (*rmail_cleanup_fn)(void *arg);
/* a control-socket command: write the answer into out; 0 = success */
typedef int (*rmail_control_fn)(void *arg, int argc, const char *const *argv,
				char *out, size_t outsz);

enum rmail_io_events {
	RMAIL_IO_READ = 1,
	RMAIL_IO_WRITE = 2,
};

/* Sized, caller-allocated for jwt_verify (set `size` first). */
struct rmail_jwt_claims {
	uint32_t size; /* sizeof(struct rmail_jwt_claims) */
	char sub[RMAIL_ADDR_MAX + 1];
	uint64_t gen;	  /* the user's token generation */
	int64_t iat, exp; /* unix seconds */
};

/* ---- the header cache and full-text index (1.5) ------------------ */

/*
 * One message's cached header fields (core/index, docs/storage.md).
 * Values are the first occurrence of the field, unfolded, NULL when the
 * message has none.  `subject` is RFC 2047-decoded to UTF-8 (as
 * mime_header(.., decode 1) gives it); the other fields are as they
 * stand in the message (decode 0): parse From/To/Cc with
 * mime_addresses, Date with any RFC 5322 date reader.  Sized: test
 * fields with RMAIL_HAS().  Lives only during the callback.
 */
struct rmail_index_hdr {
	uint32_t size; /* sizeof(struct rmail_index_hdr) */
	uint32_t uid;
	const char *subject;
	const char *from, *to, *cc;
	const char *date;
	const char *message_id, *references, *in_reply_to;
};

typedef void (*rmail_index_hdr_fn)(void *arg, const struct rmail_index_hdr *h);
/* 1.6: one key of a rate bucket and its count (rate_keys) */
typedef void (*rmail_rate_key_fn)(void *arg, const char *key, uint32_t count);

/* What index_search looks in. */
enum rmail_index_field {
	RMAIL_INDEX_SUBJECT = 1, /* decoded Subject (SEARCH SUBJECT, HEADER) */
	RMAIL_INDEX_FROM,	 /* addresses as "name <mbox@host>" */
	RMAIL_INDEX_TO,
	RMAIL_INDEX_CC,
	RMAIL_INDEX_BODY, /* text parts, decoded (SEARCH BODY) */
	RMAIL_INDEX_TEXT, /* BODY plus every header (SEARCH TEXT) */
};

/* index_search: the index's answer for one needle */
struct rmail_index_result {
	uint32_t size; /* sizeof(struct rmail_index_result), set by caller */
	/* UIDs (ascending, malloc'd: free() them) that may match, among
	 * the UIDs up to `upto`; every UID up to `upto` not listed does
	 * not match.  UIDs above `upto` are not indexed yet: check them
	 * on the message. */
	uint32_t *uids;
	size_t n;
	uint32_t upto;
	/* 1: the listed UIDs match exactly (a cached header field); 0:
	 * confirm each on the message */
	int exact;
};

/* search_text (1.6): which searchable text of a message */
enum rmail_search_text {
	RMAIL_SEARCH_BODY = 1,	/* what SEARCH BODY reads (see search_text) */
	RMAIL_SEARCH_HEAD,	/* what TEXT adds: the top-level header */
	RMAIL_SEARCH_ADDRESSES, /* every address of a field (FROM, TO ...) */
};

/* ---- the table --------------------------------------------------- */

struct rmail_core {
	uint32_t abi_major;
	uint32_t abi_minor;
	uint32_t size; /* sizeof(struct rmail_core) */

	/* logging: a line per call, prefixed with the module name */
	void (*log)(const struct rmail_mctx *m, int level, const char *fmt, ...)
		RMAIL_PRINTF(3, 4);
	void (*vlog)(const struct rmail_mctx *m, int level, const char *fmt,
		     va_list ap) RMAIL_PRINTF(3, 0);

	/* config values of the core itself: "hostname", "mail_root",
	 * "version", "workers.hash" (since 1.2; NULL before), "processes"
	 * (worker processes on the host, since 1.5; NULL before) */
	const char *(*conf_str)(const char *key);

	/* pools: bump allocation, freed all at once; OOM aborts */
	struct rmail_pool *(*pool_create)(struct rmail_pool *parent);
	void (*pool_destroy)(struct rmail_pool **p);
	void (*pool_reset)(struct rmail_pool *p);
	void *(*palloc)(struct rmail_pool *p, size_t n);
	void *(*pcalloc)(struct rmail_pool *p, size_t n);
	char *(*pstrdup)(struct rmail_pool *p, const char *s);
	char *(*pstrndup)(struct rmail_pool *p, const char *s, size_t n);
	char *(*psprintf)(struct rmail_pool *p, const char *fmt,
			  ...)RMAIL_PRINTF(2, 3);
	void (*pool_cleanup_add)(struct rmail_pool *p, rmail_cleanup_fn fn,
				 void *arg);

	/* listeners: `key` names a RMAIL_CONF_LISTEN key of the module's
	 * section ("listen"); pass that key's value as `addrs`.  Before
	 * dropping privileges (run_as) the core binds, as root, the value
	 * of every RMAIL_CONF_LISTEN key of every listed module, whatever
	 * the key and section are called (an unprivileged child reads the
	 * descriptors: no module code runs as root); listen() then reuses
	 * the socket bound for the same section, key and address.  A port
	 * below 1024 under run_as therefore works only through such a key.
	 * An empty list binds nothing.  Refused: ops without on_accept or
	 * on_input, a key not declared RMAIL_CONF_LISTEN, a table
	 * or opts below their 1.0 size. */
	int (*listen)(struct rmail_mctx *m, const char *key,
		      const struct rmail_strlist *addrs,
		      const struct rmail_proto_ops *ops,
		      const struct rmail_listen_opts *o, struct rmail_err *err);

	/* connections */
	/* RMAIL_OK: *l is the next line, consumed (see struct rmail_line
	 * for how long l->data lives).  RMAIL_AGAIN: no complete line yet
	 * (or the conn is closing); on_input is called again when more
	 * arrives.  RMAIL_TOOLONG: a line over max_line was discarded up
	 * to and including its LF (*l unset): reply with an error and go
	 * on.  Mixing with conn_peek/conn_consume is fine. */
	int (*conn_read_line)(struct rmail_conn *c, struct rmail_line *l);
	/* all buffered input, without consuming it */
	size_t (*conn_peek)(struct rmail_conn *c, const char **data_r);
	void (*conn_consume)(struct rmail_conn *c, size_t n);
	void (*conn_write)(struct rmail_conn *c, const void *data, size_t n);
	void (*conn_printf)(struct rmail_conn *c, const char *fmt, ...)
		RMAIL_PRINTF(2, 3);
	/* bytes queued for output, for producers that pace themselves */
	size_t (*conn_outq)(struct rmail_conn *c);
	/* refuses (-1, no side effects) when input is buffered behind the
	 * command (injection); else write the go-ahead reply next: it is
	 * flushed in cleartext, then the handshake runs, on_tls_ready. */
	int (*conn_starttls)(struct rmail_conn *c, struct rmail_err *err);
	void (*conn_pause_read)(struct rmail_conn *c);
	void (*conn_resume_read)(struct rmail_conn *c);
	void (*conn_set_timeout)(struct rmail_conn *c, double idle_seconds);
	/* flush queued output, then close; on_close follows later from the
	 * loop, never inside this call */
	void (*conn_close)(struct rmail_conn *c);
	/* keep the struct alive across async work; conn_closed tells.  The
	 * conn's pool (conn_pool) lives as long as the struct: memory
	 * from it stays valid until the last conn_unref, after on_close. */
	void (*conn_ref)(struct rmail_conn *c);
	void (*conn_unref)(struct rmail_conn *c);
	int (*conn_closed)(struct rmail_conn *c);
	int (*conn_is_tls)(struct rmail_conn *c);
	/* "TLSv1.3 TLS_AES_256_GCM_SHA384", or NULL in cleartext */
	const char *(*conn_tls_info)(struct rmail_conn *c);
	const char *(*conn_peer_ip)(struct rmail_conn *c);
	int (*conn_peer_port)(struct rmail_conn *c);
	int (*conn_local_port)(struct rmail_conn *c);
	int (*conn_is_loopback)(struct rmail_conn *c);
	/* session id, on every log line of the connection */
	const char *(*conn_id)(struct rmail_conn *c);
	struct rmail_pool *(*conn_pool)(struct rmail_conn *c);
	void *(*conn_listen_arg)(struct rmail_conn *c);
	void (*conn_log)(struct rmail_conn *c, int level, const char *fmt, ...)
		RMAIL_PRINTF(3, 4);

	/* timers and fd watches (loop thread).  Every timer, a one-shot
	 * one that already fired included, is freed only by timer_del
	 * (which may be called from the timer's own callback). */
	struct rmail_timer *(*timer_add)(double after, double repeat,
					 rmail_timer_fn cb, void *arg);
	void (*timer_del)(struct rmail_timer **t);
	struct rmail_io *(*io_add)(int fd, int events, rmail_io_fn cb,
				   void *arg);
	void (*io_del)(struct rmail_io **io);
	/* [any thread] run cb on the loop thread soon */
	void (*loop_post)(rmail_post_fn cb, void *arg);
	double (*now)(void); /* loop time, seconds */

	/* worker pools */
	struct rmail_work *(*work_submit)(int kind, rmail_work_fn work,
					  rmail_done_fn done, void *arg);
	void (*work_cancel)(struct rmail_work *w);

	/* the store (NULL when no storage module is loaded).  *h_r is the
	 * storage module's m->data as its init() left it: the handle every
	 * `void *h` op takes.  A storage module sets m->data in init(). */
	const struct rmail_store_ops *(*store)(void **h_r);

	/* authentication: verifies on the hash pool, applies the per-IP
	 * failure delay, logs the auth_failed or login line (with the TLS
	 * version and id of the conn whose callback calls it, and that
	 * conn's user for its session_end line); cb on the loop */
	void (*auth_login)(const char *user, const char *password,
			   const char *proto, const char *rip, rmail_auth_fn cb,
			   void *arg);
	/* failed logins from rip within the penalty window */
	uint32_t (*auth_failures)(const char *rip);
	/* the documented event=auth_failed line, for protocol-level
	 * failures (bad SASL syntax) that never reach auth_login */
	void (*auth_log_failure)(const char *proto, const char *user,
				 const char *rip, const char *reason);
	/* HS256 tokens; libjwt stays inside the core */
	int (*jwt_sign)(const void *key, size_t keylen,
			const struct rmail_jwt_claims *c, char *out,
			size_t outsz, struct rmail_err *err);
	/* checks alg == HS256, signature and exp */
	int (*jwt_verify)(const void *key, size_t keylen, const char *token,
			  struct rmail_jwt_claims *c_r, struct rmail_err *err);

	/* message submission (local delivery, queue, SMTP client) */
	int (*rcpt_policy)(const char *rcpt, const char *auth_user,
			   uint64_t size_hint);
	struct rmail_submit *(*submit_begin)(const struct rmail_submit_opts *o,
					     struct rmail_err *err);
	int (*submit_write)(struct rmail_submit *s, const void *data, size_t n,
			    struct rmail_err *err);
	/* fsync, filters, local delivery, queueing; cb on the loop.  Takes
	 * ownership of s, whatever the outcome: never submit_abort or
	 * reuse it after this call.  cb is called exactly once and may be
	 * called before submit_commit returns (s NULL, a shut-down worker
	 * pool): do not touch state the callback may free after the call.
	 * The result and its rcpts[] live only during cb. */
	void (*submit_commit)(struct rmail_submit *s, rmail_submit_fn cb,
			      void *arg);
	void (*submit_abort)(struct rmail_submit **s);

	/* rate limiting: a sliding window per (bucket, key).  rate_hit
	 * counts one hit and returns 1 when within `limit` per `window`
	 * seconds, 0 when over it (then *retry_after_r is set). */
	int (*rate_hit)(const char *bucket, const char *key, uint32_t limit,
			double window, double *retry_after_r);
	uint32_t (*rate_count)(const char *bucket, const char *key,
			       double window);
	void (*rate_reset)(const char *bucket, const char *key);
	/* in limits.exempt (loopback by default) */
	int (*ip_is_exempt)(const char *ip);

	/* metrics; labels are preformatted: proto="smtp",result="ok" */
	void (*metric_add)(const char *name, const char *labels, double v);
	void (*metric_set)(const char *name, const char *labels, double v);
	void (*metric_observe)(const char *name, const char *labels, double v);

	/* MIME (all [any thread]); strings live in the parse's pool */
	int (*mime_parse)(const char *data, size_t len,
			  const struct rmail_mime_limits *lim,
			  struct rmail_mime **m_r, struct rmail_err *err);
	void (*mime_free)(struct rmail_mime **m);
	size_t (*mime_part_count)(const struct rmail_mime *m);
	const struct rmail_mime_part *(*mime_part)(const struct rmail_mime *m,
						   size_t idx);
	/* nth (0-based) field `name` of part idx, unfolded; decode = RFC
	 * 2047 to UTF-8.  NULL when absent. */
	const char *(*mime_header)(struct rmail_mime *m, size_t idx,
				   const char *name, size_t nth, int decode);
	/* part body after transfer decoding (and charset to UTF-8 when
	 * to_utf8); the result lives in the parse's pool */
	int (*mime_body)(struct rmail_mime *m, size_t idx, int to_utf8,
			 const char **out_r, size_t *len_r,
			 struct rmail_err *err);
	/* parse an address-list header value */
	int (*mime_addresses)(struct rmail_mime *m, const char *value,
			      const struct rmail_mime_addr **addrs_r,
			      size_t *n_r);

	/* filters, called by the submission service; exposed for tools */
	int (*filter_run)(const struct rmail_filter_msg *msg,
			  struct rmail_filter_result *res,
			  struct rmail_err *err);

	/* control socket commands ("ratelimit reset", "queue kick") */
	int (*control_register)(struct rmail_mctx *m, const char *name,
				rmail_control_fn fn, void *arg);

	/* helpers every protocol needs (one implementation) */
	/* [any thread] */
	int (*base64_decode)(const char *in, size_t inlen, void *out,
			     size_t outsz, size_t *outlen_r);
	size_t (*base64_encode)(const void *in, size_t inlen, char *out,
				size_t outsz);
	void (*random_bytes)(void *buf, size_t n);
	void (*secure_zero)(void *buf, size_t n);

	/* ---- 1.2 -------------------------------------------------------- */

	/* Asynchronous work on behalf of a conn (a login, a commit, a store
	 * job): stop handing it input and keep the struct, its pool and
	 * the session alive until the matching conn_resume.  Input that
	 * arrives meanwhile stays buffered, so replies keep the order of
	 * pipelined commands.  conn_pause_read plus conn_ref in one call;
	 * one conn_resume per conn_suspend. */
	void (*conn_suspend)(struct rmail_conn *c);
	/* End conn_suspend.  Returns 1 when the conn is still open: reading
	 * resumes, and input already buffered is handed to on_input from
	 * the loop later, never inside this call.  Returns 0 when it was
	 * closed meanwhile (conn_closed): on_close may have run already,
	 * and since this drops the reference, c and conn_pool() memory may
	 * be gone after the call, so release what lives there first. */
	int (*conn_resume)(struct rmail_conn *c);

	/* ---- 1.3 -------------------------------------------------------- */

	/* [loop thread] Ask the core's resolver for (name, type), a
	 * record type number (enum rmail_dns_type or any other).  cb is
	 * called exactly once on the loop thread, later, never inside this
	 * call, unless dns_cancel comes first.  Never NULL. */
	struct rmail_dns_query *(*dns_query)(const char *name, int type,
					     rmail_dns_fn cb, void *arg);
	/* [loop thread] cb will not be called; q NULL is a no-op.  Not
	 * after (or inside) q's callback. */
	void (*dns_cancel)(struct rmail_dns_query *q);

	/* ---- 1.4 -------------------------------------------------------- */

	/* [loop thread] Report an event (struct rmail_event in
	 * <rmail/filter.h>; the producer's fields, kind .. nuids) to the
	 * filter modules that take events.  Copies what it needs and
	 * returns at once: the event is delivered later on a worker
	 * thread, never inside this call, or dropped when nobody takes
	 * events or (RMAIL_EVENT_MSG_MOVED) the two mailboxes have the same
	 * special use.  -1 with err only for a malformed event. */
	int (*event_emit)(struct rmail_mctx *m, const struct rmail_event *ev,
			  struct rmail_err *err);
	/* [loop thread] Per-session filters (filter.h) for one session of
	 * a protocol module: st is its CONNECT step (run it next with
	 * filter_sess_step).  NULL when no loaded filter follows this
	 * session: skip every step then. */
	struct rmail_filter_sess *(*filter_sess_open)(
		const struct rmail_filter_step *st);
	/* [loop thread] st through every filter of the session in load
	 * order; the first REJECT stops it (its reply wins), DISCARD is
	 * kept while later filters run.  cb(arg, reply) runs once on the
	 * loop, maybe inside this call; the reply lives during cb.  The
	 * caller keeps st's strings alive until then and runs one step
	 * at a time.  ABORT: cb NULL, nothing waits.  DATA is the
	 * commit's (rmail_submit_opts.filters): the caller never runs
	 * it.  Fields the caller leaves NULL are taken from earlier
	 * steps. */
	void (*filter_sess_step)(struct rmail_filter_sess *fs,
				 const struct rmail_filter_step *st,
				 rmail_filter_sess_fn cb, void *arg);
	/* [loop thread] the session ended: filters are closed once no
	 * step and no commit uses them; *fs becomes NULL */
	void (*filter_sess_close)(struct rmail_filter_sess **fs);
	/* ---- 1.5 ---------------------------------------------------- */
	/* [any thread] i;unicode-casemap (RFC 5051): the canonical form of
	 * the UTF-8 s[0..n) into out[0..cap), bytes needed returned like
	 * snprintf (nothing terminated): call again with a larger buffer
	 * when it is above cap.  Invalid UTF-8 bytes become U+FFFD.  The
	 * one fold of SEARCH, SORT, Sieve and the full-text index. */
	size_t (*casemap)(const char *s, size_t n, char *out, size_t cap);
	/* index: the header cache and full-text index */
	/* The per-host header cache and full-text index (core/index,
	 * docs/storage.md): a derived cache outside the mail root, never
	 * the truth; every entry may find it absent, behind or rebuilt,
	 * and callers fall back to reading the messages.  Mailboxes are
	 * named by (user, mailbox, uidvalidity) as the store names them.
	 *
	 * index_headers [any thread, blocking: a worker]: the cached
	 * header fields of `uids` (n entries, ascending), cb once per UID
	 * the cache holds, in UID order; UIDs it does not report are not
	 * cached (parse the message).  One pass over the mailbox's rows,
	 * fit for 100K UIDs.  Returns how many it reported; -1 with err
	 * when there is no usable cache (disabled, unreadable: none
	 * reported).  */
	int (*index_headers)(const char *user, const char *mailbox,
			     uint32_t uidvalidity, const uint32_t *uids,
			     size_t n, rmail_index_hdr_fn cb, void *arg,
			     struct rmail_err *err);
	/* [any thread, blocking: a worker] Candidates for a substring
	 * search of `needle` (n bytes, already i;unicode-casemap folded as
	 * SEARCH compares) in `field` (enum rmail_index_field); see struct
	 * rmail_index_result.  -1 with err: no usable index, search by
	 * reading every message. */
	int (*index_search)(const char *user, const char *mailbox,
			    uint32_t uidvalidity, int field, const char *needle,
			    size_t n, struct rmail_index_result *r,
			    struct rmail_err *err);
	/* [loop thread] Bring the mailbox's cache up to date off the loop
	 * (after appends, expunges, a SEARCH that met a backlog); returns
	 * at once, coalesced, a no-op when the index is disabled. */
	void (*index_update)(const char *user, const char *mailbox);

	/* ---- 1.6 ---------------------------------------------------- */
	/* [any thread] The keys of a rate bucket, for commands that list
	 * or reset them (the per-host table keeps keyed hashes, not the
	 * text).  rate_note remembers key's text for the whole host (a
	 * bounded list: when full, the note whose count is gone, else the
	 * oldest, makes room; keys of 320 bytes or more are not noted).
	 * rate_keys calls cb, after unlocking (cb may rate_reset), for
	 * each noted key of bucket beginning with prefix ("" for all)
	 * whose count within window is above 0, and returns how many;
	 * rate_reset forgets a key's note with its count. */
	void (*rate_note)(const char *bucket, const char *key);
	size_t (*rate_keys)(const char *bucket, const char *prefix,
			    double window, rmail_rate_key_fn cb, void *arg);

	/* [any thread, CPU: a worker] Whether the message data[0..len)
	 * holds the needle (n bytes, folded as for index_search) in
	 * `field` (enum rmail_index_field), compared as IMAP SEARCH
	 * compares and as the index builds its forms: the check that
	 * confirms an index_search candidate, and the scan when there is
	 * no index.  An empty needle matches when the field is present.
	 * 1 match, 0 not, -1 with err (unparsable message, bad field):
	 * no match.  Works with the index disabled. */
	int (*index_match)(const char *data, size_t len, int field,
			   const char *needle, size_t n, struct rmail_err *err);

	/* [any thread] The searchable text of a message that mime_parse
	 * parsed from data[0..len), i;unicode-casemap folded, exactly as
	 * SEARCH compares it and the full-text index keeps it (one
	 * extraction for both): `what` RMAIL_SEARCH_BODY, every text part
	 * transfer- and charset-decoded, the delivery and disposition
	 * reports, and the header (raw and decoded) of every attached
	 * message; RMAIL_SEARCH_HEAD, the top-level header raw plus its
	 * decoded Subject, From, To, Cc, Bcc and Reply-To;
	 * RMAIL_SEARCH_ADDRESSES, each address of every `field` header as
	 * "name <mailbox@host>" (a group by its name, as ENVELOPE shows
	 * them).  Each piece ends with a NUL, so no needle without one
	 * matches across two.  Appended to the malloc'd buffer *buf
	 * (*len_r bytes used of *cap_r; grown with realloc, the caller
	 * free()s it).  Returns the number of pieces appended. */
	size_t (*search_text)(struct rmail_mime *mime, const char *data,
			      size_t len, int what, const char *field,
			      char **buf, size_t *len_r, size_t *cap_r);
};

#endif
