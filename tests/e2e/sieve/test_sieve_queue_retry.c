/*
 * A local delivery that fails temporarily after the message was
 * accepted goes into the queue; the queue's retry must deliver it the
 * way the first attempt would have: through the DELIVERY filters (the
 * recipient's Sieve script, a filter's per-recipient spam mark), into
 * the mailbox they name, once, without sending the script's redirect or
 * vacation reply a second time.  Errors come from the LD_PRELOAD fault
 * shim (tests/support/faultinj.c) on one user's mailboxes only, so the
 * queue itself works and the client gets its 250.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "harness.h"
#include "spam_common.h"

#define DOM "example.test"
#define ALICE "alice@" DOM
#define BOB "bob@" DOM
#define CAROL "carol@" DOM
#define ERIN "erin@" DOM

static struct rmh *H;
static char *CTL;

static const char SCRIPT[] =
	"require [\"fileinto\", \"mailbox\", \"copy\", \"vacation\"];\r\n"
	"redirect :copy \"" ERIN "\";\r\n"
	"vacation :days 1 :subject \"away\" \"away-tag-q1\";\r\n"
	"if header :contains \"subject\" \"report\" {\r\n"
	"  fileinto :create \"Reports\";\r\n"
	"}\r\n";

static void faults(const char *rules)
{
	char *tmp = g_strconcat(CTL, ".new", NULL);

	/* a new file each time (rename): the shim sees the change */
	g_assert_true(g_file_set_contents(tmp, rules, -1, NULL));
	g_assert_cmpint(g_rename(tmp, CTL), ==, 0);
	g_free(tmp);
}

/* one transaction from `from` to `rcpt`: the final reply (free) */
static char *send_from(const char *from, const char *rcpt, const char *msg)
{
	struct rmh_conn *c = rmh_connect(rmh_port(H, "smtp"), false);
	char *line, *l;

	g_assert_nonnull(c);
	g_free(sc_reply(c));
	sc_cmd(c, "250 ", "EHLO client.test");
	line = g_strdup_printf("MAIL FROM:<%s>", from);
	sc_cmd(c, "250 ", line);
	g_free(line);
	line = g_strdup_printf("RCPT TO:<%s>", rcpt);
	sc_cmd(c, "250 ", line);
	g_free(line);
	sc_cmd(c, "354 ", "DATA");
	g_assert_true(rmh_send_raw(c, msg, strlen(msg)));
	g_assert_true(rmh_send(c, "."));
	l = sc_reply(c);
	g_assert_nonnull(l);
	(void)rmh_send(c, "QUIT");
	rmh_conn_close(c);
	return l;
}

static GPtrArray *copies(const char *local, const char *tag)
{
	GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
	char *dir = g_build_filename(rmh_dir(H), "mail", "domains", DOM,
				     "users", local, NULL);

	sc_find_all(dir, tag, a);
	g_free(dir);
	return a;
}

static guint count(const char *local, const char *tag)
{
	GPtrArray *a = copies(local, tag);
	guint n = a->len;

	g_ptr_array_unref(a);
	return n;
}

static guint wait_count(const char *local, const char *tag, guint want)
{
	for (int i = 0; i < 100 && count(local, tag) < want; i++)
		g_usleep(50000);
	return count(local, tag);
}

static void queue_retry(void)
{
	char *out = NULL, *errs = NULL;

	g_assert_cmpint(rmh_run(H, &out, &errs, "queue", "retry", NULL), ==, 0);
	g_free(out);
	g_free(errs);
}

