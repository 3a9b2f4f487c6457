/* SPF: the PENDING path equals the pre-filled run, the limits hold,
 * the RFC 7208 §7.4 macro examples expand as written, and the parser
 * refuses what the grammar refuses. */
#include <arpa/inet.h>
#include <glib.h>
#include <string.h>
#include <sys/socket.h>

#include "mailauth/spf.h"
#include "mailauth/spf_record.h"

/* A tiny zone: (name, type, rcode, values); for A/AAAA a value is an
 * address, MX "host", PTR "host", TXT the record. */
struct zrr {
	const char *name;
	int type;
	int rcode;
	const char *v[4];
};

static void put(struct ma_dns_cache *c, const struct zrr *z)
{
	struct ma_rr rr[4];
	struct ma_rrset rs = {.rcode = z->rcode, .rr = rr};

	memset(rr, 0, sizeof(rr));
	for (size_t i = 0; i < 4 && z->v[i] != NULL; i++, rs.n++) {
		switch (z->type) {
		case MA_T_A:
			g_assert_cmpint(inet_pton(AF_INET, z->v[i], rr[i].addr),
					==, 1);
			break;
		case MA_T_AAAA:
			g_assert_cmpint(
				inet_pton(AF_INET6, z->v[i], rr[i].addr), ==,
				1);
			break;
		case MA_T_MX:
		case MA_T_PTR:
			rr[i].host = (char *)z->v[i];
			rr[i].pref = (uint16_t)i;
			break;
		default:
			rr[i].data = (unsigned char *)z->v[i];
			rr[i].len = strlen(z->v[i]);
		}
	}
	g_assert_cmpint(ma_dns_put(c, z->name, z->type, &rs), ==, 0);
}

static void put_all(struct ma_dns_cache *c, const struct zrr *z)
{
	for (; z->name != NULL; z++)
		put(c, z);
}

struct answer_ctx {
	struct ma_dns_cache *c;
	const struct zrr *z;
	size_t asked;
};

static void answer(void *arg, const char *name, int type)
{
	struct answer_ctx *a = arg;

	a->asked++;
	for (const struct zrr *z = a->z; z->name != NULL; z++)
		if (g_ascii_strcasecmp(z->name, name) == 0 && z->type == type) {
			put(a->c, z);
			return;
		}
	g_error("question not in the test zone: %s/%d", name, type);
}

static struct spf_input input4(const char *ip, const char *mfrom,
			       const char *helo)
{
	struct spf_input in = {.family = AF_INET,
			       .mail_from = mfrom,
			       .helo = helo,
			       .receiver = "mx.rmail.test",
			       .now = 1700000000};

	g_assert_cmpint(inet_pton(AF_INET, ip, in.ip), ==, 1);
	return in;
}

#define OK MA_DNS_OK
#define NX MA_DNS_NXDOMAIN
#define ND MA_DNS_NODATA

/* A record with an include, an MX with two hosts, a PTR with two
 * names, a macro'd exists and an exp= with %{p}: every kind of
 * dependent look-up. */
static const struct zrr PEND_ZONE[] = {
	{"example.org",
	 MA_T_TXT,
	 OK,
	 {"v=spf1 include:_spf.example.org mx ptr:example.net "
	  "exists:%{l}.%{ir}.x.example.org -all exp=why.example.org"}},
	{"_spf.example.org", MA_T_TXT, OK, {"v=spf1 ip4:198.51.100.0/24 -all"}},
	{"example.org", MA_T_MX, OK, {"mx1.example.org", "mx2.example.org"}},
	{"mx1.example.org", MA_T_A, OK, {"192.0.2.1"}},
	{"mx2.example.org", MA_T_A, OK, {"192.0.2.2"}},
	{"9.2.0.192.in-addr.arpa",
	 MA_T_PTR,
	 OK,
	 {"a.example.net", "b.example.net"}},
	{"a.example.net", MA_T_A, OK, {"192.0.2.8"}},
	{"b.example.net", MA_T_A, OK, {"192.0.2.7"}},
	{"bob.9.2.0.192.x.example.org", MA_T_A, NX, {NULL}},
	{"why.example.org", MA_T_TXT, OK, {"%{i} (%{p}) may not send as %{s}"}},
	{NULL, 0, 0, {NULL}},
};

