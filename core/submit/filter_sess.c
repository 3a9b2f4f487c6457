/*
 * core->filter_sess_*: the per-session filters (filter.h, ABI 1.4) of
 * one SMTP session or one synthesized API send.  Loop thread only.  A
 * step runs through every filter that opened a handle for the session,
 * in load order, each one answering through its `done` callback (a
 * milter answers later, from its socket's watch).  The struct is
 * refcounted: the protocol module holds one reference, each commit
 * that will run the DATA step another, and filters are closed once the
 * last goes and no step is pending.
 */
#include <string.h>

#include "filter_sess.h"

struct fs_filter {
	struct rm_module *m;
	void *h;
};

struct rmail_filter_sess {
	int refs;
	bool closed;
	bool busy;
	struct rmail_pool *pool;   /* session fields */
	struct rmail_pool *txpool; /* MAIL fields, reset with ABORT */
	size_t n;
	struct fs_filter *f;
	struct rmail_filter_step base; /* what earlier steps told */

	/* the step in progress */
	struct rmail_filter_step st;
	size_t i;
	rmail_filter_sess_fn cb;
	void *arg;
	struct rmail_filter_reply r, one;
	struct rmail_pool *rpool;
	struct rmail_filter_edit *edits;
	size_t nedits, capedits;
};

static bool has_sess(const struct rm_module *m)
{
	const struct rmail_filter_ops *o = &m->ops.filter;

	return m->mctx.module->kind == RMAIL_KIND_FILTER &&
	       RMAIL_HAS(o, struct rmail_filter_ops, sess_close) &&
	       o->sess_open != NULL && o->sess_step != NULL &&
	       o->sess_close != NULL;
}

bool rm_filter_sess_wanted(void)
{
	for (size_t i = 0; i < rm_module_count(); i++)
		if (has_sess(rm_module_at(i)))
			return true;
	return false;
}

static const char *keep(struct rmail_pool *p, const char *s)
{
	return s != NULL ? rm_pstrdup(p, s) : NULL;
}

/* later steps fill what they know; the rest comes from earlier ones */
static void merge(struct rmail_filter_sess *fs,
		  const struct rmail_filter_step *in)
{
	struct rmail_filter_step *b = &fs->base;
	struct rmail_filter_step st;

	memset(&st, 0, sizeof(st));
	st.size = (uint32_t)rmail_sized_copy(&st, sizeof(st), in, in->size);
	st.size = sizeof(st);
	if (st.step == RMAIL_FSTEP_CONNECT) {
		b->listener = st.listener;
		b->synthesized = st.synthesized;
		b->peer_port = st.peer_port;
		b->local_port = st.local_port;
		b->session_id = keep(fs->pool, st.session_id);
		b->peer_ip = keep(fs->pool, st.peer_ip);
		b->peer_name = keep(fs->pool, st.peer_name);
		b->local_ip = keep(fs->pool, st.local_ip);
	}
	if (st.helo != NULL &&
	    (b->helo == NULL || strcmp(b->helo, st.helo) != 0))
		b->helo = keep(fs->pool, st.helo);
	if (st.tls_info != NULL &&
	    (b->tls_info == NULL || strcmp(b->tls_info, st.tls_info) != 0))
		b->tls_info = keep(fs->pool, st.tls_info);
	if (st.auth_user != NULL &&
	    (b->auth_user == NULL || strcmp(b->auth_user, st.auth_user) != 0))
		b->auth_user = keep(fs->pool, st.auth_user);
	if (st.step == RMAIL_FSTEP_MAIL) {
		b->mail_from = keep(fs->txpool, st.mail_from);
		b->mail_params = keep(fs->txpool, st.mail_params);
	}
	/* the step sees everything known so far */
#define F(x)                                                                   \
	if (st.x == NULL)                                                      \
	st.x = b->x
	F(session_id);
	F(peer_ip);
	F(peer_name);
	F(local_ip);
	F(helo);
	F(tls_info);
	F(auth_user);
	F(mail_from);
	F(mail_params);
#undef F
	st.listener = b->listener;
	st.synthesized = b->synthesized;
	if (st.peer_port == 0)
		st.peer_port = b->peer_port;
	if (st.local_port == 0)
		st.local_port = b->local_port;
	fs->st = st;
}

