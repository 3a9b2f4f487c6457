/*
 * mod_shardstore: the descriptor, store lifecycle (FORMAT version file)
 * and the ops table wiring the mailbox and user halves.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ss_mbox.h"
#include "ss_meta.h"
#include "ss_optime.h"
#include "users_int.h"
#include "pwscheme.h"

#define SS_FORMAT_VERSION 2
#define SS_FORMAT_MAGIC "rmail-shardstore"

static const struct ss_conf ss_default_conf = {
	1.0, 1, SS_UPLOADS_MAX, SS_SWEEP_INTERVAL,
	SS_PW_ARGON2_MAX_KIB_DEFAULT / 1024};

/* the module's conf when loaded, defaults for CLI and tests */
static const struct ss_conf *ss_active_conf;

const struct ss_conf *ss_conf(const struct ss_store *st)
{
	if (st->m != NULL && st->m->conf != NULL)
		return st->m->conf;
	return ss_active_conf != NULL ? ss_active_conf : &ss_default_conf;
}

void ss_mbox_chown(const struct ss_store *st, int fd)
{
	struct stat sb;

	if (geteuid() != 0 || fstat(st->root_fd, &sb) < 0 || sb.st_uid == 0)
		return;
	if (fchown(fd, sb.st_uid, sb.st_gid) < 0) {
		/* best effort: the daemon still reads root-owned files */
	}
}

void ss_boot_id(char out[40])
{
	static char cached[40];
	int fd;
	ssize_t n;

	if (cached[0] == '\0') {
		fd = open("/proc/sys/kernel/random/boot_id",
			  O_RDONLY | O_CLOEXEC);
		n = fd < 0 ? -1 : read(fd, cached, 36);
		if (fd >= 0)
			close(fd);
		if (n != 36)
			memcpy(cached, "unknown", 8);
		cached[n == 36 ? 36 : 7] = '\0';
	}
	memcpy(out, cached, sizeof(cached));
}

static int format_write(struct ss_store *st, struct rmail_err *err)
{
	char buf[64], tmp[48];
	int fd, n;

	n = snprintf(buf, sizeof(buf), SS_FORMAT_MAGIC " %d\n",
		     SS_FORMAT_VERSION);
	snprintf(tmp, sizeof(tmp), ".FORMAT.%ld.tmp", (long)getpid());
	fd = ss_openat(st->root_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, buf, (size_t)n) != n || fsync(fd) < 0) {
		if (fd >= 0)
			close(fd);
		return rmail_err_set(err, RMAIL_E_IO, "write FORMAT: %s",
				     strerror(errno));
	}
	ss_mbox_chown(st, fd);
	close(fd);
	if (renameat(st->root_fd, tmp, st->root_fd, "FORMAT") < 0)
		return rmail_err_set(err, RMAIL_E_IO, "rename FORMAT: %s",
				     strerror(errno));
	return 0;
}

/* The migration rule of docs/storage.md: older formats are upgraded in
 * order, newer ones refused. */
static int format_check(struct ss_store *st, struct rmail_err *err)
{
	char buf[64];
	int fd, version;
	ssize_t n;

	struct stat sb;

	fd = ss_openat(st->root_fd, "FORMAT", O_RDONLY, 0);
	if (fd < 0) {
		if (errno != ENOENT)
			return rmail_err_set(err, RMAIL_E_IO, "FORMAT: %s",
					     strerror(errno));
		/* a root from before versioning is format 1 */
		if (fstatat(st->root_fd, "domains", &sb, 0) == 0 &&
		    ss_migrate_1_2(st, err) < 0)
			return -1;
		return format_write(st, err);
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	if (sscanf(buf, SS_FORMAT_MAGIC " %d", &version) != 1 || version < 1)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "%s/FORMAT: not an rmail store",
				     st->mail_root);
	if (version > SS_FORMAT_VERSION)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "%s: format %d is newer than this rmail "
				     "supports (%d)",
				     st->mail_root, version, SS_FORMAT_VERSION);
	if (version == SS_FORMAT_VERSION)
		return 0;
	/* in order; FORMAT is written last, so a crash reruns them */
	if (version < 2 && ss_migrate_1_2(st, err) < 0)
		return -1;
	ss_ulog(st, RMAIL_LOG_INFO, "%s: migrated from format %d to %d",
		st->mail_root, version, SS_FORMAT_VERSION);
	return format_write(st, err);
}

/* Worker processes (and several daemons) open a new root at the same
 * moment: one at a time writes FORMAT or migrates, the others then read
 * what it wrote.  The lock is the root directory's, held only here.  A
 * filesystem that cannot flock a directory (some NFS setups) goes on
 * unlocked: the per-process temp name keeps FORMAT whole there. */
