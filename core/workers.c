/*
 * Worker thread pools for blocking work, one per kind (durable writes,
 * store reads, password hashing, and the core's own outbound delivery
 * pool, whose network waits must not hold up store reads).  A job's done
 * callback runs on the loop thread through rm_loop_post, also when it was
 * cancelled.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "rm.h"
#include "net/conn_int.h"

/* the modules' three kinds, then the core's own pools: TLS handshakes
 * and outbound deliveries */
#define NKINDS 5

struct rmail_work {
	struct rmail_work *next;
	rmail_work_fn work;
	rmail_done_fn done;
	void *arg;
	volatile int cancel;
};

struct wpool {
	const char *name;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct rmail_work *head, *tail;
	pthread_t *threads;
	uint32_t nthreads;
	bool stopping;
};

static struct wpool pools[NKINDS] = {
	{.name = "write",
	 .lock = PTHREAD_MUTEX_INITIALIZER,
	 .cond = PTHREAD_COND_INITIALIZER},
	{.name = "read",
	 .lock = PTHREAD_MUTEX_INITIALIZER,
	 .cond = PTHREAD_COND_INITIALIZER},
	{.name = "hash",
	 .lock = PTHREAD_MUTEX_INITIALIZER,
	 .cond = PTHREAD_COND_INITIALIZER},
	{.name = "tls",
	 .lock = PTHREAD_MUTEX_INITIALIZER,
	 .cond = PTHREAD_COND_INITIALIZER},
	{.name = "deliver",
	 .lock = PTHREAD_MUTEX_INITIALIZER,
	 .cond = PTHREAD_COND_INITIALIZER},
};
static bool started;
static atomic_size_t pending;

static void work_done(void *arg)
{
	struct rmail_work *w = arg;

	if (w->done != NULL)
		w->done(w->arg, w->cancel != 0);
	free(w);
	atomic_fetch_sub(&pending, 1);
}

static void *worker_main(void *arg)
{
	struct wpool *p = arg;
	struct rmail_work *w;

	/* handshakes are CPU-bound bursts: below the loop's priority, so a
	 * storm of reconnecting clients never starves live sessions (Linux
	 * sets a nice value per thread) */
	if (p == &pools[RM_WORK_TLS])
		(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);

	for (;;) {
		pthread_mutex_lock(&p->lock);
		while (p->head == NULL && !p->stopping)
			pthread_cond_wait(&p->cond, &p->lock);
		w = p->head;
		if (w == NULL) { /* stopping and drained */
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		p->head = w->next;
		if (p->head == NULL)
			p->tail = NULL;
		pthread_mutex_unlock(&p->lock);
		if (!w->cancel)
			w->work(w->arg, &w->cancel);
		rm_loop_post(work_done, w);
	}
}

/* workers.tls, or one thread fewer than the cores (at least one): the
 * loop keeps a core of its own */
static uint32_t tls_threads(void)
{
	const struct rm_config *conf = rm_conf();
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	/* per host: shared out over the worker processes */
	if (conf != NULL && conf->workers.tls > 0)
		return rm_proc_share(conf->workers.tls);
	return rm_proc_share(ncpu > 2 ? (uint32_t)(ncpu - 1) : 1);
}

int rm_workers_init(uint32_t nwrite, uint32_t nread, uint32_t nhash)
{
	const struct rm_config *conf = rm_conf();
	uint32_t n[NKINDS] = {
		nwrite, nread, nhash, tls_threads(),
		rm_proc_share(conf != NULL && conf->outbound.concurrency
				      ? conf->outbound.concurrency
				      : 4)};

	if (started)
		return 0;
	rm_loop(); /* done callbacks need the loop's async */
	for (int k = 0; k < NKINDS; k++) {
		struct wpool *p = &pools[k];

		p->nthreads = n[k] ? n[k] : 1;
		p->stopping = false;
		p->threads = rm_xcalloc(p->nthreads, sizeof(pthread_t));
		for (uint32_t i = 0; i < p->nthreads; i++) {
			int e = pthread_create(&p->threads[i], NULL,
					       worker_main, p);

			if (e != 0) {
				rm_log(RMAIL_LOG_ERR,
				       "cannot start %s worker: %s", p->name,
				       strerror(e));
				p->nthreads = i;
				return -1;
			}
		}
	}
	started = true;
	return 0;
}

static void init_from_conf(void)
{
	const struct rm_config *conf = rm_conf();
	uint32_t w = 4, r = 2, h = 2;

	if (conf != NULL) {
		if (conf->delivery.workers)
			w = conf->delivery.workers;
		if (conf->workers.read)
			r = conf->workers.read;
		if (conf->workers.hash)
			h = conf->workers.hash;
	}
	if (rm_workers_init(rm_proc_share(w), rm_proc_share(r),
			    rm_proc_share(h)) < 0)
		rm_panic("cannot start the worker pools");
}

struct rmail_work *rm_work_submit(int kind, rmail_work_fn work,
				  rmail_done_fn done, void *arg)
{
	struct rmail_work *w;
	struct wpool *p;

	RM_ASSERT(kind >= 0 && kind < NKINDS && work != NULL);
	if (!started)
		init_from_conf();
	p = &pools[kind];
	w = rm_xcalloc(1, sizeof(*w));
	w->work = work;
	w->done = done;
	w->arg = arg;
	atomic_fetch_add(&pending, 1);
	pthread_mutex_lock(&p->lock);
	if (p->tail != NULL)
		p->tail->next = w;
	else
		p->head = w;
	p->tail = w;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return w;
}

/* The handle stays valid until its done callback has run, so a caller
 * cancels only jobs whose done it has not seen yet. */
void rm_work_cancel(struct rmail_work *w)
{
	if (w != NULL)
		w->cancel = 1;
}

uint32_t rm_work_threads(int kind)
{
	if (!started)
		init_from_conf();
	return kind >= 0 && kind < NKINDS ? pools[kind].nthreads : 0;
}

size_t rm_work_pending(void)
{
	return atomic_load(&pending);
}

void rm_workers_shutdown(double timeout)
{
	struct timespec dl;
	bool late = false;

	if (!started)
		return;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += (time_t)timeout;
	dl.tv_nsec += (long)((timeout - (double)(time_t)timeout) * 1e9);
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	for (int k = 0; k < NKINDS; k++) {
		pthread_mutex_lock(&pools[k].lock);
		pools[k].stopping = true;
		pthread_cond_broadcast(&pools[k].cond);
		pthread_mutex_unlock(&pools[k].lock);
	}
	for (int k = 0; k < NKINDS; k++) {
		struct wpool *p = &pools[k];

		for (uint32_t i = 0; i < p->nthreads; i++) {
			if (late) {
				pthread_detach(p->threads[i]);
				continue;
			}
			if (pthread_timedjoin_np(p->threads[i], NULL, &dl) ==
			    ETIMEDOUT) {
				late = true;
				pthread_detach(p->threads[i]);
			}
		}
		if (late) {
			/* what is still queued is cancelled, not run */
			pthread_mutex_lock(&p->lock);
			for (struct rmail_work *w = p->head; w; w = w->next)
				w->cancel = 1;
			pthread_mutex_unlock(&p->lock);
		}
		free(p->threads);
		p->threads = NULL;
		p->nthreads = 0;
	}
	if (late)
		rm_log(RMAIL_LOG_WARN,
		       "worker pools: work still running "
		       "after %.0f s, left behind",
		       timeout);
	/* the loop may be stopped already: deliver the done callbacks */
	rm_loop_drain_posts();
	started = late; /* detached threads still use the pools */
}
