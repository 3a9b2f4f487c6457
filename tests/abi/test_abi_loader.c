/* The loader against fixture modules: each broken rule gives its exact
 * one-line refusal, the others still load, a good module inits with its
 * section filled, and reload is two-phase. */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"
#include "fixture_conf.h"
#include "rm.h"

/* The frozen descriptor header never moves. */
_Static_assert(offsetof(struct rmail_module, magic) == 0, "magic");
_Static_assert(offsetof(struct rmail_module, abi_major) == 4, "major");
_Static_assert(offsetof(struct rmail_module, abi_minor) == 6, "minor");
_Static_assert(offsetof(struct rmail_module, size) == 8, "size");
_Static_assert(offsetof(struct rmail_module, kind) == 12, "kind");
_Static_assert(offsetof(struct rmail_module, name) == 16, "name");
_Static_assert(offsetof(struct rmail_core, abi_major) == 0, "core major");
_Static_assert(offsetof(struct rmail_core, size) == 8, "core size");

static const char *fxdir;
static char *tmpdir;
static GPtrArray *lines;

static void collect(void *arg, const char *p)
{
	(void)arg;
	g_ptr_array_add(lines, g_strdup(p));
}

static void assert_line(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static void assert_line(const char *fmt, ...)
{
	va_list ap;
	char *want;

	va_start(ap, fmt);
	want = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	for (guint i = 0; i < lines->len; i++)
		if (strcmp(g_ptr_array_index(lines, i), want) == 0) {
			g_free(want);
			return;
		}
	for (guint i = 0; i < lines->len; i++)
		g_test_message("line: %s", (char *)g_ptr_array_index(lines, i));
	g_error("missing line: %s", want);
}

static char *validate(const char *dir, const char *name)
{
	char *file = g_strdup_printf("%s/mod_%s.so", dir, name);
	const struct rmail_module *d;
	struct rmail_err err;
	void *dl;
	int rc;

	rmail_err_clear(&err);
	rc = rm_module_validate(file, name, &d, &dl, &err);
	g_free(file);
	if (rc == 0) {
		g_assert_nonnull(d);
		return NULL;
	}
	g_assert_null(d);
	return g_strdup(err.msg);
}

static void test_validate(void)
{
	static const struct {
		const char *name;
		const char *why;
	} cases[] = {
		{"badmagic", "bad magic 0xdeadbeef in rmail_module_badmagic "
			     "(expected 0x524d4f44)"},
		{"wrongname", "descriptor name 'other' does not match the "
			      "file name mod_wrongname.so"},
		{"nosym", "no symbol rmail_module_nosym: not an rmail module "
			  "or name mismatch"},
		{"badsig", "build signature p4l4s4t4o4 differs from the "
			   "core's " RMAIL_BUILD_SIG},
		{"missing", "no such file"},
	};
	char *why, *small, *want;

	g_assert_null(validate(fxdir, "good"));
	g_assert_null(validate(fxdir, "store"));
	/* the fixtures claim one more than the core, whatever it is */
	why = validate(fxdir, "major");
	want = g_strdup_printf("built for ABI %d.%d, core provides %d.%d",
			       RMAIL_ABI_MAJOR + 1, RMAIL_ABI_MINOR,
			       RMAIL_ABI_MAJOR, RMAIL_ABI_MINOR);
	g_assert_cmpstr(why, ==, want);
	g_free(why);
	g_free(want);
	why = validate(fxdir, "minor");
	want = g_strdup_printf("built for ABI %d.%d, core provides %d.%d",
			       RMAIL_ABI_MAJOR, RMAIL_ABI_MINOR + 1,
			       RMAIL_ABI_MAJOR, RMAIL_ABI_MINOR);
	g_assert_cmpstr(why, ==, want);
	g_free(why);
	g_free(want);
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		why = validate(fxdir, cases[i].name);
		g_assert_cmpstr(why, ==, cases[i].why);
		g_free(why);
	}
	why = validate(fxdir, "small");
	small = g_strdup_printf("descriptor size 24 is smaller than the %zu "
				"bytes ABI 1 requires",
				sizeof(struct rmail_module));
	g_assert_cmpstr(why, ==, small);
	g_free(why);
	g_free(small);
}

