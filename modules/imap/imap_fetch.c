/* FETCH data items, BODY[section]<partial> and BINARY (RFC 3516)
 * included. */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "imap_fetch.h"

struct cursor {
	const char *s;
	size_t len, i;
};

static int fail(const char **error_r, const char *why)
{
	*error_r = why;
	return -1;
}

/* Case-insensitive prefix match that advances on success. */
static int eat(struct cursor *c, const char *word)
{
	size_t n = strlen(word);

	if (c->len - c->i < n || strncasecmp(c->s + c->i, word, n) != 0)
		return 0;
	c->i += n;
	return 1;
}

static int parse_u32(struct cursor *c, int nonzero, uint32_t *n_r)
{
	uint64_t v = 0;
	size_t start = c->i;

	while (c->i < c->len && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
		v = v * 10 + (uint64_t)(c->s[c->i] - '0');
		if (v > UINT32_MAX)
			return -1;
		c->i++;
	}
	if (c->i == start || (c->i - start > 1 && c->s[start] == '0'))
		return -1;
	if (nonzero && v == 0)
		return -1;
	*n_r = (uint32_t)v;
	return 0;
}

static int is_field_char(unsigned char ch)
{
	/* RFC 5322 ftext: printable ASCII except ':' */
	return ch > 0x20 && ch < 0x7f && ch != ':';
}

/* "(" name *(SP name) ")": names are atoms or quoted strings. */
static int parse_fields(struct cursor *c, struct imap_arena *a,
			struct imap_fetch_body *b, const char **error_r)
{
	size_t save, n = 0, k;
	const char **fields;

	if (!eat(c, " ("))
		return fail(error_r, "Missing header field list");
	save = c->i;
	/* count first, to allocate the array once */
	for (k = c->i; k < c->len && c->s[k] != ')'; k++) {
		if (c->s[k] == ' ')
			n++;
	}
	n++;
	fields = imap_arena_alloc(a, n * sizeof(*fields));
	if (fields == NULL)
		return fail(error_r, "Command too long");
	c->i = save;
	b->nfields = 0;
	for (;;) {
		char *out;
		size_t start, olen = 0;
		int quoted = c->i < c->len && c->s[c->i] == '"';

		if (quoted)
			c->i++;
		start = c->i;
		while (c->i < c->len &&
		       (quoted ? c->s[c->i] != '"'
			       : (c->s[c->i] != ' ' && c->s[c->i] != ')')))
			c->i++;
		if (quoted && c->i >= c->len)
			return fail(error_r, "Unterminated header field name");
		out = imap_arena_alloc(a, c->i - start + 1);
		if (out == NULL)
			return fail(error_r, "Command too long");
		for (k = start; k < c->i; k++) {
			if (!is_field_char((unsigned char)c->s[k]))
				return fail(error_r,
					    "Invalid header field name");
			out[olen++] = c->s[k];
		}
		if (olen == 0)
			return fail(error_r, "Empty header field name");
		out[olen] = '\0';
		if (quoted)
			c->i++;
		if (b->nfields >= n)
			return fail(error_r, "Invalid header field list");
		fields[b->nfields++] = out;
		if (c->i < c->len && c->s[c->i] == ')') {
			c->i++;
			break;
		}
		if (c->i >= c->len || c->s[c->i] != ' ')
			return fail(error_r, "Invalid header field list");
		c->i++;
	}
	b->fields = fields;
	return 0;
}

/* The text between the brackets; c->s[c->i] is just after '['. */
static int parse_section(struct cursor *c, struct imap_arena *a,
			 struct imap_fetch_body *b, const char **error_r)
{
	int need_text = 0;

