/*
 * GET /api/folders/{folder}/search: substring search of one field,
 * newest first, a page at a time.  The view is snapshotted on the
 * loop; the search runs on the READ pool.  With the core's full-text
 * index (rmail_core.index_search) only its candidates and the UIDs it
 * has not indexed yet are read; without it every message is.  Either
 * way each hit is confirmed on the message with rmail_core.index_match
 * (the forms IMAP SEARCH compares), so an answer never holds a message
 * that does not match, and the reads of one request are bounded: a
 * page cut short by the bound says where to go on (next_before).
 */
#include <stdlib.h>
#include <string.h>

#include "ex.h"
#include "search_args.h"

/* what one request may read before it answers with what it has */
#define SCAN_MSGS_MAX 2000
#define SCAN_BYTES_MAX ((uint64_t)64 << 20)
/* the newest messages below the cursor one request looks at (40 bytes
 * each): a larger mailbox is searched a window at a time */
#define WINDOW_MAX 262144

struct search_job {
	struct ex_req *r;
	struct rmail_mbox *mb;
	struct rmail_msg *msgs; /* UIDs below `before`, ascending */
	size_t n;
	int older; /* messages below msgs[0] left out of the window */
	const char *const *kw;
	size_t nkw;
	const char *mailbox;
	uint32_t uidvalidity, maxuid;
	int field;
	const char *needle; /* folded */
	size_t nlen;
	uint32_t limit;
	int backlog; /* the index is behind or unusable: ask for an update */
	char *out;
	size_t out_len;
};

static int has_index(const struct rmail_core *core)
{
	return RMAIL_HAS(core, struct rmail_core, index_search) &&
	       core->index_search != NULL;
}

static int has_match(const struct rmail_core *core)
{
	return RMAIL_HAS(core, struct rmail_core, index_match) &&
	       core->index_match != NULL &&
	       RMAIL_HAS(core, struct rmail_core, casemap) &&
	       core->casemap != NULL;
}

/* 0: not a candidate, 1: matches (exact header hit), 2: read it */
static int verdict(const struct rmail_index_result *ir, uint32_t uid)
{
	size_t lo = 0, hi = ir->n;

	if (uid > ir->upto)
		return 2;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ir->uids[mid] < uid)
			lo = mid + 1;
		else if (ir->uids[mid] > uid)
			hi = mid;
		else
			return ir->exact ? 1 : 2;
	}
	return 0;
}

static void search_work(void *arg, const volatile int *cancel)
{
	struct search_job *j = arg;
	const struct rmail_core *core = j->r->mod->core;
	struct rmail_index_result ir = {.size = sizeof(ir)};
	json_t *arr = json_array(), *next = json_null(), *res;
	uint64_t bytes = 0;
	size_t i = j->n, reads = 0, hits = 0;
	int indexed = 0;
	struct rmail_err err;

	if (has_index(core)) {
		rmail_err_clear(&err);
		indexed =
			core->index_search(j->r->user.address, j->mailbox,
					   j->uidvalidity, j->field, j->needle,
					   j->nlen, &ir, &err) == 0;
		j->backlog = !indexed || ir.upto < j->maxuid;
	}
	while (i > 0 && !*cancel) {
		const struct rmail_msg *m = &j->msgs[i - 1];
		int v = indexed ? verdict(&ir, m->uid) : 2, match;
		size_t len = 0;
		char *buf;

		if (v == 0) {
			i--;
			continue;
		}
		if (hits == j->limit || reads >= SCAN_MSGS_MAX ||
		    bytes >= SCAN_BYTES_MAX) {
			/* everything above this UID is decided */
			json_decref(next);
			next = json_integer((json_int_t)m->uid + 1);
			break;
		}
		i--;
		reads++;
		buf = ex_read_msg(j->r->mod, j->mb, m->uid, m->size, &len);
		if (buf == NULL)
			continue; /* expunged since the snapshot */
		bytes += len;
		rmail_err_clear(&err);
		match = v == 1 ||
			core->index_match(buf, len, j->field, j->needle,
					  j->nlen, &err) == 1;
		if (match) {
			json_t *o = ex_msg_summary(core, buf, len, m, j->kw,
						   j->nkw);

			if (o != NULL) {
				json_array_append_new(arr, o);
				hits++;
			}
		}
		free(buf);
	}
	if (i == 0 && j->older && j->n > 0 && !*cancel) {
		json_decref(next);
		next = json_integer((json_int_t)j->msgs[0].uid);
	}
	free(ir.uids);
	res = json_pack("{s:o,s:I,s:o}", "messages", arr, "limit",
			(json_int_t)j->limit, "next_before", next);
	j->out = res != NULL ? json_dumps(res, JSON_COMPACT | JSON_ENSURE_ASCII)
			     : NULL;
	json_decref(res);
	j->out_len = j->out != NULL ? strlen(j->out) : 0;
}

