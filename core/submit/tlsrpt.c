/*
 * Recording outbound TLS results for TLS-RPT (RFC 8460): one JSON line
 * per session in {mail_root}/tlsrpt/{YYYY-MM-DD}.jsonl, appended with
 * a single write(2) on an O_APPEND descriptor, so the delivery threads
 * of every process sharing the mail root append without a lock and
 * without mixing lines (the DMARC data's model, docs/storage.md).
 * Keys: t time, d policy domain, p policy-type, mx, ip, r result-type
 * ("success" for a session without failure), why the detail.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mailauth/dmarc_report.h"
#include "rm.h"
#include "submit/tlsrpt.h"

int rm_tlsrpt_record(const char *dir, int64_t now, const char *policy_domain,
		     int type, const char *mx_host, const char *peer_ip,
		     int result, const char *detail)
{
	char path[4400], day[11];
	json_t *o;
	char *line;
	size_t n;
	int fd, rc;

	if (policy_domain == NULL || policy_domain[0] == '\0')
		return 0;
	dmarc_report_day(now, day);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.jsonl", dir, day) >=
	    sizeof(path))
		return (errno = ENAMETOOLONG), -1;
	o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "t", (json_int_t)now,
		      "d", policy_domain, "p", rm_tlsrpt_policy_name(type),
		      "mx", mx_host != NULL ? mx_host : "", "ip",
		      peer_ip != NULL ? peer_ip : "", "r",
		      rm_tlsrpt_result_name(result));
	if (o == NULL)
		return (errno = EINVAL), -1;
	if (detail != NULL && result != RM_TLSRPT_SUCCESS)
		(void)json_object_set_new(o, "why", json_string(detail));
	/* a detail that is not UTF-8 leaves the line without it */
	line = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (line == NULL)
		return (errno = ENOMEM), -1;
	n = strlen(line);
	line[n] = '\n';
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		free(line);
		return -1;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		free(line);
		return -1;
	}
	/* one write: a line is whole or (after a crash) torn at the end,
	 * where the reader skips it */
	rc = write(fd, line, n + 1) == (ssize_t)(n + 1) ? 0 : -1;
	close(fd);
	free(line);
	return rc;
}

void rm_tlsrpt_note(const char *policy_domain, enum rm_tlsrpt_policy type,
		    const char *mx_host, const char *peer_ip,
		    enum rm_tlsrpt_result result, const char *detail)
{
	const struct rm_config *c = rm_conf();
	char dir[4200];

	if (c == NULL || !c->tlsrpt.reports || c->mail_root == NULL)
		return;
	snprintf(dir, sizeof(dir), "%s/tlsrpt", c->mail_root);
	if (rm_tlsrpt_record(dir, (int64_t)time(NULL), policy_domain, type,
			     mx_host, peer_ip, result, detail) < 0)
		rm_log(RMAIL_LOG_ERR, "tlsrpt: %s: %s", dir, strerror(errno));
}
