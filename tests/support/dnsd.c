/*
 * The test DNS server (dnsd.h).  Answers are built from the zone alone:
 * an SOA at the root goes with every negative answer so that a caching
 * resolver accepts NXDOMAIN and NODATA as authoritative.
 */
#include "dnsd.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define T_A 1
#define T_CNAME 5
#define T_SOA 6
#define T_PTR 12
#define T_MX 15
#define T_TXT 16
#define T_AAAA 28
#define T_OPT 41
#define T_TLSA 52
#define T_SPF 99
#define K_NONE (-1)	/* the name exists, no record of the type */
#define K_TIMEOUT (-2)	/* never answered */
#define K_SERVFAIL (-3) /* SERVFAIL */

#define CHAIN_MAX 8
#define TCP_MAX 16
#define ZONE_MAX_LINE 70000

struct rec {
	char name[256]; /* lower case, no trailing dot */
	int type;	/* or K_* */
	int none_type;	/* K_NONE: the type; K_TIMEOUT: the type or 0 */
	unsigned char *rd;
	size_t rdlen;
};

struct rm_dnsd_zone {
	struct rec *v;
	size_t n, cap;
	uint32_t ttl;
};

/* ---- zone text ---------------------------------------------------- */

static void norm_name(char *out, const char *in, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k < 255; i++)
		out[k++] = (char)tolower((unsigned char)in[i]);
	while (k > 0 && out[k - 1] == '.')
		k--;
	out[k] = '\0';
}

/* \DDD and \X escapes of a presentation-format name, in place (the
 * SPF suite has owner names with spaces) */
