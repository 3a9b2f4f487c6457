/*
 * End-to-end harness: a temporary mail root with a config on ephemeral
 * loopback ports, the real build/rmail started with -c, readiness seen
 * through the systemd notify protocol (NOTIFY_SOCKET), SIGTERM to stop,
 * stderr kept for asserts.  Plus a line-oriented plain/TLS client.
 *
 *	struct rmh *h = rmh_new();
 *	rmh_setf(h, "smtp", "{\"listen\": [\"127.0.0.1:%u\"]}",
 *		 rmh_port(h, "smtp"));
 *	rmh_set_modules(h, "[\"mod_smtp\"]");
 *	g_assert_true(rmh_start(h));
 *	...
 *	g_assert_cmpint(rmh_stop(h), ==, 0);
 *	rmh_free(h);
 */
#ifndef RMTEST_HARNESS_H
#define RMTEST_HARNESS_H

#include <glib.h>
#include <stdbool.h>

struct rmh;
struct rmh_conn;

/* a fresh mail root under g_dir_make_tmp; nothing started yet */
struct rmh *rmh_new(void);
/* stops the daemon (SIGKILL if needed) and removes the directory */
void rmh_free(struct rmh *h);

const char *rmh_dir(struct rmh *h); /* the temp directory */
const char *rmh_config_path(struct rmh *h);
/* an ephemeral 127.0.0.1 port, stable per name within one harness */
guint rmh_port(struct rmh *h, const char *name);
/* a source-tree path: rmh_source_path("tests/certs/cert.pem") */
char *rmh_source_path(const char *rel);

/* top-level config keys as raw JSON text; later calls replace */
void rmh_set(struct rmh *h, const char *key, const char *json);
void rmh_setf(struct rmh *h, const char *key, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);
void rmh_unset(struct rmh *h, const char *key);
/* writes config.json (defaults: hostname, mail_root, module_dir of
 * the build, no modules, the fixture certificate, short shutdown) */
void rmh_write_config(struct rmh *h);
/* replace the config file with arbitrary text (syntax-error tests) */
void rmh_write_config_text(struct rmh *h, const char *text);

/* start `rmail -c config serve` and wait for READY=1 (or an early
 * exit); false on failure, with the reason in the test log */
bool rmh_start(struct rmh *h);
/* like rmh_start, but expect the process to exit; returns its status */
int rmh_start_expect_exit(struct rmh *h, double timeout);
/* seconds from spawn to READY=1 of the last start */
double rmh_ready_seconds(struct rmh *h);
int rmh_pid(struct rmh *h);
/* send a signal to the daemon */
void rmh_signal(struct rmh *h, int sig);
/* wait for a notify datagram containing `state` (READY=1, ...) that
 * arrives after the last rmh_notify_mark() */
bool rmh_wait_notify(struct rmh *h, const char *state, double timeout);
void rmh_notify_mark(struct rmh *h);
/* SIGTERM and wait; returns the exit status (-1 killed by a signal) */
int rmh_stop(struct rmh *h);
/* everything the daemon wrote so far */
char *rmh_stderr(struct rmh *h);
char *rmh_stdout(struct rmh *h);
/* wait until stderr contains needle */
bool rmh_wait_log(struct rmh *h, const char *needle, double timeout);
/* resident set size of the daemon in KiB */
long rmh_rss_kb(struct rmh *h);

/* run `rmail -c config ARGS...` to completion; returns the exit status
 * and the output (free them) */
int rmh_run(struct rmh *h, char **out_r, char **err_r,
	    ...) G_GNUC_NULL_TERMINATED;
/* the same with any argv (no -c added); argv[0] is ignored */
int rmh_run_argv(struct rmh *h, const char *const *argv, const char *input,
		 char **out_r, char **err_r);
const char *rmh_bin(void);

/* ---- store commands without a daemon ---------------------------- */
/* A temporary mail root whose config loads only mod_shardstore from
 * RMAIL_MODULE_DIR: all `rmail user|alias|quota|import|export` need.
 * The pair fits g_test_add as setup and teardown (data unused). */
struct rmh_store {
	char *dir; /* holds mail/ and config.json */
	char *config;
};
void rmh_store_setup(struct rmh_store *f, gconstpointer data);
void rmh_store_teardown(struct rmh_store *f, gconstpointer data);

struct rmh_cmd {
	int status; /* exit status, 128 when killed */
	char *out;
	char *err;
};
/* `rmail -c config ARGS` through /bin/sh (args is shell text) in a new
 * session, so no terminal can be prompted; input, when not NULL, is one
 * line on stdin, else stdin is /dev/null.  Logged to the test log. */
struct rmh_cmd rmh_store_run(struct rmh_store *f, const char *input,
			     const char *args);
void rmh_cmd_free(struct rmh_cmd *r);

/* ---- client ------------------------------------------------------ */
struct rmh_conn *rmh_connect(guint port, bool tls);
/* the same from a local source address (127.0.0.2: another loopback
 * client), NULL for the default */
struct rmh_conn *rmh_connect_from(guint port, bool tls, const char *src);
void rmh_conn_close(struct rmh_conn *c);
/* the socket (a test that looks the server side up in /proc) */
int rmh_conn_fd(struct rmh_conn *c);
/* close a TLS conn without close_notify, as many clients do */
void rmh_conn_abort(struct rmh_conn *c);
bool rmh_conn_starttls(struct rmh_conn *c);
/* writes the line and CRLF */
bool rmh_send(struct rmh_conn *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
bool rmh_send_raw(struct rmh_conn *c, const void *data, size_t n);
/* the next line without CRLF, NULL on EOF/timeout (free it) */
char *rmh_readline(struct rmh_conn *c, double timeout);
/* has the server sent anything not yet read?  Never blocks. */
bool rmh_pending(struct rmh_conn *c);
/* reads lines until one starts with prefix; false on EOF/timeout.  The
 * matching line goes to *line_r when given (free it). */
bool rmh_expect(struct rmh_conn *c, const char *prefix, char **line_r);
/* hex SHA-256 of the server certificate (TLS only; free it) */
char *rmh_conn_peer_cert_sha256(struct rmh_conn *c);
/* hex SHA-256 of a PEM certificate file */
char *rmh_cert_file_sha256(const char *path);
/* RFC 4978: from now on sends are deflated (one sync flush each) and
 * reads inflated (raw deflate, 32 KiB window), bytes already received
 * past the line last returned included */
bool rmh_conn_compress(struct rmh_conn *c);
/* bytes as they go on the wire, compression or not (TLS still applies) */
bool rmh_send_wire(struct rmh_conn *c, const void *data, size_t n);
/* compressed bytes received since rmh_conn_compress */
size_t rmh_conn_wire_in(struct rmh_conn *c);

#endif
