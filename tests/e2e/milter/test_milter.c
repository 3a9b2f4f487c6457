/*
 * mod_milter against the real daemon (mod_shardstore + mod_smtp +
 * mod_milter) and a scripted milter (tests/support/test_milter.py):
 * each action reaches the SMTP client at its step (a RCPT refusal for
 * that recipient only, the end-of-data verdict for the message), the
 * edits land in the stored copy and in the relayed one (a sink SMTP
 * server as the next hop), the macros and the ABORT between
 * transactions reach the milter.  Then the same milter in hostile
 * modes (stalls, truncated and malformed replies), switched by
 * SIGHUP: each costs one timeout or one protocol error, logged, and
 * default_action answers.
 */
#include <glib.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "sink.h"

#define DOM "example.test"
#define BOB "bob@" DOM
#define CAROL "carol@" DOM
#define ALICE "alice@" DOM
#define PW "secret-pw"

static struct rmh *H;
static guint SINK;
static GPid MILTER_PID;
static char *MILTER_LOG;
static guint MILTER_PORT;

/* ---- the milter process ------------------------------------------- */

static void milter_stop(void)
{
	if (MILTER_PID != 0) {
		kill(MILTER_PID, SIGKILL);
		(void)waitpid(MILTER_PID, NULL, 0);
		g_spawn_close_pid(MILTER_PID);
		MILTER_PID = 0;
	}
}

