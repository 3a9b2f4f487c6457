/*
 * The openspf RFC 7208 test suite (rfc7208-tests.yml, unchanged) run
 * against spf_check().  yaml2zone.py turns the YAML into one zone file
 * per scenario plus tests.json at test time; each test is one GLib
 * case.  Where the suite allows several results any passes; an
 * `explanation` is compared too (the suite's driver sets the default
 * explanation to "DEFAULT").
 *
 * --mode=cache (the default) answers the evaluator's wanted questions
 * from the zone file directly, through the same PENDING/rerun loop the
 * daemon's driver runs.  --mode=dnsd serves the zone file from
 * tests/support/dnsd and resolves the wanted questions the daemon's
 * way: rm_dns_fill on the core's loop, libunbound forwarding to the
 * server on loopback.  The resolver is restarted per test so that no
 * answer cached for one scenario's zone answers another's.
 */
#include <arpa/inet.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dns/dns.h"
#include "dnsd.h"
#include "mailauth/spf.h"
#include "rm.h"
#include "zone_cache.h"

/* short, so the suite's TIMEOUT answers do not make the run long */
#define DNSD_TIMEOUT_MS 300

/* Answers every question the cache wants; the count answered. */
typedef size_t (*fill_fn)(void *ctx, struct ma_dns_cache *c);

struct mode {
	const char *name;
	/* per scenario: ready to answer from zone_path (NULL: error) */
	void *(*open)(const char *zone_path, char **err);
	fill_fn fill;
	void (*close)(void *ctx);
};

static void *cache_open(const char *zone_path, char **err)
{
	return zone_load(zone_path, err);
}

static size_t cache_fill(void *ctx, struct ma_dns_cache *c)
{
	return zone_fill_wanted(ctx, c);
}

static void cache_close(void *ctx)
{
	zone_free(ctx);
}

static struct rm_dnsd *g_dnsd;
static char g_fwd[64];

static void *dnsd_open(const char *zone_path, char **err)
{
	char msg[256], *text = NULL;
	const char *v[1] = {g_fwd};
	struct rm_config c;
	struct rmail_err e;
	GError *ge = NULL;

	if (!g_file_get_contents(zone_path, &text, NULL, &ge)) {
		*err = g_strdup(ge->message);
		g_error_free(ge);
		return NULL;
	}
	if (g_dnsd == NULL) {
		g_assert_cmpint(rm_loop_init(), ==, 0);
		g_dnsd = rm_dnsd_start(NULL, msg, sizeof(msg));
		g_assert_nonnull(g_dnsd);
		snprintf(g_fwd, sizeof(g_fwd), "127.0.0.1@%u",
			 rm_dnsd_port(g_dnsd));
	}
	if (rm_dnsd_load(g_dnsd, text, msg, sizeof(msg)) < 0) {
		*err = g_strdup(msg);
		g_free(text);
		return NULL;
	}
	g_free(text);
	memset(&c, 0, sizeof(c));
	c.dns.forwarders.n = 1;
	c.dns.forwarders.v = v;
	c.dns.timeout_ms = DNSD_TIMEOUT_MS;
	/* no trust anchor: the test server does not sign */
	if (rm_dns_init(&c, &e) != 0) {
		*err = g_strdup("rm_dns_init failed");
		return NULL;
	}
	return g_dnsd;
}

static void filled(void *arg)
{
	*(bool *)arg = true;
	rm_loop_break();
}

static size_t dnsd_fill(void *ctx, struct ma_dns_cache *c)
{
	bool done = false;
	int n = rm_dns_fill(c, filled, &done);

	(void)ctx;
	/* every query ends by its own timer: the loop cannot hang */
	while (!done)
		rm_loop_run();
	return n > 0 ? (size_t)n : 0;
}

static void dnsd_close(void *ctx)
{
	(void)ctx;
	rm_dns_shutdown();
}

static const struct mode MODES[] = {
	{"cache", cache_open, cache_fill, cache_close},
	{"dnsd", dnsd_open, dnsd_fill, dnsd_close},
};

static const struct mode *g_mode;
static char *g_dir;

struct suite_test {
	char *scenario, *zone, *name, *helo, *host, *mailfrom, *exp;
	char **results;
};

static bool result_allowed(const struct suite_test *t, const char *got)
{
	for (size_t i = 0; t->results[i] != NULL; i++)
		if (strcmp(t->results[i], got) == 0)
			return true;
	return false;
}

static void run_test(gconstpointer data)
{
	const struct suite_test *t = data;
	char *zpath = g_build_filename(g_dir, t->zone, NULL);
	char *err = NULL;
	void *ctx = g_mode->open(zpath, &err);
	struct ma_dns_cache *c = ma_dns_cache_new(512);
	struct spf_input in = {
		.helo = t->helo,
		.mail_from = t->mailfrom,
		.receiver = "rmail.test",
		.now = 1700000000,
		.default_exp = "DEFAULT",
	};
	struct spf_verdict v;
	int rc, rounds = 0;

	if (ctx == NULL)
		g_error("%s: %s", zpath, err ? err : "?");
	if (inet_pton(AF_INET, t->host, in.ip) == 1)
		in.family = AF_INET;
	else if (inet_pton(AF_INET6, t->host, in.ip) == 1)
		in.family = AF_INET6;
	else
		g_error("bad host %s", t->host);
	/* the daemon's driver loop: evaluate, resolve what is wanted,
	 * rerun; every rerun must ask something new */
	while ((rc = spf_check(c, &in, &v)) == MA_PENDING) {
		g_assert_cmpuint(g_mode->fill(ctx, c), >, 0);
		g_assert_cmpint(++rounds, <, 100);
	}
	g_assert_cmpint(rc, ==, MA_DONE);
	if (!result_allowed(t, spf_result_name(v.result))) {
		g_test_message("%s/%s: got %s (%s), want %s", t->scenario,
			       t->name, spf_result_name(v.result), v.reason,
			       t->results[0]);
		g_test_fail();
	}
	/* DNS names are case-insensitive: the suite writes the %{ir} of
	 * an IPv6 client upper case, RFC 7208 §7.4's example lower case */
	if (t->exp != NULL && g_ascii_strcasecmp(t->exp, v.explanation)) {
		g_test_message("%s/%s: explanation \"%s\", want \"%s\"",
			       t->scenario, t->name, v.explanation, t->exp);
		g_test_fail();
	}
	ma_dns_cache_free(c);
	g_mode->close(ctx);
	g_free(zpath);
}

