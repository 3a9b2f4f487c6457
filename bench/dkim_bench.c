/* DKIM sign and verify cost per message: median over N runs of a 2 KB
 * message (the size), for ed25519-sha256 and rsa-sha256 (2048
 * bits), each signing pass the whole path (header split, body hash,
 * header hash, key operation).  Verification with the key answer in
 * the cache, so it is the CPU cost without DNS.
 *   dkim_bench [N]          default 2000 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "mailauth/dkim.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static char *message(size_t *len_r)
{
	static char buf[4096];
	size_t n = (size_t)snprintf(
		buf, sizeof(buf),
		"From: Alice <alice@example.test>\r\n"
		"To: Bob <bob@example.org>\r\n"
		"Subject: benchmark message\r\n"
		"Date: Sun, 6 Dec 2026 12:00:00 +0000\r\n"
		"Message-ID: <bench@example.test>\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n\r\n");

	while (n < 2048 - 80)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
				      "The quick brown fox jumps over the "
				      "lazy dog, line of the body %zu.\r\n",
				      n);
	*len_r = n;
	return buf;
}

static struct dkim_signkey *key(const char *type, char *txt, size_t txtsz)
{
	EVP_PKEY *pk = strcmp(type, "ed25519") == 0
			       ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
			       : EVP_RSA_gen(2048);
	BIO *bio = BIO_new(BIO_s_mem());
	unsigned char raw[32], *der = NULL;
	size_t rl = sizeof(raw);
	char *pem, b64[1024];
	long pl;
	int dl;
	struct dkim_signkey *k;

	PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL);
	pl = BIO_get_mem_data(bio, &pem);
	k = dkim_signkey_load_pem("example.test", type, pem, (size_t)pl);
	if (strcmp(type, "ed25519") == 0) {
		EVP_PKEY_get_raw_public_key(pk, raw, &rl);
		EVP_EncodeBlock((unsigned char *)b64, raw, (int)rl);
		snprintf(txt, txtsz, "v=DKIM1; k=ed25519; p=%s", b64);
	} else {
		dl = i2d_PUBKEY(pk, &der);
		EVP_EncodeBlock((unsigned char *)b64, der, dl);
		snprintf(txt, txtsz, "v=DKIM1; k=rsa; p=%s", b64);
		OPENSSL_free(der);
	}
	BIO_free(bio);
	EVP_PKEY_free(pk);
	return k;
}

static void run(const char *type, int n)
{
	char txt[1200], name[128];
	struct dkim_signkey *k = key(type, txt, sizeof(txt));
	const struct dkim_signkey *keys[1] = {k};
	double *ts = calloc((size_t)n, sizeof(*ts)),
	       *tv = calloc((size_t)n, sizeof(*tv));
	size_t len, slen = 0;
	char *msg = message(&len), *signed_msg = NULL;
	struct ma_dns_cache *c = ma_dns_cache_new(4);
	struct ma_rr rr = {.data = (unsigned char *)txt, .len = strlen(txt)};
	struct ma_rrset rs = {.rcode = MA_DNS_OK, .n = 1, .rr = &rr};
	int pass = 0;

	snprintf(name, sizeof(name), "%s._domainkey.example.test", type);
	ma_dns_put(c, name, MA_T_TXT, &rs);
	for (int i = 0; i < n; i++) {
		double t0 = now();
		struct dkim_signer *s = dkim_signer_new(keys, 1, NULL);
		char *sig;

		dkim_signer_feed(s, msg, len);
		sig = dkim_signer_finish(s, 1796558054);
		dkim_signer_free(s);
		ts[i] = now() - t0;
		if (i == 0) {
			slen = strlen(sig) + len;
			signed_msg = malloc(slen + 1);
			memcpy(signed_msg, sig, strlen(sig));
			memcpy(signed_msg + strlen(sig), msg, len);
		}
		free(sig);
	}
	for (int i = 0; i < n; i++) {
		double t0 = now();
		struct dkim_verifier *v = dkim_verifier_new();
		struct dkim_sig_result r[1];
		size_t nr;

		dkim_verifier_feed(v, signed_msg, slen);
		dkim_verifier_eval(v, c, 1796558054, r, 1, &nr);
		dkim_verifier_free(v);
		tv[i] = now() - t0;
		pass += nr == 1 && r[0].result == DKIM_PASS;
	}
	qsort(ts, (size_t)n, sizeof(*ts), cmpd);
	qsort(tv, (size_t)n, sizeof(*tv), cmpd);
	printf("%-8s %zu-byte message: sign median %.3f ms (p99 %.3f), "
	       "verify median %.3f ms (p99 %.3f), %d/%d verified\n",
	       type, len, ts[n / 2] * 1e3, ts[n * 99 / 100] * 1e3,
	       tv[n / 2] * 1e3, tv[n * 99 / 100] * 1e3, pass, n);
	free(ts);
	free(tv);
	free(signed_msg);
	dkim_signkey_free(k);
	ma_dns_cache_free(c);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2000;

	if (n < 1)
		n = 1;
	run("ed25519", n);
	run("rsa", n);
	return 0;
}
