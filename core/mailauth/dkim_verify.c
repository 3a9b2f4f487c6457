/*
 * DKIM verification (RFC 6376 §6, RFC 8301, RFC 8463).  The message is
 * fed once: at the end of the header block every DKIM-Signature (at
 * most DKIM_MAX_SIGS) is parsed and gets its own body canonicalizer;
 * at the end of the message the body and header hashes are final.
 * dkim_verifier_eval then only reads the ma_dns cache and does the
 * public-key operation, so the driver can rerun it after each round of
 * DNS answers; verdicts reached stay reached.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "dkim.h"

/* a t= more than this far ahead is not a clock skew */
#define T_FUTURE_SLACK 3600

struct vsig {
	struct dkim_sig sig;
	const char *why; /* parse error, or NULL */
	size_t field;	 /* index of the DKIM-Signature field */
	struct dkim_body *body;
	unsigned char bh[EVP_MAX_MD_SIZE], hh[EVP_MAX_MD_SIZE];
	size_t bhlen, hhlen;
	uint64_t btotal;
	bool done;
	struct dkim_sig_result res;
};

struct dkim_verifier {
	struct dkim_msg msg;
	struct vsig sig[DKIM_MAX_SIGS];
	size_t n;
	bool hdr_seen, finished;
};

struct dkim_verifier *dkim_verifier_new(void)
{
	return calloc(1, sizeof(struct dkim_verifier));
}

static bool name_is(const struct dkim_field *f, const char *name)
{
	return f->namelen == strlen(name) &&
	       strncasecmp(f->p, name, f->namelen) == 0;
}

static void on_headers(void *arg)
{
	struct dkim_verifier *v = arg;
	struct dkim_field *f;
	size_t nf;

	v->hdr_seen = true;
	if (v->msg.overflow)
		return;
	nf = dkim_msg_fields(&v->msg, &f);
	for (size_t i = 0; i < nf && v->n < DKIM_MAX_SIGS; i++) {
		struct vsig *s;
		const char *val;

		if (!name_is(&f[i], "DKIM-Signature"))
			continue;
		s = &v->sig[v->n++];
		s->field = i;
		val = f[i].p + f[i].namelen;
		while (*val != ':')
			val++;
		val++;
		if (dkim_sig_parse(val, (size_t)(f[i].p + f[i].n - val),
				   &s->sig, &s->why) < 0)
			continue;
		s->why = NULL;
		if (s->sig.alg == DKIM_A_UNKNOWN)
			continue;
		s->body = dkim_body_new(s->sig.bcanon, s->sig.alg,
					s->sig.has_l ? s->sig.l : UINT64_MAX);
	}
	free(f);
}

static void on_body(void *arg, const void *p, size_t n)
{
	struct dkim_verifier *v = arg;

	for (size_t i = 0; i < v->n; i++)
		if (v->sig[i].body != NULL)
			dkim_body_feed(v->sig[i].body, p, n);
}

void dkim_verifier_feed(struct dkim_verifier *v, const void *p, size_t n)
{
	dkim_msg_feed(&v->msg, p, n, on_headers, on_body, v);
}

/* once the header is in: does any signature still hash the body */
static bool wants_body(const struct dkim_verifier *v)
{
	if (!v->hdr_seen)
		return true;
	for (size_t i = 0; i < v->n; i++)
		if (v->sig[i].body != NULL)
			return true;
	return false;
}

