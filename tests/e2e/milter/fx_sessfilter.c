/*
 * Fixture filter for the ABI 1.4 per-session entries, built like a
 * third-party module: sess_open/sess_step/sess_close answering from a
 * timer (later, on the loop, as a network filter would), and the
 * DELIVERY-stage target.  RCPT <nofx@...> is refused; at DATA,
 * "X-Fx: edit" adds a header and "X-Fx: reject" refuses the message;
 * "X-Fx: folder" files the copy into "Filed", \Seen, with $Fx.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rmail/rmail.h>

struct fx_sess {
	struct rmail_mctx *m;
	struct rmail_timer *t;
	rmail_filter_done_fn done;
	void *arg;
	unsigned steps;
};

static bool has(int fd, const char *needle)
{
	char buf[4096];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

static int fx_open(struct rmail_mctx *m, const struct rmail_filter_step *st,
		   void **sess_r)
{
	struct fx_sess *s;

	/* port 25 and the API's send (a synthesized session) */
	if (st->listener != RMAIL_FILTER_MX &&
	    st->listener != RMAIL_FILTER_API) {
		*sess_r = NULL;
		return 0;
	}
	s = calloc(1, sizeof(*s));
	s->m = m;
	*sess_r = s;
	return 0;
}

static void fire(void *arg)
{
	struct fx_sess *s = arg;

	s->m->core->timer_del(&s->t);
	s->done(s->arg);
}

static void fx_step(struct rmail_mctx *m, void *sess,
		    const struct rmail_filter_step *st,
		    struct rmail_filter_reply *r, rmail_filter_done_fn done,
		    void *arg)
{
	struct fx_sess *s = sess;

	s->steps++;
	if (st->step == RMAIL_FSTEP_ABORT)
		return;
	if (st->step == RMAIL_FSTEP_RCPT && st->rcpt != NULL &&
	    strncmp(st->rcpt, "nofx@", 5) == 0) {
		r->action = RMAIL_FILTER_REJECT;
		r->code = 550;
		snprintf(r->text, sizeof(r->text), "5.7.1 fx says no");
	}
	if (st->step == RMAIL_FSTEP_DATA && st->msg != NULL) {
		if (has(st->msg->fd, "X-Fx: reject")) {
			r->action = RMAIL_FILTER_REJECT;
			r->code = 554;
			snprintf(r->text, sizeof(r->text),
				 "5.7.1 fx refuses it (step %u)", s->steps);
		} else if (has(st->msg->fd, "X-Fx: edit")) {
			struct rmail_filter_edit *e =
				m->core->pcalloc(r->pool, sizeof(*e));

			e->op = RMAIL_FEDIT_ADD_HEADER;
			e->name = "X-Fx-Added";
			e->value = m->core->psprintf(r->pool, "queue %s",
						     st->queue_id);
			r->edits = e;
			r->nedits = 1;
		}
	}
	s->done = done;
	s->arg = arg;
	s->t = m->core->timer_add(0.005, 0, fire, s);
}

static void fx_close(struct rmail_mctx *m, void *sess)
{
	struct fx_sess *s = sess;

	m->core->timer_del(&s->t);
	free(s);
}

static int fx_deliver(struct rmail_mctx *m, const struct rmail_filter_msg *msg,
		      struct rmail_filter_target *t, struct rmail_err *err)
{
	(void)m;
	(void)err;
	if (has(msg->fd, "X-Fx: folder")) {
		snprintf(t->mailbox, sizeof(t->mailbox), "Filed");
		t->flags = RMAIL_F_SEEN;
		snprintf(t->keywords, sizeof(t->keywords), "$Fx");
	}
	return 0;
}

static const struct rmail_filter_ops fx_ops = {
	.size = sizeof(struct rmail_filter_ops),
	.sess_open = fx_open,
	.sess_step = fx_step,
	.sess_close = fx_close,
	.deliver = fx_deliver,
};

RMAIL_MODULE_DEFINE(fxsess, RMAIL_KIND_FILTER, "1.0", .ops = &fx_ops);
