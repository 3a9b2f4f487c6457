/* The core's own config keys (config_keys.c), shared by config.c and
 * the docs generator-to-be.  Internal to the core. */
#ifndef RM_CONFIG_KEYS_H
#define RM_CONFIG_KEYS_H

#include "rm.h"

/* Filled by rm_config_fill from the top level, then converted into
 * struct rm_config (whose field types are narrower). */
struct rm_core_raw {
	const char *hostname;
	const char *mail_root;
	const char *module_dir;
	struct rmail_strlist modules;
	const char *run_as;
	const char *pid_file;
	const char *control_socket;
	const char *log_level;
	const char *tls_cert_file;
	const char *tls_key_file;
	const char *tls_cert2_file;
	const char *tls_key2_file;
	const char *tls_ticket_secret_file;
	int64_t delivery_workers;
	const char *relay_host;
	const char *relay_tls, *relay_user, *relay_password_file;
	struct rmail_strmap routes;
	struct rmail_strlist dns_servers;
	double retry_initial, retry_max, expire;
	int64_t max_conn_per_ip, max_conn;
	struct rmail_strlist exempt;
	int64_t auth_fail_limit;
	double auth_fail_window;
	int64_t auth_fail_account_limit, auth_ipv6_prefix;
	double auth_known_ip_ttl, auth_cache_ttl;
	int auth_rehash;
	int64_t workers_read, workers_hash, workers_tls;
	struct rmail_strlist admin_listen;
	double shutdown_timeout;
	struct rmail_strlist proxy_listeners;
	struct rmail_strlist proxy_trusted;
	double proxy_timeout;
	int spf_reject_fail;
	int64_t spf_void_limit;
	const char *spf_explanation;
	const char *authserv_id;
	int dmarc_enabled, dmarc_reject_local_from, dmarc_reports;
	int mailauth_inbound;
	struct rmail_strlist dmarc_exceptions;
	const char *dmarc_org_name, *dmarc_contact, *dmarc_report_from;
	int64_t delivery_concurrency, delivery_per_domain;
	struct rmail_strlist dns_forwarders;
	int dns_recursion;
	const char *dns_trust_anchor;
	int64_t dns_timeout_ms;
	int dkim_enabled;
	struct rmail_strlist dkim_algorithms, dkim_headers;
	const char *relay_tls_verify, *relay_ca_file;
	int mta_sts_enabled, tlsrpt_reports;
	const char *mta_sts_ca_file;
	struct rmail_strlist mta_sts_connect_to;
	const char *tlsrpt_org_name, *tlsrpt_contact, *tlsrpt_report_from;
	const char *spam_header, *spam_value;
	int64_t processes;
	int index_enabled;
	const char *index_dir;
};

/* a core-only key flag: a STR_MAP whose values may also be objects,
 * kept as their compact JSON text (delivery.routes) */
#define RM_CONF_MAP_OBJECTS (1u << 30)

extern const struct rmail_conf_key rm_core_keys[];

/* shared checks, also handy for modules' tables inside the core */
int rm_check_hostport(const char *s);
int rm_check_network(const char *s);
/* "IP" or "IP@PORT": 0 or -1 */
int rm_check_dns_server(const char *s);

#endif
