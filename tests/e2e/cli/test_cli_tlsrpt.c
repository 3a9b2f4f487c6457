/* The transport-security commands of the real build/rmail:
 * `rmail dns DOMAIN` prints an MTA-STS policy file, `_mta-sts` and
 * `_smtp._tls` records that rmail's own parsers accept, and one TLSA
 * 3 1 1 record per certificate equal to what the openssl command
 * computes; `rmail tlsrpt report --dry-run --json` turns a day of
 * recorded TLS results into an RFC 8460 report that python3's json
 * module reads with the expected counts. */
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "submit/mta_sts.h"
#include "submit/tlsrpt.h"

/* 2026-03-01 12:00:00 UTC */
#define T0 ((int64_t)1772366400)

/* the value of the first TXT line of name in out */
static char *txt_of(const char *out, const char *name)
{
	const char *p = strstr(out, name), *q, *e;

	g_assert_nonnull(p);
	q = strchr(p, '"');
	g_assert_nonnull(q);
	e = strchr(q + 1, '"');
	g_assert_nonnull(e);
	return g_strndup(q + 1, (gsize)(e - q - 1));
}

static char *spki_sha256(const char *cert)
{
	char *cmd = g_strdup_printf(
		"openssl x509 -in '%s' -pubkey -noout | openssl pkey -pubin "
		"-outform DER | openssl dgst -sha256 -r",
		cert);
	char *argv[] = {"sh", "-c", cmd, NULL}, *out = NULL;

	g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
				   NULL, &out, NULL, NULL, NULL));
	g_assert_cmpuint(strlen(out), >=, 64);
	out[64] = '\0';
	g_free(cmd);
	return out;
}

static void test_dns(void)
{
	struct rmh *h = rmh_new();
	char *c1 = rmh_source_path("tests/certs/cert.pem");
	char *k1 = rmh_source_path("tests/certs/key.pem");
	char *c2 = rmh_source_path("tests/certs/cert2.pem");
	char *k2 = rmh_source_path("tests/certs/key2.pem");
	char *out = NULL, *err = NULL, *out2 = NULL, *v, *d1, *d2;
	GString *pol = g_string_new("");
	struct rm_sts_policy p;
	struct rm_tlsrpt_record rec;
	char id[RM_STS_ID_MAX], id2[RM_STS_ID_MAX], **lines;

	rmh_setf(h, "tls",
		 "{\"cert_file\": \"%s\", \"key_file\": \"%s\", "
		 "\"cert2_file\": \"%s\", \"key2_file\": \"%s\"}",
		 c1, k1, c2, k2);
	rmh_write_config(h);
	g_assert_cmpint(rmh_run(h, &out, &err, "dns", "example.test",
				"--mta-sts-mode", "enforce", NULL),
			==, 0);
	g_test_message("%s%s", out, err);

	/* the policy file, from its "; | " lines */
	lines = g_strsplit(out, "\n", -1);
	for (char **a = lines; *a != NULL; a++)
		if (g_str_has_prefix(*a, ";   | "))
			g_string_append_printf(pol, "%s\n", *a + 6);
	g_strfreev(lines);
	g_assert_cmpint(rm_sts_policy_parse(pol->str, pol->len, &p), ==, 0);
	g_assert_cmpint(p.mode, ==, RM_STS_ENFORCE);
	g_assert_true(rm_mta_sts_mx_match(&p, "mail.example.test"));
	g_assert_nonnull(strstr(out, "https://mta-sts.example.test/.well-known/"
				     "mta-sts.txt"));

	v = txt_of(out, "_mta-sts.example.test.");
	g_assert_cmpint(rm_sts_txt_parse(v, strlen(v), id), ==, 0);
	g_free(v);
	v = txt_of(out, "_smtp._tls.example.test.");
	g_assert_cmpint(rm_tlsrpt_record_parse(v, strlen(v), &rec), ==, 0);
	g_assert_cmpstr(rec.rua[0], ==, "mailto:tlsrpt-reports@example.test");
	g_free(v);

	/* one TLSA 3 1 1 per certificate, the SHA-256 of its public key */
	d1 = spki_sha256(c1);
	d2 = spki_sha256(c2);
	g_assert_nonnull(strstr(out, d1));
	g_assert_nonnull(strstr(out, d2));
	g_assert_cmpstr(d1, !=, d2);
	g_assert_nonnull(strstr(out, "_25._tcp.mail.example.test."));
	g_assert_nonnull(strstr(out, "IN TLSA  3 1 1 "));

	/* the id follows the policy: the same again, another for testing */
	g_free(err);
	g_assert_cmpint(rmh_run(h, &out2, &err, "dns", "example.test",
				"--mta-sts-mode", "enforce", NULL),
			==, 0);
	g_assert_cmpstr(out, ==, out2);
	g_free(out2);
	g_free(err);
	g_assert_cmpint(rmh_run(h, &out2, &err, "dns", "example.test",
				"--tlsrpt-rua", "tls@reports.test", NULL),
			==, 0);
	v = txt_of(out2, "_mta-sts.example.test.");
	g_assert_cmpint(rm_sts_txt_parse(v, strlen(v), id2), ==, 0);
	g_assert_cmpstr(id, !=, id2);
	g_assert_nonnull(strstr(out2, "mode: testing"));
	g_assert_nonnull(strstr(out2, "rua=mailto:tls@reports.test\""));
	g_free(v);

	g_string_free(pol, TRUE);
	g_free(out);
	g_free(out2);
	g_free(err);
	g_free(d1);
	g_free(d2);
	g_free(c1);
	g_free(k1);
	g_free(c2);
	g_free(k2);
	rmh_free(h);
}

