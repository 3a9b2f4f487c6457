/*
 * rmail dkim: the signing keys under {mail_root}/dkim (dkim_keys.h).
 * Rotation is publish, then activate: keygen makes a pending key, the
 * operator publishes the record `rmail dns` prints, `rmail dkim check`
 * activates the key once its TXT record is seen (or keygen --force
 * activates it at once).  Activating a key retires the older active
 * key of the same domain and algorithm; a running daemon picks the
 * change up on `rmail reload` (SIGHUP).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd_store.h"
#include "dns/dns.h"
#include "mailauth/dkim_keys.h"

/* the config of this run, freed by dkim_run */
static struct rm_config *loaded;

static const struct rm_config *conf_owner(struct rm_cli *cli)
{
	loaded = rm_cli_load_config(cli);
	if (loaded == NULL || rm_cli_become_owner(loaded) < 0)
		return NULL;
	return loaded;
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* retire the other active keys of k's domain and algorithm */
static void retire_others(const char *root, const char *domain, const char *sel,
			  int alg)
{
	struct dkim_keyinfo *v;
	size_t n = dkim_keys_list(root, domain, &v);
	char why[256];

	for (size_t i = 0; i < n; i++)
		if (v[i].alg == alg && v[i].state == DKIM_KEY_ACTIVE &&
		    strcmp(v[i].selector, sel) != 0) {
			if (dkim_key_set_state(root, domain, v[i].selector,
					       DKIM_KEY_RETIRED, why,
					       sizeof(why)) == 0)
				printf("%s %s: retired\n", domain,
				       v[i].selector);
		}
	dkim_keys_list_free(v, n);
}

static int activate(const char *root, const char *domain, const char *sel,
		    int alg)
{
	char why[256];

	if (dkim_key_set_state(root, domain, sel, DKIM_KEY_ACTIVE, why,
			       sizeof(why)) < 0)
		return rm_cmd_failf("dkim", "%s", why);
	printf("%s %s: active\n", domain, sel);
	retire_others(root, domain, sel, alg);
	return RM_EXIT_OK;
}

static int dkim_keygen(struct rm_cli *cli, int argc, char **argv)
{
	const struct rm_config *conf;
	const char *pos[1], *sel = NULL, *alg = NULL, *bits_s = NULL;
	bool force = false;
	const struct rm_opt opts[] = {
		{"--selector", true, &sel, NULL},
		{"--algorithm", true, &alg, NULL},
		{"--bits", true, &bits_s, NULL},
		{"--force", false, NULL, &force},
		{NULL, false, NULL, NULL},
	};
	char domain[256], s[64], why[256], date[16];
	int algs[2], na = 0, bits = DKIM_SIGN_BITS_DEFAULT, ret;
	time_t now = time(NULL);
	struct tm tm;
	size_t n;

	ret = rm_cmd_args("dkim keygen",
			  "DOMAIN [--selector S] [--algorithm ed25519|rsa] "
			  "[--bits N] [--force]",
			  argc, argv, opts, pos, 1, 1, &n);
	if (ret != RM_EXIT_OK)
		return ret;
	if (alg == NULL || strcmp(alg, "ed25519") == 0)
		algs[na++] = DKIM_A_ED25519_SHA256;
	if (alg == NULL || strcmp(alg, "rsa") == 0)
		algs[na++] = DKIM_A_RSA_SHA256;
	if (na == 0)
		return rm_cmd_failf("dkim keygen",
				    "--algorithm is ed25519 or rsa");
	if (bits_s != NULL) {
		bits = atoi(bits_s);
		if (bits < 1024 || bits > 8192)
			return rm_cmd_failf("dkim keygen",
					    "--bits is 1024 to 8192");
	}
	snprintf(domain, sizeof(domain), "%s", pos[0]);
	lower(domain);
	if (!dkim_domain_ok(domain))
		return rm_cmd_failf("dkim keygen", "bad domain %s", pos[0]);
	conf = conf_owner(cli);
	if (conf == NULL)
		return RM_EXIT_FAIL;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y%m%d", &tm);
	for (int i = 0; i < na; i++) {
		char suffix = algs[i] == DKIM_A_ED25519_SHA256 ? 'e' : 'r';

		/* one algorithm per selector: the record says which */
		if (sel != NULL && na == 1)
			snprintf(s, sizeof(s), "%s", sel);
		else
			snprintf(s, sizeof(s), "%s%c", sel ? sel : date,
				 suffix);
		lower(s);
		if (dkim_key_generate(conf->mail_root, domain, s, algs[i], bits,
				      false, why, sizeof(why)) < 0)
			return rm_cmd_failf("dkim keygen", "%s", why);
		printf("%s %s: %s key generated, pending\n", domain, s,
		       algs[i] == DKIM_A_ED25519_SHA256 ? "ed25519" : "rsa");
		if (force &&
		    activate(conf->mail_root, domain, s, algs[i]) != RM_EXIT_OK)
			return RM_EXIT_FAIL;
	}
	if (!force)
		printf("publish the records of `rmail dns %s`, then run "
		       "`rmail dkim check`\n",
		       domain);
	printf("a running daemon loads active keys on `rmail reload`\n");
	return RM_EXIT_OK;
}

static int dkim_list(struct rm_cli *cli, int argc, char **argv)
{
	const struct rm_config *conf;
	const char *pos[1];
	bool json = false;
	const struct rm_opt opts[] = {{"--json", false, NULL, &json},
				      {NULL, false, NULL, NULL}};
	struct dkim_keyinfo *v;
	size_t n, np;
	int ret;

	ret = rm_cmd_args("dkim list", "[DOMAIN] [--json]", argc, argv, opts,
			  pos, 0, 1, &np);
	if (ret != RM_EXIT_OK)
		return ret;
	conf = conf_owner(cli);
	if (conf == NULL)
		return RM_EXIT_FAIL;
	n = dkim_keys_list(conf->mail_root, np == 1 ? pos[0] : NULL, &v);
	if (json) {
		json_t *a = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(
				a,
				json_pack("{s:s, s:s, s:s, s:i, s:s, s:I, "
					  "s:I, s:I, s:s}",
					  "domain", v[i].domain, "selector",
					  v[i].selector, "algorithm",
					  v[i].alg == DKIM_A_ED25519_SHA256
						  ? "ed25519"
						  : "rsa",
					  "bits", v[i].bits, "state",
					  dkim_key_state_name(v[i].state),
					  "created", (json_int_t)v[i].created,
					  "activated",
					  (json_int_t)v[i].activated, "retired",
					  (json_int_t)v[i].retired, "txt",
					  v[i].txt ? v[i].txt : ""));
		rm_cmd_json_print(a);
		json_decref(a);
	} else {
		for (size_t i = 0; i < n; i++)
			printf("%-30s %-16s %-8s %5d %s\n", v[i].domain,
			       v[i].selector,
			       v[i].alg == DKIM_A_ED25519_SHA256 ? "ed25519"
								 : "rsa",
			       v[i].bits, dkim_key_state_name(v[i].state));
	}
	dkim_keys_list_free(v, n);
	return RM_EXIT_OK;
}

static int set_state(struct rm_cli *cli, int argc, char **argv, int state)
{
	const char *cmd =
		state == DKIM_KEY_ACTIVE ? "dkim activate" : "dkim retire";
	const struct rm_config *conf;
	const char *pos[2];
	const struct rm_opt opts[] = {{NULL, false, NULL, NULL}};
	struct dkim_keyinfo *v;
	char why[256];
	size_t n, np;
	int ret, alg = -1;

	ret = rm_cmd_args(cmd, "DOMAIN SELECTOR", argc, argv, opts, pos, 2, 2,
			  &np);
	if (ret != RM_EXIT_OK)
		return ret;
	conf = conf_owner(cli);
	if (conf == NULL)
		return RM_EXIT_FAIL;
	n = dkim_keys_list(conf->mail_root, pos[0], &v);
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].selector, pos[1]) == 0)
			alg = v[i].alg;
	dkim_keys_list_free(v, n);
	if (alg < 0)
		return rm_cmd_failf(cmd, "no key %s for %s", pos[1], pos[0]);
	if (state == DKIM_KEY_ACTIVE)
		return activate(conf->mail_root, pos[0], pos[1], alg);
	if (dkim_key_set_state(conf->mail_root, pos[0], pos[1], state, why,
			       sizeof(why)) < 0)
		return rm_cmd_failf(cmd, "%s", why);
	printf("%s %s: retired\n", pos[0], pos[1]);
	return RM_EXIT_OK;
}

