/* rmail dkim check through the core's resolver, forwarding to the test
 * DNS server (dns.forwarders): a pending key stays pending while its
 * record is missing or differs, and becomes active once it is served. */
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "dnsd.h"
#include "harness.h"
#include "mailauth/dkim_keys.h"

static char *key_txt(const char *root, int *state)
{
	struct dkim_keyinfo *v;
	size_t n = dkim_keys_list(root, "example.test", &v);
	char *txt;

	g_assert_cmpuint(n, ==, 1);
	g_assert_cmpstr(v[0].selector, ==, "s1");
	txt = g_strdup(v[0].txt);
	*state = v[0].state;
	dkim_keys_list_free(v, n);
	return txt;
}

static char *check(struct rmh *h)
{
	char *out = NULL, *err = NULL;

	g_assert_cmpint(rmh_run(h, &out, &err, "dkim", "check", NULL), ==, 0);
	g_test_message("%s%s", out, err);
	g_free(err);
	return out;
}

static void test_check(void)
{
	struct rmh *h = rmh_new();
	char msg[128], *root, *out = NULL, *err = NULL, *txt, *zone;
	struct rm_dnsd *d = rm_dnsd_start(NULL, msg, sizeof(msg));
	int state;

	g_assert_nonnull(d);
	rmh_setf(h, "dns",
		 "{\"forwarders\": [\"127.0.0.1@%u\"], \"timeout_ms\": 500, "
		 "\"trust_anchor\": null}",
		 rm_dnsd_port(d));
	rmh_write_config(h);
	root = g_build_filename(rmh_dir(h), "mail", NULL);
	g_assert_cmpint(g_mkdir_with_parents(root, 0700), ==, 0);
	g_assert_cmpint(rmh_run(h, &out, &err, "dkim", "keygen", "example.test",
				"--selector", "s1", "--algorithm", "ed25519",
				NULL),
			==, 0);
	g_free(out);
	g_free(err);
	txt = key_txt(root, &state);
	g_assert_cmpint(state, ==, DKIM_KEY_PENDING);

	/* missing */
	out = check(h);
	g_assert_nonnull(strstr(out, "example.test s1: not published"));
	g_free(out);
	g_assert_cmpuint(rm_dnsd_queries(d), >, 0);
	g_free(key_txt(root, &state));
	g_assert_cmpint(state, ==, DKIM_KEY_PENDING);

	/* another key's record */
	g_assert_cmpint(rm_dnsd_load(d,
				     "s1._domainkey.example.test TXT "
				     "\"v=DKIM1; k=ed25519; p=AAAA\"\n",
				     msg, sizeof(msg)),
			==, 0);
	out = check(h);
	g_assert_nonnull(
		strstr(out, "example.test s1: another record published"));
	g_free(out);
	g_free(key_txt(root, &state));
	g_assert_cmpint(state, ==, DKIM_KEY_PENDING);

	/* the key's own record */
	zone = g_strdup_printf("s1._domainkey.example.test TXT \"%s\"\n", txt);
	g_assert_cmpint(rm_dnsd_load(d, zone, msg, sizeof(msg)), ==, 0);
	out = check(h);
	g_assert_nonnull(strstr(out, "example.test s1: active"));
	g_free(out);
	g_free(key_txt(root, &state));
	g_assert_cmpint(state, ==, DKIM_KEY_ACTIVE);
	out = check(h);
	g_assert_nonnull(strstr(out, "example.test s1: published, active"));
	g_free(out);

	g_free(zone);
	g_free(txt);
	g_free(root);
	rm_dnsd_stop(d);
	rmh_free(h);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/cli/dkim/check", test_check);
	return g_test_run();
}