static void copy_file(const char *from, const char *to, int mode)
{
	char *data;
	gsize n;

	g_assert_true(g_file_get_contents(from, &data, &n, NULL));
	g_assert_true(g_file_set_contents(to, data, (gssize)n, NULL));
	g_free(data);
	g_assert_cmpint(chmod(to, mode), ==, 0);
}

static void test_writable(void)
{
	char *src = g_strdup_printf("%s/mod_good.so", fxdir);
	char *dst = g_strdup_printf("%s/mod_good.so", tmpdir);
	char *why;

	copy_file(src, dst, 0666);
	why = validate(tmpdir, "good");
	g_assert_cmpstr(why, ==, "writable by group or others (mode 0666)");
	g_free(why);
	g_assert_cmpint(chmod(dst, 0620), ==, 0);
	why = validate(tmpdir, "good");
	g_assert_cmpstr(why, ==, "writable by group or others (mode 0620)");
	g_free(why);
	g_assert_cmpint(chmod(dst, 0644), ==, 0);
	g_assert_null(validate(tmpdir, "good"));
	g_unlink(dst);
	g_mkdir(dst, 0755);
	why = validate(tmpdir, "good");
	g_assert_cmpstr(why, ==, "not a regular file");
	g_free(why);
	g_rmdir(dst);
	g_free(src);
	g_free(dst);
}

static struct rm_config *load_conf(const char *text)
{
	char *path = g_build_filename(tmpdir, "config.json", NULL);
	struct rm_config *c = NULL;

	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	g_ptr_array_set_size(lines, 0);
	if (rm_config_load(path, &c, collect, NULL) < 0)
		g_error("config: %s",
			lines->len ? (char *)lines->pdata[0] : "?");
	g_free(path);
	return c;
}

