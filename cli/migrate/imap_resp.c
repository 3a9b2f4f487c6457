/*
 * The IMAP response reader and parser of imap_resp.h.  Every length a
 * server announces is checked against a limit before anything is
 * allocated for it, and the parser re-checks every bound on the
 * assembled buffer, so any byte sequence gives a response or an error.
 */

#include "imap_resp.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define BLOCK_NODES 256

struct rm_imr_block {
	struct rm_imr_block *next;
	size_t used;
	struct rm_imv v[BLOCK_NODES];
};

void rm_imr_init(struct rm_imr *r, size_t literal_max, rm_imr_fill_fn fill,
		 void *arg)
{
	memset(r, 0, sizeof(*r));
	r->literal_max = literal_max;
	r->fill = fill;
	r->arg = arg;
}

static void blocks_free(struct rm_imr *r)
{
	while (r->blocks != NULL) {
		struct rm_imr_block *b = r->blocks;

		r->blocks = b->next;
		free(b);
	}
}

void rm_imr_free(struct rm_imr *r)
{
	blocks_free(r);
	free(r->buf);
	r->buf = NULL;
	r->len = r->cap = 0;
}

static int fail(struct rm_imr *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int fail(struct rm_imr *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return -1;
}

static struct rm_imv *node(struct rm_imr *r)
{
	struct rm_imr_block *b = r->blocks;

	if (b == NULL || b->used == BLOCK_NODES) {
		b = calloc(1, sizeof(*b));
		if (b == NULL)
			return NULL;
		b->next = r->blocks;
		r->blocks = b;
	}
	memset(&b->v[b->used], 0, sizeof(b->v[0]));
	return &b->v[b->used++];
}

static int reserve(struct rm_imr *r, size_t more)
{
	size_t want = r->len + more + 1, cap = r->cap != 0 ? r->cap : 4096;
	char *p;

	if (want <= r->cap)
		return 0;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? want : cap * 2;
	p = realloc(r->buf, cap);
	if (p == NULL)
		return fail(r, "out of memory for a response of %zu bytes",
			    want);
	r->buf = p;
	r->cap = cap;
	return 0;
}

static int refill(struct rm_imr *r)
{
	ssize_t n = r->fill(r->arg, r->in, sizeof(r->in));

	if (n == 0)
		return fail(r, "the server closed the connection");
	if (n < 0)
		return fail(r, "read error");
	r->inoff = 0;
	r->inlen = (size_t)n;
	return 0;
}

/* one line into buf without its terminator; -1 on limits or EOF */
static int read_line(struct rm_imr *r)
{
	size_t start = r->len;

	for (;;) {
		char *nl;
		size_t take;

		if (r->inoff == r->inlen && refill(r) < 0)
			return -1;
		nl = memchr(r->in + r->inoff, '\n', r->inlen - r->inoff);
		take = nl != NULL ? (size_t)(nl - (r->in + r->inoff))
				  : r->inlen - r->inoff;
		if (r->len - start + take > RM_IMR_LINE_MAX ||
		    r->text + (r->len - start) + take > RM_IMR_TEXT_MAX)
			return fail(r, "the server sent a line over %u bytes",
				    RM_IMR_LINE_MAX);
		if (reserve(r, take) < 0)
			return -1;
		memcpy(r->buf + r->len, r->in + r->inoff, take);
		r->len += take;
		r->inoff += take;
		if (nl != NULL) {
			r->inoff++;
			break;
		}
	}
	if (r->len > start && r->buf[r->len - 1] == '\r')
		r->len--;
	r->text += r->len - start;
	return 0;
}

/* the literal length a line ends with ("{N}" or "{N+}"), or -1 */
static int64_t literal_at_end(const char *s, size_t len)
{
	size_t i;
	uint64_t n = 0;

	if (len < 3 || s[len - 1] != '}')
		return -1;
	i = len - 1;
	if (s[i - 1] == '+')
		i--;
	if (i == 0)
		return -1;
	size_t end = i;
	while (i > 0 && isdigit((unsigned char)s[i - 1]))
		i--;
	if (i == 0 || i == end || s[i - 1] != '{' || end - i > 18)
		return -1;
	for (; i < end; i++)
		n = n * 10 + (uint64_t)(s[i] - '0');
	return (int64_t)n;
}

static int read_literal(struct rm_imr *r, size_t n)
{
	if (reserve(r, n + 2) < 0)
		return -1;
	r->buf[r->len++] = '\r';
	r->buf[r->len++] = '\n';
	while (n > 0) {
		size_t take;

		if (r->inoff == r->inlen && refill(r) < 0)
			return -1;
		take = r->inlen - r->inoff < n ? r->inlen - r->inoff : n;
		memcpy(r->buf + r->len, r->in + r->inoff, take);
		r->len += take;
		r->inoff += take;
		n -= take;
	}
	return 0;
}

int rm_imr_next(struct rm_imr *r, struct rm_imr_resp *resp)
{
	r->len = r->text = r->lits = 0;
	r->err[0] = '\0';
	for (;;) {
		size_t start = r->len;
		int64_t lit;

		if (read_line(r) < 0)
			return -1;
		lit = literal_at_end(r->buf + start, r->len - start);
		if (lit < 0)
			break;
		if ((uint64_t)lit > r->literal_max - r->lits)
			return fail(r,
				    "the server sent a literal of %lld bytes, "
				    "over the limit of %zu",
				    (long long)lit, r->literal_max - r->lits);
		r->lits += (size_t)lit;
		if (read_literal(r, (size_t)lit) < 0)
			return -1;
	}
	return rm_imr_parse(r, r->buf, r->len, resp);
}

/* ---- the parser ---------------------------------------------------- */

struct pstate {
	struct rm_imr *r;
	char *s;
	size_t len, pos;
};

static bool at_end(const struct pstate *p)
{
	return p->pos >= p->len;
}

static void skip_sp(struct pstate *p)
{
	while (!at_end(p) && p->s[p->pos] == ' ')
		p->pos++;
}

/* up to the next SP (or the end) */
static size_t word(struct pstate *p, const char **w)
{
	size_t start = p->pos;

	while (!at_end(p) && p->s[p->pos] != ' ')
		p->pos++;
	*w = p->s + start;
	return p->pos - start;
}

static bool atom_end(char c)
{
	return c == ' ' || c == '(' || c == ')' || c == '\r' || c == '\n' ||
	       c == '"' || c == '{';
}

static struct rm_imv *value(struct pstate *p, int depth);

static struct rm_imv *list(struct pstate *p, int depth, char close)
{
	struct rm_imv *l = node(p->r), *last = NULL;

	if (l == NULL)
		return NULL;
	l->type = RM_IMV_LIST;
	for (;;) {
		struct rm_imv *v;

		skip_sp(p);
		if (at_end(p))
			return close == '\0' ? l : NULL;
		if (p->s[p->pos] == ')') {
			if (close != ')')
				return NULL;
			p->pos++;
			return l;
		}
		v = value(p, depth + 1);
		if (v == NULL)
			return NULL;
		if (last == NULL)
			l->child = v;
		else
			last->next = v;
		last = v;
	}
}

static struct rm_imv *quoted(struct pstate *p)
{
	struct rm_imv *v = node(p->r);
	size_t out;

	if (v == NULL)
		return NULL;
	p->pos++;
	out = p->pos;
	v->type = RM_IMV_STRING;
	v->s = p->s + out;
	for (;;) {
		char c;

		if (at_end(p))
			return NULL;
		c = p->s[p->pos++];
		if (c == '"')
			break;
		if (c == '\r' || c == '\n')
			return NULL;
		if (c == '\\') {
			if (at_end(p))
				return NULL;
			c = p->s[p->pos++];
		}
		p->s[out++] = c;
	}
	v->len = (size_t)(p->s + out - v->s);
	return v;
}

static struct rm_imv *literal(struct pstate *p)
{
	struct rm_imv *v;
	uint64_t n = 0;
	size_t digits = 0;

	if (p->s[p->pos] == '~')
		p->pos++;
	if (at_end(p) || p->s[p->pos] != '{')
		return NULL;
	p->pos++;
	while (!at_end(p) && isdigit((unsigned char)p->s[p->pos]) &&
	       digits < 19) {
		n = n * 10 + (uint64_t)(p->s[p->pos++] - '0');
		digits++;
	}
	if (!at_end(p) && p->s[p->pos] == '+')
		p->pos++;
	if (digits == 0 || p->len - p->pos < 3 || p->s[p->pos] != '}' ||
	    p->s[p->pos + 1] != '\r' || p->s[p->pos + 2] != '\n')
		return NULL;
	p->pos += 3;
	if (n > p->len - p->pos)
		return NULL;
	v = node(p->r);
	if (v == NULL)
		return NULL;
	v->type = RM_IMV_STRING;
	v->s = p->s + p->pos;
	v->len = (size_t)n;
	p->pos += (size_t)n;
	return v;
}

static struct rm_imv *atom(struct pstate *p)
{
	size_t start = p->pos;
	struct rm_imv *v;
	int brackets = 0;

	while (!at_end(p)) {
		char c = p->s[p->pos];

		if (c == '\r' || c == '\n')
			break;
		if (brackets == 0 && atom_end(c))
			break;
		if (c == '[')
			brackets++;
		else if (c == ']' && brackets > 0)
			brackets--;
		p->pos++;
	}
	if (p->pos == start || brackets != 0)
		return NULL;
	v = node(p->r);
	if (v == NULL)
		return NULL;
	v->s = p->s + start;
	v->len = p->pos - start;
	v->type = v->len == 3 && strncasecmp(v->s, "NIL", 3) == 0 ? RM_IMV_NIL
								  : RM_IMV_ATOM;
	return v;
}

static struct rm_imv *value(struct pstate *p, int depth)
{
	char c;

	if (depth > RM_IMR_DEPTH_MAX || at_end(p))
		return NULL;
	c = p->s[p->pos];
	if (c == '(') {
		p->pos++;
		return list(p, depth, ')');
	}
	if (c == '"')
		return quoted(p);
	if (c == '{' || c == '~')
		return literal(p);
	return atom(p);
}

static bool is_status(const char *w, size_t n)
{
	static const char *const st[] = {"OK", "NO", "BAD", "BYE", "PREAUTH"};

	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++)
		if (n == strlen(st[i]) && strncasecmp(w, st[i], n) == 0)
			return true;
	return false;
}

