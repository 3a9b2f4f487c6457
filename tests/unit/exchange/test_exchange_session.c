/*
 * mod_exchange's HTTP session over the fake core and fake connection:
 * no socket, no daemon.  Every transcript runs whole, byte by byte and
 * split at every offset, with identical responses required.  (The API
 * has no STARTTLS: its TLS listener is implicit.)
 */
#include <string.h>

#include "ex.h"
#include "fake_core.h"
#include "fake_transcript.h"

extern const struct rmail_module rmail_module_exchange;

static struct ex_conf conf = {
	.token_ttl = 3600,
	.lockout_account_ip = 1000,
	.lockout_ip = 1000,
	.lockout_window = 900,
	.max_body_size = 1024 * 1024,
	.max_header_size = 64 * 1024,
	.request_timeout = 30,
	.body_min_rate = 1024,
	.idle_timeout = 300,
};

static struct rmail_conn *open_http(void *arg)
{
	const struct rmail_proto_ops *ops;
	struct rmail_listen_opts o;

	(void)arg;
	g_assert_true(fake_core_listener("listen", &ops, &o));
	return fake_conn_open(ops, &o, "127.0.0.1");
}

static const struct fake_session_def http = {open_http, NULL, NULL, NULL};

static const char *after(const char *hay, const char *needle)
{
	const char *p = strstr(hay, needle);

	if (p == NULL)
		g_error("no \"%s\" in:\n%s", needle, hay);
	return p + strlen(needle);
}

#define LOGIN_BODY "{\"username\":\"bob@example.test\",\"password\":\"bad\"}"

/* Requests pipelined behind an asynchronous one (a login: the answer
 * comes from the loop) wait for it: responses keep the request order,
 * and the last one's Connection: close ends the session after all. */
static void test_pipelining(void)
{
	static const struct fake_step steps[] = {
		{"GET /nope HTTP/1.1\r\nHost: h\r\n\r\n"
		 "POST /api/login HTTP/1.1\r\nHost: h\r\n"
		 "Content-Type: application/json\r\n"
		 "Content-Length: 48\r\n\r\n" LOGIN_BODY
		 "GET /again HTTP/1.1\r\nHost: h\r\n\r\n"
		 "GET /last HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
		 "GET /never HTTP/1.1\r\nHost: h\r\n\r\n",
		 false},
	};
	char *out;
	const char *p;

	g_assert_cmpuint(strlen(LOGIN_BODY), ==, 48);
	out = fake_transcript_run(&http, steps, G_N_ELEMENTS(steps));
	p = after(out, "HTTP/1.1 404 ");
	p = after(p, "HTTP/1.1 401 ");
	p = after(p, "Invalid credentials");
	p = after(p, "HTTP/1.1 404 ");
	p = after(p, "HTTP/1.1 404 ");
	p = after(p, "Connection: close\r\n");
	g_assert_null(strstr(p, "HTTP/1.1"));
	g_free(out);
}

/* a body trickled across reads, and a request head split anywhere */
static void test_body_split(void)
{
	static const struct fake_step steps[] = {
		{"POST /api/login HTTP/1.1\r\nHost: h\r\n"
		 "Content-Type: application/json\r\n"
		 "Content-Length: 48\r\n\r\n",
		 false},
		{LOGIN_BODY, false},
		{"GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
		 false},
	};
	char *out = fake_transcript_run(&http, steps, G_N_ELEMENTS(steps));
	const char *p;

	p = after(out, "HTTP/1.1 401 ");
	p = after(p, "HTTP/1.1 404 ");
	g_free(out);
}

int main(int argc, char **argv)
{
	struct rmail_mctx *m;
	struct rmail_err err = {0};
	int rc;

	g_test_init(&argc, &argv, NULL);
	fake_core_init();
	fake_core_set_conf("hostname", "mail.example.test");
	m = fake_core_mctx("exchange", &conf);
	if (rmail_module_exchange.init(m, &err) < 0 ||
	    rmail_module_exchange.start(m, &err) < 0)
		g_error("exchange: %s", err.msg);
	g_test_add_func("/exchange/session/pipelining", test_pipelining);
	g_test_add_func("/exchange/session/body_split", test_body_split);
	rc = g_test_run();
	if (rmail_module_exchange.stop != NULL)
		rmail_module_exchange.stop(m, 0);
	if (rmail_module_exchange.fini != NULL)
		rmail_module_exchange.fini(m);
	fake_core_mctx_free(m);
	return rc;
}
