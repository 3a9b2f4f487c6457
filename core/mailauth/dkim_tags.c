/*
 * The DKIM tag-lists (RFC 6376 §3.2): the DKIM-Signature field and the
 * key record.  Both come from strangers, so every size is bounded and
 * any doubt is a syntax error.  Pure: no OpenSSL, no core state, so the
 * fuzz harness links this file and base64.c alone.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rm.h"
#include "dkim.h"

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_valchar(unsigned char c)
{
	return (c >= 0x21 && c <= 0x3a) || (c >= 0x3c && c <= 0x7e);
}

int dkim_taglist_parse(const char *s, size_t n, struct dkim_tag *tags,
		       size_t max, size_t *n_r)
{
	size_t pos = 0, nt = 0;

	*n_r = 0;
	for (;;) {
		size_t ns, nl, vs, ve;

		while (pos < n && is_ws(s[pos]))
			pos++;
		if (pos == n)
			break; /* empty list, or a trailing ';' */
		ns = pos;
		if (!isalpha((unsigned char)s[pos]))
			return -1;
		while (pos < n &&
		       (isalnum((unsigned char)s[pos]) || s[pos] == '_'))
			pos++;
		nl = pos - ns;
		if (nl >= sizeof(tags[0].name))
			return -1;
		while (pos < n && is_ws(s[pos]))
			pos++;
		if (pos == n || s[pos] != '=')
			return -1;
		pos++;
		if (nt == max)
			return -1;
		tags[nt].rawoff = pos;
		while (pos < n && is_ws(s[pos]))
			pos++;
		vs = pos;
		while (pos < n && s[pos] != ';') {
			if (!is_ws(s[pos]) &&
			    !is_valchar((unsigned char)s[pos]))
				return -1;
			pos++;
		}
		tags[nt].rawend = pos;
		ve = pos;
		while (ve > vs && is_ws(s[ve - 1]))
			ve--;
		memcpy(tags[nt].name, s + ns, nl);
		tags[nt].name[nl] = '\0';
		for (size_t i = 0; i < nt; i++)
			if (strcmp(tags[i].name, tags[nt].name) == 0)
				return -1; /* duplicate: §3.2 */
		tags[nt].voff = vs;
		tags[nt].vlen = ve - vs;
		nt++;
		if (pos == n)
			break;
		pos++; /* ';' */
	}
	*n_r = nt;
	return 0;
}

int dkim_b64_decode(const char *s, size_t n, unsigned char **out_r,
		    size_t *len_r)
{
	char *t = malloc(n + 1);
	unsigned char *out;
	size_t m = 0;

	*out_r = NULL;
	*len_r = 0;
	if (t == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!is_ws(s[i]))
			t[m++] = s[i];
	out = malloc(m / 4 * 3 + 3);
	if (out == NULL ||
	    rm_base64_decode(t, m, out, m / 4 * 3 + 3, len_r) < 0) {
		free(t);
		free(out);
		*len_r = 0;
		return -1;
	}
	free(t);
	*out_r = out;
	return 0;
}

static const struct dkim_tag *find(const struct dkim_tag *t, size_t n,
				   const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].name, name) == 0)
			return &t[i];
	return NULL;
}

static char *dupv(const char *s, const struct dkim_tag *t)
{
	char *o = malloc(t->vlen + 1);

	if (o != NULL) {
		memcpy(o, s + t->voff, t->vlen);
		o[t->vlen] = '\0';
	}
	return o;
}

static bool veq(const char *s, const struct dkim_tag *t, const char *lit)
{
	return t->vlen == strlen(lit) &&
	       strncasecmp(s + t->voff, lit, t->vlen) == 0;
}

/* a decimal of at most maxd digits, no sign */
static int num(const char *s, const struct dkim_tag *t, size_t maxd,
	       uint64_t *v_r)
{
	uint64_t v = 0;

	if (t->vlen == 0 || t->vlen > maxd)
		return -1;
	for (size_t i = 0; i < t->vlen; i++) {
		unsigned char c = (unsigned char)s[t->voff + i];

		if (!isdigit(c))
			return -1;
		v = v * 10 + (uint64_t)(c - '0');
	}
	*v_r = v;
	return 0;
}

/* does a colon-separated list contain item (case-insensitive) */
static bool list_has(const char *s, const struct dkim_tag *t, const char *item)
{
	size_t i = t->voff, end = t->voff + t->vlen, il = strlen(item);

	while (i <= end) {
		size_t j = i, a, b;

		while (j < end && s[j] != ':')
			j++;
		a = i;
		b = j;
		while (a < b && is_ws(s[a]))
			a++;
		while (b > a && is_ws(s[b - 1]))
			b--;
		if (b - a == il && strncasecmp(s + a, item, il) == 0)
			return true;
		i = j + 1;
	}
	return false;
}

static int canon_of(const char *s, size_t n, int *c)
{
	if (n == 6 && strncasecmp(s, "simple", 6) == 0)
		*c = DKIM_C_SIMPLE;
	else if (n == 7 && strncasecmp(s, "relaxed", 7) == 0)
		*c = DKIM_C_RELAXED;
	else
		return -1;
	return 0;
}