static void unescape(char *s)
{
	char *o = s;

	for (const char *p = s; *p != '\0'; p++) {
		if (p[0] == '\\' && isdigit((unsigned char)p[1]) &&
		    isdigit((unsigned char)p[2]) &&
		    isdigit((unsigned char)p[3])) {
			int v = (p[1] - '0') * 100 + (p[2] - '0') * 10 +
				(p[3] - '0');

			*o++ = (char)(v > 0 && v < 256 ? v : '?');
			p += 3;
		} else if (p[0] == '\\' && p[1] != '\0') {
			*o++ = *++p;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
}

/* a name in wire format, uncompressed; 0 when it is not a name */
static size_t put_name(unsigned char *p, const char *name)
{
	size_t o = 0, n = strlen(name);
	const char *s = name;

	if (n > 0 && name[n - 1] == '.')
		n--;
	while (n > 0) {
		const char *dot = memchr(s, '.', n);
		size_t l = dot ? (size_t)(dot - s) : n;

		if (l == 0 || l > 63 || o + l + 2 > 255)
			return 0;
		p[o++] = (unsigned char)l;
		memcpy(p + o, s, l);
		o += l;
		s += l;
		n -= l;
		if (dot) {
			s++;
			n--;
		}
	}
	p[o++] = 0;
	return o;
}

static int type_of(const char *t)
{
	static const struct {
		const char *n;
		int t;
	} tab[] = {{"A", T_A},	       {"AAAA", T_AAAA}, {"MX", T_MX},
		   {"TXT", T_TXT},     {"PTR", T_PTR},	 {"TLSA", T_TLSA},
		   {"CNAME", T_CNAME}, {"SPF", T_SPF}};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcasecmp(t, tab[i].n) == 0)
			return tab[i].t;
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* TXT rdata from `"..." "..."`: each string split at 255 bytes */
static int parse_txt(const char *s, unsigned char **rd_r, size_t *len_r)
{
	size_t cap = strlen(s) + 16, o = 0;
	unsigned char *rd = malloc(cap + cap / 255 + 2);
	bool any = false;

	while (*s) {
		unsigned char str[ZONE_MAX_LINE];
		size_t sl = 0;

		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0')
			break;
		if (*s != '"')
			goto bad;
		s++;
		while (*s && *s != '"') {
			int c = (unsigned char)*s++;

			if (c == '\\') {
				if (isdigit((unsigned char)s[0]) &&
				    isdigit((unsigned char)s[1]) &&
				    isdigit((unsigned char)s[2])) {
					c = (s[0] - '0') * 100 +
					    (s[1] - '0') * 10 + (s[2] - '0');
					if (c > 255)
						goto bad;
					s += 3;
				} else if (*s) {
					c = (unsigned char)*s++;
				} else {
					goto bad;
				}
			}
			str[sl++] = (unsigned char)c;
		}
		if (*s != '"')
			goto bad;
		s++;
		any = true;
		/* an empty string stays one empty character-string */
		for (size_t off = 0; off < sl || (sl == 0 && off == 0);) {
			size_t k = sl - off > 255 ? 255 : sl - off;

			rd[o++] = (unsigned char)k;
			memcpy(rd + o, str + off, k);
			o += k;
			off += k;
			if (sl == 0)
				break;
		}
	}
	if (!any)
		goto bad;
	*rd_r = rd;
	*len_r = o;
	return 0;
bad:
	free(rd);
	return -1;
}

static int parse_rdata(int type, const char *s, unsigned char **rd_r,
		       size_t *len_r)
{
	unsigned char *rd = malloc(300 + strlen(s));
	size_t o = 0;

	switch (type) {
	case T_A:
		if (inet_pton(AF_INET, s, rd) != 1)
			goto bad;
		o = 4;
		break;
	case T_AAAA:
		if (inet_pton(AF_INET6, s, rd) != 1)
			goto bad;
		o = 16;
		break;
	case T_MX: {
		unsigned pref;
		char host[300];

		if (sscanf(s, "%u %299s", &pref, host) != 2 || pref > 65535)
			goto bad;
		unescape(host);
		rd[0] = (unsigned char)(pref >> 8);
		rd[1] = (unsigned char)pref;
		o = strcmp(host, ".") == 0 ? (rd[2] = 0, 1)
					   : put_name(rd + 2, host);
		if (o == 0)
			goto bad;
		o += 2;
		break;
	}
	case T_PTR:
	case T_CNAME: {
		char host[300];

		if (sscanf(s, "%299s", host) != 1)
			goto bad;
		unescape(host);
		if ((o = put_name(rd, host)) == 0)
			goto bad;
		break;
	}
	case T_TLSA: {
		unsigned u, sel, mt;
		int used = 0;

		if (sscanf(s, "%u %u %u %n", &u, &sel, &mt, &used) != 3 ||
		    u > 255 || sel > 255 || mt > 255)
			goto bad;
		rd[0] = (unsigned char)u;
		rd[1] = (unsigned char)sel;
		rd[2] = (unsigned char)mt;
		o = 3;
		for (s += used; *s; s++) {
			int hi, lo;

			if (isspace((unsigned char)*s))
				continue;
			hi = hexval((unsigned char)s[0]);
			lo = s[1] ? hexval((unsigned char)s[1]) : -1;
			if (hi < 0 || lo < 0)
				goto bad;
			rd[o++] = (unsigned char)(hi << 4 | lo);
			s++;
		}
		break;
	}
	case T_TXT:
	case T_SPF:
		free(rd);
		return parse_txt(s, rd_r, len_r);
	default:
		goto bad;
	}
	*rd_r = rd;
	*len_r = o;
	return 0;
bad:
	free(rd);
	return -1;
}

static struct rec *zone_add(struct rm_dnsd_zone *z)
{
	if (z->n == z->cap) {
		z->cap = z->cap ? z->cap * 2 : 32;
		z->v = realloc(z->v, z->cap * sizeof(*z->v));
	}
	memset(&z->v[z->n], 0, sizeof(z->v[0]));
	return &z->v[z->n++];
}

void rm_dnsd_zone_free(struct rm_dnsd_zone *z)
{
	if (z == NULL)
		return;
	for (size_t i = 0; i < z->n; i++)
		free(z->v[i].rd);
	free(z->v);
	free(z);
}

static int parse_line(struct rm_dnsd_zone *z, char *line)
{
	char *name, *type, *rest, *save = NULL;
	struct rec *r;
	int t;

	name = strtok_r(line, " \t", &save);
	if (name == NULL)
		return 0;
	if (strcmp(name, "$TTL") == 0) {
		char *v = strtok_r(NULL, " \t", &save);

		if (v == NULL)
			return -1;
		z->ttl = (uint32_t)strtoul(v, NULL, 10);
		return 0;
	}
	type = strtok_r(NULL, " \t", &save);
	if (type == NULL || strlen(name) > 1023)
		return -1;
	unescape(name);
	if (strlen(name) > 255)
		return -1;
	rest = strtok_r(NULL, "", &save);
	while (rest && (*rest == ' ' || *rest == '\t'))
		rest++;
	if (strcasecmp(type, "TIMEOUT") == 0 ||
	    strcasecmp(type, "SERVFAIL") == 0) {
		if (rest != NULL && *rest != '\0')
			return -1;
		r = zone_add(z);
		norm_name(r->name, name, strlen(name));
		r->type = strcasecmp(type, "TIMEOUT") == 0 ? K_TIMEOUT
							   : K_SERVFAIL;
		return 0;
	}
	t = type_of(type);
	if (t == 0 || rest == NULL || *rest == '\0')
		return -1;
	if (strcmp(rest, "NONE") == 0 || strcasecmp(rest, "TIMEOUT") == 0) {
		r = zone_add(z);
		norm_name(r->name, name, strlen(name));
		r->type = strcmp(rest, "NONE") == 0 ? K_NONE : K_TIMEOUT;
		r->none_type = t;
		return 0;
	}
	{
		unsigned char *rd;
		size_t len;

		if (parse_rdata(t, rest, &rd, &len) < 0)
			return -1;
		r = zone_add(z);
		norm_name(r->name, name, strlen(name));
		r->type = t;
		r->rd = rd;
		r->rdlen = len;
	}
	return 0;
}

struct rm_dnsd_zone *rm_dnsd_zone_parse(const char *text, char *err,
					size_t errsz)
{
	struct rm_dnsd_zone *z = calloc(1, sizeof(*z));
	const char *p = text ? text : "";
	unsigned lineno = 0;

	z->ttl = 60;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *line;

		lineno++;
		if (n >= ZONE_MAX_LINE) {
			snprintf(err, errsz, "line %u: too long", lineno);
			rm_dnsd_zone_free(z);
			return NULL;
		}
		line = strndup(p, n);
		if (n > 0 && line[n - 1] == '\r')
			line[n - 1] = '\0';
		if (line[strspn(line, " \t")] != '#' &&
		    parse_line(z, line) < 0) {
			snprintf(err, errsz, "line %u: cannot parse", lineno);
			free(line);
			rm_dnsd_zone_free(z);
			return NULL;
		}
		free(line);
		p += n + (nl ? 1 : 0);
	}
	return z;
}

/* ---- answers ------------------------------------------------------ */

struct out {
	unsigned char *p;
	size_t n, max;
	bool over;
};

static void put(struct out *o, const void *d, size_t n)
{
	if (o->n + n > o->max) {
		o->over = true;
		return;
	}
	memcpy(o->p + o->n, d, n);
	o->n += n;
}

static void put16(struct out *o, unsigned v)
{
	unsigned char b[2] = {(unsigned char)(v >> 8), (unsigned char)v};

	put(o, b, 2);
}

static void put32(struct out *o, uint32_t v)
{
	put16(o, v >> 16);
	put16(o, v & 0xffff);
}

static void put_rr(struct out *o, const char *owner, int type, uint32_t ttl,
		   const unsigned char *rd, size_t rdlen)
{
	unsigned char nm[256];
	size_t nl = owner[0] ? put_name(nm, owner) : (nm[0] = 0, 1);

	put(o, nm, nl);
	put16(o, (unsigned)type);
	put16(o, 1);
	put32(o, ttl);
	put16(o, (unsigned)rdlen);
	put(o, rd, rdlen);
}

static bool name_is(const struct rec *r, const char *name)
{
	return strcmp(r->name, name) == 0;
}

/* a NAME TIMEOUT / NAME SERVFAIL line, or NAME TYPE TIMEOUT for qtype */
static bool special(const struct rm_dnsd_zone *z, const char *name, int kind,
		    unsigned qtype)
{
	for (size_t i = 0; i < z->n; i++)
		if (z->v[i].type == kind && name_is(&z->v[i], name) &&
		    (z->v[i].none_type == 0 ||
		     (unsigned)z->v[i].none_type == qtype))
			return true;
	return false;
}

/* the name owns something, or is an empty non-terminal (RFC 8020) */
static bool exists(const struct rm_dnsd_zone *z, const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i < z->n; i++) {
		size_t rl = strlen(z->v[i].name);

		if (name_is(&z->v[i], name))
			return true;
		if (nl == 0 || (rl > nl && z->v[i].name[rl - nl - 1] == '.' &&
				strcmp(z->v[i].name + rl - nl, name) == 0))
			return true;
	}
	return false;
}

