/*
 * Real loopback connections through rm_listen: a tiny echo protocol,
 * plain and TLS (implicit and STARTTLS), backpressure, timeouts, the
 * per-IP cap, plus the worker pools.  The loop runs on the main thread;
 * each client runs in a thread with blocking sockets and 5 s timeouts.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "rm.h"
#include "net/conn_int.h"

struct srv {
	int accepts, closes, last_reason, drains, timeouts, tls_ready;
	size_t big_left, max_outq;
	bool big_paused;
};
static struct srv S;
static int port_plain, port_tls, port_idle, port_ctx, port_ctx_idle, port_hs;
static char certdir[1024];

/* ---- the echo protocol ------------------------------------------- */

static int e_accept(struct rmail_conn *c, void **session_r)
{
	*session_r = &S;
	S.accepts++;
	rm_conn_write(c, "hello\r\n", 7);
	return 0;
}

static void produce(struct rmail_conn *c)
{
	static char blk[16384];
	size_t n;

	memset(blk, 'x', sizeof(blk));
	while (S.big_left > 0 && rm_conn_outq(c) < 256 * 1024) {
		n = S.big_left < sizeof(blk) ? S.big_left : sizeof(blk);
		rm_conn_write(c, blk, n);
		S.big_left -= n;
		if (rm_conn_outq(c) > S.max_outq)
			S.max_outq = rm_conn_outq(c);
	}
	/* a long reply holds further commands back until it is out */
	if (S.big_left == 0 && S.big_paused) {
		S.big_paused = false;
		rm_conn_resume_read(c);
	}
}

static void resume_cb(void *arg)
{
	struct rmail_conn *c = arg;

	if (!rm_conn_closed(c))
		rm_conn_resume_read(c);
	rm_conn_unref(c);
}

static bool is(const struct rmail_line *l, const char *s)
{
	return l->len == strlen(s) && memcmp(l->data, s, l->len) == 0;
}

static int e_input(struct rmail_conn *c, void *session)
{
	struct rmail_line l;
	struct rmail_err err;
	static struct rmail_timer *t;
	int rc;

	g_assert(session == &S);
	for (;;) {
		rc = rm_conn_read_line(c, &l);
		if (rc == RMAIL_AGAIN)
			return RMAIL_OK;
		if (rc == RMAIL_TOOLONG) {
			rm_conn_write(c, "toolong\r\n", 9);
			continue;
		}
		g_assert_cmpint(rc, ==, RMAIL_OK);
		if (is(&l, "QUIT")) {
			rm_conn_write(c, "bye\r\n", 5);
			return RMAIL_CLOSE;
		} else if (is(&l, "STARTTLS")) {
			if (rm_conn_starttls(c, &err) < 0) {
				rm_conn_printf(c, "ERR %s\r\n", err.msg);
				return RMAIL_CLOSE;
			}
			rm_conn_write(c, "GO\r\n", 4);
			return RMAIL_OK;
		} else if (is(&l, "TLS")) {
			const char *i = rm_conn_tls_info(c);

			rm_conn_printf(c, "%s\r\n", i ? i : "none");
		} else if (l.len > 4 && memcmp(l.data, "BIG ", 4) == 0) {
			S.big_left = strtoul(l.data + 4, NULL, 10);
			rm_conn_pause_read(c);
			S.big_paused = true;
			produce(c);
			return RMAIL_OK;
		} else if (is(&l, "PAUSE")) {
			rm_conn_write(c, "paused\r\n", 8);
			rm_conn_pause_read(c);
			rm_conn_ref(c);
			rm_timer_del(&t);
			t = rm_timer_add(0.05, 0, resume_cb, c);
			return RMAIL_OK;
		} else {
			rm_conn_printf(c, "echo:%.*s\r\n", (int)l.len, l.data);
		}
	}
}

static void e_drain(struct rmail_conn *c, void *session)
{
	(void)session;
	S.drains++;
	produce(c);
}

static void e_tls_ready(struct rmail_conn *c, void *session)
{
	const char *d;

	(void)session;
	S.tls_ready++;
	g_assert_cmpuint(rm_conn_peek(c, &d), ==, 0);
}

static void e_timeout(struct rmail_conn *c, void *session)
{
	(void)session;
	S.timeouts++;
	rm_conn_write(c, "timeout\r\n", 9);
}

static void e_close(struct rmail_conn *c, void *session, int reason)
{
	(void)c;
	(void)session;
	S.closes++;
	S.last_reason = reason;
}

static const struct rmail_proto_ops echo_ops = {
	.size = sizeof(struct rmail_proto_ops),
	.on_accept = e_accept,
	.on_input = e_input,
	.on_drain = e_drain,
	.on_tls_ready = e_tls_ready,
	.on_timeout = e_timeout,
	.on_close = e_close,
};