/* the milter never outlives a test that failed */
static void child_setup(gpointer data)
{
	(void)data;
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void milter_start(const char *mode)
{
	char *script = rmh_source_path("tests/support/test_milter.py");
	char *pf = g_strdup_printf("%s/milter-%s.port", rmh_dir(H), mode);
	char *argv[] = {"python3", script, pf, NULL, (char *)mode, NULL};
	GError *e = NULL;
	char *txt = NULL;
	gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

	milter_stop();
	g_free(MILTER_LOG);
	MILTER_LOG = g_strdup_printf("%s/milter-%s.log", rmh_dir(H), mode);
	argv[3] = MILTER_LOG;
	(void)unlink(pf);
	(void)unlink(MILTER_LOG);
	if (!g_spawn_async(NULL, argv, NULL,
			   G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
				   G_SPAWN_STDOUT_TO_DEV_NULL,
			   child_setup, NULL, &MILTER_PID, &e))
		g_error("python3 test_milter.py: %s", e->message);
	while (!g_file_get_contents(pf, &txt, NULL, NULL)) {
		if (g_get_monotonic_time() > end)
			g_error("the test milter did not start");
		g_usleep(20000);
	}
	MILTER_PORT = (guint)atoi(txt);
	g_free(txt);
	g_free(pf);
	g_free(script);
}

static char *milter_log(void)
{
	char *t = NULL;

	if (!g_file_get_contents(MILTER_LOG, &t, NULL, NULL))
		return g_strdup("");
	return t;
}

/* the milter's log has needle, waiting a little (it logs as it goes) */
static gboolean milter_saw(const char *needle)
{
	gint64 end = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;

	do {
		char *t = milter_log();
		gboolean hit = strstr(t, needle) != NULL;

		g_free(t);
		if (hit)
			return TRUE;
		g_usleep(20000);
	} while (g_get_monotonic_time() < end);
	return FALSE;
}

/* ---- the daemon --------------------------------------------------- */

static void configure(const char *extra)
{
	rmh_setf(H, "milter",
		 "{\"milters\": [\"{ inet:127.0.0.1:%u%s }\"], "
		 "\"connect_timeout\": \"2s\", \"command_timeout\": \"1s\", "
		 "\"content_timeout\": \"1s\"}",
		 MILTER_PORT, extra != NULL ? extra : "");
	rmh_write_config(H);
}

static void reload_with(const char *mode, const char *extra)
{
	milter_start(mode);
	configure(extra);
	rmh_notify_mark(H);
	rmh_signal(H, SIGHUP);
	g_assert_true(rmh_wait_notify(H, "READY=1", 30));
}

/* ---- SMTP --------------------------------------------------------- */

static char *reply(struct rmh_conn *c)
{
	char *line;

	while ((line = rmh_readline(c, 10)) != NULL) {
		if (strlen(line) < 4 || line[3] != '-')
			return line;
		g_free(line);
	}
	return NULL;
}

static void want(const char *l, const char *prefix);

static void expect(struct rmh_conn *c, const char *prefix)
{
	char *l = reply(c);

	want(l, prefix);
	g_free(l);
}

static void cmd(struct rmh_conn *c, const char *prefix, const char *line)
{
	g_assert_true(rmh_send(c, "%s", line));
	expect(c, prefix);
}

static struct rmh_conn *open_mx(const char *helo)
{
	struct rmh_conn *c = rmh_connect(rmh_port(H, "smtp"), false);
	char *l;

	g_assert_nonnull(c);
	expect(c, "220 ");
	l = g_strdup_printf("EHLO %s", helo);
	cmd(c, "250", l);
	g_free(l);
	return c;
}

static guint counter;

/* a message with a unique tag in its body (From: a remote sender on
 * port 25, alice on submission) */
static char *message_from(const char *from, const char *tag,
			  const char *headers)
{
	return g_strdup_printf("From: <%s>\r\nTo: <" BOB ">\r\n"
			       "Subject: case %s\r\n%s"
			       "Message-ID: <%s.%u@client.test>\r\n\r\n"
			       "body %s\r\nsecond line\r\n",
			       from, tag, headers ? headers : "", tag,
			       counter++, tag);
}

static char *message(const char *tag, const char *headers)
{
	return message_from("sender@remote.example", tag, headers);
}

/* MAIL, RCPTs (each must get want_rcpt), DATA: the final reply */
static char *send_to(struct rmh_conn *c, const char *from,
		     const char *const *rcpts, const char *msg)
{
	char *l = g_strdup_printf("MAIL FROM:<%s>", from);

	cmd(c, "250 ", l);
	g_free(l);
	for (; *rcpts != NULL; rcpts++) {
		l = g_strdup_printf("RCPT TO:<%s>", *rcpts);
		cmd(c, "250 ", l);
		g_free(l);
	}
	cmd(c, "354 ", "DATA");
	g_assert_true(rmh_send_raw(c, msg, strlen(msg)));
	g_assert_true(rmh_send(c, "."));
	l = reply(c);
	g_assert_nonnull(l);
	return l;
}

static char *send_one(const char *tag, const char *headers, const char *rcpt)
{
	struct rmh_conn *c = open_mx("client.test");
	const char *rcpts[] = {rcpt != NULL ? rcpt : BOB, NULL};
	char *msg = message(tag, headers), *l;

	l = send_to(c, "sender@remote.example", rcpts, msg);
	(void)rmh_send(c, "QUIT");
	rmh_conn_close(c);
	g_free(msg);
	return l;
}

/* l starts with prefix, else the failure with the daemon's log */
static void want(const char *l, const char *prefix)
{
	if (l == NULL || !g_str_has_prefix(l, prefix)) {
		char *log = rmh_stderr(H);

		g_error("expected \"%s\", got \"%s\"; daemon log:\n%s", prefix,
			l != NULL ? l : "(EOF)", log);
	}
}

/* ---- the stored copies -------------------------------------------- */

static void find_all(const char *dir, const char *tag, GPtrArray *out)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *e;

	if (d == NULL)
		return;
	while ((e = g_dir_read_name(d)) != NULL) {
		char *p = g_build_filename(dir, e, NULL), *text = NULL;

		if (g_file_test(p, G_FILE_TEST_IS_DIR)) {
			find_all(p, tag, out);
		} else if (g_str_has_suffix(e, ".eml") &&
			   g_file_get_contents(p, &text, NULL, NULL) &&
			   strstr(text, tag) != NULL) {
			g_ptr_array_add(out,
					g_strdup_printf("%s\n%s", p, text));
		}
		g_free(text);
		g_free(p);
	}
	g_dir_close(d);
}

/* "path\ntext" of every stored copy with tag */
static GPtrArray *stored(const char *tag)
{
	char *dir = g_build_filename(rmh_dir(H), "mail", NULL);
	GPtrArray *a = g_ptr_array_new_with_free_func(g_free);

	find_all(dir, tag, a);
	g_free(dir);
	return a;
}

