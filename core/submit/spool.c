/*
 * The submission objects behind core->submit_*: a message is streamed
 * into {mail_root}/spool/tmp/{id}, then the commit (on the WRITE pool)
 * runs the RECEIPT filters, prepends our header lines and
 * hands every recipient to deliver.c.  The spool file goes away only
 * after each recipient is durable in a mailbox or in the queue, so a
 * crash before the callback loses nothing that was acknowledged.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mailauth/authres.h"
#include "mailauth/dkim_keys.h"
#include "mailauth/dmarc_report.h"
#include "mailauth/ma_metrics.h"
#include "filter_sess.h"
#include "mailauth_stage.h"
#include "spam.h"
#include "submit_int.h"

#define SPOOL_BUF 65536
/* Messages up to this size are spooled in memory (memfd): the spool is
 * never what makes a message durable -- the mailbox append and the
 * queue entry are fsync'd on their own -- so a file in spool/tmp only
 * cost a create and an unlink that every fsync then had to journal.
 * Larger messages spill to a file so memory stays bounded. */
#define SPOOL_MEM_MAX (4u << 20)
#define RCPTS_MAX 1000
#define HDR_SCAN 65536

struct rmail_submit {
	struct rmail_pool *pool;
	char id[RM_QID_MAX];
	char *path;	  /* NULL while spooled in memory */
	char *spill_path; /* where a large in-memory spool goes */
	int fd;
	uint64_t size;
	int error; /* RMAIL_E_* of a failed write */
	char *buf;
	size_t blen;

	const char *proto, *mail_from, *auth_user, *peer_ip, *peer_name;
	const char *helo, *tls_info;
	const char **rcpts;
	size_t nrcpts;
	int submission;
	bool requiretls;

	rmail_submit_fn cb;
	void *cb_arg;
	struct rmail_submit_result res;
	struct rmail_rcpt_result *rr;
	size_t nqueued;
	double t0;
	struct rm_ma_result *ma; /* port-25 authentication, or NULL */

	/* per-session filters (filter_sess.c), or NULL */
	struct rmail_filter_sess *fs;
	bool fs_synth; /* opened here for the API's send */
	size_t synth_i;
	bool prepped, prep_failed;
	int64_t now;
	const char *received, *msgid_date; /* the lines we add */
	struct rmail_filter_step fst;
	struct rmail_filter_msg fsm;
	struct rmail_filter_reply *fsr; /* the DATA step's reply */
	bool in_file;			/* our lines are in fd now (edited) */
	bool junk;			/* a filter quarantined it */
	bool filter_signed;		/* a filter added a DKIM-Signature */
};

int rm_submit_path(char *buf, size_t sz, const char *sub, const char *name)
{
	const struct rm_config *c = rm_conf();
	int n;

	if (c == NULL || c->mail_root == NULL)
		return -1;
	n = snprintf(buf, sz, "%s%s%s%s%s", c->mail_root, sub ? "/" : "",
		     sub ? sub : "", name ? "/" : "", name ? name : "");
	return n < 0 || (size_t)n >= sz ? -1 : 0;
}

void rm_submit_new_id(char id[RM_QID_MAX])
{
	struct timespec ts;
	uint32_t rnd;

	clock_gettime(CLOCK_REALTIME, &ts);
	rm_random_bytes(&rnd, sizeof(rnd));
	snprintf(id, RM_QID_MAX, "%010llx%05lx%08x",
		 (unsigned long long)ts.tv_sec,
		 (unsigned long)(ts.tv_nsec / 10000) & 0xfffffUL, rnd);
}

void rm_rfc5322_date(int64_t t, char *buf, size_t sz)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, sz, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

static bool is_postmaster(const char *addr)
{
	const char *at = strrchr(addr, '@');
	size_t n = at != NULL ? (size_t)(at - addr) : strlen(addr);
	const char *plus = memchr(addr, '+', n);

	if (plus != NULL)
		n = (size_t)(plus - addr);
	return n == 10 && strncasecmp(addr, "postmaster", 10) == 0;
}

struct policy_acc {
	const struct rmail_store_ops *ops;
	void *h;
	uint64_t size_hint;
	size_t users, over, unknown;
};

static void policy_user(void *arg, const char *user)
{
	struct policy_acc *a = arg;
	uint64_t used = 0, limit = 0;
	struct rmail_err err;

	a->users++;
	rmail_err_clear(&err);
	if (a->ops->quota_get(a->h, user, &used, &limit, &err) < 0) {
		/* a user resolve just found: the usage could not be read */
		if (err.code != RMAIL_E_NOENT)
			a->unknown++;
		return;
	}
	if (limit > 0 && (a->size_hint > limit || used > limit - a->size_hint))
		a->over++;
}

int rm_rcpt_check(const char *rcpt, const char *auth_user, uint64_t size_hint)
{
	struct policy_acc a = {.size_hint = size_hint};
	struct rmail_err err;

	a.ops = rm_store(&a.h);
	if (rcpt == NULL)
		return RMAIL_RCPT_BADADDR;
	if (strcasecmp(rcpt, "postmaster") == 0)
		return RMAIL_RCPT_LOCAL;
	if (!rm_addr_valid(rcpt))
		return RMAIL_RCPT_BADADDR;
	if (a.ops == NULL)
		return RMAIL_RCPT_TEMPFAIL;
	rmail_err_clear(&err);
	switch (rm_addr_local(rcpt, &err)) {
	case 0:
		return auth_user != NULL ? RMAIL_RCPT_RELAY : RMAIL_RCPT_DENIED;
	case -1:
		rm_log(RMAIL_LOG_WARN, "rcpt %s: %s", rcpt, err.msg);
		return RMAIL_RCPT_TEMPFAIL;
	}
	if (is_postmaster(rcpt))
		return RMAIL_RCPT_LOCAL;
	rmail_err_clear(&err);
	if (a.ops->resolve(a.h, rcpt, policy_user, &a, &err) < 0) {
		if (err.code == RMAIL_E_NOENT || err.code == RMAIL_E_INVAL)
			return RMAIL_RCPT_NOUSER;
		rm_log(RMAIL_LOG_WARN, "rcpt %s: %s", rcpt, err.msg);
		return RMAIL_RCPT_TEMPFAIL;
	}
	if (a.unknown > 0)
		return RMAIL_RCPT_TEMPFAIL;
	if (a.users > 0 && a.over == a.users)
		return RMAIL_RCPT_OVERQUOTA;
	return RMAIL_RCPT_LOCAL;
}

