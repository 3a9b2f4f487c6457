/*
 * SORT/THREAD, the pure half (see imap_sort.h).  Threading works on
 * index arrays with explicit stacks: a 100K-message reply chain is as
 * deep as it is long, so nothing here recurses on the tree.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_casemap.h"
#include "imap_search.h"
#include "imap_sort.h"
#include "imap_threadid.h"

/* References kept per message: the first (the thread's root, which
 * OBJECTID's THREADID names too) and the newest, which decide the
 * parent */
#define MAX_REFS 64

/* ---- grammar ---------------------------------------------------------- */

static const struct {
	const char *name;
	uint8_t key;
} keys[] = {
	{"ARRIVAL", IMAP_SORT_ARRIVAL},
	{"CC", IMAP_SORT_CC},
	{"DATE", IMAP_SORT_DATE},
	{"FROM", IMAP_SORT_FROM},
	{"SIZE", IMAP_SORT_SIZE},
	{"SUBJECT", IMAP_SORT_SUBJECT},
	{"TO", IMAP_SORT_TO},
	{"DISPLAYFROM", IMAP_SORT_DISPLAYFROM},
	{"DISPLAYTO", IMAP_SORT_DISPLAYTO},
};

int imap_sort_parse_criteria(const struct imap_arg **argp,
			     struct imap_sort_crit *crit, unsigned *n_r,
			     const char **error_r)
{
	const struct imap_arg *a = *argp, *o;
	unsigned n = 0;
	bool rev = false;
	size_t i;

	*n_r = 0;
	if (a == NULL || a->type != IMAP_ARG_LIST || a->list == NULL) {
		*error_r = "SORT needs a list of sort keys";
		return -1;
	}
	for (o = a->list; o != NULL; o = o->next) {
		if (imap_arg_atom_eq(o, "REVERSE")) {
			if (rev) {
				*error_r = "REVERSE REVERSE";
				return -1;
			}
			rev = true;
			continue;
		}
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (imap_arg_atom_eq(o, keys[i].name))
				break;
		if (i == sizeof(keys) / sizeof(keys[0])) {
			*error_r = "Unknown sort key";
			return -1;
		}
		if (n == IMAP_SORT_MAX_KEYS) {
			*error_r = "Too many sort keys";
			return -1;
		}
		crit[n].key = keys[i].key;
		crit[n].reverse = rev;
		n++;
		rev = false;
	}
	if (rev) {
		*error_r = "REVERSE needs a sort key";
		return -1;
	}
	*n_r = n;
	*argp = a->next;
	return 0;
}

int imap_thread_parse_alg(const struct imap_arg **argp, int *alg_r,
			  const char **error_r)
{
	const struct imap_arg *a = *argp;

	if (imap_arg_atom_eq(a, "ORDEREDSUBJECT"))
		*alg_r = IMAP_THREAD_ORDEREDSUBJECT;
	else if (imap_arg_atom_eq(a, "REFERENCES"))
		*alg_r = IMAP_THREAD_REFERENCES;
	else {
		*error_r = "Unknown threading algorithm";
		return -1;
	}
	*argp = a->next;
	return 0;
}

int imap_sort_parse_charset(const struct imap_arg **argp, const char **error_r)
{
	const struct imap_arg *a = *argp;

	if (a == NULL ||
	    (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_QUOTED &&
	     a->type != IMAP_ARG_LITERAL) ||
	    a->str == NULL || strlen(a->str) != a->len) {
		*error_r = "A charset is required";
		return -1;
	}
	*argp = a->next;
	if (strcasecmp(a->str, "UTF-8") == 0 ||
	    strcasecmp(a->str, "US-ASCII") == 0)
		return 0;
	*error_r = "Unsupported charset";
	return 1;
}

/* ---- base subject (RFC 5256 2.1) ------------------------------------- */

static bool ci_prefix(const char *s, size_t n, const char *p)
{
	size_t k = strlen(p);

	return n >= k && strncasecmp(s, p, k) == 0;
}

/* a subj-blob at s: "[" *BLOBCHAR "]" *WSP; its length, 0 when none */
static size_t blob_len(const char *s, size_t n)
{
	size_t i = 1;

	if (n == 0 || s[0] != '[')
		return 0;
	while (i < n && s[i] != ']' && s[i] != '[')
		i++;
	if (i >= n || s[i] != ']')
		return 0;
	i++;
	while (i < n && s[i] == ' ')
		i++;
	return i;
}

