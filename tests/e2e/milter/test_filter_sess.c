/*
 * The ABI 1.4 filter entries against the real daemon, through a
 * fixture module (fx_sessfilter.c) that answers every step later from
 * a timer: a RCPT refused for that recipient only, an end-of-data
 * refusal, an edit in the stored copy, and a DELIVERY-stage target
 * filing the copy into a mailbox of the filter's choice; the API's
 * send runs the same steps in a session the core synthesizes.
 *
 * Given a directory (test_abi_v1_4), the fixture is mod_fx14sess from
 * there, built against the frozen 1.4 headers: ABI 1.4 keeps working.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "exhc.h"
#include "harness.h"

#define DOM "example.test"
#define BOB "bob@" DOM
#define PW "secret-pw"

static struct rmh *H;

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

static void cmd(struct rmh_conn *c, const char *prefix, const char *line)
{
	char *l;

	g_assert_true(rmh_send(c, "%s", line));
	l = reply(c);
	if (l == NULL || !g_str_has_prefix(l, prefix))
		g_error("%s: expected \"%s\", got \"%s\"", line, prefix,
			l != NULL ? l : "(EOF)");
	g_free(l);
}

/* one message to bob (with a refused nofx@ first): the final reply */
static char *send_msg(const char *tag, const char *hdr)
{
	struct rmh_conn *c = rmh_connect(rmh_port(H, "smtp"), false);
	char *msg, *l;

	g_assert_nonnull(c);
	g_free(reply(c));
	cmd(c, "250", "EHLO client.test");
	cmd(c, "250 ", "MAIL FROM:<sender@remote.example>");
	cmd(c, "550 5.7.1 fx says no", "RCPT TO:<nofx@" DOM ">");
	cmd(c, "250 ", "RCPT TO:<" BOB ">");
	cmd(c, "354 ", "DATA");
	msg = g_strdup_printf("From: <sender@remote.example>\r\n%s"
			      "Subject: %s\r\n\r\nbody %s\r\n",
			      hdr, tag, tag);
	g_assert_true(rmh_send_raw(c, msg, strlen(msg)));
	g_assert_true(rmh_send(c, "."));
	l = reply(c);
	cmd(c, "221 ", "QUIT");
	rmh_conn_close(c);
	g_free(msg);
	return l;
}

static char *find(const char *dir, const char *tag, char **path_r)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *e;
	char *found = NULL;

	while (d != NULL && found == NULL && (e = g_dir_read_name(d))) {
		char *p = g_build_filename(dir, e, NULL), *t = NULL;

		if (g_file_test(p, G_FILE_TEST_IS_DIR))
			found = find(p, tag, path_r);
		else if (g_str_has_suffix(e, ".eml") &&
			 g_file_get_contents(p, &t, NULL, NULL) &&
			 strstr(t, tag) != NULL) {
			found = t;
			t = NULL;
			*path_r = g_strdup(p);
		}
		g_free(t);
		g_free(p);
	}
	if (d != NULL)
		g_dir_close(d);
	return found;
}

static char *stored(const char *tag, char **path_r)
{
	char *dir = g_build_filename(rmh_dir(H), "mail", NULL);
	char *t = find(dir, tag, path_r);

	g_free(dir);
	return t;
}

static void test_edit(void)
{
	char *l = send_msg("tag-fxedit", "X-Fx: edit\r\n"), *path = NULL, *t;

	g_assert_true(g_str_has_prefix(l, "250 2.0.0 Ok: queued as "));
	t = stored("tag-fxedit", &path);
	g_assert_nonnull(t);
	g_assert_nonnull(strstr(path, "/INBOX/"));
	/* the DATA step saw the queue id of the reply */
	g_assert_nonnull(strstr(t, "X-Fx-Added: queue "));
	g_assert_nonnull(strstr(t, l + strlen("250 2.0.0 Ok: queued as ")));
	g_free(t);
	g_free(path);
	g_free(l);
}

static void test_reject(void)
{
	char *l = send_msg("tag-fxrej", "X-Fx: reject\r\n"), *path = NULL;

	g_assert_true(g_str_has_prefix(l, "554 5.7.1 fx refuses it"));
	g_assert_null(stored("tag-fxrej", &path));
	g_free(l);
}

static void test_target(void)
{
	char *l = send_msg("tag-fxfolder", "X-Fx: folder\r\n"), *path = NULL;
	char *t;

	g_assert_true(g_str_has_prefix(l, "250 "));
	t = stored("tag-fxfolder", &path);
	g_assert_nonnull(t);
	g_assert_nonnull(strstr(path, "/Filed/"));
	g_free(t);
	g_free(path);
	g_free(l);
}

/* /api/send: the synthesized session's RCPT step refuses nofx@, and so
 * the whole request; without it the message goes through */
