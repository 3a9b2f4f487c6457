/* config.json: types, defaults, unknown keys, JSON paths, syntax
 * errors, sizes and durations, module sections, restart keys, lookup. */
#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rm.h"

static GPtrArray *problems;
static char *tmpdir;

static void collect(void *arg, const char *p)
{
	(void)arg;
	g_ptr_array_add(problems, g_strdup(p));
}

static char *write_conf(const char *name, const char *text)
{
	char *path = g_build_filename(tmpdir, name, NULL);

	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	return path;
}

static struct rm_config *load(const char *text)
{
	struct rm_config *c = NULL;
	char *path = write_conf("config.json", text);

	g_ptr_array_set_size(problems, 0);
	if (rm_config_load(path, &c, collect, NULL) < 0)
		g_assert_null(c);
	else
		g_assert_cmpuint(problems->len, ==, 0);
	g_free(path);
	return c;
}

static bool has_problem(const char *want)
{
	for (guint i = 0; i < problems->len; i++)
		if (strcmp(g_ptr_array_index(problems, i), want) == 0)
			return true;
	for (guint i = 0; i < problems->len; i++)
		g_test_message("problem: %s",
			       (char *)g_ptr_array_index(problems, i));
	return false;
}

static void test_defaults(void)
{
	struct rm_config *c = load("{}");
	char *want;

	g_assert_nonnull(c);
	g_assert_cmpstr(c->mail_root, ==, "/var/lib/rmail");
	g_assert_cmpuint(c->modules.n, ==, 4);
	g_assert_cmpstr(c->modules.v[0], ==, "mod_shardstore");
	g_assert_cmpstr(c->modules.v[3], ==, "mod_exchange");
	g_assert_null(c->run_as);
	g_assert_null(c->tls_cert_file);
	g_assert_cmpint(c->log_level, ==, RMAIL_LOG_INFO);
	g_assert_cmpuint(c->delivery.workers, ==, 4);
	g_assert_cmpfloat(c->delivery.retry_initial, ==, 300);
	g_assert_cmpfloat(c->delivery.retry_max, ==, 4 * 3600);
	g_assert_cmpfloat(c->delivery.expire, ==, 5 * 86400);
	g_assert_cmpuint(c->dns.forwarders.n, ==, 0);
	g_assert_cmpstr(c->dns.trust_anchor, ==, "/usr/share/dns/root.key");
	g_assert_cmpuint(c->dns.timeout_ms, ==, 5000);
	g_assert_cmpuint(c->limits.max_connections_per_ip, ==, 20);
	g_assert_cmpuint(c->limits.max_connections, ==, 10000);
	g_assert_cmpuint(c->limits.exempt.n, ==, 2);
	g_assert_cmpstr(c->limits.exempt.v[0], ==, "127.0.0.0/8");
	g_assert_cmpstr(c->limits.exempt.v[1], ==, "::1");
	g_assert_cmpuint(c->limits.auth_fail_limit, ==, 20);
	g_assert_cmpfloat(c->limits.auth_fail_window, ==, 900);
	g_assert_cmpuint(c->limits.auth_fail_account_limit, ==, 20);
	g_assert_cmpuint(c->limits.auth_ipv6_prefix, ==, 64);
	g_assert_cmpfloat(c->limits.auth_known_ip_ttl, ==, 30 * 86400);
	g_assert_cmpfloat(c->limits.auth_cache_ttl, ==, 60);
	g_assert_cmpuint(c->workers.read, ==, 2);
	g_assert_cmpuint(c->workers.hash, ==, 2);
	g_assert_cmpuint(c->admin_listen.n, ==, 0);
	g_assert_cmpfloat(c->shutdown_timeout, ==, 10);
	g_assert_false(c->spf.reject_fail);
	g_assert_cmpuint(c->spf.void_limit, ==, 2);
	g_assert_null(c->spf.explanation);
	g_assert_nonnull(c->hostname);
	g_assert_cmpstr(c->module_dir, ==, RM_MODULE_DIR_INSTALL);
	/* derived run paths: never in the mail root, from the config path */
	g_assert_true(g_str_has_suffix(c->pid_file, ".pid"));
	g_assert_true(g_str_has_suffix(c->control_socket, ".sock"));
	g_assert_nonnull(strstr(c->pid_file, "/rmail-"));
	want = g_strdup(c->pid_file);
	rm_config_free(&c);
	g_assert_null(c);
	c = load("{\"hostname\": \"mail.example.test\"}");
	g_assert_cmpstr(c->pid_file, ==, want);
	g_assert_cmpstr(c->hostname, ==, "mail.example.test");
	/* mail authentication: every check on, ids from the hostname */
	g_assert_cmpstr(c->authserv_id, ==, "mail.example.test");
	g_assert_true(c->dmarc.enabled);
	g_assert_true(c->dmarc.reject_local_from);
	g_assert_true(c->dmarc.reports);
	g_assert_cmpuint(c->dmarc.exceptions.n, ==, 0);
	g_assert_cmpstr(c->dmarc.org_name, ==, "mail.example.test");
	g_assert_null(c->dmarc.contact);
	g_assert_cmpstr(c->dmarc.report_from, ==,
			"noreply-dmarc@mail.example.test");
	rm_config_free(&c);
	c = load("{\"mailauth\": {\"authserv_id\": \"mx.example\"}, "
		 "\"dmarc\": {\"exceptions\": [\"l@lists.example\", "
		 "\".lists.example\"], \"reports\": false}}");
	g_assert_nonnull(c);
	g_assert_cmpstr(c->authserv_id, ==, "mx.example");
	g_assert_cmpuint(c->dmarc.exceptions.n, ==, 2);
	g_assert_false(c->dmarc.reports);
	rm_config_free(&c);
	g_free(want);
}