static int mkdirs(const char *sub)
{
	char p[4096];

	if (rm_submit_path(p, sizeof(p), NULL, NULL) < 0)
		return -1;
	(void)mkdir(p, 0750);
	if (rm_submit_path(p, sizeof(p), "spool", NULL) < 0)
		return -1;
	(void)mkdir(p, 0750);
	if (rm_submit_path(p, sizeof(p), sub, NULL) < 0)
		return -1;
	if (mkdir(p, 0750) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* no CR, LF or controls from the peer into our header lines */
static const char *clean(struct rmail_pool *p, const char *s)
{
	char *o;
	size_t i, n;

	if (s == NULL)
		return NULL;
	n = strnlen(s, 255);
	o = rm_pstrndup(p, s, n);
	for (i = 0; i < n; i++)
		if ((unsigned char)o[i] < 32 || o[i] == 127)
			o[i] = '?';
	return o;
}

struct rmail_submit *rm_spool_begin(const struct rmail_submit_opts *o,
				    struct rmail_err *err)
{
	struct rmail_submit_opts so;
	struct rmail_submit *s;
	struct rmail_pool *p;
	char path[4096];
	size_t i;

	if (o == NULL || o->size < RMAIL_SUBMIT_OPTS_SIZE_1_0) {
		rmail_err_set(err, RMAIL_E_INVAL, "bad submission options");
		return NULL;
	}
	/* read through a copy at the core's size: fields the caller's
	 * minor did not have are 0 */
	so.size = (uint32_t)rmail_sized_copy(&so, sizeof(so), o, o->size);
	o = &so;
	if (o->mail_from == NULL || o->rcpts == NULL || o->nrcpts == 0 ||
	    o->nrcpts > RCPTS_MAX) {
		rmail_err_set(err, RMAIL_E_INVAL, "bad submission options");
		return NULL;
	}
	if (mkdirs("spool/tmp") < 0) {
		rmail_err_set(err, RMAIL_E_IO, "spool: %s", strerror(errno));
		return NULL;
	}
	p = rm_pool_create(NULL);
	s = rm_pcalloc(p, sizeof(*s));
	s->pool = p;
	s->fd = -1;
	s->fsm.fd = -1;
	rm_submit_new_id(s->id);
	if (rm_submit_path(path, sizeof(path), "spool/tmp", s->id) < 0) {
		rmail_err_set(err, RMAIL_E_INVAL, "no mail_root");
		goto fail;
	}
	s->path = rm_pstrdup(p, path);
	if (o->size_hint <= SPOOL_MEM_MAX &&
	    (s->fd = memfd_create("rmail-spool", MFD_CLOEXEC)) >= 0)
		s->path = NULL;
	else
		s->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	s->spill_path = rm_pstrdup(p, path);
	if (s->fd < 0) {
		rmail_err_set(err, RMAIL_E_IO, "spool %s: %s", path,
			      strerror(errno));
		goto fail;
	}
	s->buf = rm_palloc(p, SPOOL_BUF);
	s->proto = clean(p, o->proto != NULL ? o->proto : "smtp");
	s->mail_from = rm_pstrdup(p, o->mail_from);
	s->auth_user = o->auth_user ? rm_pstrdup(p, o->auth_user) : NULL;
	s->peer_ip = clean(p, o->peer_ip);
	s->peer_name = clean(p, o->peer_name);
	s->helo = clean(p, o->helo);
	s->tls_info = clean(p, o->tls_info);
	s->submission = o->submission;
	s->requiretls = o->requiretls != 0;
	if (RMAIL_HAS(o, struct rmail_submit_opts, filters) &&
	    o->filters != NULL) {
		s->fs = o->filters;
		rm_filter_sess_ref(s->fs);
	}
	s->nrcpts = o->nrcpts;
	s->rcpts = rm_pcalloc(p, (o->nrcpts + 1) * sizeof(*s->rcpts));
	for (i = 0; i < o->nrcpts; i++)
		s->rcpts[i] = rm_pstrdup(p, o->rcpts[i] ? o->rcpts[i] : "");
	return s;
fail:
	rm_pool_destroy(&p);
	return NULL;
}

static int flush(struct rmail_submit *s)
{
	size_t off = 0;

	while (off < s->blen) {
		ssize_t w = write(s->fd, s->buf + off, s->blen - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			s->error = RMAIL_E_IO;
			return -1;
		}
		off += (size_t)w;
	}
	s->blen = 0;
	return 0;
}

/* an in-memory spool outgrew SPOOL_MEM_MAX: move it to spool/tmp */
static int spill(struct rmail_submit *s)
{
	int fd;
	off_t off = 0;
	ssize_t w;

	if (flush(s) < 0)
		return -1;
	fd = open(s->spill_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	while ((w = sendfile(fd, s->fd, &off, 1u << 20)) > 0)
		;
	if (w < 0 || off != lseek(s->fd, 0, SEEK_END)) {
		close(fd);
		(void)unlink(s->spill_path);
		return -1;
	}
	close(s->fd);
	s->fd = fd;
	s->path = s->spill_path;
	return 0;
}

int rm_spool_write(struct rmail_submit *s, const void *data, size_t n,
		   struct rmail_err *err)
{
	if (s->error == RMAIL_E_NONE && s->size + n > RM_MSG_MAX)
		s->error = RMAIL_E_TOOBIG;
	if (s->error != RMAIL_E_NONE)
		return rmail_err_set(err, s->error,
				     s->error == RMAIL_E_TOOBIG
					     ? "message too big"
					     : "spool write failed");
	if (s->path == NULL && s->size + n > SPOOL_MEM_MAX && spill(s) < 0) {
		s->error = RMAIL_E_IO;
		return rmail_err_set(err, RMAIL_E_IO, "spool write failed");
	}
	s->size += n;
	if (s->blen + n > SPOOL_BUF && flush(s) < 0)
		return rmail_err_set(err, RMAIL_E_IO, "spool write failed");
	if (n >= SPOOL_BUF) {
		while (n > 0) {
			ssize_t w = write(s->fd, data, n);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				s->error = RMAIL_E_IO;
				return rmail_err_set(err, RMAIL_E_IO,
						     "spool write failed");
			}
			data = (const char *)data + w;
			n -= (size_t)w;
		}
		return 0;
	}
	memcpy(s->buf + s->blen, data, n);
	s->blen += n;
	return 0;
}

/* filters get their own read-only description of the spool, whether
 * it is a file or a memfd */
static int reopen_ro(const struct rmail_submit *s)
{
	char self[64];

	if (s->path != NULL)
		return open(s->path, O_RDONLY | O_CLOEXEC);
	snprintf(self, sizeof(self), "/proc/self/fd/%d", s->fd);
	return open(self, O_RDONLY | O_CLOEXEC);
}

static void spool_free(struct rmail_submit *s)
{
	struct rmail_pool *p = s->pool;

	if (s->fd >= 0)
		close(s->fd);
	if (s->fsm.fd >= 0)
		close(s->fsm.fd);
	if (s->path != NULL)
		(void)unlink(s->path);
	if (s->fs_synth)
		rm_filter_sess_close(&s->fs);
	else
		rm_filter_sess_release(&s->fs);
	rm_ma_result_free(s->ma);
	rm_pool_destroy(&p);
}

void rm_spool_abort(struct rmail_submit **sp)
{
	if (sp == NULL || *sp == NULL)
		return;
	spool_free(*sp);
	*sp = NULL;
}

/* is a field `name` in the header block of the message */
static bool has_header(int fd, const char *name)
{
	char *b = rm_xmalloc(HDR_SCAN + 1);
	size_t nl = strlen(name);
	ssize_t got = rm_pread_all(fd, b, HDR_SCAN, 0);
	bool found = false;
	char *p = b, *end;

	if (got <= 0) {
		free(b);
		return false;
	}
	end = b + got;
	*end = '\0';
	while (p < end && *p != '\r' && *p != '\n') {
		char *eol = memchr(p, '\n', (size_t)(end - p));

		if ((size_t)(end - p) > nl && strncasecmp(p, name, nl) == 0 &&
		    p[nl] == ':') {
			found = true;
			break;
		}
		if (eol == NULL)
			break;
		p = eol + 1;
	}
	free(b);
	return found;
}

static char *received(struct rmail_submit *s, int64_t now)
{
	const struct rm_config *c = rm_conf();
	const char *host = c != NULL && c->hostname ? c->hostname : "localhost";
	char date[64], *from, *tls;

	rm_rfc5322_date(now, date, sizeof(date));
	if (s->peer_ip != NULL)
		from = rm_psprintf(s->pool, "from %s (%s [%s])\r\n\t",
				   s->helo ? s->helo : "unknown",
				   s->peer_name ? s->peer_name : "unknown",
				   s->peer_ip);
	else
		from = "";
	tls = s->tls_info != NULL
		      ? rm_psprintf(s->pool, "\r\n\t(using %s)", s->tls_info)
		      : "";
	return rm_psprintf(s->pool,
			   "Received: %sby %s (rmail) with %s "
			   "id %s%s%s%s%s;\r\n\t%s\r\n",
			   from, host, s->proto, s->id,
			   s->auth_user ? "\r\n\t(authenticated as " : "",
			   s->auth_user ? clean(s->pool, s->auth_user) : "",
			   s->auth_user ? ")" : "", tls, date);
}

static void commit_fail(struct rmail_submit *s, int code, const char *text)
{
	s->res.ok = 0;
	s->res.code = code;
	snprintf(s->res.text, sizeof(s->res.text), "%.255s", text);
}

/* One reply for the whole transaction: 250 only when every recipient
 * is in its mailbox or in the queue (or failed for good while others
 * were accepted: those are bounced).  A recipient neither stored nor
 * queued refuses it all with 451/452; copies already stored for the
 * others stay, so the sender's retry may duplicate them (the store's
 * appends are visible at once and cannot be taken back unseen).  When
 * every recipient failed for good, the first failure is the reply. */
static void commit_outcome(struct rmail_submit *s, const int *codes)
{
	const char *why;
	size_t i;

	for (i = 0; i < s->nrcpts; i++) {
		if (s->rr[i].status != RMAIL_RCPT_DEFERRED)
			continue;
		rm_log(RMAIL_LOG_WARN,
		       "submit %s: %s neither stored nor queued: refused",
		       s->id, s->rcpts[i]);
		commit_fail(s, codes[i] == 452 ? 452 : 451,
			    codes[i] == 452
				    ? "4.3.1 Insufficient system storage, "
				      "try again later"
				    : "4.3.0 Cannot store the message, "
				      "try again later");
		return;
	}
	if (rm_deliver_accepted(s->rr, s->nrcpts))
		return;
	for (i = 0; i < s->nrcpts && codes[i] == 0; i++)
		;
	if (i == s->nrcpts)
		return;
	why = s->rr[i].error;
	/* a filter's "550 5.7.1 text": the code is ours to write */
	if (strlen(why) > 4 && why[3] == ' ' && strspn(why, "0123456789") == 3)
		why += 4;
	commit_fail(s, codes[i],
		    codes[i] == 552  ? "5.2.2 Mailbox full: quota exceeded"
		    : why[0] != '\0' ? why
				     : "5.1.1 No such user");
}

/* the message continues from fd, a fresh in-memory spool */
static void spool_replace(struct rmail_submit *s, int fd, uint64_t size)
{
	close(s->fd);
	if (s->path != NULL)
		(void)unlink(s->path);
	s->path = NULL;
	s->fd = fd;
	s->size = size;
}

/* [WRITE pool] the forged Authentication-Results go: the message
 * continues from a fresh in-memory spool without them */
static int ma_strip(struct rmail_submit *s)
{
	const struct rm_config *c = rm_conf();
	size_t removed = 0;
	int fd = memfd_create("rmail-spool", MFD_CLOEXEC);
	struct stat st;

	if (fd < 0 ||
	    authres_strip_fd(s->fd, fd, c->authserv_id, HDR_SCAN, &removed) <
		    0 ||
	    fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (removed == 0) {
		close(fd);
		return 0;
	}
	rm_mailauth_count_authres_removed(removed);
	rm_log(RMAIL_LOG_INFO,
	       "submit %s: %zu forged Authentication-Results removed", s->id,
	       removed);
	spool_replace(s, fd, (uint64_t)st.st_size);
	return 0;
}

/* [WRITE pool] the client's spam.header fields go before the filters
 * run: only a filter may mark a message as spam */
static int spam_strip(struct rmail_submit *s)
{
	const struct rm_config *c = rm_conf();
	size_t removed = 0;
	struct stat st;
	int fd;

	if (rm_spam_strip_fd(s->fd, &fd, HDR_SCAN, &removed) < 0)
		return -1;
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -1;
	}
	rm_log(RMAIL_LOG_INFO,
	       "submit %s: %zu %s field(s) from the client "
	       "removed",
	       s->id, removed, c->spam.header);
	spool_replace(s, fd, (uint64_t)st.st_size);
	return 0;
}

/* [WRITE pool] the stage's verdict: report data, a refusal, the strip */
static int ma_apply(struct rmail_submit *s)
{
	const struct rm_config *c = rm_conf();
	struct rm_ma_result *r = s->ma;
	char dir[4096];

	rm_ma_decide(r);
	if (r->record_report &&
	    rm_submit_path(dir, sizeof(dir), "dmarc", NULL) == 0 &&
	    dmarc_report_record(dir, &r->dmarc, &r->auth, s->peer_ip,
				(int64_t)time(NULL)) < 0)
		rm_log(RMAIL_LOG_WARN, "submit %s: dmarc report data: %s",
		       s->id, strerror(errno));
	if (r->refuse_code != 0) {
		rm_log(RMAIL_LOG_INFO,
		       "submit %s: refused: %d %s (spf=%s dmarc=%s from=%s)",
		       s->id, r->refuse_code, r->refuse_text, r->spf_result,
		       r->dmarc_result ? r->dmarc_result : "-", r->from_domain);
		commit_fail(s, r->refuse_code, r->refuse_text);
		return -1;
	}
	if (r->has_authres && c->authserv_id != NULL && ma_strip(s) < 0) {
		rm_log(RMAIL_LOG_ERR, "submit %s: stripping A-R: %s", s->id,
		       strerror(errno));
		commit_fail(s, 451, "4.3.0 Cannot write the message");
		return -1;
	}
	return 0;
}

/* RFC 6531 §4.3: the trace's protocol says the sender gave SMTPUTF8 */
static bool utf8_asked(const struct rmail_submit *s)
{
	return strncasecmp(s->proto, "UTF8", 4) == 0;
}

/* [WRITE pool] an 8-bit message to sign for a remote recipient goes
 * on in its 7-bit form, so the signature holds on any next hop */
static void sign_7bit(struct rmail_submit *s, struct rm_msg_src *src)
{
	int rc = rm_submit_sign_7bit(src, s->rcpts, s->nrcpts, true);

	if (rc < 0) {
		/* sent as it is: only a hop without 8BITMIME sees it
		 * converted, and the signature broken */
		rm_log(RMAIL_LOG_WARN, "submit %s: 7-bit conversion: %s", s->id,
		       strerror(errno));
		return;
	}
	if (rc == 0)
		return;
	rm_log(RMAIL_LOG_DEBUG, "submit %s: converted to 7-bit for signing",
	       s->id);
	close(s->fd);
	if (s->path != NULL)
		(void)unlink(s->path);
	s->path = NULL;
	s->fd = src->fd;
	s->size = src->size;
}

/* [WRITE pool] what comes before any filter sees the message: the
 * size and write errors, the authentication verdict and A-R strip,
 * the sender rule, and the lines we will add.  -1: refused (res set) */
static int commit_prep(struct rmail_submit *s)
{
	const struct rm_config *c = rm_conf();
	char date[64];
	char *md = "";

	s->prepped = true;
	s->now = (int64_t)time(NULL);
	if (s->error == RMAIL_E_TOOBIG) {
		commit_fail(s, 552, "5.3.4 Message too big");
		return -1;
	}
	/* No fsync of the spool file: it is never what survives a crash
	 * (nothing recovers spool/tmp; an unacknowledged message may be
	 * lost).  Durability comes from the store's append and from
	 * rm_queue_add, each fsync'd before the 250. */
	if (s->error != RMAIL_E_NONE) {
		commit_fail(s, 451, "4.3.0 Cannot write the message");
		return -1;
	}
	if (s->ma != NULL && ma_apply(s) < 0)
		return -1;
	if (spam_strip(s) < 0) {
		rm_log(RMAIL_LOG_ERR, "submit %s: stripping %s: %s", s->id,
		       c->spam.header, strerror(errno));
		commit_fail(s, 451, "4.3.0 Cannot write the message");
		return -1;
	}
	if (s->submission && s->auth_user != NULL) {
		char why[256];
		int code;

		if (rm_submit_sender_check(s->fd, s->size, s->auth_user, &code,
					   why, sizeof(why)) < 0) {
			rm_log(RMAIL_LOG_INFO, "submit %s: user %s: %s", s->id,
			       s->auth_user, why);
			commit_fail(s, code, why);
			return -1;
		}
	}
	if (s->submission) {
		if (!has_header(s->fd, "Message-ID"))
			md = rm_psprintf(
				s->pool, "%sMessage-ID: <%s@%s>\r\n", md, s->id,
				c && c->hostname ? c->hostname : "localhost");
		if (!has_header(s->fd, "Date")) {
			rm_rfc5322_date(s->now, date, sizeof(date));
			md = rm_psprintf(s->pool, "%sDate: %s\r\n", md, date);
		}
	}
	s->msgid_date = md;
	/* ours on top: it is what this hop found, above the trace */
	s->received = rm_psprintf(
		s->pool, "%s%s",
		s->ma != NULL && s->ma->authres != NULL ? s->ma->authres : "",
		received(s, s->now));
	return 0;
}

/* [WRITE pool] the recipient a filter adds: a local one must be a user
 * with room for the message, like at RCPT; a remote one is the
 * filter's (trusted, configured) decision, as in Postfix */
static bool added_rcpt_ok(struct rmail_submit *s, const char *rcpt)
{
	int pol = rm_rcpt_check(rcpt, s->auth_user, s->size);

	if (pol == RMAIL_RCPT_LOCAL || pol == RMAIL_RCPT_RELAY ||
	    pol == RMAIL_RCPT_DENIED)
		return true;
	rm_log(RMAIL_LOG_WARN,
	       "submit %s: recipient <%s> added by a filter refused (%s)",
	       s->id, rcpt,
	       pol == RMAIL_RCPT_NOUSER	     ? "no such user"
	       : pol == RMAIL_RCPT_OVERQUOTA ? "over quota"
	       : pol == RMAIL_RCPT_BADADDR   ? "bad address"
					     : "cannot check it now");
	return false;
}

static bool rcpt_listed(struct rmail_submit *s, size_t n, const char *r)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(s->rcpts[i], r) == 0)
			return true;
	return false;
}

