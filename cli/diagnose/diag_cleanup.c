/*
 * Phase 8: every rmail-diag-* user of the diagnostic domain and every
 * alias named so or pointing at one, from this run or an interrupted
 * earlier one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "diag_int.h"
#include "submit/submit_int.h"

struct names {
	char **v;
	size_t n;
};

static bool is_diag(const char *addr)
{
	return strncasecmp(addr, DG_PREFIX, strlen(DG_PREFIX)) == 0;
}

static void add(struct names *l, const char *s)
{
	l->v = rm_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = rm_xstrdup(s);
}

static void user_one(void *arg, const struct rmail_user *u)
{
	if (is_diag(u->address))
		add(arg, u->address);
}

static void alias_one(void *arg, const char *alias, const char *const *targets,
		      size_t n)
{
	size_t i;
	bool diag = is_diag(alias);

	for (i = 0; i < n; i++)
		diag = diag || is_diag(targets[i]);
	if (diag)
		add(arg, alias);
}

static void names_free(struct names *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

/* queue entries from a diagnostic sender (a route that was down) */
static void clean_queue(struct diag *d)
{
	char(*ids)[RM_QID_MAX] = NULL;
	size_t n = rm_queue_list(&ids), i, gone = 0, mine = 0;

	for (i = 0; i < n; i++) {
		struct rm_qentry e;
		bool diag;
		int fd = -1, rc = 1, tries;

		if (rm_queue_load(ids[i], &e, NULL) < 0)
			continue;
		diag = e.from != NULL && is_diag(e.from);
		rm_queue_entry_free(&e);
		if (!diag)
			continue;
		mine++;
		/* busy: a delivery attempt holds it for a moment */
		for (tries = 0; tries < 50 && rc == 1; tries++) {
			rc = rm_queue_lock(ids[i], &fd);
			if (rc == 1)
				usleep(100000);
		}
		if (rc < 0) {
			gone++; /* finished meanwhile */
			continue;
		}
		if (rc == 0 && rm_queue_remove(ids[i]) == 0)
			gone++;
		else
			dg_check(d, DG_FAIL, "cleanup.queue",
				 "cannot drop "
				 "queue entry %s",
				 ids[i]);
		if (rc == 0)
			rm_queue_unlock(&fd);
	}
	free(ids);
	if (mine > 0 && gone == mine)
		dg_check(d, DG_PASS, "cleanup.queue",
			 "dropped %zu queued "
			 "diagnostic message(s)",
			 gone);
}

void dg_phase_cleanup(struct diag *d)
{
	struct names users = {0}, aliases = {0};
	struct rmail_err err;
	size_t i, ok_u = 0, ok_a = 0, earlier = 0;

	if (d->ops == NULL) {
		dg_check(d, DG_FAIL, "cleanup.store", "no store to clean");
		return;
	}
	rmail_err_clear(&err);
	if (d->ops->alias_list(d->h, d->domain, alias_one, &aliases, &err) <
		    0 &&
	    err.code != RMAIL_E_NOENT)
		dg_check(d, DG_FAIL, "cleanup.aliases", "alias_list: %s",
			 err.msg);
	for (i = 0; i < aliases.n; i++) {
		rmail_err_clear(&err);
		if (d->ops->alias_del(d->h, aliases.v[i], &err) == 0)
			ok_a++;
		else
			dg_check(d, DG_FAIL, "cleanup.aliases", "%s: %s",
				 aliases.v[i], err.msg);
	}
	rmail_err_clear(&err);
	if (d->ops->user_list(d->h, d->domain, user_one, &users, &err) < 0 &&
	    err.code != RMAIL_E_NOENT)
		dg_check(d, DG_FAIL, "cleanup.users", "user_list: %s", err.msg);
	for (i = 0; i < users.n; i++) {
		struct rmail_user u;

		if (strcasecmp(users.v[i], d->user) != 0 &&
		    strcasecmp(users.v[i], d->user2) != 0)
			earlier++;
		rmail_err_clear(&err);
		if (d->ops->user_del(d->h, users.v[i], 1, &err) == 0 &&
		    d->ops->user_get(d->h, users.v[i], &u, &err) < 0)
			ok_u++;
		else
			dg_check(d, DG_FAIL, "cleanup.users", "%s: %s",
				 users.v[i],
				 err.msg[0] ? err.msg : "still there");
	}
	if (ok_u == users.n)
		dg_check(d, DG_PASS, "cleanup.users",
			 "removed %zu "
			 "diagnostic users (%zu left by an earlier run)",
			 ok_u, earlier);
	if (ok_a == aliases.n)
		dg_check(d, DG_PASS, "cleanup.aliases",
			 "removed %zu "
			 "diagnostic aliases",
			 ok_a);
	clean_queue(d);
	d->have_user = false;
	names_free(&users);
	names_free(&aliases);
}
