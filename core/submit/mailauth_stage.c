/*
 * The inbound mail-authentication stage (mailauth_stage.h): SPF, DKIM
 * and DMARC of one port-25 message, driven over one answer cache.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <rmail/filter.h>

#include "dns/dns.h"
#include "mailauth/authres.h"
#include "mailauth/ma_metrics.h"
#include "mailauth_stage.h"
#include "submit_int.h"

/* answers kept per message: SPF's 10 terms with their A/MX look-ups,
 * the DKIM keys and two DMARC records fit many times over */
#define MA_CACHE_MAX 256
/* SPF nests at most 10 DNS-querying terms; each may cost a round */
#define MA_ROUNDS_MAX 24
#define MA_HDR_READ 65536
#define MA_INLINE_MAX (64u << 10)

struct ma_stage {
	struct rm_ma_input in;
	char *peer_ip, *helo, *mail_from;
	void (*done)(void *arg, struct rm_ma_result *r);
	void *arg;
	struct rm_ma_result *r;
	struct dkim_verifier *dv;
	struct ma_dns_cache *cache;
	struct rmail_timer *deadline;
	bool from_ok;
	bool spf_done, dkim_done, dmarc_done, filling;
	unsigned rounds;
	struct spf_input spf_in;
	bool spf_ip_ok;
};

void rm_ma_result_free(struct rm_ma_result *r)
{
	if (r == NULL)
		return;
	free(r->authres);
	free(r->mail_from);
	free(r->authres_value);
	free(r);
}

/* the header block: up to the first empty line (LF or CRLF) */
static size_t header_len(const char *b, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (b[i] == '\n' &&
		    (b[i + 1] == '\n' ||
		     (b[i + 1] == '\r' && i + 2 < n && b[i + 2] == '\n')))
			return i + 1;
	return n;
}

/* the value of the first field `name` in the header block (just past
 * its colon), or NULL */
static const char *field_value(const char *b, size_t n, const char *name)
{
	size_t nl = strlen(name);
	const char *p = b, *end = b + n;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if ((size_t)(end - p) > nl && strncasecmp(p, name, nl) == 0 &&
		    p[nl] == ':')
			return p + nl + 1;
		if (eol == NULL)
			break;
		p = eol + 1;
	}
	return NULL;
}

/* A DMARC aggregate report (RFC 7489 §7.2.1.1 subject, null sender):
 * reports about reports would only feed a loop between receivers. */
static bool is_dmarc_report(const char *b, size_t n, const char *mail_from)
{
	const char *v = field_value(b, n, "Subject");

	if (v == NULL || (mail_from != NULL && mail_from[0] != '\0'))
		return false;
	while (v < b + n && (*v == ' ' || *v == '\t'))
		v++;
	return (size_t)(b + n - v) > 14 &&
	       strncasecmp(v, "Report Domain:", 14) == 0;
}

/* [READ pool] the message is read once: DKIM hashes, From: domain */
static void read_work(void *arg, const volatile int *cancel)
{
	struct ma_stage *st = arg;
	char *b = rm_xmalloc(MA_HDR_READ);
	ssize_t got = rm_pread_all(st->in.fd, b, MA_HDR_READ, 0);
	size_t hl;

	(void)cancel;
	st->dv = dkim_verifier_new();
	if (dkim_verifier_feed_fd(st->dv, st->in.fd) < 0)
		rm_log(RMAIL_LOG_WARN, "mailauth: reading the spool failed");
	dkim_verifier_finish(st->dv);
	if (got > 0) {
		hl = header_len(b, (size_t)got);
		st->r->has_authres =
			field_value(b, hl, "Authentication-Results") != NULL;
		st->r->is_report = is_dmarc_report(b, hl, st->r->mail_from);
		st->from_ok =
			dmarc_from_domain(b, hl, st->r->from_domain,
					  sizeof(st->r->from_domain)) == 0;
	}
	free(b);
	if (!st->from_ok)
		st->r->from_domain[0] = '\0';
}

static void stage_free(struct ma_stage *st)
{
	rm_timer_del(&st->deadline);
	if (st->cache != NULL) {
		if (st->filling)
			rm_dns_fill_cancel(st->cache);
		ma_dns_cache_free(st->cache);
	}
	dkim_verifier_free(st->dv);
	free(st->peer_ip);
	free(st->helo);
	free(st->mail_from);
	free(st);
}

