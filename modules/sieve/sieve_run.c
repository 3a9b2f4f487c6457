/* The interpreter: walks a checked script for one message and
 * recipient, evaluating tests through struct sieve_env and collecting
 * actions under RFC 5228 4/2.10's rules (implicit keep, duplicates
 * collapse) and the extensions' conflicts (RFC 5429 reject, RFC 5230
 * one vacation).  Everything a run allocates lives in one capped arena,
 * and every command, test and match step is charged to the budget. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sieve_int.h"

#define RUN_ARENA_CAP (32u * 1024 * 1024)
#define VAR_MAX_LEN 4096
#define VAR_MAX_COUNT 512
#define EXPAND_MAX (256 * 1024)
#define ADDR_MAX 1024
#define FLAGS_MAX 256 /* flags in one list: their dedup is quadratic */

struct var {
	char *name; /* lower case */
	struct sv_str val;
};
struct vars {
	struct var *v;
	size_t n, cap;
};

struct frame {
	const struct sieve_script *s;
	struct vars local;
	struct vars *gdecl; /* names declared `global` here (values unused) */
	int returned;
};

struct run {
	const struct sieve_env *env;
	struct sieve_result *res;
	struct sv_arena a;
	struct sieve_limits lim;
	uint64_t steps;
	int stopped, failed, implicit_keep;
	struct vars globals;
	struct sv_str mv[SV_NMATCH];
	size_t nmv;
	struct sv_str iflags; /* imap4flags' internal variable */
	const struct sieve_script **once;
	size_t nonce;
	size_t nredirects, depth;
	struct sv_addr *addrs; /* ADDR_MAX, allocated once per run */
};

static int rfail(struct run *r, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int rfail(struct run *r, unsigned line, const char *fmt, ...)
{
	va_list ap;
	char msg[200];

	if (r->failed)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(r->res->err, sizeof(r->res->err), "line %u: %s", line, msg);
	r->failed = 1;
	return -1;
}

static int oom(struct run *r, unsigned line)
{
	return rfail(r, line, "out of memory (run limit)");
}

static int step(struct run *r, unsigned line)
{
	if (++r->steps > r->lim.max_steps)
		return rfail(r, line, "step budget exceeded");
	return 0;
}

/* ---- variables (RFC 5229) ---- */

static struct var *var_find(struct vars *vs, const char *name, size_t n)
{
	for (size_t i = 0; i < vs->n; i++)
		if (strlen(vs->v[i].name) == n &&
		    strncasecmp(vs->v[i].name, name, n) == 0)
			return &vs->v[i];
	return NULL;
}

static struct var *var_add(struct run *r, struct vars *vs, const char *name,
			   size_t n)
{
	struct var *v = var_find(vs, name, n);

	if (v != NULL)
		return v;
	if (vs->n >= VAR_MAX_COUNT)
		return NULL;
	if (vs->n == vs->cap) {
		size_t cap = vs->cap ? vs->cap * 2 : 16;
		struct var *nv = sv_alloc(&r->a, cap * sizeof(*nv));

		if (nv == NULL)
			return NULL;
		if (vs->n)
			memcpy(nv, vs->v, vs->n * sizeof(*nv));
		vs->v = nv;
		vs->cap = cap;
	}
	v = &vs->v[vs->n];
	v->name = sv_memdup(&r->a, name, n);
	if (v->name == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		v->name[i] = (char)tolower((unsigned char)v->name[i]);
	v->val.p = "";
	v->val.n = 0;
	vs->n++;
	return v;
}

/* the table and bare name a variable name refers to; NULL: unknown
 * namespace (expands to "") */
static struct vars *var_scope(struct run *r, struct frame *f, const char **name,
			      size_t *n)
{
	if (*n > 7 && strncasecmp(*name, "global.", 7) == 0) {
		*name += 7;
		*n -= 7;
		return &r->globals;
	}
	if (memchr(*name, '.', *n) != NULL)
		return NULL;
	if (f->gdecl != NULL && var_find(f->gdecl, *name, *n) != NULL)
		return &r->globals;
	return &f->local;
}

static struct sv_str var_get(struct run *r, struct frame *f, const char *name,
			     size_t n)
{
	struct sv_str empty = {"", 0, 0};

	if (n > 0 && isdigit((unsigned char)name[0])) {
		size_t idx = 0;

		for (size_t i = 0; i < n && idx < 100; i++)
			idx = idx * 10 + (size_t)(name[i] - '0');
		return idx < r->nmv ? r->mv[idx] : empty;
	}
	struct vars *vs = var_scope(r, f, &name, &n);
	struct var *v = vs != NULL ? var_find(vs, name, n) : NULL;

	return v != NULL ? v->val : empty;
}

/* keep at most VAR_MAX_LEN bytes, not splitting a UTF-8 character */
static size_t utf8_cut(const char *p, size_t n, size_t max)
{
	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)p[max] & 0xc0) == 0x80)
		max--;
	return max;
}

struct buf {
	char *p;
	size_t n, cap;
	int oom;
};

static void bput(struct run *r, struct buf *b, const char *p, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n > EXPAND_MAX)
		n = EXPAND_MAX - b->n;
	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->n + n + 1) * 2;
		char *np = sv_alloc(&r->a, cap);

		if (np == NULL) {
			b->oom = 1;
			return;
		}
		if (b->n)
			memcpy(np, b->p, b->n);
		b->p = np;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static int valid_ref(const char *p, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	if (isdigit((unsigned char)p[0])) {
		for (i = 0; i < n; i++)
			if (!isdigit((unsigned char)p[i]))
				return 0;
		return 1;
	}
	return sv_valid_var_name(p, n, 1);
}