static int dkim_activate(struct rm_cli *cli, int argc, char **argv)
{
	return set_state(cli, argc, argv, DKIM_KEY_ACTIVE);
}

static int dkim_retire(struct rm_cli *cli, int argc, char **argv)
{
	return set_state(cli, argc, argv, DKIM_KEY_RETIRED);
}

struct seen {
	const char *want; /* our p= */
	bool match;
};

static void txt_seen(void *arg, const char *txt, size_t len)
{
	struct seen *s = arg;
	const char *p = strstr(s->want, "p=");
	const char *q = memmem(txt, len, "p=", 2);

	/* the published p= must be ours, whitespace aside */
	if (p != NULL && q != NULL) {
		const char *e = txt + len;

		p += 2;
		q += 2;
		while (*p != '\0' && q < e) {
			if (*q == ' ' || *q == '\t') {
				q++;
				continue;
			}
			if (*p != *q)
				return;
			p++;
			q++;
		}
		while (q < e && (*q == ' ' || *q == '\t'))
			q++;
		if (*p == '\0' && (q == e || *q == ';'))
			s->match = true;
	}
}

static int dkim_check(struct rm_cli *cli, int argc, char **argv)
{
	const struct rm_config *conf;
	const char *pos[1];
	const struct rm_opt opts[] = {{NULL, false, NULL, NULL}};
	struct dkim_keyinfo *v;
	size_t n, np;
	int ret, rc = RM_EXIT_OK;

	ret = rm_cmd_args("dkim check", "[DOMAIN]", argc, argv, opts, pos, 0, 1,
			  &np);
	if (ret != RM_EXIT_OK)
		return ret;
	conf = conf_owner(cli);
	if (conf == NULL)
		return RM_EXIT_FAIL;
	n = dkim_keys_list(conf->mail_root, np == 1 ? pos[0] : NULL, &v);
	for (size_t i = 0; i < n; i++) {
		char name[400];
		struct seen s = {.want = v[i].txt};
		int r;

		if (v[i].state == DKIM_KEY_RETIRED || v[i].txt == NULL)
			continue;
		snprintf(name, sizeof(name), "%s._domainkey.%s", v[i].selector,
			 v[i].domain);
		r = rm_cli_txt_lookup(conf, name, txt_seen, &s);
		if (s.match && v[i].state == DKIM_KEY_PENDING) {
			if (activate(conf->mail_root, v[i].domain,
				     v[i].selector, v[i].alg) != RM_EXIT_OK)
				rc = RM_EXIT_FAIL;
		} else if (s.match) {
			printf("%s %s: published, active\n", v[i].domain,
			       v[i].selector);
		} else {
			printf("%s %s: %s (%s)\n", v[i].domain, v[i].selector,
			       r == MA_DNS_TEMP ? "look-up failed"
			       : r == MA_DNS_OK ? "another record published"
						: "not published",
			       dkim_key_state_name(v[i].state));
			if (v[i].state == DKIM_KEY_ACTIVE)
				rc = RM_EXIT_FAIL;
		}
	}
	dkim_keys_list_free(v, n);
	rm_dns_shutdown();
	return rc;
}

static int dkim_run(struct rm_cli *cli)
{
	static const struct rm_subcmd subs[] = {
		{"keygen", dkim_keygen},     {"list", dkim_list},
		{"activate", dkim_activate}, {"retire", dkim_retire},
		{"check", dkim_check},	     {NULL, NULL},
	};

	int rc = rm_cmd_dispatch(cli, subs,
				 "dkim keygen DOMAIN [--selector S] "
				 "[--algorithm ed25519|rsa] [--force] | "
				 "list [DOMAIN] [--json] | activate DOMAIN "
				 "SELECTOR | retire DOMAIN SELECTOR | "
				 "check [DOMAIN]");

	rm_config_free(&loaded);
	return rc;
}

const struct rm_command rm_cmd_dkim = {
	.name = "dkim",
	.usage = "keygen|list|activate|retire|check: DKIM signing keys",
	.run = dkim_run,
};