static void test_issue_shape(void)
{
	struct rm_config *c = load(
		"{\"hostname\": \"mail.example.test\",\n"
		" \"mail_root\": \"root\", \"module_dir\": \"mods\",\n"
		" \"modules\": [\"mod_shardstore\", \"mod_smtp\"],\n"
		" \"run_as\": \"mail\",\n"
		" \"tls\": {\"cert_file\": \"c.pem\", \"key_file\": "
		"\"/k.pem\"},\n"
		" \"smtp\": {\"listen\": [\"0.0.0.0:25\"]},\n"
		" \"delivery\": {\"workers\": 8, \"retry_initial\": \"30s\",\n"
		"   \"retry_max\": \"2h\", \"expire\": \"1d\",\n"
		"   \"routes\": {\"example.org\": \"[::1]:2525\"},\n"
		"   \"relay_host\": \"smarthost:587\",\n"
		"   \"dns_servers\": [\"9.9.9.9\", \"2620:fe::fe@5353\"]},\n"
		" \"dns\": {\"forwarders\": [\"127.0.0.1@5300\"],\n"
		"   \"trust_anchor\": \"ta.key\", \"timeout_ms\": 1500},\n"
		" \"limits\": {\"exempt\": [\"10.0.0.0/8\"], "
		"\"auth_fail_window\": 60},\n"
		" \"log_level\": \"debug\", \"pid_file\": \"x.pid\",\n"
		" \"control_socket\": \"/run/x.sock\",\n"
		" \"admin\": {\"listen\": [\"127.0.0.1:9100\"]},\n"
		" \"shutdown_timeout\": 2.5}");
	char *p;

	g_assert_nonnull(c);
	p = g_build_filename(tmpdir, "root", NULL);
	g_assert_cmpstr(c->mail_root, ==, p);
	g_free(p);
	p = g_build_filename(tmpdir, "mods", NULL);
	g_assert_cmpstr(c->module_dir, ==, p);
	g_free(p);
	p = g_build_filename(tmpdir, "c.pem", NULL);
	g_assert_cmpstr(c->tls_cert_file, ==, p);
	g_free(p);
	p = g_build_filename(tmpdir, "x.pid", NULL);
	g_assert_cmpstr(c->pid_file, ==, p);
	g_free(p);
	g_assert_cmpstr(c->tls_key_file, ==, "/k.pem");
	g_assert_cmpstr(c->control_socket, ==, "/run/x.sock");
	g_assert_cmpstr(c->run_as, ==, "mail");
	g_assert_cmpuint(c->modules.n, ==, 2);
	g_assert_cmpuint(c->delivery.workers, ==, 8);
	g_assert_cmpfloat(c->delivery.retry_initial, ==, 30);
	g_assert_cmpfloat(c->delivery.retry_max, ==, 7200);
	g_assert_cmpfloat(c->delivery.expire, ==, 86400);
	g_assert_cmpuint(c->delivery.routes.n, ==, 1);
	g_assert_cmpstr(c->delivery.routes.k[0], ==, "example.org");
	g_assert_cmpstr(c->delivery.routes.v[0], ==, "[::1]:2525");
	g_assert_cmpstr(c->delivery.relay_host, ==, "smarthost:587");
	g_assert_cmpuint(c->delivery.dns_servers.n, ==, 2);
	g_assert_cmpuint(c->dns.forwarders.n, ==, 1);
	g_assert_cmpstr(c->dns.forwarders.v[0], ==, "127.0.0.1@5300");
	g_assert_false(c->dns.recursion);
	g_assert_cmpuint(c->dns.timeout_ms, ==, 1500);
	p = g_build_filename(tmpdir, "ta.key", NULL);
	g_assert_cmpstr(c->dns.trust_anchor, ==, p);
	g_free(p);
	g_assert_cmpfloat(c->limits.auth_fail_window, ==, 60);
	g_assert_cmpint(c->log_level, ==, RMAIL_LOG_DEBUG);
	g_assert_cmpstr(c->admin_listen.v[0], ==, "127.0.0.1:9100");
	g_assert_cmpfloat(c->shutdown_timeout, ==, 2.5);
	/* module sections are reachable as JSON for the loader */
	g_assert_nonnull(rm_config_section(c, "smtp"));
	g_assert_null(rm_config_section(c, "imap"));
	rm_config_free(&c);
}

