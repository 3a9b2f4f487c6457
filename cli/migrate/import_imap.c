/*
 * rmail import imap: every folder of a user on any IMAP server into a
 * local user's mailboxes through the store ops, with flags, keywords,
 * internal dates and subscriptions.  The source is only read (EXAMINE,
 * BODY.PEEK).  Per source mailbox a state file (imap_state.h) maps the
 * source's UIDs to ours, so a re-run copies only what is new, brings
 * the flags of what was copied up to date (the cut-over pass) and, with
 * --delete, expunges here what the source no longer has.  Into an empty
 * mailbox the source's UIDVALIDITY and UIDs are kept (ABI 1.3), so
 * clients keep their caches across the switch.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cmd_store.h"
#include "imap_conn.h"
#include "imap_state.h"
#include "import_sub.h"
#include "maildir.h"

#define CMD "import imap"
#define USAGE                                                                  \
	"imap --host H [--port P] [--tls|--starttls] [--ca FILE] "             \
	"[--insecure] --user U --password-file F [--folder NAME]... "          \
	"[--delete] [--dry-run] [--max-message-size MB] ADDRESS"
#define BATCH_MSGS 100
#define SYNC_EVERY 1000 /* appends per mbox_sync, as rmail import maildir */
#define BATCH_BYTES (32u * 1024 * 1024)
#define MSGID_MAX 200
#define FOLDERS_MAX 100000

struct smsg {
	uint32_t uid;
	uint32_t flags;
	char *kws; /* keywords, space separated, or NULL */
	uint64_t size;
	char msgid[MSGID_MAX + 1];
	uint32_t dst; /* our UID once mapped */
};

struct folder {
	char *wire; /* the name on the wire, modified UTF-7 */
	char *mbox; /* ours, UTF-8 with '/' */
};

