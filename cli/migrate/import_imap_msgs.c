/*
 * rmail import imap, the messages of one folder (import_imap.h): the
 * source's metadata, the copy of new messages in FETCH batches (each
 * appended as it arrives, one in memory at a time), and the cut-over
 * pass (flags, --delete).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd_store.h"
#include "imap_resp.h"
#include "import_imap.h"
#include "maildir.h"

/* ---- source messages ----------------------------------------------- */

bool rm_ii_is_word(const struct rm_imr_resp *r, const char *w)
{
	return r->wordlen == strlen(w) &&
	       strncasecmp(r->word, w, r->wordlen) == 0;
}

static const struct {
	const char *name;
	uint32_t flag;
} sysflags[] = {
	{"\\Seen", RMAIL_F_SEEN},	{"\\Answered", RMAIL_F_ANSWERED},
	{"\\Flagged", RMAIL_F_FLAGGED}, {"\\Deleted", RMAIL_F_DELETED},
	{"\\Draft", RMAIL_F_DRAFT},
};

/* FLAGS (...) to system flags and a malloc'd keyword list */
static uint32_t flags_of(const struct rm_imv *l, char **kws_r)
{
	uint32_t flags = 0;
	size_t len = 0;
	char *kws = NULL;

	*kws_r = NULL;
	if (l == NULL || l->type != RM_IMV_LIST)
		return 0;
	for (const struct rm_imv *v = l->child; v != NULL; v = v->next) {
		size_t i;

		if (v->type != RM_IMV_ATOM || v->len == 0 ||
		    v->len > RM_MD_KEYWORD_MAX)
			continue;
		if (v->s[0] == '\\') {
			for (i = 0; i < sizeof(sysflags) / sizeof(sysflags[0]);
			     i++)
				if (rm_imv_is(v, sysflags[i].name))
					flags |= sysflags[i].flag;
			continue; /* \Recent and others are not ours */
		}
		kws = rm_xrealloc(kws, len + v->len + 2);
		if (len > 0)
			kws[len++] = ' ';
		memcpy(kws + len, v->s, v->len);
		len += v->len;
		kws[len] = '\0';
	}
	*kws_r = kws;
	return flags;
}

/* split a keyword list into an array of at most max names (in place) */
static size_t kw_split(char *kws, const char **out, size_t max)
{
	size_t n = 0;
	char *save = NULL, *t;

	if (kws == NULL)
		return 0;
	for (t = strtok_r(kws, " ", &save); t != NULL && n < max;
	     t = strtok_r(NULL, " ", &save))
		out[n++] = t;
	return n;
}

int rm_ii_select_cb(void *arg, struct rm_imc *c, const struct rm_imr_resp *r)
{
	struct ii *im = arg;

	(void)c;
	if (r->status && r->code != NULL && r->codelen == 11 &&
	    strncasecmp(r->code, "UIDVALIDITY", 11) == 0) {
		char tmp[16];
		size_t n = r->code_arglen < 15 ? r->code_arglen : 15;

		memcpy(tmp, r->code_arg, n);
		tmp[n] = '\0';
		im->uidvalidity = (uint32_t)strtoul(tmp, NULL, 10);
	}
	if (r->has_num && rm_ii_is_word(r, "EXISTS"))
		im->exists = r->num;
	return 0;
}

