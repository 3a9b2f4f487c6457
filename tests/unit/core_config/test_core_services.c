/* jwt, rate limits, metrics rendering, base64. */
#include <glib.h>
#include <string.h>
#include <time.h>

#include "rm.h"

static const char key[] = "0123456789abcdef0123456789abcdef";

static void sign(int64_t exp, char *tok, size_t sz)
{
	struct rmail_jwt_claims c = {
		.size = sizeof(c), .gen = 7, .iat = time(NULL), .exp = exp};
	struct rmail_err err;

	g_strlcpy(c.sub, "demo@example.test", sizeof(c.sub));
	g_assert_cmpint(rm_jwt_sign(key, strlen(key), &c, tok, sz, &err), ==,
			0);
}

static int verify(const char *tok, struct rmail_jwt_claims *c)
{
	struct rmail_err err;

	return rm_jwt_verify(key, strlen(key), tok, c, &err);
}

static char *b64url(const char *s)
{
	char *b = g_base64_encode((const guchar *)s, strlen(s));

	for (char *p = b; *p; p++)
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	while (strlen(b) > 0 && b[strlen(b) - 1] == '=')
		b[strlen(b) - 1] = '\0';
	return b;
}

static void test_jwt(void)
{
	char tok[1024], *bad, *dot, *h, *p;
	struct rmail_jwt_claims c = {.size = sizeof(c)};
	struct rmail_err err;

	sign(time(NULL) + 600, tok, sizeof(tok));
	g_assert_cmpint(verify(tok, &c), ==, 0);
	g_assert_cmpstr(c.sub, ==, "demo@example.test");
	g_assert_cmpuint(c.gen, ==, 7);
	/* a wrong key fails */
	g_assert_cmpint(rm_jwt_verify("other", 5, tok, &c, &err), ==, -1);

	/* tampered payload: same signature, other claims */
	dot = strchr(tok, '.');
	p = b64url("{\"sub\":\"admin@example.test\",\"gen\":7,\"iat\":1,"
		   "\"exp\":9999999999}");
	bad = g_strdup_printf("%.*s.%s%s", (int)(dot - tok), tok, p,
			      strrchr(tok, '.'));
	g_assert_cmpint(verify(bad, &c), ==, -1);
	g_free(bad);

	/* tampered signature */
	bad = g_strdup(tok);
	bad[strlen(bad) - 2] = bad[strlen(bad) - 2] == 'A' ? 'B' : 'A';
	g_assert_cmpint(verify(bad, &c), ==, -1);
	g_free(bad);

	/* alg none, unsigned */
	h = b64url("{\"alg\":\"none\",\"typ\":\"JWT\"}");
	bad = g_strdup_printf("%s.%s.", h, p);
	g_assert_cmpint(verify(bad, &c), ==, -1);
	g_free(bad);
	g_free(h);
	g_free(p);

	/* expired */
	sign(time(NULL) - 1, tok, sizeof(tok));
	g_assert_cmpint(verify(tok, &c), ==, -1);

	/* oversized */
	bad = g_malloc(5000);
	memset(bad, 'a', 4999);
	bad[4999] = '\0';
	g_assert_cmpint(rm_jwt_verify(key, strlen(key), bad, &c, &err), ==, -1);
	g_assert_cmpstr(err.msg, ==, "token too long");
	g_free(bad);

	/* output too small */
	{
		struct rmail_jwt_claims cl = {.size = sizeof(cl),
					      .exp = time(NULL) + 5};

		g_assert_cmpint(
			rm_jwt_sign(key, strlen(key), &cl, tok, 10, &err), ==,
			-1);
	}
}

