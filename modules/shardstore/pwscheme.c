/*
 * Password hash schemes.  rmail itself writes crypt(3) strings (yescrypt
 * by default); a Dovecot migration brings "{SCHEME}data" hashes, the
 * scheme name case-insensitive with an optional ".b64"/".base64"/".hex"
 * encoding suffix, as Dovecot's password_scheme_lookup reads them.
 * Every comparison is constant-time (CRYPTO_memcmp, or libargon2's and
 * libxcrypt's own), and every cost parameter an imported hash carries is
 * capped before any work is done: a hash is untrusted input.
 */
#include <argon2.h>
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "pwscheme.h"

#define PW_RAW_MAX 512

enum pw_kind {
	K_CRYPT,
	K_PLAIN,
	K_DIGEST,  /* H(pw) */
	K_SDIGEST, /* H(pw || salt) || salt */
	K_PBKDF2,  /* Dovecot's $1$salt$rounds$hex, HMAC-SHA1 */
	K_SCRAM,   /* iter,salt,StoredKey,ServerKey */
	K_ARGON2,
};

enum pw_enc { E_NONE, E_B64, E_HEX };

struct pw_scheme {
	const char *name;
	enum pw_kind kind;
	enum pw_enc enc; /* the default encoding */
	const char *md;	 /* OpenSSL digest name */
};

static const struct pw_scheme schemes[] = {
	{"CRYPT", K_CRYPT, E_NONE, NULL},
	{"DES-CRYPT", K_CRYPT, E_NONE, NULL},
	{"MD5", K_CRYPT, E_NONE, NULL}, /* Dovecot: an alias of MD5-CRYPT */
	{"MD5-CRYPT", K_CRYPT, E_NONE, NULL},
	{"SHA256-CRYPT", K_CRYPT, E_NONE, NULL},
	{"SHA512-CRYPT", K_CRYPT, E_NONE, NULL},
	{"BLF-CRYPT", K_CRYPT, E_NONE, NULL},
	{"PLAIN", K_PLAIN, E_NONE, NULL},
	{"CLEARTEXT", K_PLAIN, E_NONE, NULL},
	{"SHA", K_DIGEST, E_B64, "SHA1"},
	{"SHA1", K_DIGEST, E_B64, "SHA1"},
	{"SHA256", K_DIGEST, E_B64, "SHA256"},
	{"SHA512", K_DIGEST, E_B64, "SHA512"},
	{"PLAIN-MD5", K_DIGEST, E_HEX, "MD5"},
	{"LDAP-MD5", K_DIGEST, E_B64, "MD5"},
	{"SSHA", K_SDIGEST, E_B64, "SHA1"},
	{"SSHA256", K_SDIGEST, E_B64, "SHA256"},
	{"SSHA512", K_SDIGEST, E_B64, "SHA512"},
	{"SMD5", K_SDIGEST, E_B64, "MD5"},
	{"PBKDF2", K_PBKDF2, E_NONE, "SHA1"},
	{"SCRAM-SHA-1", K_SCRAM, E_NONE, "SHA1"},
	{"SCRAM-SHA-256", K_SCRAM, E_NONE, "SHA256"},
	{"ARGON2I", K_ARGON2, E_NONE, NULL},
	{"ARGON2ID", K_ARGON2, E_NONE, NULL},
};

/* ---- encodings ------------------------------------------------------ */