	b->kind = IMAP_SECTION_ALL;
	b->section = c->s + c->i;
	while (c->i < c->len && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
		if (b->nparts >= IMAP_FETCH_MAX_PARTS)
			return fail(error_r, "Section part numbers nested "
					     "too deeply");
		if (parse_u32(c, 1, &b->part[b->nparts]) < 0)
			return fail(error_r, "Invalid section part number");
		b->nparts++;
		need_text = 0;
		if (!eat(c, "."))
			break;
		need_text = 1;
	}
	if (b->binary != IMAP_BIN_NONE &&
	    (need_text || (c->i < c->len && c->s[c->i] != ']')))
		/* section-binary = "[" [section-part] "]" */
		return fail(error_r, "BINARY takes part numbers only");
	if (c->i < c->len && c->s[c->i] != ']') {
		if (b->nparts > 0 && !need_text)
			return fail(error_r, "Invalid section");
		if (eat(c, "HEADER.FIELDS.NOT")) {
			b->kind = IMAP_SECTION_HEADER_FIELDS_NOT;
			if (parse_fields(c, a, b, error_r) < 0)
				return -1;
		} else if (eat(c, "HEADER.FIELDS")) {
			b->kind = IMAP_SECTION_HEADER_FIELDS;
			if (parse_fields(c, a, b, error_r) < 0)
				return -1;
		} else if (eat(c, "HEADER")) {
			b->kind = IMAP_SECTION_HEADER;
		} else if (eat(c, "TEXT")) {
			b->kind = IMAP_SECTION_TEXT;
		} else if (eat(c, "MIME")) {
			if (b->nparts == 0)
				return fail(error_r,
					    "MIME needs a part number");
			b->kind = IMAP_SECTION_MIME;
		} else {
			return fail(error_r, "Invalid section");
		}
	} else if (need_text) {
		return fail(error_r, "Invalid section");
	}
	if (!eat(c, "]"))
		return fail(error_r, "Invalid section");
	b->section_len = (size_t)(c->s + c->i - 1 - b->section);
	if (b->binary == IMAP_BIN_SIZE && c->i < c->len && c->s[c->i] == '<')
		return fail(error_r, "BINARY.SIZE takes no partial range");
	if (eat(c, "<")) {
		if (parse_u32(c, 0, &b->offset) < 0 || !eat(c, ".") ||
		    parse_u32(c, 1, &b->count) < 0 || !eat(c, ">"))
			return fail(error_r, "Invalid partial range");
		b->partial = 1;
	}
	if (c->i != c->len)
		return fail(error_r, "Junk after section");
	return 0;
}

