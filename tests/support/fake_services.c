/*
 * The fake core's protocol-side services: metrics and rate limits that
 * never refuse, a login table, a recipient policy and a submission
 * service that keeps what it is given (see fake_core.h).
 */
#include <stdio.h>
#include <string.h>

#include "fake_core.h"

struct rmail_submit {
	struct fake_submission msg;
};

struct listener {
	char *key;
	struct rmail_proto_ops ops; /* a copy: listen's argument may be
				     * the module's stack, as in the core */
	struct rmail_listen_opts o;
};

static struct {
	GHashTable *logins; /* user -> password */
	GPtrArray *submissions;
	GPtrArray *listeners; /* struct listener */
} fs;

static void listener_free(gpointer p)
{
	struct listener *l = p;

	g_free(l->key);
	g_free(l);
}

/* recorded, not bound: fake_conn_open takes what the test looks up */
static int fs_listen(struct rmail_mctx *m, const char *key,
		     const struct rmail_strlist *addrs,
		     const struct rmail_proto_ops *ops,
		     const struct rmail_listen_opts *o, struct rmail_err *err)
{
	struct listener *l = g_new0(struct listener, 1);

	(void)m;
	(void)addrs;
	(void)err;
	if (fs.listeners == NULL)
		fs.listeners = g_ptr_array_new_with_free_func(listener_free);
	l->key = g_strdup(key);
	rmail_sized_copy(&l->ops, sizeof(l->ops), ops, ops->size);
	l->ops.size = sizeof(l->ops);
	rmail_sized_copy(&l->o, sizeof(l->o), o, o->size);
	l->o.size = sizeof(l->o);
	g_ptr_array_add(fs.listeners, l);
	return 0;
}

bool fake_core_listener(const char *key, const struct rmail_proto_ops **ops_r,
			struct rmail_listen_opts *o_r)
{
	for (guint i = 0; fs.listeners != NULL && i < fs.listeners->len; i++) {
		const struct listener *l = g_ptr_array_index(fs.listeners, i);

		if (strcmp(l->key, key) == 0) {
			*ops_r = &l->ops;
			*o_r = l->o;
			return true;
		}
	}
	return false;
}

static void fs_metric(const char *name, const char *labels, double v)
{
	(void)name;
	(void)labels;
	(void)v;
}

static int fs_rate_hit(const char *bucket, const char *key, uint32_t limit,
		       double window, double *retry_after_r)
{
	(void)bucket;
	(void)key;
	(void)limit;
	(void)window;
	(void)retry_after_r;
	return 1;
}

static uint32_t fs_rate_count(const char *bucket, const char *key,
			      double window)
{
	(void)bucket;
	(void)key;
	(void)window;
	return 0;
}

static void fs_rate_reset(const char *bucket, const char *key)
{
	(void)bucket;
	(void)key;
}

static int fs_ip_is_exempt(const char *ip)
{
	(void)ip;
	return 0;
}

static uint32_t fs_auth_failures(const char *rip)
{
	(void)rip;
	return 0;
}

static void fs_auth_log_failure(const char *proto, const char *user,
				const char *rip, const char *reason)
{
	fake_core_init()->log(NULL, RMAIL_LOG_INFO,
			      "event=auth_failed proto=%s user=%s rip=%s "
			      "reason=%s",
			      proto, user != NULL ? user : "", rip, reason);
}

struct login_job {
	rmail_auth_fn cb;
	void *arg;
	struct rmail_auth_result r;
};

static void login_done(void *arg)
{
	struct login_job *j = arg;

	j->cb(j->arg, &j->r);
	g_free(j);
}

/* the answer comes from the loop, never inside the call */
static void fs_auth_login(const char *user, const char *password,
			  const char *proto, const char *rip, rmail_auth_fn cb,
			  void *arg)
{
	struct login_job *j = g_new0(struct login_job, 1);
	const char *want =
		fs.logins != NULL ? g_hash_table_lookup(fs.logins, user) : NULL;

	(void)proto;
	(void)rip;
	j->cb = cb;
	j->arg = arg;
	j->r.ok = want != NULL && strcmp(want, password) == 0;
	j->r.code = j->r.ok ? RMAIL_E_NONE : RMAIL_E_AUTH;
	if (j->r.ok)
		snprintf(j->r.user.address, sizeof(j->r.user.address), "%s",
			 user);
	fake_core_init()->loop_post(login_done, j);
}

