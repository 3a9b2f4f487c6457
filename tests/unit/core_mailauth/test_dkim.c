/* DKIM: the RFC 6376 §3.4.5 canonicalization examples, the RFC 8463
 * Appendix A message (ed25519 and rsa signatures, keys from the RFC),
 * our own signatures, the tampering and DNS failure cases, and the
 * PENDING rerun path. */
#include <glib.h>
#include <glib/gstdio.h>
#include <unistd.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "mailauth/dkim.h"

/* RFC 8463 Appendix A.3, the signed message */
static const char rfc8463_msg[] =
	"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
	" d=football.example.com; i=@football.example.com;\r\n"
	" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
	" subject : date : message-id : from : subject : date;\r\n"
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
	" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
	"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
	" d=football.example.com; i=@football.example.com;\r\n"
	" q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
	" date : message-id : from : subject : date;\r\n"
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	" b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
	" DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
	" dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
	"From: Joe SixPack <joe@football.example.com>\r\n"
	"To: Suzie Q <suzie@shopping.example.net>\r\n"
	"Subject: Is dinner ready?\r\n"
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
	"\r\n"
	"Hi.\r\n"
	"\r\n"
	"We lost the game.  Are you hungry yet?\r\n"
	"\r\n"
	"Joe.\r\n";

static const char rfc8463_ed_key[] =
	"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
static const char rfc8463_rsa_key[] =
	"v=DKIM1; k=rsa;\r\n p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBT"
	"zWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3"
	"FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzB"
	"fO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

static void put_txt(struct ma_dns_cache *c, const char *name, const char *txt)
{
	struct ma_rr rr = {.data = (unsigned char *)txt, .len = strlen(txt)};
	struct ma_rrset rs = {.rcode = MA_DNS_OK, .n = 1, .rr = &rr};

	g_assert_cmpint(ma_dns_put(c, name, MA_T_TXT, &rs), ==, 0);
}

static void put_rcode(struct ma_dns_cache *c, const char *name, int rcode)
{
	struct ma_rrset rs = {.rcode = rcode};

	g_assert_cmpint(ma_dns_put(c, name, MA_T_TXT, &rs), ==, 0);
}

static struct ma_dns_cache *rfc_zone(void)
{
	struct ma_dns_cache *c = ma_dns_cache_new(64);

	put_txt(c, "brisbane._domainkey.football.example.com", rfc8463_ed_key);
	put_txt(c, "test._domainkey.football.example.com", rfc8463_rsa_key);
	return c;
}

/* verify msg (fed in pieces of `step` bytes) against c */
static size_t verify(const char *msg, size_t len, size_t step,
		     struct ma_dns_cache *c, int64_t now,
		     struct dkim_sig_result *res)
{
	struct dkim_verifier *v = dkim_verifier_new();
	size_t n = 0;

	for (size_t i = 0; i < len; i += step)
		dkim_verifier_feed(v, msg + i, len - i < step ? len - i : step);
	g_assert_cmpint(dkim_verifier_eval(v, c, now, res, DKIM_MAX_SIGS, &n),
			==, MA_DONE);
	dkim_verifier_free(v);
	return n;
}

