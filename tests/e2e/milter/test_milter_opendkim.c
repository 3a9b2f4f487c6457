/*
 * OpenDKIM (the Debian package) as a real milter: two private
 * instances on loopback with configs in the test's directory and a key
 * made by opendkim-genkey.  On submission the signer signs and the
 * relayed message carries exactly one DKIM-Signature -- OpenDKIM's,
 * valid (checked with dkimpy against the generated key) -- although
 * rmail has an active key of its own for the domain.  On port 25 the
 * verifier's Authentication-Results field is kept next to rmail's.
 */
#include <glib.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "sink.h"

#define DOM "example.test"
#define ALICE "alice@" DOM
#define PW "secret-pw"

static struct rmh *H;
static GPid OD[2];

static void child_setup(gpointer data)
{
	(void)data;
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void run(const char *const *argv)
{
	GError *e = NULL;
	int status = 0;
	char *out = NULL, *err = NULL;

	if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
			  NULL, &out, &err, &status, &e))
		g_error("%s: %s", argv[0], e->message);
	if (!g_spawn_check_wait_status(status, NULL))
		g_error("%s failed: %s %s", argv[0], out, err);
	g_free(out);
	g_free(err);
}

static gboolean port_open(guint port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	gboolean ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

	close(fd);
	return ok;
}

/* a private opendkim in the foreground on 127.0.0.1:port */
static GPid opendkim(const char *name, const char *mode, const char *internal,
		     guint port)
{
	const char *dir = rmh_dir(H);
	char *conf = g_strdup_printf("%s/%s.conf", dir, name);
	char *text = g_strdup_printf(
		"Syslog no\nBackground no\nSocket inet:%u@127.0.0.1\n"
		"Mode %s\nKeyTable file:%s/keytable\n"
		"SigningTable refile:%s/signingtable\nInternalHosts %s\n"
		"PidFile %s/%s.pid\nAlwaysAddARHeader yes\n"
		"AuthservID opendkim.test\n"
		/* the key is in the test's directory under /tmp */
		"RequireSafeKeys no\n",
		port, mode, dir, dir, internal, dir, name);
	char *sh = g_strdup_printf("exec opendkim -f -v -x %s 2>%s/%s.log",
				   conf, dir, name);
	const char *argv[] = {"/bin/sh", "-c", sh, NULL};
	gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
	GError *e = NULL;
	GPid pid;

	g_assert_true(g_file_set_contents(conf, text, -1, NULL));
	if (!g_spawn_async(NULL, (char **)argv, NULL,
			   G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
			   child_setup, NULL, &pid, &e))
		g_error("opendkim (Debian package opendkim, installed by "
			"scripts/deps.sh): %s",
			e->message);
	while (!port_open(port)) {
		if (g_get_monotonic_time() > end)
			g_error("opendkim did not listen on %u", port);
		g_usleep(20000);
	}
	g_free(text);
	g_free(conf);
	g_free(sh);
	return pid;
}

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
		g_error("%s: expected \"%s\", got \"%s\"\n%s", line, prefix,
			l != NULL ? l : "(EOF)", rmh_stderr(H));
	g_free(l);
}

static void deliver(struct rmh_conn *c, const char *from, const char *rcpt,
		    const char *msg)
{
	char *l = g_strdup_printf("MAIL FROM:<%s>", from);

	cmd(c, "250 ", l);
	g_free(l);
	l = g_strdup_printf("RCPT TO:<%s>", rcpt);
	cmd(c, "250 ", l);
	g_free(l);
	cmd(c, "354 ", "DATA");
	g_assert_true(rmh_send_raw(c, msg, strlen(msg)));
	cmd(c, "250 ", ".");
	cmd(c, "221 ", "QUIT");
	rmh_conn_close(c);
}

static guint count(const char *s, const char *needle)
{
	guint n = 0;

	for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void test_submission_signed_once(void)
{
	struct rmh_conn *c = rmh_connect(rmh_port(H, "smtps"), true);
	GString *s = g_string_new(NULL);
	char *b, *line, *m = NULL, *path, *txt;
	gint64 end = g_get_monotonic_time() + 15 * G_USEC_PER_SEC;
	const char *verify[] = {RMAIL_DEBIAN_PYTHON3,
				"-c",
				"import dkim,re,sys\n"
				"m=open(sys.argv[1],'rb').read()\n"
				"t=open(sys.argv[2]).read()\n"
				"p=''.join(re.findall(r'\"([^\"]*)\"',t))\n"
				"sys.exit(0 if dkim.verify(m,dnsfunc=lambda "
				"n,timeout=5:p.encode()) else 1)\n",
				NULL,
				NULL,
				NULL};

	g_assert_nonnull(c);
	g_free(reply(c));
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
	deliver(c, ALICE, "someone@remote.test",
		"From: Alice <" ALICE ">\r\nTo: <someone@remote.test>\r\n"
		"Subject: signed by opendkim\r\nDate: Sun, 06 Dec 2026 "
		"10:00:00 +0000\r\nMessage-ID: <odk.1@example.test>\r\n\r\n"
		"tag-odk-sign\r\n");
	while (m == NULL && g_get_monotonic_time() < end) {
		for (guint i = 0; i < sink_count() && m == NULL; i++) {
			char *t = sink_message(i);

			if (strstr(t, "tag-odk-sign") != NULL)
				m = t;
			else
				g_free(t);
		}
		if (m == NULL)
			g_usleep(50000);
	}
	g_assert_nonnull(m);
	g_test_message("relayed:\n%s", m);
	/* OpenDKIM's signature, and only it */
	g_assert_cmpuint(count(m, "DKIM-Signature:"), ==, 1);
	g_assert_nonnull(strstr(m, "s=sel"));
	path = g_strdup_printf("%s/relayed.eml", rmh_dir(H));
	txt = g_strdup_printf("%s/sel.txt", rmh_dir(H));
	g_assert_true(g_file_set_contents(path, m, -1, NULL));
	verify[3] = path;
	verify[4] = txt;
	run(verify);
	g_free(path);
	g_free(txt);
	g_free(m);
}

static char *find(const char *dir, const char *tag)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *e;
	char *found = NULL;

	while (d != NULL && found == NULL && (e = g_dir_read_name(d))) {
		char *p = g_build_filename(dir, e, NULL), *t = NULL;

		if (g_file_test(p, G_FILE_TEST_IS_DIR))
			found = find(p, tag);
		else if (g_str_has_suffix(e, ".eml") &&
			 g_file_get_contents(p, &t, NULL, NULL) &&
			 strstr(t, tag) != NULL) {
			found = t;
			t = NULL;
		}
		g_free(t);
		g_free(p);
	}
	if (d != NULL)
		g_dir_close(d);
	return found;
}

