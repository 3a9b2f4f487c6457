/* SEARCH criteria: recursive descent over the parsed argument tree. */
#include <string.h>
#include <strings.h>

#include "imap_modseq.h"
#include "imap_search.h"

struct ctx {
	struct imap_arena *a;
	unsigned int max_depth;
	const char *error;
};

static const char *const months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* Days from 1970-01-01 to y-m-d, proleptic Gregorian (m 1..12). */
int32_t imap_days_from_civil(int y, int m, int d)
{
	int era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int imap_sent_day(const char *v, int32_t *days_r)
{
	int day = 0, mon = -1, year = 0, nd = 0, k;

	/* [ day-of-week "," ] day month year: the first number is the day */
	while (*v != '\0' && !(*v >= '0' && *v <= '9'))
		v++;
	while (*v >= '0' && *v <= '9' && nd < 3) {
		day = day * 10 + (*v++ - '0');
		nd++;
	}
	while (*v == ' ' || *v == '\t' || *v == '-')
		v++;
	for (k = 0; k < 12; k++)
		if (strncasecmp(v, months[k], 3) == 0)
			mon = k;
	if (mon < 0 || day < 1 || day > 31)
		return -1;
	v += 3;
	while (*v != '\0' && !(*v >= '0' && *v <= '9'))
		if (*v != ' ' && *v != '\t' && *v != '-' &&
		    !((*v | 0x20) >= 'a' && (*v | 0x20) <= 'z'))
			return -1;
		else
			v++;
	nd = 0;
	while (*v >= '0' && *v <= '9' && nd < 5) {
		year = year * 10 + (*v++ - '0');
		nd++;
	}
	if (nd == 2)
		year += year < 50 ? 2000 : 1900; /* RFC 5322 4.3 */
	else if (nd == 3)
		year += 1900;
	else if (nd != 4)
		return -1;
	*days_r = imap_days_from_civil(year, mon + 1, day);
	return 0;
}

int imap_date_parse(const char *s, size_t len, int32_t *days_r)
{
	static const int mdays[] = {
		31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31,
	};
	size_t i = 0;
	int day = 0, mon = -1, year = 0, k;

	while (i < len && i < 2 && s[i] >= '0' && s[i] <= '9')
		day = day * 10 + (s[i++] - '0');
	if (i == 0 || i >= len || s[i++] != '-')
		return -1;
	if (len - i < 4)
		return -1;
	for (k = 0; k < 12; k++) {
		if (strncasecmp(s + i, months[k], 3) == 0)
			mon = k;
	}
	if (mon < 0 || s[i + 3] != '-')
		return -1;
	i += 4;
	if (len - i != 4)
		return -1;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		year = year * 10 + (s[i] - '0');
	}
	if (day < 1 || day > mdays[mon])
		return -1;
	if (mon == 1 && day == 29 &&
	    !(year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)))
		return -1;
	*days_r = imap_days_from_civil(year, mon + 1, day);
	return 0;
}

static struct imap_search_key *new_key(struct ctx *c,
				       enum imap_search_type type)
{
	struct imap_search_key *k = imap_arena_alloc(c->a, sizeof(*k));

	if (k == NULL)
		c->error = "Search command too long";
	else
		k->type = type;
	return k;
}

/* astring argument (text keys, KEYWORD, HEADER field) */
static const struct imap_arg *
take_string(struct ctx *c, const struct imap_arg **argp, const char *what)
{
	const struct imap_arg *arg = *argp;

	if (!imap_arg_is_astring(arg)) {
		c->error = what;
		return NULL;
	}
	*argp = arg->next;
	return arg;
}

static const struct {
	const char *name;
	uint32_t flag;
	int set;
} flag_keys[] = {
	{"ANSWERED", IMAP_SFLAG_ANSWERED, 1},
	{"DELETED", IMAP_SFLAG_DELETED, 1},
	{"DRAFT", IMAP_SFLAG_DRAFT, 1},
	{"FLAGGED", IMAP_SFLAG_FLAGGED, 1},
	{"SEEN", IMAP_SFLAG_SEEN, 1},
	{"RECENT", IMAP_SFLAG_RECENT, 1},
	{"UNANSWERED", IMAP_SFLAG_ANSWERED, 0},
	{"UNDELETED", IMAP_SFLAG_DELETED, 0},
	{"UNDRAFT", IMAP_SFLAG_DRAFT, 0},
	{"UNFLAGGED", IMAP_SFLAG_FLAGGED, 0},
	{"UNSEEN", IMAP_SFLAG_SEEN, 0},
	{"OLD", IMAP_SFLAG_RECENT, 0},
};