/* a domain name as DKIM wants it: LDH labels with dots, bounded */
static bool domain_ok(const char *d)
{
	size_t n = strlen(d), lab = 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)d[i];

		if (c == '.') {
			if (lab == 0)
				return false;
			lab = 0;
			continue;
		}
		if (!isalnum(c) && c != '-' && c != '_')
			return false;
		if (++lab > 63)
			return false;
	}
	return lab > 0;
}

static int split_h(struct dkim_sig *sig, const char *s,
		   const struct dkim_tag *t)
{
	size_t i = t->voff, end = t->voff + t->vlen;
	bool from = false;

	sig->h = calloc(DKIM_MAX_H, sizeof(*sig->h));
	if (sig->h == NULL)
		return -1;
	while (i <= end) {
		size_t j = i, a, b;

		while (j < end && s[j] != ':')
			j++;
		a = i;
		b = j;
		while (a < b && is_ws(s[a]))
			a++;
		while (b > a && is_ws(s[b - 1]))
			b--;
		if (b == a || b - a > 128 || sig->nh == DKIM_MAX_H)
			return -1;
		for (size_t k = a; k < b; k++)
			if (is_ws(s[k]) || s[k] == ';')
				return -1;
		sig->h[sig->nh] = malloc(b - a + 1);
		if (sig->h[sig->nh] == NULL)
			return -1;
		for (size_t k = a; k < b; k++)
			sig->h[sig->nh][k - a] =
				(char)tolower((unsigned char)s[k]);
		sig->h[sig->nh][b - a] = '\0';
		if (strcmp(sig->h[sig->nh], "from") == 0)
			from = true;
		sig->nh++;
		i = j + 1;
	}
	return from ? 0 : -1;
}

int dkim_sig_parse(const char *v, size_t n, struct dkim_sig *sig,
		   const char **why)
{
	struct dkim_tag t[DKIM_MAX_TAGS];
	const struct dkim_tag *x;
	size_t nt, k = 0;
	uint64_t u;

	memset(sig, 0, sizeof(*sig));
	*why = "syntax error in the signature";
	if (n > DKIM_SIG_MAX ||
	    dkim_taglist_parse(v, n, t, DKIM_MAX_TAGS, &nt) < 0)
		return -1;
	x = find(t, nt, "v");
	if (x == NULL || !veq(v, x, "1")) {
		*why = "missing or unknown v=";
		return -1;
	}
	x = find(t, nt, "a");
	if (x == NULL) {
		*why = "missing a=";
		return -1;
	}
	snprintf(sig->a_name, sizeof(sig->a_name), "%.*s",
		 (int)(x->vlen < 31 ? x->vlen : 31), v + x->voff);
	if (veq(v, x, "rsa-sha256"))
		sig->alg = DKIM_A_RSA_SHA256;
	else if (veq(v, x, "rsa-sha1"))
		sig->alg = DKIM_A_RSA_SHA1;
	else if (veq(v, x, "ed25519-sha256"))
		sig->alg = DKIM_A_ED25519_SHA256;
	else
		sig->alg = DKIM_A_UNKNOWN;
	sig->hcanon = sig->bcanon = DKIM_C_SIMPLE;
	if ((x = find(t, nt, "c")) != NULL) {
		const char *sl = memchr(v + x->voff, '/', x->vlen);
		size_t hl = sl != NULL ? (size_t)(sl - (v + x->voff)) : x->vlen;

		if (canon_of(v + x->voff, hl, &sig->hcanon) < 0 ||
		    (sl != NULL &&
		     canon_of(sl + 1, x->vlen - hl - 1, &sig->bcanon) < 0)) {
			*why = "unknown c=";
			return -1;
		}
	}
	if ((x = find(t, nt, "d")) == NULL || (sig->d = dupv(v, x)) == NULL ||
	    !domain_ok(sig->d)) {
		*why = "missing or bad d=";
		return -1;
	}
	if ((x = find(t, nt, "s")) == NULL || (sig->s = dupv(v, x)) == NULL ||
	    !domain_ok(sig->s) || strlen(sig->s) > 63) {
		*why = "missing or bad s=";
		return -1;
	}
	if ((x = find(t, nt, "h")) == NULL || split_h(sig, v, x) < 0) {
		*why = "missing or bad h= (From must be signed)";
		return -1;
	}
	if ((x = find(t, nt, "i")) != NULL) {
		const char *at, *dom;
		size_t dl, sl;

		sig->i = dupv(v, x);
		if (sig->i == NULL || strlen(sig->i) > 255 ||
		    (at = strrchr(sig->i, '@')) == NULL) {
			*why = "bad i=";
			return -1;
		}
		dom = at + 1;
		dl = strlen(dom);
		sl = strlen(sig->d);
		if (!(strcasecmp(dom, sig->d) == 0 ||
		      (dl > sl && dom[dl - sl - 1] == '.' &&
		       strcasecmp(dom + dl - sl, sig->d) == 0))) {
			*why = "i= is not within d=";
			return -1;
		}
	} else {
		size_t dl = strlen(sig->d);

		sig->i = malloc(dl + 2);
		if (sig->i == NULL)
			return -1;
		sig->i[0] = '@';
		memcpy(sig->i + 1, sig->d, dl + 1);
	}
	if ((x = find(t, nt, "q")) != NULL && !list_has(v, x, "dns/txt")) {
		*why = "unknown q=";
		return -1;
	}
	if ((x = find(t, nt, "l")) != NULL) {
		if (num(v, x, 19, &u) < 0) {
			*why = "bad l=";
			return -1;
		}
		sig->has_l = true;
		sig->l = u;
	}
	if ((x = find(t, nt, "t")) != NULL) {
		if (num(v, x, 12, &u) < 0) {
			*why = "bad t=";
			return -1;
		}
		sig->has_t = true;
		sig->t = (int64_t)u;
	}
	if ((x = find(t, nt, "x")) != NULL) {
		if (num(v, x, 12, &u) < 0) {
			*why = "bad x=";
			return -1;
		}
		sig->has_x = true;
		sig->x = (int64_t)u;
		if (sig->has_t && sig->x < sig->t) {
			*why = "x= is before t=";
			return -1;
		}
	}
	if ((x = find(t, nt, "bh")) == NULL ||
	    dkim_b64_decode(v + x->voff, x->vlen, &sig->bh, &sig->bhlen) < 0) {
		*why = "missing or bad bh=";
		return -1;
	}
	if ((x = find(t, nt, "b")) == NULL ||
	    dkim_b64_decode(v + x->voff, x->vlen, &sig->b, &sig->blen) < 0 ||
	    sig->blen == 0) {
		*why = "missing or bad b=";
		return -1;
	}
	sig->b_voff = x->rawoff;
	sig->b_vend = x->rawend;
	for (size_t i = 0; i < x->vlen && k < 12; i++)
		if (!is_ws(v[x->voff + i]))
			sig->b_text[k++] = v[x->voff + i];
	sig->b_text[k] = '\0';
	*why = "";
	return 0;
}