static void test_load(void)
{
	char *text = g_strdup_printf(
		"{\"module_dir\": \"%s\", \"hostname\": \"h.test\", "
		"\"modules\": [\"mod_good\", \"mod_badmagic\", \"mod_major\", "
		"\"mod_minor\", \"mod_small\", \"mod_smallops\", "
		"\"mod_wrongname\", "
		"\"mod_nosym\","
		" \"mod_badsig\", \"mod_missing\", \"mod_storenull\", "
		"\"mod_store\", "
		"\"mod_good\"],"
		" \"good\": {\"greeting\": \"hi\"}, \"orphan\": {\"x\": 1}}",
		fxdir);
	struct rm_config *c = load_conf(text), *c2, *c3;
	const struct rmail_store_ops *ops;
	const struct fx_conf *fc;
	struct rmail_err err;
	struct rm_module *m;
	void *h;

	rm_conf_set(c);
	g_assert_cmpuint(rm_modules_load(c, collect, NULL), ==, 2);
	assert_line("module %s/mod_badmagic.so refused: bad magic 0xdeadbeef "
		    "in rmail_module_badmagic (expected 0x524d4f44)",
		    fxdir);
	assert_line("module %s/mod_major.so refused: built for ABI %d.%d, "
		    "core provides %d.%d",
		    fxdir, RMAIL_ABI_MAJOR + 1, RMAIL_ABI_MINOR,
		    RMAIL_ABI_MAJOR, RMAIL_ABI_MINOR);
	assert_line("module %s/mod_minor.so refused: built for ABI %d.%d, "
		    "core provides %d.%d",
		    fxdir, RMAIL_ABI_MAJOR, RMAIL_ABI_MINOR + 1,
		    RMAIL_ABI_MAJOR, RMAIL_ABI_MINOR);
	assert_line("module %s/mod_small.so refused: descriptor size 24 is "
		    "smaller than the %zu bytes ABI 1 requires",
		    fxdir, (size_t)RMAIL_MODULE_SIZE_1_0);
	assert_line("module %s/mod_smallops.so refused: storage ops table "
		    "size 16 is smaller than the %zu bytes ABI 1.0 requires",
		    fxdir, (size_t)RMAIL_STORE_OPS_SIZE_1_0);
	assert_line("module %s/mod_wrongname.so refused: descriptor name "
		    "'other' does not match the file name mod_wrongname.so",
		    fxdir);
	assert_line("module %s/mod_nosym.so refused: no symbol "
		    "rmail_module_nosym: not an rmail module or name mismatch",
		    fxdir);
	assert_line("module %s/mod_badsig.so refused: build signature "
		    "p4l4s4t4o4 differs from the core's %s",
		    fxdir, RMAIL_BUILD_SIG);
	assert_line("module %s/mod_missing.so refused: no such file", fxdir);
	assert_line("module %s/mod_storenull.so refused: storage ops table "
		    "lacks user_get, which ABI 1.0 requires",
		    fxdir);
	assert_line("module %s/mod_good.so refused: duplicate module name",
		    fxdir);
	/* one line per refused module, nothing else */
	g_assert_cmpuint(lines->len, ==, 11);

	g_assert_cmpuint(rm_module_count(), ==, 2);
	m = rm_module_find("mod_good");
	g_assert_nonnull(m);
	fc = m->mctx.conf;
	g_assert_cmpstr(fc->greeting, ==, "hi");
	g_assert_cmpuint(fc->max_line, ==, 1024);
	g_assert_cmpuint(fc->listen.n, ==, 1);
	g_assert_cmpstr(fc->listen.v[0], ==, "127.0.0.1:2525");
	g_assert_true(m->mctx.core == rm_core());

	/* the store is not there before init gives it a handle */
	g_assert_cmpint(rm_modules_init(&err), ==, 0);
	g_assert_cmpstr(m->mctx.data, ==, "inited");
	ops = rm_store(&h);
	g_assert_nonnull(ops);
	g_assert_cmpuint(ops->size, ==, sizeof(struct rmail_store_ops));
	g_assert_cmpstr(h, ==, "inited");
	g_assert_true(rm_core()->store(NULL) == ops);
	g_assert_cmpstr(rm_core()->conf_str("hostname"), ==, "h.test");

	/* reload: a bad section refuses the whole reload, conf unchanged */
	g_free(text);
	text = g_strdup_printf("{\"module_dir\": \"%s\", \"hostname\": "
			       "\"h.test\", \"modules\": [\"mod_good\"], "
			       "\"good\": {\"greeting\": 5}}",
			       fxdir);
	c2 = load_conf(text);
	g_assert_cmpint(rm_modules_reload(c2, &err), ==, -1);
	g_assert_cmpstr(err.msg, ==, "good.greeting: expected a string");
	g_assert_true(m->mctx.conf == fc);
	rm_config_free(&c2);

	g_free(text);
	text = g_strdup_printf("{\"module_dir\": \"%s\", \"hostname\": "
			       "\"h.test\", \"modules\": [\"mod_good\"], "
			       "\"delivery\": {\"workers\": 7}, "
			       "\"workers\": {\"read\": 3}, "
			       "\"log_level\": \"debug\", "
			       "\"good\": {\"greeting\": \"bye\", \"listen\": "
			       "[\"[::1]:2525\"], \"max_line\": 2048}}",
			       fxdir);
	c3 = load_conf(text);
	/* every key without RMAIL_CONF_RELOADABLE, core and module alike;
	 * the reloadable ones (log_level, good.greeting) apply */
	g_assert_cmpstr(rm_config_restart_keys(c, c3), ==,
			"modules, delivery.workers, workers.read, good.listen, "
			"good.max_line");
	g_assert_cmpint(rm_modules_reload(c3, &err), ==, 0);
	g_assert_cmpstr(((const struct fx_conf *)m->mctx.conf)->greeting, ==,
			"bye");
	rm_modules_stop(RMAIL_STOP_NOW);
	rm_modules_fini();
	g_free(text);
	/* both generations stay alive: modules were never unloaded */
	rm_conf_set(NULL);
	rm_config_free(&c);
	rm_config_free(&c3);
}