static void test_pending_equals_prefilled(void)
{
	struct spf_input in = input4("192.0.2.9", "bob@example.org", "h.test");
	struct ma_dns_cache *c = ma_dns_cache_new(64);
	struct spf_verdict pre, v;
	struct answer_ctx a = {0};
	int rounds = 0, rc;

	put_all(c, PEND_ZONE);
	g_assert_cmpint(spf_check(c, &in, &pre), ==, MA_DONE);
	g_assert_cmpstr(spf_result_name(pre.result), ==, "fail");
	g_assert_cmpstr(pre.explanation, ==,
			"192.0.2.9 (unknown) may not send as bob@example.org");
	ma_dns_cache_free(c);

	/* empty cache: PENDING, answer what is wanted, rerun */
	c = ma_dns_cache_new(64);
	a.c = c;
	a.z = PEND_ZONE;
	while ((rc = spf_check(c, &in, &v)) == MA_PENDING) {
		size_t before = a.asked;

		g_assert_cmpuint(ma_dns_take_wanted(c, answer, &a), >, 0);
		/* the MX hosts are asked together, as are the PTR names */
		if (before == 3)
			g_assert_cmpuint(a.asked, ==, 5);
		rounds++;
	}
	g_assert_cmpint(rc, ==, MA_DONE);
	g_assert_cmpint(rounds, >, 3);
	g_assert_cmpint(v.result, ==, pre.result);
	g_assert_cmpstr(v.domain, ==, pre.domain);
	g_assert_cmpstr(v.explanation, ==, pre.explanation);
	/* a rerun on the full cache asks nothing new */
	g_assert_cmpint(spf_check(c, &in, &v), ==, MA_DONE);
	g_assert_cmpuint(ma_dns_take_wanted(c, answer, &a), ==, 0);
	ma_dns_cache_free(c);
}

static void count_q(void *arg, const char *name, int type)
{
	(void)name;
	(void)type;
	(*(size_t *)arg)++;
}

/* Literal targets are asked together, never more than the term limit
 * allows. */
static void test_prefetch(void)
{
	struct spf_input in = input4("192.0.2.1", "x@p.example", NULL);
	struct ma_dns_cache *c = ma_dns_cache_new(256);
	GString *rec = g_string_new("v=spf1");
	struct spf_verdict v;
	size_t n = 0;

	for (int i = 0; i < 30; i++)
		g_string_append_printf(rec, " include:i%d.example", i);
	{
		struct zrr z = {"p.example", MA_T_TXT, OK, {rec->str}};

		put(c, &z);
	}
	g_assert_cmpint(spf_check(c, &in, &v), ==, MA_PENDING);
	g_assert_cmpuint(ma_dns_take_wanted(c, count_q, &n), ==, 10);
	g_string_free(rec, TRUE);
	ma_dns_cache_free(c);
}

/* d0 includes d1 ... each include one DNS-querying term. */
static struct spf_verdict include_chain(int n, const char *last)
{
	struct spf_input in = input4("192.0.2.1", "x@d0.example", NULL);
	struct ma_dns_cache *c = ma_dns_cache_new(64);
	struct spf_verdict v;

	for (int i = 0; i < n; i++) {
		char name[32], txt[64];
		struct zrr z = {name, MA_T_TXT, OK, {txt}};

		g_snprintf(name, sizeof(name), "d%d.example", i);
		g_snprintf(txt, sizeof(txt), "v=spf1 include:d%d.example -all",
			   i + 1);
		put(c, &z);
	}
	{
		char name[32];
		struct zrr z = {name, MA_T_TXT, OK, {last}};

		g_snprintf(name, sizeof(name), "d%d.example", n);
		put(c, &z);
	}
	g_assert_cmpint(spf_check(c, &in, &v), ==, MA_DONE);
	ma_dns_cache_free(c);
	return v;
}