/* a string with its "${name}" references replaced (RFC 5229 3) */
static int expand(struct run *r, struct frame *f, const struct sv_str *in,
		  struct sv_str *out, unsigned line)
{
	struct buf b = {0};
	const char *p = in->p, *e = in->p + in->n;

	if (!in->var) {
		*out = *in;
		return 0;
	}
	bput(r, &b, "", 0);
	while (p < e) {
		const char *d = memmem(p, (size_t)(e - p), "${", 2);
		const char *c;

		if (d == NULL) {
			bput(r, &b, p, (size_t)(e - p));
			break;
		}
		bput(r, &b, p, (size_t)(d - p));
		c = memchr(d + 2, '}', (size_t)(e - d - 2));
		if (c == NULL || !valid_ref(d + 2, (size_t)(c - d - 2))) {
			bput(r, &b, d, 2);
			p = d + 2;
			continue;
		}
		/* lookups are linear in the variables: charge each one */
		if (step(r, line) < 0)
			return -1;
		struct sv_str v = var_get(r, f, d + 2, (size_t)(c - d - 2));

		bput(r, &b, v.p, v.n);
		p = c + 1;
	}
	if (b.oom)
		return oom(r, line);
	out->p = b.p;
	out->n = b.n;
	out->var = 0;
	return 0;
}

static const struct sv_str *expand_list(struct run *r, struct frame *f,
					const struct sv_list *l, unsigned line)
{
	struct sv_str *v;
	size_t i;

	/* constant lists are used in place: no allocation per test */
	for (i = 0; i < l->n && !l->v[i].var; i++)
		;
	if (i == l->n)
		return l->v;
	v = sv_alloc(&r->a, (l->n + 1) * sizeof(*v));
	if (v == NULL) {
		oom(r, line);
		return NULL;
	}
	for (i = 0; i < l->n; i++)
		if (expand(r, f, &l->v[i], &v[i], line) < 0)
			return NULL;
	return v;
}

/* ---- matching values against keys ---- */

static void matcher(struct run *r, const struct sv_node *n,
		    struct sv_matcher *m)
{
	memset(m, 0, sizeof(*m));
	m->cmp = n->cmp;
	m->match = n->match;
	m->rel = n->rel;
	m->casemap = r->env->casemap;
	m->steps = &r->steps;
	m->max_steps = r->lim.max_steps;
	m->a = &r->a;
}

/* does any value match any key; sets match variables on :matches */
static int match_values(struct run *r, struct frame *f, const struct sv_node *n,
			const struct sv_str *vals, size_t nvals,
			const struct sv_list *keyl)
{
	struct sv_matcher m;
	const struct sv_str *keys = expand_list(r, f, keyl, n->line);
	int hit = 0;

	if (keys == NULL)
		return -1;
	matcher(r, n, &m);
	m.want_groups =
		n->match == M_MATCHES && (f->s->exts & EXT_VARIABLES) != 0;
	if (n->match == M_COUNT) {
		char cnt[32];

		snprintf(cnt, sizeof(cnt), "%zu", nvals);
		m.match = M_VALUE;
		for (size_t k = 0; k < keyl->n && !hit; k++)
			hit = sv_match(&m, cnt, strlen(cnt), keys[k].p,
				       keys[k].n);
	} else {
		/* fold each value and key once, not once per pair */
		if (m.cmp == CMP_UNICODE) {
			/* a copy: `keys` may be the script's own list */
			struct sv_str *fk =
				sv_alloc(&r->a, (keyl->n + 1) * sizeof(*fk));

			if (fk == NULL)
				return oom(r, n->line);
			for (size_t k = 0; k < keyl->n; k++) {
				fk[k].p = (char *)sv_fold(&m, keys[k].p,
							  keys[k].n, &fk[k].n);
				if (fk[k].p == NULL)
					return oom(r, n->line);
			}
			keys = fk;
			m.folded = 1;
		}
		for (size_t i = 0; i < nvals && !hit; i++) {
			const char *v = vals[i].p;
			size_t vn = vals[i].n;

			if (m.folded && (v = sv_fold(&m, v, vn, &vn)) == NULL)
				return oom(r, n->line);
			for (size_t k = 0; k < keyl->n && !hit; k++) {
				hit = sv_match(&m, v, vn, keys[k].p, keys[k].n);
				if (m.over || m.oom)
					break;
			}
		}
	}
	if (m.over)
		return rfail(r, n->line, "step budget exceeded");
	if (m.oom)
		return oom(r, n->line);
	if (hit && m.want_groups) {
		for (size_t i = 0; i < m.ngroups; i++) {
			r->mv[i].n = utf8_cut(m.groups[i].p, m.groups[i].n,
					      VAR_MAX_LEN);
			r->mv[i].p =
				sv_memdup(&r->a, m.groups[i].p, r->mv[i].n);
			if (r->mv[i].p == NULL)
				return oom(r, n->line);
		}
		r->nmv = m.ngroups;
	}
	return hit;
}

/* growable value array */
/* growable value array; the first few live inside it (on the test's
 * stack), so a test with a handful of values allocates nothing */
struct vals {
	struct sv_str *v;
	size_t n, cap;
	struct sv_str inl[8];
};

