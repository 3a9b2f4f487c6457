/*
 * Keeping the index up to date, off the loop: index_update (loop)
 * snapshots the view's UIDs and hands them with the open view to the
 * one index thread, which indexes what lies above the file's
 * high-water UID, a batch per transaction, under the per-host writer
 * lease.  Requests for a mailbox already queued are coalesced into one
 * more pass after it.  Searches meanwhile read what is indexed and
 * scan the rest (the backlog), so nothing is ever missing.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "idx.h"
#include "index.h"
#include "rm.h"

#define BATCH 64

/* Clients' writes come first: while requests keep arriving (a burst of
 * appends) the thread waits up to YIELD_MAX seconds before each batch,
 * until none came for QUIET seconds.  Its page-cache writes would
 * otherwise ride on the appends' fsyncs (ext4 ordered mode). */
#define QUIET 0.5
#define YIELD_MAX 2.0

static _Atomic double last_request; /* monotonic seconds */

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void yield_to_clients(const volatile int *cancel)
{
	double t0 = mono();

	while (mono() - last_request < QUIET && mono() - t0 < YIELD_MAX &&
	       !(cancel != NULL && *cancel)) {
		struct timespec d = {0, 100 * 1000 * 1000};

		nanosleep(&d, NULL);
	}
}

struct job {
	struct job *next;  /* queue or done_list, under mu */
	struct job *anext; /* active, loop thread */
	char *user, *mailbox;
	uint32_t uidvalidity;
	struct rmail_mbox *mb;
	uint32_t *uids;
	uint64_t *sizes;
	size_t n;
	bool again; /* asked for while queued or running */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct job *queue, *done_list; /* under mu */
static struct job *active;	      /* loop thread: queued or running */
static pthread_t thr;
static bool started;
static volatile int stopping;

/* read the whole message; NULL when it is gone (*gone_r) or unreadable */
static char *read_msg(const struct rmail_store_ops *ops, struct rmail_mbox *mb,
		      uint32_t uid, uint64_t size, size_t *len_r, bool *gone_r)
{
	struct rmail_err err;

	*gone_r = false;
	rmail_err_clear(&err);
	size_t cap = (size_t)size + 1, len = 0, got;
	char *p = rm_xmalloc(cap);

	for (;;) {
		if (len + 65536 > cap) {
			cap = (len + 65536) * 2;
			p = rm_xrealloc(p, cap);
		}
		if (ops->msg_read(mb, uid, len, p + len, cap - len - 1, &got,
				  &err) < 0) {
			*gone_r = err.code == RMAIL_E_NOENT;
			free(p);
			return NULL;
		}
		if (got == 0)
			break;
		len += got;
	}
	*len_r = len;
	return p;
}

/* drop the rows of messages the view no longer has (expunged) */
static int prune(sqlite3 *db, int64_t mid, uint32_t hwm, const uint32_t *uids,
		 size_t n)
{
	sqlite3_stmt *st = NULL;
	size_t live = 0, i = 0, ndead = 0, capdead = 0, k;
	struct dead {
		int64_t id;
		uint32_t uid;
	} *dead = NULL;
	int64_t rows = 0;
	int rc;

	while (live < n && uids[live] <= hwm)
		live++;
	rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM msg WHERE mbox=?", -1,
				&st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, mid);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		rows = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return rc;
	if (rows <= (int64_t)live)
		return SQLITE_OK;
	/* the dead first, then the deletes: no table changes under a
	 * running SELECT */
	rc = sqlite3_prepare_v2(db,
				"SELECT id, uid FROM msg WHERE mbox=? ORDER BY "
				"uid",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, mid);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint32_t uid = (uint32_t)sqlite3_column_int64(st, 1);

		while (i < live && uids[i] < uid)
			i++;
		if ((i < live && uids[i] == uid) || uid > hwm)
			continue;
		if (ndead == capdead) {
			capdead = capdead ? capdead * 2 : 64;
			dead = rm_xrealloc(dead, capdead * sizeof(*dead));
		}
		dead[ndead].id = sqlite3_column_int64(st, 0);
		dead[ndead++].uid = uid;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(dead);
		return rc;
	}
	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	for (k = 0; rc == SQLITE_OK && k < ndead; k++)
		rc = idx_db_drop(db, mid, dead[k].uid, dead[k].id);
	free(dead);
	if (rc == SQLITE_OK)
		return sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* the caller holds the user's lease */