static void put_soa(struct out *o, uint32_t ttl)
{
	unsigned char rd[128];
	size_t n = put_name(rd, "ns.test");

	n += put_name(rd + n, "hostmaster.test");
	memset(rd + n, 0, 20);
	rd[n + 3] = 1; /* serial */
	rd[n + 16] = (unsigned char)(ttl >> 24);
	rd[n + 17] = (unsigned char)(ttl >> 16);
	rd[n + 18] = (unsigned char)(ttl >> 8);
	rd[n + 19] = (unsigned char)ttl;
	put_rr(o, "", T_SOA, ttl, rd, n + 20);
}

size_t rm_dnsd_answer(const struct rm_dnsd_zone *z, const unsigned char *q,
		      size_t qlen, int tcp, unsigned char *r, size_t rmax)
{
	char name[256], cur[256];
	size_t o = 12, no = 0, qend, limit = 512;
	unsigned qtype, an = 0, ns = 0;
	int rcode = 0, tc = 0;
	bool edns = false;
	struct out out = {r, 0, rmax, false};
	/* OPT: root owner, our payload size 4096, no flags */
	static const unsigned char opt[11] = {0, 0, T_OPT, 0x10, 0, 0,
					      0, 0, 0,	   0,	 0};

	if (qlen < 17 || (q[2] & 0x80) || (q[2] & 0x78) || q[4] != 0 ||
	    q[5] != 1)
		return 0;
	while (o < qlen && q[o] != 0) {
		if (q[o] > 63 || o + 1 + q[o] >= qlen ||
		    no + q[o] + 1 >= sizeof(name))
			return 0;
		if (no > 0)
			name[no++] = '.';
		memcpy(name + no, q + o + 1, q[o]);
		no += q[o];
		o += (size_t)q[o] + 1;
	}
	if (o + 5 > qlen)
		return 0;
	name[no] = '\0';
	norm_name(name, name, no);
	qtype = (unsigned)q[o + 1] << 8 | q[o + 2];
	qend = o + 5;
	/* EDNS0: an OPT record right after the question */
	if ((q[10] << 8 | q[11]) >= 1 && qend + 11 <= qlen && q[qend] == 0 &&
	    q[qend + 1] == 0 && q[qend + 2] == T_OPT) {
		size_t sz = (size_t)q[qend + 3] << 8 | q[qend + 4];

		edns = true;
		limit = sz > 512 ? sz : 512;
	}
	if (tcp)
		limit = 65535;
	if (limit < out.max)
		out.max = limit;
	if (special(z, name, K_TIMEOUT, qtype))
		return 0;
	put(&out, q, qend);
	snprintf(cur, sizeof(cur), "%s", name);
	if (special(z, name, K_SERVFAIL, qtype)) {
		rcode = 2;
	} else {
		for (int hop = 0; hop < CHAIN_MAX; hop++) {
			const struct rec *cname = NULL;
			unsigned hits = 0;

			for (size_t i = 0; i < z->n; i++) {
				const struct rec *rr = &z->v[i];

				if (rr->type <= 0 || !name_is(rr, cur))
					continue;
				if ((unsigned)rr->type == qtype) {
					put_rr(&out, cur, rr->type, z->ttl,
					       rr->rd, rr->rdlen);
					hits++;
				} else if (rr->type == T_CNAME) {
					cname = rr;
				}
			}
			an += hits;
			if (hits > 0 || cname == NULL || qtype == T_CNAME)
				break;
			put_rr(&out, cur, T_CNAME, z->ttl, cname->rd,
			       cname->rdlen);
			an++;
			/* follow the target inside the zone */
			{
				char t[256];
				size_t k = 0, p = 0;

				while (p < cname->rdlen && cname->rd[p] != 0 &&
				       k + cname->rd[p] + 1 < sizeof(t)) {
					if (k > 0)
						t[k++] = '.';
					memcpy(t + k, cname->rd + p + 1,
					       cname->rd[p]);
					k += cname->rd[p];
					p += (size_t)cname->rd[p] + 1;
				}
				t[k] = '\0';
				norm_name(cur, t, k);
			}
			if (special(z, cur, K_SERVFAIL, qtype) ||
			    special(z, cur, K_TIMEOUT, qtype)) {
				rcode = 2;
				break;
			}
		}
		if (an == 0 && rcode == 0) {
			if (!exists(z, cur))
				rcode = 3;
			put_soa(&out, z->ttl);
			ns = 1;
		}
	}
	if (edns)
		put(&out, opt, sizeof(opt));
	if (out.over) {
		/* too big for the transport: the question alone, TC set */
		out.over = false;
		out.n = qend;
		an = ns = 0;
		tc = 0x02;
		if (edns)
			put(&out, opt, sizeof(opt));
	}
	r[0] = q[0];
	r[1] = q[1];
	r[2] = (unsigned char)(0x84 | tc | (q[2] & 0x01)); /* QR AA, RD */
	r[3] = (unsigned char)(0x80 | rcode);		   /* RA */
	r[4] = 0;
	r[5] = 1;
	r[6] = (unsigned char)(an >> 8);
	r[7] = (unsigned char)an;
	r[8] = (unsigned char)(ns >> 8);
	r[9] = (unsigned char)ns;
	r[10] = 0;
	r[11] = edns ? 1 : 0;
	return out.n;
}

