/*
 * Sending TLS-RPT aggregate reports (RFC 8460 §5): once a day, the
 * previous UTC day's report of each policy domain goes to the rua= of
 * its `_smtp._tls` TXT record: by mail (mailto:, §5.3: multipart/report
 * with report-type tlsrpt, DKIM-signed with the key of
 * tlsrpt.report_from's domain, the null return path) through the same
 * path as DMARC reports, or by HTTPS POST (https:, §5.4:
 * application/tlsrpt+gzip).
 *
 * Several daemons may share a mail root: the run holds an exclusive
 * flock(2) on {mail_root}/tlsrpt/send.lease, which also records the
 * last day sent (the DMARC sender's mechanism, docs/storage.md), so
 * each day goes out once whoever runs it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dns/dns.h"
#include "submit/https_client.h"
#include "submit/tlsrpt.h"
#include "submit/report_daily.h"
#include "submit_int.h"

#define TLSRPT_SEND_EVERY 3600.0
#define POST_TIMEOUT_MS 30000L

struct run {
	const struct rm_config *c;
	bool dry;
	FILE *out;
	int sent;
};

/* the domain's one valid `_smtp._tls` record: 0, or -1 (why set) */
static int record_of(const char *domain, struct rm_tlsrpt_record *rec,
		     const char **why)
{
	char name[300];
	struct ma_rrset rs;
	int n = 0, bad = 0;

	snprintf(name, sizeof(name), "_smtp._tls.%s", domain);
	(void)rm_dns_resolve_wait(name, MA_T_TXT, &rs);
	if (rs.rcode == MA_DNS_TEMP || rs.rcode == MA_DNS_PENDING) {
		rm_dns_rrset_clear(&rs);
		*why = "temporary DNS failure";
		return -1;
	}
	for (size_t i = 0; rs.rcode == MA_DNS_OK && i < rs.n; i++) {
		struct rm_tlsrpt_record one;
		int r = rm_tlsrpt_record_parse((const char *)rs.rr[i].data,
					       rs.rr[i].len, &one);

		if (r == 1)
			continue;
		n++;
		if (r < 0)
			bad++;
		else
			*rec = one;
	}
	rm_dns_rrset_clear(&rs);
	/* §3: several v=TLSRPTv1 records, or a bad one: no reporting */
	if (n != 1 || bad > 0) {
		*why = n == 0 ? "no _smtp._tls record"
			      : "not exactly one valid _smtp._tls record";
		return -1;
	}
	return 0;
}

static int send_mail(struct run *run, const struct rm_tlsrpt_report *r,
		     const char *to)
{
	const struct rm_config *c = run->c;
	char id[RM_QID_MAX], path[4096], date[64];
	FILE *f;
	int fd;

	rm_submit_new_id(id);
	f = rm_report_mail_open(id, path, sizeof(path), &fd);
	if (f == NULL) {
		rm_log(RMAIL_LOG_ERR, "tls report %s: %s", r->report_id,
		       strerror(errno));
		return 0;
	}
	rm_rfc5322_date((int64_t)time(NULL), date, sizeof(date));
	/* §5.3: the subject and the TLS-Report-* fields name the domain
	 * and the submitter; multipart/report with report-type tlsrpt */
	fprintf(f,
		"From: <%s>\r\n"
		"To: <%s>\r\n"
		"Subject: Report Domain: %s Submitter: %s Report-ID: <%s>\r\n"
		"TLS-Report-Domain: %s\r\n"
		"TLS-Report-Submitter: %s\r\n"
		"Date: %s\r\n"
		"Message-ID: <%s@%s>\r\n"
		"Auto-Submitted: auto-generated\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/report; report-type=\"tlsrpt\"; "
		"boundary=\"%s/%s\"\r\n\r\n"
		"--%s/%s\r\n"
		"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
		"TLS report for %s from %s: %llu successful and %llu failed "
		"session(s).\r\n"
		"\r\n--%s/%s\r\n"
		"Content-Type: application/tlsrpt+gzip\r\n"
		"Content-Disposition: attachment; filename=\"%s\"\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n",
		c->tlsrpt.report_from, to, r->domain, c->hostname, r->report_id,
		r->domain, c->hostname, date, id, c->hostname, id, c->hostname,
		id, c->hostname, r->domain, c->hostname,
		(unsigned long long)r->ok, (unsigned long long)r->failed, id,
		c->hostname, r->filename);
	rm_report_b64_lines(f, r->gz, r->gz_len);
	fprintf(f, "\r\n--%s/%s--\r\n", id, c->hostname);
	return rm_report_mail_send("tls report", r->report_id, id, f, fd, path,
				   to);
}

