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
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dns/dns.h"
#include "mailauth/dmarc_report.h"
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

int rm_dmarc_send(const char *day, bool dry, FILE *out)
{
	const struct rm_config *c = rm_conf();
	struct dmarc_report_meta m;
	struct run run = {.c = c, .dry = dry, .out = out};
	char dir[4096], path[4200], last[16] = "", yday[11];
	int lease, rc = 0;
	ssize_t n;

	if (c == NULL || c->mail_root == NULL)
		return -1;
	if (day == NULL) {
		dmarc_report_day((int64_t)time(NULL) - 86400, yday);
		day = yday;
	}
	snprintf(dir, sizeof(dir), "%s/dmarc", c->mail_root);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	snprintf(path, sizeof(path), "%s/send.lease", dir);
	lease = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lease < 0)
		return -1;
	if (flock(lease, LOCK_EX | LOCK_NB) < 0) {
		/* another process of this mail root is sending */
		close(lease);
		return 0;
	}
	n = pread(lease, last, sizeof(last) - 1, 0);
	last[n > 0 ? n : 0] = '\0';
	if (!dry && strncmp(last, day, 10) >= 0 && last[0] != '\0') {
		if (out != NULL)
			fprintf(out, "%s: already sent\n", day);
		goto done;
	}
	m = (struct dmarc_report_meta){.org_name = c->dmarc.org_name,
				       .email = c->dmarc.report_from,
				       .contact = c->dmarc.contact};
	if (dmarc_report_build_day(dir, day, &m, c->hostname, per_report,
				   &run) < 0 &&
	    errno != ENOENT) {
		rc = -1;
		goto done;
	}
	if (!dry) {
		/* the day is done even when some rua refused: retrying
		 * tomorrow would send the others twice */
		if (pwrite(lease, day, 10, 0) != 10 ||
		    ftruncate(lease, 10) < 0 || fsync(lease) < 0)
			rm_log(RMAIL_LOG_ERR, "dmarc: %s: %s", path,
			       strerror(errno));
		(void)dmarc_report_prune(dir, (int64_t)time(NULL),
					 DMARC_REPORT_KEEP_DAYS);
	}
	rc = run.sent;
done:
	close(lease);
	return rc;
}

/* ---- the daily job ------------------------------------------------- */

static struct rmail_timer *tick;
static bool busy;

static void job(void *arg, const volatile int *cancel)
{
	(void)cancel;
	(void)rm_dmarc_send(arg, false, NULL);
}

static void job_done(void *arg, int cancelled)
{
	(void)cancelled;
	free(arg);
	busy = false;
}

/* day NULL: yesterday; false when a run is going on already */
static bool run_now(const char *day)
{
	if (busy)
		return false;
	busy = true;
	/* blocking DNS and delivery: the outbound pool, never the loop */
	rm_work_submit(RM_WORK_DELIVER, job, job_done,
		       day != NULL ? rm_xstrdup(day) : NULL);
	return true;
}

static void tick_cb(void *arg)
{
	const struct rm_config *c = rm_conf();

	(void)arg;
	if (c != NULL && c->dmarc.reports)
		(void)run_now(NULL);
}

/* "dmarc send [DAY]" (rmail dmarc report --send) */
static int ctl_send(void *arg, int argc, const char *const *argv, char *out,
		    size_t outsz)
{
	const char *day = argc > 2 ? argv[2] : NULL;

	(void)arg;
	if (day != NULL && (strlen(day) != 10 || day[4] != '-')) {
		snprintf(out, outsz, "expected YYYY-MM-DD");
		return -1;
	}
	snprintf(out, outsz, "%s",
		 run_now(day) ? "report run scheduled"
			      : "a report run is going on already");
	return 0;
}

void rm_dmarc_send_start(void)
{
	if (rm_control_register(NULL, "dmarc send", ctl_send, NULL) < 0)
		rm_log(RMAIL_LOG_DEBUG, "dmarc send: already registered");
	if (tick == NULL)
		tick = rm_timer_add(1.0, DMARC_SEND_EVERY, tick_cb, NULL);
}
