/*
 * The 1.4 event "messages moved between special-use mailboxes" end to
 * end: mod_imap's COPY and MOVE report through core->event_emit, the
 * core hands each message to the fixture consumer (fx_event.c), which
 * writes a line per event.  Moves into and out of \Junk are events; a
 * move between two mailboxes without special use is not.
 */
#include <glib.h>
#include <string.h>

#include "harness.h"
#include "imap_client.h"

#define USER "ev@example.test"

static struct imd D;
static char *LOG;

static char *log_text(void)
{
	char *t = NULL;

	if (!g_file_get_contents(LOG, &t, NULL, NULL))
		return g_strdup("");
	return t;
}

/* wait for the n-th line of the event log, return the whole log */
static char *wait_lines(guint n, double timeout)
{
	gint64 end = g_get_monotonic_time() + (gint64)(timeout * 1e6);

	for (;;) {
		char *t = log_text();
		guint lines = 0;

		for (const char *p = t; (p = strchr(p, '\n')) != NULL; p++)
			lines++;
		if (lines >= n || g_get_monotonic_time() > end)
			return t;
		g_free(t);
		g_usleep(20000);
	}
}

static void append(struct imc *c, const char *mbox, const char *subject)
{
	char *msg = g_strdup_printf("Subject: %s\r\nFrom: <a@far.test>\r\n\r\n"
				    "body\r\n",
				    subject);

	g_free(imc_ok(c, "APPEND %s {%zu+}\r\n%s", mbox, strlen(msg), msg));
	g_free(msg);
}

static void test_moves(void)
{
	struct imc *c;
	char *t;

	imd_user(&D, USER, "pw-secret", 0);
	c = imc_login(&D, USER, "pw-secret");
	g_free(imc_ok(c, "CREATE Work"));
	g_free(imc_ok(c, "CREATE Other"));
	append(c, "INBOX", "to-junk");
	append(c, "INBOX", "to-work");
	g_free(imc_ok(c, "SELECT INBOX"));
	g_free(imc_ok(c, "UID MOVE 1 Junk"));
	t = wait_lines(1, 5);
	g_test_message("log: %s", t);
	/* \Junk is RMAIL_SU_JUNK (4); INBOX has no special use */
	g_assert_nonnull(strstr(t, "kind=1 how=move proto=imap user=" USER
				   " from=INBOX/0 to=Junk/4 uid=1 nuids=1 "));
	g_assert_nonnull(strstr(t, "first=Subject: to-junk"));
	g_free(t);

	/* no special use on either side: no event */
	g_free(imc_ok(c, "UID MOVE 2 Work"));
	g_free(imc_ok(c, "SELECT Work"));
	g_free(imc_ok(c, "UID COPY 1 Other"));
	/* out of Junk: an event again, after the ones above would be */
	g_free(imc_ok(c, "SELECT Junk"));
	g_free(imc_ok(c, "UID MOVE 1 Work"));
	t = wait_lines(2, 5);
	g_test_message("log: %s", t);
	g_assert_nonnull(strstr(t, "how=move proto=imap user=" USER
				   " from=Junk/4 to=Work/0 uid=2 "));
	g_assert_null(strstr(t, "to=Other"));
	g_assert_null(strstr(t, "to-work"));
	g_free(t);

	/* a copy into Junk counts too */
	g_free(imc_ok(c, "SELECT Work"));
	g_free(imc_ok(c, "UID COPY 1 Junk"));
	t = wait_lines(3, 5);
	g_assert_nonnull(strstr(t, "how=copy proto=imap user=" USER
				   " from=Work/0 to=Junk/4 "));
	g_assert_nonnull(strstr(t, "first=Subject: to-work"));
	g_free(t);
	/* the moves without special use, issued before, gave nothing */
	t = wait_lines(4, 0.3);
	{
		char **v = g_strsplit(t, "\n", -1);

		g_assert_cmpuint(g_strv_length(v), ==, 4);
		g_strfreev(v);
	}
	g_free(t);
	imc_close(c);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	D.h = rmh_new();
	D.port = rmh_port(D.h, "imap");
	LOG = g_build_filename(rmh_dir(D.h), "events.log", NULL);
	rmh_set(D.h, "modules",
		"[\"mod_shardstore\", \"mod_imap\", \"mod_fxevent\"]");
	D.tls_port = rmh_port(D.h, "imaps");
	rmh_setf(D.h, "imap",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"imaps_listen\": [\"127.0.0.1:%u\"], "
		 "\"allow_cleartext_login_loopback\": true}",
		 D.port, D.tls_port);
	rmh_setf(D.h, "fxevent", "{\"log\": \"%s\"}", LOG);
	rmh_write_config(D.h);
	g_assert_true(rmh_start(D.h));
	g_test_add_func("/spam/event/moves", test_moves);
	rc = g_test_run();
	g_assert_cmpint(rmh_stop(D.h), ==, 0);
	rmh_free(D.h);
	g_free(LOG);
	return rc;
}
