/* The lexer, grammar and checker (RFC 5228 2 and 8): what compiles, what
 * it means, and what fails with which message on which line; every
 * prefix of every vector compiles or fails cleanly. */
#include <glib.h>
#include <string.h>

#include "sieve_tmsg.h"

static const char msg[] = "From: a@example.com\r\n"
			  "Subject: hello \"world\"\r\n"
			  "\r\n"
			  "body\r\n";

static char *run(const char *script)
{
	return tmsg_run(script, msg, "a@example.com", "b@example.com");
}

struct vec {
	const char *name, *script, *want;
};

/* scripts that compile, and what they do */
static const struct vec good[] = {
	{"2.3 hash comment", "# comment\r\ndiscard; # trailing\n", "discard"},
	{"2.3 bracket comment", "/* a\n * b */ discard /* c */ ;", "discard"},
	{"2.3 comment at end without newline", "discard; # x", "discard"},
	{"2.4.1 numbers with quantifiers",
	 "if allof(size :over 1, size :under 1K, size :under 1m, "
	 "size :under 1G) { discard; }",
	 "discard"},
	{"2.4.2 escapes in quoted strings",
	 "require \"fileinto\"; fileinto \"a\\\"b\\\\c\\qd\";",
	 "fileinto a\"b\\cqd"},
	{"2.4.2 quoted string across lines",
	 "require \"fileinto\"; fileinto \"a\nb\";", "fileinto a\nb"},
	{"2.4.2 multi-line with comment after text:",
	 "require \"fileinto\"; fileinto text: # why\nline\n.\n;",
	 "fileinto line\r\n"},
	{"2.4.2 multi-line CRLF",
	 "require \"fileinto\";\r\nfileinto text:\r\n"
	 "a\r\n..b\r\n.\r\n;",
	 "fileinto a\r\n.b\r\n"},
	{"2.4.2.1 string list",
	 "if header :contains \"subject\" "
	 "[\"x\", \"world\"] { discard; }",
	 "discard"},
	{"2.6.2 tags are case-insensitive",
	 "if header :CONTAINS \"Subject\" \"WORLD\" { discard; }", "discard"},
	{"2.9 identifiers are case-insensitive",
	 "IF TRUE { DISCARD; } ELSIF false { keep; } Else { keep; }",
	 "discard"},
	{"3.1 elsif chain",
	 "if false { keep; } elsif false { keep; } "
	 "elsif true { discard; } else { keep; }",
	 "discard"},
	{"3.1 empty blocks", "if true { } else { }", "implicit-keep"},
	{"3.2 several requires",
	 "require \"fileinto\"; require [\"copy\"];\n"
	 "fileinto :copy \"x\";",
	 "fileinto x :copy; implicit-keep"},
	{"2.7.2 comparator i;octet :is",
	 "if header :comparator \"i;octet\" :is \"subject\" "
	 "\"hello \\\"world\\\"\" { discard; }",
	 "discard"},
	{"2.7.1 :contains empty key matches",
	 "if header :contains \"subject\" \"\" { discard; }", "discard"},
	{"2.7.1 :matches empty value",
	 "if header :matches \"x-none\" \"*\" "
	 "{ discard; }",
	 "implicit-keep"},
	{"variables off: ${ is literal",
	 "require \"fileinto\";\n"
	 "fileinto \"${x}\";",
	 "fileinto ${x}"},
	{"5229/3 invalid references stay",
	 "require [\"variables\", \"fileinto\"];\n"
	 "fileinto \"${a-b}${}${1x}${\";",
	 "fileinto ${a-b}${}${1x}${"},
};