static int vpush(struct run *r, struct vals *vs, const char *p, size_t n)
{
	if (vs->v == NULL) {
		vs->v = vs->inl;
		vs->cap = sizeof(vs->inl) / sizeof(*vs->inl);
	}
	if (vs->n == vs->cap) {
		size_t cap = vs->cap * 2;
		struct sv_str *nv = sv_alloc(&r->a, cap * sizeof(*nv));

		if (nv == NULL)
			return -1;
		if (vs->n)
			memcpy(nv, vs->v, vs->n * sizeof(*nv));
		vs->v = nv;
		vs->cap = cap;
	}
	vs->v[vs->n].p = (char *)p;
	vs->v[vs->n].n = n;
	vs->v[vs->n].var = 0;
	vs->n++;
	return 0;
}

/* the header's values after :index/:last (RFC 5260 4) */
static size_t header_vals(struct run *r, const struct sv_node *n,
			  const char *name, const char ***vals)
{
	size_t cnt = 0;

	*vals = NULL;
	if (r->env->header == NULL || !sv_valid_header_name(name, strlen(name)))
		return 0;
	cnt = r->env->header(r->env->arg, name, vals);
	if (n->index == 0 || cnt == 0)
		return cnt;
	if ((uint64_t)n->index > cnt)
		return 0;
	*vals += n->last ? cnt - (size_t)n->index : (size_t)n->index - 1;
	return 1;
}

static int addr_vals(struct run *r, const struct sv_node *n, const char *a,
		     size_t an, struct vals *out)
{
	const char *p;
	size_t pn;

	if (!sv_addr_part(n->apart, a, an, &p, &pn))
		return 0;
	return vpush(r, out, p, pn);
}

static int test(struct run *r, struct frame *f, const struct sv_node *n);

static int t_header_like(struct run *r, struct frame *f,
			 const struct sv_node *n)
{
	const struct sv_str *names = expand_list(r, f, &n->pos[0], n->line);
	struct vals vs = {0};

	if (names == NULL)
		return -1;
	for (size_t i = 0; i < n->pos[0].n; i++) {
		const char **hv;
		size_t cnt = header_vals(r, n, names[i].p, &hv);

		for (size_t j = 0; j < cnt; j++) {
			const char *v = hv[j] != NULL ? hv[j] : "";

			if (n->op == OP_HEADER) {
				if (vpush(r, &vs, v, strlen(v)) < 0)
					return oom(r, n->line);
				continue;
			}
			if (r->addrs == NULL)
				r->addrs = sv_alloc(
					&r->a, ADDR_MAX * sizeof(*r->addrs));
			if (r->addrs == NULL)
				return oom(r, n->line);
			size_t na = sv_addr_list(&r->a, v, strlen(v), r->addrs,
						 ADDR_MAX);

			r->steps += na / 16 + strlen(v) / 1024;
			if (step(r, n->line) < 0)
				return -1;
			for (size_t k = 0; k < na; k++)
				if (addr_vals(r, n, r->addrs[k].p,
					      r->addrs[k].n, &vs) < 0)
					return oom(r, n->line);
		}
	}
	return match_values(r, f, n, vs.v, vs.n, &n->pos[1]);
}

static int t_envelope(struct run *r, struct frame *f, const struct sv_node *n)
{
	const struct sv_str *parts = expand_list(r, f, &n->pos[0], n->line);
	struct vals vs = {0};

	if (parts == NULL)
		return -1;
	for (size_t i = 0; i < n->pos[0].n; i++) {
		const char *a = NULL;

		if (strcasecmp(parts[i].p, "from") == 0)
			a = r->env->env_from;
		else if (strcasecmp(parts[i].p, "to") == 0)
			a = r->env->env_to;
		else
			return rfail(r, n->line, "unknown envelope part \"%s\"",
				     parts[i].p);
		if (a == NULL)
			continue;
		/* the null reverse-path compares as "" for every part */
		if (a[0] == '\0' ? vpush(r, &vs, "", 0) < 0
				 : addr_vals(r, n, a, strlen(a), &vs) < 0)
			return oom(r, n->line);
	}
	return match_values(r, f, n, vs.v, vs.n, &n->pos[1]);
}

/* the space-separated flags of a string, as values */
static int split_flags(struct run *r, const struct sv_str *s, struct vals *vs,
		       unsigned line)
{
	const char *p = s->p, *e = s->p + s->n;

	while (p < e) {
		if (vs->n >= FLAGS_MAX)
			return rfail(r, line, "too many flags (limit %d)",
				     FLAGS_MAX);
		while (p < e && *p == ' ')
			p++;
		const char *b = p;

		while (p < e && *p != ' ')
			p++;
		if (p > b && vpush(r, vs, b, (size_t)(p - b)) < 0)
			return -1;
	}
	return 0;
}

static int t_hasflag(struct run *r, struct frame *f, const struct sv_node *n)
{
	struct vals vs = {0};

	if (n->npos == 2) {
		const struct sv_str *names =
			expand_list(r, f, &n->pos[0], n->line);

		if (names == NULL)
			return -1;
		for (size_t i = 0; i < n->pos[0].n; i++) {
			struct sv_str v = var_get(r, f, names[i].p, names[i].n);

			if (split_flags(r, &v, &vs, n->line) < 0)
				return oom(r, n->line);
		}
	} else if (split_flags(r, &r->iflags, &vs, n->line) < 0) {
		return oom(r, n->line);
	}
	return match_values(r, f, n, vs.v, vs.n, &n->pos[n->npos - 1]);
}