static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* strict RFC 4648 base64, padding optional; -1 when not base64 */
static long b64_decode(const char *s, size_t len, unsigned char *out,
		       size_t outsz)
{
	uint32_t acc = 0;
	size_t o = 0, i, bits = 0;
	int v;

	while (len > 0 && s[len - 1] == '=')
		len--;
	for (i = 0; i < len; i++) {
		v = b64_val((unsigned char)s[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == outsz)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	if (bits >= 6) /* one lone character encodes no byte */
		return -1;
	return (long)o;
}

static int hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static long hex_decode(const char *s, size_t len, unsigned char *out,
		       size_t outsz)
{
	size_t i;
	int hi, lo;

	if (len % 2 != 0 || len / 2 > outsz)
		return -1;
	for (i = 0; i < len; i += 2) {
		hi = hex_val((unsigned char)s[i]);
		lo = hex_val((unsigned char)s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	return (long)(len / 2);
}

/* ---- scheme lookup -------------------------------------------------- */

/* "{NAME[.enc]}rest": the scheme, encoding and rest; NULL when the name
 * or the encoding is unknown (name_r still gets what was written) */
static const struct pw_scheme *lookup(const char *stored, enum pw_enc *enc_r,
				      const char **rest_r, char *name_r,
				      size_t namesz)
{
	const char *end = strchr(stored, '}'), *dot;
	size_t nlen, i;

	if (name_r != NULL && namesz > 0)
		name_r[0] = '\0';
	if (stored[0] != '{' || end == NULL)
		return NULL;
	nlen = (size_t)(end - stored - 1);
	if (name_r != NULL && namesz > 0)
		snprintf(name_r, namesz, "%.*s", (int)nlen, stored + 1);
	*rest_r = end + 1;
	dot = memchr(stored + 1, '.', nlen);
	if (dot != NULL)
		nlen = (size_t)(dot - stored - 1);
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		if (strlen(schemes[i].name) != nlen ||
		    strncasecmp(schemes[i].name, stored + 1, nlen) != 0)
			continue;
		*enc_r = schemes[i].enc;
		if (dot == NULL)
			return &schemes[i];
		nlen = (size_t)(end - dot - 1);
		if ((nlen == 3 && strncasecmp(dot + 1, "b64", 3) == 0) ||
		    (nlen == 6 && strncasecmp(dot + 1, "base64", 6) == 0))
			*enc_r = E_B64;
		else if (nlen == 3 && strncasecmp(dot + 1, "hex", 3) == 0)
			*enc_r = E_HEX;
		else
			return NULL;
		return &schemes[i];
	}
	return NULL;
}

/* the scheme's data, decoded; -1 when it does not decode */
static long decode(const char *s, enum pw_enc enc, size_t rawlen_hint,
		   unsigned char *out, size_t outsz)
{
	size_t len = strlen(s);

	switch (enc) {
	case E_HEX:
		return hex_decode(s, len, out, outsz);
	case E_B64:
		/* Dovecot reads a base64 scheme's data as hex when its
		 * length is exactly that of the hex digest */
		if (rawlen_hint != 0 && len == 2 * rawlen_hint &&
		    hex_decode(s, len, out, outsz) >= 0)
			return (long)rawlen_hint;
		return b64_decode(s, len, out, outsz);
	default:
		if (len > outsz)
			return -1;
		memcpy(out, s, len);
		return (long)len;
	}
}

/* ---- the kinds ------------------------------------------------------ */

static int v_crypt(const char *pw, const char *setting)
{
	struct crypt_data *cd;
	const char *h;
	int ok = SS_PW_MISMATCH;

	switch (crypt_checksalt(setting)) {
	case CRYPT_SALT_OK:
	case CRYPT_SALT_METHOD_LEGACY:
	case CRYPT_SALT_TOO_CHEAP:
		break;
	case CRYPT_SALT_METHOD_DISABLED:
		return SS_PW_UNSUPPORTED;
	default:
		/* "!", "*", "" and the like: an account with no usable
		 * password, which no input matches */
		return setting[0] == '$' ? SS_PW_MALFORMED : SS_PW_MISMATCH;
	}
	if (pw == NULL)
		return SS_PW_MISMATCH;
	cd = calloc(1, sizeof(*cd));
	if (cd == NULL)
		return SS_PW_MISMATCH;
	h = crypt_rn(pw, setting, cd, (int)sizeof(*cd));
	/* "*0"/"*1" is libxcrypt's failure token: never a match */
	if (h != NULL && h[0] != '*' && strlen(h) == strlen(setting) &&
	    CRYPTO_memcmp(h, setting, strlen(h)) == 0)
		ok = SS_PW_MATCH;
	OPENSSL_cleanse(cd, sizeof(*cd));
	free(cd);
	return ok;
}

/* both sides digested first, so the time says nothing of the length */
static int eq_digest(const void *a, size_t alen, const void *b, size_t blen)
{
	unsigned char da[32], db[32];
	int ok;

	if (EVP_Digest(a, alen, da, NULL, EVP_sha256(), NULL) != 1 ||
	    EVP_Digest(b, blen, db, NULL, EVP_sha256(), NULL) != 1)
		return 0;
	ok = CRYPTO_memcmp(da, db, sizeof(da)) == 0 && alen == blen;
	OPENSSL_cleanse(da, sizeof(da));
	OPENSSL_cleanse(db, sizeof(db));
	return ok;
}

static int v_digest(const char *pw, const struct pw_scheme *s, const char *data,
		    enum pw_enc enc, int salted)
{
	const EVP_MD *md = EVP_get_digestbyname(s->md);
	unsigned char raw[PW_RAW_MAX], dig[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *ctx;
	size_t dlen;
	long n;
	int ok = 0;

	if (md == NULL)
		return SS_PW_UNSUPPORTED;
	dlen = (size_t)EVP_MD_get_size(md);
	n = decode(data, enc, salted ? 0 : dlen, raw, sizeof(raw));
	if (n < 0 || (!salted && (size_t)n != dlen) ||
	    (salted && (size_t)n <= dlen))
		return SS_PW_MALFORMED;
	if (pw == NULL)
		return SS_PW_MISMATCH;
	ctx = EVP_MD_CTX_new();
	if (ctx != NULL && EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
	    EVP_DigestUpdate(ctx, pw, strlen(pw)) == 1 &&
	    (!salted || EVP_DigestUpdate(ctx, raw + dlen, (size_t)n - dlen)) &&
	    EVP_DigestFinal_ex(ctx, dig, NULL) == 1)
		ok = CRYPTO_memcmp(dig, raw, dlen) == 0;
	EVP_MD_CTX_free(ctx);
	OPENSSL_cleanse(dig, sizeof(dig));
	return ok ? SS_PW_MATCH : SS_PW_MISMATCH;
}

static int v_plain(const char *pw, const char *data, enum pw_enc enc)
{
	unsigned char raw[PW_RAW_MAX];
	long n = decode(data, enc, 0, raw, sizeof(raw));
	int ok;

	if (n < 0)
		return SS_PW_MALFORMED;
	if (pw == NULL)
		return SS_PW_MISMATCH;
	ok = eq_digest(pw, strlen(pw), raw, (size_t)n);
	OPENSSL_cleanse(raw, sizeof(raw));
	return ok ? SS_PW_MATCH : SS_PW_MISMATCH;
}

/* a decimal in [1, max]; 0 when not one */
static uint32_t parse_count(const char *s, size_t len, uint32_t max, int *over)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 10)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max) {
		*over = 1;
		return 0;
	}
	return (uint32_t)v;
}

static int v_pbkdf2(const char *pw, const char *data,
		    const struct ss_pw_limits *lim)
{
	const char *salt, *rounds, *hex, *p;
	unsigned char want[20], got[20];
	uint32_t r;
	int over = 0, ok;

	/* "$1$<salt>$<rounds>$<hex>" */
	if (strncmp(data, "$1$", 3) != 0)
		return SS_PW_MALFORMED;
	salt = data + 3;
	if ((p = strchr(salt, '$')) == NULL)
		return SS_PW_MALFORMED;
	rounds = p + 1;
	if ((hex = strchr(rounds, '$')) == NULL)
		return SS_PW_MALFORMED;
	r = parse_count(rounds, (size_t)(hex - rounds), lim->pbkdf2_max_rounds,
			&over);
	hex++;
	if (over)
		return SS_PW_TOO_COSTLY;
	if (r == 0 || hex_decode(hex, strlen(hex), want, sizeof(want)) != 20)
		return SS_PW_MALFORMED;
	if (pw == NULL)
		return SS_PW_MISMATCH;
	ok = PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), (const unsigned char *)salt,
			       (int)(p - salt), (int)r, EVP_sha1(), sizeof(got),
			       got) == 1 &&
	     CRYPTO_memcmp(got, want, sizeof(got)) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	return ok ? SS_PW_MATCH : SS_PW_MISMATCH;
}

