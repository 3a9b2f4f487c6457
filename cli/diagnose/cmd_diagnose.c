/*
 * rmail diagnose [--json] [--phase N]: exercises a live server through
 * its real ports and control socket, with a temporary diagnostic user,
 * in the eight phases of the operations guide.  Whatever happens, the
 * cleanup phase runs, so a failed run leaves nothing behind.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd_store.h"
#include "cli.h"
#include "daemon.h"
#include "diag_int.h"

static const char *const status_word[] = {"PASS", "WARN", "FAIL"};

static const struct {
	const char *name;
	const char *module;  /* NULL: always runs */
	const char *module2; /* needed too (delivery reads over IMAP) */
	void (*run)(struct diag *d);
} phases[] = {
	{"Configuration & Environment", NULL, NULL, dg_phase_config},
	{"User Management", NULL, NULL, dg_phase_users},
	{"Backend Storage", NULL, NULL, dg_phase_store},
	{"SMTP Protocol", "smtp", NULL, dg_phase_smtp},
	{"Delivery Verification", "smtp", "imap", dg_phase_delivery},
	{"IMAP Protocol", "imap", NULL, dg_phase_imap},
	{"Exchange API", "exchange", NULL, dg_phase_api},
	{"Cleanup", NULL, NULL, dg_phase_cleanup},
};

#define NPHASES ((int)(sizeof(phases) / sizeof(phases[0])))

void dg_check(struct diag *d, enum dg_status st, const char *id,
	      const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	d->nchecks++;
	if (st == DG_FAIL)
		d->nfail++;
	else if (st == DG_WARN)
		d->nwarn++;
	if (d->json) {
		json_array_append_new(d->out_checks,
				      json_pack("{s:i, s:s, s:s, s:s}", "phase",
						d->phase, "id", id, "status",
						st == DG_PASS	? "pass"
						: st == DG_WARN ? "warn"
								: "fail",
						"message", msg));
		return;
	}
	printf("  %s  %-26s %s\n", status_word[st], id, msg);
	fflush(stdout);
}

json_t *dg_conf_get(struct diag *d, const char *section, const char *path)
{
	json_t *o = rm_config_section(d->conf, section);
	char part[128];

	while (o != NULL && json_is_object(o)) {
		const char *dot = strchr(path, '.');

		if (dot == NULL)
			return json_object_get(o, path);
		snprintf(part, sizeof(part), "%.*s", (int)(dot - path), path);
		o = json_object_get(o, part);
		path = dot + 1;
	}
	return NULL;
}

void dg_subject(struct diag *d, const char *what, char *out, size_t sz)
{
	snprintf(out, sz, "rmail diagnose %s %s", d->tag, what);
}

static bool module_enabled(const struct rm_config *conf, const char *name)
{
	size_t i;

	for (i = 0; i < conf->modules.n; i++) {
		const char *m = conf->modules.v[i];

		if (strncmp(m, "mod_", 4) == 0)
			m += 4;
		if (strcmp(m, name) == 0)
			return true;
	}
	return false;
}

/* the first listener of section.key (default when the key is absent)
 * as an address to connect to: wildcards become loopback */
static void endpoint(struct diag *d, const char *section, const char *key,
		     const char *def, char *out, size_t sz)
{
	json_t *l = dg_conf_get(d, section, key);
	const char *a = def;

	out[0] = '\0';
	if (l != NULL) {
		if (!json_is_array(l) || json_array_size(l) == 0)
			return;
		a = json_string_value(json_array_get(l, 0));
		if (a == NULL)
			return;
	}
	if (strncmp(a, "0.0.0.0:", 8) == 0)
		snprintf(out, sz, "127.0.0.1:%s", a + 8);
	else if (strncmp(a, "[::]:", 5) == 0)
		snprintf(out, sz, "[::1]:%s", a + 5);
	else if (strncmp(a, "*:", 2) == 0)
		snprintf(out, sz, "127.0.0.1:%s", a + 2);
	else if (strchr(a, ':') == NULL)
		snprintf(out, sz, "127.0.0.1:%s", a);
	else
		snprintf(out, sz, "%s", a);
}

static void setup_names(struct diag *d)
{
	const char *host =
		d->conf->hostname != NULL ? d->conf->hostname : "localhost";
	const char *dot = strchr(host, '.');
	unsigned char rnd[16];
	size_t i;

	snprintf(d->domain, sizeof(d->domain), "%s",
		 dot != NULL && dot[1] != '\0' ? dot + 1 : host);
	for (i = 0; i < sizeof(d->domain) && d->domain[i] != '\0'; i++)
		if (d->domain[i] >= 'A' && d->domain[i] <= 'Z')
			d->domain[i] = (char)(d->domain[i] - 'A' + 'a');
	rm_random_bytes(rnd, sizeof(rnd));
	for (i = 0; i < 4; i++)
		snprintf(d->tag + 2 * i, 3, "%02x", rnd[i]);
	for (i = 0; i < 20; i++)
		snprintf(d->pass + 2 * i, 3, "%02x",
			 rnd[(i + 4) % 16] ^ (unsigned char)(i * 37));
	snprintf(d->user, sizeof(d->user), DG_PREFIX "%s@%s", d->tag,
		 d->domain);
	snprintf(d->user2, sizeof(d->user2), DG_PREFIX "%s-b@%s", d->tag,
		 d->domain);
	endpoint(d, "smtp", "listen", "0.0.0.0:25", d->smtp, sizeof(d->smtp));
	endpoint(d, "smtp", "submission_listen", "0.0.0.0:587", d->submission,
		 sizeof(d->submission));
	endpoint(d, "smtp", "smtps_listen", "0.0.0.0:465", d->smtps,
		 sizeof(d->smtps));
	endpoint(d, "imap", "listen", "0.0.0.0:143", d->imap, sizeof(d->imap));
	endpoint(d, "imap", "imaps_listen", "0.0.0.0:993", d->imaps,
		 sizeof(d->imaps));
	endpoint(d, "exchange_api", "listen", "0.0.0.0:9002", d->api,
		 sizeof(d->api));
	endpoint(d, "exchange_api", "tls_listen", "0.0.0.0:9003", d->api_tls,
		 sizeof(d->api_tls));
	dg_proxy_mark(d);
	d->cert_file = d->conf->tls_cert_file;
	if (d->cert_file == NULL)
		d->cert_file = rm_psprintf(d->conf->pool, "%s/tls/cert.pem",
					   d->conf->mail_root);
	d->mod_smtp = module_enabled(d->conf, "smtp");
	d->mod_imap = module_enabled(d->conf, "imap");
	d->mod_exchange = module_enabled(d->conf, "exchange");
}

