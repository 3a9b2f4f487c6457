/*
 * DKIM (RFC 6376, RFC 8463 ed25519-sha256, RFC 8301 crypto rules):
 * canonicalization, the tag-list parsers, signing and verification.
 *
 * A message is read once: it is fed in pieces (from a fd, a buffer, or
 * our prefix lines then the spool file); the header block is kept
 * (bounded), the body goes through one streaming canonicalizer per
 * signature, so body hashes are final before any DNS question is asked.
 * Verification is then a rerunnable evaluation over the ma_dns cache
 * (MAILAUTH.md): MA_PENDING until the key records are answered.
 */
#ifndef RM_DKIM_H
#define RM_DKIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ma_dns.h"

/* RFC 8601 result names */
enum dkim_result {
	DKIM_NONE = 0,
	DKIM_PASS,
	DKIM_FAIL,
	DKIM_NEUTRAL,
	DKIM_POLICY,
	DKIM_TEMPERROR,
	DKIM_PERMERROR,
};
const char *dkim_result_name(int r);

enum dkim_alg {
	DKIM_A_UNKNOWN = 0,
	DKIM_A_RSA_SHA256,
	DKIM_A_RSA_SHA1, /* parsed so it can be named; never a pass */
	DKIM_A_ED25519_SHA256,
};
enum dkim_canon { DKIM_C_SIMPLE = 0, DKIM_C_RELAXED = 1 };

/* bounds on hostile input */
#define DKIM_MAX_SIGS 8		   /* signatures evaluated per message */
#define DKIM_HDR_MAX (256u << 10)  /* header block kept */
#define DKIM_SIG_MAX (16u << 10)   /* one DKIM-Signature field */
#define DKIM_KEYREC_MAX (8u << 10) /* one key TXT record */
#define DKIM_MAX_TAGS 64	   /* tags in one tag-list */
#define DKIM_MAX_H 128		   /* names in h= */
#define DKIM_RSA_MIN_BITS 1024	   /* RFC 8301 */
#define DKIM_SIGN_BITS_DEFAULT 2048

/* ---- dkim_tags.c: tag-lists (RFC 6376 §3.2), pure ----------------- */
struct dkim_tag {
	char name[16];
	size_t voff, vlen;     /* value in the input, FWS trimmed at ends */
	size_t rawoff, rawend; /* from after '=' to the ';' or the end */
};
/* -1 on a syntax error, a duplicate tag, or more than max tags */
int dkim_taglist_parse(const char *s, size_t n, struct dkim_tag *tags,
		       size_t max, size_t *n_r);

/* A parsed DKIM-Signature value.  Strings are NUL-terminated copies
 * (malloc'd, dkim_sig_free); b/bh decoded. */
struct dkim_sig {
	int alg;	    /* enum dkim_alg */
	char a_name[32];    /* as written, for the result */
	int hcanon, bcanon; /* enum dkim_canon */
	char *d, *s, *i;    /* i: "@d" when absent */
	char **h;	    /* lower-cased names */
	size_t nh;
	bool has_l;
	uint64_t l;
	bool has_t, has_x;
	int64_t t, x;
	unsigned char *b, *bh;
	size_t blen, bhlen;
	char b_text[16]; /* first chars of b= as written (header.b) */
	/* the value's b= tag in the input: [b_voff, b_vend) is deleted
	 * before hashing the field (RFC 6376 §3.7) */
	size_t b_voff, b_vend;
};
/* Parse a DKIM-Signature value (after the colon).  0, or -1 with a
 * static reason. */
int dkim_sig_parse(const char *v, size_t n, struct dkim_sig *sig,
		   const char **why);
void dkim_sig_free(struct dkim_sig *sig);

/* A key record (RFC 6376 §3.6.1). */
struct dkim_keyrec {
	int ktype;	/* 0 rsa, 1 ed25519 */
	bool revoked;	/* p= empty */
	bool testing;	/* t=y */
	bool strict;	/* t=s: i= must equal d= */
	bool sha256_ok; /* h= absent or lists sha256 */
	bool sha1_ok;
	unsigned char *p; /* decoded, malloc'd */
	size_t plen;
};
int dkim_keyrec_parse(const char *v, size_t n, struct dkim_keyrec *k,
		      const char **why);
void dkim_keyrec_free(struct dkim_keyrec *k);

/* strict base64 with FWS ignored; -1 on a bad character or padding */
int dkim_b64_decode(const char *s, size_t n, unsigned char **out_r,
		    size_t *len_r);

/* ---- dkim_canon.c: canonicalization (RFC 6376 §3.4) -------------- */
/* One header field as it appears ("Name: value\r\n", folds kept, the
 * final CRLF included or not), appended canonicalized to out: relaxed
 * ends with CRLF only when crlf. Returns the bytes appended. */
