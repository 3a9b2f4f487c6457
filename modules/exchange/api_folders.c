/*
 * GET /api/folders.  Counts come from a small cache of mailbox status
 * keyed by (user, mailbox); an entry is dropped when the store's change
 * feed reports the mailbox changed, or when this module changes it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ex.h"

#define CACHE_MAX 1024

struct fcache {
	char *user;
	char *name;
	int valid;
	struct rmail_mbox_status st;
	struct rmail_watch *w;
};

static struct fcache cache[CACHE_MAX];
static size_t cache_next;

static void entry_drop(const struct ex_mod *mod, struct fcache *e)
{
	const struct rmail_core *core = mod->core;

	if (e->w != NULL) {
		void *h;
		const struct rmail_store_ops *ops = core->store(&h);

		if (ops != NULL)
			ops->watch_del(&e->w);
	}
	free(e->user);
	free(e->name);
	memset(e, 0, sizeof(*e));
}

void ex_folders_fini(const struct ex_mod *mod)
{
	size_t i;

	for (i = 0; i < CACHE_MAX; i++)
		if (cache[i].user != NULL)
			entry_drop(mod, &cache[i]);
}

static void on_change(void *arg)
{
	struct fcache *e = arg;

	e->valid = 0;
}

static int same_mbox(const char *a, const char *b)
{
	/* INBOX is case-insensitive, everything else exact */
	if (strcasecmp(a, "INBOX") == 0)
		return strcasecmp(b, "INBOX") == 0;
	return strcmp(a, b) == 0;
}

static struct fcache *lookup(const char *user, const char *name)
{
	size_t i;

	for (i = 0; i < CACHE_MAX; i++)
		if (cache[i].user != NULL && strcmp(cache[i].user, user) == 0 &&
		    same_mbox(cache[i].name, name))
			return &cache[i];
	return NULL;
}

void ex_folders_invalidate(const char *user, const char *name)
{
	struct fcache *e = lookup(user, name);

	if (e != NULL)
		e->valid = 0;
}

static int status_cached(struct ex_req *r, const char *name,
			 struct rmail_mbox_status *st_r)
{
	const struct rmail_core *core = r->mod->core;
	const char *user = r->user.address;
	const struct rmail_store_ops *ops;
	struct fcache *e = lookup(user, name);
	struct rmail_err err;
	void *h;

	if (e != NULL && e->valid) {
		*st_r = e->st;
		return 0;
	}
	ops = core->store(&h);
	rmail_err_clear(&err);
	if (ops->mbox_status(h, user, name, st_r, &err) < 0)
		return -1;
	if (e == NULL) {
		e = &cache[cache_next];
		cache_next = (cache_next + 1) % CACHE_MAX;
		if (e->user != NULL)
			entry_drop(r->mod, e);
		e->user = strdup(user);
		e->name = strdup(name);
		if (e->user == NULL || e->name == NULL) {
			entry_drop(r->mod, e);
			return 0;
		}
		rmail_err_clear(&err);
		if (ops->watch_add(h, user, name, on_change, e, &e->w, &err) <
		    0) {
			/* without a feed the entry could go stale */
			entry_drop(r->mod, e);
			return 0;
		}
	}
	e->st = *st_r;
	e->valid = 1;
	return 0;
}

struct list_ctx {
	struct ex_req *r;
	json_t *arr;
};

static void on_mbox(void *arg, const struct rmail_mbox_entry *me)
{
	struct list_ctx *lc = arg;
	struct rmail_mbox_status st;
	const char *su;
	json_t *o;

	if (me->attrs & (RMAIL_MBOX_NOSELECT | RMAIL_MBOX_NONEXISTENT))
		return;
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	if (status_cached(lc->r, me->name, &st) < 0)
		return; /* deleted between list and status */
	su = ex_special_use_str(me->special_use ? me->special_use
						: st.special_use);
	o = json_pack("{s:s,s:o,s:I,s:I,s:I}", "name", me->name, "special_use",
		      su != NULL ? json_string(su) : json_null(), "total",
		      (json_int_t)st.messages, "unseen", (json_int_t)st.unseen,
		      "uidnext", (json_int_t)st.uidnext);
	if (o != NULL)
		json_array_append_new(lc->arr, o);
}

void ex_api_folders(struct ex_req *r)
{
	const struct rmail_core *core = r->mod->core;
	const struct rmail_store_ops *ops;
	struct list_ctx lc = {.r = r, .arr = json_array()};
	struct rmail_err err;
	void *h;

	ops = core->store(&h);
	rmail_err_clear(&err);
	if (ops->mbox_list(h, r->user.address, on_mbox, &lc, &err) < 0) {
		json_decref(lc.arr);
		core->conn_log(r->c, RMAIL_LOG_WARN, "mbox_list: %s", err.msg);
		ex_error(r, 503, "Store unavailable");
		return;
	}
	ex_json(r, 200, json_pack("{s:o}", "folders", lc.arr));
}
