/*
 * PROXY protocol end to end: the real daemon with mod_imap behind a
 * "balancer" (this test writing the header, then the client's bytes).
 * The client address the header carries is the one the session runs
 * under (its auth-failure line, the loopback-only cleartext login),
 * before TLS on the implicit-TLS port; a peer that is not a trusted
 * proxy, a missing or malformed header and a slow one are refused; a
 * health check (v2 LOCAL) keeps the socket's address; a listener not
 * named keeps working without a header.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define PW "pw-secret"
#define USER "carol@example.test"

static struct rmh *start(const char *trusted, const char *timeout)
{
	struct rmh *h = rmh_new();
	const char *argv[] = {"rmail", "-c", rmh_config_path(h), "user",
			      "add",   USER, "--password-stdin", NULL};
	char *out = NULL, *err = NULL;

	rmh_set(h, "modules", "[\"mod_shardstore\", \"mod_imap\"]");
	rmh_setf(h, "imap",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"imaps_listen\": [\"127.0.0.1:%u\"], "
		 "\"allow_cleartext_login_loopback\": true}",
		 rmh_port(h, "imap"), rmh_port(h, "imaps"));
	rmh_setf(h, "proxy_protocol",
		 "{\"listeners\": [\"imap.imaps_listen\"], "
		 "\"trusted_proxies\": [\"%s\"], \"timeout\": \"%s\"}",
		 trusted, timeout);
	rmh_write_config(h);
	g_assert_cmpint(rmh_run_argv(h, argv, PW "\n", &out, &err), ==, 0);
	g_free(out);
	g_free(err);
	g_assert_true(rmh_start(h));
	return h;
}

static const unsigned char V2_SIG[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
					 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* a v2 header for 203.0.113.9:40000 -> 127.0.0.1:port, or LOCAL */
static size_t v2_header(unsigned char *b, guint port, gboolean local)
{
	memcpy(b, V2_SIG, 12);
	b[12] = local ? 0x20 : 0x21;
	b[13] = local ? 0x00 : 0x11;
	b[14] = 0;
	b[15] = local ? 0 : 12;
	if (local)
		return 16;
	memcpy(b + 16, "\xcb\x00\x71\x09\x7f\x00\x00\x01\x9c\x40", 10);
	b[26] = (unsigned char)(port >> 8);
	b[27] = (unsigned char)port;
	return 28;
}

/* user + system CPU of the daemon so far, in clock ticks */
static long cpu_ticks(struct rmh *h)
{
	char *path = g_strdup_printf("/proc/%d/stat", rmh_pid(h)), *t = NULL;
	long ut = 0, st = 0;
	char *p;

	g_assert_true(g_file_get_contents(path, &t, NULL, NULL));
	/* fields after the command name: state is the 3rd, utime the 14th */
	p = strrchr(t, ')');
	g_assert_nonnull(p);
	g_assert_cmpint(sscanf(p + 2,
			       "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
			       "%*u %*u %ld %ld",
			       &ut, &st),
			==, 2);
	g_free(t);
	g_free(path);
	return ut + st;
}

static void expect_closed(struct rmh_conn *c)
{
	char *line = rmh_readline(c, 5);

	g_assert_null(line);
}

static void test_client_address(void)
{
	struct rmh *h = start("127.0.0.0/8", "5s");
	struct rmh_conn *c;
	unsigned char b[64];
	size_t n;

	/* v2 then TLS: the greeting comes over TLS, the session is the
	 * client's */
	c = rmh_connect(rmh_port(h, "imaps"), false);
	n = v2_header(b, rmh_port(h, "imaps"), FALSE);
	g_assert_true(rmh_send_raw(c, b, n));
	g_assert_true(rmh_conn_starttls(c));
	g_assert_true(rmh_expect(c, "* OK", NULL));
	g_assert_true(rmh_send(c, "a LOGIN " USER " wrong"));
	g_assert_true(rmh_expect(c, "a NO", NULL));
	g_assert_true(rmh_wait_log(h, "rip=203.0.113.9", 5));
	g_assert_true(rmh_send(c, "b LOGIN " USER " " PW));
	g_assert_true(rmh_expect(c, "b OK", NULL));
	rmh_conn_close(c);

	/* v1, the same */
	c = rmh_connect(rmh_port(h, "imaps"), false);
	g_assert_true(rmh_send_raw(c,
				   "PROXY TCP6 2001:db8::77 ::1 40001 993\r\n",
				   strlen("PROXY TCP6 2001:db8::77 ::1 "
					  "40001 993\r\n")));
	g_assert_true(rmh_conn_starttls(c));
	g_assert_true(rmh_expect(c, "* OK", NULL));
	g_assert_true(rmh_send(c, "a LOGIN " USER " wrong"));
	g_assert_true(rmh_expect(c, "a NO", NULL));
	g_assert_true(rmh_wait_log(h, "rip=2001:db8::77", 5));
	rmh_conn_close(c);

	/* a health check (LOCAL): the proxy's own address, a session */
	c = rmh_connect(rmh_port(h, "imaps"), false);
	n = v2_header(b, 0, TRUE);
	g_assert_true(rmh_send_raw(c, b, n));
	g_assert_true(rmh_conn_starttls(c));
	g_assert_true(rmh_expect(c, "* OK", NULL));
	rmh_conn_close(c);

	/* the cleartext listener is not behind the balancer: no header,
	 * and loopback's cleartext login still works */
	c = rmh_connect(rmh_port(h, "imap"), false);
	g_assert_true(rmh_expect(c, "* OK", NULL));
	g_assert_true(rmh_send(c, "a LOGIN " USER " " PW));
	g_assert_true(rmh_expect(c, "a OK", NULL));
	rmh_conn_close(c);
	g_assert_cmpint(rmh_stop(h), ==, 0);
	rmh_free(h);
}