static char *stored_one(const char *tag)
{
	GPtrArray *a = stored(tag);
	char *t;

	g_assert_cmpuint(a->len, ==, 1);
	t = g_strdup(a->pdata[0]);
	g_ptr_array_unref(a);
	return t;
}

/* ---- the scripted milter ------------------------------------------ */

static void test_rcpt_reject(void)
{
	struct rmh_conn *c = open_mx("client.test");
	char *msg = message("tag-rcpt", NULL), *l, *t;

	cmd(c, "250 ", "MAIL FROM:<sender@remote.example>");
	/* refused at RCPT: that recipient only */
	cmd(c, "550 5.7.1 Recipient refused by milter",
	    "RCPT TO:<refused@" DOM ">");
	cmd(c, "250 ", "RCPT TO:<" BOB ">");
	cmd(c, "354 ", "DATA");
	g_assert_true(rmh_send_raw(c, msg, strlen(msg)));
	g_assert_true(rmh_send(c, "."));
	l = reply(c);
	want(l, "250 ");
	g_free(l);
	cmd(c, "221 ", "QUIT");
	rmh_conn_close(c);
	t = stored_one("tag-rcpt");
	g_assert_nonnull(strstr(t, "/bob"));
	g_free(t);
	g_free(msg);
}

static void test_mail_tempfail(void)
{
	struct rmh_conn *c = open_mx("client.test");

	cmd(c, "451 4.7.1", "MAIL FROM:<tempfail@remote.example>");
	/* the session goes on: a next transaction is fine */
	cmd(c, "250 ", "MAIL FROM:<sender@remote.example>");
	cmd(c, "221 ", "QUIT");
	rmh_conn_close(c);
}

static void test_helo_reject(void)
{
	struct rmh_conn *c = rmh_connect(rmh_port(H, "smtp"), false);

	expect(c, "220 ");
	cmd(c, "554 5.7.1 Go away", "EHLO reject.client");
	cmd(c, "554 5.7.1 Go away", "EHLO reject.client");
	cmd(c, "221 ", "QUIT");
	rmh_conn_close(c);
}

static void test_eom_reject(void)
{
	char *l = send_one("tag-eomrej", "X-Milter: reject\r\n", NULL);
	GPtrArray *a;

	g_assert_cmpstr(l, ==, "554 5.7.1 Content refused by the test milter");
	g_free(l);
	a = stored("tag-eomrej");
	g_assert_cmpuint(a->len, ==, 0);
	g_ptr_array_unref(a);
}

static void test_eom_tempfail(void)
{
	char *l = send_one("tag-eomtmp", "X-Milter: tempfail\r\n", NULL);

	want(l, "451 4.7.1");
	g_free(l);
}

static void test_edit(void)
{
	char *l = send_one("tag-edit",
			   "X-Milter: edit\r\nX-Delete-Me: please\r\n"
			   "X-Add-Rcpt: " CAROL "\r\nX-Del-Rcpt: " BOB "\r\n",
			   NULL);
	char *t, *hdr;

	want(l, "250 ");
	g_free(l);
	/* bob was taken out, carol added: one copy, carol's */
	t = stored_one("tag-edit");
	g_assert_nonnull(strstr(t, "/carol"));
	hdr = g_strndup(t, strstr(t, "\r\n\r\n") - t + 2);
	g_test_message("%s", t);
	g_assert_nonnull(strstr(hdr, "\r\nX-Milter-Added: yes\r\n"));
	g_assert_nonnull(strstr(hdr, "\r\nSubject: edited by milter\r\n"));
	g_assert_null(strstr(hdr, "Subject: case"));
	g_assert_null(strstr(hdr, "X-Delete-Me"));
	/* inserted at index 0: above our own Received */
	g_assert_nonnull(strstr(hdr, "X-First: top"));
	g_assert_true(strstr(hdr, "X-First: top") < strstr(hdr, "Received:"));
	g_assert_nonnull(strstr(t, "body tag-edit\r\nsecond line\r\n"));
	g_free(hdr);
	g_free(t);
}

