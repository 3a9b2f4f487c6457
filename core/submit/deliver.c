/*
 * One delivery path for commits, bounces and queue runs: local
 * recipients (aliases expanded, each user once) go through the DELIVERY
 * filters into their INBOX; everything else, and local recipients that
 * failed temporarily, go into one queue entry.  Runs on a worker.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mailauth_stage.h"
#include "spam.h"
#include "submit_int.h"

#define COPY_BUF 65536

void rm_delivery_failed_log(const char *id, const char *rcpt,
			    const char *reason)
{
	rm_log(RMAIL_LOG_WARN,
	       "event=delivery_failed id=%s rcpt=%s "
	       "reason=\"%s\"",
	       id, rcpt, reason);
}

int rm_addr_local(const char *addr, struct rmail_err *err)
{
	void *h;
	const struct rmail_store_ops *ops = rm_store(&h);
	const char *at = strrchr(addr, '@');

	if (ops == NULL || at == NULL)
		return 0;
	if (RMAIL_HAS(ops, struct rmail_store_ops, domain_local_try) &&
	    ops->domain_local_try != NULL)
		return ops->domain_local_try(h, at + 1, err);
	/* a 1.0 store cannot say "cannot tell" */
	return ops->domain_is_local(h, at + 1) ? 1 : 0;
}

int rm_addr_owned(const char *user, const char *addr, struct rmail_err *err)
{
	void *h;
	const struct rmail_store_ops *ops = rm_store(&h);

	if (ops == NULL)
		return rmail_err_set(err, RMAIL_E_BUSY, "no store loaded");
	if (RMAIL_HAS(ops, struct rmail_store_ops, owns_address_try) &&
	    ops->owns_address_try != NULL)
		return ops->owns_address_try(h, user, addr, err);
	return ops->owns_address != NULL && ops->owns_address(h, user, addr);
}

struct su_find {
	uint32_t su;
	char name[RMAIL_MBOX_NAME_MAX + 1];
};

static void su_find(void *arg, const struct rmail_mbox_entry *e)
{
	struct su_find *f = arg;

	if (f->name[0] == '\0' && e->special_use == f->su &&
	    !(e->attrs & RMAIL_MBOX_NOSELECT))
		snprintf(f->name, sizeof(f->name), "%s", e->name);
}

/* The user's \Junk mailbox: the one marked so, else "Junk" created with
 * the mark.  A user who renamed or deleted theirs gets it back rather
 * than quarantined mail landing in INBOX. */
static int junk_mailbox(const char *user, char name[RMAIL_MBOX_NAME_MAX + 1],
			struct rmail_err *err)
{
	void *h;
	const struct rmail_store_ops *ops = rm_store(&h);
	struct su_find f = {.su = RMAIL_SU_JUNK};

	if (ops->mbox_list(h, user, su_find, &f, err) < 0)
		return -1;
	if (f.name[0] == '\0') {
		snprintf(f.name, sizeof(f.name), "Junk");
		if (ops->mbox_create(h, user, f.name, RMAIL_SU_JUNK, err) < 0 &&
		    err->code != RMAIL_E_EXISTS)
			return -1;
		rmail_err_clear(err);
	}
	memcpy(name, f.name, sizeof(f.name));
	return 0;
}

/* a filter's target mailbox, created when missing */
static int target_mailbox(const char *user, const char *name,
			  struct rmail_err *err)
{
	void *h;
	const struct rmail_store_ops *ops = rm_store(&h);

	if (ops->mbox_create(h, user, name, 0, err) < 0 &&
	    err->code != RMAIL_E_EXISTS)
		return -1;
	rmail_err_clear(err);
	return 0;
}

/* Where a copy goes: the filter's mailbox (created when missing), else
 * INBOX or the user's Junk.  A name the store refuses falls back to
 * that default: the caller stores one copy per resolved mailbox, so the
 * fallback never doubles another copy. */
