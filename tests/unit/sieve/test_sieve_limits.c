/* Hostile scripts and messages: every limit of struct sieve_limits
 * fails with its own message and line, costs stay bounded, and a
 * compiled script runs in several threads at once. */
#include <glib.h>
#include <string.h>

#include "sieve_tmsg.h"

static const char msg[] = "From: a@example.com\r\n"
			  "Subject: hello\r\n"
			  "\r\n"
			  "body\r\n";

static char *compile_err(const char *text, size_t len,
			 const struct sieve_limits *lim)
{
	char err[256] = "";
	struct sieve_script *s =
		sieve_compile(text, len, lim, NULL, NULL, err, sizeof(err));

	if (s != NULL) {
		sieve_free(s);
		return g_strdup("compiled");
	}
	return g_strdup(err);
}

static char *run_lim(const char *text, const char *raw,
		     const struct sieve_limits *lim)
{
	char err[256];
	struct sieve_script *s = sieve_compile(text, strlen(text), lim, NULL,
					       NULL, err, sizeof(err));
	struct tmsg m;
	struct sieve_env env;
	struct sieve_result res;
	char *out;
	int rc;

	if (s == NULL)
		return g_strdup_printf("COMPILE: %s", err);
	tmsg_init(&m, raw);
	tmsg_env(&m, &env, "a@b", "c@d");
	rc = sieve_run(s, &env, &res);
	out = tmsg_result(&res, rc);
	sieve_result_free(&res);
	tmsg_free(&m);
	sieve_free(s);
	return out;
}

static GString *repeat(const char *s, size_t n)
{
	GString *g = g_string_new(NULL);

	for (size_t i = 0; i < n; i++)
		g_string_append(g, s);
	return g;
}

static void t_script_size(void)
{
	struct sieve_limits lim = {.max_script = 10};
	char *e = compile_err("discard; keep;", 14, &lim);

	g_assert_cmpstr(e, ==, "line 1: script too large (14 > 10 bytes)");
	g_free(e);
}

static void t_nesting(void)
{
	GString *g = repeat("if true {\n", 40);
	char *e;

	g_string_append(g, "discard;");
	for (int i = 0; i < 40; i++)
		g_string_append(g, "}");
	e = compile_err(g->str, g->len, NULL);
	g_assert_cmpstr(e, ==, "line 33: tests nested too deeply");
	g_free(e);
	g_string_free(g, TRUE);

	g = repeat("not ", 100000);
	g_string_prepend(g, "if ");
	g_string_append(g, "true { }");
	e = compile_err(g->str, g->len, NULL);
	g_assert_cmpstr(e, ==, "line 1: tests nested too deeply");
	g_free(e);
	g_string_free(g, TRUE);

	g = repeat("anyof(", 100000);
	g_string_prepend(g, "if ");
	e = compile_err(g->str, g->len, NULL);
	g_assert_cmpstr(e, ==, "line 1: tests nested too deeply");
	g_free(e);
	g_string_free(g, TRUE);
}

static void t_too_complex(void)
{
	/* the most nodes per byte: the arena's cap stops it, with a line */
	GString *g = repeat("stop;", 200000);
	char *e = compile_err(g->str, g->len, NULL);

	g_assert_true(
		g_str_has_suffix(e, "out of memory (script too complex)") ||
		strcmp(e, "compiled") == 0);
	g_free(e);
	g_string_free(g, TRUE);
}

static void t_steps(void)
{
	struct sieve_limits lim = {.max_steps = 50};
	GString *g = repeat("if false { }\n", 100);
	char *got = run_lim(g->str, msg, &lim);

	g_assert_cmpstr(got, ==, "ERROR: line 26: step budget exceeded");
	g_free(got);
	g_string_free(g, TRUE);
}

static void t_matches_budget(void)
{
	/* a pattern with many stars against a long value: bounded work */
	GString *p = repeat("*a", 2000);
	GString *m = repeat("a", 200000);
	gint64 t0 = g_get_monotonic_time();
	char *script, *raw, *got;

	g_string_append(p, "*b");
	script = g_strdup_printf(
		"if header :matches \"subject\" \"%s\" { discard; }", p->str);
	raw = g_strdup_printf("Subject: %s\r\n\r\nx\r\n", m->str);
	got = run_lim(script, raw, NULL);
	g_assert_true(strcmp(got, "ERROR: line 1: step budget exceeded") == 0 ||
		      strcmp(got, "implicit-keep") == 0);
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 10 * G_USEC_PER_SEC);
	g_free(got);
	g_free(script);
	g_free(raw);
	g_string_free(p, TRUE);
	g_string_free(m, TRUE);
}

