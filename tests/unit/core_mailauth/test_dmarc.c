/* DMARC (RFC 7489): the record parser, the From: domain, the
 * organizational domain on a fixed suffix list, discovery through the
 * answer cache (PENDING included), alignment, p/sp/pct and the
 * exception list. */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/dmarc.h"
#include "mailauth/ma_metrics.h"
#include "rm.h"

#define PSL_FILE RMAIL_SRC "/tests/unit/core_mailauth/data/psl.dat"

static void put_txt(struct ma_dns_cache *c, const char *name,
		    const char *const *txt, size_t n)
{
	struct ma_rr rr[4] = {0};
	struct ma_rrset rs = {.rcode = MA_DNS_OK, .n = n, .rr = rr};

	for (size_t i = 0; i < n; i++) {
		rr[i].data = (unsigned char *)txt[i];
		rr[i].len = strlen(txt[i]);
	}
	g_assert_cmpint(ma_dns_put(c, name, MA_T_TXT, &rs), ==, 0);
}

static void put_rcode(struct ma_dns_cache *c, const char *name, int rcode)
{
	struct ma_rrset rs = {.rcode = rcode};

	g_assert_cmpint(ma_dns_put(c, name, MA_T_TXT, &rs), ==, 0);
}

static int parse(const char *s, struct dmarc_record *r)
{
	return dmarc_record_parse(s, strlen(s), r);
}

static void test_record(void)
{
	struct dmarc_record r;

	g_assert_cmpint(parse("v=DMARC1; p=reject", &r), ==, DMARC_REC_OK);
	g_assert_cmpint(r.p, ==, DMARC_P_REJECT);
	g_assert_cmpint(r.sp, ==, DMARC_P_REJECT); /* sp defaults to p */
	g_assert_cmpuint(r.pct, ==, 100);
	g_assert_false(r.adkim_strict);
	g_assert_cmpuint(r.ri, ==, 86400);
	g_assert_cmpstr(r.fo, ==, "0");

	g_assert_cmpint(parse(" v = DMARC1 ;p=Quarantine; sp=none ; pct=20;"
			      "adkim=s;aspf=s;ri=3600;fo=1:d;ruf=mailto:f@"
			      "x.example;x-future=1;",
			      &r),
			==, DMARC_REC_OK);
	g_assert_cmpint(r.p, ==, DMARC_P_QUARANTINE);
	g_assert_cmpint(r.sp, ==, DMARC_P_NONE);
	g_assert_cmpuint(r.pct, ==, 20);
	g_assert_true(r.adkim_strict && r.aspf_strict);
	g_assert_cmpuint(r.ri, ==, 3600);
	g_assert_cmpstr(r.fo, ==, "1:d");
	g_assert_cmpuint(r.nrua, ==, 0); /* ruf= is not rua= */

	/* v= must come first, and be exactly DMARC1 */
	g_assert_cmpint(parse("p=reject; v=DMARC1", &r), ==, DMARC_REC_NOT);
	g_assert_cmpint(parse("v=DMARC2; p=reject", &r), ==, DMARC_REC_NOT);
	g_assert_cmpint(parse("v=dmarc1; p=reject", &r), ==, DMARC_REC_NOT);
	g_assert_cmpint(parse("V=DMARC1; P=Reject; PCT=5", &r), ==,
			DMARC_REC_OK);
	g_assert_cmpint(r.p, ==, DMARC_P_REJECT);
	g_assert_cmpuint(r.pct, ==, 5);
	g_assert_cmpint(parse("v=spf1 -all", &r), ==, DMARC_REC_NOT);
	g_assert_cmpint(parse("", &r), ==, DMARC_REC_NOT);
	g_assert_cmpint(parse(";", &r), ==, DMARC_REC_NOT);

	/* bad optional values fall back to their defaults */
	g_assert_cmpint(parse("v=DMARC1; p=reject; pct=101; adkim=x; ri=-1;"
			      "fo=2",
			      &r),
			==, DMARC_REC_OK);
	g_assert_cmpuint(r.pct, ==, 100);
	g_assert_false(r.adkim_strict);
	g_assert_cmpuint(r.ri, ==, 86400);
	g_assert_cmpstr(r.fo, ==, "0");
	g_assert_cmpint(parse("v=DMARC1; p=reject; pct=0", &r), ==,
			DMARC_REC_OK);
	g_assert_cmpuint(r.pct, ==, 0);

	/* the first of a repeated tag counts */
	g_assert_cmpint(parse("v=DMARC1; p=none; p=reject", &r), ==,
			DMARC_REC_OK);
	g_assert_cmpint(r.p, ==, DMARC_P_NONE);

	/* §6.6.3: no usable p= -> p=none when rua= is usable, else no
	 * DMARC processing */
	g_assert_cmpint(parse("v=DMARC1; p=bogus", &r), ==, DMARC_REC_INVALID);
	g_assert_cmpint(parse("v=DMARC1; rua=mailto:d@r.example", &r), ==,
			DMARC_REC_OK);
	g_assert_cmpint(r.p, ==, DMARC_P_NONE);
	g_assert_true(r.p_invalid);
	g_assert_cmpint(parse("v=DMARC1; p=reject; sp=maybe", &r), ==,
			DMARC_REC_INVALID);
}

