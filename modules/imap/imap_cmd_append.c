/*
 * APPEND (UIDPLUS APPENDUID, APPENDLIMIT).  The message literal is
 * streamed: the parser hands it over slice by slice and each slice goes
 * straight to append_write, so a 35 MB message never sits in memory.
 * The store is asked before the literal is invited, so a missing
 * mailbox or an exhausted quota costs the client no upload; the commit
 * (fsync, UID lock, rename) runs on the WRITE pool.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_search.h"
#include "imap_session.h"

struct imap_append_run {
	struct imap_session *s;
	char tag[128];
	char *mailbox;
	struct rmail_append *ap; /* the message being received */
	/* MULTIAPPEND (RFC 3502): the batch's earlier messages, written,
	 * committed with ap as one by append_commit_many */
	struct rmail_append **batch;
	size_t nbatch, capbatch;
	uint64_t batch_bytes;	    /* announced sizes of the batch so far */
	const struct imap_arg *lit; /* the current message's literal */
	unsigned nlit; /* the parser's literal count at this message's */
	bool failed;
	struct rmail_err err;
	uint32_t uid, uidvalidity; /* the first UID of a batch */
	int rc;
};

/* MULTIAPPEND needs the store's batch commit (ABI 1.2) */
bool imap_multiappend_ok(const struct imap_mod *mod)
{
	const struct rmail_store_ops *ops = imap_store(mod, NULL);

	return RMAIL_HAS(ops, struct rmail_store_ops, append_commit_many) &&
	       ops->append_commit_many != NULL;
}

static void batch_free(struct imap_append_run *r)
{
	size_t i;

	for (i = 0; i < r->nbatch; i++)
		imap_store(r->s->mod, NULL)->append_free(&r->batch[i]);
	free(r->batch);
	r->batch = NULL;
	r->nbatch = r->capbatch = 0;
}

/* "dd-Mon-yyyy hh:mm:ss +zzzz" (day may be space-padded) */
static int datetime_parse(const char *s, size_t len, int64_t *t_r)
{
	int32_t days;
	int hh, mm, ss, zh, zm, sign;
	const char *sp;

	if (len > 0 && s[0] == ' ') {
		s++;
		len--;
	}
	sp = memchr(s, ' ', len);
	if (sp == NULL || imap_date_parse(s, (size_t)(sp - s), &days) < 0)
		return -1;
	len -= (size_t)(sp - s);
	s = sp;
	if (len != 15 || s[0] != ' ' || s[3] != ':' || s[6] != ':' ||
	    s[9] != ' ' || (s[10] != '+' && s[10] != '-'))
		return -1;
	for (size_t i = 1; i < 15; i++)
		if (i != 3 && i != 6 && i != 9 && i != 10 &&
		    (s[i] < '0' || s[i] > '9'))
			return -1;
	hh = (s[1] - '0') * 10 + (s[2] - '0');
	mm = (s[4] - '0') * 10 + (s[5] - '0');
	ss = (s[7] - '0') * 10 + (s[8] - '0');
	sign = s[10] == '-' ? -1 : 1;
	zh = (s[11] - '0') * 10 + (s[12] - '0');
	zm = (s[13] - '0') * 10 + (s[14] - '0');
	if (hh > 23 || mm > 59 || ss > 60 || zm > 59)
		return -1;
	*t_r = (int64_t)days * 86400 + hh * 3600 + mm * 60 + ss -
	       sign * (zh * 3600 + zm * 60);
	return 0;
}

/* RFC 9208 5.3: OVERQUOTA, untagged, next to the tagged NO clients
 * already show (ALERT) */
#define OVERQUOTA_TEXT "Storage quota of this account is used up"

/*
 * The reply to a refused APPEND.  `now` while the command line is still
 * being read (a refused synchronizing literal): no untagged updates may
 * come between the client's line and our answer then.
 */
