/* rmail dmarc report --dry-run on a mail root holding one day of
 * DMARC records: what would be sent where, the !size limit, the
 * external-destination check, the XML; a day without records. */
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "mailauth/dmarc.h"
#include "mailauth/dmarc_report.h"

/* 2026-03-01 12:00:00 UTC */
#define T0 ((int64_t)1772366400)

static void record(const char *dir, const char *dom, const char *rec,
		   const char *ip)
{
	struct dmarc_auth a = {
		.spf_domain = dom, .spf_pass = true, .spf_result = "pass"};
	struct dmarc_verdict v = {
		.have_record = true, .result = DMARC_PASS, .spf_aligned = true};

	g_assert_cmpint(dmarc_record_parse(rec, strlen(rec), &v.rec), ==,
			DMARC_REC_OK);
	snprintf(v.from_domain, sizeof(v.from_domain), "%s", dom);
	snprintf(v.policy_domain, sizeof(v.policy_domain), "%s", dom);
	g_assert_cmpint(dmarc_report_record(dir, &v, &a, ip, T0), ==, 0);
}

static void test_dry_run(void)
{
	struct rmh *h = rmh_new();
	char *mail, *dir, *out = NULL, *err = NULL;

	rmh_write_config(h);
	mail = g_build_filename(rmh_dir(h), "mail", NULL);
	dir = g_build_filename(mail, "dmarc", NULL);
	g_assert_cmpint(g_mkdir_with_parents(mail, 0700), ==, 0);
	record(dir, "example.com",
	       "v=DMARC1; p=reject; rua=mailto:agg@example.com,"
	       "mailto:r@vendor.net!1k, mailto:tiny@example.com!1",
	       "192.0.2.1");
	record(dir, "example.com",
	       "v=DMARC1; p=reject; rua=mailto:agg@"
	       "example.com,mailto:r@vendor.net!1k, "
	       "mailto:tiny@example.com!1",
	       "192.0.2.1");

	g_assert_cmpint(rmh_run(h, &out, &err, "dmarc", "report", "--dry-run",
				"--day", "2026-03-01", "--xml", NULL),
			==, 0);
	g_test_message("%s%s", out, err);
	g_assert_nonnull(strstr(out, "example.com: 2 message(s) in 1 row(s), "
				     "report-id 2026-03-01.example.com\n"));
	g_assert_nonnull(strstr(out, "  file mail.example.test!example.com!"
				     "1772323200!1772409599.xml.gz"));
	g_assert_nonnull(strstr(out, "  to agg@example.com: would send\n"));
	g_assert_nonnull(strstr(out, "  to r@vendor.net (limit 1024 bytes): "
				     "would send once example.com._report."
				     "_dmarc.vendor.net TXT says v=DMARC1\n"));
	g_assert_nonnull(strstr(out, "  to tiny@example.com (limit 1 bytes): "
				     "too large, not sent\n"));
	g_assert_nonnull(strstr(out, "<count>2</count>"));
	g_assert_nonnull(strstr(out, "<org_name>mail.example.test</org_name>"));
	g_assert_nonnull(
		strstr(out, "<email>noreply-dmarc@mail.example.test</email>"));
	g_free(out);
	g_free(err);

	g_assert_cmpint(rmh_run(h, &out, &err, "dmarc", "report", "--dry-run",
				"--day", "2026-03-02", NULL),
			==, 0);
	g_assert_cmpstr(out, ==, "no DMARC records for 2026-03-02\n");
	g_free(out);
	g_free(err);
	g_assert_cmpint(rmh_run(h, &out, &err, "dmarc", "report", "--dry-run",
				"--day", "yesterday", NULL),
			==, 1);
	g_assert_nonnull(strstr(err, "expected YYYY-MM-DD"));
	g_free(out);
	g_free(err);
	g_free(dir);
	g_free(mail);
	rmh_free(h);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/cli/dmarc/dry_run", test_dry_run);
	return g_test_run();
}
