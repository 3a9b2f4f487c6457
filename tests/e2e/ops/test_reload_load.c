/*
 * SIGHUP under load: 20 reloads while 8 SMTP clients deliver and 4
 * logged-in IMAP clients keep asking, each reload waited for through
 * the notify socket.  No listener closes, no session is cut, no command
 * fails, every acknowledged message is in the mailbox once.  Run with
 * one process and with a supervisor and two workers (a rolling reload).
 */
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

#define USER "load@example.test"
#define PW "pw-load"
#define NSMTP 8
#define NIMAP 4
#define RELOADS 20

static struct rmh *H;
static gint stop_flag, errors, refused, acked, imap_ok, imap_in;

static bool expect_code(struct rmh_conn *c, const char *code)
{
	char *line = NULL;
	bool ok;

	/* multi-line replies: the last line has a space after the code */
	for (;;) {
		g_free(line);
		line = rmh_readline(c, 10);
		if (line == NULL || strlen(line) < 4 || line[3] != '-')
			break;
	}
	ok = line != NULL && g_str_has_prefix(line, code);
	if (!ok)
		g_test_message("expected %s, got %s", code,
			       line ? line : "(eof)");
	g_free(line);
	return ok;
}

static gpointer smtp_client(gpointer arg)
{
	guint port = GPOINTER_TO_UINT(arg);
	int n = 0;

	while (!g_atomic_int_get(&stop_flag)) {
		struct rmh_conn *c = rmh_connect(port, false);

		if (c == NULL) {
			g_atomic_int_inc(&refused);
			g_usleep(10000);
			continue;
		}
		if (!expect_code(c, "220") || !rmh_send(c, "EHLO load.test") ||
		    !expect_code(c, "250") ||
		    !rmh_send(c, "MAIL FROM:<x@far.test>") ||
		    !expect_code(c, "250") ||
		    !rmh_send(c, "RCPT TO:<" USER ">") ||
		    !expect_code(c, "250") || !rmh_send(c, "DATA") ||
		    !expect_code(c, "354") ||
		    !rmh_send(c, "Subject: load %d\r\n\r\nbody\r\n.", n++) ||
		    !expect_code(c, "250")) {
			g_atomic_int_inc(&errors);
		} else {
			g_atomic_int_inc(&acked);
			(void)rmh_send(c, "QUIT");
		}
		rmh_conn_close(c);
	}
	return NULL;
}

static gpointer imap_client(gpointer arg)
{
	guint port = GPOINTER_TO_UINT(arg);
	struct rmh_conn *c = rmh_connect(port, false);
	int t = 0;

	if (c == NULL || !rmh_expect(c, "* OK", NULL) ||
	    !rmh_send(c, "a LOGIN " USER " " PW) ||
	    !rmh_expect(c, "a OK", NULL)) {
		g_atomic_int_inc(&errors);
		if (c != NULL)
			rmh_conn_close(c);
		return NULL;
	}
	/* one session for the whole run: a reload must not cut it */
	g_atomic_int_inc(&imap_in);
	while (!g_atomic_int_get(&stop_flag)) {
		char tag[16];

		snprintf(tag, sizeof(tag), "t%d OK", ++t);
		if (!rmh_send(c, "t%d %s", t,
			      t % 2 ? "NOOP" : "STATUS INBOX (MESSAGES)") ||
		    !rmh_expect(c, tag, NULL)) {
			g_atomic_int_inc(&errors);
			break;
		}
		g_atomic_int_inc(&imap_ok);
		g_usleep(5000);
	}
	rmh_conn_close(c);
	return NULL;
}