static void test_refused(void)
{
	struct rmh *h = start("10.0.0.0/8", "0.5s");
	struct rmh_conn *c;
	unsigned char b[64];
	size_t n;

	/* 127.0.0.1 is not a trusted proxy: closed, logged */
	c = rmh_connect(rmh_port(h, "imaps"), false);
	n = v2_header(b, rmh_port(h, "imaps"), FALSE);
	(void)rmh_send_raw(c, b, n);
	expect_closed(c);
	rmh_conn_close(c);
	g_assert_true(
		rmh_wait_log(h,
			     "event=proxy_refused peer=127.0.0.1 "
			     "listener=imap reason=\"not a trusted proxy\"",
			     5));
	g_assert_cmpint(rmh_stop(h), ==, 0);
	rmh_free(h);

	h = start("127.0.0.0/8", "0.5s");
	/* a client that speaks TLS (or anything) first */
	c = rmh_connect(rmh_port(h, "imaps"), false);
	g_assert_true(rmh_send(c, "a LOGIN " USER " " PW));
	expect_closed(c);
	rmh_conn_close(c);
	g_assert_true(rmh_wait_log(h, "reason=\"no PROXY header\"", 5));
	/* a malformed v1 line */
	c = rmh_connect(rmh_port(h, "imaps"), false);
	g_assert_true(rmh_send(c, "PROXY TCP4 1.2.3.4 5.6.7.8 1"));
	expect_closed(c);
	rmh_conn_close(c);
	g_assert_true(rmh_wait_log(h, "reason=\"v1 fields\"", 5));
	/* nothing at all: the deadline */
	c = rmh_connect(rmh_port(h, "imaps"), false);
	expect_closed(c);
	rmh_conn_close(c);
	g_assert_true(rmh_wait_log(h, "reason=\"no PROXY header in time\"", 5));
	/* half a header, then silence: the deadline too, and no spinning
	 * on the bytes that stay readable meanwhile (0.5 s of waiting
	 * costs the daemon well under 0.2 s of CPU) */
	{
		long t0 = cpu_ticks(h);

		c = rmh_connect(rmh_port(h, "imaps"), false);
		g_assert_true(rmh_send_raw(c, V2_SIG, 8));
		expect_closed(c);
		rmh_conn_close(c);
		g_assert_cmpint(cpu_ticks(h) - t0, <, sysconf(_SC_CLK_TCK) / 5);
	}
	g_assert_cmpint(rmh_stop(h), ==, 0);
	rmh_free(h);
}

/* A real HAProxy (Debian's) in TCP mode in front of the imaps port,
 * sending v2 headers and its health checks with them: a client from
 * 127.0.0.2 is seen as 127.0.0.2, not as the balancer's 127.0.0.1. */
static void test_haproxy(void)
{
	struct rmh *h = start("127.0.0.1/32", "5s");
	guint front = rmh_port(h, "haproxy");
	char *cfg = g_build_filename(rmh_dir(h), "haproxy.cfg", NULL);
	char *text = g_strdup_printf(
		"global\n  maxconn 100\n"
		"defaults\n  mode tcp\n  timeout connect 5s\n"
		"  timeout client 30s\n  timeout server 30s\n"
		"frontend imaps\n  bind 127.0.0.1:%u\n  default_backend rm\n"
		"backend rm\n  server rm1 127.0.0.1:%u send-proxy-v2 "
		"check check-send-proxy inter 200ms\n",
		front, rmh_port(h, "imaps"));
	const char *argv[] = {"haproxy", "-f", cfg, "-db", NULL};
	GError *gerr = NULL;
	GPid pid;
	struct rmh_conn *c = NULL;
	char *log;

	g_assert_true(g_file_set_contents(cfg, text, -1, NULL));
	/* a missing haproxy fails here: scripts/deps.sh installs it */
	g_assert_true(
		g_spawn_async(NULL, (char **)argv, NULL,
			      G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
			      NULL, NULL, &pid, &gerr));
	g_assert_no_error(gerr);
	for (int i = 0; i < 100 && c == NULL; i++) {
		c = rmh_connect_from(front, false, "127.0.0.2");
		if (c == NULL)
			g_usleep(50000);
	}
	g_assert_nonnull(c);
	g_assert_true(rmh_conn_starttls(c));
	g_assert_true(rmh_expect(c, "* OK", NULL));
	g_assert_true(rmh_send(c, "a LOGIN " USER " wrong"));
	g_assert_true(rmh_expect(c, "a NO", NULL));
	g_assert_true(rmh_wait_log(h, "rip=127.0.0.2", 5));
	g_assert_true(rmh_send(c, "b LOGIN " USER " " PW));
	g_assert_true(rmh_expect(c, "b OK", NULL));
	rmh_conn_close(c);
	/* its health checks are sessions from the proxy, never refused */
	g_usleep(500000);
	log = rmh_stderr(h);
	g_assert_null(strstr(log, "event=proxy_refused"));
	g_free(log);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	g_spawn_close_pid(pid);
	g_assert_cmpint(rmh_stop(h), ==, 0);
	rmh_free(h);
	g_free(text);
	g_free(cfg);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/proxy/client_address", test_client_address);
	g_test_add_func("/proxy/refused", test_refused);
	g_test_add_func("/proxy/haproxy", test_haproxy);
	return g_test_run();
}