/* ---- the server --------------------------------------------------- */

struct tcpc {
	int fd;
	unsigned char *buf;
	size_t len;
};

struct rm_dnsd {
	pthread_t th;
	pthread_mutex_t mu;
	struct rm_dnsd_zone *zone;
	int udp, tcp, wake[2];
	unsigned port, queries, tcp_queries;
	struct tcpc c[TCP_MAX];
};

static void count(struct rm_dnsd *d, bool tcp)
{
	pthread_mutex_lock(&d->mu);
	d->queries++;
	if (tcp)
		d->tcp_queries++;
	pthread_mutex_unlock(&d->mu);
}

static size_t answer_locked(struct rm_dnsd *d, const unsigned char *q, size_t n,
			    int tcp, unsigned char *r, size_t rmax)
{
	size_t rl;

	count(d, tcp);
	pthread_mutex_lock(&d->mu);
	rl = rm_dnsd_answer(d->zone, q, n, tcp, r, rmax);
	pthread_mutex_unlock(&d->mu);
	return rl;
}

static void tcp_close(struct tcpc *c)
{
	close(c->fd);
	free(c->buf);
	c->fd = -1;
	c->buf = NULL;
	c->len = 0;
}

static void write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return;
		p += k;
		n -= (size_t)k;
	}
}

