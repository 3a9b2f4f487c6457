/*
 * SMTP TLS Reporting (RFC 8460): the outbound client's TLS results,
 * recorded per policy domain, one JSON line per session, in a
 * core-owned subtree of the mail root (docs/storage.md):
 *
 *     {mail_root}/tlsrpt/{YYYY-MM-DD}.jsonl     (UTC day, append-only)
 *
 * then, once a day, turned into one RFC 8460 §4 JSON report per policy
 * domain that publishes `_smtp._tls` TXT "v=TLSRPTv1; rua=...", gzip'd,
 * and sent to each rua: by mail (mailto:, DKIM-signed, through the
 * queue like DMARC reports) or HTTPS POST (https:, libcurl,
 * application/tlsrpt+gzip), under the lease
 * {mail_root}/tlsrpt/send.lease so one process of the mail root sends.
 */
#ifndef RM_SUBMIT_TLSRPT_H
#define RM_SUBMIT_TLSRPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* RFC 8460 §4.3 policy-type */
enum rm_tlsrpt_policy {
	RM_TLSRPT_NO_POLICY = 0, /* "no-policy-found" */
	RM_TLSRPT_STS = 1,	 /* "sts" */
	RM_TLSRPT_TLSA = 2,	 /* "tlsa" */
};

/* RFC 8460 §4.3/§4.4: success or the result-type of a failure */
enum rm_tlsrpt_result {
	RM_TLSRPT_SUCCESS = 0,
	RM_TLSRPT_STARTTLS_NOT_SUPPORTED,
	RM_TLSRPT_CERT_HOST_MISMATCH,
	RM_TLSRPT_CERT_EXPIRED,
	RM_TLSRPT_CERT_NOT_TRUSTED,
	RM_TLSRPT_VALIDATION_FAILURE,
	RM_TLSRPT_TLSA_INVALID,
	RM_TLSRPT_DNSSEC_INVALID,
	RM_TLSRPT_DANE_REQUIRED,
	RM_TLSRPT_STS_FETCH_ERROR,
	RM_TLSRPT_STS_INVALID,
	RM_TLSRPT_STS_WEBPKI_INVALID,
	RM_TLSRPT_RESULT_COUNT
};

const char *rm_tlsrpt_policy_name(int type);
/* "starttls-not-supported" ...; "success" for RM_TLSRPT_SUCCESS */
const char *rm_tlsrpt_result_name(int result);
/* the inverse of both, -1 when unknown */
int rm_tlsrpt_policy_of(const char *name);
int rm_tlsrpt_result_of(const char *name);

/* ---- tlsrpt_record.c: the `_smtp._tls` TXT record (pure) ----------- */

#define RM_TLSRPT_RUA_MAX 8
#define RM_TLSRPT_URI_MAX 512

struct rm_tlsrpt_record {
	size_t nrua;
	/* "mailto:ADDR" (percent-decoded ADDR) or "https://..." as given */
	char rua[RM_TLSRPT_RUA_MAX][RM_TLSRPT_URI_MAX];
};

/* One TXT record (RFC 8460 §3): "v=TLSRPTv1; rua=URI[,URI...]" with
 * extensions ignored.  0, 1 when it does not start with "v=TLSRPTv1"
 * (another record: skipped), -1 when it does but is invalid.  URIs of
 * other schemes are skipped; a record left with none is invalid. */
int rm_tlsrpt_record_parse(const char *txt, size_t len,
			   struct rm_tlsrpt_record *out);

/* ---- tlsrpt.c: recording (any thread) ----------------------------- */

/* Record one outbound TLS session's result: one line appended to
 * today's file (one write(2), O_APPEND: concurrent processes never mix
 * lines).  Cheap and thread-safe; failures are logged, never returned.
 * Nothing is recorded when tlsrpt.reports is off or there is no mail
 * root.  detail (may be NULL) becomes failure-reason-code. */
void rm_tlsrpt_note(const char *policy_domain, enum rm_tlsrpt_policy type,
		    const char *mx_host, const char *peer_ip,
		    enum rm_tlsrpt_result result, const char *detail);
/* the same into dir at time now (tests) */
int rm_tlsrpt_record(const char *dir, int64_t now, const char *policy_domain,
		     int type, const char *mx_host, const char *peer_ip,
		     int result, const char *detail);

/* ---- tlsrpt_report.c: the day's reports ---------------------------- */

struct rm_tlsrpt_meta {
	const char *org_name;
	const char *contact;
	const char *submitter; /* the hostname, in file names */
	const char *sts_dir;   /* {mail_root}/mta-sts: policy-strings */
};

struct rm_tlsrpt_report {
	const char *domain;
	char report_id[300];
	char filename[700]; /* "{submitter}!{domain}!{begin}!{end}.json.gz" */
	int64_t begin, end;
	char *json;
	size_t json_len;
	unsigned char *gz;
	size_t gz_len;
	uint64_t ok, failed; /* sessions */
};

/* fn once per policy domain seen in dir/{day}.jsonl (buffers freed
 * after it returns).  0, or -1 with errno (ENOENT: nothing that day,
 * EINVAL: a bad day) */
int rm_tlsrpt_build_day(const char *dir, const char *day,
			const struct rm_tlsrpt_meta *m,
			void (*fn)(void *arg, const struct rm_tlsrpt_report *r),
			void *arg);
/* day files older than keep_days before now removed; the count */
int rm_tlsrpt_prune(const char *dir, int64_t now, int keep_days);
#define RM_TLSRPT_KEEP_DAYS 14

/* ---- tlsrpt_send.c [worker, or a CLI without a loop] --------------- */

/* Send day's reports (NULL: yesterday, UTC) once per mail root and day;
 * dry: print to out what would go where.  The number of reports sent,
 * 0 when another process holds the lease or the day went out already,
 * -1 on error. */
int rm_tlsrpt_send(const char *day, bool dry, FILE *out);
/* loop: the daily timer and the "tlsrpt send" control command */
void rm_tlsrpt_send_start(void);

#endif
