/*
 * TLS session ticket keys shared by every process that reads the same
 * secret: the workers of a host, the hosts of a cluster on one mail
 * root, and the server context after a SIGHUP.  A client that resumes
 * its session skips the certificate signature (the whole cost of a
 * handshake), wherever the balancer sends it.
 *
 * Keys rotate by time: the key of period p (RM_TICKET_PERIOD seconds)
 * is derived from the secret and p, so processes agree without talking.
 * New tickets use the current period's key; tickets of the previous
 * period are still accepted and renewed, so a ticket lives one to two
 * periods.  The secret itself never leaves this file.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "rm.h"
#include "net/tls_tickets.h"

#define SECRET_MIN 32
#define SECRET_MAX 256

struct period_keys {
	unsigned char name[16];
	unsigned char aes[32];
	unsigned char hmac[32];
};

/* one secret per server context, kept in its ex_data */
struct ticket_secret {
	unsigned char v[SECRET_MAX];
	size_t len;
};

static int ex_index = -1;

static void secret_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
			long argl, void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (ptr != NULL) {
		OPENSSL_cleanse(ptr, sizeof(struct ticket_secret));
		OPENSSL_free(ptr);
	}
}

static int derive(const struct ticket_secret *s, const char *label,
		  uint64_t period, unsigned char out[32])
{
	unsigned char msg[64];
	unsigned int len = 32;
	int n = snprintf((char *)msg, sizeof(msg), "rmail-ticket %s %llu",
			 label, (unsigned long long)period);

	return HMAC(EVP_sha256(), s->v, (int)s->len, msg, (size_t)n, out,
		    &len) != NULL
		       ? 0
		       : -1;
}

int rm_ticket_keys_for(const void *secret, size_t len, uint64_t period,
		       unsigned char name[16], unsigned char aes[32],
		       unsigned char hmac[32])
{
	struct ticket_secret s;
	unsigned char n[32];

	if (len < SECRET_MIN || len > SECRET_MAX)
		return -1;
	memcpy(s.v, secret, len);
	s.len = len;
	if (derive(&s, "name", period, n) < 0 ||
	    derive(&s, "aes", period, aes) < 0 ||
	    derive(&s, "hmac", period, hmac) < 0) {
		OPENSSL_cleanse(&s, sizeof(s));
		return -1;
	}
	memcpy(name, n, 16);
	OPENSSL_cleanse(&s, sizeof(s));
	return 0;
}

static int keys_of(const struct ticket_secret *s, uint64_t period,
		   struct period_keys *k)
{
	return rm_ticket_keys_for(s->v, s->len, period, k->name, k->aes,
				  k->hmac);
}

static int set_keys(const struct period_keys *k, unsigned char *iv,
		    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
						  (void *)k->hmac, 32),
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						 (char *)"SHA256", 0),
		OSSL_PARAM_construct_end()};

	if (EVP_MAC_CTX_set_params(hctx, params) != 1)
		return -1;
	if (enc)
		return EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes,
					  iv) == 1
			       ? 0
			       : -1;
	return EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv) ==
			       1
		       ? 0
		       : -1;
}

/* OpenSSL's ticket callback: 1 use, 2 use and renew, 0 unknown key (a
 * full handshake), -1 error */
static int ticket_cb(SSL *ssl, unsigned char key_name[16], unsigned char *iv,
		     EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	const struct ticket_secret *s =
		SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ex_index);
	uint64_t p = (uint64_t)time(NULL) / RM_TICKET_PERIOD;
	struct period_keys k;
	int rc = -1;

	if (s == NULL)
		return enc ? -1 : 0;
	if (enc) {
		if (keys_of(s, p, &k) == 0 &&
		    RAND_bytes(iv, EVP_MAX_IV_LENGTH) == 1 &&
		    set_keys(&k, iv, cctx, hctx, 1) == 0) {
			memcpy(key_name, k.name, 16);
			rc = 1;
		}
		OPENSSL_cleanse(&k, sizeof(k));
		return rc;
	}
	rc = 0;
	for (uint64_t back = 0; back < 2 && p >= back; back++) {
		if (keys_of(s, p - back, &k) < 0) {
			rc = -1;
			break;
		}
		if (CRYPTO_memcmp(key_name, k.name, 16) == 0) {
			rc = set_keys(&k, iv, cctx, hctx, 0) < 0 ? -1
			     : back == 0			 ? 1
								 : 2;
			break;
		}
	}
	OPENSSL_cleanse(&k, sizeof(k));
	return rc;
}

int rm_ticket_secret_ensure(const char *path, int uid, int gid,
			    struct rmail_err *err)
{
	unsigned char v[48];
	char tmp[4096];
	int fd;

	if (access(path, F_OK) == 0)
		return 0;
	if (snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid()) >=
	    (int)sizeof(tmp))
		return rmail_err_set(err, RMAIL_E_INVAL, "path too long");
	if (RAND_bytes(v, sizeof(v)) != 1)
		return rmail_err_set(err, RMAIL_E_INTERNAL, "no randomness");
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return rmail_err_set(err, RMAIL_E_IO, "cannot create %s: %s",
				     tmp, strerror(errno));
	if (write(fd, v, sizeof(v)) != (ssize_t)sizeof(v) || fsync(fd) < 0 ||
	    ((uid != -1 || gid != -1) &&
	     fchown(fd, (uid_t)uid, (gid_t)gid) < 0)) {
		int e = errno;

		close(fd);
		unlink(tmp);
		OPENSSL_cleanse(v, sizeof(v));
		return rmail_err_set(err, RMAIL_E_IO, "cannot write %s: %s",
				     tmp, strerror(e));
	}
	close(fd);
	OPENSSL_cleanse(v, sizeof(v));
	/* another process may have won the race: its secret stays */
	if (link(tmp, path) < 0 && errno != EEXIST) {
		int e = errno;

		unlink(tmp);
		return rmail_err_set(err, RMAIL_E_IO, "cannot create %s: %s",
				     path, strerror(e));
	}
	unlink(tmp);
	return 0;
}

int rm_ticket_keys_use(SSL_CTX *ctx, const char *path, struct rmail_err *err)
{
	struct ticket_secret *s;
	struct stat st;
	ssize_t got;
	int fd;

	if (ex_index < 0)
		ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
						    secret_free);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rmail_err_set(err, RMAIL_E_IO,
				     "cannot read the ticket secret %s: %s",
				     path, strerror(errno));
	/* a secret others could read would let them decrypt resumed
	 * sessions' keys */
	if (fstat(fd, &st) < 0 || (st.st_mode & 077) != 0) {
		close(fd);
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "the ticket secret %s must not be "
				     "readable by group or others",
				     path);
	}
	s = OPENSSL_zalloc(sizeof(*s));
	if (s == NULL) {
		close(fd);
		return rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
	}
	got = read(fd, s->v, sizeof(s->v));
	close(fd);
	if (got < SECRET_MIN) {
		secret_free(NULL, s, NULL, 0, 0, NULL);
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "the ticket secret %s holds fewer than "
				     "%d bytes",
				     path, SECRET_MIN);
	}
	s->len = (size_t)got;
	if (SSL_CTX_set_ex_data(ctx, ex_index, s) != 1 ||
	    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb) != 1) {
		secret_free(NULL, s, NULL, 0, 0, NULL);
		return rmail_err_set(err, RMAIL_E_INTERNAL,
				     "cannot set the ticket key callback");
	}
	return 0;
}