static void tcp_read(struct rm_dnsd *d, struct tcpc *c)
{
	ssize_t k = read(c->fd, c->buf + c->len, 65537 - c->len);
	size_t need;

	if (k <= 0) {
		tcp_close(c);
		return;
	}
	c->len += (size_t)k;
	while (c->len >= 2 &&
	       c->len >= (need = 2 + ((size_t)c->buf[0] << 8 | c->buf[1]))) {
		unsigned char *r = malloc(65537);
		size_t rl =
			answer_locked(d, c->buf + 2, need - 2, 1, r + 2, 65535);

		if (rl > 0) {
			r[0] = (unsigned char)(rl >> 8);
			r[1] = (unsigned char)rl;
			write_all(c->fd, r, rl + 2);
		}
		free(r);
		memmove(c->buf, c->buf + need, c->len - need);
		c->len -= need;
	}
}

static void *serve(void *arg)
{
	struct rm_dnsd *d = arg;

	for (;;) {
		struct pollfd p[3 + TCP_MAX];
		int np = 3;

		p[0] = (struct pollfd){.fd = d->wake[0], .events = POLLIN};
		p[1] = (struct pollfd){.fd = d->udp, .events = POLLIN};
		p[2] = (struct pollfd){.fd = d->tcp, .events = POLLIN};
		for (int i = 0; i < TCP_MAX; i++)
			p[np++] = (struct pollfd){.fd = d->c[i].fd,
						  .events = POLLIN};
		if (poll(p, (nfds_t)np, -1) < 0)
			continue;
		if (p[0].revents)
			break;
		if (p[1].revents & POLLIN) {
			unsigned char q[4096], r[65535];
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(d->udp, q, sizeof(q), 0,
					     (struct sockaddr *)&from, &fl);

			if (n > 0) {
				size_t rl = answer_locked(d, q, (size_t)n, 0, r,
							  sizeof(r));

				if (rl > 0)
					(void)sendto(d->udp, r, rl, 0,
						     (struct sockaddr *)&from,
						     fl);
			}
		}
		if (p[2].revents & POLLIN) {
			int fd = accept(d->tcp, NULL, NULL);
			int i;

			for (i = 0; fd >= 0 && i < TCP_MAX; i++)
				if (d->c[i].fd < 0) {
					d->c[i].fd = fd;
					d->c[i].buf = malloc(65537);
					d->c[i].len = 0;
					break;
				}
			if (fd >= 0 && i == TCP_MAX)
				close(fd);
		}
		for (int i = 0; i < TCP_MAX; i++)
			if (d->c[i].fd >= 0 &&
			    (p[3 + i].revents & (POLLIN | POLLHUP | POLLERR)))
				tcp_read(d, &d->c[i]);
	}
	return NULL;
}