static void test_term_limit(void)
{
	struct spf_verdict v;

	v = include_chain(10, "v=spf1 +all");
	g_assert_cmpstr(spf_result_name(v.result), ==, "pass");
	v = include_chain(11, "v=spf1 +all");
	g_assert_cmpstr(spf_result_name(v.result), ==, "permerror");
	g_assert_cmpstr(v.reason, ==, "too many DNS-querying terms");
	/* the 11th need not be an include: one "a" at the end is enough */
	v = include_chain(10, "v=spf1 a:x.example +all");
	g_assert_cmpstr(spf_result_name(v.result), ==, "permerror");
	/* a loop ends the same way */
	{
		struct spf_input in =
			input4("192.0.2.1", "x@loop.example", NULL);
		struct ma_dns_cache *c = ma_dns_cache_new(64);
		struct zrr z = {"loop.example",
				MA_T_TXT,
				OK,
				{"v=spf1 ip4:10.0.0.1 redirect=loop.example"}};

		put(c, &z);
		g_assert_cmpint(spf_check(c, &in, &v), ==, MA_DONE);
		g_assert_cmpint(v.result, ==, SPF_PERMERROR);
		ma_dns_cache_free(c);
	}
}

static enum spf_result voids(const char *record, unsigned limit)
{
	static const struct zrr zone[] = {
		{"nx1.example", MA_T_A, NX, {NULL}},
		{"nx2.example", MA_T_A, NX, {NULL}},
		{"nodata.example", MA_T_A, ND, {NULL}},
		{"nodata.example", MA_T_MX, ND, {NULL}},
		{NULL, 0, 0, {NULL}},
	};
	struct spf_input in = input4("192.0.2.1", "x@v.example", NULL);
	struct ma_dns_cache *c = ma_dns_cache_new(64);
	struct zrr z = {"v.example", MA_T_TXT, OK, {record}};
	struct spf_verdict v;

	in.void_limit = limit;
	put_all(c, zone);
	put(c, &z);
	g_assert_cmpint(spf_check(c, &in, &v), ==, MA_DONE);
	ma_dns_cache_free(c);
	return v.result;
}

static void test_void_limit(void)
{
	g_assert_cmpint(voids("v=spf1 a:nx1.example a:nx2.example ?all", 0), ==,
			SPF_NEUTRAL);
	/* NXDOMAIN and NODATA both count, for a, mx and exists */
	g_assert_cmpint(voids("v=spf1 a:nx1.example mx:nodata.example "
			      "exists:nx2.example ?all",
			      0),
			==, SPF_PERMERROR);
	g_assert_cmpint(voids("v=spf1 a:nx1.example a:nodata.example "
			      "a:nx2.example ?all",
			      3),
			==, SPF_NEUTRAL);
}

static void test_identities(void)
{
	static const struct zrr zone[] = {
		{"helo.example", MA_T_TXT, OK, {"v=spf1 a -all"}},
		{"helo.example", MA_T_A, OK, {"192.0.2.1"}},
		{"multi.example", MA_T_TXT, OK, {"v=spf1 -all", "V=SPF1 +all"}},
		{"temp.example", MA_T_TXT, MA_DNS_TEMP, {NULL}},
		{"case.example", MA_T_TXT, OK, {"not spf", "v=SpF1 ~all"}},
		{NULL, 0, 0, {NULL}},
	};
	struct ma_dns_cache *c = ma_dns_cache_new(64);
	struct spf_input in = input4("192.0.2.1", "", "Helo.Example");
	struct spf_verdict v;

	put_all(c, zone);
	g_assert_cmpint(spf_check(c, &in, &v), ==, MA_DONE);
	g_assert_cmpint(v.result, ==, SPF_PASS);
	g_assert_true(v.helo_identity);
	g_assert_cmpstr(v.domain, ==, "helo.example");
	g_assert_cmpstr(v.mailfrom, ==, "");
	g_assert_cmpstr(v.helo, ==, "Helo.Example");

	in = input4("192.0.2.1", "a@multi.example", "helo.example");
	g_assert_cmpint(spf_check(c, &in, &v), ==, MA_DONE);
	g_assert_cmpint(v.result, ==, SPF_PERMERROR);
	g_assert_false(v.helo_identity);
	g_assert_cmpstr(v.mailfrom, ==, "a@multi.example");
	in.mail_from = "a@temp.example";
	g_assert_cmpint(spf_check(c, &in, &v), ==, MA_DONE);
	g_assert_cmpint(v.result, ==, SPF_TEMPERROR);
	in.mail_from = "a@case.example";
	g_assert_cmpint(spf_check(c, &in, &v), ==, MA_DONE);
	g_assert_cmpint(v.result, ==, SPF_SOFTFAIL);
	/* an IPv4-mapped IPv6 client is an IPv4 client */
	in.family = AF_INET6;
	g_assert_cmpint(inet_pton(AF_INET6, "::ffff:192.0.2.1", in.ip), ==, 1);
	in.mail_from = NULL;
	g_assert_cmpint(spf_check(c, &in, &v), ==, MA_DONE);
	g_assert_cmpint(v.result, ==, SPF_PASS);
	ma_dns_cache_free(c);
}