static void test_api(void)
{
	unsigned port = rmh_port(H, "http");
	int st = 0;
	char *tok = ex_login(port, false, NULL, BOB, PW, NULL, &st), *path;
	char *t;
	struct exresp r;

	g_assert_nonnull(tok);
	r = ex_req(port, false, NULL, "POST", "/api/send", tok,
		   "{\"to\":[\"" BOB "\",\"nofx@" DOM "\"],"
		   "\"subject\":\"tag-fxapi1\",\"text\":\"x\"}",
		   NULL);
	g_assert_cmpint(r.status, >=, 400);
	exresp_free(&r);
	path = NULL;
	g_assert_null(stored("tag-fxapi1", &path));
	r = ex_req(port, false, NULL, "POST", "/api/send", tok,
		   "{\"to\":[\"" BOB "\"],"
		   "\"subject\":\"tag-fxapi2\",\"text\":\"x\"}",
		   NULL);
	g_assert_cmpint(r.status, ==, 200);
	g_assert_nonnull(strstr(r.body, "\"sent\":[\"" BOB "\"]"));
	exresp_free(&r);
	t = stored("tag-fxapi2", &path); /* Sent or INBOX */
	g_assert_nonnull(t);
	g_free(t);
	g_free(path);
	g_free(tok);
}

#ifdef RMAIL_ABI_FROZEN_1_4
#include <rmail/rmail.h>

extern const size_t fx14_core_size, fx14_submit_opts_size, fx14_store_ops_size,
	fx14_filter_ops_size, fx14_event_size, fx14_filter_msg_size;

static void test_sizes(void)
{
	g_assert_cmpuint(RMAIL_CORE_SIZE_1_4, ==, fx14_core_size);
	g_assert_cmpuint(RMAIL_SUBMIT_OPTS_SIZE_1_4, ==, fx14_submit_opts_size);
	g_assert_cmpuint(RMAIL_STORE_OPS_SIZE_1_4, ==, fx14_store_ops_size);
	g_assert_cmpuint(RMAIL_FILTER_OPS_SIZE_1_4, ==, fx14_filter_ops_size);
	g_assert_cmpuint(RMAIL_EVENT_SIZE_1_4, ==, fx14_event_size);
	g_assert_cmpuint(RMAIL_FILTER_MSG_SIZE_1_4, ==, fx14_filter_msg_size);
}
#endif

/* the frozen fixture beside the build's store and SMTP modules */
static void use_fixture_dir(const char *fx_dir)
{
	static const char *const own[] = {"mod_shardstore.so", "mod_smtp.so",
					  "mod_exchange.so"};
	char *dir = g_build_filename(rmh_dir(H), "modules", NULL), *src, *dst;

	g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
	for (size_t i = 0; i < G_N_ELEMENTS(own) + 1; i++) {
		src = i < G_N_ELEMENTS(own)
			      ? g_build_filename(g_getenv("RMAIL_MODULE_DIR"),
						 own[i], NULL)
			      : g_build_filename(fx_dir, "mod_fx14sess.so",
						 NULL);
		dst = g_build_filename(
			dir, i < G_N_ELEMENTS(own) ? own[i] : "mod_fx14sess.so",
			NULL);
		g_assert_cmpint(symlink(src, dst), ==, 0);
		g_free(src);
		g_free(dst);
	}
	rmh_setf(H, "module_dir", "\"%s\"", dir);
	rmh_set(H, "modules",
		"[\"mod_shardstore\", \"mod_smtp\", \"mod_exchange\", "
		"\"mod_fx14sess\"]");
	g_free(dir);
}

int main(int argc, char **argv)
{
	const char *user_add[] = {
		"rmail", "-c", NULL, "user", "add", BOB, "--password-stdin",
		NULL};
	char *out = NULL, *errs = NULL;
	int rc;

	g_test_init(&argc, &argv, NULL);
	H = rmh_new();
	if (argc > 1)
		use_fixture_dir(argv[1]);
	else
		rmh_set(H, "modules",
			"[\"mod_shardstore\", \"mod_smtp\", "
			"\"mod_exchange\", \"mod_fxsess\"]");
	rmh_setf(H, "smtp",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"submission_listen\": [], "
		 "\"smtps_listen\": []}",
		 rmh_port(H, "smtp"));
	rmh_setf(H, "exchange_api",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"tls_listen\": []}",
		 rmh_port(H, "http"));
	rmh_write_config(H);
	user_add[2] = rmh_config_path(H);
	for (int i = 0; i < 2; i++) {
		user_add[5] = i == 0 ? BOB : "nofx@" DOM;
		rc = rmh_run_argv(H, user_add, PW "\n", &out, &errs);
		g_assert_cmpint(rc, ==, 0);
		g_free(out);
		g_free(errs);
	}
	g_assert_true(rmh_start(H));
#ifdef RMAIL_ABI_FROZEN_1_4
	g_test_add_func("/abi/v1_4/sizes", test_sizes);
#endif
	g_test_add_func("/filter/sess/edit", test_edit);
	g_test_add_func("/filter/sess/reject", test_reject);
	g_test_add_func("/filter/sess/target", test_target);
	g_test_add_func("/filter/sess/api", test_api);
	rc = g_test_run();
	g_assert_cmpint(rmh_stop(H), ==, 0);
	rmh_free(H);
	return rc;
}
