/*
 * Phase 2: the diagnostic users through the store ops, then what the
 * store made of them on disk.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

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

static void user_dir(struct diag *d, const char *addr, char *out, size_t sz)
{
	const char *at = strchr(addr, '@');

	snprintf(out, sz, "%s/domains/%s/users/%.*s", d->conf->mail_root,
		 d->domain, (int)(at - addr), addr);
}

static void check_layout(struct diag *d, json_t **uj_r)
{
	char dir[4096], p[4200];
	struct stat st;
	json_error_t je;
	bool ok;

	user_dir(d, d->user, dir, sizeof(dir));
	snprintf(p, sizeof(p), "%s/user.json", dir);
	ok = stat(p, &st) == 0 && S_ISREG(st.st_mode);
	*uj_r = ok ? json_load_file(p, 0, &je) : NULL;
	snprintf(p, sizeof(p), "%s/mail/INBOX", dir);
	ok = ok && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
	dg_check(d, ok && *uj_r != NULL ? DG_PASS : DG_FAIL, "users.layout",
		 "%s: user.json and mail/INBOX %s", dir,
		 ok && *uj_r != NULL ? "present" : "missing or unreadable");
}

static void check_hash(struct diag *d, json_t *uj)
{
	const char *h = json_string_value(json_object_get(uj, "password_hash"));
	const char *end;

	if (h == NULL || strstr(h, d->pass) != NULL || h[0] != '$') {
		dg_check(d, DG_FAIL, "users.hash",
			 "user.json does not hold "
			 "a password hash");
		return;
	}
	end = strchr(h + 1, '$');
	dg_check(d, DG_PASS, "users.hash",
		 "stored as a crypt hash "
		 "(scheme $%.*s$), not the password",
		 end != NULL && end - h < 16 ? (int)(end - h - 1) : 1, h + 1);
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

static void check_quota(struct diag *d, json_t *uj)
{
	struct rmail_user u;
	struct rmail_err err;
	json_t *q = json_object_get(uj, "quota_mb");

	rmail_err_clear(&err);
	if (d->ops->user_get(d->h, d->user, &u, &err) < 0 ||
	    !json_is_integer(q)) {
		dg_check(d, DG_FAIL, "users.quota", "no quota_mb: %s", err.msg);
		return;
	}
	dg_check(d,
		 (uint64_t)json_integer_value(q) == u.quota_bytes >> 20 &&
				 u.quota_bytes > 0
			 ? DG_PASS
			 : DG_FAIL,
		 "users.quota",
		 "quota_mb %lld in user.json, %llu MiB in effect",
		 (long long)json_integer_value(q),
		 (unsigned long long)(u.quota_bytes >> 20));
}

void dg_phase_users(struct diag *d)
{
	json_t *uj = NULL;

	if (dg_ensure_users(d) < 0)
		return;
	dg_check(d, DG_PASS, "users.create", "created %s (admin) and %s",
		 d->user, d->user2);
	check_layout(d, &uj);
	if (uj != NULL)
		check_hash(d, uj);
	check_verify(d);
	check_mailboxes(d);
	check_disabled(d);
	check_admin(d);
	if (uj != NULL)
		check_quota(d, uj);
	json_decref(uj);
}
