/* The outbound client contexts are made on first use, by whichever
 * delivery worker gets there first: workers starting together (a
 * queue run after start-up) must all get the one context.  A second
 * one made at the same time was overwritten and never freed, the leak
 * LeakSanitizer found at the daemon's exit.  The same for the
 * authenticating contexts (DANE, MTA-STS, tls_verify), one per CA
 * file. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <openssl/ssl.h>

#include "rm.h"
#include "submit/tls_policy.h"

enum { NTHR = 8 };

static pthread_barrier_t start;
static gint made;

/* called for every SSL_CTX made in this process, whoever frees it */
static void count_ctx(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
		      long argl, void *argp)
{
	(void)parent;
	(void)ptr;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	g_atomic_int_inc(&made);
}

static void *first_use(void *arg)
{
	void **out = arg;

	pthread_barrier_wait(&start);
	*out = rm_tls_client_ctx();
	return NULL;
}

static void test_client_ctx_once(void)
{
	gint before = g_atomic_int_get(&made);
	pthread_t t[NTHR];
	void *ctx[NTHR];

	g_assert_cmpint(pthread_barrier_init(&start, NULL, NTHR), ==, 0);
	for (size_t i = 0; i < NTHR; i++)
		g_assert_cmpint(pthread_create(&t[i], NULL, first_use, &ctx[i]),
				==, 0);
	for (size_t i = 0; i < NTHR; i++)
		g_assert_cmpint(pthread_join(t[i], NULL), ==, 0);
	pthread_barrier_destroy(&start);
	for (size_t i = 0; i < NTHR; i++) {
		g_assert_nonnull(ctx[i]);
		g_assert_true(ctx[i] == ctx[0]);
	}
	g_assert_cmpint(g_atomic_int_get(&made) - before, ==, 1);
	/* and it stays the one context afterwards */
	g_assert_true(rm_tls_client_ctx() == ctx[0]);
}

static void *first_verify(void *arg)
{
	struct rm_tls_policy p;
	SSL **out = arg;

	memset(&p, 0, sizeof(p));
	p.level = RM_TLS_VERIFY;
	snprintf(p.name, sizeof(p.name), "mx.example.test");
	pthread_barrier_wait(&start);
	*out = rm_tls_policy_ssl(&p, p.name);
	return NULL;
}

static void test_verify_ctx_once(void)
{
	gint before = g_atomic_int_get(&made);
	pthread_t t[NTHR];
	SSL *ssl[NTHR];

	g_assert_cmpint(pthread_barrier_init(&start, NULL, NTHR), ==, 0);
	for (size_t i = 0; i < NTHR; i++)
		g_assert_cmpint(
			pthread_create(&t[i], NULL, first_verify, &ssl[i]), ==,
			0);
	for (size_t i = 0; i < NTHR; i++)
		g_assert_cmpint(pthread_join(t[i], NULL), ==, 0);
	pthread_barrier_destroy(&start);
	for (size_t i = 0; i < NTHR; i++) {
		g_assert_nonnull(ssl[i]);
		g_assert_true(SSL_get_SSL_CTX(ssl[i]) ==
			      SSL_get_SSL_CTX(ssl[0]));
	}
	g_assert_cmpint(g_atomic_int_get(&made) - before, ==, 1);
	for (size_t i = 0; i < NTHR; i++)
		SSL_free(ssl[i]);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_assert_cmpint(
		SSL_CTX_get_ex_new_index(0, NULL, count_ctx, NULL, NULL), >=,
		0);
	g_test_add_func("/core/net/tls/client-ctx-once", test_client_ctx_once);
	g_test_add_func("/core/net/tls/verify-ctx-once", test_verify_ctx_once);
	return g_test_run();
}