/* RFC 7208 §7.4, sender strong-bad@email.example.com from 192.0.2.3 */
static void test_macro_examples(void)
{
	static const struct {
		const char *in, *out;
	} ex[] = {
		{"%{s}", "strong-bad@email.example.com"},
		{"%{o}", "email.example.com"},
		{"%{d}", "email.example.com"},
		{"%{d4}", "email.example.com"},
		{"%{d3}", "email.example.com"},
		{"%{d2}", "example.com"},
		{"%{d1}", "com"},
		{"%{dr}", "com.example.email"},
		{"%{d2r}", "example.email"},
		{"%{l}", "strong-bad"},
		{"%{l-}", "strong.bad"},
		{"%{lr}", "strong-bad"},
		{"%{lr-}", "bad.strong"},
		{"%{l1r-}", "strong"},
		{"%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
		{"%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
		{"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
		 "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
		{"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
		 "3.2.0.192.in-addr.strong.lp._spf.example.com"},
		{"%{d2}.trusted-domains.example.net",
		 "example.com.trusted-domains.example.net"},
		{"%%%_%-", "% %20"},
		{"%{L}", "strong-bad"},
		{"%{S}", "strong-bad%40email.example.com"},
		{"%{d999999999999}", "email.example.com"},
	};
	struct spf_macro_env env = {
		.s = "strong-bad@email.example.com",
		.l = "strong-bad",
		.o = "email.example.com",
		.d = "email.example.com",
		.i = "192.0.2.3",
		.v = "in-addr",
		.h = "mx.example.org",
	};
	char out[256];

	for (size_t i = 0; i < G_N_ELEMENTS(ex); i++) {
		g_assert_cmpint(spf_macro_expand(ex[i].in, strlen(ex[i].in),
						 false, &env, out, sizeof(out)),
				==, 0);
		g_assert_cmpstr(out, ==, ex[i].out);
	}
	/* c, r, t only in explanations; %{d0} and a bare % are errors */
	g_assert_cmpint(spf_macro_expand("%{c}", 4, false, &env, out, 256), ==,
			-1);
	g_assert_cmpint(spf_macro_expand("%{d0}", 5, false, &env, out, 256), ==,
			-1);
	g_assert_cmpint(spf_macro_expand("a%b", 3, false, &env, out, 256), ==,
			-1);
	/* too long for the buffer: an error, not a truncation */
	g_assert_cmpint(spf_macro_expand("%{s}", 4, false, &env, out, 8), ==,
			-1);
}

/* The IPv6 form of %{i} goes through spf_check (it builds the value). */
static void test_macro_ip6(void)
{
	static const struct zrr zone[] = {
		{"email.example.com",
		 MA_T_TXT,
		 OK,
		 {"v=spf1 exists:%{ir}.%{v}._spf.%{d2} -all"}},
		{"1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0."
		 "0.2"
		 ".ip6._spf.example.com",
		 MA_T_A,
		 OK,
		 {"127.0.0.2"}},
		{NULL, 0, 0, {NULL}},
	};
	struct ma_dns_cache *c = ma_dns_cache_new(16);
	struct spf_input in = {.family = AF_INET6,
			       .mail_from = "strong-bad@email.example.com"};
	struct spf_verdict v;

	g_assert_cmpint(inet_pton(AF_INET6, "2001:db8::cb01", in.ip), ==, 1);
	put_all(c, zone);
	g_assert_cmpint(spf_check(c, &in, &v), ==, MA_DONE);
	g_assert_cmpint(v.result, ==, SPF_PASS);
	ma_dns_cache_free(c);
}

static void test_parser(void)
{
	static const char *const good[] = {
		"v=spf1",
		"V=SPF1 -ALL",
		"v=spf1 a mx ptr ip4:192.0.2.0/24 ip6:2001:db8::/32 ~all",
		"v=spf1 a:%{d}/24//64 mx/30 exists:%{i}._e.example.org ?all",
		"v=spf1 include:_spf.example.com redirect=_spf.example.net",
		"v=spf1 foo=bar%{d} exp=why.%{d}",
		"v=spf1 a:foo:bar/baz.example.com",
	};
	static const char *const bad[] = {
		"v=spf1 -all.",
		"v=spf1 ip4:1.2.3.4/33",
		"v=spf1 a/033",
		"v=spf1 redirect=a.example redirect=b.example",
		"v=spf1 exp=",
		"v=spf1 include",
		"v=spf1 ptr/24",
		"v=spf1 a:example",
		"v=spf1 a:%{x}.example.com",
		"v=spf1 1x=y",
		"v=spf1 ip6:2001:db8::/129",
		"v=spf1 a:example.com\x01",
		"v=spf1 foo=%",
	};
	struct spf_record *r = g_new(struct spf_record, 1);
	const char *why;

	for (size_t i = 0; i < G_N_ELEMENTS(good); i++)
		g_assert_cmpint(
			spf_record_parse(good[i], strlen(good[i]), r, &why), ==,
			0);
	g_assert_cmpuint(r->n, ==, 1);
	g_assert_cmpuint(r->terms[0].spec.len, ==, 23);
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
		g_assert_cmpint(
			spf_record_parse(bad[i], strlen(bad[i]), r, &why), ==,
			-1);
	/* a:host/24//64 */
	g_assert_cmpint(spf_record_parse(good[3], strlen(good[3]), r, &why), ==,
			0);
	g_assert_cmpint(r->terms[0].cidr4, ==, 24);
	g_assert_cmpint(r->terms[0].cidr6, ==, 64);
	g_assert_cmpint(r->terms[1].cidr4, ==, 30);
	g_assert_cmpint(r->terms[1].cidr6, ==, 128);
	/* bounded: more terms than SPF_TERMS_MAX, or a record longer than
	 * SPF_RECORD_MAX, is refused whole */
	{
		GString *big = g_string_new("v=spf1");

		for (int i = 0; i < SPF_TERMS_MAX; i++)
			g_string_append(big, " ?all");
		g_assert_cmpint(spf_record_parse(big->str, big->len, r, &why),
				==, 0);
		g_string_append(big, " -all");
		g_assert_cmpint(spf_record_parse(big->str, big->len, r, &why),
				==, -1);
		g_assert_cmpstr(why, ==, "too many terms");
		g_string_truncate(big, 6);
		while (big->len <= SPF_RECORD_MAX)
			g_string_append(big, " ip4:192.0.2.1");
		g_assert_cmpint(spf_record_parse(big->str, big->len, r, &why),
				==, -1);
		g_assert_cmpstr(why, ==, "record too long");
		g_string_free(big, TRUE);
	}
	g_free(r);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/spf/pending_equals_prefilled",
			test_pending_equals_prefilled);
	g_test_add_func("/spf/term_limit", test_term_limit);
	g_test_add_func("/spf/prefetch", test_prefetch);
	g_test_add_func("/spf/void_limit", test_void_limit);
	g_test_add_func("/spf/identities", test_identities);
	g_test_add_func("/spf/macro_examples", test_macro_examples);
	g_test_add_func("/spf/macro_ip6", test_macro_ip6);
	g_test_add_func("/spf/parser", test_parser);
	return g_test_run();
}