/* a subj-leader "*subj-blob subj-refwd" at s; its length, 0 none */
static size_t refwd_len(const char *s, size_t n)
{
	size_t i = 0, b;

	while ((b = blob_len(s + i, n - i)) > 0)
		i += b;
	if (ci_prefix(s + i, n - i, "re"))
		i += 2;
	else if (ci_prefix(s + i, n - i, "fwd"))
		i += 3;
	else if (ci_prefix(s + i, n - i, "fw"))
		i += 2;
	else
		return 0;
	while (i < n && s[i] == ' ')
		i++;
	i += blob_len(s + i, n - i);
	if (i >= n || s[i] != ':')
		return 0;
	return i + 1;
}

void imap_base_subject(const char *subject, size_t len, struct imap_buf *out,
		       bool *reply_r)
{
	char *s = malloc(len + 1);
	size_t n = 0, i, st = 0, k;
	bool changed;

	if (s == NULL)
		abort();
	*reply_r = false;
	/* (1) tabs and line breaks are spaces; runs of spaces one */
	for (i = 0; i < len; i++) {
		char c = subject[i];

		if (c == '\t' || c == '\r' || c == '\n')
			c = ' ';
		if (c == ' ' && n > 0 && s[n - 1] == ' ')
			continue;
		s[n++] = c;
	}
	for (;;) {
		/* (2) trailers: "(fwd)" and spaces */
		for (;;) {
			if (n > st && s[n - 1] == ' ')
				n--;
			else if (n - st >= 5 &&
				 strncasecmp(s + n - 5, "(fwd)", 5) == 0) {
				n -= 5;
				*reply_r = true;
			} else
				break;
		}
		/* (3)-(5) leaders and blobs until nothing changes */
		do {
			changed = false;
			if (st < n && s[st] == ' ') {
				st++;
				changed = true;
			} else if ((k = refwd_len(s + st, n - st)) > 0) {
				st += k;
				*reply_r = true;
				changed = true;
			} else if ((k = blob_len(s + st, n - st)) > 0 &&
				   st + k < n) {
				st += k;
				changed = true;
			}
		} while (changed);
		/* (6) "[fwd: ...]" around the rest: strip, again from (2) */
		if (n - st >= 6 && ci_prefix(s + st, n - st, "[fwd:") &&
		    s[n - 1] == ']') {
			st += 5;
			n--;
			*reply_r = true;
			continue;
		}
		break;
	}
	imap_buf_add(out, s + st, n - st);
	free(s);
}

/* ---- sent date ---------------------------------------------------------- */

static const char *const months[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec",
};

static const char *skip_cfws(const char *v)
{
	int depth = 0;

	for (; *v != '\0'; v++) {
		if (*v == '(')
			depth++;
		else if (*v == ')' && depth > 0)
			depth--;
		else if (depth == 0 && *v != ' ' && *v != '\t' && *v != '\r' &&
			 *v != '\n')
			break;
	}
	return v;
}

static int num(const char **vp, int maxd, int *out)
{
	const char *v = *vp;
	int d = 0, x = 0;

	while (*v >= '0' && *v <= '9' && d < maxd) {
		x = x * 10 + (*v++ - '0');
		d++;
	}
	if (d == 0)
		return -1;
	*vp = v;
	*out = x;
	return d;
}

/* obsolete zone names (RFC 5322 4.3); military zones count as +0000 */
static int zone_name(const char *v, int *min_r)
{
	static const struct {
		const char *n;
		int h;
	} z[] = {
		{"UT", 0},   {"GMT", 0},  {"EST", -5}, {"EDT", -4}, {"CST", -6},
		{"CDT", -5}, {"MST", -7}, {"MDT", -6}, {"PST", -8}, {"PDT", -7},
	};
	size_t i, k = 0;

	while ((v[k] | 0x20) >= 'a' && (v[k] | 0x20) <= 'z')
		k++;
	for (i = 0; i < sizeof(z) / sizeof(z[0]); i++)
		if (strlen(z[i].n) == k && strncasecmp(v, z[i].n, k) == 0) {
			*min_r = z[i].h * 60;
			return 0;
		}
	*min_r = 0;
	return k > 0 ? 0 : -1;
}

