/*
 * A filter's header and body edits (filter.h, ABI 1.4) applied to the
 * spooled message.  The spool is never edited in place: the header
 * block (the core's prepended lines + the message's own fields) is
 * parsed into a list of fields, edited, and written with the body --
 * the original one copied with sendfile, or the replacement -- into a
 * fresh memfd that becomes the spool.  Indexes are the filter's view:
 * the prepended lines count, as they were sent to it.  [worker]
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "filter_sess.h"

#define HDR_MAX (8u << 20)

struct field {
	char *name; /* malloc'd, NULL = deleted */
	char *raw;  /* the whole field with its CRLFs, malloc'd */
};

struct fields {
	struct field *v;
	size_t n, cap;
};

static char *dupn(const char *s, size_t n)
{
	char *o = rm_xmalloc(n + 1);

	memcpy(o, s, n);
	o[n] = '\0';
	return o;
}

static void fields_insert(struct fields *f, size_t at, char *name, char *raw)
{
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 32;
		f->v = rm_xrealloc(f->v, f->cap * sizeof(*f->v));
	}
	if (at > f->n)
		at = f->n;
	memmove(f->v + at + 1, f->v + at, (f->n - at) * sizeof(*f->v));
	f->v[at].name = name;
	f->v[at].raw = raw;
	f->n++;
}

static void fields_free(struct fields *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].name);
		free(f->v[i].raw);
	}
	free(f->v);
}

/* fields of a header block (ends at the blank line or the end) */
static void parse_fields(struct fields *f, const char *p, size_t len)
{
	const char *end = p + len;

	while (p < end) {
		const char *s = p, *colon;
		size_t n;

		if (*p == '\r' || *p == '\n')
			break;
		/* the field runs to the first line not starting with WSP */
		do {
			const char *lf = memchr(p, '\n', (size_t)(end - p));

			p = lf != NULL ? lf + 1 : end;
		} while (p < end && (*p == ' ' || *p == '\t'));
		n = (size_t)(p - s);
		colon = memchr(s, ':', n);
		fields_insert(f, f->n,
			      dupn(s, colon != NULL ? (size_t)(colon - s) : 0),
			      dupn(s, n));
	}
}

/* "Name: value" with every line ending CRLF, whatever the filter sent */
static char *make_field(const char *name, const char *value)
{
	size_t nl = strlen(name), vl = value != NULL ? strlen(value) : 0;
	char *o = rm_xmalloc(nl + 2 + vl * 2 + 3), *q = o;

	memcpy(q, name, nl);
	q += nl;
	*q++ = ':';
	/* a value that brings its own leading white space (a milter with
	 * SMFIP_HDR_LEADSPC, a signature computed over it) keeps it */
	if (vl == 0 || (value[0] != ' ' && value[0] != '\t'))
		*q++ = ' ';
	for (size_t i = 0; i < vl; i++) {
		if (value[i] == '\r')
			continue;
		if (value[i] == '\n') {
			*q++ = '\r';
			*q++ = '\n';
			/* a continuation line must start with WSP */
			if (i + 1 < vl && value[i + 1] != ' ' &&
			    value[i + 1] != '\t')
				*q++ = '\t';
			continue;
		}
		*q++ = value[i];
	}
	*q++ = '\r';
	*q++ = '\n';
	*q = '\0';
	return o;
}

static bool name_ok(const char *name)
{
	size_t n = name != NULL ? strlen(name) : 0;

	if (n == 0 || n > 200)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] <= 32 ||
		    (unsigned char)name[i] >= 127 || name[i] == ':')
			return false;
	return true;
}

static void apply_one(struct fields *f, const struct rmail_filter_edit *e)
{
	size_t i, nth = 0;

	switch (e->op) {
	case RMAIL_FEDIT_ADD_HEADER:
		if (name_ok(e->name))
			fields_insert(f, f->n, rm_xstrdup(e->name),
				      make_field(e->name, e->value));
		return;
	case RMAIL_FEDIT_INSERT_HEADER:
		if (name_ok(e->name))
			fields_insert(f, e->index, rm_xstrdup(e->name),
				      make_field(e->name, e->value));
		return;
	case RMAIL_FEDIT_CHANGE_HEADER:
		if (!name_ok(e->name))
			return;
		for (i = 0; i < f->n; i++) {
			if (f->v[i].name == NULL ||
			    strcasecmp(f->v[i].name, e->name) != 0)
				continue;
			if (++nth != (e->index ? e->index : 1))
				continue;
			free(f->v[i].raw);
			if (e->value == NULL || e->value[0] == '\0') {
				free(f->v[i].name);
				f->v[i].name = NULL;
				f->v[i].raw = NULL;
			} else {
				f->v[i].raw = make_field(e->name, e->value);
			}
			return;
		}
		/* sendmail's rule: changing a field that is not there adds it
		 */
		if (e->value != NULL && e->value[0] != '\0')
			fields_insert(f, f->n, rm_xstrdup(e->name),
				      make_field(e->name, e->value));
		return;
	default:
		return;
	}
}

