/*
 * The tag=value record split shared by the DMARC, MTA-STS and TLS-RPT
 * record parsers.  Input from DNS, so from anyone: bounded by len, and
 * a NUL byte is an ordinary (non-white) byte.
 */
#include <string.h>

#include "tagval.h"

bool rm_tv_is_ws(char c, bool fold)
{
	return c == ' ' || c == '\t' || (fold && (c == '\r' || c == '\n'));
}

struct rm_span rm_span_trim(const char *p, size_t n, bool fold)
{
	while (n > 0 && rm_tv_is_ws(*p, fold)) {
		p++;
		n--;
	}
	while (n > 0 && rm_tv_is_ws(p[n - 1], fold))
		n--;
	return (struct rm_span){p, n};
}

bool rm_span_is(struct rm_span s, const char *lit)
{
	return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

bool rm_tv_ext_name_ok(struct rm_span k)
{
	if (k.n == 0 || k.n > 32 || !is_alnum(k.p[0]))
		return false;
	for (size_t i = 1; i < k.n; i++)
		if (!is_alnum(k.p[i]) &&
		    (k.p[i] == '\0' || strchr("_-.", k.p[i]) == NULL))
			return false;
	return true;
}

bool rm_tv_ext_value_ok(struct rm_span v)
{
	if (v.n == 0)
		return false;
	for (size_t i = 0; i < v.n; i++) {
		unsigned char c = (unsigned char)v.p[i];

		if (c < 0x21 || c > 0x7e || c == ';' || c == '=')
			return false;
	}
	return true;
}

void rm_tv_init(struct rm_tv_iter *it, const char *s, size_t len, bool fold)
{
	*it = (struct rm_tv_iter){.s = s, .len = len, .fold = fold};
}

bool rm_tv_next(struct rm_tv_iter *it, struct rm_tv_field *fld)
{
	const char *semi, *eq;
	size_t end;

	if (it->done)
		return false;
	semi = memchr(it->s + it->pos, ';', it->len - it->pos);
	end = semi != NULL ? (size_t)(semi - it->s) : it->len;
	memset(fld, 0, sizeof(*fld));
	fld->f = rm_span_trim(it->s + it->pos, end - it->pos, it->fold);
	fld->last = semi == NULL;
	if (fld->last)
		it->done = true;
	else
		it->pos = end + 1;
	eq = fld->f.n > 0 ? memchr(fld->f.p, '=', fld->f.n) : NULL;
	if (eq != NULL) {
		fld->has_eq = true;
		fld->k = (struct rm_span){fld->f.p, (size_t)(eq - fld->f.p)};
		fld->v = (struct rm_span){eq + 1, fld->f.n - fld->k.n - 1};
	}
	return true;
}
