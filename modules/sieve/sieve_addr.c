/* Addresses for the address/envelope tests: a lenient RFC 5322
 * address-list splitter (quotes, comments, angle brackets, groups) and
 * the address parts of RFC 5228 2.7.4 and RFC 5233 (:user, :detail). */
#include <string.h>

#include "sieve_int.h"

/* one element [b, e) of the list: its addr-spec */
static int element(struct sv_arena *a, const char *b, const char *e,
		   struct sv_addr *out)
{
	const char *lt = NULL, *gt = NULL;
	int q = 0, depth = 0;
	char *d;
	size_t n = 0;

	for (const char *p = b; p < e; p++) {
		if (q) {
			if (*p == '\\' && p + 1 < e)
				p++;
			else if (*p == '"')
				q = 0;
		} else if (depth > 0) {
			if (*p == '\\' && p + 1 < e)
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')')
				depth--;
		} else if (*p == '"') {
			q = 1;
		} else if (*p == '(') {
			depth = 1;
		} else if (*p == '<' && lt == NULL) {
			lt = p;
		} else if (*p == '>' && lt != NULL && gt == NULL) {
			gt = p;
		}
	}
	if (lt != NULL) {
		b = lt + 1;
		e = gt != NULL ? gt : e;
		/* obsolete route "@a,@b:" */
		if (b < e && *b == '@') {
			const char *c = memchr(b, ':', (size_t)(e - b));

			if (c != NULL)
				b = c + 1;
		}
	}
	d = sv_alloc(a, (size_t)(e - b) + 1);
	if (d == NULL)
		return -1;
	q = 0;
	depth = 0;
	for (const char *p = b; p < e; p++) {
		if (q) {
			d[n++] = *p;
			if (*p == '\\' && p + 1 < e)
				d[n++] = *++p;
			else if (*p == '"')
				q = 0;
		} else if (depth > 0) {
			if (*p == '\\' && p + 1 < e)
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')')
				depth--;
		} else if (*p == '(') {
			depth = 1;
		} else if (*p == ' ' || *p == '\t' || *p == '\r' ||
			   *p == '\n') {
			continue;
		} else {
			if (*p == '"')
				q = 1;
			d[n++] = *p;
		}
	}
	d[n] = '\0';
	out->p = d;
	out->n = n;
	return n > 0;
}

size_t sv_addr_list(struct sv_arena *a, const char *s, size_t n,
		    struct sv_addr *out, size_t max)
{
	const char *b = s, *e = s + n;
	size_t cnt = 0;
	int q = 0, depth = 0, angle = 0;

	for (const char *p = s; p <= e && cnt < max; p++) {
		int end = p == e;

		if (!end) {
			if (q) {
				if (*p == '\\' && p + 1 < e)
					p++;
				else if (*p == '"')
					q = 0;
				continue;
			}
			if (depth > 0) {
				if (*p == '\\' && p + 1 < e)
					p++;
				else if (*p == '(')
					depth++;
				else if (*p == ')')
					depth--;
				continue;
			}
			if (*p == '"')
				q = 1;
			else if (*p == '(')
				depth = 1;
			else if (*p == '<')
				angle = 1;
			else if (*p == '>')
				angle = 0;
			else if (*p == ':' && !angle) {
				b = p + 1; /* a group's display name */
				continue;
			}
			if (angle || (*p != ',' && *p != ';'))
				continue;
		}
		int r = element(a, b, p, &out[cnt]);

		if (r < 0)
			break;
		if (r > 0)
			cnt++;
		b = p + 1;
		angle = 0;
	}
	return cnt;
}

int sv_addr_part(enum sv_apart ap, const char *s, size_t n, const char **p_r,
		 size_t *n_r)
{
	const char *at = NULL, *plus;
	size_t ln;

	for (size_t i = n; i > 0; i--)
		if (s[i - 1] == '@') {
			at = s + i - 1;
			break;
		}
	ln = at != NULL ? (size_t)(at - s) : n;
	switch (ap) {
	case AP_ALL:
		*p_r = s;
		*n_r = n;
		return 1;
	case AP_DOMAIN:
		*p_r = at != NULL ? at + 1 : s + n;
		*n_r = at != NULL ? n - ln - 1 : 0;
		return 1;
	case AP_LOCAL:
		*p_r = s;
		*n_r = ln;
		return 1;
	case AP_USER:
		plus = memchr(s, '+', ln);
		*p_r = s;
		*n_r = plus != NULL ? (size_t)(plus - s) : ln;
		return 1;
	case AP_DETAIL:
		plus = memchr(s, '+', ln);
		if (plus == NULL)
			return 0;
		*p_r = plus + 1;
		*n_r = ln - (size_t)(plus - s) - 1;
		return 1;
	}
	return 0;
}