static void test_edit_unknown_rcpt(void)
{
	/* a recipient a milter adds goes through the user check */
	char *l = send_one("tag-addnouser",
			   "X-Milter: edit\r\n"
			   "X-Add-Rcpt: nosuchuser@" DOM "\r\n",
			   NULL);
	GPtrArray *a;

	want(l, "250 ");
	g_free(l);
	a = stored("tag-addnouser");
	g_assert_cmpuint(a->len, ==, 1);
	g_assert_nonnull(strstr(a->pdata[0], "/bob"));
	g_ptr_array_unref(a);
	g_assert_true(rmh_wait_log(
		H, "<nosuchuser@" DOM "> added by a filter refused", 5));
}

static void test_body(void)
{
	char *l = send_one("tag-body", "X-Milter: body\r\n", NULL);
	char *t;

	want(l, "250 ");
	g_free(l);
	t = stored_one("tag-body");
	g_assert_true(
		g_str_has_suffix(t, "\r\n\r\nreplaced by the milter\r\n"));
	g_free(t);
}

static void test_quarantine(void)
{
	char *l = send_one("tag-quar", "X-Milter: quarantine\r\n", NULL);
	char *t;

	want(l, "250 ");
	g_free(l);
	t = stored_one("tag-quar");
	g_assert_nonnull(strstr(t, "Junk"));
	g_free(t);
}

static void test_discard(void)
{
	char *l = send_one("tag-discard", "X-Milter: discard\r\n", NULL);
	GPtrArray *a;

	want(l, "250 ");
	g_free(l);
	a = stored("tag-discard");
	g_assert_cmpuint(a->len, ==, 0);
	g_ptr_array_unref(a);
}

static void test_relayed(void)
{
	char *l = send_one("tag-relay", "X-Milter: edit\r\nX-Delete-Me: x\r\n",
			   "someone@remote.test");
	gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
	char *m = NULL;

	want(l, "250 ");
	g_free(l);
	/* the port-25 sender is not authenticated: no relay for it, the
	 * test uses the submission port instead */
	(void)end;
	(void)m;
}

static void test_relayed_submission(void)
{
	struct rmh_conn *c = rmh_connect(rmh_port(H, "smtps"), true);
	GString *s = g_string_new(NULL);
	const char *rcpts[] = {"someone@remote.test", NULL};
	char *b, *line, *msg, *l, *m = NULL;
	gint64 end = g_get_monotonic_time() + 15 * G_USEC_PER_SEC;

	g_assert_nonnull(c);
	expect(c, "220 ");
	cmd(c, "250", "EHLO client.test");
	g_string_append_c(s, '\0');
	g_string_append(s, ALICE);
	g_string_append_c(s, '\0');
	g_string_append(s, PW);
	b = g_base64_encode((const guchar *)s->str, s->len);
	line = g_strdup_printf("AUTH PLAIN %s", b);
	cmd(c, "235 ", line);
	g_free(line);
	g_free(b);
	g_string_free(s, TRUE);
	msg = message_from(ALICE, "tag-relay",
			   "X-Milter: edit\r\nX-Delete-Me: x\r\n");
	l = send_to(c, ALICE, rcpts, msg);
	want(l, "250 ");
	g_free(l);
	g_free(msg);
	cmd(c, "221 ", "QUIT");
	rmh_conn_close(c);
	while (m == NULL && g_get_monotonic_time() < end) {
		for (guint i = 0; i < sink_count() && m == NULL; i++) {
			char *t = sink_message(i);

			if (strstr(t, "tag-relay") != NULL)
				m = t;
			else
				g_free(t);
		}
		if (m == NULL)
			g_usleep(50000);
	}
	g_assert_nonnull(m);
	g_assert_nonnull(strstr(m, "X-Milter-Added: yes"));
	g_assert_nonnull(strstr(m, "Subject: edited by milter"));
	g_assert_null(strstr(m, "X-Delete-Me"));
	g_free(m);
}

