/* Comparators (RFC 4790: i;octet, i;ascii-casemap, i;ascii-numeric;
 * RFC 5051 i;unicode-casemap through the caller's fold) and match types
 * (:is, :contains, :matches with RFC 5229 match groups, :value).
 * :matches is the linear-backtracking glob: every step is charged to the
 * run's budget, so a hostile pattern costs at most the budget. */
#include <string.h>

#include "sieve_int.h"

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* fold for i;unicode-casemap into the arena; NULL on no memory */
const char *sv_fold(struct sv_matcher *m, const char *s, size_t n,
		    size_t *len_r)
{
	char *d;
	size_t fl, need;

	if (m->casemap == NULL) {
		d = sv_alloc(m->a, n + 1);
		if (d == NULL)
			return NULL;
		for (size_t i = 0; i < n; i++)
			d[i] = (char)lower((unsigned char)s[i]);
		*len_r = n;
		return d;
	}
	/* most folds grow little; else ask again with what it needs */
	fl = n + n / 2 + 16;
	d = sv_alloc(m->a, fl + 1);
	if (d == NULL)
		return NULL;
	need = m->casemap(s, n, d, fl);
	if (need > fl) {
		d = sv_alloc(m->a, need + 1);
		if (d == NULL)
			return NULL;
		if (m->casemap(s, n, d, need) > need)
			return NULL;
	}
	*len_r = need;
	return d;
}

static int charlen(const struct sv_matcher *m, const char *s, size_t n)
{
	unsigned char c = (unsigned char)s[0];
	int l = 1;

	if (m->cmp == CMP_OCTET || c < 0xc0)
		return 1;
	l = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
	for (int i = 1; i < l; i++)
		if ((size_t)i >= n || ((unsigned char)s[i] & 0xc0) != 0x80)
			return i;
	return l;
}

static int step(struct sv_matcher *m)
{
	if (++*m->steps > m->max_steps) {
		m->over = 1;
		return -1;
	}
	return 0;
}

/* cheap units of work (comparisons): one budget step per 64 */
static int charge(struct sv_matcher *m, uint64_t units)
{
	m->work += units;
	if (m->work < 64)
		return 0;
	*m->steps += m->work / 64;
	m->work %= 64;
	if (*m->steps > m->max_steps) {
		m->over = 1;
		return -1;
	}
	return 0;
}

static int eqc(const struct sv_matcher *m, char a, char b)
{
	if (m->cmp == CMP_ASCII)
		return lower((unsigned char)a) == lower((unsigned char)b);
	return a == b;
}

/* numbers per i;ascii-numeric: the leading digits; none = infinity */
static int numcmp(const char *a, size_t an, const char *b, size_t bn)
{
	size_t ad = 0, bd = 0;

	while (ad < an && a[ad] >= '0' && a[ad] <= '9')
		ad++;
	while (bd < bn && b[bd] >= '0' && b[bd] <= '9')
		bd++;
	if (ad == 0 || bd == 0)
		return (ad == 0) - (bd == 0);
	while (ad > 1 && *a == '0')
		a++, ad--;
	while (bd > 1 && *b == '0')
		b++, bd--;
	if (ad != bd)
		return ad < bd ? -1 : 1;
	int c = memcmp(a, b, ad);

	return (c > 0) - (c < 0);
}

int sv_compare(struct sv_matcher *m, const char *v, size_t vn, const char *k,
	       size_t kn)
{
	size_t n;

	if (m->cmp == CMP_NUMERIC)
		return numcmp(v, vn, k, kn);
	if (m->cmp == CMP_UNICODE && !m->folded) {
		v = sv_fold(m, v, vn, &vn);
		k = v != NULL ? sv_fold(m, k, kn, &kn) : NULL;
		if (v == NULL || k == NULL) {
			m->oom = 1;
			return -1;
		}
	}
	n = vn < kn ? vn : kn;
	for (size_t i = 0; i < n; i++) {
		int a = (unsigned char)v[i], b = (unsigned char)k[i];

		if (m->cmp == CMP_ASCII) {
			a = lower(a);
			b = lower(b);
		}
		if (a != b)
			return a < b ? -1 : 1;
	}
	return vn == kn ? 0 : vn < kn ? -1 : 1;
}