static void test_reload_under_load(gconstpointer data)
{
	int procs = GPOINTER_TO_INT(data);
	const char *argv[] = {
		"rmail", "-c", NULL, "user", "add", USER, "--password-stdin",
		NULL};
	GThread *th[NSMTP + NIMAP];
	guint smtp, imap;
	char *out = NULL;
	int i, before;

	g_atomic_int_set(&stop_flag, 0);
	g_atomic_int_set(&errors, 0);
	g_atomic_int_set(&refused, 0);
	g_atomic_int_set(&acked, 0);
	g_atomic_int_set(&imap_ok, 0);
	g_atomic_int_set(&imap_in, 0);
	H = rmh_new();
	rmh_setf(H, "processes", "%d", procs);
	smtp = rmh_port(H, "smtp");
	imap = rmh_port(H, "imap");
	rmh_set(H, "modules",
		"[\"mod_shardstore\", \"mod_smtp\", \"mod_imap\"]");
	rmh_setf(H, "smtp",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"submission_listen\": [],"
		 " \"smtps_listen\": []}",
		 smtp);
	rmh_setf(H, "imap",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"imaps_listen\": [],"
		 " \"allow_cleartext_login_loopback\": true}",
		 imap);
	rmh_write_config(H);
	argv[2] = rmh_config_path(H);
	g_assert_cmpint(rmh_run_argv(H, argv, PW "\n", NULL, NULL), ==, 0);
	g_assert_true(rmh_start(H));

	for (i = 0; i < NSMTP; i++)
		th[i] = g_thread_new("smtp", smtp_client,
				     GUINT_TO_POINTER(smtp));
	for (i = 0; i < NIMAP; i++)
		th[NSMTP + i] = g_thread_new("imap", imap_client,
					     GUINT_TO_POINTER(imap));
	/* every IMAP session logged in (a password hash each) before the
	 * first reload, so the reloads happen under them */
	for (int k = 0; k < 1000 && g_atomic_int_get(&imap_in) < NIMAP; k++)
		g_usleep(10000);
	g_assert_cmpint(g_atomic_int_get(&imap_in), ==, NIMAP);
	for (i = 0; i < RELOADS; i++) {
		int imap_before = g_atomic_int_get(&imap_ok);

		before = g_atomic_int_get(&acked);
		rmh_notify_mark(H);
		rmh_signal(H, SIGHUP);
		g_assert_true(rmh_wait_notify(H, "READY=1", 30));
		/* some load between reloads, bounded */
		for (int k = 0;
		     k < 200 && (g_atomic_int_get(&acked) < before + 5 ||
				 g_atomic_int_get(&imap_ok) < imap_before + 1);
		     k++)
			g_usleep(10000);
	}
	g_atomic_int_set(&stop_flag, 1);
	for (i = 0; i < NSMTP + NIMAP; i++)
		g_thread_join(th[i]);
	g_test_message("acked %d, imap commands %d", g_atomic_int_get(&acked),
		       g_atomic_int_get(&imap_ok));
	g_assert_cmpint(g_atomic_int_get(&errors), ==, 0);
	g_assert_cmpint(g_atomic_int_get(&refused), ==, 0);
	g_assert_cmpint(g_atomic_int_get(&acked), >=, RELOADS * 5);
	g_assert_cmpint(g_atomic_int_get(&imap_ok), >=, RELOADS);

	/* every acknowledged message is there, once */
	{
		struct rmh_conn *c = rmh_connect(imap, false);
		char *want = g_strdup_printf("* STATUS \"INBOX\" (MESSAGES %d)",
					     g_atomic_int_get(&acked));

		g_assert_true(rmh_expect(c, "* OK", NULL));
		g_assert_true(rmh_send(c, "a LOGIN " USER " " PW));
		g_assert_true(rmh_expect(c, "a OK", NULL));
		g_assert_true(rmh_send(c, "b STATUS INBOX (MESSAGES)"));
		g_assert_true(rmh_expect(c, "* STATUS", &out));
		g_assert_cmpstr(out, ==, want);
		g_free(out);
		g_free(want);
		rmh_conn_close(c);
	}
	g_assert_cmpint(rmh_stop(H), ==, 0);
	rmh_free(H);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_data_func("/ops/reload_under_load/processes1",
			     GINT_TO_POINTER(1), test_reload_under_load);
	g_test_add_data_func("/ops/reload_under_load/processes2",
			     GINT_TO_POINTER(2), test_reload_under_load);
	return g_test_run();
}
