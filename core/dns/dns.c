/*
 * The resolver (dns.h).  libunbound resolves in its own thread and
 * signals answers on ub_fd(); the loop reads them with ub_process, so
 * callbacks run on the loop thread.  Each query has a core timer that
 * ub_cancels it at dns.timeout_ms: libunbound's own retries can last
 * far longer than a mail transaction may wait.
 *
 * DNSSEC: a forwarder that strips signatures would make every answer
 * bogus under a trust anchor, so before the first answer one query for
 * the root's DNSKEY runs through the validating context (bounded by
 * CHECK_S; asked with the first question, so start-up never waits).
 * A secure answer keeps validation; an insecure or bogus one logs one
 * error and swaps in a context without a trust anchor.  Queries asked
 * meanwhile wait for the verdict (their timers run).
 */
#include "dns/dns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <unbound.h>

#include "dns/dns_rr.h"

#define CHECK_S 2.0
#define T_DNSKEY 48

struct rm_dns_q {
	struct rm_dns_q *prev, *next;
	char *name;
	int type;
	rm_dns_fn cb;
	void *arg;
	int ub_id;
	bool in_ub; /* asked libunbound, no answer yet */
	bool held;  /* waiting for the DNSSEC check */
	struct rmail_timer *timer;
};

/* CHECK_WANTED: validating, the check starts with the first query, so
 * a daemon that never resolves never sends one */
enum check_state { CHECK_NONE, CHECK_WANTED, CHECK_RUNNING, CHECK_DONE };

static struct {
	bool up;
	struct ub_ctx *ctx;
	struct rmail_io *io;
	struct rm_dns_q *queries;
	double timeout;
	bool validating;
	/* the start-up check */
	enum check_state check;
	int check_id;
	bool check_in_ub;
	struct rmail_timer *check_timer, *swap_timer;
	/* kept to rebuild the context without a trust anchor */
	char **fwd;
	size_t nfwd;
	bool recursion;
	char *ta;
} D;

static void dispatch(struct rm_dns_q *q);

/* zones asked of the forwarders although unbound has a built-in
 * answer (ctx_new) */
static const char *const TRANSPARENT[] = {
	"test.",
	/* RFC 1918, RFC 6598, link-local, this-network */
	"10.in-addr.arpa.", "16.172.in-addr.arpa.", "17.172.in-addr.arpa.",
	"18.172.in-addr.arpa.", "19.172.in-addr.arpa.", "20.172.in-addr.arpa.",
	"21.172.in-addr.arpa.", "22.172.in-addr.arpa.", "23.172.in-addr.arpa.",
	"24.172.in-addr.arpa.", "25.172.in-addr.arpa.", "26.172.in-addr.arpa.",
	"27.172.in-addr.arpa.", "28.172.in-addr.arpa.", "29.172.in-addr.arpa.",
	"30.172.in-addr.arpa.", "31.172.in-addr.arpa.", "168.192.in-addr.arpa.",
	"254.169.in-addr.arpa.", "0.in-addr.arpa.",
	/* RFC 5737 and RFC 3849 documentation ranges */
	"2.0.192.in-addr.arpa.", "100.51.198.in-addr.arpa.",
	"113.0.203.in-addr.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa.",
	/* IPv6 unique-local and link-local */
	"d.f.ip6.arpa.", "8.e.f.ip6.arpa.", "9.e.f.ip6.arpa.",
	"a.e.f.ip6.arpa.", "b.e.f.ip6.arpa."};
#define N_TRANSPARENT (sizeof(TRANSPARENT) / sizeof(TRANSPARENT[0]))

/* ---- contexts ----------------------------------------------------- */

static struct ub_ctx *ctx_new(bool validate)
{
	struct ub_ctx *u = ub_ctx_create();
	int rc = 0;

