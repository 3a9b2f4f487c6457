/*
 * METADATA (RFC 5464) argument grammar; see imap_metadata.h.
 *
 * Entry names are compared case-insensitively, so they are lower-cased
 * once here and stored and matched as bytes everywhere after.
 */
#include <string.h>
#include <strings.h>

#include "imap_metadata.h"

static bool has_prefix(const char *s, size_t len, const char *root)
{
	size_t n = strlen(root);

	return len >= n && strncasecmp(s, root, n) == 0 &&
	       (len == n || s[n] == '/');
}

const char *imap_meta_entry(const char *s, size_t len, bool whole,
			    struct imap_arena *a, const char **why)
{
	char *out;
	size_t i;

	if (s == NULL || len == 0 || len > RMAIL_META_NAME_MAX) {
		*why = "Entry name of 1 to 1024 octets expected";
		return NULL;
	}
	if (!has_prefix(s, len, "/private") && !has_prefix(s, len, "/shared")) {
		*why = "Entry names begin with /private or /shared";
		return NULL;
	}
	if (!whole && (len == strlen("/private") || len == strlen("/shared")) &&
	    memchr(s + 1, '/', len - 1) == NULL) {
		*why = "Entry name needs a component after /private or "
		       "/shared";
		return NULL;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f || c == '*' || c == '%') {
			*why = "Invalid character in entry name";
			return NULL;
		}
		if (c == '/' && (i + 1 == len || s[i + 1] == '/')) {
			*why = "Empty component in entry name";
			return NULL;
		}
	}
	out = imap_arena_alloc(a, len + 1);
	if (out == NULL) {
		*why = "Command too long";
		return NULL;
	}
	for (i = 0; i < len; i++) {
		char c = s[i];

		out[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	out[len] = '\0';
	return out;
}

/* an entry argument: an astring (atom, quoted or literal) */
static const char *entry_arg(const struct imap_arg *x, bool whole,
			     struct imap_arena *a, const char **why)
{
	if (x == NULL || !imap_arg_is_astring(x) || x->str == NULL) {
		*why = "Entry name expected";
		return NULL;
	}
	if (strlen(x->str) != x->len) {
		*why = "Invalid character in entry name";
		return NULL;
	}
	return imap_meta_entry(x->str, x->len, whole, a, why);
}

static int number(const struct imap_arg *x, uint64_t *v_r)
{
	uint64_t v = 0;
	size_t i;

	if (x == NULL || x->type != IMAP_ARG_ATOM || x->len == 0 || x->len > 19)
		return -1;
	for (i = 0; i < x->len; i++) {
		if (x->str[i] < '0' || x->str[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(x->str[i] - '0');
	}
	*v_r = v;
	return 0;
}

static int get_options(const struct imap_arg *l, struct imap_meta_get *g,
		       const char **why)
{
	const struct imap_arg *o;
	bool depth = false;

	if (l->list == NULL) {
		*why = "Empty GETMETADATA options";
		return -1;
	}
	for (o = l->list; o != NULL; o = o->next->next) {
		if (o->next == NULL) {
			*why = "GETMETADATA option without a value";
			return -1;
		}
		if (imap_arg_atom_eq(o, "MAXSIZE") && !g->has_maxsize) {
			if (number(o->next, &g->maxsize) < 0) {
				*why = "MAXSIZE needs a number";
				return -1;
			}
			g->has_maxsize = true;
		} else if (imap_arg_atom_eq(o, "DEPTH") && !depth) {
			if (imap_arg_atom_eq(o->next, "0"))
				g->depth = IMAP_META_DEPTH_0;
			else if (imap_arg_atom_eq(o->next, "1"))
				g->depth = IMAP_META_DEPTH_1;
			else if (imap_arg_atom_eq(o->next, "infinity"))
				g->depth = IMAP_META_DEPTH_INFINITY;
			else {
				*why = "DEPTH is 0, 1 or infinity";
				return -1;
			}
			depth = true;
		} else {
			*why = "Unknown or repeated GETMETADATA option";
			return -1;
		}
	}
	return 0;
}

static bool mailbox_arg(const struct imap_arg *x)
{
	return x != NULL && imap_arg_is_astring(x) && x->str != NULL &&
	       strlen(x->str) == x->len;
}

int imap_meta_parse_get(const struct imap_arg *args, struct imap_arena *a,
			struct imap_meta_get *g, const char **why)
{
	const struct imap_arg *x = args, *e;

	memset(g, 0, sizeof(*g));
	if (x != NULL && x->type == IMAP_ARG_LIST) {
		if (get_options(x, g, why) < 0)
			return -1;
		x = x->next;
	}
	if (!mailbox_arg(x)) {
		*why = "GETMETADATA [options] mailbox entries";
		return -1;
	}
	g->mailbox = x;
	x = x->next;
	if (x == NULL || x->next != NULL) {
		*why = "GETMETADATA [options] mailbox entries";
		return -1;
	}
	if (x->type != IMAP_ARG_LIST) {
		g->entries[0] = entry_arg(x, true, a, why);
		g->nentries = g->entries[0] != NULL;
		return g->nentries == 1 ? 0 : -1;
	}
	if (x->list == NULL) {
		*why = "Empty entry list";
		return -1;
	}
	for (e = x->list; e != NULL; e = e->next) {
		if (g->nentries == IMAP_META_REQ_MAX) {
			*why = "Too many entries in one command";
			return -1;
		}
		g->entries[g->nentries] = entry_arg(e, true, a, why);
		if (g->entries[g->nentries] == NULL)
			return -1;
		g->nentries++;
	}
	return 0;
}

int imap_meta_parse_set(const struct imap_arg *args, struct imap_arena *a,
			struct imap_meta_set *st, const char **why)
{
	const struct imap_arg *x = args, *e;

	memset(st, 0, sizeof(*st));
	if (!mailbox_arg(x) || x->next == NULL ||
	    x->next->type != IMAP_ARG_LIST || x->next->next != NULL) {
		*why = "SETMETADATA mailbox (entry value ...)";
		return -1;
	}
	st->mailbox = x;
	if (x->next->list == NULL) {
		*why = "Empty entry list";
		return -1;
	}
	for (e = x->next->list; e != NULL; e = e->next->next) {
		const struct imap_arg *v = e->next;
		struct rmail_meta_entry *m = &st->e[st->n];

		if (st->n == IMAP_META_REQ_MAX) {
			*why = "Too many entries in one command";
			return -1;
		}
		if ((m->name = entry_arg(e, false, a, why)) == NULL)
			return -1;
		if (v == NULL) {
			*why = "Entry without a value";
			return -1;
		}
		if (v->type == IMAP_ARG_NIL) {
			m->value = NULL;
		} else if ((v->type == IMAP_ARG_QUOTED ||
			    v->type == IMAP_ARG_LITERAL) &&
			   v->str != NULL) {
			m->value = v->str;
			m->len = v->len;
		} else {
			/* value = nstring / literal8: never an atom */
			*why = "Value must be a string or NIL";
			return -1;
		}
		st->n++;
	}
	return 0;
}

bool imap_meta_match(const char *want, const char *have, int depth)
{
	size_t n = strlen(want);
	const char *rest;

	if (strncmp(want, have, n) != 0)
		return false;
	if (have[n] == '\0')
		return true;
	if (have[n] != '/' || depth == IMAP_META_DEPTH_0)
		return false;
	rest = have + n + 1;
	return depth == IMAP_META_DEPTH_INFINITY || strchr(rest, '/') == NULL;
}