/* local: the "example.test" domain; else relay when authenticated */
static int fs_rcpt_policy(const char *rcpt, const char *auth_user,
			  uint64_t size_hint)
{
	const char *at = strrchr(rcpt, '@');

	(void)size_hint;
	if (at == NULL)
		return RMAIL_RCPT_BADADDR;
	if (g_ascii_strcasecmp(at + 1, "example.test") == 0)
		return RMAIL_RCPT_LOCAL;
	return auth_user != NULL ? RMAIL_RCPT_RELAY : RMAIL_RCPT_DENIED;
}

static struct rmail_submit *fs_submit_begin(const struct rmail_submit_opts *o,
					    struct rmail_err *err)
{
	struct rmail_submit *s = g_new0(struct rmail_submit, 1);
	size_t i;

	(void)err;
	s->msg.proto = g_strdup(o->proto);
	s->msg.mail_from = g_strdup(o->mail_from);
	s->msg.auth_user = g_strdup(o->auth_user);
	s->msg.rcpts = g_ptr_array_new_with_free_func(g_free);
	for (i = 0; i < o->nrcpts; i++)
		g_ptr_array_add(s->msg.rcpts, g_strdup(o->rcpts[i]));
	s->msg.data = g_string_new(NULL);
	return s;
}

static int fs_submit_write(struct rmail_submit *s, const void *data, size_t n,
			   struct rmail_err *err)
{
	(void)err;
	g_string_append_len(s->msg.data, data, (gssize)n);
	return 0;
}

static void submission_free(gpointer p)
{
	struct fake_submission *m = p;

	g_free(m->proto);
	g_free(m->mail_from);
	g_free(m->auth_user);
	g_ptr_array_free(m->rcpts, TRUE);
	g_string_free(m->data, TRUE);
	g_free(m);
}

struct commit_job {
	rmail_submit_fn cb;
	void *arg;
	size_t nrcpts;
};

static void commit_done(void *arg)
{
	struct commit_job *j = arg;
	struct rmail_submit_result r = {.ok = 1, .nrcpts = 0};

	/* the same in every run: transcripts compare replies */
	snprintf(r.queue_id, sizeof(r.queue_id), "FAKEQID");
	j->cb(j->arg, &r);
	g_free(j);
}

static void fs_submit_commit(struct rmail_submit *s, rmail_submit_fn cb,
			     void *arg)
{
	struct commit_job *j = g_new0(struct commit_job, 1);

	if (fs.submissions == NULL)
		fs.submissions =
			g_ptr_array_new_with_free_func(submission_free);
	g_ptr_array_add(fs.submissions, g_memdup2(&s->msg, sizeof(s->msg)));
	g_free(s);
	j->cb = cb;
	j->arg = arg;
	fake_core_init()->loop_post(commit_done, j);
}

static void fs_submit_abort(struct rmail_submit **sp)
{
	struct rmail_submit *s = *sp;

	if (s == NULL)
		return;
	*sp = NULL;
	submission_free(g_memdup2(&s->msg, sizeof(s->msg)));
	g_free(s);
}

static int fs_control_register(struct rmail_mctx *m, const char *name,
			       rmail_control_fn fn, void *arg)
{
	(void)m;
	(void)name;
	(void)fn;
	(void)arg;
	return 0;
}

void fake_core_add_login(const char *user, const char *password)
{
	if (fs.logins == NULL)
		fs.logins = g_hash_table_new_full(g_str_hash, g_str_equal,
						  g_free, g_free);
	g_hash_table_replace(fs.logins, g_strdup(user), g_strdup(password));
}

const GPtrArray *fake_core_submissions(void)
{
	if (fs.submissions == NULL)
		fs.submissions =
			g_ptr_array_new_with_free_func(submission_free);
	return fs.submissions;
}

void fake_core_submissions_clear(void)
{
	if (fs.submissions != NULL)
		g_ptr_array_set_size(fs.submissions, 0);
}

void fake_services_install(struct rmail_core *core)
{
	core->listen = fs_listen;
	core->control_register = fs_control_register;
	core->metric_add = fs_metric;
	core->metric_set = fs_metric;
	core->metric_observe = fs_metric;
	core->rate_hit = fs_rate_hit;
	core->rate_count = fs_rate_count;
	core->rate_reset = fs_rate_reset;
	core->ip_is_exempt = fs_ip_is_exempt;
	core->auth_failures = fs_auth_failures;
	core->auth_log_failure = fs_auth_log_failure;
	core->auth_login = fs_auth_login;
	core->rcpt_policy = fs_rcpt_policy;
	core->submit_begin = fs_submit_begin;
	core->submit_write = fs_submit_write;
	core->submit_commit = fs_submit_commit;
	core->submit_abort = fs_submit_abort;
}
