/*
 * STORE and UID STORE: one rename per message (the store's flag CAS),
 * on the loop since a rename does not wait on the disk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_modseq.h"
#include "imap_session.h"

#define MAX_KW 64

/* one flag atom into flags/kw; -1 when invalid */
static int flag_atom(const struct imap_arg *a, uint32_t *flags, const char **kw,
		     size_t *nkw)
{
	static const struct {
		const char *n;
		uint32_t f;
	} sys[] = {
		{"\\Seen", RMAIL_F_SEEN},
		{"\\Answered", RMAIL_F_ANSWERED},
		{"\\Flagged", RMAIL_F_FLAGGED},
		{"\\Deleted", RMAIL_F_DELETED},
		{"\\Draft", RMAIL_F_DRAFT},
	};
	const char *f = a->str;
	size_t i;

	if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_NIL)
		return -1;
	if (f[0] == '\\') {
		for (i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
			if (strcasecmp(f, sys[i].n) == 0) {
				*flags |= sys[i].f;
				return 0;
			}
		return -1;
	}
	/* flag-keyword is any atom (RFC 3501 9), "NIL" included */
	if (*nkw >= MAX_KW || !imap_arg_is_atom(a))
		return -1;
	kw[(*nkw)++] = f;
	return 0;
}

/* a flag list "(\Seen foo)" or atoms; used by STORE and APPEND */
int imap_flag_parse(const struct imap_arg *a, uint32_t *flags, const char **kw,
		    size_t *nkw)
{
	const struct imap_arg *l;

	*flags = 0;
	*nkw = 0;
	if (a->type == IMAP_ARG_LIST) {
		for (l = a->list; l != NULL; l = l->next)
			if (flag_atom(l, flags, kw, nkw) < 0)
				return -1;
		return 0;
	}
	for (l = a; l != NULL; l = l->next)
		if (flag_atom(l, flags, kw, nkw) < 0)
			return -1;
	return 0;
}

