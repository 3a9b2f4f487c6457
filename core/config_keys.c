/* The core's own keys of config.json, with their defaults.  The
 * top-level of config.json is filled by the same engine as a module
 * section (rm_config_fill), so one set of rules applies everywhere. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "config_keys.h"
#include "hostshm.h"
#include "mailauth/spf_record.h"
#include "submit/route_conf.h"
#include "submit/tls_policy.h"

/* mta_sts.connect_to: "HOST:PORT:TOHOST:TOPORT" (libcurl's
 * CURLOPT_CONNECT_TO; HOST and TOHOST may be empty, an IPv6 TOHOST is
 * in brackets) */
static int check_connect_to(const void *field, struct rmail_err *err)
{
	const struct rmail_strlist *l = field;

	for (size_t i = 0; i < l->n; i++) {
		const char *s = l->v[i], *c1 = strchr(s, ':'), *last;

		last = strrchr(s, ':');
		if (c1 == NULL || last == c1 || strpbrk(s, " \t\r\n") ||
		    atoi(last + 1) <= 0 || atoi(last + 1) > 65535)
			return rmail_err_set(
				err, RMAIL_E_INVAL,
				"expected HOST:PORT:TOHOST:TOPORT");
	}
	return 0;
}

#define K(name, type, flags, field, def, doc, check)                           \
	{                                                                      \
		name, type, flags, offsetof(struct rm_core_raw, field), def,   \
			doc, check                                             \
	}

static int check_positive(const void *field, struct rmail_err *err)
{
	if (*(const int64_t *)field <= 0)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "expected a positive integer");
	if (*(const int64_t *)field > 1000000)
		return rmail_err_set(err, RMAIL_E_INVAL, "too large");
	return 0;
}

static int check_nonneg(const void *field, struct rmail_err *err)
{
	int64_t v = *(const int64_t *)field;

	if (v < 0 || v > 1024)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "expected an integer from 0 to 1024");
	return 0;
}

/* each worker has its own column of per-IP connection counts */
static int check_processes(const void *field, struct rmail_err *err)
{
	int64_t v = *(const int64_t *)field;

	if (v < 0 || v > HOSTSHM_PROCS)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "expected an integer from 0 to %d",
				     HOSTSHM_PROCS);
	return 0;
}

static int check_duration(const void *field, struct rmail_err *err)
{
	if (*(const double *)field <= 0)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "expected a positive duration");
	return 0;
}

static int check_nonneg_duration(const void *field, struct rmail_err *err)
{
	if (*(const double *)field < 0)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "expected a duration, 0 or more");
	return 0;
}

static int check_prefix(const void *field, struct rmail_err *err)
{
	int64_t v = *(const int64_t *)field;

	if (v < 1 || v > 128)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "expected a prefix length 1 to 128");
	return 0;
}

static int check_relay_tls(const void *field, struct rmail_err *err)
{
	const char *s = *(const char *const *)field;

	if (rm_relay_tls_mode(s) < 0)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "expected one of "
				     "starttls, implicit, none");
	return 0;
}

static int check_tls_verify(const void *field, struct rmail_err *err)
{
	if (rm_tls_verify_mode(*(const char *const *)field) < 0)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "expected verify, dane, encrypt or "
				     "opportunistic");
	return 0;
}

int rm_relay_tls_mode(const char *s)
{
	if (strcmp(s, "starttls") == 0)
		return RM_RELAY_STARTTLS;
	if (strcmp(s, "implicit") == 0)
		return RM_RELAY_IMPLICIT;
	if (strcmp(s, "none") == 0)
		return RM_RELAY_NONE;
	return -1;
}

static int check_dkim_algs(const void *field, struct rmail_err *err)
{
	const struct rmail_strlist *l = field;

	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], "ed25519") != 0 &&
		    strcmp(l->v[i], "rsa") != 0)
			return rmail_err_set(err, RMAIL_E_INVAL,
					     "expected ed25519 or rsa");
	return 0;
}

