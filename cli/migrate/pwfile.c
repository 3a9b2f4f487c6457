/*
 * Dovecot passwd-file lines
 *   user:{SCHEME}hash:uid:gid:gecos:home:shell:extra_fields
 * and /etc/shadow lines
 *   user:$6$...:lastchg:min:max:warn:inactive:expire:
 * read the same way: the first two fields, and from the eighth on the
 * space-separated extra fields, of which userdb_quota_rule (Dovecot's
 * "*:storage=N[bkMGT]", kilobytes without a unit) becomes quota_mb.
 * The scheme list mirrors what the store verifies (pwscheme.c there):
 * an unknown scheme is refused here, before any user is created.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pwfile.h"

static const char *const known[] = {
	"CRYPT",	"DES-CRYPT", "MD5",	 "MD5-CRYPT",	"SHA256-CRYPT",
	"SHA512-CRYPT", "BLF-CRYPT", "SHA",	 "SHA1",	"SHA256",
	"SHA512",	"PLAIN-MD5", "LDAP-MD5", "SSHA",	"SSHA256",
	"SSHA512",	"SMD5",	     "PBKDF2",	 "SCRAM-SHA-1", "SCRAM-SHA-256",
	"ARGON2I",	"ARGON2ID",
};

static int b64v(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

static int hexv(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* {PLAIN.b64}/{PLAIN.hex} data into a NUL-terminated password */
static int decode_plain(const char *s, size_t len, int enc, char *out,
			size_t outsz)
{
	size_t o = 0, i, bits = 0;
	unsigned acc = 0;
	int v, w;

	if (enc == 0) {
		if (len >= outsz)
			return -1;
		memcpy(out, s, len);
		o = len;
	} else if (enc == 'h') {
		if (len % 2 != 0 || len / 2 >= outsz)
			return -1;
		for (i = 0; i < len; i += 2) {
			v = hexv((unsigned char)s[i]);
			w = hexv((unsigned char)s[i + 1]);
			if (v < 0 || w < 0)
				return -1;
			out[o++] = (char)(v << 4 | w);
		}
	} else {
		while (len > 0 && s[len - 1] == '=')
			len--;
		for (i = 0; i < len; i++) {
			if ((v = b64v((unsigned char)s[i])) < 0)
				return -1;
			acc = (acc << 6 | (unsigned)v) & 0xffffff;
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				if (o + 1 >= outsz)
					return -1;
				out[o++] = (char)(acc >> bits);
			}
		}
	}
	out[o] = '\0';
	/* a NUL inside, or a password a login could never type */
	if (strlen(out) != o || o == 0)
		return -1;
	return 0;
}

/* "{NAME[.enc]}" of pw; 1 known hash, 2 plaintext, 0 unknown */
static int classify(const char *pw, size_t plen, struct rm_pw_entry *e,
		    size_t *datoff_r, int *enc_r)
{
	const char *end = memchr(pw, '}', plen), *dot;
	size_t nlen, i;

	if (end == NULL)
		return 0;
	nlen = (size_t)(end - pw - 1);
	snprintf(e->scheme, sizeof(e->scheme), "%.*s", (int)nlen, pw + 1);
	*datoff_r = (size_t)(end - pw + 1);
	*enc_r = 0;
	dot = memchr(pw + 1, '.', nlen);
	if (dot != NULL) {
		size_t elen = (size_t)(end - dot - 1);

		if ((elen == 3 && strncasecmp(dot + 1, "b64", 3) == 0) ||
		    (elen == 6 && strncasecmp(dot + 1, "base64", 6) == 0))
			*enc_r = 'b';
		else if (elen == 3 && strncasecmp(dot + 1, "hex", 3) == 0)
			*enc_r = 'h';
		else
			return 0;
		nlen = (size_t)(dot - pw - 1);
	}
	if ((nlen == 5 && strncasecmp(pw + 1, "PLAIN", 5) == 0) ||
	    (nlen == 9 && strncasecmp(pw + 1, "CLEARTEXT", 9) == 0))
		return 2;
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strlen(known[i]) == nlen &&
		    strncasecmp(known[i], pw + 1, nlen) == 0)
			return 1;
	return 0;
}

/* "N[bkMGT]" with `unit` the multiplier without a suffix; bytes, or -1 */
static int64_t parse_size(const char *s, size_t len, int64_t unit)
{
	int64_t v = 0;
	size_t i = 0;

	if (len == 0 || !isdigit((unsigned char)s[0]))
		return -1;
	for (; i < len && isdigit((unsigned char)s[i]); i++) {
		v = v * 10 + (s[i] - '0');
		if (v > 1000000000000000LL)
			return -1;
	}
	if (i + 1 == len) {
		switch (s[i]) {
		case 'b':
		case 'B':
			unit = 1;
			break;
		case 'k':
		case 'K':
			unit = 1024;
			break;
		case 'm':
		case 'M':
			unit = (int64_t)1 << 20;
			break;
		case 'g':
		case 'G':
			unit = (int64_t)1 << 30;
			break;
		case 't':
		case 'T':
			unit = (int64_t)1 << 40;
			break;
		default:
			return -1;
		}
	} else if (i != len) {
		return -1;
	}
	if (v > INT64_MAX / 2 / unit)
		return -1;
	return v * unit;
}