/* [WRITE pool] the per-session filters' edits of the DATA step:
 * envelope edits here, header and body edits into a new spool
 * (msg_edit.c) that replaces the old one, our lines included */
static int sess_edits(struct rmail_submit *s)
{
	const struct rmail_filter_edit *e = s->fsr->edits;
	size_t ne = s->fsr->nedits, i, j, n = 0;
	const char **v;
	struct rmail_err err;

	v = rm_pcalloc(s->pool, (s->nrcpts + ne + 1) * sizeof(*v));
	for (i = 0; i < s->nrcpts; i++) {
		for (j = 0; j < ne; j++)
			if (e[j].op == RMAIL_FEDIT_DELETE_RCPT &&
			    e[j].value != NULL &&
			    strcasecmp(e[j].value, s->rcpts[i]) == 0)
				break;
		if (j == ne)
			v[n++] = s->rcpts[i];
		else
			rm_log(RMAIL_LOG_INFO,
			       "submit %s: recipient <%s> removed by a filter",
			       s->id, s->rcpts[i]);
	}
	s->rcpts = v;
	for (j = 0; j < ne; j++) {
		const char *a = e[j].value;

		switch (e[j].op) {
		case RMAIL_FEDIT_ADD_RCPT:
			if (a == NULL || n >= RCPTS_MAX ||
			    rcpt_listed(s, n, a) || !added_rcpt_ok(s, a))
				break;
			rm_log(RMAIL_LOG_INFO,
			       "submit %s: recipient <%s> added by a filter",
			       s->id, a);
			v[n++] = rm_pstrdup(s->pool, a);
			break;
		case RMAIL_FEDIT_CHANGE_FROM:
			if (a != NULL && (a[0] == '\0' || rm_addr_valid(a))) {
				rm_log(RMAIL_LOG_INFO,
				       "submit %s: sender <%s> changed to <%s>"
				       " by a filter",
				       s->id, s->mail_from, a);
				s->mail_from = rm_pstrdup(s->pool, a);
			}
			break;
		case RMAIL_FEDIT_QUARANTINE:
			rm_log(RMAIL_LOG_INFO,
			       "submit %s: quarantined by a filter: %s", s->id,
			       a != NULL ? a : "");
			s->junk = true;
			break;
		case RMAIL_FEDIT_ADD_HEADER:
		case RMAIL_FEDIT_INSERT_HEADER:
		case RMAIL_FEDIT_CHANGE_HEADER:
			if (e[j].name != NULL &&
			    strcasecmp(e[j].name, "DKIM-Signature") == 0 &&
			    a != NULL && a[0] != '\0')
				s->filter_signed = true;
			/* rspamd's milter marks spam with a header */
			if (e[j].name != NULL && a != NULL &&
			    rm_spam_verdict(rm_psprintf(s->pool, "%s: %s\r\n",
							e[j].name, a))) {
				/* the same line as a RECEIPT filter's mark:
				 * the admin greps one text for both */
				rm_log(RMAIL_LOG_INFO,
				       "submit %s: marked as spam by a filter "
				       "(%s): local copies to Junk",
				       s->id, e[j].name);
				s->junk = true;
			}
			break;
		default:
			break;
		}
	}
	s->nrcpts = n;
	s->rr = rm_pcalloc(s->pool, (n + 1) * sizeof(*s->rr));
	if (rm_msg_edits_content(e, ne)) {
		uint64_t size;
		int fd;
		const char *pre = rm_psprintf(s->pool, "%s%s", s->received,
					      s->msgid_date);

		rmail_err_clear(&err);
		fd = rm_msg_edit(pre, s->fd, s->size, e, ne, &size, &err);
		if (fd < 0) {
			rm_log(RMAIL_LOG_ERR, "submit %s: filter edits: %s",
			       s->id, err.msg);
			commit_fail(s, 451, "4.3.0 Cannot write the message");
			s->res.ok = 0;
			return -1;
		}
		close(s->fd);
		if (s->path != NULL)
			(void)unlink(s->path);
		s->path = NULL;
		s->fd = fd;
		s->size = size;
		s->in_file = true;
		rm_metric_add("rmail_filter_edits_total", NULL, 1);
	}
	return 0;
}

