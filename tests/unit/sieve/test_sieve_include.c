/* RFC 6609 include: :personal/:global through the resolver, :once,
 * :optional, return, global variables, loops and depth. */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sieve_tmsg.h"

static const char msg[] = "From: boss@example.com\r\n"
			  "Subject: Make money fast\r\n"
			  "\r\n"
			  "x\r\n";

struct script {
	int global;
	const char *name, *text;
};

static const struct script scripts[] = {
	/* RFC 6609 section 6's scripts, lightly completed */
	{0, "always_allow",
	 "require [\"include\", \"envelope\"];\n"
	 "if address :is \"from\" \"boss@example.com\"\n"
	 "{ keep; }\n"},
	{1, "spam_tests",
	 "require [\"include\", \"fileinto\"];\n"
	 "if header :contains \"subject\" \"money\"\n"
	 "{ fileinto \"spam\"; }\n"},
	{0, "subject_tests",
	 "require [\"include\", \"variables\"];\n"
	 "global [\"test\", \"test_mailbox\"];\n"
	 "if header :contains \"Subject\" \"${test}\" {\n"
	 "    set \"test_mailbox\" \"spam-${test}\";\n}\n"},
	{0, "counter",
	 "require [\"include\", \"variables\"];\n"
	 "global \"n\";\nset \"n\" \"${n}x\";\n"},
	{0, "early",
	 "require [\"include\", \"fileinto\"];\n"
	 "fileinto \"one\";\nreturn;\nfileinto \"two\";\n"},
	{0, "stopper", "require \"include\";\nstop;\n"},
	{0, "loop_a", "require \"include\";\ninclude \"loop_b\";\n"},
	{0, "loop_b", "require \"include\";\ninclude \"loop_a\";\n"},
	{0, "broken", "require \"include\";\n\nfrobnicate;\n"},
	{0, "locals",
	 "require [\"include\", \"variables\", \"fileinto\"];\n"
	 "fileinto \"in-${x}-${global.g}\";\n"},
	{0, "d1", "require \"include\";\ninclude \"d2\";\n"},
	{0, "d2", "require \"include\";\ninclude \"d3\";\n"},
	{0, "d3", "require \"include\";\ndiscard;\n"},
};

static int calls;
static char *wide[2]; /* "wide1" includes "wide2" 100 times, which tests */

static char *resolve(void *arg, int global, const char *name, size_t *len_r)
{
	(void)arg;
	calls++;
	for (int w = 0; w < 2; w++) {
		char nm[8];

		snprintf(nm, sizeof(nm), "wide%d", w + 1);
		if (!global && wide[w] != NULL && strcmp(name, nm) == 0) {
			*len_r = strlen(wide[w]);
			return strdup(wide[w]);
		}
	}
	for (size_t i = 0; i < G_N_ELEMENTS(scripts); i++)
		if (scripts[i].global == global &&
		    strcmp(scripts[i].name, name) == 0) {
			*len_r = strlen(scripts[i].text);
			/* the library frees it with free() */
			char *t = malloc(*len_r + 1);

			memcpy(t, scripts[i].text, *len_r + 1);
			return t;
		}
	return NULL;
}

static char *run_lim(const char *text, const struct sieve_limits *lim)
{
	char err[256];
	struct sieve_script *s = sieve_compile(text, strlen(text), lim, resolve,
					       NULL, err, sizeof(err));
	struct tmsg m;
	struct sieve_env env;
	struct sieve_result res;
	char *out;
	int rc;

	if (s == NULL)
		return g_strdup_printf("COMPILE: %s", err);
	tmsg_init(&m, msg);
	tmsg_env(&m, &env, "boss@example.com", "me@example.com");
	rc = sieve_run(s, &env, &res);
	out = tmsg_result(&res, rc);
	sieve_result_free(&res);
	tmsg_free(&m);
	sieve_free(s);
	return out;
}

static char *run(const char *text)
{
	return run_lim(text, NULL);
}

#define CHECK(script, want)                                                    \
	do {                                                                   \
		char *got_ = run(script);                                      \
		g_assert_cmpstr(got_, ==, want);                               \
		g_free(got_);                                                  \
	} while (0)

static void t_rfc6609_example(void)
{
	CHECK("require [\"include\"];\n"
	      "include :personal \"always_allow\";\n"
	      "include :global \"spam_tests\";\n",
	      "keep; fileinto spam");
}

static void t_global_location(void)
{
	/* the same name is a different script in the other location */
	CHECK("require \"include\";\ninclude :personal \"spam_tests\";",
	      "COMPILE: line 2: include: no personal script \"spam_tests\"");
}

static void t_global_variables(void)
{
	/* RFC 6609 3.3's example */
	CHECK("require [\"include\", \"variables\", \"relational\",\n"
	      "         \"fileinto\"];\n"
	      "global [\"test\", \"test_mailbox\"];\n"
	      "set \"test\" \"$$\";\n"
	      "include \"subject_tests\";\n"
	      "set \"test\" \"Make money\";\n"
	      "include \"subject_tests\";\n"
	      "if string :count \"eq\" \"${test_mailbox}\" \"1\"\n"
	      "{ fileinto \"${test_mailbox}\"; stop; }\n",
	      "fileinto spam-Make money");
}

static void t_locals_are_private(void)
{
	CHECK("require [\"include\", \"variables\"];\n"
	      "global \"g\";\nset \"x\" \"X\";\nset \"g\" \"G\";\n"
	      "include \"locals\";",
	      "fileinto in--G");
}

