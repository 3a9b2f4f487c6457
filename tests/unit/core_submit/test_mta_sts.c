/*
 * The MTA-STS parsers (RFC 8461 §3.1, §3.2), the MX match (§4.1) and
 * the TLS-RPT record parser (RFC 8460 §3): the RFCs' own examples, then
 * what each grammar refuses.
 */
#include <glib.h>
#include <string.h>

#include "submit/mta_sts.h"
#include "submit/tlsrpt.h"

static int policy(const char *text, struct rm_sts_policy *p)
{
	return rm_sts_policy_parse(text, strlen(text), p);
}

static void test_policy_rfc(void)
{
	/* RFC 8461 §3.2's example, with CRLF line ends */
	static const char ex[] = "version: STSv1\r\n"
				 "mode: enforce\r\n"
				 "mx: mail.example.com\r\n"
				 "mx: *.example.net\r\n"
				 "mx: backupmx.example.com\r\n"
				 "max_age: 604800\r\n";
	struct rm_sts_policy p;

	g_assert_cmpint(policy(ex, &p), ==, 0);
	g_assert_cmpint(p.mode, ==, RM_STS_ENFORCE);
	g_assert_cmpuint(p.max_age, ==, 604800);
	g_assert_cmpuint(p.nmx, ==, 3);
	g_assert_cmpstr(p.mx[0], ==, "mail.example.com");
	g_assert_cmpstr(p.mx[1], ==, "*.example.net");

	/* LF ends, any order, an unknown key, no final line end */
	g_assert_cmpint(policy("mx: MX.Example.COM\nmax_age:86400\n"
			       "future_key: some value\n"
			       "mode: testing\nversion: STSv1",
			       &p),
			==, 0);
	g_assert_cmpint(p.mode, ==, RM_STS_TESTING);
	g_assert_cmpstr(p.mx[0], ==, "mx.example.com");

	/* mode none needs no mx (§8.3, removing a policy) */
	g_assert_cmpint(
		policy("version: STSv1\nmode: none\nmax_age: 86400\n", &p), ==,
		0);
	g_assert_cmpint(p.mode, ==, RM_STS_NONE);
	g_assert_cmpuint(p.nmx, ==, 0);

	/* max_age over a year is cut to a year */
	g_assert_cmpint(policy("version: STSv1\nmode: enforce\nmx: a.test\n"
			       "max_age: 9999999999\n",
			       &p),
			==, 0);
	g_assert_cmpuint(p.max_age, ==, RM_STS_MAX_AGE_MAX);
}

static void test_policy_bad(void)
{
	static const char *const bad[] = {
		"",
		"version: STSv1\nmode: enforce\nmx: a.test\n", /* no max_age */
		"mode: enforce\nmx: a.test\nmax_age: 1\n",     /* no version */
		"version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1\n",
		"version: stsv1\nmode: enforce\nmx: a.test\nmax_age: 1\n",
		"version: STSv1\nmode: ENFORCE\nmx: a.test\nmax_age: 1\n",
		"version: STSv1\nmode: strict\nmx: a.test\nmax_age: 1\n",
		"version: STSv1\nmode: enforce\nmax_age: 1\n", /* no mx */
		"version: STSv1\nmode: testing\nmx: a.test\nmax_age: -1\n",
		"version: STSv1\nmode: testing\nmx: a.test\nmax_age: "
		"12345678901\n",
		"version: STSv1\nmode: testing\nmx: a.test\nmax_age: 1\n"
		"mode: enforce\n",
		"version: STSv1\nmode: testing\nmx: a..test\nmax_age: 1\n",
		"version: STSv1\nmode: testing\nmx: *.*.test\nmax_age: 1\n",
		"version: STSv1\nmode: testing\nmx: a_b.test\nmax_age: 1\n",
		"version: STSv1\nmode: testing\nmx: -a.test\nmax_age: 1\n",
		"version: STSv1\nmode: testing\nmx: *\nmax_age: 1\n",
		"version: STSv1\nmode: testing\nmx: a.test\nmax_age: 1\n"
		"garbage line\n",
		"<html>version: STSv1</html>\n",
	};
	struct rm_sts_policy p;

	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_test_message("case %zu: %s", i, bad[i]);
		g_assert_cmpint(policy(bad[i], &p), ==, -1);
	}
	/* a NUL byte inside */
	g_assert_cmpint(rm_sts_policy_parse("version: STSv1\0\nmode: none\n"
					    "max_age: 1\n",
					    34, &p),
			==, -1);
	/* the 64 KiB cap */
	{
		size_t n = RM_STS_BODY_MAX + 1;
		char *big = g_malloc(n);

		memset(big, '\n', n);
		memcpy(big, "version: STSv1\nmode: none\nmax_age: 1\n",
		       strlen("version: STSv1\nmode: none\nmax_age: 1\n"));
		g_assert_cmpint(rm_sts_policy_parse(big, n, &p), ==, -1);
		g_assert_cmpint(rm_sts_policy_parse(big, n - 1, &p), ==, 0);
		g_free(big);
	}
}