int rm_ii_meta_cb(void *arg, struct rm_imc *c, const struct rm_imr_resp *r)
{
	struct ii *im = arg;
	const struct rm_imv *l = r->vals, *hdr;
	struct smsg *m;
	uint32_t uid;

	if (!r->has_num || !rm_ii_is_word(r, "FETCH"))
		return 0;
	if (r->malformed || l == NULL || l->type != RM_IMV_LIST ||
	    rm_imv_u32(rm_imv_get(l->child, "UID"), &uid) < 0 || uid == 0) {
		snprintf(c->err, sizeof(c->err),
			 "the server sent a malformed FETCH response");
		return -1;
	}
	/* new mail may arrive meanwhile, but not without end */
	if (im->nmsgs >= (size_t)im->exists + 100000) {
		snprintf(c->err, sizeof(c->err),
			 "the server sent more FETCH responses than it has "
			 "messages");
		return -1;
	}
	if (im->nmsgs == im->capmsgs) {
		im->capmsgs = im->capmsgs != 0 ? im->capmsgs * 2 : 1024;
		im->msgs = rm_xrealloc(im->msgs, im->capmsgs * sizeof(*m));
	}
	m = &im->msgs[im->nmsgs++];
	memset(m, 0, sizeof(*m));
	m->uid = uid;
	m->flags = flags_of(rm_imv_get(l->child, "FLAGS"), &m->kws);
	(void)rm_imv_u64(rm_imv_get(l->child, "RFC822.SIZE"), &m->size);
	hdr = rm_imv_get(l->child, "BODY[HEADER.FIELDS (MESSAGE-ID)]");
	if (hdr != NULL && hdr->type == RM_IMV_STRING)
		rm_imap_msgid(hdr->s, hdr->len, m->msgid, sizeof(m->msgid));
	return 0;
}

