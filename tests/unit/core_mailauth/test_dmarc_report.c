/* DMARC aggregate reports: recording, one report per policy domain
 * and day with identical rows counted, XML escaping, gzip, pruning
 * after 31 days, external rua= verification through the cache. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <zlib.h>

#include "mailauth/dmarc.h"
#include "mailauth/dmarc_report.h"

#define PSL_FILE RMAIL_SRC "/tests/unit/core_mailauth/data/psl.dat"
/* 2026-03-01 12:00:00 UTC */
#define T0 ((int64_t)1772366400)

static void verdict(struct dmarc_verdict *v, const char *pd, const char *rec)
{
	memset(v, 0, sizeof(*v));
	g_assert_cmpint(dmarc_record_parse(rec, strlen(rec), &v->rec), ==,
			DMARC_REC_OK);
	v->have_record = true;
	v->result = DMARC_FAIL;
	v->disposition = v->rec.p;
	snprintf(v->from_domain, sizeof(v->from_domain), "%s", pd);
	snprintf(v->policy_domain, sizeof(v->policy_domain), "%s", pd);
}

static void collect(void *arg, const struct dmarc_report *r)
{
	GPtrArray *a = arg;
	z_stream z = {0};
	char out[65536];

	/* the gzip is the XML */
	g_assert_cmpint(inflateInit2(&z, 15 + 16), ==, Z_OK);
	z.next_in = r->gz;
	z.avail_in = (uInt)r->gz_len;
	z.next_out = (Bytef *)out;
	z.avail_out = sizeof(out);
	g_assert_cmpint(inflate(&z, Z_FINISH), ==, Z_STREAM_END);
	g_assert_cmpuint(z.total_out, ==, r->xml_len);
	g_assert_cmpint(memcmp(out, r->xml, r->xml_len), ==, 0);
	inflateEnd(&z);
	g_ptr_array_add(a, g_strdup_printf("%s|%zu|%llu|%s|%s", r->domain,
					   r->nrows,
					   (unsigned long long)r->messages,
					   r->filename, r->xml));
}

