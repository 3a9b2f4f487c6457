/*
 * mod_exchange end to end: the real daemon with mod_shardstore and
 * mod_exchange on a loopback port, users made with `rmail user add`.
 */
#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "harness.h"

#define DOM "example.test"
#define DOM2 "other.test"  /* local, not the hostname's parent */
#define ALICE "alice@" DOM /* admin */
#define BOB "bob@" DOM
#define PW "secret-pw"

static struct rmh *H;
static guint PORT;

struct resp {
	int status;
	char *head; /* the header block */
	char *body;
};

static void resp_free(struct resp *r)
{
	g_free(r->head);
	g_free(r->body);
	memset(r, 0, sizeof(*r));
}

static void add_user(const char *addr, bool admin)
{
	const char *argv[] = {
		"rmail", "-c", rmh_config_path(H), "user",
		"add",	 addr, "--password-stdin", admin ? "--admin" : NULL,
		NULL};
	char *out = NULL, *err = NULL;
	int rc = rmh_run_argv(H, argv, PW "\n", &out, &err);

	if (rc != 0)
		g_test_message("user add %s: %s", addr, err);
	g_assert_cmpint(rc, ==, 0);
	g_free(out);
	g_free(err);
}

/* A raw HTTP client: the harness reads lines, but bodies have none. */
struct hc {
	int fd;
	GString *in;
};

static struct hc *hc_connect(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct timeval tv = {.tv_sec = 20};
	struct hc *c = g_new0(struct hc, 1);

	a.sin_port = htons((uint16_t)PORT);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	g_assert_cmpint(c->fd, >=, 0);
	g_assert_cmpint(connect(c->fd, (struct sockaddr *)&a, sizeof(a)), ==,
			0);
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	c->in = g_string_new(NULL);
	return c;
}

static void hc_close(struct hc *c)
{
	close(c->fd);
	g_string_free(c->in, TRUE);
	g_free(c);
}