static int pick_mailbox(const char *user, int junk,
			const struct rmail_filter_target *t,
			char mbox[RMAIL_MBOX_NAME_MAX + 1],
			struct rmail_err *err)
{
	snprintf(mbox, RMAIL_MBOX_NAME_MAX + 1, "INBOX");
	if (junk == RM_JUNK_SPAM && !rm_spam_wants_junk(user))
		junk = RM_JUNK_NO;
	if (t != NULL && t->mailbox[0] != '\0') {
		/* the filter's choice beats the quarantine default */
		snprintf(mbox, RMAIL_MBOX_NAME_MAX + 1, "%s", t->mailbox);
		if (strcmp(mbox, "INBOX") == 0 ||
		    target_mailbox(user, mbox, err) == 0)
			return 0;
		if (err->code != RMAIL_E_INVAL)
			return -1;
		/* a name the store refuses (a Sieve variable the sender
		 * wrote) is refused on every retry: the choice cannot
		 * stand, the message can */
		rm_log(RMAIL_LOG_WARN,
		       "deliver to %s: mailbox \"%s\" refused (%s): kept in "
		       "the default mailbox",
		       user, mbox, err->msg);
		rmail_err_clear(err);
		snprintf(mbox, RMAIL_MBOX_NAME_MAX + 1, "INBOX");
	}
	if (junk != RM_JUNK_NO && junk_mailbox(user, mbox, err) < 0)
		return -1;
	return 0;
}

static int deliver_into(const char *user, const struct rm_msg_src *src,
			const char *extra, bool ignore_quota, const char *mbox,
			const struct rmail_filter_target *t,
			struct rmail_err *err)
{
	char kwbuf[sizeof(t->keywords)], *save = NULL, *kw;
	const char *kws[RMAIL_KEYWORD_MAX];
	size_t nkw = 0;
	void *h;
	const struct rmail_store_ops *ops = rm_store(&h);
	struct rmail_append_opts o;
	struct rmail_append *ap = NULL;
	uint32_t uid, uv;
	uint64_t off = 0;
	char *buf;
	int rc = -1;

	if (ops == NULL)
		return rmail_err_set(err, RMAIL_E_BUSY, "no store loaded");
	/* optional entries (store.h): a store that cannot append keeps
	 * the message in the queue */
	if (ops->append_begin == NULL || ops->append_write == NULL ||
	    ops->append_commit == NULL || ops->append_free == NULL)
		return rmail_err_set(err, RMAIL_E_BUSY,
				     "the storage module cannot append "
				     "messages");
	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.size_hint =
		src->size + strlen(src->prefix) + (extra ? strlen(extra) : 0);
	o.ignore_quota = ignore_quota;
	if (t != NULL) {
		o.flags = t->flags & (RMAIL_F_SEEN | RMAIL_F_ANSWERED |
				      RMAIL_F_FLAGGED | RMAIL_F_DRAFT);
		snprintf(kwbuf, sizeof(kwbuf), "%s", t->keywords);
		for (kw = strtok_r(kwbuf, " ", &save);
		     kw != NULL && nkw < RMAIL_KEYWORD_MAX;
		     kw = strtok_r(NULL, " ", &save))
			kws[nkw++] = kw;
		o.keywords = kws;
		o.nkeywords = nkw;
	}
	if (ops->append_begin(h, user, mbox, &o, &ap, err) < 0)
		return -1;
	if (ops->append_write(ap, src->prefix, strlen(src->prefix), err) < 0 ||
	    (extra != NULL && extra[0] != '\0' &&
	     ops->append_write(ap, extra, strlen(extra), err) < 0))
		goto out;
	buf = rm_xmalloc(COPY_BUF);
	while (off < src->size) {
		ssize_t got = pread(src->fd, buf, COPY_BUF, (off_t)off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			rmail_err_set(err, RMAIL_E_IO, "read: %s",
				      got < 0 ? strerror(errno) : "short");
			free(buf);
			goto out;
		}
		if (ops->append_write(ap, buf, (size_t)got, err) < 0) {
			free(buf);
			goto out;
		}
		off += (uint64_t)got;
	}
	free(buf);
	rc = ops->append_commit(ap, &uid, &uv, err);
out:
	ops->append_free(&ap);
	return rc;
}

