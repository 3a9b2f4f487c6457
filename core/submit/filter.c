/*
 * core->filter_run: every loaded FILTER module in load order.  REJECT
 * stops the chain (its code and text win); DISCARD beats ACCEPT but the
 * chain goes on so a later filter may still reject; header lines to
 * prepend accumulate.  Runs on a worker thread (filters are blocking).
 */
#include <string.h>

#include "rm.h"

int rm_filter_run(const struct rmail_filter_msg *msg,
		  struct rmail_filter_result *res, struct rmail_err *err)
{
	size_t hlen = 0;

	memset(res, 0, sizeof(*res));
	res->action = RMAIL_FILTER_ACCEPT;
	for (size_t i = 0; i < rm_module_count(); i++) {
		struct rm_module *m = rm_module_at(i);
		const struct rmail_filter_ops *ops = &m->ops.filter;
		struct rmail_filter_result one;
		size_t n;

		if (m->mctx.module->kind != RMAIL_KIND_FILTER ||
		    ops->filter == NULL)
			continue;
		memset(&one, 0, sizeof(one));
		if (ops->filter(&m->mctx, msg, &one, err) < 0)
			return -1;
		one.add_headers[sizeof(one.add_headers) - 1] = '\0';
		n = strlen(one.add_headers);
		if (n > 0 && hlen + n < sizeof(res->add_headers)) {
			memcpy(res->add_headers + hlen, one.add_headers, n + 1);
			hlen += n;
		} else if (n > 0) {
			rm_log(RMAIL_LOG_WARN,
			       "filter %s: header lines dropped: "
			       "over %zu bytes in total",
			       m->mctx.name, sizeof(res->add_headers));
		}
		if (one.action == RMAIL_FILTER_REJECT) {
			res->action = RMAIL_FILTER_REJECT;
			res->code = one.code != 0 ? one.code : 550;
			one.text[sizeof(one.text) - 1] = '\0';
			memcpy(res->text, one.text, sizeof(res->text));
			return 0;
		}
		if (one.action == RMAIL_FILTER_DISCARD)
			res->action = RMAIL_FILTER_DISCARD;
	}
	return 0;
}

/* DELIVERY targets (1.4): every FILTER module with a deliver entry, in
 * load order; a REJECT or DISCARD stops the chain, a later module's
 * mailbox/flags/keywords replace an earlier one's */
int rm_filter_target_run(const struct rmail_filter_msg *msg,
			 struct rmail_filter_target *t, struct rmail_err *err)
{
	memset(t, 0, sizeof(*t));
	t->size = sizeof(*t);
	for (size_t i = 0; i < rm_module_count(); i++) {
		struct rm_module *m = rm_module_at(i);
		const struct rmail_filter_ops *ops = &m->ops.filter;
		struct rmail_filter_target one;

		if (m->mctx.module->kind != RMAIL_KIND_FILTER ||
		    !RMAIL_HAS(ops, struct rmail_filter_ops, deliver) ||
		    ops->deliver == NULL)
			continue;
		memset(&one, 0, sizeof(one));
		one.size = sizeof(one);
		if (ops->deliver(&m->mctx, msg, &one, err) < 0)
			return -1;
		one.text[sizeof(one.text) - 1] = '\0';
		one.mailbox[sizeof(one.mailbox) - 1] = '\0';
		one.keywords[sizeof(one.keywords) - 1] = '\0';
		if (one.action == RMAIL_FILTER_REJECT ||
		    one.action == RMAIL_FILTER_DISCARD) {
			*t = one;
			if (t->action == RMAIL_FILTER_REJECT &&
			    (t->code < 500 || t->code > 599))
				t->code = 550;
			return 0;
		}
		if (one.mailbox[0] != '\0')
			memcpy(t->mailbox, one.mailbox, sizeof(t->mailbox));
		t->flags |= one.flags;
		if (one.keywords[0] != '\0')
			memcpy(t->keywords, one.keywords, sizeof(t->keywords));
		/* 1.5: extra copies add up across modules */
		for (uint32_t c = 0;
		     c < one.ncopies && c < RMAIL_FILTER_COPIES_MAX &&
		     t->ncopies < RMAIL_FILTER_COPIES_MAX;
		     c++) {
			struct rmail_filter_copy *d = &t->copies[t->ncopies++];

			*d = one.copies[c];
			d->mailbox[sizeof(d->mailbox) - 1] = '\0';
			d->keywords[sizeof(d->keywords) - 1] = '\0';
		}
	}
	return 0;
}
