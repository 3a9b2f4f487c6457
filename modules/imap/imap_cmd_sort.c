/*
 * SORT, UID SORT, THREAD and UID THREAD (RFC 5256, 5957, 5267).  The
 * search of the criteria, the header reads and the sort or threading
 * run as one job on the READ pool (imap_search_start), so a 100K
 * mailbox never holds up other sessions.  Records come from the
 * tracker's cache when there, else from imap_sorthdr_get on the
 * worker, and go into the cache when the job ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_esearch.h"
#include "imap_search.h"
#include "imap_session.h"
#include "imap_sorthdr.h"

struct sort_job {
	struct imap_sorthdr_src src;
	struct imap_sortcache *cache;
	bool thread, uid;
	int alg;
	unsigned ret; /* ESORT RETURN options */
	bool modseq;  /* a MODSEQ key: the answer names maxmodseq */
	bool behind;  /* the header cache lacked some: update it */
	uint64_t maxmodseq;
	struct imap_sort_crit crit[IMAP_SORT_MAX_KEYS];
	unsigned ncrit;
	/* worker results */
	struct imap_sortrec **fresh;
	size_t nfresh;
	uint32_t *ids; /* in sort order: sequence numbers or UIDs */
	uint32_t *uids;
	size_t n;
	struct imap_buf threads;
};

static void sort_cands(void *arg, struct imap_search_cand *c, size_t n)
{
	struct sort_job *j = arg;
	size_t i;

	for (i = 0; i < n; i++)
		c[i].priv =
			imap_sortcache_get(j->cache, c[i].m.uid, c[i].m.size);
}

static void sort_work(void *arg, struct imap_search_cand *hits, size_t n,
		      const volatile int *cancel)
{
	struct sort_job *j = arg;
	struct imap_sort_msg *msgs = malloc((n + 1) * sizeof(*msgs));
	const struct rmail_msg **miss = calloc(n + 1, sizeof(*miss));
	size_t i, k;

	j->fresh = malloc((n + 1) * sizeof(*j->fresh));
	j->ids = malloc((n + 1) * sizeof(*j->ids));
	j->uids = malloc((n + 1) * sizeof(*j->uids));
	if (msgs == NULL || miss == NULL || j->fresh == NULL ||
	    j->ids == NULL || j->uids == NULL)
		abort();
	/* what the cache lacks, in one batch (hits are UID-ascending) */
	for (i = 0; i < n; i++)
		if (hits[i].priv == NULL)
			miss[j->nfresh++] = &hits[i].m;
	j->behind =
		imap_sorthdr_get(&j->src, miss, j->nfresh, j->fresh, cancel);
	if (cancel != NULL && *cancel) {
		/* done() frees fresh[]: only the records made */
		for (k = 0; k < j->nfresh && j->fresh[k] != NULL; k++)
			;
		j->nfresh = k;
		goto out;
	}
	for (i = 0, k = 0; i < n; i++) {
		const struct imap_sortrec *r = hits[i].priv;

		if (r == NULL)
			r = j->fresh[k++];
		msgs[i] = (struct imap_sort_msg){
			.r = r,
			.seq = hits[i].seq,
			.uid = hits[i].m.uid,
			.size = hits[i].m.size,
			.internaldate = hits[i].m.internaldate,
		};
	}
	if (j->thread) {
		imap_thread_run(msgs, n, j->alg, j->uid, &j->threads, cancel);
		goto out;
	}
	imap_sort_run(msgs, n, j->crit, j->ncrit);
	for (i = 0; i < n; i++) {
		j->ids[i] = j->uid ? msgs[i].uid : msgs[i].seq;
		j->uids[i] = msgs[i].uid;
	}
	for (i = 0; j->modseq && i < n; i++)
		if (imap_msg_modseq(&hits[i].m) > j->maxmodseq)
			j->maxmodseq = imap_msg_modseq(&hits[i].m);
	j->n = n;
out:
	free(miss);
	free(msgs);
}

struct sort_out {
	struct imap_session *s;
	const struct sort_job *j;
};