static int t_body(struct run *r, struct frame *f, const struct sv_node *n)
{
	const struct sieve_str *parts = NULL;
	const struct sv_str *ct = NULL;
	const char **ctypes = NULL;
	struct vals vs = {0};
	int np = 0;

	if (n->bodyx == SIEVE_BODY_CONTENT) {
		ct = expand_list(r, f, &n->ctypes, n->line);
		ctypes = sv_alloc(&r->a, (n->ctypes.n + 1) * sizeof(*ctypes));
		if (ct == NULL || ctypes == NULL)
			return oom(r, n->line);
		for (size_t i = 0; i < n->ctypes.n; i++)
			ctypes[i] = ct[i].p;
	}
	if (r->env->body != NULL) {
		np = r->env->body(r->env->arg, n->bodyx, ctypes,
				  ctypes ? n->ctypes.n : 0, &parts);
		if (np < 0)
			return rfail(r, n->line, "body: cannot read the body");
	}
	for (int i = 0; i < np; i++)
		if (vpush(r, &vs, parts[i].p, parts[i].n) < 0)
			return oom(r, n->line);
	return match_values(r, f, n, vs.v, vs.n, &n->pos[0]);
}

static int zone_of(struct run *r, struct frame *f, const struct sv_node *n,
		   int *zone)
{
	*zone = r->env->tz_minutes;
	if (n->zone != Z_ZONE)
		return 0;
	if (!n->zone_str.var) {
		*zone = n->zone_min;
		return 0;
	}
	struct sv_str z;

	if (expand(r, f, &n->zone_str, &z, n->line) < 0)
		return -1;
	if (sv_zone_parse(z.p, z.n, zone) < 0)
		return rfail(r, n->line, "bad :zone \"%s\"", z.p);
	return 0;
}

static int t_date(struct run *r, struct frame *f, const struct sv_node *n)
{
	struct vals vs = {0};
	struct sv_str hdr, part;
	int zone;
	int cur = n->op == OP_CURRENTDATE;
	const struct sv_list *keys = &n->pos[cur ? 1 : 2];

	if (zone_of(r, f, n, &zone) < 0 ||
	    expand(r, f, &n->pos[cur ? 0 : 1].v[0], &part, n->line) < 0)
		return -1;
	if (!sv_date_known_part(part.p))
		return rfail(r, n->line, "unknown date part \"%s\"", part.p);
	if (cur) {
		struct sv_tm tm;
		char *buf = sv_alloc(&r->a, 64);

		if (buf == NULL)
			return oom(r, n->line);
		sv_date_from_time((int64_t)r->env->now, zone, &tm);
		sv_date_part(&tm, part.p, buf, 64);
		if (vpush(r, &vs, buf, strlen(buf)) < 0)
			return oom(r, n->line);
		return match_values(r, f, n, vs.v, vs.n, keys);
	}
	if (expand(r, f, &n->pos[0].v[0], &hdr, n->line) < 0)
		return -1;
	const char **hv;
	size_t cnt = header_vals(r, n, hdr.p, &hv);

	for (size_t i = 0; i < cnt; i++) {
		struct sv_tm tm;
		char *buf;

		const char *dv = hv[i];

		if (dv == NULL)
			continue;
		/* Received: the date follows the last ';' (RFC 5260 4) */
		if (strcasecmp(hdr.p, "received") == 0 && strrchr(dv, ';'))
			dv = strrchr(dv, ';') + 1;
		if (sv_date_parse(dv, strlen(dv), &tm))
			continue;
		if (n->zone != Z_ORIGINAL)
			sv_date_tozone(&tm, zone);
		buf = sv_alloc(&r->a, 64);
		if (buf == NULL)
			return oom(r, n->line);
		sv_date_part(&tm, part.p, buf, 64);
		if (vpush(r, &vs, buf, strlen(buf)) < 0)
			return oom(r, n->line);
	}
	if (vs.n == 0 && n->match != M_COUNT)
		return 0;
	return match_values(r, f, n, vs.v, vs.n, keys);
}

static int test(struct run *r, struct frame *f, const struct sv_node *n)
{
	int v;

	if (step(r, n->line) < 0)
		return -1;
	switch (n->op) {
	case OP_TRUE:
		return 1;
	case OP_FALSE:
		return 0;
	case OP_NOT:
		v = test(r, f, n->tests[0]);
		return v < 0 ? -1 : !v;
	case OP_ALLOF:
	case OP_ANYOF:
		for (size_t i = 0; i < n->ntests; i++) {
			v = test(r, f, n->tests[i]);
			if (v < 0)
				return -1;
			if (n->op == OP_ALLOF && !v)
				return 0;
			if (n->op == OP_ANYOF && v)
				return 1;
		}
		return n->op == OP_ALLOF;
	case OP_SIZE:
		return n->over ? r->env->size > n->num : r->env->size < n->num;
	case OP_EXISTS: {
		const struct sv_str *names =
			expand_list(r, f, &n->pos[0], n->line);

		if (names == NULL)
			return -1;
		for (size_t i = 0; i < n->pos[0].n; i++) {
			const char **hv;

			if (header_vals(r, n, names[i].p, &hv) == 0)
				return 0;
		}
		return 1;
	}
	case OP_MAILBOXEXISTS: {
		const struct sv_str *names =
			expand_list(r, f, &n->pos[0], n->line);

		if (names == NULL)
			return -1;
		for (size_t i = 0; i < n->pos[0].n; i++)
			if (r->env->mailbox_exists == NULL ||
			    !r->env->mailbox_exists(r->env->arg, names[i].p))
				return 0;
		return 1;
	}
	case OP_HEADER:
	case OP_ADDRESS:
		return t_header_like(r, f, n);
	case OP_ENVELOPE:
		return t_envelope(r, f, n);
	case OP_STRING: {
		const struct sv_str *src =
			expand_list(r, f, &n->pos[0], n->line);
		struct vals vs = {0};

		if (src == NULL)
			return -1;
		for (size_t i = 0; i < n->pos[0].n; i++)
			/* :count counts the non-empty strings (RFC 5229 5) */
			if ((n->match != M_COUNT || src[i].n > 0) &&
			    vpush(r, &vs, src[i].p, src[i].n) < 0)
				return oom(r, n->line);
		return match_values(r, f, n, vs.v, vs.n, &n->pos[1]);
	}
	case OP_HASFLAG:
		return t_hasflag(r, f, n);
	case OP_BODY:
		return t_body(r, f, n);
	case OP_DATE:
	case OP_CURRENTDATE:
		return t_date(r, f, n);
	default:
		return rfail(r, n->line, "%s is not a test", n->name);
	}
}