int imap_sent_time(const char *v, int64_t *t_r)
{
	int day, mon = -1, year, hh, mm, ss = 0, zmin = 0, d, k;

	v = skip_cfws(v);
	/* [ day-of-week "," ] */
	if ((*v | 0x20) >= 'a' && (*v | 0x20) <= 'z') {
		while ((*v | 0x20) >= 'a' && (*v | 0x20) <= 'z')
			v++;
		v = skip_cfws(v);
		if (*v == ',')
			v++;
		v = skip_cfws(v);
	}
	if (num(&v, 2, &day) < 0 || day < 1 || day > 31)
		return -1;
	v = skip_cfws(v);
	for (k = 0; k < 12; k++)
		if (strncasecmp(v, months[k], 3) == 0)
			mon = k;
	if (mon < 0)
		return -1;
	v = skip_cfws(v + 3);
	d = num(&v, 4, &year);
	if (d == 2)
		year += year < 50 ? 2000 : 1900; /* RFC 5322 4.3 */
	else if (d == 3)
		year += 1900;
	else if (d != 4)
		return -1;
	v = skip_cfws(v);
	if (num(&v, 2, &hh) < 0 || hh > 23)
		return -1;
	v = skip_cfws(v);
	if (*v++ != ':')
		return -1;
	v = skip_cfws(v);
	if (num(&v, 2, &mm) < 0 || mm > 59)
		return -1;
	v = skip_cfws(v);
	if (*v == ':') {
		v = skip_cfws(v + 1);
		if (num(&v, 2, &ss) < 0 || ss > 60)
			return -1;
		v = skip_cfws(v);
	}
	if (*v == '+' || *v == '-') {
		int sign = *v == '-' ? -1 : 1, z;

		v++;
		if (num(&v, 4, &z) != 4)
			return -1;
		zmin = sign * ((z / 100) * 60 + z % 100);
	} else if (*v != '\0' && zone_name(v, &zmin) < 0)
		return -1;
	*t_r = (int64_t)imap_days_from_civil(year, mon + 1, day) * 86400 +
	       hh * 3600 + mm * 60 + ss - (int64_t)zmin * 60;
	return 0;
}

/* ---- the record ---------------------------------------------------------- */

struct builder {
	struct imap_buf b;
	size_t off[9]; /* string offsets in b */
};

static void add_folded(struct builder *bd, int slot, const char *s)
{
	bd->off[slot] = bd->b.len;
	if (s != NULL)
		imap_casemap(s, strlen(s), &bd->b);
	imap_buf_add(&bd->b, "", 1);
}

/* the "<id>" tokens of a header value, without the brackets and any
 * white space inside; NUL-separated into b; their number */
static uint32_t add_ids(struct imap_buf *b, const char *v, uint32_t max,
			bool last_only)
{
	uint32_t n = 0;
	const char *a, *e, *i;

	/* the ids THREADID reads (imap_threadid.h), brackets and white
	 * space inside dropped */
	while (imap_msgid_next(&v, &a, &e)) {
		for (i = a; i < e; i++)
			if (*i != ' ' && *i != '\t' && *i != '\r' && *i != '\n')
				imap_buf_add(b, i, 1);
		imap_buf_add(b, "", 1);
		n++;
		if (last_only && n == max)
			break;
	}
	return n;
}

struct imap_sortrec *imap_sortrec_build(const struct imap_sorthdr *h,
					uint32_t uid, uint64_t size)
{
	struct builder bd = {0};
	struct imap_buf base = {0};
	struct imap_sortrec *r;
	uint32_t nids = 0, skip = 0, i;
	size_t idoff, msgid_off, hdr, total, o;
	const char **refs;
	char *p;
	bool reply = false;
	int64_t t;

	if (h->subject != NULL)
		imap_base_subject(h->subject, strlen(h->subject), &base,
				  &reply);
	imap_buf_add(&base, "", 1);
	add_folded(&bd, 0, base.p);
	imap_buf_free(&base);
	add_folded(&bd, 1, h->from);
	add_folded(&bd, 2, h->to);
	add_folded(&bd, 3, h->cc);
	add_folded(&bd, 4, h->dfrom);
	add_folded(&bd, 5, h->dto);
	msgid_off = bd.b.len;
	if (add_ids(&bd.b, h->message_id, 1, true) == 0)
		imap_buf_add(&bd.b, "", 1);
	/* RFC 5256 4: References, else the first id of In-Reply-To */
	idoff = bd.b.len;
	nids = add_ids(&bd.b, h->references, 0, false);
	if (nids == 0)
		nids = add_ids(&bd.b, h->in_reply_to, 1, true);
	if (nids > MAX_REFS)
		skip = nids - MAX_REFS;
	hdr = sizeof(*r) + (nids - skip) * sizeof(char *);
	total = hdr + bd.b.len;
	r = calloc(1, total);
	if (r == NULL)
		abort();
	p = (char *)r + hdr;
	memcpy(p, bd.b.p, bd.b.len);
	refs = (const char **)(r + 1);
	/* ids 1 .. skip are dropped, the root stays */
	for (i = 0, o = idoff; i < nids; i++) {
		if (i == 0 || i > skip)
			refs[i == 0 ? 0 : i - skip] = p + o;
		o += strlen(p + o) + 1;
	}
	r->uid = uid;
	r->size = size;
	r->sent = h->date != NULL && imap_sent_time(h->date, &t) == 0
			  ? t
			  : INT64_MIN;
	r->reply = reply;
	r->nrefs = nids - skip;
	r->refs = refs;
	r->base = p + bd.off[0];
	r->from = p + bd.off[1];
	r->to = p + bd.off[2];
	r->cc = p + bd.off[3];
	r->dfrom = p + bd.off[4];
	r->dto = p + bd.off[5];
	r->msgid = p + msgid_off;
	r->mem = total;
	imap_buf_free(&bd.b);
	return r;
}