static int send_post(struct run *run, const struct rm_tlsrpt_report *r,
		     const char *url)
{
	const struct rm_config *c = run->c;
	struct rm_https_req rq = {0};
	struct rm_https_resp resp;
	char why[400];
	int ok;

	rq.url = url;
	rq.ca_file = c->mta_sts.ca_file;
	rq.connect_to = c->mta_sts.connect_to.v;
	rq.nconnect_to = c->mta_sts.connect_to.n;
	rq.body = r->gz;
	rq.body_len = r->gz_len;
	rq.content_type = "application/tlsrpt+gzip";
	rq.max_response = 65536;
	rq.timeout_ms = POST_TIMEOUT_MS;
	if (rm_https_request(&rq, &resp, why, sizeof(why)) < 0) {
		rm_log(RMAIL_LOG_WARN, "tls report %s to %s: %s", r->report_id,
		       url, why);
		return 0;
	}
	ok = resp.status >= 200 && resp.status < 300;
	rm_log(ok ? RMAIL_LOG_INFO : RMAIL_LOG_WARN,
	       "tls report %s to %s: HTTP %ld", r->report_id, url, resp.status);
	rm_https_resp_free(&resp);
	return ok;
}

static void per_report(void *arg, const struct rm_tlsrpt_report *r)
{
	struct run *run = arg;
	struct rm_tlsrpt_record rec;
	const char *why = NULL;

	if (record_of(r->domain, &rec, &why) < 0) {
		if (run->out != NULL)
			fprintf(run->out, "%s: %s\n", r->report_id, why);
		rm_log(RMAIL_LOG_DEBUG, "tls report %s: %s", r->report_id, why);
		return;
	}
	for (size_t i = 0; i < rec.nrua; i++) {
		const char *u = rec.rua[i];

		if (run->out != NULL)
			fprintf(run->out, "%s to %s: %s\n", r->report_id, u,
				run->dry ? "would send" : "sending");
		if (run->dry)
			continue;
		if (strncasecmp(u, "mailto:", 7) == 0)
			run->sent += send_mail(run, r, u + 7);
		else
			run->sent += send_post(run, r, u);
	}
}

static int build_day(const char *dir, const char *day, void *arg)
{
	struct run *run = arg;
	const struct rm_config *c = run->c;
	char sts[4096];
	struct rm_tlsrpt_meta m = {.org_name = c->tlsrpt.org_name,
				   .contact = c->tlsrpt.contact,
				   .submitter = c->hostname,
				   .sts_dir = sts};

	snprintf(sts, sizeof(sts), "%s/mta-sts", c->mail_root);
	return rm_tlsrpt_build_day(dir, day, &m, per_report, run);
}

static void prune(const char *dir)
{
	(void)rm_tlsrpt_prune(dir, (int64_t)time(NULL), RM_TLSRPT_KEEP_DAYS);
}

int rm_tlsrpt_send(const char *day, bool dry, FILE *out)
{
	const struct rm_config *c = rm_conf();
	struct run run = {.c = c, .dry = dry, .out = out};
	struct rm_report_day rd = {"tlsrpt", build_day, prune, &run};

	if (rm_report_day_run(&rd, c, day, dry, out) < 0)
		return -1;
	return run.sent;
}

/* ---- the daily job ------------------------------------------------- */

static bool enabled(const struct rm_config *c)
{
	return c->tlsrpt.reports;
}

void rm_tlsrpt_send_start(void)
{
	static struct rm_report_job j = {.cmd = "tlsrpt send",
					 .send = rm_tlsrpt_send,
					 .enabled = enabled,
					 .first = 1.5,
					 .every = TLSRPT_SEND_EVERY};

	rm_report_job_start(&j);
}