int64_t dkim_verifier_feed_fd(struct dkim_verifier *v, int fd)
{
	char buf[65536];
	off_t off = 0;

	/* most mail on port 25 from small senders is unsigned: its body
	 * need not be read at all */
	while (wants_body(v)) {
		ssize_t got = pread(fd, buf, sizeof(buf), off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -1;
		if (got == 0)
			break;
		dkim_verifier_feed(v, buf, (size_t)got);
		off += got;
	}
	return (int64_t)off;
}

/* the header hash of one signature: the h= fields, bottom-up, then
 * the signature field itself with its b= value deleted (§3.7) */
static void header_hash(struct dkim_verifier *v, struct vsig *s,
			const struct dkim_field *f, size_t nf)
{
	const struct dkim_sig *g = &s->sig;
	const struct dkim_field *sf = &f[s->field];
	bool *used = calloc(nf + 1, sizeof(*used));
	size_t big = 0, half;
	char *buf;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int len = 0;
	size_t voff, n;
	(void)v;

	/* room for the largest field canonicalized, and past it a copy of
	 * the signature field to cut b= out of */
	for (size_t j = 0; j < nf; j++)
		if (f[j].n > big)
			big = f[j].n;
	half = big + 4;
	buf = malloc(2 * half);
	if (used == NULL || buf == NULL || md == NULL)
		goto out;
	EVP_DigestInit_ex(md,
			  g->alg == DKIM_A_RSA_SHA1 ? EVP_sha1() : EVP_sha256(),
			  NULL);
	for (size_t k = 0; k < g->nh; k++) {
		for (size_t j = nf; j-- > 0;) {
			if (used[j] || !name_is(&f[j], g->h[k]))
				continue;
			used[j] = true;
			n = dkim_canon_header(g->hcanon, f[j].p, f[j].n, true,
					      buf);
			EVP_DigestUpdate(md, buf, n);
			break;
		}
	}
	/* the value starts after the colon; b_voff/b_vend are in it */
	voff = (size_t)((const char *)memchr(sf->p, ':', sf->n) - sf->p) + 1;
	n = voff + g->b_voff;
	memcpy(buf + half, sf->p, n);
	memcpy(buf + half + n, sf->p + voff + g->b_vend,
	       sf->n - voff - g->b_vend);
	n += sf->n - voff - g->b_vend;
	n = dkim_canon_header(g->hcanon, buf + half, n, false, buf);
	EVP_DigestUpdate(md, buf, n);
	EVP_DigestFinal_ex(md, s->hh, &len);
	s->hhlen = len;
out:
	EVP_MD_CTX_free(md);
	free(buf);
	free(used);
}

void dkim_verifier_finish(struct dkim_verifier *v)
{
	struct dkim_field *f;
	size_t nf;

	if (v->finished)
		return;
	v->finished = true;
	if (!v->hdr_seen)
		on_headers(v); /* no blank line: all header, empty body */
	if (v->msg.overflow)
		return;
	nf = dkim_msg_fields(&v->msg, &f);
	for (size_t i = 0; i < v->n; i++) {
		struct vsig *s = &v->sig[i];

		if (s->body == NULL)
			continue;
		s->bhlen = dkim_body_final(s->body, s->bh, &s->btotal);
		dkim_body_free(s->body);
		s->body = NULL;
		header_hash(v, s, f, nf);
	}
	free(f);
}

static EVP_PKEY *pubkey(const struct dkim_keyrec *k)
{
	const unsigned char *p = k->p;
	EVP_PKEY *pk;

	if (k->ktype == 1)
		return k->plen == 32 ? EVP_PKEY_new_raw_public_key(
					       EVP_PKEY_ED25519, NULL, k->p, 32)
				     : NULL;
	pk = d2i_PUBKEY(NULL, &p, (long)k->plen);
	if (pk == NULL) {
		/* some publish a bare RSAPublicKey */
		p = k->p;
		pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)k->plen);
	}
	if (pk != NULL && EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	return pk;
}

static bool crypto_ok(const struct vsig *s, EVP_PKEY *pk)
{
	bool ok = false;

	if (s->sig.alg == DKIM_A_ED25519_SHA256) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();

		ok = md != NULL &&
		     EVP_DigestVerifyInit(md, NULL, NULL, NULL, pk) == 1 &&
		     EVP_DigestVerify(md, s->sig.b, s->sig.blen, s->hh,
				      s->hhlen) == 1;
		EVP_MD_CTX_free(md);
	} else {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);

		ok = c != NULL && EVP_PKEY_verify_init(c) == 1 &&
		     EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) == 1 &&
		     EVP_PKEY_verify(c, s->sig.b, s->sig.blen, s->hh,
				     s->hhlen) == 1;
		EVP_PKEY_CTX_free(c);
	}
	return ok;
}

static int verdict(struct vsig *s, int r, const char *why)
{
	s->res.result = r;
	s->res.reason = why;
	s->done = true;
	return MA_DONE;
}