static void status_text(struct pstate *p, struct rm_imr_resp *resp)
{
	skip_sp(p);
	if (!at_end(p) && p->s[p->pos] == '[') {
		size_t start = ++p->pos, end;
		char *close = memchr(p->s + start, ']', p->len - start);

		end = close != NULL ? (size_t)(close - p->s) : p->len;
		p->pos = start;
		while (p->pos < end && p->s[p->pos] != ' ')
			p->pos++;
		resp->code = p->s + start;
		resp->codelen = p->pos - start;
		if (p->pos < end)
			p->pos++;
		resp->code_arg = p->s + p->pos;
		resp->code_arglen = end > p->pos ? end - p->pos : 0;
		p->pos = end < p->len ? end + 1 : p->len;
		skip_sp(p);
	}
	resp->text = p->s + p->pos;
	resp->textlen = p->len - p->pos;
}

int rm_imr_parse(struct rm_imr *r, char *buf, size_t len,
		 struct rm_imr_resp *resp)
{
	struct pstate p = {.r = r, .s = buf, .len = len};
	struct rm_imr_block *b;
	const char *w;
	size_t n;

	memset(resp, 0, sizeof(*resp));
	/* nodes of the last response are dead: keep one block */
	while (r->blocks != NULL && r->blocks->next != NULL) {
		b = r->blocks;
		r->blocks = b->next;
		free(b);
	}
	if (r->blocks != NULL)
		r->blocks->used = 0;
	n = word(&p, &w);
	if (n == 0)
		return fail(r, "the server sent an empty line");
	resp->tag = w;
	resp->taglen = n;
	if (n == 1 && w[0] == '+') {
		resp->kind = RM_IMR_CONT;
		skip_sp(&p);
		resp->text = p.s + p.pos;
		resp->textlen = p.len - p.pos;
		return 0;
	}
	resp->kind = n == 1 && w[0] == '*' ? RM_IMR_UNTAGGED : RM_IMR_TAGGED;
	skip_sp(&p);
	n = word(&p, &w);
	if (n == 0)
		return fail(r, "the server sent a response without a word");
	if (resp->kind == RM_IMR_UNTAGGED && isdigit((unsigned char)w[0])) {
		uint64_t num = 0;

		for (size_t i = 0; i < n; i++) {
			if (!isdigit((unsigned char)w[i]) || i > 10)
				return fail(r, "the server sent a bad number");
			num = num * 10 + (uint64_t)(w[i] - '0');
		}
		if (num > UINT32_MAX)
			return fail(r, "the server sent a bad number");
		resp->has_num = true;
		resp->num = (uint32_t)num;
		skip_sp(&p);
		n = word(&p, &w);
		if (n == 0)
			return fail(r, "the server sent a number alone");
	}
	resp->word = w;
	resp->wordlen = n;
	if (is_status(w, n)) {
		resp->status = true;
		status_text(&p, resp);
		return 0;
	}
	if (resp->kind == RM_IMR_TAGGED)
		return fail(r, "the server ended a command with \"%.*s\"",
			    (int)(n > 40 ? 40 : n), w);
	{
		struct rm_imv *l = list(&p, 0, '\0');

		if (l == NULL)
			resp->malformed = true;
		else
			resp->vals = l->child;
	}
	return 0;
}

