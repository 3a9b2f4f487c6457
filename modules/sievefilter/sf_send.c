/*
 * Outgoing mail of a Sieve run (redirect, vacation) through the core's
 * submission service.  The run is on a worker; the submission API is
 * the loop's, so the message is handed over with loop_post and the
 * result is only logged: the delivery being filtered never waits.
 */
#include <stdlib.h>
#include <string.h>

#include "sf.h"

struct send_job {
	char *what, *mail_from, *rcpt, *auth_user;
	char *data;
	size_t len;
};

static void job_free(struct send_job *j)
{
	free(j->what);
	free(j->mail_from);
	free(j->rcpt);
	free(j->auth_user);
	free(j->data);
	free(j);
}

static void sent(void *arg, const struct rmail_submit_result *r)
{
	struct send_job *j = arg;

	if (r->ok)
		sf_core->log(sf_m, RMAIL_LOG_INFO, "%s to %s: sent as %s",
			     j->what, j->rcpt, r->queue_id);
	else
		sf_core->log(sf_m, RMAIL_LOG_WARN, "%s to %s: refused: %d %s",
			     j->what, j->rcpt, r->code, r->text);
	job_free(j);
}

static void on_loop(void *arg)
{
	struct send_job *j = arg;
	const char *rcpts[1] = {j->rcpt};
	struct rmail_submit_opts o;
	struct rmail_submit *s;
	struct rmail_err err;

	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.proto = "local";
	o.mail_from = j->mail_from;
	o.rcpts = rcpts;
	o.nrcpts = 1;
	o.auth_user = j->auth_user;
	o.submission = j->auth_user != NULL;
	o.size_hint = j->len;
	rmail_err_clear(&err);
	s = sf_core->submit_begin(&o, &err);
	if (s == NULL || sf_core->submit_write(s, j->data, j->len, &err) < 0) {
		sf_core->log(sf_m, RMAIL_LOG_ERR, "%s to %s: %s", j->what,
			     j->rcpt, err.msg);
		if (s != NULL)
			sf_core->submit_abort(&s);
		job_free(j);
		return;
	}
	sf_core->submit_commit(s, sent, j);
}

void sf_send(const char *what, const char *mail_from, const char *rcpt,
	     const char *auth_user, const char *data, size_t len)
{
	struct send_job *j = calloc(1, sizeof(*j));

	j->what = strdup(what);
	j->mail_from = strdup(mail_from);
	j->rcpt = strdup(rcpt);
	j->auth_user = auth_user != NULL ? strdup(auth_user) : NULL;
	j->data = malloc(len + 1);
	memcpy(j->data, data, len);
	j->len = len;
	sf_core->loop_post(on_loop, j);
}