struct ii {
	const struct rmail_store_ops *ops;
	void *h;
	struct rm_imc c;
	char user[RMAIL_ADDR_MAX + 1];
	char *state_dir;
	const char *host;
	bool dry, del, tty;
	uint64_t max_size;
	/* the folder being imported */
	struct smsg *msgs;
	size_t nmsgs, capmsgs;
	uint32_t uidvalidity, exists;
	/* while fetching */
	struct rmail_mbox *view;
	struct rm_iss *st;
	const char *mbox;
	bool keep;
	uint32_t uidnext;
	size_t pending;
	/* counters */
	size_t copied, present, updated, deleted, gone, failed, skipped;
	size_t folder_no, nfolders;
	time_t last_progress;
	struct folder *folders;
	size_t nf, capf;
	char **subs;
	size_t nsubs;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void report(struct ii *im, const char *fmt, ...) RMAIL_PRINTF(2, 3);
static void report(struct ii *im, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (im->tty)
		fputs("\r\033[K", stderr);
	rm_cmd_failf(CMD, "%s", buf);
}

static void progress(struct ii *im, size_t done, size_t total, bool force)
{
	time_t now;

	if (!im->tty)
		return;
	now = time(NULL);
	if (!force && now == im->last_progress)
		return;
	im->last_progress = now;
	fprintf(stderr, "\r\033[K[%zu/%zu] %.50s: %zu/%zu", im->folder_no,
		im->nfolders, im->mbox != NULL ? im->mbox : "", done, total);
	fflush(stderr);
}

/* ---- folder names -------------------------------------------------- */

/* "A<d>B" in modified UTF-7 to "A/B" in UTF-8; NULL when a level does
 * not decode or holds our delimiter */
static char *name_decode(const char *wire, size_t len, char delim)
{
	char out[RMAIL_MBOX_NAME_MAX + 1], *w;
	int rc;

	if (len == 5 && strncasecmp(wire, "INBOX", 5) == 0)
		return rm_xstrdup("INBOX");
	w = rm_md_xstrndup(wire, len);
	rc = strlen(w) == len ? rm_md_name_decode(w, delim, out, sizeof(out))
			      : -1;
	free(w);
	if (rc < 0)
		return NULL;
	/* INBOX's children keep INBOX's one spelling */
	if (strncasecmp(out, "INBOX/", 6) == 0)
		memcpy(out, "INBOX", 5);
	return rm_xstrdup(out);
}

static char delim_of(const struct rm_imv *d)
{
	return d != NULL && d->type == RM_IMV_STRING && d->len == 1 ? d->s[0]
								    : '\0';
}

static bool has_attr(const struct rm_imv *attrs, const char *a)
{
	const struct rm_imv *v;

	if (attrs == NULL || attrs->type != RM_IMV_LIST)
		return false;
	for (v = attrs->child; v != NULL; v = v->next)
		if (rm_imv_is(v, a))
			return true;
	return false;
}

static bool is_word(const struct rm_imr_resp *r, const char *w)
{
	return r->wordlen == strlen(w) &&
	       strncasecmp(r->word, w, r->wordlen) == 0;
}

static int list_cb(void *arg, struct rm_imc *c, const struct rm_imr_resp *r)
{
	struct ii *im = arg;
	const struct rm_imv *attrs = r->vals, *d, *name;
	bool lsub = is_word(r, "LSUB");
	char *mbox;

	if (!is_word(r, "LIST") && !lsub)
		return 0;
	d = attrs != NULL ? attrs->next : NULL;
	name = d != NULL ? d->next : NULL;
	if (r->malformed || name == NULL ||
	    (name->type != RM_IMV_STRING && name->type != RM_IMV_ATOM)) {
		snprintf(c->err, sizeof(c->err),
			 "the server sent a malformed %s response",
			 lsub ? "LSUB" : "LIST");
		return -1;
	}
	mbox = name_decode(name->s, name->len, delim_of(d));
	if (mbox == NULL) {
		report(im,
		       "skipping folder \"%.*s\": its name does not "
		       "decode (modified UTF-7) or has a '/'",
		       (int)(name->len > 200 ? 200 : name->len), name->s);
		im->failed++;
		return 0;
	}
	if ((lsub || has_attr(attrs, "\\Subscribed")) &&
	    im->nsubs < FOLDERS_MAX) {
		im->subs = rm_xrealloc(im->subs,
				       (im->nsubs + 1) * sizeof(*im->subs));
		im->subs[im->nsubs++] = rm_xstrdup(mbox);
	}
	if (lsub || has_attr(attrs, "\\Noselect") ||
	    has_attr(attrs, "\\NonExistent") || im->nf >= FOLDERS_MAX) {
		free(mbox);
		return 0;
	}
	if (im->nf == im->capf) {
		im->capf = im->capf != 0 ? im->capf * 2 : 32;
		im->folders = rm_xrealloc(im->folders,
					  im->capf * sizeof(*im->folders));
	}
	im->folders[im->nf].wire = rm_md_xstrndup(name->s, name->len);
	im->folders[im->nf].mbox = mbox;
	im->nf++;
	return 0;
}

static int cmp_folder(const void *a, const void *b)
{
	const struct folder *x = a, *y = b;
	bool xi = strcmp(x->mbox, "INBOX") == 0,
	     yi = strcmp(y->mbox, "INBOX") == 0;

	if (xi != yi)
		return xi ? -1 : 1;
	return strcmp(x->mbox, y->mbox);
}

/* ---- source messages ----------------------------------------------- */

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

static int select_cb(void *arg, struct rm_imc *c, const struct rm_imr_resp *r)
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
	if (r->has_num && is_word(r, "EXISTS"))
		im->exists = r->num;
	return 0;
}