static int v_scram(const char *pw, const struct pw_scheme *s, const char *data,
		   const struct ss_pw_limits *lim)
{
	const EVP_MD *md = EVP_get_digestbyname(s->md);
	const char *f[4], *p = data;
	size_t flen[4], dlen;
	unsigned char salt[128], stored[EVP_MAX_MD_SIZE],
		server[EVP_MAX_MD_SIZE];
	unsigned char salted[EVP_MAX_MD_SIZE], ck[EVP_MAX_MD_SIZE];
	unsigned char sk[EVP_MAX_MD_SIZE], hk[EVP_MAX_MD_SIZE];
	unsigned int l1 = 0, l2 = 0;
	long saltlen;
	uint32_t iter;
	int i, over = 0, ok;

	if (md == NULL)
		return SS_PW_UNSUPPORTED;
	dlen = (size_t)EVP_MD_get_size(md);
	/* "<iter>,<salt b64>,<StoredKey b64>,<ServerKey b64>" */
	for (i = 0; i < 4; i++) {
		const char *c = strchr(p, ',');

		f[i] = p;
		flen[i] = c != NULL ? (size_t)(c - p) : strlen(p);
		if ((c == NULL) != (i == 3))
			return SS_PW_MALFORMED;
		p = c != NULL ? c + 1 : p;
	}
	iter = parse_count(f[0], flen[0], lim->pbkdf2_max_rounds, &over);
	if (over)
		return SS_PW_TOO_COSTLY;
	saltlen = b64_decode(f[1], flen[1], salt, sizeof(salt));
	if (iter == 0 || saltlen <= 0 ||
	    b64_decode(f[2], flen[2], stored, sizeof(stored)) != (long)dlen ||
	    b64_decode(f[3], flen[3], server, sizeof(server)) != (long)dlen)
		return SS_PW_MALFORMED;
	if (pw == NULL)
		return SS_PW_MISMATCH;
	/* RFC 5802: SaltedPassword, then ClientKey -> StoredKey and
	 * ServerKey; both must agree */
	ok = PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), salt, (int)saltlen,
			       (int)iter, md, (int)dlen, salted) == 1 &&
	     HMAC(md, salted, (int)dlen, (const unsigned char *)"Client Key",
		  10, ck, &l1) != NULL &&
	     EVP_Digest(ck, l1, hk, NULL, md, NULL) == 1 &&
	     HMAC(md, salted, (int)dlen, (const unsigned char *)"Server Key",
		  10, sk, &l2) != NULL &&
	     l1 == dlen && l2 == dlen;
	if (ok)
		ok = (CRYPTO_memcmp(hk, stored, dlen) |
		      CRYPTO_memcmp(sk, server, dlen)) == 0;
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(ck, sizeof(ck));
	OPENSSL_cleanse(sk, sizeof(sk));
	return ok ? SS_PW_MATCH : SS_PW_MISMATCH;
}

