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
#include "import_imap.h"
#include "import_sub.h"
#include "maildir.h"

volatile sig_atomic_t rm_ii_stop;

static void on_signal(int sig)
{
	(void)sig;
	rm_ii_stop = 1;
}

void rm_ii_report(struct ii *im, const char *fmt, ...)
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

void rm_ii_progress(struct ii *im, size_t done, size_t total, bool force)
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

static int list_cb(void *arg, struct rm_imc *c, const struct rm_imr_resp *r)
{
	struct ii *im = arg;
	const struct rm_imv *attrs = r->vals, *d, *name;
	bool lsub = rm_ii_is_word(r, "LSUB");
	char *mbox;

	if (!rm_ii_is_word(r, "LIST") && !lsub)
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
		rm_ii_report(im,
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
		rm_ii_report(im, "mailbox \"%s\": %s", im->mbox, err.msg);
		return -1;
	}
	memset(ds, 0, sizeof(*ds));
	ds->size = sizeof(*ds);
	rmail_err_clear(&err);
	if (im->ops->mbox_status(im->h, im->user, im->mbox, ds, &err) < 0) {
		rm_ii_report(im, "mailbox \"%s\": %s", im->mbox, err.msg);
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
		rm_ii_report(im, "mailbox \"%s\": %s", im->mbox, err.msg);
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
	rm_ii_msgs_clear(im);
	if (rm_imc_quote(f->wire, q, sizeof(q)) < 0 ||
	    rm_iss_load(&st, im->state_dir, f->mbox) < 0) {
		rm_ii_report(im, "skipping folder \"%s\": name too long",
			     f->mbox);
		im->failed++;
		return 0;
	}
	im->st = &st;
	if (rm_imc_cmd(&im->c, rm_ii_select_cb, im, "EXAMINE %s", q) < 0) {
		rm_ii_report(im, "%s: %s", f->mbox, im->c.err);
		im->failed++;
		rc = im->c.broken ? -1 : 0;
		goto out;
	}
	if (im->exists > 0 &&
	    rm_imc_cmd(&im->c, rm_ii_meta_cb, im,
		       "UID FETCH 1:* (UID FLAGS RFC822.SIZE "
		       "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])") < 0) {
		rm_ii_report(im, "%s: %s", f->mbox, im->c.err);
		im->failed++;
		rc = im->c.broken ? -1 : 0;
		goto out;
	}
	if (im->nmsgs > 0)
		qsort(im->msgs, im->nmsgs, sizeof(*im->msgs), rm_ii_cmp_smsg);
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
			rm_ii_report(im,
				     "%s: UID %u: %llu bytes, over "
				     "--max-message-size: not copied",
				     f->mbox, m->uid,
				     (unsigned long long)m->size);
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
			rm_ii_report(im, "cannot write the import state %s: %s",
				     st.path, strerror(errno));
			rc = -1;
			goto out;
		}
		dirty = false;
	}
	if (im->dry) {
		im->copied += ntodo;
	} else if (ntodo > 0 && rm_ii_copy_new(im, todo, ntodo) < 0) {
		rc = -1;
		goto out;
	}
	if (im->view != NULL) {
		rmail_err_clear(&err);
		(void)im->ops->mbox_refresh(im->view, &err);
		rm_ii_update_flags(im);
	}
	if (rm_ii_prune(im))
		dirty = true;
	if (dirty && !im->dry && rm_iss_save(&st) < 0) {
		rm_ii_report(im, "cannot write the import state %s: %s",
			     st.path, strerror(errno));
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
			rm_ii_report(im, "subscribing \"%s\": %s", im->subs[i],
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
	for (size_t i = 0; i < im.nf && !rm_ii_stop; i++) {
		if (!wanted(im.folders[i].mbox, only, nonly))
			continue;
		im.folder_no++;
		if (do_folder(&im, &im.folders[i]) < 0) {
			rc = RM_EXIT_FAIL;
			break;
		}
	}
	if (rc == RM_EXIT_OK && !rm_ii_stop)
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
	if (rm_ii_stop) {
		rm_cmd_failf(CMD, "interrupted; run it again to continue");
		rc = RM_EXIT_FAIL;
	}
	if (im.failed > 0 || im.skipped > 0)
		rc = RM_EXIT_FAIL;
	rm_imc_close(&im.c);
	rm_ii_msgs_clear(&im);
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