static const struct {
	const char *json;
	const char *problem;
} bad[] = {
	{"{\"delivery\": {\"workers\": 0}}",
	 "delivery.workers: expected a positive integer"},
	{"{\"delivery\": {\"workers\": \"4\"}}",
	 "delivery.workers: expected an integer"},
	{"{\"limits\": {\"exempt\": [\"::1\", \"10.0.0.0/8\", \"nope\"]}}",
	 "limits.exempt[2]: not a network"},
	{"{\"limits\": {\"exempt\": [\"::1\", \"10.0.0.0/33\"]}}",
	 "limits.exempt[1]: not a network"},
	{"{\"hostnam\": \"x\"}", "hostnam: unknown key"},
	{"{\"mailauth\": {\"authserv_id\": \"a b\"}}",
	 "mailauth.authserv_id: use letters, digits, '.', '-' and '_' only"},
	{"{\"dmarc\": {\"exceptions\": [\"x@\"]}}",
	 "dmarc.exceptions[0]: expected an address, a domain or .domain"},
	{"{\"delivery\": {\"wrokers\": 2}}", "delivery.wrokers: unknown key"},
	{"{\"tls\": 5}", "tls: expected an object"},
	{"{\"mail_root\": null}", "mail_root: expected a string"},
	{"{\"run_as\": 5}", "run_as: expected a string or null"},
	{"{\"modules\": [\"mod_smtp\", 3]}", "modules[1]: expected a string"},
	{"{\"modules\": [\"smtp\"]}",
	 "modules[0]: expected a module name like \"mod_smtp\""},
	{"{\"admin\": {\"listen\": [\"127.0.0.1\"]}}",
	 "admin.listen[0]: expected host:port"},
	{"{\"admin\": {\"listen\": [\"[::]:99999\"]}}",
	 "admin.listen[0]: expected host:port"},
	{"{\"delivery\": {\"expire\": \"5 fortnights\"}}",
	 "delivery.expire: expected a duration (seconds, or \"30s\", "
	 "\"5m\", \"2h\", \"1d\")"},
	{"{\"delivery\": {\"routes\": {\"a.test\": \"nohost\"}}}",
	 "delivery.routes.a.test: expected host:port"},
	{"{\"delivery\": {\"dns_servers\": [\"dns.example\"]}}",
	 "delivery.dns_servers[0]: not an IP address (or IP@PORT)"},
	{"{\"dns\": {\"forwarders\": [\"127.0.0.1@\"]}}",
	 "dns.forwarders[0]: not an IP address (or IP@PORT)"},
	{"{\"dns\": {\"forwarders\": [\"::1\", \"127.0.0.1@70000\"]}}",
	 "dns.forwarders[1]: not an IP address (or IP@PORT)"},
	{"{\"dns\": {\"forwarders\": [\"9.9.9.9\"], \"recursion\": true}}",
	 "dns.recursion: full recursion and dns.forwarders exclude each "
	 "other"},
	{"{\"dns\": {\"timeout_ms\": 0}}",
	 "dns.timeout_ms: expected 10 to 600000 (ms)"},
	{"{\"log_level\": \"loud\"}",
	 "log_level: expected one of error, warning, info, debug"},
	{"{\"tls\": {\"cert_file\": \"c.pem\"}}",
	 "tls.key_file: required when the other TLS file is set"},
	{"{\"hostname\": \"bad host\"}", "hostname: not a valid host name"},
	{"{\"workers\": {\"hash\": -1}}",
	 "workers.hash: expected a positive integer"},
	{"{\"limits\": {\"auth_fail_window\": 0}}",
	 "limits.auth_fail_window: expected a positive duration"},
	{"{\"limits\": {\"auth_ipv6_prefix\": 129}}",
	 "limits.auth_ipv6_prefix: expected a prefix length 1 to 128"},
	{"{\"spf\": {\"void_limit\": 0}}",
	 "spf.void_limit: expected 1 to 20 (RFC 7208 suggests 2)"},
	{"{\"spf\": {\"explanation\": \"100%\"}}",
	 "spf.explanation: not an SPF macro-string (RFC 7208 §7: printable "
	 "ASCII, %{letter}, %%, %_, %-)"},
	{"{\"spf\": {\"rejectfail\": true}}", "spf.rejectfail: unknown key"},
	{"{\"shutdown_timeout\": true}",
	 "shutdown_timeout: expected a duration (seconds, or \"30s\", "
	 "\"5m\", \"2h\", \"1d\")"},
};