/* ---- sorting ---------------------------------------------------------------
 */

int64_t imap_sort_sent(const struct imap_sort_msg *m)
{
	return m->r != NULL && m->r->sent != INT64_MIN ? m->r->sent
						       : m->internaldate;
}

static const char *str_of(const struct imap_sort_msg *m, int key)
{
	if (m->r == NULL)
		return "";
	switch (key) {
	case IMAP_SORT_CC:
		return m->r->cc;
	case IMAP_SORT_FROM:
		return m->r->from;
	case IMAP_SORT_SUBJECT:
		return m->r->base;
	case IMAP_SORT_TO:
		return m->r->to;
	case IMAP_SORT_DISPLAYFROM:
		return m->r->dfrom;
	default:
		return m->r->dto;
	}
}

static int cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int cmp_key(const struct imap_sort_msg *a, const struct imap_sort_msg *b,
		   int key)
{
	switch (key) {
	case IMAP_SORT_ARRIVAL:
		return cmp_i64(a->internaldate, b->internaldate);
	case IMAP_SORT_DATE:
		return cmp_i64(a->sent, b->sent);
	case IMAP_SORT_SIZE:
		return a->size < b->size ? -1 : a->size > b->size;
	default:
		/* i;unicode-casemap: octets of the mapped forms */
		return strcmp(str_of(a, key), str_of(b, key));
	}
}

/*
 * What qsort moves: the first key's order as 128 bits (numbers biased
 * to unsigned, strings' first 16 bytes big-endian, REVERSE inverted),
 * so most comparisons never touch the records; ties on a longer
 * string, further keys and then the sequence number look further.
 */
struct ent {
	uint64_t k0, k1;
	uint32_t seq;
	uint32_t i : 31;
	uint32_t more : 1; /* a string longer than the 16 bytes */
};

/* qsort has no context argument: one sort per thread at a time */
static _Thread_local const struct imap_sort_crit *t_crit;
static _Thread_local unsigned t_ncrit;
static _Thread_local const struct imap_sort_msg *t_msgs;

static uint64_t be64(const char *s, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | (i < n ? (unsigned char)s[i] : 0);
	return v;
}

static void ent_key(struct ent *e, const struct imap_sort_msg *m,
		    const struct imap_sort_crit *c)
{
	const char *s;
	size_t n;

	e->k1 = 0;
	e->more = 0;
	switch (c->key) {
	case IMAP_SORT_ARRIVAL:
		e->k0 = (uint64_t)m->internaldate ^ (1ull << 63);
		break;
	case IMAP_SORT_DATE:
		e->k0 = (uint64_t)m->sent ^ (1ull << 63);
		break;
	case IMAP_SORT_SIZE:
		e->k0 = m->size;
		break;
	default:
		s = str_of(m, c->key);
		n = strlen(s);
		e->k0 = be64(s, n);
		e->k1 = n > 8 ? be64(s + 8, n - 8) : 0;
		e->more = n > 16;
		break;
	}
	if (c->reverse) {
		e->k0 = ~e->k0;
		e->k1 = ~e->k1;
	}
}