/* ---- actions ---- */

static char *xdup(struct run *r, const char *p, size_t n, unsigned line)
{
	char *d = malloc(n + 1);

	if (d == NULL) {
		oom(r, line);
		return NULL;
	}
	memcpy(d, p, n);
	d[n] = '\0';
	return d;
}

static const char *kind_name(enum sieve_act k)
{
	static const char *const names[] = {"keep",    "fileinto", "redirect",
					    "discard", "reject",   "ereject",
					    "vacation"};
	return names[k];
}

/* flags of a string list or the internal variable, deduplicated */
static int flag_array(struct run *r, struct frame *f, const struct sv_list *l,
		      char ***out, size_t *nout, unsigned line)
{
	struct vals vs = {0};

	*out = NULL;
	*nout = 0;
	if (l != NULL) {
		const struct sv_str *e = expand_list(r, f, l, line);

		if (e == NULL)
			return -1;
		for (size_t i = 0; i < l->n; i++)
			if (split_flags(r, &e[i], &vs, line) < 0)
				return oom(r, line);
	} else if (split_flags(r, &r->iflags, &vs, line) < 0) {
		return oom(r, line);
	}
	if (vs.n == 0)
		return 0;
	*out = calloc(vs.n, sizeof(**out));
	if (*out == NULL)
		return oom(r, line);
	for (size_t i = 0; i < vs.n; i++) {
		size_t j;

		for (j = 0; j < *nout; j++)
			if (strlen((*out)[j]) == vs.v[i].n &&
			    strncasecmp((*out)[j], vs.v[i].p, vs.v[i].n) == 0)
				break;
		if (j < *nout)
			continue;
		(*out)[*nout] = xdup(r, vs.v[i].p, vs.v[i].n, line);
		if ((*out)[*nout] == NULL)
			return -1;
		(*nout)++;
	}
	return 0;
}

static void action_clear(struct sieve_action *a)
{
	free(a->mailbox);
	free(a->address);
	free(a->reason);
	free(a->subject);
	free(a->from);
	free(a->handle);
	for (size_t i = 0; i < a->nflags; i++)
		free(a->flags[i]);
	free(a->flags);
	for (size_t i = 0; i < a->naddresses; i++)
		free(a->addresses[i]);
	free(a->addresses);
	memset(a, 0, sizeof(*a));
}

static int is_inbox(const char *m)
{
	return m == NULL || strcasecmp(m, "INBOX") == 0;
}

static void merge_flags(struct sieve_action *into, struct sieve_action *from)
{
	char **nf = realloc(into->flags,
			    (into->nflags + from->nflags + 1) * sizeof(*nf));

	if (nf == NULL)
		return;
	into->flags = nf;
	for (size_t i = 0; i < from->nflags; i++) {
		size_t j;

		for (j = 0; j < into->nflags; j++)
			if (strcasecmp(into->flags[j], from->flags[i]) == 0)
				break;
		if (j < into->nflags)
			continue;
		into->flags[into->nflags++] = from->flags[i];
		from->flags[i] = NULL;
	}
}

/* add `a` (moved in) under the conflict and duplicate rules */
static int add_action(struct run *r, struct sieve_action *a)
{
	struct sieve_result *res = r->res;
	int rej = a->kind == SIEVE_REJECT || a->kind == SIEVE_EREJECT;

	for (size_t i = 0; i < res->n; i++) {
		struct sieve_action *o = &res->v[i];
		int orej = o->kind == SIEVE_REJECT || o->kind == SIEVE_EREJECT;

		/* RFC 5429 2.1/2.2: reject/ereject stand alone */
		if ((rej && o->kind != SIEVE_DISCARD) ||
		    (orej && a->kind != SIEVE_DISCARD)) {
			rfail(r, a->line, "%s conflicts with %s (line %u)",
			      kind_name(a->kind), kind_name(o->kind), o->line);
			goto drop;
		}
		if (a->kind == SIEVE_VACATION && o->kind == SIEVE_VACATION) {
			rfail(r, a->line,
			      "only one vacation per run "
			      "(first on line %u)",
			      o->line);
			goto drop;
		}
		/* duplicates collapse (RFC 5228 2.10.3, 4.1) */
		int same_box =
			(a->kind == SIEVE_KEEP || a->kind == SIEVE_FILEINTO) &&
			(o->kind == SIEVE_KEEP || o->kind == SIEVE_FILEINTO) &&
			(a->kind == SIEVE_KEEP || o->kind == SIEVE_KEEP
				 ? is_inbox(a->mailbox) && is_inbox(o->mailbox)
				 : strcmp(a->mailbox, o->mailbox) == 0);
		if (same_box) {
			merge_flags(o, a);
			o->create |= a->create;
			if (!a->copy)
				r->implicit_keep = 0;
			goto drop_ok;
		}
		if ((a->kind == SIEVE_REDIRECT && o->kind == SIEVE_REDIRECT &&
		     strcasecmp(a->address, o->address) == 0) ||
		    (a->kind == SIEVE_DISCARD && o->kind == SIEVE_DISCARD)) {
			if (!a->copy)
				r->implicit_keep = 0;
			goto drop_ok;
		}
	}
	if (a->kind == SIEVE_REDIRECT &&
	    ++r->nredirects > r->lim.max_redirects) {
		rfail(r, a->line, "too many redirects (limit %zu)",
		      r->lim.max_redirects);
		goto drop;
	}
	if (res->n >= r->lim.max_actions) {
		rfail(r, a->line, "too many actions (limit %zu)",
		      r->lim.max_actions);
		goto drop;
	}
	struct sieve_action *nv = realloc(res->v, (res->n + 1) * sizeof(*nv));

	if (nv == NULL) {
		oom(r, a->line);
		goto drop;
	}
	res->v = nv;
	res->v[res->n++] = *a;
	if (a->kind != SIEVE_VACATION && !a->copy)
		r->implicit_keep = 0;
	return 0;
drop_ok:
	action_clear(a);
	return 0;
drop:
	action_clear(a);
	return -1;
}