struct rmail_filter_sess *
rm_filter_sess_open(const struct rmail_filter_step *st)
{
	struct rmail_filter_sess *fs;
	struct rmail_pool *p;
	size_t i;

	if (st == NULL || !rm_filter_sess_wanted())
		return NULL;
	p = rm_pool_create(NULL);
	fs = rm_pcalloc(p, sizeof(*fs));
	fs->pool = p;
	fs->txpool = rm_pool_create(p);
	fs->refs = 1;
	fs->base.size = sizeof(fs->base);
	merge(fs, st);
	fs->f = rm_pcalloc(p, rm_module_count() * sizeof(*fs->f));
	for (i = 0; i < rm_module_count(); i++) {
		struct rm_module *m = rm_module_at(i);
		void *h = NULL;

		if (!has_sess(m))
			continue;
		if (m->ops.filter.sess_open(&m->mctx, &fs->st, &h) < 0) {
			rm_log(RMAIL_LOG_WARN,
			       "filter %s: no session for %s: skipped",
			       m->mctx.name,
			       fs->st.session_id ? fs->st.session_id : "-");
			continue;
		}
		if (h == NULL)
			continue;
		fs->f[fs->n].m = m;
		fs->f[fs->n].h = h;
		fs->n++;
	}
	if (fs->n == 0) {
		rm_pool_destroy(&p);
		return NULL;
	}
	return fs;
}

static void fs_free(struct rmail_filter_sess *fs)
{
	struct rmail_pool *p = fs->pool;

	for (size_t i = 0; i < fs->n; i++)
		fs->f[i].m->ops.filter.sess_close(&fs->f[i].m->mctx,
						  fs->f[i].h);
	rm_pool_destroy(&p);
}

static void fs_unref(struct rmail_filter_sess *fs)
{
	if (--fs->refs == 0 && !fs->busy)
		fs_free(fs);
}

void rm_filter_sess_ref(struct rmail_filter_sess *fs)
{
	fs->refs++;
}

void rm_filter_sess_release(struct rmail_filter_sess **fsp)
{
	if (fsp == NULL || *fsp == NULL)
		return;
	fs_unref(*fsp);
	*fsp = NULL;
}

void rm_filter_sess_close(struct rmail_filter_sess **fsp)
{
	if (fsp == NULL || *fsp == NULL)
		return;
	(*fsp)->closed = true;
	rm_filter_sess_release(fsp);
}

static void add_edits(struct rmail_filter_sess *fs,
		      const struct rmail_filter_reply *one)
{
	if (!RMAIL_HAS(one, struct rmail_filter_reply, nedits) ||
	    one->edits == NULL || one->nedits == 0 || one->nedits > 100000)
		return;
	if (fs->nedits + one->nedits > fs->capedits) {
		size_t cap = (fs->nedits + one->nedits) * 2;
		struct rmail_filter_edit *v =
			rm_palloc(fs->rpool, cap * sizeof(*v));

		if (fs->nedits > 0)
			memcpy(v, fs->edits, fs->nedits * sizeof(*v));
		fs->edits = v;
		fs->capedits = cap;
	}
	memcpy(fs->edits + fs->nedits, one->edits,
	       one->nedits * sizeof(*one->edits));
	fs->nedits += one->nedits;
}

static void run_next(struct rmail_filter_sess *fs);

/* the transaction is over: its MAIL fields go */
static void tx_clear(struct rmail_filter_sess *fs)
{
	fs->base.mail_from = NULL;
	fs->base.mail_params = NULL;
	rm_pool_reset(fs->txpool);
}

static void finish(struct rmail_filter_sess *fs)
{
	rmail_filter_sess_fn cb = fs->cb;
	void *arg = fs->arg;
	struct rmail_filter_reply r = fs->r;

	r.edits = fs->edits;
	r.nedits = fs->nedits;
	fs->busy = false;
	fs->cb = NULL;
	if (fs->st.step == RMAIL_FSTEP_DATA)
		tx_clear(fs);
	/* the reply lives on this frame: the session may go in cb */
	fs->refs++;
	if (cb != NULL)
		cb(arg, &r);
	fs_unref(fs);
}

