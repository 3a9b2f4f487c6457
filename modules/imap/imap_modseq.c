/*
 * RFC 7162 parameters over the parsed arguments.  The parser already
 * bounds the line, the nesting and the arena; here every list has a
 * fixed shape, so anything longer or of another type is refused.
 */
#include <string.h>
#include <strings.h>

#include "imap_modseq.h"

static int fail(const char **error_r, const char *why)
{
	*error_r = why;
	return -1;
}

/* a sequence-set atom of UIDs or numbers; "*" is not allowed here */
static int set_arg(const struct imap_arg *a, struct imap_arena *ar,
		   struct imap_seqset *set_r)
{
	const char *why;

	if (a == NULL || a->type != IMAP_ARG_ATOM)
		return -1;
	if (imap_seqset_parse(a->str, a->len, ar, set_r, &why) < 0)
		return -1;
	return set_r->has_star ? -1 : 0;
}

static int nz32(const struct imap_arg *a, uint32_t *v_r)
{
	uint64_t v;

	if (a == NULL || a->len > 10 || imap_modseq_parse(a, false, &v) < 0 ||
	    v > UINT32_MAX)
		return -1;
	*v_r = (uint32_t)v;
	return 0;
}

/* "(uidvalidity modseq [known-uids] [(seqs uids)])" */
static int qresync_parse(const struct imap_arg *l, struct imap_arena *ar,
			 struct imap_select_params *p, const char **error_r)
{
	const struct imap_arg *a;

	if (l == NULL || l->type != IMAP_ARG_LIST)
		return fail(error_r, "QRESYNC needs a parameter list");
	a = l->list;
	if (nz32(a, &p->uidvalidity) < 0)
		return fail(error_r, "Invalid QRESYNC UIDVALIDITY");
	a = a->next;
	if (imap_modseq_parse(a, false, &p->modseq) < 0)
		return fail(error_r, "Invalid QRESYNC mod-sequence");
	a = a->next;
	if (a != NULL && a->type == IMAP_ARG_ATOM) {
		if (set_arg(a, ar, &p->known_uids) < 0)
			return fail(error_r, "Invalid QRESYNC known UIDs");
		a = a->next;
	}
	if (a != NULL) {
		const struct imap_arg *m = a->list;

		if (a->type != IMAP_ARG_LIST || a->len != 2 ||
		    set_arg(m, ar, &p->match_seqs) < 0 ||
		    set_arg(m->next, ar, &p->match_uids) < 0 ||
		    imap_seqset_count(&p->match_seqs) !=
			    imap_seqset_count(&p->match_uids))
			return fail(error_r, "Invalid QRESYNC sequence match");
		a = a->next;
	}
	if (a != NULL)
		return fail(error_r, "Too many QRESYNC parameters");
	p->qresync = true;
	p->condstore = true;
	return 0;
}

int imap_select_params_parse(const struct imap_arg *arg, struct imap_arena *a,
			     struct imap_select_params *p_r,
			     const char **error_r)
{
	const struct imap_arg *l;
	bool seen_condstore = false;

	memset(p_r, 0, sizeof(*p_r));
	if (arg == NULL)
		return 0;
	if (arg->type != IMAP_ARG_LIST || arg->next != NULL)
		return fail(error_r, "Invalid SELECT parameters");
	for (l = arg->list; l != NULL; l = l->next) {
		if (imap_arg_atom_eq(l, "CONDSTORE")) {
			if (seen_condstore)
				return fail(error_r, "CONDSTORE given twice");
			seen_condstore = true;
			p_r->condstore = true;
			continue;
		}
		if (imap_arg_atom_eq(l, "QRESYNC")) {
			if (p_r->qresync)
				return fail(error_r, "QRESYNC given twice");
			l = l->next;
			if (qresync_parse(l, a, p_r, error_r) < 0)
				return -1;
			continue;
		}
		return fail(error_r, "Unknown SELECT parameter");
	}
	return 0;
}

int imap_fetch_mods_parse(const struct imap_arg *arg,
			  struct imap_fetch_mods *m_r, const char **error_r)
{
	const struct imap_arg *l;

	memset(m_r, 0, sizeof(*m_r));
	if (arg == NULL || arg->type != IMAP_ARG_LIST || arg->len == 0)
		return fail(error_r, "Invalid FETCH modifiers");
	for (l = arg->list; l != NULL; l = l->next) {
		if (imap_arg_atom_eq(l, "CHANGEDSINCE")) {
			if (m_r->changedsince_set)
				return fail(error_r,
					    "CHANGEDSINCE given twice");
			l = l->next;
			if (imap_modseq_parse(l, false, &m_r->changedsince) < 0)
				return fail(error_r,
					    "Invalid CHANGEDSINCE value");
			m_r->changedsince_set = true;
			continue;
		}
		if (imap_arg_atom_eq(l, "VANISHED")) {
			if (m_r->vanished)
				return fail(error_r, "VANISHED given twice");
			m_r->vanished = true;
			continue;
		}
		return fail(error_r, "Unknown FETCH modifier");
	}
	if (m_r->vanished && !m_r->changedsince_set)
		return fail(error_r, "VANISHED needs CHANGEDSINCE");
	return 0;
}

int imap_store_mods_parse(const struct imap_arg *arg, uint64_t *unchanged_r,
			  const char **error_r)
{
	const struct imap_arg *l;

	if (arg == NULL || arg->type != IMAP_ARG_LIST || arg->len != 2)
		return fail(error_r, "Invalid STORE modifiers");
	l = arg->list;
	if (!imap_arg_atom_eq(l, "UNCHANGEDSINCE"))
		return fail(error_r, "Unknown STORE modifier");
	if (imap_modseq_parse(l->next, true, unchanged_r) < 0)
		return fail(error_r, "Invalid UNCHANGEDSINCE value");
	return 0;
}
