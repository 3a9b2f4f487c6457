/*
 * SPF record and macro-string syntax (RFC 7208 §4.6.1, §5, §6, §7, §12).
 * Every loop is bounded by the input's length, every output by its
 * capacity; a record past SPF_RECORD_MAX or SPF_TERMS_MAX is refused
 * rather than half-read.
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "mailauth/spf_record.h"

static bool is_alpha(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

static bool is_alnum(int ch)
{
	return is_alpha(ch) || is_digit(ch);
}

static int lower(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

bool spf_is_record(const unsigned char *s, size_t len)
{
	return len >= 6 && strncasecmp((const char *)s, "v=spf1", 6) == 0 &&
	       (len == 6 || s[6] == ' ');
}

/* ---- macros ---------------------------------------------------------- */

static bool is_delim(int ch)
{
	return strchr(".-+,/_=", ch) != NULL && ch != '\0';
}

static bool letter_ok(int ch, bool exp)
{
	ch = lower(ch);
	if (ch != '\0' && strchr("slodipvh", ch) != NULL)
		return true;
	return exp && ch != '\0' && strchr("crt", ch) != NULL;
}

/* One "%{...}" at s[i] (s[i] == '%', s[i+1] == '{'): its end (one past
 * the '}'), or 0 when malformed.  Fills the parts when asked. */
struct mexp {
	char letter;
	unsigned digits; /* 0: all parts */
	bool reverse;
	const char *delims;
	size_t ndelims;
};

static size_t parse_expand(const char *s, size_t len, size_t i, bool exp,
			   struct mexp *m)
{
	size_t j = i + 2;

	memset(m, 0, sizeof(*m));
	if (j >= len || !letter_ok((unsigned char)s[j], exp))
		return 0;
	m->letter = s[j++];
	if (j < len && is_digit((unsigned char)s[j])) {
		if (s[j] == '0')
			return 0; /* §7.3: the count MUST be nonzero */
		while (j < len && is_digit((unsigned char)s[j])) {
			/* saturate: more parts than exist means all */
			if (m->digits < 100000)
				m->digits =
					m->digits * 10 + (unsigned)(s[j] - '0');
			j++;
		}
	}
	if (j < len && lower((unsigned char)s[j]) == 'r') {
		m->reverse = true;
		j++;
	}
	m->delims = s + j;
	while (j < len && is_delim((unsigned char)s[j]))
		j++;
	m->ndelims = (size_t)(s + j - m->delims);
	if (j >= len || s[j] != '}')
		return 0;
	return j + 1;
}

/* Walks the macro-string; *last_expand tells whether it ended in a
 * macro-expand (a valid domain-end). */
static bool macro_walk(const char *s, size_t len, bool exp, bool *last_expand)
{
	struct mexp m;

	*last_expand = false;
	for (size_t i = 0; i < len;) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '%') {
			if (i + 1 >= len)
				return false;
			if (s[i + 1] == '%' || s[i + 1] == '_' ||
			    s[i + 1] == '-') {
				i += 2;
			} else if (s[i + 1] == '{') {
				size_t e = parse_expand(s, len, i, exp, &m);

				if (e == 0)
					return false;
				i = e;
			} else {
				return false;
			}
			*last_expand = true;
			continue;
		}
		if (!((ch >= 0x21 && ch <= 0x7e) || (exp && ch == ' ')))
			return false;
		*last_expand = false;
		i++;
	}
	return true;
}

static bool toplabel_ok(const char *s, size_t len)
{
	bool dash = false, alpha = false;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '-')
			dash = true;
		else if (is_alpha((unsigned char)s[i]))
			alpha = true;
		else if (!is_digit((unsigned char)s[i]))
			return false;
	}
	if (dash)
		return is_alnum((unsigned char)s[0]) &&
		       is_alnum((unsigned char)s[len - 1]);
	return alpha;
}

bool spf_macro_valid(const char *s, size_t len, bool exp, bool domain)
{
	bool last_expand;
	size_t end, dot;

	if (!macro_walk(s, len, exp, &last_expand))
		return false;
	if (!domain || last_expand)
		return true;
	/* domain-end = "." toplabel [ "." ] */
	end = len;
	if (end > 0 && s[end - 1] == '.')
		end--;
	for (dot = end; dot > 0 && s[dot - 1] != '.'; dot--)
		;
	if (dot == 0)
		return false;
	return toplabel_ok(s + dot, end - dot);
}

