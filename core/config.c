/*
 * config.json: parse with jansson, fill the core's keys and each module's
 * section through one table-driven engine, report every problem with its
 * JSON path (syntax errors with line:column), resolve relative paths and
 * derive the run-time paths from the config file's location.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "config_keys.h"
#include "hostshm.h"
#include "mailauth/dkim.h"
#include "submit/tls_policy.h"

#define CONF_MAX_FILE (4u << 20)

static struct rm_config *conf_current;

const struct rm_config *rm_conf(void)
{
	return conf_current;
}

void rm_conf_set(struct rm_config *conf)
{
	conf_current = conf;
}

/* ---- reporting ---------------------------------------------------- */

struct fill_ctx {
	struct rmail_pool *pool;
	rm_conf_report_fn report;
	void *arg;
	int errors;
};

static void problem(struct fill_ctx *fc, const char *path, const char *fmt, ...)
	RMAIL_PRINTF(3, 4);

static void problem(struct fill_ctx *fc, const char *path, const char *fmt, ...)
{
	char msg[512], line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* "[2]: x" and ".k: x" extend the path instead of following it */
	if (msg[0] == '[' || msg[0] == '.')
		snprintf(line, sizeof(line), "%s%s", path, msg);
	else if (path[0] == '\0')
		snprintf(line, sizeof(line), "%s", msg);
	else
		snprintf(line, sizeof(line), "%s: %s", path, msg);
	fc->errors++;
	if (fc->report != NULL)
		fc->report(fc->arg, line);
	else
		rm_log(RMAIL_LOG_ERR, "config: %s", line);
}

static char *path_join(struct rmail_pool *p, const char *prefix,
		       const char *key)
{
	if (prefix == NULL || prefix[0] == '\0')
		return rm_pstrdup(p, key);
	return rm_psprintf(p, "%s.%s", prefix, key);
}

/* ---- scalar parsers ----------------------------------------------- */

static int parse_number_unit(const char *s, double *num_r, const char **unit_r)
{
	char *end;
	double v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || !isfinite(v))
		return -1;
	while (*end == ' ')
		end++;
	*num_r = v;
	*unit_r = end;
	return 0;
}

static int parse_size(json_t *v, uint64_t *out)
{
	static const struct {
		const char *u;
		uint64_t mul;
	} units[] = {
		{"", 1},
		{"B", 1},
		{"K", 1ull << 10},
		{"KB", 1ull << 10},
		{"KiB", 1ull << 10},
		{"k", 1ull << 10},
		{"M", 1ull << 20},
		{"MB", 1ull << 20},
		{"MiB", 1ull << 20},
		{"G", 1ull << 30},
		{"GB", 1ull << 30},
		{"GiB", 1ull << 30},
		{"T", 1ull << 40},
		{"TB", 1ull << 40},
		{"TiB", 1ull << 40},
	};
	const char *unit;
	double num;

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return -1;
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v) ||
	    parse_number_unit(json_string_value(v), &num, &unit) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(unit, units[i].u) != 0)
			continue;
		num *= (double)units[i].mul;
		if (num >= 18446744073709551615.0)
			return -1;
		*out = (uint64_t)num;
		return 0;
	}
	return -1;
}

static int parse_duration(json_t *v, double *out)
{
	static const struct {
		const char *u;
		double mul;
	} units[] = {
		{"", 1},     {"ms", 0.001}, {"s", 1},	   {"m", 60},
		{"h", 3600}, {"d", 86400},  {"w", 604800},
	};
	const char *unit;
	double num;

	if (json_is_number(v)) {
		num = json_number_value(v);
		if (num < 0 || !isfinite(num))
			return -1;
		*out = num;
		return 0;
	}
	if (!json_is_string(v) ||
	    parse_number_unit(json_string_value(v), &num, &unit) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(unit, units[i].u) == 0) {
			*out = num * units[i].mul;
			return 0;
		}
	}
	return -1;
}