static void test_mx_match(void)
{
	struct rm_sts_policy p;

	g_assert_cmpint(policy("version: STSv1\nmode: enforce\n"
			       "mx: mail.example.com\nmx: *.example.net\n"
			       "max_age: 86400\n",
			       &p),
			==, 0);
	g_assert_true(rm_mta_sts_mx_match(&p, "mail.example.com"));
	g_assert_true(rm_mta_sts_mx_match(&p, "MAIL.example.COM."));
	g_assert_false(rm_mta_sts_mx_match(&p, "mail.example.com.evil.test"));
	g_assert_false(rm_mta_sts_mx_match(&p, "xmail.example.com"));
	/* §4.1: the wildcard is one leftmost label, and not the bare
	 * domain */
	g_assert_true(rm_mta_sts_mx_match(&p, "mx1.example.net"));
	g_assert_true(rm_mta_sts_mx_match(&p, "MX2.EXAMPLE.NET."));
	g_assert_false(rm_mta_sts_mx_match(&p, "example.net"));
	g_assert_false(rm_mta_sts_mx_match(&p, "a.b.example.net"));
	g_assert_false(rm_mta_sts_mx_match(&p, ".example.net"));
	g_assert_false(rm_mta_sts_mx_match(&p, "mx1.example.network"));
	g_assert_false(rm_mta_sts_mx_match(&p, ""));
	g_assert_false(rm_mta_sts_mx_match(NULL, "mx1.example.net"));
}

static void test_txt(void)
{
	char id[RM_STS_ID_MAX];

#define TXT(s) rm_sts_txt_parse(s, strlen(s), id)
	/* RFC 8461 §3.1's example */
	g_assert_cmpint(TXT("v=STSv1; id=20160831085700Z;"), ==, 0);
	g_assert_cmpstr(id, ==, "20160831085700Z");
	g_assert_cmpint(TXT("v=STSv1;id=abc"), ==, 0);
	g_assert_cmpstr(id, ==, "abc");
	g_assert_cmpint(TXT("v=STSv1; ext=val!ue; id=X1"), ==, 0);
	g_assert_cmpstr(id, ==, "X1");
	/* other records: skipped */
	g_assert_cmpint(TXT("v=spf1 -all"), ==, 1);
	g_assert_cmpint(TXT("v=STSv10; id=1"), ==, 1);
	g_assert_cmpint(TXT(""), ==, 1);
	/* STS records that are invalid */
	g_assert_cmpint(TXT("v=STSv1"), ==, -1);
	g_assert_cmpint(TXT("v=STSv1;"), ==, -1);
	g_assert_cmpint(TXT("v=STSv1; id="), ==, -1);
	g_assert_cmpint(TXT("v=STSv1; id=a-b"), ==, -1);
	g_assert_cmpint(TXT("v=STSv1; id=123456789012345678901234567890123"),
			==, -1);
	g_assert_cmpint(TXT("v=STSv1; id=1; id=2"), ==, -1);
	g_assert_cmpint(TXT("v=STSv1; id=1;;"), ==, -1);
	g_assert_cmpint(TXT("v=STSv1; id=1; bad"), ==, -1);
#undef TXT
	/* a NUL inside an extension name (RFC 8461 3.1: alphanumerics,
	 * "_", "-", ".") */
	{
		static const char nul[] = "v=STSv1; e\0x=1; id=X1";

		g_assert_cmpint(rm_sts_txt_parse(nul, sizeof(nul) - 1, id), ==,
				-1);
	}
}