static void test_bad_values(void)
{
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		struct rm_config *c = load(bad[i].json);

		g_assert_null(c);
		if (!has_problem(bad[i].problem))
			g_error("%s: wanted \"%s\"", bad[i].json,
				bad[i].problem);
	}
}

static void test_spf_keys(void)
{
	struct rm_config *c =
		load("{\"spf\": {\"reject_fail\": true, \"void_limit\": 3, "
		     "\"explanation\": \"see https://%{d}/spf?ip=%{c}\"}}");

	g_assert_nonnull(c);
	g_assert_true(c->spf.reject_fail);
	g_assert_cmpuint(c->spf.void_limit, ==, 3);
	g_assert_cmpstr(c->spf.explanation, ==, "see https://%{d}/spf?ip=%{c}");
	rm_config_free(&c);
}

static void test_all_problems(void)
{
	struct rm_config *c = load("{\"x\": 1, \"delivery\": {\"workers\": "
				   "-1}, \"log_level\": 3}");

	g_assert_null(c);
	g_assert_cmpuint(problems->len, ==, 3);
	g_assert_true(has_problem("x: unknown key"));
	g_assert_true(has_problem("delivery.workers: expected a positive "
				  "integer"));
	g_assert_true(has_problem("log_level: expected a string"));
}

