/* The test zone answered into an ma_dns cache (see zone_cache.h). */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "zone_cache.h"

#define T_CNAME 5
#define T_SPF 99
#define T_ALL 0 /* NAME TIMEOUT / NAME SERVFAIL */

enum kind { K_REC, K_NONE, K_TIMEOUT, K_SERVFAIL };

struct zrec {
	char *name; /* lower case, no trailing dot */
	int type;
	enum kind kind;
	struct ma_rr rr;
};

struct zone {
	struct zrec *v;
	size_t n, cap;
};

static const struct {
	const char *name;
	int type;
} TYPES[] = {
	{"A", MA_T_A},	    {"AAAA", MA_T_AAAA}, {"MX", MA_T_MX},
	{"TXT", MA_T_TXT},  {"PTR", MA_T_PTR},	 {"TLSA", MA_T_TLSA},
	{"CNAME", T_CNAME}, {"SPF", T_SPF},
};

/* One blank-separated token, \DDD unescaped when `unescape`. */
static char *token(const char **pp, bool unescape)
{
	const char *p = *pp;
	char *out, *o;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '\n') {
		*pp = p;
		return NULL;
	}
	out = o = malloc(strlen(p) + 1);
	while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n') {
		if (unescape && p[0] == '\\' && isdigit((unsigned char)p[1]) &&
		    isdigit((unsigned char)p[2]) &&
		    isdigit((unsigned char)p[3])) {
			*o++ = (char)((p[1] - '0') * 100 + (p[2] - '0') * 10 +
				      (p[3] - '0'));
			p += 4;
		} else if (unescape && p[0] == '\\' && p[1] != '\0') {
			*o++ = p[1];
			p += 2;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	*pp = p;
	return out;
}

static char *norm_name(char *s)
{
	size_t len = strlen(s);

	if (len > 0 && s[len - 1] == '.')
		s[--len] = '\0';
	for (size_t i = 0; i < len; i++)
		s[i] = (char)tolower((unsigned char)s[i]);
	return s;
}

/* TXT: "..." "..." concatenated.  -1 on a syntax error. */
static int txt_strings(const char *p, struct ma_rr *rr)
{
	size_t cap = strlen(p) + 1;

	rr->data = malloc(cap);
	rr->len = 0;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '\n')
			break;
		if (*p++ != '"')
			return -1;
		while (*p != '"') {
			if (*p == '\0')
				return -1;
			if (p[0] == '\\' && isdigit((unsigned char)p[1])) {
				if (!isdigit((unsigned char)p[2]) ||
				    !isdigit((unsigned char)p[3]))
					return -1;
				rr->data[rr->len++] =
					(unsigned char)((p[1] - '0') * 100 +
							(p[2] - '0') * 10 +
							(p[3] - '0'));
				p += 4;
			} else if (p[0] == '\\' && p[1] != '\0') {
				rr->data[rr->len++] = (unsigned char)p[1];
				p += 2;
			} else {
				rr->data[rr->len++] = (unsigned char)*p++;
			}
		}
		p++;
	}
	rr->data[rr->len] = '\0';
	return 0;
}

static int parse_line(struct zone *z, const char *line, char **err)
{
	const char *p = line;
	char *name, *type, *rest = NULL;
	struct zrec r = {0};
	int rc = -1;

	name = token(&p, true);
	if (name == NULL || name[0] == '#') {
		free(name);
		return 0;
	}
	r.name = norm_name(name);
	type = token(&p, false);
	if (type == NULL)
		goto bad;
	if (strcasecmp(type, "TIMEOUT") == 0 ||
	    strcasecmp(type, "SERVFAIL") == 0) {
		r.type = T_ALL;
		r.kind = strcasecmp(type, "TIMEOUT") == 0 ? K_TIMEOUT
							  : K_SERVFAIL;
		goto add;
	}
	r.type = -1;
	for (size_t i = 0; i < sizeof(TYPES) / sizeof(TYPES[0]); i++)
		if (strcasecmp(type, TYPES[i].name) == 0)
			r.type = TYPES[i].type;
	if (r.type < 0)
		goto bad;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncmp(p, "NONE", 4) == 0 && (p[4] == '\0' || p[4] == '\n')) {
		r.kind = K_NONE;
		goto add;
	}
	if (strncmp(p, "TIMEOUT", 7) == 0 && (p[7] == '\0' || p[7] == '\n')) {
		r.kind = K_TIMEOUT;
		goto add;
	}
	switch (r.type) {
	case MA_T_A:
	case MA_T_AAAA:
		rest = token(&p, false);
		if (rest == NULL ||
		    inet_pton(r.type == MA_T_A ? AF_INET : AF_INET6, rest,
			      r.rr.addr) != 1)
			goto bad;
		break;
	case MA_T_MX:
		rest = token(&p, false);
		if (rest == NULL)
			goto bad;
		r.rr.pref = (uint16_t)atoi(rest);
		free(rest);
		rest = NULL;
		/* the exchange is a name */
		__attribute__((fallthrough));
	case MA_T_PTR:
	case T_CNAME:
		r.rr.host = token(&p, true);
		if (r.rr.host == NULL)
			goto bad;
		norm_name(r.rr.host);
		break;
	case MA_T_TXT:
	case T_SPF:
		if (txt_strings(p, &r.rr) < 0)
			goto bad;
		break;
	default:
		goto bad; /* TLSA: not needed by SPF */
	}
