/*
 * Spam into Junk end to end: the real daemon with the fixture filter
 * (tests/unit/core_submit/fx_filter.c), which adds "X-Spam: Yes" as
 * rspamd's "add header" action does when the message says
 * "X-Test: spam".  A marked message lands in the recipient's Junk; the
 * same field sent by the client is removed and changes nothing; a user
 * with spam_to_junk = no keeps spam in INBOX.
 */
#include <glib.h>
#include <string.h>

#include "exhc.h"
#include "harness.h"
#include "spam_common.h"

#define DOM "example.test"
#define BOB "bob@" DOM
#define CAROL "carol@" DOM
#define DAVE "dave@" DOM
#define ERIN "erin@" DOM

static struct rmh *H;
static guint counter;

static char *message(const char *tag, const char *extra)
{
	return g_strdup_printf("From: <sender@far.test>\r\nTo: <" BOB ">\r\n"
			       "Subject: case %s\r\n%s"
			       "Message-ID: <%s.%u@far.test>\r\n\r\n"
			       "body %s\r\n",
			       tag, extra, tag, counter++, tag);
}

/* deliver; the stored copy's path and text (asserted present) */
static char *deliver(const char *rcpt, const char *tag, const char *extra,
		     char **path_r)
{
	char *msg = message(tag, extra), *l, *text;

	l = sc_send(rmh_port(H, "smtp"), rcpt, msg);
	g_assert_true(g_str_has_prefix(l, "250 "));
	g_free(l);
	g_free(msg);
	text = sc_stored(H, tag, path_r);
	g_assert_nonnull(text);
	return text;
}

static gboolean in_junk(const char *path)
{
	return strstr(path, "/Junk/") != NULL;
}

static void test_marked(void)
{
	char *path = NULL,
	     *text = deliver(BOB, "marked", "X-Test: spam\r\n", &path);

	g_test_message("stored at %s", path);
	g_assert_true(in_junk(path));
	/* the filter's field is kept: clients show it */
	g_assert_nonnull(strstr(text, "\r\nX-Spam: Yes\r\n"));
	g_assert_true(rmh_wait_log(H, "marked as spam by a filter", 5));
	g_free(text);
	g_free(path);
}

static void test_forged(void)
{
	/* every spelling the client could use: case, WSP before the
	 * colon, a folded value */
	char *path = NULL,
	     *text = deliver(
		     BOB, "forged",
		     "X-Spam: Yes\r\nx-spam : yes\r\nX-SPAM:\r\n\tYes\r\n",
		     &path);
	char *lower = g_ascii_strdown(text, -1);

	g_test_message("stored at %s", path);
	g_assert_false(in_junk(path));
	g_assert_null(strstr(lower, "x-spam"));
	g_assert_true(rmh_wait_log(H, "X-Spam field(s) from the client", 5));
	g_free(lower);
	g_free(text);
	g_free(path);
}

/* forged and marked at once: the filter's verdict decides, and only
 * its field is left */
static void test_forged_and_marked(void)
{
	char *path = NULL,
	     *text = deliver(BOB, "both", "X-Spam: No\r\nX-Test: spam\r\n",
			     &path);

	g_assert_true(in_junk(path));
	g_assert_null(strstr(text, "X-Spam: No"));
	g_free(text);
	g_free(path);
}

static void test_opt_out(void)
{
	char *path = NULL,
	     *text = deliver(CAROL, "optout", "X-Test: spam\r\n", &path);

	g_test_message("stored at %s", path);
	g_assert_false(in_junk(path));
	g_assert_nonnull(strstr(path, "/INBOX/"));
	g_free(text);
	g_free(path);
}

/* the copy holding tag in the mailboxes of one user (the store's
 * layout: mail/domains/<domain>/users/<local>/mail/<mailbox>/...) */
static char *stored_for(const char *user_local, const char *tag, char **path_r)
{
	char *dir = g_build_filename(rmh_dir(H), "mail", "domains", DOM,
				     "users", user_local, NULL);
	char *t = sc_find(dir, tag, path_r);

	g_free(dir);
	return t;
}

