/*
 * check_host() of RFC 7208 over the ma_dns answer cache.  A run starts
 * from scratch each time (the driver reruns it once the wanted answers
 * are in), so its counters and its verdict are the same whatever the
 * order the answers arrived in.  A missing answer unwinds the run with
 * RES_PENDING; where a term needs several independent answers (the
 * hosts of an MX set, the names of a PTR set) all of them are asked
 * before unwinding so they resolve in parallel.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "mailauth/spf.h"
#include "mailauth/spf_record.h"

#define MAX_TERMS 10 /* §4.6.4: DNS-querying mechanisms and redirect */
#define MAX_VOID 2   /* §4.6.4: the recommended default */
#define MAX_NAMES 10 /* §4.6.4: MX hosts and PTR names per term */
#define MAX_DEPTH 12 /* the term count bounds it first; belt and braces */
#define NAME_LEN 253

/* check_host's results, and one more: an answer is missing. */
#define RES_PENDING 100
/* a mechanism's outcome besides a result */
#define M_MATCH 200
#define M_NOMATCH 201

static const char DEFAULT_EXP[] = "%{c} is not allowed to send mail from %{o}";

const char *spf_result_name(enum spf_result r)
{
	static const char *const names[] = {
		"none",	    "neutral",	 "pass",      "fail",
		"softfail", "temperror", "permerror",
	};

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r]
							      : "permerror";
}

struct run {
	struct ma_dns_cache *c;
	int af; /* after unmapping ::ffff:a.b.c.d */
	unsigned char ip[16];
	int qtype; /* MA_T_A or MA_T_AAAA: what "a" and "mx" ask */
	unsigned terms, voids, void_limit;
	const char *why;
	/* macro values */
	char local[SPF_ADDR_MAX], sender[SPF_ADDR_MAX + SPF_DOMAIN_MAX];
	char odomain[SPF_DOMAIN_MAX];
	char ival[80], cval[INET6_ADDRSTRLEN], tval[24];
	const char *helo, *receiver;
	char pval[SPF_DOMAIN_MAX];
	/* the exp= of the record whose mechanism decided (§6.2: not an
	 * included one's, a redirect target's) */
	struct spf_str exp;
	char exp_domain[SPF_DOMAIN_MAX];
};

struct pctx {
	struct run *run;
	const char *d;
};

static int check_host(struct run *run, const char *domain, bool top,
		      unsigned depth);

/* ---- names ----------------------------------------------------------- */

static void lower_copy(char *dst, const char *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char ch = src[i];

		dst[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
	}
	dst[n] = '\0';
}

/* Labels of 1 to 63 octets, 253 in all (trailing dot ignored). */
static bool labels_ok(const char *s, bool multi)
{
	size_t len = strlen(s), lab = 0, nlab = 1;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > NAME_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (lab == 0)
				return false;
			lab = 0;
			nlab++;
			continue;
		}
		if (++lab > 63)
			return false;
	}
	return lab > 0 && (!multi || nlab >= 2);
}

/* §4.3: the identity's domain must be a multi-label name, not a
 * literal; anything else is "none" without a look-up. */
static bool identity_ok(const char *s)
{
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == '[')
			return false;
	return labels_ok(s, true);
}

/* §7.3 end: a name over 253 octets loses labels on the left; a
 * trailing dot goes.  In place; false when no valid name remains. */
static bool finish_name(char *s)
{
	size_t len = strlen(s);

	if (len > 0 && s[len - 1] == '.')
		s[--len] = '\0';
	while (len > NAME_LEN) {
		char *dot = strchr(s, '.');

		if (dot == NULL)
			return false;
		len -= (size_t)(dot + 1 - s);
		memmove(s, dot + 1, len + 1);
	}
	return labels_ok(s, false);
}

/* Whether name is target or a subdomain of it. */
static bool in_domain(const char *name, const char *target)
{
	size_t n = strlen(name), t = strlen(target);

	if (n < t || strcasecmp(name + n - t, target) != 0)
		return false;
	return n == t || name[n - t - 1] == '.';
}

static void reverse_name(const struct run *run, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t k = 0;

	if (run->af == AF_INET) {
		snprintf(out, cap, "%u.%u.%u.%u.in-addr.arpa", run->ip[3],
			 run->ip[2], run->ip[1], run->ip[0]);
		return;
	}
	for (int i = 15; i >= 0 && k + 4 < cap; i--) {
		out[k++] = hex[run->ip[i] & 15];
		out[k++] = '.';
		out[k++] = hex[run->ip[i] >> 4];
		out[k++] = '.';
	}
	snprintf(out + k, cap - k, "ip6.arpa");
}