static void t_variable_growth(void)
{
	GString *g = g_string_new("require [\"variables\", \"fileinto\"];\n"
				  "set \"a\" \"xy\";\n");
	char *got;

	for (int i = 0; i < 40; i++)
		g_string_append(g, "set \"a\" \"${a}${a}\";\n");
	g_string_append(g, "set :length \"n\" \"${a}\"; fileinto \"${n}\";");
	got = run_lim(g->str, msg, NULL);
	g_assert_cmpstr(got, ==, "fileinto 4096");
	g_free(got);
	g_string_free(g, TRUE);
}

static void t_actions(void)
{
	GString *g = g_string_new("require \"fileinto\";\n");
	struct sieve_limits lim = {.max_actions = 5};
	char *got;

	for (int i = 0; i < 10; i++)
		g_string_append_printf(g, "fileinto \"f%d\";\n", i);
	got = run_lim(g->str, msg, &lim);
	g_assert_cmpstr(got, ==, "ERROR: line 7: too many actions (limit 5)");
	g_free(got);
	g_string_free(g, TRUE);
}

static void t_flags(void)
{
	GString *g = g_string_new("require \"imap4flags\";\naddflag \"");
	char *got;

	for (int i = 0; i < 300; i++)
		g_string_append_printf(g, "f%d ", i);
	g_string_append(g, "\";");
	got = run_lim(g->str, msg, NULL);
	g_assert_cmpstr(got, ==, "ERROR: line 2: too many flags (limit 256)");
	g_free(got);
	g_string_free(g, TRUE);
}

static void t_redirects(void)
{
	struct sieve_limits lim = {.max_redirects = 1};
	char *got = run_lim("redirect \"a@x\";\nredirect \"b@x\";", msg, &lim);

	g_assert_cmpstr(got, ==, "ERROR: line 2: too many redirects (limit 1)");
	g_free(got);
}

static void t_runtime_error_keeps(void)
{
	char err[256];
	const char *text = "require \"fileinto\";\nfileinto \"a\";\n"
			   "redirect \"a@x\"; redirect \"b@x\";\n"
			   "redirect \"c@x\"; redirect \"d@x\";\n"
			   "redirect \"e@x\";\n";
	struct sieve_script *s = sieve_compile(text, strlen(text), NULL, NULL,
					       NULL, err, sizeof(err));
	struct tmsg m;
	struct sieve_env env;
	struct sieve_result res;

	tmsg_init(&m, msg);
	tmsg_env(&m, &env, "a@b", "c@d");
	g_assert_cmpint(sieve_run(s, &env, &res), ==, -1);
	g_assert_cmpuint(res.n, ==, 0);
	g_assert_true(res.implicit_keep);
	g_assert_cmpstr(res.err, ==, "line 5: too many redirects (limit 4)");
	sieve_result_free(&res);
	tmsg_free(&m);
	sieve_free(s);
}

static struct sieve_script *shared;

static gpointer worker(gpointer arg)
{
	(void)arg;
	for (int i = 0; i < 200; i++) {
		struct tmsg m;
		struct sieve_env env;
		struct sieve_result res;
		char *got;

		tmsg_init(&m, msg);
		tmsg_env(&m, &env, "a@b", "c@d");
		got = tmsg_result(&res, sieve_run(shared, &env, &res));
		g_assert_cmpstr(got, ==, "fileinto hello-hello");
		g_free(got);
		sieve_result_free(&res);
		tmsg_free(&m);
	}
	return NULL;
}

static void t_threads(void)
{
	const char *text = "require [\"variables\", \"fileinto\"];\n"
			   "if header :matches \"subject\" \"*\" {\n"
			   "  set \"s\" \"${1}-${1}\"; fileinto \"${s}\"; }";
	char err[256];
	GThread *th[4];

	shared = sieve_compile(text, strlen(text), NULL, NULL, NULL, err,
			       sizeof(err));
	g_assert_nonnull(shared);
	for (int i = 0; i < 4; i++)
		th[i] = g_thread_new("sieve", worker, NULL);
	for (int i = 0; i < 4; i++)
		g_thread_join(th[i]);
	sieve_free(shared);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/sieve/limits/script-size", t_script_size);
	g_test_add_func("/sieve/limits/nesting", t_nesting);
	g_test_add_func("/sieve/limits/too-complex", t_too_complex);
	g_test_add_func("/sieve/limits/steps", t_steps);
	g_test_add_func("/sieve/limits/matches-budget", t_matches_budget);
	g_test_add_func("/sieve/limits/variable-growth", t_variable_growth);
	g_test_add_func("/sieve/limits/actions", t_actions);
	g_test_add_func("/sieve/limits/redirects", t_redirects);
	g_test_add_func("/sieve/limits/flags", t_flags);
	g_test_add_func("/sieve/limits/runtime-error-keeps",
			t_runtime_error_keeps);
	g_test_add_func("/sieve/limits/threads", t_threads);
	return g_test_run();
}
