/* DMARC aggregate reports sent by the daemon: a day of recorded data
 * for a domain whose rua= is a local user gives one report message in
 * that user's INBOX (gzip'd XML attached, DKIM-signed, null return
 * path); an external rua= its domain does not authorise gets nothing;
 * two daemons on one mail root, and a later `rmail dmarc report
 * --send`, send nothing more. */
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dnsd.h"
#include "harness.h"
#include "mailauth/dmarc.h"
#include "mailauth/dmarc_report.h"

#define DOM "example.test"
#define RUA "agg@" DOM

static void run_ok(struct rmh *h, const char *const *argv, const char *in)
{
	char *out = NULL, *err = NULL;
	int rc = rmh_run_argv(h, argv, in, &out, &err);

	g_test_message("%s: %s%s", argv[3], out, err);
	g_assert_cmpint(rc, ==, 0);
	g_free(out);
	g_free(err);
}

static void record(const char *dir, int64_t t)
{
	static const char rec[] =
		"v=DMARC1; p=none; rua=mailto:" RUA ",mailto:r@vendor.test";
	struct dmarc_auth a = {
		.spf_domain = DOM, .spf_pass = true, .spf_result = "pass"};
	struct dmarc_verdict v = {
		.have_record = true, .result = DMARC_PASS, .spf_aligned = true};

	g_assert_cmpint(dmarc_record_parse(rec, strlen(rec), &v.rec), ==,
			DMARC_REC_OK);
	snprintf(v.from_domain, sizeof(v.from_domain), "%s", DOM);
	snprintf(v.policy_domain, sizeof(v.policy_domain), "%s", DOM);
	g_assert_cmpint(dmarc_report_record(dir, &v, &a, "192.0.2.1", t), ==,
			0);
}

/* the report messages in the rua user's mailboxes; the last one's
 * text into *msg */
static int reports(const char *root, char **msg)
{
	char *dir =
		g_build_filename(root, "domains", DOM, "users", "agg", NULL);
	char *argv[] = {"grep",	      "-rlF", "--include=*.eml",
			"Report-ID:", dir,    NULL};
	char *out = NULL, **lines;
	int n = 0;

	g_assert_true(
		g_spawn_sync(NULL, argv, NULL,
			     G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
			     NULL, NULL, &out, NULL, NULL, NULL));
	lines = g_strsplit(out != NULL ? out : "", "\n", -1);
	for (char **l = lines; *l != NULL; l++) {
		if (strstr(*l, "/INBOX") == NULL)
			continue;
		n++;
		if (msg != NULL) {
			g_free(*msg);
			g_assert_true(g_file_get_contents(*l, msg, NULL, NULL));
		}
	}
	g_strfreev(lines);
	g_free(out);
	g_free(dir);
	return n;
}

static struct rmh *daemon_cfg(const char *root, unsigned dns_port)
{
	struct rmh *h = rmh_new();
	char *sock = g_build_filename(rmh_dir(h), "ctl.sock", NULL);

	rmh_setf(h, "mail_root", "\"%s\"", root);
	rmh_set(h, "modules", "[\"mod_shardstore\"]");
	rmh_setf(h, "control_socket", "\"%s\"", sock);
	rmh_setf(h, "dns",
		 "{\"forwarders\": [\"127.0.0.1@%u\"], \"timeout_ms\": 500, "
		 "\"trust_anchor\": null}",
		 dns_port);
	rmh_write_config(h);
	g_free(sock);
	return h;
}

static void test_send(void)
{
	char msg_e[128], *root, *dir, *msg = NULL, *out = NULL, *err = NULL;
	struct rm_dnsd *d = rm_dnsd_start(NULL, msg_e, sizeof(msg_e));
	struct rmh *a, *b;
	gint64 end;

	g_assert_nonnull(d);
	/* the shared mail root, outside both harnesses' directories */
	root = g_dir_make_tmp("dmarc-send-XXXXXX", NULL);
	g_assert_nonnull(root);
	a = daemon_cfg(root, rm_dnsd_port(d));
	b = daemon_cfg(root, rm_dnsd_port(d));
	{
		const char *add[] = {"rmail", "-c", rmh_config_path(a), "user",
				     "add",   RUA,  "--password-stdin", NULL};
		const char *key[] = {
			"rmail",       "-c",	  rmh_config_path(a),
			"dkim",	       "keygen",  "mail.example.test",
			"--algorithm", "ed25519", "--force",
			NULL};

		run_ok(a, add, "secret-pw-123\n");
		run_ok(a, key, NULL);
	}
	dir = g_build_filename(root, "dmarc", NULL);
	record(dir, (int64_t)time(NULL) - 86400);
	record(dir, (int64_t)time(NULL) - 86400);
	/* today's: not reported before tomorrow */
	record(dir, (int64_t)time(NULL));

	g_assert_true(rmh_start(a));
	g_assert_true(rmh_start(b));
	end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
	while (reports(root, NULL) == 0 && g_get_monotonic_time() < end)
		g_usleep(50000);
	/* both daemons' first runs are over by then */
	g_usleep(1500000);
	g_assert_cmpint(reports(root, &msg), ==, 1);
	g_assert_nonnull(msg);
	g_assert_nonnull(strstr(msg, "Return-Path: <>"));
	g_assert_nonnull(strstr(msg, "DKIM-Signature:"));
	g_assert_nonnull(strstr(msg, "d=mail.example.test"));
	g_assert_nonnull(
		strstr(msg, "From: <noreply-dmarc@mail.example.test>"));
	g_assert_nonnull(strstr(msg, "Report Domain: " DOM));
	g_assert_nonnull(strstr(msg, "Content-Type: application/gzip"));
	g_assert_nonnull(strstr(msg, "!" DOM "!"));
	/* base64 of the gzip magic 1f 8b 08 */
	g_assert_nonnull(strstr(msg, "\r\nH4sI"));
	/* the external rua: its domain was asked, did not authorise, and
	 * nothing was queued for it */
	g_assert_cmpuint(rm_dnsd_queries(d), >, 0);
	g_assert_cmpint(rmh_run(a, &out, &err, "queue", "list", NULL), ==, 0);
	g_assert_nonnull(strstr(out, "queue is empty"));
	g_free(out);
	g_free(err);

	/* by hand, the same day: nothing more */
	g_assert_cmpint(
		rmh_run(a, &out, &err, "dmarc", "report", "--send", NULL), ==,
		0);
	g_test_message("%s%s", out, err);
	g_assert_nonnull(strstr(out, "scheduled"));
	g_free(out);
	g_free(err);
	g_usleep(1500000);
	g_assert_cmpint(reports(root, NULL), ==, 1);

	g_assert_cmpint(rmh_stop(a), ==, 0);
	g_assert_cmpint(rmh_stop(b), ==, 0);
	rmh_free(a);
	rmh_free(b);
	rm_dnsd_stop(d);
	{
		char *argv[] = {"rm", "-rf", root, NULL};

		g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
			     NULL, NULL, NULL, NULL);
	}
	g_free(msg);
	g_free(dir);
	g_free(root);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/submit/dmarc_send", test_send);
	return g_test_run();
}