static int check_level(const void *field, struct rmail_err *err)
{
	static const char *const names[] = {"error", "warning", "info", "debug",
					    NULL};
	const char *s = *(const char *const *)field;

	for (size_t i = 0; names[i] != NULL; i++)
		if (strcmp(s, names[i]) == 0)
			return 0;
	return rmail_err_set(err, RMAIL_E_INVAL,
			     "expected one of error, warning, info, debug");
}

int rm_check_hostport(const char *s)
{
	const char *colon, *host_end, *p;
	unsigned long port;
	char *end;

	if (s[0] == '[') {
		char buf[INET6_ADDRSTRLEN + 1];
		unsigned char a[16];
		size_t n;

		host_end = strchr(s, ']');
		if (host_end == NULL || host_end[1] != ':')
			return -1;
		n = (size_t)(host_end - s - 1);
		if (n == 0 || n >= sizeof(buf))
			return -1;
		memcpy(buf, s + 1, n);
		buf[n] = '\0';
		if (inet_pton(AF_INET6, buf, a) != 1)
			return -1;
		colon = host_end + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || colon == s)
			return -1;
		/* a hostname or IPv4 literal: no bare IPv6 without [] */
		for (p = s; p < colon; p++)
			if (!(((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z') ||
			      (*p >= '0' && *p <= '9') || *p == '-' ||
			      *p == '.' || *p == '_' || *p == '*'))
				return -1;
	}
	if (colon[1] < '0' || colon[1] > '9')
		return -1;
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port == 0 || port > 65535)
		return -1;
	return 0;
}

int rm_check_network(const char *s)
{
	char buf[INET6_ADDRSTRLEN + 1];
	unsigned char a[16];
	const char *slash = strchr(s, '/');
	size_t n = slash != NULL ? (size_t)(slash - s) : strlen(s);
	unsigned long bits, max;
	char *end;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, a) == 1)
		max = 32;
	else if (inet_pton(AF_INET6, buf, a) == 1)
		max = 128;
	else
		return -1;
	if (slash == NULL)
		return 0;
	if (slash[1] < '0' || slash[1] > '9')
		return -1;
	bits = strtoul(slash + 1, &end, 10);
	return *end == '\0' && bits <= max ? 0 : -1;
}

/* List checks answer "[i]: ..." so the path names the element. */
static int check_networks(const void *field, struct rmail_err *err)
{
	const struct rmail_strlist *l = field;

	for (size_t i = 0; i < l->n; i++)
		if (rm_check_network(l->v[i]) < 0)
			return rmail_err_set(err, RMAIL_E_INVAL,
					     "[%zu]: not a network", i);
	return 0;
}

/* "IP" or "IP@PORT" (libunbound's forwarder syntax) */
int rm_check_dns_server(const char *s)
{
	char ip[64];
	const char *at = strchr(s, '@');
	size_t n = at ? (size_t)(at - s) : strlen(s);
	unsigned char a[16];

	if (n == 0 || n >= sizeof(ip))
		return -1;
	memcpy(ip, s, n);
	ip[n] = '\0';
	if (inet_pton(AF_INET, ip, a) != 1 && inet_pton(AF_INET6, ip, a) != 1)
		return -1;
	if (at != NULL) {
		char *end;
		long port = strtol(at + 1, &end, 10);

		if (at[1] == '\0' || *end != '\0' || port < 1 || port > 65535)
			return -1;
	}
	return 0;
}

static int check_dns_servers(const void *field, struct rmail_err *err)
{
	const struct rmail_strlist *l = field;

	for (size_t i = 0; i < l->n; i++)
		if (rm_check_dns_server(l->v[i]) < 0)
			return rmail_err_set(err, RMAIL_E_INVAL,
					     "[%zu]: not an IP address "
					     "(or IP@PORT)",
					     i);
	return 0;
}

static int check_timeout_ms(const void *field, struct rmail_err *err)
{
	int64_t v = *(const int64_t *)field;

	if (v < 10 || v > 600000)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "expected 10 to 600000 (ms)");
	return 0;
}

