/*
 * SEARCH and UID SEARCH over the view's metadata: flags, keywords, size,
 * internal date, UIDs and sequence sets, with AND/OR/NOT.  Keys that
 * need the message text (HEADER, BODY, TEXT, FROM..., SENT*) come with
 * the MIME parser in part 2 and answer NO for now.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_search.h"
#include "imap_session.h"

/* resolve sets in place; -1 when a key is not supported yet, -2 when a
 * set does not fit the command's memory */
static int prepare(struct imap_session *s, struct imap_search_key *k)
{
	for (; k != NULL; k = k->next) {
		struct imap_seqset r;

		switch (k->type) {
		case IMAP_SKEY_AND:
		case IMAP_SKEY_OR:
		case IMAP_SKEY_NOT: {
			int rc = prepare(s, k->child);

			if (rc < 0)
				return rc;
			break;
		}
		case IMAP_SKEY_UID:
		case IMAP_SKEY_SEQSET:
			if (imap_seqset_resolve(&k->seqset, k->type ==
						IMAP_SKEY_UID ? s->maxuid :
						s->exists, &s->arena, &r) < 0)
				return -2;
			k->seqset = r;
			break;
		case IMAP_SKEY_HEADER:
		case IMAP_SKEY_BODY:
		case IMAP_SKEY_TEXT:
		case IMAP_SKEY_SENTBEFORE:
		case IMAP_SKEY_SENTON:
		case IMAP_SKEY_SENTSINCE:
			return -1;
		default:
			break;
		}
	}
	return 0;
}

struct cand {
	uint32_t seq;
	const struct rmail_msg *m;
	const char *const *kw;
	size_t nkw;
	bool recent;
};

static bool eval(const struct imap_search_key *k, const struct cand *c);

static bool eval_one(const struct imap_search_key *k, const struct cand *c)
{
	const struct rmail_msg *m = c->m;
	int32_t day = (int32_t)(m->internaldate >= 0 ? m->internaldate / 86400
				: (m->internaldate - 86399) / 86400);
	const struct imap_search_key *ch;
	uint32_t f = 0;
	size_t i;

	switch (k->type) {
	case IMAP_SKEY_AND:
		return eval(k->child, c);
	case IMAP_SKEY_OR:
		for (ch = k->child; ch != NULL; ch = ch->next)
			if (eval_one(ch, c))
				return true;
		return false;
	case IMAP_SKEY_NOT:
		return !eval_one(k->child, c);
	case IMAP_SKEY_ALL:
		return true;
	case IMAP_SKEY_FLAG:
		if (k->flag & IMAP_SFLAG_RECENT)
			return c->recent == (k->set != 0);
		if (k->flag & IMAP_SFLAG_ANSWERED)
			f = RMAIL_F_ANSWERED;
		else if (k->flag & IMAP_SFLAG_DELETED)
			f = RMAIL_F_DELETED;
		else if (k->flag & IMAP_SFLAG_DRAFT)
			f = RMAIL_F_DRAFT;
		else if (k->flag & IMAP_SFLAG_FLAGGED)
			f = RMAIL_F_FLAGGED;
		else if (k->flag & IMAP_SFLAG_SEEN)
			f = RMAIL_F_SEEN;
		return ((m->flags & f) != 0) == (k->set != 0);
	case IMAP_SKEY_KEYWORD:
		for (i = 0; i < c->nkw && i < 64; i++)
			if (strcasecmp(c->kw[i], k->str) == 0)
				return ((m->keywords >> i) & 1) ==
					(k->set != 0);
		return k->set == 0;
	case IMAP_SKEY_LARGER:
		return m->size > k->size;
	case IMAP_SKEY_SMALLER:
		return m->size < k->size;
	case IMAP_SKEY_BEFORE:
		return day < k->date;
	case IMAP_SKEY_ON:
		return day == k->date;
	case IMAP_SKEY_SINCE:
		return day >= k->date;
	case IMAP_SKEY_UID:
		return imap_seqset_contains(&k->seqset, m->uid) != 0;
	case IMAP_SKEY_SEQSET:
		return imap_seqset_contains(&k->seqset, c->seq) != 0;
	default:
		return false;
	}
}

/* a list of keys: all must match */
static bool eval(const struct imap_search_key *k, const struct cand *c)
{
	for (; k != NULL; k = k->next)
		if (!eval_one(k, c))
			return false;
	return true;
}

void imap_cmd_search(struct imap_session *s, const struct imap_cmd *cmd,
		     bool uid)
{
	const struct rmail_store_ops *ops = imap_store(NULL);
	struct imap_search_key *root;
	struct rmail_mbox *mb = s->tr->mb;
	const char *why = "Invalid search";
	char out[4096];
	size_t len = 0, j = 0;
	uint32_t k = 0, known, seq = 0, recent_from;
	struct cand c;
	int rc;

	rc = imap_search_parse(cmd->args, &s->arena,
			       (unsigned)IMAP_CONF->max_depth, &root, &why);
	if (rc == IMAP_SEARCH_BADCHARSET) {
		imap_tagged(s, cmd->tag, false,
			    "NO [BADCHARSET (US-ASCII UTF-8)] %s", why);
		return;
	}
	if (rc != IMAP_SEARCH_OK) {
		imap_tagged(s, cmd->tag, false, "BAD %s", why);
		return;
	}
	rc = prepare(s, root);
	if (rc == -2) {
		imap_tagged(s, cmd->tag, false, "BAD Search set too large");
		return;
	}
	if (rc < 0) {
		imap_tagged(s, cmd->tag, false, "NO [CANNOT] Text search "
			    "keys are not supported yet");
		return;
	}
	c.nkw = ops->mbox_keywords(mb, &c.kw);
	known = s->maxuid == 0 ? 0 : imap_view_lower(mb, s->maxuid + 1);
	recent_from = s->exists - s->recent;
	imap_write(s, "* SEARCH", 8);
	/* merge the view with the not yet announced expunges */
	while (k < known || j < s->gone.n) {
		const struct rmail_msg *m = k < known ?
			ops->mbox_msg(mb, k) : NULL;

		seq++;
		if (j < s->gone.n && (m == NULL || s->gone.v[j] < m->uid)) {
			j++;
			continue;
		}
		k++;
		c.m = m;
		c.seq = seq;
		c.recent = seq > recent_from;
		if (!eval(root, &c))
			continue;
		if (len + 12 > sizeof(out)) {
			imap_write(s, out, len);
			len = 0;
		}
		len += (size_t)snprintf(out + len, sizeof(out) - len, " %u",
					uid ? m->uid : seq);
	}
	imap_write(s, out, len);
	imap_write(s, "\r\n", 2);
	imap_tagged(s, cmd->tag, false, "OK SEARCH completed");
}