static void test_record_rua(void)
{
	struct dmarc_record r;

	g_assert_cmpint(parse("v=DMARC1; p=none; rua=mailto:a@r.example!10m,"
			      " MAILTO:b%40x@r.example , https://x.example/,"
			      "mailto:c@r.example!20k, mailto:bad, "
			      "mailto:d@r.example?subject=x!0,"
			      "mailto:e@r.example!1g,mailto:f@r.example",
			      &r),
			==, DMARC_REC_OK);
	g_assert_cmpuint(r.nrua, ==, DMARC_MAX_RUA);
	g_assert_cmpstr(r.rua[0].addr, ==, "a@r.example");
	g_assert_cmpuint(r.rua[0].max_size, ==, 10u * 1024 * 1024);
	/* an '@' that was %-encoded is not a second one we accept */
	g_assert_cmpstr(r.rua[1].addr, ==, "c@r.example");
	g_assert_cmpuint(r.rua[1].max_size, ==, 20u * 1024);
	g_assert_cmpstr(r.rua[2].addr, ==, "e@r.example");
	g_assert_cmpuint(r.rua[2].max_size, ==, 1024u * 1024 * 1024);
	g_assert_cmpstr(r.rua[3].addr, ==, "f@r.example");
	g_assert_cmpuint(r.rua[3].max_size, ==, 0);

	/* a size that would wrap 64 bits is no limit, not a small one */
	g_assert_cmpint(parse("v=DMARC1; p=none; "
			      "rua=mailto:a@r.example!1099511627776t",
			      &r),
			==, DMARC_REC_OK);
	g_assert_cmpuint(r.nrua, ==, 1);
	g_assert_cmpuint(r.rua[0].max_size, ==, UINT64_MAX);

	/* nothing that could split an envelope command gets through */
	g_assert_cmpint(
		parse("v=DMARC1; p=none; rua=mailto:a%0d%0aRCPT@x.ex", &r), ==,
		DMARC_REC_OK);
	g_assert_cmpuint(r.nrua, ==, 0);

	/* a NUL inside the TXT data ends nothing early */
	g_assert_cmpint(
		dmarc_record_parse("v=DMARC1; p=reject\0; p=none", 27, &r), ==,
		DMARC_REC_INVALID);
}