static void test_syntax(void)
{
	struct rm_config *c;
	char *want, *path;

	c = load("{\n  \"hostname\": \"a\",\n  \"mail_root\" \"x\"\n}");
	g_assert_null(c);
	g_assert_cmpuint(problems->len, ==, 1);
	path = g_build_filename(tmpdir, "config.json", NULL);
	want = g_strdup_printf("%s:3:", path);
	g_assert_true(g_str_has_prefix(g_ptr_array_index(problems, 0), want));
	g_free(want);
	g_assert_true(g_str_has_prefix(
		g_ptr_array_index(problems, 0) + strlen(path), ":3:17: "));
	g_free(path);

	c = load("{\"hostname\": \"a\", \"hostname\": \"b\"}");
	g_assert_null(c);
	g_assert_nonnull(
		strstr(g_ptr_array_index(problems, 0), "config.json:1:"));
	g_assert_nonnull(strstr(g_ptr_array_index(problems, 0), "duplicate"));

	c = load("[1, 2]");
	g_assert_null(c);
	g_assert_nonnull(strstr(g_ptr_array_index(problems, 0),
				"expected a JSON object"));
}

/* ---- module section fill ------------------------------------------ */

struct tconf {
	const char *name;
	int64_t count;
	uint64_t max_size;
	int flag;
	double timeout;
	struct rmail_strlist names;
	struct rmail_strlist listen;
	struct rmail_strmap map;
	const char *nested;
	const char *opt;
	const char *must;
};

static int check_even(const void *field, struct rmail_err *err)
{
	if (*(const int64_t *)field % 2 != 0)
		return rmail_err_set(err, RMAIL_E_INVAL, "must be even");
	return 0;
}

static const struct rmail_conf_key tkeys[] = {
	{"name", RMAIL_CONF_STR, 0, offsetof(struct tconf, name), "\"dflt\"",
	 NULL, NULL},
	{"count", RMAIL_CONF_INT, RMAIL_CONF_RELOADABLE,
	 offsetof(struct tconf, count), "42", NULL, check_even},
	{"max_size", RMAIL_CONF_SIZE, 0, offsetof(struct tconf, max_size),
	 "\"10M\"", NULL, NULL},
	{"flag", RMAIL_CONF_BOOL, 0, offsetof(struct tconf, flag), "true", NULL,
	 NULL},
	{"timeout", RMAIL_CONF_DURATION, 0, offsetof(struct tconf, timeout),
	 "\"5m\"", NULL, NULL},
	{"names", RMAIL_CONF_STR_LIST, 0, offsetof(struct tconf, names),
	 "[\"a\", \"b\"]", NULL, NULL},
	{"listen", RMAIL_CONF_LISTEN, 0, offsetof(struct tconf, listen),
	 "[\"0.0.0.0:25\"]", NULL, NULL},
	{"map", RMAIL_CONF_STR_MAP, 0, offsetof(struct tconf, map), "{}", NULL,
	 NULL},
	{"sub.deep.key", RMAIL_CONF_STR, 0, offsetof(struct tconf, nested),
	 "\"n\"", NULL, NULL},
	{"opt", RMAIL_CONF_STR, RMAIL_CONF_NULLABLE,
	 offsetof(struct tconf, opt), "null", NULL, NULL},
	{"must", RMAIL_CONF_STR, RMAIL_CONF_REQUIRED,
	 offsetof(struct tconf, must), NULL, NULL, NULL},
	RMAIL_CONF_END};

static void test_fill_defaults(void)
{
	struct rmail_pool *pool = rm_pool_create(NULL);
	json_t *j = json_loads("{\"must\": \"x\"}", 0, NULL);
	struct tconf t;

	memset(&t, 0, sizeof(t));
	g_ptr_array_set_size(problems, 0);
	g_assert_cmpint(
		rm_config_fill(pool, j, "test", tkeys, &t, collect, NULL), ==,
		0);
	g_assert_cmpstr(t.name, ==, "dflt");
	g_assert_cmpint(t.count, ==, 42);
	g_assert_cmpuint(t.max_size, ==, 10u << 20);
	g_assert_cmpint(t.flag, ==, 1);
	g_assert_cmpfloat(t.timeout, ==, 300);
	g_assert_cmpuint(t.names.n, ==, 2);
	g_assert_cmpstr(t.names.v[1], ==, "b");
	g_assert_cmpstr(t.listen.v[0], ==, "0.0.0.0:25");
	g_assert_cmpuint(t.map.n, ==, 0);
	g_assert_cmpstr(t.nested, ==, "n");
	g_assert_null(t.opt);
	g_assert_cmpstr(t.must, ==, "x");
	json_decref(j);
	rm_pool_destroy(&pool);
}