static const struct {
	const char *name;
	uint32_t flags;
} simple_items[] = {
	{"FLAGS", IMAP_FETCH_FLAGS},
	{"UID", IMAP_FETCH_UID},
	{"MODSEQ", IMAP_FETCH_MODSEQ},
	{"EMAILID", IMAP_FETCH_EMAILID},
	{"THREADID", IMAP_FETCH_THREADID},
	{"PREVIEW", IMAP_FETCH_PREVIEW},
	{"INTERNALDATE", IMAP_FETCH_INTERNALDATE},
	{"SAVEDATE", IMAP_FETCH_SAVEDATE},
	{"RFC822.SIZE", IMAP_FETCH_RFC822_SIZE},
	{"RFC822.HEADER", IMAP_FETCH_RFC822_HEADER},
	{"RFC822.TEXT", IMAP_FETCH_RFC822_TEXT},
	{"RFC822", IMAP_FETCH_RFC822},
	{"ENVELOPE", IMAP_FETCH_ENVELOPE},
	{"BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE},
	{"BODY", IMAP_FETCH_BODY},
};

static int parse_item(const struct imap_arg *arg, struct imap_arena *a,
		      struct imap_fetch_attrs *attrs,
		      struct imap_fetch_body **tail, const char **error_r)
{
	struct cursor c;
	struct imap_fetch_body *b;
	size_t i;

	if (arg->type != IMAP_ARG_ATOM)
		return fail(error_r, "Invalid fetch attribute");
	for (i = 0; i < sizeof(simple_items) / sizeof(simple_items[0]); i++) {
		if (strcasecmp(arg->str, simple_items[i].name) == 0) {
			attrs->flags |= simple_items[i].flags;
			if (simple_items[i].flags &
			    (IMAP_FETCH_RFC822 | IMAP_FETCH_RFC822_TEXT))
				attrs->sets_seen = 1;
			return 0;
		}
	}
	c = (struct cursor){arg->str, arg->len, 0};
	b = imap_arena_alloc(a, sizeof(*b));
	if (b == NULL)
		return fail(error_r, "Command too long");
	if (eat(&c, "BODY.PEEK[")) {
		b->peek = 1;
	} else if (eat(&c, "BINARY.PEEK[")) {
		b->peek = 1;
		b->binary = IMAP_BIN_DATA;
	} else if (eat(&c, "BINARY.SIZE[")) {
		b->peek = 1;
		b->binary = IMAP_BIN_SIZE;
	} else if (eat(&c, "BINARY[")) {
		b->binary = IMAP_BIN_DATA;
	} else if (!eat(&c, "BODY[")) {
		return fail(error_r, "Unknown fetch attribute");
	}
	if (parse_section(&c, a, b, error_r) < 0)
		return -1;
	if (b->binary != IMAP_BIN_NONE)
		attrs->nbinary++;
	if (!b->peek)
		attrs->sets_seen = 1;
	if (*tail == NULL)
		attrs->bodies = b;
	else
		(*tail)->next = b;
	*tail = b;
	attrs->nbodies++;
	return 0;
}

int imap_fetch_parse(const struct imap_arg *arg, struct imap_arena *a,
		     struct imap_fetch_attrs *attrs_r, const char **error_r)
{
	const uint32_t fast = IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE |
			      IMAP_FETCH_RFC822_SIZE;
	struct imap_fetch_body *tail = NULL;
	const struct imap_arg *item;

	*attrs_r = (struct imap_fetch_attrs){0};
	if (arg == NULL)
		return fail(error_r, "Missing fetch attributes");
	if (arg->next != NULL)
		return fail(error_r, "Too many arguments to FETCH");
	if (arg->type == IMAP_ARG_ATOM) {
		/* macros stand alone, never inside a list */
		if (strcasecmp(arg->str, "ALL") == 0) {
			attrs_r->flags = fast | IMAP_FETCH_ENVELOPE;
			return 0;
		}
		if (strcasecmp(arg->str, "FAST") == 0) {
			attrs_r->flags = fast;
			return 0;
		}
		if (strcasecmp(arg->str, "FULL") == 0) {
			attrs_r->flags =
				fast | IMAP_FETCH_ENVELOPE | IMAP_FETCH_BODY;
			return 0;
		}
		return parse_item(arg, a, attrs_r, &tail, error_r);
	}
	if (arg->type != IMAP_ARG_LIST || arg->list == NULL)
		return fail(error_r, "Invalid fetch attributes");
	for (item = arg->list; item != NULL; item = item->next) {
		if (item->type == IMAP_ARG_ATOM &&
		    strcasecmp(item->str, "PREVIEW") == 0) {
			/* RFC 8970: PREVIEW [SP "(" preview-mod ... ")"] */
			bool lazy = false;

			if (item->next != NULL &&
			    item->next->type == IMAP_ARG_LIST) {
				const struct imap_arg *mod;

				item = item->next;
				if (item->list == NULL)
					return fail(error_r,
						    "Empty PREVIEW modifiers");
				for (mod = item->list; mod != NULL;
				     mod = mod->next)
					if (!imap_arg_atom_eq(mod, "LAZY"))
						return fail(error_r,
							    "Unknown PREVIEW "
							    "modifier");
				lazy = true;
			}
			/* a PREVIEW without LAZY anywhere wins */
			if (lazy && !(attrs_r->flags & IMAP_FETCH_PREVIEW))
				attrs_r->flags |= IMAP_FETCH_PREVIEW_LAZY;
			if (!lazy)
				attrs_r->flags &= ~IMAP_FETCH_PREVIEW_LAZY;
			attrs_r->flags |= IMAP_FETCH_PREVIEW;
			continue;
		}
		if (parse_item(item, a, attrs_r, &tail, error_r) < 0)
			return -1;
	}
	return 0;
}