int dg_ensure_users(struct diag *d)
{
	struct rmail_err err;

	if (d->have_user)
		return 0;
	if (d->ops == NULL)
		return -1;
	rmail_err_clear(&err);
	if (d->ops->user_add(d->h, d->user, d->pass, 1, -1, &err) < 0) {
		dg_check(d, DG_FAIL, "users.create", "cannot create %s: %s",
			 d->user, err.msg);
		return -1;
	}
	rmail_err_clear(&err);
	if (d->ops->user_add(d->h, d->user2, d->pass, 0, -1, &err) < 0) {
		dg_check(d, DG_FAIL, "users.create", "cannot create %s: %s",
			 d->user2, err.msg);
		return -1;
	}
	d->have_user = true;
	return 0;
}

static void run_phase(struct diag *d, int i)
{
	const char *mod = phases[i].module;

	d->phase = i + 1;
	if (mod != NULL && module_enabled(d->conf, mod) &&
	    phases[i].module2 != NULL &&
	    !module_enabled(d->conf, phases[i].module2))
		mod = phases[i].module2;
	if (mod != NULL && !module_enabled(d->conf, mod)) {
		if (d->json) {
			json_array_append_new(
				d->out_phases,
				json_pack("{s:i, s:s, s:s, s:s}", "phase",
					  i + 1, "name", phases[i].name,
					  "status", "skipped", "reason",
					  "module disabled"));
		} else {
			printf("Phase %d: %s: SKIPPED (mod_%s is not in "
			       "modules)\n",
			       i + 1, phases[i].name, mod);
		}
		return;
	}
	if (d->json)
		json_array_append_new(d->out_phases,
				      json_pack("{s:i, s:s, s:s}", "phase",
						i + 1, "name", phases[i].name,
						"status", "run"));
	else
		printf("Phase %d: %s\n", i + 1, phases[i].name);
	fflush(stdout);
	phases[i].run(d);
}

static int diagnose_run(struct rm_cli *cli)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"phase", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct diag d;
	int c, i, rc;

	memset(&d, 0, sizeof(d));
	while ((c = getopt_long(cli->argc + 1, cli->argv - 1, "jp:h", opts,
				NULL)) != -1) {
		switch (c) {
		case 'j':
			d.json = true;
			break;
		case 'p':
			d.only_phase = atoi(optarg);
			if (d.only_phase < 1 || d.only_phase > NPHASES) {
				fprintf(stderr,
					"rmail diagnose: --phase "
					"takes 1 to %d\n",
					NPHASES);
				return RM_EXIT_USAGE;
			}
			break;
		default:
			fprintf(stderr, "usage: rmail diagnose [--json] "
					"[--phase N]\n");
			return c == 'h' ? RM_EXIT_OK : RM_EXIT_USAGE;
		}
	}
	d.out_checks = json_array();
	d.out_phases = json_array();
	d.conf = rm_cli_load_config(cli);
	if (d.conf == NULL) {
		d.phase = 1;
		dg_check(&d, DG_FAIL, "config.load",
			 "the config does not "
			 "load (problems above)");
		goto summary;
	}
	setup_names(&d);
	/* store ops in this process: the daemon sees its files change */
	if (rm_cli_store(cli, &d.ops, &d.h) < 0)
		d.ops = NULL;
	for (i = 0; i < NPHASES - 1; i++)
		if (d.only_phase == 0 || d.only_phase == i + 1)
			run_phase(&d, i);
	/* cleanup always runs: a failed phase leaves nothing behind */
	run_phase(&d, NPHASES - 1);
summary:
	if (d.json) {
		json_t *j = json_pack("{s:o, s:o, s:{s:i, s:i, s:i}}", "phases",
				      d.out_phases, "checks", d.out_checks,
				      "summary", "checks", (int)d.nchecks,
				      "failures", (int)d.nfail, "warnings",
				      (int)d.nwarn);

		json_dumpf(j, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(j);
	} else {
		json_decref(d.out_checks);
		json_decref(d.out_phases);
		printf("%u checks, %u failures, %u warnings\n", d.nchecks,
		       d.nfail, d.nwarn);
	}
	rc = d.nfail == 0 ? RM_EXIT_OK : RM_EXIT_FAIL;
	if (d.conf != NULL)
		rm_config_free(&d.conf);
	return rc;
}

const struct rm_command rm_cmd_diagnose = {
	.name = "diagnose",
	.usage = "[--json] [--phase N]  check a live server end to end",
	.run = diagnose_run,
};
