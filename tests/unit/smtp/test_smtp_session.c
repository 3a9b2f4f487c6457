/*
 * mod_smtp's session over the fake core and fake connection: no
 * socket, no daemon.  Every transcript runs whole, byte by byte and
 * split at every offset, with identical replies required.
 */
#include <string.h>

#include "fake_core.h"
#include "fake_transcript.h"
#include "smtp_session.h"

static struct smtp_conf conf = {
	.max_message_size = 35 * 1024 * 1024,
	.max_recipients = 100,
	.max_line = 4096,
	.max_header_size = 1024 * 1024,
	.max_headers = 1000,
	.max_errors = 10,
	.idle_timeout = 300,
	.session_timeout = 1800,
	.postmaster = "postmaster@example.test",
	.banner = "ESMTP rmail",
	.ip_messages = 200,
	.user_messages = 500,
	.message_window = 3600,
	.max_auth_failures = 10,
};

static const int kind_mx = SMTP_PORT_MX;
/* the module state mod_smtp.c would hand its listeners as ctx */
static struct smtp_mod mod;

static struct rmail_conn *open_mx(void *arg)
{
	struct rmail_listen_opts o = {
		.size = sizeof(o),
		.proto = "smtp",
		.tls = RMAIL_TLS_NONE,
		.max_line = 4096,
		.arg = (void *)&kind_mx,
	};

	struct rmail_proto_ops ops = smtp_proto_ops;

	(void)arg;
	ops.ctx = &mod;
	return fake_conn_open(&ops, &o, "192.0.2.7");
}

static const struct fake_session_def mx = {open_mx, NULL, NULL};

static const char *after(const char *hay, const char *needle)
{
	const char *p = strstr(hay, needle);

	if (p == NULL)
		g_error("no \"%s\" in:\n%s", needle, hay);
	return p + strlen(needle);
}

/* MAIL, RCPT, DATA in one read, and QUIT behind the end of data: the
 * commit suspends input, QUIT is answered only after the 250 */
static void test_pipelining_data(void)
{
	static const struct fake_step steps[] = {
		{"EHLO client.test\r\n", false},
		{"MAIL FROM:<a@remote.test>\r\n"
		 "RCPT TO:<bob@example.test>\r\n"
		 "RCPT TO:<eve@elsewhere.test>\r\n"
		 "DATA\r\n",
		 false},
		{"Subject: hi\r\n\r\nbody\r\n..dot\r\n.\r\nQUIT\r\n", false},
	};
	const GPtrArray *subs;
	const struct fake_submission *m;
	char *out;
	const char *p;

	fake_core_submissions_clear();
	out = fake_transcript_run(&mx, steps, G_N_ELEMENTS(steps));
	g_assert_true(g_str_has_prefix(out, "220 "));
	p = after(out, "250-PIPELINING");
	p = after(p, "250 2.1.0");
	p = after(p, "250 2.1.5");
	p = after(p, "554 5.7.1");
	p = after(p, "354 ");
	p = after(p, "250 2.0.0");
	p = after(p, "221 2.0.0");
	g_assert_cmpstr(p, ==, " Bye\r\n");
	/* one message per run, and all runs gave the same */
	subs = fake_core_submissions();
	g_assert_cmpuint(subs->len, >, 2);
	for (guint i = 0; i < subs->len; i++) {
		m = g_ptr_array_index(subs, i);
		g_assert_cmpstr(m->mail_from, ==, "a@remote.test");
		g_assert_cmpuint(m->rcpts->len, ==, 1);
		g_assert_cmpstr(g_ptr_array_index(m->rcpts, 0), ==,
				"bob@example.test");
		g_assert_nonnull(strstr(m->data->str,
					"Subject: hi\r\n\r\nbody\r\n.dot\r\n"));
		g_assert_null(strstr(m->data->str, "..dot"));
	}
	g_free(out);
}

