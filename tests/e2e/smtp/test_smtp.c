/*
 * mod_smtp end to end: the real daemon with mod_shardstore and mod_smtp
 * on three loopback listeners (MX, submission, implicit TLS), users made
 * with `rmail user add`, deliveries checked by reading the mail root.
 * One daemon serves most cases; those needing other settings (rate
 * limits with loopback out of limits.exempt, the AUTH failure penalty,
 * a quota user, a short session time) start their own.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "harness.h"

#define DOM "example.test"
#define ALICE "alice@" DOM /* admin: the postmaster */
#define BOB "bob@" DOM
#define PW "secret-pw"

static struct rmh *H;
static guint P25, P587, P465;

/* ---- daemon set-up ----------------------------------------------------- */

static void add_user(struct rmh *h, const char *addr, bool admin)
{
	const char *argv[] = {
		"rmail", "-c", rmh_config_path(h), "user",
		"add",	 addr, "--password-stdin", admin ? "--admin" : NULL,
		NULL};
	char *out = NULL, *err = NULL;
	int rc = rmh_run_argv(h, argv, PW "\n", &out, &err);

	if (rc != 0)
		g_test_message("user add %s: %s", addr, err);
	g_assert_cmpint(rc, ==, 0);
	g_free(out);
	g_free(err);
}

static void add_alias(struct rmh *h, const char *alias, const char *to)
{
	char *out = NULL, *err = NULL;
	int rc = rmh_run(h, &out, &err, "alias", "add", alias, to, NULL);

	if (rc != 0)
		g_test_message("alias add %s: %s", alias, err);
	g_assert_cmpint(rc, ==, 0);
	g_free(out);
	g_free(err);
}

/* configured and with users, not started: a case may add its own */
static struct rmh *daemon_prep(const char *extra_smtp, const char *limits)
{
	struct rmh *h = rmh_new();
	guint a = rmh_port(h, "smtp"), b = rmh_port(h, "submission"),
	      c = rmh_port(h, "smtps");

	rmh_set(h, "modules", "[\"mod_shardstore\", \"mod_smtp\"]");
	rmh_setf(h, "smtp",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"submission_listen\": [\"127.0.0.1:%u\"], "
		 "\"smtps_listen\": [\"127.0.0.1:%u\"]%s%s}",
		 a, b, c, extra_smtp != NULL ? ", " : "",
		 extra_smtp != NULL ? extra_smtp : "");
	if (limits != NULL)
		rmh_set(h, "limits", limits);
	rmh_write_config(h);
	add_user(h, ALICE, true);
	add_user(h, BOB, false);
	add_alias(h, "sales@" DOM, ALICE);
	return h;
}

static struct rmh *daemon_new(const char *extra_smtp, const char *limits)
{
	struct rmh *h = daemon_prep(extra_smtp, limits);

	g_assert_true(rmh_start(h));
	return h;
}

static void daemon_done(struct rmh *h)
{
	g_assert_cmpint(rmh_stop(h), ==, 0);
	rmh_free(h);
}

/* ---- client helpers ---------------------------------------------------- */

/* a whole reply; returns its last line (free it), NULL on EOF */
static char *reply(struct rmh_conn *c, GString *all)
{
	char *line;

	while ((line = rmh_readline(c, 10)) != NULL) {
		if (all != NULL)
			g_string_append_printf(all, "%s\n", line);
		if (strlen(line) < 4 || line[3] != '-')
			return line;
		g_free(line);
	}
	return NULL;
}

static void expect(struct rmh_conn *c, const char *prefix)
{
	char *l = reply(c, NULL);

	if (l == NULL || !g_str_has_prefix(l, prefix))
		g_error("expected \"%s\", got \"%s\"", prefix,
			l != NULL ? l : "(EOF)");
	g_free(l);
}

static void cmd(struct rmh_conn *c, const char *prefix, const char *line)
{
	g_assert_true(rmh_send(c, "%s", line));
	expect(c, prefix);
}

/* EOF after the last reply: the server closed */
static void expect_eof(struct rmh_conn *c)
{
	char *l = rmh_readline(c, 10);

	if (l != NULL)
		g_error("expected EOF, got \"%s\"", l);
}

static struct rmh_conn *open_mx(void)
{
	struct rmh_conn *c = rmh_connect(P25, false);

	g_assert_nonnull(c);
	expect(c, "220 ");
	cmd(c, "250 ", "EHLO client.test");
	return c;
}