static uint64_t fnv(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ull;
	}
	return h ^ 0xff;
}

static int a_vacation(struct run *r, struct frame *f, const struct sv_node *n,
		      struct sieve_action *a)
{
	struct sv_str reason, subj = {0}, from = {0}, handle = {0};
	char hb[40];

	if (expand(r, f, &n->pos[0].v[0], &reason, n->line) < 0 ||
	    (n->subject.p && expand(r, f, &n->subject, &subj, n->line) < 0) ||
	    (n->from.p && expand(r, f, &n->from, &from, n->line) < 0) ||
	    (n->handle.p && expand(r, f, &n->handle, &handle, n->line) < 0))
		return -1;
	a->kind = SIEVE_VACATION;
	a->reason = xdup(r, reason.p, reason.n, n->line);
	if (n->subject.p)
		a->subject = xdup(r, subj.p, subj.n, n->line);
	if (n->from.p)
		a->from = xdup(r, from.p, from.n, n->line);
	if (n->handle.p) {
		a->handle = xdup(r, handle.p, handle.n, n->line);
	} else {
		/* RFC 5230 4.2: the same arguments make the same handle */
		uint64_t h = 14695981039346656037ull;

		h = fnv(h, reason.p, reason.n);
		h = fnv(h, subj.p ? subj.p : "", subj.n);
		h = fnv(h, from.p ? from.p : "", from.n);
		h = fnv(h, n->mime ? "m" : "", n->mime);
		snprintf(hb, sizeof(hb), "auto-%016llx", (unsigned long long)h);
		a->handle = xdup(r, hb, strlen(hb), n->line);
	}
	a->mime = n->mime;
	a->seconds = n->seconds;
	a->days_or_seconds = n->has_days ? (unsigned)n->num : 0;
	if (n->addresses.n > 0) {
		const struct sv_str *ad =
			expand_list(r, f, &n->addresses, n->line);

		if (ad == NULL)
			return -1;
		a->addresses = calloc(n->addresses.n, sizeof(char *));
		if (a->addresses == NULL)
			return oom(r, n->line);
		for (size_t i = 0; i < n->addresses.n; i++) {
			a->addresses[i] = xdup(r, ad[i].p, ad[i].n, n->line);
			if (a->addresses[i] == NULL)
				return -1;
			a->naddresses++;
		}
	}
	return r->failed ? -1 : 0;
}

static int set_var(struct run *r, struct frame *f, const struct sv_node *n)
{
	struct sv_str name, val;

	if (expand(r, f, &n->pos[1].v[0], &val, n->line) < 0)
		return -1;
	name = n->pos[0].v[0];
	char *d = sv_alloc(&r->a, val.n * 2 + 32);

	if (d == NULL)
		return oom(r, n->line);
	memcpy(d, val.p, val.n);
	size_t dn = val.n;

	/* RFC 5229 4.1: modifiers apply by precedence, highest first */
	if (n->mods & (MOD_LOWER | MOD_UPPER))
		for (size_t i = 0; i < dn; i++)
			d[i] = (char)((n->mods & MOD_LOWER)
					      ? tolower((unsigned char)d[i])
					      : toupper((unsigned char)d[i]));
	if (dn > 0 && (n->mods & MOD_LOWERFIRST))
		d[0] = (char)tolower((unsigned char)d[0]);
	if (dn > 0 && (n->mods & MOD_UPPERFIRST))
		d[0] = (char)toupper((unsigned char)d[0]);
	if (n->mods & MOD_QUOTEWILD) {
		char *q = sv_alloc(&r->a, dn * 2 + 1);
		size_t qn = 0;

		if (q == NULL)
			return oom(r, n->line);
		for (size_t i = 0; i < dn; i++) {
			if (d[i] == '*' || d[i] == '?' || d[i] == '\\')
				q[qn++] = '\\';
			q[qn++] = d[i];
		}
		d = q;
		dn = qn;
	}
	if (n->mods & MOD_LENGTH) {
		size_t chars = 0;

		for (size_t i = 0; i < dn; i++)
			chars += ((unsigned char)d[i] & 0xc0) != 0x80;
		dn = (size_t)snprintf(d, 32, "%zu", chars);
	}
	const char *nm = name.p;
	size_t nn = name.n;
	struct vars *vs = var_scope(r, f, &nm, &nn);
	struct var *v;

	if (vs == NULL)
		return rfail(r, n->line, "cannot set \"%s\"", name.p);
	v = var_add(r, vs, nm, nn);
	if (v == NULL)
		return rfail(r, n->line, "too many variables");
	v->val.n = utf8_cut(d, dn, VAR_MAX_LEN);
	v->val.p = d;
	return 0;
}