static void refuse(struct imap_session *s, const char *tag,
		   const struct rmail_err *e, bool now)
{
	char line[1200];

	switch (e->code) {
	case RMAIL_E_QUOTA:
		imap_printf(s, "* NO [OVERQUOTA] %s\r\n", OVERQUOTA_TEXT);
		snprintf(line, sizeof(line), "NO [ALERT] Quota exceeded");
		break;
	case RMAIL_E_NOENT:
		snprintf(line, sizeof(line), "NO [TRYCREATE] %s", e->msg);
		break;
	case RMAIL_E_INVAL:
		snprintf(line, sizeof(line), "BAD %s", e->msg);
		break;
	case RMAIL_E_BUSY:   /* uploads per user, quota they reserve */
	case RMAIL_E_TOOBIG: /* the mailbox's keyword table */
		snprintf(line, sizeof(line), "NO [LIMIT] %s", e->msg);
		break;
	default:
		snprintf(line, sizeof(line), "NO %s%s", imap_err_code(e),
			 e->msg);
		break;
	}
	if (now)
		imap_printf(s, "%s %s\r\n", tag, line);
	else
		imap_tagged(s, tag, false, "%s", line);
}

/* the upload is abandoned: its tmp file, fd and quota reservation go
 * now, not when the rest of the command has been read */
static void run_fail(struct imap_append_run *r, int code, const char *msg)
{
	if (r->ap != NULL)
		imap_store(r->s->mod, NULL)->append_free(&r->ap);
	batch_free(r);
	if (!r->failed || code == RMAIL_E_INVAL)
		rmail_err_set(&r->err, code, "%s", msg);
	r->failed = true;
}

static void run_free(struct imap_session *s)
{
	struct imap_append_run *a = s->append;

	if (a == NULL)
		return;
	if (a->ap != NULL)
		imap_store(s->mod, NULL)->append_free(&a->ap);
	batch_free(a);
	free(a->mailbox);
	free(a);
	s->append = NULL;
}

void imap_append_abort(struct imap_session *s)
{
	run_free(s);
}

/* a second message literal on one line (MULTIAPPEND, RFC 3502, is not
 * offered): the command is invalid, the first upload abandoned */
static int second_literal(struct imap_session *s, bool sync)
{
	struct imap_append_run *r = s->append;

	r->nlit = s->parser.nliterals;
	run_fail(r, RMAIL_E_INVAL, "APPEND takes exactly one message");
	if (!sync)
		return 0; /* LITERAL+: read and drop it */
	refuse(s, r->tag, &r->err, true);
	run_free(s);
	imap_parser_literal_refuse(&s->parser);
	return 0;
}

/*
 * A message of a batch refused by append_begin.  The store says "held by
 * uploads in progress" (BUSY) when the batch's own earlier messages
 * hold the quota; when the batch as a whole does not fit what is
 * stored, that is the user's quota, as for one message too big.
 */
static void batch_refused(struct imap_session *s, struct imap_append_run *r,
			  uint64_t size)
{
	const struct rmail_store_ops *ops;
	uint64_t used, limit;
	struct rmail_err qe;
	void *h;

	if (r->nbatch > 0 && r->err.code == RMAIL_E_BUSY) {
		ops = imap_store(s->mod, &h);
		if (ops->quota_get(h, s->user, &used, &limit, &qe) == 0 &&
		    limit != 0 && used + r->batch_bytes + size > limit)
			rmail_err_set(&r->err, RMAIL_E_QUOTA, "Quota exceeded");
	}
	qe = r->err; /* run_fail formats from it */
	run_fail(r, qe.code, qe.msg);
}

/* RFC 6855 4: the message as "UTF8 (" literal8 ")"; `list` follows
 * `prev` */
static bool utf8_data(const struct imap_arg *prev, const struct imap_arg *list)
{
	return prev != NULL && imap_arg_atom_eq(prev, "UTF8") &&
	       list->type == IMAP_ARG_LIST && list->list != NULL &&
	       list->list->type == IMAP_ARG_LITERAL && list->list->streamed;
}

/*
 * Flags, date and the store's append_begin for the message whose
 * literal is the last of `a`'s chain (`a`: the first argument after the
 * mailbox, or after the previous message).  Failures go into r.
 */