/* ---- the same protocol in the 1.2 layout --------------------------- */

/* the module state a 1.2 table hands to every handler, and how often
 * each handler got it first, with the session on_accept stored */
static struct {
	int accept, input, drain, tls_ready, timeout, close;
} X;

static void x_check(void *ctx, void *session)
{
	g_assert_true(ctx == &X);
	g_assert_true(session == &S);
}

static int x_accept(void *ctx, struct rmail_conn *c, void **session_r)
{
	g_assert_true(ctx == &X);
	X.accept++;
	return e_accept(c, session_r);
}

static int x_input(void *ctx, struct rmail_conn *c, void *session)
{
	x_check(ctx, session);
	X.input++;
	return e_input(c, session);
}

static void x_drain(void *ctx, struct rmail_conn *c, void *session)
{
	x_check(ctx, session);
	X.drain++;
	e_drain(c, session);
}

static void x_tls_ready(void *ctx, struct rmail_conn *c, void *session)
{
	x_check(ctx, session);
	X.tls_ready++;
	e_tls_ready(c, session);
}

static void x_timeout(void *ctx, struct rmail_conn *c, void *session)
{
	x_check(ctx, session);
	X.timeout++;
	e_timeout(c, session);
}

static void x_close(void *ctx, struct rmail_conn *c, void *session, int reason)
{
	x_check(ctx, session);
	X.close++;
	e_close(c, session, reason);
}

/* ctx is filled at listen time, as a module does with its state */
static const struct rmail_proto_ops echo_ctx_ops = {
	.size = sizeof(struct rmail_proto_ops),
	.ctx_accept = x_accept,
	.ctx_input = x_input,
	.ctx_drain = x_drain,
	.ctx_tls_ready = x_tls_ready,
	.ctx_timeout = x_timeout,
	.ctx_close = x_close,
};

/* ---- client side ------------------------------------------------- */

struct cl {
	int fd;
	SSL *ssl;
	SSL_CTX *ctx;
};