static char *plain_b64(const char *user, const char *pw)
{
	GString *s = g_string_new(NULL);
	char *b;

	g_string_append_c(s, '\0');
	g_string_append(s, user);
	g_string_append_c(s, '\0');
	g_string_append(s, pw);
	b = g_base64_encode((const guchar *)s->str, s->len);
	g_string_free(s, TRUE);
	return b;
}

/* 587 of h: EHLO, STARTTLS, EHLO again, AUTH PLAIN as user */
static struct rmh_conn *open_sub_on(struct rmh *h, const char *user)
{
	struct rmh_conn *c = rmh_connect(rmh_port(h, "submission"), false);
	char *b, *line;

	g_assert_nonnull(c);
	expect(c, "220 ");
	cmd(c, "250 ", "EHLO client.test");
	cmd(c, "220 ", "STARTTLS");
	g_assert_true(rmh_conn_starttls(c));
	cmd(c, "250 ", "EHLO client.test");
	if (user != NULL) {
		b = plain_b64(user, PW);
		line = g_strdup_printf("AUTH PLAIN %s", b);
		cmd(c, "235 2.7.0", line);
		g_free(line);
		g_free(b);
	}
	return c;
}

static struct rmh_conn *open_sub(const char *user)
{
	return open_sub_on(H, user);
}

static void send_msg(struct rmh_conn *c, const char *from, const char *to,
		     const char *hdr_from, const char *marker,
		     const char *final)
{
	char *l;

	l = g_strdup_printf("MAIL FROM:<%s>", from);
	cmd(c, "250 ", l);
	g_free(l);
	l = g_strdup_printf("RCPT TO:<%s>", to);
	cmd(c, "250 ", l);
	g_free(l);
	cmd(c, "354 ", "DATA");
	g_assert_true(rmh_send(c,
			       "From: <%s>\r\nTo: <%s>\r\nSubject: %s"
			       "\r\n\r\nbody of %s\r\n..stuffed\r\n.",
			       hdr_from, to, marker, marker));
	expect(c, final);
}

/* messages in user's INBOX whose text contains marker */
static int inbox_count(struct rmh *h, const char *user, const char *marker)
{
	char *local = g_strndup(user, strchr(user, '@') - user);
	char *dir = g_build_filename(rmh_dir(h), "mail", "domains", DOM,
				     "users", local, NULL);
	char *argv[] = {"grep",		"-rlF", "--include=*.eml",
			(char *)marker, dir,	NULL};
	char *out = NULL, **lines;
	int n = 0;

	g_assert_true(
		g_spawn_sync(NULL, argv, NULL,
			     G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
			     NULL, NULL, &out, NULL, NULL, NULL));
	lines = g_strsplit(out != NULL ? out : "", "\n", -1);
	for (char **l = lines; *l != NULL; l++)
		if (strstr(*l, "/INBOX") != NULL)
			n++;
	g_strfreev(lines);
	g_free(out);
	g_free(dir);
	g_free(local);
	return n;
}

/* ---- cases --------------------------------------------------------------- */

static void test_ehlo_cleartext(void)
{
	struct rmh_conn *c = rmh_connect(P25, false);
	GString *all = g_string_new(NULL);
	char *l;

	g_assert_nonnull(c);
	expect(c, "220 ");
	g_assert_true(rmh_send(c, "EHLO client.test"));
	l = reply(c, all);
	g_assert_nonnull(l);
	g_free(l);
	g_assert_nonnull(strstr(all->str, "250-STARTTLS"));
	g_assert_nonnull(strstr(all->str, "PIPELINING"));
	g_assert_nonnull(strstr(all->str, "SIZE "));
	g_assert_nonnull(strstr(all->str, "8BITMIME"));
	g_assert_nonnull(strstr(all->str, "ENHANCEDSTATUSCODES"));
	g_assert_nonnull(strstr(all->str, "SMTPUTF8"));
	g_assert_nonnull(strstr(all->str, "CHUNKING"));
	g_assert_null(strstr(all->str, "AUTH"));
	cmd(c, "538 5.7.11", "AUTH PLAIN AGFsaWNlAHg=");
	cmd(c, "252 ", "VRFY bob");
	cmd(c, "214", "HELP");
	cmd(c, "250 ", "NOOP");
	cmd(c, "221 ", "QUIT");
	rmh_conn_close(c);
	g_string_free(all, TRUE);
}