static void t_once(void)
{
	CHECK("require [\"include\", \"variables\", \"fileinto\"];\n"
	      "global \"n\";\n"
	      "include :once \"counter\";\ninclude :once \"counter\";\n"
	      "include \"counter\";\nfileinto \"${n}\";",
	      "fileinto xx");
}

static void t_compiled_once(void)
{
	calls = 0;
	CHECK("require [\"include\", \"variables\", \"fileinto\"];\n"
	      "global \"n\";\ninclude \"counter\";\ninclude \"counter\";\n"
	      "fileinto \"${n}\";",
	      "fileinto xx");
	g_assert_cmpint(calls, ==, 1);
}

static void t_optional(void)
{
	CHECK("require \"include\";\ninclude :optional \"nope\";\ndiscard;",
	      "discard");
	CHECK("require \"include\";\n\ninclude \"nope\";",
	      "COMPILE: line 3: include: no personal script \"nope\"");
}

static void t_return_and_stop(void)
{
	CHECK("require [\"include\", \"fileinto\"];\ninclude \"early\";\n"
	      "fileinto \"after\";",
	      "fileinto one; fileinto after");
	CHECK("require [\"include\", \"fileinto\"];\ninclude \"stopper\";\n"
	      "fileinto \"after\";",
	      "implicit-keep");
	CHECK("require \"include\";\nreturn;\ndiscard;", "implicit-keep");
}

static void t_loop(void)
{
	CHECK("require \"include\";\ninclude \"loop_a\";",
	      "COMPILE: line 2: in included \"loop_a\": line 2: in included "
	      "\"loop_b\": line 2: include loop through \"loop_a\"");
}

static void t_error_in_included(void)
{
	CHECK("require \"include\";\ninclude \"broken\";",
	      "COMPILE: line 2: in included \"broken\": line 3: unknown "
	      "command \"frobnicate\"");
}

static void t_depth(void)
{
	struct sieve_limits lim = {.max_includes = 2};
	char *got = run_lim("require \"include\";\ninclude \"d1\";", &lim);

	g_assert_true(g_str_has_suffix(got, "includes nested too deeply (2)"));
	g_free(got);
	lim.max_includes = 3;
	got = run_lim("require \"include\";\ninclude \"d1\";", &lim);
	g_assert_cmpstr(got, ==, "discard");
	g_free(got);
}

static void t_no_resolver(void)
{
	char err[256];
	const char *text = "require \"include\";\ninclude :optional \"a\";\n"
			   "include \"b\";\n";
	struct sieve_script *s = sieve_compile(text, strlen(text), NULL, NULL,
					       NULL, err, sizeof(err));
	struct tmsg m;
	struct sieve_env env;
	struct sieve_result res;

	/* CHECKSCRIPT: compiles; running the missing include fails */
	g_assert_nonnull(s);
	tmsg_init(&m, msg);
	tmsg_env(&m, &env, "a@b", "c@d");
	g_assert_cmpint(sieve_run(s, &env, &res), ==, -1);
	g_assert_cmpstr(res.err, ==,
			"line 3: include: script \"b\" unavailable");
	g_assert_true(res.implicit_keep);
	sieve_result_free(&res);
	tmsg_free(&m);
	sieve_free(s);
}

static void t_fanout_budget(void)
{
	/* no loops in Sieve, but includes multiply: 100 x 100 x 100
	 * header tests end on the step budget, quickly */
	GString *g[3];
	gint64 t0;
	char *got;

	for (int i = 0; i < 3; i++)
		g[i] = g_string_new("require \"include\";\n");
	for (int i = 0; i < 100; i++) {
		g_string_append(g[0], "include \"wide1\";\n");
		g_string_append(g[1], "include \"wide2\";\n");
		g_string_append(g[2], "if header :contains \"subject\" "
				      "\"zzz\" { keep; }\n");
	}
	wide[0] = g[1]->str;
	wide[1] = g[2]->str;
	t0 = g_get_monotonic_time();
	got = run(g[0]->str);
	/* whichever of the budget and the run's memory ends first */
	g_test_message("%s", got);
	g_assert_true(g_str_has_suffix(got, "step budget exceeded") ||
		      g_str_has_suffix(got, "out of memory (run limit)"));
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 5 * G_USEC_PER_SEC);
	g_free(got);
	wide[0] = wide[1] = NULL;
	for (int i = 0; i < 3; i++)
		g_string_free(g[i], TRUE);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/sieve/include/rfc6609-example", t_rfc6609_example);
	g_test_add_func("/sieve/include/location", t_global_location);
	g_test_add_func("/sieve/include/global-variables", t_global_variables);
	g_test_add_func("/sieve/include/locals", t_locals_are_private);
	g_test_add_func("/sieve/include/once", t_once);
	g_test_add_func("/sieve/include/compiled-once", t_compiled_once);
	g_test_add_func("/sieve/include/optional", t_optional);
	g_test_add_func("/sieve/include/return-stop", t_return_and_stop);
	g_test_add_func("/sieve/include/loop", t_loop);
	g_test_add_func("/sieve/include/error-inside", t_error_in_included);
	g_test_add_func("/sieve/include/depth", t_depth);
	g_test_add_func("/sieve/include/no-resolver", t_no_resolver);
	g_test_add_func("/sieve/include/fanout-budget", t_fanout_budget);
	return g_test_run();
}