bool rm_msg_edits_content(const struct rmail_filter_edit *edits, size_t nedits)
{
	for (size_t i = 0; i < nedits; i++)
		if (edits[i].op >= RMAIL_FEDIT_ADD_HEADER &&
		    edits[i].op <= RMAIL_FEDIT_REPLACE_BODY)
			return true;
	return false;
}

static int write_all(int fd, const void *p, size_t n)
{
	return rm_write_all(fd, p, n) < 0 ? -1 : 0;
}

/* the body replacement with bare LFs made CRLF (the store refuses them) */
static int write_body(int fd, const char *b, size_t n)
{
	size_t s = 0;

	for (size_t i = 0; i < n; i++) {
		if (b[i] != '\n' || (i > 0 && b[i - 1] == '\r'))
			continue;
		if (write_all(fd, b + s, i - s) < 0 ||
		    write_all(fd, "\r", 1) < 0)
			return -1;
		s = i;
	}
	return write_all(fd, b + s, n - s);
}

int rm_msg_edit(const char *prepend, int fd, uint64_t size,
		const struct rmail_filter_edit *edits, size_t nedits,
		uint64_t *size_r, struct rmail_err *err)
{
	size_t plen = strlen(prepend), hcap = 65536, hlen = 0, i;
	char *h = rm_xmalloc(hcap + plen + 1);
	uint64_t body_off = size;
	struct fields f = {0};
	const struct rmail_filter_edit *body = NULL;
	int out = -1;
	off_t off;

	/* the header block: up to the first empty line */
	memcpy(h, prepend, plen);
	hlen = plen;
	for (;;) {
		ssize_t got;
		char *eoh;

		if (hlen - plen >= size)
			break;
		if (hlen + 65536 > hcap + plen) {
			if (hcap >= HDR_MAX) {
				rmail_err_set(err, RMAIL_E_TOOBIG,
					      "header block over %u bytes",
					      HDR_MAX);
				goto fail;
			}
			hcap *= 2;
			h = rm_xrealloc(h, hcap + plen + 1);
		}
		got = rm_pread_all(fd, h + hlen, 65536, (off_t)(hlen - plen));
		if (got < 0) {
			rmail_err_set(err, RMAIL_E_IO, "read: %s",
				      strerror(errno));
			goto fail;
		}
		if (got == 0)
			break;
		hlen += (size_t)got;
		h[hlen] = '\0';
		/* a message starting with its blank line has no fields */
		if (hlen - plen >= 2 && memcmp(h + plen, "\r\n", 2) == 0) {
			body_off = 2;
			hlen = plen;
			break;
		}
		eoh = memmem(h + plen, hlen - plen, "\r\n\r\n", 4);
		if (eoh != NULL) {
			body_off = (uint64_t)(eoh - (h + plen)) + 4;
			hlen = (size_t)(eoh - h) + 2;
			break;
		}
	}
	if (body_off > size)
		body_off = size;
	if (body_off == size)
		hlen = plen + (size_t)size;
	parse_fields(&f, h, hlen);
	for (i = 0; i < nedits; i++) {
		if (edits[i].op == RMAIL_FEDIT_REPLACE_BODY)
			body = &edits[i];
		else
			apply_one(&f, &edits[i]);
	}
	out = memfd_create("rmail-edit", MFD_CLOEXEC);
	if (out < 0) {
		rmail_err_set(err, RMAIL_E_IO, "memfd: %s", strerror(errno));
		goto fail;
	}
	for (i = 0; i < f.n; i++) {
		if (f.v[i].raw == NULL)
			continue;
		if (write_all(out, f.v[i].raw, strlen(f.v[i].raw)) < 0)
			goto io;
	}
	if (write_all(out, "\r\n", 2) < 0)
		goto io;
	if (body != NULL) {
		if (body->value != NULL &&
		    write_body(out, body->value, body->len) < 0)
			goto io;
	} else {
		off = (off_t)body_off;
		while ((uint64_t)off < size) {
			ssize_t s = sendfile(out, fd, &off,
					     (size_t)(size - (uint64_t)off));

			if (s < 0 && errno == EINTR)
				continue;
			if (s <= 0)
				goto io;
		}
	}
	off = lseek(out, 0, SEEK_END);
	if (off < 0)
		goto io;
	*size_r = (uint64_t)off;
	fields_free(&f);
	free(h);
	return out;
io:
	rmail_err_set(err, RMAIL_E_IO, "edit: %s", strerror(errno));
fail:
	if (out >= 0)
		close(out);
	fields_free(&f);
	free(h);
	return -1;
}