/* files under h's mail root for user@dom holding marker */
static int mail_count(struct rmh *h, const char *dom, const char *local,
		      const char *marker)
{
	char *dir = g_build_filename(rmh_dir(h), "mail", "domains", dom,
				     "users", local, NULL);
	char *argv[] = {"grep",		"-rlF", "--include=*.eml",
			(char *)marker, dir,	NULL};
	char *out = NULL, **lines;
	int n = 0;

	g_assert_true(
		g_spawn_sync(NULL, argv, NULL,
			     G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
			     NULL, NULL, &out, NULL, NULL, NULL));
	lines = g_strsplit(out != NULL ? out : "", "\n", -1);
	for (char **l = lines; *l != NULL; l++)
		n += **l != '\0';
	g_strfreev(lines);
	g_free(out);
	g_free(dir);
	return n;
}

static gboolean wait_mail(struct rmh *h, const char *dom, const char *local,
			  const char *marker)
{
	for (int i = 0; i < 200; i++) {
		if (mail_count(h, dom, local, marker) > 0)
			return TRUE;
		g_usleep(50000);
	}
	return FALSE;
}

/*
 * REQUIRETLS (RFC 8689) through two daemons: A takes the message on
 * submission with REQUIRETLS and relays it over verified TLS (a route
 * with B's CA) to B, which offers REQUIRETLS; a route without TLS
 * cannot carry it and A bounces.  On cleartext the parameter is
 * refused and not offered.
 */
static void test_requiretls(void)
{
	char *cert = rmh_source_path("tests/certs/cert.pem");
	char *key = rmh_source_path("tests/certs/key.pem");
	struct rmh *b = rmh_new(), *a;
	guint b25 = rmh_port(b, "smtp");
	struct rmh_conn *c;
	GString *all = g_string_new(NULL);
	char *l;

	rmh_set(b, "modules", "[\"mod_shardstore\", \"mod_smtp\"]");
	rmh_set(b, "hostname", "\"mx.b.test\"");
	rmh_setf(b, "smtp",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"submission_listen\": [\"127.0.0.1:%u\"], "
		 "\"smtps_listen\": [\"127.0.0.1:%u\"]}",
		 b25, rmh_port(b, "submission"), rmh_port(b, "smtps"));
	rmh_setf(b, "tls", "{\"cert_file\": \"%s\", \"key_file\": \"%s\"}",
		 cert, key);
	rmh_write_config(b);
	add_user(b, "carol@b.test", false);
	g_assert_true(rmh_start(b));

	a = daemon_prep(NULL, NULL);
	rmh_setf(a, "delivery",
		 "{\"routes\": {\"b.test\": {\"host\": \"127.0.0.1:%u\", "
		 "\"ca_file\": \"%s\"}, \"plain.test\": {\"host\": "
		 "\"127.0.0.1:%u\", \"tls\": \"none\"}}}",
		 b25, cert, b25);
	rmh_write_config(a);
	g_assert_true(rmh_start(a));

	/* cleartext port 25: not offered, refused */
	c = rmh_connect(rmh_port(a, "smtp"), false);
	g_assert_nonnull(c);
	expect(c, "220 ");
	g_assert_true(rmh_send(c, "EHLO client.test"));
	l = reply(c, all);
	g_free(l);
	g_assert_null(strstr(all->str, "REQUIRETLS"));
	cmd(c, "530 5.7.10", "MAIL FROM:<x@remote.test> REQUIRETLS");
	cmd(c, "221 ", "QUIT");
	rmh_conn_close(c);

	/* submission under TLS: offered, taken, relayed to B */
	c = open_sub_on(a, ALICE);
	g_string_truncate(all, 0);
	g_assert_true(rmh_send(c, "EHLO client.test"));
	l = reply(c, all);
	g_free(l);
	g_assert_nonnull(strstr(all->str, "REQUIRETLS"));
	cmd(c, "250 ", "MAIL FROM:<" ALICE "> REQUIRETLS");
	cmd(c, "250 ", "RCPT TO:<carol@b.test>");
	cmd(c, "354 ", "DATA");
	g_assert_true(rmh_send(c, "From: <" ALICE ">\r\nTo: <carol@b.test>\r\n"
				  "Subject: rt-e2e-1\r\n\r\nbody\r\n."));
	expect(c, "250 ");
	g_assert_true(wait_mail(b, "b.test", "carol", "rt-e2e-1"));
	g_assert_true(rmh_wait_log(a, "verify=Verified policy=route", 5));

	/* a route without TLS cannot carry it: a DSN back to alice */
	cmd(c, "250 ", "MAIL FROM:<" ALICE "> REQUIRETLS");
	cmd(c, "250 ", "RCPT TO:<dave@plain.test>");
	cmd(c, "354 ", "DATA");
	g_assert_true(rmh_send(c, "From: <" ALICE ">\r\nTo: <dave@plain.test>"
				  "\r\nSubject: rt-e2e-2\r\n\r\nbody\r\n."));
	expect(c, "250 ");
	cmd(c, "221 ", "QUIT");
	rmh_conn_close(c);
	g_assert_true(wait_mail(a, DOM, "alice", "5.7.30"));
	g_assert_cmpint(mail_count(b, "b.test", "carol", "rt-e2e-2"), ==, 0);

	daemon_done(a);
	daemon_done(b);
	g_string_free(all, TRUE);
	g_free(cert);
	g_free(key);
}