static void begin_message(struct imap_session *s, struct imap_append_run *r,
			  const struct imap_arg *a)
{
	const struct rmail_store_ops *ops;
	const struct imap_arg *lit, *prev = NULL, *end;
	const char *kw[64];
	size_t nkw = 0;
	struct rmail_append_opts o = {.size = sizeof(o)};
	void *h;

	for (lit = a; lit != NULL && lit->next != NULL; lit = lit->next)
		prev = lit;
	r->lit = lit;
	/* flags and date stop at the message: the literal, or UTF8 */
	end = lit;
	if (lit != NULL && utf8_data(prev, lit)) {
		end = prev;
		if (!lit->list->literal8) {
			r->failed = true;
			rmail_err_set(&r->err, RMAIL_E_INVAL,
				      "UTF8 takes a literal8");
		}
	}
	if (a != NULL && a != end && a->type == IMAP_ARG_LIST) {
		if (imap_flag_parse(a, &o.flags, kw, &nkw) < 0) {
			r->failed = true;
			rmail_err_set(&r->err, RMAIL_E_INVAL, "Invalid flags");
		}
		o.keywords = kw;
		o.nkeywords = nkw;
		a = a->next;
	}
	if (a != NULL && a != end && a->type == IMAP_ARG_QUOTED) {
		if (datetime_parse(a->str, a->len, &o.internaldate) < 0) {
			r->failed = true;
			rmail_err_set(&r->err, RMAIL_E_INVAL,
				      "Invalid date-time");
		}
		a = a->next;
	}
	if (a != end || r->mailbox == NULL) {
		r->failed = true;
		rmail_err_set(&r->err, RMAIL_E_INVAL,
			      "Invalid APPEND "
			      "arguments");
	}
	o.size_hint = s->parser.literal_size;
	ops = imap_store(s->mod, &h);
	/* each message of a batch reserves its size against the quota
	 * and takes an upload slot: the caps apply to the whole batch */
	if (!r->failed &&
	    ops->append_begin(h, s->user, r->mailbox, &o, &r->ap, &r->err) < 0)
		batch_refused(s, r, o.size_hint);
	r->batch_bytes += o.size_hint;
}

/* the received message (ap) joins the batch */
static void batch_push(struct imap_append_run *r)
{
	if (r->nbatch == r->capbatch) {
		size_t cap = r->capbatch ? r->capbatch * 2 : 4;
		struct rmail_append **v = realloc(r->batch, cap * sizeof(*v));

		if (v == NULL)
			abort();
		r->batch = v;
		r->capbatch = cap;
	}
	r->batch[r->nbatch++] = r->ap;
	r->ap = NULL;
}

/* the next message of a MULTIAPPEND: the previous one is complete */
static void next_message(struct imap_session *s, struct imap_append_run *r)
{
	const struct imap_arg *prev = r->lit;

	r->nlit = s->parser.nliterals;
	if (r->failed)
		return;
	batch_push(r);
	imap_arena_reset(&s->arena);
	begin_message(s, r, prev != NULL ? prev->next : NULL);
}

/* called when a message literal is announced: 0, or -1 to close */
int imap_append_literal(struct imap_session *s, bool sync)
{
	const struct imap_cmd *cmd = &s->parser.cmd;
	/* the parser links the arguments up to a streamed literal */
	const struct imap_arg *a = cmd->args;
	struct imap_append_run *r;
	const char *name;

	if (s->append != NULL && !imap_multiappend_ok(s->mod))
		return second_literal(s, sync);
	if (s->append != NULL) {
		r = s->append;
		next_message(s, r);
	} else {
		r = calloc(1, sizeof(*r));
		if (r == NULL)
			abort();
		r->s = s;
		r->nlit = s->parser.nliterals;
		snprintf(r->tag, sizeof(r->tag), "%s", cmd->tag);
		s->append = r;
		imap_arena_reset(&s->arena);
		name = imap_mbox_arg(s, NULL, a);
		if (name != NULL) {
			r->mailbox = strdup(name);
			if (r->mailbox == NULL)
				abort();
		}
		begin_message(s, r, a != NULL ? a->next : NULL);
	}
	if (!sync)
		return 0; /* LITERAL+: the data comes anyway */
	if (r->failed) {
		refuse(s, r->tag, &r->err, true);
		run_free(s);
		imap_parser_literal_refuse(&s->parser);
		return 0;
	}
	imap_printf(s, "+ Ready for literal data\r\n");
	imap_parser_literal_accept(&s->parser);
	return 0;
}

