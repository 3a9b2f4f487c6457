/*
 * GET /api/folders/{folder}/search: substring search of one field,
 * newest first, a page at a time.  The index (rmail_core.index_search)
 * is asked on the READ pool; back on the loop only the candidates one
 * request can read are copied from the view (its hits and the UIDs it
 * has not indexed yet, newest first, at most SCAN_MSGS_MAX + 1 of them,
 * whatever the folder's size: the loop never copies a large view); the
 * reads run on the READ pool again.  Without the index the newest
 * messages are the candidates, as many.  Either
 * way each hit is confirmed on the message with rmail_core.index_match
 * (the forms IMAP SEARCH compares), so an answer never holds a message
 * that does not match, and the reads of one request are bounded: a
 * page cut short by the bound says where to go on (next_before).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ex.h"
#include "search_args.h"

/* what one request may read before it answers with what it has */
#define SCAN_MSGS_MAX 2000
#define SCAN_BYTES_MAX ((uint64_t)64 << 20)
/* the candidates one request takes from the view: every one it takes
 * is read (or is the one that says where to go on) */
#define CAND_MAX (SCAN_MSGS_MAX + 1)
/* the index's UIDs and view entries looked at to find them: the index
 * may still list many messages expunged since */
#define LOOK_MAX (4 * CAND_MAX)

struct search_job {
	struct ex_req *r;
	struct rmail_mbox *mb;
	struct rmail_msg *msgs; /* candidates below `before`, ascending */
	size_t n;
	int older;	 /* candidates below `cut` left out */
	uint32_t cut;	 /* every candidate at or above it is in msgs */
	uint32_t before; /* the cursor, 0: none */
	struct rmail_index_result ir;
	int indexed; /* ir holds the index's answer */
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
	json_t *arr = json_array(), *next = json_null(), *res;
	uint64_t bytes = 0;
	size_t i = j->n, reads = 0, hits = 0;
	struct rmail_err err;

	while (i > 0 && !*cancel) {
		const struct rmail_msg *m = &j->msgs[i - 1];
		int v = j->indexed ? verdict(&j->ir, m->uid) : 2, match;
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
	if (i == 0 && j->older && !*cancel) {
		json_decref(next);
		next = json_integer((json_int_t)j->cut);
	}
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
	free(j->ir.uids);
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

/* the job could not be handed to the pool: nobody else answers */
static void submit(struct search_job *j,
		   void (*work)(void *, const volatile int *),
		   void (*done)(void *, int))
{
	struct ex_req *r = j->r;
	const struct rmail_core *core = r->mod->core;
	const struct rmail_store_ops *ops;
	void *h;

	if (core->work_submit(RMAIL_WORK_READ, work, done, j) != NULL)
		return;
	ops = core->store(&h);
	ops->mbox_close(&j->mb);
	free(j->msgs);
	j->msgs = NULL;
	free(j->ir.uids);
	j->ir.uids = NULL;
	if (ex_async_end(r))
		ex_error(r, 503, "Busy");
}

/* index of the first message at or above uid `before` (count: none) */
static uint32_t below(const struct rmail_store_ops *ops, struct rmail_mbox *mb,
		      uint32_t count, uint32_t before)
{
	return before == 0 ? count : rmail_mbox_lower(ops, mb, count, before);
}

/*
 * [loop] Copy the candidates below the cursor, newest first, at most
 * CAND_MAX: with the index's answer, its UIDs (each found in the view)
 * and every UID above what it covers; else the newest messages.  The
 * cost is at most LOOK_MAX lookups, not the folder's size.
 */
static void candidates(struct search_job *j)
{
	const struct rmail_core *core = j->r->mod->core;
	const struct rmail_store_ops *ops;
	struct rmail_msg *v;
	uint32_t count, k;
	size_t n = 0, u = 0, looked = 0;
	void *h;

	ops = core->store(&h);
	count = ops->mbox_count(j->mb);
	j->maxuid = count > 0 ? ops->mbox_msg(j->mb, count - 1)->uid : 0;
	if (j->indexed)
		j->backlog = j->ir.upto < j->maxuid;
	else if (has_index(core))
		j->backlog = 1;
	k = below(ops, j->mb, count, j->before);
	v = malloc(sizeof(*v) * CAND_MAX);
	if (v == NULL) {
		ops->mbox_close(&j->mb);
		free(j->ir.uids);
		j->ir.uids = NULL;
		if (ex_async_end(j->r))
			ex_error(j->r, 503, "Busy");
		return;
	}
	if (j->indexed) {
		/* the index's UIDs below the cursor, walked down from u */
		while (u < j->ir.n &&
		       (j->before == 0 || j->ir.uids[u] < j->before))
			u++;
	}
	for (;;) {
		/* the view's newest first, while above what the index
		 * covers; then the index's hits */
		bool fresh = k > 0 &&
			     (!j->indexed ||
			      ops->mbox_msg(j->mb, k - 1)->uid > j->ir.upto);
		int64_t idx;

		if (!fresh && (!j->indexed || u == 0))
			break;
		if (n == CAND_MAX || looked == LOOK_MAX) {
			/* everything from the last one looked at up is
			 * taken or gone: the next page starts there */
			j->older = 1;
			break;
		}
		looked++;
		if (fresh) {
			v[n++] = *ops->mbox_msg(j->mb, --k);
			j->cut = v[n - 1].uid;
			continue;
		}
		j->cut = j->ir.uids[--u];
		idx = ops->mbox_find(j->mb, j->cut);
		if (idx >= 0) /* expunged since the index saw it: gone */
			v[n++] = *ops->mbox_msg(j->mb, (uint32_t)idx);
	}
	/* search_work walks them from the end: ascending */
	for (size_t a = 0, b = n; a + 1 < b; a++, b--) {
		struct rmail_msg t = v[a];

		v[a] = v[b - 1];
		v[b - 1] = t;
	}
	j->msgs = v;
	j->n = n;
	/* the names of the keyword bits just copied */
	j->nkw = ex_copy_keywords(j->r, j->mb, &j->kw);
	submit(j, search_work, search_done);
}

/* [pool] only the index's answer, no message read */
static void index_work(void *arg, const volatile int *cancel)
{
	struct search_job *j = arg;
	const struct rmail_core *core = j->r->mod->core;
	struct rmail_err err;

	(void)cancel;
	rmail_err_clear(&err);
	j->indexed = core->index_search(j->r->user.address, j->mailbox,
					j->uidvalidity, j->field, j->needle,
					j->nlen, &j->ir, &err) == 0;
}

static void index_done(void *arg, int cancelled)
{
	struct search_job *j = arg;
	const struct rmail_core *core = j->r->mod->core;

	if (cancelled || core->conn_closed(j->r->c)) {
		search_done(j, cancelled);
		return;
	}
	candidates(j);
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
	j->before = a.before;
	j->ir.size = sizeof(j->ir);
	j->needle = fold(r, a.q, a.qlen, &j->nlen);
	if (ex_open_mbox(r, &j->mb) < 0)
		return;
	ops = core->store(&h);
	ops->mbox_info(j->mb, &st);
	j->uidvalidity = st.uidvalidity;
	j->mailbox = r->params[0];
	ex_async_begin(r);
	if (has_index(core))
		submit(j, index_work, index_done);
	else
		candidates(j);
}