int sv_rel_ok(enum sv_rel r, int c)
{
	switch (r) {
	case REL_GT:
		return c > 0;
	case REL_GE:
		return c >= 0;
	case REL_LT:
		return c < 0;
	case REL_LE:
		return c <= 0;
	case REL_EQ:
		return c == 0;
	case REL_NE:
		return c != 0;
	}
	return 0;
}

struct gtok {
	int kind; /* 0 literal, 1 '*', 2 '?' */
	char c;
};

static int glob(struct sv_matcher *m, const char *s, size_t sn, const char *p,
		size_t pn)
{
	struct gtok *t = sv_alloc(m->a, (pn + 1) * sizeof(*t));
	size_t *cs, *ce, nt = 0, ncap = 0;

	if (t == NULL) {
		m->oom = 1;
		return 0;
	}
	for (size_t i = 0; i < pn; i++) {
		if (p[i] == '\\' && i + 1 < pn) {
			t[nt].kind = 0;
			t[nt++].c = p[++i];
		} else if (p[i] == '*' || p[i] == '?') {
			t[nt++].kind = p[i] == '*' ? 1 : 2;
			ncap++;
		} else {
			t[nt].kind = 0;
			t[nt++].c = p[i];
		}
	}
	/* capture index of each token, start and end of each capture */
	size_t *ci = sv_alloc(m->a, (nt + 1) * sizeof(*ci));

	cs = sv_alloc(m->a, (ncap + 1) * sizeof(*cs));
	ce = sv_alloc(m->a, (ncap + 1) * sizeof(*ce));
	if (ci == NULL || cs == NULL || ce == NULL) {
		m->oom = 1;
		return 0;
	}
	for (size_t i = 0, c = 0; i < nt; i++)
		ci[i] = t[i].kind ? c++ : 0;

	size_t pi = 0, si = 0, star = (size_t)-1, star_si = 0;

	while (si < sn) {
		if (charge(m, 1) < 0)
			return 0;
		if (pi < nt && t[pi].kind == 2) {
			int l = charlen(m, s + si, sn - si);

			cs[ci[pi]] = si;
			ce[ci[pi]] = si + (size_t)l;
			si += (size_t)l;
			pi++;
		} else if (pi < nt && t[pi].kind == 0 &&
			   eqc(m, t[pi].c, s[si])) {
			si++;
			pi++;
		} else if (pi < nt && t[pi].kind == 1) {
			star = pi;
			star_si = si;
			cs[ci[pi]] = ce[ci[pi]] = si;
			pi++;
		} else if (star != (size_t)-1) {
			/* the last star takes one more character */
			star_si +=
				(size_t)charlen(m, s + star_si, sn - star_si);
			ce[ci[star]] = star_si;
			pi = star + 1;
			si = star_si;
		} else {
			return 0;
		}
	}
	while (pi < nt && t[pi].kind == 1) {
		cs[ci[pi]] = ce[ci[pi]] = sn;
		pi++;
	}
	if (pi != nt)
		return 0;
	if (m->want_groups) {
		m->groups[0].p = (char *)s;
		m->groups[0].n = sn;
		m->ngroups = 1;
		for (size_t c = 0; c < ncap && c + 1 < SV_NMATCH; c++) {
			m->groups[c + 1].p = (char *)s + cs[c];
			m->groups[c + 1].n = ce[c] - cs[c];
			m->ngroups = c + 2;
		}
	}
	return 1;
}

int sv_match(struct sv_matcher *m, const char *v, size_t vn, const char *k,
	     size_t kn)
{
	if (step(m) < 0 || charge(m, vn < kn ? vn : kn) < 0)
		return 0;
	if (m->match == M_VALUE)
		return sv_rel_ok(m->rel, sv_compare(m, v, vn, k, kn));
	if (m->match == M_IS)
		return sv_compare(m, v, vn, k, kn) == 0 && !m->oom;
	if (m->cmp == CMP_UNICODE && !m->folded) {
		v = sv_fold(m, v, vn, &vn);
		k = v != NULL ? sv_fold(m, k, kn, &kn) : NULL;
		if (v == NULL || k == NULL) {
			m->oom = 1;
			return 0;
		}
	}
	if (m->match == M_CONTAINS) {
		if (kn == 0)
			return 1;
		for (size_t i = 0; i + kn <= vn; i++) {
			size_t j = 0;

			while (j < kn && eqc(m, v[i + j], k[j]))
				j++;
			if (charge(m, j + 1) < 0)
				return 0;
			if (j == kn)
				return 1;
		}
		return 0;
	}
	return glob(m, v, vn, k, kn);
}