static void test_fill_values(void)
{
	struct rmail_pool *pool = rm_pool_create(NULL);
	json_t *j = json_loads(
		"{\"must\": \"m\", \"name\": \"nm\", \"count\": -8, "
		"\"max_size\": \"10 MiB\", \"flag\": false, \"timeout\": 1.5, "
		"\"names\": [], \"listen\": [\"[::]:143\", \"host.test:1\"], "
		"\"map\": {\"k\": \"v\"}, \"sub\": {\"deep\": {\"key\": "
		"\"d\"}},"
		" \"opt\": \"o\"}",
		0, NULL);
	struct tconf t;

	memset(&t, 0, sizeof(t));
	g_ptr_array_set_size(problems, 0);
	g_assert_cmpint(
		rm_config_fill(pool, j, "test", tkeys, &t, collect, NULL), ==,
		0);
	g_assert_cmpstr(t.name, ==, "nm");
	g_assert_cmpint(t.count, ==, -8);
	g_assert_cmpuint(t.max_size, ==, 10u << 20);
	g_assert_cmpint(t.flag, ==, 0);
	g_assert_cmpfloat(t.timeout, ==, 1.5);
	g_assert_cmpuint(t.names.n, ==, 0);
	g_assert_cmpuint(t.listen.n, ==, 2);
	g_assert_cmpstr(t.listen.v[0], ==, "[::]:143");
	g_assert_cmpstr(t.map.k[0], ==, "k");
	g_assert_cmpstr(t.map.v[0], ==, "v");
	g_assert_cmpstr(t.nested, ==, "d");
	g_assert_cmpstr(t.opt, ==, "o");
	json_decref(j);
	rm_pool_destroy(&pool);
}

static void test_fill_errors(void)
{
	struct rmail_pool *pool = rm_pool_create(NULL);
	json_t *j = json_loads(
		"{\"count\": 3, \"max_size\": \"10 parsecs\", \"flag\": 1, "
		"\"timeout\": -1, \"names\": [\"a\", 2], "
		"\"listen\": [\"0.0.0.0:25\", \"::1:25\"], \"map\": {\"k\": 1},"
		" \"sub\": {\"deep\": {\"other\": 1}}, \"bogus\": {}, "
		"\"opt\": 5}",
		0, NULL);
	struct tconf t;

	memset(&t, 0, sizeof(t));
	g_ptr_array_set_size(problems, 0);
	g_assert_cmpint(
		rm_config_fill(pool, j, "test", tkeys, &t, collect, NULL), ==,
		-1);
	g_assert_true(has_problem("test.must: required key missing"));
	g_assert_true(has_problem("test.count: must be even"));
	g_assert_true(has_problem("test.max_size: expected a size (bytes, or "
				  "\"10M\", \"10 MiB\")"));
	g_assert_true(has_problem("test.flag: expected true or false"));
	g_assert_true(has_problem("test.timeout: expected a duration "
				  "(seconds, or \"30s\", \"5m\", \"2h\", "
				  "\"1d\")"));
	g_assert_true(has_problem("test.names[1]: expected a string"));
	g_assert_true(has_problem("test.listen[1]: expected host:port"));
	g_assert_true(has_problem("test.map.k: expected a string"));
	g_assert_true(has_problem("test.sub.deep.other: unknown key"));
	g_assert_true(has_problem("test.bogus: unknown key"));
	g_assert_true(has_problem("test.opt: expected a string or null"));
	g_assert_cmpuint(problems->len, ==, 11);
	json_decref(j);
	rm_pool_destroy(&pool);
}

