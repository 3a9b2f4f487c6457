/*
 * Splitting a message fed in pieces into its header block (kept,
 * bounded, line ends made CRLF as on the wire) and its body (passed
 * through to the canonicalizers as it comes).
 */
#include <stdlib.h>
#include <string.h>

#include "dkim.h"

static void put(struct dkim_msg *m, char c)
{
	if (m->overflow)
		return;
	if (m->hlen == m->hcap) {
		size_t cap = m->hcap == 0 ? 4096 : m->hcap * 2;
		char *p;

		if (cap > DKIM_HDR_MAX) {
			m->overflow = true;
			return;
		}
		p = realloc(m->hdr, cap);
		if (p == NULL) {
			m->overflow = true;
			return;
		}
		m->hdr = p;
		m->hcap = cap;
	}
	m->hdr[m->hlen++] = c;
}

void dkim_msg_feed(struct dkim_msg *m, const void *p, size_t n,
		   void (*hdr_done)(void *arg),
		   void (*body)(void *arg, const void *, size_t), void *arg)
{
	const char *s = p;
	size_t i = 0;

	while (!m->in_body && i < n) {
		char c = s[i++];

		if (c == '\n') {
			if (!m->cr)
				put(m, '\r');
			put(m, '\n');
			m->cr = false;
			if (m->state == 0) {
				m->in_body = true;
				if (hdr_done != NULL)
					hdr_done(arg);
				break;
			}
			m->state = 0;
			continue;
		}
		put(m, c);
		m->cr = c == '\r';
		if (c != '\r')
			m->state++;
	}
	if (m->in_body && i < n) {
		m->body_len += n - i;
		if (body != NULL)
			body(arg, s + i, n - i);
	}
}

size_t dkim_msg_fields(const struct dkim_msg *m, struct dkim_field **f_r)
{
	const char *h = m->hdr, *end = m->hdr + m->hlen;
	struct dkim_field *f;
	size_t nf = 0, cap = 0;
	const char *p = h;

	*f_r = NULL;
	f = NULL;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol != NULL ? eol + 1 : end;

		if (p[0] == '\r' || p[0] == '\n')
			break; /* the blank line */
		if ((p[0] == ' ' || p[0] == '\t') && nf > 0) {
			f[nf - 1].n = (size_t)(next - f[nf - 1].p);
		} else {
			const char *colon;

			if (nf == cap) {
				size_t nc = cap == 0 ? 32 : cap * 2;
				struct dkim_field *g =
					realloc(f, nc * sizeof(*f));

				if (g == NULL)
					break;
				f = g;
				cap = nc;
			}
			colon = memchr(p, ':', (size_t)(next - p));
			f[nf].p = p;
			f[nf].n = (size_t)(next - p);
			f[nf].namelen = colon != NULL ? (size_t)(colon - p) : 0;
			while (f[nf].namelen > 0 &&
			       (p[f[nf].namelen - 1] == ' ' ||
				p[f[nf].namelen - 1] == '\t'))
				f[nf].namelen--;
			nf++;
		}
		p = next;
	}
	*f_r = f;
	return nf;
}

void dkim_msg_free(struct dkim_msg *m)
{
	free(m->hdr);
	memset(m, 0, sizeof(*m));
}
