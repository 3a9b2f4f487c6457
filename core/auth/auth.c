/*
 * Password logins for every protocol: verify on the HASH worker pool
 * through the store, then answer on the loop.  Before any check the
 * shared failure budget (auth_budget.c) may refuse: RMAIL_E_PERM, which
 * IMAP answers NO [UNAVAILABLE], SMTP 454 4.7.0 and the API 429.  A
 * recent successful check of the same user and password is reused from
 * the auth cache once the store confirms the user's token_gen.  A
 * failure is answered late, the delay growing with the recent failures
 * of the client IP, so guessing is slow for everyone (exempt networks
 * too); the documented event=auth_failed line is what a fail2ban filter
 * matches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_budget.h"
#include "rm.h"

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
	struct auth_keys k;
	bool charged;	  /* holds one check of the budget */
	bool acct;	  /* ... the account's too */
	bool rehash;	  /* auth.rehash when the login began */
	bool unsupported; /* the stored hash's scheme, not the password */
	double cache_ttl;
	struct rmail_conn *conn; /* whose callback asked: for the log */
};

uint32_t rm_auth_failures(const char *rip)
{
	return rm_auth_budget_ip_count(rip != NULL ? rip : "-");
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
	if (j->conn != NULL)
		rm_conn_unref(j->conn);
	free(j);
}

static void answer(void *arg)
{
	struct auth_job *j = arg;

	rm_timer_del(&j->timer);
	if (j->res.ok)
		rm_auth_log(j->conn, j->proto,
			    j->res.user.address[0] != '\0' ? j->res.user.address
							   : j->user,
			    j->rip, NULL);
	j->cb(j->arg, &j->res);
	job_free(j);
}

/* A migrated hash (import passwd) becomes one of the store's default
 * scheme at its first successful login, while the password is at hand.
 * The store swaps only while the hash is the one it checks again, so a
 * password changed since this login's check is never overwritten. */
static void rehash(struct auth_job *j, const struct rmail_store_ops *ops,
		   void *h)
{
	struct rmail_err err;
	char u[128];

	if (!j->rehash ||
	    !RMAIL_HAS(ops, struct rmail_store_ops, user_rehash) ||
	    ops->user_rehash == NULL)
		return;
	rmail_err_clear(&err);
	rm_log_clean_field(u, sizeof(u), j->res.user.address);
	switch (ops->user_rehash(h, j->user, j->password, &err)) {
	case 1:
		rm_log(RMAIL_LOG_INFO, "event=password_rehashed user=%s", u);
		break;
	case 0:
		break;
	default:
		rm_log(RMAIL_LOG_WARN,
		       "event=password_rehash_skipped user=%s: %s", u, err.msg);
	}
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
	if (ops->user_verify == NULL) {
		/* a store without passwords: nobody logs in, and the budget
		 * is refunded (BUSY is no verdict on the password) */
		rmail_err_set(&j->err, RMAIL_E_BUSY,
			      "the storage module cannot verify passwords");
		j->res.ok = 0;
		j->res.code = RMAIL_E_BUSY;
	} else if (ops->user_verify(h, j->user, j->password, &j->res.user,
				    &j->err) == 0) {
		j->res.ok = 1;
		j->res.code = RMAIL_E_NONE;
		/* here, while the password is still at hand */
		rm_auth_cache_put(j->user, j->password, j->res.user.token_gen,
				  j->cache_ttl);
		rehash(j, ops, h);
	} else if (j->err.code == RMAIL_E_NOTIMPL) {
		/* a hash rmail cannot check: the client sees a failed
		 * login, the log says why */
		j->unsupported = true;
		j->res.ok = 0;
		j->res.code = RMAIL_E_AUTH;
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
		rm_auth_budget_refund(&j->k, j->acct);
		rm_auth_budget_known(&j->k);
		j->res.failures = rm_auth_failures(j->rip);
		answer(j);
		return;
	}
	/* only a verdict on the password spends the budget */
	if (j->res.code != RMAIL_E_AUTH && j->res.code != RMAIL_E_DISABLED &&
	    j->charged)
		rm_auth_budget_refund(&j->k, j->acct);
	n = rm_auth_failures(j->rip);
	j->res.failures = n;
	rm_auth_log(j->conn, j->proto, j->user, j->rip,
		    j->unsupported ? "unsupported_scheme"
				   : reason_of(j->res.code));
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

/* A cached check counts only while the store still has the user, enabled
 * and with the token_gen of the check: a passwd, disable or delete by
 * any process changes that. */
static bool cache_hit(struct auth_job *j)
{
	const struct rmail_store_ops *ops;
	struct rmail_err err;
	uint64_t gen;
	void *h;

	if (!rm_auth_cache_get(j->user, j->password, &gen))
		return false;
	ops = rm_store(&h);
	rmail_err_clear(&err);
	if (ops == NULL || ops->user_get == NULL ||
	    ops->user_get(h, j->user, &j->res.user, &err) < 0 ||
	    j->res.user.disabled || j->res.user.token_gen != gen) {
		rm_auth_cache_drop(j->user);
		memset(&j->res.user, 0, sizeof(j->res.user));
		return false;
	}
	rm_secure_zero(j->password, strlen(j->password));
	j->res.ok = 1;
	j->res.code = RMAIL_E_NONE;
	rm_auth_budget_refund(&j->k, j->acct);
	rm_auth_budget_known(&j->k);
	j->res.failures = rm_auth_failures(j->rip);
	return true;
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
	j->conn = rm_conn_current();
	if (j->conn != NULL)
		rm_conn_ref(j->conn);
	rm_auth_keys(j->user, j->rip, &j->k);
	if (rm_store(NULL) == NULL) {
		j->res.code = RMAIL_E_BUSY;
		j->res.failures = rm_auth_failures(j->rip);
		rm_auth_log(j->conn, j->proto, j->user, j->rip, "no_store");
		/* never call back from inside the caller's frame */
		rm_loop_post(answer, j);
		return;
	}
	if (rm_auth_budget_take(&j->k, &j->acct) < 0) {
		j->res.code = RMAIL_E_PERM;
		j->res.failures = rm_auth_failures(j->rip);
		rm_auth_log(j->conn, j->proto, j->user, j->rip, "rate_limited");
		rm_loop_post(answer, j);
		return;
	}
	j->charged = true;
	j->cache_ttl = rm_conf() != NULL ? rm_conf()->limits.auth_cache_ttl : 0;
	j->rehash = rm_conf() != NULL && rm_conf()->auth.rehash;
	if (cache_hit(j)) {
		rm_loop_post(answer, j);
		return;
	}
	if (rm_work_submit(RMAIL_WORK_HASH, verify_work, verify_done, j) ==
	    NULL) {
		j->res.code = RMAIL_E_BUSY;
		verify_done(j, 0);
	}
}