static void commit_work(void *arg, const volatile int *cancel)
{
	struct rmail_submit *s = arg;
	struct rmail_filter_msg fm;
	struct rmail_filter_result fr;
	struct rmail_err err;
	struct rm_msg_src local, remote;
	struct rm_deliver_req rq;
	const struct rm_config *c = rm_conf();
	char *extra = "";
	int *codes;
	size_t i;
	bool spam;

	(void)cancel;
	rmail_err_clear(&err);
	if (!s->prepped && commit_prep(s) < 0)
		return;
	memset(&fm, 0, sizeof(fm));
	fm.size = sizeof(fm);
	fm.stage = RMAIL_FILTER_RECEIPT;
	fm.mail_from = s->mail_from;
	fm.rcpts = s->rcpts;
	fm.nrcpts = s->nrcpts;
	fm.peer_ip = s->peer_ip;
	fm.helo = s->helo;
	fm.auth_user = s->auth_user;
	fm.fd = reopen_ro(s);
	fm.msg_size = s->size;
	rm_ma_filter_fields(s->ma, &fm);
	if (fm.fd < 0 || rm_filter_run(&fm, &fr, &err) < 0) {
		if (fm.fd >= 0)
			close(fm.fd);
		rm_log(RMAIL_LOG_ERR, "submit %s: filter: %s", s->id, err.msg);
		commit_fail(s, 451, "4.3.0 Filter failure");
		return;
	}
	close(fm.fd);
	if (fr.action == RMAIL_FILTER_REJECT) {
		rm_log(RMAIL_LOG_INFO, "submit %s: rejected by a filter: %d %s",
		       s->id, fr.code, fr.text);
		commit_fail(s, fr.code,
			    fr.text[0] ? fr.text : "5.7.1 Rejected");
		return;
	}
	spam = rm_spam_verdict(fr.add_headers);
	if (spam)
		rm_log(RMAIL_LOG_INFO,
		       "submit %s: marked as spam by a filter "
		       "(%s): local copies to Junk",
		       s->id, c->spam.header);
	s->res.ok = 1;
	if (fr.action == RMAIL_FILTER_DISCARD ||
	    (s->fsr != NULL && s->fsr->action == RMAIL_FILTER_DISCARD)) {
		rm_log(RMAIL_LOG_INFO, "submit %s: discarded by a filter",
		       s->id);
		for (i = 0; i < s->nrcpts; i++) {
			s->rr[i].rcpt = s->rcpts[i];
			s->rr[i].status = RMAIL_RCPT_DELIVERED;
		}
		return;
	}
	if (s->fsr != NULL && sess_edits(s) < 0)
		return;
	if (s->nrcpts == 0) {
		/* a filter took every recipient away: nothing to deliver */
		rm_log(RMAIL_LOG_INFO,
		       "submit %s: no recipient left after "
		       "the filters' edits",
		       s->id);
		return;
	}
	if (s->in_file)
		extra = rm_psprintf(s->pool, "%s", fr.add_headers);
	else
		extra = rm_psprintf(s->pool, "%s%s%s", s->received,
				    fr.add_headers, s->msgid_date);
	remote.prefix = extra;
	remote.fd = s->fd;
	remote.size = s->size;
	remote.flags = rm_msg_classify(s->fd, s->size, extra, s->mail_from,
				       s->rcpts, s->nrcpts, utf8_asked(s));
	/* signed after the last edit, before it is stored or queued;
	 * never twice: a signing filter (OpenDKIM) did it already */
	if (s->submission && s->auth_user != NULL && !s->filter_signed) {
		sign_7bit(s, &remote);
		extra = rm_psprintf(s->pool, "%s%s",
				    rm_submit_dkim(s->pool, extra, s->fd,
						   s->size, s->id, true),
				    extra);
		remote.prefix = extra;
	}
	local = remote;
	local.prefix = rm_psprintf(s->pool, "Return-Path: <%s>\r\n%s",
				   clean(s->pool, s->mail_from), extra);
	memset(&rq, 0, sizeof(rq));
	rq.id = s->id;
	rq.mail_from = s->mail_from;
	rq.rcpts = s->rcpts;
	rq.n = s->nrcpts;
	rq.local = &local;
	rq.remote = &remote;
	rq.peer_ip = s->peer_ip;
	rq.helo = s->helo;
	rq.auth_user = s->auth_user;
	rq.reply_pending = true;
	/* DMARC quarantine always; a filter's spam mark or quarantine
	 * unless the recipient opted out */
	rq.junk = s->ma != NULL && s->ma->junk ? RM_JUNK_ALWAYS
		  : spam || s->junk	       ? RM_JUNK_SPAM
					       : RM_JUNK_NO;
	rq.ma = s->ma;
	rq.requiretls = s->requiretls;
	codes = rm_pcalloc(s->pool, s->nrcpts * sizeof(*codes));
	rm_deliver_message(&rq, s->rr, codes, &s->nqueued);
	/* every recipient is durable now, or DEFERRED (not acknowledged) */
	if (s->path != NULL)
		(void)unlink(s->path);
	s->path = NULL;
	commit_outcome(s, codes);
}

