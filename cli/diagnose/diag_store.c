/*
 * Phase 3: the store's health, the message operations of the store on a
 * mailbox of the diagnostic user, and the quota refusing an append that
 * does not fit.  Through the ops only: the on-disk layout is the
 * store's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag_int.h"

#define MB_A "rmail-diag-store"
#define MB_B "rmail-diag-copy"

static int append(struct diag *d, const char *mbox, const char *data,
		  size_t len, uint64_t hint, uint32_t *uid_r,
		  struct rmail_err *err)
{
	struct rmail_append_opts o = {.size = sizeof(o), .size_hint = hint};
	struct rmail_append *ap = NULL;
	uint32_t uidv;
	int rc = -1;

	if (d->ops->append_begin(d->h, d->user, mbox, &o, &ap, err) == 0 &&
	    d->ops->append_write(ap, data, len, err) == 0 &&
	    d->ops->append_commit(ap, uid_r, &uidv, err) == 0)
		rc = 0;
	if (ap != NULL)
		d->ops->append_free(&ap);
	return rc;
}

/* msg_open hands out a descriptor on exactly the stored bytes */
static bool opens_as(struct diag *d, struct rmail_mbox *mb, uint32_t uid,
		     const char *want, size_t len)
{
	struct rmail_err err;
	char buf[512];
	ssize_t n;
	size_t got = 0;
	int fd = -1;

	rmail_err_clear(&err);
	if (d->ops->msg_open(mb, uid, &fd, &err) < 0)
		return false;
	while (got < sizeof(buf) &&
	       (n = read(fd, buf + got, sizeof(buf) - got)) > 0)
		got += (size_t)n;
	close(fd);
	return got == len && memcmp(buf, want, len) == 0;
}

static void health_advice(void *arg, const char *where, const char *what,
			  int repaired)
{
	(void)repaired;
	dg_check(arg, DG_WARN, "store.health", "%s%s%s",
		 where != NULL ? where : "", where != NULL ? ": " : "", what);
}

static void check_health(struct diag *d)
{
	struct rmail_err err;

	if (!RMAIL_HAS(d->ops, struct rmail_store_ops, health) ||
	    d->ops->health == NULL) {
		dg_check(d, DG_WARN, "store.health",
			 "this store cannot report its health (no health "
			 "op)");
		return;
	}
	rmail_err_clear(&err);
	if (d->ops->health(d->h, health_advice, d, &err) < 0)
		dg_check(d, DG_FAIL, "store.health", "%s", err.msg);
	else
		dg_check(d, DG_PASS, "store.health", "the store can serve");
}

static void check_quota(struct diag *d)
{
	struct rmail_user_update upd = {
		.size = sizeof(struct rmail_user_update),
		.admin = -1,
		.disabled = -1,
		.quota_mb = 1,
		.password = NULL};
	struct rmail_user u;
	struct rmail_err err;
	size_t big = 2u * 1024 * 1024;
	char *data;
	uint32_t uid = 0;
	int rc;

	rmail_err_clear(&err);
	if (d->ops->user_get(d->h, d->user, &u, &err) < 0 ||
	    d->ops->user_update(d->h, d->user, &upd, &err) < 0) {
		dg_check(d, DG_FAIL, "store.quota",
			 "cannot set a 1 MiB "
			 "quota: %s",
			 err.msg);
		return;
	}
	data = rm_xmalloc(big);
	memset(data, 'x', big);
	memcpy(data, "Subject: q\r\n\r\n", 14);
	rmail_err_clear(&err);
	rc = append(d, MB_A, data, big, big, &uid, &err);
	free(data);
	dg_check(d, rc < 0 && err.code == RMAIL_E_QUOTA ? DG_PASS : DG_FAIL,
		 "store.quota", "a 2 MiB append over a 1 MiB quota %s",
		 rc == 0		     ? "was ACCEPTED"
		 : err.code == RMAIL_E_QUOTA ? "is refused"
					     : err.msg);
	upd.quota_mb = (int64_t)(u.quota_bytes >> 20);
	rmail_err_clear(&err);
	if (d->ops->user_update(d->h, d->user, &upd, &err) < 0)
		dg_check(d, DG_FAIL, "store.quota",
			 "cannot restore the "
			 "quota: %s",
			 err.msg);
}