static void test_from_domain(void)
{
	char d[DMARC_DOMAIN_MAX];
#define H(s) s, strlen(s), d, sizeof(d)

	g_assert_cmpint(dmarc_from_domain(H("From: Ann <ann@Mail.Example.COM.>"
					    "\r\nTo: b@x.example\r\n\r\n")),
			==, 0);
	g_assert_cmpstr(d, ==, "mail.example.com");
	g_assert_cmpint(dmarc_from_domain(H("Subject: x\nfrom: (c) a@b.example"
					    " (d)\n\nbody")),
			==, 0);
	g_assert_cmpstr(d, ==, "b.example");
	/* an internationalised domain, as its A-labels */
	g_assert_cmpint(dmarc_from_domain(H("From: a@B\xc3\xbc"
					    "cher.example"
					    "\r\n\r\n")),
			==, 0);
	g_assert_cmpstr(d, ==, "xn--bcher-kva.example");
	g_assert_cmpint(dmarc_from_domain(H("From: g: a@b.example;\r\n\r\n")),
			==, 0);
	g_assert_cmpstr(d, ==, "b.example");
	/* two fields, two authors, none, no domain, a literal */
	g_assert_cmpint(dmarc_from_domain(H("From: a@b.example\r\nFrom: "
					    "c@d.example\r\n\r\n")),
			==, -1);
	g_assert_cmpint(dmarc_from_domain(H("From: a@b.example, c@d.example"
					    "\r\n\r\n")),
			==, -1);
	g_assert_cmpint(dmarc_from_domain(H("To: a@b.example\r\n\r\n")), ==,
			-1);
	g_assert_cmpint(dmarc_from_domain(H("From: undisclosed\r\n\r\n")), ==,
			-1);
	g_assert_cmpint(dmarc_from_domain(H("From: a@[192.0.2.1]\r\n\r\n")), ==,
			-1);
	g_assert_cmpint(dmarc_from_domain(H("From: a@b..example\r\n\r\n")), ==,
			-1);
	g_assert_cmpint(dmarc_from_domain(H("From: a@localhost\r\n\r\n")), ==,
			-1);
#undef H
}

static void test_org_domain(void)
{
	char o[DMARC_DOMAIN_MAX];

	dmarc_org_domain("a.b.mail.example.com", o, sizeof(o));
	g_assert_cmpstr(o, ==, "example.com");
	dmarc_org_domain("x.shop.example.co.uk", o, sizeof(o));
	g_assert_cmpstr(o, ==, "example.co.uk");
	dmarc_org_domain("co.uk", o, sizeof(o));
	g_assert_cmpstr(o, ==, "co.uk");
	g_assert_true(
		dmarc_aligned("bounce.example.com", "example.com", false));
	g_assert_false(
		dmarc_aligned("bounce.example.com", "example.com", true));
	g_assert_true(dmarc_aligned("Example.COM", "example.com", true));
	/* two registrations under one public suffix never align */
	g_assert_false(dmarc_aligned("a.co.uk", "b.co.uk", false));
}

static uint32_t fixed_rand(void *arg)
{
	return *(uint32_t *)arg;
}

struct fx {
	struct ma_dns_cache *c;
	struct dmarc_dkim_in sig[2];
	struct dmarc_auth a;
	struct dmarc_verdict v;
};

static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->c = ma_dns_cache_new(64);
	f->a.spf_domain = "other.example";
	f->a.mail_from = "bounce@other.example";
	f->a.dkim = f->sig;
}

static int eval(struct fx *f, const char *from, const struct dmarc_opts *o)
{
	return dmarc_eval(f->c, from, &f->a, o, &f->v);
}

static void test_eval_alignment(void)
{
	static const char *const rec[] = {"v=DMARC1; p=reject"};
	static const char *const strict[] = {"v=DMARC1; p=reject; aspf=s;"
					     "adkim=s"};
	struct fx f;

	fx_init(&f);
	put_txt(f.c, "_dmarc.example.com", rec, 1);
	put_txt(f.c, "_dmarc.strict.example", strict, 1);

	/* nothing passes: fail, reject */
	g_assert_cmpint(eval(&f, "example.com", NULL), ==, MA_DONE);
	g_assert_cmpint(f.v.result, ==, DMARC_FAIL);
	g_assert_cmpint(f.v.disposition, ==, DMARC_P_REJECT);
	g_assert_cmpstr(f.v.policy_domain, ==, "example.com");
	g_assert_false(f.v.org_record);

	/* relaxed SPF alignment through the organizational domain */
	f.a.spf_domain = "bounces.example.com";
	f.a.spf_pass = true;
	g_assert_cmpint(eval(&f, "example.com", NULL), ==, MA_DONE);
	g_assert_cmpint(f.v.result, ==, DMARC_PASS);
	g_assert_true(f.v.spf_aligned);
	g_assert_cmpint(f.v.disposition, ==, DMARC_P_NONE);

	/* strict: the same name is needed */
	f.a.spf_domain = "Strict.Example";
	g_assert_cmpint(eval(&f, "strict.example", NULL), ==, MA_DONE);
	g_assert_cmpint(f.v.result, ==, DMARC_PASS);
	f.a.spf_domain = "sub.strict.example";
	g_assert_cmpint(eval(&f, "strict.example", NULL), ==, MA_DONE);
	g_assert_cmpint(f.v.result, ==, DMARC_FAIL);

	/* SPF aligned but not passing does not count */
	f.a.spf_pass = false;
	f.a.spf_domain = "example.com";
	g_assert_cmpint(eval(&f, "example.com", NULL), ==, MA_DONE);
	g_assert_cmpint(f.v.result, ==, DMARC_FAIL);

	/* DKIM: an l= signature that leaves body content unsigned does
	 * not count, a whole-body one does */
	f.sig[0] = (struct dmarc_dkim_in){
		.d = "example.com", .pass = true, .full_body = false};
	f.a.ndkim = 1;
	g_assert_cmpint(eval(&f, "example.com", NULL), ==, MA_DONE);
	g_assert_cmpint(f.v.result, ==, DMARC_FAIL);
	f.sig[1] = (struct dmarc_dkim_in){
		.d = "mail.example.com", .pass = true, .full_body = true};
	f.a.ndkim = 2;
	g_assert_cmpint(eval(&f, "example.com", NULL), ==, MA_DONE);
	g_assert_cmpint(f.v.result, ==, DMARC_PASS);
	g_assert_true(f.v.dkim_aligned);
	/* a failed signature never counts */
	f.sig[1].pass = false;
	g_assert_cmpint(eval(&f, "example.com", NULL), ==, MA_DONE);
	g_assert_cmpint(f.v.result, ==, DMARC_FAIL);
	ma_dns_cache_free(f.c);
}