/* MA_DONE with s->res set, or MA_PENDING */
static int eval_one(struct vsig *s, struct ma_dns_cache *dns, int64_t now)
{
	const struct dkim_sig *g = &s->sig;
	const struct ma_rrset *rs;
	struct dkim_keyrec k;
	const char *why = "no usable key record";
	char name[384];
	EVP_PKEY *pk;
	bool found = false;

	if (s->why != NULL)
		return verdict(s, DKIM_PERMERROR, s->why);
	snprintf(s->res.d, sizeof(s->res.d), "%s", g->d);
	snprintf(s->res.s, sizeof(s->res.s), "%s", g->s);
	snprintf(s->res.i, sizeof(s->res.i), "%s", g->i);
	snprintf(s->res.a, sizeof(s->res.a), "%s", g->a_name);
	snprintf(s->res.b, sizeof(s->res.b), "%s", g->b_text);
	s->res.full_body = !g->has_l || g->l >= s->btotal;
	if (g->alg == DKIM_A_UNKNOWN)
		return verdict(s, DKIM_PERMERROR, "unknown signing algorithm");
	if (g->alg == DKIM_A_RSA_SHA1)
		return verdict(s, DKIM_POLICY,
			       "rsa-sha1 is not accepted (RFC 8301)");
	if (g->has_t && g->t > now + T_FUTURE_SLACK)
		return verdict(s, DKIM_PERMERROR, "t= is in the future");
	if (g->has_x && now > g->x)
		return verdict(s, DKIM_FAIL, "signature expired");
	if (g->has_l && g->l > s->btotal)
		return verdict(s, DKIM_FAIL, "l= is longer than the body");
	if (s->hhlen == 0)
		return verdict(s, DKIM_TEMPERROR, "out of memory");
	if (g->bhlen != s->bhlen || memcmp(g->bh, s->bh, s->bhlen) != 0)
		return verdict(s, DKIM_FAIL, "body hash mismatch");
	snprintf(name, sizeof(name), "%s._domainkey.%s", g->s, g->d);
	rs = ma_dns_get(dns, name, MA_T_TXT);
	switch (rs->rcode) {
	case MA_DNS_PENDING:
		return MA_PENDING;
	case MA_DNS_TEMP:
		return verdict(s, DKIM_TEMPERROR, "key look-up failed");
	case MA_DNS_OK:
		break;
	default:
		return verdict(s, DKIM_PERMERROR, "no key record");
	}
	for (size_t i = 0; i < rs->n && !found; i++) {
		if (dkim_keyrec_parse((const char *)rs->rr[i].data,
				      rs->rr[i].len, &k, &why) == 0)
			found = true;
	}
	if (!found)
		return verdict(s, DKIM_PERMERROR, why);
	s->res.testing = k.testing;
	if (k.revoked)
		why = "key revoked";
	else if ((k.ktype == 1) != (g->alg == DKIM_A_ED25519_SHA256))
		why = "key type does not match a=";
	else if (!k.sha256_ok)
		why = "the key does not allow sha256";
	else if (k.strict && strcasecmp(strrchr(g->i, '@') + 1, g->d) != 0)
		why = "t=s key and i= in a subdomain";
	else
		why = NULL;
	if (why != NULL) {
		dkim_keyrec_free(&k);
		return verdict(s, DKIM_PERMERROR, why);
	}
	pk = pubkey(&k);
	dkim_keyrec_free(&k);
	if (pk == NULL)
		return verdict(s, DKIM_PERMERROR, "bad public key");
	if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_RSA &&
	    EVP_PKEY_get_bits(pk) < DKIM_RSA_MIN_BITS) {
		EVP_PKEY_free(pk);
		return verdict(s, DKIM_FAIL,
			       "RSA key shorter than 1024 bits (RFC 8301)");
	}
	if (!crypto_ok(s, pk)) {
		EVP_PKEY_free(pk);
		return verdict(s, DKIM_FAIL, "signature did not verify");
	}
	EVP_PKEY_free(pk);
	return verdict(s, DKIM_PASS, "");
}

int dkim_verifier_eval(struct dkim_verifier *v, struct ma_dns_cache *dns,
		       int64_t now, struct dkim_sig_result *res, size_t max,
		       size_t *n_r)
{
	bool pending = false;
	size_t k = 0;

	*n_r = 0;
	dkim_verifier_finish(v);
	if (v->msg.overflow) {
		if (max > 0) {
			memset(&res[0], 0, sizeof(res[0]));
			res[0].result = DKIM_PERMERROR;
			res[0].reason = "header block too large";
			*n_r = 1;
		}
		return MA_DONE;
	}
	for (size_t i = 0; i < v->n; i++)
		if (!v->sig[i].done &&
		    eval_one(&v->sig[i], dns, now) == MA_PENDING)
			pending = true;
	if (pending)
		return MA_PENDING;
	for (size_t i = 0; i < v->n && k < max; i++)
		res[k++] = v->sig[i].res;
	*n_r = k;
	return MA_DONE;
}

void dkim_verifier_free(struct dkim_verifier *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->n; i++) {
		dkim_body_free(v->sig[i].body);
		dkim_sig_free(&v->sig[i].sig);
	}
	dkim_msg_free(&v->msg);
	free(v);
}