	if (u == NULL)
		return NULL;
	/* a thread, not a forked process: the daemon may have dropped
	 * privileges and must not fork behind the loop's back */
	rc |= ub_ctx_async(u, 1);
	/* forwarders on loopback (a local cache, the test server) */
	rc |= ub_ctx_set_option(u, "do-not-query-localhost:", "no");
	/* one slow answer must not mark the only forwarder down */
	rc |= ub_ctx_set_option(u, "infra-keep-probing:", "yes");
	for (size_t i = 0; i < D.nfwd; i++)
		rc |= ub_ctx_set_fwd(u, D.fwd[i]);
	if (D.nfwd == 0 && !D.recursion)
		rc |= ub_ctx_resolvconf(u, NULL);
	if (validate) {
		/* a trust anchor we may rewrite gets RFC 5011 updates;
		 * Debian's package-managed one is read as it is */
		if (access(D.ta, W_OK) == 0)
			rc |= ub_ctx_add_ta_autr(u, D.ta);
		else
			rc |= ub_ctx_add_ta_file(u, D.ta);
	} else {
		rc |= ub_ctx_set_option(u, "module-config:", "iterator");
	}
	/* unbound answers the RFC 6761 name "test." and the RFC 6303
	 * reverse zones itself (NXDOMAIN).  The test suites' zones live
	 * under test.; and a mail server asks PTRs of its clients: on a
	 * LAN those are private addresses whose names the site's own
	 * forwarders serve (split horizon), and the forwarders already
	 * keep such questions off the Internet.  Loopback, `invalid',
	 * `localhost' and `onion' stay local.  Last: it freezes the
	 * configuration. */
	for (size_t i = 0; rc == 0 && i < N_TRANSPARENT; i++)
		rc |= ub_ctx_zone_add(u, TRANSPARENT[i], "transparent");
	if (rc != 0) {
		rm_log(RMAIL_LOG_ERR, "dns: resolver configuration refused");
		ub_ctx_delete(u);
		return NULL;
	}
	return u;
}

static void on_readable(void *arg, int fd, int revents)
{
	(void)arg;
	(void)fd;
	(void)revents;
	if (D.ctx != NULL)
		ub_process(D.ctx);
}

static void ctx_use(struct ub_ctx *u)
{
	rm_io_del(&D.io);
	if (D.ctx != NULL)
		ub_ctx_delete(D.ctx);
	D.ctx = u;
	if (u != NULL)
		D.io = rm_io_add(ub_fd(u), RMAIL_IO_READ, on_readable, NULL);
}

/* ---- the DNSSEC check --------------------------------------------- */

static void release_held(void)
{
	for (struct rm_dns_q *q = D.queries; q != NULL; q = q->next)
		if (q->held) {
			q->held = false;
			dispatch(q);
		}
}

static void check_verdict(bool strip, const char *why)
{
	rm_timer_del(&D.check_timer);
	D.check = CHECK_DONE;
	if (strip) {
		rm_log(RMAIL_LOG_ERR,
		       "dns: the resolvers do not return DNSSEC-signed answers "
		       "(%s): running without DNSSEC validation, DANE is "
		       "unavailable",
		       why);
		D.validating = false;
		ctx_use(ctx_new(false));
	} else {
		D.validating = true;
	}
	release_held();
}

static void swap_now(void *arg)
{
	(void)arg;
	rm_timer_del(&D.swap_timer);
	/* outside ub_process: the context can be deleted here */
	check_verdict(true, "the root's DNSKEY does not validate");
}

static void check_cb(void *arg, int err, struct ub_result *r)
{
	(void)arg;
	D.check_in_ub = false;
	if (err == 0 && r != NULL && r->secure) {
		ub_resolve_free(r);
		check_verdict(false, NULL);
		return;
	}
	if (err == 0 && r != NULL && (r->bogus || r->rcode == 0)) {
		ub_resolve_free(r);
		D.swap_timer = rm_timer_add(0, 0, swap_now, NULL);
		return;
	}
	/* unreachable forwarders: no proof either way */
	rm_log(RMAIL_LOG_WARN,
	       "dns: DNSSEC check failed (%s): validation stays on",
	       err ? ub_strerror(err) : "no answer");
	if (r != NULL)
		ub_resolve_free(r);
	check_verdict(false, NULL);
}

static void check_timeout(void *arg)
{
	(void)arg;
	if (D.check_in_ub)
		ub_cancel(D.ctx, D.check_id);
	D.check_in_ub = false;
	rm_log(RMAIL_LOG_WARN,
	       "dns: no answer to the DNSSEC check within %.0f s: "
	       "validation stays on",
	       CHECK_S);
	check_verdict(false, NULL);
}