static void auth_fill(struct ma_stage *st)
{
	struct rm_ma_result *r = st->r;
	size_t i;

	r->auth.spf_domain = r->spf.domain;
	r->auth.spf_pass = r->spf.result == SPF_PASS;
	r->auth.spf_helo = r->spf.helo_identity;
	r->auth.spf_result = spf_result_name(r->spf.result);
	r->auth.mail_from = r->mail_from;
	for (i = 0; i < r->ndkim; i++) {
		r->dkim_in[i].d = r->dkim[i].d;
		r->dkim_in[i].s = r->dkim[i].s;
		r->dkim_in[i].pass = r->dkim[i].result == DKIM_PASS;
		r->dkim_in[i].full_body = r->dkim[i].full_body;
		r->dkim_in[i].result = dkim_result_name(r->dkim[i].result);
	}
	r->auth.ndkim = r->ndkim;
	r->auth.dkim = r->dkim_in;
}

/* One pass of every evaluator not done yet; true when all are. */
static bool evaluate(struct ma_stage *st)
{
	const struct rm_config *c = rm_conf();
	struct rm_ma_result *r = st->r;
	struct dmarc_opts o = {0};
	struct dmarc_verdict v;

	if (!st->spf_done)
		st->spf_done =
			!st->spf_ip_ok ||
			spf_check(st->cache, &st->spf_in, &r->spf) == MA_DONE;
	if (!st->dkim_done)
		st->dkim_done =
			dkim_verifier_eval(st->dv, st->cache,
					   (int64_t)time(NULL), r->dkim,
					   DKIM_MAX_SIGS, &r->ndkim) == MA_DONE;
	if (!c->dmarc.enabled) {
		st->dmarc_done = true;
		return st->spf_done && st->dkim_done;
	}
	o.exceptions = c->dmarc.exceptions.v;
	o.nexceptions = c->dmarc.exceptions.n;
	if (st->spf_done && st->dkim_done) {
		auth_fill(st);
		st->dmarc_done = dmarc_eval(st->cache,
					    st->from_ok ? r->from_domain : NULL,
					    &r->auth, &o, &r->dmarc) == MA_DONE;
	} else if (st->rounds == 0 && st->from_ok) {
		/* ask for the policy record now, in parallel with SPF and
		 * the keys: its look-ups do not depend on their results */
		struct dmarc_auth none = {0};

		(void)dmarc_eval(st->cache, r->from_domain, &none, &o, &v);
	}
	return st->spf_done && st->dkim_done && st->dmarc_done;
}

static void refuse(struct rm_ma_result *r, int code, const char *text)
{
	r->refuse_code = code;
	snprintf(r->refuse_text, sizeof(r->refuse_text), "%s", text);
}

/* Temporary DNS errors never become a permanent refusal: with SPF or
 * a signature in temperror, what would be a 550 is a 451. */
static void decide(struct rm_ma_result *r, bool from_local)
{
	const struct rm_config *c = rm_conf();
	bool temp = r->spf.result == SPF_TEMPERROR;
	const char *tmp = "4.7.0 Temporary authentication failure, "
			  "try again later";
	char t[256];
	size_t i;

	for (i = 0; i < r->ndkim; i++)
		temp |= r->dkim[i].result == DKIM_TEMPERROR;
	if (c->dmarc.enabled && r->dmarc.result == DMARC_FAIL &&
	    r->dmarc.disposition == DMARC_P_REJECT) {
		snprintf(t, sizeof(t),
			 "5.7.1 Rejected by the DMARC policy of %.200s",
			 r->from_domain);
		if (temp)
			refuse(r, 451, tmp);
		else
			refuse(r, 550, t);
		return;
	}
	if (c->dmarc.reject_local_from && r->from_domain[0] != '\0' &&
	    dmarc_local_from_refused(r->from_domain, from_local, &r->auth)) {
		rm_mailauth_count_local_from_refused();
		if (temp)
			refuse(r, 451, tmp);
		else
			refuse(r, 550,
			       "5.7.1 Unauthenticated mail from a local "
			       "domain");
		return;
	}
	if (c->spf.reject_fail && r->spf.result == SPF_FAIL) {
		if (c->dmarc.enabled && r->dmarc.result == DMARC_TEMPERROR) {
			refuse(r, 451, tmp);
			return;
		}
		if (!c->dmarc.enabled || r->dmarc.result == DMARC_NONE ||
		    r->dmarc.result == DMARC_PERMERROR) {
			snprintf(t, sizeof(t), "5.7.23 %.240s",
				 r->spf.explanation[0] ? r->spf.explanation
						       : "SPF validation "
							 "failed");
			refuse(r, 550, t);
			return;
		}
	}
	r->junk = c->dmarc.enabled && r->dmarc.result == DMARC_FAIL &&
		  r->dmarc.disposition == DMARC_P_QUARANTINE;
}