/* scripts that must not compile, with the exact error */
static const struct vec bad[] = {
	{"unknown command", "keep;\n\nfrobnicate;",
	 "line 3: unknown command \"frobnicate\""},
	{"unknown test", "if frob { keep; }", "line 1: unknown test \"frob\""},
	{"missing semicolon: the next word is a test", "keep\ndiscard;",
	 "line 1: keep takes no test"},
	{"unterminated string", "keep;\nfileinto \"abc",
	 "line 2: unterminated string"},
	{"unterminated multi-line of empty lines (fuzz)",
	 "require \"reject\"; reject text:\n\n\n\n\n",
	 "line 1: unterminated multi-line string"},
	{"unterminated comment", "keep;\n/* abc\n\n",
	 "line 2: unterminated comment"},
	{"unterminated multi-line", "require \"reject\";\nreject text:\nabc\n",
	 "line 2: unterminated multi-line string"},
	{"missing brace", "if true {\n keep;\n",
	 "line 3: missing '}' at end "
	 "of script"},
	{"stray brace", "keep;\n}", "line 2: unexpected '}'"},
	{"unsupported extension", "require [\"fileinto\", \"frob\"];",
	 "line 1: unsupported extension \"frob\""},
	{"fileinto without require", "\nfileinto \"x\";",
	 "line 2: fileinto needs its extension in require"},
	{"require after a command", "keep;\nrequire \"fileinto\";",
	 "line 2: require must come before other commands"},
	{"elsif without if", "keep;\nelsif true { keep; }",
	 "line 2: elsif without if"},
	{"if needs a block", "if true keep;", "line 1: if needs a block"},
	{"if without test", "if { keep; }", "line 1: if needs one test"},
	{"if takes a test, not a list", "if (true) { keep; }",
	 "line 1: if needs one test"},
	{"anyof takes a list", "if anyof true { keep; }",
	 "line 1: anyof needs a test list"},
	{"keep takes no block", "keep { discard; }",
	 "line 1: keep takes no block"},
	{"bad tag", "if header :frob \"a\" \"b\" { keep; }",
	 "line 1: unknown tag :frob for header"},
	{"two match types", "if header :is :contains \"a\" \"b\" { keep; }",
	 "line 1: conflicting or duplicate :contains"},
	{"unknown comparator",
	 "if header :comparator \"i;frob\" \"a\" \"b\" { keep; }",
	 "line 1: unknown comparator \"i;frob\""},
	{"numeric needs require",
	 "if header :comparator \"i;ascii-numeric\" \"a\" \"b\" { keep; }",
	 "line 1: i;ascii-numeric needs its extension in require"},
	{"numeric cannot :contains",
	 "require \"comparator-i;ascii-numeric\";\n"
	 "if header :contains :comparator \"i;ascii-numeric\" \"a\" \"1\" "
	 "{ keep; }",
	 "line 2: i;ascii-numeric cannot do :contains or :matches"},
	{"relational op",
	 "require \"relational\";\n"
	 "if header :value \"gtx\" \"a\" \"1\" { keep; }",
	 "line 2: unknown relational operator \"gtx\""},
	{"wrong argument count", "if header \"a\" { keep; }",
	 "line 1: header takes 2 arguments, not 1"},
	{"size without tag", "if size 100 { keep; }",
	 "line 1: size needs :over or :under"},
	{"number too large", "if size :over 99999999999999999999 { keep; }",
	 "line 1: number too large"},
	{"number overflow with quantifier",
	 "if size :over 999999999999G { keep; }", "line 1: number too large"},
	{"bad header name", "if header :is \"a b\" \"x\" { keep; }",
	 "line 1: invalid header name \"a b\""},
	{"5228/5.1 address only on address fields",
	 "if address :is \"subject\" \"x\" { keep; }",
	 "line 1: address: \"subject\" does not hold addresses"},
	{"bad variable name", "require \"variables\";\nset \"1a\" \"x\";",
	 "line 2: invalid variable name \"1a\""},
	{"bad envelope part",
	 "require \"envelope\";\n"
	 "if envelope \"cc\" \"x\" { keep; }",
	 "line 2: unknown envelope part \"cc\""},
	{"bad date part",
	 "require \"date\";\n"
	 "if currentdate \"fortnight\" \"x\" { keep; }",
	 "line 2: unknown date part \"fortnight\""},
	{"bad zone",
	 "require \"date\";\n"
	 "if currentdate :zone \"+2500x\" \"hour\" \"x\" { keep; }",
	 "line 2: bad :zone \"+2500x\""},
	{":last needs :index",
	 "require \"index\";\n"
	 "if header :last \"a\" \"b\" { keep; }",
	 "line 2: :last needs :index"},
	{"redirect bad address", "redirect \"nobody\";",
	 "line 1: redirect: invalid address \"nobody\""},
	{"tag after positional", "if header \"a\" :is \"b\" { keep; }",
	 "line 1: tagged argument :is after positional ones"},
	{"NUL byte", "keep;\n\0", "line 2: NUL character in script"},
	{"stray character", "keep;\n@", "line 2: unexpected character '@'"},
	{"include without resolver: bad name",
	 "require \"include\";\ninclude \"a/b\";",
	 "line 2: include: invalid script name \"a/b\""},
	{"text: must end its line", "require \"reject\"; reject text: x\n.\n;",
	 "line 1: text: must end its line"},
	{"conflicting set modifiers",
	 "require \"variables\";\nset :lower :upper \"a\" \"b\";",
	 "line 2: conflicting modifiers"},
};