static int meta_cb(void *arg, struct rm_imc *c, const struct rm_imr_resp *r)
{
	struct ii *im = arg;
	const struct rm_imv *l = r->vals, *hdr;
	struct smsg *m;
	uint32_t uid;

	if (!r->has_num || !is_word(r, "FETCH"))
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

static int cmp_smsg(const void *a, const void *b)
{
	const struct smsg *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static struct smsg *smsg_find(struct ii *im, uint32_t uid)
{
	struct smsg key = {.uid = uid};

	if (im->nmsgs == 0)
		return NULL;
	return bsearch(&key, im->msgs, im->nmsgs, sizeof(key), cmp_smsg);
}

static void msgs_clear(struct ii *im)
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
static int flush(struct ii *im)
{
	struct rmail_err err;

	if (im->pending == 0)
		return 0;
	rmail_err_clear(&err);
	if (im->ops->mbox_sync != NULL &&
	    im->ops->mbox_sync(im->h, im->user, im->mbox, &err) < 0) {
		report(im, "%s: %s", im->mbox, err.msg);
		return -1;
	}
	if (rm_iss_flush(im->st) < 0) {
		report(im, "cannot write the import state %s: %s", im->st->path,
		       strerror(errno));
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

	if (!r->has_num || !is_word(r, "FETCH"))
		return 0;
	if (r->malformed || l == NULL || l->type != RM_IMV_LIST ||
	    rm_imv_u32(rm_imv_get(l->child, "UID"), &uid) < 0) {
		snprintf(c->err, sizeof(c->err),
			 "the server sent a malformed FETCH response");
		return -1;
	}
	body = rm_imv_get(l->child, "BODY[]");
	m = smsg_find(im, uid);
	/* a flag change pushed by the server, or a message we did not
	 * ask for */
	if (body == NULL || m == NULL || m->dst != 0)
		return 0;
	if (body->type != RM_IMV_STRING) {
		report(im, "%s: UID %u: the server sent no message", im->mbox,
		       uid);
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
		report(im, "%s: UID %u: %s", im->mbox, uid, err.msg);
		im->failed++;
		return 0;
	}
	if (got >= im->uidnext)
		im->uidnext = got + 1;
	m->dst = got;
	rm_iss_add(im->st, uid, got, m->size, m->msgid);
	im->copied++;
	if (++im->pending >= SYNC_EVERY && flush(im) < 0)
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

static int copy_new(struct ii *im, const uint32_t *todo, size_t n)
{
	char set[2048];
	size_t i = 0, done = 0;
	int rc = 0;

	while (i < n && !stop_requested) {
		size_t k = 0, take;
		uint64_t bytes = 0;

		/* a batch: by count and by announced bytes */
		while (i + k < n && k < BATCH_MSGS) {
			uint64_t sz = smsg_find(im, todo[i + k])->size;

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
			report(im, "%s: %s", im->mbox, im->c.err);
			rc = -1;
			break;
		}
		i += take;
		done += take;
		progress(im, done, n, false);
	}
	/* what was copied before an error is recorded all the same */
	if (flush(im) < 0)
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

static void update_flags(struct ii *im)
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
			report(im, "%s: flags of UID %u: %s", im->mbox, s->dst,
			       err.msg);
			im->failed++;
		} else {
			im->updated++;
		}
		free(kws);
	}
}

/* entries whose source message is gone: expunged here with --delete */
static bool prune(struct ii *im)
{
	struct rmail_err err;
	uint32_t *del = NULL;
	size_t nd = 0, keep = 0;

	for (size_t i = 0; i < im->st->n; i++) {
		struct rm_iss_ent *e = &im->st->v[i];

		if (smsg_find(im, e->src) != NULL) {
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
			report(im, "%s: expunge: %s", im->mbox, err.msg);
			im->failed += nd;
			nd = 0;
		}
	}
	im->deleted += nd;
	free(del);
	return true;
}

/* ---- one folder ---------------------------------------------------- */

/* the source's UIDVALIDITY changed (or it has none): match the state's
 * entries to the source's messages by Message-ID and size */
static void remap(struct ii *im)
{
	struct rm_iss *st = im->st;
	size_t keep = 0;

	for (size_t i = 0; i < st->n; i++) {
		struct rm_iss_ent *e = &st->v[i];
		struct smsg *hit = NULL;

		for (size_t j = 0; e->msgid[0] != '\0' && j < im->nmsgs; j++) {
			struct smsg *m = &im->msgs[j];

			if (m->dst == 0 && m->size == e->size &&
			    strcmp(m->msgid, e->msgid) == 0) {
				hit = m;
				break;
			}
		}
		if (hit == NULL) {
			free(e->msgid);
			continue;
		}
		hit->dst = e->dst;
		e->src = hit->uid;
		st->v[keep++] = *e;
	}
	st->n = keep;
	st->sorted = false;
	st->uidvalidity = im->uidvalidity;
}

static int open_dest(struct ii *im, struct rmail_mbox_status *ds)
{
	struct rmail_err err;
	bool can_keep = RMAIL_HAS(im->ops, struct rmail_store_ops,
				  mbox_set_uidvalidity) &&
			im->ops->mbox_set_uidvalidity != NULL &&
			im->uidvalidity != 0;

	rmail_err_clear(&err);
	if (strcmp(im->mbox, "INBOX") != 0 &&
	    im->ops->mbox_create(im->h, im->user, im->mbox, RMAIL_SU_NONE,
				 &err) < 0 &&
	    err.code != RMAIL_E_EXISTS) {
		report(im, "mailbox \"%s\": %s", im->mbox, err.msg);
		return -1;
	}
	memset(ds, 0, sizeof(*ds));
	ds->size = sizeof(*ds);
	rmail_err_clear(&err);
	if (im->ops->mbox_status(im->h, im->user, im->mbox, ds, &err) < 0) {
		report(im, "mailbox \"%s\": %s", im->mbox, err.msg);
		return -1;
	}
	im->keep = false;
	if (can_keep && ds->messages == 0 && im->st->n == 0 &&
	    ds->uidvalidity != im->uidvalidity &&
	    im->ops->mbox_set_uidvalidity(im->h, im->user, im->mbox,
					  im->uidvalidity, &err) == 0) {
		ds->uidvalidity = im->uidvalidity;
		ds->uidnext = 1;
	}
	im->keep = can_keep && ds->uidvalidity == im->uidvalidity;
	im->uidnext = ds->uidnext;
	rmail_err_clear(&err);
	if (im->ops->mbox_open(im->h, im->user, im->mbox, &im->view, &err) <
	    0) {
		report(im, "mailbox \"%s\": %s", im->mbox, err.msg);
		return -1;
	}
	return 0;
}

static int do_folder(struct ii *im, const struct folder *f)
{
	struct rm_iss st;
	struct rmail_mbox_status ds;
	struct rmail_err err;
	char q[RMAIL_MBOX_NAME_MAX * 2 + 3];
	uint32_t *todo = NULL;
	size_t ntodo = 0;
	bool dirty = false;
	int rc = 0;

	im->mbox = f->mbox;
	im->uidvalidity = im->exists = 0;
	msgs_clear(im);
	if (rm_imc_quote(f->wire, q, sizeof(q)) < 0 ||
	    rm_iss_load(&st, im->state_dir, f->mbox) < 0) {
		report(im, "skipping folder \"%s\": name too long", f->mbox);
		im->failed++;
		return 0;
	}
	im->st = &st;
	if (rm_imc_cmd(&im->c, select_cb, im, "EXAMINE %s", q) < 0) {
		report(im, "%s: %s", f->mbox, im->c.err);
		im->failed++;
		rc = im->c.broken ? -1 : 0;
		goto out;
	}
	if (im->exists > 0 &&
	    rm_imc_cmd(&im->c, meta_cb, im,
		       "UID FETCH 1:* (UID FLAGS RFC822.SIZE "
		       "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])") < 0) {
		report(im, "%s: %s", f->mbox, im->c.err);
		im->failed++;
		rc = im->c.broken ? -1 : 0;
		goto out;
	}
	if (im->nmsgs > 0)
		qsort(im->msgs, im->nmsgs, sizeof(*im->msgs), cmp_smsg);
	/* map what an earlier run copied */
	if (st.n > 0 &&
	    (st.uidvalidity != im->uidvalidity || im->uidvalidity == 0)) {
		remap(im);
		dirty = true;
	} else {
		/* a new file, or one left empty: its header is rewritten
		 * before lines are appended to it */
		if (st.uidvalidity != im->uidvalidity) {
			st.uidvalidity = im->uidvalidity;
			dirty = true;
		}
		for (size_t i = 0; i < im->nmsgs; i++) {
			struct rm_iss_ent *e =
				rm_iss_find(&st, im->msgs[i].uid);

			if (e != NULL)
				im->msgs[i].dst = e->dst;
		}
	}
	if (!im->dry) {
		if (open_dest(im, &ds) < 0) {
			im->failed += im->nmsgs;
			goto out;
		}
	} else {
		rmail_err_clear(&err);
		if (im->ops->mbox_open(im->h, im->user, im->mbox, &im->view,
				       &err) < 0)
			im->view = NULL;
	}
	for (size_t i = 0; i < im->nmsgs; i++) {
		struct smsg *m = &im->msgs[i];

		if (m->dst != 0) {
			im->present++;
			continue;
		}
		/* copied by a run that stopped before recording it: with
		 * kept UIDs it is at the source's UID */
		if (im->keep && im->view != NULL &&
		    im->ops->mbox_find(im->view, m->uid) >= 0) {
			m->dst = m->uid;
			rm_iss_add(&st, m->uid, m->uid, m->size, m->msgid);
			dirty = true;
			im->present++;
			continue;
		}
		if (im->max_size != 0 && m->size > im->max_size) {
			report(im,
			       "%s: UID %u: %llu bytes, over "
			       "--max-message-size: not copied",
			       f->mbox, m->uid, (unsigned long long)m->size);
			im->skipped++;
			continue;
		}
		todo = rm_xrealloc(todo, (ntodo + 1) * sizeof(*todo));
		todo[ntodo++] = m->uid;
	}
	/* a remapped state is written before the batches append to it:
	 * their lines must not follow the old UIDVALIDITY */
	if (dirty && !im->dry) {
		if (rm_iss_save(&st) < 0) {
			report(im, "cannot write the import state %s: %s",
			       st.path, strerror(errno));
			rc = -1;
			goto out;
		}
		dirty = false;
	}
	if (im->dry) {
		im->copied += ntodo;
	} else if (ntodo > 0 && copy_new(im, todo, ntodo) < 0) {
		rc = -1;
		goto out;
	}
	if (im->view != NULL) {
		rmail_err_clear(&err);
		(void)im->ops->mbox_refresh(im->view, &err);
		update_flags(im);
	}
	if (prune(im))
		dirty = true;
	if (dirty && !im->dry && rm_iss_save(&st) < 0) {
		report(im, "cannot write the import state %s: %s", st.path,
		       strerror(errno));
		rc = -1;
	}
out:
	if (im->view != NULL)
		im->ops->mbox_close(&im->view);
	free(todo);
	rm_iss_free(&st);
	im->st = NULL;
	return rc;
}

/* ---- the command --------------------------------------------------- */

static char *read_password(const char *path)
{
	size_t len;
	char *text = rm_import_read(path, &len), *nl;

	if (text == NULL)
		return NULL;
	nl = strpbrk(text, "\r\n");
	if (nl != NULL)
		*nl = '\0';
	return text;
}

static bool wanted(const char *mbox, const char *const *only, size_t nonly)
{
	if (nonly == 0)
		return true;
	for (size_t i = 0; i < nonly; i++)
		if (strcmp(only[i], mbox) == 0 ||
		    (strcasecmp(only[i], "INBOX") == 0 &&
		     strcmp(mbox, "INBOX") == 0))
			return true;
	return false;
}

static void subscribe_all(struct ii *im, const char *const *only, size_t nonly)
{
	struct rmail_err err;

	for (size_t i = 0; i < im->nsubs; i++) {
		if (!wanted(im->subs[i], only, nonly) || im->dry ||
		    im->ops->mbox_subscribe == NULL)
			continue;
		rmail_err_clear(&err);
		if (im->ops->mbox_subscribe(im->h, im->user, im->subs[i], 1,
					    &err) < 0)
			report(im, "subscribing \"%s\": %s", im->subs[i],
			       err.msg);
	}
}

int rm_import_imap(struct rm_cli *cli, int argc, char **argv)
{
	struct ii im = {.c = {.fd = -1}};
	struct rm_imc_opts co = {.timeout_s = 120};
	const char *pos[1], *host = NULL, *port = NULL, *user = NULL,
			    *pwfile = NULL, *ca = NULL, *maxmb = NULL;
	const char **only = rm_xcalloc((size_t)argc + 1, sizeof(*only));
	char **rest = rm_xcalloc((size_t)argc + 1, sizeof(*rest)), *pass, *src,
	     *dir;
	bool tls = false, starttls = false, insecure = false;
	const struct rm_opt opts[] = {
		{"--host", true, &host, NULL},
		{"--port", true, &port, NULL},
		{"--tls", false, NULL, &tls},
		{"--starttls", false, NULL, &starttls},
		{"--ca", true, &ca, NULL},
		{"--insecure", false, NULL, &insecure},
		{"--user", true, &user, NULL},
		{"--password-file", true, &pwfile, NULL},
		{"--delete", false, NULL, &im.del},
		{"--dry-run", false, NULL, &im.dry},
		{"--max-message-size", true, &maxmb, NULL},
		{NULL, false, NULL, NULL},
	};
	struct rmail_user u;
	struct rmail_err err;
	struct sigaction sa;
	int64_t p = 0, mb = 100;
	size_t n, nonly = 0, nrest = 0;
	int rc = RM_EXIT_OK;

	/* --folder repeats: taken out before the common parser */
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--folder") == 0 && i + 1 < argc)
			only[nonly++] = argv[++i];
		else if (strncmp(argv[i], "--folder=", 9) == 0)
			only[nonly++] = argv[i] + 9;
		else
			rest[nrest++] = argv[i];
	}
	if (rm_cmd_parse(CMD, (int)nrest, rest, opts, pos, 1, &n) < 0 ||
	    n != 1 || host == NULL || user == NULL || pwfile == NULL ||
	    (tls && starttls) ||
	    (port != NULL &&
	     (rm_cmd_uint(port, &p) < 0 || p < 1 || p > 65535)) ||
	    (maxmb != NULL &&
	     (rm_cmd_uint(maxmb, &mb) < 0 || mb < 1 || mb > 4096))) {
		free(only);
		free(rest);
		return rm_cmd_usage("import", USAGE);
	}
	/* the password first: the store drops root privileges */
	pass = read_password(pwfile);
	if (pass == NULL) {
		free(only);
		free(rest);
		return rm_cmd_failf(CMD, "%s: %s", pwfile, strerror(errno));
	}
	if (rm_cli_store(cli, &im.ops, &im.h) < 0)
		goto fail;
	rmail_err_clear(&err);
	if (im.ops->user_get(im.h, pos[0], &u, &err) < 0) {
		rm_cmd_fail(CMD, &err);
		goto fail;
	}
	snprintf(im.user, sizeof(im.user), "%s", u.address);
	dir = rm_import_user_dir(im.user);
	if (dir == NULL)
		goto fail;
	{
		char enc[256];

		/* the account, not the port: 143 with STARTTLS and 993
		 * are the same mailboxes */
		src = rm_md_xasprintf("%s@%s", user, host);
		if (rm_store_name_encode(src, strlen(src), enc, sizeof(enc)) <
		    0) {
			free(src);
			free(dir);
			rm_cmd_failf(CMD, "the source name is too long");
			goto fail;
		}
		im.state_dir = rm_md_xasprintf("%s/import-imap/%s", dir, enc);
		free(src);
		free(dir);
	}
	im.host = host;
	im.tty = isatty(2) == 1;
	im.max_size = (uint64_t)mb * 1024 * 1024;
	co.host = host;
	co.port = (unsigned)(p != 0 ? p : tls ? 993 : 143);
	co.tls = tls ? RM_IMC_TLS : starttls ? RM_IMC_STARTTLS : RM_IMC_PLAIN;
	co.insecure = insecure;
	co.ca = ca;
	/* a literal a little over the largest message: the message and
	 * its other FETCH items */
	co.literal_max = (size_t)im.max_size + 64 * 1024;
	if (rm_imc_open(&im.c, &co) < 0 ||
	    rm_imc_login(&im.c, user, pass) < 0) {
		rm_cmd_failf(CMD, "%s: %s", host, im.c.err);
		goto fail;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (rm_imc_cmd(&im.c, list_cb, &im, "LIST \"\" \"*\"") < 0 ||
	    rm_imc_cmd(&im.c, list_cb, &im, "LSUB \"\" \"*\"") < 0) {
		rm_cmd_failf(CMD, "%s: %s", host, im.c.err);
		goto fail;
	}
	if (im.nf > 0)
		qsort(im.folders, im.nf, sizeof(*im.folders), cmp_folder);
	for (size_t i = 0; i < im.nf; i++)
		im.nfolders += wanted(im.folders[i].mbox, only, nonly);
	for (size_t i = 0; i < im.nf && !stop_requested; i++) {
		if (!wanted(im.folders[i].mbox, only, nonly))
			continue;
		im.folder_no++;
		if (do_folder(&im, &im.folders[i]) < 0) {
			rc = RM_EXIT_FAIL;
			break;
		}
	}
	if (rc == RM_EXIT_OK && !stop_requested)
		subscribe_all(&im, only, nonly);
	goto done;
fail:
	rc = RM_EXIT_FAIL;
done:
	if (im.tty)
		fputs("\r\033[K", stderr);
	if (im.ops != NULL)
		printf("%s %zu messages into %s from %s (%zu already there, "
		       "%zu flags updated, %zu deleted, %zu gone at the "
		       "source, %zu failed, %zu too large)\n",
		       im.dry ? "would import" : "imported", im.copied,
		       im.user[0] != '\0' ? im.user : pos[0],
		       host != NULL ? host : "?", im.present, im.updated,
		       im.deleted, im.gone, im.failed, im.skipped);
	if (stop_requested) {
		rm_cmd_failf(CMD, "interrupted; run it again to continue");
		rc = RM_EXIT_FAIL;
	}
	if (im.failed > 0 || im.skipped > 0)
		rc = RM_EXIT_FAIL;
	rm_imc_close(&im.c);
	msgs_clear(&im);
	free(im.msgs);
	for (size_t i = 0; i < im.nf; i++) {
		free(im.folders[i].wire);
		free(im.folders[i].mbox);
	}
	free(im.folders);
	for (size_t i = 0; i < im.nsubs; i++)
		free(im.subs[i]);
	free(im.subs);
	free(im.state_dir);
	explicit_bzero(pass, strlen(pass));
	free(pass);
	free(only);
	free(rest);
	return rc;
}
