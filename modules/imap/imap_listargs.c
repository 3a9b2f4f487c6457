/* LIST arguments: selection options, reference, patterns, RETURN. */
#include <stddef.h>

#include "imap_listargs.h"

static int selection(const struct imap_arg *list, unsigned *opts,
		     const char **error_r)
{
	const struct imap_arg *o;

	for (o = list; o != NULL; o = o->next) {
		if (imap_arg_atom_eq(o, "SUBSCRIBED"))
			*opts |= IMAP_LIST_SEL_SUBSCRIBED |
				 IMAP_LIST_RET_SUBSCRIBED;
		else if (imap_arg_atom_eq(o, "SPECIAL-USE"))
			*opts |= IMAP_LIST_SEL_SPECIAL;
		else if (imap_arg_atom_eq(o, "RECURSIVEMATCH"))
			*opts |= IMAP_LIST_SEL_RECURSIVE;
		else if (!imap_arg_atom_eq(o, "REMOTE")) {
			*error_r = "Unknown selection option";
			return -1;
		}
	}
	/* RFC 5258 3.1: never alone (or with REMOTE only) */
	if ((*opts & IMAP_LIST_SEL_RECURSIVE) &&
	    !(*opts & (IMAP_LIST_SEL_SUBSCRIBED | IMAP_LIST_SEL_SPECIAL))) {
		*error_r = "RECURSIVEMATCH needs another selection option";
		return -1;
	}
	return 0;
}

static int returns(const struct imap_arg *list, struct imap_list_args *r,
		   const char **error_r)
{
	const struct imap_arg *o;

	for (o = list; o != NULL; o = o->next) {
		if (imap_arg_atom_eq(o, "SPECIAL-USE")) {
			r->opts |= IMAP_LIST_RET_SPECIAL;
		} else if (imap_arg_atom_eq(o, "SUBSCRIBED")) {
			r->opts |= IMAP_LIST_RET_SUBSCRIBED;
		} else if (imap_arg_atom_eq(o, "CHILDREN")) {
			/* \HasChildren/\HasNoChildren are always sent */
			continue;
		} else if (imap_arg_atom_eq(o, "STATUS") && o->next != NULL &&
			   o->next->type == IMAP_ARG_LIST) {
			r->opts |= IMAP_LIST_RET_STATUS;
			r->status_items = o->next;
			o = o->next;
		} else {
			*error_r = "Unknown return option";
			return -1;
		}
	}
	return 0;
}

int imap_list_parse(const struct imap_arg *a, struct imap_list_args *r,
		    const char **error_r)
{
	const struct imap_arg *ret;

	*r = (struct imap_list_args){0};
	if (a != NULL && a->type == IMAP_ARG_LIST) {
		r->opts |= IMAP_LIST_EXTENDED;
		if (selection(a->list, &r->opts, error_r) < 0)
			return -1;
		a = a->next;
	}
	r->ref = a;
	r->pats = a != NULL ? a->next : NULL;
	if (!imap_arg_is_astring(r->ref) || r->pats == NULL) {
		*error_r = "LIST reference pattern";
		return -1;
	}
	if (r->pats->type != IMAP_ARG_LIST &&
	    !imap_arg_is_list_mailbox(r->pats)) {
		*error_r = "Invalid pattern";
		return -1;
	}
	ret = r->pats->next;
	if (ret == NULL)
		return 0;
	if (!imap_arg_atom_eq(ret, "RETURN") || ret->next == NULL ||
	    ret->next->type != IMAP_ARG_LIST || ret->next->next != NULL) {
		*error_r = "Invalid LIST arguments";
		return -1;
	}
	r->opts |= IMAP_LIST_EXTENDED;
	return returns(ret->next->list, r, error_r);
}