static int check_opt_hostport(const void *field, struct rmail_err *err)
{
	const char *s = *(const char *const *)field;

	if (s != NULL && rm_check_hostport(s) < 0)
		return rmail_err_set(err, RMAIL_E_INVAL, "expected host:port");
	return 0;
}

static int check_routes(const void *field, struct rmail_err *err)
{
	const struct rmail_strmap *m = field;

	struct rm_route_conf rc;
	char why[128];

	for (size_t i = 0; i < m->n; i++)
		if (rm_route_parse(m->v[i], &rc, why, sizeof(why)) < 0)
			return rmail_err_set(err, RMAIL_E_INVAL, ".%s: %s",
					     m->k[i], why);
	return 0;
}

/* dmarc.exceptions: "user@domain", "domain" or ".domain" */
static int check_exceptions(const void *field, struct rmail_err *err)
{
	const struct rmail_strlist *l = field;

	for (size_t i = 0; i < l->n; i++) {
		const char *s = l->v[i], *at = strchr(s, '@');

		if (*s == '\0' || strpbrk(s, " \t\r\n,;<>\"") != NULL ||
		    (at != NULL &&
		     (at == s || at[1] == '\0' || strchr(at + 1, '@') != NULL)))
			return rmail_err_set(err, RMAIL_E_INVAL,
					     "[%zu]: expected an address, a "
					     "domain or .domain",
					     i);
	}
	return 0;
}

/* a header token: no white space, no specials that would need quoting */
/* an RFC 5322 field name: printable ASCII but the colon */
static int check_field_name(const void *field, struct rmail_err *err)
{
	const char *s = *(const char *const *)field;

	if (s == NULL)
		return 0;
	if (s[0] == '\0' || strlen(s) > 76)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "a header field name, 1 to 76 characters");
	for (; *s != '\0'; s++)
		if (*s <= ' ' || *s >= 0x7f || *s == ':')
			return rmail_err_set(err, RMAIL_E_INVAL,
					     "not a header field name");
	return 0;
}

static int check_spam_value(const void *field, struct rmail_err *err)
{
	const char *s = *(const char *const *)field;

	if (s == NULL || s[0] == '\0' || strlen(s) > 200)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "a value, 1 to 200 characters");
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return rmail_err_set(err, RMAIL_E_INVAL,
					     "control character");
	return 0;
}

static int check_authserv_id(const void *field, struct rmail_err *err)
{
	const char *s = *(const char *const *)field;

	if (s == NULL)
		return 0;
	if (*s == '\0' || strlen(s) > 253)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "expected a host name");
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' ||
		      *s == '_'))
			return rmail_err_set(err, RMAIL_E_INVAL,
					     "use letters, digits, '.', '-' "
					     "and '_' only");
	return 0;
}

static int check_modules(const void *field, struct rmail_err *err)
{
	const struct rmail_strlist *l = field;

	for (size_t i = 0; i < l->n; i++) {
		const char *s = l->v[i];

		if (strncmp(s, "mod_", 4) != 0 || s[4] == '\0')
			return rmail_err_set(err, RMAIL_E_INVAL,
					     "[%zu]: expected a module name "
					     "like \"mod_smtp\"",
					     i);
		for (const char *p = s + 4; *p != '\0'; p++)
			if (!((*p >= 'a' && *p <= 'z') ||
			      (*p >= '0' && *p <= '9') || *p == '_'))
				return rmail_err_set(
					err, RMAIL_E_INVAL,
					"[%zu]: module names use a-z, 0-9 "
					"and _",
					i);
	}
	return 0;
}

static int check_void_limit(const void *field, struct rmail_err *err)
{
	int64_t v = *(const int64_t *)field;

	if (v < 1 || v > 20)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "expected 1 to 20 (RFC 7208 suggests 2)");
	return 0;
}