static void commit_done(void *arg, int cancelled)
{
	struct rmail_submit *s = arg;
	size_t i;

	if (cancelled && s->res.ok == 0 && s->res.code == 0)
		commit_fail(s, 451, "4.3.0 Shutting down");
	if (s->path != NULL && s->res.ok == 0)
		(void)unlink(s->path);
	s->res.nrcpts = s->nrcpts;
	s->res.rcpts = s->rr;
	snprintf(s->res.queue_id, sizeof(s->res.queue_id), "%s", s->id);
	for (i = 0; s->res.ok && i < s->nrcpts; i++)
		if (s->rr[i].rcpt == NULL)
			s->rr[i].rcpt = s->rcpts[i];
	rm_metric_observe("rmail_delivery_duration_seconds", NULL,
			  rm_now() - s->t0);
	if (s->cb != NULL)
		s->cb(s->cb_arg, &s->res);
	if (s->nqueued > 0)
		rm_queue_kick();
	s->path = NULL; /* committed: the file is no longer ours */
	spool_free(s);
}

/* port-25 mail from an unauthenticated peer; submissions and locally
 * generated mail (no peer) skip the stage */
static bool ma_wanted(const struct rmail_submit *s)
{
	const struct rm_config *c = rm_conf();

	return c != NULL && c->mailauth_inbound && s->error == RMAIL_E_NONE &&
	       s->peer_ip != NULL && s->auth_user == NULL && !s->submission;
}

