/*
 * TLS contexts: the server context new connections use (replaced on
 * SIGHUP; each SSL holds a reference to its SSL_CTX, so existing
 * connections keep the old one), the client context for outbound SMTP,
 * and ensure_tls, which generates a self-signed pair on first start.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "rm.h"
#include "net/tls_tickets.h"

#define TLS12_CIPHERS                                                          \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"           \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"           \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"           \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384"

static SSL_CTX *server_ctx;
static SSL_CTX *client_ctx;
/* delivery workers ask for it at once on the first STARTTLS after
 * start-up: one of them makes it, none makes a second one */
static pthread_mutex_t client_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t cert_expiry;

static const char *ssl_reason(void)
{
	static char buf[200];
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		return "unknown error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

static void ctx_common(SSL_CTX *ctx)
{
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
					 SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS);
	/* idle connections give their 34 KiB of record buffers back; the
	 * write queue may move and be written in parts */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_ENABLE_PARTIAL_WRITE);
}

static int64_t asn1_to_epoch(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

static int use_pair(SSL_CTX *ctx, const char *cert, const char *key,
		    struct rmail_err *err)
{
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "cannot load TLS certificate %s: %s", cert,
				     ssl_reason());
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		if (ERR_GET_REASON(ERR_peek_last_error()) ==
		    X509_R_KEY_VALUES_MISMATCH) {
			ERR_clear_error();
			return rmail_err_set(err, RMAIL_E_INVAL,
					     "TLS key %s does "
					     "not match certificate %s",
					     key, cert);
		}
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "cannot load TLS key %s: %s", key,
				     ssl_reason());
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "TLS key %s does not match certificate %s",
				     key, cert);
	}
	return 0;
}

static int cert_type(SSL_CTX *ctx)
{
	X509 *x = SSL_CTX_get0_certificate(ctx);

	return x != NULL ? EVP_PKEY_get_base_id(X509_get0_pubkey(x)) : 0;
}

int rm_tls_load_files(const struct rm_tls_files *f, struct rmail_err *err)
{
	SSL_CTX *ctx;
	X509 *x;
	int first;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL)
		return rmail_err_set(err, RMAIL_E_INTERNAL,
				     "cannot create a TLS context: %s",
				     ssl_reason());
	ctx_common(ctx);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"rmail", 5);
	if (use_pair(ctx, f->cert, f->key, err) < 0)
		goto out_free;
	x = SSL_CTX_get0_certificate(ctx);
	cert_expiry = x ? asn1_to_epoch(X509_get0_notAfter(x)) : 0;
	first = cert_type(ctx);
	/* OpenSSL keeps one certificate per key type and picks the one
	 * the client's signature algorithms allow: ECDSA for most, RSA
	 * for the old.  A second pair of the same type would replace the
	 * first, silently: refused. */
	if (f->cert2 != NULL && f->key2 != NULL) {
		if (use_pair(ctx, f->cert2, f->key2, err) < 0)
			goto out_free;
		if (cert_type(ctx) == first) {
			rmail_err_set(
				err, RMAIL_E_INVAL,
				"TLS certificates %s and %s have the same "
				"key type: the second must be of the "
				"other (RSA and ECDSA)",
				f->cert, f->cert2);
			goto out_free;
		}
		x = SSL_CTX_get0_certificate(ctx);
		if (x != NULL) {
			int64_t e2 = asn1_to_epoch(X509_get0_notAfter(x));

			if (e2 < cert_expiry)
				cert_expiry = e2;
		}
	}
	if (f->ticket_secret != NULL &&
	    rm_ticket_keys_use(ctx, f->ticket_secret, err) < 0)
		goto out_free;
	/* connections hold their own reference through SSL_new */
	if (server_ctx != NULL)
		SSL_CTX_free(server_ctx);
	server_ctx = ctx;
	return 0;

out_free:
	SSL_CTX_free(ctx);
	return -1;
}

int rm_tls_load(const char *cert, const char *key, struct rmail_err *err)
{
	struct rm_tls_files f = {.cert = cert, .key = key};

	return rm_tls_load_files(&f, err);
}

void *rm_tls_server_ctx(void)
{
	return server_ctx;
}

static SSL_CTX *client_ctx_new(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		rm_log(RMAIL_LOG_ERR, "cannot create a TLS client context: %s",
		       ssl_reason());
		return NULL;
	}
	ctx_common(ctx);
	/* opportunistic SMTP TLS: the caller decides what an unverified
	 * peer means (SSL_get_verify_result) */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		ERR_clear_error();
	return ctx;
}

void *rm_tls_client_ctx(void)
{
	SSL_CTX *ctx;

	pthread_mutex_lock(&client_mu);
	if (client_ctx == NULL)
		client_ctx = client_ctx_new();
	ctx = client_ctx;
	pthread_mutex_unlock(&client_mu);
	return ctx;
}

int64_t rm_tls_cert_expiry(void)
{
	return server_ctx != NULL ? cert_expiry : 0;
}

