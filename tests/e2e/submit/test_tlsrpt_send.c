/* TLS-RPT aggregate reports sent by the daemon: a day of recorded TLS
 * results for a domain whose `_smtp._tls` record names a local mailbox
 * and an HTTPS endpoint gives exactly one report in that mailbox
 * (multipart/report, application/tlsrpt+gzip, DKIM-signed, null return
 * path) and exactly one POST (application/tlsrpt+gzip) at a loopback
 * HTTPS server with a test CA, though two daemons share the mail root;
 * both reports gunzip to the same RFC 8460 JSON, read by python3.  A
 * later `rmail tlsrpt report --send` sends nothing more. */
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dnsd.h"
#include "harness.h"
#include "sts_fixture.h"
#include "submit/tlsrpt.h"

#define DOM "example.test"
#define RUA "tlsrpt@" DOM

static void run_ok(struct rmh *h, const char *const *argv, const char *in)
{
	char *out = NULL, *err = NULL;
	int rc = rmh_run_argv(h, argv, in, &out, &err);

	g_test_message("%s: %s%s", argv[3], out, err);
	g_assert_cmpint(rc, ==, 0);
	g_free(out);
	g_free(err);
}

/* the report messages in the rua user's INBOX; the last one's path */
static int reports(const char *root, char **path)
{
	char *dir =
		g_build_filename(root, "domains", DOM, "users", "tlsrpt", NULL);
	char *argv[] = {"grep", "-rlF", "--include=*.eml", "TLS-Report-Domain:",
			dir,	NULL};
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
		if (path != NULL) {
			g_free(*path);
			*path = g_strdup(*l);
		}
	}
	g_strfreev(lines);
	g_free(out);
	g_free(dir);
	return n;
}

static int posts(const struct sts_server *s)
{
	char *d = g_build_filename(s->root, "posts", NULL);
	GDir *dh = g_dir_open(d, 0, NULL);
	const char *e;
	int n = 0;

	while (dh != NULL && (e = g_dir_read_name(dh)) != NULL)
		n += g_str_has_suffix(e, ".bin");
	if (dh != NULL)
		g_dir_close(dh);
	g_free(d);
	return n;
}

static struct rmh *daemon_cfg(const char *root, unsigned dns_port,
			      const char *ca, unsigned https_port)
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
	rmh_setf(h, "mta_sts",
		 "{\"ca_file\": \"%s\", \"connect_to\": "
		 "[\"tlsrpt." DOM ":443:127.0.0.1:%u\"]}",
		 ca, https_port);
	rmh_write_config(h);
	g_free(sock);
	return h;
}

/* python3 reads the report: from the mail's attachment and the POST */
static void check_json(const char *eml, const char *post)
{
	static const char script[] =
		"import email, gzip, json, sys\n"
		"m = email.message_from_binary_file(open(sys.argv[1], 'rb'))\n"
		"assert m['TLS-Report-Domain'] == '" DOM "'\n"
		"assert m.get_content_type() == 'multipart/report'\n"
		"assert m.get_param('report-type') == 'tlsrpt'\n"
		"part = [p for p in m.walk()\n"
		"        if p.get_content_type() == "
		"'application/tlsrpt+gzip']\n"
		"assert len(part) == 1\n"
		"a = "
		"json.loads(gzip.decompress(part[0].get_payload(decode=True)))"
		"\n"
		"b = json.loads(gzip.decompress(open(sys.argv[2], "
		"'rb').read()))\n"
		"assert a == b\n"
		"p = a['policies'][0]\n"
		"assert p['policy']['policy-type'] == 'sts'\n"
		"assert p['policy']['policy-domain'] == '" DOM "'\n"
		"assert p['summary']['total-successful-session-count'] == 2\n"
		"assert p['summary']['total-failure-session-count'] == 1\n"
		"f = p['failure-details'][0]\n"
		"assert f['result-type'] == 'certificate-host-mismatch'\n"
		"assert f['receiving-mx-hostname'] == 'mx2." DOM "'\n"
		"print('ok')\n";
	char *argv[] = {"python3",   "-c",	   (char *)script,
			(char *)eml, (char *)post, NULL};
	char *out = NULL, *err = NULL;

	g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
				   NULL, &out, &err, NULL, NULL));
	g_test_message("python3: %s%s", out, err);
	g_assert_cmpstr(out, ==, "ok\n");
	g_free(out);
	g_free(err);
}