static void test_canon_rfc6376(void)
{
	/* §3.4.5 */
	const char *h1 = "A: X\r\n", *h2 = "B : Y\t\r\n\tZ  \r\n";
	const char *body = " C \r\nD \t E\r\n\r\n\r\n";
	char out[256];
	size_t n;
	struct dkim_body *b;
	unsigned char md[64], want[64];
	unsigned int wl;
	uint64_t total;

	n = dkim_canon_header(DKIM_C_RELAXED, h1, strlen(h1), true, out);
	g_assert_cmpmem(out, n, "a:X\r\n", 5);
	n = dkim_canon_header(DKIM_C_RELAXED, h2, strlen(h2), true, out);
	g_assert_cmpmem(out, n, "b:Y Z\r\n", 7);
	n = dkim_canon_header(DKIM_C_SIMPLE, h2, strlen(h2), true, out);
	g_assert_cmpmem(out, n, h2, strlen(h2));

	/* relaxed body " C\r\nD E\r\n", fed one byte at a time */
	b = dkim_body_new(DKIM_C_RELAXED, DKIM_A_RSA_SHA256, UINT64_MAX);
	for (size_t i = 0; body[i]; i++)
		dkim_body_feed(b, body + i, 1);
	g_assert_cmpuint(dkim_body_final(b, md, &total), ==, 32);
	dkim_body_free(b);
	EVP_Digest(" C\r\nD E\r\n", 9, want, &wl, EVP_sha256(), NULL);
	g_assert_cmpmem(md, 32, want, 32);
	g_assert_cmpuint(total, ==, 9);
	/* simple: trailing empty lines go, the rest stays */
	b = dkim_body_new(DKIM_C_SIMPLE, DKIM_A_RSA_SHA256, UINT64_MAX);
	dkim_body_feed(b, body, strlen(body));
	dkim_body_final(b, md, &total);
	dkim_body_free(b);
	EVP_Digest(" C \r\nD \t E\r\n", 12, want, &wl, EVP_sha256(), NULL);
	g_assert_cmpmem(md, 32, want, 32);
	/* empty bodies: simple is one CRLF, relaxed nothing */
	b = dkim_body_new(DKIM_C_SIMPLE, DKIM_A_RSA_SHA256, UINT64_MAX);
	dkim_body_final(b, md, &total);
	dkim_body_free(b);
	g_assert_cmpuint(total, ==, 2);
	b = dkim_body_new(DKIM_C_RELAXED, DKIM_A_RSA_SHA256, UINT64_MAX);
	dkim_body_feed(b, "\r\n \r\n", 5);
	dkim_body_final(b, md, &total);
	dkim_body_free(b);
	g_assert_cmpuint(total, ==, 0);
}

static void test_rfc8463(void)
{
	struct ma_dns_cache *c = rfc_zone();
	struct dkim_sig_result r[DKIM_MAX_SIGS];
	size_t steps[] = {1, 7, 100, sizeof(rfc8463_msg)};

	for (size_t k = 0; k < G_N_ELEMENTS(steps); k++) {
		size_t n = verify(rfc8463_msg, strlen(rfc8463_msg), steps[k], c,
				  1528637909, r);

		g_assert_cmpuint(n, ==, 2);
		g_assert_cmpstr(dkim_result_name(r[0].result), ==, "pass");
		g_assert_cmpstr(r[0].a, ==, "ed25519-sha256");
		g_assert_cmpstr(r[0].s, ==, "brisbane");
		g_assert_cmpstr(r[0].d, ==, "football.example.com");
		g_assert_cmpstr(r[0].b, ==, "/gCrinpcQOoI");
		g_assert_true(r[0].full_body);
		g_assert_cmpstr(dkim_result_name(r[1].result), ==, "pass");
		g_assert_cmpstr(r[1].a, ==, "rsa-sha256");
	}
	ma_dns_cache_free(c);
}

/* From a file: a signed message is read whole and verifies; an
 * unsigned one is read to the end of its header only, and is none. */
static void test_feed_fd(void)
{
	struct ma_dns_cache *c = rfc_zone();
	struct dkim_sig_result r[DKIM_MAX_SIGS];
	const char *unsigned_msg = "From: a@example.test\r\nSubject: x\r\n"
				   "\r\n";
	char path[] = "/tmp/rm-dkimfd-XXXXXX";
	GString *big = g_string_new(unsigned_msg);
	struct dkim_verifier *v;
	size_t n = 9;
	int fd = g_mkstemp(path);

	g_assert_cmpint(fd, >=, 0);
	g_unlink(path);
	g_assert_cmpint(write(fd, rfc8463_msg, strlen(rfc8463_msg)), ==,
			(ssize_t)strlen(rfc8463_msg));
	v = dkim_verifier_new();
	g_assert_cmpint(dkim_verifier_feed_fd(v, fd), ==,
			(int64_t)strlen(rfc8463_msg));
	dkim_verifier_finish(v);
	g_assert_cmpint(
		dkim_verifier_eval(v, c, 1528637909, r, DKIM_MAX_SIGS, &n), ==,
		MA_DONE);
	g_assert_cmpuint(n, ==, 2);
	g_assert_cmpstr(dkim_result_name(r[0].result), ==, "pass");
	dkim_verifier_free(v);

	/* 1 MiB of body behind an unsigned header */
	for (int i = 0; i < 16384; i++)
		g_string_append(big, "0123456789abcdef0123456789abcdef"
				     "0123456789abcdef012345678901\r\n");
	g_assert_cmpint(ftruncate(fd, 0), ==, 0);
	g_assert_cmpint(pwrite(fd, big->str, big->len, 0), ==,
			(ssize_t)big->len);
	v = dkim_verifier_new();
	g_assert_cmpint(dkim_verifier_feed_fd(v, fd), <, (int64_t)big->len);
	dkim_verifier_finish(v);
	g_assert_cmpint(
		dkim_verifier_eval(v, c, 1528637909, r, DKIM_MAX_SIGS, &n), ==,
		MA_DONE);
	g_assert_cmpuint(n, ==, 0);
	dkim_verifier_free(v);
	g_string_free(big, TRUE);
	close(fd);
	ma_dns_cache_free(c);
}