static void test_sizes_durations(void)
{
	static const struct {
		const char *v;
		uint64_t size;
	} sizes[] = {
		{"0", 0},
		{"1048576", 1048576},
		{"\"512\"", 512},
		{"\"1K\"", 1024},
		{"\"10M\"", 10u << 20},
		{"\"10 MiB\"", 10u << 20},
		{"\"2G\"", 2ull << 30},
		{"\"1.5K\"", 1536},
		{"\"3 GB\"", 3ull << 30},
	};
	static const struct {
		const char *v;
		double secs;
	} durs[] = {
		{"30", 30},	     {"0.5", 0.5},     {"\"30s\"", 30},
		{"\"5m\"", 300},     {"\"2h\"", 7200}, {"\"1d\"", 86400},
		{"\"250ms\"", 0.25}, {"\"10\"", 10},
	};
	static const char *const bad_sizes[] = {
		"-1",  "\"M\"",	  "\"10X\"", "\"\"",
		"1.5", "\"-1M\"", "true",    "\"99999999999T\"",
	};
	static const char *const bad_durs[] = {
		"-1", "\"5 years\"", "\"\"", "\"m\"", "null", "\"1e999\"",
	};
	struct rmail_conf_key k[2] = {
		{"v", RMAIL_CONF_SIZE, 0, 0, "0", NULL, NULL}, RMAIL_CONF_END};
	struct rmail_pool *pool = rm_pool_create(NULL);
	union {
		uint64_t u;
		double d;
	} out;

	for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
		char *s = g_strdup_printf("{\"v\": %s}", sizes[i].v);
		json_t *j = json_loads(s, 0, NULL);

		k[0].type = RMAIL_CONF_SIZE;
		g_assert_cmpint(
			rm_config_fill(pool, j, "", k, &out, collect, NULL), ==,
			0);
		g_assert_cmpuint(out.u, ==, sizes[i].size);
		json_decref(j);
		g_free(s);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(durs); i++) {
		char *s = g_strdup_printf("{\"v\": %s}", durs[i].v);
		json_t *j = json_loads(s, 0, NULL);

		k[0].type = RMAIL_CONF_DURATION;
		g_assert_cmpint(
			rm_config_fill(pool, j, "", k, &out, collect, NULL), ==,
			0);
		g_assert_cmpfloat_with_epsilon(out.d, durs[i].secs, 1e-9);
		json_decref(j);
		g_free(s);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(bad_sizes); i++) {
		char *s = g_strdup_printf("{\"v\": %s}", bad_sizes[i]);
		json_t *j = json_loads(s, 0, NULL);

		g_assert_nonnull(j);
		k[0].type = RMAIL_CONF_SIZE;
		g_assert_cmpint(
			rm_config_fill(pool, j, "", k, &out, collect, NULL), ==,
			-1);
		json_decref(j);
		g_free(s);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(bad_durs); i++) {
		char *s = g_strdup_printf("{\"v\": %s}", bad_durs[i]);
		json_t *j = json_loads(s, 0, NULL);

		g_assert_nonnull(j);
		k[0].type = RMAIL_CONF_DURATION;
		g_assert_cmpint(
			rm_config_fill(pool, j, "", k, &out, collect, NULL), ==,
			-1);
		json_decref(j);
		g_free(s);
	}
	rm_pool_destroy(&pool);
}

static void test_restart_keys(void)
{
	struct rm_config *a = load("{\"mail_root\": \"/a\", \"hostname\": "
				   "\"a.test\"}");
	struct rm_config *b = load("{\"mail_root\": \"/b\", \"hostname\": "
				   "\"b.test\", \"run_as\": \"mail\", "
				   "\"admin\": {\"listen\": [\"1.2.3.4:5\"]},"
				   " \"log_level\": \"debug\"}");
	struct rm_config *c =
		load("{\"mail_root\": \"/a\", \"hostname\": "
		     "\"c.test\", \"modules\": [\"mod_shardstore\","
		     " \"mod_smtp\", \"mod_imap\", "
		     "\"mod_exchange\"]}");

	g_assert_cmpstr(rm_config_restart_keys(a, b), ==,
			"mail_root, run_as, admin.listen");
	/* the default written out explicitly is no change */
	g_assert_null(rm_config_restart_keys(a, c));
	rm_config_free(&a);
	rm_config_free(&b);
	rm_config_free(&c);
}