static void queue_empty(void)
{
	char *out = NULL, *errs = NULL;
	int i;

	for (i = 0; i < 100; i++) {
		g_assert_cmpint(rmh_run(H, &out, &errs, "queue", "list", NULL),
				==, 0);
		if (strstr(out, "queue is empty") != NULL)
			break;
		g_free(out);
		g_free(errs);
		out = errs = NULL;
		g_usleep(50000);
	}
	g_test_message("queue: %s", out);
	g_assert_nonnull(strstr(out, "queue is empty"));
	g_free(out);
	g_free(errs);
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

/* alice's script: filed by subject, redirected to erin, answered */
static void test_sieve_on_retry(void)
{
	static const char msg[] = "From: <" CAROL ">\r\n"
				  "To: <" ALICE ">\r\n"
				  "Subject: monthly report\r\n"
				  "Message-ID: <t-qretry@far.test>\r\n\r\n"
				  "body t-qretry\r\n";
	GPtrArray *a;
	char *l;

	/* alice's mailboxes cannot be written: the copy is queued */
	faults("open EIO match=/users/alice/mail/\n");
	l = send_from(CAROL, ALICE, msg);
	g_test_message("first attempt: %s", l);
	g_assert_true(g_str_has_prefix(l, "250 "));
	g_free(l);
	g_assert_true(rmh_wait_log(H, "queued", 5));
	/* the script ran once: its redirect and its reply went out */
	g_assert_cmpuint(wait_count("erin", "body t-qretry", 1), ==, 1);
	g_assert_cmpuint(wait_count("carol", "away-tag-q1", 1), ==, 1);
	g_assert_cmpuint(count("alice", "body t-qretry"), ==, 0);

	/* the store is back: the queue's retry delivers */
	faults("");
	queue_retry();
	g_assert_cmpuint(wait_count("alice", "body t-qretry", 1), ==, 1);
	queue_empty();
	a = copies("alice", "body t-qretry");
	g_assert_cmpuint(a->len, ==, 1);
	g_test_message("stored at %s", (char *)a->pdata[0]);
	/* where the script files it, not INBOX */
	g_assert_nonnull(strstr(a->pdata[0], "/Reports/"));
	g_ptr_array_unref(a);
	g_assert_true(rmh_wait_log(H, "already redirected", 5));
	g_assert_true(rmh_wait_log(H, "already answered", 5));
	/* a second redirect or reply would be stored within moments */
	g_usleep(300000);
	g_assert_cmpuint(count("erin", "body t-qretry"), ==, 1);
	g_assert_cmpuint(count("carol", "away-tag-q1"), ==, 1);
}

/* without a Message-ID the redirect record is keyed by the message's
 * bytes: the retry must show the script the same bytes (the core's
 * lines apart) as the first attempt, or it redirects again */
static void test_no_msgid_on_retry(void)
{
	static const char msg[] = "From: <" CAROL ">\r\n"
				  "To: <" ALICE ">\r\n"
				  "Subject: no id\r\n\r\n"
				  "body t-qnoid\r\n";
	char *l;

	faults("open EIO match=/users/alice/mail/\n");
	l = send_from("sender@far.test", ALICE, msg);
	g_assert_true(g_str_has_prefix(l, "250 "));
	g_free(l);
	g_assert_cmpuint(wait_count("erin", "body t-qnoid", 1), ==, 1);
	faults("");
	queue_retry();
	g_assert_cmpuint(wait_count("alice", "body t-qnoid", 1), ==, 1);
	queue_empty();
	g_usleep(300000);
	g_assert_cmpuint(count("erin", "body t-qnoid"), ==, 1);
	g_assert_cmpuint(count("alice", "body t-qnoid"), ==, 1);
}

/* a DELIVERY filter's spam mark for bob (tests/unit/core_submit/
 * fx_filter.c) files bob's copy into Junk on the retry too */
static void test_spam_on_retry(void)
{
	static const char msg[] = "From: <sender@far.test>\r\n"
				  "To: <" BOB ">\r\n"
				  "Subject: cheap\r\n"
				  "X-Test: deliver-spam-bob\r\n"
				  "Message-ID: <t-qspam@far.test>\r\n\r\n"
				  "body t-qspam\r\n";
	GPtrArray *a;
	char *l, *text = NULL;

	faults("open EIO match=/users/bob/mail/\n");
	l = send_from("sender@far.test", BOB, msg);
	g_test_message("first attempt: %s", l);
	g_assert_true(g_str_has_prefix(l, "250 "));
	g_free(l);
	g_assert_cmpuint(count("bob", "body t-qspam"), ==, 0);

	faults("");
	queue_retry();
	g_assert_cmpuint(wait_count("bob", "body t-qspam", 1), ==, 1);
	queue_empty();
	a = copies("bob", "body t-qspam");
	g_test_message("stored at %s", (char *)a->pdata[0]);
	g_assert_nonnull(strstr(a->pdata[0], "/Junk/"));
	/* with the filter's field, as on a first attempt */
	g_assert_true(g_file_get_contents(a->pdata[0], &text, NULL, NULL));
	g_assert_nonnull(strstr(text, "\r\nX-Spam: Yes\r\n"));
	g_free(text);
	g_ptr_array_unref(a);
}

/* a script that refuses the message by the time the queue retries:
 * the sender (port 25, unauthenticated, no SPF or DMARC pass) gets no
 * DSN, which would be backscatter, and the copy is not stored */
static void test_reject_on_retry(void)
{
	static const char msg[] = "From: <sender@far.test>\r\n"
				  "To: <" CAROL ">\r\n"
				  "Subject: refused later\r\n"
				  "Message-ID: <t-qreject@far.test>\r\n\r\n"
				  "body t-qreject\r\n";
	const char *put[] = {
		"rmail", "-c", rmh_config_path(H), "sieve", "put", CAROL,
		"main",	 "-",  "--activate",	   NULL};
	char *l;

	faults("open EIO match=/users/carol/mail/\n");
	l = send_from("sender@far.test", CAROL, msg);
	g_test_message("first attempt: %s", l);
	g_assert_true(g_str_has_prefix(l, "250 "));
	g_free(l);
	run_cli(put, "require \"reject\";\r\nreject \"not now\";\r\n");
	faults("");
	queue_retry();
	g_assert_true(rmh_wait_log(H, "dropped without a DSN", 5));
	/* no DSN waits in the queue for far.test */
	queue_empty();
	g_assert_cmpuint(count("carol", "body t-qreject"), ==, 0);
}

int main(int argc, char **argv)
{
	const char *add[] = {
		"rmail", "-c", NULL, "user", "add", NULL, "--password-stdin",
		NULL};
	const char *put[] = {"rmail", "-c",   NULL, "sieve",	  "put",
			     ALICE,   "main", "-",  "--activate", NULL};
	const char *users[] = {ALICE, BOB, CAROL, ERIN};
	char *old = g_strdup(g_getenv("ASAN_OPTIONS"));
	char *asan, *root;
	int rc;

	g_test_init(&argc, &argv, NULL);
	H = rmh_new();
	rmh_set(H, "modules",
		"[\"mod_shardstore\", \"mod_smtp\", \"mod_sieve\", "
		"\"mod_fxfilter\"]");
	rmh_setf(H, "smtp",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"submission_listen\": [], "
		 "\"smtps_listen\": []}",
		 rmh_port(H, "smtp"));
	/* no retry on its own during the test: `rmail queue retry` */
	rmh_set(H, "delivery", "{\"retry_initial\": \"1h\"}");
	rmh_set(H, "mailauth", "{\"inbound\": false}");
	rmh_write_config(H);
	add[2] = put[2] = rmh_config_path(H);
	for (size_t i = 0; i < G_N_ELEMENTS(users); i++) {
		char *pw = g_strdup_printf("pw-%zu-secret\n", i);

		add[5] = users[i];
		run_cli(add, pw);
		g_free(pw);
	}
	run_cli(put, SCRIPT);

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
	if (old != NULL)
		g_setenv("ASAN_OPTIONS", old, TRUE);
	else
		g_unsetenv("ASAN_OPTIONS");
	g_free(asan);
	g_free(old);
	g_free(root);

	g_test_add_func("/sieve/queue-retry/sieve", test_sieve_on_retry);
	g_test_add_func("/sieve/queue-retry/no-message-id",
			test_no_msgid_on_retry);
	g_test_add_func("/sieve/queue-retry/spam", test_spam_on_retry);
	g_test_add_func("/sieve/queue-retry/reject", test_reject_on_retry);
	rc = g_test_run();
	faults("");
	g_assert_cmpint(rmh_stop(H), ==, 0);
	rmh_free(H);
	g_free(CTL);
	return rc;
}