static void collect(void *arg, const char *name, int type)
{
	GPtrArray *a = arg;

	g_assert_cmpint(type, ==, MA_T_TXT);
	g_ptr_array_add(a, g_strdup(name));
}

static void test_pending(void)
{
	struct ma_dns_cache *c = ma_dns_cache_new(8);
	struct dkim_verifier *v = dkim_verifier_new();
	struct dkim_sig_result r[DKIM_MAX_SIGS];
	GPtrArray *want = g_ptr_array_new_with_free_func(g_free);
	size_t n = 9;

	dkim_verifier_feed(v, rfc8463_msg, strlen(rfc8463_msg));
	dkim_verifier_finish(v);
	g_assert_cmpint(dkim_verifier_eval(v, c, 1528637909, r, 8, &n), ==,
			MA_PENDING);
	/* both keys asked at once, so they resolve in parallel */
	g_assert_cmpuint(ma_dns_take_wanted(c, collect, want), ==, 2);
	put_txt(c, "brisbane._domainkey.football.example.com", rfc8463_ed_key);
	put_txt(c, "test._domainkey.football.example.com", rfc8463_rsa_key);
	g_assert_cmpint(dkim_verifier_eval(v, c, 1528637909, r, 8, &n), ==,
			MA_DONE);
	g_assert_cmpuint(n, ==, 2);
	g_assert_cmpint(r[0].result, ==, DKIM_PASS);
	g_assert_cmpint(r[1].result, ==, DKIM_PASS);
	/* a rerun gives the same */
	g_assert_cmpint(dkim_verifier_eval(v, c, 1528637909, r, 8, &n), ==,
			MA_DONE);
	g_assert_cmpint(r[1].result, ==, DKIM_PASS);
	g_ptr_array_free(want, TRUE);
	dkim_verifier_free(v);
	ma_dns_cache_free(c);
}

static char *replace(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);

	g_assert_nonnull(p);
	return g_strdup_printf("%.*s%s%s", (int)(p - s), s, to,
			       p + strlen(from));
}

static void test_tampered(void)
{
	struct ma_dns_cache *c = rfc_zone();
	struct dkim_sig_result r[DKIM_MAX_SIGS];
	char *m;

	m = replace(rfc8463_msg, "Is dinner ready?", "Is dinner ready!");
	g_assert_cmpuint(verify(m, strlen(m), 4096, c, 1528637909, r), ==, 2);
	g_assert_cmpint(r[0].result, ==, DKIM_FAIL);
	g_assert_cmpstr(r[0].reason, ==, "signature did not verify");
	g_assert_cmpint(r[1].result, ==, DKIM_FAIL);
	g_free(m);
	m = replace(rfc8463_msg, "We lost", "We won");
	verify(m, strlen(m), 4096, c, 1528637909, r);
	g_assert_cmpint(r[0].result, ==, DKIM_FAIL);
	g_assert_cmpstr(r[0].reason, ==, "body hash mismatch");
	g_free(m);
	/* whitespace changes survive relaxed canonicalization */
	m = replace(rfc8463_msg, "Subject: Is dinner",
		    "Subject:   Is \t dinner");
	verify(m, strlen(m), 4096, c, 1528637909, r);
	g_assert_cmpint(r[0].result, ==, DKIM_PASS);
	g_free(m);
	/* rsa-sha1 is never a pass */
	m = replace(rfc8463_msg, "a=rsa-sha256", "a=rsa-sha1");
	verify(m, strlen(m), 4096, c, 1528637909, r);
	g_assert_cmpint(r[1].result, ==, DKIM_POLICY);
	g_free(m);
	/* an added From: above the signed ones: over-signing catches it */
	m = g_strconcat("From: evil@example.org\r\n", rfc8463_msg, NULL);
	verify(m, strlen(m), 4096, c, 1528637909, r);
	g_assert_cmpint(r[0].result, ==, DKIM_FAIL);
	g_free(m);
	ma_dns_cache_free(c);
}

