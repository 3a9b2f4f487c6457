/*
 * Phase 2: the diagnostic users through the store ops only: how a store
 * keeps users (files, hashes) is the store's own business, and its
 * check op (`rmail check-store`) is what looks at that.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "diag_int.h"

struct mb_seen {
	bool inbox;
	uint32_t su; /* bit per special use */
};

static void mb_one(void *arg, const struct rmail_mbox_entry *e)
{
	struct mb_seen *s = arg;

	if (strcasecmp(e->name, "INBOX") == 0)
		s->inbox = true;
	if (e->special_use < 32)
		s->su |= 1u << e->special_use;
}

/* the user reads back with its INBOX */
static void check_stored(struct diag *d)
{
	struct rmail_mbox_status st = {.size = sizeof(st)};
	struct rmail_user u;
	struct rmail_err err;
	bool ok;

	rmail_err_clear(&err);
	ok = d->ops->user_get(d->h, d->user, &u, &err) == 0 &&
	     strcasecmp(u.address, d->user) == 0 &&
	     d->ops->mbox_status(d->h, d->user, "INBOX", &st, &err) == 0;
	dg_check(d, ok ? DG_PASS : DG_FAIL, "users.stored",
		 "%s and its INBOX %s%s%s", d->user,
		 ok ? "read back" : "do NOT read back", ok ? "" : ": ",
		 ok ? "" : err.msg);
}

static void check_verify(struct diag *d)
{
	struct rmail_user u;
	struct rmail_err err;
	int good, bad;

	rmail_err_clear(&err);
	good = d->ops->user_verify(d->h, d->user, d->pass, &u, &err);
	rmail_err_clear(&err);
	bad = d->ops->user_verify(d->h, d->user, "not-the-password", &u, &err);
	dg_check(d,
		 good == 0 && bad < 0 && err.code == RMAIL_E_AUTH ? DG_PASS
								  : DG_FAIL,
		 "users.verify",
		 "the password %s, a "
		 "wrong one %s",
		 good == 0 ? "verifies" : "does NOT verify",
		 bad < 0 ? "is refused" : "is ACCEPTED");
}

static void check_mailboxes(struct diag *d)
{
	static const uint32_t want[] = {RMAIL_SU_SENT, RMAIL_SU_DRAFTS,
					RMAIL_SU_TRASH, RMAIL_SU_JUNK};
	struct mb_seen s = {0};
	struct rmail_err err;
	size_t i, have = 0;

	rmail_err_clear(&err);
	if (d->ops->mbox_list(d->h, d->user, mb_one, &s, &err) < 0) {
		dg_check(d, DG_FAIL, "users.mailboxes", "mbox_list: %s",
			 err.msg);
		return;
	}
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (s.su & (1u << want[i]))
			have++;
	dg_check(d, s.inbox && have == 4 ? DG_PASS : DG_FAIL, "users.mailboxes",
		 "INBOX %s, %zu of 4 special-use mailboxes "
		 "(Sent, Drafts, Trash, Junk)",
		 s.inbox ? "present" : "MISSING", have);
}

static void check_disabled(struct diag *d)
{
	struct rmail_user_update upd = {
		.size = sizeof(struct rmail_user_update),
		.admin = -1,
		.disabled = 1,
		.quota_mb = -1,
		.password = NULL};
	struct rmail_user u;
	struct rmail_err err;
	int rc, code, back;

	rmail_err_clear(&err);
	if (d->ops->user_update(d->h, d->user2, &upd, &err) < 0) {
		dg_check(d, DG_FAIL, "users.disabled", "cannot disable: %s",
			 err.msg);
		return;
	}
	rmail_err_clear(&err);
	rc = d->ops->user_verify(d->h, d->user2, d->pass, &u, &err);
	code = err.code;
	upd.disabled = 0;
	rmail_err_clear(&err);
	d->ops->user_update(d->h, d->user2, &upd, &err);
	rmail_err_clear(&err);
	back = d->ops->user_verify(d->h, d->user2, d->pass, &u, &err);
	dg_check(d,
		 rc < 0 && code == RMAIL_E_DISABLED && back == 0 ? DG_PASS
								 : DG_FAIL,
		 "users.disabled",
		 "a disabled user is %s; "
		 "re-enabled it %s",
		 rc < 0 && code == RMAIL_E_DISABLED ? "refused" : "NOT refused",
		 back == 0 ? "logs in" : "still fails");
}

static void check_admin(struct diag *d)
{
	struct rmail_user_update upd = {
		.size = sizeof(struct rmail_user_update),
		.admin = 1,
		.disabled = -1,
		.quota_mb = -1,
		.password = NULL};
	struct rmail_user u;
	struct rmail_err err;
	int on = -1, off = -1;

	rmail_err_clear(&err);
	if (d->ops->user_update(d->h, d->user2, &upd, &err) == 0 &&
	    d->ops->user_get(d->h, d->user2, &u, &err) == 0)
		on = u.admin;
	upd.admin = 0;
	if (d->ops->user_update(d->h, d->user2, &upd, &err) == 0 &&
	    d->ops->user_get(d->h, d->user2, &u, &err) == 0)
		off = u.admin;
	dg_check(d, on == 1 && off == 0 ? DG_PASS : DG_FAIL, "users.admin",
		 "admin flag set (%d) and cleared (%d)%s%s", on, off,
		 err.msg[0] ? ": " : "", err.msg);
}

/* the limit a user carries is the one the quota check applies */
static void check_quota(struct diag *d)
{
	struct rmail_user u;
	struct rmail_err err;
	uint64_t used = 0, limit = 0;

	rmail_err_clear(&err);
	if (d->ops->user_get(d->h, d->user, &u, &err) < 0 ||
	    d->ops->quota_get(d->h, d->user, &used, &limit, &err) < 0) {
		dg_check(d, DG_FAIL, "users.quota", "no quota: %s", err.msg);
		return;
	}
	dg_check(d, limit == u.quota_bytes && limit > 0 ? DG_PASS : DG_FAIL,
		 "users.quota", "%llu MiB on the user, %llu MiB in effect",
		 (unsigned long long)(u.quota_bytes >> 20),
		 (unsigned long long)(limit >> 20));
}

void dg_phase_users(struct diag *d)
{
	if (dg_ensure_users(d) < 0)
		return;
	dg_check(d, DG_PASS, "users.create", "created %s (admin) and %s",
		 d->user, d->user2);
	check_stored(d);
	check_verify(d);
	check_mailboxes(d);
	check_disabled(d);
	check_admin(d);
	check_quota(d);
}
