/*
 * DKIM canonicalization (RFC 6376 §3.4).  The body canonicalizer is a
 * byte-at-a-time state machine so a message streams through it once,
 * whatever its line lengths: empty lines are only counted until content
 * follows (trailing ones vanish), whitespace runs are only remembered
 * until a non-blank byte follows (relaxed).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "dkim.h"

size_t dkim_canon_header(int canon, const char *f, size_t n, bool crlf,
			 char *out)
{
	size_t o = 0, i = 0, nl;
	bool ws = false, any = false;

	if (canon == DKIM_C_SIMPLE) {
		if (!crlf && n >= 2 && f[n - 2] == '\r' && f[n - 1] == '\n')
			n -= 2;
		memcpy(out, f, n);
		if (crlf && (n < 2 || f[n - 2] != '\r' || f[n - 1] != '\n')) {
			out[n++] = '\r';
			out[n++] = '\n';
		}
		return n;
	}
	while (i < n && f[i] != ':')
		i++;
	nl = i;
	while (nl > 0 && (f[nl - 1] == ' ' || f[nl - 1] == '\t'))
		nl--;
	for (size_t k = 0; k < nl; k++) {
		char c = f[k];

		out[o++] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
	}
	out[o++] = ':';
	for (i++; i < n; i++) {
		char c = f[i];

		if (c == '\r' || c == '\n')
			continue;
		if (c == ' ' || c == '\t') {
			ws = true;
			continue;
		}
		if (ws && any)
			out[o++] = ' ';
		ws = false;
		any = true;
		out[o++] = c;
	}
	if (crlf) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	return o;
}

#define OUTBUF 4096

struct dkim_body {
	EVP_MD_CTX *md;
	int canon;
	uint64_t limit, total, hashed;
	uint64_t empty; /* empty lines not yet written */
	bool content;	/* the current line has content */
	bool ws;	/* relaxed: a blank run is pending */
	bool cr;	/* a CR is pending (maybe half of CRLF) */
	size_t olen;
	unsigned char out[OUTBUF];
};

struct dkim_body *dkim_body_new(int canon, int alg, uint64_t limit)
{
	struct dkim_body *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->md = EVP_MD_CTX_new();
	if (b->md == NULL ||
	    EVP_DigestInit_ex(
		    b->md, alg == DKIM_A_RSA_SHA1 ? EVP_sha1() : EVP_sha256(),
		    NULL) != 1) {
		dkim_body_free(b);
		return NULL;
	}
	b->canon = canon;
	b->limit = limit;
	return b;
}

static void flush(struct dkim_body *b)
{
	uint64_t room = b->limit - b->hashed;
	size_t n = b->olen;

	if (n > room)
		n = (size_t)room;
	if (n > 0)
		EVP_DigestUpdate(b->md, b->out, n);
	b->hashed += n;
	b->olen = 0;
}

static inline void emit(struct dkim_body *b, unsigned char c)
{
	if (b->olen == OUTBUF)
		flush(b);
	b->out[b->olen++] = c;
	b->total++;
}

static void content(struct dkim_body *b, unsigned char c)
{
	for (; b->empty > 0; b->empty--) {
		emit(b, '\r');
		emit(b, '\n');
	}
	if (b->ws) {
		emit(b, ' ');
		b->ws = false;
	}
	emit(b, c);
	b->content = true;
}

static void eol(struct dkim_body *b)
{
	b->ws = false;
	if (b->content) {
		emit(b, '\r');
		emit(b, '\n');
		b->content = false;
	} else {
		b->empty++;
	}
}

void dkim_body_feed(struct dkim_body *b, const void *p, size_t n)
{
	const unsigned char *s = p;
	bool relaxed = b->canon == DKIM_C_RELAXED;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (b->cr) {
			b->cr = false;
			if (c == '\n') {
				eol(b);
				continue;
			}
			content(b, '\r');
		}
		if (c == '\r') {
			b->cr = true;
		} else if (c == '\n') {
			eol(b); /* a bare LF ends a line too */
		} else if (relaxed && (c == ' ' || c == '\t')) {
			b->ws = true;
		} else {
			content(b, c);
		}
	}
}

size_t dkim_body_final(struct dkim_body *b, unsigned char *md,
		       uint64_t *total_r)
{
	unsigned int len = 0;

	if (b->cr) {
		b->cr = false;
		content(b, '\r');
	}
	if (b->content)
		eol(b);
	/* simple: an empty body is one CRLF; relaxed: nothing */
	if (b->total == 0 && b->canon == DKIM_C_SIMPLE) {
		emit(b, '\r');
		emit(b, '\n');
	}
	flush(b);
	EVP_DigestFinal_ex(b->md, md, &len);
	if (total_r != NULL)
		*total_r = b->total;
	return len;
}

void dkim_body_free(struct dkim_body *b)
{
	if (b == NULL)
		return;
	EVP_MD_CTX_free(b->md);
	free(b);
}