/* the value of "key=" in argon2's "m=..,t=..,p=.." group */
static uint32_t argon2_param(const char *group, size_t glen, char key,
			     uint32_t max, int *over)
{
	const char *p = group, *end = group + glen, *c;

	while (p < end) {
		c = memchr(p, ',', (size_t)(end - p));
		if (c == NULL)
			c = end;
		if (c - p > 2 && p[0] == key && p[1] == '=')
			return parse_count(p + 2, (size_t)(c - p - 2), max,
					   over);
		p = c + 1;
	}
	return 0;
}

static int v_argon2(const char *pw, const char *data,
		    const struct ss_pw_limits *lim)
{
	argon2_type type;
	const char *p, *g, *ge;
	int over = 0, rc;

	if (strncmp(data, "$argon2id$", 10) == 0) {
		type = Argon2_id;
		p = data + 10;
	} else if (strncmp(data, "$argon2i$", 9) == 0) {
		type = Argon2_i;
		p = data + 9;
	} else {
		return SS_PW_MALFORMED;
	}
	/* "v=19$" is optional (argon2 1.0 had none) */
	g = strncmp(p, "v=", 2) == 0 ? strchr(p, '$') : p - 1;
	if (g == NULL)
		return SS_PW_MALFORMED;
	g++;
	ge = strchr(g, '$');
	if (ge == NULL)
		return SS_PW_MALFORMED;
	/* every cost checked before libargon2 allocates anything */
	if (argon2_param(g, (size_t)(ge - g), 'm', lim->argon2_max_kib,
			 &over) == 0 ||
	    argon2_param(g, (size_t)(ge - g), 't', lim->argon2_max_passes,
			 &over) == 0 ||
	    argon2_param(g, (size_t)(ge - g), 'p', lim->argon2_max_lanes,
			 &over) == 0)
		return over ? SS_PW_TOO_COSTLY : SS_PW_MALFORMED;
	if (pw == NULL)
		return SS_PW_MISMATCH;
	rc = argon2_verify(data, pw, strlen(pw), type);
	if (rc == ARGON2_OK)
		return SS_PW_MATCH;
	if (rc == ARGON2_VERIFY_MISMATCH)
		return SS_PW_MISMATCH;
	return SS_PW_MALFORMED;
}