static void test_macros_and_abort(void)
{
	struct rmh_conn *c = open_mx("macro.client");
	const char *rcpts[] = {BOB, NULL};
	char *msg = message("tag-macro", NULL), *l, *qid;

	cmd(c, "250 ", "MAIL FROM:<abort@remote.example>");
	cmd(c, "250 ", "RSET");
	g_assert_true(milter_saw("\nA\n"));
	l = send_to(c, "macro@remote.example", rcpts, msg);
	want(l, "250 2.0.0 Ok: queued as ");
	qid = g_strdup(l + strlen("250 2.0.0 Ok: queued as "));
	g_free(l);
	cmd(c, "221 ", "QUIT");
	rmh_conn_close(c);
	g_assert_true(milter_saw("H macro.client"));
	g_assert_true(milter_saw("{client_addr}=127.0.0.1"));
	g_assert_true(milter_saw("j=mail.example.test"));
	g_assert_true(milter_saw("{mail_addr}=macro@remote.example"));
	g_assert_true(milter_saw("{rcpt_addr}=" BOB));
	g_assert_true(milter_saw("M <macro@remote.example>"));
	l = g_strdup_printf("i=%s", qid);
	g_assert_true(milter_saw(l));
	g_free(l);
	/* our own Received is the first field the milter gets */
	g_assert_true(milter_saw("L Received: from macro.client"));
	g_free(qid);
	g_free(msg);
}

static void test_pipelined(void)
{
	struct rmh_conn *c = open_mx("client.test");
	char *msg = message("tag-pipe", NULL);
	char *burst = g_strdup_printf("MAIL FROM:<sender@remote.example>\r\n"
				      "RCPT TO:<refused@" DOM
				      ">\r\nRCPT TO:<" BOB ">\r\n"
				      "DATA\r\n");

	g_assert_true(rmh_send_raw(c, burst, strlen(burst)));
	expect(c, "250 ");
	expect(c, "550 5.7.1 Recipient refused");
	expect(c, "250 ");
	expect(c, "354 ");
	g_assert_true(rmh_send_raw(c, msg, strlen(msg)));
	cmd(c, "250 ", ".");
	cmd(c, "221 ", "QUIT");
	rmh_conn_close(c);
	g_free(burst);
	g_free(msg);
}

/* ---- hostile milters ---------------------------------------------- */

struct hostile {
	const char *mode;
	const char *extra; /* per-milter settings */
	const char *why;   /* in the log */
	const char *at;	   /* "ehlo", "mail", "eom": where the 451 lands */
};

static const struct hostile hostiles[] = {
	{"stall", NULL, "timed out waiting for a reply", "ehlo"},
	{"stall-eom", NULL, "timed out waiting for a reply", "eom"},
	{"truncate", NULL, "the milter closed the connection", "ehlo"},
	{"badlen", NULL, "bad packet length", "ehlo"},
	{"huge", NULL, "bad packet length", "ehlo"},
	{"garbage", NULL, "unknown reply", "ehlo"},
	{"badcode", NULL, "malformed reply code", "mail"},
	{"unasked", NULL, "reply nobody asked for", "ehlo"},
	{"optneg-short", NULL, "not an option negotiation", "ehlo"},
};

static void run_hostile(gconstpointer data)
{
	const struct hostile *h = data;
	struct rmh_conn *c;
	char *needle, *l, *msg;
	gint64 t0;

	reload_with(h->mode, h->extra);
	t0 = g_get_monotonic_time();
	c = rmh_connect(rmh_port(H, "smtp"), false);
	expect(c, "220 ");
	if (strcmp(h->at, "ehlo") == 0) {
		cmd(c, "451 4.7.1", "EHLO client.test");
		/* tempfail for the rest of the session */
		cmd(c, "451 4.7.1", "EHLO client.test");
	} else if (strcmp(h->at, "mail") == 0) {
		cmd(c, "250", "EHLO client.test");
		cmd(c, "451 4.7.1", "MAIL FROM:<sender@remote.example>");
		cmd(c, "451 4.7.1", "MAIL FROM:<sender@remote.example>");
	} else {
		const char *rcpts[] = {BOB, NULL};

		cmd(c, "250", "EHLO client.test");
		msg = message("tag-hostile", NULL);
		l = send_to(c, "sender@remote.example", rcpts, msg);
		want(l, "451 4.7.1");
		g_free(l);
		g_free(msg);
	}
	cmd(c, "221 ", "QUIT");
	rmh_conn_close(c);
	/* one timeout at most, not one per command */
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 4 * G_USEC_PER_SEC);
	needle = g_strdup_printf("milter inet:127.0.0.1:%u: %s", MILTER_PORT,
				 h->why);
	g_assert_true(rmh_wait_log(H, needle, 5));
	g_free(needle);
}

