/*
 * The login and session-end lines an administrator reads, end to end:
 * one daemon with IMAP, SMTP submission and the HTTP API; each protocol
 * logs a failed and a good login once, with user, client address, TLS
 * version and session id, and every session's end with its byte counts
 * and duration.  A TLS client that leaves without close_notify is no
 * info-level event.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exhc.h"
#include "harness.h"

#define DOM "example.test"
#define ALICE "alice@" DOM
#define PW "right-pw"

struct d {
	struct rmh *h;
	guint imap, sub, api;
};

static struct d *start(void)
{
	struct d *d = g_new0(struct d, 1);
	const char *argv[] = {
		"rmail", "-c", NULL, "user", "add", ALICE, "--password-stdin",
		NULL};
	char *out = NULL, *err = NULL;

	d->h = rmh_new();
	d->imap = rmh_port(d->h, "imap");
	d->sub = rmh_port(d->h, "submission");
	d->api = rmh_port(d->h, "api");
	rmh_set(d->h, "modules",
		"[\"mod_shardstore\", \"mod_imap\", \"mod_smtp\", "
		"\"mod_exchange\"]");
	rmh_setf(d->h, "imap", "{\"listen\": [\"127.0.0.1:%u\"]}", d->imap);
	rmh_setf(d->h, "smtp",
		 "{\"listen\": [], \"submission_listen\": [\"127.0.0.1:%u\"]}",
		 d->sub);
	rmh_setf(d->h, "exchange_api", "{\"listen\": [\"127.0.0.1:%u\"]}",
		 d->api);
	rmh_write_config(d->h);
	argv[2] = rmh_config_path(d->h);
	g_assert_cmpint(rmh_run_argv(d->h, argv, PW "\n", &out, &err), ==, 0);
	g_free(out);
	g_free(err);
	g_assert_true(rmh_start(d->h));
	return d;
}

static void stop(struct d *d)
{
	g_assert_cmpint(rmh_stop(d->h), ==, 0);
	rmh_free(d->h);
	g_free(d);
}

/* the whole log line holding every needle (g_free), or NULL */
static char *log_line(struct d *d, const char *a, const char *b)
{
	char *log = rmh_stderr(d->h), **lines = g_strsplit(log, "\n", -1);
	char *found = NULL;

	for (char **l = lines; *l != NULL && found == NULL; l++)
		if (strstr(*l, a) != NULL && (b == NULL || strstr(*l, b)))
			found = g_strdup(*l);
	g_strfreev(lines);
	g_free(log);
	return found;
}

static int log_count(struct d *d, const char *needle)
{
	char *log = rmh_stderr(d->h), *p = log;
	int n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	g_free(log);
	return n;
}

/* wait for the line with both needles (g_free) */
static char *wait_line(struct d *d, const char *a, const char *b)
{
	char *l = NULL;

	for (int i = 0; i < 100 && (l = log_line(d, a, b)) == NULL; i++)
		g_usleep(50000);
	if (l == NULL)
		g_error("no log line with \"%s\" and \"%s\"", a, b ? b : "");
	g_test_message("log: %s", l);
	return l;
}

/* the value of key= on a log line (g_free) */
static char *field(const char *line, const char *key)
{
	char *k = g_strdup_printf(" %s=", key);
	const char *p = strstr(line, k);
	char *v;

	if (p == NULL)
		g_error("no %s= in \"%s\"", key, line);
	p += strlen(k);
	v = g_strndup(p, strcspn(p, " "));
	g_free(k);
	return v;
}

static void check_field(const char *line, const char *key, const char *want)
{
	char *v = field(line, key);

	if (strcmp(v, want) != 0)
		g_error("%s=%s, expected %s, in \"%s\"", key, v, want, line);
	g_free(v);
}

static guint64 num_field(const char *line, const char *key)
{
	char *v = field(line, key), *end;
	guint64 n = g_ascii_strtoull(v, &end, 10);

	if (*v == '\0' || (*end != '\0' && *end != '.'))
		g_error("%s=%s is no number in \"%s\"", key, v, line);
	g_free(v);
	return n;
}

/* ---- a counting client ------------------------------------------- */

struct cl {
	struct rmh_conn *c;
	guint64 sent, got; /* protocol bytes, lines with CRLF */
};