size_t dkim_canon_header(int canon, const char *f, size_t n, bool crlf,
			 char *out);
/* streaming body canonicalizer, hashing as it goes; limit: l= or
 * UINT64_MAX */
struct dkim_body;
struct dkim_body *dkim_body_new(int canon, int alg, uint64_t limit);
void dkim_body_feed(struct dkim_body *b, const void *p, size_t n);
/* the digest (32 or 20 bytes); *total_r: canonical body length */
size_t dkim_body_final(struct dkim_body *b, unsigned char *md,
		       uint64_t *total_r);
void dkim_body_free(struct dkim_body *b);

/* ---- dkim_msg.c: header block splitting -------------------------- */
/* The header block and the body of a message fed in pieces. */
struct dkim_msg {
	char *hdr; /* CRLF-normalized header block, with the blank line */
	size_t hlen, hcap;
	bool in_body, overflow;
	bool cr;   /* last header byte was a CR */
	int state; /* end-of-header detection */
	uint64_t body_len;
};
struct dkim_field {
	const char *p; /* "Name: ...\r\n" in msg->hdr */
	size_t n;      /* with the final CRLF */
	size_t namelen;
};
/* feed; calls body(arg, p, n) for body bytes; returns true when the
 * header block just ended in this call (before the body callback) */
void dkim_msg_feed(struct dkim_msg *m, const void *p, size_t n,
		   void (*hdr_done)(void *arg),
		   void (*body)(void *arg, const void *, size_t), void *arg);
/* split hdr into fields; malloc'd array */
size_t dkim_msg_fields(const struct dkim_msg *m, struct dkim_field **f_r);
void dkim_msg_free(struct dkim_msg *m);

/* ---- dkim_verify.c ----------------------------------------------- */
struct dkim_sig_result {
	int result;	    /* enum dkim_result */
	char d[256];	    /* header.d */
	char s[64];	    /* header.s */
	char i[256];	    /* header.i */
	char a[32];	    /* header.a */
	char b[16];	    /* header.b: the first 8+ characters */
	bool full_body;	    /* no l=, or l= covered the whole body */
	bool testing;	    /* the key says t=y */
	const char *reason; /* static, "" on pass */
};

struct dkim_verifier;
struct dkim_verifier *dkim_verifier_new(void);
void dkim_verifier_feed(struct dkim_verifier *v, const void *p, size_t n);
/* end of message: body hashes and header hashes are final */
void dkim_verifier_finish(struct dkim_verifier *v);
/* Cheap to rerun.  MA_DONE with *n_r results (0 when unsigned: the
 * caller reports dkim=none), or MA_PENDING when key look-ups are not
 * answered yet (every missing one has been asked).  now: unix time. */
int dkim_verifier_eval(struct dkim_verifier *v, struct ma_dns_cache *dns,
		       int64_t now, struct dkim_sig_result *res, size_t max,
		       size_t *n_r);
void dkim_verifier_free(struct dkim_verifier *v);
/* convenience: feed an fd from offset 0 (pread), the whole message or,
 * when its header holds no signature to verify, the header only; the
 * bytes read, or -1 on I/O error */
int64_t dkim_verifier_feed_fd(struct dkim_verifier *v, int fd);

/* ---- dkim_sign.c ------------------------------------------------- */
struct dkim_signkey {
	char domain[256];
	char selector[64];
	int alg;    /* DKIM_A_RSA_SHA256 or DKIM_A_ED25519_SHA256 */
	void *pkey; /* EVP_PKEY *, owned */
};
/* a private key from PEM; NULL on error */
struct dkim_signkey *dkim_signkey_load_pem(const char *domain,
					   const char *selector,
					   const char *pem, size_t n);
void dkim_signkey_free(struct dkim_signkey *k);

struct dkim_signer;
/* headers: names to sign (NULL: the default set, §5.4.1 with the
 * over-signed ones listed once more than present) */
struct dkim_signer *dkim_signer_new(const struct dkim_signkey *const *keys,
				    size_t nkeys, const char *const *headers);
void dkim_signer_feed(struct dkim_signer *s, const void *p, size_t n);
/* "DKIM-Signature: ...\r\n" for each key, in order, malloc'd; NULL
 * when the message cannot be signed (no From:, header too large) */
char *dkim_signer_finish(struct dkim_signer *s, int64_t now);
void dkim_signer_free(struct dkim_signer *s);
/* tests only: tag text ("x=123;") added before bh=, to make signatures
 * rmail never makes (expired ones) */
void dkim_signer_extra_tags(struct dkim_signer *s, const char *tags);

/* the default over-signed and signed-when-present names */
extern const char *const dkim_oversign_default[];
extern const char *const dkim_sign_present_default[];

#endif
