/* Gives the parsed tree its meaning: which command or test each node
 * is, its tagged and positional arguments, the extensions it needs
 * (RFC 5228 3.2 require), and every constant that can be checked before
 * a message arrives (comparators, relational operators, header and
 * variable names, date parts, zones).  Errors carry the line. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sieve_int.h"

struct chk {
	struct sv_cctx *c;
	struct sieve_script *s;
	char *err;
	size_t errlen;
};

#define ERR(k, line, ...)                                                      \
	do {                                                                   \
		sv_err((k)->err, (k)->errlen, (line), __VA_ARGS__);            \
		return -1;                                                     \
	} while (0)

static const struct {
	const char *name;
	unsigned ext;
} caps[] = {
	{"fileinto", EXT_FILEINTO},
	{"envelope", EXT_ENVELOPE},
	{"imap4flags", EXT_IMAP4FLAGS},
	{"variables", EXT_VARIABLES},
	{"vacation", EXT_VACATION},
	{"vacation-seconds", EXT_VACATION | EXT_VAC_SECONDS},
	{"relational", EXT_RELATIONAL},
	{"subaddress", EXT_SUBADDRESS},
	{"copy", EXT_COPY},
	{"body", EXT_BODY},
	{"reject", EXT_REJECT},
	{"ereject", EXT_EREJECT},
	{"date", EXT_DATE},
	{"index", EXT_INDEX},
	{"include", EXT_INCLUDE},
	{"mailbox", EXT_MAILBOX},
	{"encoded-character", EXT_ENCODED},
	{"comparator-i;octet", 0},
	{"comparator-i;ascii-casemap", 0},
	{"comparator-i;ascii-numeric", EXT_CMP_NUMERIC},
	{"comparator-i;unicode-casemap", EXT_CMP_UNICODE},
};

const char *sieve_extensions(void)
{
	return "fileinto envelope imap4flags variables vacation "
	       "vacation-seconds relational subaddress copy body reject "
	       "ereject date index include mailbox encoded-character "
	       "comparator-i;octet comparator-i;ascii-casemap "
	       "comparator-i;ascii-numeric comparator-i;unicode-casemap";
}

static const struct {
	const char *name;
	enum sv_op op;
	int test;
	unsigned ext; /* needed (any of the bits) */
} ops[] = {
	{"require", OP_REQUIRE, 0, 0},
	{"if", OP_IF, 0, 0},
	{"elsif", OP_ELSIF, 0, 0},
	{"else", OP_ELSE, 0, 0},
	{"stop", OP_STOP, 0, 0},
	{"keep", OP_KEEP, 0, 0},
	{"discard", OP_DISCARD, 0, 0},
	{"redirect", OP_REDIRECT, 0, 0},
	{"fileinto", OP_FILEINTO, 0, EXT_FILEINTO},
	{"reject", OP_REJECT, 0, EXT_REJECT},
	{"ereject", OP_EREJECT, 0, EXT_EREJECT},
	{"vacation", OP_VACATION, 0, EXT_VACATION},
	{"set", OP_SET, 0, EXT_VARIABLES},
	{"setflag", OP_SETFLAG, 0, EXT_IMAP4FLAGS},
	{"addflag", OP_ADDFLAG, 0, EXT_IMAP4FLAGS},
	{"removeflag", OP_REMOVEFLAG, 0, EXT_IMAP4FLAGS},
	{"include", OP_INCLUDE, 0, EXT_INCLUDE},
	{"return", OP_RETURN, 0, EXT_INCLUDE},
	{"global", OP_GLOBAL, 0, EXT_INCLUDE},
	{"address", OP_ADDRESS, 1, 0},
	{"envelope", OP_ENVELOPE, 1, EXT_ENVELOPE},
	{"header", OP_HEADER, 1, 0},
	{"exists", OP_EXISTS, 1, 0},
	{"size", OP_SIZE, 1, 0},
	{"allof", OP_ALLOF, 1, 0},
	{"anyof", OP_ANYOF, 1, 0},
	{"not", OP_NOT, 1, 0},
	{"true", OP_TRUE, 1, 0},
	{"false", OP_FALSE, 1, 0},
	{"string", OP_STRING, 1, EXT_VARIABLES},
	{"hasflag", OP_HASFLAG, 1, EXT_IMAP4FLAGS},
	{"body", OP_BODY, 1, EXT_BODY},
	{"date", OP_DATE, 1, EXT_DATE},
	{"currentdate", OP_CURRENTDATE, 1, EXT_DATE},
	{"mailboxexists", OP_MAILBOXEXISTS, 1, EXT_MAILBOX},
};