static int check_spf_exp(const void *field, struct rmail_err *err)
{
	const char *s = *(const char *const *)field;

	if (s != NULL && !spf_macro_valid(s, strlen(s), true, false))
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "not an SPF macro-string (RFC 7208 §7: "
				     "printable ASCII, %%{letter}, %%%%, %%_, "
				     "%%-)");
	return 0;
}

#define S RMAIL_CONF_STR
#define N RMAIL_CONF_NULLABLE
#define R RMAIL_CONF_RELOADABLE

const struct rmail_conf_key rm_core_keys[] = {
	K("hostname", S, N | R, hostname, "null",
	  "the server's name (null: the machine's host name)", NULL),
	K("mail_root", S, 0, mail_root, "\"/var/lib/rmail\"",
	  "where the store, queue and generated TLS files live", NULL),
	K("module_dir", S, N, module_dir, "null",
	  "folder of mod_*.so (null: build tree or install folder)", NULL),
	K("modules", RMAIL_CONF_STR_LIST, 0, modules,
	  "[\"mod_shardstore\", \"mod_smtp\", \"mod_imap\", "
	  "\"mod_exchange\"]",
	  "modules to load, in order", check_modules),
	K("run_as", S, N, run_as, "null",
	  "user to drop to after binding (null: stay)", NULL),
	K("pid_file", S, N, pid_file, "null",
	  "pid file (null: derived from the config path)", NULL),
	K("control_socket", S, N, control_socket, "null",
	  "control socket (null: derived from the config path)", NULL),
	K("log_level", S, R, log_level, "\"info\"",
	  "error, warning, info or debug", check_level),
	K("tls.cert_file", S, N | R, tls_cert_file, "null",
	  "certificate chain PEM (null: generated)", NULL),
	K("tls.key_file", S, N | R, tls_key_file, "null",
	  "private key PEM (null: generated)", NULL),
	K("tls.cert2_file", S, N | R, tls_cert2_file, "null",
	  "a second certificate chain PEM, of the other key type (an ECDSA "
	  "one beside RSA, or the reverse)",
	  NULL),
	K("tls.key2_file", S, N | R, tls_key2_file, "null",
	  "the private key PEM of tls.cert2_file", NULL),
	K("tls.ticket_secret_file", S, N | R, tls_ticket_secret_file, "null",
	  "secret (32+ bytes, mode 0600) the session ticket keys derive "
	  "from; the same file on every host lets clients resume anywhere "
	  "(null: mail_root/tls/ticket.key, generated)",
	  NULL),
	K("delivery.workers", RMAIL_CONF_INT, 0, delivery_workers, "4",
	  "threads for durable writes", check_positive),
	K("delivery.relay_host", S, N | R, relay_host, "null",
	  "smarthost host:port for all remote mail (null: MX)",
	  check_opt_hostport),
	K("delivery.relay_tls", S, R, relay_tls, "\"starttls\"",
	  "TLS to the relay: starttls (opportunistic), implicit or none",
	  check_relay_tls),
	K("delivery.relay_user", S, N | R, relay_user, "null",
	  "AUTH PLAIN user at the relay, sent only under TLS", NULL),
	K("delivery.relay_password_file", S, N | R, relay_password_file, "null",
	  "file whose first line is the relay password", NULL),
	K("delivery.routes", RMAIL_CONF_STR_MAP, R | RM_CONF_MAP_OBJECTS,
	  routes, "{}",
	  "per-domain next hop: {\"domain\": \"host:port\"} or {\"domain\": "
	  "{\"host\": \"host:port\", \"tls\": ..., \"tls_verify\": ..., "
	  "\"ca_file\": ...}}",
	  check_routes),
	K("delivery.dns_servers", RMAIL_CONF_STR_LIST, 0, dns_servers, "[]",
	  "resolvers, IP or IP@PORT (deprecated: use dns.forwarders)",
	  check_dns_servers),
	K("delivery.concurrency", RMAIL_CONF_INT, 0, delivery_concurrency, "8",
	  "outbound deliveries in parallel (threads of the delivery pool)",
	  check_positive),
	K("delivery.per_domain", RMAIL_CONF_INT, R, delivery_per_domain, "4",
	  "SMTP sessions at once to one destination domain", check_positive),
	K("delivery.retry_initial", RMAIL_CONF_DURATION, R, retry_initial,
	  "\"5m\"", "first retry delay", check_duration),
	K("delivery.retry_max", RMAIL_CONF_DURATION, R, retry_max, "\"4h\"",
	  "longest retry delay", check_duration),
	K("delivery.expire", RMAIL_CONF_DURATION, R, expire, "\"5d\"",
	  "bounce after this long in the queue", check_duration),
	K("limits.max_connections_per_ip", RMAIL_CONF_INT, R, max_conn_per_ip,
	  "20", "connections per client IP", check_positive),
	K("limits.max_connections", RMAIL_CONF_INT, R, max_conn, "10000",
	  "connections in total", check_positive),
	K("limits.exempt", RMAIL_CONF_STR_LIST, R, exempt,
	  "[\"127.0.0.0/8\", \"::1\"]", "networks without connection caps",
	  check_networks),
	K("limits.auth_fail_limit", RMAIL_CONF_INT, R, auth_fail_limit, "20",
	  "failed logins per client IP (IPv6: per prefix) within "
	  "auth_fail_window, every protocol together; then logins are "
	  "refused unchecked",
	  check_positive),
	K("limits.auth_fail_window", RMAIL_CONF_DURATION, R, auth_fail_window,
	  "\"15m\"", "window of the failed-login counts", check_duration),
	K("limits.auth_fail_account_limit", RMAIL_CONF_INT, R,
	  auth_fail_account_limit, "20",
	  "failed logins per account from IPs it has not logged in from; "
	  "then those IPs are refused for it",
	  check_positive),
	K("limits.auth_ipv6_prefix", RMAIL_CONF_INT, R, auth_ipv6_prefix, "64",
	  "IPv6 clients share one failure budget per prefix of this length",
	  check_prefix),
	K("limits.auth_known_ip_ttl", RMAIL_CONF_DURATION, R, auth_known_ip_ttl,
	  "\"30d\"",
	  "how long a successful login exempts its IP from the account's "
	  "budget",
	  check_duration),
	K("limits.auth_cache_ttl", RMAIL_CONF_DURATION, R, auth_cache_ttl,
	  "\"60s\"",
	  "how long a successful password check is reused (0: never)",
	  check_nonneg_duration),
	K("auth.rehash", RMAIL_CONF_BOOL, R, auth_rehash, "true",
	  "on a successful login, replace a password hash of another scheme "
	  "(an imported Dovecot hash) by one in the store's default scheme",
	  NULL),
	K("workers.read", RMAIL_CONF_INT, 0, workers_read, "2",
	  "threads for store reads and searches", check_positive),
	K("workers.hash", RMAIL_CONF_INT, 0, workers_hash, "2",
	  "threads for password hashing", check_positive),
	K("workers.tls", RMAIL_CONF_INT, 0, workers_tls, "0",
	  "threads for TLS handshakes (0: one fewer than the cores, at "
	  "least one)",
	  check_nonneg),
	K("admin.listen", RMAIL_CONF_LISTEN, 0, admin_listen, "[]",
	  "metrics/admin HTTP listeners (empty: none)", NULL),
	K("shutdown_timeout", RMAIL_CONF_DURATION, R, shutdown_timeout,
	  "\"10s\"", "how long a stop waits for work in flight",
	  check_duration),
	K("proxy_protocol.listeners", RMAIL_CONF_STR_LIST, R, proxy_listeners,
	  "[]",
	  "listeners (\"smtp.listen\", \"imap.imaps_listen\" ...) whose "
	  "connections start with a PROXY protocol v1 or v2 header",
	  NULL),
	K("proxy_protocol.trusted_proxies", RMAIL_CONF_STR_LIST, R,
	  proxy_trusted, "[]",
	  "networks allowed to send the header; a connection from anyone "
	  "else to such a listener is refused",
	  check_networks),
	K("proxy_protocol.timeout", RMAIL_CONF_DURATION, R, proxy_timeout,
	  "\"5s\"", "how long to wait for the header", check_duration),
	K("spf.reject_fail", RMAIL_CONF_BOOL, R, spf_reject_fail, "false",
	  "reject mail whose SPF result is fail when the From: domain "
	  "publishes no DMARC policy (otherwise the fail is recorded in "
	  "Authentication-Results only)",
	  NULL),
	K("spf.void_limit", RMAIL_CONF_INT, R, spf_void_limit, "2",
	  "SPF look-ups answering NXDOMAIN or no records allowed per check "
	  "before permerror",
	  check_void_limit),
	K("spf.explanation", S, N | R, spf_explanation, "null",
	  "explanation of an SPF fail when the domain gives none (exp=), "
	  "an RFC 7208 macro-string (null: \"%{c} is not allowed to send "
	  "mail from %{o}\")",
	  check_spf_exp),
	K("mailauth.authserv_id", S, N | R, authserv_id, "null",
	  "the authserv-id of rmail's Authentication-Results (null: the "
	  "hostname); the same on every host of a cluster",
	  check_authserv_id),
	K("mailauth.inbound", RMAIL_CONF_BOOL, R, mailauth_inbound, "true",
	  "check SPF, DKIM and DMARC of mail received on port 25 and add "
	  "Authentication-Results",
	  NULL),
	K("dmarc.enabled", RMAIL_CONF_BOOL, R, dmarc_enabled, "true",
	  "evaluate DMARC on mail received on port 25", NULL),
	K("dmarc.reject_unauthenticated_local_from", RMAIL_CONF_BOOL, R,
	  dmarc_reject_local_from, "true",
	  "refuse port-25 mail whose From: is in a local domain when neither "
	  "SPF nor DKIM passes for that domain",
	  NULL),
	K("dmarc.exceptions", RMAIL_CONF_STR_LIST, R, dmarc_exceptions, "[]",
	  "envelope senders (address, domain, .domain for its subdomains) "
	  "whose DMARC failures are never quarantined or rejected: mailing "
	  "lists that break DKIM",
	  check_exceptions),
	K("dmarc.reports", RMAIL_CONF_BOOL, R, dmarc_reports, "true",
	  "record results and send daily aggregate reports to rua=", NULL),
	K("dmarc.org_name", S, N | R, dmarc_org_name, "null",
	  "org_name of the aggregate reports (null: the hostname)", NULL),
	K("dmarc.contact", S, N | R, dmarc_contact, "null",
	  "extra_contact_info of the reports (null: none)", NULL),
	K("dmarc.report_from", S, N | R, dmarc_report_from, "null",
	  "sender of the reports (null: noreply-dmarc@<hostname>)", NULL),
	K("dns.forwarders", RMAIL_CONF_STR_LIST, 0, dns_forwarders, "[]",
	  "resolvers to forward to, IP or IP@PORT (empty: "
	  "delivery.dns_servers, else /etc/resolv.conf's)",
	  check_dns_servers),
	K("dns.recursion", RMAIL_CONF_BOOL, 0, dns_recursion, "false",
	  "resolve from the root servers ourselves instead of forwarding",
	  NULL),
	K("dns.trust_anchor", S, N, dns_trust_anchor,
	  "\"/usr/share/dns/root.key\"",
	  "DNSSEC root trust anchor file (null: no validation)", NULL),
	K("dns.timeout_ms", RMAIL_CONF_INT, 0, dns_timeout_ms, "5000",
	  "bound on one DNS question, in milliseconds", check_timeout_ms),
	K("dkim.enabled", RMAIL_CONF_BOOL, R, dkim_enabled, "true",
	  "sign mail leaving through submission (From: in a local domain) "
	  "and bounces with the domain's active DKIM keys",
	  NULL),
	K("dkim.algorithms", RMAIL_CONF_STR_LIST, R, dkim_algorithms,
	  "[\"ed25519\", \"rsa\"]",
	  "signatures added per message: ed25519 (ed25519-sha256), rsa "
	  "(rsa-sha256)",
	  check_dkim_algs),
	K("dkim.headers", RMAIL_CONF_STR_LIST, R, dkim_headers, "[]",
	  "header fields to sign, each over-signed (empty: RFC 6376 "
	  "5.4.1's set, see docs/mailauth.md)",
	  NULL),
	K("delivery.relay_tls_verify", S, R, relay_tls_verify, "\"verify\"",
	  "authentication of the relay: verify (CA store, name = the relay "
	  "host), dane (its TLSA records), encrypt (TLS, unauthenticated) or "
	  "opportunistic (STARTTLS when offered, the pre-1.4 behaviour)",
	  check_tls_verify),
	K("delivery.relay_ca_file", S, N | R, relay_ca_file, "null",
	  "CA certificates (PEM) that verify the relay (null: the system "
	  "store)",
	  NULL),
	K("mta_sts.enabled", RMAIL_CONF_BOOL, R, mta_sts_enabled, "true",
	  "honour the MTA-STS policies (RFC 8461) of destination domains",
	  NULL),
	K("mta_sts.ca_file", S, N | R, mta_sts_ca_file, "null",
	  "CA certificates (PEM) for MTA-STS policy fetches, the MX "
	  "certificates checked under a policy and TLS-RPT HTTPS uploads "
	  "(null: the system store); for tests and private setups",
	  NULL),
	K("mta_sts.connect_to", RMAIL_CONF_STR_LIST, R, mta_sts_connect_to,
	  "[]",
	  "HTTPS connections redirected, libcurl CONNECT_TO entries "
	  "\"HOST:PORT:TOHOST:TOPORT\" (the certificate is still checked "
	  "for HOST); for tests and special setups only",
	  check_connect_to),
	K("tlsrpt.reports", RMAIL_CONF_BOOL, R, tlsrpt_reports, "true",
	  "record outbound TLS results and send daily TLS-RPT reports "
	  "(RFC 8460) to domains that ask for them",
	  NULL),
	K("tlsrpt.org_name", S, N | R, tlsrpt_org_name, "null",
	  "organization-name of the reports (null: the hostname)", NULL),
	K("tlsrpt.contact", S, N | R, tlsrpt_contact, "null",
	  "contact-info of the reports (null: tlsrpt.report_from)", NULL),
	K("tlsrpt.report_from", S, N | R, tlsrpt_report_from, "null",
	  "sender of the reports (null: noreply-tlsrpt@<hostname>)", NULL),
	K("spam.header", S, N | R, spam_header, "\"X-Spam\"",
	  "the header field a filter adds to mark spam: local copies go to "
	  "the recipient's Junk; removed from what the client sent (null: "
	  "no spam routing)",
	  check_field_name),
	K("spam.value", S, R, spam_value, "\"Yes\"",
	  "the value of spam.header that means spam (case-insensitive)",
	  check_spam_value),
	K("processes", RMAIL_CONF_INT, 0, processes, "0",
	  "worker processes, each with its own event loop on the shared "
	  "listeners (0: one per core, at most 32; 1: a single process, no "
	  "supervisor)",
	  check_processes),
	K("index.enabled", RMAIL_CONF_BOOL, 0, index_enabled, "true",
	  "keep the per-host header cache and full-text index that IMAP "
	  "SEARCH uses (docs/storage.md); off: searches read every message",
	  NULL),
	K("index.dir", S, N, index_dir, "null",
	  "where the index lives: a local directory of this host, never "
	  "under mail_root (null: /var/cache/rmail/index for a config under "
	  "/etc, else index/ beside the config file)",
	  NULL),
	RMAIL_CONF_END};