/* ---- per-session filters: the DATA step, and the API's synthesized
 * session (filter.h) ------------------------------------------------ */

static void prep_work(void *arg, const volatile int *cancel)
{
	struct rmail_submit *s = arg;

	(void)cancel;
	s->prep_failed = commit_prep(s) < 0;
}

static void data_done(void *arg, const struct rmail_filter_reply *r)
{
	struct rmail_submit *s = arg;

	if (s->fsm.fd >= 0)
		close(s->fsm.fd);
	s->fsm.fd = -1;
	if (r->action == RMAIL_FILTER_REJECT) {
		rm_log(RMAIL_LOG_INFO, "submit %s: refused by a filter: %d %s",
		       s->id, r->code, r->text);
		commit_fail(s, r->code,
			    r->text[0] ? r->text : "5.7.1 Rejected");
		commit_done(s, 0);
		return;
	}
	s->fsr = rm_pcalloc(s->pool, sizeof(*s->fsr));
	*s->fsr = *r;
	rm_work_submit(RMAIL_WORK_WRITE, commit_work, commit_done, s);
}

static void prep_done(void *arg, int cancelled)
{
	struct rmail_submit *s = arg;

	if (cancelled || s->prep_failed) {
		commit_done(s, cancelled);
		return;
	}
	memset(&s->fsm, 0, sizeof(s->fsm));
	s->fsm.size = sizeof(s->fsm);
	s->fsm.stage = RMAIL_FILTER_RECEIPT;
	s->fsm.mail_from = s->mail_from;
	s->fsm.rcpts = s->rcpts;
	s->fsm.nrcpts = s->nrcpts;
	s->fsm.peer_ip = s->peer_ip;
	s->fsm.helo = s->helo;
	s->fsm.auth_user = s->auth_user;
	s->fsm.fd = reopen_ro(s);
	s->fsm.msg_size = s->size;
	rm_ma_filter_fields(s->ma, &s->fsm);
	s->fsm.prepend =
		rm_psprintf(s->pool, "%s%s", s->received, s->msgid_date);
	if (s->fsm.fd < 0) {
		commit_fail(s, 451, "4.3.0 Cannot read the message");
		commit_done(s, 0);
		return;
	}
	memset(&s->fst, 0, sizeof(s->fst));
	s->fst.size = sizeof(s->fst);
	s->fst.step = RMAIL_FSTEP_DATA;
	s->fst.rcpts = s->rcpts;
	s->fst.nrcpts = s->nrcpts;
	s->fst.queue_id = s->id;
	s->fst.msg = &s->fsm;
	rm_filter_sess_run(s->fs, &s->fst, s->pool, data_done, s);
}

