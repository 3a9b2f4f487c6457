/*
 * LIST and LSUB (RFC 3501), and LIST-EXTENDED (RFC 5258): selection
 * options SUBSCRIBED, SPECIAL-USE (RFC 6154), REMOTE (no remote
 * mailboxes here) and RECURSIVEMATCH with CHILDINFO; RETURN
 * (SPECIAL-USE CHILDREN SUBSCRIBED STATUS (...)) — the last is
 * LIST-STATUS (RFC 5819).  SPECIAL-USE attributes are shown in plain
 * LIST too (RFC 6154 allows it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_listargs.h"
#include "imap_session.h"
#include "mutf7.h"

/*
 * '*' matches anything, '%' anything but the delimiter.  The pattern
 * runs as an NFA over the name, one set of live pattern positions per
 * name byte: O(pattern * name) whatever the client sends, where a
 * backtracking matcher is O(name ^ wildcards) on "*a*a*a*b".
 */
static void closure(const char *p, size_t plen, unsigned char *st)
{
	size_t j;

	for (j = 0; j < plen; j++)
		if (st[j] && (p[j] == '*' || p[j] == '%'))
			st[j + 1] = 1;
}

static bool match(const char *p, const char *n)
{
	size_t plen = strlen(p), j;
	unsigned char *cur, *next, *t;
	bool ok;

	cur = calloc(2, plen + 1);
	if (cur == NULL)
		return false;
	next = cur + plen + 1;
	cur[0] = 1;
	closure(p, plen, cur);
	for (; *n != '\0'; n++) {
		memset(next, 0, plen + 1);
		for (j = 0; j < plen; j++) {
			if (!cur[j])
				continue;
			if (p[j] == '*' || (p[j] == '%' && *n != '/'))
				next[j] = 1;
			else if (p[j] == *n)
				next[j + 1] = 1;
		}
		closure(p, plen, next);
		t = cur;
		cur = next;
		next = t;
	}
	ok = cur[plen] != 0;
	free(cur < next ? cur : next);
	return ok;
}

static bool name_match(const char *pat, const char *name)
{
	if (strncasecmp(pat, "INBOX", 5) == 0 &&
	    (pat[5] == '\0' || pat[5] == '/') &&
	    strncmp(name, "INBOX", 5) == 0) {
		char buf[RMAIL_MBOX_NAME_MAX * 4 + 8];

		snprintf(buf, sizeof(buf), "INBOX%s", pat + 5);
		return match(buf, name);
	}
	return match(pat, name);
}

struct list_ent {
	char *name;
	uint32_t attrs, su;
};

struct list_ctx {
	struct list_ent *v;
	size_t n, cap;
};

static void list_cb(void *arg, const struct rmail_mbox_entry *e)
{
	struct list_ctx *x = arg;

	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 32;
		struct list_ent *v = realloc(x->v, cap * sizeof(*v));

		if (v == NULL)
			abort();
		x->v = v;
		x->cap = cap;
	}
	x->v[x->n].name = strdup(e->name);
	x->v[x->n].attrs = e->attrs;
	x->v[x->n].su = e->special_use;
	x->n++;
}

static bool has_children(const struct list_ctx *x, const char *name)
{
	size_t i, l = strlen(name);

	for (i = 0; i < x->n; i++)
		if (strncmp(x->v[i].name, name, l) == 0 &&
		    x->v[i].name[l] == '/' &&
		    !(x->v[i].attrs & RMAIL_MBOX_NONEXISTENT))
			return true;
	return false;
}

/* does any of the patterns (after the reference) match name? */
static bool pattern_hit(const struct imap_arg *first, const char *ref,
			const char *name, bool utf8)
{
	const struct imap_arg *pa;

	for (pa = first; pa != NULL; pa = pa->next) {
		char pat[RMAIL_MBOX_NAME_MAX * 4 + 8], dec[sizeof(pat)];
		const char *why;
		size_t dl;

		if (!imap_arg_is_list_mailbox(pa))
			continue;
		snprintf(pat, sizeof(pat), "%s%s", ref, pa->str);
		if (utf8)
			snprintf(dec, sizeof(dec), "%s", pat);
		else if (mutf7_decode(pat, strlen(pat), dec, sizeof(dec), &dl,
				      &why) < 0)
			continue;
		if (name_match(dec, name))
			return true;
	}
	return false;
}

/*
 * RFC 3501 6.3.9: when a subscribed name does not match but one of its
 * parents does ("%" stopping at the delimiter), LSUB returns that
 * parent flagged \Noselect.  Candidates are gathered here and written
 * once each by lsub_parents_write.
 */