struct outbuf {
	char *p;
	size_t n, cap;
	bool over;
};

static void put(struct outbuf *o, char ch)
{
	if (o->n + 1 >= o->cap) {
		o->over = true;
		return;
	}
	o->p[o->n++] = ch;
}

static void put_escaped(struct outbuf *o, char ch, bool url)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char u = (unsigned char)ch;

	if (!url || is_alnum(u) || u == '-' || u == '.' || u == '_' ||
	    u == '~') {
		put(o, ch);
		return;
	}
	put(o, '%');
	put(o, hex[u >> 4]);
	put(o, hex[u & 15]);
}

static const char *letter_value(const struct spf_macro_env *env, int letter,
				int *rc)
{
	const char *v = NULL;

	*rc = 0;
	switch (lower(letter)) {
	case 's':
		v = env->s;
		break;
	case 'l':
		v = env->l;
		break;
	case 'o':
		v = env->o;
		break;
	case 'd':
		v = env->d;
		break;
	case 'i':
		v = env->i;
		break;
	case 'v':
		v = env->v;
		break;
	case 'h':
		v = env->h;
		break;
	case 'c':
		v = env->c;
		break;
	case 'r':
		v = env->r;
		break;
	case 't':
		v = env->t;
		break;
	case 'p':
		if (env->get_p == NULL)
			v = "unknown";
		else
			*rc = env->get_p(env->arg, &v);
		break;
	}
	return v != NULL ? v : "";
}

#define PARTS_MAX 128

/* §7.3: split on the delimiters, reverse, keep the right-hand parts,
 * join with dots. */
static void transform(struct outbuf *o, const char *v, const struct mexp *m)
{
	const char *start[PARTS_MAX];
	size_t plen[PARTS_MAX], n = 0, first, vlen = strlen(v);
	const char *delims = m->ndelims ? m->delims : ".";
	size_t nd = m->ndelims ? m->ndelims : 1;
	bool url = m->letter >= 'A' && m->letter <= 'Z';
	size_t i = 0;

	if (m->digits == 0 && !m->reverse && m->ndelims == 0) {
		for (i = 0; i < vlen; i++)
			put_escaped(o, v[i], url);
		return;
	}
	start[0] = v;
	n = 1;
	for (i = 0; i < vlen; i++)
		if (memchr(delims, v[i], nd) != NULL) {
			plen[n - 1] = (size_t)(v + i - start[n - 1]);
			if (n == PARTS_MAX) {
				o->over = true; /* hostile: refuse */
				return;
			}
			start[n++] = v + i + 1;
		}
	plen[n - 1] = (size_t)(v + vlen - start[n - 1]);
	if (m->reverse)
		for (i = 0; i < n / 2; i++) {
			const char *ts = start[i];
			size_t tl = plen[i];

			start[i] = start[n - 1 - i];
			plen[i] = plen[n - 1 - i];
			start[n - 1 - i] = ts;
			plen[n - 1 - i] = tl;
		}
	first = m->digits != 0 && m->digits < n ? n - m->digits : 0;
	for (i = first; i < n; i++) {
		if (i > first)
			put(o, '.');
		for (size_t k = 0; k < plen[i]; k++)
			put_escaped(o, start[i][k], url);
	}
}

int spf_macro_expand(const char *s, size_t len, bool exp,
		     const struct spf_macro_env *env, char *out, size_t cap)
{
	struct outbuf o = {.p = out, .cap = cap};
	bool last;
	struct mexp m;

	if (cap == 0 || !macro_walk(s, len, exp, &last))
		return -1;
	for (size_t i = 0; i < len && !o.over;) {
		if (s[i] != '%') {
			put(&o, s[i++]);
			continue;
		}
		switch (s[i + 1]) {
		case '%':
			put(&o, '%');
			i += 2;
			continue;
		case '_':
			put(&o, ' ');
			i += 2;
			continue;
		case '-':
			put(&o, '%');
			put(&o, '2');
			put(&o, '0');
			i += 2;
			continue;
		default:
			break;
		}
		{
			size_t e = parse_expand(s, len, i, exp, &m);
			int rc;
			const char *v = letter_value(env, m.letter, &rc);

			if (rc != 0)
				return 1;
			transform(&o, v, &m);
			i = e;
		}
	}
	out[o.n] = '\0';
	return o.over ? -1 : 0;
}