static void test_eval_discovery(void)
{
	static const char *const org[] = {"v=DMARC1; p=reject; sp=quarantine"};
	static const char *const two[] = {"v=DMARC1; p=reject",
					  "v=DMARC1; p=none"};
	static const char *const other[] = {"v=spf1 -all",
					    "v=DMARC1; p=quarantine"};
	struct fx f;

	fx_init(&f);
	put_txt(f.c, "_dmarc.example.com", org, 1);
	put_rcode(f.c, "_dmarc.mail.example.com", MA_DNS_NXDOMAIN);
	put_rcode(f.c, "_dmarc.nodata.example.com", MA_DNS_NODATA);
	put_txt(f.c, "_dmarc.two.example", two, 2);
	put_txt(f.c, "_dmarc.mixed.example", other, 2);
	put_rcode(f.c, "_dmarc.temp.example", MA_DNS_TEMP);
	put_rcode(f.c, "_dmarc.none.example", MA_DNS_NXDOMAIN);

	/* the organizational domain's record, its sp= */
	g_assert_cmpint(eval(&f, "mail.example.com", NULL), ==, MA_DONE);
	g_assert_cmpint(f.v.result, ==, DMARC_FAIL);
	g_assert_true(f.v.org_record);
	g_assert_cmpstr(f.v.policy_domain, ==, "example.com");
	g_assert_cmpstr(f.v.org_domain, ==, "example.com");
	g_assert_cmpint(f.v.policy, ==, DMARC_P_QUARANTINE);
	g_assert_cmpint(f.v.disposition, ==, DMARC_P_QUARANTINE);
	g_assert_cmpint(eval(&f, "nodata.example.com", NULL), ==, MA_DONE);
	g_assert_cmpint(f.v.disposition, ==, DMARC_P_QUARANTINE);
	/* on the domain itself, p= */
	g_assert_cmpint(eval(&f, "example.com", NULL), ==, MA_DONE);
	g_assert_cmpint(f.v.disposition, ==, DMARC_P_REJECT);

	/* two DMARC records: no policy; other TXT records are ignored */
	g_assert_cmpint(eval(&f, "two.example", NULL), ==, MA_DONE);
	g_assert_cmpint(f.v.result, ==, DMARC_NONE);
	g_assert_cmpint(eval(&f, "mixed.example", NULL), ==, MA_DONE);
	g_assert_cmpint(f.v.result, ==, DMARC_FAIL);
	g_assert_cmpint(f.v.disposition, ==, DMARC_P_QUARANTINE);

	g_assert_cmpint(eval(&f, "temp.example", NULL), ==, MA_DONE);
	g_assert_cmpint(f.v.result, ==, DMARC_TEMPERROR);
	g_assert_cmpint(f.v.disposition, ==, DMARC_P_NONE);
	g_assert_cmpint(eval(&f, "none.example", NULL), ==, MA_DONE);
	g_assert_cmpint(f.v.result, ==, DMARC_NONE);
	g_assert_cmpint(eval(&f, NULL, NULL), ==, MA_DONE);
	g_assert_cmpint(f.v.result, ==, DMARC_PERMERROR);
	ma_dns_cache_free(f.c);
}

