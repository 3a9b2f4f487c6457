/*
 * rmail dns DOMAIN: every DNS record the domain needs, as zone-file
 * lines ready to paste (mox's `dnsrecords` is the model): MX, SPF for
 * the domain and the host, the DKIM keys (active, pending, and retired
 * ones still within the queue lifetime plus 7 days, since queued mail
 * signed with them may still be verified), DMARC, the RFC 6186/8314 SRV
 * records and the autoconfig/autodiscover names mod_exchange serves.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd_store.h"
#include "mailauth/dkim_keys.h"

#define RETIRED_GRACE (7 * 86400)

static bool module_on(const struct rm_config *c, const char *name)
{
	for (size_t i = 0; i < c->modules.n; i++) {
		const char *m = c->modules.v[i];

		if (strncmp(m, "mod_", 4) == 0)
			m += 4;
		if (strcmp(m, name) == 0)
			return true;
	}
	return false;
}

/* the port of a module's first listener, def when the key is unset,
 * 0 when the module is off or the list is empty */
static int port_of(const struct rm_config *c, const char *module,
		   const char *section, const char *key, int def)
{
	json_t *s, *l;
	const char *v, *colon;

	if (!module_on(c, module))
		return 0;
	s = rm_config_section(c, section);
	l = s != NULL ? json_object_get(s, key) : NULL;
	if (l == NULL)
		return def;
	if (!json_is_array(l) || json_array_size(l) == 0)
		return 0;
	v = json_string_value(json_array_get(l, 0));
	colon = v != NULL ? strrchr(v, ':') : NULL;
	return colon != NULL ? atoi(colon + 1) : def;
}

static void srv(const char *svc, const char *domain, int port, const char *host)
{
	char name[400];

	snprintf(name, sizeof(name), "%s.%s.", svc, domain);
	if (port > 0)
		printf("%-44s IN SRV   0 1 %d %s.\n", name, port, host);
	else /* RFC 6186 §4: "not offered" */
		printf("%-44s IN SRV   0 0 0 .\n", name);
}

/* a TXT value as <=255-byte character-strings */
static void txt(const char *name, const char *v)
{
	size_t n = strlen(v);

	printf("%-44s IN TXT  ", name);
	for (size_t i = 0; i < n; i += 255)
		printf(" \"%.*s\"", (int)(n - i < 255 ? n - i : 255), v + i);
	printf("\n");
}

static int dns_print(struct rm_cli *cli, const struct rm_config *conf,
		     const char *domain, const char *ips, const char *rua,
		     const char *policy);
static const char *sts_mode, *tlsrpt_rua;

