/* Sequence sets: parse, normalise (sort, merge), resolve "*". */
#include <stdlib.h>

#include "imap_seqset.h"

static int parse_num(const char *s, size_t len, size_t *i, uint32_t *n_r,
		     const char **error_r)
{
	uint64_t v = 0;
	size_t start = *i;

	if (*i < len && s[*i] == '*') {
		(*i)++;
		*n_r = IMAP_SEQ_STAR;
		return 0;
	}
	if (*i < len && s[*i] == '$') {
		*error_r = "$ must be the whole sequence set";
		return -1;
	}
	while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
		v = v * 10 + (uint64_t)(s[*i] - '0');
		if (v > UINT32_MAX) {
			*error_r = "Number too large in sequence set";
			return -1;
		}
		(*i)++;
	}
	if (*i == start) {
		*error_r = "Invalid sequence set";
		return -1;
	}
	if (s[start] == '0') {
		*error_r = v == 0 ? "Sequence number 0 is invalid"
				  : "Invalid sequence set";
		return -1;
	}
	*n_r = (uint32_t)v;
	return 0;
}

/* the order of a parsed set: "*" after every number */
static uint64_t key(uint32_t v)
{
	return v == IMAP_SEQ_STAR ? (uint64_t)UINT32_MAX + 1 : v;
}

static int range_cmp(const void *a, const void *b)
{
	const struct imap_seq_range *x = a, *y = b;

	if (x->lo != y->lo)
		return key(x->lo) < key(y->lo) ? -1 : 1;
	return key(x->hi) < key(y->hi) ? -1 : key(x->hi) > key(y->hi);
}

/* Sort and merge overlapping or touching ranges in place. */
static unsigned int normalise(struct imap_seq_range *r, unsigned int n)
{
	unsigned int i, out = 0;

	if (n == 0)
		return 0;
	qsort(r, n, sizeof(*r), range_cmp);
	for (i = 1; i < n; i++) {
		if (key(r[i].lo) <= key(r[out].hi) + 1) {
			if (key(r[i].hi) > key(r[out].hi))
				r[out].hi = r[i].hi;
		} else {
			r[++out] = r[i];
		}
	}
	return out + 1;
}

int imap_seqset_parse(const char *s, size_t len, struct imap_arena *a,
		      struct imap_seqset *set_r, const char **error_r)
{
	struct imap_seq_range *r;
	unsigned int n = 1, k = 0;
	uint32_t x, y;
	size_t i;

	*set_r = (struct imap_seqset){0};
	if (len == 0) {
		*error_r = "Empty sequence set";
		return -1;
	}
	if (len == 1 && s[0] == '$') {
		set_r->saved = 1;
		return 0;
	}
	for (i = 0; i < len; i++) {
		if (s[i] == ',')
			n++;
	}
	r = imap_arena_alloc(a, (size_t)n * sizeof(*r));
	if (r == NULL) {
		*error_r = "Sequence set too large";
		return -1;
	}
	for (i = 0;;) {
		if (parse_num(s, len, &i, &x, error_r) < 0)
			return -1;
		y = x;
		if (i < len && s[i] == ':') {
			i++;
			if (parse_num(s, len, &i, &y, error_r) < 0)
				return -1;
		}
		if (x != IMAP_SEQ_STAR && x > set_r->max_num)
			set_r->max_num = x;
		if (y != IMAP_SEQ_STAR && y > set_r->max_num)
			set_r->max_num = y;
		if (x == IMAP_SEQ_STAR || y == IMAP_SEQ_STAR)
			set_r->has_star = 1;
		r[k].lo = key(x) < key(y) ? x : y;
		r[k].hi = key(x) < key(y) ? y : x;
		k++;
		if (i == len)
			break;
		if (s[i] != ',') {
			*error_r = "Invalid sequence set";
			return -1;
		}
		i++;
	}
	set_r->r = r;
	set_r->n = normalise(r, k);
	return 0;
}

int imap_seqset_is_syntax(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '*' ||
		      s[i] == ':' || s[i] == ',' || s[i] == '$'))
			return 0;
	}
	return 1;
}

int imap_seqset_resolve(const struct imap_seqset *set, uint32_t max,
			struct imap_arena *a, struct imap_seqset *set_r)
{
	struct imap_seq_range *r;
	unsigned int i, k = 0;

	*set_r = (struct imap_seqset){.max_num = set->max_num};
	if (set->n == 0 || max == 0)
		return 0;
	r = imap_arena_alloc(a, (size_t)set->n * sizeof(*r));
	if (r == NULL)
		return -1;
	for (i = 0; i < set->n; i++) {
		uint32_t lo = set->r[i].lo, hi = set->r[i].hi;

		if (lo == IMAP_SEQ_STAR)
			lo = max;
		if (hi == IMAP_SEQ_STAR)
			hi = max;
		if (lo > hi) {
			uint32_t t = lo;

			lo = hi;
			hi = t;
		}
		if (lo > max)
			continue;
		r[k].lo = lo;
		r[k].hi = hi > max ? max : hi;
		k++;
	}
	set_r->r = r;
	set_r->n = normalise(r, k);
	return 0;
}

int imap_seqset_contains(const struct imap_seqset *set, uint32_t n)
{
	unsigned int lo = 0, hi = set->n;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (n < set->r[mid].lo)
			hi = mid;
		else if (n > set->r[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

uint64_t imap_seqset_count(const struct imap_seqset *set)
{
	uint64_t total = 0;
	unsigned int i;

	for (i = 0; i < set->n; i++)
		total += (uint64_t)set->r[i].hi - set->r[i].lo + 1;
	return total;
}
