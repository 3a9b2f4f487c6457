/*
 * Core internals shared between the core sources.  Never installed; modules see
 * only include/rmail/.  Each section names the file that owns it.
 */
#ifndef RM_H
#define RM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include <rmail/rmail.h>

#pragma GCC poison strcpy strcat sprintf gets

#define RM_ASSERT(x)                                                           \
	do {                                                                   \
		if (!(x))                                                      \
			rm_panic("%s:%d: assertion failed: %s", __FILE__,      \
				 __LINE__, #x);                                \
	} while (0)

#define rm_container_of(ptr, type, member)                                     \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ---- log.c -------------------------------------------------------- */
/* stderr with <N> syslog prefixes (journald reads them) in the
 * foreground; syslog(3) when rm_log_use_syslog(true). */
void rm_log(int level, const char *fmt, ...) RMAIL_PRINTF(2, 3);
void rm_vlog(int level, const char *prefix, const char *fmt, va_list ap)
	RMAIL_PRINTF(3, 0);
void rm_log_set_level(int level);
int rm_log_level(void);
void rm_log_use_syslog(bool on);
void rm_panic(const char *fmt, ...) RMAIL_PRINTF(1, 2)
	__attribute__((noreturn));

/* ---- pool.c ------------------------------------------------------- */
struct rmail_pool *rm_pool_create(struct rmail_pool *parent);
void rm_pool_destroy(struct rmail_pool **p);
void rm_pool_reset(struct rmail_pool *p);
void *rm_palloc(struct rmail_pool *p, size_t n);
void *rm_pcalloc(struct rmail_pool *p, size_t n);
char *rm_pstrdup(struct rmail_pool *p, const char *s);
char *rm_pstrndup(struct rmail_pool *p, const char *s, size_t n);
char *rm_psprintf(struct rmail_pool *p, const char *fmt, ...)
	RMAIL_PRINTF(2, 3);
char *rm_pvsprintf(struct rmail_pool *p, const char *fmt, va_list ap)
	RMAIL_PRINTF(2, 0);
void rm_pool_cleanup_add(struct rmail_pool *p, rmail_cleanup_fn fn, void *arg);
/* malloc that aborts on OOM, for growable core buffers */
void *rm_xmalloc(size_t n);
void *rm_xcalloc(size_t n, size_t m);
void *rm_xrealloc(void *p, size_t n);
char *rm_xstrdup(const char *s);

/* ---- config.c ----------------------------------------------------- */
struct rm_route {
	const char *domain;
	const char *hostport;
};

struct rm_config {
	struct rmail_pool *pool; /* this generation */
	void *json;		 /* json_t * root, owned */
	const char *path;	 /* absolute path of the file */
	const char *dir;	 /* its directory */

	const char *hostname;
	const char *mail_root;
	const char *module_dir; /* resolved; never NULL after load */
	struct rmail_strlist modules;
	const char *run_as;
	const char *pid_file;
	const char *control_socket;
	int log_level;

	const char *tls_cert_file; /* NULL = generated in mail_root/tls */
	const char *tls_key_file;
	const char *tls_cert2_file; /* a second pair of the other key type */
	const char *tls_key2_file;
	const char *tls_ticket_secret_file; /* NULL: mail_root/tls/ticket.key */

	struct {
		uint32_t workers;
		const char *relay_host;
		struct rmail_strmap routes;
		struct rmail_strlist dns_servers;
		double retry_initial; /* 300 s */
		double retry_max;     /* 4 h */
		double expire;	      /* 5 days */
	} delivery;

	struct {
		uint32_t max_connections_per_ip;
		uint32_t max_connections;
		struct rmail_strlist exempt;
		uint32_t auth_fail_limit; /* password checks failed per IP */
		double auth_fail_window;
		uint32_t auth_fail_account_limit; /* per account, unknown IPs */
		uint32_t auth_ipv6_prefix;	  /* IPv6 counted per /N */
		double auth_known_ip_ttl; /* a login makes its IP known */
		double auth_cache_ttl;	  /* 0: no auth cache */
	} limits;

	struct {
		bool rehash; /* upgrade migrated hashes on login */
	} auth;

	struct {
		uint32_t read;
		uint32_t hash;
		uint32_t tls; /* 0: cores - 1, at least 1 */
	} workers;

	struct rmail_strlist admin_listen;
	double shutdown_timeout;

	/* listeners behind a load balancer (core/net/proxy_accept.c) */
	struct {
		struct rmail_strlist listeners; /* "smtp.listen" ... */
		struct rmail_strlist trusted;	/* networks */
		double timeout;
	} proxy;

	/* appended: the smarthost's TLS mode and credentials */
	struct {
		int tls;		   /* enum rm_relay_tls */
		const char *user;	   /* NULL: no AUTH */
		const char *password_file; /* absolute */
	} relay;

	/* appended: SPF (mailauth/spf.h) */
	struct {
		bool reject_fail;	 /* fail without a DMARC policy */
		uint32_t void_limit;	 /* spf_input.void_limit */
		const char *explanation; /* spf_input.default_exp; NULL */
	} spf;
	/* appended: mail authentication (docs/mailauth.md) */
	const char *authserv_id; /* never NULL: the hostname by default */
	bool mailauth_inbound;	 /* the port-25 stage runs */
	struct {
		bool enabled;
		bool reject_local_from; /* unauthenticated local From: */
		struct rmail_strlist exceptions;
		bool reports;
		const char *org_name;	 /* never NULL */
		const char *contact;	 /* NULL: none */
		const char *report_from; /* never NULL */
	} dmarc;
	/* appended: outbound deliveries in parallel (the deliver pool's
	 * threads) and SMTP sessions at once per destination domain */
	struct {
		uint32_t concurrency;
		uint32_t per_domain;
	} outbound;

	/* appended: the resolver (core/dns) */
	struct {
		struct rmail_strlist forwarders; /* IP or IP@PORT */
		bool recursion;
		const char *trust_anchor; /* absolute; NULL: no DNSSEC */
		uint32_t timeout_ms;
	} dns;
	/* appended: DKIM signing (core/mailauth/dkim_keys.h) */
	struct {
		bool enabled;
		unsigned algs;		      /* 1 << DKIM_A_* */
		struct rmail_strlist headers; /* empty: the default set */
	} dkim;
	/* appended: outbound TLS policy (core/submit/tls_policy.h) */
	struct {
		int relay_verify;	   /* enum rm_tls_verify */
		const char *relay_ca_file; /* absolute; NULL: system store */
	} outtls;
	/* appended: MTA-STS and TLS-RPT (core/submit/mta_sts.h, tlsrpt.h) */
	struct {
		bool enabled;
		const char *ca_file; /* absolute; NULL: the system store */
		struct rmail_strlist connect_to; /* CURLOPT_CONNECT_TO */
	} mta_sts;
	struct {
		bool reports;
		const char *org_name;	 /* never NULL */
		const char *contact;	 /* never NULL */
		const char *report_from; /* never NULL */
	} tlsrpt;
	/* appended: spam into Junk (core/submit/spam.c) */
	struct {
		const char *header; /* NULL: off */
		const char *value;
	} spam;
	/* appended: worker processes (core/supervisor.c); never 0 */
	uint32_t processes;
	/* appended: the header cache and full-text index (core/index) */
	struct {
		bool enabled;
		const char *dir; /* absolute, never NULL */
	} index;
};

/* delivery.relay_tls */
enum rm_relay_tls {
	RM_RELAY_STARTTLS = 0, /* when offered; cleartext fallback */
	RM_RELAY_IMPLICIT = 1, /* TLS from the first byte */
	RM_RELAY_NONE = 2,
};
/* "starttls"|"implicit"|"none" to enum rm_relay_tls, -1 otherwise */
int rm_relay_tls_mode(const char *s);

/* Load and validate; on error every problem is printed (JSON path,
 * line:column for syntax) through the report callback and -1 returned. */
typedef void (*rm_conf_report_fn)(void *arg, const char *problem);
int rm_config_load(const char *path, struct rm_config **conf_r,
		   rm_conf_report_fn report, void *arg);
void rm_config_free(struct rm_config **conf);
/* an rm_conf_report_fn: each problem as one error line of the log */
void rm_config_report_log(void *arg, const char *problem);
/* the section of a module, as a json_t * (NULL when absent) */
void *rm_config_section(const struct rm_config *conf, const char *section);
/* fill a module conf struct from its keys; report problems */
int rm_config_fill(struct rmail_pool *pool, void *section_json,
		   const char *path_prefix, const struct rmail_conf_key *keys,
		   void *out, rm_conf_report_fn report, void *arg);
/* the config in force */
const struct rm_config *rm_conf(void);
void rm_conf_set(struct rm_config *conf);
/* where the config file is: -c, $RMAIL_CONFIG, ./config.json, /etc */
const char *rm_config_locate(const char *cli_path, bool *exists_r);
/* write the documented default config to path */
int rm_config_write_default(const char *path, struct rmail_err *err);
/* keys a reload cannot change, comma-separated, or NULL */
const char *rm_config_restart_keys(const struct rm_config *old,
				   const struct rm_config *new_);

/* ---- loop.c (libev) ----------------------------------------------- */
int rm_loop_init(void);
void *rm_loop(void); /* struct ev_loop * */
/* called on the thread that initialised the loop */
bool rm_loop_is_current(void);
void rm_loop_run(void);
void rm_loop_break(void);
double rm_now(void);
struct rmail_timer *rm_timer_add(double after, double repeat, rmail_timer_fn cb,
				 void *arg);
void rm_timer_del(struct rmail_timer **t);
struct rmail_io *rm_io_add(int fd, int events, rmail_io_fn cb, void *arg);
void rm_io_del(struct rmail_io **io);
void rm_loop_post(rmail_post_fn cb, void *arg);

/* ---- workers.c ---------------------------------------------------- */
/* the core's outbound delivery pool (delivery.concurrency threads),
 * next to the public RMAIL_WORK_* kinds */
#define RM_WORK_DELIVER 4
int rm_workers_init(uint32_t nwrite, uint32_t nread, uint32_t nhash);
/* the core's own pool after the modules' RMAIL_WORK_* kinds: TLS
 * handshakes (workers.tls threads, niced) */
#define RM_WORK_TLS 3
/* threads of a pool (its kind), for tests that must fill one */
uint32_t rm_work_threads(int kind);
/* finish queued work (bounded by timeout), join threads */
void rm_workers_shutdown(double timeout);
struct rmail_work *rm_work_submit(int kind, rmail_work_fn work,
				  rmail_done_fn done, void *arg);
void rm_work_cancel(struct rmail_work *w);
size_t rm_work_pending(void);

/* ---- tls.c -------------------------------------------------------- */
/* The server's certificates: the primary pair, and an optional second
 * pair of the other key type (RSA + ECDSA; OpenSSL picks per client). */
struct rm_tls_files {
	const char *cert, *key;
	const char *cert2, *key2; /* NULL: none */
	/* the session ticket secret (NULL: OpenSSL's own keys, lost at
	 * each reload and never shared) */
	const char *ticket_secret;
};
/* ensure_tls: when tls.cert_file is null, generate what is missing in
 * mail_root/tls (a 4096-bit RSA pair, an ECDSA P-256 pair); owner
 * uid/gid for the files (-1 = unchanged) */
int rm_tls_ensure(const struct rm_config *conf, int uid, int gid,
		  struct rm_tls_files *out, struct rmail_err *err);
/* (re)load the server context used by new connections */
int rm_tls_load_files(const struct rm_tls_files *f, struct rmail_err *err);
/* the same with one pair */
int rm_tls_load(const char *cert, const char *key, struct rmail_err *err);
void *rm_tls_server_ctx(void); /* SSL_CTX *, NULL when none */
void *rm_tls_client_ctx(void); /* for outbound SMTP */
/* seconds since epoch of the current certificate's notAfter, or 0 */
int64_t rm_tls_cert_expiry(void);

/* ---- fdlimit.c ---------------------------------------------------- */
/* descriptors kept for the daemon beyond one per connection */
#define RM_FD_RESERVE 128
/* raise the soft RLIMIT_NOFILE to the hard one; the soft limit now */
uint64_t rm_fdlimit_raise(void);
/* the hard RLIMIT_NOFILE (what the daemon will raise to) */
uint64_t rm_fdlimit_hard(void);
/* log a warning when max_connections plus RM_FD_RESERVE exceeds limit */
bool rm_fdlimit_warn(uint64_t limit, uint32_t max_connections);

/* ---- listen.c / conn.c -------------------------------------------- */
/* bind now (as root, before run_as): section.key -> sockets */
int rm_listen_prebind(const char *section, const char *key,
		      const struct rmail_strlist *addrs, struct rmail_err *err);
int rm_listen(struct rmail_mctx *m, const char *key,
	      const struct rmail_strlist *addrs,
	      const struct rmail_proto_ops *ops,
	      const struct rmail_listen_opts *o, struct rmail_err *err);
/* "imaps: 127.0.0.1:1993" for each listener, for `make run` */
void rm_listen_foreach(void (*cb)(void *arg, const char *proto,
				  const char *addr, int tls),
		       void *arg);
void rm_listen_stop_accepting(void);
size_t rm_conn_count(void);
void rm_conn_close_all(int reason);
/* the per-IP cap and exempt list of `limits` (from rm_conf()) */
bool rm_ip_is_exempt(const char *ip);

/* the conn functions of the services table */
int rm_conn_read_line(struct rmail_conn *c, struct rmail_line *l);
size_t rm_conn_peek(struct rmail_conn *c, const char **data_r);
void rm_conn_consume(struct rmail_conn *c, size_t n);
void rm_conn_write(struct rmail_conn *c, const void *data, size_t n);
void rm_conn_printf(struct rmail_conn *c, const char *fmt, ...)
	RMAIL_PRINTF(2, 3);
size_t rm_conn_outq(struct rmail_conn *c);
int rm_conn_starttls(struct rmail_conn *c, struct rmail_err *err);
void rm_conn_pause_read(struct rmail_conn *c);
void rm_conn_resume_read(struct rmail_conn *c);
void rm_conn_suspend(struct rmail_conn *c);
int rm_conn_resume(struct rmail_conn *c);
void rm_conn_set_timeout(struct rmail_conn *c, double idle);
void rm_conn_close(struct rmail_conn *c);
void rm_conn_ref(struct rmail_conn *c);
void rm_conn_unref(struct rmail_conn *c);
int rm_conn_closed(struct rmail_conn *c);
int rm_conn_is_tls(struct rmail_conn *c);
const char *rm_conn_tls_info(struct rmail_conn *c);
const char *rm_conn_peer_ip(struct rmail_conn *c);
int rm_conn_peer_port(struct rmail_conn *c);
int rm_conn_local_port(struct rmail_conn *c);
int rm_conn_is_loopback(struct rmail_conn *c);
const char *rm_conn_id(struct rmail_conn *c);
/* the conn whose callback runs now (loop thread), or NULL */
struct rmail_conn *rm_conn_current(void);
/* "TLSv1.3", or NULL in cleartext */
const char *rm_conn_tls_version(struct rmail_conn *c);
/* who logged in on c, for its session_end line */
void rm_conn_set_user(struct rmail_conn *c, const char *user);
struct rmail_pool *rm_conn_pool(struct rmail_conn *c);
void *rm_conn_listen_arg(struct rmail_conn *c);
void rm_conn_log(struct rmail_conn *c, int level, const char *fmt, ...)
	RMAIL_PRINTF(3, 4);

/* ---- loader.c ----------------------------------------------------- */
struct rm_module {
	struct rmail_mctx mctx;
	/* the kind's ops table, copied at the core's size: entries the
	 * module's minor did not have are NULL, `size` is the module's */
	union {
		struct rmail_store_ops store;
		struct rmail_filter_ops filter;
	} ops;
	const char *file;
	void *dl;
	void *conf_json; /* section used for the current conf */
	bool started;
};
/* load every module of conf->modules that passes validation; problems
 * are reported and the module skipped.  Returns the count loaded. */
size_t rm_modules_load(const struct rm_config *conf, rm_conf_report_fn report,
		       void *arg);
/* validate one file without running module code: 0 or -1 + reason */
int rm_module_validate(const char *file, const char *name,
		       const struct rmail_module **mod_r, void **dl_r,
		       struct rmail_err *err);
size_t rm_module_count(void);
struct rm_module *rm_module_at(size_t i);
struct rm_module *rm_module_find(const char *name);
int rm_modules_init(struct rmail_err *err);
int rm_modules_start(struct rmail_err *err);
/* two-phase reload: every module checks, then every module commits */
int rm_modules_reload(const struct rm_config *new_conf, struct rmail_err *err);
void rm_modules_stop(int mode);
void rm_modules_fini(void);

/* ---- services.c --------------------------------------------------- */
const struct rmail_core *rm_core(void);
/* the loaded storage module's ops (or NULL) */
const struct rmail_store_ops *rm_store(void **h_r);

/* ---- auth.c / jwt.c / ratelimit.c / metrics.c / util.c ------------- */
void rm_auth_login(const char *user, const char *password, const char *proto,
		   const char *rip, rmail_auth_fn cb, void *arg);
uint32_t rm_auth_failures(const char *rip);
void rm_auth_log_failure(const char *proto, const char *user, const char *rip,
			 const char *reason);
/* auth_log.c: the login lines (reason NULL: success) and session end;
 * c may be NULL outside a connection */
void rm_auth_log(struct rmail_conn *c, const char *proto, const char *user,
		 const char *rip, const char *reason);
void rm_session_log_end(struct rmail_conn *c, const char *proto,
			const char *user, uint64_t in, uint64_t out,
			double duration, int reason);
void rm_log_clean_field(char *dst, size_t sz, const char *src);
int rm_jwt_sign(const void *key, size_t keylen,
		const struct rmail_jwt_claims *c, char *out, size_t outsz,
		struct rmail_err *err);
int rm_jwt_verify(const void *key, size_t keylen, const char *token,
		  struct rmail_jwt_claims *c_r, struct rmail_err *err);
int rm_rate_hit(const char *bucket, const char *key, uint32_t limit,
		double window, double *retry_after_r);
uint32_t rm_rate_count(const char *bucket, const char *key, double window);
void rm_rate_reset(const char *bucket, const char *key);
void rm_rate_note(const char *bucket, const char *key);
size_t rm_rate_keys(const char *bucket, const char *prefix, double window,
		    rmail_rate_key_fn cb, void *arg);
void rm_metric_add(const char *name, const char *labels, double v);
void rm_metric_set(const char *name, const char *labels, double v);
void rm_metric_observe(const char *name, const char *labels, double v);
/* OpenMetrics text into a malloc'd string */
char *rm_metrics_render(void);
int rm_base64_decode(const char *in, size_t inlen, void *out, size_t outsz,
		     size_t *outlen_r);
size_t rm_base64_encode(const void *in, size_t inlen, char *out, size_t outsz);
void rm_random_bytes(void *buf, size_t n);
void rm_secure_zero(void *buf, size_t n);
/* fdio.c: write all n bytes (retrying EINTR and short writes): 0, or
 * -1 with errno; read up to n bytes at off, as many as the file has
 * (short only at EOF): the count, or -1 when nothing could be read */
int rm_write_all(int fd, const void *p, size_t n);
ssize_t rm_pread_all(int fd, void *p, size_t n, off_t off);

/* ---- control.c ---------------------------------------------------- */
int rm_control_start(const char *path, struct rmail_err *err);
void rm_control_stop(void);
/* the pieces the supervisor uses (supervisor.c): bind a socket (fd or
 * -1), serve a worker's inherited one, serve one request from a
 * socket, forget every command, answer unknown commands */
int rm_control_bind(const char *path, struct rmail_err *err);
int rm_control_start_fd(int fd);
void rm_control_serve_one(int listen_fd);
void rm_control_reset(void);
void rm_control_set_fallback(rmail_control_fn fn, void *arg);
int rm_control_register(struct rmail_mctx *m, const char *name,
			rmail_control_fn fn, void *arg);
/* client side, for `rmail reload` etc.: send argv, print the answer */
int rm_control_call(const char *path, int argc, const char *const *argv,
		    char *out, size_t outsz, struct rmail_err *err);
/* ctl_gather.c: argv to every path (NULL: skipped) at once; each
 * answer's text after "OK", or NULL when it failed, said ERR or was not
 * complete within timeout seconds.  Free each, then the array. */
char **rm_control_gather(char *const *paths, size_t n, int argc,
			 const char *const *argv, double timeout);

/* ---- daemon.c ----------------------------------------------------- */
/* serve: the whole daemon lifetime; returns the exit status */
int rm_daemon_run(const char *config_path, bool print_endpoints);
/* reload as SIGHUP does; 0 or -1 with the reason */
int rm_daemon_reload(struct rmail_err *err);
void rm_sd_notify(const char *state);

/* ---- spool.c / queue.c (message submission) ----------------------- */
/* daemon start-up, after the modules started: spool and queue
 * directories, then the queue runner and the "queue kick" command */
int rm_submit_init(struct rmail_err *err);
int rm_submit_start(struct rmail_err *err);
/* ---- submit/dmarc_send.c: DMARC aggregate reports ------------------ */
/* [worker, or a CLI without a loop running] send day's reports (NULL:
 * yesterday, UTC) to their rua= addresses, once per mail root and day
 * (a lease and a marker under {mail_root}/dmarc/); dry: only print to
 * out what would go where.  The number sent, 0 when another process
 * holds the lease or the day went out already, -1 on error. */
int rm_dmarc_send(const char *day, bool dry, FILE *out);
/* the daily job on the core's timer (dmarc.reports) */
void rm_dmarc_send_start(void);

/* ---- event.c: core->event_emit ------------------------------------ */
int rm_event_emit(struct rmail_mctx *m, const struct rmail_event *ev,
		  struct rmail_err *err);

/* ---- filter.c / submit.c / mime_parse.c: services-table entries --- */
/* core->filter_run etc. point straight at these (services.c) */
int rm_filter_run(const struct rmail_filter_msg *msg,
		  struct rmail_filter_result *res, struct rmail_err *err);
/* the DELIVERY-stage targets of the 1.4 deliver entries */
int rm_filter_target_run(const struct rmail_filter_msg *msg,
			 struct rmail_filter_target *t, struct rmail_err *err);
int rm_rcpt_policy(const char *rcpt, const char *auth_user, uint64_t size_hint);
struct rmail_submit *rm_submit_begin(const struct rmail_submit_opts *o,
				     struct rmail_err *err);
int rm_submit_write(struct rmail_submit *s, const void *data, size_t n,
		    struct rmail_err *err);
void rm_submit_commit(struct rmail_submit *s, rmail_submit_fn cb, void *arg);
void rm_submit_abort(struct rmail_submit **s);
int rm_mime_parse(const char *data, size_t len,
		  const struct rmail_mime_limits *lim, struct rmail_mime **m_r,
		  struct rmail_err *err);
void rm_mime_free(struct rmail_mime **m);
size_t rm_mime_part_count(const struct rmail_mime *m);
const struct rmail_mime_part *rm_mime_part(const struct rmail_mime *m,
					   size_t idx);
const char *rm_mime_header(struct rmail_mime *m, size_t idx, const char *name,
			   size_t nth, int decode);
int rm_mime_body(struct rmail_mime *m, size_t idx, int to_utf8,
		 const char **out_r, size_t *len_r, struct rmail_err *err);
int rm_mime_addresses(struct rmail_mime *m, const char *value,
		      const struct rmail_mime_addr **addrs_r, size_t *n_r);

/* ---- supervisor.c: worker processes ------------------------------ */
uint32_t rm_ncpu(void);
/* this process's worker index: 0 in a single process */
uint32_t rm_proc_index(void);
/* worker processes on the host (1: no supervisor) */
uint32_t rm_proc_count(void);
/* a per-host amount shared out over the workers: at least 1 */
uint32_t rm_proc_share(uint32_t n);
/* metrics.c: a worker's table as text, and the exposition of several
 * workers' tables (dumps[i] of worker i), each sample labelled */
char *rm_metrics_dump(void);
char *rm_metrics_render_workers(const char *const *dumps, size_t n);

/* ---- base64.c (also rm_base64_decode/encode above) --------------- */
/* the value of one base64 alphabet byte, or -1 */
int rm_base64_val(unsigned char c);

#endif