static int dns_run(struct rm_cli *cli)
{
	struct rm_config *conf;
	const char *pos[1], *ips = NULL, *rua = NULL, *policy = NULL;
	const struct rm_opt opts[] = {
		{"--ip", true, &ips, NULL},
		{"--rua", true, &rua, NULL},
		{"--dmarc-policy", true, &policy, NULL},
		{"--mta-sts-mode", true, &sts_mode, NULL},
		{"--tlsrpt-rua", true, &tlsrpt_rua, NULL},
		{NULL, false, NULL, NULL},
	};
	char domain[256];
	size_t np;
	int ret;

	ret = rm_cmd_args("dns",
			  "DOMAIN [--ip ADDR[,ADDR...]] [--rua ADDR] "
			  "[--dmarc-policy none|quarantine|reject] "
			  "[--mta-sts-mode testing|enforce] "
			  "[--tlsrpt-rua ADDR]",
			  cli->argc, cli->argv, opts, pos, 1, 1, &np);
	if (ret != RM_EXIT_OK)
		return ret;
	if (policy != NULL && strcmp(policy, "none") != 0 &&
	    strcmp(policy, "quarantine") != 0 && strcmp(policy, "reject") != 0)
		return rm_cmd_failf("dns", "--dmarc-policy is none, "
					   "quarantine or reject");
	if (sts_mode != NULL && strcmp(sts_mode, "testing") != 0 &&
	    strcmp(sts_mode, "enforce") != 0)
		return rm_cmd_failf("dns", "--mta-sts-mode is testing or "
					   "enforce");
	if (tlsrpt_rua != NULL && (strchr(tlsrpt_rua, '@') == NULL ||
				   strpbrk(tlsrpt_rua, " \t\";,") != NULL))
		return rm_cmd_failf("dns", "--tlsrpt-rua is an address");
	snprintf(domain, sizeof(domain), "%s", pos[0]);
	for (char *p = domain; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (!dkim_domain_ok(domain))
		return rm_cmd_failf("dns", "bad domain %s", pos[0]);
	conf = rm_cli_load_config(cli);
	if (conf == NULL)
		return RM_EXIT_FAIL;
	ret = dns_print(cli, conf, domain, ips, rua, policy);
	rm_config_free(&conf);
	return ret;
}

static int dns_print(struct rm_cli *cli, const struct rm_config *conf,
		     const char *domain, const char *ips, const char *rua,
		     const char *policy)
{
	char name[400], spf[1024], dmarc[600];
	const char *host;
	struct dkim_keyinfo *v;
	int64_t now = (int64_t)time(NULL), grace;
	size_t n;

	(void)cli;
	host = conf->hostname;
	grace = (int64_t)conf->delivery.expire + RETIRED_GRACE;

	printf("; DNS records for %s (rmail dns); mail host %s\n", domain,
	       host);
	printf("; Mail exchanger\n");
	snprintf(name, sizeof(name), "%s.", domain);
	printf("%-44s IN MX    10 %s.\n", name, host);
	if (ips != NULL) {
		char *copy = strdup(ips), *save = NULL;

		snprintf(name, sizeof(name), "%s.", host);
		for (char *a = strtok_r(copy, ",", &save); a != NULL;
		     a = strtok_r(NULL, ",", &save))
			printf("%-44s IN %-5s %s\n", name,
			       strchr(a, ':') ? "AAAA" : "A", a);
		free(copy);
	}

	printf("\n; SPF (RFC 7208): only this domain's MX hosts send for "
	       "it\n");
	snprintf(spf, sizeof(spf), "v=spf1");
	if (ips != NULL) {
		char *copy = strdup(ips), *save = NULL;

		for (char *a = strtok_r(copy, ",", &save); a != NULL;
		     a = strtok_r(NULL, ",", &save))
			snprintf(spf + strlen(spf), sizeof(spf) - strlen(spf),
				 " ip%c:%s", strchr(a, ':') ? '6' : '4', a);
		free(copy);
	}
	snprintf(spf + strlen(spf), sizeof(spf) - strlen(spf), " mx -all");
	snprintf(name, sizeof(name), "%s.", domain);
	txt(name, spf);
	/* the host's own name is checked for HELO and bounces */
	snprintf(name, sizeof(name), "%s.", host);
	txt(name, "v=spf1 a -all");

	printf("\n; DKIM (RFC 6376, RFC 8463): active and pending keys, "
	       "retired ones for %lld days more\n",
	       (long long)(grace / 86400));
	n = dkim_keys_list(conf->mail_root, domain, &v);
	if (n == 0)
		printf("; no key yet: rmail dkim keygen %s\n", domain);
	for (size_t i = 0; i < n; i++) {
		if (v[i].txt == NULL || (v[i].state == DKIM_KEY_RETIRED &&
					 v[i].retired + grace < now))
			continue;
		printf("; %s %s key, %s\n", v[i].selector,
		       v[i].alg == DKIM_A_ED25519_SHA256 ? "ed25519" : "rsa",
		       dkim_key_state_name(v[i].state));
		snprintf(name, sizeof(name), "%s._domainkey.%s.", v[i].selector,
			 domain);
		txt(name, v[i].txt);
	}
	dkim_keys_list_free(v, n);

	printf("\n; DMARC (RFC 7489): aggregate reports to rua\n");
	snprintf(dmarc, sizeof(dmarc), "v=DMARC1; p=%s; rua=mailto:%s%s%s",
		 policy != NULL ? policy : "quarantine",
		 rua != NULL ? rua : "dmarc-reports@",
		 rua != NULL ? "" : domain, "");
	snprintf(name, sizeof(name), "_dmarc.%s.", domain);
	txt(name, dmarc);

	printf("\n; Client configuration (RFC 6186, RFC 8314)\n");
	srv("_submissions._tcp", domain,
	    port_of(conf, "smtp", "smtp", "smtps_listen", 465), host);
	srv("_submission._tcp", domain,
	    port_of(conf, "smtp", "smtp", "submission_listen", 587), host);
	srv("_imaps._tcp", domain,
	    port_of(conf, "imap", "imap", "imaps_listen", 993), host);
	/* cleartext IMAP is not advertised: RFC 8314 §4.1 */
	srv("_imap._tcp", domain, 0, host);
	if (module_on(conf, "exchange")) {
		printf("\n; Autoconfig (Thunderbird) and autodiscover "
		       "(Outlook), served by mod_exchange: on port 80/443 "
		       "directly or through a proxy to its listeners\n");
		snprintf(name, sizeof(name), "autoconfig.%s.", domain);
		printf("%-44s IN CNAME %s.\n", name, host);
		snprintf(name, sizeof(name), "autodiscover.%s.", domain);
		printf("%-44s IN CNAME %s.\n", name, host);
		srv("_autodiscover._tcp", domain,
		    port_of(conf, "exchange", "exchange_api", "tls_listen",
			    443) == 0
			    ? 0
			    : 443,
		    host);
	}
	rm_dns_print_transport(conf, domain,
			       sts_mode != NULL ? sts_mode : "testing",
			       tlsrpt_rua);
	return RM_EXIT_OK;
}

const struct rm_command rm_cmd_dns = {
	.name = "dns",
	.usage = "DOMAIN: the DNS records a mail domain needs, zone format",
	.run = dns_run,
};
