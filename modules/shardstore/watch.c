/*
 * The change feed.  Every change appends to the mailbox's change log, so
 * watching that one file sees every process's changes: one inotify
 * descriptor per process (through core->io_add), and a poll of the log
 * size every shardstore.poll_interval when inotify is off or the mail
 * root is on a network filesystem, where inotify never sees another
 * host's changes.  Callbacks are coalesced.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ss_mbox.h"

#define SS_COALESCE 0.05

struct rmail_watch {
	struct ss_watches *ws;
	struct rmail_watch *next;
	struct rmail_mbox *mb;
	rmail_watch_fn cb;
	void *arg;
	int wd;
	off_t last_size;
	bool pending;
};

struct ss_watches {
	struct ss_store *st;
	int ifd;
	struct rmail_io *io;
	struct rmail_timer *fire;
	struct rmail_timer *poll;
	struct rmail_watch *list;
};

static void fire_cb(void *arg)
{
	struct ss_watches *ws = arg;
	struct rmail_watch *w;

	/* one-shot: deleting it re-arms schedule() */
	ws->st->core->timer_del(&ws->fire);
	/* a callback may delete any watch, the next one included: look
	 * for the next pending one from the head after each call */
	for (;;) {
		for (w = ws->list; w != NULL && !w->pending; w = w->next)
			;
		if (w == NULL)
			break;
		w->pending = false;
		w->cb(w->arg);
	}
}

static void schedule(struct ss_watches *ws)
{
	if (ws->fire == NULL)
		ws->fire = ws->st->core->timer_add(SS_COALESCE, 0, fire_cb, ws);
}

static void inotify_cb(void *arg, int fd, int revents)
{
	struct ss_watches *ws = arg;
	char buf[4096] __attribute__((aligned(8)));
	ssize_t n;

	(void)revents;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		ssize_t off;

		for (off = 0; off < n;) {
			struct inotify_event *ev = (void *)(buf + off);
			struct rmail_watch *w;

			off += (ssize_t)sizeof(*ev) + ev->len;
			for (w = ws->list; w != NULL; w = w->next)
				if (w->wd == ev->wd) {
					w->pending = true;
					schedule(ws);
				}
		}
	}
}

static off_t log_size(struct rmail_mbox *mb)
{
	struct stat sb;
	int fd;

	if (mb->st->fs_name == NULL)
		return fstatat(mb->dirfd, "changes", &sb, 0) == 0 ? sb.st_size
								  : 0;
	/* NFS revalidates attributes on open (close-to-open), a stat may
	 * be answered from the attribute cache for up to a minute */
	fd = openat(mb->dirfd, "changes", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &sb) < 0)
		sb.st_size = 0;
	close(fd);
	return sb.st_size;
}

static void poll_cb(void *arg)
{
	struct ss_watches *ws = arg;
	struct rmail_watch *w;

	for (w = ws->list; w != NULL; w = w->next) {
		off_t sz = log_size(w->mb);

		if (sz != w->last_size) {
			w->last_size = sz;
			w->pending = true;
			schedule(ws);
		}
	}
}

static struct ss_watches *watches(struct ss_store *st)
{
	const struct ss_conf *c = ss_conf(st);
	struct ss_watches *ws = st->watches;

	if (ws != NULL)
		return ws;
	ws = calloc(1, sizeof(*ws));
	if (ws == NULL)
		return NULL;
	ws->st = st;
	ws->ifd = -1;
	if (c->inotify) {
		ws->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (ws->ifd >= 0)
			ws->io = st->core->io_add(ws->ifd, RMAIL_IO_READ,
						  inotify_cb, ws);
	}
	if (ws->ifd < 0 || st->fs_name != NULL)
		ws->poll = st->core->timer_add(c->poll_interval,
					       c->poll_interval, poll_cb, ws);
	st->watches = ws;
	return ws;
}

int ss_watch_add(void *h, const char *user, const char *mailbox,
		 rmail_watch_fn cb, void *arg, struct rmail_watch **w_r,
		 struct rmail_err *err)
{
	struct ss_store *st = h;
	struct ss_watches *ws = watches(st);
	struct rmail_watch *w;
	char path[SS_PATH_MAX + 512];

	if (ws == NULL)
		return rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
	if (ss_mbox_get(st, user, mailbox, &w->mb, err) < 0) {
		free(w);
		return -1;
	}
	w->ws = ws;
	w->cb = cb;
	w->arg = arg;
	w->wd = -1;
	w->last_size = log_size(w->mb);
	if (ws->ifd >= 0) {
		int fd =
			openat(w->mb->dirfd, "changes",
			       O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

		if (fd >= 0)
			close(fd);
		snprintf(path, sizeof(path), "%s/%s/changes", st->mail_root,
			 w->mb->rel);
		w->wd = inotify_add_watch(
			ws->ifd, path,
			IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF);
		if (w->wd < 0) {
			ss_mbox_put(&w->mb);
			free(w);
			return rmail_err_set(err, RMAIL_E_IO, "inotify: %s",
					     strerror(errno));
		}
	}
	w->next = ws->list;
	ws->list = w;
	*w_r = w;
	return 0;
}

void ss_watch_del(struct rmail_watch **wp)
{
	struct rmail_watch *w = *wp, **pp, *o;
	struct ss_watches *ws;
	bool shared = false;

	if (w == NULL)
		return;
	*wp = NULL;
	ws = w->ws;
	for (pp = &ws->list; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	for (o = ws->list; o != NULL; o = o->next)
		if (o->wd == w->wd)
			shared = true;
	if (w->wd >= 0 && !shared)
		inotify_rm_watch(ws->ifd, w->wd);
	ss_mbox_put(&w->mb);
	free(w);
}

void ss_watches_free(struct ss_store *st)
{
	struct ss_watches *ws = st->watches;

	if (ws == NULL)
		return;
	while (ws->list != NULL) {
		struct rmail_watch *w = ws->list;

		ss_watch_del(&w);
	}
	if (ws->fire != NULL)
		st->core->timer_del(&ws->fire);
	if (ws->poll != NULL)
		st->core->timer_del(&ws->poll);
	if (ws->io != NULL)
		st->core->io_del(&ws->io);
	if (ws->ifd >= 0)
		close(ws->ifd);
	free(ws);
	st->watches = NULL;
}
