/*
 * DMARC evaluation (RFC 7489 §6.6): policy discovery through the
 * evaluators' DNS cache, alignment, p/sp/pct, the exception list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/dmarc.h"

bool dmarc_dkim_aligned(const char *from, const struct dmarc_auth *a,
			bool strict);

const char *dmarc_result_name(int r)
{
	static const char *const n[] = {"none", "pass", "fail", "temperror",
					"permerror"};

	return r >= 0 && r <= DMARC_PERMERROR ? n[r] : "none";
}

const char *dmarc_policy_name(int p)
{
	static const char *const n[] = {"none", "quarantine", "reject"};

	return p >= 0 && p <= DMARC_P_REJECT ? n[p] : "none";
}

const char *dmarc_override_name(int o)
{
	switch (o) {
	case DMARC_OV_SAMPLED_OUT:
		return "sampled_out";
	case DMARC_OV_MAILING_LIST:
		return "mailing_list";
	}
	return NULL;
}

enum found { F_PENDING, F_TEMP, F_NONE, F_ONE, F_STOP };

/* §6.6.3 steps 1-3 for one name: F_ONE with *r, F_NONE (look further),
 * F_STOP (several records, or one without a usable policy: DMARC does
 * not apply), F_TEMP, F_PENDING. */
static int lookup(struct ma_dns_cache *c, const char *dom,
		  struct dmarc_record *r)
{
	char name[DMARC_DOMAIN_MAX + 8];
	const struct ma_rrset *rs;
	struct dmarc_record one;
	size_t found = 0;
	int last = DMARC_REC_NOT;

	snprintf(name, sizeof(name), "_dmarc.%s", dom);
	rs = ma_dns_get(c, name, MA_T_TXT);
	switch (rs->rcode) {
	case MA_DNS_PENDING:
		return F_PENDING;
	case MA_DNS_TEMP:
		return F_TEMP;
	case MA_DNS_OK:
		break;
	default:
		return F_NONE;
	}
	for (size_t i = 0; i < rs->n; i++) {
		int st = dmarc_record_parse((const char *)rs->rr[i].data,
					    rs->rr[i].len, &one);

		if (st == DMARC_REC_NOT)
			continue;
		if (++found == 1) {
			*r = one;
			last = st;
		}
	}
	if (found == 0)
		return F_NONE;
	if (found > 1 || last != DMARC_REC_OK)
		return F_STOP;
	return F_ONE;
}

static uint32_t default_rand(void *arg)
{
	(void)arg;
	return arc4random();
}

static void copy(char *dst, const char *src)
{
	snprintf(dst, DMARC_DOMAIN_MAX, "%s", src);
}

int dmarc_eval(struct ma_dns_cache *c, const char *from_domain,
	       const struct dmarc_auth *a, const struct dmarc_opts *o,
	       struct dmarc_verdict *v)
{
	int f;

	memset(v, 0, sizeof(*v));
	if (from_domain == NULL || *from_domain == '\0' ||
	    strlen(from_domain) >= DMARC_DOMAIN_MAX) {
		v->result = DMARC_PERMERROR;
		return MA_DONE;
	}
	copy(v->from_domain, from_domain);
	dmarc_org_domain(from_domain, v->org_domain, sizeof(v->org_domain));
	f = lookup(c, from_domain, &v->rec);
	if (f == F_PENDING) {
		/* the fallback name is known now: resolve both at once */
		if (strcmp(v->org_domain, v->from_domain) != 0)
			(void)lookup(c, v->org_domain, &v->rec);
		return MA_PENDING;
	}
	copy(v->policy_domain, from_domain);
	if (f == F_NONE && strcmp(v->org_domain, v->from_domain) != 0) {
		f = lookup(c, v->org_domain, &v->rec);
		if (f == F_PENDING)
			return MA_PENDING;
		copy(v->policy_domain, v->org_domain);
		v->org_record = true;
	}
	switch (f) {
	case F_TEMP:
		v->result = DMARC_TEMPERROR;
		return MA_DONE;
	case F_NONE:
	case F_STOP:
		v->result = DMARC_NONE;
		v->policy_domain[0] = '\0';
		v->org_record = false;
		memset(&v->rec, 0, sizeof(v->rec));
		return MA_DONE;
	}
	v->have_record = true;
	/* sp= is for the subdomains of the domain that published it */
	v->policy = v->org_record ? v->rec.sp : v->rec.p;
	v->spf_aligned =
		a->spf_pass &&
		dmarc_aligned(a->spf_domain, from_domain, v->rec.aspf_strict);
	v->dkim_aligned =
		dmarc_dkim_aligned(from_domain, a, v->rec.adkim_strict);
	if (v->spf_aligned || v->dkim_aligned) {
		v->result = DMARC_PASS;
		v->disposition = DMARC_P_NONE;
		return MA_DONE;
	}
	v->result = DMARC_FAIL;
	v->disposition = v->policy;
	if (v->policy != DMARC_P_NONE && v->rec.pct < 100) {
		uint32_t (*rnd)(void *) =
			o != NULL && o->rand != NULL ? o->rand : default_rand;

		/* §6.6.4: outside the sample, the next weaker policy */
		if (rnd(o != NULL ? o->rand_arg : NULL) % 100 >= v->rec.pct) {
			v->disposition = v->policy - 1;
			v->override = DMARC_OV_SAMPLED_OUT;
		}
	}
	if (v->disposition != DMARC_P_NONE && o != NULL &&
	    dmarc_exception_match(o->exceptions, o->nexceptions,
				  a->mail_from)) {
		v->disposition = DMARC_P_NONE;
		v->override = DMARC_OV_MAILING_LIST;
	}
	return MA_DONE;
}