static void cl_connect(struct cl *k, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port)};
	struct timeval tv = {.tv_sec = 5};

	memset(k, 0, sizeof(*k));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	k->fd = socket(AF_INET, SOCK_STREAM, 0);
	g_assert_cmpint(k->fd, >=, 0);
	setsockopt(k->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(k->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	g_assert_cmpint(connect(k->fd, (void *)&sa, sizeof(sa)), ==, 0);
}

static void cl_tls_ca(struct cl *k, const char *caname)
{
	char *ca = g_build_filename(certdir, caname, NULL);

	k->ctx = SSL_CTX_new(TLS_client_method());
	g_assert_nonnull(k->ctx);
	g_assert_cmpint(SSL_CTX_load_verify_locations(k->ctx, ca, NULL), ==, 1);
	SSL_CTX_set_verify(k->ctx, SSL_VERIFY_PEER, NULL);
	k->ssl = SSL_new(k->ctx);
	SSL_set_fd(k->ssl, k->fd);
	SSL_set_tlsext_host_name(k->ssl, "localhost");
	SSL_set1_host(k->ssl, "localhost");
	g_assert_cmpint(SSL_connect(k->ssl), ==, 1);
	g_free(ca);
}

static void cl_tls(struct cl *k)
{
	cl_tls_ca(k, "cert.pem");
}

static void cl_close(struct cl *k)
{
	if (k->ssl != NULL)
		SSL_free(k->ssl);
	if (k->ctx != NULL)
		SSL_CTX_free(k->ctx);
	close(k->fd);
}

static void cl_send(struct cl *k, const char *s)
{
	size_t n = strlen(s);
	ssize_t r = k->ssl ? SSL_write(k->ssl, s, (int)n)
			   : send(k->fd, s, n, MSG_NOSIGNAL);

	g_assert_cmpint(r, ==, (ssize_t)n);
}

static ssize_t cl_recv(struct cl *k, void *buf, size_t n)
{
	if (k->ssl != NULL) {
		int r = SSL_read(k->ssl, buf, (int)n);

		return r > 0 ? r : 0;
	}
	return recv(k->fd, buf, n, 0);
}

/* one line without CRLF; NULL at EOF */
static char *cl_line(struct cl *k)
{
	GString *s = g_string_new(NULL);
	char ch;

	for (;;) {
		if (cl_recv(k, &ch, 1) != 1) {
			bool empty = s->len == 0;

			g_string_free(s, TRUE);
			g_assert_true(empty);
			return NULL;
		}
		if (ch == '\n')
			break;
		if (ch != '\r')
			g_string_append_c(s, ch);
	}
	return g_string_free(s, FALSE);
}

static void expect(struct cl *k, const char *want)
{
	char *got = cl_line(k);

	g_assert_cmpstr(got, ==, want);
	g_free(got);
}

static void expect_eof(struct cl *k)
{
	g_assert_null(cl_line(k));
}

/* ---- running a client against the loop --------------------------- */

typedef void (*client_fn)(void);
static gint client_done;
static double deadline;
static bool timed_out;

static void check_cb(void *arg)
{
	(void)arg;
	if (g_atomic_int_get(&client_done) && rm_conn_count() == 0)
		rm_loop_break();
	if (rm_now() > deadline) {
		timed_out = true;
		rm_loop_break();
	}
}

static gpointer client_main(gpointer data)
{
	((client_fn)data)();
	g_atomic_int_set(&client_done, 1);
	return NULL;
}

static void run_client(client_fn fn)
{
	struct rmail_timer *t;
	GThread *th;

	memset(&S, 0, sizeof(S));
	g_atomic_int_set(&client_done, 0);
	timed_out = false;
	ev_now_update(rm_loop());
	deadline = rm_now() + 15;
	t = rm_timer_add(0.01, 0.01, check_cb, NULL);
	th = g_thread_new("client", client_main, (gpointer)fn);
	rm_loop_run();
	g_thread_join(th);
	rm_timer_del(&t);
	g_assert_false(timed_out);
}

/* ---- tests ------------------------------------------------------- */

static void c_plain(void)
{
	struct cl k;
	char longline[200];

	cl_connect(&k, port_plain);
	expect(&k, "hello");
	memset(longline, 'z', sizeof(longline));
	longline[sizeof(longline) - 3] = '\r';
	longline[sizeof(longline) - 2] = '\n';
	longline[sizeof(longline) - 1] = '\0';
	cl_send(&k, "a\r\nb\n");
	cl_send(&k, longline);
	cl_send(&k, "\r\nQUIT\r\n");
	expect(&k, "echo:a");
	expect(&k, "echo:b");
	expect(&k, "toolong");
	expect(&k, "echo:");
	expect(&k, "bye");
	expect_eof(&k);
	cl_close(&k);
}

static void test_plain(void)
{
	run_client(c_plain);
	g_assert_cmpint(S.accepts, ==, 1);
	g_assert_cmpint(S.closes, ==, 1);
	g_assert_cmpint(S.last_reason, ==, RMAIL_CLOSE_NORMAL);
}

static void c_pipelined(void)
{
	struct cl k;

	cl_connect(&k, port_plain);
	expect(&k, "hello");
	cl_send(&k, "PAUSE\r\nA\r\nB\r\n");
	expect(&k, "paused");
	expect(&k, "echo:A");
	expect(&k, "echo:B");
	/* EOF with nothing pending: on_close(PEER) */
	shutdown(k.fd, SHUT_WR);
	expect_eof(&k);
	cl_close(&k);
}

static void test_pipelined_resume(void)
{
	run_client(c_pipelined);
	g_assert_cmpint(S.closes, ==, 1);
	g_assert_cmpint(S.last_reason, ==, RMAIL_CLOSE_PEER);
}

static void c_implicit(void)
{
	struct cl k;
	char *info;

	cl_connect(&k, port_tls);
	cl_tls(&k);
	expect(&k, "hello");
	cl_send(&k, "TLS\r\n");
	info = cl_line(&k);
	g_assert_true(g_str_has_prefix(info, "TLSv1.3 TLS_"));
	g_free(info);
	cl_send(&k, "QUIT\r\n");
	expect(&k, "bye");
	cl_close(&k);
}

static void test_implicit_tls(void)
{
	run_client(c_implicit);
	g_assert_cmpint(S.accepts, ==, 1);
	g_assert_cmpint(S.closes, ==, 1);
}

static void c_starttls(void)
{
	struct cl k;
	char *info;

	cl_connect(&k, port_plain);
	expect(&k, "hello");
	cl_send(&k, "TLS\r\n");
	expect(&k, "none");
	cl_send(&k, "STARTTLS\r\n");
	expect(&k, "GO");
	cl_tls(&k);
	cl_send(&k, "TLS\r\n");
	info = cl_line(&k);
	g_assert_true(g_str_has_prefix(info, "TLSv1.3 TLS_"));
	g_free(info);
	cl_send(&k, "QUIT\r\n");
	expect(&k, "bye");
	cl_close(&k);
}

static void test_starttls(void)
{
	run_client(c_starttls);
	g_assert_cmpint(S.tls_ready, ==, 1);
	g_assert_cmpint(S.closes, ==, 1);
}

static void c_starttls_pipelined(void)
{
	struct cl k;

	cl_connect(&k, port_plain);
	expect(&k, "hello");
	cl_send(&k, "STARTTLS\r\nNOOP\r\n");
	expect(&k, "ERR pipelined input before TLS handshake");
	expect_eof(&k);
	cl_close(&k);
}

static void test_starttls_pipelined(void)
{
	run_client(c_starttls_pipelined);
	g_assert_cmpint(S.tls_ready, ==, 0);
	g_assert_cmpint(S.closes, ==, 1);
}

#define BIG (16u * 1024 * 1024)

static void c_backpressure(void)
{
	struct cl k;
	int small = 32 * 1024;
	static char buf[65536];
	size_t got = 0;
	ssize_t r;

	memset(&k, 0, sizeof(k));
	cl_connect(&k, port_plain);
	setsockopt(k.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	expect(&k, "hello");
	cl_send(&k, "BIG 16777216\r\nQUIT\r\n");
	g_usleep(200 * 1000); /* a slow reader: the queue fills up */
	while (got < BIG) {
		r = cl_recv(&k, buf,
			    BIG - got < sizeof(buf) ? BIG - got : sizeof(buf));
		g_assert_cmpint(r, >, 0);
		for (ssize_t i = 0; i < r; i++)
			g_assert_cmpint(buf[i], ==, 'x');
		got += (size_t)r;
	}
	expect(&k, "bye");
	expect_eof(&k);
	cl_close(&k);
}

static void test_backpressure(void)
{
	run_client(c_backpressure);
	g_assert_cmpint(S.drains, >, 0);
	g_assert_cmpuint(S.max_outq, <=, RM_CONN_HIWAT + 16384);
	g_assert_cmpuint(S.big_left, ==, 0);
}

static void c_idle(void)
{
	struct cl k;

	cl_connect(&k, port_idle);
	expect(&k, "hello");
	expect(&k, "timeout");
	expect_eof(&k);
	cl_close(&k);
}

static void test_idle_timeout(void)
{
	run_client(c_idle);
	g_assert_cmpint(S.timeouts, ==, 1);
	g_assert_cmpint(S.last_reason, ==, RMAIL_CLOSE_TIMEOUT);
}

/* A handshake step waits on the TLS pool (every thread held here)
 * while its handshake deadline closes the conn: the socket must stay
 * open while the step may still use it, and close once it is back. */
static gint tls_gate;

static void tls_block(void *arg, const volatile int *cancel)
{
	(void)arg;
	(void)cancel;
	while (!g_atomic_int_get(&tls_gate))
		g_usleep(1000);
}

static void c_hs_parked(void)
{
	struct pollfd p;
	struct cl k;

	cl_connect(&k, port_hs);
	/* the start of a TLS record: the first handshake step queues */
	cl_send(&k, "\x16\x03\x01");
	/* past the 0.3 s handshake deadline */
	g_usleep(800 * 1000);
	p.fd = k.fd;
	p.events = POLLIN;
	g_assert_cmpint(poll(&p, 1, 0), ==, 0);
	g_atomic_int_set(&tls_gate, 1);
	expect_eof(&k);
	cl_close(&k);
}

static void test_tls_handshake_parked(void)
{
	uint32_t n = rm_work_threads(RM_WORK_TLS);

	g_assert_cmpuint(n, >=, 1);
	g_atomic_int_set(&tls_gate, 0);
	for (uint32_t i = 0; i < n; i++)
		rm_work_submit(RM_WORK_TLS, tls_block, NULL, NULL);
	run_client(c_hs_parked);
	g_assert_cmpint(S.accepts, ==, 0);
}

/* Many handshakes at once while a cleartext session keeps talking:
 * every one completes, the session is answered throughout. */
static void *hs_client(void *arg)
{
	struct cl k;

	(void)arg;
	cl_connect(&k, port_tls);
	cl_tls(&k);
	expect(&k, "hello");
	cl_send(&k, "QUIT\r\n");
	expect(&k, "bye");
	cl_close(&k);
	return NULL;
}

static void c_hs_many(void)
{
	GThread *th[16];
	struct cl live;

	cl_connect(&live, port_plain);
	expect(&live, "hello");
	for (size_t i = 0; i < G_N_ELEMENTS(th); i++)
		th[i] = g_thread_new("hs", hs_client, NULL);
	for (int i = 0; i < 20; i++) {
		cl_send(&live, "TLS\r\n");
		expect(&live, "none");
	}
	for (size_t i = 0; i < G_N_ELEMENTS(th); i++)
		g_thread_join(th[i]);
	cl_send(&live, "QUIT\r\n");
	expect(&live, "bye");
	cl_close(&live);
}

static void test_tls_handshake_many(void)
{
	run_client(c_hs_many);
	g_assert_cmpint(S.accepts, ==, 17);
	g_assert_cmpint(S.closes, ==, 17);
}

static gint reloaded;

static void reload_post(void *arg)
{
	g_autofree char *cert = g_build_filename(certdir, "cert2.pem", NULL);
	g_autofree char *key = g_build_filename(certdir, "key2.pem", NULL);
	struct rmail_err err;

	(void)arg;
	if (rm_tls_load(cert, key, &err) < 0)
		g_error("%s", err.msg);
	g_atomic_int_set(&reloaded, 1);
}

static void c_reload(void)
{
	struct cl old, fresh;
	char *info;

	cl_connect(&old, port_tls);
	cl_tls(&old);
	expect(&old, "hello");
	rm_loop_post(reload_post, NULL);
	while (!g_atomic_int_get(&reloaded))
		g_usleep(1000);
	/* only cert2.pem verifies the new connection */
	cl_connect(&fresh, port_tls);
	cl_tls_ca(&fresh, "cert2.pem");
	expect(&fresh, "hello");
	cl_send(&fresh, "QUIT\r\n");
	expect(&fresh, "bye");
	cl_close(&fresh);
	/* the old connection keeps its session */
	cl_send(&old, "TLS\r\n");
	info = cl_line(&old);
	g_assert_true(g_str_has_prefix(info, "TLSv1.3"));
	g_free(info);
	cl_send(&old, "QUIT\r\n");
	expect(&old, "bye");
	cl_close(&old);
}

static void test_tls_reload(void)
{
	g_autofree char *cert = g_build_filename(certdir, "cert.pem", NULL);
	g_autofree char *key = g_build_filename(certdir, "key.pem", NULL);
	struct rmail_err err;

	g_atomic_int_set(&reloaded, 0);
	run_client(c_reload);
	g_assert_cmpint(S.closes, ==, 2);
	g_assert_cmpint(rm_tls_load(cert, key, &err), ==, 0);
}

static bool cap_exempt;

static void c_cap(void)
{
	struct cl k[3];

	cl_connect(&k[0], port_plain);
	expect(&k[0], "hello");
	cl_connect(&k[1], port_plain);
	expect(&k[1], "hello");
	cl_connect(&k[2], port_plain);
	if (cap_exempt) {
		expect(&k[2], "hello");
	} else {
		expect(&k[2], "421 too many connections");
		expect_eof(&k[2]);
	}
	for (int i = 0; i < 3; i++)
		cl_close(&k[i]);
}

static void test_per_ip_cap(void)
{
	struct rm_config conf;
	static const char *const exempt[] = {"10.0.0.0/8", "127.0.0.0/8"};

	memset(&conf, 0, sizeof(conf));
	conf.limits.max_connections_per_ip = 2;
	conf.limits.exempt.v = exempt;
	conf.limits.exempt.n = 1; /* loopback is not exempt */
	rm_conf_set(&conf);
	cap_exempt = false;
	run_client(c_cap);
	g_assert_cmpint(S.accepts, ==, 2);

	conf.limits.exempt.n = 2;
	cap_exempt = true;
	run_client(c_cap);
	g_assert_cmpint(S.accepts, ==, 3);
	rm_conf_set(NULL);
}

static void test_cidr(void)
{
	g_assert_cmpint(rm_cidr_match("10.1.2.3", "10.0.0.0/8"), ==, 1);
	g_assert_cmpint(rm_cidr_match("11.1.2.3", "10.0.0.0/8"), ==, 0);
	g_assert_cmpint(rm_cidr_match("192.0.2.7", "192.0.2.7"), ==, 1);
	g_assert_cmpint(rm_cidr_match("192.0.2.7", "192.0.2.0/25"), ==, 1);
	g_assert_cmpint(rm_cidr_match("192.0.2.200", "192.0.2.0/25"), ==, 0);
	g_assert_cmpint(rm_cidr_match("2001:db8::1", "2001:db8::/32"), ==, 1);
	g_assert_cmpint(rm_cidr_match("2001:db9::1", "2001:db8::/32"), ==, 0);
	g_assert_cmpint(rm_cidr_match("::ffff:10.0.0.1", "10.0.0.0/8"), ==, 1);
	g_assert_cmpint(rm_cidr_match("10.0.0.1", "10.0.0.0/33"), ==, -1);
	g_assert_cmpint(rm_cidr_match("10.0.0.1", "bogus"), ==, -1);
	g_assert_cmpint(rm_cidr_match("10.0.0.1", "::/0"), ==, 0);
	/* defaults without a config: loopback */
	g_assert_true(rm_ip_is_exempt("127.0.0.1"));
	g_assert_true(rm_ip_is_exempt("127.9.9.9"));
	g_assert_true(rm_ip_is_exempt("::1"));
	g_assert_true(rm_ip_is_exempt("::ffff:127.0.0.2"));
	g_assert_false(rm_ip_is_exempt("10.0.0.1"));
	g_assert_false(rm_ip_is_exempt("::2"));
}

static void test_bind_error(void)
{
	struct rmail_mctx m = {.name = "echo"};
	struct rmail_listen_opts o = {.size = sizeof(o), .proto = "echo"};
	char addr[64], want[160];
	const char *v[1] = {addr};
	struct rmail_strlist l = {1, v};
	struct rmail_err err;

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port_plain);
	g_assert_cmpint(rm_listen(&m, "dup", &l, &echo_ops, &o, &err), ==, -1);
	snprintf(want, sizeof(want),
		 "cannot listen on %s (echo.dup): "
		 "Address already in use",
		 addr);
	g_assert_cmpstr(err.msg, ==, want);
	v[0] = "nonsense";
	g_assert_cmpint(rm_listen(&m, "bad", &l, &echo_ops, &o, &err), ==, -1);
	g_assert_true(g_str_has_prefix(err.msg, "cannot listen on nonsense"));
}

/* on_accept and on_input are the two handlers a listener cannot do
 * without: refused at listen time, not a crash on the first client */
static void test_listen_required_ops(void)
{
	struct rmail_mctx m = {.name = "echo"};
	struct rmail_listen_opts o = {.size = sizeof(o), .proto = "echo"};
	struct rmail_proto_ops ops = echo_ops;
	const char *v[1] = {"127.0.0.1:0"};
	struct rmail_strlist l = {1, v};
	struct rmail_err err;

	ops.on_input = NULL;
	g_assert_cmpint(rm_listen(&m, "noinput", &l, &ops, &o, &err), ==, -1);
	g_assert_cmpstr(err.msg, ==,
			"echo.noinput: rmail_proto_ops.on_input is NULL; "
			"on_accept and on_input are required");
	ops = echo_ops;
	ops.on_accept = NULL;
	g_assert_cmpint(rm_listen(&m, "noaccept", &l, &ops, &o, &err), ==, -1);
	g_assert_cmpstr(err.msg, ==,
			"echo.noaccept: rmail_proto_ops.on_accept is NULL; "
			"on_accept and on_input are required");
}

/* a table is one layout or the other, with the required pair of its
 * own: anything else is refused at listen time */
static void test_listen_ctx_layout_rules(void)
{
	struct rmail_mctx m = {.name = "echo"};
	struct rmail_listen_opts o = {.size = sizeof(o), .proto = "echo"};
	struct rmail_proto_ops ops = echo_ctx_ops;
	const char *v[1] = {"127.0.0.1:0"};
	struct rmail_strlist l = {1, v};
	struct rmail_err err;

	ops.on_close = e_close;
	g_assert_cmpint(rm_listen(&m, "mixed", &l, &ops, &o, &err), ==, -1);
	g_assert_cmpstr(err.msg, ==,
			"echo.mixed: rmail_proto_ops mixes the 1.0 handlers "
			"(on_*) and the 1.2 handlers (ctx_*); set one layout");
	/* the old pair does not stand in for the new one */
	ops = echo_ctx_ops;
	ops.ctx_input = NULL;
	ops.on_input = e_input;
	g_assert_cmpint(rm_listen(&m, "mixed2", &l, &ops, &o, &err), ==, -1);
	g_assert_true(strstr(err.msg, " mixes the 1.0 handlers") != NULL);
	ops = echo_ctx_ops;
	ops.ctx_input = NULL;
	g_assert_cmpint(rm_listen(&m, "noinput", &l, &ops, &o, &err), ==, -1);
	g_assert_cmpstr(err.msg, ==,
			"echo.noinput: rmail_proto_ops.ctx_input is NULL; "
			"ctx_accept and ctx_input are required");
	ops = echo_ctx_ops;
	ops.ctx_accept = NULL;
	g_assert_cmpint(rm_listen(&m, "noaccept", &l, &ops, &o, &err), ==, -1);
	g_assert_cmpstr(err.msg, ==,
			"echo.noaccept: rmail_proto_ops.ctx_accept is NULL; "
			"ctx_accept and ctx_input are required");
	/* a table of 1.0 size never reaches the 1.2 entries, even when the
	 * bytes past its size would hold handlers */
	ops = echo_ctx_ops;
	ops.size = RMAIL_PROTO_OPS_SIZE_1_0;
	g_assert_cmpint(rm_listen(&m, "small", &l, &ops, &o, &err), ==, -1);
	g_assert_cmpstr(err.msg, ==,
			"echo.small: rmail_proto_ops.on_accept is NULL; "
			"on_accept and on_input are required");
}

/* every handler of a 1.2 table gets the table's ctx first and the
 * session its ctx_accept stored: greeting, lines, STARTTLS, a drain, an
 * idle timeout and the close, over real sockets */
static void test_ctx_layout(void)
{
	int plain = port_plain, idle = port_idle;

	memset(&X, 0, sizeof(X));
	port_plain = port_ctx;
	port_idle = port_ctx_idle;
	run_client(c_starttls);
	g_assert_cmpint(X.accept, ==, 1);
	g_assert_cmpint(X.input, >=, 3);
	g_assert_cmpint(X.tls_ready, ==, 1);
	g_assert_cmpint(X.close, ==, 1);
	g_assert_cmpint(S.tls_ready, ==, 1);
	run_client(c_backpressure);
	g_assert_cmpint(X.drain, >, 0);
	g_assert_cmpint(S.drains, ==, X.drain);
	g_assert_cmpuint(S.big_left, ==, 0);
	run_client(c_idle);
	g_assert_cmpint(X.timeout, ==, 1);
	g_assert_cmpint(S.last_reason, ==, RMAIL_CLOSE_TIMEOUT);
	g_assert_cmpint(X.accept, ==, 3);
	g_assert_cmpint(X.close, ==, 3);
	port_plain = plain;
	port_idle = idle;
}

/* core->listen takes only a key the module declared RMAIL_CONF_LISTEN:
 * those are the ones bound before a privilege drop */
static void test_listen_key_type(void)
{
	static const struct rmail_conf_key keys[] = {
		{"ports", RMAIL_CONF_LISTEN, 0, 0, "[]", "x", NULL},
		{"greeting", RMAIL_CONF_STR, 0, 0, "\"\"", "x", NULL},
		RMAIL_CONF_END};
	struct rmail_module d = {
		.name = "echo", .section = "echo", .conf_keys = keys};
	struct rmail_mctx m = {.name = "echo", .module = &d};
	struct rmail_listen_opts o = {.size = sizeof(o), .proto = "echo"};
	struct rmail_strlist l = {0, NULL};
	struct rmail_err err;

	g_assert_cmpint(rm_listen(&m, "greeting", &l, &echo_ops, &o, &err), ==,
			-1);
	g_assert_cmpstr(err.msg, ==,
			"echo.greeting: not a RMAIL_CONF_LISTEN key of the "
			"module");
	g_assert_cmpint(rm_listen(&m, "other", &l, &echo_ops, &o, &err), ==,
			-1);
	g_assert_cmpint(rm_listen(&m, "ports", &l, &echo_ops, &o, &err), ==, 0);
}

/* ---- workers ----------------------------------------------------- */

static GThread *loop_thread;
static gint work_runs, dones, cancelled_dones, gate;

static void w_work(void *arg, const volatile int *cancel)
{
	(void)arg;
	(void)cancel;
	g_assert_true(g_thread_self() != loop_thread);
	g_atomic_int_inc(&work_runs);
}

static void w_block(void *arg, const volatile int *cancel)
{
	(void)arg;
	(void)cancel;
	while (!g_atomic_int_get(&gate))
		g_usleep(1000);
	g_atomic_int_inc(&work_runs);
}

static void w_done(void *arg, int cancelled)
{
	(void)arg;
	g_assert_true(g_thread_self() == loop_thread);
	dones++;
	if (cancelled)
		cancelled_dones++;
}

static void w_check(void *arg)
{
	int want = GPOINTER_TO_INT(arg);

	if (dones >= want || rm_now() > deadline)
		rm_loop_break();
}

static void test_workers(void)
{
	struct rmail_timer *t;
	struct rmail_work *w;

	loop_thread = g_thread_self();
	work_runs = dones = cancelled_dones = gate = 0;
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < 10; i++)
			rm_work_submit(k, w_work, w_done, NULL);
	/* one thread per pool: the blocked job holds the queue */
	rm_work_submit(RMAIL_WORK_HASH, w_block, w_done, NULL);
	w = rm_work_submit(RMAIL_WORK_HASH, w_work, w_done, NULL);
	rm_work_cancel(w);
	g_atomic_int_set(&gate, 1);
	ev_now_update(rm_loop());
	deadline = rm_now() + 10;
	t = rm_timer_add(0.005, 0.005, w_check, GINT_TO_POINTER(32));
	rm_loop_run();
	rm_timer_del(&t);
	g_assert_cmpint(dones, ==, 32);
	g_assert_cmpint(cancelled_dones, ==, 1);
	g_assert_cmpint(g_atomic_int_get(&work_runs), ==, 31);
	g_assert_cmpuint(rm_work_pending(), ==, 0);
}