static bool hc_send(struct hc *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static bool hc_send(struct hc *c, const char *fmt, ...)
{
	va_list ap;
	char *s;
	size_t off = 0, n;
	ssize_t w;

	va_start(ap, fmt);
	s = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	n = strlen(s);
	while (off < n) {
		w = send(c->fd, s + off, n - off, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	g_free(s);
	return off == n;
}

static bool fill(struct hc *c)
{
	char buf[16384];
	ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

	if (n <= 0)
		return false;
	g_string_append_len(c->in, buf, n);
	return true;
}

#define hc_send_line(c, ...) hc_send_ln(c, __VA_ARGS__)
static bool hc_send_ln(struct hc *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static bool hc_send_ln(struct hc *c, const char *fmt, ...)
{
	va_list ap;
	char *s;
	bool ok;

	va_start(ap, fmt);
	s = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	ok = hc_send(c, "%s\r\n", s);
	g_free(s);
	return ok;
}

/* read one response from c */
static bool read_resp(struct hc *c, struct resp *r)
{
	char *end, *cl;
	size_t hlen, len = 0;

	while ((end = strstr(c->in->str, "\r\n\r\n")) == NULL)
		if (!fill(c))
			return false;
	hlen = (size_t)(end - c->in->str) + 4;
	g_assert_true(g_str_has_prefix(c->in->str, "HTTP/1.1 "));
	r->status = atoi(c->in->str + 9);
	r->head = g_strndup(c->in->str, hlen);
	cl = g_strstr_len(r->head, -1, "Content-Length: ");
	if (cl != NULL)
		len = (size_t)atol(cl + 16);
	while (c->in->len < hlen + len)
		if (!fill(c))
			return false;
	r->body = g_strndup(c->in->str + hlen, len);
	g_string_erase(c->in, 0, (gssize)(hlen + len));
	return true;
}

static struct resp req(const char *method, const char *path, const char *token,
		       const char *body, const char *extra)
{
	struct hc *c = hc_connect();
	struct resp r = {0};
	GString *s = g_string_new(NULL);

	g_string_append_printf(s,
			       "%s %s HTTP/1.1\r\nHost: localhost\r\n"
			       "Connection: close\r\n",
			       method, path);
	if (token != NULL)
		g_string_append_printf(s, "Authorization: Bearer %s\r\n",
				       token);
	if (extra != NULL)
		g_string_append(s, extra);
	if (body != NULL)
		g_string_append_printf(s,
				       "Content-Type: application/json\r\n"
				       "Content-Length: %zu\r\n\r\n%s",
				       strlen(body), body);
	else
		g_string_append(s, "\r\n");
	g_assert_true(hc_send(c, "%s", s->str));
	g_string_free(s, TRUE);
	g_assert_true(read_resp(c, &r));
	hc_close(c);
	return r;
}

static char *login(const char *user, const char *extra_json)
{
	char *body = g_strdup_printf("{\"username\":\"%s\",\"password\":\"%s\""
				     "%s}",
				     user, PW, extra_json ? extra_json : "");
	struct resp r = req("POST", "/api/login", NULL, body, NULL);
	char *tok, *e;

	g_free(body);
	g_assert_cmpint(r.status, ==, 200);
	tok = strstr(r.body, "\"token\":\"");
	g_assert_nonnull(tok);
	tok = g_strdup(tok + 9);
	e = strchr(tok, '"');
	*e = '\0';
	resp_free(&r);
	return tok;
}

static void test_healthz(void)
{
	struct resp r = req("GET", "/healthz", NULL, NULL, NULL);

	g_assert_cmpint(r.status, ==, 200);
	g_assert_nonnull(strstr(r.body, "ok"));
	resp_free(&r);
}

static void test_login(void)
{
	struct resp r;
	char *tok = login(ALICE, NULL);

	g_assert_cmpuint(strlen(tok), >, 20);
	r = req("POST", "/api/login", NULL,
		"{\"username\":\"" BOB "\",\"password\":\"nope\"}", NULL);
	g_assert_cmpint(r.status, ==, 401);
	resp_free(&r);
	r = req("POST", "/api/login", NULL,
		"{\"username\":\"nobody@" DOM "\",\"password\":\"nope\"}",
		NULL);
	g_assert_cmpint(r.status, ==, 401);
	resp_free(&r);
	r = req("POST", "/api/login", NULL, "{\"username\":1}", NULL);
	g_assert_cmpint(r.status, ==, 400);
	resp_free(&r);
	r = req("POST", "/api/login", NULL, "{\"username\":", NULL);
	g_assert_cmpint(r.status, ==, 400);
	resp_free(&r);
	r = req("POST", "/api/login", NULL,
		"{\"username\":\"a\",\"username\":\"b\",\"password\":\"x\"}",
		NULL);
	g_assert_cmpint(r.status, ==, 400);
	resp_free(&r);
	g_free(tok);
}

static char *b64url(const char *s)
{
	char *b = g_base64_encode((const guchar *)s, strlen(s)), *p;

	for (p = b; *p; p++)
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
	while ((p = strrchr(b, '=')) != NULL)
		*p = '\0';
	return b;
}

static void expect_401(const char *tok)
{
	struct resp r = req("GET", "/api/folders", tok, NULL, NULL);

	g_assert_cmpint(r.status, ==, 401);
	resp_free(&r);
}

static void test_tokens(void)
{
	char *tok = login(ALICE, NULL), *bad, *h, *pl, *dot;
	struct resp r;
	GString *big;

	r = req("GET", "/api/folders", tok, NULL, NULL);
	g_assert_cmpint(r.status, ==, 200);
	g_assert_nonnull(strstr(r.body, "\"INBOX\""));
	resp_free(&r);
	expect_401(NULL);
	expect_401("garbage");
	/* tampered signature */
	bad = g_strdup(tok);
	bad[strlen(bad) - 2] = bad[strlen(bad) - 2] == 'A' ? 'B' : 'A';
	expect_401(bad);
	g_free(bad);
	/* tampered payload: another subject, same signature */
	dot = strchr(tok, '.');
	pl = b64url("{\"sub\":\"" BOB "\",\"gen\":0,\"iat\":0,"
		    "\"exp\":9999999999}");
	bad = g_strdup_printf("%.*s.%s%s", (int)(dot - tok), tok, pl,
			      strchr(dot + 1, '.'));
	expect_401(bad);
	g_free(bad);
	/* alg none */
	h = b64url("{\"alg\":\"none\",\"typ\":\"JWT\"}");
	bad = g_strdup_printf("%s.%s.", h, pl);
	expect_401(bad);
	g_free(bad);
	g_free(h);
	g_free(pl);
	/* oversized */
	big = g_string_new(tok);
	while (big->len < 9000)
		g_string_append(big, "AAAAAAAA");
	expect_401(big->str);
	g_string_free(big, TRUE);
	g_free(tok);
	/* expired */
	tok = login(ALICE, ",\"expires_in\":1");
	g_usleep(2200 * 1000);
	expect_401(tok);
	g_free(tok);
}

static void test_http_errors(void)
{
	struct hc *c;
	struct resp r;
	GString *s;

	r = req("GET", "/nope", NULL, NULL, NULL);
	g_assert_cmpint(r.status, ==, 404);
	resp_free(&r);
	r = req("DELETE", "/api/login", NULL, NULL, NULL);
	g_assert_cmpint(r.status, ==, 405);
	g_assert_nonnull(strstr(r.head, "Allow: POST"));
	resp_free(&r);
	/* 411 */
	c = hc_connect();
	g_assert_true(
		hc_send_line(c, "POST /api/login HTTP/1.1\r\nHost: x\r\n"));
	g_assert_true(read_resp(c, &r));
	g_assert_cmpint(r.status, ==, 411);
	resp_free(&r);
	hc_close(c);
	/* 413 */
	c = hc_connect();
	g_assert_true(hc_send_line(c, "POST /api/login HTTP/1.1\r\nHost: x\r\n"
				      "Content-Length: 99999999999\r\n"));
	g_assert_true(read_resp(c, &r));
	g_assert_cmpint(r.status, ==, 413);
	resp_free(&r);
	hc_close(c);
	/* 414 */
	s = g_string_new("GET /");
	while (s->len < 10000)
		g_string_append(s, "aaaaaaaaaa");
	c = hc_connect();
	g_assert_true(hc_send_line(c, "%s HTTP/1.1\r\nHost: x\r\n", s->str));
	g_assert_true(read_resp(c, &r));
	g_assert_cmpint(r.status, ==, 414);
	resp_free(&r);
	hc_close(c);
	/* 431 */
	c = hc_connect();
	g_string_assign(s, "GET / HTTP/1.1\r\nHost: x\r\n");
	while (s->len < 70000)
		g_string_append(s,
				"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
	g_assert_true(hc_send(c, "%s", s->str));
	g_assert_true(read_resp(c, &r));
	g_assert_cmpint(r.status, ==, 431);
	resp_free(&r);
	hc_close(c);
	/* 400 */
	c = hc_connect();
	g_assert_true(hc_send_line(c, "GARBAGE\r\n"));
	g_assert_true(read_resp(c, &r));
	g_assert_cmpint(r.status, ==, 400);
	resp_free(&r);
	hc_close(c);
	g_string_free(s, TRUE);
}

static void test_keepalive_pipeline(void)
{
	struct hc *c = hc_connect();
	struct resp r;

	g_assert_true(hc_send_line(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
				      "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
				      "GET /healthz HTTP/1.1\r\nHost: x\r\n"));
	g_assert_true(read_resp(c, &r));
	g_assert_cmpint(r.status, ==, 200);
	resp_free(&r);
	g_assert_true(read_resp(c, &r));
	g_assert_cmpint(r.status, ==, 404);
	resp_free(&r);
	g_assert_true(read_resp(c, &r));
	g_assert_cmpint(r.status, ==, 200);
	resp_free(&r);
	hc_close(c);
}

static void test_cors(void)
{
	struct resp r = req("OPTIONS", "/api/folders", NULL, NULL,
			    "Origin: https://app.example.test\r\n"
			    "Access-Control-Request-Method: GET\r\n");

	g_assert_cmpint(r.status, ==, 204);
	g_assert_nonnull(strstr(r.head, "Access-Control-Allow-Origin: "
					"https://app.example.test"));
	g_assert_nonnull(strstr(r.head, "Access-Control-Allow-Methods"));
	resp_free(&r);
	r = req("OPTIONS", "/api/folders", NULL, NULL,
		"Origin: https://evil.test\r\n");
	g_assert_cmpint(r.status, ==, 204);
	g_assert_null(strstr(r.head, "Access-Control-Allow-Origin"));
	resp_free(&r);
	r = req("GET", "/healthz", NULL, NULL,
		"Origin: https://app.example.test\r\n");
	g_assert_nonnull(strstr(r.head, "Access-Control-Allow-Origin"));
	resp_free(&r);
}

static void test_discovery(void)
{
	struct resp r = req("GET",
			    "/mail/config-v1.1.xml?emailaddress="
			    "alice%40example.test",
			    NULL, NULL, NULL);

	g_assert_cmpint(r.status, ==, 200);
	g_assert_nonnull(strstr(r.body, "clientConfig version=\"1.1\""));
	g_assert_nonnull(strstr(r.body, "<port>993</port>"));
	resp_free(&r);
	r = req("GET", "/.well-known/autoconfig/mail/config-v1.1.xml", NULL,
		NULL, NULL);
	g_assert_cmpint(r.status, ==, 200);
	resp_free(&r);
	r = req("POST", "/autodiscover/autodiscover.xml", NULL,
		"<?xml version=\"1.0\"?><Autodiscover xmlns=\"http://schemas."
		"microsoft.com/exchange/autodiscover/outlook/requestschema/"
		"2006\"><Request><EMailAddress>nobody@" DOM "</EMailAddress>"
		"<AcceptableResponseSchema>x</AcceptableResponseSchema>"
		"</Request></Autodiscover>",
		NULL);
	g_assert_cmpint(r.status, ==, 200);
	g_assert_nonnull(strstr(r.body, "<Type>IMAP</Type>"));
	g_assert_nonnull(strstr(r.body, "<Type>SMTP</Type>"));
	g_assert_nonnull(strstr(r.body, "responseschema/2006a"));
	resp_free(&r);
}

/* Autoconfig names the domain of the address asked about when it is
 * ours (a user's domain need not be the hostname's parent), and refuses
 * a domain this server does not serve instead of naming another. */
static void test_autoconfig_domain(void)
{
	struct resp r = req("GET",
			    "/mail/config-v1.1.xml?emailaddress="
			    "carol%40" DOM2,
			    NULL, NULL, NULL);

	g_assert_cmpint(r.status, ==, 200);
	g_assert_nonnull(strstr(r.body, "<domain>" DOM2 "</domain>"));
	g_assert_nonnull(strstr(r.body, "emailProvider id=\"" DOM2 "\""));
	g_assert_null(strstr(r.body, "<domain>" DOM "</domain>"));
	resp_free(&r);
	r = req("GET",
		"/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress="
		"Carol%40OTHER.test",
		NULL, NULL, NULL);
	g_assert_cmpint(r.status, ==, 200);
	g_assert_nonnull(strstr(r.body, "<domain>" DOM2 "</domain>"));
	resp_free(&r);
	r = req("GET", "/mail/config-v1.1.xml?emailaddress=eve%40foreign.test",
		NULL, NULL, NULL);
	g_assert_cmpint(r.status, ==, 404);
	g_assert_null(strstr(r.body, "clientConfig"));
	resp_free(&r);
	r = req("GET", "/mail/config-v1.1.xml?emailaddress=no-at-sign", NULL,
		NULL, NULL);
	g_assert_cmpint(r.status, ==, 404);
	resp_free(&r);
	/* no address: the hostname's parent domain, as before */
	r = req("GET", "/mail/config-v1.1.xml", NULL, NULL, NULL);
	g_assert_cmpint(r.status, ==, 200);
	g_assert_nonnull(strstr(r.body, "<domain>" DOM "</domain>"));
	resp_free(&r);
}

static void test_aliases(void)
{
	char *a = login(ALICE, NULL), *b = login(BOB, NULL);
	struct resp r;

	r = req("GET", "/api/aliases", b, NULL, NULL);
	g_assert_cmpint(r.status, ==, 403);
	resp_free(&r);
	r = req("POST", "/api/aliases", a,
		"{\"alias\":\"sales@" DOM "\","
		"\"targets\":[\"" ALICE "\"]}",
		NULL);
	g_assert_cmpint(r.status, ==, 201);
	resp_free(&r);
	r = req("GET", "/api/aliases", a, NULL, NULL);
	g_assert_cmpint(r.status, ==, 200);
	g_assert_nonnull(strstr(r.body, "sales@" DOM));
	resp_free(&r);
	r = req("DELETE", "/api/aliases/sales%40" DOM, b, NULL, NULL);
	g_assert_cmpint(r.status, ==, 403);
	resp_free(&r);
	r = req("DELETE", "/api/aliases/sales%40" DOM, a, NULL, NULL);
	g_assert_cmpint(r.status, ==, 200);
	resp_free(&r);
	g_free(a);
	g_free(b);
}

static void test_append_list_flags(void)
{
	char *t = login(BOB, NULL);
	struct resp r;
	struct hc *c;
	static const char msg[] = "From: a@example.test\r\nTo: " BOB "\r\n"
				  "Subject: hi\r\n\r\nhello\r\n";

	c = hc_connect();
	g_assert_true(hc_send_line(c,
				   "POST /api/folders/INBOX/messages HTTP/1.1"
				   "\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
				   "Content-Type: message/rfc822\r\n"
				   "Content-Length: %zu\r\n\r\n%s",
				   t, sizeof(msg) - 1, msg));
	g_assert_true(read_resp(c, &r));
	g_assert_cmpint(r.status, ==, 201);
	g_assert_nonnull(strstr(r.body, "\"uid\":1"));
	resp_free(&r);
	hc_close(c);
	r = req("GET", "/api/folders/INBOX/messages?page=1&per_page=10", t,
		NULL, NULL);
	g_assert_cmpint(r.status, ==, 200);
	g_assert_nonnull(strstr(r.body, "\"total\":1"));
	g_assert_nonnull(strstr(r.body, "\"uid\":1"));
	g_assert_nonnull(strstr(r.body, "\"preview\":\"hello\""));
	resp_free(&r);
	r = req("GET", "/api/folders/INBOX/messages?per_page=201", t, NULL,
		NULL);
	g_assert_cmpint(r.status, ==, 400);
	resp_free(&r);
	r = req("GET", "/api/folders/Nope/messages", t, NULL, NULL);
	g_assert_cmpint(r.status, ==, 404);
	resp_free(&r);
	r = req("POST", "/api/folders/INBOX/messages/1/flags", t,
		"{\"add\":[\"\\\\Seen\",\"work\"]}", NULL);
	g_assert_cmpint(r.status, ==, 200);
	g_assert_nonnull(strstr(r.body, "\\\\Seen"));
	g_assert_nonnull(strstr(r.body, "work"));
	resp_free(&r);
	r = req("POST", "/api/folders/INBOX/messages/1/flags", t,
		"{\"remove\":[\"work\"]}", NULL);
	g_assert_cmpint(r.status, ==, 200);
	g_assert_null(strstr(r.body, "work"));
	resp_free(&r);
	r = req("POST", "/api/folders/INBOX/messages/1/flags", t,
		"{\"add\":[\"bad flag\"]}", NULL);
	g_assert_cmpint(r.status, ==, 400);
	resp_free(&r);
	r = req("GET", "/api/folders/INBOX/messages/1?format=raw", t, NULL,
		NULL);
	g_assert_cmpint(r.status, ==, 200);
	g_assert_nonnull(strstr(r.body, "Subject: hi"));
	resp_free(&r);
	r = req("GET", "/api/folders/INBOX/messages/1", t, NULL, NULL);
	g_assert_cmpint(r.status, ==, 200);
	g_assert_nonnull(strstr(r.body, "\"subject\":\"hi\""));
	g_assert_nonnull(strstr(r.body, "\"text\":\"hello"));
	g_assert_nonnull(strstr(r.body, "\"address\":\"a@example.test\""));
	resp_free(&r);
	r = req("GET", "/api/folders/INBOX/messages/99", t, NULL, NULL);
	g_assert_cmpint(r.status, ==, 404);
	resp_free(&r);
	g_free(t);
}

static void test_send(void)
{
	char *t = login(BOB, NULL);
	struct resp r;

	r = req("POST", "/api/send", t,
		"{\"from\":\"" ALICE "\",\"to\":[\"" ALICE
		"\"],\"subject\":\"x\",\"text\":\"y\"}",
		NULL);
	g_assert_cmpint(r.status, ==, 403);
	resp_free(&r);
	r = req("POST", "/api/send", t,
		"{\"to\":[\"" ALICE "\"],"
		"\"subject\":\"x\\r\\nBcc: evil@x\",\"text\":\"y\"}",
		NULL);
	g_assert_cmpint(r.status, ==, 400);
	resp_free(&r);
	r = req("POST", "/api/send", t,
		"{\"to\":[\"" ALICE "\"],"
		"\"subject\":\"hello\",\"text\":\"body\"}",
		NULL);
	g_assert_cmpint(r.status, ==, 200);
	g_assert_nonnull(strstr(r.body, "\"sent\":[\"" ALICE "\"]"));
	resp_free(&r);
	g_free(t);
}

static void test_lockout(void)
{
	struct hc *cs[10];
	struct resp r;
	gint64 t0;
	int i;

	/* parallel: the core delays each failure, not the next one */
	for (i = 0; i < 10; i++) {
		cs[i] = hc_connect();
		g_assert_true(hc_send_line(
			cs[i], "POST /api/login HTTP/1.1\r\n"
			       "Host: x\r\nContent-Length: 46\r\n\r\n"
			       "{\"username\":\"carol@x.test\","
			       "\"password\":\"wrong\"}"));
	}
	for (i = 0; i < 10; i++) {
		g_assert_true(read_resp(cs[i], &r));
		g_assert_cmpint(r.status, ==, 401);
		resp_free(&r);
		hc_close(cs[i]);
	}
	t0 = g_get_monotonic_time();
	r = req("POST", "/api/login", NULL,
		"{\"username\":\"carol@x.test\","
		"\"password\":\"wrong\"}",
		NULL);
	g_assert_cmpint(r.status, ==, 429);
	g_assert_nonnull(strstr(r.head, "Retry-After: "));
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 1000000);
	resp_free(&r);
	/* another account from the same IP still gets its answer */
	r = req("POST", "/api/login", NULL,
		"{\"username\":\"" ALICE "\","
		"\"password\":\"" PW "\"}",
		NULL);
	g_assert_cmpint(r.status, ==, 200);
	resp_free(&r);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	H = rmh_new();
	PORT = rmh_port(H, "http");
	rmh_set(H, "modules", "[\"mod_shardstore\", \"mod_exchange\"]");
	rmh_setf(H, "exchange_api",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"tls_listen\": [], \"cors_origins\": "
		 "[\"https://app.example.test\"]}",
		 PORT);
	rmh_write_config(H);
	add_user(ALICE, true);
	add_user(BOB, false);
	add_user("carol@" DOM2, false);
	g_assert_true(rmh_start(H));
	g_test_add_func("/exchange/healthz", test_healthz);
	g_test_add_func("/exchange/login", test_login);
	g_test_add_func("/exchange/tokens", test_tokens);
	g_test_add_func("/exchange/http_errors", test_http_errors);
	g_test_add_func("/exchange/keepalive_pipeline",
			test_keepalive_pipeline);
	g_test_add_func("/exchange/cors", test_cors);
	g_test_add_func("/exchange/discovery", test_discovery);
	g_test_add_func("/exchange/autoconfig_domain", test_autoconfig_domain);
	g_test_add_func("/exchange/aliases", test_aliases);
	g_test_add_func("/exchange/append_list_flags", test_append_list_flags);
	g_test_add_func("/exchange/send", test_send);
	g_test_add_func("/exchange/lockout", test_lockout);
	rc = g_test_run();
	if (rc != 0 || g_getenv("RMH_SHOW") != NULL)
		g_test_message("daemon stderr:\n%s", rmh_stderr(H));
	g_assert_cmpint(rmh_stop(H), ==, 0);
	rmh_free(H);
	return rc;
}
