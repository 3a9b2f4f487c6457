/*
 * The smarthost path of the outbound queue, in-process against sinks on
 * loopback: delivery.relay_host with delivery.relay_tls and AUTH PLAIN
 * credentials (sent only under TLS, never after a failed handshake), a
 * successful outbound STARTTLS with tests/certs, relay_tls none, and the
 * configuration checks of the new keys.  Each case writes one queue
 * entry with the core's own code and runs one forced queue pass.
 */
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "rm.h"
#include "sink.h"
#include "submit/submit_int.h"

static char *dir;
static guint tls_port, auth_port, broken_port;
static struct rm_config *current;
static char *cert;

static void report(void *arg, const char *problem)
{
	(void)arg;
	g_printerr("config: %s\n", problem);
}

/* load a config whose delivery section is the given JSON members */
static int load(const char *delivery)
{
	struct rm_config *conf = NULL;
	char *path = g_build_filename(dir, "config.json", NULL);
	char *cfg =
		g_strdup_printf("{\"hostname\": \"mx.example.test\", "
				"\"mail_root\": \"%s/mail\","
				" \"modules\": [], \"log_level\": \"error\","
				" \"delivery\": {%s}}",
				dir, delivery);
	int rc;

	g_assert_true(g_file_set_contents(path, cfg, -1, NULL));
	rc = rm_config_load(path, &conf, report, NULL);
	if (rc == 0) {
		/* no worker threads here: nothing else holds the old one */
		rm_conf_set(conf);
		rm_config_free(&current);
		current = conf;
	}
	g_free(cfg);
	g_free(path);
	return rc;
}