static const struct {
	const char *name;
	enum imap_search_type type;
} date_keys[] = {
	{"BEFORE", IMAP_SKEY_BEFORE},
	{"ON", IMAP_SKEY_ON},
	{"SINCE", IMAP_SKEY_SINCE},
	{"SENTBEFORE", IMAP_SKEY_SENTBEFORE},
	{"SENTON", IMAP_SKEY_SENTON},
	{"SENTSINCE", IMAP_SKEY_SENTSINCE},
	{"SAVEDBEFORE", IMAP_SKEY_SAVEDBEFORE},
	{"SAVEDON", IMAP_SKEY_SAVEDON},
	{"SAVEDSINCE", IMAP_SKEY_SAVEDSINCE},
};

static const struct {
	const char *name;
	const char *field; /* NULL: BODY/TEXT */
	enum imap_search_type type;
	int address;
} text_keys[] = {
	{"SUBJECT", "Subject", IMAP_SKEY_HEADER, 0},
	{"FROM", "From", IMAP_SKEY_HEADER, 1},
	{"TO", "To", IMAP_SKEY_HEADER, 1},
	{"CC", "Cc", IMAP_SKEY_HEADER, 1},
	{"BCC", "Bcc", IMAP_SKEY_HEADER, 1},
	{"BODY", NULL, IMAP_SKEY_BODY, 0},
	{"TEXT", NULL, IMAP_SKEY_TEXT, 0},
};

static struct imap_search_key *
parse_key(struct ctx *c, const struct imap_arg **argp, unsigned int depth);

/* Keys up to the end of `arg` list, under one AND node. */
static struct imap_search_key *
parse_and(struct ctx *c, const struct imap_arg *arg, unsigned int depth)
{
	struct imap_search_key *and, *k, *tail = NULL;

	if (arg == NULL) {
		c->error = "Missing search key";
		return NULL;
	}
	and = new_key(c, IMAP_SKEY_AND);
	if (and == NULL)
		return NULL;
	while (arg != NULL) {
		k = parse_key(c, &arg, depth);
		if (k == NULL)
			return NULL;
		if (tail == NULL)
			and->child = k;
		else
			tail->next = k;
		tail = k;
	}
	return and->child->next == NULL ? and->child : and;
}

