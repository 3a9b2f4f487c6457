/* The GLib fake of struct rmail_core: see fake_core.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib-unix.h>

#include "fake_conn.h"
#include "fake_core.h"
#include "text/casemap.h"

struct rmail_pool {
	struct rmail_pool *parent;
	GPtrArray *blocks; /* g_free'd on reset */
	GArray *cleanups;  /* struct cleanup */
	GPtrArray *children;
};

struct cleanup {
	rmail_cleanup_fn fn;
	void *arg;
};

struct rmail_timer {
	GSource *src;
	double repeat;
	rmail_timer_fn cb;
	void *arg;
};

struct rmail_io {
	GSource *src;
	rmail_io_fn cb;
	void *arg;
	int fd;
};

struct rmail_work {
	rmail_work_fn work;
	rmail_done_fn done;
	void *arg;
	volatile int cancel;
};

static struct {
	bool ready;
	struct rmail_core core;
	GMainContext *ctx;
	GMutex lock;
	GString *log;
	GHashTable *conf;
	GThreadPool *pool;
	bool threaded;
	const struct rmail_store_ops *store_ops;
	void *store_h;
} fk;

static void fk_vlog(const struct rmail_mctx *m, int level, const char *fmt,
		    va_list ap)
{
	static const char *const names[] = {"0",    "1", "2",	 "ERR",
					    "WARN", "5", "INFO", "DEBUG"};
	char *s = g_strdup_vprintf(fmt, ap);

	g_mutex_lock(&fk.lock);
	g_string_append_printf(fk.log, "%s %s: %s\n",
			       level >= 0 && level < 8 ? names[level] : "?",
			       m != NULL && m->name != NULL ? m->name : "core",
			       s);
	g_mutex_unlock(&fk.lock);
	g_free(s);
}

static void fk_log(const struct rmail_mctx *m, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fk_vlog(m, level, fmt, ap);
	va_end(ap);
}

static const char *fk_conf_str(const char *key)
{
	return g_hash_table_lookup(fk.conf, key);
}

/* ---- pools ---------------------------------------------------------- */

static struct rmail_pool *fk_pool_create(struct rmail_pool *parent)
{
	struct rmail_pool *p = g_new0(struct rmail_pool, 1);

	p->parent = parent;
	p->blocks = g_ptr_array_new_with_free_func(g_free);
	p->cleanups = g_array_new(FALSE, FALSE, sizeof(struct cleanup));
	p->children = g_ptr_array_new();
	if (parent != NULL)
		g_ptr_array_add(parent->children, p);
	return p;
}

static void fk_pool_destroy(struct rmail_pool **pp);

static void fk_pool_reset(struct rmail_pool *p)
{
	guint i;

	while (p->children->len > 0) {
		struct rmail_pool *c = g_ptr_array_index(p->children, 0);

		fk_pool_destroy(&c);
	}
	for (i = p->cleanups->len; i > 0; i--) {
		struct cleanup *c =
			&g_array_index(p->cleanups, struct cleanup, i - 1);

		c->fn(c->arg);
	}
	g_array_set_size(p->cleanups, 0);
	g_ptr_array_set_size(p->blocks, 0);
}

static void fk_pool_destroy(struct rmail_pool **pp)
{
	struct rmail_pool *p = *pp;

	if (p == NULL)
		return;
	*pp = NULL;
	fk_pool_reset(p);
	if (p->parent != NULL)
		g_ptr_array_remove(p->parent->children, p);
	g_ptr_array_free(p->blocks, TRUE);
	g_array_free(p->cleanups, TRUE);
	g_ptr_array_free(p->children, TRUE);
	g_free(p);
}

static void *fk_pcalloc(struct rmail_pool *p, size_t n)
{
	void *b = g_malloc0(n ? n : 1);

	g_ptr_array_add(p->blocks, b);
	return b;
}

static void *fk_palloc(struct rmail_pool *p, size_t n)
{
	return fk_pcalloc(p, n);
}

