/*
 * A delivery that fails temporarily after the recipient's script ran
 * (the copy cannot be stored, nor queued: the client gets a 4xx and
 * sends the message again) must not send the script's redirect again:
 * one redirected copy per message and recipient.  Errors come from the
 * LD_PRELOAD fault shim (tests/support/faultinj.c) on the recipient's
 * mailboxes and the queue directory only.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "harness.h"
#include "spam_common.h"

#define DOM "example.test"
#define ALICE "alice@" DOM
#define BOB "bob@" DOM

static struct rmh *H;
static char *CTL;

static void faults(const char *rules)
{
	char *tmp = g_strconcat(CTL, ".new", NULL);

	/* a new file each time (rename): the shim sees the change */
	g_assert_true(g_file_set_contents(tmp, rules, -1, NULL));
	g_assert_cmpint(g_rename(tmp, CTL), ==, 0);
	g_free(tmp);
}

static char *send_msg(const char *msg)
{
	struct rmh_conn *c = rmh_connect(rmh_port(H, "smtp"), false);
	char *l;

	g_assert_nonnull(c);
	g_free(sc_reply(c));
	sc_cmd(c, "250 ", "EHLO client.test");
	sc_cmd(c, "250 ", "MAIL FROM:<sender@far.test>");
	sc_cmd(c, "250 ", "RCPT TO:<" ALICE ">");
	sc_cmd(c, "354 ", "DATA");
	g_assert_true(rmh_send_raw(c, msg, strlen(msg)));
	g_assert_true(rmh_send(c, "."));
	l = sc_reply(c);
	g_assert_nonnull(l);
	(void)rmh_send(c, "QUIT");
	rmh_conn_close(c);
	return l;
}

static guint count(const char *local, const char *tag)
{
	GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
	char *dir = g_build_filename(rmh_dir(H), "mail", "domains", DOM,
				     "users", local, NULL);
	guint n;

	sc_find_all(dir, tag, a);
	n = a->len;
	g_ptr_array_unref(a);
	g_free(dir);
	return n;
}

static void test_retry_no_second_redirect(void)
{
	static const char msg[] = "From: <sender@far.test>\r\n"
				  "To: <" ALICE ">\r\n"
				  "Subject: forward me\r\n"
				  "Message-ID: <t-retry@far.test>\r\n\r\n"
				  "body t-retry\r\n";
	char *l;

	/* alice's copy cannot be stored, nor queued: a 4xx */
	faults("open EIO match=/users/alice/mail/\n"
	       "open ENOSPC match=/queue/\n");
	l = send_msg(msg);
	g_test_message("first attempt: %s", l);
	g_assert_true(l[0] == '4');
	g_free(l);
	for (int i = 0; i < 100 && count("bob", "body t-retry") == 0; i++)
		g_usleep(50000);
	g_assert_cmpuint(count("bob", "body t-retry"), ==, 1);
	g_assert_cmpuint(count("alice", "body t-retry"), ==, 0);

	/* the client's retry goes through */
	faults("");
	l = send_msg(msg);
	g_test_message("second attempt: %s", l);
	g_assert_true(g_str_has_prefix(l, "250 "));
	g_free(l);
	g_assert_cmpuint(count("alice", "body t-retry"), ==, 1);
	/* the redirect is submitted while the script runs, before the
	 * 250: a second one would be in bob's INBOX within moments */
	for (int i = 0; i < 40 && count("bob", "body t-retry") < 2; i++)
		g_usleep(50000);
	g_assert_cmpuint(count("bob", "body t-retry"), ==, 1);
	g_assert_true(rmh_wait_log(H, "already redirected", 5));
}

static void run_cli(const char *const *argv, const char *input)
{
	char *out = NULL, *errs = NULL;
	int rc = rmh_run_argv(H, argv, input, &out, &errs);

	if (rc != 0)
		g_error("%s %s: %s%s", argv[3], argv[4], out, errs);
	g_free(out);
	g_free(errs);
}

int main(int argc, char **argv)
{
	const char *add[] = {
		"rmail", "-c", NULL, "user", "add", NULL, "--password-stdin",
		NULL};
	const char *put[] = {"rmail", "-c",   NULL, "sieve",	  "put",
			     ALICE,   "main", "-",  "--activate", NULL};
	const char *old = g_getenv("ASAN_OPTIONS");
	char *asan, *root;
	int rc;

	g_test_init(&argc, &argv, NULL);
	H = rmh_new();
	rmh_set(H, "modules",
		"[\"mod_shardstore\", \"mod_smtp\", \"mod_sieve\"]");
	rmh_setf(H, "smtp",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"submission_listen\": [], "
		 "\"smtps_listen\": []}",
		 rmh_port(H, "smtp"));
	rmh_set(H, "delivery", "{\"retry_initial\": \"1h\"}");
	rmh_set(H, "mailauth", "{\"inbound\": false}");
	rmh_write_config(H);
	add[2] = put[2] = rmh_config_path(H);
	add[5] = ALICE;
	run_cli(add, "pw-alice-1\n");
	add[5] = BOB;
	run_cli(add, "pw-bob-1\n");
	run_cli(put, "require \"copy\";\r\nredirect :copy \"" BOB "\";\r\n");

	CTL = g_build_filename(rmh_dir(H), "faults", NULL);
	faults("");
	root = g_build_filename(rmh_dir(H), "mail", NULL);
	/* the shim comes before the sanitizer runtime in the link order */
	asan = g_strdup_printf("%s%sverify_asan_link_order=0",
			       old != NULL ? old : "",
			       old != NULL && old[0] != '\0' ? ":" : "");
	g_setenv("ASAN_OPTIONS", asan, TRUE);
	g_setenv("LD_PRELOAD", RMFAULT_PATH, TRUE);
	g_setenv("RMAIL_FAULT_CTL", CTL, TRUE);
	g_setenv("RMAIL_FAULT_ROOT", root, TRUE);
	g_assert_true(rmh_start(H));
	g_unsetenv("LD_PRELOAD");
	g_unsetenv("RMAIL_FAULT_CTL");
	g_unsetenv("RMAIL_FAULT_ROOT");
	g_free(asan);
	g_free(root);

	g_test_add_func("/sieve/retry/no-second-redirect",
			test_retry_no_second_redirect);
	rc = g_test_run();
	faults("");
	g_assert_cmpint(rmh_stop(H), ==, 0);
	rmh_free(H);
	g_free(CTL);
	return rc;
}