static void cl_send(struct cl *c, const char *line)
{
	g_assert_true(rmh_send(c->c, "%s", line));
	c->sent += strlen(line) + 2;
}

static char *cl_read(struct cl *c)
{
	char *l = rmh_readline(c->c, 15);

	g_assert_nonnull(l);
	c->got += strlen(l) + 2;
	return l;
}

/* read up to the line starting with prefix; false at EOF */
static void cl_expect(struct cl *c, const char *prefix)
{
	for (;;) {
		char *l = cl_read(c);
		bool done = g_str_has_prefix(l, prefix);

		g_free(l);
		if (done)
			return;
	}
}

/* the session id of the one line with both needles */
static char *session_of(struct d *d, const char *a, const char *b)
{
	char *l = wait_line(d, a, b), *id = field(l, "session");

	g_free(l);
	return id;
}

static void check_end(struct d *d, const char *proto, const char *id,
		      const char *user, const char *tls, struct cl *c)
{
	char *needle = g_strdup_printf("event=session_end proto=%s session=%s ",
				       proto, id);
	char *l = wait_line(d, needle, NULL);
	guint64 in = num_field(l, "in"), out = num_field(l, "out");

	check_field(l, "user", user);
	check_field(l, "rip", "127.0.0.1");
	check_field(l, "tls", tls);
	(void)num_field(l, "duration");
	if (c != NULL) {
		/* in: exactly what the client sent; out: at least what it
		 * read (TLS would not count: these are protocol bytes) */
		g_assert_cmpuint(in, ==, c->sent);
		g_assert_cmpuint(out, >=, c->got);
		g_assert_cmpuint(out, <, c->got + 4096);
	} else {
		g_assert_cmpuint(in, >, 0);
		g_assert_cmpuint(out, >, 0);
	}
	g_assert_cmpint(log_count(d, needle), ==, 1);
	g_free(l);
	g_free(needle);
}

static void test_imap(void)
{
	struct d *d = start();
	struct cl c = {.c = rmh_connect(d->imap, false)};
	char *id, *l, *again;

	g_assert_nonnull(c.c);
	cl_expect(&c, "* OK");
	cl_send(&c, "a STARTTLS");
	cl_expect(&c, "a OK");
	g_assert_true(rmh_conn_starttls(c.c));
	cl_send(&c, "b LOGIN " ALICE " wrong-pw");
	cl_expect(&c, "b NO");
	cl_send(&c, "c LOGIN " ALICE " " PW);
	cl_expect(&c, "c OK");
	id = session_of(d, "event=auth_failed proto=imap user=" ALICE, NULL);
	l = wait_line(d, "event=auth_failed proto=imap", NULL);
	check_field(l, "rip", "127.0.0.1");
	check_field(l, "reason", "bad_credentials");
	check_field(l, "tls", "TLSv1.3");
	g_free(l);
	l = wait_line(d, "event=login proto=imap user=" ALICE " rip=127.0.0.1",
		      NULL);
	check_field(l, "tls", "TLSv1.3");
	again = field(l, "session");
	g_assert_cmpstr(again, ==, id);
	g_free(again);
	g_free(l);
	cl_send(&c, "d SELECT INBOX");
	cl_expect(&c, "d OK");
	cl_send(&c, "e LOGOUT");
	cl_expect(&c, "e OK");
	rmh_conn_close(c.c);
	check_end(d, "imap", id, ALICE, "TLSv1.3", &c);
	/* once each */
	g_assert_cmpint(log_count(d, "event=login proto=imap"), ==, 1);
	g_assert_cmpint(log_count(d, "event=auth_failed proto=imap"), ==, 1);
	g_free(id);
	stop(d);
}

static void smtp_auth(struct cl *c, const char *user, const char *pw,
		      const char *want)
{
	GString *s = g_string_new(NULL);
	char *b, *line;

	g_string_append_c(s, '\0');
	g_string_append(s, user);
	g_string_append_c(s, '\0');
	g_string_append(s, pw);
	b = g_base64_encode((const guchar *)s->str, s->len);
	line = g_strdup_printf("AUTH PLAIN %s", b);
	cl_send(c, line);
	cl_expect(c, want);
	g_free(line);
	g_free(b);
	g_string_free(s, TRUE);
}