static void test_record_build(void)
{
	char *dir = g_dir_make_tmp("dmarcrep-XXXXXX", NULL);
	char *sub = g_build_filename(dir, "dmarc", NULL);
	struct dmarc_dkim_in sig = {
		.d = "example.com", .s = "s1", .result = "fail"};
	struct dmarc_auth a = {.spf_domain = "<evil>&.example",
			       .spf_result = "softfail",
			       .ndkim = 1,
			       .dkim = &sig};
	struct dmarc_report_meta m = {.org_name = "rmail test",
				      .email = "noreply-dmarc@mx.test"};
	struct dmarc_verdict v;
	GPtrArray *got = g_ptr_array_new_with_free_func(g_free);
	char day[11];
	const char *x;

	verdict(&v, "example.com",
		"v=DMARC1; p=quarantine; rua=mailto:agg@example.com!10k");
	g_assert_cmpint(dmarc_report_record(sub, &v, &a, "192.0.2.1", T0), ==,
			0);
	g_assert_cmpint(dmarc_report_record(sub, &v, &a, "192.0.2.1", T0 + 60),
			==, 0);
	g_assert_cmpint(dmarc_report_record(sub, &v, &a, "192.0.2.2", T0 + 90),
			==, 0);
	verdict(&v, "other.example", "v=DMARC1; p=reject; rua=mailto:r@x.net");
	v.override = DMARC_OV_SAMPLED_OUT;
	v.disposition = DMARC_P_QUARANTINE;
	g_assert_cmpint(dmarc_report_record(sub, &v, &a, "2001:db8::1", T0), ==,
			0);
	/* no rua=: nothing recorded */
	verdict(&v, "quiet.example", "v=DMARC1; p=reject");
	g_assert_cmpint(dmarc_report_record(sub, &v, &a, "192.0.2.9", T0), ==,
			0);
	/* the next day goes to the next file */
	verdict(&v, "example.com",
		"v=DMARC1; p=none; rua=mailto:a@example.com");
	g_assert_cmpint(
		dmarc_report_record(sub, &v, &a, "192.0.2.1", T0 + 86400), ==,
		0);

	dmarc_report_day(T0, day);
	g_assert_cmpstr(day, ==, "2026-03-01");
	g_assert_cmpint(
		dmarc_report_build_day(sub, day, &m, "mx.test", collect, got),
		==, 0);
	g_assert_cmpuint(got->len, ==, 2);
	x = got->pdata[0];
	g_assert_true(g_str_has_prefix(
		x, "example.com|2|3|mx.test!example.com!1772323200!1772409599"
		   ".xml.gz|<?xml"));
	g_assert_nonnull(strstr(x, "<source_ip>192.0.2.1</source_ip>\n"
				   "      <count>2</count>"));
	g_assert_nonnull(strstr(x, "<source_ip>192.0.2.2</source_ip>\n"
				   "      <count>1</count>"));
	g_assert_nonnull(strstr(x, "<p>quarantine</p><sp>quarantine</sp>"
				   "<pct>100</pct>"));
	g_assert_nonnull(strstr(x, "<org_name>rmail test</org_name>"));
	/* DNS and mail text is escaped */
	g_assert_nonnull(
		strstr(x, "<spf><domain>&lt;evil&gt;&amp;.example</domain>"
			  "<scope>mfrom</scope><result>softfail</result>"));
	g_assert_nonnull(strstr(x, "<dkim><domain>example.com</domain>"
				   "<selector>s1</selector><result>fail"
				   "</result></dkim>"));
	g_assert_null(strstr(x, "<evil>"));
	x = got->pdata[1];
	g_assert_true(g_str_has_prefix(x, "other.example|1|1|"));
	g_assert_nonnull(strstr(x, "<disposition>quarantine</disposition>"
				   "<dkim>fail</dkim><spf>fail</spf><reason>"
				   "<type>sampled_out</type></reason>"));
	g_assert_nonnull(strstr(x, "<source_ip>2001:db8::1</source_ip>"));

	/* 31 days are kept, then the day goes */
	g_assert_cmpint(dmarc_report_prune(sub, T0 + 31 * 86400, 31), ==, 0);
	g_assert_cmpint(dmarc_report_prune(sub, T0 + 32 * 86400, 31), ==, 1);
	g_assert_cmpint(
		dmarc_report_build_day(sub, day, &m, "mx.test", collect, got),
		==, -1);
	g_assert_cmpint(dmarc_report_build_day(sub, "../../etc/x", &m,
					       "mx.test", collect, got),
			==, -1);
	g_ptr_array_free(got, TRUE);
	g_assert_cmpint(dmarc_report_prune(sub, T0 + 40 * 86400, 31), ==, 1);
	g_rmdir(sub);
	g_rmdir(dir);
	g_free(sub);
	g_free(dir);
}

static void test_rua_allowed(void)
{
	struct ma_dns_cache *c = ma_dns_cache_new(16);
	char ok_txt[] = "v=DMARC1";
	struct ma_rr rr = {.data = (unsigned char *)ok_txt,
			   .len = strlen(ok_txt)};
	struct ma_rrset yes = {.rcode = MA_DNS_OK, .n = 1, .rr = &rr};
	struct ma_rrset nx = {.rcode = MA_DNS_NXDOMAIN};
	bool ok;

	/* the same organizational domain: no look-up */
	g_assert_cmpint(dmarc_rua_allowed(c, "mail.example.com",
					  "agg@reports.example.com", &ok),
			==, MA_DONE);
	g_assert_true(ok);
	g_assert_cmpint(
		dmarc_rua_allowed(c, "example.com", "r@vendor.example", &ok),
		==, MA_PENDING);
	g_assert_cmpint(ma_dns_put(c,
				   "example.com._report._dmarc.vendor."
				   "example",
				   MA_T_TXT, &yes),
			==, 0);
	g_assert_cmpint(
		dmarc_rua_allowed(c, "example.com", "r@vendor.example", &ok),
		==, MA_DONE);
	g_assert_true(ok);
	g_assert_cmpint(ma_dns_put(c, "other.com._report._dmarc.vendor.example",
				   MA_T_TXT, &nx),
			==, 0);
	g_assert_cmpint(
		dmarc_rua_allowed(c, "other.com", "r@vendor.example", &ok), ==,
		MA_DONE);
	g_assert_false(ok);
	ma_dns_cache_free(c);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_assert_cmpint(dmarc_psl_load(PSL_FILE), ==, 0);
	g_test_add_func("/dmarc_report/record_build", test_record_build);
	g_test_add_func("/dmarc_report/rua_allowed", test_rua_allowed);
	int rc = g_test_run();
	dmarc_psl_free();
	return rc;
}
