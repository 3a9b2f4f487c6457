/*
 * DKIM signing: relaxed/relaxed, t= set, never l=, one body hash shared
 * by every key (ed25519-sha256 and rsa-sha256 both hash with SHA-256).
 * The header set is RFC 6376 §5.4.1's; the fields a forwarder could add
 * to change the meaning (From, Subject, To, ...) are over-signed: listed
 * once more than present, so an added instance breaks the signature.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "rm.h"
#include "dkim.h"

const char *const dkim_oversign_default[] = {
	"From",		"Reply-To",
	"Subject",	"Date",
	"To",		"Cc",
	"Message-ID",	"MIME-Version",
	"Content-Type", "Content-Transfer-Encoding",
	"In-Reply-To",	"References",
	NULL,
};
const char *const dkim_sign_present_default[] = {
	"Sender",
	"Resent-Date",
	"Resent-From",
	"Resent-To",
	"Resent-Cc",
	"List-Id",
	"List-Help",
	"List-Unsubscribe",
	"List-Subscribe",
	"List-Post",
	"List-Owner",
	"List-Archive",
	"List-Unsubscribe-Post",
	"Content-Language",
	"Autocrypt",
	NULL,
};

struct dkim_signer {
	struct dkim_msg msg;
	struct dkim_body *body;
	const struct dkim_signkey *const *keys;
	size_t nkeys;
	const char *const *headers;
	const char *extra;
};

struct dkim_signkey *dkim_signkey_load_pem(const char *domain,
					   const char *selector,
					   const char *pem, size_t n)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)n);
	EVP_PKEY *pk = bio != NULL
			       ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)
			       : NULL;
	struct dkim_signkey *k;

	BIO_free(bio);
	if (pk == NULL)
		return NULL;
	k = calloc(1, sizeof(*k));
	if (k == NULL) {
		EVP_PKEY_free(pk);
		return NULL;
	}
	snprintf(k->domain, sizeof(k->domain), "%s", domain);
	snprintf(k->selector, sizeof(k->selector), "%s", selector);
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_ED25519:
		k->alg = DKIM_A_ED25519_SHA256;
		break;
	case EVP_PKEY_RSA:
		k->alg = DKIM_A_RSA_SHA256;
		break;
	default:
		EVP_PKEY_free(pk);
		free(k);
		return NULL;
	}
	k->pkey = pk;
	return k;
}

void dkim_signkey_free(struct dkim_signkey *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

struct dkim_signer *dkim_signer_new(const struct dkim_signkey *const *keys,
				    size_t nkeys, const char *const *headers)
{
	struct dkim_signer *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->body = dkim_body_new(DKIM_C_RELAXED, DKIM_A_RSA_SHA256, UINT64_MAX);
	if (s->body == NULL) {
		free(s);
		return NULL;
	}
	s->keys = keys;
	s->nkeys = nkeys;
	s->headers = headers;
	return s;
}

static void on_body(void *arg, const void *p, size_t n)
{
	struct dkim_signer *s = arg;

	dkim_body_feed(s->body, p, n);
}

void dkim_signer_feed(struct dkim_signer *s, const void *p, size_t n)
{
	dkim_msg_feed(&s->msg, p, n, NULL, on_body, s);
}

/* a growing string */
struct sb {
	char *p;
	size_t n, cap;
	size_t col; /* for folding */
};

static void sb_put(struct sb *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->p = rm_xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
	for (size_t i = 0; i < n; i++)
		b->col = s[i] == '\n' ? 0 : b->col + 1;
}

static void sb_str(struct sb *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

/* a token, folding first when the line would pass 76 columns */
static void sb_tok(struct sb *b, const char *s, size_t n)
{
	if (b->col + n > 76) {
		sb_str(b, "\r\n\t");
		if (n > 1 && s[0] == ' ') {
			s++;
			n--;
		}
	}
	sb_put(b, s, n);
}

static size_t count(const struct dkim_field *f, size_t nf, const char *name)
{
	size_t c = 0, nl = strlen(name);

	for (size_t i = 0; i < nf; i++)
		if (f[i].namelen == nl && strncasecmp(f[i].p, name, nl) == 0)
			c++;
	return c;
}

/* the h= list: names into *names_r (pointers into the tables) */
static size_t pick(const struct dkim_signer *s, const struct dkim_field *f,
		   size_t nf, const char **names, size_t max)
{
	size_t n = 0;

	if (s->headers != NULL) {
		for (size_t i = 0; s->headers[i] != NULL; i++)
			for (size_t c = count(f, nf, s->headers[i]) + 1;
			     c > 0 && n < max; c--)
				names[n++] = s->headers[i];
		return n;
	}
	for (size_t i = 0; dkim_oversign_default[i] != NULL; i++)
		for (size_t c = count(f, nf, dkim_oversign_default[i]) + 1;
		     c > 0 && n < max; c--)
			names[n++] = dkim_oversign_default[i];
	for (size_t i = 0; dkim_sign_present_default[i] != NULL; i++)
		for (size_t c = count(f, nf, dkim_sign_present_default[i]);
		     c > 0 && n < max; c--)
			names[n++] = dkim_sign_present_default[i];
	return n;
}

static int sign_digest(const struct dkim_signkey *k, const unsigned char *d,
		       size_t dlen, unsigned char *sig, size_t *siglen)
{
	int ok;

	if (k->alg == DKIM_A_ED25519_SHA256) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();

		ok = md != NULL &&
		     EVP_DigestSignInit(md, NULL, NULL, NULL, k->pkey) == 1 &&
		     EVP_DigestSign(md, sig, siglen, d, dlen) == 1;
		EVP_MD_CTX_free(md);
	} else {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k->pkey, NULL);

		ok = c != NULL && EVP_PKEY_sign_init(c) == 1 &&
		     EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) == 1 &&
		     EVP_PKEY_sign(c, sig, siglen, d, dlen) == 1;
		EVP_PKEY_CTX_free(c);
	}
	return ok ? 0 : -1;
}