/* ---- generation of a self-signed pair ----------------------------- */

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (ext == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

static bool is_ip(const char *host)
{
	unsigned char b[16];

	return inet_pton(AF_INET, host, b) == 1 ||
	       inet_pton(AF_INET6, host, b) == 1;
}

static X509 *make_cert(EVP_PKEY *pk, const char *host, bool ecdsa)
{
	X509 *x = X509_new();
	X509_NAME *name;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	char san[300];

	if (x == NULL)
		return NULL;
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto out_free;
	serial[0] &= 0x7f; /* positive */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (bn == NULL || X509_set_version(x, 2) != 1 ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto out_free;
	if (X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), 3653, 0, NULL) == NULL)
		goto out_free;
	name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
				       (const unsigned char *)host, -1, -1,
				       0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, pk) != 1)
		goto out_free;
	snprintf(san, sizeof(san), "%s:%s", is_ip(host) ? "IP" : "DNS", host);
	if (add_ext(x, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    /* an ECDSA key only signs (ECDHE); RSA may encipher too */
	    add_ext(x, NID_key_usage,
		    ecdsa ? "critical,digitalSignature"
			  : "critical,digitalSignature,keyEncipherment") < 0 ||
	    add_ext(x, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(x, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(x, NID_subject_alt_name, san) < 0)
		goto out_free;
	if (X509_sign(x, pk, EVP_sha256()) == 0)
		goto out_free;
	BN_free(bn);
	return x;

out_free:
	BN_free(bn);
	X509_free(x);
	return NULL;
}

/* write through a temp file and rename, so a crash leaves no half key */
static int write_pem(const char *path, int mode, EVP_PKEY *pk, X509 *x, int uid,
		     int gid, struct rmail_err *err)
{
	char tmp[PATH_MAX];
	FILE *f;
	int fd, ok;

	snprintf(tmp, sizeof(tmp), "%.*s.%ld.tmp", PATH_MAX - 32, path,
		 (long)getpid());
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return rmail_err_set(err, RMAIL_E_IO, "cannot create %s: %s",
				     tmp, strerror(errno));
	if (fchmod(fd, (mode_t)mode) < 0 ||
	    ((uid != -1 || gid != -1) &&
	     fchown(fd, (uid_t)uid, (gid_t)gid) < 0)) {
		rmail_err_set(err, RMAIL_E_IO, "cannot set owner of %s: %s",
			      tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		unlink(tmp);
		return rmail_err_set(err, RMAIL_E_IO, "cannot write %s: %s",
				     tmp, strerror(errno));
	}
	if (pk != NULL)
		ok = PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
	else
		ok = PEM_write_X509(f, x);
	if (ok != 1 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
		fclose(f);
		unlink(tmp);
		return rmail_err_set(err, RMAIL_E_IO, "cannot write %s: %s",
				     tmp,
				     errno ? strerror(errno) : ssl_reason());
	}
	fclose(f);
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		return rmail_err_set(err, RMAIL_E_IO,
				     "cannot rename %s to %s: %s", tmp, path,
				     strerror(errno));
	}
	return 0;
}

static int generate(const char *dir, const char *cert, const char *key,
		    const char *host, bool ecdsa, int uid, int gid,
		    struct rmail_err *err)
{
	EVP_PKEY *pk = NULL;
	X509 *x = NULL;
	int ret = -1;

	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return rmail_err_set(err, RMAIL_E_IO, "cannot create %s: %s",
				     dir, strerror(errno));
	if ((uid != -1 || gid != -1) && chown(dir, (uid_t)uid, (gid_t)gid) < 0)
		return rmail_err_set(err, RMAIL_E_IO,
				     "cannot set owner of %s: %s", dir,
				     strerror(errno));
	rm_log(RMAIL_LOG_INFO,
	       "generating %s key and a self-signed certificate for %s in %s",
	       ecdsa ? "an ECDSA P-256" : "a 4096-bit RSA", host, dir);
	ERR_clear_error();
	pk = ecdsa ? EVP_EC_gen("P-256") : EVP_RSA_gen(4096);
	if (pk == NULL) {
		rmail_err_set(err, RMAIL_E_INTERNAL,
			      "cannot generate a key: %s", ssl_reason());
		goto out;
	}
	x = make_cert(pk, host, ecdsa);
	if (x == NULL) {
		rmail_err_set(err, RMAIL_E_INTERNAL,
			      "cannot build a certificate for %s: %s", host,
			      ssl_reason());
		goto out;
	}
	/* the key first: a cert without its key would be reused */
	if (write_pem(key, 0600, pk, NULL, uid, gid, err) < 0 ||
	    write_pem(cert, 0644, NULL, x, uid, gid, err) < 0)
		goto out;
	ret = 0;
out:
	X509_free(x);
	EVP_PKEY_free(pk);
	return ret;
}

/* tls.ticket_secret_file as configured (it must exist), else one in
 * mail_root/tls made once: every process on the mail root, and every
 * host sharing it, then issues tickets the others accept */
static int ticket_secret(const struct rm_config *conf, int uid, int gid,
			 struct rm_tls_files *out, struct rmail_err *err)
{
	static char buf[PATH_MAX];
	char dir[PATH_MAX];

	if (conf->tls_ticket_secret_file != NULL) {
		out->ticket_secret = conf->tls_ticket_secret_file;
		return 0;
	}
	if (conf->mail_root == NULL ||
	    strlen(conf->mail_root) > (size_t)PATH_MAX - 64)
		return 0;
	snprintf(dir, sizeof(dir), "%s/tls", conf->mail_root);
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return rmail_err_set(err, RMAIL_E_IO, "cannot create %s: %s",
				     dir, strerror(errno));
	snprintf(buf, sizeof(buf), "%.*s/ticket.key", PATH_MAX - 32, dir);
	if (rm_ticket_secret_ensure(buf, uid, gid, err) < 0)
		return -1;
	out->ticket_secret =
		conf->pool != NULL ? rm_pstrdup(conf->pool, buf) : buf;
	return 0;
}

static bool pair_missing(char p[4][PATH_MAX], int i)
{
	return access(p[i], F_OK) < 0 || access(p[i + 1], F_OK) < 0;
}

/* Daemons started together on a new mail root (hosts sharing it) take
 * turns under an flock of tls/: one generates, the others then find
 * its pair, so no one serves a key with another's certificate.  Where
 * a directory cannot be locked the per-process temp names still keep
 * every file whole. */
static int ensure_pairs(const char *dir, char p[4][PATH_MAX], const char *host,
			int uid, int gid, struct rmail_err *err)
{
	bool locked = false;
	int fd = -1, rc = 0;

	if (!pair_missing(p, 0) && !pair_missing(p, 2))
		return 0;
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return rmail_err_set(err, RMAIL_E_IO, "cannot create %s: %s",
				     dir, strerror(errno));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		while (!(locked = flock(fd, LOCK_EX) == 0) && errno == EINTR)
			;
	for (int i = 0; i < 4 && rc == 0; i += 2)
		if (pair_missing(p, i))
			rc = generate(dir, p[i], p[i + 1], host, i == 2, uid,
				      gid, err);
	if (locked)
		flock(fd, LOCK_UN);
	if (fd >= 0)
		close(fd);
	return rc;
}

int rm_tls_ensure(const struct rm_config *conf, int uid, int gid,
		  struct rm_tls_files *out, struct rmail_err *err)
{
	static char paths[4][PATH_MAX];
	char dir[PATH_MAX], p[4][PATH_MAX];
	const char *host;

	memset(out, 0, sizeof(*out));
	if (conf->tls_cert_file != NULL) {
		const char *k = conf->tls_key_file != NULL
					? conf->tls_key_file
					: conf->tls_cert_file;
		const char *v[4] = {conf->tls_cert_file, k,
				    conf->tls_cert2_file, conf->tls_key2_file};
		static const char *const names[4] = {
			"tls.cert_file", "tls.key_file", "tls.cert2_file",
			"tls.key2_file"};

		for (int i = 0; i < 4; i++)
			if (v[i] != NULL && access(v[i], R_OK) < 0)
				return rmail_err_set(err, RMAIL_E_IO,
						     "cannot read %s %s: %s",
						     names[i], v[i],
						     strerror(errno));
		out->cert = v[0];
		out->key = v[1];
		out->cert2 = v[2];
		out->key2 = v[3];
		return ticket_secret(conf, uid, gid, out, err);
	}
	if (conf->mail_root == NULL)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "no mail_root for the generated key");
	if (strlen(conf->mail_root) > (size_t)PATH_MAX - 64)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "mail_root path too long");
	snprintf(dir, sizeof(dir), "%.*s/tls", PATH_MAX - 64, conf->mail_root);
	snprintf(p[0], sizeof(p[0]), "%.*s/cert.pem", PATH_MAX - 32, dir);
	snprintf(p[1], sizeof(p[1]), "%.*s/key.pem", PATH_MAX - 32, dir);
	snprintf(p[2], sizeof(p[2]), "%.*s/ecdsa-cert.pem", PATH_MAX - 32, dir);
	snprintf(p[3], sizeof(p[3]), "%.*s/ecdsa-key.pem", PATH_MAX - 32, dir);
	host = conf->hostname != NULL ? conf->hostname : "localhost";
	/* each pair on its own: a mail root of an older release has the
	 * RSA pair and gets the ECDSA one beside it */
	if (ensure_pairs(dir, p, host, uid, gid, err) < 0)
		return -1;
	const char **slot[4] = {&out->cert, &out->key, &out->cert2, &out->key2};

	for (int i = 0; i < 4; i++) {
		if (conf->pool != NULL) {
			*slot[i] = rm_pstrdup(conf->pool, p[i]);
		} else {
			snprintf(paths[i], sizeof(paths[i]), "%s", p[i]);
			*slot[i] = paths[i];
		}
	}
	return ticket_secret(conf, uid, gid, out, err);
}