/* ---- the record -------------------------------------------------------- */

/* A prefix length: "0" or no leading zero, at most max.  -1 syntax
 * (not digits), -2 out of range. */
static int cidr_len(const char *s, size_t len, int max, int *out)
{
	int v = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!is_digit((unsigned char)s[i]))
			return -1;
	if ((len > 1 && s[0] == '0') || len > 3)
		return -2;
	for (size_t i = 0; i < len; i++)
		v = v * 10 + (s[i] - '0');
	if (v > max)
		return -2;
	*out = v;
	return 0;
}

/* dual-cidr-length = [ "/" ip4 ] [ "//" ip6 ], at least one, the whole
 * of s.  0, -1 not this syntax, -2 a bad length. */
static int dual_cidr(const char *s, size_t len, int *c4, int *c6)
{
	size_t i = 0, j;
	int rc;

	if (len < 2 || s[0] != '/')
		return -1;
	if (s[1] != '/') {
		for (j = 1; j < len && is_digit((unsigned char)s[j]); j++)
			;
		if (j == 1)
			return -1;
		if (j < len &&
		    !(len - j >= 3 && s[j] == '/' && s[j + 1] == '/'))
			return -1;
		if ((rc = cidr_len(s + 1, j - 1, 32, c4)) < 0)
			return rc;
		i = j;
		if (i == len)
			return 0;
	}
	/* "//" digits to the end */
	if (len - i < 3 || s[i] != '/' || s[i + 1] != '/')
		return -1;
	for (j = i + 2; j < len; j++)
		if (!is_digit((unsigned char)s[j]))
			return -1;
	return cidr_len(s + i + 2, len - i - 2, 128, c6);
}

static bool domain_spec(const char *s, size_t len)
{
	return len > 0 && spf_macro_valid(s, len, false, true);
}

static bool ieq(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}

/* An ip4/ip6 argument: address, then "/" prefix. */
static int parse_ip(const char *s, size_t len, int af, struct spf_term *t)
{
	char buf[64];
	const char *slash = memchr(s, '/', len);
	size_t alen = slash != NULL ? (size_t)(slash - s) : len;
	int max = af == AF_INET ? 32 : 128;
	int *c = af == AF_INET ? &t->cidr4 : &t->cidr6;

	if (alen == 0 || alen >= sizeof(buf))
		return -1;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (inet_pton(af, buf, t->ip) != 1)
		return -1;
	if (slash == NULL)
		return 0;
	return cidr_len(slash + 1, len - alen - 1, max, c) == 0 ? 0 : -1;
}

/* "a" / "mx" arguments: [ ":" domain-spec ] [ dual-cidr-length ]. */
static int parse_a_mx(const char *s, size_t len, struct spf_term *t)
{
	size_t q;
	int rc;

	if (len == 0)
		return 0;
	if (s[0] == '/')
		return dual_cidr(s, len, &t->cidr4, &t->cidr6) == 0 ? 0 : -1;
	if (s[0] != ':')
		return -1;
	s++;
	len--;
	/* the leftmost '/' that starts a dual-cidr ends the domain-spec;
	 * other slashes are macro-literals ("a:foo:bar/baz.example.com") */
	for (q = 0; q < len; q++) {
		if (s[q] != '/')
			continue;
		rc = dual_cidr(s + q, len - q, &t->cidr4, &t->cidr6);
		if (rc == -2)
			return -1;
		if (rc == 0)
			break;
	}
	if (!domain_spec(s, q))
		return -1;
	t->spec.p = s;
	t->spec.len = q;
	return 0;
}