static void lsub_parents(struct list_ctx *par, const struct imap_arg *first,
			 const char *ref, const char *name, bool utf8)
{
	char buf[RMAIL_MBOX_NAME_MAX * 4 + 8];
	struct rmail_mbox_entry pe = {0};
	size_t i;

	snprintf(buf, sizeof(buf), "%s", name);
	for (i = 0; buf[i] != '\0'; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		if (pattern_hit(first, ref, buf, utf8)) {
			pe.name = buf;
			list_cb(par, &pe);
		}
		buf[i] = '/';
	}
}

static int ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct list_ent *)a)->name,
		      ((const struct list_ent *)b)->name);
}

static bool subscribed(const struct list_ctx *x, const char *name)
{
	size_t i;

	for (i = 0; i < x->n; i++)
		if ((x->v[i].attrs & RMAIL_MBOX_SUBSCRIBED) &&
		    strcmp(x->v[i].name, name) == 0)
			return true;
	return false;
}

static void lsub_parents_write(struct imap_session *s, struct list_ctx *par,
			       const struct list_ctx *x)
{
	char wire[RMAIL_MBOX_NAME_MAX * 4 + 8];
	size_t i;

	if (par->n > 1)
		qsort(par->v, par->n, sizeof(*par->v), ent_cmp);
	for (i = 0; i < par->n; i++) {
		const char *name = par->v[i].name;

		/* a subscribed parent matching the pattern is listed as
		 * itself */
		if ((i > 0 && strcmp(name, par->v[i - 1].name) == 0) ||
		    subscribed(x, name) ||
		    imap_mbox_wire(s, name, wire, sizeof(wire)) < 0)
			continue;
		imap_printf(s, "* LSUB (\\Noselect) \"/\" ");
		imap_write_astring(s, wire);
		imap_printf(s, "\r\n");
	}
	for (i = 0; i < par->n; i++)
		free(par->v[i].name);
	free(par->v);
}

/* does the entry satisfy every selection option? (RFC 5258 3) */
static bool selected(const struct list_ent *e, unsigned opts)
{
	if ((opts & (IMAP_LIST_LSUB | IMAP_LIST_SEL_SUBSCRIBED)) &&
	    !(e->attrs & RMAIL_MBOX_SUBSCRIBED))
		return false;
	if (!(opts & (IMAP_LIST_LSUB | IMAP_LIST_SEL_SUBSCRIBED)) &&
	    (e->attrs & RMAIL_MBOX_NONEXISTENT))
		return false;
	if ((opts & IMAP_LIST_SEL_SPECIAL) && e->su == RMAIL_SU_NONE)
		return false;
	return true;
}

/* names that get CHILDINFO, sorted, no duplicates */
struct ci_ent {
	char *name;
	bool listed; /* the store lists it: written with its attributes */
};

struct childinfo {
	struct ci_ent *v;
	size_t n, cap;
};

static int ci_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ci_ent *)a)->name,
		      ((const struct ci_ent *)b)->name);
}

static struct ci_ent *ci_find(const struct childinfo *ci, const char *name)
{
	struct ci_ent key = {.name = (char *)name};

	if (ci->n == 0)
		return NULL;
	return bsearch(&key, ci->v, ci->n, sizeof(*ci->v), ci_cmp);
}

static void ci_add(struct childinfo *ci, const char *name)
{
	if (ci->n == ci->cap) {
		size_t cap = ci->cap ? ci->cap * 2 : 16;
		struct ci_ent *v = realloc(ci->v, cap * sizeof(*v));

		if (v == NULL)
			abort();
		ci->v = v;
		ci->cap = cap;
	}
	ci->v[ci->n].name = strdup(name);
	ci->v[ci->n].listed = false;
	if (ci->v[ci->n].name == NULL)
		abort();
	ci->n++;
}

/*
 * RFC 5258 3.5 (RECURSIVEMATCH): a name the patterns match gets
 * CHILDINFO when some descendant satisfies the selection options but
 * is not listed itself (the pattern does not reach it); such a name is
 * listed even when it does not satisfy them.
 */
