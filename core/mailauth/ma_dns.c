/*
 * The per-message DNS answer cache of the mail-authentication
 * evaluators.  One message asks a few dozen questions at most (SPF's
 * limit of 10 querying terms, a DKIM key per signature, DMARC), so a
 * linear table beats a hash here, and its bound keeps a hostile
 * sender's record chains from growing memory.
 */
#include <stdlib.h>
#include <string.h>

#include "mailauth/ma_dns.h"

#define NAME_MAX_LEN 255

struct entry {
	char name[NAME_MAX_LEN + 1];
	int type;
	bool wanted; /* asked, not yet handed to the driver */
	struct ma_rrset rs;
};

struct ma_dns_cache {
	struct entry *v;
	size_t n, max;
};

static const struct ma_rrset PENDING = {.rcode = MA_DNS_PENDING};
static const struct ma_rrset TOO_MANY = {.rcode = MA_DNS_TEMP};

struct ma_dns_cache *ma_dns_cache_new(size_t max_entries)
{
	struct ma_dns_cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->v = calloc(max_entries ? max_entries : 1, sizeof(*c->v));
	if (c->v == NULL) {
		free(c);
		return NULL;
	}
	c->max = max_entries;
	return c;
}

static void rrset_clear(struct ma_rrset *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		free(rs->rr[i].host);
		free(rs->rr[i].data);
	}
	free(rs->rr);
	memset(rs, 0, sizeof(*rs));
}

void ma_dns_cache_free(struct ma_dns_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		rrset_clear(&c->v[i].rs);
	free(c->v);
	free(c);
}

/* Copies `name` lower-cased without its trailing dot; false when too
 * long to be a domain name. */
static bool norm(char out[NAME_MAX_LEN + 1], const char *name)
{
	size_t len = strlen(name);

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = name[i];

		out[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
	}
	out[len] = '\0';
	return true;
}

static struct entry *find(struct ma_dns_cache *c, const char *n, int type)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].type == type && strcmp(c->v[i].name, n) == 0)
			return &c->v[i];
	return NULL;
}

const struct ma_rrset *ma_dns_get(struct ma_dns_cache *c, const char *name,
				  int type)
{
	char n[NAME_MAX_LEN + 1];
	struct entry *e;

	if (!norm(n, name))
		return &TOO_MANY;
	e = find(c, n, type);
	if (e != NULL)
		return &e->rs;
	if (c->n == c->max)
		return &TOO_MANY;
	e = &c->v[c->n++];
	memcpy(e->name, n, sizeof(n));
	e->type = type;
	e->wanted = true;
	e->rs = PENDING;
	return &e->rs;
}

static int rr_copy(struct ma_rr *d, const struct ma_rr *s)
{
	*d = *s;
	d->host = NULL;
	d->data = NULL;
	if (s->host != NULL && (d->host = strdup(s->host)) == NULL)
		return -1;
	if (s->data != NULL) {
		/* one spare NUL so TXT data can be read as a string */
		d->data = malloc(s->len + 1);
		if (d->data == NULL)
			return -1;
		memcpy(d->data, s->data, s->len);
		d->data[s->len] = '\0';
	}
	return 0;
}

int ma_dns_put(struct ma_dns_cache *c, const char *name, int type,
	       const struct ma_rrset *rs)
{
	char n[NAME_MAX_LEN + 1];
	struct ma_rrset copy = {.rcode = rs->rcode, .secure = rs->secure};
	struct entry *e;

	if (!norm(n, name))
		return -1;
	e = find(c, n, type);
	if (e == NULL) {
		if (c->n == c->max)
			return -1;
		e = &c->v[c->n++];
		memcpy(e->name, n, sizeof(n));
		e->type = type;
		e->rs = PENDING;
	}
	if (rs->n > 0) {
		copy.rr = calloc(rs->n, sizeof(*copy.rr));
		if (copy.rr == NULL)
			return -1;
		for (; copy.n < rs->n; copy.n++)
			if (rr_copy(&copy.rr[copy.n], &rs->rr[copy.n]) < 0) {
				rrset_clear(&copy);
				return -1;
			}
	}
	rrset_clear(&e->rs);
	e->rs = copy;
	e->wanted = false;
	return 0;
}

size_t ma_dns_take_wanted(struct ma_dns_cache *c,
			  void (*fn)(void *arg, const char *name, int type),
			  void *arg)
{
	size_t k = 0;

	for (size_t i = 0; i < c->n; i++) {
		if (!c->v[i].wanted)
			continue;
		c->v[i].wanted = false;
		fn(arg, c->v[i].name, c->v[i].type);
		k++;
	}
	return k;
}