static void test_submission_plain(void)
{
	struct rmh_conn *c = rmh_connect(P587, false);
	GString *all = g_string_new(NULL);
	char *l;

	g_assert_nonnull(c);
	expect(c, "220 ");
	cmd(c, "250 ", "EHLO client.test");
	/* submission wants STARTTLS and AUTH before MAIL */
	cmd(c, "530 5.7.0", "MAIL FROM:<" ALICE ">");
	cmd(c, "220 ", "STARTTLS");
	g_assert_true(rmh_conn_starttls(c));
	/* the cleartext EHLO is forgotten */
	cmd(c, "503 5.5.1", "MAIL FROM:<" ALICE ">");
	g_assert_true(rmh_send(c, "EHLO client.test"));
	l = reply(c, all);
	g_free(l);
	g_assert_nonnull(strstr(all->str, "AUTH PLAIN LOGIN"));
	g_assert_null(strstr(all->str, "STARTTLS"));
	cmd(c, "530 5.7.0", "MAIL FROM:<" ALICE ">");
	l = plain_b64(ALICE, PW);
	g_assert_true(rmh_send(c, "AUTH PLAIN %s", l));
	g_free(l);
	expect(c, "235 2.7.0");
	send_msg(c, ALICE, BOB, ALICE, "e2e-plain-1", "250 2.0.0");
	/* the sender may relay once authenticated */
	cmd(c, "250 ", "MAIL FROM:<" ALICE ">");
	cmd(c, "250 ", "RCPT TO:<someone@remote.invalid>");
	cmd(c, "250 ", "RSET");
	cmd(c, "221 ", "QUIT");
	rmh_conn_close(c);
	g_assert_cmpint(inbox_count(H, BOB, "e2e-plain-1"), ==, 1);
	g_string_free(all, TRUE);
}

static void test_smtps_login(void)
{
	struct rmh_conn *c = rmh_connect(P465, true);
	char *u = g_base64_encode((const guchar *)BOB, strlen(BOB));
	char *p = g_base64_encode((const guchar *)PW, strlen(PW));

	g_assert_nonnull(c);
	expect(c, "220 ");
	cmd(c, "250 ", "EHLO client.test");
	cmd(c, "334 VXNlcm5hbWU6", "AUTH LOGIN");
	cmd(c, "334 UGFzc3dvcmQ6", u);
	cmd(c, "235 2.7.0", p);
	cmd(c, "503 5.5.1", "AUTH LOGIN");
	send_msg(c, BOB, ALICE, BOB, "e2e-login-1", "250 2.0.0");
	cmd(c, "221 ", "QUIT");
	rmh_conn_close(c);
	g_assert_cmpint(inbox_count(H, ALICE, "e2e-login-1"), ==, 1);
	g_free(u);
	g_free(p);
}

static void test_wrong_password(void)
{
	struct rmh_conn *c = open_sub(NULL);
	GString *s = g_string_new(NULL);
	char *b;

	g_string_append_c(s, '\0');
	g_string_append(s, BOB);
	g_string_append_c(s, '\0');
	g_string_append(s, "wrong");
	b = g_base64_encode((const guchar *)s->str, s->len);
	g_assert_true(rmh_send(c, "AUTH PLAIN %s", b));
	expect(c, "535 5.7.8");
	g_assert_true(
		rmh_wait_log(H, "event=auth_failed proto=smtp user=" BOB, 5));
	cmd(c, "530 5.7.0", "MAIL FROM:<" BOB ">");
	/* a malformed SASL response is logged the same way */
	cmd(c, "501 5.5.2", "AUTH PLAIN !!!");
	cmd(c, "221 ", "QUIT");
	rmh_conn_close(c);
	g_free(b);
	g_string_free(s, TRUE);
}

