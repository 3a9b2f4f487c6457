/*
 * mod_exchange request deadlines against the real daemon, with a short
 * request_timeout (1 s): a head trickled one byte at a time gets 408
 * within the timeout of its first byte (the deadline is not restarted
 * per byte), a body below the minimum rate likewise, and the idle time
 * between keep-alive requests does not count against the next one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define TIMEOUT_S 1.0
#define SLACK_S 1.0
#define STEP_S (TIMEOUT_S * 0.6)

static struct rmh *H;
static unsigned PORT;

static int dial(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)PORT)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	g_assert_cmpint(fd, >=, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_assert_cmpint(connect(fd, (struct sockaddr *)&a, sizeof(a)), ==, 0);
	return fd;
}

/* wait up to `secs` for an answer; its status line, "" on EOF, NULL
 * when nothing came */
static char *wait_answer(int fd, double secs)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[4096];
	ssize_t n;
	char *eol;

	if (poll(&p, 1, (int)(secs * 1000)) <= 0)
		return NULL;
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return g_strdup("");
	buf[n] = '\0';
	eol = strstr(buf, "\r\n");
	return g_strndup(buf, eol ? (size_t)(eol - buf) : (size_t)n);
}

/* send `data` one byte every STEP_S; seconds from the first byte to
 * the answer, whose status line goes to *line_r (NULL: none came) */
static double trickle(int fd, const char *data, char **line_r)
{
	double t0 = g_get_monotonic_time() / 1e6;
	size_t i;

	*line_r = NULL;
	for (i = 0; data[i] != '\0'; i++) {
		if (send(fd, data + i, 1, MSG_NOSIGNAL) != 1)
			break;
		*line_r = wait_answer(fd, STEP_S);
		if (*line_r != NULL)
			break;
		/* long enough to prove the deadline was not honoured */
		if (g_get_monotonic_time() / 1e6 - t0 > TIMEOUT_S * 4 + SLACK_S)
			break;
	}
	return g_get_monotonic_time() / 1e6 - t0;
}

static void test_head_slowloris(void)
{
	int fd = dial();
	char *line;
	double dt;

	dt = trickle(fd,
		     "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "
		     "aaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
		     &line);
	g_test_message("answer after %.2f s: %s", dt, line ? line : "(none)");
	g_assert_nonnull(line);
	g_assert_true(g_str_has_prefix(line, "HTTP/1.1 408"));
	g_assert_cmpfloat(dt, <, TIMEOUT_S + SLACK_S);
	g_free(line);
	close(fd);
}

static void test_body_min_rate(void)
{
	static const char head[] = "POST /api/login HTTP/1.1\r\nHost: x\r\n"
				   "Content-Type: application/json\r\n"
				   "Content-Length: 200\r\n\r\n";
	char body[201];
	int fd = dial();
	char *line;
	double dt;

	memset(body, ' ', 200);
	body[200] = '\0';
	g_assert_cmpint(send(fd, head, strlen(head), MSG_NOSIGNAL), ==,
			(ssize_t)strlen(head));
	dt = trickle(fd, body, &line);
	g_test_message("answer after %.2f s: %s", dt, line ? line : "(none)");
	g_assert_nonnull(line);
	g_assert_true(g_str_has_prefix(line, "HTTP/1.1 408"));
	g_assert_cmpfloat(dt, <, TIMEOUT_S + SLACK_S);
	g_free(line);
	close(fd);
}

/* the deadline runs from a request's first byte, not from the last
 * response: a keep-alive pause before a prompt request is fine */
static void test_keepalive_fresh_deadline(void)
{
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	int fd = dial();
	char *line;

	g_assert_cmpint(send(fd, req, strlen(req), MSG_NOSIGNAL), ==,
			(ssize_t)strlen(req));
	line = wait_answer(fd, 5);
	g_assert_nonnull(line);
	g_assert_true(g_str_has_prefix(line, "HTTP/1.1 200"));
	g_free(line);
	g_usleep((gulong)(TIMEOUT_S * 0.8 * G_USEC_PER_SEC));
	/* in two pieces, well within the deadline */
	g_assert_cmpint(send(fd, req, 10, MSG_NOSIGNAL), ==, 10);
	g_usleep((gulong)(TIMEOUT_S * 0.4 * G_USEC_PER_SEC));
	g_assert_cmpint(send(fd, req + 10, strlen(req) - 10, MSG_NOSIGNAL), ==,
			(ssize_t)strlen(req) - 10);
	line = wait_answer(fd, 5);
	g_assert_nonnull(line);
	g_assert_true(g_str_has_prefix(line, "HTTP/1.1 200"));
	g_free(line);
	close(fd);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	H = rmh_new();
	PORT = rmh_port(H, "http");
	rmh_set(H, "modules", "[\"mod_shardstore\", \"mod_exchange\"]");
	rmh_setf(H, "exchange_api",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"tls_listen\": [], "
		 "\"request_timeout\": \"1s\", \"idle_timeout\": \"5s\"}",
		 PORT);
	rmh_write_config(H);
	g_assert_true(rmh_start(H));
	g_test_add_func("/exchange/timeout/head_slowloris",
			test_head_slowloris);
	g_test_add_func("/exchange/timeout/body_min_rate", test_body_min_rate);
	g_test_add_func("/exchange/timeout/keepalive_fresh_deadline",
			test_keepalive_fresh_deadline);
	rc = g_test_run();
	if (rc != 0 || g_getenv("RMH_SHOW") != NULL)
		g_test_message("daemon stderr:\n%s", rmh_stderr(H));
	g_assert_cmpint(rmh_stop(H), ==, 0);
	rmh_free(H);
	return rc;
}