struct users {
	char **v;
	size_t n;
};

static void users_add(void *arg, const char *u)
{
	struct users *l = arg;

	l->v = rm_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = rm_xstrdup(u);
}

static bool users_has(const struct users *l, const char *u)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], u) == 0)
			return true;
	return false;
}

static void users_free(struct users *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* DELIVERY filters for one user: -1 reject (text in why), 1 discard */
static int filter_user(const struct rm_deliver_req *rq, const char *user,
		       struct rmail_filter_result *fr,
		       struct rmail_filter_target *t, char *why, size_t whysz)
{
	struct rmail_filter_msg fm;
	struct rmail_err err;
	int rc;

	memset(t, 0, sizeof(*t));
	memset(&fm, 0, sizeof(fm));
	fm.size = sizeof(fm);
	fm.stage = RMAIL_FILTER_DELIVERY;
	fm.mail_from = rq->mail_from;
	fm.rcpts = rq->rcpts;
	fm.nrcpts = rq->n;
	fm.rcpt = user;
	fm.peer_ip = rq->peer_ip;
	fm.helo = rq->helo;
	fm.auth_user = rq->auth_user;
	fm.msg_size = rq->local->size;
	/* the lines the core puts on top, so a filter sees what is
	 * stored; a queue retry splits its copy the same way, so both
	 * attempts show the filters the same message */
	fm.prepend = rq->remote != NULL ? rq->remote->prefix : NULL;
	rm_ma_filter_fields(rq->ma, &fm);
	rmail_err_clear(&err);
	fm.fd = dup(rq->local->fd);
	if (fm.fd >= 0)
		(void)lseek(fm.fd, 0, SEEK_SET);
	rc = fm.fd < 0 ? -1 : rm_filter_run(&fm, fr, &err);
	if (fm.fd >= 0)
		close(fm.fd);
	if (rc < 0) {
		/* a broken filter must not lose mail: deliver unfiltered */
		rm_log(RMAIL_LOG_ERR, "delivery filter for %s: %s", user,
		       err.msg);
		memset(fr, 0, sizeof(*fr));
		return 0;
	}
	if (fr->action == RMAIL_FILTER_REJECT) {
		snprintf(why, whysz, "%d %s", fr->code, fr->text);
		return -1;
	}
	if (fr->action == RMAIL_FILTER_DISCARD)
		return 1;
	/* where the copy goes (1.4), asked once the filters accepted it */
	fm.fd = dup(rq->local->fd);
	rc = fm.fd < 0 ? -1 : rm_filter_target_run(&fm, t, &err);
	if (fm.fd >= 0)
		close(fm.fd);
	if (rc < 0) {
		rm_log(RMAIL_LOG_ERR, "delivery target for %s: %s", user,
		       err.msg);
		memset(t, 0, sizeof(*t));
		return 0;
	}
	if (t->action == RMAIL_FILTER_REJECT) {
		fr->code = t->code;
		snprintf(why, whysz, "%d %s", t->code, t->text);
		return -1;
	}
	return t->action == RMAIL_FILTER_DISCARD ? 1 : 0;
}

/* A filter's extra copies (1.5), once the first one is stored (into
 * `first`): the message is safe, so a failed extra copy is logged,
 * never queued (a queue run would run the filters, and their side
 * effects, again).  One copy per mailbox: a copy that resolves to a
 * mailbox already holding one (INBOX asked for by name and as the
 * default, a refused name's fallback) is not stored twice. */
static void deliver_copies(const struct rm_deliver_req *rq, const char *user,
			   const struct rmail_filter_result *fr, int junk,
			   const struct rmail_filter_target *tg,
			   const char *first)
{
	struct rmail_filter_target *one;
	char(*done)[RMAIL_MBOX_NAME_MAX + 1];
	size_t ndone = 1;
	struct rmail_err err;

	if (tg->ncopies == 0)
		return;
	one = rm_xcalloc(1, sizeof(*one));
	done = rm_xcalloc(RMAIL_FILTER_COPIES_MAX + 1, sizeof(*done));
	snprintf(done[0], sizeof(done[0]), "%s", first);
	for (uint32_t c = 0; c < tg->ncopies && c < RMAIL_FILTER_COPIES_MAX;
	     c++) {
		size_t k;

		one->size = sizeof(*one);
		memcpy(one->mailbox, tg->copies[c].mailbox,
		       sizeof(one->mailbox));
		one->mailbox[sizeof(one->mailbox) - 1] = '\0';
		one->flags = tg->copies[c].flags;
		memcpy(one->keywords, tg->copies[c].keywords,
		       sizeof(one->keywords));
		one->keywords[sizeof(one->keywords) - 1] = '\0';
		rmail_err_clear(&err);
		if (pick_mailbox(user, junk, one, done[ndone], &err) < 0) {
			rm_log(RMAIL_LOG_ERR,
			       "deliver %s to %s: copy into %s: %s", rq->id,
			       user,
			       one->mailbox[0] != '\0' ? one->mailbox : "INBOX",
			       err.msg);
			continue;
		}
		for (k = 0; k < ndone; k++)
			if (strcmp(done[k], done[ndone]) == 0)
				break;
		if (k < ndone)
			continue;
		if (deliver_into(user, rq->local, fr->add_headers,
				 rq->mail_from[0] == '\0', done[ndone], one,
				 &err) < 0) {
			rm_log(RMAIL_LOG_ERR,
			       "deliver %s to %s: copy into %s: %s", rq->id,
			       user, done[ndone], err.msg);
			continue;
		}
		ndone++;
		rm_metric_add("rmail_deliveries_total", "result=\"delivered\"",
			      1);
	}
	free(done);
	free(one);
}

/* a failure for good: logged here, or by the queue when it retries
 * (with the bounce) */
static void failed_log(const struct rm_deliver_req *rq, const char *rcpt,
		       const char *why)
{
	if (rq->retry)
		return;
	rm_delivery_failed_log(rq->id, rcpt, why);
}

/* a queue run keeps the entry's recipient pending: why, for its log */
static void retry_why(const struct rm_deliver_req *rq,
		      struct rmail_rcpt_result *r, const char *why)
{
	if (rq->retry)
		snprintf(r->error, sizeof(r->error), "%.250s",
			 why != NULL && why[0] != '\0' ? why
						       : "temporary failure");
}

static bool passed(const char *r)
{
	return r != NULL && strcasecmp(r, "pass") == 0;
}

/* A filter's refusal on a queue retry can only be a DSN (the sender
 * no longer waits for a reply): sent to a sender that was
 * authenticated (a submission, mail rmail made itself) or passed SPF
 * or aligned DMARC; anyone else's address may be forged, and a DSN
 * to it is backscatter (docs/sieve.md "reject and ereject"). */
static bool retry_dsn_ok(const struct rm_deliver_req *rq)
{
	if (rq->auth_user != NULL || rq->peer_ip == NULL)
		return true;
	return rq->ma != NULL &&
	       (passed(rq->ma->spf_result) || passed(rq->ma->dmarc_result));
}

/* what the DELIVERY filters saw, kept in the queue entry for a retry */
static void qctx_of(const struct rm_deliver_req *rq, struct rm_qctx *c)
{
	const struct rm_ma_result *ma = rq->ma;
	const char *dom = ma != NULL ? ma->from_domain : NULL;

	memset(c, 0, sizeof(*c));
	c->peer_ip = (char *)rq->peer_ip;
	c->helo = (char *)rq->helo;
	c->auth_user = (char *)rq->auth_user;
	if (ma == NULL)
		return;
	c->authres = ma->authres_value;
	c->spf = (char *)ma->spf_result;
	c->dmarc = (char *)ma->dmarc_result;
	c->dmarc_disp = (char *)ma->dmarc_disposition;
	c->from_domain = dom != NULL && dom[0] != '\0' ? (char *)dom : NULL;
}

bool rm_deliver_accepted(const struct rmail_rcpt_result *rr, size_t n)
{
	bool any = false;

	for (size_t i = 0; i < n; i++) {
		if (rr[i].status == RMAIL_RCPT_DEFERRED)
			return false;
		any |= rr[i].status != RMAIL_RCPT_FAILED;
	}
	return any;
}

void rm_deliver_message(const struct rm_deliver_req *rq,
			struct rmail_rcpt_result *rr, int *codes_r,
			size_t *nqueued_r)
{
	int *codes = codes_r != NULL ? codes_r : rm_xcalloc(rq->n, sizeof(int));

	struct users done = {0}, queue = {0};
	struct rm_bounce_rcpt *bounces;
	char(*diag)[300];
	struct rmail_err err;
	struct rm_qctx ctx;
	size_t i, j, nb = 0;
	void *h;
	const struct rmail_store_ops *ops = rm_store(&h);

	*nqueued_r = 0;
	qctx_of(rq, &ctx);
	bounces = rm_xcalloc(rq->n + 1, sizeof(*bounces));
	diag = rm_xcalloc(rq->n + 1, sizeof(*diag));
	for (i = 0; i < rq->n; i++) {
		const char *rcpt = rq->rcpts[i];
		struct users u = {0};
		size_t ok = 0, failed = 0, queued = 0;

		rr[i].rcpt = rcpt;
		rr[i].error[0] = '\0';
		codes[i] = 0;
		rmail_err_clear(&err);
		/* "cannot tell" queues too: the queue run asks again */
		if (ops == NULL || rm_addr_local(rcpt, &err) != 1) {
			users_add(&queue, rcpt);
			rr[i].status = RMAIL_RCPT_QUEUED;
			retry_why(rq, &rr[i],
				  ops == NULL ? "no store loaded" : err.msg);
			continue;
		}
		rmail_err_clear(&err);
		if (ops->resolve(h, rcpt, users_add, &u, &err) < 0) {
			rr[i].status = err.code == RMAIL_E_NOENT ||
						       err.code == RMAIL_E_INVAL
					       ? RMAIL_RCPT_FAILED
					       : RMAIL_RCPT_QUEUED;
			if (rr[i].status == RMAIL_RCPT_QUEUED) {
				users_add(&queue, rcpt);
				retry_why(rq, &rr[i], err.msg);
				continue;
			}
			snprintf(rr[i].error, sizeof(rr[i].error),
				 "5.1.1 No such user");
			codes[i] = 550;
			failed_log(rq, rcpt, "no such user");
			continue;
		}
		for (j = 0; j < u.n; j++) {
			struct rmail_filter_result fr;
			struct rmail_filter_target tg;
			char why[300], mbox[RMAIL_MBOX_NAME_MAX + 1];
			int f, junk;

			if (users_has(&done, u.v[j])) {
				ok++;
				continue;
			}
			users_add(&done, u.v[j]);
			f = filter_user(rq, u.v[j], &fr, &tg, why, sizeof(why));
			if (f < 0 && rq->retry && !retry_dsn_ok(rq)) {
				rm_log(RMAIL_LOG_INFO,
				       "deliver %s to %s: refused by a filter "
				       "on a queue retry (%s): sender <%s> not "
				       "authenticated: dropped without a DSN",
				       rq->id, u.v[j], why, rq->mail_from);
				ok++;
				continue;
			}
			if (f < 0) {
				failed++;
				codes[i] = fr.code >= 500 && fr.code < 600
						   ? fr.code
						   : 550;
				snprintf(rr[i].error, sizeof(rr[i].error),
					 "%.250s", why);
				failed_log(rq, u.v[j], why);
				continue;
			}
			if (f > 0) {
				ok++;
				continue;
			}
			rmail_err_clear(&err);
			/* a DELIVERY filter may mark it for this user only */
			junk = rq->junk;
			if (junk == RM_JUNK_NO &&
			    rm_spam_verdict(fr.add_headers))
				junk = RM_JUNK_SPAM;
			if (pick_mailbox(u.v[j], junk, &tg, mbox, &err) == 0 &&
			    deliver_into(u.v[j], rq->local, fr.add_headers,
					 rq->mail_from[0] == '\0', mbox, &tg,
					 &err) == 0) {
				deliver_copies(rq, u.v[j], &fr, junk, &tg,
					       mbox);
				ok++;
				rm_metric_add("rmail_deliveries_total",
					      "result=\"delivered\"", 1);
				continue;
			}
			if (err.code == RMAIL_E_QUOTA) {
				failed++;
				codes[i] = 552;
				snprintf(rr[i].error, sizeof(rr[i].error),
					 "Quota exceeded");
				failed_log(rq, u.v[j], "Quota exceeded");
				if (!rq->retry)
					rm_metric_add("rmail_deliveries_total",
						      "result=\"failed\"", 1);
				snprintf(diag[nb], sizeof(diag[nb]),
					 "552 5.2.2 Quota exceeded");
				bounces[nb].addr = rcpt;
				bounces[nb].diag = diag[nb];
				nb++;
				continue;
			}
			rm_log(RMAIL_LOG_WARN, "deliver %s to %s: %s; %s",
			       rq->id, u.v[j], err.msg,
			       rq->retry ? "retried later" : "queued");
			users_add(&queue, u.v[j]);
			retry_why(rq, &rr[i], err.msg);
			queued++;
		}
		users_free(&u);
		if (queued > 0)
			rr[i].status = RMAIL_RCPT_QUEUED;
		else if (ok > 0 || failed == 0)
			rr[i].status = RMAIL_RCPT_DELIVERED;
		else
			rr[i].status = RMAIL_RCPT_FAILED;
	}
	if (queue.n > 0 && !rq->retry) {
		rmail_err_clear(&err);
		if (rm_queue_add_ctx(
			    rq->id, rq->mail_from, (const char *const *)queue.v,
			    queue.n, rq->remote,
			    (rq->junk == RM_JUNK_SPAM ? RM_QF_JUNK_SPAM
			     : rq->junk		      ? RM_QF_JUNK
						      : 0) |
				    (rq->requiretls ? RM_QF_REQUIRETLS : 0),
			    &ctx, &err) == 0) {
			*nqueued_r = queue.n;
			rm_metric_add("rmail_deliveries_total",
				      "result=\"queued\"", (double)queue.n);
		} else {
			bool full = errno == ENOSPC || errno == EDQUOT;

			rm_log(RMAIL_LOG_ERR, "queue %s: %s", rq->id, err.msg);
			for (i = 0; i < rq->n; i++) {
				if (rr[i].status != RMAIL_RCPT_QUEUED)
					continue;
				rr[i].status = RMAIL_RCPT_DEFERRED;
				codes[i] = full ? 452 : 451;
				snprintf(rr[i].error, sizeof(rr[i].error), "%s",
					 full ? "4.3.1 Insufficient system "
						"storage"
					      : "4.3.0 Cannot queue the "
						"message");
			}
		}
	}
	/* while the sender still waits for the reply, a refused
	 * transaction bounces nothing: the reply says it all */
	if (nb > 0 && rq->mail_from[0] != '\0' && !rq->retry &&
	    (!rq->reply_pending || rm_deliver_accepted(rr, rq->n)))
		rm_bounce_send_rt(rq->mail_from, rq->id, bounces, nb,
				  rq->local->fd, rq->requiretls);
	users_free(&done);
	users_free(&queue);
	free(bounces);
	free(diag);
	if (codes != codes_r)
		free(codes);
}
