/* The login failure tables stay bounded under a flood of distinct keys
 * (user names and addresses are attacker data) and keep recent ones. */
#include <glib.h>

#include "auth/auth_table.h"

#define N 1024
#define WIN 900.0

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return (x ^ (x >> 31)) | 1;
}

static void test_bounded_keeps_recent(void)
{
	static struct auth_slot t[N];
	const uint64_t total = 200000, recent = 64;

	auth_table_clear(t, N);
	for (uint64_t i = 0; i < total; i++)
		auth_table_add(t, N, mix(i), 1, WIN, 1000.0 + (double)i * 1e-3);
	g_assert_cmpuint(auth_table_used(t, N), <=, N);
	g_assert_cmpuint(auth_table_used(t, N), >, N / 2);
	for (uint64_t i = total - recent; i < total; i++)
		g_assert_cmpuint(auth_table_count(t, N, mix(i), WIN, 1300.0),
				 ==, 1);
	/* the oldest are gone */
	g_assert_cmpuint(auth_table_count(t, N, mix(0), WIN, 1300.0), ==, 0);
}

static void test_counts_and_window(void)
{
	static struct auth_slot t[N];
	uint64_t k = mix(42);

	auth_table_clear(t, N);
	for (int i = 0; i < 5; i++)
		auth_table_add(t, N, k, 1, WIN, 10.0);
	g_assert_cmpuint(auth_table_count(t, N, k, WIN, 10.0), ==, 5);
	auth_table_add(t, N, k, -1, WIN, 10.0);
	g_assert_cmpuint(auth_table_count(t, N, k, WIN, 10.0), ==, 4);
	g_assert_cmpfloat(auth_table_last(t, N, k), ==, 10.0);
	/* half a window into the next one: half of the previous counts */
	g_assert_cmpuint(auth_table_count(t, N, k, WIN, 10.0 + WIN * 1.5), ==,
			 2);
	/* two windows later nothing is left */
	g_assert_cmpuint(auth_table_count(t, N, k, WIN, 10.0 + WIN * 2.5), ==,
			 0);
	auth_table_add(t, N, k, 3, WIN, 20.0);
	auth_table_del(t, N, k);
	g_assert_cmpuint(auth_table_count(t, N, k, WIN, 20.0), ==, 0);
	g_assert_cmpfloat(auth_table_last(t, N, k), <, 0);
}

/* a flood into one set evicts the least recently used, not a hot key */
static void test_lru_in_set(void)
{
	static struct auth_slot t[N];
	uint64_t hot = mix(7);

	auth_table_clear(t, N);
	auth_table_add(t, N, hot, 3, WIN, 1.0);
	for (uint64_t i = 100; i < 100000; i++) {
		auth_table_add(t, N, mix(i), 1, WIN, 1.0 + (double)i * 1e-3);
		if (i % 256 == 0) /* the owner of hot keeps using it */
			auth_table_add(t, N, hot, 0, WIN,
				       1.0 + (double)i * 1e-3);
	}
	g_assert_cmpuint(auth_table_count(t, N, hot, WIN, 101.0), ==, 3);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/auth_table/bounded_keeps_recent",
			test_bounded_keeps_recent);
	g_test_add_func("/auth_table/counts_and_window",
			test_counts_and_window);
	g_test_add_func("/auth_table/lru_in_set", test_lru_in_set);
	return g_test_run();
}