static void test_locate(void)
{
	char *cwd = g_get_current_dir();
	char *sub = g_build_filename(tmpdir, "loc", NULL);
	char *file;
	bool exists;

	g_assert_cmpint(g_mkdir_with_parents(sub, 0700), ==, 0);
	g_assert_cmpint(chdir(sub), ==, 0);
	g_setenv("RMAIL_CONFIG", "/nonexistent/env.json", TRUE);
	g_assert_cmpstr(rm_config_locate("/cli.json", &exists), ==,
			"/cli.json");
	g_assert_false(exists);
	g_assert_cmpstr(rm_config_locate(NULL, &exists), ==,
			"/nonexistent/env.json");
	g_unsetenv("RMAIL_CONFIG");
	/* the system file, when this host has one, comes before the
	 * not-yet-existing ./config.json: asserted either way */
	if (access("/etc/rmail/config.json", F_OK) == 0) {
		g_assert_cmpstr(rm_config_locate(NULL, &exists), ==,
				"/etc/rmail/config.json");
		g_assert_true(exists);
	} else {
		g_assert_cmpstr(rm_config_locate(NULL, &exists), ==,
				"./config.json");
		g_assert_false(exists);
	}
	file = g_build_filename(sub, "config.json", NULL);
	g_assert_true(g_file_set_contents(file, "{}", -1, NULL));
	g_assert_cmpstr(rm_config_locate(NULL, &exists), ==, "./config.json");
	g_assert_true(exists);
	g_unlink(file);
	g_assert_cmpint(chdir(cwd), ==, 0);
	g_rmdir(sub);
	g_free(file);
	g_free(sub);
	g_free(cwd);
}

static void test_write_default(void)
{
	char *path = g_build_filename(tmpdir, "default.json", NULL);
	struct rmail_err err;
	struct rm_config *c = NULL;
	json_t *smtp;

	g_assert_cmpint(rm_config_write_default(path, &err), ==, 0);
	/* never overwrites */
	g_assert_cmpint(rm_config_write_default(path, &err), ==, -1);
	g_ptr_array_set_size(problems, 0);
	g_assert_cmpint(rm_config_load(path, &c, collect, NULL), ==, 0);
	smtp = rm_config_section(c, "smtp");
	g_assert_nonnull(smtp);
	g_assert_cmpstr(json_string_value(json_array_get(
				json_object_get(smtp, "submission_listen"), 0)),
			==, "0.0.0.0:587");
	g_assert_nonnull(rm_config_section(c, "exchange_api"));
	g_assert_cmpuint(c->modules.n, ==, 4);
	rm_config_free(&c);
	g_unlink(path);
	g_free(path);
}

static void rm_tree(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *n;

	while (d != NULL && (n = g_dir_read_name(d)) != NULL) {
		char *p = g_build_filename(dir, n, NULL);

		if (g_file_test(p, G_FILE_TEST_IS_DIR))
			rm_tree(p);
		else
			g_unlink(p);
		g_free(p);
	}
	if (d != NULL)
		g_dir_close(d);
	g_rmdir(dir);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	rm_log_set_level(RMAIL_LOG_ERR);
	problems = g_ptr_array_new_with_free_func(g_free);
	tmpdir = g_dir_make_tmp("rmail-config-XXXXXX", NULL);
	g_assert_nonnull(tmpdir);
	g_test_add_func("/config/defaults", test_defaults);
	g_test_add_func("/config/issue_shape", test_issue_shape);
	g_test_add_func("/config/bad_values", test_bad_values);
	g_test_add_func("/config/spf_keys", test_spf_keys);
	g_test_add_func("/config/all_problems", test_all_problems);
	g_test_add_func("/config/syntax", test_syntax);
	g_test_add_func("/config/fill_defaults", test_fill_defaults);
	g_test_add_func("/config/fill_values", test_fill_values);
	g_test_add_func("/config/fill_errors", test_fill_errors);
	g_test_add_func("/config/sizes_durations", test_sizes_durations);
	g_test_add_func("/config/restart_keys", test_restart_keys);
	g_test_add_func("/config/locate", test_locate);
	g_test_add_func("/config/write_default", test_write_default);
	rc = g_test_run();
	rm_tree(tmpdir);
	g_free(tmpdir);
	g_ptr_array_free(problems, TRUE);
	return rc;
}