static int format_check_locked(struct ss_store *st, struct rmail_err *err)
{
	bool locked;
	int rc;

	while (!(locked = flock(st->root_fd, LOCK_EX) == 0) && errno == EINTR)
		;
	rc = format_check(st, err);
	if (locked)
		flock(st->root_fd, LOCK_UN);
	return rc;
}

int ss_store_open(struct ss_store *st, const struct rmail_core *core,
		  const char *mail_root, struct rmail_err *err)
{
	memset(st, 0, sizeof(*st));
	st->core = core;
	st->root_fd = -1;
	if (mail_root == NULL || mail_root[0] == '\0')
		return rmail_err_set(err, RMAIL_E_INVAL, "no mail_root");
	st->mail_root = strdup(mail_root);
	if (st->mail_root == NULL)
		return rmail_err_set(err, RMAIL_E_INTERNAL, "out of memory");
	if (mkdir(mail_root, 0750) < 0 && errno != EEXIST) {
		rmail_err_set(err, RMAIL_E_IO, "%s: %s", mail_root,
			      strerror(errno));
		goto fail;
	}
	st->root_fd = open(mail_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->root_fd < 0) {
		rmail_err_set(err, RMAIL_E_IO, "%s: %s", mail_root,
			      strerror(errno));
		goto fail;
	}
	pthread_mutex_init(&st->lock, NULL);
	ss_fs_probe(st);
	if (format_check_locked(st, err) < 0 || ss_users_open(st, err) < 0) {
		pthread_mutex_destroy(&st->lock);
		goto fail;
	}
	return 0;
fail:
	if (st->root_fd >= 0)
		close(st->root_fd);
	free((char *)st->mail_root);
	st->mail_root = NULL;
	st->root_fd = -1;
	return -1;
}

void ss_store_close(struct ss_store *st)
{
	if (st->root_fd < 0)
		return;
	ss_watches_free(st);
	ss_views_free(st);
	ss_users_close(st);
	close(st->root_fd);
	st->root_fd = -1;
	free((char *)st->mail_root);
	st->mail_root = NULL;
	pthread_mutex_destroy(&st->lock);
}

static int ss_mbox_sync_op(void *h, const char *user, const char *mailbox,
			   struct rmail_err *err)
{
	return ss_mbox_sync(h, user, mailbox, err);
}

/*
 * The sized structs cross the ABI here, so the store's own code works
 * on full-size structs: inputs are copied at the store's size (fields
 * an older caller did not have read as 0), results are written back at
 * the caller's size and never past it.
 */
static int ss_append_begin_op(void *h, const char *user, const char *mailbox,
			      const struct rmail_append_opts *o,
			      struct rmail_append **ap_r, struct rmail_err *err)
{
	struct rmail_append_opts copy;

	if (o != NULL) {
		if (o->size < RMAIL_APPEND_OPTS_SIZE_1_0)
			return rmail_err_set(err, RMAIL_E_INVAL,
					     "rmail_append_opts size %u is "
					     "below ABI 1.0",
					     o->size);
		copy.size = (uint32_t)rmail_sized_copy(&copy, sizeof(copy), o,
						       o->size);
		o = &copy;
	}
	return ss_append_begin(h, user, mailbox, o, ap_r, err);
}

static int ss_user_update_op(void *h, const char *address,
			     const struct rmail_user_update *upd,
			     struct rmail_err *err)
{
	struct rmail_user_update copy;

	if (upd->size < RMAIL_USER_UPDATE_SIZE_1_0)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "rmail_user_update size %u is below "
				     "ABI 1.0",
				     upd->size);
	copy.size =
		(uint32_t)rmail_sized_copy(&copy, sizeof(copy), upd, upd->size);
	return ss_user_update(h, address, &copy, err);
}

static int ss_mbox_status_op(void *h, const char *user, const char *name,
			     struct rmail_mbox_status *st_r,
			     struct rmail_err *err)
{
	struct rmail_mbox_status st = {.size = sizeof(st)};

	if (st_r->size < RMAIL_MBOX_STATUS_SIZE_1_0)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "rmail_mbox_status size %u is below "
				     "ABI 1.0",
				     st_r->size);
	if (ss_mbox_status(h, user, name, &st, err) < 0)
		return -1;
	st_r->size =
		(uint32_t)rmail_sized_copy(st_r, st_r->size, &st, sizeof(st));
	return 0;
}

static void ss_mbox_info_op(struct rmail_mbox *mb,
			    struct rmail_mbox_status *st_r)
{
	struct rmail_mbox_status st = {.size = sizeof(st)};

	ss_mbox_info(mb, &st);
	st_r->size =
		(uint32_t)rmail_sized_copy(st_r, st_r->size, &st, sizeof(st));
}