static int bind_lo(int type, unsigned port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 16) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

struct rm_dnsd *rm_dnsd_start(const char *zone, char *err, size_t errsz)
{
	struct rm_dnsd_zone *z = rm_dnsd_zone_parse(zone, err, errsz);
	struct rm_dnsd *d;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);

	if (z == NULL)
		return NULL;
	d = calloc(1, sizeof(*d));
	d->zone = z;
	pthread_mutex_init(&d->mu, NULL);
	for (int i = 0; i < TCP_MAX; i++)
		d->c[i].fd = -1;
	/* the same port number for UDP and TCP, as resolvers expect */
	for (int tries = 0; tries < 50; tries++) {
		d->udp = bind_lo(SOCK_DGRAM, 0);
		if (d->udp < 0 ||
		    getsockname(d->udp, (struct sockaddr *)&sa, &sl) < 0)
			break;
		d->port = ntohs(sa.sin_port);
		d->tcp = bind_lo(SOCK_STREAM, d->port);
		if (d->tcp >= 0)
			break;
		close(d->udp);
		d->udp = -1;
	}
	if (d->udp < 0 || d->tcp < 0 || pipe(d->wake) < 0) {
		snprintf(err, errsz, "cannot bind 127.0.0.1: %s",
			 strerror(errno));
		if (d->udp >= 0)
			close(d->udp);
		rm_dnsd_zone_free(z);
		free(d);
		return NULL;
	}
	pthread_create(&d->th, NULL, serve, d);
	return d;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s = NULL;
	size_t n = 0, cap = 0, k;

	if (f == NULL)
		return NULL;
	do {
		if (cap - n < 4096) {
			cap = cap ? cap * 2 : 8192;
			s = realloc(s, cap + 1);
		}
		k = fread(s + n, 1, cap - n, f);
		n += k;
	} while (k > 0);
	fclose(f);
	s[n] = '\0';
	return s;
}

struct rm_dnsd *rm_dnsd_start_file(const char *path, char *err, size_t errsz)
{
	char *text = slurp(path);
	struct rm_dnsd *d;

	if (text == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return NULL;
	}
	d = rm_dnsd_start(text, err, errsz);
	free(text);
	return d;
}

int rm_dnsd_load(struct rm_dnsd *d, const char *zone, char *err, size_t errsz)
{
	struct rm_dnsd_zone *z = rm_dnsd_zone_parse(zone, err, errsz), *old;

	if (z == NULL)
		return -1;
	pthread_mutex_lock(&d->mu);
	old = d->zone;
	d->zone = z;
	pthread_mutex_unlock(&d->mu);
	rm_dnsd_zone_free(old);
	return 0;
}

unsigned rm_dnsd_port(const struct rm_dnsd *d)
{
	return d->port;
}

unsigned rm_dnsd_queries(struct rm_dnsd *d)
{
	unsigned n;

	pthread_mutex_lock(&d->mu);
	n = d->queries;
	pthread_mutex_unlock(&d->mu);
	return n;
}

unsigned rm_dnsd_tcp_queries(struct rm_dnsd *d)
{
	unsigned n;

	pthread_mutex_lock(&d->mu);
	n = d->tcp_queries;
	pthread_mutex_unlock(&d->mu);
	return n;
}

void rm_dnsd_stop(struct rm_dnsd *d)
{
	if (d == NULL)
		return;
	(void)write(d->wake[1], "x", 1);
	pthread_join(d->th, NULL);
	for (int i = 0; i < TCP_MAX; i++)
		if (d->c[i].fd >= 0)
			tcp_close(&d->c[i]);
	close(d->udp);
	close(d->tcp);
	close(d->wake[0]);
	close(d->wake[1]);
	rm_dnsd_zone_free(d->zone);
	pthread_mutex_destroy(&d->mu);
	free(d);
}
