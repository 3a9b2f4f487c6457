/*
 * mod_sieve against the real daemon: messages on port 25 filed by the
 * recipient's script (a folder created by :create, imap4flags on the
 * copy, a second copy with :copy), reject at the end of DATA, vacation
 * answered once per :days with MAIL FROM:<> and never to a list, bulk
 * or null sender, and redirect's envelope: the recipient's own address
 * towards a remote target (a loopback sink), the original sender for a
 * local one.  Scripts are installed with `rmail sieve put`.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "exhc.h"
#include "harness.h"
#include "sink.h"
#include "spam_common.h"

#define DOM "example.test"
#define ALICE "alice@" DOM
#define BOB "bob@" DOM
#define CAROL "carol@" DOM
#define DAVE "dave@" DOM

static struct rmh *H;
static guint SINK;

static const char SCRIPT[] =
	"require [\"fileinto\", \"mailbox\", \"imap4flags\", \"vacation\",\r\n"
	"         \"copy\", \"reject\", \"comparator-i;unicode-casemap\",\r\n"
	"         \"variables\"];\r\n"
	"if header :matches \"subject\" \"sorted: *\" {\r\n"
	"  fileinto :create \"${1}\";\r\n"
	"  stop;\r\n"
	"}\r\n"
	"if header :contains \"subject\" \"[proj]\" {\r\n"
	"  fileinto :create :flags [\"\\\\Flagged\", \"proj\"] "
	"\"Projects/Work\";\r\n"
	"  stop;\r\n"
	"}\r\n"
	"if header :comparator \"i;unicode-casemap\" :contains \"subject\"\r\n"
	"    \"STRASSE\" {\r\n"
	"  fileinto :create \"Streets\";\r\n"
	"  stop;\r\n"
	"}\r\n"
	"if header :matches \"subject\" \"copysorted: *\" {\r\n"
	"  fileinto :copy :create \"${1}\";\r\n"
	"}\r\n"
	"if header :contains \"subject\" \"inbox-copy\" {\r\n"
	"  fileinto :copy \"INBOX\";\r\n"
	"}\r\n"
	"if header :contains \"subject\" \"archive-too\" {\r\n"
	"  fileinto :copy :create \"Archive\";\r\n"
	"}\r\n"
	"if header :contains \"subject\" \"nocreate\" {\r\n"
	"  fileinto \"Missing\";\r\n"
	"}\r\n"
	"if header :contains \"subject\" \"fwd-remote\" {\r\n"
	"  redirect \"carol@remote.test\";\r\n"
	"}\r\n"
	"if header :contains \"subject\" \"fwd-local\" {\r\n"
	"  redirect :copy \"" BOB "\";\r\n"
	"}\r\n"
	"if header :contains \"subject\" \"reject-me\" {\r\n"
	"  reject \"not wanted here\";\r\n"
	"}\r\n"
	"if header :contains \"subject\" \"away\" {\r\n"
	"  vacation :days 1 :subject \"Out of office\" \"I am away.\";\r\n"
	"}\r\n";

/* one transaction from `from`: the final reply (free) */
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

static char *message(const char *from, const char *subject, const char *extra,
		     const char *tag)
{
	return g_strdup_printf("From: <%s>\r\nTo: <" ALICE ">\r\n"
			       "Subject: %s\r\n%s"
			       "Message-ID: <%s@far.test>\r\n\r\n"
			       "body %s\r\n",
			       from, subject, extra, tag, tag);
}