static void test_dns_failures(void)
{
	struct dkim_sig_result r[DKIM_MAX_SIGS];
	struct ma_dns_cache *c = ma_dns_cache_new(8);

	put_rcode(c, "brisbane._domainkey.football.example.com",
		  MA_DNS_NXDOMAIN);
	put_rcode(c, "test._domainkey.football.example.com", MA_DNS_TEMP);
	verify(rfc8463_msg, strlen(rfc8463_msg), 4096, c, 1528637909, r);
	g_assert_cmpint(r[0].result, ==, DKIM_PERMERROR);
	g_assert_cmpint(r[1].result, ==, DKIM_TEMPERROR);
	ma_dns_cache_free(c);

	c = ma_dns_cache_new(8);
	put_txt(c, "brisbane._domainkey.football.example.com",
		"v=DKIM1; k=ed25519; p=");
	put_rcode(c, "test._domainkey.football.example.com", MA_DNS_NODATA);
	verify(rfc8463_msg, strlen(rfc8463_msg), 4096, c, 1528637909, r);
	g_assert_cmpint(r[0].result, ==, DKIM_PERMERROR);
	g_assert_cmpstr(r[0].reason, ==, "key revoked");
	g_assert_cmpint(r[1].result, ==, DKIM_PERMERROR);
	ma_dns_cache_free(c);

	/* the wrong key type */
	c = ma_dns_cache_new(8);
	put_txt(c, "brisbane._domainkey.football.example.com", rfc8463_rsa_key);
	put_txt(c, "test._domainkey.football.example.com", "garbage");
	verify(rfc8463_msg, strlen(rfc8463_msg), 4096, c, 1528637909, r);
	g_assert_cmpint(r[0].result, ==, DKIM_PERMERROR);
	g_assert_cmpint(r[1].result, ==, DKIM_PERMERROR);
	ma_dns_cache_free(c);
}

/* a fresh key of the type and its TXT record */
static struct dkim_signkey *genkey(int type, int bits, const char *sel,
				   char **txt_r)
{
	EVP_PKEY *pk = type == EVP_PKEY_ED25519
			       ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
			       : EVP_RSA_gen((unsigned)bits);
	BIO *bio = BIO_new(BIO_s_mem());
	unsigned char *der = NULL, raw[32];
	size_t rl = sizeof(raw);
	char *pem;
	long pl;
	int dl;
	gchar *b64;
	struct dkim_signkey *k;

	g_assert_nonnull(pk);
	PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL);
	pl = BIO_get_mem_data(bio, &pem);
	k = dkim_signkey_load_pem("example.test", sel, pem, (size_t)pl);
	g_assert_nonnull(k);
	if (type == EVP_PKEY_ED25519) {
		EVP_PKEY_get_raw_public_key(pk, raw, &rl);
		b64 = g_base64_encode(raw, rl);
		*txt_r = g_strdup_printf("v=DKIM1; k=ed25519; p=%s", b64);
	} else {
		dl = i2d_PUBKEY(pk, &der);
		b64 = g_base64_encode(der, (gsize)dl);
		*txt_r = g_strdup_printf("v=DKIM1; k=rsa; p=%s", b64);
		OPENSSL_free(der);
	}
	g_free(b64);
	BIO_free(bio);
	EVP_PKEY_free(pk);
	return k;
}

static const char plain_msg[] = "From: Alice <alice@example.test>\r\n"
				"To: bob@example.org\r\n"
				"Subject: a test\r\n"
				"Date: Sun, 6 Dec 2026 12:00:00 +0000\r\n"
				"Message-ID: <1@example.test>\r\n"
				"\r\n"
				"Hello   Bob,\r\n"
				"\r\n"
				"see you.  \r\n"
				"\r\n\r\n";

