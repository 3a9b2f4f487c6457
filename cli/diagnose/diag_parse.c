/*
 * The pure parsers of the diagnose clients: an HTTP/1.1 response read
 * to EOF (status, header block, body, chunked coding) and the IMAP
 * literal marker.  The server under test is not trusted to be sane:
 * every length is checked, nothing is read past the buffer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "diag_int.h"

long dg_literal_size(const char *line)
{
	size_t n = strlen(line), i;
	long v = 0;

	if (n < 3 || line[n - 1] != '}')
		return -1;
	i = n - 2;
	if (line[i] == '+')
		i--;
	if (i == 0 || line[i] < '0' || line[i] > '9')
		return -1;
	/* digits back to the '{' */
	while (i > 0 && line[i] >= '0' && line[i] <= '9')
		i--;
	if (line[i] != '{' || n - i > 13)
		return -1;
	for (i++; line[i] >= '0' && line[i] <= '9'; i++)
		v = v * 10 + (line[i] - '0');
	return v;
}

/* in place; the decoded length or -1 */
static long chunked_decode(char *b, size_t n)
{
	size_t in = 0, out = 0;

	while (in < n) {
		size_t k = 0, digits = 0;
		char *nl;

		while (in < n && digits < 16) {
			char ch = b[in];
			int v = ch >= '0' && ch <= '9'	 ? ch - '0'
				: ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
				: ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
							 : -1;

			if (v < 0)
				break;
			k = k * 16 + (size_t)v;
			digits++;
			in++;
		}
		nl = memchr(b + in, '\n', n - in);
		if (digits == 0 || nl == NULL || nl == b + in || nl[-1] != '\r')
			return -1;
		in = (size_t)(nl - b) + 1;
		if (k == 0)
			return (long)out;
		if (k > n - in)
			return -1;
		memmove(b + out, b + in, k);
		out += k;
		in += k;
		if (n - in < 2 || b[in] != '\r' || b[in + 1] != '\n')
			return -1;
		in += 2;
	}
	return -1; /* no last chunk */
}

int dg_http_parse(const char *raw, size_t len, struct dg_http *r)
{
	const char *sep = memmem(raw, len, "\r\n\r\n", 4);
	char te[64];
	size_t hlen, at;
	int i, st = 0;

	r->status = -1;
	r->head = r->body = NULL;
	r->body_len = 0;
	if (sep == NULL || len < 12 || memcmp(raw, "HTTP/1.", 7) != 0 ||
	    raw[8] != ' ')
		return -1;
	for (i = 9; i < 12; i++) {
		if (raw[i] < '0' || raw[i] > '9')
			return -1;
		st = st * 10 + (raw[i] - '0');
	}
	hlen = (size_t)(sep - raw);
	/* rmail ends every line in CRLF: a bare LF is a broken answer
	 * (and a head a stricter peer would split elsewhere) */
	for (at = 0; at < hlen; at++)
		if (raw[at] == '\n' && (at == 0 || raw[at - 1] != '\r'))
			return -1;
	r->head = strndup(raw, hlen);
	r->body_len = len - hlen - 4;
	r->body = malloc(r->body_len + 1);
	if (r->head == NULL || r->body == NULL)
		goto fail;
	memcpy(r->body, sep + 4, r->body_len);
	r->body[r->body_len] = '\0';
	if (dg_http_header(r, "Transfer-Encoding", te, sizeof(te)) &&
	    strcasecmp(te, "chunked") == 0) {
		long k = chunked_decode(r->body, r->body_len);

		if (k < 0)
			goto fail;
		r->body_len = (size_t)k;
		r->body[k] = '\0';
	}
	r->status = st;
	return 0;
fail:
	free(r->head);
	free(r->body);
	r->head = r->body = NULL;
	r->body_len = 0;
	return -1;
}

bool dg_http_header(const struct dg_http *r, const char *name, char *out,
		    size_t sz)
{
	const char *p = r->head;
	size_t nl = strlen(name);

	while (p != NULL && (p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1, *e;

			while (*v == ' ' || *v == '\t')
				v++;
			e = strstr(v, "\r\n");
			if (e == NULL)
				e = v + strlen(v);
			snprintf(out, sz, "%.*s", (int)(e - v), v);
			return true;
		}
	}
	return false;
}
