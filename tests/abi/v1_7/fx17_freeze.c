/*
 * Fixture module for ABI 1.7, built against the frozen 1.7 headers
 * alone like a third-party module.  It answers two control commands
 * (they run on the loop thread, where the view ops belong), so the test
 * can put a delivery between them:
 *   "fx17 freeze USER"  opens and refreshes USER's INBOX view and takes
 *                       a frozen copy (mbox_freeze); answers
 *                       "count N unseen U same S": mbox_count,
 *                       mbox_first_unseen of the copy, and S 'y' when
 *                       the copy's mbox_version is the view's
 *   "fx17 check"        sets \Seen on the view's first message,
 *                       refreshes the view, answers
 *                       "view N U C frozen N U K" with C 'y' when the
 *                       view's mbox_version moved since the freeze and
 *                       K 'y' when the copy's did not; closes both
 * An absent 1.7 entry (RMAIL_HAS, NULL) answers "absent", an error
 * "error: ...".
 */
#include <stdio.h>
#include <string.h>

#include <rmail/rmail.h>

static struct {
	const struct rmail_store_ops *ops;
	struct rmail_mbox *view, *frozen;
	uint64_t version;
} fx17;

static const struct rmail_core *fx17_core;

static int fx17_fail(char *out, size_t outsz, const char *what,
		     const struct rmail_err *e)
{
	snprintf(out, outsz, "error: %s: %s", what, e ? e->msg : "");
	return -1;
}

static void fx17_close(void)
{
	if (fx17.frozen != NULL)
		fx17.ops->mbox_close(&fx17.frozen);
	if (fx17.view != NULL)
		fx17.ops->mbox_close(&fx17.view);
}

static int fx17_freeze(void *arg, int argc, const char *const *argv, char *out,
		       size_t outsz)
{
	const struct rmail_store_ops *ops;
	struct rmail_err e;
	void *h = NULL;

	(void)arg;
	rmail_err_clear(&e);
	if (argc < 3)
		return fx17_fail(out, outsz, "usage: fx17 freeze USER", NULL);
	ops = fx17_core->store(&h);
	if (ops == NULL ||
	    !RMAIL_HAS(ops, struct rmail_store_ops, mbox_first_unseen) ||
	    ops->mbox_freeze == NULL || ops->mbox_version == NULL ||
	    ops->mbox_first_unseen == NULL) {
		snprintf(out, outsz, "absent");
		return -1;
	}
	fx17.ops = ops;
	fx17_close();
	if (ops->mbox_open(h, argv[2], "INBOX", &fx17.view, &e) < 0)
		return fx17_fail(out, outsz, "open", &e);
	if (ops->mbox_refresh(fx17.view, &e) < 0)
		return fx17_fail(out, outsz, "refresh", &e);
	if (ops->mbox_freeze(fx17.view, &fx17.frozen, &e) < 0)
		return fx17_fail(out, outsz, "freeze", &e);
	fx17.version = ops->mbox_version(fx17.view);
	snprintf(out, outsz, "count %u unseen %u same %c",
		 ops->mbox_count(fx17.frozen),
		 ops->mbox_first_unseen(fx17.frozen),
		 ops->mbox_version(fx17.frozen) == fx17.version ? 'y' : 'n');
	return 0;
}

static int fx17_check(void *arg, int argc, const char *const *argv, char *out,
		      size_t outsz)
{
	const struct rmail_store_ops *ops = fx17.ops;
	const struct rmail_msg *first;
	struct rmail_msg now;
	struct rmail_err e;
	int rc = 0;

	(void)arg;
	(void)argc;
	(void)argv;
	rmail_err_clear(&e);
	if (fx17.frozen == NULL)
		return fx17_fail(out, outsz, "nothing frozen", NULL);
	first = ops->mbox_msg(fx17.view, 0);
	if (first == NULL ||
	    ops->msg_flags(fx17.view, first->uid, RMAIL_FLAGS_ADD, RMAIL_F_SEEN,
			   NULL, 0, &now, &e) < 0 ||
	    ops->mbox_refresh(fx17.view, &e) < 0) {
		rc = fx17_fail(out, outsz, "seen", &e);
	} else {
		snprintf(out, outsz, "view %u %u %c frozen %u %u %c",
			 ops->mbox_count(fx17.view),
			 ops->mbox_first_unseen(fx17.view),
			 ops->mbox_version(fx17.view) != fx17.version ? 'y'
								      : 'n',
			 ops->mbox_count(fx17.frozen),
			 ops->mbox_first_unseen(fx17.frozen),
			 ops->mbox_version(fx17.frozen) == fx17.version ? 'y'
									: 'n');
	}
	fx17_close();
	return rc;
}

static int fx17_start(struct rmail_mctx *m, struct rmail_err *err)
{
	fx17_core = m->core;
	if (m->core->control_register(m, "fx17 freeze", fx17_freeze, NULL) <
		    0 ||
	    m->core->control_register(m, "fx17 check", fx17_check, NULL) < 0)
		return rmail_err_set(err, RMAIL_E_INTERNAL,
				     "fx17: control commands not registered");
	return 0;
}

static void fx17_stop(struct rmail_mctx *m, int mode)
{
	(void)m;
	(void)mode;
	if (fx17.ops != NULL)
		fx17_close();
}

/* a filter that leaves every message as it is: the kind is only what
 * lets the module load with an ops table */
static int fx17_deliver(struct rmail_mctx *m,
			const struct rmail_filter_msg *msg,
			struct rmail_filter_target *t, struct rmail_err *err)
{
	(void)m;
	(void)msg;
	(void)t;
	(void)err;
	return 0;
}

static const struct rmail_filter_ops fx17_ops = {
	.size = sizeof(struct rmail_filter_ops),
	.deliver = fx17_deliver,
};

RMAIL_MODULE_DEFINE(fx17freeze, RMAIL_KIND_FILTER, "1.0", .start = fx17_start,
		    .stop = fx17_stop, .ops = &fx17_ops);