static void check_start(void)
{
	D.check = CHECK_RUNNING;
	if (ub_resolve_async(D.ctx, ".", T_DNSKEY, 1, NULL, check_cb,
			     &D.check_id) != 0) {
		D.check = CHECK_DONE;
		return;
	}
	D.check_in_ub = true;
	D.check_timer = rm_timer_add(CHECK_S, 0, check_timeout, NULL);
}

/* ---- set-up ------------------------------------------------------- */

int rm_dns_init(const struct rm_config *c, struct rmail_err *err)
{
	const struct rmail_strlist *fw = NULL;
	bool validate;

	if (D.up)
		return 0;
	memset(&D, 0, sizeof(D));
	D.timeout = c != NULL && c->dns.timeout_ms > 0
			    ? c->dns.timeout_ms / 1000.0
			    : 5.0;
	if (c != NULL && c->dns.forwarders.n > 0) {
		fw = &c->dns.forwarders;
	} else if (c != NULL && c->delivery.dns_servers.n > 0) {
		fw = &c->delivery.dns_servers;
		rm_log(RMAIL_LOG_WARN,
		       "dns: delivery.dns_servers has moved to dns.forwarders; "
		       "using it as the resolver's forwarders");
	}
	for (size_t i = 0; fw != NULL && i < fw->n; i++) {
		D.fwd = rm_xrealloc(D.fwd, (D.nfwd + 1) * sizeof(*D.fwd));
		D.fwd[D.nfwd++] = rm_xstrdup(fw->v[i]);
	}
	D.recursion = c != NULL && c->dns.recursion;
	if (c == NULL)
		D.ta = rm_xstrdup("/usr/share/dns/root.key");
	else if (c->dns.trust_anchor != NULL)
		D.ta = rm_xstrdup(c->dns.trust_anchor);
	validate = D.ta != NULL && access(D.ta, R_OK) == 0;
	if (D.ta != NULL && !validate)
		rm_log(RMAIL_LOG_ERR,
		       "dns: cannot read the trust anchor %s: running "
		       "without DNSSEC validation",
		       D.ta);
	ctx_use(ctx_new(validate));
	if (D.ctx == NULL) {
		rm_dns_shutdown();
		return rmail_err_set(err, RMAIL_E_INTERNAL,
				     "cannot start the resolver");
	}
	D.up = true;
	D.check = validate ? CHECK_WANTED : CHECK_DONE;
	return 0;
}

static void q_free(struct rm_dns_q *q)
{
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		D.queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	rm_timer_del(&q->timer);
	free(q->name);
	free(q);
}

void rm_dns_shutdown(void)
{
	while (D.queries != NULL)
		rm_dns_cancel(D.queries);
	if (D.check_in_ub && D.ctx != NULL)
		ub_cancel(D.ctx, D.check_id);
	rm_timer_del(&D.check_timer);
	rm_timer_del(&D.swap_timer);
	ctx_use(NULL);
	for (size_t i = 0; i < D.nfwd; i++)
		free(D.fwd[i]);
	free(D.fwd);
	free(D.ta);
	memset(&D, 0, sizeof(D));
}

bool rm_dns_validating(void)
{
	return D.up && D.check == CHECK_DONE && D.validating;
}

double rm_dns_timeout(void)
{
	return D.up ? D.timeout : 5.0;
}

/* ---- queries ------------------------------------------------------ */

static void finish(struct rm_dns_q *q, const struct ma_rrset *rs)
{
	rm_dns_fn cb = q->cb;
	void *arg = q->arg;

	q_free(q);
	cb(arg, rs);
}

