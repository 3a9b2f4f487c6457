/*
 * Finding the Authentication-Results fields that claim rmail's
 * authserv-id (RFC 8601 §5: "MUST remove" them) in a received header
 * block, and copying the message without them.  The header is the
 * sender's: the scan is linear, allocation bounded by the number of
 * fields, and the id comparison is generous (a field a lenient reader
 * could take as ours is removed too).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mailauth/authres.h"
#include "rm.h"

#define NAME "Authentication-Results"
#define COMMENT_DEPTH 64

static bool wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* past white space and (nested) comments; bounded nesting, an
 * unterminated comment runs to the end */
static size_t skip_cfws(const char *v, size_t len, size_t i)
{
	while (i < len) {
		if (wsp(v[i])) {
			i++;
			continue;
		}
		if (v[i] != '(')
			break;
		int depth = 0;

		for (; i < len; i++) {
			if (v[i] == '\\' && i + 1 < len)
				i++;
			else if (v[i] == '(') {
				if (++depth > COMMENT_DEPTH)
					return len;
			} else if (v[i] == ')' && --depth == 0) {
				i++;
				break;
			}
		}
	}
	return i;
}

static bool token_char(unsigned char c)
{
	return c > ' ' && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

int authres_parse_id(const char *v, size_t len, char *id, size_t sz)
{
	size_t i = skip_cfws(v, len, 0), o = 0;

	if (sz == 0)
		return -1;
	if (i < len && v[i] == '"') {
		for (i++; i < len && v[i] != '"'; i++) {
			if (v[i] == '\\' && i + 1 < len)
				i++;
			if (v[i] == '\r' || v[i] == '\n' || v[i] == '\t')
				continue; /* folding inside the string */
			if ((unsigned char)v[i] < ' ' || v[i] == 0x7f)
				return -1; /* no id holds controls */
			if (o + 1 >= sz)
				return -1;
			id[o++] = v[i];
		}
	} else {
		for (; i < len && token_char((unsigned char)v[i]); i++) {
			if (o + 1 >= sz)
				return -1;
			id[o++] = v[i];
		}
	}
	/* "host." and "host" name the same authserv */
	if (o > 0 && id[o - 1] == '.')
		o--;
	id[o] = '\0';
	return o > 0 ? 0 : -1;
}

static bool same_id(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

/* the end of the line starting at i: past its LF, or len */
static size_t line_end(const char *m, size_t len, size_t i)
{
	const char *lf = memchr(m + i, '\n', len - i);

	return lf != NULL ? (size_t)(lf - m) + 1 : len;
}

size_t authres_find_ours(const char *m, size_t len, const char *ours,
			 struct authres_range **out)
{
	size_t i = 0, n = 0, cap = 0;

	*out = NULL;
	while (i < len) {
		size_t start = i, end, colon, nl = sizeof(NAME) - 1;
		char id[256];

		/* the empty line ends the header block */
		if (m[i] == '\n' ||
		    (m[i] == '\r' && i + 1 < len && m[i + 1] == '\n'))
			break;
		end = line_end(m, len, i);
		while (end < len && (m[end] == ' ' || m[end] == '\t'))
			end = line_end(m, len, end);
		i = end;
		/* name, optional WSP (obsolete syntax), colon */
		if (end - start <= nl || strncasecmp(m + start, NAME, nl) != 0)
			continue;
		colon = start + nl;
		while (colon < end && (m[colon] == ' ' || m[colon] == '\t'))
			colon++;
		if (colon >= end || m[colon] != ':')
			continue;
		if (authres_parse_id(m + colon + 1, end - colon - 1, id,
				     sizeof(id)) < 0 ||
		    !same_id(id, ours))
			continue;
		if (n == cap) {
			struct authres_range *r;

			cap = cap ? cap * 2 : 4;
			r = realloc(*out, cap * sizeof(**out));
			if (r == NULL)
				abort();
			*out = r;
		}
		(*out)[n].off = start;
		(*out)[n].len = end - start;
		n++;
	}
	return n;
}

int authres_copy_without(int in_fd, int out_fd, const struct authres_range *r,
			 size_t n)
{
	char buf[65536];
	off_t pos = 0;
	size_t k = 0;

	for (;;) {
		ssize_t got = pread(in_fd, buf, sizeof(buf), pos);
		size_t b = 0;

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -1;
		if (got == 0)
			return 0;
		/* write the parts of [pos, pos+got) outside every range */
		while (b < (size_t)got) {
			size_t at = (size_t)pos + b, stop = (size_t)got;

			while (k < n && r[k].off + r[k].len <= at)
				k++;
			if (k < n && r[k].off <= at) {
				b = r[k].off + r[k].len - (size_t)pos;
				continue;
			}
			if (k < n && r[k].off - (size_t)pos < stop)
				stop = r[k].off - (size_t)pos;
			if (rm_write_all(out_fd, buf + b, stop - b) < 0)
				return -1;
			b = stop;
		}
		pos += got;
	}
}

int authres_strip_fd(int in_fd, int out_fd, const char *ours, size_t max_header,
		     size_t *removed_r)
{
	char *h = malloc(max_header > 0 ? max_header : 1);
	struct authres_range *r = NULL;
	size_t got = 0, n;
	bool ended = false;
	int rc;

	*removed_r = 0;
	if (h == NULL)
		return -1;
	while (got < max_header) {
		ssize_t k = pread(in_fd, h + got, max_header - got, (off_t)got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			free(h);
			return -1;
		}
		if (k == 0)
			break;
		got += (size_t)k;
		/* stop reading at the end of the header block */
		if (memmem(h, got, "\n\r\n", 3) != NULL ||
		    memmem(h, got, "\n\n", 2) != NULL) {
			ended = true;
			break;
		}
	}
	if (got < max_header)
		ended = true; /* the whole file: nothing continues */
	n = authres_find_ours(h, got, ours, &r);
	free(h);
	/* a field reaching the end of what was read may go on past it:
	 * removing its first part would leave the rest dangling */
	if (!ended && n > 0 && r[n - 1].off + r[n - 1].len == got)
		n--;
	rc = authres_copy_without(in_fd, out_fd, r, n);
	free(r);
	if (rc == 0)
		*removed_r = n;
	return rc;
}