int imap_append_chunk(struct imap_session *s, const char *d, size_t n)
{
	struct imap_append_run *r = s->append;

	/* the first bytes of a non-synchronizing literal announce it */
	if ((r == NULL || r->nlit != s->parser.nliterals) &&
	    imap_append_literal(s, false) < 0)
		return -1;
	r = s->append;
	if (r == NULL || r->failed || n == 0)
		return 0;
	if (imap_store(s->mod, NULL)->append_write(r->ap, d, n, &r->err) < 0) {
		struct rmail_err e = r->err;

		run_fail(r, e.code, e.msg);
	}
	return 0;
}

static void commit_work(void *arg, const volatile int *cancel)
{
	struct imap_append_run *r = arg;

	(void)cancel;
	if (r->nbatch > 0) {
		r->rc = imap_store(r->s->mod, NULL)
				->append_commit_many(
					(struct rmail_append *const *)r->batch,
					r->nbatch, &r->uid, &r->uidvalidity,
					&r->err);
		return;
	}
	r->rc = imap_store(r->s->mod, NULL)
			->append_commit(r->ap, &r->uid, &r->uidvalidity,
					&r->err);
}

static void commit_done(void *arg, int cancelled)
{
	struct imap_append_run *r = arg;
	struct imap_session *s = r->s;

	if (!s->closing) {
		imap_view_poll(s);
		if (cancelled || r->rc < 0) {
			if (!cancelled && r->err.code == RMAIL_E_QUOTA)
				refuse(s, r->tag, &r->err, false);
			else
				imap_tagged(s, r->tag, false, "NO %s%s",
					    imap_err_code(&r->err), r->err.msg);
		} else if (r->nbatch > 1) {
			/* RFC 4315: the batch's UIDs, consecutive */
			imap_tagged(s, r->tag, false,
				    "OK [APPENDUID %u %u:%u] APPEND completed",
				    r->uidvalidity, r->uid,
				    r->uid + (uint32_t)r->nbatch - 1);
		} else {
			imap_tagged(s, r->tag, false,
				    "OK [APPENDUID %u %u] APPEND completed",
				    r->uidvalidity, r->uid);
		}
	}
	/* the index learns the new message off the loop, after the
	 * reply (a search meanwhile reads it from the file) */
	if (!cancelled && r->rc == 0 &&
	    RMAIL_HAS(s->mod->core, struct rmail_core, index_update) &&
	    s->mod->core->index_update != NULL)
		s->mod->core->index_update(s->user, r->mailbox);
	run_free(s);
	imap_async_end(s);
}

/* the message literal, streamed, ends the command: nothing after it
 * (in UTF8 ( ), nothing after it in the list either) */
static bool literal_last(const struct imap_cmd *cmd)
{
	const struct imap_arg *a = cmd->args, *prev = NULL;

	while (a != NULL && a->next != NULL) {
		prev = a;
		a = a->next;
	}
	if (a != NULL && utf8_data(prev, a))
		return a->list->next == NULL;
	return a != NULL && a->type == IMAP_ARG_LITERAL && a->streamed;
}

void imap_append_done(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct imap_append_run *r = s->append;

	if (r->nlit != s->parser.nliterals)
		/* a literal that never streamed: an empty one */
		run_fail(r, RMAIL_E_INVAL,
			 imap_multiappend_ok(s->mod)
				 ? "Every APPEND message needs a non-empty "
				   "literal"
				 : "APPEND takes exactly one message");
	else if (!literal_last(cmd))
		run_fail(r, RMAIL_E_INVAL, "Invalid APPEND arguments");
	if (r->failed) {
		refuse(s, r->tag, &r->err, false);
		run_free(s);
		return;
	}
	/* the last message joins the batch: one commit for all */
	if (r->nbatch > 0)
		batch_push(r);
	imap_async_begin(s, r->tag);
	s->mod->core->work_submit(RMAIL_WORK_WRITE, commit_work, commit_done,
				  r);
}

void imap_cmd_append(struct imap_session *s, const struct imap_cmd *cmd,
		     bool uid)
{
	(void)uid;
	/* the message literal never came as a stream: empty, or missing */
	imap_tagged(s, cmd->tag, false,
		    "BAD APPEND needs a non-empty "
		    "message literal");
}