static void load_ok(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static void load_ok(const char *fmt, ...)
{
	va_list ap;
	char *d;

	va_start(ap, fmt);
	d = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_assert_cmpint(load(d), ==, 0);
	g_free(d);
}

/* one entry for rcpt, one forced pass; the entry's state afterwards:
 * NULL when it left the queue, else its last error (free) */
static char *queue_once(const char *rcpt, const char *subject)
{
	const char *rcpts[] = {rcpt};
	char *msg = g_strdup_printf("Subject: %s\r\n\r\nbody\r\n", subject);
	char *tmp = g_build_filename(dir, "msg", NULL), *why = NULL;
	char id[RM_QID_MAX];
	struct rm_msg_src src = {0}; /* flags 0: looked at on delivery */
	struct rm_qentry e;
	struct rmail_err err;
	int fd;

	g_assert_true(g_file_set_contents(tmp, msg, -1, NULL));
	fd = open(tmp, O_RDONLY);
	g_assert_cmpint(fd, >=, 0);
	src.prefix = "";
	src.fd = fd;
	src.size = strlen(msg);
	rm_submit_new_id(id);
	g_assert_cmpint(rm_queue_add(id, "alice@example.test", rcpts, 1, &src,
				     false, &err),
			==, 0);
	close(fd);
	rm_queue_run(true);
	if (rm_queue_load(id, &e, NULL) == 0) {
		why = g_strdup(e.r[0].error ? e.r[0].error : "pending");
		rm_queue_entry_free(&e);
		g_assert_cmpint(rm_queue_remove(id), ==, 0);
	}
	g_free(tmp);
	g_free(msg);
	return why;
}

static gboolean sink_has_subject(guint from, const char *subject)
{
	for (guint i = from; i < sink_count(); i++) {
		char *m = sink_message(i);
		gboolean hit = strstr(m, subject) != NULL;

		g_free(m);
		if (hit)
			return TRUE;
	}
	return FALSE;
}

static char *pw_file(const char *pw)
{
	char *p = g_build_filename(dir, "relay.pw", NULL);

	g_assert_true(g_file_set_contents(p, pw, -1, NULL));
	return p;
}

static void test_starttls(void)
{
	guint n0 = sink_count(), t0 = sink_tls_done();
	char *why;

	/* a route, not the relay: default opportunistic STARTTLS */
	load_ok("\"routes\": {\"remote.test\": \"127.0.0.1:%u\"}", tls_port);
	why = queue_once("x@remote.test", "starttls-ok");
	g_assert_null(why);
	g_assert_cmpuint(sink_tls_done(), ==, t0 + 1);
	g_assert_true(sink_has_subject(n0, "starttls-ok"));
}

static void test_relay_auth(void)
{
	guint n0 = sink_count(), a0 = sink_auth_ok(), t0 = sink_tls_done();
	char *pw = pw_file("s3cret\n"), *why;

	/* the default relay_tls_verify, verify: the sink's self-signed
	 * certificate is the CA, its IP address the name */
	load_ok("\"relay_host\": \"127.0.0.1:%u\", \"relay_user\": \"relay\","
		" \"relay_password_file\": \"%s\", \"relay_ca_file\": \"%s\"",
		auth_port, pw, cert);
	g_assert_cmpint(rm_conf()->relay.tls, ==, RM_RELAY_STARTTLS);
	why = queue_once("y@anywhere.test", "relay-auth-ok");
	g_assert_null(why);
	g_assert_cmpuint(sink_auth_ok(), ==, a0 + 1);
	g_assert_cmpuint(sink_tls_done(), ==, t0 + 1);
	g_assert_true(sink_has_subject(n0, "relay-auth-ok"));
	g_free(pw);
}

static void test_relay_bad_password(void)
{
	guint n0 = sink_count(), a0 = sink_auth_ok(), s0 = sink_auth_seen();
	char *pw = pw_file("wrong"), *why;

	load_ok("\"relay_host\": \"127.0.0.1:%u\", \"relay_user\": \"relay\","
		" \"relay_password_file\": \"%s\", \"relay_ca_file\": \"%s\"",
		auth_port, pw, cert);
	why = queue_once("y@anywhere.test", "relay-auth-bad");
	g_assert_nonnull(why);
	g_assert_nonnull(strstr(why, "4.7.8"));
	g_assert_cmpuint(sink_auth_seen(), ==, s0 + 1);
	g_assert_cmpuint(sink_auth_ok(), ==, a0);
	g_assert_false(sink_has_subject(n0, "relay-auth-bad"));
	g_free(why);
	g_free(pw);
}

/* a broken handshake must not fall back to cleartext with credentials */
static void test_relay_no_cleartext_auth(void)
{
	guint n0 = sink_count(), s0 = sink_auth_seen();
	guint t0 = sink_tls_attempts();
	char *pw = pw_file("s3cret"), *why;

	/* the pre-1.4 opportunistic relay: cleartext would be allowed,
	 * but never with credentials */
	load_ok("\"relay_host\": \"127.0.0.1:%u\", \"relay_user\": \"relay\","
		" \"relay_password_file\": \"%s\","
		" \"relay_tls_verify\": \"opportunistic\"",
		broken_port, pw);
	why = queue_once("y@anywhere.test", "relay-withheld");
	g_assert_nonnull(why);
	g_assert_nonnull(strstr(why, "credentials withheld"));
	g_assert_cmpuint(sink_tls_attempts(), ==, t0 + 1);
	g_assert_cmpuint(sink_auth_seen(), ==, s0);
	g_assert_false(sink_has_subject(n0, "relay-withheld"));
	g_free(why);
	g_free(pw);
}

static void test_relay_tls_none(void)
{
	guint n0 = sink_count(), t0 = sink_tls_attempts();
	char *why;

	load_ok("\"relay_host\": \"127.0.0.1:%u\", \"relay_tls\": \"none\"",
		broken_port);
	g_assert_cmpint(rm_conf()->relay.tls, ==, RM_RELAY_NONE);
	why = queue_once("z@anywhere.test", "relay-plain");
	g_assert_null(why);
	g_assert_cmpuint(sink_tls_attempts(), ==, t0);
	g_assert_true(sink_has_subject(n0, "relay-plain"));
}

/* implicit TLS against a STARTTLS-style server: the handshake meets a
 * cleartext greeting and fails; the entry stays queued */
static void test_relay_implicit_mismatch(void)
{
	guint n0 = sink_count();
	char *why;

	load_ok("\"relay_host\": \"127.0.0.1:%u\", \"relay_tls\": "
		"\"implicit\"",
		tls_port);
	why = queue_once("z@anywhere.test", "relay-implicit");
	g_assert_nonnull(why);
	g_assert_nonnull(strstr(why, "TLS handshake failed"));
	g_assert_false(sink_has_subject(n0, "relay-implicit"));
	g_free(why);
}

static void test_config_checks(void)
{
	g_assert_cmpint(load("\"relay_tls\": \"sometimes\""), ==, -1);
	g_assert_cmpint(load("\"relay_user\": \"u\""), ==, -1);
	g_assert_cmpint(load("\"relay_password_file\": \"pw\""), ==, -1);
	g_assert_cmpint(load("\"relay_tls\": \"none\", \"relay_user\": \"u\","
			     " \"relay_password_file\": \"pw\""),
			==, -1);
	g_assert_cmpint(load("\"relay_user\": \"u\","
			     " \"relay_password_file\": \"pw\""),
			==, 0);
	/* relative to the config's directory */
	g_assert_true(g_str_has_prefix(rm_conf()->relay.password_file, dir));
	g_assert_cmpint(rm_conf()->relay.tls, ==, RM_RELAY_STARTTLS);
}

int main(int argc, char **argv)
{
	const char *src = g_getenv("RMAIL_SOURCE_DIR");
	struct rmail_err err;
	char *key;
	int rc;

	g_test_init(&argc, &argv, NULL);
	/* as in the daemon: a peer gone mid-write is an error, not death */
	signal(SIGPIPE, SIG_IGN);
	g_assert_nonnull(src);
	cert = g_build_filename(src, "tests", "certs", "cert.pem", NULL);
	key = g_build_filename(src, "tests", "certs", "key.pem", NULL);
	dir = g_dir_make_tmp("rmail-relay-XXXXXX", NULL);
	g_assert_nonnull(dir);
	tls_port = sink_start_tls(cert, key, NULL, NULL);
	auth_port = sink_start_tls(cert, key, "relay", "s3cret");
	broken_port = sink_start();
	g_assert_cmpint(load("\"retry_initial\": \"1h\""), ==, 0);
	g_assert_cmpint(rm_submit_init(&err), ==, 0);
	rm_smtp_timeout = 5;
	g_test_add_func("/relay/config", test_config_checks);
	g_test_add_func("/relay/starttls", test_starttls);
	g_test_add_func("/relay/auth", test_relay_auth);
	g_test_add_func("/relay/bad_password", test_relay_bad_password);
	g_test_add_func("/relay/no_cleartext_auth",
			test_relay_no_cleartext_auth);
	g_test_add_func("/relay/tls_none", test_relay_tls_none);
	g_test_add_func("/relay/implicit_mismatch",
			test_relay_implicit_mismatch);
	rc = g_test_run();
	{
		char *cmd = g_strdup_printf("rm -rf '%s'", dir);

		if (system(cmd) != 0)
			rc = rc ? rc : 1;
		g_free(cmd);
	}
	rm_conf_set(NULL);
	rm_config_free(&current);
	g_free(cert);
	g_free(key);
	return rc;
}