static void record_wanted(void *arg, const char *name, int type)
{
	g_assert_cmpint(type, ==, MA_T_TXT);
	g_ptr_array_add(arg, g_strdup(name));
}

/* An empty cache: PENDING with both names wanted at once; after the
 * answers, the verdict a pre-filled cache gives. */
static void test_eval_pending(void)
{
	static const char *const org[] = {"v=DMARC1; p=reject; sp=quarantine"};
	GPtrArray *w = g_ptr_array_new_with_free_func(g_free);
	struct fx f;

	fx_init(&f);
	g_assert_cmpint(eval(&f, "a.mail.example.com", NULL), ==, MA_PENDING);
	g_assert_cmpuint(ma_dns_take_wanted(f.c, record_wanted, w), ==, 2);
	g_assert_cmpstr(w->pdata[0], ==, "_dmarc.a.mail.example.com");
	g_assert_cmpstr(w->pdata[1], ==, "_dmarc.example.com");
	put_rcode(f.c, "_dmarc.a.mail.example.com", MA_DNS_NXDOMAIN);
	g_assert_cmpint(eval(&f, "a.mail.example.com", NULL), ==, MA_PENDING);
	put_txt(f.c, "_dmarc.example.com", org, 1);
	g_assert_cmpint(eval(&f, "a.mail.example.com", NULL), ==, MA_DONE);
	g_assert_cmpint(f.v.result, ==, DMARC_FAIL);
	g_assert_cmpint(f.v.disposition, ==, DMARC_P_QUARANTINE);
	g_assert_true(f.v.org_record);
	g_ptr_array_free(w, TRUE);
	ma_dns_cache_free(f.c);
}

static void test_eval_pct_exceptions(void)
{
	static const char *const rej[] = {"v=DMARC1; p=reject; pct=30"};
	static const char *const qua[] = {"v=DMARC1; p=quarantine; pct=0"};
	static const char *const exc[] = {"list@lists.example.org",
					  ".lists.example.net"};
	uint32_t r = 29;
	struct dmarc_opts o = {.rand = fixed_rand, .rand_arg = &r};
	struct fx f;

	fx_init(&f);
	put_txt(f.c, "_dmarc.example.com", rej, 1);
	put_txt(f.c, "_dmarc.q.example", qua, 1);
	/* inside the sample */
	g_assert_cmpint(eval(&f, "example.com", &o), ==, MA_DONE);
	g_assert_cmpint(f.v.disposition, ==, DMARC_P_REJECT);
	g_assert_cmpint(f.v.override, ==, DMARC_OV_NONE);
	/* outside: the next weaker policy */
	r = 130;
	g_assert_cmpint(eval(&f, "example.com", &o), ==, MA_DONE);
	g_assert_cmpint(f.v.result, ==, DMARC_FAIL);
	g_assert_cmpint(f.v.policy, ==, DMARC_P_REJECT);
	g_assert_cmpint(f.v.disposition, ==, DMARC_P_QUARANTINE);
	g_assert_cmpint(f.v.override, ==, DMARC_OV_SAMPLED_OUT);
	g_assert_cmpstr(dmarc_override_name(f.v.override), ==, "sampled_out");
	r = 0;
	g_assert_cmpint(eval(&f, "q.example", &o), ==, MA_DONE);
	g_assert_cmpint(f.v.disposition, ==, DMARC_P_NONE);

	/* the mailing-list exceptions: by sender, by subdomain */
	r = 0;
	o.exceptions = exc;
	o.nexceptions = 2;
	f.a.mail_from = "LIST@lists.example.org";
	g_assert_cmpint(eval(&f, "example.com", &o), ==, MA_DONE);
	g_assert_cmpint(f.v.result, ==, DMARC_FAIL);
	g_assert_cmpint(f.v.disposition, ==, DMARC_P_NONE);
	g_assert_cmpint(f.v.override, ==, DMARC_OV_MAILING_LIST);
	f.a.mail_from = "other@lists.example.org";
	g_assert_cmpint(eval(&f, "example.com", &o), ==, MA_DONE);
	g_assert_cmpint(f.v.disposition, ==, DMARC_P_REJECT);
	f.a.mail_from = "x-bounce@a.lists.example.net";
	g_assert_cmpint(eval(&f, "example.com", &o), ==, MA_DONE);
	g_assert_cmpint(f.v.disposition, ==, DMARC_P_NONE);
	f.a.mail_from = "x@lists.example.net";
	g_assert_cmpint(eval(&f, "example.com", &o), ==, MA_DONE);
	g_assert_cmpint(f.v.disposition, ==, DMARC_P_REJECT);
	ma_dns_cache_free(f.c);
}