static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sa, &len), ==, 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static int try_bind(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM, 0), rc, e;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	e = errno;
	close(fd);
	return rc == 0 ? 0 : e;
}

/* Before the privilege drop the core binds every RMAIL_CONF_LISTEN key
 * of every listed module, whatever the key and section are called. */
static void test_prebind(void)
{
	int port = free_port();
	char *text = g_strdup_printf(
		"{\"module_dir\": \"%s\", \"hostname\": \"h.test\", "
		"\"modules\": [\"mod_oddlisten\"], \"odd_section\": "
		"{\"listen\": [], \"endpoints\": [\"127.0.0.1:%d\"]}}",
		fxdir, port);
	struct rm_config *c = load_conf(text);
	struct rm_priv priv = {.active = false};
	struct rmail_err err;

	rmail_err_clear(&err);
	g_assert_cmpint(try_bind(port), ==, 0);
	g_assert_cmpint(rm_priv_prebind(c, &priv, &err), ==, 0);
	g_assert_cmpstr(err.msg, ==, "");
	g_assert_cmpint(try_bind(port), ==, EADDRINUSE);
	rm_listen_stop_accepting();
	g_assert_cmpint(try_bind(port), ==, 0);
	rm_config_free(&c);
	g_free(text);
}

/* The same struct as a module of one minor and a core of the next see
 * it: the sized-copy rule in both directions. */
struct sz_v1 {
	uint32_t size;
	uint32_t a;
	uint64_t b;
};
struct sz_v2 {
	uint32_t size;
	uint32_t a;
	uint64_t b;
	uint64_t c; /* appended in the next minor */
};

static void test_sized(void)
{
	struct sz_v1 old = {.size = sizeof(old), .a = 1, .b = 2};
	struct sz_v2 now, filled = {.size = sizeof(filled), 7, 8, 9};
	struct {
		struct sz_v1 v;
		uint64_t canary;
	} out = {{.size = sizeof(struct sz_v1)}, 0xfeedu};

	/* older producer, newer reader: the unknown tail reads as 0 */
	memset(&now, 0xff, sizeof(now));
	now.size =
		(uint32_t)rmail_sized_copy(&now, sizeof(now), &old, old.size);
	g_assert_cmpuint(now.size, ==, sizeof(struct sz_v1));
	g_assert_cmpuint(now.a, ==, 1);
	g_assert_cmpuint(now.b, ==, 2);
	g_assert_cmpuint(now.c, ==, 0);
	g_assert_true(RMAIL_HAS(&now, struct sz_v2, b));
	g_assert_false(RMAIL_HAS(&now, struct sz_v2, c));

	/* newer filler, older caller's buffer: nothing past its size */
	out.v.size = (uint32_t)rmail_sized_copy(&out.v, out.v.size, &filled,
						sizeof(filled));
	g_assert_cmpuint(out.v.size, ==, sizeof(struct sz_v1));
	g_assert_cmpuint(out.v.a, ==, 7);
	g_assert_cmpuint(out.v.b, ==, 8);
	g_assert_cmpuint(out.canary, ==, 0xfeedu);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	if (argc < 2) {
		g_printerr("usage: %s FIXTURE_DIR\n", argv[0]);
		return 2;
	}
	fxdir = argv[1];
	lines = g_ptr_array_new_with_free_func(g_free);
	tmpdir = g_dir_make_tmp("rmail-abi-XXXXXX", NULL);
	g_assert_nonnull(tmpdir);
	g_test_add_func("/abi/validate", test_validate);
	g_test_add_func("/abi/writable", test_writable);
	g_test_add_func("/abi/load", test_load);
	g_test_add_func("/abi/sized", test_sized);
	g_test_add_func("/abi/prebind", test_prebind);
	rc = g_test_run();
	{
		char *p = g_build_filename(tmpdir, "config.json", NULL);

		g_unlink(p);
		g_free(p);
	}
	g_rmdir(tmpdir);
	g_free(tmpdir);
	g_ptr_array_free(lines, TRUE);
	return rc;
}