/* ---- helpers ------------------------------------------------------- */

bool rm_imv_is(const struct rm_imv *v, const char *a)
{
	return v != NULL && v->type == RM_IMV_ATOM && v->len == strlen(a) &&
	       strncasecmp(v->s, a, v->len) == 0;
}

int rm_imv_u64(const struct rm_imv *v, uint64_t *out)
{
	uint64_t n = 0;

	if (v == NULL || v->type != RM_IMV_ATOM || v->len == 0 || v->len > 19)
		return -1;
	for (size_t i = 0; i < v->len; i++) {
		if (!isdigit((unsigned char)v->s[i]))
			return -1;
		n = n * 10 + (uint64_t)(v->s[i] - '0');
	}
	*out = n;
	return 0;
}

int rm_imv_u32(const struct rm_imv *v, uint32_t *out)
{
	uint64_t n;

	if (rm_imv_u64(v, &n) < 0 || n > UINT32_MAX)
		return -1;
	*out = (uint32_t)n;
	return 0;
}

const struct rm_imv *rm_imv_get(const struct rm_imv *v, const char *key)
{
	for (; v != NULL && v->next != NULL; v = v->next->next)
		if (rm_imv_is(v, key))
			return v->next;
	return NULL;
}

int rm_imap_date_parse(const char *s, size_t len, int64_t *t_r)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char buf[40], mon[4], sign;
	int d, y, hh, mm, ss, zone, n = 0;
	const char *m;
	struct tm tm;
	time_t t;

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (sscanf(buf, "%2d-%3[A-Za-z]-%4d %2d:%2d:%2d %c%4d%n", &d, mon, &y,
		   &hh, &mm, &ss, &sign, &zone, &n) != 8 ||
	    (size_t)n != len || (sign != '+' && sign != '-'))
		return -1;
	m = strcasestr(months, mon);
	if (m == NULL || (m - months) % 3 != 0 || d < 1 || d > 31 || y < 1970 ||
	    y > 9999 || hh > 23 || mm > 59 || ss > 60 || hh < 0 || mm < 0 ||
	    ss < 0 || zone < 0 || zone % 100 > 59)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = (int)((m - months) / 3);
	tm.tm_mday = d;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	zone = (zone / 100) * 3600 + (zone % 100) * 60;
	*t_r = (int64_t)t - (sign == '+' ? zone : -zone);
	return 0;
}

void rm_imap_msgid(const char *h, size_t len, char *out, size_t outsz)
{
	static const char key[] = "message-id:";
	size_t i = 0, o = 0;

	out[0] = '\0';
	while (i < len) {
		size_t eol = i;

		while (eol < len && h[eol] != '\n')
			eol++;
		if (eol - i >= sizeof(key) - 1 &&
		    strncasecmp(h + i, key, sizeof(key) - 1) == 0) {
			i += sizeof(key) - 1;
			/* the value, with its continuation lines */
			for (;;) {
				for (; i < len && h[i] != '\n'; i++)
					if (h[i] > ' ' && h[i] < 0x7f &&
					    o + 1 < outsz)
						out[o++] = h[i];
				if (i + 1 >= len ||
				    (h[i + 1] != ' ' && h[i + 1] != '\t'))
					break;
				i++;
			}
			out[o] = '\0';
			return;
		}
		i = eol + 1;
	}
}