static void test_local_from(void)
{
	struct dmarc_dkim_in sig = {
		.d = "example.com", .pass = true, .full_body = true};
	struct dmarc_auth a = {.spf_domain = "evil.example", .spf_pass = true};

	g_assert_false(dmarc_local_from_refused("example.com", false, &a));
	g_assert_true(dmarc_local_from_refused("example.com", true, &a));
	a.spf_domain = "mail.example.com";
	g_assert_false(dmarc_local_from_refused("example.com", true, &a));
	a.spf_pass = false;
	g_assert_true(dmarc_local_from_refused("example.com", true, &a));
	a.dkim = &sig;
	a.ndkim = 1;
	g_assert_false(dmarc_local_from_refused("example.com", true, &a));
	sig.full_body = false;
	g_assert_true(dmarc_local_from_refused("example.com", true, &a));
}

static void test_metrics(void)
{
	char *s;

	rm_mailauth_count("spf", "pass");
	rm_mailauth_count("spf", "pass");
	rm_mailauth_count("dkim", "fail");
	rm_mailauth_count("dmarc", "x\"}\nevil 1"); /* never copied */
	rm_mailauth_count("arc", "pass");	    /* unknown: dropped */
	rm_mailauth_count_disposition(DMARC_P_QUARANTINE, DMARC_OV_NONE);
	rm_mailauth_count_disposition(DMARC_P_QUARANTINE, DMARC_OV_SAMPLED_OUT);
	rm_mailauth_count_local_from_refused();
	rm_mailauth_count_authres_removed(2);
	s = rm_metrics_render();
	g_assert_nonnull(strstr(s, "rmail_mailauth_results_total{mechanism="
				   "\"spf\",result=\"pass\"} 2\n"));
	g_assert_nonnull(strstr(s, "rmail_mailauth_results_total{mechanism="
				   "\"dkim\",result=\"fail\"} 1\n"));
	g_assert_nonnull(strstr(s, "rmail_mailauth_results_total{mechanism="
				   "\"dmarc\",result=\"other\"} 1\n"));
	g_assert_null(strstr(s, "evil"));
	g_assert_null(strstr(s, "mechanism=\"arc\""));
	g_assert_nonnull(strstr(s, "rmail_dmarc_dispositions_total{"
				   "disposition=\"quarantine\",override="
				   "\"sampled_out\"} 1\n"));
	g_assert_nonnull(
		strstr(s, "rmail_mailauth_local_from_refused_total 1\n"));
	g_assert_nonnull(
		strstr(s, "rmail_mailauth_forged_authres_removed_total 2\n"));
	free(s);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_assert_cmpint(dmarc_psl_load(PSL_FILE), ==, 0);
	g_test_add_func("/dmarc/record", test_record);
	g_test_add_func("/dmarc/record_rua", test_record_rua);
	g_test_add_func("/dmarc/from_domain", test_from_domain);
	g_test_add_func("/dmarc/org_domain", test_org_domain);
	g_test_add_func("/dmarc/eval_alignment", test_eval_alignment);
	g_test_add_func("/dmarc/eval_discovery", test_eval_discovery);
	g_test_add_func("/dmarc/eval_pending", test_eval_pending);
	g_test_add_func("/dmarc/eval_pct_exceptions", test_eval_pct_exceptions);
	g_test_add_func("/dmarc/local_from", test_local_from);
	g_test_add_func("/dmarc/metrics", test_metrics);
	int rc = g_test_run();
	dmarc_psl_free();
	return rc;
}
