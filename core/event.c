/*
 * core->event_emit: events from producers (mod_imap's COPY and MOVE) to
 * the FILTER modules whose table has on_event.  The producer's call
 * only copies the event; the special use of both mailboxes is read on
 * a worker, the destination's view opened on the loop (store views are
 * loop-only), and each message handed to the consumers on a worker
 * with a descriptor on it.  Nothing here can delay the producer's
 * reply, and a consumer that is slow only holds a READ worker.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm.h"

#define EVENT_UIDS_MAX 100000

struct ev_job {
	char *mod;	       /* the producer, for log lines */
	struct rmail_event ev; /* strings and uids owned below */
	char *proto, *user, *from, *to;
	uint32_t *uids;
	bool wanted;
	struct rmail_mbox *mb;
};

static bool has_consumer(void)
{
	for (size_t i = 0; i < rm_module_count(); i++) {
		const struct rm_module *m = rm_module_at(i);

		if (m->mctx.module->kind == RMAIL_KIND_FILTER &&
		    RMAIL_HAS(&m->ops.filter, struct rmail_filter_ops,
			      on_event) &&
		    m->ops.filter.on_event != NULL)
			return true;
	}
	return false;
}

static void job_free(struct ev_job *j)
{
	const struct rmail_store_ops *ops = rm_store(NULL);

	if (j->mb != NULL && ops != NULL)
		ops->mbox_close(&j->mb);
	free(j->mod);
	free(j->proto);
	free(j->user);
	free(j->from);
	free(j->to);
	free(j->uids);
	free(j);
}

static uint32_t special_use(const struct rmail_store_ops *ops, void *h,
			    const char *user, const char *name)
{
	struct rmail_mbox_status st = {.size = sizeof(st)};
	struct rmail_err err;

	rmail_err_clear(&err);
	if (ops->mbox_status(h, user, name, &st, &err) < 0)
		return 0;
	return st.special_use;
}

/* [READ pool] is it an event at all */
static void status_work(void *arg, const volatile int *cancel)
{
	struct ev_job *j = arg;
	void *h;
	const struct rmail_store_ops *ops = rm_store(&h);

	(void)cancel;
	if (ops == NULL || ops->mbox_status == NULL)
		return;
	j->ev.from_special_use = special_use(ops, h, j->user, j->from);
	j->ev.to_special_use = special_use(ops, h, j->user, j->to);
	j->wanted = j->ev.from_special_use != j->ev.to_special_use;
}

/* [READ pool] each message to each consumer */
static void dispatch_work(void *arg, const volatile int *cancel)
{
	struct ev_job *j = arg;
	const struct rmail_store_ops *ops = rm_store(NULL);

	for (size_t k = 0; k < j->ev.nuids && !*cancel; k++) {
		struct rmail_event one = j->ev;
		struct rmail_err err;
		struct stat st;
		int fd = -1;

		rmail_err_clear(&err);
		if (ops->msg_open == NULL ||
		    ops->msg_open(j->mb, j->uids[k], &fd, &err) < 0) {
			/* expunged meanwhile: nothing to tell */
			rm_log(RMAIL_LOG_DEBUG, "event from %s: %s uid %u: %s",
			       j->mod, j->to, j->uids[k], err.msg);
			continue;
		}
		one.uid = j->uids[k];
		one.uids = &one.uid;
		one.nuids = 1;
		one.fd = fd;
		one.msg_size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
		for (size_t i = 0; i < rm_module_count(); i++) {
			struct rm_module *m = rm_module_at(i);

			if (m->mctx.module->kind != RMAIL_KIND_FILTER ||
			    !RMAIL_HAS(&m->ops.filter, struct rmail_filter_ops,
				       on_event) ||
			    m->ops.filter.on_event == NULL)
				continue;
			/* a consumer may have read from fd: start over */
			(void)lseek(fd, 0, SEEK_SET);
			m->ops.filter.on_event(&m->mctx, &one);
		}
		close(fd);
	}
}

static void dispatch_done(void *arg, int cancelled)
{
	(void)cancelled;
	job_free(arg);
}

/* [loop] views are opened here only */
static void status_done(void *arg, int cancelled)
{
	struct ev_job *j = arg;
	void *h;
	const struct rmail_store_ops *ops = rm_store(&h);
	struct rmail_err err;

	if (cancelled || !j->wanted || ops == NULL) {
		job_free(j);
		return;
	}
	rmail_err_clear(&err);
	if (ops->mbox_open(h, j->user, j->to, &j->mb, &err) < 0) {
		rm_log(RMAIL_LOG_WARN, "event from %s: %s of %s: %s", j->mod,
		       j->to, j->user, err.msg);
		job_free(j);
		return;
	}
	rm_metric_add("rmail_events_total", "kind=\"msg_moved\"",
		      (double)j->ev.nuids);
	rm_work_submit(RMAIL_WORK_READ, dispatch_work, dispatch_done, j);
}

static char *dup_or_null(const char *s)
{
	return s != NULL ? rm_xstrdup(s) : NULL;
}

int rm_event_emit(struct rmail_mctx *m, const struct rmail_event *ev,
		  struct rmail_err *err)
{
	struct ev_job *j;

	if (ev == NULL ||
	    ev->size < RMAIL_SIZEOF_THROUGH(struct rmail_event, nuids))
		return rmail_err_set(err, RMAIL_E_INVAL, "event: bad size");
	if (ev->kind != RMAIL_EVENT_MSG_MOVED)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "event: unknown kind %u", ev->kind);
	if ((ev->how != RMAIL_EVENT_COPY && ev->how != RMAIL_EVENT_MOVE) ||
	    ev->user == NULL || ev->from_mbox == NULL || ev->to_mbox == NULL ||
	    (ev->nuids > 0 && ev->uids == NULL) || ev->nuids > EVENT_UIDS_MAX)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "event: malformed message move");
	if (ev->nuids == 0 || !has_consumer())
		return 0;
	j = rm_xcalloc(1, sizeof(*j));
	j->mod = rm_xstrdup(m != NULL && m->name != NULL ? m->name : "core");
	j->ev.size = sizeof(j->ev);
	j->ev.kind = ev->kind;
	j->ev.how = ev->how;
	j->ev.proto = j->proto = dup_or_null(ev->proto);
	j->ev.user = j->user = rm_xstrdup(ev->user);
	j->ev.from_mbox = j->from = rm_xstrdup(ev->from_mbox);
	j->ev.to_mbox = j->to = rm_xstrdup(ev->to_mbox);
	j->ev.uidvalidity = ev->uidvalidity;
	j->uids = rm_xcalloc(ev->nuids, sizeof(*j->uids));
	memcpy(j->uids, ev->uids, ev->nuids * sizeof(*j->uids));
	j->ev.uids = j->uids;
	j->ev.nuids = ev->nuids;
	j->ev.fd = -1;
	rm_work_submit(RMAIL_WORK_READ, status_work, status_done, j);
	return 0;
}