static void out_session(void *ctx, const char *d, size_t n)
{
	struct sort_out *o = ctx;
	const struct sort_job *j = o->j;

	imap_write_modseq_line(o->s, d, n, j->n > 0 ? j->maxmodseq : 0,
			       (j->ret & IMAP_ESR_PRESENT) != 0);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* RFC 5182 with ESORT: "$" is the set the options name, as a set */
static void save(struct imap_session *s, struct sort_job *j)
{
	unsigned ret = j->ret;
	size_t n = j->n;

	if (!(ret & (IMAP_ESR_ALL | IMAP_ESR_COUNT)) &&
	    (ret & (IMAP_ESR_MIN | IMAP_ESR_MAX)) && n > 0) {
		uint32_t two[2];
		size_t k = 0;

		if (ret & IMAP_ESR_MIN)
			two[k++] = j->uids[0];
		if (ret & IMAP_ESR_MAX)
			two[k++] = j->uids[n - 1];
		if (k == 2 && two[0] == two[1])
			k = 1;
		qsort(two, k, sizeof(two[0]), cmp_u32);
		memcpy(j->uids, two, k * sizeof(two[0]));
		n = k;
	} else
		qsort(j->uids, n, sizeof(j->uids[0]), cmp_u32);
	imap_saved_clear(s);
	s->saved = imap_esearch_saved(IMAP_ESR_ALL, j->uids, n, &s->nsaved);
}

static void sort_done(void *arg, struct imap_session *s, const char *tag,
		      bool alive)
{
	struct sort_job *j = arg;
	size_t i;

	/* what was read from the messages is cached for the next process
	 * or selection, off the loop */
	if (alive && j->behind &&
	    RMAIL_HAS(s->mod->core, struct rmail_core, index_update) &&
	    s->mod->core->index_update != NULL)
		s->mod->core->index_update(j->src.user, j->src.mailbox);
	for (i = 0; i < j->nfresh; i++)
		imap_sortcache_put(j->cache, j->fresh[i]);
	imap_sortcache_release(j->cache);
	if (alive && j->thread) {
		imap_write(s, "* THREAD", 8);
		if (j->threads.len > 0) {
			imap_write(s, " ", 1);
			imap_write(s, j->threads.p, j->threads.len);
		}
		imap_write(s, "\r\n", 2);
		imap_tagged(s, tag, false, "OK THREAD completed");
	} else if (alive) {
		struct sort_out o = {s, j};

		if (j->ret & IMAP_ESR_PRESENT)
			imap_esearch_write(tag, j->uid, j->ret, j->ids, j->n,
					   out_session, &o);
		else
			imap_sort_write(j->ids, j->n, out_session, &o);
		if (j->ret & IMAP_ESR_SAVE)
			save(s, j);
		imap_tagged(s, tag, false, "OK SORT completed");
	}
	imap_buf_free(&j->threads);
	free(j->fresh);
	free(j->ids);
	free(j->uids);
	free(j);
}

static bool in_snapshot(void *ctx, uint32_t uid)
{
	return imap_snap_has(ctx, uid);
}

/* the tracker's cache, new after a UIDVALIDITY change; records of
 * expunged messages go when they are a quarter of it */
static struct imap_sortcache *cache_of(struct imap_tracker *t)
{
	if (t->sortcache == NULL)
		t->sortcache = imap_sortcache_new(t->uidvalidity);
	else if (imap_sortcache_uidvalidity(t->sortcache) != t->uidvalidity &&
		 imap_sortcache_held(t->sortcache) == 0) {
		imap_sortcache_free(t->sortcache);
		t->sortcache = imap_sortcache_new(t->uidvalidity);
	} else if (imap_sortcache_count(t->sortcache) >
		   imap_snap_count(t) + imap_snap_count(t) / 4 + 64)
		imap_sortcache_prune(t->sortcache, in_snapshot, t);
	return t->sortcache;
}

static void run(struct imap_session *s, const struct imap_cmd *cmd, bool uid,
		bool thread)
{
	const struct imap_arg *args = cmd->args, *cs;
	const char *why = "Invalid arguments";
	struct imap_search_key *root;
	struct sort_job *j;
	struct imap_search_post post;
	int rc;

	j = calloc(1, sizeof(*j));
	if (j == NULL)
		abort();
	j->thread = thread;
	j->uid = uid;
	if (thread) {
		if (args == NULL ||
		    imap_thread_parse_alg(&args, &j->alg, &why) < 0)
			goto bad;
	} else {
		if (imap_esearch_parse(&args, &j->ret, &why) < 0 ||
		    imap_sort_parse_criteria(&args, j->crit, &j->ncrit, &why) <
			    0)
			goto bad;
	}
	cs = args;
	rc = imap_sort_parse_charset(&args, &why);
	if (rc < 0)
		goto bad;
	/* RFC 6855 erratum 4029: only UTF-8 once UTF8=ACCEPT is on */
	if (s->utf8 && strcasecmp(cs->str, "UTF-8") != 0) {
		why = "Only the UTF-8 charset after ENABLE UTF8=ACCEPT";
		goto bad;
	}
	if (rc > 0) {
		/* RFC 5182 2.1: a NO with SAVE empties "$" */
		if (j->ret & IMAP_ESR_SAVE)
			imap_saved_clear(s);
		imap_tagged(s, cmd->tag, false,
			    "NO [BADCHARSET (US-ASCII UTF-8)] %s", why);
		free(j);
		return;
	}
	if (imap_search_parse(args, &s->arena,
			      (unsigned)imap_conf(s->mod)->max_depth, &root,
			      &why) != IMAP_SEARCH_OK)
		goto bad;
	if (s->rev2 && imap_search_has_recent(root)) {
		why = imap_rev2_no_recent;
		goto bad;
	}
	j->modseq = !thread && imap_search_has_modseq(root);
	j->src = (struct imap_sorthdr_src){
		.core = s->mod->core,
		.ops = imap_store(s->mod, NULL),
		.mb = s->tr->mb,
		.user = s->tr->user,
		.mailbox = s->tr->name,
		.uidvalidity = s->tr->uidvalidity,
	};
	j->cache = cache_of(s->tr);
	post = (struct imap_search_post){
		.cands = sort_cands,
		.work = sort_work,
		.done = sort_done,
		.arg = j,
	};
	imap_sortcache_hold(j->cache);
	if (imap_search_start(s, cmd->tag, root, uid, &post) < 0) {
		imap_sortcache_release(j->cache);
		free(j);
	}
	return;
bad:
	imap_tagged(s, cmd->tag, false, "BAD %s", why);
	free(j);
}

void imap_cmd_sort(struct imap_session *s, const struct imap_cmd *cmd, bool uid)
{
	run(s, cmd, uid, false);
}

void imap_cmd_thread(struct imap_session *s, const struct imap_cmd *cmd,
		     bool uid)
{
	run(s, cmd, uid, true);
}