static const struct rmail_store_ops ss_ops = {
	.size = sizeof(struct rmail_store_ops),
	.user_get = ss_user_get,
	.user_verify = ss_user_verify,
	.user_add = ss_user_add,
	.user_update = ss_user_update_op,
	.user_del = ss_user_del,
	.user_list = ss_user_list,
	.alias_add = ss_alias_add,
	.alias_del = ss_alias_del,
	.alias_list = ss_alias_list,
	.resolve = ss_resolve,
	.domain_is_local = ss_domain_is_local,
	.owns_address = ss_owns_address,
	.quota_get = ss_quota_get,
	.quota_recalc = ss_quota_recalc,
	.mbox_list = ss_mbox_list,
	.mbox_create = ss_mbox_create,
	.mbox_delete = ss_mbox_delete,
	.mbox_rename = ss_mbox_rename,
	.mbox_subscribe = ss_mbox_subscribe,
	.mbox_status = ss_mbox_status_op,
	.mbox_open = ss_t_mbox_open,
	.mbox_refresh = ss_t_mbox_refresh,
	.mbox_close = ss_mbox_close,
	.mbox_count = ss_mbox_count,
	.mbox_msg = ss_mbox_msg,
	.mbox_find = ss_mbox_find,
	.mbox_info = ss_mbox_info_op,
	.mbox_keywords = ss_mbox_keywords,
	.mbox_changes = ss_mbox_changes,
	.msg_flags = ss_t_msg_flags,
	.msg_read = ss_t_msg_read,
	.msg_open = ss_msg_open,
	.msg_copy = ss_t_msg_copy,
	.msg_move = ss_t_msg_move,
	.msg_expunge = ss_t_msg_expunge,
	.append_begin = ss_append_begin_op,
	.append_write = ss_append_write,
	.append_commit = ss_t_append_commit,
	.append_free = ss_append_free,
	.watch_add = ss_watch_add,
	.watch_del = ss_watch_del,
	.mbox_sync = ss_mbox_sync_op,
	.msg_move_some = ss_t_msg_move_some,
	.mbox_recent = ss_mbox_recent,
	.domain_local_try = ss_domain_local_try,
	.owns_address_try = ss_owns_address_try,
	.check = ss_check,
	.health = ss_health,
	.msg_flags_unchanged = ss_t_msg_flags_unchanged,
	.append_commit_many = ss_append_commit_many,
	.user_hash_cas = ss_user_hash_cas,
	.user_rehash = ss_user_rehash,
	.mbox_set_uidvalidity = ss_mbox_set_uidvalidity,
	.user_setting_get = ss_user_setting_get,
	.user_setting_set = ss_user_setting_set,
	.msg_emailid = ss_msg_emailid,
	.mbox_objectid = ss_mbox_objectid,
	.sieve_list = ss_sieve_list,
	.sieve_get = ss_sieve_get,
	.sieve_put = ss_sieve_put,
	.sieve_delete = ss_sieve_delete,
	.sieve_rename = ss_sieve_rename,
	.sieve_activate = ss_sieve_activate,
	.vacation_check = ss_vacation_check,
	.meta_get = ss_meta_get,
	.meta_set = ss_meta_set,
	.msg_savedate = ss_msg_savedate,
	.duplicate_check = ss_duplicate_check,
	.mbox_freeze = ss_mbox_freeze,
	.mbox_version = ss_mbox_version,
	.mbox_first_unseen = ss_mbox_first_unseen,
};

static int check_uploads(const void *field, struct rmail_err *err)
{
	int64_t v = *(const int64_t *)field;

	if (v < 0 || v > 100000)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "must be between 0 and 100000");
	return 0;
}

static int check_argon2_mem(const void *field, struct rmail_err *err)
{
	int64_t v = *(const int64_t *)field;

	if (v < 1 || v > 4096)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "must be between 1 and 4096");
	return 0;
}

static int check_interval(const void *field, struct rmail_err *err)
{
	double v = *(const double *)field;

	if (!(v >= 1 && v <= 7 * 86400))
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "must be between 1s and 7 days");
	return 0;
}

/* 0 would poll in a busy loop */
static int check_poll(const void *field, struct rmail_err *err)
{
	double v = *(const double *)field;

	if (!(v >= 0.1 && v <= 3600))
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "must be between 0.1s and 1h");
	return 0;
}

