/*
 * The transport-security part of `rmail dns DOMAIN`: the MTA-STS policy
 * file to publish at https://mta-sts.DOMAIN/.well-known/mta-sts.txt
 * (RFC 8461 §3.2) with its `_mta-sts` TXT record, the TLS-RPT
 * `_smtp._tls` record (RFC 8460 §3), and a DANE-EE TLSA record
 * (`3 1 1`: the SHA-256 of the public key, RFC 7671 §5.1) per
 * certificate rmail serves, RSA and ECDSA.
 *
 * The policy's id= is a digest of the policy text, so printing the
 * records again gives the same id until the policy itself changes.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cli.h"
#include "rm.h"

#define STS_MAX_AGE 604800

static void hex(const unsigned char *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* one TLSA 3 1 1 line for the certificate in path; 0 or -1 */
static int tlsa_line(const char *host, const char *path)
{
	unsigned char *der = NULL, md[32];
	char name[400], h[65];
	unsigned int mdlen = 0;
	EVP_PKEY *pk;
	X509 *x;
	FILE *f;
	int n, base;

	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		return -1;
	n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	pk = X509_get0_pubkey(x);
	base = pk != NULL ? EVP_PKEY_get_base_id(pk) : 0;
	if (n <= 0 ||
	    EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) != 1) {
		OPENSSL_free(der);
		X509_free(x);
		return -1;
	}
	hex(md, 32, h);
	printf("; %s key of %s\n",
	       base == EVP_PKEY_RSA  ? "RSA"
	       : base == EVP_PKEY_EC ? "ECDSA"
				     : "the",
	       path);
	snprintf(name, sizeof(name), "_25._tcp.%s.", host);
	printf("%-44s IN TLSA  3 1 1 %s\n", name, h);
	OPENSSL_free(der);
	X509_free(x);
	return 0;
}

static void tlsa(const struct rm_config *c)
{
	char a[4200], b[4200];
	const char *files[2] = {NULL, NULL};
	int n = 0;

	if (c->tls_cert_file != NULL) {
		files[0] = c->tls_cert_file;
		files[1] = c->tls_cert2_file;
	} else if (c->mail_root != NULL) {
		/* the pairs the daemon generates (core/net/tls.c) */
		snprintf(a, sizeof(a), "%s/tls/cert.pem", c->mail_root);
		snprintf(b, sizeof(b), "%s/tls/ecdsa-cert.pem", c->mail_root);
		files[0] = a;
		files[1] = b;
	}
	printf("\n; DANE (RFC 7672): TLSA 3 1 1, one per certificate of %s; "
	       "only in a DNSSEC-signed zone.  Before a key changes, publish "
	       "the next key's record beside these and wait for their TTL\n",
	       c->hostname);
	for (int i = 0; i < 2; i++)
		if (files[i] != NULL && access(files[i], R_OK) == 0 &&
		    tlsa_line(c->hostname, files[i]) == 0)
			n++;
	if (n == 0)
		printf("; no certificate readable yet (`rmail serve` makes "
		       "them under mail_root/tls on first start)\n");
}

void rm_dns_print_transport(const struct rm_config *c, const char *domain,
			    const char *sts_mode, const char *tlsrpt_rua)
{
	char policy[600], name[400], txt[600], id[17];
	unsigned char md[32];
	unsigned int mdlen = 0;

	snprintf(policy, sizeof(policy),
		 "version: STSv1\nmode: %s\nmx: %s\nmax_age: %d\n", sts_mode,
		 c->hostname, STS_MAX_AGE);
	(void)EVP_Digest(policy, strlen(policy), md, &mdlen, EVP_sha256(),
			 NULL);
	hex(md, 8, id);

	printf("\n; MTA-STS (RFC 8461): serve this file as text/plain at\n"
	       ";   https://mta-sts.%s/.well-known/mta-sts.txt\n"
	       "; with a publicly trusted certificate for mta-sts.%s (a web "
	       "server of yours; mta-sts.%s is its name in DNS).  Start "
	       "with mode testing, read the TLS reports, then enforce\n",
	       domain, domain, domain);
	for (char *p = policy, *nl; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		printf(";   | %.*s\n", (int)(nl - p), p);
	}
	snprintf(name, sizeof(name), "_mta-sts.%s.", domain);
	snprintf(txt, sizeof(txt), "v=STSv1; id=%s", id);
	printf("%-44s IN TXT   \"%s\"\n", name, txt);

	printf("\n; TLS-RPT (RFC 8460): daily reports of senders' TLS "
	       "results\n");
	snprintf(name, sizeof(name), "_smtp._tls.%s.", domain);
	if (tlsrpt_rua != NULL)
		snprintf(txt, sizeof(txt), "v=TLSRPTv1; rua=mailto:%s",
			 tlsrpt_rua);
	else
		snprintf(txt, sizeof(txt),
			 "v=TLSRPTv1; rua=mailto:tlsrpt-reports@%s", domain);
	printf("%-44s IN TXT   \"%s\"\n", name, txt);
	tlsa(c);
}
