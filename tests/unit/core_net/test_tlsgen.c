/* rm_tls_ensure generates a 4096-bit RSA and an ECDSA P-256
 * self-signed pair once and reuses them; the server then gives each
 * client the certificate its signature algorithms allow; rm_tls_load
 * names the file that is wrong. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "rm.h"
#include "net/tls_tickets.h"

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

/* A handshake with the server context in force over a socket pair, by
 * a client offering only `sigalgs`; the key type of the certificate it
 * got (EVP_PKEY_RSA, EVP_PKEY_EC). */
static int served_key_type(const char *sigalgs)
{
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL *srv = SSL_new(rm_tls_server_ctx()), *cl;
	int sv[2], type = 0, done_c = 0, done_s = 0;
	X509 *peer;

	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	g_assert_cmpint(SSL_CTX_set1_sigalgs_list(cctx, sigalgs), ==, 1);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
	cl = SSL_new(cctx);
	SSL_set_fd(cl, sv[0]);
	SSL_set_fd(srv, sv[1]);
	SSL_set_connect_state(cl);
	SSL_set_accept_state(srv);
	for (int i = 0; i < 1000 && !(done_c && done_s); i++) {
		if (!done_c)
			done_c = SSL_do_handshake(cl) == 1;
		if (!done_s)
			done_s = SSL_do_handshake(srv) == 1;
	}
	g_assert_true(done_c && done_s);
	peer = SSL_get1_peer_certificate(cl);
	g_assert_nonnull(peer);
	type = EVP_PKEY_get_base_id(X509_get0_pubkey(peer));
	X509_free(peer);
	SSL_free(cl);
	SSL_free(srv);
	SSL_CTX_free(cctx);
	close(sv[0]);
	close(sv[1]);
	ERR_clear_error();
	return type;
}

/* One handshake with the server context in force, offering `sess`
 * (NULL: none); returns whether it was resumed, and the client's new
 * session (a ticket) in *out. */
