/*
 * rmail diagnose's HTTP response parser: rmail always answers with
 * CRLF line ends, so a bare LF in the head or in chunk framing is a
 * broken answer (and the framing a stricter peer would read apart),
 * refused like the servers refuse it in a request.
 */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose/diag_int.h"

static int parse(const char *raw, struct dg_http *r)
{
	return dg_http_parse(raw, strlen(raw), r);
}

static void test_crlf(void)
{
	struct dg_http r;
	char v[64];

	g_assert_cmpint(parse("HTTP/1.1 200 OK\r\nServer: x\r\n\r\nhi", &r), ==,
			0);
	g_assert_cmpint(r.status, ==, 200);
	g_assert_cmpstr(r.body, ==, "hi");
	g_assert_true(dg_http_header(&r, "Server", v, sizeof(v)));
	g_assert_cmpstr(v, ==, "x");
	free(r.head);
	free(r.body);
	g_assert_cmpint(parse("HTTP/1.1 200 OK\r\n"
			      "Transfer-Encoding: chunked\r\n\r\n"
			      "5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n",
			      &r),
			==, 0);
	g_assert_cmpstr(r.body, ==, "hello world");
	free(r.head);
	free(r.body);
}

static void test_bare_lf(void)
{
	static const char *const bad[] = {
		/* in the head */
		"HTTP/1.1 200 OK\nServer: x\r\n\r\nhi",
		"HTTP/1.1 200 OK\r\nServer: x\n\r\n\r\nhi",
		"HTTP/1.1 200 OK\r\nA: 1\nB: 2\r\n\r\nhi",
		/* in chunk framing */
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		"5\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		"5;x=y\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		"5\r\nhello\r\n0\n\r\n",
	};
	struct dg_http r;
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(bad); i++) {
		if (parse(bad[i], &r) == 0)
			g_error("accepted: %s", g_strescape(bad[i], NULL));
		g_assert_null(r.head);
		g_assert_null(r.body);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/diag/http/crlf", test_crlf);
	g_test_add_func("/diag/http/bare_lf", test_bare_lf);
	return g_test_run();
}