static const struct rmail_conf_key ss_conf_keys[] = {
	{"poll_interval", RMAIL_CONF_DURATION, 0,
	 offsetof(struct ss_conf, poll_interval), "\"1s\"",
	 "change-log polling period (inotify off, or a network filesystem)",
	 check_poll},
	{"inotify", RMAIL_CONF_BOOL, 0, offsetof(struct ss_conf, inotify),
	 "true",
	 "watch change logs with inotify (network filesystems are polled "
	 "as well)",
	 NULL},
	{"max_uploads_per_user", RMAIL_CONF_INT, 0,
	 offsetof(struct ss_conf, max_uploads_per_user), "10",
	 "appends in progress per user and process (0: no cap)", check_uploads},
	{"tmp_sweep_interval", RMAIL_CONF_DURATION, 0,
	 offsetof(struct ss_conf, tmp_sweep_interval), "\"1h\"",
	 "how often abandoned tmp/ files are looked for", check_interval},
	{"argon2_max_memory_mb", RMAIL_CONF_INT, 0,
	 offsetof(struct ss_conf, argon2_max_memory_mb), "256",
	 "largest memory cost of an imported {ARGON2I}/{ARGON2ID} hash that "
	 "is verified; each of the workers.hash threads may use this much "
	 "at once, a costlier hash is refused",
	 check_argon2_mem},
	RMAIL_CONF_END};

/* ---- the periodic tmp/ sweep (tmpfiles.c) ----------------------- */

static struct {
	struct rmail_timer *timer;
	bool running; /* a sweep job is queued or runs */
	unsigned long removed;
} sweep;

static void sweep_work(void *arg, const volatile int *cancel)
{
	struct ss_store *st = arg;

	sweep.removed = 0;
	if (ss_tmp_sweep(st, ss_conf(st)->tmp_sweep_interval, cancel,
			 &sweep.removed) == 1 &&
	    sweep.removed > 0 && st->m != NULL)
		st->core->log(st->m, RMAIL_LOG_INFO,
			      "removed %lu abandoned tmp file(s)",
			      sweep.removed);
}

static void sweep_done(void *arg, int cancelled)
{
	(void)arg;
	(void)cancelled;
	sweep.running = false;
}

static void sweep_tick(void *arg)
{
	struct ss_store *st = arg;

	if (sweep.running)
		return;
	sweep.running = true;
	if (st->core->work_submit(RMAIL_WORK_READ, sweep_work, sweep_done,
				  st) == NULL)
		sweep.running = false;
}

static int ss_start(struct rmail_mctx *m, struct rmail_err *err)
{
	struct ss_store *st = m->data;
	double every = ss_conf(st)->tmp_sweep_interval;

	(void)err;
	/* at once, then every interval; the lease makes it once per mail
	 * root however many processes share it */
	sweep.timer = st->core->timer_add(0, every, sweep_tick, st);
	return 0;
}

static void ss_stop(struct rmail_mctx *m, int mode)
{
	(void)mode;
	if (sweep.timer != NULL)
		m->core->timer_del(&sweep.timer);
}

/* Every hash worker may verify an argon2 hash at the cap at once: say
 * so when that adds up to a lot of memory. */
static void argon2_budget_log(struct rmail_mctx *m)
{
	const struct ss_conf *c = m->conf;
	const char *w = m->core->conf_str("workers.hash");
	long long n = w != NULL ? atoll(w) : 0;

	if (c == NULL || n <= 0 || c->argon2_max_memory_mb * n < 1024)
		return;
	m->core->log(m, RMAIL_LOG_WARN,
		     "argon2 password checks may take up to %lld MiB at once "
		     "(shardstore.argon2_max_memory_mb %lld x workers.hash "
		     "%lld)",
		     (long long)c->argon2_max_memory_mb * n,
		     (long long)c->argon2_max_memory_mb, n);
}

static int ss_init(struct rmail_mctx *m, struct rmail_err *err)
{
	struct ss_store *st;

	st = m->core->pcalloc(m->pool, sizeof(*st));
	if (ss_store_open(st, m->core, m->core->conf_str("mail_root"), err) < 0)
		return -1;
	st->m = m;
	ss_active_conf = m->conf;
	m->data = st;
	ss_fs_log(st);
	argon2_budget_log(m);
	return 0;
}

static void ss_fini(struct rmail_mctx *m)
{
	if (sweep.timer != NULL)
		m->core->timer_del(&sweep.timer);
	if (m->data != NULL)
		ss_store_close(m->data);
	m->data = NULL;
}

/* the store handle is m->data: the core hands it to callers as `h` */
const struct rmail_store_ops *ss_store_ops(void);
const struct rmail_store_ops *ss_store_ops(void)
{
	return &ss_ops;
}

RMAIL_MODULE_DEFINE(shardstore, RMAIL_KIND_STORAGE, "1.0",
		    .section = "shardstore", .conf_keys = ss_conf_keys,
		    .conf_size = sizeof(struct ss_conf), .init = ss_init,
		    .start = ss_start, .stop = ss_stop, .fini = ss_fini,
		    .ops = &ss_ops);