static void step_done(void *arg)
{
	struct rmail_filter_sess *fs = arg;
	struct rmail_filter_reply *o = &fs->one;

	if (o->action == RMAIL_FILTER_REJECT) {
		int code = o->code;

		if (code < 400 || code > 599)
			code = 550;
		fs->r.action = RMAIL_FILTER_REJECT;
		fs->r.code = code;
		o->text[sizeof(o->text) - 1] = '\0';
		memcpy(fs->r.text, o->text, sizeof(fs->r.text));
		rm_log(RMAIL_LOG_INFO, "filter %s: %s step %u refused: %d %s",
		       fs->f[fs->i].m->mctx.name,
		       fs->st.session_id ? fs->st.session_id : "-", fs->st.step,
		       code, fs->r.text);
		finish(fs);
		return;
	}
	if (o->action == RMAIL_FILTER_DISCARD)
		fs->r.action = RMAIL_FILTER_DISCARD;
	if (fs->st.step == RMAIL_FSTEP_DATA)
		add_edits(fs, o);
	fs->i++;
	run_next(fs);
}

static void run_next(struct rmail_filter_sess *fs)
{
	if (fs->i >= fs->n) {
		finish(fs);
		return;
	}
	memset(&fs->one, 0, sizeof(fs->one));
	fs->one.size = sizeof(fs->one);
	fs->one.pool = fs->rpool;
	fs->one.action = RMAIL_FILTER_ACCEPT;
	fs->f[fs->i].m->ops.filter.sess_step(&fs->f[fs->i].m->mctx,
					     fs->f[fs->i].h, &fs->st, &fs->one,
					     step_done, fs);
}

void rm_filter_sess_run(struct rmail_filter_sess *fs,
			const struct rmail_filter_step *st,
			struct rmail_pool *pool, rmail_filter_sess_fn cb,
			void *arg)
{
	struct rmail_filter_reply r;

	if (fs == NULL || st == NULL || fs->busy) {
		memset(&r, 0, sizeof(r));
		r.size = sizeof(r);
		if (fs != NULL && fs->busy) {
			rm_log(RMAIL_LOG_ERR, "filter session: overlapping "
					      "steps: refused");
			r.action = RMAIL_FILTER_REJECT;
			r.code = 451;
			snprintf(r.text, sizeof(r.text),
				 "4.3.0 Filter failure");
		}
		if (cb != NULL)
			cb(arg, &r);
		return;
	}
	merge(fs, st);
	if (fs->st.step == RMAIL_FSTEP_ABORT) {
		for (size_t i = 0; i < fs->n; i++)
			fs->f[i].m->ops.filter.sess_step(&fs->f[i].m->mctx,
							 fs->f[i].h, &fs->st,
							 NULL, NULL, NULL);
		tx_clear(fs);
		return;
	}
	fs->busy = true;
	fs->cb = cb;
	fs->arg = arg;
	fs->i = 0;
	fs->rpool = pool != NULL ? pool : fs->txpool;
	fs->edits = NULL;
	fs->nedits = fs->capedits = 0;
	memset(&fs->r, 0, sizeof(fs->r));
	fs->r.size = sizeof(fs->r);
	fs->r.pool = fs->rpool;
	fs->r.action = RMAIL_FILTER_ACCEPT;
	run_next(fs);
}

void rm_filter_sess_step(struct rmail_filter_sess *fs,
			 const struct rmail_filter_step *st,
			 rmail_filter_sess_fn cb, void *arg)
{
	if (st != NULL && st->step == RMAIL_FSTEP_DATA) {
		struct rmail_filter_reply r = {.size = sizeof(r)};

		/* the commit runs it, with the message */
		rm_log(RMAIL_LOG_ERR, "filter_sess_step: DATA is the "
				      "commit's step");
		if (cb != NULL)
			cb(arg, &r);
		return;
	}
	rm_filter_sess_run(fs, st, NULL, cb, arg);
}

const struct rmail_filter_step *
rm_filter_sess_base(const struct rmail_filter_sess *fs)
{
	return &fs->base;
}