static void synth_next(void *arg, const struct rmail_filter_reply *r);

/* one synthesized step of an API send: CONNECT, HELO, MAIL, the RCPTs;
 * any refusal refuses the whole request (docs/filters.md) */
static void synth_step(struct rmail_submit *s, uint32_t step)
{
	memset(&s->fst, 0, sizeof(s->fst));
	s->fst.size = sizeof(s->fst);
	s->fst.step = step;
	s->fst.mail_from = s->mail_from;
	s->fst.mail_params = "";
	s->fst.auth_user = s->auth_user;
	if (step == RMAIL_FSTEP_RCPT)
		s->fst.rcpt = s->rcpts[s->synth_i++];
	rm_filter_sess_run(s->fs, &s->fst, NULL, synth_next, s);
}

static void synth_next(void *arg, const struct rmail_filter_reply *r)
{
	struct rmail_submit *s = arg;
	uint32_t step = s->fst.step;

	if (r->action == RMAIL_FILTER_REJECT) {
		rm_log(RMAIL_LOG_INFO, "submit %s: refused by a filter: %d %s",
		       s->id, r->code, r->text);
		commit_fail(s, r->code,
			    r->text[0] ? r->text : "5.7.1 Rejected");
		commit_done(s, 0);
		return;
	}
	if (step < RMAIL_FSTEP_MAIL)
		synth_step(s, step + 1);
	else if (s->synth_i < s->nrcpts)
		synth_step(s, RMAIL_FSTEP_RCPT);
	else
		rm_work_submit(RMAIL_WORK_WRITE, prep_work, prep_done, s);
}