static void test_relay_unknown(void)
{
	struct rmh_conn *c = open_mx();

	cmd(c, "250 ", "MAIL FROM:<sender@remote.test>");
	cmd(c, "554 5.7.1", "RCPT TO:<victim@elsewhere.test>");
	cmd(c, "550 5.1.1", "RCPT TO:<nobody@" DOM ">");
	cmd(c, "554 5.5.1", "DATA");
	cmd(c, "250 ", "RCPT TO:<" BOB ">");
	cmd(c, "250 ", "RCPT TO:<sales@" DOM ">");
	cmd(c, "221 ", "QUIT");
	rmh_conn_close(c);
}

static void test_mx_delivery(void)
{
	struct rmh_conn *c = open_mx();

	send_msg(c, "sender@remote.test", BOB, "sender@remote.test", "e2e-mx-1",
		 "250 2.0.0");
	cmd(c, "221 ", "QUIT");
	rmh_conn_close(c);
	g_assert_cmpint(inbox_count(H, BOB, "e2e-mx-1"), ==, 1);
	g_assert_cmpint(inbox_count(H, BOB, "stuffed"), >=, 1);
}

static void test_spoofing(void)
{
	struct rmh_conn *c = open_sub(BOB);

	cmd(c, "553 5.7.1", "MAIL FROM:<" ALICE ">");
	cmd(c, "553 5.7.1", "MAIL FROM:<sales@" DOM ">");
	send_msg(c, BOB, ALICE, ALICE, "e2e-spoof-hdr", "550 5.7.1");
	rmh_conn_close(c);
	c = open_sub(ALICE);
	/* an alias the user owns is fine, as MAIL FROM and as From: */
	send_msg(c, "sales@" DOM, BOB, "sales@" DOM, "e2e-alias-ok",
		 "250 2.0.0");
	rmh_conn_close(c);
	g_assert_cmpint(inbox_count(H, ALICE, "e2e-spoof-hdr"), ==, 0);
	g_assert_cmpint(inbox_count(H, BOB, "e2e-alias-ok"), ==, 1);
}

static void test_postmaster(void)
{
	struct rmh_conn *c = open_mx();

	send_msg(c, "x@remote.test", "postmaster@" DOM, "x@remote.test",
		 "e2e-postmaster", "250 2.0.0");
	cmd(c, "250 ", "MAIL FROM:<>");
	cmd(c, "250 ", "RCPT TO:<Postmaster>");
	cmd(c, "221 ", "QUIT");
	rmh_conn_close(c);
	g_assert_cmpint(inbox_count(H, ALICE, "e2e-postmaster"), ==, 1);
}

static void test_pipelining(void)
{
	struct rmh_conn *c = rmh_connect(P25, false);
	const char *batch = "EHLO client.test\r\nMAIL FROM:<p@remote.test>\r\n"
			    "RCPT TO:<nobody@" DOM ">\r\nRCPT TO:<" BOB ">\r\n"
			    "DATA\r\nSubject: e2e-pipe\r\n\r\nx\r\n.\r\n"
			    "NOOP\r\nQUIT\r\n";

	g_assert_nonnull(c);
	expect(c, "220 ");
	g_assert_true(rmh_send_raw(c, batch, strlen(batch)));
	expect(c, "250 ");
	expect(c, "250 2.1.0");
	expect(c, "550 5.1.1");
	expect(c, "250 2.1.5");
	expect(c, "354 ");
	expect(c, "250 2.0.0");
	expect(c, "250 2.0.0");
	expect(c, "221 ");
	expect_eof(c);
	rmh_conn_close(c);
	g_assert_cmpint(inbox_count(H, BOB, "e2e-pipe"), ==, 1);
}

static void test_starttls_injection(void)
{
	struct rmh_conn *c = open_mx();
	const char *inj = "STARTTLS\r\nMAIL FROM:<evil@remote.test>\r\n";

	g_assert_true(rmh_send_raw(c, inj, strlen(inj)));
	expect(c, "554 5.5.1");
	expect_eof(c);
	rmh_conn_close(c);
}