static int parse_directive(const char *s, size_t len, struct spf_term *t,
			   const char **why)
{
	size_t k = 0;
	const char *arg;
	size_t alen;

	memset(t, 0, sizeof(*t));
	t->qual = '+';
	t->cidr4 = 32;
	t->cidr6 = 128;
	if (len > 0 && strchr("+-~?", s[0]) != NULL) {
		t->qual = s[0];
		s++;
		len--;
	}
	while (k < len && is_alnum((unsigned char)s[k]))
		k++;
	arg = s + k;
	alen = len - k;
	*why = "bad mechanism syntax";
	if (ieq(s, k, "all")) {
		t->mech = SPF_M_ALL;
		return alen == 0 ? 0 : -1;
	}
	if (ieq(s, k, "include") || ieq(s, k, "exists")) {
		t->mech = ieq(s, k, "include") ? SPF_M_INCLUDE : SPF_M_EXISTS;
		if (alen < 1 || arg[0] != ':' ||
		    !domain_spec(arg + 1, alen - 1))
			return -1;
		t->spec.p = arg + 1;
		t->spec.len = alen - 1;
		return 0;
	}
	if (ieq(s, k, "a") || ieq(s, k, "mx")) {
		t->mech = ieq(s, k, "a") ? SPF_M_A : SPF_M_MX;
		return parse_a_mx(arg, alen, t);
	}
	if (ieq(s, k, "ptr")) {
		t->mech = SPF_M_PTR;
		if (alen == 0)
			return 0;
		if (arg[0] != ':' || !domain_spec(arg + 1, alen - 1))
			return -1;
		t->spec.p = arg + 1;
		t->spec.len = alen - 1;
		return 0;
	}
	if (ieq(s, k, "ip4") || ieq(s, k, "ip6")) {
		int af = ieq(s, k, "ip4") ? AF_INET : AF_INET6;

		t->mech = af == AF_INET ? SPF_M_IP4 : SPF_M_IP6;
		if (alen < 1 || arg[0] != ':')
			return -1;
		return parse_ip(arg + 1, alen - 1, af, t);
	}
	*why = "unknown mechanism";
	return -1;
}

static int parse_modifier(const char *s, size_t eq, size_t len,
			  struct spf_record *r, const char **why)
{
	const char *v = s + eq + 1;
	size_t vlen = len - eq - 1;
	struct spf_str *known = NULL;

	if (eq == 0 || !is_alpha((unsigned char)s[0])) {
		*why = "bad modifier name";
		return -1;
	}
	if (ieq(s, eq, "redirect"))
		known = &r->redirect;
	else if (ieq(s, eq, "exp"))
		known = &r->exp;
	if (known == NULL) {
		/* ignored, so lenient: the explanation letters pass too */
		*why = "bad modifier value";
		return spf_macro_valid(v, vlen, true, false) ? 0 : -1;
	}
	if (known->p != NULL) {
		*why = "a modifier given twice";
		return -1;
	}
	if (!domain_spec(v, vlen)) {
		*why = "bad modifier domain";
		return -1;
	}
	known->p = v;
	known->len = vlen;
	return 0;
}

int spf_record_parse(const char *s, size_t len, struct spf_record *r,
		     const char **why)
{
	size_t i = 6; /* past "v=spf1" */
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	memset(r, 0, sizeof(*r));
	if (len > SPF_RECORD_MAX) {
		*why = "record too long";
		return -1;
	}
	if (!spf_is_record((const unsigned char *)s, len)) {
		*why = "not an SPF record";
		return -1;
	}
	while (i < len) {
		size_t start, tlen, k;

		if (s[i] == ' ') {
			i++;
			continue;
		}
		start = i;
		while (i < len && s[i] != ' ')
			i++;
		tlen = i - start;
		/* name "=" → a modifier; otherwise a directive */
		for (k = 0; k < tlen; k++) {
			char ch = s[start + k];

			if (!(is_alnum((unsigned char)ch) || ch == '-' ||
			      ch == '_' || ch == '.'))
				break;
		}
		if (k < tlen && s[start + k] == '=') {
			if (parse_modifier(s + start, k, tlen, r, why) < 0)
				return -1;
			continue;
		}
		if (r->n == SPF_TERMS_MAX) {
			*why = "too many terms";
			return -1;
		}
		if (parse_directive(s + start, tlen, &r->terms[r->n], why) < 0)
			return -1;
		r->n++;
	}
	return 0;
}
