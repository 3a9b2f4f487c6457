/*
 * rdata → struct ma_rr (dns_rr.h).  A name is kept only when every
 * label is printable and has no dot or blank inside, so what callers
 * compare and log is plain text; anything else is a malformed record.
 */
#include "dns/dns_rr.h"

#include <stdlib.h>
#include <string.h>

/* an uncompressed name at rd[off..len) as lower-case text without the
 * trailing dot ("" for the root); the bytes used, 0 when malformed */
static size_t read_name(const unsigned char *rd, size_t len, size_t off,
			char out[256])
{
	size_t o = off, k = 0;

	for (;;) {
		size_t l;

		if (o >= len)
			return 0;
		l = rd[o++];
		if (l == 0)
			break;
		if (l > 63 || o + l > len || k + l + 1 > 254)
			return 0;
		if (k > 0)
			out[k++] = '.';
		for (size_t i = 0; i < l; i++) {
			unsigned char c = rd[o + i];

			if (c <= ' ' || c >= 0x7f || c == '.')
				return 0;
			out[k++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
		o += l;
	}
	out[k] = '\0';
	return o - off;
}

static unsigned char *copy_bytes(const unsigned char *p, size_t n)
{
	unsigned char *d = malloc(n + 1);

	if (d == NULL)
		return NULL;
	memcpy(d, p, n);
	d[n] = '\0';
	return d;
}

/* the character-strings of a TXT record concatenated; -1 malformed */
static int txt_join(const unsigned char *rd, size_t len, struct ma_rr *rr)
{
	size_t o = 0, k = 0;

	while (o < len) {
		size_t l = rd[o];

		if (o + 1 + l > len)
			return -1;
		o += 1 + l;
	}
	rr->data = malloc(len + 1);
	if (rr->data == NULL)
		return -1;
	for (o = 0; o < len; o += 1 + (size_t)rd[o]) {
		memcpy(rr->data + k, rd + o + 1, rd[o]);
		k += rd[o];
	}
	rr->data[k] = '\0';
	rr->len = k;
	return 0;
}

static int convert_one(int qtype, const unsigned char *rd, size_t len,
		       struct ma_rr *rr)
{
	char name[256];

	memset(rr, 0, sizeof(*rr));
	switch (qtype) {
	case MA_T_A:
		if (len != 4)
			return -1;
		memcpy(rr->addr, rd, 4);
		return 0;
	case MA_T_AAAA:
		if (len != 16)
			return -1;
		memcpy(rr->addr, rd, 16);
		return 0;
	case MA_T_MX:
		if (len < 3 || read_name(rd, len, 2, name) != len - 2)
			return -1;
		rr->pref = (uint16_t)(rd[0] << 8 | rd[1]);
		rr->host = strdup(name);
		return rr->host ? 0 : -1;
	case MA_T_PTR:
		/* read_name's 0 is "malformed": an empty rdata is too */
		if (len == 0 || read_name(rd, len, 0, name) != len)
			return -1;
		rr->host = strdup(name);
		return rr->host ? 0 : -1;
	case MA_T_TXT:
	case 99: /* SPF: TXT's format */
		return len == 0 ? -1 : txt_join(rd, len, rr);
	case MA_T_TLSA:
		if (len < 3)
			return -1;
		rr->data = copy_bytes(rd, len);
		rr->len = len;
		return rr->data ? 0 : -1;
	default:
		/* a type without a parser: the raw rdata */
		rr->data = copy_bytes(rd, len);
		rr->len = len;
		return rr->data ? 0 : -1;
	}
}

size_t rm_dns_rr_convert(int qtype, char *const *data, const int *len, size_t n,
			 struct ma_rrset *out)
{
	size_t kept = 0, bytes = 0;

	for (size_t i = 0; i < n && out->n < RM_DNS_RR_MAX; i++) {
		struct ma_rr rr, *v;

		if (data[i] == NULL || len[i] < 0 ||
		    (size_t)len[i] > RM_DNS_DATA_MAX - bytes)
			continue;
		if (convert_one(qtype, (const unsigned char *)data[i],
				(size_t)len[i], &rr) < 0) {
			free(rr.host);
			free(rr.data);
			continue;
		}
		v = realloc(out->rr, (out->n + 1) * sizeof(*v));
		if (v == NULL) {
			free(rr.host);
			free(rr.data);
			break;
		}
		bytes += (size_t)len[i];
		out->rr = v;
		out->rr[out->n++] = rr;
		kept++;
	}
	return kept;
}

void rm_dns_rrset_clear(struct ma_rrset *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		free(rs->rr[i].host);
		free(rs->rr[i].data);
	}
	free(rs->rr);
	memset(rs, 0, sizeof(*rs));
}

int rm_dns_rrset_copy(struct ma_rrset *d, const struct ma_rrset *s)
{
	memset(d, 0, sizeof(*d));
	d->rcode = s->rcode;
	d->secure = s->secure;
	if (s->n == 0)
		return 0;
	d->rr = calloc(s->n, sizeof(*d->rr));
	if (d->rr == NULL)
		return -1;
	for (size_t i = 0; i < s->n; i++) {
		struct ma_rr *r = &d->rr[i];

		*r = s->rr[i];
		r->host = NULL;
		r->data = NULL;
		d->n++;
		if (s->rr[i].host != NULL &&
		    (r->host = strdup(s->rr[i].host)) == NULL)
			return -1;
		if (s->rr[i].data != NULL &&
		    (r->data = copy_bytes(s->rr[i].data, s->rr[i].len)) == NULL)
			return -1;
	}
	return 0;
}
