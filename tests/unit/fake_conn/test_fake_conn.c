/*
 * The fake connection keeps the core's connection contract (core.h):
 * the session tests are only as good as that.  A tiny line protocol
 * drives it: "close" closes, "async" suspends until a posted
 * callback answers, "long" lines are refused, anything else echoes.
 */
#include <string.h>

#include "fake_conn.h"
#include "fake_core.h"

static const struct rmail_core *core;

struct sess {
	struct rmail_conn *c;
	int closes;
	int in_close_call; /* inside our own conn_close */
	int toolong;
	struct rmail_line kept; /* the "async" line, kept while suspended */
};

static int on_accept(struct rmail_conn *c, void **session_r)
{
	struct sess *s = core->pcalloc(core->conn_pool(c), sizeof(*s));

	s->c = c;
	*session_r = s;
	core->conn_write(c, "hello\r\n", 7);
	return 0;
}

static void async_done(void *arg)
{
	struct sess *s = arg;

	/* a suspended module may keep the line it read until it resumes */
	g_assert_cmpmem(s->kept.data, s->kept.len, "async", 5);
	core->conn_printf(s->c, "async done\r\n");
	g_assert_cmpint(core->conn_resume(s->c), ==, 1);
}

static int on_input(struct rmail_conn *c, void *session)
{
	struct sess *s = session;
	struct rmail_line l;
	int rc;

	while ((rc = core->conn_read_line(c, &l)) != RMAIL_AGAIN) {
		if (rc == RMAIL_TOOLONG) {
			s->toolong++;
			core->conn_write(c, "too long\r\n", 10);
			continue;
		}
		if (l.len == 5 && memcmp(l.data, "close", 5) == 0) {
			s->in_close_call = 1;
			core->conn_close(c);
			s->in_close_call = 0;
			return RMAIL_OK;
		}
		if (l.len == 5 && memcmp(l.data, "async", 5) == 0) {
			s->kept = l;
			core->conn_suspend(c);
			core->loop_post(async_done, s);
			return RMAIL_OK;
		}
		core->conn_write(c, "echo ", 5);
		core->conn_write(c, l.data, l.len);
		core->conn_write(c, "\r\n", 2);
	}
	return RMAIL_OK;
}

static void on_close(struct rmail_conn *c, void *session, int reason)
{
	struct sess *s = session;

	(void)c;
	(void)reason;
	g_assert_false(s->in_close_call);
	s->closes++;
}

static const struct rmail_proto_ops ops = {
	.size = sizeof(ops),
	.on_accept = on_accept,
	.on_input = on_input,
	.on_close = on_close,
};

static struct rmail_conn *open_one(size_t max_line)
{
	struct rmail_listen_opts o = {
		.size = sizeof(o), .proto = "t", .max_line = max_line};

	return fake_conn_open(&ops, &o, NULL);
}

/* everything a handler writes leaves in one send */
static void test_corked(void)
{
	struct rmail_conn *c = open_one(0);

	g_assert_cmpuint(fake_conn_sends(c), ==, 1);
	fake_conn_output_clear(c);
	fake_conn_feed(c, "a\r\nb\r\nc\r\n", 9);
	g_assert_cmpuint(fake_conn_sends(c), ==, 1);
	g_assert_cmpstr(fake_conn_output(c)->str, ==,
			"echo a\r\necho b\r\necho c\r\n");
	fake_conn_free(&c);
}

/* on_close runs later, from the loop, never inside conn_close */
static void test_close_deferred(void)
{
	struct rmail_conn *c = open_one(0);

	fake_conn_feed(c, "close\r\nnever\r\n", 14);
	g_assert_false(fake_conn_is_closed(c));
	fake_conn_settle(1.0);
	g_assert_true(fake_conn_is_closed(c));
	g_assert_null(strstr(fake_conn_output(c)->str, "never"));
	fake_conn_free(&c);
}

/* suspended input waits, buffered, and comes back from the loop; the
 * line read before the suspension stays valid across later reads */
static void test_suspend(void)
{
	struct rmail_conn *c = open_one(0);

	fake_conn_feed(c, "async\r\naf", 9);
	fake_conn_feed(c, "ter\r\n", 5);
	g_assert_true(fake_conn_is_paused(c));
	g_assert_null(strstr(fake_conn_output(c)->str, "after"));
	fake_conn_settle(1.0);
	g_assert_false(fake_conn_is_paused(c));
	g_assert_cmpstr(fake_conn_output(c)->str, ==,
			"hello\r\nasync done\r\necho after\r\n");
	fake_conn_free(&c);
}

/* a line over max_line is refused once, whatever the split */
static void test_toolong(void)
{
	static const char in[] = "0123456789abcdef\r\nok\r\n";

	for (size_t k = 1; k < sizeof(in) - 1; k++) {
		struct rmail_conn *c = open_one(8);

		fake_conn_feed(c, in, k);
		fake_conn_feed(c, in + k, sizeof(in) - 1 - k);
		g_assert_cmpstr(fake_conn_output(c)->str, ==,
				"hello\r\ntoo long\r\necho ok\r\n");
		fake_conn_free(&c);
	}
}

/* STARTTLS is refused while input is buffered (injection), else the
 * go-ahead written next starts the handshake */
static void test_starttls(void)
{
	struct rmail_conn *c = open_one(0);
	struct rmail_err err = {0};

	fake_conn_feed(c, "async\r\nafter\r\n", 14);
	g_assert_cmpint(core->conn_starttls(c, &err), <, 0);
	g_assert_cmpint(err.code, ==, RMAIL_E_INVAL);
	fake_conn_settle(1.0);
	g_assert_cmpint(core->conn_starttls(c, &err), ==, 0);
	g_assert_cmpint(core->conn_starttls(c, &err), <, 0);
	core->conn_write(c, "go ahead\r\n", 10);
	/* cleartext behind the go-ahead: the handshake fails */
	fake_conn_feed(c, "x", 1);
	g_assert_true(fake_conn_handshaking(c));
	fake_conn_feed_tls(c, "y\r\n", 3);
	fake_conn_settle(1.0);
	g_assert_true(fake_conn_is_closed(c));
	g_assert_cmpint(fake_conn_close_reason(c), ==, RMAIL_CLOSE_ERROR);
	g_assert_null(strstr(fake_conn_output(c)->str, "echo y"));
	fake_conn_free(&c);

	c = open_one(0);
	g_assert_cmpint(core->conn_starttls(c, &err), ==, 0);
	core->conn_write(c, "go ahead\r\n", 10);
	fake_conn_settle(1.0);
	g_assert_true(fake_conn_handshaking(c));
	fake_conn_feed_tls(c, "in tls\r\n", 8);
	g_assert_true(fake_conn_tls(c));
	g_assert_true(g_str_has_suffix(fake_conn_output(c)->str,
				       "go ahead\r\necho in tls\r\n"));
	fake_conn_free(&c);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	core = fake_core_init();
	g_test_add_func("/fake_conn/corked", test_corked);
	g_test_add_func("/fake_conn/close_deferred", test_close_deferred);
	g_test_add_func("/fake_conn/suspend", test_suspend);
	g_test_add_func("/fake_conn/toolong", test_toolong);
	g_test_add_func("/fake_conn/starttls", test_starttls);
	return g_test_run();
}