static void test_smuggling(void)
{
	static const char *const ends[] = {
		"\n.\n", "\n.\r\n", "\r.\r", "\r\n.\r", "\r\n.\n", "\r.\r\n",
	};

	for (guint i = 0; i < G_N_ELEMENTS(ends); i++) {
		struct rmh_conn *c = open_mx();
		char *outer = g_strdup_printf("e2e-smug-outer-%u", i);
		char *inner = g_strdup_printf("e2e-smug-inner-%u", i);
		char *payload = g_strdup_printf(
			"Subject: %s\r\n\r\nfirst%sMAIL FROM:<x@remote.test>"
			"\r\nRCPT TO:<" BOB ">\r\nDATA\r\nSubject: %s\r\n\r\n"
			"second\r\n.\r\n",
			outer, ends[i], inner);

		cmd(c, "250 ", "MAIL FROM:<a@remote.test>");
		cmd(c, "250 ", "RCPT TO:<" BOB ">");
		cmd(c, "354 ", "DATA");
		g_assert_true(rmh_send_raw(c, payload, strlen(payload)));
		expect(c, "521 5.5.2");
		expect_eof(c);
		rmh_conn_close(c);
		g_assert_cmpint(inbox_count(H, BOB, inner), ==, 0);
		g_assert_cmpint(inbox_count(H, BOB, outer), ==, 0);
		g_free(outer);
		g_free(inner);
		g_free(payload);
	}
	/* bare LF in a command line */
	{
		struct rmh_conn *c = open_mx();

		g_assert_true(rmh_send_raw(c, "NOOP\n", 5));
		expect(c, "521 5.5.2");
		expect_eof(c);
		rmh_conn_close(c);
	}
}

static void test_limits(void)
{
	struct rmh_conn *c = open_mx();
	GString *big = g_string_new("Subject: e2e-big\r\n\r\n");
	char *l;

	cmd(c, "552 5.3.4", "MAIL FROM:<a@remote.test> SIZE=999999999");
	cmd(c, "250 ", "MAIL FROM:<a@remote.test>");
	for (int i = 0; i < 3; i++)
		cmd(c, "250 ", "RCPT TO:<" BOB ">");
	cmd(c, "452 4.5.3", "RCPT TO:<" BOB ">");
	cmd(c, "354 ", "DATA");
	while (big->len < 70 * 1024)
		g_string_append(big, "0123456789abcdef0123456789abcdef"
				     "0123456789abcdef0123456789abcdef\r\n");
	g_string_append(big, ".\r\n");
	g_assert_true(rmh_send_raw(c, big->str, big->len));
	expect(c, "552 5.3.4");
	/* a command line over max_line */
	l = g_strnfill(5000, 'A');
	cmd(c, "500 5.5.6", l);
	cmd(c, "250 ", "NOOP");
	cmd(c, "221 ", "QUIT");
	rmh_conn_close(c);
	g_assert_cmpint(inbox_count(H, BOB, "e2e-big"), ==, 0);
	g_free(l);
	g_string_free(big, TRUE);
}

static void test_max_errors(void)
{
	struct rmh_conn *c = open_mx();

	for (int i = 0; i < 4; i++)
		cmd(c, "500 ", "BOGUS");
	g_assert_true(rmh_send(c, "BOGUS"));
	expect(c, "500 ");
	expect(c, "421 4.7.0");
	expect_eof(c);
	rmh_conn_close(c);
}

static void test_bdat(void)
{
	struct rmh_conn *c = open_mx();
	const char *part1 = "Subject: e2e-bdat\r\n\r\nfirst chunk\r\n";
	const char *part2 = ".starts with a dot, no stuffing\r\n";
	char *l;

	cmd(c, "503 5.5.1", "BDAT 0 LAST");
	cmd(c, "250 ", "MAIL FROM:<a@remote.test>");
	cmd(c, "250 ", "RCPT TO:<" BOB ">");
	l = g_strdup_printf("BDAT %zu", strlen(part1));
	g_assert_true(rmh_send(c, "%s", l));
	g_assert_true(rmh_send_raw(c, part1, strlen(part1)));
	expect(c, "250 ");
	g_free(l);
	l = g_strdup_printf("BDAT %zu LAST", strlen(part2));
	g_assert_true(rmh_send(c, "%s", l));
	g_assert_true(rmh_send_raw(c, part2, strlen(part2)));
	expect(c, "250 2.0.0");
	g_free(l);
	cmd(c, "221 ", "QUIT");
	rmh_conn_close(c);
	g_assert_cmpint(inbox_count(H, BOB, "e2e-bdat"), ==, 1);
	g_assert_cmpint(inbox_count(H, BOB, ".starts with a dot"), ==, 1);
}