static bool addr_match(const struct run *run, const unsigned char *a, int bits)
{
	int full = bits / 8, rest = bits % 8;

	if (memcmp(run->ip, a, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((run->ip[full] ^ a[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* ---- DNS ------------------------------------------------------------- */

static const struct ma_rrset *get(struct run *run, const char *name, int type)
{
	return ma_dns_get(run->c, name, type);
}

static bool is_void(const struct ma_rrset *rs)
{
	return rs->rcode == MA_DNS_NXDOMAIN || rs->rcode == MA_DNS_NODATA ||
	       (rs->rcode == MA_DNS_OK && rs->n == 0);
}

/* MA_DNS_TEMP, and any rcode a driver should not have put */
static bool is_temp(const struct ma_rrset *rs)
{
	return rs->rcode != MA_DNS_OK && rs->rcode != MA_DNS_PENDING &&
	       !is_void(rs);
}

static int count_void(struct run *run)
{
	if (++run->voids > run->void_limit) {
		run->why = "too many void DNS look-ups";
		return SPF_PERMERROR;
	}
	return M_NOMATCH;
}

static int count_term(struct run *run)
{
	if (++run->terms > MAX_TERMS) {
		run->why = "too many DNS-querying terms";
		return SPF_PERMERROR;
	}
	return 0;
}

/* Whether an address of the client's family at `name` equals the
 * client's: 1 yes, 0 no or an error (skipped), RES_PENDING. */
static int host_is_client(struct run *run, const char *name, int bits)
{
	const struct ma_rrset *rs = get(run, name, run->qtype);

	if (rs->rcode == MA_DNS_PENDING)
		return RES_PENDING;
	if (rs->rcode != MA_DNS_OK)
		return is_temp(rs) ? -1 : 0;
	for (size_t i = 0; i < rs->n; i++)
		if (addr_match(run, rs->rr[i].addr, bits))
			return 1;
	return 0;
}

/* ---- macros ---------------------------------------------------------- */

/* §7.3 "p": a PTR name of the client whose addresses include it; the
 * current domain or a subdomain preferred. */
static int get_p(void *arg, const char **val)
{
	struct pctx *pc = arg;
	struct run *run = pc->run;
	char rev[80];
	const struct ma_rrset *rs;
	const char *best = NULL;
	int rank = 0;
	bool pending = false;

	*val = "unknown";
	reverse_name(run, rev, sizeof(rev));
	rs = get(run, rev, MA_T_PTR);
	if (rs->rcode == MA_DNS_PENDING)
		return 1;
	if (rs->rcode != MA_DNS_OK)
		return 0;
	for (size_t i = 0; i < rs->n && i < MAX_NAMES; i++) {
		const char *h = rs->rr[i].host;
		int r, k;

		if (h == NULL || h[0] == '\0')
			continue;
		r = host_is_client(run, h, run->af == AF_INET ? 32 : 128);
		if (r == RES_PENDING)
			pending = true;
		if (r != 1 || pending)
			continue;
		k = strcasecmp(h, pc->d) == 0 ? 3 : in_domain(h, pc->d) ? 2 : 1;
		if (k > rank) {
			rank = k;
			best = h;
		}
	}
	if (pending)
		return 1;
	if (best != NULL) {
		snprintf(run->pval, sizeof(run->pval), "%s", best);
		*val = run->pval;
	}
	return 0;
}

static void env_init(struct run *run, struct spf_macro_env *env,
		     struct pctx *pc, const char *d)
{
	pc->run = run;
	pc->d = d;
	*env = (struct spf_macro_env){
		.s = run->sender,
		.l = run->local,
		.o = run->odomain,
		.d = d,
		.i = run->ival,
		.v = run->af == AF_INET ? "in-addr" : "ip6",
		.h = run->helo,
		.c = run->cval,
		.r = run->receiver,
		.t = run->tval,
		.get_p = get_p,
		.arg = pc,
	};
}

/* The target of a term: its domain-spec expanded, or the current
 * domain.  0, 1 not a usable name, RES_PENDING. */
static int target(struct run *run, const struct spf_str *spec, const char *d,
		  char out[SPF_DOMAIN_MAX * 2])
{
	struct spf_macro_env env;
	struct pctx pc;
	int rc;

	if (spec->p == NULL || spec->len == 0) {
		snprintf(out, SPF_DOMAIN_MAX * 2, "%s", d);
		return finish_name(out) ? 0 : 1;
	}
	env_init(run, &env, &pc, d);
	rc = spf_macro_expand(spec->p, spec->len, false, &env, out,
			      SPF_DOMAIN_MAX * 2);
	if (rc == 1)
		return RES_PENDING;
	if (rc < 0)
		return 1;
	return finish_name(out) ? 0 : 1;
}

/* ---- mechanisms ------------------------------------------------------ */

static int mech_a(struct run *run, const char *name, const struct spf_term *t)
{
	const struct ma_rrset *rs = get(run, name, run->qtype);
	int bits = run->af == AF_INET ? t->cidr4 : t->cidr6;

	if (rs->rcode == MA_DNS_PENDING)
		return RES_PENDING;
	if (is_temp(rs)) {
		run->why = "DNS error on an address look-up";
		return SPF_TEMPERROR;
	}
	if (is_void(rs))
		return count_void(run);
	for (size_t i = 0; i < rs->n; i++)
		if (addr_match(run, rs->rr[i].addr, bits))
			return M_MATCH;
	return M_NOMATCH;
}

static int mech_mx(struct run *run, const char *name, const struct spf_term *t)
{
	const struct ma_rrset *rs = get(run, name, MA_T_MX);
	int bits = run->af == AF_INET ? t->cidr4 : t->cidr6;
	int verdict = M_NOMATCH;

	if (rs->rcode == MA_DNS_PENDING)
		return RES_PENDING;
	if (is_temp(rs)) {
		run->why = "DNS error on an MX look-up";
		return SPF_TEMPERROR;
	}
	if (is_void(rs))
		return count_void(run);
	if (rs->n > MAX_NAMES) {
		run->why = "more than 10 MX hosts";
		return SPF_PERMERROR;
	}
	for (size_t i = 0; i < rs->n; i++) {
		const struct ma_rrset *hs;
		const char *h = rs->rr[i].host;

		if (h == NULL || h[0] == '\0') /* null MX (RFC 7505) */
			continue;
		hs = get(run, h, run->qtype);
		if (verdict != M_NOMATCH)
			continue; /* decided: the rest only ask (parallel) */
		if (hs->rcode == MA_DNS_PENDING) {
			verdict = RES_PENDING;
		} else if (is_temp(hs)) {
			run->why = "DNS error on an MX host's address";
			verdict = SPF_TEMPERROR;
		} else if (hs->rcode == MA_DNS_OK) {
			for (size_t k = 0; k < hs->n; k++)
				if (addr_match(run, hs->rr[k].addr, bits))
					return M_MATCH;
		}
	}
	return verdict;
}

static int mech_ptr(struct run *run, const char *target_name)
{
	char rev[80];
	const struct ma_rrset *rs;
	bool pending = false;

	reverse_name(run, rev, sizeof(rev));
	rs = get(run, rev, MA_T_PTR);
	if (rs->rcode == MA_DNS_PENDING)
		return RES_PENDING;
	if (is_temp(rs))
		return M_NOMATCH; /* §5.5: a DNS error is no match */
	if (is_void(rs))
		return count_void(run);
	/* §5.5: only names in the target domain need validating */
	for (size_t i = 0; i < rs->n && i < MAX_NAMES; i++) {
		const char *h = rs->rr[i].host;
		int r;

		if (h == NULL || !in_domain(h, target_name))
			continue;
		r = host_is_client(run, h, run->af == AF_INET ? 32 : 128);
		if (r == RES_PENDING)
			pending = true;
		else if (r == 1 && !pending)
			return M_MATCH;
	}
	return pending ? RES_PENDING : M_NOMATCH;
}

static int mech_exists(struct run *run, const char *name)
{
	const struct ma_rrset *rs = get(run, name, MA_T_A);

	if (rs->rcode == MA_DNS_PENDING)
		return RES_PENDING;
	if (is_temp(rs)) {
		run->why = "DNS error on an exists look-up";
		return SPF_TEMPERROR;
	}
	if (is_void(rs))
		return count_void(run);
	return M_MATCH;
}

static int mech_include(struct run *run, const char *name, unsigned depth)
{
	int r = check_host(run, name, false, depth + 1);

	switch (r) {
	case SPF_PASS:
		return M_MATCH;
	case SPF_FAIL:
	case SPF_SOFTFAIL:
	case SPF_NEUTRAL:
		return M_NOMATCH;
	case SPF_NONE:
		run->why = "included domain has no SPF record";
		return SPF_PERMERROR;
	default:
		return r; /* temperror, permerror, pending */
	}
}

static int eval_term(struct run *run, const struct spf_term *t,
		     const char *domain, unsigned depth)
{
	char name[SPF_DOMAIN_MAX * 2];
	int rc;

	switch (t->mech) {
	case SPF_M_ALL:
		return M_MATCH;
	case SPF_M_IP4:
		if (run->af != AF_INET)
			return M_NOMATCH;
		return addr_match(run, t->ip, t->cidr4) ? M_MATCH : M_NOMATCH;
	case SPF_M_IP6:
		if (run->af != AF_INET6)
			return M_NOMATCH;
		return addr_match(run, t->ip, t->cidr6) ? M_MATCH : M_NOMATCH;
	default:
		break;
	}
	if ((rc = count_term(run)) != 0)
		return rc;
	rc = target(run, &t->spec, domain, name);
	if (rc == RES_PENDING)
		return rc;
	if (rc != 0) {
		/* not a name DNS can be asked about: no such domain */
		if (t->mech == SPF_M_INCLUDE) {
			run->why = "include of an invalid domain name";
			return SPF_PERMERROR;
		}
		return M_NOMATCH;
	}
	switch (t->mech) {
	case SPF_M_A:
		return mech_a(run, name, t);
	case SPF_M_MX:
		return mech_mx(run, name, t);
	case SPF_M_PTR:
		return mech_ptr(run, name);
	case SPF_M_EXISTS:
		return mech_exists(run, name);
	case SPF_M_INCLUDE:
		return mech_include(run, name, depth);
	default:
		return M_NOMATCH;
	}
}

static int qual_result(char q)
{
	switch (q) {
	case '-':
		return SPF_FAIL;
	case '~':
		return SPF_SOFTFAIL;
	case '?':
		return SPF_NEUTRAL;
	default:
		return SPF_PASS;
	}
}

/* ---- check_host ------------------------------------------------------- */

/* The one SPF record of domain: FOUND and *rec, or a result. */
#define FOUND (-1)
static int find_record(struct run *run, const char *domain,
		       const struct ma_rr **rec)
{
	const struct ma_rrset *rs = get(run, domain, MA_T_TXT);
	size_t found = 0;

	if (rs->rcode == MA_DNS_PENDING)
		return RES_PENDING;
	if (is_temp(rs)) {
		run->why = "DNS error on the SPF record look-up";
		return SPF_TEMPERROR;
	}
	if (rs->rcode != MA_DNS_OK)
		return SPF_NONE;
	for (size_t i = 0; i < rs->n; i++)
		if (rs->rr[i].data != NULL &&
		    spf_is_record(rs->rr[i].data, rs->rr[i].len)) {
			*rec = &rs->rr[i];
			found++;
		}
	if (found > 1) {
		run->why = "more than one SPF record";
		return SPF_PERMERROR;
	}
	return found == 1 ? FOUND : SPF_NONE;
}

static int eval_record(struct run *run, const struct spf_record *r,
		       const char *domain, bool top, unsigned depth)
{
	char name[SPF_DOMAIN_MAX * 2];
	int rc;

	for (size_t i = 0; i < r->n; i++) {
		rc = eval_term(run, &r->terms[i], domain, depth);
		if (rc == M_NOMATCH)
			continue;
		if (rc != M_MATCH)
			return rc;
		rc = qual_result(r->terms[i].qual);
		if (top) {
			run->exp = r->exp;
			snprintf(run->exp_domain, sizeof(run->exp_domain), "%s",
				 domain);
		}
		return rc;
	}
	if (r->redirect.p == NULL)
		return SPF_NEUTRAL;
	if ((rc = count_term(run)) != 0)
		return rc;
	rc = target(run, &r->redirect, domain, name);
	if (rc == RES_PENDING)
		return rc;
	if (rc == 0)
		rc = check_host(run, name, top, depth + 1);
	else
		rc = SPF_NONE;
	if (rc == SPF_NONE) {
		run->why = "redirect to a domain without an SPF record";
		return SPF_PERMERROR;
	}
	return rc;
}

/* Asks now the questions the record's next terms will ask when their
 * turn comes, so they resolve in one round instead of one each (three
 * includes: one round trip, not three).  Only literal targets, and no
 * more terms than the limit still allows: a hostile record cannot make
 * rmail ask more than an evaluation could. */
static void prefetch(struct run *run, const struct spf_record *r,
		     const char *domain)
{
	unsigned budget = run->terms < MAX_TERMS ? MAX_TERMS - run->terms : 0;
	char name[SPF_DOMAIN_MAX * 2];

	for (size_t i = 0; i <= r->n && budget > 0; i++) {
		const struct spf_str *spec;
		int type;

		if (i == r->n) {
			if (r->redirect.p == NULL)
				break;
			spec = &r->redirect;
			type = MA_T_TXT;
		} else {
			spec = &r->terms[i].spec;
			switch (r->terms[i].mech) {
			case SPF_M_INCLUDE:
				type = MA_T_TXT;
				break;
			case SPF_M_A:
				type = run->qtype;
				break;
			case SPF_M_MX:
				type = MA_T_MX;
				break;
			case SPF_M_EXISTS:
				type = MA_T_A;
				break;
			case SPF_M_PTR:
				budget--;
				continue;
			default:
				continue;
			}
		}
		budget--;
		if (spec->len > 0 && memchr(spec->p, '%', spec->len) != NULL)
			continue;
		if (spec->len == 0)
			snprintf(name, sizeof(name), "%s", domain);
		else
			snprintf(name, sizeof(name), "%.*s", (int)spec->len,
				 spec->p);
		if (finish_name(name))
			(void)get(run, name, type);
	}
}

static int check_host(struct run *run, const char *domain, bool top,
		      unsigned depth)
{
	const struct ma_rr *rec = NULL;
	struct spf_record *r;
	const char *why;
	int rc;

	if (depth > MAX_DEPTH) {
		run->why = "too deep";
		return SPF_PERMERROR;
	}
	rc = find_record(run, domain, &rec);
	if (rc != FOUND)
		return rc;
	r = malloc(sizeof(*r));
	if (r == NULL) {
		run->why = "out of memory";
		return SPF_TEMPERROR;
	}
	if (spf_record_parse((const char *)rec->data, rec->len, r, &why) < 0) {
		run->why = why;
		rc = SPF_PERMERROR;
	} else {
		prefetch(run, r, domain);
		rc = eval_record(run, r, domain, top, depth);
	}
	free(r);
	return rc;
}

/* ---- explanation ------------------------------------------------------- */

static int expand_exp(struct run *run, const char *text, size_t len,
		      const char *d, char *out, size_t cap)
{
	struct spf_macro_env env;
	struct pctx pc;

	env_init(run, &env, &pc, d);
	return spf_macro_expand(text, len, true, &env, out, cap);
}

/* §6.2: the domain's exp= text, or the default; 0 or RES_PENDING. */
static int explain(struct run *run, const char *default_exp, char *out,
		   size_t cap)
{
	char name[SPF_DOMAIN_MAX * 2];
	const struct ma_rrset *rs;
	int rc;

	if (run->exp.p != NULL) {
		rc = target(run, &run->exp, run->exp_domain, name);
		if (rc == RES_PENDING)
			return rc;
		if (rc == 0) {
			rs = get(run, name, MA_T_TXT);
			if (rs->rcode == MA_DNS_PENDING)
				return RES_PENDING;
			if (rs->rcode == MA_DNS_OK && rs->n == 1 &&
			    rs->rr[0].data != NULL) {
				rc = expand_exp(run,
						(const char *)rs->rr[0].data,
						rs->rr[0].len, run->exp_domain,
						out, cap);
				if (rc == 1)
					return RES_PENDING;
				if (rc == 0)
					return 0;
			}
		}
	}
	rc = expand_exp(run, default_exp, strlen(default_exp), run->exp_domain,
			out, cap);
	if (rc == 1)
		return RES_PENDING;
	if (rc < 0) {
		/* a configured text that is no macro-string: as it is */
		size_t k = 0;

		for (const char *p = default_exp; *p != '\0' && k + 1 < cap;
		     p++)
			if ((unsigned char)*p >= 0x20 &&
			    (unsigned char)*p < 0x7f)
				out[k++] = *p;
		out[k] = '\0';
	}
	return 0;
}

/* ---- the entry ------------------------------------------------------- */

static void setup(struct run *run, const struct spf_input *in,
		  struct spf_verdict *out)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0,	   0,
						 0, 0, 0, 0, 0xff, 0xff};
	const char *mf = in->mail_from != NULL ? in->mail_from : "";
	const char *at;

	run->void_limit = in->void_limit ? in->void_limit : MAX_VOID;
	if (in->family == AF_INET6 && memcmp(in->ip, mapped, 12) == 0) {
		run->af = AF_INET;
		memcpy(run->ip, in->ip + 12, 4);
	} else {
		run->af = in->family == AF_INET6 ? AF_INET6 : AF_INET;
		memcpy(run->ip, in->ip, run->af == AF_INET ? 4 : 16);
	}
	run->qtype = run->af == AF_INET ? MA_T_A : MA_T_AAAA;
	inet_ntop(run->af, run->ip, run->cval, sizeof(run->cval));
	if (run->af == AF_INET) {
		snprintf(run->ival, sizeof(run->ival), "%s", run->cval);
	} else {
		static const char hex[] = "0123456789abcdef";
		size_t k = 0;

		for (int i = 0; i < 16; i++) {
			run->ival[k++] = hex[run->ip[i] >> 4];
			run->ival[k++] = '.';
			run->ival[k++] = hex[run->ip[i] & 15];
			run->ival[k++] = i < 15 ? '.' : '\0';
		}
	}
	snprintf(run->tval, sizeof(run->tval), "%" PRId64, in->now);
	run->helo = in->helo != NULL ? in->helo : "";
	run->receiver = in->receiver != NULL ? in->receiver : "unknown";

	snprintf(out->mailfrom, sizeof(out->mailfrom), "%s", mf);
	snprintf(out->helo, sizeof(out->helo), "%s", run->helo);
	at = strrchr(mf, '@');
	if (mf[0] == '\0') {
		/* §2.4: the null path: postmaster@HELO */
		out->helo_identity = true;
		snprintf(run->local, sizeof(run->local), "postmaster");
		snprintf(run->odomain, sizeof(run->odomain), "%s", run->helo);
	} else if (at == NULL) {
		snprintf(run->local, sizeof(run->local), "postmaster");
		snprintf(run->odomain, sizeof(run->odomain), "%s", mf);
	} else {
		size_t llen = (size_t)(at - mf);

		if (llen == 0 || llen >= sizeof(run->local))
			snprintf(run->local, sizeof(run->local), "postmaster");
		else
			snprintf(run->local, sizeof(run->local), "%.*s",
				 (int)llen, mf);
		snprintf(run->odomain, sizeof(run->odomain), "%s", at + 1);
	}
	snprintf(run->sender, sizeof(run->sender), "%s@%s", run->local,
		 run->odomain);
}

int spf_check(struct ma_dns_cache *c, const struct spf_input *in,
	      struct spf_verdict *out)
{
	struct run *run = calloc(1, sizeof(*run));
	char domain[SPF_DOMAIN_MAX];
	size_t dlen;
	int rc;

	memset(out, 0, sizeof(*out));
	if (run == NULL) {
		out->result = SPF_TEMPERROR;
		snprintf(out->reason, sizeof(out->reason), "out of memory");
		return MA_DONE;
	}
	run->c = c;
	setup(run, in, out);
	dlen = strlen(run->odomain);
	if (dlen > 0 && run->odomain[dlen - 1] == '.')
		dlen--;
	if (dlen >= sizeof(domain))
		dlen = sizeof(domain) - 1;
	lower_copy(domain, run->odomain, dlen);
	snprintf(out->domain, sizeof(out->domain), "%s", domain);

	if (!identity_ok(domain)) {
		out->result = SPF_NONE;
		snprintf(out->reason, sizeof(out->reason),
			 "not a domain name that can have SPF");
		free(run);
		return MA_DONE;
	}
	rc = check_host(run, domain, true, 0);
	if (rc == SPF_FAIL &&
	    explain(run, in->default_exp ? in->default_exp : DEFAULT_EXP,
		    out->explanation, sizeof(out->explanation)) == RES_PENDING)
		rc = RES_PENDING;
	if (rc == RES_PENDING) {
		free(run);
		return MA_PENDING;
	}
	out->result = (enum spf_result)rc;
	/* macro values (a local-part, a HELO name) can carry any byte;
	 * the text goes into an SMTP reply */
	for (char *p = out->explanation; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	if (run->why != NULL && (rc == SPF_PERMERROR || rc == SPF_TEMPERROR))
		snprintf(out->reason, sizeof(out->reason), "%s", run->why);
	else if (rc == SPF_NONE)
		snprintf(out->reason, sizeof(out->reason), "no SPF record");
	free(run);
	return MA_DONE;
}