static void test_down_accept(void)
{
	struct rmh_conn *c;
	const char *rcpts[] = {BOB, NULL};
	char *msg = message("tag-downaccept", NULL), *l;

	reload_with("script", ", default_action=accept");
	milter_stop(); /* nothing listens on its port now */
	c = open_mx("client.test");
	l = send_to(c, "sender@remote.example", rcpts, msg);
	want(l, "250 ");
	g_free(l);
	cmd(c, "221 ", "QUIT");
	rmh_conn_close(c);
	g_free(stored_one("tag-downaccept"));
	g_free(msg);
	g_assert_true(rmh_wait_log(H, "default_action accept", 5));
}

int main(int argc, char **argv)
{
	const char *user_add[] = {
		"rmail", "-c", NULL, "user", "add", NULL, "--password-stdin",
		NULL};
	const char *users[] = {ALICE, BOB, CAROL, "refused@" DOM};
	char *out = NULL, *errs = NULL;
	int rc;

	g_test_init(&argc, &argv, NULL);
	SINK = sink_start();
	H = rmh_new();
	milter_start("script");
	rmh_set(H, "modules",
		"[\"mod_shardstore\", \"mod_smtp\", \"mod_milter\"]");
	rmh_setf(H, "smtp",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"submission_listen\": [], "
		 "\"smtps_listen\": [\"127.0.0.1:%u\"]}",
		 rmh_port(H, "smtp"), rmh_port(H, "smtps"));
	rmh_setf(H, "delivery",
		 "{\"retry_initial\": \"1h\", "
		 "\"routes\": {\"remote.test\": \"127.0.0.1:%u\"}}",
		 SINK);
	configure(NULL);
	user_add[2] = rmh_config_path(H);
	for (size_t i = 0; i < G_N_ELEMENTS(users); i++) {
		user_add[5] = users[i];
		rc = rmh_run_argv(H, user_add, PW "\n", &out, &errs);
		g_assert_cmpint(rc, ==, 0);
		g_free(out);
		g_free(errs);
	}
	g_assert_true(rmh_start(H));

	g_test_add_func("/milter/rcpt-reject", test_rcpt_reject);
	g_test_add_func("/milter/mail-tempfail", test_mail_tempfail);
	g_test_add_func("/milter/helo-reject", test_helo_reject);
	g_test_add_func("/milter/eom-reject", test_eom_reject);
	g_test_add_func("/milter/eom-tempfail", test_eom_tempfail);
	g_test_add_func("/milter/edit", test_edit);
	g_test_add_func("/milter/edit-unknown-rcpt", test_edit_unknown_rcpt);
	g_test_add_func("/milter/body", test_body);
	g_test_add_func("/milter/quarantine", test_quarantine);
	g_test_add_func("/milter/discard", test_discard);
	g_test_add_func("/milter/relayed", test_relayed_submission);
	g_test_add_func("/milter/macros-abort", test_macros_and_abort);
	g_test_add_func("/milter/pipelined", test_pipelined);
	for (size_t i = 0; i < G_N_ELEMENTS(hostiles); i++) {
		char *n =
			g_strdup_printf("/milter/hostile/%s", hostiles[i].mode);

		g_test_add_data_func(n, &hostiles[i], run_hostile);
		g_free(n);
	}
	g_test_add_func("/milter/down-accept", test_down_accept);
	rc = g_test_run();
	(void)test_relayed;
	milter_stop();
	g_assert_cmpint(rmh_stop(H), ==, 0);
	rmh_free(H);
	g_free(MILTER_LOG);
	return rc;
}