void imap_cmd_store(struct imap_session *s, const struct imap_cmd *cmd,
		    bool uid)
{
	const struct rmail_store_ops *ops = imap_store(s->mod, NULL);
	const struct imap_arg *set = cmd->args, *item, *val;
	const char *kw[MAX_KW], *why, *name;
	struct rmail_err err;
	struct rmail_msg nm, *res;
	uint32_t flags, *uids = NULL;
	size_t nkw, n = 0, i, expunged = 0;
	int mode, failed = 0, full = 0, rc;
	bool silent, cond = false;
	uint64_t unchanged = 0;
	struct imap_buf mb = {0};
	struct imap_setw mw = {.out = &mb};

	item = set != NULL ? set->next : NULL;
	if (item != NULL && item->type == IMAP_ARG_LIST) {
		/* (UNCHANGEDSINCE n), RFC 7162 3.1.3 */
		if (!imap_condstore_supported(s->mod) ||
		    imap_store_mods_parse(item, &unchanged, &why) < 0) {
			imap_tagged(s, cmd->tag, false, "BAD %s",
				    imap_condstore_supported(s->mod)
					    ? why
					    : "Unknown STORE modifier");
			return;
		}
		cond = true;
		item = item->next;
	}
	val = item != NULL ? item->next : NULL;
	if (set == NULL || set->type != IMAP_ARG_ATOM || item == NULL ||
	    item->type != IMAP_ARG_ATOM || val == NULL) {
		imap_tagged(s, cmd->tag, false, "BAD STORE set item flags");
		return;
	}
	name = item->str;
	mode = RMAIL_FLAGS_SET;
	if (name[0] == '+' || name[0] == '-') {
		mode = name[0] == '+' ? RMAIL_FLAGS_ADD : RMAIL_FLAGS_REMOVE;
		name++;
	}
	if (strcasecmp(name, "FLAGS") == 0)
		silent = false;
	else if (strcasecmp(name, "FLAGS.SILENT") == 0)
		silent = true;
	else {
		imap_tagged(s, cmd->tag, false, "BAD Unknown STORE item");
		return;
	}
	if (imap_flag_parse(val, &flags, kw, &nkw) < 0) {
		imap_tagged(s, cmd->tag, false, "BAD Invalid flags");
		return;
	}
	if (s->readonly) {
		imap_tagged(s, cmd->tag, false,
			    "NO [READ-ONLY] Mailbox is read-only");
		return;
	}
	if (imap_set_uids(s, set->str, uid, &uids, &n, &why) < 0) {
		imap_tagged(s, cmd->tag, false, "BAD %s", why);
		return;
	}
	if (cond)
		imap_condstore_enable(s);
	res = malloc((n + 1) * sizeof(*res));
	if (res == NULL)
		abort();
	for (i = 0; i < n; i++) {
		const struct rmail_msg *m = imap_view_msg(s, uids[i]);
		struct rmail_msg before;

		res[i].uid = 0;
		if (m == NULL) {
			/* expunged elsewhere: a no-op (RFC 2180 4.2.1) */
			expunged++;
			continue;
		}
		before = *m;
		if (cond && imap_msg_modseq(m) > unchanged) {
			imap_setw_add(
				&mw,
				uid ? uids[i] : imap_uid_to_seq(s, uids[i]),
				uid ? uids[i] : imap_uid_to_seq(s, uids[i]));
			continue;
		}
		rc = cond ? ops->msg_flags_unchanged(s->tr->mb, uids[i],
						     unchanged, mode, flags, kw,
						     nkw, &nm, &err)
			  : ops->msg_flags(s->tr->mb, uids[i], mode, flags, kw,
					   nkw, &nm, &err);
		if (rc < 0 && cond && err.code == RMAIL_E_MODIFIED) {
			/* changed underneath since the view saw it */
			imap_setw_add(
				&mw,
				uid ? uids[i] : imap_uid_to_seq(s, uids[i]),
				uid ? uids[i] : imap_uid_to_seq(s, uids[i]));
			continue;
		}
		if (rc < 0) {
			failed++;
			if (err.code == RMAIL_E_TOOBIG && !full++)
				imap_printf(s,
					    "* OK [PERMANENTFLAGS %s] "
					    "Keyword table full\r\n",
					    IMAP_PERMFLAGS_FULL);
			continue;
		}
		imap_view_selfchg(s, uids[i], &before, &nm);
		res[i] = nm;
		res[i].uid = uids[i];
		if (before.modseq > res[i].modseq)
			res[i].modseq = before.modseq; /* no change made */
	}
	imap_setw_end(&mw);
	/* a new keyword is announced before any FETCH shows it */
	imap_view_keywords(s);
	/* .SILENT still tells a CONDSTORE client the new modseqs */
	for (i = 0; i < n && (!silent || s->condstore); i++) {
		if (res[i].uid == 0)
			continue;
		imap_printf(s, "* %u FETCH (", imap_uid_to_seq(s, uids[i]));
		if (silent) {
			imap_printf(s, "UID %u", uids[i]);
			imap_write_modseq(s, &res[i]);
			imap_write(s, ")\r\n", 3);
			continue;
		}
		imap_write_flags(s, &res[i]);
		if (uid || s->condstore)
			imap_printf(s, " UID %u", uids[i]);
		if (s->condstore)
			imap_write_modseq(s, &res[i]);
		imap_write(s, ")\r\n", 3);
		/* told now: an older change of another session is in it */
		imap_uids_del(&s->flagchg, uids[i]);
	}
	free(uids);
	free(res);
	if (mb.len > 0 && full == 0 && failed == 0)
		imap_tagged(s, cmd->tag, false,
			    "OK [MODIFIED %.*s] Conditional STORE failed",
			    (int)mb.len, mb.p);
	else if (full > 0)
		imap_tagged(s, cmd->tag, false, "NO [LIMIT] %s", err.msg);
	else if (failed > 0)
		imap_tagged(s, cmd->tag, false,
			    "NO Some flags could not be "
			    "changed (messages expunged?)");
	else if (expunged > 0)
		imap_tagged(s, cmd->tag, false,
			    "OK [EXPUNGEISSUED] Some messages were expunged");
	else
		imap_tagged(s, cmd->tag, false, "OK STORE completed");
	imap_buf_free(&mb);
}