/* setflag/addflag/removeflag on a variable or the internal one */
static int a_flags(struct run *r, struct frame *f, const struct sv_node *n)
{
	struct sv_str *target = &r->iflags, cur;
	struct vals have = {0}, add = {0};
	struct buf b = {0};
	struct var *v = NULL;

	if (n->npos == 2) {
		struct sv_str nm;

		if (expand(r, f, &n->pos[0].v[0], &nm, n->line) < 0)
			return -1;
		const char *p = nm.p;
		size_t pn = nm.n;
		struct vars *vs = var_scope(r, f, &p, &pn);

		if (vs == NULL || (v = var_add(r, vs, p, pn)) == NULL)
			return rfail(r, n->line, "cannot set \"%s\"", nm.p);
		target = &v->val;
	}
	cur = *target;
	const struct sv_str *e =
		expand_list(r, f, &n->pos[n->npos - 1], n->line);

	if (e == NULL)
		return -1;
	for (size_t i = 0; i < n->pos[n->npos - 1].n; i++)
		if (split_flags(r, &e[i], &add, n->line) < 0)
			return oom(r, n->line);
	if (n->op != OP_SETFLAG && split_flags(r, &cur, &have, n->line) < 0)
		return oom(r, n->line);
	bput(r, &b, "", 0);
	/* the result: kept old flags, then new ones, each once */
	struct vals out = {0};

	for (size_t i = 0; i < have.n; i++) {
		int drop = 0;

		if (n->op == OP_REMOVEFLAG)
			for (size_t j = 0; j < add.n && !drop; j++)
				drop = have.v[i].n == add.v[j].n &&
				       !strncasecmp(have.v[i].p, add.v[j].p,
						    add.v[j].n);
		if (!drop && vpush(r, &out, have.v[i].p, have.v[i].n) < 0)
			return oom(r, n->line);
	}
	if (n->op != OP_REMOVEFLAG)
		for (size_t j = 0; j < add.n; j++)
			if (vpush(r, &out, add.v[j].p, add.v[j].n) < 0)
				return oom(r, n->line);
	for (size_t i = 0; i < out.n; i++) {
		size_t j;

		for (j = 0; j < i; j++)
			if (out.v[j].n == out.v[i].n &&
			    !strncasecmp(out.v[j].p, out.v[i].p, out.v[i].n))
				break;
		if (j < i)
			continue;
		if (b.n > 0)
			bput(r, &b, " ", 1);
		bput(r, &b, out.v[i].p, out.v[i].n);
	}
	if (b.oom)
		return oom(r, n->line);
	target->p = b.p;
	target->n = utf8_cut(b.p, b.n, VAR_MAX_LEN);
	target->var = 0;
	return 0;
}

static int run_block(struct run *r, struct frame *f, const struct sv_node *n);

static int run_script(struct run *r, const struct sieve_script *s,
		      struct vars *gdecl_parent)
{
	struct frame f;

	(void)gdecl_parent;
	memset(&f, 0, sizeof(f));
	f.s = s;
	f.gdecl = sv_alloc(&r->a, sizeof(*f.gdecl));
	if (f.gdecl == NULL)
		return oom(r, 1);
	return run_block(r, &f, s->first);
}

static int a_include(struct run *r, struct frame *f, const struct sv_node *n)
{
	if (n->inc == NULL) {
		if (n->optional)
			return 0;
		return rfail(r, n->line, "include: script \"%s\" unavailable",
			     n->pos[0].v[0].p);
	}
	if (n->once) {
		for (size_t i = 0; i < r->nonce; i++)
			if (r->once[i] == n->inc)
				return 0;
		const struct sieve_script **no =
			sv_alloc(&r->a, (r->nonce + 1) * sizeof(*no));

		if (no == NULL)
			return oom(r, n->line);
		if (r->nonce)
			memcpy(no, r->once, r->nonce * sizeof(*no));
		no[r->nonce++] = n->inc;
		r->once = no;
	}
	if (r->depth >= r->lim.max_includes)
		return rfail(r, n->line, "includes nested too deeply");
	r->depth++;
	int rc = run_script(r, n->inc, f->gdecl);

	r->depth--;
	return rc;
}

