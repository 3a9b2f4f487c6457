/*
 * Spam into Junk (spam.h): finding the marking field in a header block,
 * removing the client's copies, reading the filters' verdict and the
 * recipient's opt-out.  The header is the sender's: the scan is linear
 * and stops at the first empty line.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "spam.h"
#include "submit_int.h"

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
			*out = rm_xrealloc(*out, cap * sizeof(**out));
		}
		(*out)[n].off = start;
		(*out)[n].len = end - start;
		n++;
	}
	return n;
}

int rm_spam_strip_fd(int in_fd, int *out_fd_r, size_t max_header,
		     size_t *removed_r)
{
	const struct rm_config *c = rm_conf();
	struct authres_range *r = NULL;
	char *b;
	ssize_t got;
	size_t n;
	int fd;

	*removed_r = 0;
	*out_fd_r = -1;
	if (c == NULL || c->spam.header == NULL)
		return 0;
	b = rm_xmalloc(max_header);
	got = rm_pread_all(in_fd, b, max_header, 0);
	if (got < 0) {
		free(b);
		return -1;
	}
	n = rm_hdr_find(b, (size_t)got, c->spam.header, &r);
	free(b);
	if (n == 0)
		return 0;
	fd = memfd_create("rmail-spool", MFD_CLOEXEC);
	if (fd < 0 || authres_copy_without(in_fd, fd, r, n) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		free(r);
		errno = e;
		return -1;
	}
	free(r);
	*out_fd_r = fd;
	*removed_r = n;
	return 0;
}

bool rm_spam_verdict(const char *lines)
{
	const struct rm_config *c = rm_conf();
	struct authres_range *r = NULL;
	size_t n, len = lines != NULL ? strlen(lines) : 0;
	bool spam = false;

	if (c == NULL || c->spam.header == NULL || len == 0)
		return false;
	n = rm_hdr_find(lines, len, c->spam.header, &r);
	for (size_t k = 0; k < n && !spam; k++) {
		const char *v, *e = lines + r[k].off + r[k].len;
		size_t colon = r[k].off;

		/* true: rm_hdr_find matched it */
		(void)field_is(lines, r[k].off + r[k].len, r[k].off,
			       c->spam.header, strlen(c->spam.header), &colon);
		v = lines + colon;
		while (v < e && (wsp(*v) || *v == '\r' || *v == '\n'))
			v++;
		while (e > v && (wsp(e[-1]) || e[-1] == '\r' || e[-1] == '\n'))
			e--;
		spam = (size_t)(e - v) == strlen(c->spam.value) &&
		       strncasecmp(v, c->spam.value, (size_t)(e - v)) == 0;
	}
	free(r);
	return spam;
}

bool rm_spam_wants_junk(const char *user)
{
	void *h;
	const struct rmail_store_ops *ops = rm_store(&h);
	struct rmail_err err;
	char v[16];

	if (ops == NULL ||
	    !RMAIL_HAS(ops, struct rmail_store_ops, user_setting_get) ||
	    ops->user_setting_get == NULL)
		return true;
	rmail_err_clear(&err);
	if (ops->user_setting_get(h, user, "spam_to_junk", v, sizeof(v),
				  &err) <= 0)
		return true;
	return strcasecmp(v, "no") != 0;
}