static void test_smtp(void)
{
	struct d *d = start();
	struct cl c = {.c = rmh_connect(d->sub, false)};
	char *id, *l;

	g_assert_nonnull(c.c);
	cl_expect(&c, "220 ");
	cl_send(&c, "EHLO client.test");
	cl_expect(&c, "250 ");
	cl_send(&c, "STARTTLS");
	cl_expect(&c, "220 ");
	g_assert_true(rmh_conn_starttls(c.c));
	cl_send(&c, "EHLO client.test");
	cl_expect(&c, "250 ");
	smtp_auth(&c, ALICE, "wrong-pw", "535 ");
	smtp_auth(&c, ALICE, PW, "235 ");
	cl_send(&c, "QUIT");
	cl_expect(&c, "221 ");
	rmh_conn_close(c.c);
	l = wait_line(d, "event=auth_failed proto=smtp user=" ALICE, NULL);
	check_field(l, "reason", "bad_credentials");
	check_field(l, "tls", "TLSv1.3");
	id = field(l, "session");
	g_free(l);
	l = wait_line(d, "event=login proto=smtp user=" ALICE " rip=127.0.0.1",
		      NULL);
	check_field(l, "tls", "TLSv1.3");
	check_field(l, "session", id);
	g_free(l);
	check_end(d, "submission", id, ALICE, "TLSv1.3", &c);
	g_assert_cmpint(log_count(d, "event=login proto=smtp"), ==, 1);
	g_assert_cmpint(log_count(d, "event=auth_failed proto=smtp"), ==, 1);
	g_free(id);
	stop(d);
}

static void test_api(void)
{
	struct d *d = start();
	char *tok, *l, *id;
	int st = 0;

	tok = ex_login(d->api, false, NULL, ALICE, "wrong-pw", NULL, &st);
	g_assert_cmpint(st, ==, 401);
	g_assert_null(tok);
	tok = ex_login(d->api, false, NULL, ALICE, PW, NULL, &st);
	g_assert_cmpint(st, ==, 200);
	g_assert_nonnull(tok);
	g_free(tok);
	l = wait_line(d, "event=auth_failed proto=http user=" ALICE, NULL);
	check_field(l, "reason", "bad_credentials");
	check_field(l, "tls", "-");
	id = field(l, "session");
	check_end(d, "http", id, "-", "-", NULL);
	g_free(id);
	g_free(l);
	l = wait_line(d, "event=login proto=http user=" ALICE " rip=127.0.0.1",
		      NULL);
	id = field(l, "session");
	check_end(d, "http", id, ALICE, "-", NULL);
	g_free(id);
	g_free(l);
	g_assert_cmpint(log_count(d, "event=login proto=http"), ==, 1);
	g_assert_cmpint(log_count(d, "event=auth_failed proto=http"), ==, 1);
	stop(d);
}

/* Most clients close TLS without close_notify: an EOF, not an event. */
static void test_tls_eof_quiet(void)
{
	struct d *d = start();
	struct cl c = {.c = rmh_connect(d->imap, false)};
	char *id;

	g_assert_nonnull(c.c);
	cl_expect(&c, "* OK");
	cl_send(&c, "a STARTTLS");
	cl_expect(&c, "a OK");
	g_assert_true(rmh_conn_starttls(c.c));
	cl_send(&c, "b LOGIN " ALICE " " PW);
	cl_expect(&c, "b OK");
	rmh_conn_abort(c.c);
	id = session_of(d, "event=login proto=imap", NULL);
	check_end(d, "imap", id, ALICE, "TLSv1.3", &c);
	g_free(wait_line(d, "event=session_end proto=imap",
			 " reason=peer_closed"));
	g_assert_null(log_line(d, "TLS read failed", NULL));
	g_assert_null(log_line(d, "unexpected eof", NULL));
	g_free(id);
	stop(d);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/session_log/imap", test_imap);
	g_test_add_func("/session_log/smtp", test_smtp);
	g_test_add_func("/session_log/api", test_api);
	g_test_add_func("/session_log/tls_eof_quiet", test_tls_eof_quiet);
	return g_test_run();
}
