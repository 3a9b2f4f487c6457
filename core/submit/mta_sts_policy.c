/*
 * The MTA-STS parsers (RFC 8461 §3.1, §3.2) and the MX match (§4.1).
 * Both inputs come from the receiving domain, so from anyone: one pass,
 * no allocation, every copy bounded, NUL bytes refused.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "submit/mta_sts.h"
#include "tagval.h"

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* RFC 5321 Domain: labels of letters, digits and inner hyphens, each at
 * most 63 bytes; copied in lower case.  A single trailing dot is
 * tolerated (and dropped) though the grammar has none. */
static bool domain_copy(struct rm_span s, char *out, size_t outsz)
{
	size_t label = 0;

	if (s.n > 0 && s.p[s.n - 1] == '.')
		s.n--;
	if (s.n == 0 || s.n >= outsz || s.n > 253)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		char c = s.p[i];

		if (c == '.') {
			if (label == 0 || s.p[i - 1] == '-')
				return false;
			label = 0;
		} else if (is_alnum(c) || (c == '-' && label > 0)) {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
		out[i] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
	}
	if (label == 0 || s.p[s.n - 1] == '-')
		return false;
	out[s.n] = '\0';
	return true;
}

static bool mx_pattern(struct rm_span v, char out[RM_STS_HOST_MAX])
{
	if (v.n > 2 && v.p[0] == '*' && v.p[1] == '.') {
		out[0] = '*';
		out[1] = '.';
		return domain_copy((struct rm_span){v.p + 2, v.n - 2}, out + 2,
				   RM_STS_HOST_MAX - 2);
	}
	return domain_copy(v, out, RM_STS_HOST_MAX);
}

/* 1*10 DIGIT, cut to the §3.2 maximum */
static bool max_age_of(struct rm_span v, uint32_t *out)
{
	uint64_t x = 0;

	if (v.n == 0 || v.n > 10)
		return false;
	for (size_t i = 0; i < v.n; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(v.p[i] - '0');
	}
	*out = x > RM_STS_MAX_AGE_MAX ? RM_STS_MAX_AGE_MAX : (uint32_t)x;
	return true;
}

/* one "key: value" line; 0, or -1 when the policy is invalid */
static int policy_line(struct rm_span line, struct rm_sts_policy *out,
		       unsigned *seen)
{
	const char *colon = memchr(line.p, ':', line.n);
	struct rm_span k, v;

	if (colon == NULL)
		return -1;
	k = (struct rm_span){line.p, (size_t)(colon - line.p)};
	v = rm_span_trim(colon + 1, line.n - k.n - 1, false);
	if (!rm_tv_ext_name_ok(k))
		return -1;
	for (size_t i = 0; i < v.n; i++)
		if ((unsigned char)v.p[i] < 0x20 && !rm_tv_is_ws(v.p[i], false))
			return -1;
	if (rm_span_is(k, "version")) {
		if ((*seen & 1) || !rm_span_is(v, "STSv1"))
			return -1;
		*seen |= 1;
	} else if (rm_span_is(k, "mode")) {
		if (*seen & 2)
			return -1;
		*seen |= 2;
		if (rm_span_is(v, "enforce"))
			out->mode = RM_STS_ENFORCE;
		else if (rm_span_is(v, "testing"))
			out->mode = RM_STS_TESTING;
		else if (rm_span_is(v, "none"))
			out->mode = RM_STS_NONE;
		else
			return -1;
	} else if (rm_span_is(k, "max_age")) {
		if ((*seen & 4) || !max_age_of(v, &out->max_age))
			return -1;
		*seen |= 4;
	} else if (rm_span_is(k, "mx")) {
		if (out->nmx >= RM_STS_MX_MAX ||
		    !mx_pattern(v, out->mx[out->nmx]))
			return -1;
		out->nmx++;
	}
	/* other keys: extensions, ignored (§3.2) */
	return 0;
}

int rm_sts_policy_parse(const char *text, size_t len, struct rm_sts_policy *out)
{
	unsigned seen = 0;
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	if (len > RM_STS_BODY_MAX || memchr(text, '\0', len) != NULL)
		return -1;
	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t end = nl != NULL ? (size_t)(nl - text) : len;
		struct rm_span line = {text + i, end - i};

		if (line.n > 0 && line.p[line.n - 1] == '\r')
			line.n--;
		/* blank lines (a trailing one is common) carry nothing */
		if (rm_span_trim(line.p, line.n, false).n > 0 &&
		    policy_line(line, out, &seen) < 0)
			return -1;
		i = end + 1;
	}
	if (seen != 7)
		return -1;
	if (out->mode != RM_STS_NONE && out->nmx == 0)
		return -1;
	return 0;
}

int rm_sts_txt_parse(const char *txt, size_t len, char id_out[RM_STS_ID_MAX])
{
	struct rm_tv_iter it;
	struct rm_tv_field fld;
	bool first = true, have_id = false;

	id_out[0] = '\0';
	/* "records that do not begin with v=STSv1; are discarded" */
	if (len < 7 || memcmp(txt, "v=STSv1", 7) != 0)
		return 1;
	if (len > 7 && txt[7] != ';' && !rm_tv_is_ws(txt[7], false))
		return 1;
	rm_tv_init(&it, txt, len, false);
	while (rm_tv_next(&it, &fld)) {
		struct rm_span f = fld.f, k = fld.k, v = fld.v;

		if (f.n == 0) {
			/* only a final ";" may leave an empty field */
			if (!fld.last || first)
				return -1;
			break;
		}
		if (!fld.has_eq)
			return -1;
		if (first) {
			if (!rm_span_is(f, "v=STSv1"))
				return -1;
			first = false;
			continue;
		}
		if (rm_span_is(k, "id")) {
			if (have_id || v.n == 0 || v.n >= RM_STS_ID_MAX)
				return -1;
			for (size_t j = 0; j < v.n; j++)
				if (!is_alnum(v.p[j]))
					return -1;
			memcpy(id_out, v.p, v.n);
			id_out[v.n] = '\0';
			have_id = true;
		} else if (!rm_tv_ext_name_ok(k) || !rm_tv_ext_value_ok(v)) {
			return -1;
		}
	}
	return have_id ? 0 : -1;
}

bool rm_mta_sts_mx_match(const struct rm_sts_policy *p, const char *mx)
{
	size_t n;

	if (p == NULL || mx == NULL)
		return false;
	n = strlen(mx);
	if (n > 0 && mx[n - 1] == '.')
		n--;
	if (n == 0)
		return false;
	for (size_t i = 0; i < p->nmx; i++) {
		const char *pat = p->mx[i];
		size_t pn = strlen(pat);

		if (pat[0] == '*' && pat[1] == '.') {
			/* "*.example.com": one more label, and only one */
			const char *dot = memchr(mx, '.', n);

			if (dot != NULL && dot > mx &&
			    (size_t)(mx + n - dot) == pn - 1 &&
			    strncasecmp(dot, pat + 1, pn - 1) == 0)
				return true;
		} else if (pn == n && strncasecmp(mx, pat, n) == 0) {
			return true;
		}
	}
	return false;
}

const char *rm_sts_mode_name(int mode)
{
	switch (mode) {
	case RM_STS_ENFORCE:
		return "enforce";
	case RM_STS_TESTING:
		return "testing";
	default:
		return "none";
	}
}
