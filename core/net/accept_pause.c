/*
 * Out of file descriptors while accepting.  accept() failing with
 * EMFILE/ENFILE leaves the connection in the backlog, so the listener
 * stays readable and libev calls back at once, forever: the loop spins
 * and logs as fast as it can.  Instead the listener stops watching for
 * a short while and resumes when the pause ends or a connection closes
 * (a descriptor came back), whichever is first.  The log says so once
 * per episode and then at most every LOG_EVERY_S with a count.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conn_int.h"

#define PAUSE_S 0.1
#define LOG_EVERY_S 10.0

struct paused {
	struct paused *next;
	ev_io *io;
};

static struct paused *paused;
static ev_timer resume_timer;
static bool timer_ready;
static unsigned pauses_unlogged;
static ev_tstamp last_log = -1e9;

static void resume_all(void)
{
	struct paused *p;

	if (timer_ready)
		ev_timer_stop(rm_loop(), &resume_timer);
	while ((p = paused) != NULL) {
		paused = p->next;
		ev_io_start(rm_loop(), p->io);
		free(p);
	}
}

static void resume_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	resume_all();
}

void rm_accept_pause(ev_io *io, const char *bound, const char *where, int err)
{
	struct ev_loop *loop = rm_loop();
	struct paused *p;
	ev_tstamp now = ev_now(loop);

	ev_io_stop(loop, io);
	for (p = paused; p != NULL && p->io != io; p = p->next)
		;
	if (p == NULL) {
		p = rm_xcalloc(1, sizeof(*p));
		p->io = io;
		p->next = paused;
		paused = p;
	}
	if (!timer_ready) {
		ev_timer_init(&resume_timer, resume_cb, PAUSE_S, 0.);
		timer_ready = true;
	}
	if (!ev_is_active(&resume_timer)) {
		ev_timer_set(&resume_timer, PAUSE_S, 0.);
		ev_timer_start(loop, &resume_timer);
	}
	pauses_unlogged++;
	if (now - last_log >= LOG_EVERY_S) {
		rm_log(RMAIL_LOG_WARN,
		       "accept on %s (%s): %s; accepting paused %.0f ms at a "
		       "time (%u pause(s) since the last report): raise the "
		       "file descriptor limit or lower limits.max_connections",
		       bound, where, strerror(err), PAUSE_S * 1e3,
		       pauses_unlogged);
		pauses_unlogged = 0;
		last_log = now;
	}
}

void rm_accept_fd_freed(void)
{
	if (paused != NULL)
		resume_all();
}

void rm_accept_pause_forget(void)
{
	struct paused *p;

	if (timer_ready)
		ev_timer_stop(rm_loop(), &resume_timer);
	while ((p = paused) != NULL) {
		paused = p->next;
		free(p);
	}
}