static void test_report_dry_run(void)
{
	struct rmh *h = rmh_new();
	char *mail, *dir, *out = NULL, *err = NULL, *json, *script, *pyout;
	char *argv[] = {"python3", "-c", NULL, NULL};
	const char *j;

	rmh_write_config(h);
	mail = g_build_filename(rmh_dir(h), "mail", NULL);
	dir = g_build_filename(mail, "tlsrpt", NULL);
	g_assert_cmpint(g_mkdir_with_parents(mail, 0700), ==, 0);
	for (int i = 0; i < 3; i++)
		g_assert_cmpint(rm_tlsrpt_record(dir, T0 + i, "example.com",
						 RM_TLSRPT_STS,
						 "mx1.example.com", "192.0.2.1",
						 RM_TLSRPT_SUCCESS, NULL),
				==, 0);
	for (int i = 0; i < 2; i++)
		g_assert_cmpint(rm_tlsrpt_record(dir, T0, "example.com",
						 RM_TLSRPT_STS,
						 "mx2.example.com", "192.0.2.2",
						 RM_TLSRPT_CERT_HOST_MISMATCH,
						 "name mismatch"),
				==, 0);
	g_assert_cmpint(
		rm_tlsrpt_record(dir, T0, "other.test", RM_TLSRPT_NO_POLICY,
				 "mx.other.test", "192.0.2.3",
				 RM_TLSRPT_STARTTLS_NOT_SUPPORTED, NULL),
		==, 0);
	/* another day's line and a torn one are not counted */
	g_assert_cmpint(rm_tlsrpt_record(dir, T0 + 86400, "example.com",
					 RM_TLSRPT_STS, "mx1.example.com", "",
					 RM_TLSRPT_SUCCESS, NULL),
			==, 0);
	{
		char *f = g_build_filename(dir, "2026-03-01.jsonl", NULL);
		FILE *fp = fopen(f, "a");

		g_assert_nonnull(fp);
		fputs("{\"t\": 1, \"d\": \"exa", fp);
		fclose(fp);
		g_free(f);
	}

	g_assert_cmpint(rmh_run(h, &out, &err, "tlsrpt", "report", "--dry-run",
				"--day", "2026-03-01", "--json", NULL),
			==, 0);
	g_test_message("%s%s", out, err);
	g_assert_nonnull(strstr(out,
				"example.com: 3 successful, 2 failed "
				"session(s), report-id "
				"2026-03-01.example.com@mail.example.test"));
	g_assert_nonnull(strstr(out, "  file mail.example.test!example.com!"
				     "1772323200!1772409599.json.gz"));
	g_assert_nonnull(strstr(out, "other.test: 0 successful, 1 failed"));
	j = strstr(out, "\n{\"organization-name\"");
	g_assert_nonnull(j);
	json = g_strndup(j + 1, (gsize)(strchr(j + 1, '\n') - j - 1));
	script = g_strdup_printf(
		"import json,sys\n"
		"r = json.loads(sys.argv[1])\n"
		"assert r['date-range']['start-datetime'] == "
		"'2026-03-01T00:00:00Z', r\n"
		"assert r['date-range']['end-datetime'] == "
		"'2026-03-01T23:59:59Z', r\n"
		"assert r['contact-info'] == "
		"'noreply-tlsrpt@mail.example.test'\n"
		"p = r['policies'][0]\n"
		"assert p['policy']['policy-type'] == 'sts'\n"
		"assert p['policy']['policy-domain'] == 'example.com'\n"
		"assert p['summary'] == {'total-successful-session-count': 3,"
		" 'total-failure-session-count': 2}, p\n"
		"f = p['failure-details'][0]\n"
		"assert f['result-type'] == 'certificate-host-mismatch'\n"
		"assert f['receiving-mx-hostname'] == 'mx2.example.com'\n"
		"assert f['receiving-ip'] == '192.0.2.2'\n"
		"assert f['failed-session-count'] == 2\n"
		"assert f['failure-reason-code'] == 'name mismatch'\n"
		"print('ok')\n");
	argv[2] = script;
	{
		char *args[] = {argv[0], argv[1], argv[2], json, NULL};
		char *pyerr = NULL;
		int st = -1;

		g_assert_true(g_spawn_sync(NULL, args, NULL,
					   G_SPAWN_SEARCH_PATH, NULL, NULL,
					   &pyout, &pyerr, &st, NULL));
		g_test_message("python3: %s%s", pyout, pyerr);
		g_assert_cmpstr(pyout, ==, "ok\n");
		g_free(pyerr);
	}

	g_free(out);
	g_free(err);
	g_assert_cmpint(rmh_run(h, &out, &err, "tlsrpt", "report", "--dry-run",
				"--day", "2026-02-28", NULL),
			==, 0);
	g_assert_nonnull(strstr(out, "no TLS results recorded for 2026-02-28"));
	g_free(out);
	g_free(err);
	g_free(pyout);
	g_free(script);
	g_free(json);
	g_free(dir);
	g_free(mail);
	rmh_free(h);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/cli/dns_transport", test_dns);
	g_test_add_func("/cli/tlsrpt_report_dry_run", test_report_dry_run);
	return g_test_run();
}