static void childinfo_build(struct childinfo *ci, const struct list_ctx *x,
			    const struct imap_arg *first, const char *ref,
			    unsigned opts, bool utf8)
{
	char buf[RMAIL_MBOX_NAME_MAX * 4 + 8];
	size_t i, j, k;

	for (i = 0; i < x->n; i++) {
		if (!selected(&x->v[i], opts) ||
		    pattern_hit(first, ref, x->v[i].name, utf8))
			continue;
		snprintf(buf, sizeof(buf), "%s", x->v[i].name);
		for (j = 0; buf[j] != '\0'; j++) {
			if (buf[j] != '/')
				continue;
			buf[j] = '\0';
			if (pattern_hit(first, ref, buf, utf8))
				ci_add(ci, buf);
			buf[j] = '/';
		}
	}
	if (ci->n > 1)
		qsort(ci->v, ci->n, sizeof(*ci->v), ci_cmp);
	for (i = k = 0; i < ci->n; i++) {
		if (k > 0 && strcmp(ci->v[i].name, ci->v[k - 1].name) == 0)
			free(ci->v[i].name);
		else
			ci->v[k++] = ci->v[i];
	}
	ci->n = k;
}

static void childinfo_free(struct childinfo *ci)
{
	size_t i;

	for (i = 0; i < ci->n; i++)
		free(ci->v[i].name);
	free(ci->v);
}

static void childinfo_write(struct imap_session *s, unsigned opts)
{
	imap_printf(s, " (\"CHILDINFO\" (%s%s%s))",
		    opts & IMAP_LIST_SEL_SUBSCRIBED ? "\"SUBSCRIBED\"" : "",
		    (opts & IMAP_LIST_SEL_SUBSCRIBED) &&
				    (opts & IMAP_LIST_SEL_SPECIAL)
			    ? " "
			    : "",
		    opts & IMAP_LIST_SEL_SPECIAL ? "\"SPECIAL-USE\"" : "");
}