static void test_idle_timeout(void)
{
	struct rmh_conn *c = open_mx();
	char *l = rmh_readline(c, 10);

	g_assert_nonnull(l);
	g_assert_true(g_str_has_prefix(l, "421 4.4.2"));
	g_free(l);
	expect_eof(c);
	rmh_conn_close(c);
}

static void test_rate_limit(void)
{
	struct rmh *h = daemon_new("\"rate\": {\"ip_messages\": 2}",
				   "{\"exempt\": []}");
	struct rmh_conn *c = rmh_connect(rmh_port(h, "smtp"), false);

	g_assert_nonnull(c);
	expect(c, "220 ");
	cmd(c, "250 ", "EHLO client.test");
	for (int i = 0; i < 2; i++) {
		cmd(c, "250 ", "MAIL FROM:<a@remote.test>");
		cmd(c, "250 ", "RSET");
	}
	cmd(c, "450 4.7.1", "MAIL FROM:<a@remote.test>");
	/* relay rules still hold for everyone */
	rmh_conn_close(c);
	g_assert_cmpint(rmh_stop(h), ==, 0);
	rmh_free(h);
}

/* how many times needle is in the daemon's log so far */
static int log_count(struct rmh *h, const char *needle)
{
	char *log = rmh_stderr(h), *p = log;
	int n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	g_free(log);
	return n;
}

#define CAROL "carol@" DOM /* 1 MB quota */

static void test_quota_rcpt(void)
{
	struct rmh *h = daemon_prep(NULL, NULL);
	const char *argv[] = {"rmail", "-c",  rmh_config_path(h), "user",
			      "add",   CAROL, "--password-stdin", "--quota-mb",
			      "1",     NULL};
	struct rmh_conn *c;
	char *out = NULL, *err = NULL;

	g_assert_cmpint(rmh_run_argv(h, argv, PW "\n", &out, &err), ==, 0);
	g_free(out);
	g_free(err);
	g_assert_true(rmh_start(h));
	c = rmh_connect(rmh_port(h, "smtp"), false);
	g_assert_nonnull(c);
	expect(c, "220 ");
	cmd(c, "250 ", "EHLO client.test");
	/* a size that fits is accepted: the refusal is about the quota */
	cmd(c, "250 ", "MAIL FROM:<a@remote.test> SIZE=1000");
	cmd(c, "250 ", "RCPT TO:<" CAROL ">");
	cmd(c, "250 ", "RSET");
	cmd(c, "250 ", "MAIL FROM:<a@remote.test> SIZE=2000000");
	cmd(c, "452 4.2.2", "RCPT TO:<" CAROL ">");
	/* per recipient: one without a quota still gets it */
	cmd(c, "250 ", "RCPT TO:<" BOB ">");
	cmd(c, "221 ", "QUIT");
	rmh_conn_close(c);
	daemon_done(h);
}

static void test_auth_penalty(void)
{
	struct rmh *h =
		daemon_new("\"rate\": {\"max_auth_failures\": 3}", NULL);
	struct rmh_conn *c = open_sub_on(h, NULL);
	char *bad = plain_b64(BOB, "wrong"), *good = plain_b64(BOB, PW);
	const char *line = "event=auth_failed proto=smtp user=" BOB
			   " rip=127.0.0.1 reason=bad_credentials";

	/* the penalty holds for exempt networks (loopback) too */
	for (int i = 0; i < 3; i++) {
		g_assert_true(rmh_send(c, "AUTH PLAIN %s", bad));
		expect(c, "535 5.7.8");
		g_assert_true(rmh_wait_log(h, line, 5));
		g_assert_cmpint(log_count(h, line), ==, i + 1);
	}
	/* over the limit even the right password is not tried */
	g_assert_true(rmh_send(c, "AUTH PLAIN %s", good));
	expect(c, "454 4.7.0");
	g_assert_true(rmh_wait_log(h, "reason=rate_limited", 5));
	cmd(c, "530 5.7.0", "MAIL FROM:<" BOB ">");
	rmh_conn_close(c);
	/* per IP, not per connection */
	c = open_sub_on(h, NULL);
	g_assert_true(rmh_send(c, "AUTH PLAIN %s", good));
	expect(c, "454 4.7.0");
	rmh_conn_close(c);
	g_assert_cmpint(log_count(h, line), ==, 3);
	g_assert_cmpint(log_count(h, "reason=rate_limited"), ==, 2);
	g_free(bad);
	g_free(good);
	daemon_done(h);
}

