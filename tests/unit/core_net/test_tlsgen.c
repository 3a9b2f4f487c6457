/* rm_tls_ensure generates a 4096-bit self-signed pair once and reuses
 * it; rm_tls_load names the file that is wrong. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "rm.h"

static const char *srcdir(void)
{
	const char *s = g_getenv("RMAIL_SOURCE_DIR");

	return s != NULL ? s : RMAIL_SRC;
}

static X509 *read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	g_assert_nonnull(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	g_assert_nonnull(x);
	return x;
}

static void test_generate_and_reuse(void)
{
	char *root = g_dir_make_tmp("rmail-tls-XXXXXX", NULL);
	struct rm_config conf;
	struct rmail_err err;
	const char *cert, *key, *cert2, *key2;
	struct stat st, st2;
	X509 *x;
	EVP_PKEY *pk;
	GENERAL_NAMES *san;
	char cn[256];
	int64_t days;

	memset(&conf, 0, sizeof(conf));
	conf.pool = rm_pool_create(NULL);
	conf.hostname = "mail.example.test";
	conf.mail_root = root;
	if (rm_tls_ensure(&conf, -1, -1, &cert, &key, &err) < 0)
		g_error("%s", err.msg);
	g_assert_true(g_str_has_suffix(cert, "/tls/cert.pem"));
	g_assert_true(g_str_has_suffix(key, "/tls/key.pem"));
	g_assert_cmpint(stat(key, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);

	x = read_cert(cert);
	pk = X509_get0_pubkey(x);
	g_assert_cmpint(EVP_PKEY_get_bits(pk), ==, 4096);
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
				  sizeof(cn));
	g_assert_cmpstr(cn, ==, "mail.example.test");
	san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	g_assert_nonnull(san);
	g_assert_cmpint(sk_GENERAL_NAME_num(san), ==, 1);
	{
		GENERAL_NAME *gn = sk_GENERAL_NAME_value(san, 0);

		g_assert_cmpint(gn->type, ==, GEN_DNS);
		g_assert_cmpstr(
			(const char *)ASN1_STRING_get0_data(gn->d.dNSName), ==,
			"mail.example.test");
	}
	GENERAL_NAMES_free(san);
	X509_free(x);

	g_assert_cmpint(rm_tls_load(cert, key, &err), ==, 0);
	days = (rm_tls_cert_expiry() - (int64_t)time(NULL)) / 86400;
	g_assert_cmpint(days, >=, 3650);
	g_assert_cmpint(days, <=, 3654);

	/* a second start reuses the pair */
	g_assert_cmpint(rm_tls_ensure(&conf, -1, -1, &cert2, &key2, &err), ==,
			0);
	g_assert_cmpstr(cert2, ==, cert);
	g_assert_cmpint(stat(key2, &st2), ==, 0);
	g_assert_cmpuint(st2.st_ino, ==, st.st_ino);
	g_assert_cmpint(st2.st_mtime, ==, st.st_mtime);

	g_unlink(cert);
	g_unlink(key);
	g_autofree char *dir = g_build_filename(root, "tls", NULL);
	g_rmdir(dir);
	g_rmdir(root);
	rm_pool_destroy(&conf.pool);
	g_free(root);
}

static void test_load_errors(void)
{
	g_autofree char *cert =
		g_build_filename(srcdir(), "tests/certs", "cert.pem", NULL);
	g_autofree char *key =
		g_build_filename(srcdir(), "tests/certs", "key.pem", NULL);
	g_autofree char *key2 =
		g_build_filename(srcdir(), "tests/certs", "key2.pem", NULL);
	struct rmail_err err;

	g_assert_cmpint(rm_tls_load(cert, key, &err), ==, 0);
	g_assert_nonnull(rm_tls_server_ctx());
	g_assert_cmpint(rm_tls_load(cert, key2, &err), ==, -1);
	g_assert_nonnull(strstr(err.msg, "does not match"));
	g_assert_nonnull(strstr(err.msg, key2));
	g_assert_cmpint(rm_tls_load("/nonexistent/c.pem", key, &err), ==, -1);
	g_assert_nonnull(strstr(err.msg, "/nonexistent/c.pem"));
	/* the pair in force is kept after a failed load */
	g_assert_nonnull(rm_tls_server_ctx());
	g_assert_nonnull(rm_tls_client_ctx());
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	rm_log_set_level(RMAIL_LOG_WARN);
	g_test_add_func("/core_net/tls/load_errors", test_load_errors);
	g_test_add_func("/core_net/tls/generate_4096", test_generate_and_reuse);
	return g_test_run();
}
