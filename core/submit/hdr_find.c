/*
 * Fields by name in a received header block (spam.h's marking field),
 * without the core: the fuzz harness links this file alone.  The header
 * is the sender's: one linear scan that stops at the first empty line.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hdr_find.h"

static bool wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* the end of the line starting at i: past its LF, or len */
static size_t line_end(const char *m, size_t len, size_t i)
{
	const char *lf = memchr(m + i, '\n', len - i);

	return lf != NULL ? (size_t)(lf - m) + 1 : len;
}

/* does the field starting at m[i] carry `name`; *colon_r past ':' */
static bool field_is(const char *m, size_t end, size_t i, const char *name,
		     size_t nl, size_t *colon_r)
{
	if (end - i <= nl || strncasecmp(m + i, name, nl) != 0)
		return false;
	i += nl;
	while (i < end && wsp(m[i]))
		i++;
	if (i >= end || m[i] != ':')
		return false;
	*colon_r = i + 1;
	return true;
}

size_t rm_hdr_find(const char *m, size_t len, const char *name,
		   struct authres_range **out)
{
	size_t i = 0, n = 0, cap = 0, nl = strlen(name);

	*out = NULL;
	while (i < len) {
		size_t start = i, end, colon;

		if (m[i] == '\n' ||
		    (m[i] == '\r' && i + 1 < len && m[i + 1] == '\n'))
			break;
		end = line_end(m, len, i);
		/* its folded lines belong to it */
		while (end < len && wsp(m[end]))
			end = line_end(m, len, end);
		i = end;
		if (nl == 0 || wsp(m[start]) ||
		    !field_is(m, end, start, name, nl, &colon))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 4;
			struct authres_range *nr =
				realloc(*out, cap * sizeof(**out));

			if (nr == NULL)
				abort();
			*out = nr;
		}
		(*out)[n].off = start;
		(*out)[n].len = end - start;
		n++;
	}
	return n;
}

bool rm_hdr_has_value(const char *m, size_t len, const char *name,
		      const char *value)
{
	struct authres_range *r = NULL;
	size_t n = rm_hdr_find(m, len, name, &r), nl = strlen(name);
	size_t vl = strlen(value);
	bool found = false;

	for (size_t k = 0; k < n && !found; k++) {
		size_t colon = r[k].off, end = r[k].off + r[k].len;
		const char *v, *e = m + end;

		/* true: rm_hdr_find matched it */
		(void)field_is(m, end, r[k].off, name, nl, &colon);
		v = m + colon;
		while (v < e && (wsp(*v) || *v == '\r' || *v == '\n'))
			v++;
		while (e > v && (wsp(e[-1]) || e[-1] == '\r' || e[-1] == '\n'))
			e--;
		found = (size_t)(e - v) == vl && strncasecmp(v, value, vl) == 0;
	}
	free(r);
	return found;
}