static void test_user_rate(void)
{
	struct rmh *h = daemon_new("\"rate\": {\"user_messages\": 2}",
				   "{\"exempt\": []}");
	struct rmh_conn *c = open_sub_on(h, BOB);
	char *l;

	for (int i = 0; i < 2; i++) {
		cmd(c, "250 ", "MAIL FROM:<" BOB ">");
		cmd(c, "250 ", "RSET");
	}
	g_assert_true(rmh_send(c, "MAIL FROM:<" BOB ">"));
	l = reply(c, NULL);
	g_assert_nonnull(l);
	g_assert_true(g_str_has_prefix(l, "450 4.7.1 "));
	g_assert_nonnull(strstr(l, "too many messages from this user"));
	g_free(l);
	rmh_conn_close(c);
	/* per user: another user from the same address still may send */
	c = open_sub_on(h, ALICE);
	cmd(c, "250 ", "MAIL FROM:<" ALICE ">");
	cmd(c, "221 ", "QUIT");
	rmh_conn_close(c);
	daemon_done(h);
}

static void test_session_timeout(void)
{
	struct rmh *h = daemon_new("\"session_timeout\": \"2s\"", NULL);
	struct rmh_conn *c = rmh_connect(rmh_port(h, "smtp"), false);
	gint64 t0 = g_get_monotonic_time();
	char *l = NULL;
	int i;

	g_assert_nonnull(c);
	expect(c, "220 ");
	cmd(c, "250 ", "EHLO client.test");
	/* never idle: only the total session time can end it */
	for (i = 0; i < 40; i++) {
		g_usleep(G_USEC_PER_SEC / 4);
		if (!rmh_send(c, "NOOP"))
			break;
		l = reply(c, NULL);
		if (l == NULL || !g_str_has_prefix(l, "250 "))
			break;
		g_free(l);
		l = NULL;
	}
	g_assert_nonnull(l);
	g_assert_true(g_str_has_prefix(l, "421 4.4.2"));
	g_assert_nonnull(strstr(l, "session time limit"));
	g_assert_cmpint(g_get_monotonic_time() - t0, >=,
			G_USEC_PER_SEC * 3 / 2);
	g_free(l);
	expect_eof(c);
	rmh_conn_close(c);
	daemon_done(h);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	H = daemon_new("\"max_message_size\": \"64K\", \"max_recipients\": 3,"
		       " \"max_errors\": 5, \"idle_timeout\": \"3s\"",
		       NULL);
	P25 = rmh_port(H, "smtp");
	P587 = rmh_port(H, "submission");
	P465 = rmh_port(H, "smtps");
	g_test_add_func("/smtp/ehlo-cleartext", test_ehlo_cleartext);
	g_test_add_func("/smtp/submission-plain", test_submission_plain);
	g_test_add_func("/smtp/requiretls", test_requiretls);
	g_test_add_func("/smtp/smtps-login", test_smtps_login);
	g_test_add_func("/smtp/wrong-password", test_wrong_password);
	g_test_add_func("/smtp/relay-unknown", test_relay_unknown);
	g_test_add_func("/smtp/mx-delivery", test_mx_delivery);
	g_test_add_func("/smtp/spoofing", test_spoofing);
	g_test_add_func("/smtp/postmaster", test_postmaster);
	g_test_add_func("/smtp/pipelining", test_pipelining);
	g_test_add_func("/smtp/r-starttls-injection", test_starttls_injection);
	g_test_add_func("/smtp/r-smuggling", test_smuggling);
	g_test_add_func("/smtp/limits", test_limits);
	g_test_add_func("/smtp/max-errors", test_max_errors);
	g_test_add_func("/smtp/bdat", test_bdat);
	g_test_add_func("/smtp/idle-timeout", test_idle_timeout);
	g_test_add_func("/smtp/rate-limit", test_rate_limit);
	g_test_add_func("/smtp/quota-rcpt", test_quota_rcpt);
	g_test_add_func("/smtp/auth-penalty", test_auth_penalty);
	g_test_add_func("/smtp/user-rate", test_user_rate);
	g_test_add_func("/smtp/session-timeout", test_session_timeout);
	rc = g_test_run();
	if (rmh_stop(H) != 0)
		rc = 1;
	rmh_free(H);
	return rc;
}