static void build_authres(struct rm_ma_result *r)
{
	const struct rm_config *c = rm_conf();
	struct authres_dkim ad[DKIM_MAX_SIGS];
	struct authres_in ai = {0};
	const char *colon;
	size_t i;

	ai.spf_result = r->spf_result;
	if (r->spf.helo_identity)
		ai.spf_helo = r->spf.helo;
	else
		ai.spf_mailfrom = r->spf.mailfrom;
	ai.dkim_checked = true;
	for (i = 0; i < r->ndkim; i++) {
		ad[i] = (struct authres_dkim){
			.result = dkim_result_name(r->dkim[i].result),
			.d = r->dkim[i].d,
			.s = r->dkim[i].s,
			.a = r->dkim[i].a,
			.b = r->dkim[i].b,
			.reason = r->dkim[i].reason != NULL &&
						  r->dkim[i].reason[0] != '\0'
					  ? r->dkim[i].reason
					  : NULL,
		};
	}
	ai.ndkim = r->ndkim;
	ai.dkim = ad;
	if (c->dmarc.enabled) {
		ai.dmarc_result = r->dmarc_result;
		ai.dmarc_from = r->from_domain[0] ? r->from_domain : NULL;
		ai.dmarc_policy = r->dmarc.have_record
					  ? dmarc_policy_name(r->dmarc.policy)
					  : NULL;
		ai.dmarc_disposition = r->dmarc_disposition;
	}
	r->authres = authres_build(c->authserv_id, &ai);
	colon = r->authres != NULL ? strchr(r->authres, ':') : NULL;
	if (colon == NULL)
		return;
	colon += strspn(colon + 1, " ") + 1;
	/* the value without the field's final line end */
	r->authres_value = rm_xstrdup(colon);
	for (size_t n = strlen(r->authres_value);
	     n > 0 && (r->authres_value[n - 1] == '\n' ||
		       r->authres_value[n - 1] == '\r');
	     n--)
		r->authres_value[n - 1] = '\0';
}

static void count(const struct rm_ma_result *r)
{
	size_t i;

	rm_mailauth_count("spf", r->spf_result);
	for (i = 0; i < r->ndkim; i++)
		rm_mailauth_count("dkim", dkim_result_name(r->dkim[i].result));
	if (r->ndkim == 0)
		rm_mailauth_count("dkim", "none");
	if (r->dmarc_result != NULL) {
		rm_mailauth_count("dmarc", r->dmarc_result);
		rm_mailauth_count_disposition(r->applied, r->dmarc.override);
	}
}

static void finish(struct ma_stage *st)
{
	const struct rm_config *c = rm_conf();
	struct rm_ma_result *r = st->r;
	size_t i;

	/* past the bounds: what is unfinished is a temporary error */
	if (!st->spf_done) {
		r->spf.result = SPF_TEMPERROR;
		snprintf(r->spf.reason, sizeof(r->spf.reason), "timeout");
	}
	if (!st->dkim_done) {
		for (i = 0; i < r->ndkim; i++)
			if (r->dkim[i].result == DKIM_NONE)
				r->dkim[i].result = DKIM_TEMPERROR;
		if (r->ndkim == 0) {
			r->ndkim = 1;
			memset(&r->dkim[0], 0, sizeof(r->dkim[0]));
			r->dkim[0].result = DKIM_TEMPERROR;
			r->dkim[0].reason = "timeout";
		}
	}
	auth_fill(st);
	if (c->dmarc.enabled && !st->dmarc_done) {
		memset(&r->dmarc, 0, sizeof(r->dmarc));
		r->dmarc.result = DMARC_TEMPERROR;
		snprintf(r->dmarc.from_domain, sizeof(r->dmarc.from_domain),
			 "%s", r->from_domain);
	}
	r->spf_result = spf_result_name(r->spf.result);
	if (c->dmarc.enabled) {
		r->dmarc_result = dmarc_result_name(r->dmarc.result);
		r->record_report = c->dmarc.reports && r->dmarc.have_record &&
				   r->dmarc.rec.nrua > 0 && !r->is_report;
	}
	st->r = NULL;
	st->done(st->arg, r);
	stage_free(st);
}

