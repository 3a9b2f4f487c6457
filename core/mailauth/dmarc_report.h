/*
 * DMARC aggregate reports (RFC 7489 §7.2): the evaluations are
 * recorded, one JSON line each, in a core-owned subtree of the mail
 * root (docs/storage.md):
 *
 *     {mail_root}/dmarc/{YYYY-MM-DD}.jsonl     (UTC day, append-only)
 *
 * and turned into one report per policy domain and day: the §7.2 XML,
 * gzip'd, for the rua= addresses of the record that asked for it.
 * Sending (through the queue, signed, from dmarc.report_from, with a
 * daily timer under a store lease) is the caller's.
 */
#ifndef RM_MA_DMARC_REPORT_H
#define RM_MA_DMARC_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "mailauth/dmarc.h"

/* days of data kept */
#define DMARC_REPORT_KEEP_DAYS 31

/* Append one evaluation to dir/{day}.jsonl (dir is created), when the
 * record asked for aggregate reports (rua=).  One write(2) per line on
 * an O_APPEND descriptor: lines of concurrent processes never mix.
 * 0 (also when nothing needs recording), -1 with errno. */
int dmarc_report_record(const char *dir, const struct dmarc_verdict *v,
			const struct dmarc_auth *a, const char *source_ip,
			int64_t now);

/* Remove day files older than keep_days before `now`.  Returns the
 * number removed. */
int dmarc_report_prune(const char *dir, int64_t now, int keep_days);

/* "YYYY-MM-DD" of the UTC day holding t */
void dmarc_report_day(int64_t t, char out[11]);

struct dmarc_report_meta {
	const char *org_name;
	const char *email;   /* the reports' sender */
	const char *contact; /* NULL: none */
};

struct dmarc_report {
	const char *domain; /* the policy domain */
	char report_id[64]; /* "{day}.{domain}" with a counter: stable */
	int64_t begin, end; /* the day's range, UTC seconds */
	char filename[600]; /* "{receiver}!{domain}!{begin}!{end}.xml.gz" */
	char *xml;
	size_t xml_len;
	unsigned char *gz;
	size_t gz_len;
	size_t nrows; /* distinct rows; messages in `messages` */
	uint64_t messages;
	struct dmarc_record policy; /* the latest one seen that day */
};

/* Build the reports of one day: fn is called once per policy domain
 * (the report and its buffers are freed after fn returns).  Lines that
 * do not parse are skipped.  0, or -1 when the file cannot be read
 * (errno; ENOENT: no mail that day). */
int dmarc_report_build_day(const char *dir, const char *day,
			   const struct dmarc_report_meta *m,
			   const char *receiver,
			   void (*fn)(void *arg, const struct dmarc_report *r),
			   void *arg);

/* gzip (RFC 1952) of in, malloc'd; 0 or -1 */
int dmarc_gzip(const void *in, size_t n, unsigned char **out, size_t *out_len);

/* May reports for policy_domain go to rua_addr?  Yes when both share an
 * organizational domain; else only when the address's domain publishes
 * `{policy_domain}._report._dmarc.{rua domain}` TXT "v=DMARC1..."
 * (§7.1).  MA_PENDING until the cache has the answer; MA_DONE with
 * *ok.  A temporary error is a no (try tomorrow). */
int dmarc_rua_allowed(struct ma_dns_cache *c, const char *policy_domain,
		      const char *rua_addr, bool *ok);

#endif