static void test_mx_verified(void)
{
	struct rmh_conn *c = rmh_connect(rmh_port(H, "smtp"), false);
	char *dir, *t;

	g_assert_nonnull(c);
	g_free(reply(c));
	cmd(c, "250", "EHLO client.test");
	deliver(c, "sender@remote.example", ALICE,
		"From: <sender@remote.example>\r\nTo: <" ALICE ">\r\n"
		"Subject: inbound\r\nAuthentication-Results: opendkim.test; "
		"dkim=pass (forged by the client)\r\n\r\ntag-odk-verify\r\n");
	dir = g_build_filename(rmh_dir(H), "mail", NULL);
	t = find(dir, "tag-odk-verify");
	g_assert_nonnull(t);
	g_test_message("stored:\n%s", t);
	/* the verifier's field is kept, rmail's own is there too */
	g_assert_nonnull(strstr(t, "Authentication-Results: opendkim.test"));
	g_assert_nonnull(strstr(t, "Authentication-Results: mx.rmail.test"));
	g_free(t);
	g_free(dir);
}

int main(int argc, char **argv)
{
	const char *user_add[] = {
		"rmail", "-c", NULL, "user", "add", ALICE, "--password-stdin",
		NULL};
	const char *keygen[] = {"rmail",  "-c", NULL, "dkim",
				"keygen", DOM,	NULL};
	const char *genkey[] = {
		"opendkim-genkey", "-D", NULL, "-d", DOM, "-s", "sel", NULL};
	char *out = NULL, *errs = NULL, *kt, *st;
	guint sink;
	int rc;

	g_test_init(&argc, &argv, NULL);
	sink = sink_start();
	H = rmh_new();
	genkey[2] = rmh_dir(H);
	run(genkey);
	kt = g_strdup_printf("sel._domainkey." DOM " " DOM
			     ":sel:%s/sel.private\n",
			     rmh_dir(H));
	st = g_strdup_printf("*@" DOM " sel._domainkey." DOM "\n");
	for (int i = 0; i < 2; i++) {
		char *p = g_build_filename(
			rmh_dir(H), i == 0 ? "keytable" : "signingtable", NULL);

		g_assert_true(
			g_file_set_contents(p, i == 0 ? kt : st, -1, NULL));
		g_free(p);
	}
	OD[0] = opendkim("sign", "s", "127.0.0.1", rmh_port(H, "odsign"));
	/* nothing is internal for the verifier: it verifies loopback */
	OD[1] = opendkim("verify", "v", "192.0.2.1", rmh_port(H, "odverify"));
	rmh_set(H, "modules",
		"[\"mod_shardstore\", \"mod_smtp\", \"mod_milter\"]");
	rmh_setf(H, "smtp",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"submission_listen\": [], "
		 "\"smtps_listen\": [\"127.0.0.1:%u\"]}",
		 rmh_port(H, "smtp"), rmh_port(H, "smtps"));
	rmh_setf(H, "delivery",
		 "{\"retry_initial\": \"1h\", "
		 "\"routes\": {\"remote.test\": \"127.0.0.1:%u\"}}",
		 sink);
	rmh_set(H, "mailauth", "{\"authserv_id\": \"mx.rmail.test\"}");
	rmh_setf(H, "milter",
		 "{\"milters\": [\"{ inet:127.0.0.1:%u, listeners=submission "
		 "}\", \"{ inet:127.0.0.1:%u, listeners=mx }\"]}",
		 rmh_port(H, "odsign"), rmh_port(H, "odverify"));
	rmh_write_config(H);
	user_add[2] = rmh_config_path(H);
	rc = rmh_run_argv(H, user_add, PW "\n", &out, &errs);
	g_assert_cmpint(rc, ==, 0);
	g_free(out);
	g_free(errs);
	/* rmail's own key for the domain: without the milter's signature
	 * it would sign too */
	keygen[2] = rmh_config_path(H);
	rc = rmh_run_argv(H, keygen, NULL, &out, &errs);
	g_assert_cmpint(rc, ==, 0);
	g_free(out);
	g_free(errs);
	g_assert_true(rmh_start(H));
	g_test_add_func("/milter/opendkim/submission-signed-once",
			test_submission_signed_once);
	g_test_add_func("/milter/opendkim/mx-verified", test_mx_verified);
	rc = g_test_run();
	g_assert_cmpint(rmh_stop(H), ==, 0);
	rmh_free(H);
	for (int i = 0; i < 2; i++) {
		kill(OD[i], SIGTERM);
		(void)waitpid(OD[i], NULL, 0);
	}
	g_free(kt);
	g_free(st);
	return rc;
}