static void search_done(void *arg, int cancelled)
{
	struct search_job *j = arg;
	struct ex_req *r = j->r;
	const struct rmail_core *core = r->mod->core;
	const struct rmail_store_ops *ops;
	char *out = j->out;
	void *h;

	ops = core->store(&h);
	if (j->mb != NULL)
		ops->mbox_close(&j->mb);
	if (j->backlog && RMAIL_HAS(core, struct rmail_core, index_update) &&
	    core->index_update != NULL)
		core->index_update(r->user.address, j->mailbox);
	free(j->msgs);
	/* j lives in the request's pool, which the answer frees */
	if (!ex_async_end(r)) {
		free(out);
		return;
	}
	if (cancelled)
		ex_error(r, 503, "Cancelled");
	else if (out == NULL)
		ex_error(r, 500, "Internal error");
	else
		ex_respond(r, 200, "application/json", out, j->out_len, NULL);
	free(out);
}

/* a present key whose value does not percent-decode is a 400, not
 * "absent" */
static const char *arg(struct ex_req *r, const char *key, int *bad)
{
	const char *v = ex_query(r, key), *q = r->query;
	size_t kl = strlen(key);

	while (v == NULL && q != NULL && *q != '\0') {
		if (strncmp(q, key, kl) == 0 && q[kl] == '=')
			*bad = 1;
		q = strchr(q, '&');
		q = q != NULL ? q + 1 : NULL;
	}
	return v;
}

/* the folded needle in the request's pool, as index_search wants it */
static const char *fold(struct ex_req *r, const char *q, size_t n,
			size_t *len_r)
{
	const struct rmail_core *core = r->mod->core;
	size_t cap = n * 3 + 16, need;
	char *out = core->palloc(r->pool, cap);

	need = core->casemap(q, n, out, cap);
	if (need > cap) {
		out = core->palloc(r->pool, need);
		cap = need;
		need = core->casemap(q, n, out, cap);
	}
	*len_r = need;
	return out;
}

void ex_api_search(struct ex_req *r)
{
	const struct rmail_core *core = r->mod->core;
	struct rmail_mbox_status st = {.size = sizeof(st)};
	const struct rmail_store_ops *ops;
	struct ex_search_args a;
	struct search_job *j;
	const char *q, *f, *l, *b, *msg;
	uint32_t count, k, start, end;
	int bad = 0;
	void *h;

	q = arg(r, "q", &bad);
	f = arg(r, "field", &bad);
	l = arg(r, "limit", &bad);
	b = arg(r, "before", &bad);
	if (bad) {
		ex_error(r, 400, "bad percent-encoding in the query");
		return;
	}
	msg = ex_search_args(q, f, l, b, &a);
	if (msg != NULL) {
		ex_error(r, 400, msg);
		return;
	}
	if (!has_match(core)) {
		ex_error(r, 501, "Search unavailable");
		return;
	}
	j = core->pcalloc(r->pool, sizeof(*j));
	j->r = r;
	j->field = a.field;
	j->limit = a.limit;
	j->needle = fold(r, a.q, a.qlen, &j->nlen);
	if (ex_open_mbox(r, &j->mb) < 0)
		return;
	ops = core->store(&h);
	ops->mbox_info(j->mb, &st);
	j->uidvalidity = st.uidvalidity;
	j->mailbox = r->params[0];
	count = ops->mbox_count(j->mb);
	j->maxuid = count > 0 ? ops->mbox_msg(j->mb, count - 1)->uid : 0;
	/* the view is the loop's: the worker gets a copy of the newest
	 * window below the cursor */
	end = count;
	if (a.before != 0) {
		uint32_t lo = 0;

		while (lo < end) {
			uint32_t mid = lo + (end - lo) / 2;

			if (ops->mbox_msg(j->mb, mid)->uid < a.before)
				lo = mid + 1;
			else
				end = mid;
		}
	}
	start = end > WINDOW_MAX ? end - WINDOW_MAX : 0;
	j->older = start > 0;
	j->msgs = malloc(sizeof(*j->msgs) * (end > start ? end - start : 1));
	if (j->msgs == NULL) {
		ops->mbox_close(&j->mb);
		ex_error(r, 503, "Busy");
		return;
	}
	for (k = start; k < end; k++)
		j->msgs[j->n++] = *ops->mbox_msg(j->mb, k);
	j->nkw = ex_copy_keywords(r, j->mb, &j->kw);
	ex_async_begin(r);
	if (core->work_submit(RMAIL_WORK_READ, search_work, search_done, j) ==
	    NULL) {
		ops->mbox_close(&j->mb);
		free(j->msgs);
		j->msgs = NULL;
		if (ex_async_end(r))
			ex_error(r, 503, "Busy");
	}
}