static void t_good(gconstpointer p)
{
	const struct vec *v = p;
	char *got = run(v->script);

	g_assert_cmpstr(got, ==, v->want);
	g_free(got);
}

static void t_bad(gconstpointer p)
{
	const struct vec *v = p;
	/* scripts with a NUL are given with their full length */
	size_t len = strlen(v->script);
	char err[256];
	struct sieve_script *s;

	if (strcmp(v->name, "NUL byte") == 0)
		len = 7;
	s = sieve_compile(v->script, len, NULL, NULL, NULL, err, sizeof(err));
	g_assert_null(s);
	g_assert_cmpstr(err, ==, v->want);
}

/* every prefix of every vector: a script or a "line N: " error */
static void t_prefixes(void)
{
	for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
		size_t n = strlen(good[i].script);

		for (size_t k = 0; k <= n; k++) {
			char err[256] = "";
			struct sieve_script *s =
				sieve_compile(good[i].script, k, NULL, NULL,
					      NULL, err, sizeof(err));

			if (s == NULL)
				g_assert_true(g_str_has_prefix(err, "line "));
			sieve_free(s);
		}
	}
}

/* the same script whole and split into chunks copied one after the
 * other compiles to the same result (the text need not be one string) */
static void t_split(void)
{
	for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
		size_t n = strlen(good[i].script);

		for (size_t cut = 0; cut <= n; cut += 3) {
			char *copy = g_malloc(n + 1);

			memcpy(copy, good[i].script, cut);
			memcpy(copy + cut, good[i].script + cut, n - cut + 1);
			char *got = run(copy);

			g_assert_cmpstr(got, ==, good[i].want);
			g_free(got);
			g_free(copy);
		}
	}
}

static void t_extensions(void)
{
	const char *e = sieve_extensions();

	g_assert_nonnull(strstr(e, "fileinto "));
	g_assert_nonnull(strstr(e, "comparator-i;unicode-casemap"));
	/* every advertised extension can be required */
	char **v = g_strsplit(e, " ", -1);

	for (char **i = v; *i; i++) {
		char *script = g_strdup_printf("require \"%s\";", *i);
		char *got = run(script);

		g_assert_cmpstr(got, ==, "implicit-keep");
		g_free(got);
		g_free(script);
	}
	g_strfreev(v);
}

static void add(const char *prefix, const struct vec *v, size_t n,
		GTestDataFunc fn)
{
	for (size_t i = 0; i < n; i++) {
		char *path =
			g_strdup_printf("%s/%03zu %s", prefix, i, v[i].name);

		g_strdelimit(path + strlen(prefix) + 1, "/", ':');
		g_test_add_data_func(path, &v[i], fn);
		g_free(path);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_set_nonfatal_assertions();
	add("/sieve/parse/good", good, G_N_ELEMENTS(good), t_good);
	add("/sieve/parse/bad", bad, G_N_ELEMENTS(bad), t_bad);
	g_test_add_func("/sieve/parse/prefixes", t_prefixes);
	g_test_add_func("/sieve/parse/split", t_split);
	g_test_add_func("/sieve/parse/extensions", t_extensions);
	return g_test_run();
}