static void deliver_ok(const char *from, const char *subject, const char *extra,
		       const char *tag)
{
	char *m = message(from, subject, extra, tag);
	char *l = send_from(from, ALICE, m);

	if (!g_str_has_prefix(l, "250 "))
		g_error("%s: %s", subject, l);
	g_free(l);
	g_free(m);
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

static void test_fileinto_create_flags(void)
{
	GPtrArray *a;
	const char *p, *base;

	deliver_ok("sender@far.test", "[proj] status", "", "t-proj");
	a = copies("alice", "body t-proj");
	g_assert_cmpuint(a->len, ==, 1);
	p = g_ptr_array_index(a, 0);
	g_test_message("stored at %s", p);
	if (strstr(p, "Work") == NULL) {
		char *log = rmh_stderr(H);

		g_error("not filed; daemon log:\n%s", log);
	}
	g_assert_null(strstr(p, "INBOX"));
	/* {uid},{size},{date},{modseq},{flags}.eml: Flagged and a keyword */
	base = strrchr(p, '/') + 1;
	g_assert_nonnull(strstr(strrchr(base, ','), "F"));
	g_assert_nonnull(strstr(strrchr(base, ','), "k"));
	g_ptr_array_unref(a);
}

static void test_copy_and_keep(void)
{
	GPtrArray *a;
	gboolean inbox = FALSE, archive = FALSE;

	deliver_ok("sender@far.test", "archive-too", "", "t-arch");
	a = copies("alice", "body t-arch");
	g_assert_cmpuint(a->len, ==, 2);
	for (guint i = 0; i < a->len; i++) {
		const char *p = g_ptr_array_index(a, i);

		inbox |= strstr(p, "/INBOX/") != NULL;
		archive |= strstr(p, "Archive") != NULL;
	}
	g_assert_true(inbox && archive);
	g_ptr_array_unref(a);
}

/* i;unicode-casemap is the core's (SEARCH's) fold: "Straße", RFC
 * 2047-encoded, contains "STRASSE"; an ASCII-only fold would miss it */
static void test_unicode_casemap(void)
{
	GPtrArray *a;

	deliver_ok("sender@far.test", "=?UTF-8?Q?Hauptstra=C3=9Fe_7?=", "",
		   "t-strasse");
	a = copies("alice", "body t-strasse");
	g_assert_cmpuint(a->len, ==, 1);
	g_assert_nonnull(strstr(g_ptr_array_index(a, 0), "Streets"));
	g_ptr_array_unref(a);
}

/* a folder named by the sender's text (a variable from Subject) that
 * the store refuses (a control character, "//"): the copy is kept in
 * INBOX with a 250, never queued to fail again */
static void test_hostile_folder_name(void)
{
	GPtrArray *a;

	deliver_ok("sender@far.test", "=?UTF-8?Q?sorted:_a=01b?=", "",
		   "t-badname1");
	deliver_ok("sender@far.test", "sorted: x//y", "", "t-badname2");
	a = copies("alice", "body t-badname");
	g_assert_cmpuint(a->len, ==, 2);
	g_assert_nonnull(strstr(g_ptr_array_index(a, 0), "/INBOX/"));
	g_assert_nonnull(strstr(g_ptr_array_index(a, 1), "/INBOX/"));
	g_ptr_array_unref(a);
}

static int count_in(const char *haystack, const char *needle)
{
	int n = 0;

	for (const char *p = haystack; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* fileinto :copy to a name the store refuses: the failed action means
 * the implicit keep (RFC 5228 section 2.10.6), which :copy already
 * does, so exactly one copy in INBOX, and a log line */
static void test_hostile_folder_copy(void)
{
	static const char *const subj[] = {
		"=?UTF-8?Q?copysorted:_a=01b?=", "copysorted: x//y",
		NULL, /* too long: built below */
	};
	GString *lng = g_string_new("copysorted: ");
	char *log;

	for (int i = 0; i < 40; i++)
		g_string_append(lng, "0123456789");
	for (int i = 0; i < 3; i++) {
		char tag[32], needle[40];
		GPtrArray *a;

		g_snprintf(tag, sizeof(tag), "t-badcopy%d", i);
		g_snprintf(needle, sizeof(needle), "body %s\r", tag);
		deliver_ok("sender@far.test", subj[i] ? subj[i] : lng->str, "",
			   tag);
		a = copies("alice", needle);
		for (guint k = 0; k < a->len; k++)
			g_test_message("%s: %s", tag,
				       (char *)g_ptr_array_index(a, k));
		g_assert_cmpuint(a->len, ==, 1);
		g_assert_nonnull(strstr(g_ptr_array_index(a, 0), "/INBOX/"));
		g_ptr_array_unref(a);
	}
	g_string_free(lng, TRUE);
	/* each refusal is logged, once per message */
	g_assert_true(rmh_wait_log(H, "refused", 5));
	log = rmh_stderr(H);
	g_assert_cmpint(count_in(log, "refused"), >=, 3);
	g_free(log);
}

/* INBOX by name and as the implicit keep is one mailbox: one copy
 * (RFC 5228 section 4.1) */
static void test_inbox_copy_once(void)
{
	GPtrArray *a;

	deliver_ok("sender@far.test", "inbox-copy", "", "t-inboxcopy");
	a = copies("alice", "body t-inboxcopy");
	g_assert_cmpuint(a->len, ==, 1);
	g_assert_nonnull(strstr(g_ptr_array_index(a, 0), "/INBOX/"));
	g_ptr_array_unref(a);
}

/* fileinto without :create to a missing mailbox keeps it in INBOX */
static void test_fileinto_missing(void)
{
	GPtrArray *a;

	deliver_ok("sender@far.test", "nocreate", "", "t-nocreate");
	a = copies("alice", "body t-nocreate");
	g_assert_cmpuint(a->len, ==, 1);
	g_assert_nonnull(strstr(g_ptr_array_index(a, 0), "/INBOX/"));
	g_ptr_array_unref(a);
	g_assert_true(rmh_wait_log(H, "no mailbox Missing", 5));
}

static void test_reject_one_rcpt(void)
{
	char *m = message("sender@far.test", "reject-me", "", "t-rej");
	char *l = send_from("sender@far.test", ALICE, m);
	GPtrArray *a;

	g_assert_true(g_str_has_prefix(l, "550 "));
	g_assert_nonnull(strstr(l, "not wanted here"));
	a = copies("alice", "body t-rej");
	g_assert_cmpuint(a->len, ==, 0);
	g_ptr_array_unref(a);
	g_free(l);
	g_free(m);
}

/* the sink message holding needle, waiting up to 10 s; its index */
static int sink_wait(const char *needle)
{
	for (int tries = 0; tries < 200; tries++) {
		for (guint i = 0; i < sink_count(); i++) {
			char *t = sink_message(i);
			gboolean hit = strstr(t, needle) != NULL;

			g_free(t);
			if (hit)
				return (int)i;
		}
		g_usleep(50000);
	}
	return -1;
}

static int sink_has(const char *needle)
{
	int n = 0;

	for (guint i = 0; i < sink_count(); i++) {
		char *t = sink_message(i);

		n += strstr(t, needle) != NULL;
		g_free(t);
	}
	return n;
}

static void test_vacation(void)
{
	int i;
	char *t, *r, *mail;

	deliver_ok("dave@far.test", "away test", "", "t-vac1");
	i = sink_wait("I am away.");
	g_assert_cmpint(i, >=, 0);
	t = sink_message((guint)i);
	r = sink_rcpts((guint)i);
	g_test_message("reply:\n%s", t);
	g_assert_cmpstr(r, ==, "<dave@far.test>");
	g_assert_nonnull(strstr(t, "Auto-Submitted: auto-replied"));
	g_assert_nonnull(strstr(t, "Subject: Out of office"));
	g_assert_nonnull(strstr(t, "In-Reply-To: <t-vac1@far.test>"));
	mail = sink_last_mail();
	g_assert_true(g_str_has_prefix(mail, "MAIL FROM:<>"));
	g_free(mail);
	g_free(t);
	g_free(r);

	/* once per :days: the second message gets nothing */
	deliver_ok("dave@far.test", "away again", "", "t-vac2");
	g_assert_true(rmh_wait_log(H, "already answered", 5));
	/* never to a list, bulk mail or the null sender */
	deliver_ok("erin@far.test", "away list", "List-Id: <l.far.test>\r\n",
		   "t-vac3");
	g_assert_true(rmh_wait_log(H, "mailing list", 5));
	deliver_ok("frank@far.test", "away bulk", "Precedence: bulk\r\n",
		   "t-vac4");
	g_assert_true(rmh_wait_log(H, "Precedence bulk", 5));
	deliver_ok("", "away bounce", "", "t-vac5");
	g_assert_true(rmh_wait_log(H, "null sender", 5));
	deliver_ok("gina@far.test", "away auto",
		   "Auto-Submitted: auto-generated\r\n", "t-vac6");
	g_assert_true(rmh_wait_log(H, "no reply to <gina@far.test>", 5));
	g_usleep(300000);
	g_assert_cmpint(sink_has("I am away."), ==, 1);
}

static void test_redirect_remote(void)
{
	int i;
	char *r, *mail;
	GPtrArray *a;

	deliver_ok("sender@far.test", "fwd-remote", "", "t-fwdr");
	i = sink_wait("body t-fwdr");
	g_assert_cmpint(i, >=, 0);
	r = sink_rcpts((guint)i);
	g_assert_cmpstr(r, ==, "<carol@remote.test>");
	/* the recipient's own address, not the original sender (SPF) */
	mail = sink_last_mail();
	g_assert_true(g_str_has_prefix(mail, "MAIL FROM:<" ALICE ">"));
	g_free(mail);
	g_free(r);
	/* redirect without :copy cancels the implicit keep */
	a = copies("alice", "body t-fwdr");
	g_assert_cmpuint(a->len, ==, 0);
	g_ptr_array_unref(a);
}

static void test_redirect_local(void)
{
	GPtrArray *a = NULL;
	char *text = NULL;

	deliver_ok("sender@far.test", "fwd-local", "", "t-fwdl");
	for (int tries = 0; tries < 100; tries++) {
		if (a != NULL)
			g_ptr_array_unref(a);
		a = copies("bob", "body t-fwdl");
		if (a->len > 0)
			break;
		g_usleep(50000);
	}
	g_assert_cmpuint(a->len, ==, 1);
	g_assert_true(g_file_get_contents(g_ptr_array_index(a, 0), &text, NULL,
					  NULL));
	/* a local target keeps the original sender */
	g_assert_true(g_str_has_prefix(text, "Return-Path: <sender@far.test>"));
	g_free(text);
	g_ptr_array_unref(a);
	a = copies("alice", "body t-fwdl");
	g_assert_cmpuint(a->len, ==, 1);
	g_ptr_array_unref(a);
}

static struct exresp api(const char *tok, const char *method, const char *path,
			 const char *body)
{
	return ex_req(rmh_port(H, "api"), false, NULL, method, path, tok, body,
		      NULL);
}

static void api_expect(const char *tok, const char *method, const char *path,
		       const char *body, int status, const char *needle)
{
	struct exresp r = api(tok, method, path, body);

	if (r.status != status ||
	    (needle != NULL && strstr(r.body, needle) == NULL))
		g_error("%s %s: %d %s", method, path, r.status, r.body);
	exresp_free(&r);
}

/* the JSON API: scripts CRUD, and a vacation that answers on port 25 */
static void test_api(void)
{
	int status = 0, i;
	char *tok = ex_login(rmh_port(H, "api"), false, NULL, BOB, "pw-bob-1",
			     NULL, &status);
	char *body, *t, today[16];
	GDateTime *now = g_date_time_new_now_utc();
	GDateTime *later = g_date_time_add_days(now, 3);
	GDateTime *before = g_date_time_add_days(now, -1);
	char *d0 = g_date_time_format(before, "%Y-%m-%d");
	char *d1 = g_date_time_format(later, "%Y-%m-%d");

	g_assert_nonnull(tok);
	g_snprintf(today, sizeof(today), "x");
	api_expect(tok, "GET", "/api/sieve/scripts", NULL, 200,
		   "\"scripts\":[]");
	api_expect(tok, "PUT", "/api/sieve/scripts/bad",
		   "{\"script\": \"fileinto \\\"x\\\";\"}", 400, "line");
	api_expect(tok, "PUT", "/api/sieve/scripts/filters",
		   "{\"script\": \"require [\\\"fileinto\\\", "
		   "\\\"mailbox\\\"]; if header "
		   ":contains \\\"subject\\\" \\\"zz\\\" { fileinto :create "
		   "\\\"ZZ\\\"; }\", \"active\": true}",
		   200, NULL);
	api_expect(tok, "GET", "/api/sieve/scripts", NULL, 200,
		   "\"active\":true");
	api_expect(tok, "GET", "/api/sieve/scripts/filters", NULL, 200,
		   "fileinto");
	api_expect(tok, "DELETE", "/api/sieve/scripts/filters", NULL, 409,
		   NULL);
	body = g_strdup_printf("{\"enabled\": true, \"subject\": "
			       "\"Bob is away\", \"body\": \"Back soon.\", "
			       "\"start\": \"%s\", \"end\": \"%s\", "
			       "\"days\": 2}",
			       d0, d1);
	api_expect(tok, "POST", "/api/sieve/vacation", body, 200, NULL);
	g_free(body);
	api_expect(tok, "GET", "/api/sieve/vacation", NULL, 200,
		   "\"enabled\":true");
	api_expect(tok, "GET", "/api/sieve/scripts/rmail-vacation", NULL, 200,
		   "include :personal");

	/* addressed to bob (RFC 5230 section 4.5) */
	t = g_strdup("From: <henry@far.test>\r\nTo: <" BOB ">\r\n"
		     "Subject: zz lunch\r\n"
		     "Message-ID: <t-apivac@far.test>\r\n\r\n"
		     "body t-apivac\r\n");
	g_free(send_from("henry@far.test", BOB, t));
	g_free(t);
	i = sink_wait("Back soon.");
	g_assert_cmpint(i, >=, 0);
	t = sink_message((guint)i);
	g_assert_nonnull(strstr(t, "Subject: Bob is away"));
	g_free(t);
	{
		/* the previous script still files */
		GPtrArray *a = copies("bob", "body t-apivac");

		g_assert_cmpuint(a->len, ==, 1);
		g_assert_nonnull(strstr(g_ptr_array_index(a, 0), "ZZ"));
		g_ptr_array_unref(a);
	}
	api_expect(tok, "POST", "/api/sieve/vacation", "{\"enabled\": false}",
		   200, NULL);
	api_expect(tok, "GET", "/api/sieve/scripts", NULL, 200,
		   "\"name\":\"filters\",\"active\":true");
	api_expect(tok, "POST", "/api/sieve/deactivate", "{}", 200, NULL);
	api_expect(tok, "DELETE", "/api/sieve/scripts/filters", NULL, 200,
		   NULL);
	g_free(d0);
	g_free(d1);
	g_date_time_unref(now);
	g_date_time_unref(later);
	g_date_time_unref(before);
	g_free(tok);
}

/* a runtime error (5 redirects, max_redirects 4) keeps the message in
 * INBOX and carries out nothing */
static void test_runtime_error_keeps(void)
{
	char *t = g_strdup("From: <ivan@far.test>\r\nTo: <" CAROL ">\r\n"
			   "Subject: loop\r\n\r\nbody t-rterr\r\n");
	GPtrArray *a;

	g_free(send_from("ivan@far.test", CAROL, t));
	g_free(t);
	a = copies("carol", "body t-rterr");
	g_assert_cmpuint(a->len, ==, 1);
	g_assert_nonnull(strstr(g_ptr_array_index(a, 0), "/INBOX/"));
	g_ptr_array_unref(a);
	g_assert_true(rmh_wait_log(H, "the message is kept in INBOX", 5));
	g_usleep(300000);
	g_assert_cmpint(sink_has("body t-rterr"), ==, 0);
}

static void run_cli(const char *const *argv, const char *input);

static void put_script(const char *user, const char *name, const char *text,
		       gboolean activate)
{
	const char *put[] = {"rmail", "-c",  rmh_config_path(H),
			     "sieve", "put", user,
			     name,    "-",   activate ? "--activate" : NULL,
			     NULL};

	run_cli(put, text);
}

static void deliver_to(const char *rcpt, const char *tag)
{
	char *m = g_strdup_printf("From: <kim@far.test>\r\nTo: <%s>\r\n"
				  "Subject: %s\r\n\r\nbody %s\r\n",
				  rcpt, tag, tag);
	char *l = send_from("kim@far.test", rcpt, m);

	if (!g_str_has_prefix(l, "250 "))
		g_error("%s: %s", tag, l);
	g_free(l);
	g_free(m);
}

static const char *only_copy(const char *local, const char *tag)
{
	static char path[4096];
	char *needle = g_strdup_printf("body %s\r", tag);
	GPtrArray *a = copies(local, needle);

	g_assert_cmpuint(a->len, ==, 1);
	g_strlcpy(path, g_ptr_array_index(a, 0), sizeof(path));
	g_ptr_array_unref(a);
	g_free(needle);
	return path;
}

/* a script that does not compile (it includes a script that is not
 * there) keeps mail in INBOX, compiled and logged once, not once per
 * message; creating, then editing, the included script takes effect at
 * the next delivery, without a reload */
static void test_broken_and_include(void)
{
	char *log;

	put_script(DAVE, "main",
		   "require \"include\";\r\ninclude :personal \"rules\";\r\n",
		   TRUE);
	for (int i = 0; i < 3; i++) {
		char tag[16];

		g_snprintf(tag, sizeof(tag), "t-broken%d", i);
		deliver_to(DAVE, tag);
		g_assert_nonnull(strstr(only_copy("dave", tag), "/INBOX/"));
	}
	g_assert_true(rmh_wait_log(H, "no personal script \"rules\"", 5));
	log = rmh_stderr(H);
	g_assert_cmpint(count_in(log, "no personal script \"rules\""), ==, 1);
	g_free(log);

	put_script(DAVE, "rules",
		   "require [\"fileinto\", \"mailbox\"];\r\n"
		   "fileinto :create \"First\";\r\n",
		   FALSE);
	deliver_to(DAVE, "t-inc1");
	g_assert_nonnull(strstr(only_copy("dave", "t-inc1"), "/First/"));
	put_script(DAVE, "rules",
		   "require [\"fileinto\", \"mailbox\"];\r\n"
		   "fileinto :create \"Second\";\r\n",
		   FALSE);
	deliver_to(DAVE, "t-inc2");
	g_assert_nonnull(strstr(only_copy("dave", "t-inc2"), "/Second/"));
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
	int rc;

	g_test_init(&argc, &argv, NULL);
	SINK = sink_start();
	H = rmh_new();
	rmh_set(H, "modules",
		"[\"mod_shardstore\", \"mod_smtp\", \"mod_sieve\", "
		"\"mod_exchange\"]");
	rmh_setf(H, "exchange_api",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"tls_listen\": []}",
		 rmh_port(H, "api"));
	rmh_setf(H, "smtp",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"submission_listen\": [], "
		 "\"smtps_listen\": []}",
		 rmh_port(H, "smtp"));
	rmh_setf(H, "delivery",
		 "{\"retry_initial\": \"1h\", "
		 "\"routes\": {\"remote.test\": \"127.0.0.1:%u\", "
		 "\"far.test\": \"127.0.0.1:%u\"}}",
		 SINK, SINK);
	rmh_set(H, "mailauth", "{\"inbound\": false}");
	rmh_write_config(H);
	add[2] = put[2] = rmh_config_path(H);
	add[5] = ALICE;
	run_cli(add, "pw-alice-1\n");
	add[5] = BOB;
	run_cli(add, "pw-bob-1\n");
	run_cli(put, SCRIPT);
	add[5] = CAROL;
	run_cli(add, "pw-carol-1\n");
	add[5] = DAVE;
	run_cli(add, "pw-dave-1\n");
	put[5] = CAROL;
	run_cli(put, "redirect \"r1@remote.test\";\r\n"
		     "redirect \"r2@remote.test\";\r\n"
		     "redirect \"r3@remote.test\";\r\n"
		     "redirect \"r4@remote.test\";\r\n"
		     "redirect \"r5@remote.test\";\r\n");
	g_assert_true(rmh_start(H));
	g_test_add_func("/sieve/deliver/fileinto-create-flags",
			test_fileinto_create_flags);
	g_test_add_func("/sieve/deliver/copy-and-keep", test_copy_and_keep);
	g_test_add_func("/sieve/deliver/unicode-casemap", test_unicode_casemap);
	g_test_add_func("/sieve/deliver/hostile-folder-name",
			test_hostile_folder_name);
	g_test_add_func("/sieve/deliver/hostile-folder-copy",
			test_hostile_folder_copy);
	g_test_add_func("/sieve/deliver/inbox-copy-once", test_inbox_copy_once);
	g_test_add_func("/sieve/deliver/fileinto-missing",
			test_fileinto_missing);
	g_test_add_func("/sieve/deliver/reject-one-rcpt", test_reject_one_rcpt);
	g_test_add_func("/sieve/deliver/vacation", test_vacation);
	g_test_add_func("/sieve/deliver/redirect-remote", test_redirect_remote);
	g_test_add_func("/sieve/deliver/redirect-local", test_redirect_local);
	g_test_add_func("/sieve/deliver/api", test_api);
	g_test_add_func("/sieve/deliver/broken-and-include",
			test_broken_and_include);
	g_test_add_func("/sieve/deliver/runtime-error-keeps",
			test_runtime_error_keeps);
	rc = g_test_run();
	g_assert_cmpint(rmh_stop(H), ==, 0);
	rmh_free(H);
	return rc;
}