static void test_pipelining_bdat(void)
{
	static const struct fake_step steps[] = {
		{"EHLO client.test\r\n", false},
		{"MAIL FROM:<a@remote.test>\r\n"
		 "RCPT TO:<bob@example.test>\r\n"
		 "BDAT 12\r\nSubject: x\r\n"
		 "BDAT 8 LAST\r\n\r\nbody\r\n"
		 "NOOP\r\n",
		 false},
		{"QUIT\r\n", false},
	};
	const GPtrArray *subs;
	const struct fake_submission *m;
	char *out;
	const char *p;

	fake_core_submissions_clear();
	out = fake_transcript_run(&mx, steps, G_N_ELEMENTS(steps));
	p = after(out, "250 CHUNKING");
	p = after(p, "250 2.1.0");
	p = after(p, "250 2.1.5");
	p = after(p, "250 2.0.0"); /* the first chunk */
	p = after(p, "250 2.0.0"); /* the message */
	p = after(p, "250 2.0.0"); /* NOOP, after the commit */
	p = after(p, "221 2.0.0");
	subs = fake_core_submissions();
	g_assert_cmpuint(subs->len, >, 2);
	m = g_ptr_array_index(subs, 0);
	g_assert_cmpstr(m->data->str, ==, "Subject: x\r\n\r\nbody\r\n");
	g_free(out);
}

/* after STARTTLS nothing of the cleartext session is left: EHLO again */
static void test_starttls_reset(void)
{
	static const struct fake_step steps[] = {
		{"EHLO client.test\r\n", false},
		{"STARTTLS\r\n", false},
		{"MAIL FROM:<a@remote.test>\r\n", true},
		{"EHLO client.test\r\nQUIT\r\n", true},
	};
	char *out;
	const char *p;

	out = fake_transcript_run(&mx, steps, G_N_ELEMENTS(steps));
	p = after(out, "250-STARTTLS");
	p = after(p, "220 2.0.0");
	p = after(p, "503 5.5.1");
	g_assert_null(strstr(p, "STARTTLS"));
	p = after(p, "250 ");
	p = after(p, "221 2.0.0");
	g_free(out);
}

/* a command injected behind STARTTLS in cleartext never runs: refused
 * when it is already buffered, a failed handshake when it comes late */
static void test_starttls_injection(void)
{
	static const char inj[] =
		"STARTTLS\r\nMAIL FROM:<evil@remote.test>\r\n";
	size_t len = strlen(inj);

	for (size_t k = 1; k <= len; k++) {
		struct rmail_conn *c = open_mx(NULL);
		const char *out;

		fake_conn_feed(c, "EHLO c\r\n", 8);
		fake_conn_settle(5.0);
		fake_conn_feed(c, inj, k);
		fake_conn_settle(5.0);
		if (k < len) {
			fake_conn_feed(c, inj + k, len - k);
			fake_conn_settle(5.0);
		}
		out = fake_conn_output(c)->str;
		g_assert_null(strstr(out, "250 2.1.0"));
		if (k == len)
			g_assert_false(fake_conn_tls(c));
		/* TLS, if it started, cannot complete: the conn is gone */
		if (strstr(out, "220 2.0.0") != NULL)
			g_assert_true(fake_conn_is_closed(c));
		fake_conn_free(&c);
	}
}

/* replies written in one handler leave in one send */
static void test_corked_replies(void)
{
	struct rmail_conn *c = open_mx(NULL);
	static const char batch[] = "EHLO a\r\nNOOP\r\nNOOP\r\nRSET\r\n";

	fake_conn_settle(5.0);
	g_assert_cmpuint(fake_conn_sends(c), ==, 1); /* the greeting */
	fake_conn_output_clear(c);
	fake_conn_feed(c, batch, strlen(batch));
	g_assert_cmpuint(fake_conn_sends(c), ==, 1);
	g_assert_nonnull(strstr(fake_conn_output(c)->str, "250 2.0.0 Ok\r\n"));
	fake_conn_free(&c);
	g_assert_true(c == NULL);
}

int main(int argc, char **argv)
{
	const struct rmail_core *core;

	g_test_init(&argc, &argv, NULL);
	core = fake_core_init();
	fake_core_set_conf("hostname", "mx.example.test");
	mod.core = core;
	mod.m = fake_core_mctx("smtp", &conf);
	g_test_add_func("/smtp/session/pipelining_data", test_pipelining_data);
	g_test_add_func("/smtp/session/pipelining_bdat", test_pipelining_bdat);
	g_test_add_func("/smtp/session/starttls_reset", test_starttls_reset);
	g_test_add_func("/smtp/session/starttls_injection",
			test_starttls_injection);
	g_test_add_func("/smtp/session/corked_replies", test_corked_replies);
	return g_test_run();
}