static char *sign(const struct dkim_signkey *const *keys, size_t n,
		  const char *extra, const char *msg, int64_t now)
{
	struct dkim_signer *s = dkim_signer_new(keys, n, NULL);
	char *sig, *out;

	if (extra != NULL)
		dkim_signer_extra_tags(s, extra);
	dkim_signer_feed(s, msg, strlen(msg));
	sig = dkim_signer_finish(s, now);
	dkim_signer_free(s);
	if (sig == NULL)
		return NULL;
	out = g_strconcat(sig, msg, NULL);
	free(sig);
	return out;
}

static void test_sign_roundtrip(void)
{
	struct dkim_sig_result r[DKIM_MAX_SIGS];
	struct ma_dns_cache *c = ma_dns_cache_new(8);
	char *t1, *t2, *m, *m2;
	struct dkim_signkey *k[2];

	k[0] = genkey(EVP_PKEY_ED25519, 0, "e1", &t1);
	k[1] = genkey(EVP_PKEY_RSA, 2048, "r1", &t2);
	put_txt(c, "e1._domainkey.example.test", t1);
	put_txt(c, "r1._domainkey.example.test", t2);
	m = sign((const struct dkim_signkey *const *)k, 2, NULL, plain_msg,
		 1796558054);
	g_assert_nonnull(m);
	g_assert_null(strstr(m, " l="));
	g_assert_nonnull(strstr(m, "t=1796558054;"));
	/* From is over-signed, absent Reply-To signed once */
	g_assert_nonnull(strstr(m, "h=from:from:reply-to:subject:subject:"));
	g_assert_cmpuint(verify(m, strlen(m), 3, c, 1796558054, r), ==, 2);
	g_assert_cmpint(r[0].result, ==, DKIM_PASS);
	g_assert_cmpstr(r[0].a, ==, "ed25519-sha256");
	g_assert_cmpint(r[1].result, ==, DKIM_PASS);
	g_assert_cmpstr(r[1].a, ==, "rsa-sha256");
	/* LF-only copies verify the same (the wire is CRLF) */
	{
		GString *lf = g_string_new(NULL);

		for (const char *p = m; *p; p++)
			if (*p != '\r')
				g_string_append_c(lf, *p);
		verify(lf->str, lf->len, 4096, c, 1796558054, r);
		g_assert_cmpint(r[0].result, ==, DKIM_PASS);
		g_assert_cmpint(r[1].result, ==, DKIM_PASS);
		g_string_free(lf, TRUE);
	}
	/* adding a Reply-To breaks both */
	m2 = replace(m, "To: bob", "Reply-To: eve@example.org\r\nTo: bob");
	verify(m2, strlen(m2), 4096, c, 1796558054, r);
	g_assert_cmpint(r[0].result, ==, DKIM_FAIL);
	g_assert_cmpint(r[1].result, ==, DKIM_FAIL);
	g_free(m2);
	g_free(m);
	/* expired x= */
	m = sign((const struct dkim_signkey *const *)k, 1, "x=1796558100;",
		 plain_msg, 1796558054);
	verify(m, strlen(m), 4096, c, 1796558060, r);
	g_assert_cmpint(r[0].result, ==, DKIM_PASS);
	verify(m, strlen(m), 4096, c, 1796558200, r);
	g_assert_cmpint(r[0].result, ==, DKIM_FAIL);
	g_assert_cmpstr(r[0].reason, ==, "signature expired");
	/* t= far in the future */
	verify(m, strlen(m), 4096, c, 1796558054 - 86400, r);
	g_assert_cmpint(r[0].result, ==, DKIM_PERMERROR);
	g_free(m);
	/* no From: nothing to sign */
	g_assert_null(sign((const struct dkim_signkey *const *)k, 2, NULL,
			   "Subject: x\r\n\r\nbody\r\n", 1));
	dkim_signkey_free(k[0]);
	dkim_signkey_free(k[1]);
	g_free(t1);
	g_free(t2);
	ma_dns_cache_free(c);
}