static char *slug(const char *s)
{
	char *out = g_ascii_strdown(s, -1);

	for (char *p = out; *p != '\0'; p++)
		if (!g_ascii_isalnum(*p))
			*p = '-';
	return out;
}

static char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? g_strdup(json_string_value(v)) : NULL;
}

static size_t load_tests(const char *path)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr);
	size_t i;
	json_t *o;

	if (!json_is_array(root))
		g_error("%s: %s", path, jerr.text);
	json_array_foreach(root, i, o)
	{
		struct suite_test *t = g_new0(struct suite_test, 1);
		json_t *res = json_object_get(o, "results");
		char *sl, *tp;

		t->scenario = jstr(o, "scenario");
		t->zone = jstr(o, "zone");
		t->name = jstr(o, "name");
		t->helo = jstr(o, "helo");
		t->host = jstr(o, "host");
		t->mailfrom = jstr(o, "mailfrom");
		t->exp = jstr(o, "explanation");
		t->results = g_new0(char *, json_array_size(res) + 1);
		for (size_t k = 0; k < json_array_size(res); k++)
			t->results[k] = g_strdup(
				json_string_value(json_array_get(res, k)));
		sl = slug(t->scenario);
		tp = g_strdup_printf("/spf/rfc7208/%s/%s", sl, t->name);
		g_test_add_data_func(tp, t, run_test);
		g_free(sl);
		g_free(tp);
	}
	json_decref(root);
	return i;
}

/* yaml2zone.py into a fresh temporary folder. */
static void convert(void)
{
	const char *src = g_getenv("RMAIL_SOURCE_DIR");
	char *dir, *yml, *py, *out = NULL, *errs = NULL;
	int status;
	GError *e = NULL;

	if (src == NULL)
		src = RMAIL_SRC;
	dir = g_build_filename(src, "tests", "conformance", "spf", NULL);
	yml = g_build_filename(dir, "rfc7208-tests.yml", NULL);
	py = g_build_filename(dir, "yaml2zone.py", NULL);
	g_dir = g_dir_make_tmp("spf-suite-XXXXXX", &e);
	g_assert_no_error(e);
	{
		char *argv[] = {RMAIL_PYTHON3, py, yml, g_dir, NULL};

		if (!g_spawn_sync(NULL, argv, NULL, 0, NULL, NULL, &out, &errs,
				  &status, &e) ||
		    !g_spawn_check_wait_status(status, &e))
			g_error("yaml2zone.py: %s\n%s",
				e ? e->message : "failed", errs ? errs : "");
	}
	g_free(out);
	g_free(errs);
	g_free(dir);
	g_free(yml);
	g_free(py);
}

static void rm_tree(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *n;

	while (d != NULL && (n = g_dir_read_name(d)) != NULL) {
		char *p = g_build_filename(dir, n, NULL);

		g_unlink(p);
		g_free(p);
	}
	if (d != NULL)
		g_dir_close(d);
	g_rmdir(dir);
}

int main(int argc, char **argv)
{
	const char *mode = "cache";
	char *tests;
	int j = 1, rc;

	/* our flag first: g_test_init refuses unknown ones */
	for (int i = 1; i < argc; i++) {
		if (g_str_has_prefix(argv[i], "--mode="))
			mode = argv[i] + 7;
		else
			argv[j++] = argv[i];
	}
	argc = j;
	argv[argc] = NULL;
	for (size_t i = 0; i < G_N_ELEMENTS(MODES); i++)
		if (strcmp(MODES[i].name, mode) == 0)
			g_mode = &MODES[i];
	if (g_mode == NULL) {
		g_printerr("unknown --mode=%s (known: cache, dnsd)\n", mode);
		return 2;
	}
	g_test_init(&argc, &argv, NULL);
	rm_log_set_level(g_getenv("DNS_DEBUG") ? RMAIL_LOG_DEBUG
					       : RMAIL_LOG_WARN);
	convert();
	tests = g_build_filename(g_dir, "tests.json", NULL);
	/* all 203 tests of release 2014.04, none skipped */
	g_assert_cmpuint(load_tests(tests), ==, 203);
	g_free(tests);
	rc = g_test_run();
	if (g_dnsd != NULL) {
		/* the answers came through the server, not around it */
		g_assert_cmpuint(rm_dnsd_queries(g_dnsd), >=, 203);
		rm_dnsd_stop(g_dnsd);
	}
	rm_tree(g_dir);
	return rc;
}