/* An HS256 token with arbitrary claims, signed with the test key. */
static char *sign_raw(const char *claims)
{
	char *h = b64url("{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
	char *p = b64url(claims);
	char *input = g_strdup_printf("%s.%s", h, p);
	GHmac *mac =
		g_hmac_new(G_CHECKSUM_SHA256, (const guchar *)key, strlen(key));
	guint8 dig[32];
	gsize n = sizeof(dig);
	char *sig, *tok;

	g_hmac_update(mac, (const guchar *)input, -1);
	g_hmac_get_digest(mac, dig, &n);
	g_hmac_unref(mac);
	sig = g_base64_encode(dig, n);
	for (char *q = sig; *q; q++)
		*q = *q == '+' ? '-' : *q == '/' ? '_' : *q;
	while (strlen(sig) > 0 && sig[strlen(sig) - 1] == '=')
		sig[strlen(sig) - 1] = '\0';
	tok = g_strdup_printf("%s.%s", input, sig);
	g_free(h);
	g_free(p);
	g_free(input);
	g_free(sig);
	return tok;
}

/* nbf_off: nbf relative to now, or G_MAXLONG for no nbf at all */
static int verify_claims(long nbf_off)
{
	long now = (long)time(NULL);
	char *claims =
		nbf_off == G_MAXLONG
			? g_strdup_printf("{\"sub\":\"demo@example.test\","
					  "\"gen\":7,\"iat\":%ld,\"exp\":%ld}",
					  now, now + 600)
			: g_strdup_printf("{\"sub\":\"demo@example.test\","
					  "\"gen\":7,\"iat\":%ld,\"exp\":%ld,"
					  "\"nbf\":%ld}",
					  now, now + 600, now + nbf_off);
	char *tok = sign_raw(claims);
	struct rmail_jwt_claims c = {.size = sizeof(c)};
	int r = verify(tok, &c);

	g_free(claims);
	g_free(tok);
	return r;
}

/* "nbf" (RFC 7519 4.1.5) is honoured with the same leeway as "exp". */
static void test_jwt_nbf(void)
{
	long now = (long)time(NULL);
	char *claims, *tok;
	struct rmail_jwt_claims c = {.size = sizeof(c)};

	/* the hand-made signer matches rm_jwt_sign's */
	g_assert_cmpint(verify_claims(G_MAXLONG), ==, 0);
	g_assert_cmpint(verify_claims(-10), ==, 0);
	g_assert_cmpint(verify_claims(0), ==, 0);
	/* not yet valid */
	g_assert_cmpint(verify_claims(300), ==, -1);
	g_assert_cmpint(verify_claims(2), ==, -1);
	/* a non-numeric nbf is refused, not ignored */
	claims = g_strdup_printf("{\"sub\":\"demo@example.test\",\"gen\":7,"
				 "\"iat\":%ld,\"exp\":%ld,\"nbf\":\"later\"}",
				 now, now + 600);
	tok = sign_raw(claims);
	g_assert_cmpint(verify(tok, &c), ==, -1);
	g_free(claims);
	g_free(tok);
}

static void test_ratelimit(void)
{
	double retry = 0;

	for (int i = 0; i < 3; i++)
		g_assert_cmpint(rm_rate_hit("t", "1.2.3.4", 3, 60, &retry), ==,
				1);
	g_assert_cmpint(rm_rate_hit("t", "1.2.3.4", 3, 60, &retry), ==, 0);
	g_assert_cmpfloat(retry, >, 0);
	g_assert_cmpfloat(retry, <=, 60);
	g_assert_cmpuint(rm_rate_count("t", "1.2.3.4", 60), ==, 3);
	/* other key and other bucket are independent */
	g_assert_cmpint(rm_rate_hit("t", "5.6.7.8", 3, 60, NULL), ==, 1);
	g_assert_cmpint(rm_rate_hit("u", "1.2.3.4", 3, 60, NULL), ==, 1);
	rm_rate_reset("t", "1.2.3.4");
	g_assert_cmpuint(rm_rate_count("t", "1.2.3.4", 60), ==, 0);
	g_assert_cmpint(rm_rate_hit("t", "1.2.3.4", 3, 60, NULL), ==, 1);
	/* a short window expires */
	g_assert_cmpint(rm_rate_hit("s", "k", 1, 0.05, NULL), ==, 1);
	g_assert_cmpint(rm_rate_hit("s", "k", 1, 0.05, NULL), ==, 0);
	g_usleep(120000);
	g_assert_cmpint(rm_rate_hit("s", "k", 1, 0.05, NULL), ==, 1);
}

static gpointer rate_thread(gpointer arg)
{
	char k[32];

	for (int i = 0; i < 2000; i++) {
		g_snprintf(k, sizeof(k), "%d-%d", GPOINTER_TO_INT(arg), i % 50);
		(void)rm_rate_hit("mt", k, 1000000, 10, NULL);
		rm_metric_add("rmail_mt_total", NULL, 1);
	}
	return NULL;
}

static void test_threads(void)
{
	GThread *t[4];
	char *s;

	for (int i = 0; i < 4; i++)
		t[i] = g_thread_new("r", rate_thread, GINT_TO_POINTER(i));
	for (int i = 0; i < 4; i++)
		g_thread_join(t[i]);
	g_assert_cmpuint(rm_rate_count("mt", "0-0", 10), ==, 40);
	s = rm_metrics_render();
	g_assert_nonnull(strstr(s, "\nrmail_mt_total 8000\n"));
	free(s);
}

static void test_metrics(void)
{
	char *s;

	rm_metric_add("rmail_auth_failures_total", "proto=\"smtp\"", 1);
	rm_metric_add("rmail_auth_failures_total", "proto=\"smtp\"", 2);
	rm_metric_add("rmail_auth_failures_total", "proto=\"imap\"", 1);
	rm_metric_set("rmail_connections", "proto=\"imap\"", 5);
	rm_metric_set("rmail_connections", "proto=\"imap\"", 4);
	rm_metric_observe("rmail_delivery_seconds", NULL, 0.03);
	rm_metric_observe("rmail_delivery_seconds", NULL, 7);
	/* a type conflict is dropped, not rendered */
	rm_metric_set("rmail_delivery_seconds", NULL, 1);
	rm_metric_add("bad name", NULL, 1);
	s = rm_metrics_render();
	g_assert_nonnull(
		strstr(s, "# TYPE rmail_auth_failures counter\n"
			  "rmail_auth_failures_total{proto=\"imap\"} 1\n"
			  "rmail_auth_failures_total{proto=\"smtp\"} 3\n"));
	g_assert_nonnull(strstr(s, "# TYPE rmail_connections gauge\n"
				   "rmail_connections{proto=\"imap\"} 4\n"));
	g_assert_nonnull(
		strstr(s, "# TYPE rmail_delivery_seconds histogram\n"
			  "rmail_delivery_seconds_bucket{le=\"0.005\"} 0\n"));
	g_assert_nonnull(strstr(s, "rmail_delivery_seconds_bucket{le=\"0.05\"}"
				   " 1\n"));
	g_assert_nonnull(strstr(s, "rmail_delivery_seconds_bucket{le=\"+Inf\"}"
				   " 2\nrmail_delivery_seconds_sum 7.03\n"
				   "rmail_delivery_seconds_count 2\n"));
	g_assert_null(strstr(s, "bad name"));
	g_assert_true(g_str_has_suffix(s, "# EOF\n"));
	free(s);
}

static void test_base64(void)
{
	/* RFC 4648 section 10 */
	static const char *const vec[][2] = {
		{"", ""},
		{"f", "Zg=="},
		{"fo", "Zm8="},
		{"foo", "Zm9v"},
		{"foob", "Zm9vYg=="},
		{"fooba", "Zm9vYmE="},
		{"foobar", "Zm9vYmFy"},
	};
	static const char *const bad[] = {
		"Zg=",	"Zm9",	  "Zg==Zg==", "Z===", "Zm 9v",
		"Zh==", "Zm9v\n", "=Zm9",     "Zm=v", "Zm9*",
	};
	char out[64];
	size_t n;

	for (size_t i = 0; i < G_N_ELEMENTS(vec); i++) {
		n = rm_base64_encode(vec[i][0], strlen(vec[i][0]), out,
				     sizeof(out));
		g_assert_cmpuint(n, ==, strlen(vec[i][1]));
		g_assert_cmpstr(out, ==, vec[i][1]);
		g_assert_cmpint(rm_base64_decode(vec[i][1], strlen(vec[i][1]),
						 out, sizeof(out), &n),
				==, 0);
		g_assert_cmpuint(n, ==, strlen(vec[i][0]));
		g_assert_cmpmem(out, n, vec[i][0], n);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
		g_assert_cmpint(rm_base64_decode(bad[i], strlen(bad[i]), out,
						 sizeof(out), &n),
				==, -1);
	/* too small buffers */
	g_assert_cmpuint(rm_base64_encode("foobar", 6, out, 8), ==, 0);
	g_assert_cmpstr(out, ==, "");
	g_assert_cmpint(rm_base64_decode("Zm9vYmFy", 8, out, 5, &n), ==, -1);
}

static void test_core_table(void)
{
	const struct rmail_core *c = rm_core();

	g_assert_cmpuint(c->abi_major, ==, RMAIL_ABI_MAJOR);
	g_assert_cmpuint(c->size, >=, RMAIL_CORE_SIZE_1_0);
	g_assert_true(RMAIL_HAS(c, struct rmail_core, secure_zero));
	g_assert_cmpuint(c->size, >=, RMAIL_CORE_SIZE_1_2);
	g_assert_true(RMAIL_HAS(c, struct rmail_core, conn_resume));
	g_assert_cmpuint(c->size, >=, RMAIL_CORE_SIZE_1_3);
	g_assert_true(RMAIL_HAS(c, struct rmail_core, dns_cancel));
	/* every entry the table declares is filled: a module may call any
	 * entry RMAIL_HAS() admits without a NULL check */
	for (size_t off = offsetof(struct rmail_core, log); off < c->size;
	     off += sizeof(void (*)(void))) {
		void (*fn)(void);

		memcpy(&fn, (const char *)c + off, sizeof(fn));
		if (fn == NULL)
			g_error("core table entry at offset %zu is NULL", off);
	}
	g_assert_cmpstr(c->conf_str("version"), ==, RMAIL_VERSION);
	g_assert_null(c->store(NULL));
	{
		struct rmail_err err;

		g_assert_null(c->submit_begin(NULL, &err));
		g_assert_cmpint(err.code, ==, RMAIL_E_NOTIMPL);
		g_assert_cmpint(c->rcpt_policy("a@b", NULL, 0), ==,
				RMAIL_RCPT_TEMPFAIL);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/services/jwt", test_jwt);
	g_test_add_func("/services/jwt_nbf", test_jwt_nbf);
	g_test_add_func("/services/ratelimit", test_ratelimit);
	g_test_add_func("/services/threads", test_threads);
	g_test_add_func("/services/metrics", test_metrics);
	g_test_add_func("/services/base64", test_base64);
	g_test_add_func("/services/core_table", test_core_table);
	return g_test_run();
}
