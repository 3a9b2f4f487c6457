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
	struct rmail_append *ap;
	bool failed;
	struct rmail_err err;
	uint32_t uid, uidvalidity;
	int rc;
};

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

static void overquota(struct imap_session *s, const char *tag)
{
	imap_printf(s, "* NO [OVERQUOTA] %s\r\n", OVERQUOTA_TEXT);
	imap_tagged(s, tag, false, "NO [ALERT] Quota exceeded");
}

static void run_free(struct imap_session *s)
{
	struct imap_append_run *a = s->append;

	if (a == NULL)
		return;
	if (a->ap != NULL)
		imap_store(NULL)->append_free(&a->ap);
	free(a->mailbox);
	free(a);
	s->append = NULL;
}

void imap_append_abort(struct imap_session *s)
{
	run_free(s);
}

/* called when the message literal is announced: 0, or -1 to close */
int imap_append_literal(struct imap_session *s, bool sync)
{
	const struct imap_cmd *cmd = &s->parser.cmd;
	/* the parser links the arguments up to a streamed literal */
	const struct imap_arg *a = cmd->args, *lit = NULL;
	const struct rmail_store_ops *ops;
	struct imap_append_run *r;
	const char *kw[64], *name;
	size_t nkw = 0;
	struct rmail_append_opts o = {.size = sizeof(o)};
	void *h;

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		abort();
	r->s = s;
	snprintf(r->tag, sizeof(r->tag), "%s", cmd->tag);
	s->append = r;
	imap_arena_reset(&s->arena);
	name = imap_mbox_arg(s, NULL, a);
	for (lit = a; lit != NULL && lit->next != NULL; lit = lit->next)
		;
	a = a != NULL ? a->next : NULL;
	if (a != NULL && a != lit && a->type == IMAP_ARG_LIST) {
		if (imap_flag_parse(a, &o.flags, kw, &nkw) < 0) {
			r->failed = true;
			rmail_err_set(&r->err, RMAIL_E_INVAL, "Invalid flags");
		}
		o.keywords = kw;
		o.nkeywords = nkw;
		a = a->next;
	}
	if (a != NULL && a != lit && a->type == IMAP_ARG_QUOTED) {
		if (datetime_parse(a->str, a->len, &o.internaldate) < 0) {
			r->failed = true;
			rmail_err_set(&r->err, RMAIL_E_INVAL,
				      "Invalid date-time");
		}
		a = a->next;
	}
	if (a != lit || name == NULL) {
		r->failed = true;
		rmail_err_set(&r->err, RMAIL_E_INVAL,
			      "Invalid APPEND "
			      "arguments");
	}
	o.size_hint = s->parser.literal_size;
	ops = imap_store(&h);
	if (!r->failed) {
		r->mailbox = strdup(name);
		if (ops->append_begin(h, s->user, name, &o, &r->ap, &r->err) <
		    0)
			r->failed = true;
	}
	if (!sync)
		return 0; /* LITERAL+: the data comes anyway */
	if (r->failed) {
		const struct rmail_err *e = &r->err;

		if (e->code == RMAIL_E_INVAL)
			imap_printf(s, "%s BAD %s\r\n", r->tag, e->msg);
		else if (e->code == RMAIL_E_NOENT)
			imap_printf(s, "%s NO [TRYCREATE] %s\r\n", r->tag,
				    e->msg);
		else if (e->code == RMAIL_E_QUOTA)
			imap_printf(s,
				    "* NO [OVERQUOTA] %s\r\n"
				    "%s NO [ALERT] Quota exceeded\r\n",
				    OVERQUOTA_TEXT, r->tag);
		else
			imap_printf(s, "%s NO %s%s\r\n", r->tag,
				    imap_err_code(e), e->msg);
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

	if (r == NULL || r->failed || n == 0)
		return 0;
	if (imap_store(NULL)->append_write(r->ap, d, n, &r->err) < 0)
		r->failed = true;
	return 0;
}

static void commit_work(void *arg, const volatile int *cancel)
{
	struct imap_append_run *r = arg;

	(void)cancel;
	r->rc = imap_store(NULL)->append_commit(r->ap, &r->uid, &r->uidvalidity,
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
				overquota(s, r->tag);
			else
				imap_tagged(s, r->tag, false, "NO %s%s",
					    imap_err_code(&r->err), r->err.msg);
		} else {
			imap_tagged(s, r->tag, false,
				    "OK [APPENDUID %u %u] APPEND completed",
				    r->uidvalidity, r->uid);
		}
	}
	run_free(s);
	imap_async_end(s);
}

void imap_append_done(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct imap_append_run *r = s->append;

	(void)cmd;
	if (r->failed) {
		if (r->err.code == RMAIL_E_QUOTA)
			overquota(s, r->tag);
		else if (r->err.code == RMAIL_E_NOENT)
			imap_tagged(s, r->tag, false, "NO [TRYCREATE] %s",
				    r->err.msg);
		else if (r->err.code == RMAIL_E_INVAL)
			imap_tagged(s, r->tag, false, "BAD %s", r->err.msg);
		else
			imap_tagged(s, r->tag, false, "NO %s%s",
				    imap_err_code(&r->err), r->err.msg);
		run_free(s);
		return;
	}
	imap_async_begin(s, r->tag);
	IMAP_CORE->work_submit(RMAIL_WORK_WRITE, commit_work, commit_done, r);
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
