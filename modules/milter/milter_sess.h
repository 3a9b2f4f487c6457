/*
 * One SMTP session's milters: a connection per configured milter that
 * applies to the listener, driven on the loop with non-blocking
 * sockets (io_add/timer_add), one step at a time through the milters
 * in order.
 */
#ifndef MILTER_SESS_H
#define MILTER_SESS_H

#include <rmail/rmail.h>

#include "milter_conf.h"

struct milter_mod {
	struct rmail_mctx *m;
	const struct rmail_core *core;
	struct milter_set *set; /* the current config */
};

struct milter_idle {
	const struct rmail_core *k;
	int fd;
	struct rmail_io *io; /* EOF or junk from the milter: drop it */
	uint32_t version, actions, pflags;
	char *macros[MILTER_M_COUNT];
	struct milter_def *def;
};

struct milter_sess;

struct milter_sess *milter_sess_new(struct milter_mod *mod,
				    const struct rmail_filter_step *st);
void milter_sess_step(struct milter_sess *ms,
		      const struct rmail_filter_step *st,
		      struct rmail_filter_reply *r, rmail_filter_done_fn done,
		      void *arg);
void milter_sess_free(struct milter_sess *ms);

#endif