void dkim_sig_free(struct dkim_sig *sig)
{
	if (sig == NULL)
		return;
	free(sig->d);
	free(sig->s);
	free(sig->i);
	for (size_t i = 0; i < sig->nh; i++)
		free(sig->h[i]);
	free(sig->h);
	free(sig->b);
	free(sig->bh);
	memset(sig, 0, sizeof(*sig));
}

int dkim_keyrec_parse(const char *v, size_t n, struct dkim_keyrec *k,
		      const char **why)
{
	struct dkim_tag t[DKIM_MAX_TAGS];
	const struct dkim_tag *x;
	size_t nt;

	memset(k, 0, sizeof(*k));
	*why = "syntax error in the key record";
	if (n > DKIM_KEYREC_MAX ||
	    dkim_taglist_parse(v, n, t, DKIM_MAX_TAGS, &nt) < 0)
		return -1;
	if ((x = find(t, nt, "v")) != NULL &&
	    (x != &t[0] || !veq(v, x, "DKIM1"))) {
		*why = "bad v= in the key record";
		return -1;
	}
	k->sha256_ok = k->sha1_ok = true;
	if ((x = find(t, nt, "h")) != NULL) {
		k->sha256_ok = list_has(v, x, "sha256");
		k->sha1_ok = list_has(v, x, "sha1");
	}
	if ((x = find(t, nt, "k")) != NULL) {
		if (veq(v, x, "rsa"))
			k->ktype = 0;
		else if (veq(v, x, "ed25519"))
			k->ktype = 1;
		else {
			*why = "unknown key type";
			return -1;
		}
	}
	if ((x = find(t, nt, "s")) != NULL && !list_has(v, x, "*") &&
	    !list_has(v, x, "email")) {
		*why = "key not for email";
		return -1;
	}
	if ((x = find(t, nt, "t")) != NULL) {
		k->testing = list_has(v, x, "y");
		k->strict = list_has(v, x, "s");
	}
	if ((x = find(t, nt, "p")) == NULL) {
		*why = "no p= in the key record";
		return -1;
	}
	if (x->vlen == 0) {
		k->revoked = true;
		*why = "";
		return 0;
	}
	if (dkim_b64_decode(v + x->voff, x->vlen, &k->p, &k->plen) < 0 ||
	    k->plen == 0) {
		*why = "bad p= in the key record";
		return -1;
	}
	*why = "";
	return 0;
}

void dkim_keyrec_free(struct dkim_keyrec *k)
{
	if (k == NULL)
		return;
	free(k->p);
	memset(k, 0, sizeof(*k));
}

const char *dkim_result_name(int r)
{
	static const char *const names[] = {"none",	"pass",	  "fail",
					    "neutral",	"policy", "temperror",
					    "permerror"};

	return r >= 0 && r <= DKIM_PERMERROR ? names[r] : "none";
}
