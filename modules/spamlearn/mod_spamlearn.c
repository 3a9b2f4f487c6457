/*
 * mod_spamlearn: the descriptor, the "spamlearn" config section and the
 * event handler (see sl.h).  Into \Junk from elsewhere is spam; out of
 * \Junk into anything but \Trash is ham (deleting spam teaches
 * nothing).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "sl.h"

#define OFF(f) offsetof(struct sl_conf, f)

static int check_url(const void *field, struct rmail_err *err)
{
	const char *s = *(const char *const *)field;

	if (s == NULL ||
	    (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0))
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "an http:// or https:// URL");
	return 0;
}

static int check_positive(const void *field, struct rmail_err *err)
{
	if (*(const double *)field <= 0)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "expected a positive duration");
	return 0;
}

static const struct rmail_conf_key sl_keys[] = {
	{"url", RMAIL_CONF_STR, RMAIL_CONF_REQUIRED, OFF(url), NULL,
	 "the rspamd controller: /learnspam and /learnham are below it "
	 "(\"http://127.0.0.1:11334\")",
	 check_url},
	{"password_file", RMAIL_CONF_STR, RMAIL_CONF_NULLABLE,
	 OFF(password_file), "null",
	 "file holding the controller's password, sent as \"Password:\" "
	 "(null: none)",
	 NULL},
	{"queue_dir", RMAIL_CONF_STR, RMAIL_CONF_NULLABLE, OFF(queue_dir),
	 "null", "where learns wait to be sent (null: {mail_root}/spamlearn)",
	 NULL},
	{"timeout", RMAIL_CONF_DURATION, 0, OFF(timeout), "\"30s\"",
	 "bound on one request to the controller", check_positive},
	{"retry_initial", RMAIL_CONF_DURATION, 0, OFF(retry_initial), "\"10s\"",
	 "first wait after a failed request; doubles each time",
	 check_positive},
	{"retry_max", RMAIL_CONF_DURATION, 0, OFF(retry_max), "\"10m\"",
	 "longest wait between two attempts", check_positive},
	{"max_age", RMAIL_CONF_DURATION, 0, OFF(max_age), "\"2d\"",
	 "a learn not sent after this long is dropped", check_positive},
	{"max_size", RMAIL_CONF_SIZE, 0, OFF(max_size), "\"20M\"",
	 "larger messages are not learned", NULL},
	RMAIL_CONF_END};

static struct sl *get(struct rmail_mctx *m)
{
	return m->data;
}

static void sl_on_event(struct rmail_mctx *m, const struct rmail_event *ev)
{
	struct sl *sl = get(m);
	const struct sl_conf *c;
	struct rmail_err err;
	const char *kind;

	if (sl == NULL || sl->dir == NULL || ev->kind != RMAIL_EVENT_MSG_MOVED)
		return;
	c = &sl->conf;
	if (ev->to_special_use == RMAIL_SU_JUNK &&
	    ev->from_special_use != RMAIL_SU_JUNK)
		kind = "spam";
	else if (ev->from_special_use == RMAIL_SU_JUNK &&
		 ev->to_special_use != RMAIL_SU_JUNK &&
		 ev->to_special_use != RMAIL_SU_TRASH)
		kind = "ham";
	else
		return;
	if (ev->msg_size > c->max_size) {
		m->core->log(m, RMAIL_LOG_INFO,
			     "learn%s: %s uid %u of %s: %llu bytes, over "
			     "max_size: not learned",
			     kind, ev->to_mbox, ev->uid, ev->user,
			     (unsigned long long)ev->msg_size);
		return;
	}
	rmail_err_clear(&err);
	if (sl_queue_put(sl, kind, ev->user, ev->fd, ev->msg_size, &err) < 0) {
		m->core->log(m, RMAIL_LOG_ERR, "learn%s: %s uid %u of %s: %s",
			     kind, ev->to_mbox, ev->uid, ev->user, err.msg);
		return;
	}
	m->core->log(m, RMAIL_LOG_INFO, "learn%s: %s uid %u of %s queued", kind,
		     ev->to_mbox, ev->uid, ev->user);
	sl_thread_kick(sl);
}

static int sl_init(struct rmail_mctx *m, struct rmail_err *err)
{
	struct sl *sl;

	/* before any thread exists: curl_global_init is not thread-safe */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return rmail_err_set(err, RMAIL_E_INTERNAL,
				     "curl_global_init failed");
	sl = m->core->pcalloc(m->pool, sizeof(*sl));
	sl->m = m;
	pthread_mutex_init(&sl->lock, NULL);
	pthread_cond_init(&sl->cond, NULL);
	m->data = sl;
	return 0;
}

/* the first line of the file, without its end */
static char *read_password(const char *path, struct rmail_err *err)
{
	char buf[512];
	FILE *f = fopen(path, "re");
	size_t n;

	if (f == NULL) {
		rmail_err_set(err, RMAIL_E_IO, "password_file %s: %s", path,
			      strerror(errno));
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return strdup(buf);
}

static int sl_start(struct rmail_mctx *m, struct rmail_err *err)
{
	const struct sl_conf *c = m->conf;
	struct sl *sl = get(m);
	const char *root = m->core->conf_str("mail_root");

	sl->conf = *c;
	sl->conf.url = m->core->pstrdup(m->pool, c->url);
	sl->conf.password_file = NULL;
	sl->conf.queue_dir = NULL;
	if (c->password_file != NULL &&
	    (sl->password = read_password(c->password_file, err)) == NULL)
		return -1;
	sl->dir = c->queue_dir != NULL
			  ? m->core->pstrdup(m->pool, c->queue_dir)
			  : m->core->psprintf(m->pool, "%s/spamlearn",
					      root != NULL ? root : ".");
	if (sl_queue_init(sl->dir, err) < 0)
		return -1;
	m->core->log(m, RMAIL_LOG_INFO, "learning to %s, queue %s", c->url,
		     sl->dir);
	return sl_thread_start(sl, err);
}

static void sl_stop(struct rmail_mctx *m, int mode)
{
	(void)mode;
	if (get(m) != NULL)
		sl_thread_stop(get(m));
}

static void sl_fini(struct rmail_mctx *m)
{
	struct sl *sl = get(m);

	if (sl == NULL)
		return;
	sl_thread_stop(sl);
	if (sl->password != NULL) {
		m->core->secure_zero(sl->password, strlen(sl->password));
		free(sl->password);
	}
	pthread_cond_destroy(&sl->cond);
	pthread_mutex_destroy(&sl->lock);
	m->data = NULL;
	curl_global_cleanup();
}

static const struct rmail_filter_ops sl_ops = {
	.size = sizeof(struct rmail_filter_ops),
	.on_event = sl_on_event,
};

RMAIL_MODULE_DEFINE(spamlearn, RMAIL_KIND_FILTER, "1.0.0",
		    .section = "spamlearn", .conf_keys = sl_keys,
		    .conf_size = sizeof(struct sl_conf), .init = sl_init,
		    .start = sl_start, .stop = sl_stop, .fini = sl_fini,
		    .ops = &sl_ops);