static char *fk_pstrndup(struct rmail_pool *p, const char *s, size_t n)
{
	char *d = fk_palloc(p, n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static char *fk_pstrdup(struct rmail_pool *p, const char *s)
{
	return s == NULL ? NULL : fk_pstrndup(p, s, strlen(s));
}

static char *fk_psprintf(struct rmail_pool *p, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_ptr_array_add(p->blocks, s);
	return s;
}

static void fk_pool_cleanup_add(struct rmail_pool *p, rmail_cleanup_fn fn,
				void *arg)
{
	struct cleanup c = {fn, arg};

	g_array_append_val(p->cleanups, c);
}

/* ---- timers, fds, posts ---------------------------------------------- */

static gboolean timer_fire(gpointer data);

static void timer_arm(struct rmail_timer *t, double after)
{
	t->src = g_timeout_source_new((guint)(after * 1000.0 + 0.5));
	g_source_set_callback(t->src, timer_fire, t, NULL);
	g_source_attach(t->src, fk.ctx);
}

static gboolean timer_fire(gpointer data)
{
	struct rmail_timer *t = data;

	g_source_unref(t->src);
	t->src = NULL;
	/* re-arm first: the callback may delete the timer */
	if (t->repeat > 0)
		timer_arm(t, t->repeat);
	t->cb(t->arg);
	return G_SOURCE_REMOVE;
}

static struct rmail_timer *fk_timer_add(double after, double repeat,
					rmail_timer_fn cb, void *arg)
{
	struct rmail_timer *t = g_new0(struct rmail_timer, 1);

	t->repeat = repeat;
	t->cb = cb;
	t->arg = arg;
	timer_arm(t, after < 0 ? 0 : after);
	return t;
}

/* One-shot timers stay allocated after firing until timer_del, as in
 * the real core. */
static void fk_timer_del(struct rmail_timer **tp)
{
	struct rmail_timer *t = *tp;

	if (t == NULL)
		return;
	*tp = NULL;
	if (t->src != NULL) {
		g_source_destroy(t->src);
		g_source_unref(t->src);
	}
	g_free(t);
}

static gboolean io_fire(gint fd, GIOCondition cond, gpointer data)
{
	struct rmail_io *io = data;
	int ev = 0;

	if (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR))
		ev |= RMAIL_IO_READ;
	if (cond & G_IO_OUT)
		ev |= RMAIL_IO_WRITE;
	io->cb(io->arg, fd, ev);
	return G_SOURCE_CONTINUE;
}

static struct rmail_io *fk_io_add(int fd, int events, rmail_io_fn cb, void *arg)
{
	struct rmail_io *io = g_new0(struct rmail_io, 1);
	GIOCondition c = 0;

	if (events & RMAIL_IO_READ)
		c |= G_IO_IN | G_IO_HUP | G_IO_ERR;
	if (events & RMAIL_IO_WRITE)
		c |= G_IO_OUT;
	io->cb = cb;
	io->arg = arg;
	io->fd = fd;
	io->src = g_unix_fd_source_new(fd, c);
	g_source_set_callback(io->src, (GSourceFunc)(void (*)(void))io_fire, io,
			      NULL);
	g_source_attach(io->src, fk.ctx);
	return io;
}

static void fk_io_del(struct rmail_io **iop)
{
	struct rmail_io *io = *iop;

	if (io == NULL)
		return;
	*iop = NULL;
	g_source_destroy(io->src);
	g_source_unref(io->src);
	g_free(io);
}

struct post {
	rmail_post_fn cb;
	void *arg;
};

static gboolean post_fire(gpointer data)
{
	struct post *p = data;

	p->cb(p->arg);
	g_free(p);
	return G_SOURCE_REMOVE;
}

static void fk_loop_post(rmail_post_fn cb, void *arg)
{
	struct post *p = g_new0(struct post, 1);

	GSource *src = g_idle_source_new();

	p->cb = cb;
	p->arg = arg;
	/* not g_main_context_invoke: from inside a dispatch it would call
	 * back at once, where the core never does */
	g_source_set_priority(src, G_PRIORITY_DEFAULT);
	g_source_set_callback(src, post_fire, p, NULL);
	g_source_attach(src, fk.ctx);
	g_source_unref(src);
}

static double fk_now(void)
{
	return (double)g_get_monotonic_time() / 1e6;
}

/* ---- work ------------------------------------------------------------ */

static void work_done(void *arg)
{
	struct rmail_work *w = arg;

	if (w->done != NULL)
		w->done(w->arg, w->cancel);
	g_free(w);
}

static void work_thread(gpointer data, gpointer user)
{
	struct rmail_work *w = data;

	(void)user;
	if (!w->cancel)
		w->work(w->arg, &w->cancel);
	fk_loop_post(work_done, w);
}

static struct rmail_work *fk_work_submit(int kind, rmail_work_fn work,
					 rmail_done_fn done, void *arg)
{
	struct rmail_work *w = g_new0(struct rmail_work, 1);

	(void)kind;
	w->work = work;
	w->done = done;
	w->arg = arg;
	if (fk.threaded) {
		g_thread_pool_push(fk.pool, w, NULL);
	} else {
		w->work(w->arg, &w->cancel);
		fk_loop_post(work_done, w);
	}
	return w;
}

static void fk_work_cancel(struct rmail_work *w)
{
	if (w != NULL)
		w->cancel = 1;
}

static const struct rmail_store_ops *fk_store(void **h_r)
{
	if (h_r != NULL)
		*h_r = fk.store_h;
	return fk.store_ops;
}

static void fk_random_bytes(void *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		((unsigned char *)buf)[i] = (unsigned char)g_random_int();
}

static void fk_secure_zero(void *buf, size_t n)
{
	volatile unsigned char *p = buf;

	while (n-- > 0)
		*p++ = 0;
}

static int fk_base64_decode(const char *in, size_t inlen, void *out,
			    size_t outsz, size_t *outlen_r)
{
	char *s = g_strndup(in, inlen);
	gsize n;
	guchar *d = g_base64_decode(s, &n);

	g_free(s);
	if (d == NULL || n > outsz) {
		g_free(d);
		return -1;
	}
	memcpy(out, d, n);
	*outlen_r = n;
	g_free(d);
	return 0;
}

static size_t fk_base64_encode(const void *in, size_t inlen, char *out,
			       size_t outsz)
{
	gchar *s = g_base64_encode(in, inlen);
	size_t n = strlen(s);

	if (n + 1 > outsz) {
		g_free(s);
		return 0;
	}
	memcpy(out, s, n + 1);
	g_free(s);
	return n;
}

const struct rmail_core *fake_core_init(void)
{
	if (fk.ready)
		return &fk.core;
	g_mutex_init(&fk.lock);
	fk.ctx = g_main_context_new();
	fk.log = g_string_new(NULL);
	fk.conf =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	fk.pool = g_thread_pool_new(work_thread, NULL, 4, FALSE, NULL);
	fk.core.abi_major = RMAIL_ABI_MAJOR;
	fk.core.abi_minor = RMAIL_ABI_MINOR;
	fk.core.size = sizeof(fk.core);
	fk.core.log = fk_log;
	fk.core.vlog = fk_vlog;
	fk.core.conf_str = fk_conf_str;
	fk.core.pool_create = fk_pool_create;
	fk.core.pool_destroy = fk_pool_destroy;
	fk.core.pool_reset = fk_pool_reset;
	fk.core.palloc = fk_palloc;
	fk.core.pcalloc = fk_pcalloc;
	fk.core.pstrdup = fk_pstrdup;
	fk.core.pstrndup = fk_pstrndup;
	fk.core.psprintf = fk_psprintf;
	fk.core.pool_cleanup_add = fk_pool_cleanup_add;
	fk.core.timer_add = fk_timer_add;
	fk.core.timer_del = fk_timer_del;
	fk.core.io_add = fk_io_add;
	fk.core.io_del = fk_io_del;
	fk.core.loop_post = fk_loop_post;
	fk.core.now = fk_now;
	fk.core.work_submit = fk_work_submit;
	fk.core.work_cancel = fk_work_cancel;
	fk.core.store = fk_store;
	fk.core.random_bytes = fk_random_bytes;
	fk.core.secure_zero = fk_secure_zero;
	fk.core.base64_decode = fk_base64_decode;
	fk.core.base64_encode = fk_base64_encode;
	fk.core.casemap = rm_casemap;
	fake_conn_install(&fk.core);
	fake_services_install(&fk.core);
	fk.ready = true;
	return &fk.core;
}

void fake_core_shutdown(void)
{
	if (!fk.ready)
		return;
	g_thread_pool_free(fk.pool, FALSE, TRUE);
	while (g_main_context_iteration(fk.ctx, FALSE))
		;
	g_main_context_unref(fk.ctx);
	g_string_free(fk.log, TRUE);
	g_hash_table_destroy(fk.conf);
	g_mutex_clear(&fk.lock);
	memset(&fk, 0, sizeof(fk));
}

void fake_core_set_conf(const char *key, const char *value)
{
	fake_core_init();
	if (value == NULL)
		g_hash_table_remove(fk.conf, key);
	else
		g_hash_table_replace(fk.conf, g_strdup(key), g_strdup(value));
}

void fake_core_set_store(const struct rmail_store_ops *ops, void *h)
{
	fk.store_ops = ops;
	fk.store_h = h;
}

void fake_core_set_threaded_work(bool threaded)
{
	fk.threaded = threaded;
}

const char *fake_core_log(void)
{
	return fk.log->str;
}

bool fake_core_log_contains(const char *needle)
{
	bool r;

	g_mutex_lock(&fk.lock);
	r = strstr(fk.log->str, needle) != NULL;
	g_mutex_unlock(&fk.lock);
	return r;
}

void fake_core_log_clear(void)
{
	g_mutex_lock(&fk.lock);
	g_string_truncate(fk.log, 0);
	g_mutex_unlock(&fk.lock);
}

struct rmail_mctx *fake_core_mctx(const char *name, const void *conf)
{
	struct rmail_mctx *m = g_new0(struct rmail_mctx, 1);

	m->core = fake_core_init();
	m->name = name;
	m->conf = conf;
	m->pool = fk_pool_create(NULL);
	return m;
}

void fake_core_mctx_free(struct rmail_mctx *m)
{
	if (m == NULL)
		return;
	fk_pool_destroy(&m->pool);
	g_free(m);
}

bool fake_core_run(bool (*pred)(void *arg), void *arg, double timeout)
{
	gint64 end = g_get_monotonic_time() + (gint64)(timeout * 1e6);

	while (g_get_monotonic_time() < end) {
		if (pred != NULL && pred(arg))
			return true;
		if (!g_main_context_iteration(fk.ctx, FALSE))
			g_usleep(2000);
	}
	return pred != NULL && pred(arg);
}

GMainContext *fake_core_context(void)
{
	return fk.ctx;
}