/* ---- entry points --------------------------------------------------- */

int ss_pw_verify(const char *pw, const char *stored,
		 const struct ss_pw_limits *lim, char *scheme_r,
		 size_t schemesz)
{
	static const struct ss_pw_limits deflim = SS_PW_LIMITS_DEFAULT;
	const struct pw_scheme *s;
	const char *rest = NULL;
	enum pw_enc enc = E_NONE;

	if (lim == NULL)
		lim = &deflim;
	if (stored[0] != '{') {
		if (scheme_r != NULL && schemesz > 0)
			snprintf(scheme_r, schemesz, "CRYPT");
		return v_crypt(pw, stored);
	}
	s = lookup(stored, &enc, &rest, scheme_r, schemesz);
	if (s == NULL)
		return SS_PW_UNSUPPORTED;
	switch (s->kind) {
	case K_CRYPT:
		return v_crypt(pw, rest);
	case K_PLAIN:
		return v_plain(pw, rest, enc);
	case K_DIGEST:
		return v_digest(pw, s, rest, enc, 0);
	case K_SDIGEST:
		return v_digest(pw, s, rest, enc, 1);
	case K_PBKDF2:
		return v_pbkdf2(pw, rest, lim);
	case K_SCRAM:
		return v_scram(pw, s, rest, lim);
	case K_ARGON2:
		return v_argon2(pw, rest, lim);
	}
	return SS_PW_UNSUPPORTED;
}

int ss_pw_is_default(const char *stored, const char *default_prefix)
{
	return strncmp(stored, default_prefix, strlen(default_prefix)) == 0;
}

int ss_pw_storable(const char *stored)
{
	static const struct ss_pw_limits unlimited = {UINT32_MAX, UINT32_MAX,
						      UINT32_MAX, UINT32_MAX};
	const struct pw_scheme *s;
	const char *rest;
	enum pw_enc enc;
	int v;

	if (stored[0] == '{') {
		s = lookup(stored, &enc, &rest, NULL, 0);
		if (s == NULL)
			return SS_PW_UNSUPPORTED;
		if (s->kind == K_PLAIN)
			return SS_PW_UNSUPPORTED;
	} else if (stored[0] != '$') {
		return SS_PW_MALFORMED;
	}
	/* a hash over today's caps is still kept: the cap is the
	 * daemon's to raise */
	v = ss_pw_verify(NULL, stored, &unlimited, NULL, 0);
	return v == SS_PW_MISMATCH ? 0 : v;
}