static void test_rsa_512(void)
{
	struct dkim_sig_result r[DKIM_MAX_SIGS];
	struct ma_dns_cache *c = ma_dns_cache_new(8);
	struct dkim_signkey *k;
	char *t, *m;

	k = genkey(EVP_PKEY_RSA, 512, "weak", &t);
	put_txt(c, "weak._domainkey.example.test", t);
	m = sign((const struct dkim_signkey *const *)&k, 1, NULL, plain_msg,
		 1796558054);
	verify(m, strlen(m), 4096, c, 1796558054, r);
	g_assert_cmpint(r[0].result, ==, DKIM_FAIL);
	g_assert_cmpstr(r[0].reason, ==,
			"RSA key shorter than 1024 bits (RFC 8301)");
	g_free(m);
	g_free(t);
	dkim_signkey_free(k);
	ma_dns_cache_free(c);
}

static void test_limits(void)
{
	struct dkim_sig_result r[DKIM_MAX_SIGS];
	struct ma_dns_cache *c = rfc_zone();
	GString *m = g_string_new(NULL);
	const char *sig_end = strstr(rfc8463_msg, "From: Joe");

	/* 20 signatures: only DKIM_MAX_SIGS are looked at */
	for (int i = 0; i < 20; i++)
		g_string_append_len(m, rfc8463_msg, sig_end - rfc8463_msg);
	g_string_append(m, sig_end);
	g_assert_cmpuint(verify(m->str, m->len, 4096, c, 1528637909, r), ==,
			 DKIM_MAX_SIGS);
	g_string_free(m, TRUE);
	/* a header block past the bound */
	m = g_string_new(NULL);
	g_string_append(m, rfc8463_msg);
	for (int i = 0; i < 30000; i++)
		g_string_prepend(m, "X-Pad: 0123456789\r\n");
	g_assert_cmpuint(verify(m->str, m->len, 65536, c, 1528637909, r), ==,
			 1);
	g_assert_cmpint(r[0].result, ==, DKIM_PERMERROR);
	g_string_free(m, TRUE);
	/* unsigned */
	g_assert_cmpuint(verify(plain_msg, strlen(plain_msg), 4096, c, 1, r),
			 ==, 0);
	ma_dns_cache_free(c);
}

static void test_tag_parsers(void)
{
	struct dkim_tag t[8];
	struct dkim_keyrec k;
	const char *why;
	size_t n;

	g_assert_cmpint(dkim_taglist_parse("a=1; b = 2 ;", 12, t, 8, &n), ==,
			0);
	g_assert_cmpuint(n, ==, 2);
	g_assert_cmpstr(t[1].name, ==, "b");
	g_assert_cmpuint(t[1].vlen, ==, 1);
	g_assert_cmpint(dkim_taglist_parse("a=1; a=2", 8, t, 8, &n), ==, -1);
	g_assert_cmpint(dkim_taglist_parse("=1", 2, t, 8, &n), ==, -1);
	g_assert_cmpint(dkim_taglist_parse("a=\x80", 3, t, 8, &n), ==, -1);
	g_assert_cmpint(
		dkim_keyrec_parse("k=ed25519; v=DKIM1; p=", 22, &k, &why), ==,
		-1);
	g_assert_cmpint(
		dkim_keyrec_parse("v=DKIM1; k=dsa; p=AAAA", 22, &k, &why), ==,
		-1);
	g_assert_cmpint(
		dkim_keyrec_parse("v=DKIM1; t=y:s; p=AAAA", 22, &k, &why), ==,
		0);
	g_assert_true(k.testing && k.strict);
	dkim_keyrec_free(&k);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/dkim/canon_rfc6376", test_canon_rfc6376);
	g_test_add_func("/dkim/rfc8463", test_rfc8463);
	g_test_add_func("/dkim/pending", test_pending);
	g_test_add_func("/dkim/feed_fd", test_feed_fd);
	g_test_add_func("/dkim/tampered", test_tampered);
	g_test_add_func("/dkim/dns_failures", test_dns_failures);
	g_test_add_func("/dkim/sign_roundtrip", test_sign_roundtrip);
	g_test_add_func("/dkim/rsa_512", test_rsa_512);
	g_test_add_func("/dkim/limits", test_limits);
	g_test_add_func("/dkim/tag_parsers", test_tag_parsers);
	return g_test_run();
}