/* ---- setup ------------------------------------------------------- */

struct found {
	const char *proto;
	int port;
};

static void find_cb(void *arg, const char *proto, const char *addr, int tls)
{
	struct found *f = arg;

	(void)tls;
	if (strcmp(proto, f->proto) == 0)
		f->port = atoi(strrchr(addr, ':') + 1);
}

static int port_of(const char *proto)
{
	struct found f = {proto, 0};

	rm_listen_foreach(find_cb, &f);
	g_assert_cmpint(f.port, >, 0);
	return f.port;
}

static void setup(void)
{
	static const char *const any[] = {"127.0.0.1:0"};
	struct rmail_strlist l = {1, any};
	struct rmail_mctx m = {.name = "echo"};
	struct rmail_listen_opts o = {
		.size = sizeof(o),
		.proto = "echo",
		.max_line = 64,
		.idle_timeout = 10,
		.overload_reply = "421 too many connections\r\n",
	};
	struct rmail_proto_ops ops;
	struct rmail_err err;
	char *cert, *key;

	snprintf(certdir, sizeof(certdir), "%s/tests/certs",
		 g_getenv("RMAIL_SOURCE_DIR") ? g_getenv("RMAIL_SOURCE_DIR")
					      : RMAIL_SRC);
	cert = g_build_filename(certdir, "cert.pem", NULL);
	key = g_build_filename(certdir, "key.pem", NULL);
	g_assert_cmpint(rm_loop_init(), ==, 0);
	g_assert_cmpint(rm_workers_init(1, 1, 1), ==, 0);
	if (rm_tls_load(cert, key, &err) < 0)
		g_error("%s", err.msg);
	g_assert_cmpint(rm_tls_cert_expiry(), >, (int64_t)time(NULL));
	g_assert_cmpint(rm_listen(&m, "listen", &l, &echo_ops, &o, &err), ==,
			0);
	o.tls = RMAIL_TLS_IMPLICIT;
	g_assert_cmpint(rm_listen(&m, "tls_listen", &l, &echo_ops, &o, &err),
			==, 0);
	o.tls = RMAIL_TLS_NONE;
	o.proto = "idle";
	o.idle_timeout = 0.3;
	g_assert_cmpint(rm_listen(&m, "idle_listen", &l, &echo_ops, &o, &err),
			==, 0);
	ops = echo_ctx_ops;
	ops.ctx = &X;
	o.proto = "ctx";
	o.idle_timeout = 10;
	g_assert_cmpint(rm_listen(&m, "ctx_listen", &l, &ops, &o, &err), ==, 0);
	o.proto = "ctxidle";
	o.idle_timeout = 0.3;
	g_assert_cmpint(rm_listen(&m, "ctx_idle", &l, &ops, &o, &err), ==, 0);
	port_plain = port_of("echo");
	port_tls = port_of("echos");
	port_idle = port_of("idle");
	port_ctx = port_of("ctx");
	port_ctx_idle = port_of("ctxidle");
	o.proto = "hs";
	o.tls = RMAIL_TLS_IMPLICIT;
	o.handshake_timeout = 0.3;
	g_assert_cmpint(rm_listen(&m, "hs_listen", &l, &echo_ops, &o, &err), ==,
			0);
	port_hs = port_of("hss");
	g_free(cert);
	g_free(key);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	rm_log_set_level(RMAIL_LOG_WARN);
	setup();
	g_test_add_func("/core_net/cidr", test_cidr);
	g_test_add_func("/core_net/bind_error", test_bind_error);
	g_test_add_func("/core_net/listen_required_ops",
			test_listen_required_ops);
	g_test_add_func("/core_net/listen_ctx_layout_rules",
			test_listen_ctx_layout_rules);
	g_test_add_func("/core_net/listen_key_type", test_listen_key_type);
	g_test_add_func("/core_net/plain", test_plain);
	g_test_add_func("/core_net/pipelined_resume", test_pipelined_resume);
	g_test_add_func("/core_net/implicit_tls", test_implicit_tls);
	g_test_add_func("/core_net/starttls", test_starttls);
	g_test_add_func("/core_net/starttls_pipelined",
			test_starttls_pipelined);
	g_test_add_func("/core_net/tls_reload", test_tls_reload);
	g_test_add_func("/core_net/backpressure", test_backpressure);
	g_test_add_func("/core_net/idle_timeout", test_idle_timeout);
	g_test_add_func("/core_net/tls_handshake_parked",
			test_tls_handshake_parked);
	g_test_add_func("/core_net/tls_handshake_many",
			test_tls_handshake_many);
	g_test_add_func("/core_net/ctx_layout", test_ctx_layout);
	g_test_add_func("/core_net/per_ip_cap", test_per_ip_cap);
	g_test_add_func("/core_net/workers", test_workers);
	rc = g_test_run();
	rm_listen_stop_accepting();
	rm_workers_shutdown(5);
	return rc;
}
