/* rmail dmarc report --dry-run: the aggregate reports a day's records
 * would give, and where they would go.  --send asks the running daemon
 * to send them now (core/submit/dmarc_send.c: the queue, the lease,
 * once per day), as its daily job does. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_store.h"
#include "mailauth/dmarc_report.h"

struct dry {
	bool xml;
	const char *receiver;
};

static void show(void *arg, const struct dmarc_report *r)
{
	const struct dry *d = arg;
	char o1[DMARC_DOMAIN_MAX], o2[DMARC_DOMAIN_MAX];

	printf("%s: %llu message(s) in %zu row(s), report-id %s\n", r->domain,
	       (unsigned long long)r->messages, r->nrows, r->report_id);
	printf("  file %s (XML %zu bytes, gzip %zu bytes)\n", r->filename,
	       r->xml_len, r->gz_len);
	dmarc_org_domain(r->domain, o1, sizeof(o1));
	for (size_t i = 0; i < r->policy.nrua; i++) {
		const struct dmarc_uri *u = &r->policy.rua[i];
		const char *at = strrchr(u->addr, '@');

		printf("  to %s", u->addr);
		if (u->max_size > 0)
			printf(" (limit %llu bytes)",
			       (unsigned long long)u->max_size);
		if (u->max_size > 0 && r->gz_len > u->max_size) {
			printf(": too large, not sent\n");
			continue;
		}
		dmarc_org_domain(at != NULL ? at + 1 : "", o2, sizeof(o2));
		if (strcasecmp(o1, o2) != 0)
			printf(": would send once %s._report._dmarc.%s TXT "
			       "says v=DMARC1\n",
			       r->domain, at != NULL ? at + 1 : "");
		else
			printf(": would send\n");
	}
	if (d->xml)
		fwrite(r->xml, 1, r->xml_len, stdout);
}

/* the daemon sends: through its queue, under its lease */
static int send_now(struct rm_config **c, const char *day)
{
	const char *argv[] = {"dmarc", "send", day};
	struct rmail_err err;
	char out[256];
	int rc;

	if ((*c)->control_socket == NULL ||
	    access((*c)->control_socket, F_OK) < 0) {
		rm_config_free(c);
		return rm_cmd_failf("dmarc report",
				    "no daemon running: reports are sent by "
				    "`rmail serve`");
	}
	rmail_err_clear(&err);
	rc = rm_control_call((*c)->control_socket, day != NULL ? 3 : 2, argv,
			     out, sizeof(out), &err);
	rm_config_free(c);
	if (rc < 0)
		return rm_cmd_failf("dmarc report", "%s", err.msg);
	printf("%s\n", out);
	return RM_EXIT_OK;
}

static int dmarc_report(struct rm_cli *cli, int argc, char **argv)
{
	const char *day = NULL, *pos[1];
	bool dry = false, xml = false, send = false;
	const struct rm_opt opts[] = {
		{"--dry-run", false, NULL, &dry},
		{"--send", false, NULL, &send},
		{"--day", true, &day, NULL},
		{"--xml", false, NULL, &xml},
		{NULL, false, NULL, NULL},
	};
	struct rm_config *c;
	struct dmarc_report_meta m;
	struct dry d = {.xml = xml};
	char dir[4096], yday[11];
	size_t n;
	int ret;

	ret = rm_cmd_args("dmarc report",
			  "--dry-run|--send [--day YYYY-MM-DD] [--xml]", argc,
			  argv, opts, pos, 0, 0, &n);
	if (ret != RM_EXIT_OK)
		return ret;
	d.xml = xml;
	if (dry == send)
		return rm_cmd_failf("dmarc report",
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
	if (!c->dmarc.reports)
		printf("dmarc.reports is off: nothing would be sent\n");
	m = (struct dmarc_report_meta){.org_name = c->dmarc.org_name,
				       .email = c->dmarc.report_from,
				       .contact = c->dmarc.contact};
	d.receiver = c->hostname;
	snprintf(dir, sizeof(dir), "%s/dmarc", c->mail_root);
	if (dmarc_report_build_day(dir, day, &m, c->hostname, show, &d) < 0) {
		int e = errno;

		rm_config_free(&c);
		if (e == ENOENT) {
			printf("no DMARC records for %s\n", day);
			return RM_EXIT_OK;
		}
		return rm_cmd_failf("dmarc report", "%s: %s", day,
				    e == EINVAL ? "expected YYYY-MM-DD"
						: strerror(e));
	}
	rm_config_free(&c);
	return RM_EXIT_OK;
}

static int dmarc_run(struct rm_cli *cli)
{
	static const struct rm_subcmd subs[] = {
		{"report", dmarc_report},
		{NULL, NULL},
	};

	return rm_cmd_dispatch(cli, subs,
			       "dmarc report --dry-run|--send "
			       "[--day YYYY-MM-DD] [--xml]");
}

const struct rm_command rm_cmd_dmarc = {
	.name = "dmarc",
	.usage = "report --dry-run|--send: the DMARC aggregate reports of a "
		 "day",
	.run = dmarc_run,
};
