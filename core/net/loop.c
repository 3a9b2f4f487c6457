/*
 * The event loop: libev's default loop, timers, fd watches and a
 * thread-safe post queue (ev_async + mutex) that worker threads use to
 * hand results back to the loop thread.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include <ev.h>

#include "rm.h"
#include "conn_int.h"

struct rmail_timer {
	ev_timer w;
	rmail_timer_fn cb;
	void *arg;
};

struct rmail_io {
	ev_io w;
	rmail_io_fn cb;
	void *arg;
};

struct post {
	struct post *next;
	rmail_post_fn cb;
	void *arg;
};

static struct ev_loop *loop;
static pthread_t loop_thread;
static ev_async post_async;
static pthread_mutex_t post_lock = PTHREAD_MUTEX_INITIALIZER;
static struct post *post_head, *post_tail;

void rm_loop_drain_posts(void)
{
	struct post *list, *p;

	/* take the whole list: callbacks may post again */
	pthread_mutex_lock(&post_lock);
	list = post_head;
	post_head = post_tail = NULL;
	pthread_mutex_unlock(&post_lock);
	while (list != NULL) {
		p = list;
		list = p->next;
		p->cb(p->arg);
		free(p);
	}
}

static void post_cb(struct ev_loop *l, ev_async *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	rm_loop_drain_posts();
}

int rm_loop_init(void)
{
	if (loop != NULL)
		return 0;
	/* a peer that resets mid-write must not kill the daemon */
	signal(SIGPIPE, SIG_IGN);
	loop = ev_default_loop(EVFLAG_AUTO);
	if (loop == NULL) {
		rm_log(RMAIL_LOG_ERR, "cannot initialise the event loop");
		return -1;
	}
	loop_thread = pthread_self();
	ev_async_init(&post_async, post_cb);
	ev_async_start(loop, &post_async);
	return 0;
}

void *rm_loop(void)
{
	if (loop == NULL && rm_loop_init() < 0)
		rm_panic("no event loop");
	return loop;
}

void rm_loop_run(void)
{
	ev_run(rm_loop(), 0);
}

void rm_loop_break(void)
{
	ev_break(rm_loop(), EVBREAK_ALL);
}

bool rm_loop_is_current(void)
{
	return loop != NULL && pthread_equal(loop_thread, pthread_self());
}

double rm_now(void)
{
	return ev_now(rm_loop());
}

static void timer_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	struct rmail_timer *t = rm_container_of(w, struct rmail_timer, w);

	(void)l;
	(void)revents;
	t->cb(t->arg);
}

/* A one-shot timer stays allocated (inactive) after it fired until
 * timer_del: freeing it behind the module's back would leave it a
 * dangling handle. */
struct rmail_timer *rm_timer_add(double after, double repeat, rmail_timer_fn cb,
				 void *arg)
{
	struct rmail_timer *t = rm_xcalloc(1, sizeof(*t));

	t->cb = cb;
	t->arg = arg;
	ev_timer_init(&t->w, timer_cb, after < 0 ? 0 : after,
		      repeat < 0 ? 0 : repeat);
	ev_timer_start(rm_loop(), &t->w);
	return t;
}

void rm_timer_del(struct rmail_timer **tp)
{
	struct rmail_timer *t = *tp;

	if (t == NULL)
		return;
	ev_timer_stop(rm_loop(), &t->w);
	free(t);
	*tp = NULL;
}

static void io_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct rmail_io *io = rm_container_of(w, struct rmail_io, w);
	int ev = 0;

	(void)l;
	if (revents & EV_READ)
		ev |= RMAIL_IO_READ;
	if (revents & EV_WRITE)
		ev |= RMAIL_IO_WRITE;
	io->cb(io->arg, w->fd, ev);
}

struct rmail_io *rm_io_add(int fd, int events, rmail_io_fn cb, void *arg)
{
	struct rmail_io *io = rm_xcalloc(1, sizeof(*io));
	int ev = 0;

	if (events & RMAIL_IO_READ)
		ev |= EV_READ;
	if (events & RMAIL_IO_WRITE)
		ev |= EV_WRITE;
	io->cb = cb;
	io->arg = arg;
	ev_io_init(&io->w, io_cb, fd, ev);
	ev_io_start(rm_loop(), &io->w);
	return io;
}

void rm_io_del(struct rmail_io **iop)
{
	struct rmail_io *io = *iop;

	if (io == NULL)
		return;
	ev_io_stop(rm_loop(), &io->w);
	free(io);
	*iop = NULL;
}

void rm_loop_post(rmail_post_fn cb, void *arg)
{
	struct post *p = rm_xmalloc(sizeof(*p));

	p->next = NULL;
	p->cb = cb;
	p->arg = arg;
	pthread_mutex_lock(&post_lock);
	if (post_tail != NULL)
		post_tail->next = p;
	else
		post_head = p;
	post_tail = p;
	pthread_mutex_unlock(&post_lock);
	/* ev_async_send is the one libev call safe from any thread */
	if (loop != NULL)
		ev_async_send(loop, &post_async);
}