static int cmp_ents(const void *x, const void *y)
{
	const struct ent *a = x, *b = y;
	const struct imap_sort_msg *ma, *mb;
	unsigned i;
	int c;

	if (a->k0 != b->k0)
		return a->k0 < b->k0 ? -1 : 1;
	if (a->k1 != b->k1)
		return a->k1 < b->k1 ? -1 : 1;
	ma = &t_msgs[a->i];
	mb = &t_msgs[b->i];
	/* equal 16-byte prefixes of strings no longer: the same key */
	for (i = a->more || b->more ? 0 : 1; i < t_ncrit; i++) {
		c = cmp_key(ma, mb, t_crit[i].key);
		if (c != 0)
			return t_crit[i].reverse ? -c : c;
	}
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

void imap_sort_run(struct imap_sort_msg *msgs, size_t n,
		   const struct imap_sort_crit *crit, unsigned ncrit)
{
	struct imap_sort_msg *tmp;
	struct ent *e;
	size_t i;

	for (i = 0; i < n; i++)
		msgs[i].sent = imap_sort_sent(&msgs[i]);
	if (n < 2)
		return;
	e = malloc(n * sizeof(*e));
	tmp = malloc(n * sizeof(*tmp));
	if (e == NULL || tmp == NULL)
		abort();
	for (i = 0; i < n; i++) {
		ent_key(&e[i], &msgs[i], &crit[0]);
		e[i].seq = msgs[i].seq;
		e[i].i = (uint32_t)i;
	}
	t_crit = crit;
	t_ncrit = ncrit;
	t_msgs = msgs;
	qsort(e, n, sizeof(*e), cmp_ents);
	for (i = 0; i < n; i++)
		tmp[i] = msgs[e[i].i];
	memcpy(msgs, tmp, n * sizeof(*tmp));
	free(tmp);
	free(e);
}

static void put_num(struct imap_buf *b, uint32_t v)
{
	char tmp[12];
	size_t n = sizeof(tmp);

	do {
		tmp[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	imap_buf_add(b, tmp + n, sizeof(tmp) - n);
}

void imap_sort_write(const uint32_t *hits, size_t n, imap_sort_out_fn *out,
		     void *ctx)
{
	struct imap_buf b = {0};
	size_t i;

	imap_buf_add(&b, "* SORT", 6);
	for (i = 0; i < n; i++) {
		imap_buf_add(&b, " ", 1);
		put_num(&b, hits[i]);
		if (b.len > 60000) {
			out(ctx, b.p, b.len);
			b.len = 0;
		}
	}
	imap_buf_add(&b, "\r\n", 2);
	out(ctx, b.p, b.len);
	imap_buf_free(&b);
}

/* ---- threading -------------------------------------------------------------
 */

#define NONE UINT32_MAX

/* a container of RFC 5256 4: a message, or a dummy (msg NONE) */
struct node {
	uint32_t parent, child, last, prev, next;
	uint32_t msg; /* index into msgs */
};

struct tree {
	struct node *v;
	size_t n, cap;
	uint32_t top; /* the root: its children are the threads */
	struct imap_sort_msg *msgs;
	bool uid;
};

static uint32_t node_new(struct tree *t, uint32_t msg)
{
	if (t->n == t->cap) {
		t->cap = t->cap != 0 ? t->cap * 2 : 64;
		t->v = realloc(t->v, t->cap * sizeof(*t->v));
		if (t->v == NULL)
			abort();
	}
	t->v[t->n] = (struct node){NONE, NONE, NONE, NONE, NONE, msg};
	return (uint32_t)t->n++;
}

static void unlink_node(struct tree *t, uint32_t c)
{
	struct node *x = &t->v[c];

	if (x->parent == NONE)
		return;
	if (x->prev != NONE)
		t->v[x->prev].next = x->next;
	else
		t->v[x->parent].child = x->next;
	if (x->next != NONE)
		t->v[x->next].prev = x->prev;
	else
		t->v[x->parent].last = x->prev;
	x->parent = x->prev = x->next = NONE;
}

static void append(struct tree *t, uint32_t p, uint32_t c)
{
	struct node *x = &t->v[c];

	x->parent = p;
	x->prev = t->v[p].last;
	x->next = NONE;
	if (x->prev != NONE)
		t->v[x->prev].next = c;
	else
		t->v[p].child = c;
	t->v[p].last = c;
}

static void insert_before(struct tree *t, uint32_t at, uint32_t c)
{
	struct node *x = &t->v[c];
	uint32_t p = t->v[at].parent;

	x->parent = p;
	x->next = at;
	x->prev = t->v[at].prev;
	if (x->prev != NONE)
		t->v[x->prev].next = c;
	else
		t->v[p].child = c;
	t->v[at].prev = c;
}

/* is `a` an ancestor of `c` (or c itself) */
static bool is_ancestor(const struct tree *t, uint32_t a, uint32_t c)
{
	for (; c != NONE; c = t->v[c].parent)
		if (c == a)
			return true;
	return false;
}

/* c becomes the last child of p, unless that makes a loop (a
 * childless c cannot close one: no walk up then) */
static void link_node(struct tree *t, uint32_t p, uint32_t c)
{
	if (c == p || (t->v[c].child != NONE && is_ancestor(t, c, p)))
		return;
	unlink_node(t, c);
	append(t, p, c);
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* string -> node, open addressing; keys are borrowed */
struct strtab {
	const char **key;
	uint64_t *hash; /* a mismatch never reads the key */
	uint32_t *node;
	size_t mask;
};

static void strtab_init(struct strtab *st, size_t n)
{
	size_t k = 64;

	while (k < n * 2)
		k *= 2;
	st->mask = k - 1;
	st->key = calloc(k, sizeof(*st->key));
	st->hash = malloc(k * sizeof(*st->hash));
	st->node = malloc(k * sizeof(*st->node));
	if (st->key == NULL || st->hash == NULL || st->node == NULL)
		abort();
}

static void strtab_free(struct strtab *st)
{
	free(st->key);
	free(st->hash);
	free(st->node);
}

/* the slot of s (added, NONE, when `add`), NULL when absent */
static uint32_t *strtab_slot(struct strtab *st, const char *s, bool add)
{
	uint64_t h = hash_str(s);
	size_t i = (size_t)h & st->mask;

	while (st->key[i] != NULL &&
	       (st->hash[i] != h || strcmp(st->key[i], s) != 0))
		i = (i + 1) & st->mask;
	if (st->key[i] == NULL) {
		if (!add)
			return NULL;
		st->key[i] = s;
		st->hash[i] = h;
		st->node[i] = NONE;
	}
	return &st->node[i];
}

/* the message a node sorts by: a dummy goes by its first child */
static const struct imap_sort_msg *node_msg(const struct tree *t, uint32_t c)
{
	while (c != NONE && t->v[c].msg == NONE)
		c = t->v[c].child;
	return c == NONE ? NULL : &t->msgs[t->v[c].msg];
}

static _Thread_local const struct tree *t_tree;

/* sent date, then mailbox order (RFC 5256 2.2) */
static int cmp_nodes(const void *x, const void *y)
{
	const struct imap_sort_msg *a = node_msg(t_tree, *(const uint32_t *)x);
	const struct imap_sort_msg *b = node_msg(t_tree, *(const uint32_t *)y);
	int c;

	if (a == NULL || b == NULL)
		return (a == NULL) - (b == NULL);
	c = cmp_i64(a->sent, b->sent);
	if (c != 0)
		return c;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

struct scratch {
	uint32_t *v;
	size_t cap;
};

static void sort_children(struct tree *t, uint32_t p, struct scratch *sc)
{
	size_t k = 0, i;
	uint32_t c;

	for (c = t->v[p].child; c != NONE; c = t->v[c].next) {
		if (k == sc->cap) {
			sc->cap = sc->cap ? sc->cap * 2 : 64;
			sc->v = realloc(sc->v, sc->cap * sizeof(uint32_t));
			if (sc->v == NULL)
				abort();
		}
		sc->v[k++] = c;
	}
	if (k < 2)
		return;
	t_tree = t;
	qsort(sc->v, k, sizeof(uint32_t), cmp_nodes);
	t->v[p].child = sc->v[0];
	t->v[p].last = sc->v[k - 1];
	for (i = 0; i < k; i++) {
		t->v[sc->v[i]].prev = i > 0 ? sc->v[i - 1] : NONE;
		t->v[sc->v[i]].next = i + 1 < k ? sc->v[i + 1] : NONE;
	}
}

static size_t count_children(const struct tree *t, uint32_t c)
{
	size_t k = 0;

	for (c = t->v[c].child; c != NONE; c = t->v[c].next)
		k++;
	return k;
}

/*
 * RFC 5256 4 step 3: dummies without children go, dummies with
 * children hand them to their parent (at the top only when there is
 * one, else the dummy stays as the thread's root).
 */
static void prune(struct tree *t)
{
	uint32_t *stack = malloc((t->n + 1) * sizeof(uint32_t));
	size_t sp = 0;

	if (stack == NULL)
		abort();
	stack[sp++] = t->top;
	while (sp > 0) {
		uint32_t p = stack[--sp], c = t->v[p].child;

		while (c != NONE) {
			uint32_t next = t->v[c].next, kid;

			if (t->v[c].msg == NONE && t->v[c].child == NONE) {
				unlink_node(t, c);
				c = next;
				continue;
			}
			if (t->v[c].msg == NONE &&
			    (p != t->top || count_children(t, c) == 1)) {
				uint32_t first = t->v[c].child;

				while ((kid = t->v[c].child) != NONE) {
					unlink_node(t, kid);
					insert_before(t, c, kid);
				}
				unlink_node(t, c);
				/* the promoted children are looked at again */
				c = first;
				continue;
			}
			stack[sp++] = c;
			c = next;
		}
	}
	free(stack);
}

static bool node_reply(const struct tree *t, uint32_t c)
{
	return t->v[c].msg != NONE && t->msgs[t->v[c].msg].r != NULL &&
	       t->msgs[t->v[c].msg].r->reply;
}

static const char *node_subject(const struct tree *t, uint32_t c)
{
	const struct imap_sort_msg *m = node_msg(t, c);

	return m != NULL && m->r != NULL ? m->r->base : "";
}

/* RFC 5256 4 step 5: threads of the same base subject meet */
static void gather_subjects(struct tree *t)
{
	struct strtab st;
	size_t nroots = count_children(t, t->top), i, k = 0;
	uint32_t *roots = malloc((nroots + 1) * sizeof(uint32_t)), c, *slot;

	if (roots == NULL)
		abort();
	for (c = t->v[t->top].child; c != NONE; c = t->v[c].next)
		roots[k++] = c;
	strtab_init(&st, nroots);
	for (i = 0; i < nroots; i++) {
		const char *s = node_subject(t, roots[i]);
		uint32_t old;

		if (*s == '\0')
			continue;
		slot = strtab_slot(&st, s, true);
		old = *slot;
		if (old == NONE ||
		    (t->v[roots[i]].msg == NONE && t->v[old].msg != NONE) ||
		    (node_reply(t, old) && !node_reply(t, roots[i])))
			*slot = roots[i];
	}
	for (i = 0; i < nroots; i++) {
		uint32_t cur = roots[i], old, d, kid;
		const char *s = node_subject(t, cur);

		if (*s == '\0')
			continue;
		slot = strtab_slot(&st, s, false);
		if (slot == NULL || *slot == cur || *slot == NONE)
			continue;
		old = *slot;
		if (t->v[cur].msg == NONE && t->v[old].msg == NONE) {
			while ((kid = t->v[cur].child) != NONE)
				link_node(t, old, kid);
			unlink_node(t, cur);
		} else if (t->v[old].msg == NONE ||
			   (node_reply(t, cur) && !node_reply(t, old))) {
			link_node(t, old, cur);
		} else {
			/* a new dummy takes old's place among the threads */
			d = node_new(t, NONE);
			insert_before(t, old, d);
			link_node(t, d, old);
			link_node(t, d, cur);
			*slot = d;
		}
	}
	free(roots);
	strtab_free(&st);
}

static void put_id(struct imap_buf *out, const struct tree *t, uint32_t c)
{
	const struct imap_sort_msg *m = &t->msgs[t->v[c].msg];

	put_num(out, t->uid ? m->uid : m->seq);
}

/*
 * "(a b (c)(d e))": a run of only children is a list of numbers, two
 * or more children are each a parenthesised thread; a dummy at the
 * top is only its children's threads.
 */
static void write_threads(const struct tree *t, struct imap_buf *out)
{
	/* entries: a node to open, or NONE for ")" */
	uint32_t *stack = malloc((2 * t->n + 2) * sizeof(uint32_t));
	size_t sp = 0;
	uint32_t c, k, r;

	if (stack == NULL)
		abort();
	for (r = t->v[t->top].child; r != NONE; r = t->v[r].next) {
		stack[sp++] = r;
		while (sp > 0) {
			c = stack[--sp];
			if (c == NONE) {
				imap_buf_add(out, ")", 1);
				continue;
			}
			imap_buf_add(out, "(", 1);
			if (t->v[c].msg != NONE) {
				put_id(out, t, c);
				while (t->v[c].child != NONE &&
				       t->v[c].child == t->v[c].last &&
				       t->v[t->v[c].child].msg != NONE) {
					c = t->v[c].child;
					imap_buf_add(out, " ", 1);
					put_id(out, t, c);
				}
				if (t->v[c].child != NONE)
					imap_buf_add(out, " ", 1);
			}
			stack[sp++] = NONE;
			/* pushed last first, so they come out in order */
			for (k = t->v[c].last; k != NONE; k = t->v[k].prev)
				stack[sp++] = k;
		}
	}
	free(stack);
}

static void thread_references(struct tree *t, size_t n,
			      const volatile int *cancel)
{
	struct scratch sc = {0};
	struct strtab it;
	size_t nids = n, i;
	uint32_t j;

	for (i = 0; i < n; i++)
		if (t->msgs[i].r != NULL)
			nids += t->msgs[i].r->nrefs;
	strtab_init(&it, nids);
	/* step 1, in mailbox order: a duplicate id stays the first's */
	for (i = 0; i < n; i++) {
		const struct imap_sortrec *r = t->msgs[i].r;
		uint32_t c = NONE, prev = NONE, *slot;

		if ((i & 1023) == 0 && cancel != NULL && *cancel)
			break;
		if (r != NULL && r->msgid[0] != '\0') {
			slot = strtab_slot(&it, r->msgid, true);
			if (*slot == NONE)
				*slot = node_new(t, (uint32_t)i);
			else if (t->v[*slot].msg == NONE)
				t->v[*slot].msg = (uint32_t)i;
			else
				slot = NULL;
			if (slot != NULL)
				c = *slot;
		}
		if (c == NONE)
			c = node_new(t, (uint32_t)i);
		if (r == NULL)
			continue;
		/* B: link the references in order, keeping existing links */
		for (j = 0; j < r->nrefs; j++) {
			uint32_t rc, *s = strtab_slot(&it, r->refs[j], true);

			if (*s == NONE)
				*s = node_new(t, NONE);
			rc = *s;
			if (prev != NONE && t->v[rc].parent == NONE)
				link_node(t, prev, rc);
			prev = rc;
		}
		/* C: the message's parent is its last reference, whatever
		 * an earlier message's References presumed */
		unlink_node(t, c);
		if (prev != NONE)
			link_node(t, prev, c);
	}
	strtab_free(&it);
	/* step 2: the parentless are the threads */
	t->top = node_new(t, NONE);
	for (i = 0; i + 1 < t->n; i++)
		if (t->v[i].parent == NONE)
			append(t, t->top, (uint32_t)i);
	prune(t);
	/* step 4, so the subject table meets threads oldest first */
	for (j = t->v[t->top].child; j != NONE; j = t->v[j].next)
		if (t->v[j].msg == NONE)
			sort_children(t, j, &sc);
	sort_children(t, t->top, &sc);
	gather_subjects(t);
	/* step 6: dummies are only at the top, so every other sibling
	 * set first, in any order, then the threads */
	for (i = 0; i < t->n; i++)
		if ((uint32_t)i != t->top && t->v[i].child != NONE)
			sort_children(t, (uint32_t)i, &sc);
	sort_children(t, t->top, &sc);
	free(sc.v);
}

static int cmp_subject(const void *x, const void *y)
{
	const struct imap_sort_msg *a = x, *b = y;
	int c = strcmp(a->r != NULL ? a->r->base : "",
		       b->r != NULL ? b->r->base : "");

	if (c != 0)
		return c;
	c = cmp_i64(a->sent, b->sent);
	if (c != 0)
		return c;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* RFC 5256 3: by base subject, then sent date; the first of each
 * subject is the parent of the others, threads by their first */
static void thread_orderedsubject(struct tree *t, size_t n)
{
	struct scratch sc = {0};
	uint32_t first = NONE;
	size_t i;

	qsort(t->msgs, n, sizeof(*t->msgs), cmp_subject);
	for (i = 0; i < n; i++)
		node_new(t, (uint32_t)i);
	t->top = node_new(t, NONE);
	for (i = 0; i < n; i++) {
		const char *s = t->msgs[i].r != NULL ? t->msgs[i].r->base : "";

		if (first == NONE ||
		    strcmp(s, t->msgs[first].r != NULL ? t->msgs[first].r->base
						       : "") != 0) {
			first = (uint32_t)i;
			append(t, t->top, first);
		} else
			append(t, first, (uint32_t)i);
	}
	sort_children(t, t->top, &sc);
	free(sc.v);
}

void imap_thread_run(struct imap_sort_msg *msgs, size_t n, int alg, bool uid,
		     struct imap_buf *out, const volatile int *cancel)
{
	struct tree t = {.msgs = msgs, .uid = uid};
	size_t i;

	if (n == 0)
		return;
	for (i = 0; i < n; i++)
		msgs[i].sent = imap_sort_sent(&msgs[i]);
	if (alg == IMAP_THREAD_ORDEREDSUBJECT)
		thread_orderedsubject(&t, n);
	else
		thread_references(&t, n, cancel);
	if (!(cancel != NULL && *cancel))
		write_threads(&t, out);
	free(t.v);
}