void rm_ma_decide(struct rm_ma_result *r)
{
	bool from_local = false;

	if (r->from_domain[0] != '\0') {
		struct rmail_err err;
		char addr[DMARC_DOMAIN_MAX + 16];

		rmail_err_clear(&err);
		snprintf(addr, sizeof(addr), "postmaster@%s", r->from_domain);
		from_local = rm_addr_local(addr, &err) == 1;
	}
	decide(r, from_local);
	r->applied = r->refuse_code == 550 ? DMARC_P_REJECT
		     : r->junk		   ? DMARC_P_QUARANTINE
					   : DMARC_P_NONE;
	if (r->dmarc_result != NULL)
		r->dmarc_disposition = dmarc_policy_name(r->applied);
	build_authres(r);
	count(r);
}

static void fill_done(void *arg);

static void step(struct ma_stage *st)
{
	if (evaluate(st) || ++st->rounds > MA_ROUNDS_MAX) {
		finish(st);
		return;
	}
	st->filling = true;
	(void)rm_dns_fill(st->cache, fill_done, st);
}

static void fill_done(void *arg)
{
	struct ma_stage *st = arg;

	st->filling = false;
	step(st);
}

static void deadline(void *arg)
{
	struct ma_stage *st = arg;

	st->deadline = NULL;
	if (st->filling)
		rm_dns_fill_cancel(st->cache);
	st->filling = false;
	/* answers already in may finish some: one last pass */
	(void)evaluate(st);
	finish(st);
}

static void read_done(void *arg, int cancelled)
{
	struct ma_stage *st = arg;
	double bound = rm_dns_timeout() * 2 + 1;

	if (cancelled) {
		void (*done)(void *, struct rm_ma_result *) = st->done;
		void *darg = st->arg;

		rm_ma_result_free(st->r);
		st->r = NULL;
		stage_free(st);
		done(darg, NULL);
		return;
	}
	st->cache = ma_dns_cache_new(MA_CACHE_MAX);
	st->deadline = rm_timer_add(bound, 0, deadline, st);
	step(st);
}

static void spf_input(struct ma_stage *st)
{
	const struct rm_config *c = rm_conf();
	struct spf_input *si = &st->spf_in;

	si->family = AF_INET;
	st->spf_ip_ok = st->peer_ip != NULL &&
			inet_pton(AF_INET, st->peer_ip, si->ip) == 1;
	if (!st->spf_ip_ok && st->peer_ip != NULL) {
		si->family = AF_INET6;
		st->spf_ip_ok = inet_pton(AF_INET6, st->peer_ip, si->ip) == 1;
	}
	si->helo = st->helo;
	si->mail_from = st->mail_from;
	si->receiver = c->hostname;
	si->now = (int64_t)time(NULL);
	si->default_exp = c->spf.explanation;
	si->void_limit = c->spf.void_limit;
	if (!st->spf_ip_ok) {
		st->r->spf.result = SPF_NONE;
		snprintf(st->r->spf.reason, sizeof(st->r->spf.reason),
			 "no client address");
	}
}

void rm_ma_stage_start(const struct rm_ma_input *in,
		       void (*done)(void *arg, struct rm_ma_result *r),
		       void *arg)
{
	struct ma_stage *st = rm_xcalloc(1, sizeof(*st));

	st->in = *in;
	st->peer_ip = in->peer_ip ? rm_xstrdup(in->peer_ip) : NULL;
	st->helo = in->helo ? rm_xstrdup(in->helo) : NULL;
	st->mail_from = rm_xstrdup(in->mail_from ? in->mail_from : "");
	st->done = done;
	st->arg = arg;
	st->r = rm_xcalloc(1, sizeof(*st->r));
	spf_input(st);
	st->r->mail_from = rm_xstrdup(st->mail_from);
	/* a small message in memory is read at once: two thread hops
	 * cost more than hashing it (they were most of the stage's
	 * latency); a larger or file-backed one is read on the READ pool */
	if (in->in_memory && in->size <= MA_INLINE_MAX) {
		read_work(st, NULL);
		read_done(st, 0);
		return;
	}
	rm_work_submit(RMAIL_WORK_READ, read_work, read_done, st);
}

void rm_ma_filter_fields(const struct rm_ma_result *r,
			 struct rmail_filter_msg *fm)
{
	if (r == NULL)
		return;
	fm->auth_results = r->authres_value;
	fm->spf_result = r->spf_result;
	fm->dmarc_result = r->dmarc_result;
	fm->dmarc_disposition = r->dmarc_disposition;
	fm->from_domain = r->from_domain[0] ? r->from_domain : NULL;
}