static void test_tlsrpt_record(void)
{
	struct rm_tlsrpt_record r;

#define REC(s) rm_tlsrpt_record_parse(s, strlen(s), &r)
	/* RFC 8460 §3.1's examples */
	g_assert_cmpint(REC("v=TLSRPTv1;rua=mailto:reports@example.com"), ==,
			0);
	g_assert_cmpuint(r.nrua, ==, 1);
	g_assert_cmpstr(r.rua[0], ==, "mailto:reports@example.com");
	g_assert_cmpint(REC("v=TLSRPTv1; "
			    "rua=https://reporting.example.com/v1/tlsrpt"),
			==, 0);
	g_assert_cmpstr(r.rua[0], ==,
			"https://reporting.example.com/v1/tlsrpt");
	g_assert_cmpint(REC("v=TLSRPTv1; rua=mailto:a@x.test , "
			    "https://r.test/up; ext=1;"),
			==, 0);
	g_assert_cmpuint(r.nrua, ==, 2);
	g_assert_cmpstr(r.rua[1], ==, "https://r.test/up");
	/* percent-decoded; other schemes skipped */
	g_assert_cmpint(REC("v=TLSRPTv1; rua=ftp://x.test/,mailto:tls%2Brpt@"
			    "x.test"),
			==, 0);
	g_assert_cmpuint(r.nrua, ==, 1);
	g_assert_cmpstr(r.rua[0], ==, "mailto:tls+rpt@x.test");

	g_assert_cmpint(REC("v=spf1 -all"), ==, 1);
	g_assert_cmpint(REC("v=TLSRPTv10; rua=mailto:a@x.test"), ==, 1);
	g_assert_cmpint(REC("v=TLSRPTv1"), ==, -1);
	g_assert_cmpint(REC("v=TLSRPTv1; rua="), ==, -1);
	g_assert_cmpint(REC("v=TLSRPTv1; rua=ftp://x.test/"), ==, -1);
	g_assert_cmpint(REC("v=TLSRPTv1; rua=mailto:a@x.test,"), ==, -1);
	g_assert_cmpint(REC("v=TLSRPTv1; rua=mailto:a@x.test; rua=mailto:"
			    "b@x.test"),
			==, -1);
	/* addresses that would inject into a header or an envelope */
	g_assert_cmpint(REC("v=TLSRPTv1; rua=mailto:a%0D%0ABcc:b@x.test"), ==,
			-1);
	g_assert_cmpint(REC("v=TLSRPTv1; rua=mailto:a>@x.test"), ==, -1);
	g_assert_cmpint(REC("v=TLSRPTv1; rua=mailto:no-at"), ==, -1);
	g_assert_cmpint(REC("v=TLSRPTv1; rua=mailto:a@b@x.test"), ==, -1);
#undef REC
	g_assert_cmpstr(rm_tlsrpt_result_name(RM_TLSRPT_STS_FETCH_ERROR), ==,
			"sts-policy-fetch-error");
	g_assert_cmpint(rm_tlsrpt_result_of("certificate-host-mismatch"), ==,
			RM_TLSRPT_CERT_HOST_MISMATCH);
	g_assert_cmpint(rm_tlsrpt_policy_of("sts"), ==, RM_TLSRPT_STS);
	g_assert_cmpint(rm_tlsrpt_policy_of("bogus"), ==, -1);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/mta_sts/policy_rfc", test_policy_rfc);
	g_test_add_func("/mta_sts/policy_bad", test_policy_bad);
	g_test_add_func("/mta_sts/mx_match", test_mx_match);
	g_test_add_func("/mta_sts/txt", test_txt);
	g_test_add_func("/tlsrpt/record", test_tlsrpt_record);
	return g_test_run();
}