/* a DELIVERY filter marks one recipient's copy only */
static void test_per_recipient(void)
{
	char *msg = message("perrcpt", "X-Test: deliver-spam-bob\r\n"), *l;
	char *pb = NULL, *pe = NULL, *tb, *te;

	l = sc_send2(rmh_port(H, "smtp"), BOB, ERIN, msg);
	g_assert_true(g_str_has_prefix(l, "250 "));
	g_free(l);
	g_free(msg);
	tb = stored_for("bob", "body perrcpt", &pb);
	te = stored_for("erin", "body perrcpt", &pe);
	g_assert_nonnull(tb);
	g_assert_nonnull(te);
	g_test_message("bob: %s erin: %s", pb, pe);
	g_assert_true(in_junk(pb));
	g_assert_false(in_junk(pe));
	g_free(tb);
	g_free(te);
	g_free(pb);
	g_free(pe);
}

/* the user's own switch, through the API */
static void test_api_opt_out(void)
{
	guint port = rmh_port(H, "api");
	int status = 0;
	char *tok = ex_login(port, false, NULL, DAVE, "pw-dave-1", NULL,
			     &status),
	     *path = NULL, *text;
	struct exresp r;
	json_t *j;

	g_assert_nonnull(tok);
	r = ex_req(port, false, NULL, "GET", "/api/settings", tok, NULL, NULL);
	g_assert_cmpint(r.status, ==, 200);
	j = exresp_json(&r);
	g_assert_true(json_is_true(json_object_get(j, "spam_to_junk")));
	json_decref(j);
	exresp_free(&r);
	r = ex_req(port, false, NULL, "POST", "/api/settings", tok,
		   "{\"spam_to_junk\": \"no\"}", NULL);
	g_assert_cmpint(r.status, ==, 400);
	exresp_free(&r);
	r = ex_req(port, false, NULL, "POST", "/api/settings", tok,
		   "{\"spam_to_junk\": false}", NULL);
	g_assert_cmpint(r.status, ==, 200);
	exresp_free(&r);
	r = ex_req(port, false, NULL, "GET", "/api/settings", tok, NULL, NULL);
	j = exresp_json(&r);
	g_assert_true(json_is_false(json_object_get(j, "spam_to_junk")));
	json_decref(j);
	exresp_free(&r);

	text = deliver(DAVE, "api-optout", "X-Test: spam\r\n", &path);
	g_assert_nonnull(strstr(path, "/INBOX/"));
	g_free(text);
	g_free(path);

	/* and back: spam goes to Junk again */
	r = ex_req(port, false, NULL, "POST", "/api/settings", tok,
		   "{\"spam_to_junk\": true}", NULL);
	g_assert_cmpint(r.status, ==, 200);
	exresp_free(&r);
	text = deliver(DAVE, "api-optin", "X-Test: spam\r\n", &path);
	g_assert_true(in_junk(path));
	g_free(text);
	g_free(path);
	g_free(tok);
}

static void user_cmd(const char *const *argv, const char *input)
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
	const char *optout[] = {"rmail",	  "-c",	 NULL,
				"user",		  "set", CAROL,
				"--spam-to-junk", "no",	 NULL};
	int rc;

	g_test_init(&argc, &argv, NULL);
	H = rmh_new();
	rmh_set(H, "modules",
		"[\"mod_shardstore\", \"mod_smtp\", \"mod_fxfilter\", "
		"\"mod_exchange\"]");
	rmh_setf(H, "exchange_api",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"tls_listen\": []}",
		 rmh_port(H, "api"));
	rmh_setf(H, "smtp",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"submission_listen\": [], "
		 "\"smtps_listen\": []}",
		 rmh_port(H, "smtp"));
	/* no DNS here: the authentication stage is another test's */
	rmh_set(H, "mailauth", "{\"inbound\": false}");
	rmh_write_config(H);
	add[2] = optout[2] = rmh_config_path(H);
	add[5] = BOB;
	user_cmd(add, "pw-bob-1\n");
	add[5] = CAROL;
	user_cmd(add, "pw-carol-1\n");
	add[5] = DAVE;
	user_cmd(add, "pw-dave-1\n");
	add[5] = ERIN;
	user_cmd(add, "pw-erin-1\n");
	user_cmd(optout, NULL);
	g_assert_true(rmh_start(H));
	g_test_add_func("/spam/junk/marked", test_marked);
	g_test_add_func("/spam/junk/forged", test_forged);
	g_test_add_func("/spam/junk/forged-and-marked", test_forged_and_marked);
	g_test_add_func("/spam/junk/opt-out", test_opt_out);
	g_test_add_func("/spam/junk/api-opt-out", test_api_opt_out);
	g_test_add_func("/spam/junk/per-recipient", test_per_recipient);
	rc = g_test_run();
	g_assert_cmpint(rmh_stop(H), ==, 0);
	rmh_free(H);
	return rc;
}
