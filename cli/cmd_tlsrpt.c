/* rmail tlsrpt report --dry-run: the TLS-RPT reports (RFC 8460) a day's
 * records would give, per policy domain, with --json the report itself.
 * --send asks the running daemon to send them now
 * (core/submit/tlsrpt_send.c: the `_smtp._tls` look-up, mail or HTTPS
 * POST, the lease, once per day), as its daily job does. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_store.h"
#include "mailauth/dmarc_report.h"
#include "submit/tlsrpt.h"

static void show(void *arg, const struct rm_tlsrpt_report *r)
{
	const bool *json = arg;

	printf("%s: %llu successful, %llu failed session(s), report-id %s\n",
	       r->domain, (unsigned long long)r->ok,
	       (unsigned long long)r->failed, r->report_id);
	printf("  file %s (JSON %zu bytes, gzip %zu bytes)\n", r->filename,
	       r->json_len, r->gz_len);
	printf("  to the rua= of _smtp._tls.%s TXT, if it publishes one\n",
	       r->domain);
	if (*json)
		printf("%s\n", r->json);
}

/* the daemon sends: through its queue, under its lease */
static int send_now(struct rm_config **c, const char *day)
{
	const char *argv[] = {"tlsrpt", "send", day};
	struct rmail_err err;
	char out[256];
	int rc;

	if ((*c)->control_socket == NULL ||
	    access((*c)->control_socket, F_OK) < 0) {
		rm_config_free(c);
		return rm_cmd_failf("tlsrpt report",
				    "no daemon running: reports are sent by "
				    "`rmail serve`");
	}
	rmail_err_clear(&err);
	rc = rm_control_call((*c)->control_socket, day != NULL ? 3 : 2, argv,
			     out, sizeof(out), &err);
	rm_config_free(c);
	if (rc < 0)
		return rm_cmd_failf("tlsrpt report", "%s", err.msg);
	printf("%s\n", out);
	return RM_EXIT_OK;
}

static int tlsrpt_report(struct rm_cli *cli, int argc, char **argv)
{
	const char *day = NULL, *pos[1];
	bool dry = false, json = false, send = false;
	const struct rm_opt opts[] = {
		{"--dry-run", false, NULL, &dry},
		{"--send", false, NULL, &send},
		{"--day", true, &day, NULL},
		{"--json", false, NULL, &json},
		{NULL, false, NULL, NULL},
	};
	struct rm_config *c;
	struct rm_tlsrpt_meta m;
	char dir[4096], sts[4096], yday[11];
	size_t n;
	int ret;

	ret = rm_cmd_args("tlsrpt report",
			  "--dry-run|--send [--day YYYY-MM-DD] [--json]", argc,
			  argv, opts, pos, 0, 0, &n);
	if (ret != RM_EXIT_OK)
		return ret;
	if (dry == send)
		return rm_cmd_failf("tlsrpt report",
				    "one of --dry-run or --send");
	c = rm_cli_load_config(cli);
	if (c == NULL)
		return RM_EXIT_FAIL;
	if (send)
		return send_now(&c, day);
	if (day == NULL) {
		dmarc_report_day((int64_t)time(NULL) - 86400, yday);
		day = yday;
	}
	if (!c->tlsrpt.reports)
		printf("tlsrpt.reports is off: nothing would be sent\n");
	snprintf(dir, sizeof(dir), "%s/tlsrpt", c->mail_root);
	snprintf(sts, sizeof(sts), "%s/mta-sts", c->mail_root);
	m = (struct rm_tlsrpt_meta){.org_name = c->tlsrpt.org_name,
				    .contact = c->tlsrpt.contact,
				    .submitter = c->hostname,
				    .sts_dir = sts};
	if (rm_tlsrpt_build_day(dir, day, &m, show, &json) < 0) {
		int e = errno;

		rm_config_free(&c);
		if (e == ENOENT) {
			printf("no TLS results recorded for %s\n", day);
			return RM_EXIT_OK;
		}
		return rm_cmd_failf("tlsrpt report", "%s: %s", day,
				    e == EINVAL ? "expected YYYY-MM-DD"
						: strerror(e));
	}
	rm_config_free(&c);
	return RM_EXIT_OK;
}

static int tlsrpt_run(struct rm_cli *cli)
{
	static const struct rm_subcmd subs[] = {
		{"report", tlsrpt_report},
		{NULL, NULL},
	};

	return rm_cmd_dispatch(cli, subs,
			       "tlsrpt report --dry-run|--send "
			       "[--day YYYY-MM-DD] [--json]");
}

const struct rm_command rm_cmd_tlsrpt = {
	.name = "tlsrpt",
	.usage = "report --dry-run|--send: the TLS-RPT reports of a day",
	.run = tlsrpt_run,
};