/* "*:storage=1G" (or bytes=) of one extra field into quota_mb */
static void quota_rule(const char *v, size_t len, struct rm_pw_entry *e)
{
	int64_t bytes;

	if (len < 2 || v[0] != '*' || v[1] != ':')
		return; /* per-mailbox rules: rmail has one quota per user */
	v += 2;
	len -= 2;
	if (len > 8 && strncmp(v, "storage=", 8) == 0)
		bytes = parse_size(v + 8, len - 8, 1024);
	else if (len > 6 && strncmp(v, "bytes=", 6) == 0)
		bytes = parse_size(v + 6, len - 6, 1);
	else
		return;
	if (bytes < 0)
		return;
	e->quota_mb = (bytes + ((int64_t)1 << 20) - 1) >> 20;
}

static void extra_fields(const char *s, size_t len, struct rm_pw_entry *e)
{
	static const char *const keys[] = {"userdb_quota_rule=", "quota_rule="};
	size_t i = 0, j, k;

	while (i < len) {
		while (i < len && s[i] == ' ')
			i++;
		for (j = i; j < len && s[j] != ' '; j++)
			;
		for (k = 0; k < 2; k++) {
			size_t kl = strlen(keys[k]);

			if (j - i > kl && strncmp(s + i, keys[k], kl) == 0)
				quota_rule(s + i + kl, j - i - kl, e);
		}
		i = j;
	}
}

int rm_pw_parse_line(const char *line, size_t len, struct rm_pw_entry *e)
{
	const char *f[8];
	size_t flen[8], nf = 0, i, start = 0, off;
	int enc, c;

	memset(e, 0, sizeof(*e));
	e->quota_mb = -1;
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	if (i == len || line[i] == '#')
		return 0;
	for (i = 0; i < len; i++) {
		if (line[i] == '\0' ||
		    ((unsigned char)line[i] < 0x20 && line[i] != '\t')) {
			e->why = "control character in the line";
			return -1;
		}
	}
	/* fields 1-7 split at ':', the eighth is the rest (extra fields
	 * may hold ':' themselves, as in "*:storage=1G") */
	for (i = 0; i <= len && nf < 8; i++) {
		if (i == len || (line[i] == ':' && nf < 7)) {
			f[nf] = line + start;
			flen[nf++] = i - start;
			start = i + 1;
		}
	}
	if (nf < 2) {
		e->why = "not user:password";
		return -1;
	}
	if (flen[0] == 0 || flen[0] > RM_PW_USER_MAX) {
		e->why = "bad user name";
		return -1;
	}
	for (i = 0; i < flen[0]; i++) {
		if (f[0][i] == ' ' || f[0][i] == '\t') {
			e->why = "white space in the user name";
			return -1;
		}
	}
	memcpy(e->user, f[0], flen[0]);
	if (nf == 8)
		extra_fields(f[7], flen[7], e);
	/* locked or empty: "!", "*", "!!", "x", "!$6$..." */
	if (flen[1] == 0 || f[1][0] == '!' || f[1][0] == '*' ||
	    (flen[1] == 1 && f[1][0] == 'x')) {
		e->kind = RM_PW_NONE;
		snprintf(e->scheme, sizeof(e->scheme), "none");
		return 1;
	}
	if (flen[1] >= RM_PW_HASH_MAX) {
		e->why = "password field too long";
		return -1;
	}
	if (f[1][0] != '{') {
		/* Dovecot's default_pass_scheme is CRYPT, shadow's too */
		e->kind = RM_PW_HASH;
		snprintf(e->scheme, sizeof(e->scheme), "CRYPT");
		memcpy(e->hash, f[1], flen[1]);
		return 1;
	}
	c = classify(f[1], flen[1], e, &off, &enc);
	if (c == 0) {
		e->why = "unsupported password scheme";
		return -1;
	}
	if (c == 2) {
		e->kind = RM_PW_PLAIN;
		if (decode_plain(f[1] + off, flen[1] - off, enc, e->hash,
				 sizeof(e->hash)) < 0) {
			memset(e->hash, 0, sizeof(e->hash));
			e->why = "undecodable plaintext password";
			return -1;
		}
		return 1;
	}
	e->kind = RM_PW_HASH;
	memcpy(e->hash, f[1], flen[1]);
	return 1;
}
