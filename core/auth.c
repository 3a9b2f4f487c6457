/*
 * Password logins for every protocol: verify on the HASH worker pool
 * through the store, then answer on the loop.  A failure is answered
 * late, the delay growing with the recent failures of the client IP, so
 * guessing is slow for everyone (exempt networks too); the documented
 * event=auth_failed line is what a fail2ban filter matches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm.h"

#define AUTH_BUCKET "auth_fail"
#define AUTH_DELAY_FIRST 0.25
#define AUTH_DELAY_MAX 5.0

struct auth_job {
	char *user;
	char *password;
	char *proto;
	char *rip;
	rmail_auth_fn cb;
	void *arg;
	struct rmail_auth_result res;
	struct rmail_err err;
	struct rmail_timer *timer; /* the failure delay, freed on answer */
};

static double fail_window(void)
{
	const struct rm_config *c = rm_conf();

	return c != NULL && c->limits.auth_fail_window > 0
		       ? c->limits.auth_fail_window
		       : 900;
}

uint32_t rm_auth_failures(const char *rip)
{
	return rm_rate_count(AUTH_BUCKET, rip != NULL ? rip : "-",
			     fail_window());
}

/* A user name is client data: keep the line one token per field so a
 * name like "x rip=1.2.3.4" cannot forge what fail2ban reads. */
static void clean_field(char *dst, size_t sz, const char *src)
{
	size_t o = 0;

	if (src == NULL || *src == '\0')
		src = "-";
	for (; *src != '\0' && o + 1 < sz; src++) {
		unsigned char ch = (unsigned char)*src;

		dst[o++] =
			(ch <= ' ' || ch == '=' || ch == 0x7f) ? '?' : (char)ch;
	}
	dst[o] = '\0';
}

void rm_auth_log_failure(const char *proto, const char *user, const char *rip,
			 const char *reason)
{
	char p[32], u[128], r[64], why[64];
	char labels[64];

	clean_field(p, sizeof(p), proto);
	clean_field(u, sizeof(u), user);
	clean_field(r, sizeof(r), rip);
	clean_field(why, sizeof(why), reason);
	rm_log(RMAIL_LOG_WARN,
	       "event=auth_failed proto=%s user=%s rip=%s reason=%s", p, u, r,
	       why);
	snprintf(labels, sizeof(labels), "proto=\"%s\"", p);
	rm_metric_add("rmail_auth_failures_total", labels, 1);
}

static void job_free(struct auth_job *j)
{
	if (j->password != NULL) {
		rm_secure_zero(j->password, strlen(j->password));
		free(j->password);
	}
	free(j->user);
	free(j->proto);
	free(j->rip);
	free(j);
}

static void answer(void *arg)
{
	struct auth_job *j = arg;

	rm_timer_del(&j->timer);
	j->cb(j->arg, &j->res);
	job_free(j);
}

static void verify_work(void *arg, const volatile int *cancel)
{
	struct auth_job *j = arg;
	const struct rmail_store_ops *ops;
	void *h;

	if (*cancel)
		return;
	ops = rm_store(&h);
	rmail_err_clear(&j->err);
	if (ops->user_verify(h, j->user, j->password, &j->res.user, &j->err) ==
	    0) {
		j->res.ok = 1;
		j->res.code = RMAIL_E_NONE;
	} else {
		j->res.ok = 0;
		j->res.code = j->err.code ? j->err.code : RMAIL_E_AUTH;
	}
	/* the password is not needed past this point */
	rm_secure_zero(j->password, strlen(j->password));
}

static const char *reason_of(int code)
{
	switch (code) {
	case RMAIL_E_AUTH:
		return "bad_credentials";
	case RMAIL_E_DISABLED:
		return "disabled";
	case RMAIL_E_BUSY:
		return "busy";
	default:
		return "error";
	}
}

static void verify_done(void *arg, int cancelled)
{
	struct auth_job *j = arg;
	double delay;
	uint32_t n;

	if (cancelled) {
		j->res.ok = 0;
		j->res.code = RMAIL_E_BUSY;
	}
	if (j->res.ok) {
		j->res.failures = rm_auth_failures(j->rip);
		answer(j);
		return;
	}
	if (j->res.code == RMAIL_E_AUTH || j->res.code == RMAIL_E_DISABLED)
		(void)rm_rate_hit(AUTH_BUCKET, j->rip, UINT32_MAX,
				  fail_window(), NULL);
	n = rm_auth_failures(j->rip);
	j->res.failures = n;
	rm_auth_log_failure(j->proto, j->user, j->rip, reason_of(j->res.code));
	memset(&j->res.user, 0, sizeof(j->res.user));
	delay = AUTH_DELAY_FIRST;
	for (uint32_t i = 1; i < n && delay < AUTH_DELAY_MAX; i++)
		delay *= 2;
	if (delay > AUTH_DELAY_MAX)
		delay = AUTH_DELAY_MAX;
	j->timer = rm_timer_add(delay, 0, answer, j);
	if (j->timer != NULL)
		return;
	answer(j);
}

void rm_auth_login(const char *user, const char *password, const char *proto,
		   const char *rip, rmail_auth_fn cb, void *arg)
{
	struct auth_job *j = rm_xcalloc(1, sizeof(*j));

	j->user = rm_xstrdup(user != NULL ? user : "");
	j->password = rm_xstrdup(password != NULL ? password : "");
	j->proto = rm_xstrdup(proto != NULL ? proto : "-");
	j->rip = rm_xstrdup(rip != NULL ? rip : "-");
	j->cb = cb;
	j->arg = arg;
	if (rm_store(NULL) == NULL) {
		j->res.code = RMAIL_E_BUSY;
		j->res.failures = rm_auth_failures(j->rip);
		rm_auth_log_failure(j->proto, j->user, j->rip, "no_store");
		/* never call back from inside the caller's frame */
		rm_loop_post(answer, j);
		return;
	}
	if (rm_work_submit(RMAIL_WORK_HASH, verify_work, verify_done, j) ==
	    NULL) {
		j->res.code = RMAIL_E_BUSY;
		verify_done(j, 0);
	}
}