/* the API's send has no SMTP session: CONNECT from the API client (or
 * loopback) and HELO with our own name */
static bool synth_open(struct rmail_submit *s)
{
	const struct rm_config *c = rm_conf();
	struct rmail_filter_step st = {.size = sizeof(st)};

	if (strcmp(s->proto, "http") != 0 || !rm_filter_sess_wanted())
		return false;
	st.step = RMAIL_FSTEP_CONNECT;
	st.listener = RMAIL_FILTER_API;
	st.synthesized = 1;
	st.session_id = s->id;
	st.peer_ip = s->peer_ip != NULL ? s->peer_ip : "127.0.0.1";
	st.peer_name = s->peer_ip != NULL ? s->peer_name : "localhost";
	st.local_ip = "127.0.0.1";
	st.helo = c != NULL && c->hostname ? c->hostname : "localhost";
	st.tls_info = s->tls_info;
	st.auth_user = s->auth_user;
	s->fs = rm_filter_sess_open(&st);
	if (s->fs == NULL)
		return false;
	s->fs_synth = true;
	s->fst = st;
	rm_filter_sess_run(s->fs, &st, NULL, synth_next, s);
	return true;
}

/* after the authentication stage: per-session filters, or the commit */
static void commit_stage(struct rmail_submit *s)
{
	if (s->fs == NULL && s->error == RMAIL_E_NONE && synth_open(s))
		return;
	if (s->fs != NULL && s->error == RMAIL_E_NONE)
		rm_work_submit(RMAIL_WORK_WRITE, prep_work, prep_done, s);
	else
		rm_work_submit(RMAIL_WORK_WRITE, commit_work, commit_done, s);
}

static void ma_done(void *arg, struct rm_ma_result *r)
{
	struct rmail_submit *s = arg;

	if (r == NULL) {
		commit_done(s, 1);
		return;
	}
	s->ma = r;
	commit_stage(s);
}

void rm_spool_commit(struct rmail_submit *s, rmail_submit_fn cb, void *arg)
{
	s->cb = cb;
	s->cb_arg = arg;
	s->t0 = rm_now();
	s->rr = rm_pcalloc(s->pool, s->nrcpts * sizeof(*s->rr));
	if (s->error == RMAIL_E_NONE)
		(void)flush(s);
	if (ma_wanted(s)) {
		struct rm_ma_input in = {.fd = s->fd,
					 .peer_ip = s->peer_ip,
					 .helo = s->helo,
					 .mail_from = s->mail_from,
					 .size = s->size,
					 .in_memory = s->path == NULL};

		rm_ma_stage_start(&in, ma_done, s);
		return;
	}
	commit_stage(s);
}

/* Stale spool files were never acknowledged: remove them.  Another
 * process may share the mail root, so only old ones. */
static void spool_clean(void)
{
	char dir[4096], p[4096 + 64];
	struct dirent *de;
	struct stat st;
	time_t now = time(NULL);
	DIR *d;

	if (rm_submit_path(dir, sizeof(dir), "spool/tmp", NULL) < 0)
		return;
	d = opendir(dir);
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, de->d_name) >=
		    sizeof(p))
			continue;
		if (stat(p, &st) == 0 && st.st_mtime + 3600 < now)
			(void)unlink(p);
	}
	if (d != NULL)
		closedir(d);
}

static int ctl_kick(void *arg, int argc, const char *const *argv, char *out,
		    size_t outsz)
{
	(void)arg;
	(void)argc;
	(void)argv;
	rm_queue_kick();
	snprintf(out, outsz, "queue run scheduled");
	return 0;
}

int rm_submit_init(struct rmail_err *err)
{
	if (mkdirs("spool/tmp") < 0 || mkdirs("queue") < 0)
		return rmail_err_set(err, RMAIL_E_IO,
				     "spool or queue "
				     "directory: %s",
				     strerror(errno));
	spool_clean();
	if (dmarc_psl_load(NULL) < 0)
		rm_log(RMAIL_LOG_WARN, "dmarc: no Public Suffix List: the "
				       "organizational domain is the From: "
				       "domain itself");
	rm_log(RMAIL_LOG_INFO, "dkim: %zu active signing keys",
	       dkim_keyring_load(rm_conf()->mail_root));
	return 0;
}

int rm_submit_start(struct rmail_err *err)
{
	if (rm_control_register(NULL, "queue kick", ctl_kick, NULL) < 0)
		rm_log(RMAIL_LOG_DEBUG, "queue kick: already registered");
	rm_queue_start();
	(void)err;
	return 0;
}
