/*
 * Sending DMARC aggregate reports (RFC 7489 §7.2): once a day, the
 * previous UTC day's reports (dmarc_report_build_day) go to their rua=
 * addresses through the same delivery path as bounces: queued or
 * stored locally, DKIM-signed with the key of dmarc.report_from's
 * domain (the hostname's by default), with the null return path so a
 * report never bounces.
 *
 * Several daemons may share a mail root: the run holds an exclusive
 * flock(2) on {mail_root}/dmarc/send.lease (the store's sweep.lease
 * mechanism, docs/storage.md) and records the last day sent in
 * {mail_root}/dmarc/sent, so each day goes out once whoever runs it.
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
#include "mailauth/dmarc_report.h"
#include "submit/report_daily.h"
#include "submit_int.h"

/* a check each hour: the first one after midnight UTC sends */
#define DMARC_SEND_EVERY 3600.0

struct run {
	const struct rm_config *c;
	bool dry;
	FILE *out;
	int sent;
};

static void wanted(void *arg, const char *name, int type)
{
	struct ma_dns_cache *c = arg;
	struct ma_rrset rs;

	(void)rm_dns_resolve_wait(name, type, &rs);
	(void)ma_dns_put(c, name, type, &rs);
	rm_dns_rrset_clear(&rs);
}

/* the external-destination check (RFC 7489 §7.1) [worker] */
static bool allowed(const char *domain, const char *addr)
{
	struct ma_dns_cache *c = ma_dns_cache_new(16);
	bool ok = false;
	int i = 0;

	while (dmarc_rua_allowed(c, domain, addr, &ok) == MA_PENDING && ++i < 8)
		if (ma_dns_take_wanted(c, wanted, c) == 0)
			break;
	ma_dns_cache_free(c);
	return ok;
}

static void send_one(struct run *run, const struct dmarc_report *r,
		     const char *to)
{
	const struct rm_config *c = run->c;
	const char *from = c->dmarc.report_from;
	char id[RM_QID_MAX], path[4096], date[64];
	FILE *f;
	int fd;

	rm_submit_new_id(id);
	f = rm_report_mail_open(id, path, sizeof(path), &fd);
	if (f == NULL) {
		rm_log(RMAIL_LOG_ERR, "dmarc report %s: %s", r->report_id,
		       strerror(errno));
		return;
	}
	rm_rfc5322_date((int64_t)time(NULL), date, sizeof(date));
	/* RFC 7489 §7.2.1.1: the subject names the domain, the submitter
	 * and the report id; Auto-Submitted keeps auto-responders off */
	fprintf(f,
		"From: <%s>\r\n"
		"To: <%s>\r\n"
		"Subject: Report Domain: %s Submitter: %s Report-ID: <%s>\r\n"
		"Date: %s\r\n"
		"Message-ID: <%s@%s>\r\n"
		"Auto-Submitted: auto-generated\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"%s/%s\"\r\n\r\n"
		"--%s/%s\r\n"
		"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
		"DMARC aggregate report for %s from %s (%llu message(s)).\r\n"
		"\r\n--%s/%s\r\n"
		"Content-Type: application/gzip; name=\"%s\"\r\n"
		"Content-Disposition: attachment; filename=\"%s\"\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n",
		from, to, r->domain, c->hostname, r->report_id, date, id,
		c->hostname, id, c->hostname, id, c->hostname, r->domain,
		c->hostname, (unsigned long long)r->messages, id, c->hostname,
		r->filename, r->filename);
	rm_report_b64_lines(f, r->gz, r->gz_len);
	fprintf(f, "\r\n--%s/%s--\r\n", id, c->hostname);
	run->sent += rm_report_mail_send("dmarc report", r->report_id, id, f,
					 fd, path, to);
}

static void per_report(void *arg, const struct dmarc_report *r)
{
	struct run *run = arg;

	for (size_t i = 0; i < r->policy.nrua; i++) {
		const struct dmarc_uri *u = &r->policy.rua[i];
		const char *why = NULL;

		if (u->max_size > 0 && r->gz_len > u->max_size)
			why = "too large";
		else if (!allowed(r->domain, u->addr))
			why = "not authorised by its domain";
		if (run->out != NULL)
			fprintf(run->out, "%s to %s: %s\n", r->report_id,
				u->addr,
				why	   ? why
				: run->dry ? "would send"
					   : "sent");
		if (why != NULL)
			rm_log(RMAIL_LOG_INFO, "dmarc report %s to %s: %s",
			       r->report_id, u->addr, why);
		else if (!run->dry)
			send_one(run, r, u->addr);
	}
}

static int build_day(const char *dir, const char *day, void *arg)
{
	struct run *run = arg;
	const struct rm_config *c = run->c;
	struct dmarc_report_meta m = {.org_name = c->dmarc.org_name,
				      .email = c->dmarc.report_from,
				      .contact = c->dmarc.contact};

	return dmarc_report_build_day(dir, day, &m, c->hostname, per_report,
				      run);
}

static void prune(const char *dir)
{
	(void)dmarc_report_prune(dir, (int64_t)time(NULL),
				 DMARC_REPORT_KEEP_DAYS);
}

int rm_dmarc_send(const char *day, bool dry, FILE *out)
{
	const struct rm_config *c = rm_conf();
	struct run run = {.c = c, .dry = dry, .out = out};
	struct rm_report_day rd = {"dmarc", build_day, prune, &run};

	if (rm_report_day_run(&rd, c, day, dry, out) < 0)
		return -1;
	return run.sent;
}

/* ---- the daily job ------------------------------------------------- */

static bool enabled(const struct rm_config *c)
{
	return c->dmarc.reports;
}

void rm_dmarc_send_start(void)
{
	static struct rm_report_job j = {.cmd = "dmarc send",
					 .send = rm_dmarc_send,
					 .enabled = enabled,
					 .first = 1.0,
					 .every = DMARC_SEND_EVERY};

	rm_report_job_start(&j);
}
