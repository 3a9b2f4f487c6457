/*
 * The search endpoint's query arguments, after ex_query split and
 * percent-decoded them: every bound is checked here, so the worker
 * never sees an empty, oversized or non-UTF-8 needle or an unbounded
 * page.
 */
#include <string.h>

#include <rmail/core.h>

#include "search_args.h"

/* decimal digits only (no sign, no space), lo..hi */
static int num(const char *s, uint32_t lo, uint32_t hi, uint32_t *v_r)
{
	uint64_t v = 0;
	size_t i;

	if (s == NULL || s[0] == '\0' || strlen(s) > 10)
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v < lo || v > hi)
		return -1;
	*v_r = (uint32_t)v;
	return 0;
}

static int field_of(const char *s)
{
	static const struct {
		const char *name;
		int field;
	} f[] = {
		{"text", RMAIL_INDEX_TEXT},	  {"body", RMAIL_INDEX_BODY},
		{"subject", RMAIL_INDEX_SUBJECT}, {"from", RMAIL_INDEX_FROM},
		{"to", RMAIL_INDEX_TO},		  {"cc", RMAIL_INDEX_CC},
	};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (strcmp(s, f[i].name) == 0)
			return f[i].field;
	return 0;
}

const char *ex_search_args(const char *q, const char *field, const char *limit,
			   const char *before, struct ex_search_args *a)
{
	memset(a, 0, sizeof(*a));
	if (q == NULL || q[0] == '\0')
		return "q is required: a non-empty, percent-encoded UTF-8 "
		       "string";
	a->qlen = strlen(q);
	if (a->qlen > EX_SEARCH_Q_MAX)
		return "q is longer than 256 bytes";
	if (!rmail_utf8_valid(q, a->qlen))
		return "q is not valid UTF-8";
	a->q = q;
	a->field = RMAIL_INDEX_TEXT;
	if (field != NULL && (a->field = field_of(field)) == 0)
		return "field is one of text, body, subject, from, to, cc";
	a->limit = EX_SEARCH_LIMIT_DEFAULT;
	if (limit != NULL && num(limit, 1, EX_SEARCH_LIMIT_MAX, &a->limit) < 0)
		return "1 <= limit <= 200";
	if (before != NULL && num(before, 1, UINT32_MAX, &a->before) < 0)
		return "before is a UID (1 <= before <= 4294967295)";
	return NULL;
}