static int command(struct run *r, struct frame *f, const struct sv_node *n)
{
	struct sieve_action a;
	struct sv_str s;

	memset(&a, 0, sizeof(a));
	a.line = n->line;
	switch (n->op) {
	case OP_REQUIRE:
		return 0;
	case OP_STOP:
		r->stopped = 1;
		return 0;
	case OP_RETURN:
		f->returned = 1;
		return 0;
	case OP_KEEP:
		a.kind = SIEVE_KEEP;
		if ((f->s->exts & EXT_IMAP4FLAGS) &&
		    flag_array(r, f, n->flags, &a.flags, &a.nflags, n->line) <
			    0)
			break;
		return add_action(r, &a);
	case OP_DISCARD:
		a.kind = SIEVE_DISCARD;
		return add_action(r, &a);
	case OP_FILEINTO:
		if (expand(r, f, &n->pos[0].v[0], &s, n->line) < 0)
			return -1;
		if (s.n == 0)
			return rfail(r, n->line,
				     "fileinto: empty mailbox name");
		a.kind = SIEVE_FILEINTO;
		a.mailbox = xdup(r, s.p, s.n, n->line);
		a.create = n->create;
		a.copy = n->copy;
		if ((f->s->exts & EXT_IMAP4FLAGS) &&
		    flag_array(r, f, n->flags, &a.flags, &a.nflags, n->line) <
			    0)
			break;
		if (a.mailbox == NULL)
			break;
		return add_action(r, &a);
	case OP_REDIRECT:
		if (expand(r, f, &n->pos[0].v[0], &s, n->line) < 0)
			return -1;
		if (s.n == 0 || memchr(s.p, '@', s.n) == NULL)
			return rfail(r, n->line,
				     "redirect: invalid address "
				     "\"%s\"",
				     s.p);
		a.kind = SIEVE_REDIRECT;
		a.address = xdup(r, s.p, s.n, n->line);
		a.copy = n->copy;
		if (a.address == NULL)
			break;
		return add_action(r, &a);
	case OP_REJECT:
	case OP_EREJECT:
		if (expand(r, f, &n->pos[0].v[0], &s, n->line) < 0)
			return -1;
		a.kind = n->op == OP_REJECT ? SIEVE_REJECT : SIEVE_EREJECT;
		a.reason = xdup(r, s.p, s.n, n->line);
		if (a.reason == NULL)
			break;
		return add_action(r, &a);
	case OP_VACATION:
		if (a_vacation(r, f, n, &a) < 0)
			break;
		return add_action(r, &a);
	case OP_SET:
		return set_var(r, f, n);
	case OP_SETFLAG:
	case OP_ADDFLAG:
	case OP_REMOVEFLAG:
		return a_flags(r, f, n);
	case OP_INCLUDE:
		return a_include(r, f, n);
	case OP_GLOBAL:
		for (size_t i = 0; i < n->pos[0].n; i++) {
			struct sv_str nm;

			if (expand(r, f, &n->pos[0].v[i], &nm, n->line) < 0)
				return -1;
			if (var_add(r, f->gdecl, nm.p, nm.n) == NULL ||
			    var_add(r, &r->globals, nm.p, nm.n) == NULL)
				return rfail(r, n->line, "too many variables");
		}
		return 0;
	default:
		return rfail(r, n->line, "%s is not a command", n->name);
	}
	action_clear(&a);
	return -1;
}

static int run_block(struct run *r, struct frame *f, const struct sv_node *n)
{
	int taken = 0;

	for (; n != NULL && !r->stopped && !f->returned; n = n->next) {
		int v;

		if (step(r, n->line) < 0)
			return -1;
		switch (n->op) {
		case OP_IF:
		case OP_ELSIF:
			if (n->op == OP_ELSIF && taken)
				continue;
			v = test(r, f, n->tests[0]);
			if (v < 0)
				return -1;
			taken = v;
			if (v && run_block(r, f, n->block) < 0)
				return -1;
			continue;
		case OP_ELSE:
			if (!taken && run_block(r, f, n->block) < 0)
				return -1;
			taken = 1;
			continue;
		default:
			if (command(r, f, n) < 0)
				return -1;
		}
	}
	return 0;
}

int sieve_run(const struct sieve_script *s, const struct sieve_env *env,
	      struct sieve_result *res)
{
	struct run r;
	int rc;

	memset(res, 0, sizeof(*res));
	if (s == NULL || env == NULL) {
		res->implicit_keep = 1;
		snprintf(res->err, sizeof(res->err), "no script");
		return -1;
	}
	memset(&r, 0, sizeof(r));
	r.env = env;
	r.res = res;
	r.a.cap = RUN_ARENA_CAP;
	r.lim = s->lim;
	r.implicit_keep = 1;
	r.iflags.p = "";
	rc = run_script(&r, s, NULL);
	/* fileinto :copy "INBOX" already delivers where the implicit keep
	 * would: once is enough */
	for (size_t i = 0; rc == 0 && i < res->n; i++)
		if (res->v[i].kind == SIEVE_FILEINTO &&
		    is_inbox(res->v[i].mailbox))
			r.implicit_keep = 0;
	if (rc == 0 && r.implicit_keep) {
		struct frame f = {.s = s};
		struct sv_str none = {"", 0, 0};

		(void)none;
		if (flag_array(&r, &f, NULL, &res->flags, &res->nflags, 1) < 0)
			rc = -1;
	}
	if (rc < 0 || r.failed) {
		/* RFC 5228 2.10.6: an error keeps the message */
		for (size_t i = 0; i < res->n; i++)
			action_clear(&res->v[i]);
		res->n = 0;
		for (size_t i = 0; i < res->nflags; i++)
			free(res->flags[i]);
		free(res->flags);
		res->flags = NULL;
		res->nflags = 0;
		res->implicit_keep = 1;
		rc = -1;
	} else {
		res->implicit_keep = r.implicit_keep;
	}
	sv_arena_free(&r.a);
	return rc;
}

void sieve_result_free(struct sieve_result *res)
{
	if (res == NULL)
		return;
	for (size_t i = 0; i < res->n; i++)
		action_clear(&res->v[i]);
	free(res->v);
	for (size_t i = 0; i < res->nflags; i++)
		free(res->flags[i]);
	free(res->flags);
	res->v = NULL;
	res->flags = NULL;
	res->n = res->nflags = 0;
}