static void to_rrset(int err, struct ub_result *r, int type,
		     struct ma_rrset *rs)
{
	memset(rs, 0, sizeof(*rs));
	rs->rcode = MA_DNS_TEMP;
	if (err != 0 || r == NULL || r->bogus) {
		rm_log(RMAIL_LOG_DEBUG, "dns: %s/%d: %s", r ? r->qname : "?",
		       type,
		       err		   ? ub_strerror(err)
		       : r && r->why_bogus ? r->why_bogus
					   : "bogus");
		return;
	}
	rs->secure = r->secure && rm_dns_validating();
	if (r->nxdomain || r->rcode == 3) {
		rs->rcode = MA_DNS_NXDOMAIN;
	} else if (r->rcode != 0) {
		rs->secure = false;
	} else if (!r->havedata || r->data == NULL) {
		rs->rcode = MA_DNS_NODATA;
	} else {
		size_t n = 0;

		while (r->data[n] != NULL)
			n++;
		if (rm_dns_rr_convert(type, r->data, r->len, n, rs) > 0)
			rs->rcode = MA_DNS_OK;
		else
			rs->secure = false; /* nothing usable: TEMP */
	}
}

static void ub_cb(void *arg, int err, struct ub_result *r)
{
	struct rm_dns_q *q = arg;
	struct ma_rrset rs;

	q->in_ub = false;
	if (r != NULL)
		rm_log(RMAIL_LOG_DEBUG,
		       "dns: %s/%d: rcode %d havedata %d nx %d secure %d "
		       "bogus %d",
		       q->name, q->type, r->rcode, r->havedata, r->nxdomain,
		       r->secure, r->bogus);
	to_rrset(err, r, q->type, &rs);
	if (r != NULL)
		ub_resolve_free(r);
	finish(q, &rs);
	rm_dns_rrset_clear(&rs);
}

static void on_timeout(void *arg)
{
	struct rm_dns_q *q = arg;
	static const struct ma_rrset temp = {.rcode = MA_DNS_TEMP};

	rm_log(RMAIL_LOG_DEBUG, "dns: %s/%d: timeout", q->name, q->type);
	if (q->in_ub)
		ub_cancel(D.ctx, q->ub_id);
	q->in_ub = false;
	finish(q, &temp);
}

/* ub_resolve takes a presentation-format name: the bytes a name may
 * carry that the format gives a meaning (blanks, `\', `"' ...; SPF
 * macros make such names) are written \DDD */
static char *presentation(const char *name)
{
	size_t n = strlen(name);
	char *out = rm_xmalloc(n * 4 + 1), *o = out;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p <= 0x20 || *p >= 0x7f || strchr("\\\"();@$", *p)) {
			snprintf(o, 5, "\\%03u", *p);
			o += 4;
		} else {
			*o++ = (char)*p;
		}
	}
	*o = '\0';
	return out;
}

static void dispatch(struct rm_dns_q *q)
{
	char *pname = presentation(q->name);
	int rc =
		ub_resolve_async(D.ctx, pname, q->type, 1, q, ub_cb, &q->ub_id);

	free(pname);
	if (rc == 0) {
		q->in_ub = true;
		return;
	}
	/* answered TEMP from the loop, never inside rm_dns_resolve */
	rm_timer_del(&q->timer);
	q->timer = rm_timer_add(0, 0, on_timeout, q);
}

struct rm_dns_q *rm_dns_resolve(const char *name, int type, rm_dns_fn cb,
				void *arg)
{
	struct rm_dns_q *q = rm_xcalloc(1, sizeof(*q));

	if (!D.up) {
		struct rmail_err err;

		(void)rm_dns_init(rm_conf(), &err);
	}
	q->name = rm_xstrdup(name);
	q->type = type;
	q->cb = cb;
	q->arg = arg;
	q->next = D.queries;
	if (D.queries != NULL)
		D.queries->prev = q;
	D.queries = q;
	if (!D.up || strlen(name) > 253 || type <= 0 || type > 65535) {
		q->timer = rm_timer_add(0, 0, on_timeout, q);
		return q;
	}
	q->timer = rm_timer_add(D.timeout, 0, on_timeout, q);
	if (D.check == CHECK_WANTED)
		check_start();
	if (D.check == CHECK_RUNNING || D.swap_timer != NULL)
		q->held = true;
	else
		dispatch(q);
	return q;
}

void rm_dns_cancel(struct rm_dns_q *q)
{
	if (q == NULL)
		return;
	if (q->in_ub && D.ctx != NULL)
		ub_cancel(D.ctx, q->ub_id);
	q_free(q);
}