static bool handshake_resume(SSL_SESSION *sess, SSL_SESSION **out)
{
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL *srv = SSL_new(rm_tls_server_ctx()), *cl;
	int sv[2], done_c = 0, done_s = 0;
	char b;
	bool reused;

	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
	cl = SSL_new(cctx);
	SSL_set_fd(cl, sv[0]);
	SSL_set_fd(srv, sv[1]);
	if (sess != NULL)
		SSL_set_session(cl, sess);
	SSL_set_connect_state(cl);
	SSL_set_accept_state(srv);
	for (int i = 0; i < 1000 && !(done_c && done_s); i++) {
		if (!done_c)
			done_c = SSL_do_handshake(cl) == 1;
		if (!done_s)
			done_s = SSL_do_handshake(srv) == 1;
	}
	g_assert_true(done_c && done_s);
	/* TLS 1.3 tickets come after the handshake: a write sends them,
	 * a read takes them in */
	g_assert_cmpint(SSL_write(srv, "x", 1), ==, 1);
	g_assert_cmpint(SSL_read(cl, &b, 1), ==, 1);
	reused = SSL_session_reused(cl);
	*out = SSL_get1_session(cl);
	/* a session freed without close_notify is marked unresumable */
	SSL_set_shutdown(cl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(cl);
	SSL_free(srv);
	SSL_CTX_free(cctx);
	close(sv[0]);
	close(sv[1]);
	ERR_clear_error();
	return reused;
}

/* Tickets are resumed by another server context reading the same
 * secret (a reload, another worker, another host), not by one with
 * another secret; keys rotate per period. */
static void test_tickets(void)
{
	char *root = g_dir_make_tmp("rmail-tick-XXXXXX", NULL);
	g_autofree char *cert =
		g_build_filename(srcdir(), "tests/certs", "cert.pem", NULL);
	g_autofree char *key =
		g_build_filename(srcdir(), "tests/certs", "key.pem", NULL);
	g_autofree char *sec = g_build_filename(root, "t.key", NULL);
	g_autofree char *sec2 = g_build_filename(root, "t2.key", NULL);
	struct rm_tls_files f = {
		.cert = cert, .key = key, .ticket_secret = sec};
	struct rmail_err err;
	SSL_SESSION *s1, *s2, *s3;
	unsigned char n1[16], n2[16], a[32], h[32], secret[48] = {1};
	struct stat st;

	g_assert_cmpint(rm_ticket_secret_ensure(sec, -1, -1, &err), ==, 0);
	g_assert_cmpint(stat(sec, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);
	g_assert_cmpint(st.st_size, ==, 48);
	g_assert_cmpint(rm_ticket_secret_ensure(sec2, -1, -1, &err), ==, 0);

	g_assert_cmpint(rm_tls_load_files(&f, &err), ==, 0);
	g_assert_false(handshake_resume(NULL, &s1));
	/* a reload: a new context, the same secret */
	g_assert_cmpint(rm_tls_load_files(&f, &err), ==, 0);
	g_assert_true(handshake_resume(s1, &s2));
	/* another secret: a full handshake */
	f.ticket_secret = sec2;
	g_assert_cmpint(rm_tls_load_files(&f, &err), ==, 0);
	g_assert_false(handshake_resume(s2, &s3));
	SSL_SESSION_free(s1);
	SSL_SESSION_free(s2);
	SSL_SESSION_free(s3);

	/* a secret others may read is refused */
	g_assert_cmpint(chmod(sec, 0644), ==, 0);
	f.ticket_secret = sec;
	g_assert_cmpint(rm_tls_load_files(&f, &err), ==, -1);
	g_assert_nonnull(strstr(err.msg, "group or others"));

	/* one key per period, all from the secret */
	g_assert_cmpint(rm_ticket_keys_for(secret, sizeof(secret), 7, n1, a, h),
			==, 0);
	g_assert_cmpint(rm_ticket_keys_for(secret, sizeof(secret), 8, n2, a, h),
			==, 0);
	g_assert_cmpint(memcmp(n1, n2, 16), !=, 0);
	g_assert_cmpint(rm_ticket_keys_for(secret, sizeof(secret), 7, n2, a, h),
			==, 0);
	g_assert_cmpint(memcmp(n1, n2, 16), ==, 0);
	g_assert_cmpint(rm_ticket_keys_for(secret, 16, 7, n2, a, h), ==, -1);

	g_unlink(sec);
	g_unlink(sec2);
	g_rmdir(root);
	g_free(root);
}

static void test_generate_and_reuse(void)
{
	char *root = g_dir_make_tmp("rmail-tls-XXXXXX", NULL);
	struct rm_config conf;
	struct rmail_err err;
	const char *cert, *key, *cert2, *key2;
	struct rm_tls_files f, f2;
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
	if (rm_tls_ensure(&conf, -1, -1, &f, &err) < 0)
		g_error("%s", err.msg);
	cert = f.cert;
	key = f.key;
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

	/* the ECDSA pair beside it, the same name, a signing-only key */
	g_assert_true(g_str_has_suffix(f.cert2, "/tls/ecdsa-cert.pem"));
	g_assert_true(g_str_has_suffix(f.key2, "/tls/ecdsa-key.pem"));
	g_assert_cmpint(stat(f.key2, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);
	x = read_cert(f.cert2);
	pk = X509_get0_pubkey(x);
	g_assert_cmpint(EVP_PKEY_get_base_id(pk), ==, EVP_PKEY_EC);
	g_assert_cmpint(EVP_PKEY_get_bits(pk), ==, 256);
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
				  sizeof(cn));
	g_assert_cmpstr(cn, ==, "mail.example.test");
	g_assert_true(X509_get_key_usage(x) == KU_DIGITAL_SIGNATURE);
	X509_free(x);
	g_assert_cmpint(stat(key, &st), ==, 0);

	/* both served: each client gets what it can verify */
	g_assert_cmpint(rm_tls_load_files(&f, &err), ==, 0);
	g_assert_cmpint(served_key_type("ECDSA+SHA256"), ==, EVP_PKEY_EC);
	g_assert_cmpint(served_key_type("RSA-PSS+SHA256:RSA+SHA256"), ==,
			EVP_PKEY_RSA);

	/* two pairs of one key type: refused, the pair in force kept */
	{
		struct rm_tls_files same = {f.cert, f.key, f.cert, f.key};

		g_assert_cmpint(rm_tls_load_files(&same, &err), ==, -1);
		g_assert_nonnull(strstr(err.msg, "same key type"));
		g_assert_cmpint(served_key_type("ECDSA+SHA256"), ==,
				EVP_PKEY_EC);
	}

	g_assert_cmpint(rm_tls_load(cert, key, &err), ==, 0);
	days = (rm_tls_cert_expiry() - (int64_t)time(NULL)) / 86400;
	g_assert_cmpint(days, >=, 3650);
	g_assert_cmpint(days, <=, 3654);

	/* a second start reuses the pair */
	g_assert_cmpint(rm_tls_ensure(&conf, -1, -1, &f2, &err), ==, 0);
	cert2 = f2.cert;
	key2 = f2.key;
	g_assert_cmpstr(cert2, ==, cert);
	g_assert_cmpint(stat(key2, &st2), ==, 0);
	g_assert_cmpuint(st2.st_ino, ==, st.st_ino);
	g_assert_cmpint(st2.st_mtime, ==, st.st_mtime);

	/* a mail root of an older release (RSA only) gets the ECDSA pair
	 * beside its RSA pair, which stays */
	g_unlink(f.cert2);
	g_unlink(f.key2);
	g_assert_cmpint(rm_tls_ensure(&conf, -1, -1, &f2, &err), ==, 0);
	g_assert_cmpint(stat(f2.key, &st2), ==, 0);
	g_assert_cmpuint(st2.st_ino, ==, st.st_ino);
	g_assert_cmpint(access(f2.cert2, R_OK), ==, 0);

	g_unlink(cert);
	g_unlink(key);
	g_unlink(f.cert2);
	g_unlink(f.key2);
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

/* daemons started together on a new shared mail root (two hosts, or
 * `rmail run` twice): each one starts, with a key that matches its
 * certificate.  The RSA pair is there already (an older root), so the
 * race is over the fast ECDSA pair, many times. */
static void test_generate_race(void)
{
	enum { NPROC = 8, ROUNDS = 10 };
	unsigned round, i, ok = 0;

	for (round = 0; round < ROUNDS; round++) {
		char *root = g_dir_make_tmp("rmail-tls-XXXXXX", NULL);
		char *tls = g_build_filename(root, "tls", NULL), *cmd;
		pid_t pids[NPROC];
		struct rm_config conf;
		struct rm_tls_files f;
		struct rmail_err err;

		memset(&conf, 0, sizeof(conf));
		conf.hostname = "mail.example.test";
		conf.mail_root = root;
		g_assert_cmpint(g_mkdir(tls, 0750), ==, 0);
		cmd = g_strdup_printf("cp '%s/tests/certs/cert.pem' "
				      "'%s/tests/certs/key.pem' '%s/'",
				      srcdir(), srcdir(), tls);
		g_assert_cmpint(system(cmd), ==, 0);
		g_free(cmd);
		for (i = 0; i < NPROC; i++) {
			pids[i] = fork();
			g_assert_cmpint(pids[i], >=, 0);
			if (pids[i] == 0) {
				int rc = rm_tls_ensure(&conf, -1, -1, &f, &err);

				if (rc == 0)
					rc = rm_tls_load_files(&f, &err);
				if (rc < 0)
					fprintf(stderr, "%s\n", err.msg);
				_exit(rc < 0 ? 1 : 0);
			}
		}
		for (i = 0; i < NPROC; i++) {
			int st;

			g_assert_cmpint(waitpid(pids[i], &st, 0), ==, pids[i]);
			ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
		}
		/* and what they left matches too */
		if (rm_tls_ensure(&conf, -1, -1, &f, &err) < 0 ||
		    rm_tls_load_files(&f, &err) < 0)
			g_error("%s", err.msg);
		cmd = g_strdup_printf("rm -rf '%s'", root);
		g_assert_cmpint(system(cmd), ==, 0);
		g_free(cmd);
		g_free(tls);
		g_free(root);
	}
	g_assert_cmpuint(ok, ==, NPROC * ROUNDS);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	rm_log_set_level(RMAIL_LOG_WARN);
	g_test_add_func("/core_net/tls/load_errors", test_load_errors);
	g_test_add_func("/core_net/tls/generate_4096", test_generate_and_reuse);
	g_test_add_func("/core_net/tls/tickets", test_tickets);
	g_test_add_func("/core_net/tls/generate_race", test_generate_race);
	return g_test_run();
}