add:
	if (z->n == z->cap) {
		z->cap = z->cap ? z->cap * 2 : 64;
		z->v = realloc(z->v, z->cap * sizeof(*z->v));
	}
	z->v[z->n++] = r;
	rc = 0;
	free(type);
	free(rest);
	return rc;
bad:
	if (asprintf(err, "bad zone line: %s", line) < 0)
		*err = NULL;
	free(r.name);
	free(r.rr.host);
	free(r.rr.data);
	free(type);
	free(rest);
	return -1;
}

struct zone *zone_load(const char *path, char **err)
{
	FILE *f = fopen(path, "r");
	struct zone *z;
	char *line = NULL;
	size_t cap = 0;

	*err = NULL;
	if (f == NULL) {
		if (asprintf(err, "cannot open %s", path) < 0)
			*err = NULL;
		return NULL;
	}
	z = calloc(1, sizeof(*z));
	while (getline(&line, &cap, f) > 0)
		if (parse_line(z, line, err) < 0) {
			zone_free(z);
			z = NULL;
			break;
		}
	free(line);
	fclose(f);
	return z;
}

void zone_free(struct zone *z)
{
	if (z == NULL)
		return;
	for (size_t i = 0; i < z->n; i++) {
		free(z->v[i].name);
		free(z->v[i].rr.host);
		free(z->v[i].rr.data);
	}
	free(z->v);
	free(z);
}

static bool name_exists(const struct zone *z, const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i < z->n; i++) {
		const char *zn = z->v[i].name;
		size_t zl = strlen(zn);

		if (strcmp(zn, name) == 0)
			return true;
		/* an empty non-terminal (RFC 8020) */
		if (zl > nl && zn[zl - nl - 1] == '.' &&
		    strcmp(zn + zl - nl, name) == 0)
			return true;
	}
	return false;
}

/* The answer for (name, type) into rs (rs->rr points into the zone). */
static void answer(const struct zone *z, const char *qname, int type,
		   struct ma_rrset *rs, struct ma_rr *buf, size_t bufcap)
{
	char name[1024];
	const char *cname = NULL;

	snprintf(name, sizeof(name), "%s", qname);
	norm_name(name);
	for (int hop = 0; hop < 8; hop++) {
		cname = NULL;
		rs->n = 0;
		rs->rr = buf;
		for (size_t i = 0; i < z->n; i++) {
			const struct zrec *r = &z->v[i];

			if (strcmp(r->name, name) != 0)
				continue;
			if (r->kind == K_TIMEOUT || r->kind == K_SERVFAIL) {
				if (r->type == T_ALL || r->type == type) {
					rs->rcode = MA_DNS_TEMP;
					rs->n = 0;
					return;
				}
				continue;
			}
			if (r->kind == K_REC && r->type == T_CNAME)
				cname = r->rr.host;
			if (r->kind == K_REC && r->type == type &&
			    rs->n < bufcap)
				buf[rs->n++] = r->rr;
		}
		if (rs->n > 0) {
			rs->rcode = MA_DNS_OK;
			return;
		}
		if (cname == NULL) {
			rs->rcode = name_exists(z, name) ? MA_DNS_NODATA
							 : MA_DNS_NXDOMAIN;
			return;
		}
		snprintf(name, sizeof(name), "%s", cname);
	}
	rs->rcode = MA_DNS_TEMP; /* a CNAME loop: SERVFAIL */
	rs->n = 0;
}

struct fill {
	struct zone *z;
	struct ma_dns_cache *c;
};

static void fill_one(void *arg, const char *name, int type)
{
	struct fill *f = arg;
	struct ma_rr buf[64];
	struct ma_rrset rs = {0};

	answer(f->z, name, type, &rs, buf, 64);
	ma_dns_put(f->c, name, type, &rs);
}

size_t zone_fill_wanted(struct zone *z, struct ma_dns_cache *c)
{
	struct fill f = {z, c};

	return ma_dns_take_wanted(c, fill_one, &f);
}