/* tag groups an op accepts */
#define G_CMP 0x1
#define G_MATCH 0x2
#define G_APART 0x4
#define G_INDEX 0x8
#define G_ZONE 0x10
#define G_OZONE 0x20
#define G_BODYX 0x40
#define G_SIZE 0x80
#define G_FLAGS 0x100
#define G_COPY 0x200
#define G_CREATE 0x400
#define G_VAC 0x800
#define G_SET 0x1000
#define G_INC 0x2000

int sv_valid_header_name(const char *p, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] <= 32 || (unsigned char)p[i] >= 127 ||
		    p[i] == ':')
			return 0;
	return 1;
}

/* identifier *("." identifier), or a number when allow_ns is 2 */
int sv_valid_var_name(const char *p, size_t n, int allow_ns)
{
	size_t i = 0;

	if (n == 0)
		return 0;
	for (;;) {
		size_t s = i;

		if (i >= n || !(isalpha((unsigned char)p[i]) || p[i] == '_'))
			return 0;
		while (i < n && (isalnum((unsigned char)p[i]) || p[i] == '_'))
			i++;
		(void)s;
		if (i == n)
			return 1;
		if (p[i] != '.' || !allow_ns)
			return 0;
		i++;
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static size_t put_utf8(char *d, unsigned long cp)
{
	if (cp < 0x80) {
		d[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = (char)(0xc0 | (cp >> 6));
		d[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = (char)(0xe0 | (cp >> 12));
		d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		d[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	d[0] = (char)(0xf0 | (cp >> 18));
	d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	d[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* one "${hex:...}" / "${unicode:...}" at s (RFC 5228 2.4.2.4) into d;
 * returns the length consumed, 0 when it is not a valid encoding */
static size_t enc_one(const char *s, size_t n, char *d, size_t *dn)
{
	int uni;
	size_t i;

	if (n > 6 && strncasecmp(s, "${hex:", 6) == 0) {
		uni = 0;
		i = 6;
	} else if (n > 10 && strncasecmp(s, "${unicode:", 10) == 0) {
		uni = 1;
		i = 10;
	} else {
		return 0;
	}
	size_t out = 0, items = 0;

	for (;;) {
		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' ||
				 s[i] == '\n'))
			i++;
		if (i >= n)
			return 0;
		if (s[i] == '}')
			break;
		unsigned long v = 0;
		size_t digits = 0;

		while (i < n && hexval((unsigned char)s[i]) >= 0) {
			if (digits++ >= 8)
				return 0;
			v = v * 16 + (unsigned long)hexval((unsigned char)s[i]);
			i++;
		}
		if (digits == 0)
			return 0;
		if (!uni) {
			if (digits > 2 || v == 0)
				return 0;
			d[out++] = (char)v;
		} else {
			if (v == 0 || v > 0x10ffff ||
			    (v >= 0xd800 && v <= 0xdfff))
				return 0;
			out += put_utf8(d + out, v);
		}
		items++;
	}
	if (items == 0)
		return 0;
	*dn = out;
	return i + 1;
}

/* decode encoded characters in place: the output is never longer */
static void enc_decode(struct sv_str *st)
{
	char *s = st->p;
	size_t n = st->n, o = 0;

	for (size_t i = 0; i < n;) {
		if (s[i] == '$' && i + 1 < n && s[i + 1] == '{') {
			char buf[4096];
			size_t end = i, dn = 0, used = 0;

			while (end < n && s[end] != '}')
				end++;
			if (end < n && end - i < sizeof(buf))
				used = enc_one(s + i, end + 1 - i, buf, &dn);
			if (used > 0 && dn <= used) {
				memcpy(s + o, buf, dn);
				o += dn;
				i += used;
				continue;
			}
		}
		s[o++] = s[i++];
	}
	st->n = o;
	s[o] = '\0';
}

static void prep_str(struct chk *k, struct sv_str *st)
{
	if (k->s->exts & EXT_ENCODED)
		enc_decode(st);
	st->var = (k->s->exts & EXT_VARIABLES) &&
		  memmem(st->p, st->n, "${", 2) != NULL;
}

static int need(struct chk *k, unsigned line, unsigned ext, const char *what)
{
	if ((k->s->exts & ext) == 0)
		ERR(k, line, "%s needs its extension in require", what);
	return 0;
}

static int const_str(struct chk *k, const struct sv_arg *g, const char *what)
{
	if (g->t != ARG_STR)
		ERR(k, g->line, "%s must be a single string", what);
	if (g->l.v[0].var)
		ERR(k, g->line, "%s must be a constant", what);
	return 0;
}

static int comparator(struct chk *k, struct sv_node *n, const struct sv_arg *g)
{
	const char *c = g->l.v[0].p;

	if (const_str(k, g, ":comparator") < 0)
		return -1;
	if (strcmp(c, "i;octet") == 0)
		n->cmp = CMP_OCTET;
	else if (strcmp(c, "i;ascii-casemap") == 0)
		n->cmp = CMP_ASCII;
	else if (strcmp(c, "i;ascii-numeric") == 0) {
		if (need(k, g->line, EXT_CMP_NUMERIC, c) < 0)
			return -1;
		n->cmp = CMP_NUMERIC;
	} else if (strcmp(c, "i;unicode-casemap") == 0) {
		if (need(k, g->line, EXT_CMP_UNICODE, c) < 0)
			return -1;
		n->cmp = CMP_UNICODE;
	} else {
		ERR(k, g->line, "unknown comparator \"%s\"", c);
	}
	return 0;
}

static int relop(struct chk *k, struct sv_node *n, const struct sv_arg *g)
{
	static const char *const names[] = {"gt", "ge", "lt", "le", "eq", "ne"};

	if (const_str(k, g, "the relational operator") < 0)
		return -1;
	for (int i = 0; i < 6; i++)
		if (strcasecmp(g->l.v[0].p, names[i]) == 0) {
			n->rel = (enum sv_rel)i;
			return 0;
		}
	ERR(k, g->line, "unknown relational operator \"%s\"", g->l.v[0].p);
}

static const char *const tagnames[] = {
	"comparator", "is",	  "contains",	"matches",    "count",
	"value",      "all",	  "localpart",	"domain",     "user",
	"detail",     "index",	  "last",	"zone",	      "originalzone",
	"raw",	      "content",  "text",	"over",	      "under",
	"flags",      "copy",	  "create",	"days",	      "seconds",
	"subject",    "from",	  "addresses",	"mime",	      "handle",
	"lower",      "upper",	  "lowerfirst", "upperfirst", "quotewildcard",
	"length",     "personal", "global",	"once",	      "optional",
};
static const unsigned taggroup[] = {
	G_CMP,	 G_MATCH, G_MATCH, G_MATCH, G_MATCH, G_MATCH, G_APART,	G_APART,
	G_APART, G_APART, G_APART, G_INDEX, G_INDEX, G_ZONE,  G_OZONE,	G_BODYX,
	G_BODYX, G_BODYX, G_SIZE,  G_SIZE,  G_FLAGS, G_COPY,  G_CREATE, G_VAC,
	G_VAC,	 G_VAC,	  G_VAC,   G_VAC,   G_VAC,   G_VAC,   G_SET,	G_SET,
	G_SET,	 G_SET,	  G_SET,   G_SET,   G_INC,   G_INC,   G_INC,	G_INC,
};

/* the tag's parameter: the next argument, of type t (ARG_STR accepts a
 * one-string list only when want_list) */
static const struct sv_arg *param(struct chk *k, struct sv_node *n, size_t *i,
				  int t, const char *tag)
{
	const struct sv_arg *g;

	if (*i + 1 >= n->nargs) {
		sv_err(k->err, k->errlen, n->line, ":%s needs an argument",
		       tag);
		return NULL;
	}
	g = &n->args[++*i];
	if ((t == ARG_NUM && g->t != ARG_NUM) ||
	    (t == ARG_STR && g->t != ARG_STR) ||
	    (t == ARG_LIST && g->t != ARG_STR && g->t != ARG_LIST)) {
		sv_err(k->err, k->errlen, g->line, ":%s: wrong argument type",
		       tag);
		return NULL;
	}
	return g;
}

/* tagged arguments; positional ones land in n->pos (strings) and
 * *nums (numbers, in order) */
static int tags(struct chk *k, struct sv_node *n, unsigned groups,
		const struct sv_arg **posv, size_t *npos)
{
	unsigned seen = 0;
	const struct sv_arg *g;

	*npos = 0;
	for (size_t i = 0; i < n->nargs; i++) {
		struct sv_arg *a = &n->args[i];
		size_t t;

		if (a->t != ARG_TAG) {
			if (*npos >= 3)
				ERR(k, a->line, "too many arguments to %s",
				    n->name);
			posv[(*npos)++] = a;
			continue;
		}
		if (*npos > 0)
			ERR(k, a->line,
			    "tagged argument :%s after positional "
			    "ones",
			    a->tag);
		for (t = 0; t < sizeof(tagnames) / sizeof(*tagnames); t++)
			if (strcasecmp(a->tag, tagnames[t]) == 0 &&
			    (groups & taggroup[t]))
				break;
		if (t == sizeof(tagnames) / sizeof(*tagnames))
			ERR(k, a->line, "unknown tag :%s for %s", a->tag,
			    n->name);
		const char *tg = tagnames[t];
		unsigned gr = taggroup[t];
		/* one of each exclusive group; other tags once each */
		unsigned bit = gr == G_OZONE ? G_ZONE : gr;

		if (gr == G_VAC || gr == G_SET || gr == G_INC ||
		    gr == G_INDEX || gr == G_FLAGS || gr == G_COPY ||
		    gr == G_CREATE) {
			for (size_t j = 0; j < i; j++)
				if (n->args[j].t == ARG_TAG &&
				    strcasecmp(n->args[j].tag, tg) == 0)
					ERR(k, a->line, "duplicate :%s", tg);
		} else if (seen & bit) {
			ERR(k, a->line, "conflicting or duplicate :%s", tg);
		} else {
			seen |= bit;
		}

		if (!strcmp(tg, "comparator")) {
			if ((g = param(k, n, &i, ARG_STR, tg)) == NULL)
				return -1;
			prep_str(k, &g->l.v[0]);
			if (comparator(k, n, g) < 0)
				return -1;
		} else if (!strcmp(tg, "is")) {
			n->match = M_IS;
		} else if (!strcmp(tg, "contains")) {
			n->match = M_CONTAINS;
		} else if (!strcmp(tg, "matches")) {
			n->match = M_MATCHES;
		} else if (!strcmp(tg, "count") || !strcmp(tg, "value")) {
			if (need(k, a->line, EXT_RELATIONAL, tg) < 0)
				return -1;
			n->match = tg[0] == 'c' ? M_COUNT : M_VALUE;
			if ((g = param(k, n, &i, ARG_STR, tg)) == NULL)
				return -1;
			prep_str(k, &g->l.v[0]);
			if (relop(k, n, g) < 0)
				return -1;
		} else if (gr == G_APART) {
			static const char *const ap[] = {
				"all", "localpart", "domain", "user", "detail"};
			for (int j = 0; j < 5; j++)
				if (!strcmp(tg, ap[j]))
					n->apart = (enum sv_apart)j;
			if (n->apart >= AP_USER &&
			    need(k, a->line, EXT_SUBADDRESS, tg) < 0)
				return -1;
		} else if (!strcmp(tg, "index")) {
			if (need(k, a->line, EXT_INDEX, tg) < 0 ||
			    (g = param(k, n, &i, ARG_NUM, tg)) == NULL)
				return -1;
			if (g->num == 0 || g->num > INT32_MAX)
				ERR(k, g->line, ":index must be 1 or more");
			n->index = (int64_t)g->num;
		} else if (!strcmp(tg, "last")) {
			if (need(k, a->line, EXT_INDEX, tg) < 0)
				return -1;
			n->last = 1;
		} else if (!strcmp(tg, "zone")) {
			if ((g = param(k, n, &i, ARG_STR, tg)) == NULL)
				return -1;
			prep_str(k, &g->l.v[0]);
			n->zone = Z_ZONE;
			n->zone_str = g->l.v[0];
			if (!g->l.v[0].var &&
			    sv_zone_parse(g->l.v[0].p, g->l.v[0].n,
					  &n->zone_min) < 0)
				ERR(k, g->line, "bad :zone \"%s\"",
				    g->l.v[0].p);
		} else if (!strcmp(tg, "originalzone")) {
			n->zone = Z_ORIGINAL;
		} else if (!strcmp(tg, "raw")) {
			n->bodyx = SIEVE_BODY_RAW;
		} else if (!strcmp(tg, "text")) {
			n->bodyx = SIEVE_BODY_TEXT;
		} else if (!strcmp(tg, "content")) {
			if ((g = param(k, n, &i, ARG_LIST, tg)) == NULL)
				return -1;
			for (size_t j = 0; j < g->l.n; j++)
				prep_str(k, &g->l.v[j]);
			n->bodyx = SIEVE_BODY_CONTENT;
			n->ctypes = g->l;
		} else if (!strcmp(tg, "over") || !strcmp(tg, "under")) {
			n->over = tg[0] == 'o';
		} else if (!strcmp(tg, "flags")) {
			if (need(k, a->line, EXT_IMAP4FLAGS, tg) < 0 ||
			    (g = param(k, n, &i, ARG_LIST, tg)) == NULL)
				return -1;
			for (size_t j = 0; j < g->l.n; j++)
				prep_str(k, &g->l.v[j]);
			n->flags = &((struct sv_arg *)g)->l;
		} else if (!strcmp(tg, "copy")) {
			if (need(k, a->line, EXT_COPY, tg) < 0)
				return -1;
			n->copy = 1;
		} else if (!strcmp(tg, "create")) {
			if (need(k, a->line, EXT_MAILBOX, tg) < 0)
				return -1;
			n->create = 1;
		} else if (!strcmp(tg, "days") || !strcmp(tg, "seconds")) {
			if (tg[0] == 's' &&
			    need(k, a->line, EXT_VAC_SECONDS, tg) < 0)
				return -1;
			if (n->has_days)
				ERR(k, a->line, ":days and :seconds conflict");
			if ((g = param(k, n, &i, ARG_NUM, tg)) == NULL)
				return -1;
			n->has_days = 1;
			n->seconds = tg[0] == 's';
			n->num = g->num;
			if (!n->seconds && n->num == 0)
				n->num = 1;
			if (n->num > UINT32_MAX)
				n->num = UINT32_MAX;
		} else if (!strcmp(tg, "subject") || !strcmp(tg, "from") ||
			   !strcmp(tg, "handle")) {
			if ((g = param(k, n, &i, ARG_STR, tg)) == NULL)
				return -1;
			prep_str(k, &g->l.v[0]);
			*(tg[0] == 's'	 ? &n->subject
			  : tg[0] == 'f' ? &n->from
					 : &n->handle) = g->l.v[0];
		} else if (!strcmp(tg, "addresses")) {
			if ((g = param(k, n, &i, ARG_LIST, tg)) == NULL)
				return -1;
			for (size_t j = 0; j < g->l.n; j++)
				prep_str(k, &g->l.v[j]);
			n->addresses = g->l;
		} else if (!strcmp(tg, "mime")) {
			n->mime = 1;
		} else if (gr == G_SET) {
			static const char *const md[] = {
				"lower",      "upper",	       "lowerfirst",
				"upperfirst", "quotewildcard", "length"};
			for (int j = 0; j < 6; j++)
				if (!strcmp(tg, md[j]))
					n->mods |= 1 << j;
			if ((n->mods & (MOD_LOWER | MOD_UPPER)) ==
				    (MOD_LOWER | MOD_UPPER) ||
			    (n->mods & (MOD_LOWERFIRST | MOD_UPPERFIRST)) ==
				    (MOD_LOWERFIRST | MOD_UPPERFIRST))
				ERR(k, a->line, "conflicting modifiers");
		} else if (!strcmp(tg, "personal") || !strcmp(tg, "global")) {
			for (size_t j = 0; j < i; j++)
				if (n->args[j].t == ARG_TAG &&
				    (!strcasecmp(n->args[j].tag, "personal") ||
				     !strcasecmp(n->args[j].tag, "global")))
					ERR(k, a->line,
					    "conflicting location tags");
			n->global = tg[0] == 'g';
		} else if (!strcmp(tg, "once")) {
			n->once = 1;
		} else if (!strcmp(tg, "optional")) {
			n->optional = 1;
		}
	}
	if (n->match == M_COUNT || n->match == M_VALUE) {
		if (n->cmp == CMP_NUMERIC || n->match == M_VALUE)
			return 0;
	}
	if (n->cmp == CMP_NUMERIC &&
	    (n->match == M_CONTAINS || n->match == M_MATCHES))
		ERR(k, n->line,
		    "i;ascii-numeric cannot do :contains or "
		    ":matches");
	return 0;
}

/* positional shape: a string per char of `shape`: S string, L list, N
 * number; '?' makes the next one optional at the front */
static int positional(struct chk *k, struct sv_node *n,
		      const struct sv_arg **posv, size_t npos,
		      const char *shape)
{
	size_t want = 0, opt = 0;

	for (const char *c = shape; *c; c++)
		if (*c == '?')
			opt = 1;
		else
			want++;
	if (npos != want && !(opt && npos == want - 1))
		ERR(k, n->line, "%s takes %zu argument%s, not %zu", n->name,
		    want, want == 1 ? "" : "s", npos);
	const char *c = shape;

	if (opt && npos == want - 1)
		c += 2; /* skip "?X" */
	else if (opt)
		c++;
	for (size_t i = 0; i < npos; i++, c++) {
		const struct sv_arg *g = posv[i];

		if (*c == 'N') {
			if (g->t != ARG_NUM)
				ERR(k, g->line, "%s: expected a number",
				    n->name);
			n->num = g->num;
			continue;
		}
		if (g->t == ARG_NUM || g->t == ARG_TAG)
			ERR(k, g->line, "%s: expected a string%s", n->name,
			    *c == 'L' ? " list" : "");
		if (*c == 'S' && g->t != ARG_STR)
			ERR(k, g->line, "%s: expected a single string",
			    n->name);
		n->pos[n->npos] = g->l;
		for (size_t j = 0; j < g->l.n; j++)
			prep_str(k, &n->pos[n->npos].v[j]);
		n->npos++;
	}
	return 0;
}

static int check_headers(struct chk *k, struct sv_node *n,
			 const struct sv_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (!l->v[i].var && !sv_valid_header_name(l->v[i].p, l->v[i].n))
			ERR(k, n->line, "invalid header name \"%s\"",
			    l->v[i].p);
	return 0;
}

/* RFC 5228 5.1: the address test only on fields holding addresses */
static int address_field(const char *p)
{
	static const char *const known[] = {"from",
					    "to",
					    "cc",
					    "bcc",
					    "sender",
					    "reply-to",
					    "return-path",
					    "delivered-to",
					    "envelope-to",
					    "errors-to",
					    "mail-followup-to",
					    "mail-reply-to",
					    "disposition-notification-to",
					    "original-recipient",
					    "apparently-to"};

	if (strncasecmp(p, "resent-", 7) == 0 || strncasecmp(p, "x-", 2) == 0)
		return 1;
	for (size_t i = 0; i < sizeof(known) / sizeof(*known); i++)
		if (strcasecmp(p, known[i]) == 0)
			return 1;
	return 0;
}

static int check_vars(struct chk *k, struct sv_node *n, const struct sv_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (!l->v[i].var && !sv_valid_var_name(l->v[i].p, l->v[i].n, 1))
			ERR(k, n->line, "invalid variable name \"%s\"",
			    l->v[i].p);
	return 0;
}

static int block(struct chk *k, struct sv_node *first, int top);

static int node(struct chk *k, struct sv_node *n, int want_test)
{
	const struct sv_arg *posv[3];
	size_t npos, t;
	unsigned groups = 0;
	const char *shape = "";

	for (t = 0; t < sizeof(ops) / sizeof(*ops); t++)
		if (strcasecmp(n->name, ops[t].name) == 0)
			break;
	if (t == sizeof(ops) / sizeof(*ops) || ops[t].test != want_test)
		ERR(k, n->line, "unknown %s \"%s\"",
		    want_test ? "test" : "command", n->name);
	n->op = ops[t].op;
	if (ops[t].ext && need(k, n->line, ops[t].ext, n->name) < 0)
		return -1;
	n->cmp = CMP_ASCII;
	n->match = M_IS;
	n->bodyx = SIEVE_BODY_TEXT;
	switch (n->op) {
	case OP_REQUIRE:
		ERR(k, n->line, "require must come before other commands");
	case OP_IF:
	case OP_ELSIF:
	case OP_ELSE:
	case OP_STOP:
	case OP_DISCARD:
	case OP_RETURN:
		break;
	case OP_KEEP:
		groups = G_FLAGS;
		break;
	case OP_REDIRECT:
		groups = G_COPY;
		shape = "S";
		break;
	case OP_FILEINTO:
		groups = G_FLAGS | G_COPY | G_CREATE;
		shape = "S";
		break;
	case OP_REJECT:
	case OP_EREJECT:
	case OP_INCLUDE:
		shape = "S";
		groups = n->op == OP_INCLUDE ? G_INC : 0;
		break;
	case OP_VACATION:
		groups = G_VAC;
		shape = "S";
		break;
	case OP_SET:
		groups = G_SET;
		shape = "SS";
		break;
	case OP_SETFLAG:
	case OP_ADDFLAG:
	case OP_REMOVEFLAG:
		shape = "?SL";
		break;
	case OP_GLOBAL:
		shape = "L";
		if (need(k, n->line, EXT_VARIABLES, "global") < 0)
			return -1;
		break;
	case OP_ADDRESS:
		groups = G_CMP | G_MATCH | G_APART | G_INDEX;
		shape = "LL";
		break;
	case OP_ENVELOPE:
		groups = G_CMP | G_MATCH | G_APART;
		shape = "LL";
		break;
	case OP_HEADER:
		groups = G_CMP | G_MATCH | G_INDEX;
		shape = "LL";
		break;
	case OP_EXISTS:
	case OP_MAILBOXEXISTS:
		shape = "L";
		break;
	case OP_SIZE:
		groups = G_SIZE;
		shape = "N";
		break;
	case OP_STRING:
		groups = G_CMP | G_MATCH;
		shape = "LL";
		break;
	case OP_HASFLAG:
		groups = G_CMP | G_MATCH;
		shape = "?LL";
		break;
	case OP_BODY:
		groups = G_CMP | G_MATCH | G_BODYX;
		shape = "L";
		break;
	case OP_DATE:
		groups = G_CMP | G_MATCH | G_INDEX | G_ZONE | G_OZONE;
		shape = "SSL";
		break;
	case OP_CURRENTDATE:
		groups = G_CMP | G_MATCH | G_ZONE;
		shape = "SL";
		break;
	default:
		break;
	}
	if (tags(k, n, groups, posv, &npos) < 0 ||
	    positional(k, n, posv, npos, shape) < 0)
		return -1;
	if (n->last && n->index == 0)
		ERR(k, n->line, ":last needs :index");

	/* tests a node takes, blocks it has */
	int ntests_want = 0, wants_block = 0;

	switch (n->op) {
	case OP_IF:
	case OP_ELSIF:
		ntests_want = 1;
		wants_block = 1;
		break;
	case OP_ELSE:
		wants_block = 1;
		break;
	case OP_NOT:
		ntests_want = 1;
		break;
	case OP_ALLOF:
	case OP_ANYOF:
		ntests_want = -1;
		break;
	default:
		break;
	}
	if (ntests_want == 1 && (n->ntests != 1 || n->tlist))
		ERR(k, n->line, "%s needs one test", n->name);
	if (ntests_want == -1 && !n->tlist)
		ERR(k, n->line, "%s needs a test list", n->name);
	if (ntests_want == 0 && n->ntests != 0)
		ERR(k, n->line, "%s takes no test", n->name);
	if (!want_test && wants_block != n->has_block)
		ERR(k, n->line,
		    wants_block ? "%s needs a block" : "%s takes no block",
		    n->name);
	for (size_t i = 0; i < n->ntests; i++)
		if (node(k, n->tests[i], 1) < 0)
			return -1;

	switch (n->op) {
	case OP_SIZE:
		for (size_t i = 0; i < n->nargs; i++)
			if (n->args[i].t == ARG_TAG)
				goto ok;
		ERR(k, n->line, "size needs :over or :under");
	ok:
		break;
	case OP_ADDRESS:
		for (size_t i = 0; i < n->pos[0].n; i++)
			if (!n->pos[0].v[i].var &&
			    !address_field(n->pos[0].v[i].p))
				ERR(k, n->line,
				    "address: \"%s\" does not hold addresses",
				    n->pos[0].v[i].p);
		/* fall through */
	case OP_HEADER:
	case OP_EXISTS:
		if (check_headers(k, n, &n->pos[0]) < 0)
			return -1;
		break;
	case OP_ENVELOPE:
		for (size_t i = 0; i < n->pos[0].n; i++)
			if (!n->pos[0].v[i].var &&
			    strcasecmp(n->pos[0].v[i].p, "from") != 0 &&
			    strcasecmp(n->pos[0].v[i].p, "to") != 0)
				ERR(k, n->line, "unknown envelope part \"%s\"",
				    n->pos[0].v[i].p);
		break;
	case OP_SET:
		if (n->pos[0].v[0].var ||
		    !sv_valid_var_name(n->pos[0].v[0].p, n->pos[0].v[0].n, 1))
			ERR(k, n->line, "invalid variable name \"%s\"",
			    n->pos[0].v[0].p);
		break;
	case OP_GLOBAL:
		if (check_vars(k, n, &n->pos[0]) < 0)
			return -1;
		break;
	case OP_SETFLAG:
	case OP_ADDFLAG:
	case OP_REMOVEFLAG:
	case OP_HASFLAG:
		if (n->npos == 2 &&
		    (need(k, n->line, EXT_VARIABLES, "a flag variable") < 0 ||
		     check_vars(k, n, &n->pos[0]) < 0))
			return -1;
		break;
	case OP_DATE:
	case OP_CURRENTDATE: {
		const struct sv_str *dp =
			&n->pos[n->op == OP_DATE ? 1 : 0].v[0];

		if (n->op == OP_DATE && check_headers(k, n, &n->pos[0]) < 0)
			return -1;

		if (!dp->var && !sv_date_known_part(dp->p))
			ERR(k, n->line, "unknown date part \"%s\"", dp->p);
		break;
	}
	case OP_REDIRECT:
		if (!n->pos[0].v[0].var &&
		    (n->pos[0].v[0].n == 0 ||
		     memchr(n->pos[0].v[0].p, '@', n->pos[0].v[0].n) == NULL))
			ERR(k, n->line, "redirect: invalid address \"%s\"",
			    n->pos[0].v[0].p);
		break;
	case OP_INCLUDE: {
		const struct sv_str *nm = &n->pos[0].v[0];

		if (nm->var || nm->n == 0 || memchr(nm->p, '/', nm->n))
			ERR(k, n->line, "include: invalid script name \"%s\"",
			    nm->p);
		if (k->c->inc != NULL) {
			n->inc = sv_include(k->c, n->global, nm->p, n->optional,
					    n->line, k->err, k->errlen);
			if (n->inc == NULL && k->err[0] != '\0')
				return -1;
		}
		break;
	}
	default:
		break;
	}
	if (n->has_block)
		return block(k, n->block, 0);
	return 0;
}

static int block(struct chk *k, struct sv_node *first, int top)
{
	struct sv_node *n = first, *prev = NULL;

	if (top) {
		/* require: only at the start (RFC 5228 3.2) */
		for (; n != NULL && strcasecmp(n->name, "require") == 0;
		     n = n->next) {
			const struct sv_arg *posv[3];
			size_t npos;

			n->op = OP_REQUIRE;
			if (n->has_block || n->ntests)
				ERR(k, n->line, "require takes a string list");
			if (tags(k, n, 0, posv, &npos) < 0 || npos != 1 ||
			    posv[0]->t == ARG_NUM)
				ERR(k, n->line, "require takes a string list");
			for (size_t i = 0; i < posv[0]->l.n; i++) {
				const char *c = posv[0]->l.v[i].p;
				size_t j;

				for (j = 0; j < sizeof(caps) / sizeof(*caps);
				     j++)
					if (strcmp(c, caps[j].name) == 0)
						break;
				if (j == sizeof(caps) / sizeof(*caps))
					ERR(k, n->line,
					    "unsupported extension \"%s\"", c);
				k->s->exts |= caps[j].ext;
			}
		}
	}
	for (; n != NULL; prev = n, n = n->next) {
		if (node(k, n, 0) < 0)
			return -1;
		if ((n->op == OP_ELSIF || n->op == OP_ELSE) &&
		    (prev == NULL ||
		     (prev->op != OP_IF && prev->op != OP_ELSIF)))
			ERR(k, n->line, "%s without if", n->name);
	}
	return 0;
}

int sv_check(struct sv_cctx *c, struct sieve_script *s, char *err,
	     size_t errlen)
{
	struct chk k = {c, s, err, errlen};

	if (errlen > 0)
		err[0] = '\0';
	return block(&k, s->first, 1);
}