static int parse_number(const struct imap_arg *arg, uint32_t *n_r)
{
	uint64_t v = 0;
	size_t i;

	if (arg == NULL || arg->type != IMAP_ARG_ATOM || arg->len == 0)
		return -1;
	for (i = 0; i < arg->len; i++) {
		if (arg->str[i] < '0' || arg->str[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(arg->str[i] - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	*n_r = (uint32_t)v;
	return 0;
}

static struct imap_search_key *
parse_key(struct ctx *c, const struct imap_arg **argp, unsigned int depth)
{
	const struct imap_arg *arg = *argp, *s;
	struct imap_search_key *k;
	const char *name;
	size_t i;

	if (depth >= c->max_depth) {
		c->error = "Search keys nested too deeply";
		return NULL;
	}
	if (arg == NULL) {
		c->error = "Missing search key";
		return NULL;
	}
	*argp = arg->next;
	if (arg->type == IMAP_ARG_LIST) {
		if (arg->list == NULL) {
			c->error = "Empty search key list";
			return NULL;
		}
		return parse_and(c, arg->list, depth + 1);
	}
	if (arg->type != IMAP_ARG_ATOM) {
		c->error = "Invalid search key";
		return NULL;
	}
	name = arg->str;
	if (imap_seqset_is_syntax(name, arg->len)) {
		k = new_key(c, IMAP_SKEY_SEQSET);
		if (k != NULL && imap_seqset_parse(name, arg->len, c->a,
						   &k->seqset, &c->error) < 0)
			return NULL;
		return k;
	}
	if (strcasecmp(name, "ALL") == 0)
		return new_key(c, IMAP_SKEY_ALL);
	for (i = 0; i < sizeof(flag_keys) / sizeof(flag_keys[0]); i++) {
		if (strcasecmp(name, flag_keys[i].name) != 0)
			continue;
		k = new_key(c, IMAP_SKEY_FLAG);
		if (k != NULL) {
			k->flag = flag_keys[i].flag;
			k->set = flag_keys[i].set;
		}
		return k;
	}
	if (strcasecmp(name, "NEW") == 0) {
		/* RECENT UNSEEN */
		struct imap_search_key *r, *u;

		k = new_key(c, IMAP_SKEY_AND);
		r = new_key(c, IMAP_SKEY_FLAG);
		u = new_key(c, IMAP_SKEY_FLAG);
		if (k == NULL || r == NULL || u == NULL)
			return NULL;
		r->flag = IMAP_SFLAG_RECENT;
		r->set = 1;
		u->flag = IMAP_SFLAG_SEEN;
		k->child = r;
		r->next = u;
		return k;
	}
	if (strcasecmp(name, "KEYWORD") == 0 ||
	    strcasecmp(name, "UNKEYWORD") == 0) {
		s = *argp;
		/* flag-keyword: any atom, NIL included */
		if (!imap_arg_is_atom(s)) {
			c->error = "Invalid keyword";
			return NULL;
		}
		*argp = s->next;
		k = new_key(c, IMAP_SKEY_KEYWORD);
		if (k != NULL) {
			k->str = s->str;
			k->str_len = s->len;
			k->set = name[0] == 'K' || name[0] == 'k';
		}
		return k;
	}
	if (strcasecmp(name, "SAVEDATESUPPORTED") == 0)
		return new_key(c, IMAP_SKEY_SAVEDATESUPPORTED);
	if (strcasecmp(name, "EMAILID") == 0 ||
	    strcasecmp(name, "THREADID") == 0) {
		/* objectid = 1*255(ALPHA / DIGIT / "_" / "-") */
		size_t j;

		s = *argp;
		if (s == NULL || s->type != IMAP_ARG_ATOM || s->len == 0 ||
		    s->len > 255) {
			c->error = "Invalid objectid";
			return NULL;
		}
		for (j = 0; j < s->len; j++) {
			char ch = s->str[j];

			if (!((ch >= 'a' && ch <= 'z') ||
			      (ch >= 'A' && ch <= 'Z') ||
			      (ch >= '0' && ch <= '9') || ch == '_' ||
			      ch == '-')) {
				c->error = "Invalid objectid";
				return NULL;
			}
		}
		*argp = s->next;
		k = new_key(c, name[0] == 'E' || name[0] == 'e'
				       ? IMAP_SKEY_EMAILID
				       : IMAP_SKEY_THREADID);
		if (k != NULL) {
			k->str = s->str;
			k->str_len = s->len;
		}
		return k;
	}
	if (strcasecmp(name, "MODSEQ") == 0) {
		/* [entry-name entry-type-req]: one modseq per message here,
		 * so the entry only has to be well formed */
		s = *argp;
		if (s != NULL && s->type != IMAP_ARG_ATOM) {
			if ((s->type != IMAP_ARG_QUOTED &&
			     s->type != IMAP_ARG_LITERAL) ||
			    s->str == NULL || s->len == 0 || s->len > 1024 ||
			    strlen(s->str) != s->len || s->str[0] != '/' ||
			    !(imap_arg_atom_eq(s->next, "priv") ||
			      imap_arg_atom_eq(s->next, "shared") ||
			      imap_arg_atom_eq(s->next, "all"))) {
				c->error = "Invalid MODSEQ entry";
				return NULL;
			}
			s = s->next->next;
		}
		k = new_key(c, IMAP_SKEY_MODSEQ);
		if (k == NULL)
			return NULL;
		if (imap_modseq_parse(s, true, &k->modseq) < 0) {
			c->error = "Invalid MODSEQ value";
			return NULL;
		}
		*argp = s->next;
		return k;
	}
	if (strcasecmp(name, "LARGER") == 0 ||
	    strcasecmp(name, "SMALLER") == 0) {
		k = new_key(c, name[0] == 'L' || name[0] == 'l'
				       ? IMAP_SKEY_LARGER
				       : IMAP_SKEY_SMALLER);
		if (k == NULL)
			return NULL;
		if (parse_number(*argp, &k->size) < 0) {
			c->error = "Invalid size";
			return NULL;
		}
		*argp = (*argp)->next;
		return k;
	}
	for (i = 0; i < sizeof(date_keys) / sizeof(date_keys[0]); i++) {
		if (strcasecmp(name, date_keys[i].name) != 0)
			continue;
		s = *argp;
		k = new_key(c, date_keys[i].type);
		if (k == NULL)
			return NULL;
		if (s == NULL ||
		    (s->type != IMAP_ARG_ATOM && s->type != IMAP_ARG_QUOTED) ||
		    imap_date_parse(s->str, s->len, &k->date) < 0) {
			c->error = "Invalid date";
			return NULL;
		}
		*argp = s->next;
		return k;
	}
	for (i = 0; i < sizeof(text_keys) / sizeof(text_keys[0]); i++) {
		if (strcasecmp(name, text_keys[i].name) != 0)
			continue;
		s = take_string(c, argp, "Missing search string");
		if (s == NULL)
			return NULL;
		k = new_key(c, text_keys[i].type);
		if (k != NULL) {
			k->field = text_keys[i].field;
			k->address = text_keys[i].address;
			k->str = s->str;
			k->str_len = s->len;
		}
		return k;
	}
	if (strcasecmp(name, "HEADER") == 0) {
		const struct imap_arg *f;

		f = take_string(c, argp, "Missing header field name");
		if (f == NULL)
			return NULL;
		s = take_string(c, argp, "Missing search string");
		if (s == NULL)
			return NULL;
		if (f->len == 0 || memchr(f->str, ':', f->len) != NULL ||
		    strlen(f->str) != f->len) {
			c->error = "Invalid header field name";
			return NULL;
		}
		k = new_key(c, IMAP_SKEY_HEADER);
		if (k != NULL) {
			k->field = f->str;
			k->str = s->str;
			k->str_len = s->len;
		}
		return k;
	}
	if (strcasecmp(name, "UID") == 0) {
		s = *argp;
		if (s == NULL || s->type != IMAP_ARG_ATOM) {
			c->error = "Missing UID set";
			return NULL;
		}
		*argp = s->next;
		k = new_key(c, IMAP_SKEY_UID);
		if (k != NULL && imap_seqset_parse(s->str, s->len, c->a,
						   &k->seqset, &c->error) < 0)
			return NULL;
		return k;
	}
	if (strcasecmp(name, "NOT") == 0) {
		k = new_key(c, IMAP_SKEY_NOT);
		if (k == NULL)
			return NULL;
		k->child = parse_key(c, argp, depth + 1);
		return k->child == NULL ? NULL : k;
	}
	if (strcasecmp(name, "OR") == 0) {
		k = new_key(c, IMAP_SKEY_OR);
		if (k == NULL)
			return NULL;
		k->child = parse_key(c, argp, depth + 1);
		if (k->child == NULL)
			return NULL;
		k->child->next = parse_key(c, argp, depth + 1);
		return k->child->next == NULL ? NULL : k;
	}
	c->error = "Unknown search key";
	return NULL;
}

int imap_search_parse(const struct imap_arg *args, struct imap_arena *a,
		      unsigned int max_depth, struct imap_search_key **root_r,
		      const char **error_r)
{
	struct ctx c = {a, max_depth, NULL};

	*root_r = NULL;
	if (imap_arg_atom_eq(args, "CHARSET")) {
		const struct imap_arg *cs = args->next;

		if (!imap_arg_is_astring(cs)) {
			*error_r = "Missing charset";
			return IMAP_SEARCH_BAD;
		}
		if (strcasecmp(cs->str, "UTF-8") != 0 &&
		    strcasecmp(cs->str, "US-ASCII") != 0) {
			*error_r = "Unsupported charset";
			return IMAP_SEARCH_BADCHARSET;
		}
		args = cs->next;
	}
	*root_r = parse_and(&c, args, 0);
	if (*root_r == NULL) {
		*error_r = c.error != NULL ? c.error : "Invalid search";
		return IMAP_SEARCH_BAD;
	}
	return IMAP_SEARCH_OK;
}