static const char *type_expect(uint32_t type)
{
	switch (type) {
	case RMAIL_CONF_STR:
		return "expected a string";
	case RMAIL_CONF_INT:
		return "expected an integer";
	case RMAIL_CONF_SIZE:
		return "expected a size (bytes, or \"10M\", \"10 MiB\")";
	case RMAIL_CONF_BOOL:
		return "expected true or false";
	case RMAIL_CONF_DURATION:
		return "expected a duration (seconds, or \"30s\", \"5m\", "
		       "\"2h\", \"1d\")";
	case RMAIL_CONF_STR_LIST:
		return "expected a list of strings";
	case RMAIL_CONF_LISTEN:
		return "expected a list of \"host:port\"";
	case RMAIL_CONF_STR_MAP:
		return "expected an object of strings";
	default:
		return "unknown key type";
	}
}

/* Convert one JSON value into the field; problems are reported. */
static void fill_value(struct fill_ctx *fc, const char *path,
		       const struct rmail_conf_key *k, json_t *v, void *field)
{
	const char **sv;
	size_t n, i;

	if (json_is_null(v) && (k->flags & RMAIL_CONF_NULLABLE)) {
		if (k->type == RMAIL_CONF_STR)
			*(const char **)field = NULL;
		/* other types keep their zero value */
		return;
	}
	switch (k->type) {
	case RMAIL_CONF_STR:
		if (!json_is_string(v))
			goto bad;
		*(const char **)field = rm_pstrndup(
			fc->pool, json_string_value(v), json_string_length(v));
		if (strlen(*(const char **)field) != json_string_length(v))
			problem(fc, path, "contains a NUL character");
		return;
	case RMAIL_CONF_INT:
		if (!json_is_integer(v))
			goto bad;
		*(int64_t *)field = json_integer_value(v);
		return;
	case RMAIL_CONF_SIZE:
		if (parse_size(v, (uint64_t *)field) < 0)
			goto bad;
		return;
	case RMAIL_CONF_BOOL:
		if (!json_is_boolean(v))
			goto bad;
		*(int *)field = json_is_true(v);
		return;
	case RMAIL_CONF_DURATION:
		if (parse_duration(v, (double *)field) < 0)
			goto bad;
		return;
	case RMAIL_CONF_STR_LIST:
	case RMAIL_CONF_LISTEN: {
		struct rmail_strlist *l = field;

		if (!json_is_array(v))
			goto bad;
		n = json_array_size(v);
		sv = rm_pcalloc(fc->pool, (n + 1) * sizeof(*sv));
		for (i = 0; i < n; i++) {
			json_t *e = json_array_get(v, i);

			if (!json_is_string(e)) {
				problem(fc, path, "[%zu]: expected a string",
					i);
				continue;
			}
			sv[i] = rm_pstrdup(fc->pool, json_string_value(e));
			if (k->type == RMAIL_CONF_LISTEN &&
			    rm_check_hostport(sv[i]) < 0)
				problem(fc, path, "[%zu]: expected host:port",
					i);
		}
		l->n = n;
		l->v = sv;
		return;
	}
	case RMAIL_CONF_STR_MAP: {
		struct rmail_strmap *m = field;
		const char **kv;
		const char *key;
		json_t *e;

		if (!json_is_object(v))
			goto bad;
		n = json_object_size(v);
		kv = rm_pcalloc(fc->pool, (n + 1) * sizeof(*kv));
		sv = rm_pcalloc(fc->pool, (n + 1) * sizeof(*sv));
		i = 0;
		json_object_foreach(v, key, e)
		{
			if (json_is_object(e) &&
			    (k->flags & RM_CONF_MAP_OBJECTS)) {
				char *js = json_dumps(e, JSON_COMPACT);

				kv[i] = rm_pstrdup(fc->pool, key);
				sv[i] = rm_pstrdup(fc->pool, js ? js : "{}");
				free(js);
				i++;
				continue;
			}
			if (!json_is_string(e)) {
				problem(fc, path, ".%s: expected a string",
					key);
				continue;
			}
			kv[i] = rm_pstrdup(fc->pool, key);
			sv[i] = rm_pstrdup(fc->pool, json_string_value(e));
			i++;
		}
		m->n = i;
		m->k = kv;
		m->v = sv;
		return;
	}
	default:
		problem(fc, path, "key of unknown type %u (module bug)",
			k->type);
		return;
	}
bad:
	problem(fc, path, "%s%s", type_expect(k->type),
		(k->flags & RMAIL_CONF_NULLABLE) ? " or null" : "");
}