void dg_phase_store(struct diag *d)
{
	static const char msg[] = "From: diag@example.invalid\r\n"
				  "Subject: rmail diagnose store\r\n\r\n"
				  "line one\r\nline two\r\n";
	const struct rmail_store_ops *ops = d->ops;
	struct rmail_mbox *mb = NULL;
	struct rmail_mbox_status st = {.size = sizeof(st)};
	struct rmail_msg nm;
	struct rmail_err err;
	char buf[512];
	size_t got = 0;
	uint32_t uid = 0, cuid = 0, cuidv = 0;

	check_health(d);
	if (dg_ensure_users(d) < 0)
		return;
	rmail_err_clear(&err);
	if (ops->mbox_create(d->h, d->user, MB_A, 0, &err) < 0 ||
	    ops->mbox_create(d->h, d->user, MB_B, 0, &err) < 0) {
		dg_check(d, DG_FAIL, "store.mailbox", "mbox_create: %s",
			 err.msg);
		return;
	}
	if (append(d, MB_A, msg, sizeof(msg) - 1, 0, &uid, &err) < 0) {
		dg_check(d, DG_FAIL, "store.append", "%s", err.msg);
		return;
	}
	dg_check(d, DG_PASS, "store.append", "appended UID %u", uid);
	if (ops->mbox_open(d->h, d->user, MB_A, &mb, &err) < 0 ||
	    ops->mbox_refresh(mb, &err) < 0) {
		dg_check(d, DG_FAIL, "store.read", "mbox_open: %s", err.msg);
		return;
	}
	if (ops->msg_read(mb, uid, 0, buf, sizeof(buf), &got, &err) < 0 ||
	    got != sizeof(msg) - 1 || memcmp(buf, msg, got) != 0)
		dg_check(d, DG_FAIL, "store.read",
			 "read back %zu bytes that "
			 "differ: %s",
			 got, err.msg);
	else
		dg_check(d, DG_PASS, "store.read",
			 "read back %zu identical "
			 "bytes",
			 got);
	if (ops->msg_flags(mb, uid, RMAIL_FLAGS_ADD,
			   RMAIL_F_SEEN | RMAIL_F_FLAGGED, NULL, 0, &nm,
			   &err) < 0 ||
	    (nm.flags & (RMAIL_F_SEEN | RMAIL_F_FLAGGED)) !=
		    (RMAIL_F_SEEN | RMAIL_F_FLAGGED))
		dg_check(d, DG_FAIL, "store.flags",
			 "\\Seen \\Flagged not "
			 "set: %s",
			 err.msg);
	else
		dg_check(d, DG_PASS, "store.flags", "\\Seen \\Flagged set");
	if (ops->msg_copy(mb, &uid, 1, MB_B, &cuid, &cuidv, &err) < 0 ||
	    ops->mbox_status(d->h, d->user, MB_B, &st, &err) < 0 ||
	    st.messages != 1)
		dg_check(d, DG_FAIL, "store.copy", "copy failed: %s", err.msg);
	else
		dg_check(d, DG_PASS, "store.copy", "copied as UID %u", cuid);
	dg_check(d,
		 opens_as(d, mb, uid, msg, sizeof(msg) - 1) ? DG_PASS : DG_FAIL,
		 "store.open", "UID %u %s as its %zu bytes", uid,
		 opens_as(d, mb, uid, msg, sizeof(msg) - 1) ? "opens"
							    : "does NOT open",
		 sizeof(msg) - 1);
	if (ops->msg_expunge(mb, &uid, 1, &err) < 0 ||
	    ops->mbox_refresh(mb, &err) < 0 || ops->mbox_find(mb, uid) >= 0)
		dg_check(d, DG_FAIL, "store.delete", "expunge failed: %s",
			 err.msg);
	else
		dg_check(d, DG_PASS, "store.delete", "UID %u expunged", uid);
	ops->mbox_close(&mb);
	check_quota(d);
	rmail_err_clear(&err);
	if (ops->mbox_delete(d->h, d->user, MB_A, &err) < 0 ||
	    ops->mbox_delete(d->h, d->user, MB_B, &err) < 0)
		dg_check(d, DG_WARN, "store.mailbox",
			 "cannot delete the test "
			 "mailboxes: %s",
			 err.msg);
}
