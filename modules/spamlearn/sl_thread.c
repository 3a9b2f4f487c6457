/*
 * The sender: one thread, the queue in name order (the order of the
 * users' moves, so "spam, then ham again" ends as ham).  An entry that
 * fails is retried with doubling waits from retry_initial to retry_max
 * and holds back the ones behind it; it is dropped when rspamd refuses
 * it for good or when it is older than max_age.
 *
 * Several daemons may share a mail root and so the queue: only the one
 * holding flock(2) on {queue_dir}/send.lease sends (a rspamd must not
 * learn a message twice); the others queue and wait for the lease, and
 * the holder finds their entries at its next pass (at most 5 s).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "sl.h"

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* sleep up to `secs` or until kicked/stopped; true when stopping */
static bool nap(struct sl *sl, double secs, bool wake_on_kick)
{
	struct timespec until;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)secs;
	until.tv_nsec += (long)((secs - (double)(time_t)secs) * 1e9);
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&sl->lock);
	while (!sl->stop && !(wake_on_kick && sl->kicked))
		if (pthread_cond_timedwait(&sl->cond, &sl->lock, &until) ==
		    ETIMEDOUT)
			break;
	if (wake_on_kick)
		sl->kicked = false;
	stop = sl->stop;
	pthread_mutex_unlock(&sl->lock);
	return stop;
}

/* one entry to its end (sent or dropped); false when stopping */
static bool send_one(struct sl *sl, const char *name)
{
	const struct sl_conf *c = &sl->conf;
	const struct rmail_core *core = sl->m->core;
	double wait = c->retry_initial, queued;
	char kind[8], why[400];
	size_t len;
	char *msg;
	long status;

	if (sl_queue_read(sl->dir, name, kind, sizeof(kind), &msg, &len,
			  &queued) < 0) {
		core->log(sl->m, RMAIL_LOG_WARN,
			  "learn %s: unreadable, dropped", name);
		sl_queue_done(sl->dir, name);
		return true;
	}
	for (unsigned attempt = 1;; attempt++) {
		int r = sl_post(c, sl->password, kind, msg, len, &sl->stop,
				&status, why, sizeof(why));

		if (r == SL_POST_OK) {
			core->log(sl->m, RMAIL_LOG_INFO,
				  "learn%s %s: done (%s)", kind, name, why);
			break;
		}
		if (r == SL_POST_PERMANENT) {
			core->log(sl->m, RMAIL_LOG_WARN,
				  "learn%s %s: refused, dropped: %s", kind,
				  name, why);
			break;
		}
		if (wall() - queued > c->max_age) {
			core->log(sl->m, RMAIL_LOG_WARN,
				  "learn%s %s: given up after %u attempts: %s",
				  kind, name, attempt, why);
			break;
		}
		core->log(sl->m, RMAIL_LOG_WARN,
			  "learn%s %s: attempt %u failed, retry in %.0f s: %s",
			  kind, name, attempt, wait, why);
		if (nap(sl, wait, false)) {
			free(msg);
			return false;
		}
		wait = wait * 2 < c->retry_max ? wait * 2 : c->retry_max;
	}
	free(msg);
	sl_queue_done(sl->dir, name);
	return true;
}

/* this process sends for the mail root; kept until the thread ends */
static bool take_lease(struct sl *sl, int *fd)
{
	char path[4096];

	if (*fd < 0) {
		snprintf(path, sizeof(path), "%s/send.lease", sl->dir);
		*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (*fd < 0)
			return false;
	}
	return flock(*fd, LOCK_EX | LOCK_NB) == 0;
}

static void *run(void *arg)
{
	struct sl *sl = arg;
	int lease = -1;
	bool held = false;

	for (;;) {
		size_t n;
		char **v;
		bool go = true;

		if (!held && !(held = take_lease(sl, &lease))) {
			if (nap(sl, 5, false))
				break;
			continue;
		}
		v = sl_queue_list(sl->dir, &n);

		for (size_t i = 0; i < n && go; i++)
			go = send_one(sl, v[i]);
		sl_names_free(v, n);
		if (!go)
			break;
		/* new entries kick; the timeout catches a lost kick and the
		 * entries other daemons on the mail root queue */
		if (n == 0 && nap(sl, 5, true))
			break;
	}
	if (lease >= 0)
		close(lease); /* releases the lease */
	return NULL;
}

int sl_thread_start(struct sl *sl, struct rmail_err *err)
{
	int e = pthread_create(&sl->thread, NULL, run, sl);

	if (e != 0)
		return rmail_err_set(err, RMAIL_E_INTERNAL,
				     "pthread_create: %s", strerror(e));
	sl->running = true;
	return 0;
}

void sl_thread_kick(struct sl *sl)
{
	pthread_mutex_lock(&sl->lock);
	sl->kicked = true;
	pthread_cond_signal(&sl->cond);
	pthread_mutex_unlock(&sl->lock);
}

void sl_thread_stop(struct sl *sl)
{
	if (!sl->running)
		return;
	pthread_mutex_lock(&sl->lock);
	sl->stop = true;
	pthread_cond_signal(&sl->cond);
	pthread_mutex_unlock(&sl->lock);
	pthread_join(sl->thread, NULL);
	sl->running = false;
}