/* ---- the table-driven fill ---------------------------------------- */

/* The value at a dotted key, or NULL when absent. */
static json_t *lookup_dotted(json_t *obj, const char *key)
{
	char part[256];
	const char *dot;
	size_t n;

	while (obj != NULL && json_is_object(obj)) {
		dot = strchr(key, '.');
		if (dot == NULL)
			return json_object_get(obj, key);
		n = (size_t)(dot - key);
		if (n >= sizeof(part))
			return NULL;
		memcpy(part, key, n);
		part[n] = '\0';
		obj = json_object_get(obj, part);
		key = dot + 1;
	}
	return NULL;
}

static bool key_is_prefix(const struct rmail_conf_key *keys, const char *rel)
{
	size_t n = strlen(rel);

	for (const struct rmail_conf_key *k = keys; k->key != NULL; k++)
		if (strncmp(k->key, rel, n) == 0 && k->key[n] == '.')
			return true;
	return false;
}

static bool key_exists(const struct rmail_conf_key *keys, const char *rel)
{
	for (const struct rmail_conf_key *k = keys; k->key != NULL; k++)
		if (strcmp(k->key, rel) == 0)
			return true;
	return false;
}

/* Unknown keys: walk the JSON; `rel` is the dotted key of obj. */
static void check_unknown(struct fill_ctx *fc, json_t *obj, const char *rel,
			  const char *path, const struct rmail_conf_key *keys,
			  bool top)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		char *r = path_join(fc->pool, rel, key);
		char *p = path_join(fc->pool, path, key);

		if (key_exists(keys, r))
			continue;
		if (key_is_prefix(keys, r)) {
			if (json_is_object(v))
				check_unknown(fc, v, r, p, keys, false);
			else
				problem(fc, p, "expected an object");
			continue;
		}
		/* top-level objects are module sections, checked later */
		if (top && json_is_object(v))
			continue;
		problem(fc, p, "unknown key");
	}
}

static int fill_keys(struct fill_ctx *fc, json_t *section, const char *prefix,
		     const struct rmail_conf_key *keys, void *out, bool top)
{
	struct rmail_err err;
	int before = fc->errors;

	if (section != NULL && !json_is_object(section)) {
		problem(fc, prefix, "expected an object");
		return -1;
	}
	if (section != NULL)
		check_unknown(fc, section, "", prefix, keys, top);
	for (const struct rmail_conf_key *k = keys; k->key != NULL; k++) {
		char *path = path_join(fc->pool, prefix, k->key);
		void *field = (char *)out + k->offset;
		json_t *v = lookup_dotted(section, k->key);
		int nerr = fc->errors;

		if (v == NULL && (k->flags & RMAIL_CONF_REQUIRED)) {
			problem(fc, path, "required key missing");
			continue;
		}
		if (v == NULL) {
			json_error_t je;
			json_t *d = json_loads(k->def != NULL ? k->def : "null",
					       JSON_DECODE_ANY, &je);

			if (d == NULL) {
				problem(fc, path, "bad default (module bug)");
				continue;
			}
			fill_value(fc, path, k, d, field);
			json_decref(d);
		} else {
			fill_value(fc, path, k, v, field);
		}
		if (fc->errors != nerr || k->check == NULL)
			continue;
		rmail_err_clear(&err);
		if (k->check(field, &err) < 0)
			problem(fc, path, "%s",
				err.msg[0] ? err.msg : "invalid value");
	}
	return fc->errors == before ? 0 : -1;
}

int rm_config_fill(struct rmail_pool *pool, void *section_json,
		   const char *path_prefix, const struct rmail_conf_key *keys,
		   void *out, rm_conf_report_fn report, void *arg)
{
	struct fill_ctx fc = {.pool = pool, .report = report, .arg = arg};

	return fill_keys(
		&fc, section_json, path_prefix ? path_prefix : "",
		keys != NULL ? keys
			     : (const struct rmail_conf_key[]){RMAIL_CONF_END},
		out, false);
}