int rm_ii_cmp_smsg(const void *a, const void *b)
{
	const struct smsg *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

struct smsg *rm_ii_smsg_find(struct ii *im, uint32_t uid)
{
	struct smsg key = {.uid = uid};

	if (im->nmsgs == 0)
		return NULL;
	return bsearch(&key, im->msgs, im->nmsgs, sizeof(key), rm_ii_cmp_smsg);
}

void rm_ii_msgs_clear(struct ii *im)
{
	for (size_t i = 0; i < im->nmsgs; i++)
		free(im->msgs[i].kws);
	im->nmsgs = 0;
}

/* ---- copying ------------------------------------------------------- */

static int append_msg(struct ii *im, struct smsg *m, const struct rm_imv *body,
		      int64_t date, uint32_t want, uint32_t *uid_r,
		      struct rmail_err *err)
{
	const char *kw[RMAIL_KEYWORD_MAX];
	struct rmail_append_opts o;
	struct rmail_append *ap = NULL;
	char *kws = m->kws != NULL ? rm_xstrdup(m->kws) : NULL;
	int rc = -1;

	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.flags = m->flags;
	o.keywords = kw;
	o.nkeywords = kw_split(kws, kw, RMAIL_KEYWORD_MAX);
	o.internaldate = date > 0 ? date : 1;
	o.size_hint = body->len;
	o.ignore_quota = 1;
	o.nosync = im->ops->mbox_sync != NULL;
	o.uid = want;
	if (im->ops->append_begin(im->h, im->user, im->mbox, &o, &ap, err) ==
		    0 &&
	    im->ops->append_write(ap, body->s, body->len, err) == 0 &&
	    im->ops->append_commit(ap, uid_r, NULL, err) == 0)
		rc = 0;
	if (ap != NULL)
		im->ops->append_free(&ap);
	free(kws);
	return rc;
}

/* the durable batch, then its state lines */
static int rm_ii_flush(struct ii *im)
{
	struct rmail_err err;

	if (im->pending == 0)
		return 0;
	rmail_err_clear(&err);
	if (im->ops->mbox_sync != NULL &&
	    im->ops->mbox_sync(im->h, im->user, im->mbox, &err) < 0) {
		rm_ii_report(im, "%s: %s", im->mbox, err.msg);
		return -1;
	}
	if (rm_iss_flush(im->st) < 0) {
		rm_ii_report(im, "cannot write the import state %s: %s",
			     im->st->path, strerror(errno));
		return -1;
	}
	im->pending = 0;
	return 0;
}

static int body_cb(void *arg, struct rm_imc *c, const struct rm_imr_resp *r)
{
	struct ii *im = arg;
	const struct rm_imv *l = r->vals, *body, *date;
	struct rmail_err err;
	struct smsg *m;
	int64_t t = 0;
	uint32_t uid, got = 0, want = 0;

	if (!r->has_num || !rm_ii_is_word(r, "FETCH"))
		return 0;
	if (r->malformed || l == NULL || l->type != RM_IMV_LIST ||
	    rm_imv_u32(rm_imv_get(l->child, "UID"), &uid) < 0) {
		snprintf(c->err, sizeof(c->err),
			 "the server sent a malformed FETCH response");
		return -1;
	}
	body = rm_imv_get(l->child, "BODY[]");
	m = rm_ii_smsg_find(im, uid);
	/* a flag change pushed by the server, or a message we did not
	 * ask for */
	if (body == NULL || m == NULL || m->dst != 0)
		return 0;
	if (body->type != RM_IMV_STRING) {
		rm_ii_report(im, "%s: UID %u: the server sent no message",
			     im->mbox, uid);
		im->failed++;
		return 0;
	}
	date = rm_imv_get(l->child, "INTERNALDATE");
	if (date == NULL || date->type != RM_IMV_STRING ||
	    rm_imap_date_parse(date->s, date->len, &t) < 0)
		t = 0;
	if (rm_imv_get(l->child, "FLAGS") != NULL) {
		free(m->kws);
		m->flags = flags_of(rm_imv_get(l->child, "FLAGS"), &m->kws);
	}
	if (im->keep && uid >= im->uidnext)
		want = uid;
	rmail_err_clear(&err);
	if (append_msg(im, m, body, t, want, &got, &err) < 0 && want != 0 &&
	    err.code == RMAIL_E_EXISTS) {
		/* someone appended meanwhile: a UID of ours then */
		rmail_err_clear(&err);
		want = 0;
		if (append_msg(im, m, body, t, 0, &got, &err) < 0)
			got = 0;
	} else if (err.code != 0) {
		got = 0;
	}
	if (got == 0) {
		rm_ii_report(im, "%s: UID %u: %s", im->mbox, uid, err.msg);
		im->failed++;
		return 0;
	}
	if (got >= im->uidnext)
		im->uidnext = got + 1;
	m->dst = got;
	rm_iss_add(im->st, uid, got, m->size, m->msgid);
	im->copied++;
	if (++im->pending >= SYNC_EVERY && rm_ii_flush(im) < 0)
		return -1;
	return 0;
}

/* "a:b,c" of the UIDs in v (ascending), as many as fit in len */
static size_t uid_set(const uint32_t *v, size_t n, char *out, size_t outsz)
{
	size_t i = 0, o = 0;

	out[0] = '\0';
	while (i < n) {
		size_t j = i;
		char item[32];
		int k;

		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		k = j > i ? snprintf(item, sizeof(item), "%s%u:%u",
				     o > 0 ? "," : "", v[i], v[j])
			  : snprintf(item, sizeof(item), "%s%u",
				     o > 0 ? "," : "", v[i]);
		if (o + (size_t)k + 1 > outsz)
			break;
		memcpy(out + o, item, (size_t)k + 1);
		o += (size_t)k;
		i = j + 1;
	}
	return i;
}

int rm_ii_copy_new(struct ii *im, const uint32_t *todo, size_t n)
{
	char set[2048];
	size_t i = 0, done = 0;
	int rc = 0;

	while (i < n && !rm_ii_stop) {
		size_t k = 0, take;
		uint64_t bytes = 0;

		/* a batch: by count and by announced bytes */
		while (i + k < n && k < BATCH_MSGS) {
			uint64_t sz = rm_ii_smsg_find(im, todo[i + k])->size;

			if (k > 0 && bytes + sz > BATCH_BYTES)
				break;
			bytes += sz;
			k++;
		}
		take = uid_set(todo + i, k, set, sizeof(set));
		if (rm_imc_cmd(&im->c, body_cb, im,
			       "UID FETCH %s (UID FLAGS INTERNALDATE "
			       "BODY.PEEK[])",
			       set) < 0) {
			rm_ii_report(im, "%s: %s", im->mbox, im->c.err);
			rc = -1;
			break;
		}
		i += take;
		done += take;
		rm_ii_progress(im, done, n, false);
	}
	/* what was copied before an error is recorded all the same */
	if (rm_ii_flush(im) < 0)
		rc = -1;
	return rc;
}

/* ---- the cut-over pass --------------------------------------------- */

static bool same_flags(struct ii *im, const struct smsg *s,
		       const struct rmail_msg *d)
{
	const char *const *names;
	const char *kw[RMAIL_KEYWORD_MAX];
	char *kws = s->kws != NULL ? rm_xstrdup(s->kws) : NULL;
	size_t nk = im->ops->mbox_keywords(im->view, &names), n, have = 0;
	bool same = (d->flags & 0x1f) == s->flags;

	n = kw_split(kws, kw, RMAIL_KEYWORD_MAX);
	for (size_t i = 0; i < nk && i < 64; i++)
		if (d->keywords & (1ull << i))
			have++;
	if (have != n)
		same = false;
	for (size_t j = 0; same && j < n; j++) {
		bool found = false;

		for (size_t i = 0; i < nk && i < 64 && !found; i++)
			found = (d->keywords & (1ull << i)) &&
				strcasecmp(names[i], kw[j]) == 0;
		same = found;
	}
	free(kws);
	return same;
}

void rm_ii_update_flags(struct ii *im)
{
	struct rmail_err err;

	for (size_t i = 0; i < im->nmsgs; i++) {
		struct smsg *s = &im->msgs[i];
		const struct rmail_msg *d;
		const char *kw[RMAIL_KEYWORD_MAX];
		struct rmail_msg now;
		char *kws;
		int64_t idx;
		size_t n;

		if (s->dst == 0)
			continue;
		idx = im->ops->mbox_find(im->view, s->dst);
		if (idx < 0)
			continue; /* expunged here: left so */
		d = im->ops->mbox_msg(im->view, (uint32_t)idx);
		if (same_flags(im, s, d))
			continue;
		if (im->dry) {
			im->updated++;
			continue;
		}
		kws = s->kws != NULL ? rm_xstrdup(s->kws) : NULL;
		n = kw_split(kws, kw, RMAIL_KEYWORD_MAX);
		rmail_err_clear(&err);
		if (im->ops->msg_flags(im->view, s->dst, RMAIL_FLAGS_SET,
				       s->flags, kw, n, &now, &err) < 0) {
			rm_ii_report(im, "%s: flags of UID %u: %s", im->mbox,
				     s->dst, err.msg);
			im->failed++;
		} else {
			im->updated++;
		}
		free(kws);
	}
}

/* entries whose source message is gone: expunged here with --delete */
bool rm_ii_prune(struct ii *im)
{
	struct rmail_err err;
	uint32_t *del = NULL;
	size_t nd = 0, keep = 0;

	for (size_t i = 0; i < im->st->n; i++) {
		struct rm_iss_ent *e = &im->st->v[i];

		if (rm_ii_smsg_find(im, e->src) != NULL) {
			im->st->v[keep++] = *e;
			continue;
		}
		if (!im->del) {
			im->gone++;
			im->st->v[keep++] = *e;
			continue;
		}
		if (im->view != NULL &&
		    im->ops->mbox_find(im->view, e->dst) >= 0) {
			del = rm_xrealloc(del, (nd + 1) * sizeof(*del));
			del[nd++] = e->dst;
		}
		free(e->msgid);
	}
	if (keep == im->st->n) {
		free(del);
		return false;
	}
	im->st->n = keep;
	if (nd > 0 && !im->dry) {
		rmail_err_clear(&err);
		if (im->ops->msg_expunge(im->view, del, nd, &err) < 0) {
			rm_ii_report(im, "%s: expunge: %s", im->mbox, err.msg);
			im->failed += nd;
			nd = 0;
		}
	}
	im->deleted += nd;
	free(del);
	return true;
}