/* one signature field for key k into out */
static int sign_one(const struct dkim_signkey *k, const char *extra,
		    const char *bh, const char **names, size_t nn,
		    const struct dkim_field *f, size_t nf, int64_t now,
		    char *scratch, struct sb *out)
{
	struct sb h = {0};
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char dg[EVP_MAX_MD_SIZE], sig[1024];
	char tmp[512], *b64;
	unsigned int dlen = 0;
	size_t siglen = sizeof(sig), n;
	bool *used = rm_xcalloc(nf + 1, sizeof(*used));
	int rc = -1;

	snprintf(tmp, sizeof(tmp),
		 "DKIM-Signature: v=1; a=%s; c=relaxed/relaxed;",
		 k->alg == DKIM_A_ED25519_SHA256 ? "ed25519-sha256"
						 : "rsa-sha256");
	sb_str(&h, tmp);
	snprintf(tmp, sizeof(tmp), " d=%s;", k->domain);
	sb_tok(&h, tmp, strlen(tmp));
	snprintf(tmp, sizeof(tmp), " s=%s;", k->selector);
	sb_tok(&h, tmp, strlen(tmp));
	snprintf(tmp, sizeof(tmp), " t=%lld;", (long long)now);
	sb_tok(&h, tmp, strlen(tmp));
	sb_tok(&h, " h=", 3);
	for (size_t i = 0; i < nn; i++) {
		snprintf(tmp, sizeof(tmp), "%s%s", names[i],
			 i + 1 < nn ? ":" : ";");
		for (char *c = tmp; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c + 32);
		sb_tok(&h, tmp, strlen(tmp));
	}
	if (extra != NULL) {
		sb_tok(&h, " ", 1);
		sb_tok(&h, extra, strlen(extra));
	}
	snprintf(tmp, sizeof(tmp), " bh=%s;", bh);
	sb_tok(&h, tmp, strlen(tmp));
	sb_tok(&h, " b=", 3);

	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	for (size_t i = 0; i < nn; i++) {
		size_t nl = strlen(names[i]);

		for (size_t j = nf; j-- > 0;) {
			if (used[j] || f[j].namelen != nl ||
			    strncasecmp(f[j].p, names[i], nl) != 0)
				continue;
			used[j] = true;
			n = dkim_canon_header(DKIM_C_RELAXED, f[j].p, f[j].n,
					      true, scratch);
			EVP_DigestUpdate(md, scratch, n);
			break;
		}
	}
	n = dkim_canon_header(DKIM_C_RELAXED, h.p, h.n, false, scratch);
	EVP_DigestUpdate(md, scratch, n);
	EVP_DigestFinal_ex(md, dg, &dlen);
	if (sign_digest(k, dg, dlen, sig, &siglen) < 0)
		goto out;
	b64 = rm_xmalloc(siglen * 2 + 8);
	rm_base64_encode(sig, siglen, b64, siglen * 2 + 8);
	for (size_t i = 0, len = strlen(b64); i < len;) {
		size_t room = h.col < 76 ? 76 - h.col : 0, take;

		if (room < 8) {
			sb_str(&h, "\r\n\t");
			continue;
		}
		take = len - i < room ? len - i : room;
		sb_put(&h, b64 + i, take);
		i += take;
	}
	free(b64);
	sb_str(&h, "\r\n");
	sb_put(out, h.p, h.n);
	rc = 0;
out:
	free(h.p);
	free(used);
	EVP_MD_CTX_free(md);
	return rc;
}

char *dkim_signer_finish(struct dkim_signer *s, int64_t now)
{
	struct dkim_field *f = NULL;
	const char *names[DKIM_MAX_H];
	unsigned char bh[EVP_MAX_MD_SIZE];
	char bh64[64], *scratch = NULL;
	struct sb out = {0};
	size_t nf, nn, bhlen;

	if (s->msg.overflow)
		return NULL;
	bhlen = dkim_body_final(s->body, bh, NULL);
	rm_base64_encode(bh, bhlen, bh64, sizeof(bh64));
	nf = dkim_msg_fields(&s->msg, &f);
	if (count(f, nf, "From") == 0) {
		free(f);
		return NULL;
	}
	nn = pick(s, f, nf, names, DKIM_MAX_H);
	scratch = rm_xmalloc(s->msg.hlen + DKIM_SIG_MAX + 16);
	for (size_t i = 0; i < s->nkeys; i++) {
		if (sign_one(s->keys[i], s->extra, bh64, names, nn, f, nf, now,
			     scratch, &out) < 0) {
			free(out.p);
			out.p = NULL;
			break;
		}
	}
	free(scratch);
	free(f);
	return out.p;
}

void dkim_signer_extra_tags(struct dkim_signer *s, const char *tags)
{
	s->extra = tags;
}

void dkim_signer_free(struct dkim_signer *s)
{
	if (s == NULL)
		return;
	dkim_body_free(s->body);
	dkim_msg_free(&s->msg);
	free(s);
}