/* ---- paths -------------------------------------------------------- */

static const char *abs_path(struct rmail_pool *p, const char *dir,
			    const char *s)
{
	if (s == NULL || s[0] == '/')
		return s;
	return rm_psprintf(p, "%s/%s", dir, s);
}

static const char *default_module_dir(void)
{
	char exe[PATH_MAX], probe[PATH_MAX + 16];
	struct stat st;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash != NULL) {
			*slash = '\0';
			snprintf(probe, sizeof(probe), "%s/modules", exe);
			if (stat(probe, &st) == 0 && S_ISDIR(st.st_mode) &&
			    strcmp(exe, RM_MODULE_DIR_BUILD "/..") != 0)
				return RM_MODULE_DIR_BUILD;
		}
	}
	return RM_MODULE_DIR_INSTALL;
}

/* The run directory for pid file and control socket. */
static int run_dir(struct fill_ctx *fc, const char **dir_r)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat st;
	char *d;

	if (geteuid() == 0) {
		(void)mkdir("/run/rmail", 0755);
		*dir_r = "/run/rmail";
		return 0;
	}
	if (xdg != NULL && xdg[0] == '/') {
		*dir_r = rm_pstrdup(fc->pool, xdg);
		return 0;
	}
	d = rm_psprintf(fc->pool, "/tmp/rmail-%u", (unsigned)getuid());
	if (mkdir(d, 0700) < 0 && errno != EEXIST) {
		problem(fc, "pid_file", "cannot create %s: %s", d,
			strerror(errno));
		return -1;
	}
	/* /tmp is shared: refuse a directory someone else planted */
	if (lstat(d, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		problem(fc, "pid_file",
			"%s is not a private directory of "
			"uid %u",
			d, (unsigned)geteuid());
		return -1;
	}
	*dir_r = d;
	return 0;
}

static const char *derived_name(struct rmail_pool *p, const char *cfg_path)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(cfg_path, strlen(cfg_path), md, &mdlen, EVP_sha256(),
		       NULL) != 1 ||
	    mdlen < 4)
		rm_panic("sha256 failed");
	return rm_psprintf(p, "rmail-%02x%02x%02x%02x", md[0], md[1], md[2],
			   md[3]);
}

static int log_level_value(const char *s)
{
	if (strcmp(s, "error") == 0)
		return RMAIL_LOG_ERR;
	if (strcmp(s, "warning") == 0)
		return RMAIL_LOG_WARN;
	if (strcmp(s, "debug") == 0)
		return RMAIL_LOG_DEBUG;
	return RMAIL_LOG_INFO;
}

static const char *system_hostname(struct rmail_pool *p)
{
	char h[256];

	if (gethostname(h, sizeof(h)) < 0 || h[0] == '\0')
		return "localhost";
	h[sizeof(h) - 1] = '\0';
	return rm_pstrdup(p, h);
}