static void list_run(struct imap_session *s, const struct imap_cmd *cmd,
		     const char *ref, const struct imap_arg *pats,
		     unsigned opts, const struct imap_arg *status_items)
{
	const struct rmail_store_ops *ops;
	struct list_ctx x = {0}, par = {0};
	struct childinfo ci = {0};
	struct rmail_err err;
	const struct imap_arg *pa, *first;
	size_t i;
	void *h;

	first = pats->type == IMAP_ARG_LIST ? pats->list : pats;
	if (pats->type != IMAP_ARG_LIST && !imap_arg_is_list_mailbox(pats)) {
		imap_tagged(s, cmd->tag, false, "BAD Invalid pattern");
		return;
	}
	/* RFC 5258 3: an extended LIST never treats "" as the
	 * delimiter request; the empty pattern then matches nothing */
	if (first != NULL && first->next == NULL &&
	    pats->type != IMAP_ARG_LIST && first->len == 0 &&
	    !(opts & (IMAP_LIST_LSUB | IMAP_LIST_EXTENDED))) {
		imap_printf(s, "* LIST (\\Noselect) \"/\" \"\"\r\n");
		imap_tagged(s, cmd->tag, true, "OK LIST completed");
		return;
	}
	for (pa = first; pa != NULL; pa = pa->next) {
		size_t w = 0;

		for (i = 0; pa->str != NULL && pa->str[i] != '\0'; i++)
			w += pa->str[i] == '*' || pa->str[i] == '%';
		/* no real client needs more; kept as a protocol limit */
		if (w > 8) {
			imap_tagged(s, cmd->tag, false,
				    "BAD Too many wildcards");
			return;
		}
	}
	ops = imap_store(s->mod, &h);
	if (ops->mbox_list(h, s->user, list_cb, &x, &err) < 0) {
		imap_tagged(s, cmd->tag, false, "NO %s%s", imap_err_code(&err),
			    err.msg);
		return;
	}
	if (opts & IMAP_LIST_SEL_RECURSIVE)
		childinfo_build(&ci, &x, first, ref, opts, imap_utf8_names(s));
	for (i = 0; i < x.n; i++) {
		struct list_ent *e = &x.v[i];
		char wire[RMAIL_MBOX_NAME_MAX * 4 + 8];
		bool sp = false, sel, withci;
		struct ci_ent *cie;

		if (!pattern_hit(first, ref, e->name, imap_utf8_names(s))) {
			if ((opts & IMAP_LIST_LSUB) &&
			    (e->attrs & RMAIL_MBOX_SUBSCRIBED))
				lsub_parents(&par, first, ref, e->name,
					     imap_utf8_names(s));
			continue;
		}
		sel = selected(e, opts);
		cie = ci_find(&ci, e->name);
		withci = cie != NULL;
		if (withci)
			cie->listed = true;
		if (!sel && !withci)
			continue;
		if (imap_mbox_wire(s, e->name, wire, sizeof(wire)) < 0)
			continue;
		imap_printf(s, "* %s (",
			    opts & IMAP_LIST_LSUB ? "LSUB" : "LIST");
#define ATTR(str)                                                              \
	do {                                                                   \
		imap_printf(s, "%s%s", sp ? " " : "", str);                    \
		sp = true;                                                     \
	} while (0)
		if (e->attrs & RMAIL_MBOX_NONEXISTENT)
			ATTR("\\NonExistent");
		if (e->attrs & RMAIL_MBOX_NOSELECT)
			ATTR("\\Noselect");
		if (!(opts & IMAP_LIST_LSUB)) {
			if (has_children(&x, e->name) ||
			    (e->attrs & RMAIL_MBOX_HASCHILDREN))
				ATTR("\\HasChildren");
			else
				ATTR("\\HasNoChildren");
		}
		if ((opts &
		     (IMAP_LIST_RET_SUBSCRIBED | IMAP_LIST_SEL_SUBSCRIBED)) &&
		    (e->attrs & RMAIL_MBOX_SUBSCRIBED))
			ATTR("\\Subscribed");
		if (imap_special_use_name(e->su) != NULL &&
		    (!(opts & IMAP_LIST_EXTENDED) ||
		     (opts & (IMAP_LIST_RET_SPECIAL | IMAP_LIST_SEL_SPECIAL))))
			ATTR(imap_special_use_name(e->su));
#undef ATTR
		imap_printf(s, ") \"/\" ");
		imap_write_astring(s, wire);
		if (withci)
			childinfo_write(s, opts);
		imap_printf(s, "\r\n");
		if ((opts & IMAP_LIST_RET_STATUS) &&
		    !(e->attrs &
		      (RMAIL_MBOX_NOSELECT | RMAIL_MBOX_NONEXISTENT))) {
			struct rmail_mbox_status st = {.size = sizeof(st)};
			char items[256];

			if (ops->mbox_status(h, s->user, e->name, &st, &err) ==
				    0 &&
			    imap_status_items(s, status_items, &st, e->name,
					      items, sizeof(items)) == 0) {
				imap_printf(s, "* STATUS ");
				imap_write_astring(s, wire);
				imap_printf(s, " (%s)\r\n", items);
			}
		}
	}
	/* parents the store does not list: nothing exists there */
	for (i = 0; i < ci.n; i++) {
		char wire[RMAIL_MBOX_NAME_MAX * 4 + 8];

		if (ci.v[i].listed ||
		    imap_mbox_wire(s, ci.v[i].name, wire, sizeof(wire)) < 0)
			continue;
		imap_printf(s, "* LIST (\\NonExistent %s) \"/\" ",
			    has_children(&x, ci.v[i].name) ? "\\HasChildren"
							   : "\\HasNoChildren");
		imap_write_astring(s, wire);
		childinfo_write(s, opts);
		imap_printf(s, "\r\n");
	}
	childinfo_free(&ci);
	lsub_parents_write(s, &par, &x);
	for (i = 0; i < x.n; i++)
		free(x.v[i].name);
	free(x.v);
	imap_tagged(s, cmd->tag, true, "OK %s completed",
		    opts & IMAP_LIST_LSUB ? "LSUB" : "LIST");
}

void imap_cmd_list(struct imap_session *s, const struct imap_cmd *cmd, bool uid)
{
	struct imap_list_args la;
	const char *why;

	(void)uid;
	if (imap_list_parse(cmd->args, &la, &why) < 0) {
		imap_tagged(s, cmd->tag, false, "BAD %s", why);
		return;
	}
	if (s->rev2 && la.status_items != NULL) {
		const struct imap_arg *i;

		for (i = la.status_items->list; i != NULL; i = i->next)
			if (imap_arg_atom_eq(i, "RECENT")) {
				imap_tagged(s, cmd->tag, false, "BAD %s",
					    imap_rev2_no_recent);
				return;
			}
	}
	list_run(s, cmd, la.ref->str, la.pats, la.opts, la.status_items);
}

void imap_cmd_lsub(struct imap_session *s, const struct imap_cmd *cmd, bool uid)
{
	const struct imap_arg *ref = cmd->args;

	(void)uid;
	if (imap_rev2_refuse(s, cmd->tag, "LSUB", "LIST (SUBSCRIBED)"))
		return;
	if (!imap_arg_is_astring(ref) || !imap_arg_is_list_mailbox(ref->next) ||
	    ref->next->next != NULL) {
		imap_tagged(s, cmd->tag, false, "BAD LSUB reference pattern");
		return;
	}
	list_run(s, cmd, ref->str, ref->next, IMAP_LIST_LSUB, NULL);
}