static int index_locked(const char *user, const char *mailbox,
			uint32_t uidvalidity, struct rmail_mbox *mb,
			const uint32_t *uids, const uint64_t *sizes, size_t n,
			const volatile int *cancel)
{
	const struct rmail_store_ops *ops = rm_store(NULL);
	sqlite3 *db;
	uint32_t hwm;
	int64_t mid;
	size_t i = 0;
	int rc = SQLITE_OK, done = 0;

	if (ops == NULL || ops->msg_read == NULL)
		return -1;
	db = idx_db_open(user, true);
	if (db == NULL)
		return -1;
	mid = idx_db_mbox(db, mailbox, uidvalidity, true, &hwm);
	if (mid <= 0)
		goto out;
	rc = prune(db, mid, hwm, uids, n);
	while (i < n && uids[i] <= hwm)
		i++;
	while (rc == SQLITE_OK && i < n && !(cancel != NULL && *cancel)) {
		size_t end = i + BATCH < n ? i + BATCH : n;

		yield_to_clients(cancel);
		rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		for (; rc == SQLITE_OK && i < end; i++) {
			struct idx_doc d;
			size_t len;
			bool gone;
			char *data = read_msg(ops, mb, uids[i], sizes[i], &len,
					      &gone);

			if (data == NULL && gone)
				continue; /* expunged meanwhile */
			if (data == NULL) {
				/* not past it: a search would take it
				 * for a message without the text */
				rc = SQLITE_ABORT;
				break;
			}
			if (idx_doc_build(data, len, &d) == 0)
				rc = idx_db_put(db, mid, uids[i], &d);
			idx_doc_free(&d);
			free(data);
			done++;
		}
		if (rc == SQLITE_OK)
			rc = idx_db_set_hwm(db, mid, uids[i - 1]);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		else
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	}
out:
	if (mid < 0 || (rc != SQLITE_OK && idx_db_is_corrupt(rc))) {
		rm_log(RMAIL_LOG_WARN,
		       "index: the file of %s is unusable (%s): removed, it "
		       "will be rebuilt",
		       user, sqlite3_errstr(rc));
		idx_db_close(&db);
		idx_db_remove(user);
		return -1;
	}
	idx_db_close(&db);
	return rc == SQLITE_OK ? done : -1;
}

int rm_index_mailbox(const char *user, const char *mailbox,
		     uint32_t uidvalidity, struct rmail_mbox *mb,
		     const uint32_t *uids, const uint64_t *sizes, size_t n,
		     const volatile int *cancel)
{
	int lease = idx_lease_take(user), rc;

	if (lease < 0)
		return 0; /* another writer on this host has it */
	rc = index_locked(user, mailbox, uidvalidity, mb, uids, sizes, n,
			  cancel);
	idx_lease_drop(lease);
	return rc;
}

/* ---- the thread ----------------------------------------------------- */

static void start_job(const char *user, const char *mailbox);

static void job_free(struct job *j)
{
	free(j->user);
	free(j->mailbox);
	free(j->uids);
	free(j->sizes);
	free(j);
}

/* loop: close what the thread finished, run again what was asked for */
static void drain(void *arg)
{
	const struct rmail_store_ops *ops = rm_store(NULL);
	struct job *j, *next;

	(void)arg;
	pthread_mutex_lock(&mu);
	j = done_list;
	done_list = NULL;
	pthread_mutex_unlock(&mu);
	for (; j != NULL; j = next) {
		struct job **pp;
		bool again = j->again;

		next = j->next;
		for (pp = &active; *pp != NULL; pp = &(*pp)->anext)
			if (*pp == j) {
				*pp = j->anext;
				break;
			}
		if (ops != NULL && j->mb != NULL)
			ops->mbox_close(&j->mb);
		if (again && !stopping)
			start_job(j->user, j->mailbox);
		job_free(j);
	}
}