static void test_send(void)
{
	char msg_e[128], *root, *dir, *www, *ca, *eml = NULL, *msg = NULL;
	char *out = NULL, *err = NULL, *post, *type = NULL;
	struct rm_dnsd *d;
	struct sts_server srv;
	struct rmh *a, *b;
	int64_t yday = (int64_t)time(NULL) - 86400;
	gint64 end;

	d = rm_dnsd_start("_smtp._tls." DOM " TXT \"v=TLSRPTv1; rua=mailto:" RUA
			  ",https://tlsrpt." DOM "/v1/report\"\n",
			  msg_e, sizeof(msg_e));
	g_assert_nonnull(d);
	root = g_dir_make_tmp("tlsrpt-send-XXXXXX", NULL);
	g_assert_nonnull(root);
	sts_make_ca(root);
	sts_make_cert(root, "web", "tlsrpt." DOM);
	www = g_build_filename(root, "www", NULL);
	sts_server_start(&srv, root, "web", www);
	ca = g_build_filename(root, "ca.pem", NULL);
	a = daemon_cfg(root, rm_dnsd_port(d), ca, srv.port);
	b = daemon_cfg(root, rm_dnsd_port(d), ca, srv.port);
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
	dir = g_build_filename(root, "tlsrpt", NULL);
	g_assert_cmpint(rm_tlsrpt_record(dir, yday, DOM, RM_TLSRPT_STS,
					 "mx1." DOM, "192.0.2.1",
					 RM_TLSRPT_SUCCESS, NULL),
			==, 0);
	g_assert_cmpint(rm_tlsrpt_record(dir, yday, DOM, RM_TLSRPT_STS,
					 "mx1." DOM, "192.0.2.1",
					 RM_TLSRPT_SUCCESS, NULL),
			==, 0);
	g_assert_cmpint(rm_tlsrpt_record(dir, yday, DOM, RM_TLSRPT_STS,
					 "mx2." DOM, "192.0.2.2",
					 RM_TLSRPT_CERT_HOST_MISMATCH,
					 "hostname mismatch"),
			==, 0);
	/* today's: not reported before tomorrow */
	g_assert_cmpint(rm_tlsrpt_record(dir, (int64_t)time(NULL), DOM,
					 RM_TLSRPT_STS, "mx1." DOM, "",
					 RM_TLSRPT_SUCCESS, NULL),
			==, 0);

	g_assert_true(rmh_start(a));
	g_assert_true(rmh_start(b));
	end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
	while ((reports(root, NULL) == 0 || posts(&srv) == 0) &&
	       g_get_monotonic_time() < end)
		g_usleep(50000);
	/* both daemons' first runs are over by then */
	g_usleep(1500000);
	g_assert_cmpint(reports(root, &eml), ==, 1);
	g_assert_cmpint(posts(&srv), ==, 1);
	g_assert_true(g_file_get_contents(eml, &msg, NULL, NULL));
	g_assert_nonnull(strstr(msg, "Return-Path: <>"));
	g_assert_nonnull(strstr(msg, "DKIM-Signature:"));
	g_assert_nonnull(strstr(msg, "d=mail.example.test"));
	g_assert_nonnull(
		strstr(msg, "From: <noreply-tlsrpt@mail.example.test>"));
	g_assert_nonnull(strstr(msg, "Subject: Report Domain: " DOM
				     " Submitter: mail.example.test"));
	g_assert_nonnull(
		strstr(msg, "TLS-Report-Submitter: mail.example.test"));
	g_assert_nonnull(strstr(msg, "!" DOM "!"));
	post = g_build_filename(www, "posts", "0.type", NULL);
	g_assert_true(g_file_get_contents(post, &type, NULL, NULL));
	g_assert_cmpstr(type, ==, "application/tlsrpt+gzip");
	g_free(post);
	post = g_build_filename(www, "posts", "0.bin", NULL);
	check_json(eml, post);

	/* by hand, the same day: nothing more */
	g_assert_cmpint(
		rmh_run(a, &out, &err, "tlsrpt", "report", "--send", NULL), ==,
		0);
	g_test_message("%s%s", out, err);
	g_assert_nonnull(strstr(out, "scheduled"));
	g_usleep(1500000);
	g_assert_cmpint(reports(root, NULL), ==, 1);
	g_assert_cmpint(posts(&srv), ==, 1);

	g_assert_cmpint(rmh_stop(a), ==, 0);
	g_assert_cmpint(rmh_stop(b), ==, 0);
	rmh_free(a);
	rmh_free(b);
	rm_dnsd_stop(d);
	sts_server_stop(&srv);
	{
		char *argv[] = {"rm", "-rf", root, NULL};

		g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
			     NULL, NULL, NULL, NULL);
	}
	g_free(out);
	g_free(err);
	g_free(type);
	g_free(post);
	g_free(msg);
	g_free(eml);
	g_free(ca);
	g_free(www);
	g_free(dir);
	g_free(root);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/submit/tlsrpt_send", test_send);
	return g_test_run();
}
