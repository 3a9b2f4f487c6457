/* DKIM keys on disk and the daemon's ring: files private, states
 * kept, the ring holds only active keys, picks the newest per
 * algorithm, and serves a subdomain from its parent but never a TLD. */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mailauth/dkim_keys.h"

static void test_keys(void)
{
	gchar *root = g_dir_make_tmp("rmdkimkeys-XXXXXX", NULL);
	struct dkim_keyinfo *v;
	const struct dkim_signkey *k[4];
	struct dkim_keyring *r;
	char why[256], path[512], *cmd;
	struct stat st;
	size_t n;

	g_assert_nonnull(root);
	g_assert_cmpint(dkim_key_generate(root, "example.test", "e1",
					  DKIM_A_ED25519_SHA256, 0, true, why,
					  sizeof(why)),
			==, 0);
	g_assert_cmpint(dkim_key_generate(root, "example.test", "r1",
					  DKIM_A_RSA_SHA256, 1024, false, why,
					  sizeof(why)),
			==, 0);
	/* a selector is made once */
	g_assert_cmpint(dkim_key_generate(root, "example.test", "e1",
					  DKIM_A_ED25519_SHA256, 0, true, why,
					  sizeof(why)),
			==, -1);
	g_assert_cmpint(dkim_key_generate(root, "../x", "e1",
					  DKIM_A_ED25519_SHA256, 0, true, why,
					  sizeof(why)),
			==, -1);
	g_assert_cmpint(dkim_key_generate(root, "example.test", "a/b",
					  DKIM_A_ED25519_SHA256, 0, true, why,
					  sizeof(why)),
			==, -1);
	snprintf(path, sizeof(path), "%s/dkim/example.test/e1.pem", root);
	g_assert_cmpint(stat(path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);
	snprintf(path, sizeof(path), "%s/dkim/example.test/r1.json", root);
	g_assert_cmpint(stat(path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);

	n = dkim_keys_list(root, NULL, &v);
	g_assert_cmpuint(n, ==, 2);
	g_assert_cmpstr(v[0].selector, ==, "e1");
	g_assert_cmpint(v[0].state, ==, DKIM_KEY_ACTIVE);
	g_assert_true(g_str_has_prefix(v[0].txt, "v=DKIM1; k=ed25519; p="));
	g_assert_cmpint(v[1].state, ==, DKIM_KEY_PENDING);
	g_assert_cmpint(v[1].bits, ==, 1024);
	g_assert_true(g_str_has_prefix(v[1].txt, "v=DKIM1; k=rsa; p=MIG"));
	dkim_keys_list_free(v, n);

	/* only the active ed25519 key is in the ring */
	g_assert_cmpuint(dkim_keyring_load(root), ==, 1);
	r = dkim_keyring_get();
	g_assert_cmpuint(dkim_keyring_find(r, "example.test", ~0u, k, 4), ==,
			 1);
	g_assert_cmpint(k[0]->alg, ==, DKIM_A_ED25519_SHA256);
	/* a subdomain signs with its parent's key, a TLD never */
	g_assert_cmpuint(dkim_keyring_find(r, "lists.example.test", ~0u, k, 4),
			 ==, 1);
	g_assert_cmpstr(k[0]->domain, ==, "example.test");
	g_assert_cmpuint(dkim_keyring_find(r, "other.example", ~0u, k, 4), ==,
			 0);
	g_assert_cmpuint(dkim_keyring_find(r, "test", ~0u, k, 4), ==, 0);
	/* algorithms filtered */
	g_assert_cmpuint(dkim_keyring_find(r, "example.test",
					   1u << DKIM_A_RSA_SHA256, k, 4),
			 ==, 0);

	/* activation: both in the reloaded ring, ed25519 first; the old
	 * ring stays valid for whoever holds it */
	g_assert_cmpint(dkim_key_set_state(root, "example.test", "r1",
					   DKIM_KEY_ACTIVE, why, sizeof(why)),
			==, 0);
	g_assert_cmpuint(dkim_keyring_load(root), ==, 2);
	g_assert_cmpstr(k[0]->selector, ==, "e1");
	dkim_keyring_put(r);
	r = dkim_keyring_get();
	g_assert_cmpuint(dkim_keyring_find(r, "example.test", ~0u, k, 4), ==,
			 2);
	g_assert_cmpint(k[0]->alg, ==, DKIM_A_ED25519_SHA256);
	g_assert_cmpint(k[1]->alg, ==, DKIM_A_RSA_SHA256);
	dkim_keyring_put(r);

	g_assert_cmpint(dkim_key_set_state(root, "example.test", "e1",
					   DKIM_KEY_RETIRED, why, sizeof(why)),
			==, 0);
	n = dkim_keys_list(root, "example.test", &v);
	g_assert_cmpint(v[0].state, ==, DKIM_KEY_RETIRED);
	g_assert_cmpint(v[0].retired, >, 0);
	dkim_keys_list_free(v, n);
	g_assert_cmpuint(dkim_keyring_load(root), ==, 1);
	g_assert_cmpint(dkim_key_set_state(root, "example.test", "nokey",
					   DKIM_KEY_ACTIVE, why, sizeof(why)),
			==, -1);
	dkim_keyring_clear();
	g_assert_null(dkim_keyring_get());
	cmd = g_strdup_printf("rm -rf '%s'", root);
	g_assert_cmpint(system(cmd), ==, 0);
	g_free(cmd);
	g_free(root);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/dkim/keys", test_keys);
	return g_test_run();
}