static void *thread_main(void *arg)
{
	/* a cache filling in the background must not slow what clients
	 * wait for: the lowest CPU share and idle-class disk I/O (Linux
	 * nice and ioprio are per thread) */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
	(void)syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */,
		      (int)syscall(SYS_gettid),
		      3 << 13 /* IOPRIO_CLASS_IDLE */);
	(void)arg;
	pthread_mutex_lock(&mu);
	for (;;) {
		struct job *j;

		while (queue == NULL && !stopping)
			pthread_cond_wait(&cv, &mu);
		if (queue == NULL)
			break;
		j = queue;
		queue = j->next;
		pthread_mutex_unlock(&mu);
		if (!stopping)
			(void)rm_index_mailbox(j->user, j->mailbox,
					       j->uidvalidity, j->mb, j->uids,
					       j->sizes, j->n, &stopping);
		pthread_mutex_lock(&mu);
		j->next = done_list;
		done_list = j;
		if (!stopping)
			rm_loop_post(drain, NULL);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void start_job(const char *user, const char *mailbox)
{
	void *h;
	const struct rmail_store_ops *ops = rm_store(&h);
	struct rmail_mbox_status st = {.size = sizeof(st)};
	struct rmail_err err;
	struct job *j;
	uint32_t i, n;

	if (!started || stopping || ops == NULL || ops->mbox_open == NULL ||
	    ops->msg_read == NULL)
		return;
	for (j = active; j != NULL; j = j->anext)
		if (strcmp(j->user, user) == 0 &&
		    strcmp(j->mailbox, mailbox) == 0) {
			j->again = true;
			return;
		}
	j = rm_xcalloc(1, sizeof(*j));
	if (ops->mbox_open(h, user, mailbox, &j->mb, &err) < 0) {
		free(j);
		return;
	}
	ops->mbox_info(j->mb, &st);
	j->user = rm_xstrdup(user);
	j->mailbox = rm_xstrdup(mailbox);
	j->uidvalidity = st.uidvalidity;
	n = ops->mbox_count(j->mb);
	j->uids = rm_xmalloc(((size_t)n + 1) * sizeof(uint32_t));
	j->sizes = rm_xmalloc(((size_t)n + 1) * sizeof(uint64_t));
	for (i = 0; i < n; i++) {
		const struct rmail_msg *m = ops->mbox_msg(j->mb, i);

		j->uids[i] = m->uid;
		j->sizes[i] = m->size;
	}
	j->n = n;
	j->anext = active;
	active = j;
	pthread_mutex_lock(&mu);
	/* FIFO is not needed: one job per mailbox at a time */
	j->next = queue;
	queue = j;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
}

/* Requests are gathered for a moment, so a burst of appends costs the
 * loop one snapshot of the view, not one per message. */
#define SETTLE 0.2

struct dirty {
	struct dirty *next;
	char *user, *mailbox;
};

static struct dirty *dirty; /* under mu */
static bool armed;	    /* under mu: a flush is coming */
static struct rmail_timer *flush_timer;

static void flush(void *arg)
{
	struct dirty *d, *next;

	(void)arg;
	rm_timer_del(&flush_timer);
	pthread_mutex_lock(&mu);
	d = dirty;
	dirty = NULL;
	armed = false;
	pthread_mutex_unlock(&mu);
	for (; d != NULL; d = next) {
		next = d->next;
		start_job(d->user, d->mailbox);
		free(d->user);
		free(d->mailbox);
		free(d);
	}
}

static void arm(void *arg)
{
	(void)arg;
	if (flush_timer == NULL)
		flush_timer = rm_timer_add(SETTLE, 0, flush, NULL);
}

void rm_index_update(const char *user, const char *mailbox)
{
	struct dirty *d;
	bool post;

	if (!started || stopping || user == NULL || mailbox == NULL)
		return;
	if (strcasecmp(mailbox, "INBOX") == 0)
		mailbox = "INBOX";
	last_request = mono();
	pthread_mutex_lock(&mu);
	for (d = dirty; d != NULL; d = d->next)
		if (strcmp(d->user, user) == 0 &&
		    strcmp(d->mailbox, mailbox) == 0)
			break;
	if (d == NULL) {
		d = rm_xcalloc(1, sizeof(*d));
		d->user = rm_xstrdup(user);
		d->mailbox = rm_xstrdup(mailbox);
		d->next = dirty;
		dirty = d;
	}
	post = !armed;
	armed = true;
	pthread_mutex_unlock(&mu);
	if (post)
		rm_loop_post(arm, NULL);
}

int rm_index_start(void)
{
	if (started || idx_dir()[0] == '\0')
		return 0;
	stopping = 0;
	if (pthread_create(&thr, NULL, thread_main, NULL) != 0)
		return -1;
	started = true;
	return 0;
}

void rm_index_stop(void)
{
	if (!started)
		return;
	pthread_mutex_lock(&mu);
	stopping = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(thr, NULL);
	started = false;
	rm_timer_del(&flush_timer);
	pthread_mutex_lock(&mu);
	while (dirty != NULL) {
		struct dirty *d = dirty;

		dirty = d->next;
		free(d->user);
		free(d->mailbox);
		free(d);
	}
	armed = false;
	pthread_mutex_unlock(&mu);
	/* queued jobs never ran: hand them to drain with the finished */
	pthread_mutex_lock(&mu);
	while (queue != NULL) {
		struct job *j = queue;

		queue = j->next;
		j->next = done_list;
		done_list = j;
	}
	pthread_mutex_unlock(&mu);
	drain(NULL);
}

/* ---- rebuild (the CLI) ---------------------------------------------- */

struct names {
	char **v;
	size_t n;
};

static void add_name(void *arg, const struct rmail_mbox_entry *e)
{
	struct names *nm = arg;

	if (e->attrs & (RMAIL_MBOX_NOSELECT | RMAIL_MBOX_NONEXISTENT))
		return;
	nm->v = rm_xrealloc(nm->v, (nm->n + 1) * sizeof(char *));
	nm->v[nm->n++] = rm_xstrdup(e->name);
}

int64_t rm_index_rebuild(const char *user, struct rmail_err *err)
{
	void *h;
	const struct rmail_store_ops *ops = rm_store(&h);
	struct rmail_user u;
	struct names nm = {0};
	int64_t total = 0;
	size_t k;
	int lease;

	if (idx_dir()[0] == '\0')
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "the index is disabled (index.enabled)");
	if (ops == NULL || ops->mbox_list == NULL || ops->mbox_open == NULL ||
	    ops->msg_read == NULL)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "the store cannot list messages");
	if (ops->user_get(h, user, &u, err) < 0)
		return -1;
	if (ops->mbox_list(h, u.address, add_name, &nm, err) < 0)
		return -1;
	/* the daemon may be writing: wait for its batch, then hold the
	 * file until every mailbox is in */
	for (int k2 = 0; (lease = idx_lease_take(u.address)) < 0; k2++) {
		struct timespec d = {0, 50 * 1000 * 1000};

		if (k2 >= 1200) {
			total = rmail_err_set(err, RMAIL_E_BUSY,
					      "another process keeps writing "
					      "the index of %s",
					      u.address);
			goto done;
		}
		nanosleep(&d, NULL);
	}
	idx_db_remove(u.address);
	for (k = 0; k < nm.n; k++) {
		struct rmail_mbox_status st = {.size = sizeof(st)};
		struct rmail_mbox *mb = NULL;
		uint32_t *uids, i, n;
		uint64_t *sizes;
		int rc;

		if (ops->mbox_open(h, u.address, nm.v[k], &mb, err) < 0)
			continue;
		ops->mbox_info(mb, &st);
		n = ops->mbox_count(mb);
		uids = rm_xmalloc(((size_t)n + 1) * sizeof(uint32_t));
		sizes = rm_xmalloc(((size_t)n + 1) * sizeof(uint64_t));
		for (i = 0; i < n; i++) {
			uids[i] = ops->mbox_msg(mb, i)->uid;
			sizes[i] = ops->mbox_msg(mb, i)->size;
		}
		rc = index_locked(u.address, nm.v[k], st.uidvalidity, mb, uids,
				  sizes, n, NULL);
		ops->mbox_close(&mb);
		free(uids);
		free(sizes);
		if (rc < 0) {
			total = rmail_err_set(err, RMAIL_E_IO,
					      "indexing %s failed (another "
					      "writer, or the file)",
					      nm.v[k]);
			break;
		}
		total += rc;
	}
	if (total >= 0) {
		/* one segment per term: a lookup then reads one doclist,
		 * not one per batch the rebuild committed */
		sqlite3 *db = idx_db_open(u.address, false);

		if (db != NULL)
			(void)sqlite3_exec(db,
					   "INSERT INTO fts(fts) "
					   "VALUES('optimize')",
					   NULL, NULL, NULL);
		idx_db_close(&db);
	}
	idx_lease_drop(lease);
done:
	for (k = 0; k < nm.n; k++)
		free(nm.v[k]);
	free(nm.v);
	return total;
}