static bool hostname_ok(const char *h)
{
	size_t n = strlen(h), label = 0;

	if (n == 0 || n > 253)
		return false;
	for (const char *p = h; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!(((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '-'))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}

static int convert(struct fill_ctx *fc, const struct rm_core_raw *r,
		   struct rm_config *c)
{
	const char *rundir;

	c->hostname =
		r->hostname != NULL ? r->hostname : system_hostname(c->pool);
	if (!hostname_ok(c->hostname))
		problem(fc, "hostname", "not a valid host name");
	c->mail_root = abs_path(c->pool, c->dir, r->mail_root);
	c->module_dir = r->module_dir != NULL
				? abs_path(c->pool, c->dir, r->module_dir)
				: default_module_dir();
	c->modules = r->modules;
	c->run_as = r->run_as;
	if (c->run_as != NULL && c->run_as[0] == '\0')
		problem(fc, "run_as", "expected a user name or null");
	c->log_level = log_level_value(r->log_level);
	c->tls_cert_file = abs_path(c->pool, c->dir, r->tls_cert_file);
	c->tls_key_file = abs_path(c->pool, c->dir, r->tls_key_file);
	if ((c->tls_cert_file == NULL) != (c->tls_key_file == NULL))
		problem(fc, c->tls_cert_file ? "tls.key_file" : "tls.cert_file",
			"required when the other TLS file is set");
	c->tls_cert2_file = abs_path(c->pool, c->dir, r->tls_cert2_file);
	c->tls_key2_file = abs_path(c->pool, c->dir, r->tls_key2_file);
	c->tls_ticket_secret_file =
		abs_path(c->pool, c->dir, r->tls_ticket_secret_file);
	if ((c->tls_cert2_file == NULL) != (c->tls_key2_file == NULL))
		problem(fc,
			c->tls_cert2_file ? "tls.key2_file" : "tls.cert2_file",
			"required when the other TLS file is set");
	else if (c->tls_cert2_file != NULL && c->tls_cert_file == NULL)
		problem(fc, "tls.cert2_file",
			"a second pair needs tls.cert_file too (the generated "
			"pairs are RSA and ECDSA already)");
	c->delivery.workers = (uint32_t)r->delivery_workers;
	c->delivery.relay_host = r->relay_host;
	c->delivery.routes = r->routes;
	c->relay.tls = rm_relay_tls_mode(r->relay_tls);
	c->relay.user = r->relay_user;
	c->relay.password_file =
		abs_path(c->pool, c->dir, r->relay_password_file);
	if ((c->relay.user == NULL) != (c->relay.password_file == NULL))
		problem(fc,
			c->relay.user ? "delivery.relay_password_file"
				      : "delivery.relay_user",
			"required when the other relay credential is set");
	else if (c->relay.user != NULL && c->relay.tls == RM_RELAY_NONE)
		problem(fc, "delivery.relay_tls",
			"credentials are sent only "
			"under TLS: not none");
	c->delivery.dns_servers = r->dns_servers;
	c->delivery.retry_initial = r->retry_initial;
	c->delivery.retry_max = r->retry_max;
	c->delivery.expire = r->expire;
	if (r->retry_max < r->retry_initial)
		problem(fc, "delivery.retry_max",
			"shorter than delivery.retry_initial");
	c->limits.max_connections_per_ip = (uint32_t)r->max_conn_per_ip;
	c->limits.max_connections = (uint32_t)r->max_conn;
	c->limits.exempt = r->exempt;
	c->limits.auth_fail_limit = (uint32_t)r->auth_fail_limit;
	c->limits.auth_fail_window = r->auth_fail_window;
	c->limits.auth_fail_account_limit =
		(uint32_t)r->auth_fail_account_limit;
	c->limits.auth_ipv6_prefix = (uint32_t)r->auth_ipv6_prefix;
	c->limits.auth_known_ip_ttl = r->auth_known_ip_ttl;
	c->limits.auth_cache_ttl = r->auth_cache_ttl;
	c->auth.rehash = r->auth_rehash != 0;
	c->workers.read = (uint32_t)r->workers_read;
	c->workers.hash = (uint32_t)r->workers_hash;
	c->workers.tls = (uint32_t)r->workers_tls;
	c->admin_listen = r->admin_listen;
	c->shutdown_timeout = r->shutdown_timeout;
	c->proxy.listeners = r->proxy_listeners;
	c->proxy.trusted = r->proxy_trusted;
	c->proxy.timeout = r->proxy_timeout;
	if (c->proxy.listeners.n > 0 && c->proxy.trusted.n == 0)
		problem(fc, "proxy_protocol.trusted_proxies",
			"required when proxy_protocol.listeners is set");
	c->spf.reject_fail = r->spf_reject_fail != 0;
	c->spf.void_limit = (uint32_t)r->spf_void_limit;
	c->spf.explanation = r->spf_explanation;
	c->authserv_id = r->authserv_id != NULL ? r->authserv_id : c->hostname;
	c->dmarc.enabled = r->dmarc_enabled != 0;
	c->mailauth_inbound = r->mailauth_inbound != 0;
	c->dmarc.reject_local_from = r->dmarc_reject_local_from != 0;
	c->dmarc.exceptions = r->dmarc_exceptions;
	c->dmarc.reports = r->dmarc_reports != 0;
	c->dmarc.org_name =
		r->dmarc_org_name != NULL ? r->dmarc_org_name : c->hostname;
	c->dmarc.contact = r->dmarc_contact;
	c->dmarc.report_from =
		r->dmarc_report_from != NULL
			? r->dmarc_report_from
			: rm_psprintf(c->pool, "noreply-dmarc@%s", c->hostname);
	c->outbound.concurrency = (uint32_t)r->delivery_concurrency;
	c->outbound.per_domain = (uint32_t)r->delivery_per_domain;
	c->dns.forwarders = r->dns_forwarders;
	c->dns.recursion = r->dns_recursion != 0;
	c->dns.trust_anchor = abs_path(c->pool, c->dir, r->dns_trust_anchor);
	c->dns.timeout_ms = (uint32_t)r->dns_timeout_ms;
	if (c->dns.recursion && c->dns.forwarders.n > 0)
		problem(fc, "dns.recursion",
			"full recursion and dns.forwarders exclude each other");
	c->outtls.relay_verify = rm_tls_verify_mode(r->relay_tls_verify);
	c->outtls.relay_ca_file = abs_path(c->pool, c->dir, r->relay_ca_file);
	c->dkim.enabled = r->dkim_enabled != 0;
	c->dkim.headers = r->dkim_headers;
	for (size_t i = 0; i < r->dkim_algorithms.n; i++)
		c->dkim.algs |=
			1u << (strcmp(r->dkim_algorithms.v[i], "ed25519") == 0
				       ? DKIM_A_ED25519_SHA256
				       : DKIM_A_RSA_SHA256);
	c->mta_sts.enabled = r->mta_sts_enabled != 0;
	c->mta_sts.ca_file = abs_path(c->pool, c->dir, r->mta_sts_ca_file);
	c->mta_sts.connect_to = r->mta_sts_connect_to;
	c->tlsrpt.reports = r->tlsrpt_reports != 0;
	c->tlsrpt.org_name =
		r->tlsrpt_org_name != NULL ? r->tlsrpt_org_name : c->hostname;
	c->tlsrpt.report_from =
		r->tlsrpt_report_from != NULL
			? r->tlsrpt_report_from
			: rm_psprintf(c->pool, "noreply-tlsrpt@%s",
				      c->hostname);
	c->tlsrpt.contact = r->tlsrpt_contact != NULL ? r->tlsrpt_contact
						      : c->tlsrpt.report_from;
	c->spam.header = r->spam_header;
	c->spam.value = r->spam_value;
	c->processes = r->processes > 0 ? (uint32_t)r->processes : rm_ncpu();
	if (c->processes > HOSTSHM_PROCS)
		c->processes = HOSTSHM_PROCS;
	c->index.enabled = r->index_enabled != 0;
	/* a per-host cache: never on the (maybe shared) mail root */
	c->index.dir = r->index_dir != NULL
			       ? abs_path(c->pool, c->dir, r->index_dir)
		       : strncmp(c->dir, "/etc", 4) == 0 &&
				       (c->dir[4] == '/' || c->dir[4] == '\0')
			       ? "/var/cache/rmail/index"
			       : rm_psprintf(c->pool, "%s/index", c->dir);
	if (c->mail_root != NULL &&
	    strncmp(c->index.dir, c->mail_root, strlen(c->mail_root)) == 0 &&
	    (c->index.dir[strlen(c->mail_root)] == '/' ||
	     c->index.dir[strlen(c->mail_root)] == '\0'))
		problem(fc, "index.dir",
			"must not be under mail_root: SQLite's locking is not "
			"safe on a shared root");

	c->pid_file = abs_path(c->pool, c->dir, r->pid_file);
	c->control_socket = abs_path(c->pool, c->dir, r->control_socket);
	if (c->pid_file == NULL || c->control_socket == NULL) {
		const char *base = derived_name(c->pool, c->path);

		if (run_dir(fc, &rundir) < 0)
			return -1;
		if (c->pid_file == NULL)
			c->pid_file =
				rm_psprintf(c->pool, "%s/%s.pid", rundir, base);
		if (c->control_socket == NULL)
			c->control_socket = rm_psprintf(c->pool, "%s/%s.sock",
							rundir, base);
	}
	return 0;
}

static void report_plain(struct fill_ctx *fc, const char *fmt, ...)
	RMAIL_PRINTF(2, 3);

static void report_plain(struct fill_ctx *fc, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fc->errors++;
	if (fc->report != NULL)
		fc->report(fc->arg, line);
	else
		rm_log(RMAIL_LOG_ERR, "%s", line);
}

static json_t *read_json(struct fill_ctx *fc, const char *path)
{
	json_error_t je;
	struct stat st;
	json_t *root;
	FILE *f;

	f = fopen(path, "re");
	if (f == NULL) {
		report_plain(fc, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) == 0 && st.st_size > CONF_MAX_FILE) {
		report_plain(fc, "%s: larger than %u bytes", path,
			     CONF_MAX_FILE);
		fclose(f);
		return NULL;
	}
	root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
	fclose(f);
	if (root == NULL) {
		report_plain(fc, "%s:%d:%d: %s", path, je.line, je.column,
			     je.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		report_plain(fc, "%s:1:1: expected a JSON object", path);
		json_decref(root);
		return NULL;
	}
	return root;
}

int rm_config_load(const char *path, struct rm_config **conf_r,
		   rm_conf_report_fn report, void *arg)
{
	struct fill_ctx fc = {.report = report, .arg = arg};
	struct rm_core_raw raw;
	struct rm_config *c;
	char *real, *slash;
	json_t *root;

	*conf_r = NULL;
	root = read_json(&fc, path);
	if (root == NULL)
		return -1;
	real = realpath(path, NULL);
	if (real == NULL) {
		report_plain(&fc, "%s: %s", path, strerror(errno));
		json_decref(root);
		return -1;
	}
	fc.pool = rm_pool_create(NULL);
	c = rm_pcalloc(fc.pool, sizeof(*c));
	c->pool = fc.pool;
	c->json = root;
	c->path = rm_pstrdup(fc.pool, real);
	free(real);
	c->dir = rm_pstrdup(fc.pool, c->path);
	slash = strrchr((char *)c->dir, '/');
	if (slash == c->dir)
		slash[1] = '\0';
	else
		*slash = '\0';

	memset(&raw, 0, sizeof(raw));
	if (fill_keys(&fc, root, "", rm_core_keys, &raw, true) == 0)
		(void)convert(&fc, &raw, c);
	if (fc.errors > 0) {
		rm_config_free(&c);
		return -1;
	}
	*conf_r = c;
	return 0;
}

void rm_config_report_log(void *arg, const char *problem)
{
	(void)arg;
	rm_log(RMAIL_LOG_ERR, "%s", problem);
}

void rm_config_free(struct rm_config **conf)
{
	struct rmail_pool *p;

	if (*conf == NULL)
		return;
	if (*conf == conf_current)
		conf_current = NULL;
	json_decref((*conf)->json);
	p = (*conf)->pool;
	*conf = NULL;
	rm_pool_destroy(&p);
}

void *rm_config_section(const struct rm_config *conf, const char *section)
{
	if (conf == NULL || section == NULL)
		return NULL;
	return json_object_get(conf->json, section);
}

/* ---- locate, defaults, restart keys ------------------------------- */

const char *rm_config_locate(const char *cli_path, bool *exists_r)
{
	const char *env = getenv("RMAIL_CONFIG");
	const char *path;

	if (cli_path != NULL)
		path = cli_path;
	else if (env != NULL && env[0] != '\0')
		path = env;
	else if (access("./config.json", F_OK) == 0)
		path = "./config.json";
	else if (access("/etc/rmail/config.json", F_OK) == 0)
		path = "/etc/rmail/config.json";
	else
		path = "./config.json";
	if (exists_r != NULL)
		*exists_r = access(path, F_OK) == 0;
	return path;
}

int rm_config_write_default(const char *path, struct rmail_err *err)
{
	char host[256];
	const char *root = geteuid() == 0 ? "/var/lib/rmail" : "mail";
	FILE *f;
	int fd;

	if (gethostname(host, sizeof(host)) < 0 || !hostname_ok(host))
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0)
		return rmail_err_set(err, RMAIL_E_IO, "%s: %s", path,
				     strerror(errno));
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		return rmail_err_set(err, RMAIL_E_IO, "%s: %s", path,
				     strerror(errno));
	}
	/* JSON has no comments: docs/configuration.md documents each key;
	 * every key left out here takes its documented default. */
	fprintf(f,
		"{\n"
		"  \"hostname\": \"%s\",\n"
		"  \"mail_root\": \"%s\",\n"
		"  \"module_dir\": null,\n"
		"  \"modules\": [\"mod_shardstore\", \"mod_smtp\", "
		"\"mod_imap\", \"mod_exchange\"],\n"
		"  \"run_as\": null,\n"
		"  \"tls\": {\"cert_file\": null, \"key_file\": null},\n"
		"  \"smtp\": {\"listen\": [\"0.0.0.0:25\"], "
		"\"submission_listen\": [\"0.0.0.0:587\"],\n"
		"           \"smtps_listen\": [\"0.0.0.0:465\"]},\n"
		"  \"imap\": {\"listen\": [\"0.0.0.0:143\"], "
		"\"imaps_listen\": [\"0.0.0.0:993\"]},\n"
		"  \"exchange_api\": {\"listen\": [\"0.0.0.0:9002\"], "
		"\"tls_listen\": [\"0.0.0.0:9003\"],\n"
		"                   \"token_secret\": null},\n"
		"  \"delivery\": {\"workers\": 4}\n"
		"}\n",
		host, root);
	if (fclose(f) != 0)
		return rmail_err_set(err, RMAIL_E_IO, "%s: %s", path,
				     strerror(errno));
	return 0;
}

/* The value a key has in a config: explicit, else its default. */
static json_t *value_or_default(json_t *section, const char *key,
				const char *def, json_t **owned_r)
{
	json_t *v = lookup_dotted(section, key);

	*owned_r = NULL;
	if (v != NULL)
		return v;
	*owned_r =
		json_loads(def != NULL ? def : "null", JSON_DECODE_ANY, NULL);
	return *owned_r;
}

static bool key_changed(json_t *old_sec, json_t *new_sec, const char *key,
			const char *def)
{
	json_t *o_own, *n_own;
	json_t *o = value_or_default(old_sec, key, def, &o_own);
	json_t *n = value_or_default(new_sec, key, def, &n_own);
	bool changed = !json_equal(o, n);

	json_decref(o_own);
	json_decref(n_own);
	return changed;
}

static void add_key(struct rmail_pool *p, char **acc, const char *key)
{
	*acc = *acc == NULL ? rm_pstrdup(p, key)
			    : rm_psprintf(p, "%s, %s", *acc, key);
}

/* "Needs a restart" is the absence of RMAIL_CONF_RELOADABLE, for the
 * core's keys and every loaded module's alike: the flag is the one
 * list, so a new key cannot be forgotten here. */
const char *rm_config_restart_keys(const struct rm_config *old,
				   const struct rm_config *new_)
{
	char *acc = NULL;

	for (const struct rmail_conf_key *k = rm_core_keys; k->key != NULL; k++)
		if (!(k->flags & RMAIL_CONF_RELOADABLE) &&
		    key_changed(old->json, new_->json, k->key, k->def))
			add_key(new_->pool, &acc, k->key);
	for (size_t i = 0; i < rm_module_count(); i++) {
		const struct rmail_module *d = rm_module_at(i)->mctx.module;
		json_t *os, *ns;

		if (d->section == NULL || d->conf_keys == NULL)
			continue;
		os = json_object_get(old->json, d->section);
		ns = json_object_get(new_->json, d->section);
		for (const struct rmail_conf_key *k = d->conf_keys;
		     k->key != NULL; k++) {
			if ((k->flags & RMAIL_CONF_RELOADABLE) ||
			    !key_changed(os, ns, k->key, k->def))
				continue;
			add_key(new_->pool, &acc,
				rm_psprintf(new_->pool, "%s.%s", d->section,
					    k->key));
		}
	}
	return acc;
}
