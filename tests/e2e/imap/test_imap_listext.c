/*
 * LIST-EXTENDED (RFC 5258) against the real daemon: RECURSIVEMATCH and
 * CHILDINFO on the shapes of RFC 5258 section 5 (an unsubscribed parent
 * of a subscribed child, a parent that exists only through its child, a
 * parent of a subscribed name that does not exist), the rule that a
 * child the pattern lists itself gives its parent no CHILDINFO,
 * RECURSIVEMATCH alone refused, the extended empty pattern; and
 * STATUS=SIZE (RFC 8438) in STATUS and LIST-STATUS.
 */
#include <string.h>

#include "imap_client.h"

static struct imd *D;

/* the LIST line of one name, or "" */
static char *line_of(const char *r, const char *quoted)
{
	const char *p = r;
	size_t ql = strlen(quoted);

	while ((p = strstr(p, "* LIST ")) != NULL) {
		const char *e = strchr(p, '\n');
		const char *q = strstr(p, quoted);

		if (e == NULL)
			e = p + strlen(p);
		if (q != NULL && q < e && q[-1] == ' ' &&
		    (q[ql] == '\n' || q[ql] == ' ' || q[ql] == '\r'))
			return g_strndup(p, (size_t)(e - p));
		p = e;
	}
	return g_strdup("");
}

static void line_is(const char *r, const char *quoted, const char *want)
{
	char *l = line_of(r, quoted);

	if (strcmp(l, want) != 0)
		g_test_message("reply: %s", r);
	g_assert_cmpstr(l, ==, want);
	g_free(l);
}

/*
 * Foo (not subscribed) with Foo/Bar and Foo/Baz (subscribed); Moo
 * (subscribed, no children); Tofu only through Tofu/Bar (subscribed);
 * Fruit/Peach subscribed but never created.
 */
static struct imc *tree(const char *user)
{
	static const char *const mk[] = {"Foo", "Foo/Bar", "Foo/Baz", "Moo",
					 "Tofu/Bar"};
	static const char *const sub[] = {"Foo/Baz", "Moo", "Tofu/Bar",
					  "Fruit/Peach"};
	struct imc *c = imc_fresh(D, user);
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(mk); i++)
		g_free(imc_ok(c, "CREATE \"%s\"", mk[i]));
	for (i = 0; i < G_N_ELEMENTS(sub); i++)
		g_free(imc_ok(c, "SUBSCRIBE \"%s\"", sub[i]));
	return c;
}

static void test_capability(void)
{
	struct imc *c = imc_fresh(D, "lxcap");
	char *r = imc_ok(c, "CAPABILITY");

	has(r, " LIST-EXTENDED");
	has(r, " STATUS=SIZE");
	g_free(r);
	imc_close(c);
}

static void test_recursivematch(void)
{
	struct imc *c = tree("lxrec");
	char *r;

	r = imc_ok(c, "LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%%\"");
	line_is(r, "\"Foo\"",
		"* LIST (\\HasChildren) \"/\" \"Foo\" "
		"(\"CHILDINFO\" (\"SUBSCRIBED\"))");
	line_is(r, "\"Moo\"",
		"* LIST (\\HasNoChildren \\Subscribed) \"/\" \"Moo\"");
	has(r, "\"Tofu\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\n");
	line_is(r, "\"Fruit\"",
		"* LIST (\\NonExistent \\HasNoChildren) \"/\" \"Fruit\" "
		"(\"CHILDINFO\" (\"SUBSCRIBED\"))");
	hasnt(r, "Foo/Baz");
	hasnt(r, "Foo/Bar");
	g_free(r);

	/* the same with RETURN (CHILDREN), and over two patterns */
	r = imc_ok(c, "LIST (RECURSIVEMATCH SUBSCRIBED) \"\" (\"Foo\" "
		      "\"Moo\") RETURN (CHILDREN)");
	line_is(r, "\"Foo\"",
		"* LIST (\\HasChildren) \"/\" \"Foo\" "
		"(\"CHILDINFO\" (\"SUBSCRIBED\"))");
	line_is(r, "\"Moo\"",
		"* LIST (\\HasNoChildren \\Subscribed) \"/\" \"Moo\"");
	hasnt(r, "Tofu");
	g_free(r);

	/* "*" lists the subscribed children themselves: no CHILDINFO
	 * (RFC 5258 3.5), and Foo, not subscribed, is not listed */
	r = imc_ok(c, "LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"*\"");
	hasnt(r, "CHILDINFO");
	line_is(r, "\"Foo\"", "");
	line_is(r, "\"Foo/Baz\"",
		"* LIST (\\HasNoChildren \\Subscribed) \"/\" \"Foo/Baz\"");
	line_is(r, "\"Fruit/Peach\"",
		"* LIST (\\NonExistent \\HasNoChildren \\Subscribed) \"/\" "
		"\"Fruit/Peach\"");
	g_free(r);

	/* the pattern reaches Foo/Baz: Foo gets nothing from it */
	r = imc_ok(c, "LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"Foo\" "
		      "\"Foo/%%\")");
	hasnt(r, "CHILDINFO");
	line_is(r, "\"Foo\"", "");
	g_free(r);

	/* a subscribed parent with a subscribed child the pattern does not
	 * reach: listed as itself, with CHILDINFO */
	g_free(imc_ok(c, "SUBSCRIBE Foo"));
	r = imc_ok(c, "LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"Foo\"");
	line_is(r, "\"Foo\"",
		"* LIST (\\HasChildren \\Subscribed) \"/\" \"Foo\" "
		"(\"CHILDINFO\" (\"SUBSCRIBED\"))");
	g_free(r);

	/* without RECURSIVEMATCH: never CHILDINFO */
	r = imc_ok(c, "LIST (SUBSCRIBED) \"\" \"%%\"");
	hasnt(r, "CHILDINFO");
	line_is(r, "\"Tofu\"", "");
	g_free(r);
	r = imc_ok(c, "LIST \"\" \"%%\"");
	hasnt(r, "CHILDINFO");
	g_free(r);

	/* RFC 5258 3.1: RECURSIVEMATCH alone, or with REMOTE, is BAD */
	r = imc_cmd(c, "LIST (RECURSIVEMATCH) \"\" \"%%\"");
	has(r, " BAD ");
	g_free(r);
	r = imc_cmd(c, "LIST (REMOTE RECURSIVEMATCH) \"\" \"%%\"");
	has(r, " BAD ");
	g_free(r);
	r = imc_ok(c, "LIST (REMOTE) \"\" \"Moo\"");
	has(r, "\"Moo\"\n");
	g_free(r);
	imc_close(c);
}

/* RFC 6154 with RFC 5258: CHILDINFO ("SPECIAL-USE") */
static void test_recursive_special_use(void)
{
	struct imc *c = imc_fresh(D, "lxsu");
	char *r;

	g_free(imc_ok(c, "CREATE Stuff"));
	g_free(imc_ok(c, "CREATE Stuff/Spam (USE (\\Junk))"));
	r = imc_ok(c, "LIST (SPECIAL-USE RECURSIVEMATCH) \"\" \"%%\"");
	line_is(r, "\"Stuff\"",
		"* LIST (\\HasChildren) \"/\" \"Stuff\" "
		"(\"CHILDINFO\" (\"SPECIAL-USE\"))");
	hasnt(r, "Stuff/Spam");
	g_free(r);
	g_free(imc_ok(c, "SUBSCRIBE Stuff/Spam"));
	r = imc_ok(c, "LIST (SUBSCRIBED SPECIAL-USE RECURSIVEMATCH) \"\" "
		      "\"Stuff\"");
	line_is(r, "\"Stuff\"",
		"* LIST (\\HasChildren) \"/\" \"Stuff\" "
		"(\"CHILDINFO\" (\"SUBSCRIBED\" \"SPECIAL-USE\"))");
	g_free(r);
	imc_close(c);
}

/* RFC 5258 3: an extended LIST with "" is no delimiter request */
static void test_empty_pattern(void)
{
	struct imc *c = imc_fresh(D, "lxempty");
	char *r;

	r = imc_ok(c, "LIST \"\" \"\"");
	has(r, "* LIST (\\Noselect) \"/\" \"\"\n");
	g_free(r);
	r = imc_ok(c, "LIST () \"\" \"\"");
	hasnt(r, "* LIST");
	g_free(r);
	r = imc_ok(c, "LIST \"\" \"\" RETURN ()");
	hasnt(r, "* LIST");
	g_free(r);
	imc_close(c);
}

/* RFC 8438: SIZE is the sum of the messages' RFC822.SIZE */
static void test_status_size(void)
{
	static const char m1[] = "Subject: a\r\n\r\nhello\r\n";
	static const char m2[] = "Subject: bb\r\n\r\nhello world\r\n";
	struct imc *c = imc_fresh(D, "lxsize");
	char *r, *want;

	g_free(imc_ok(c, "CREATE Box"));
	r = imc_ok(c, "STATUS Box (SIZE)");
	has(r, "* STATUS \"Box\" (SIZE 0)");
	g_free(r);
	g_free(imc_ok(c, "APPEND Box {%zu+}\r\n%s", strlen(m1), m1));
	g_free(imc_ok(c, "APPEND Box {%zu+}\r\n%s", strlen(m2), m2));
	want = g_strdup_printf("(MESSAGES 2 SIZE %zu)",
			       strlen(m1) + strlen(m2));
	r = imc_ok(c, "STATUS Box (MESSAGES SIZE)");
	has(r, want);
	g_free(r);
	r = imc_ok(c, "LIST \"\" Box RETURN (STATUS (MESSAGES SIZE))");
	has(r, want);
	g_free(r);
	g_free(want);
	r = imc_ok(c, "SELECT Box");
	g_free(r);
	r = imc_ok(c, "FETCH 1:* RFC822.SIZE");
	has(r, "RFC822.SIZE 21)");
	g_free(r);
	imc_close(c);
}

/*
 * The mailboxes rmail makes on its own (a new user's special-use
 * defaults) are real: listed without \Noselect or \NonExistent,
 * subscribed, and selectable, so a sync tool never meets one it cannot
 * open on this side (docs/imap.md, "Default mailboxes").
 */
static void test_defaults_selectable(void)
{
	static const struct {
		const char *name, *use;
	} defs[] = {
		{"INBOX", NULL},	{"Sent", "\\Sent"},
		{"Drafts", "\\Drafts"}, {"Trash", "\\Trash"},
		{"Junk", "\\Junk"},	{"Archive", "\\Archive"},
	};
	struct imc *c = imc_fresh(D, "defaults");
	char *r, *l, *q, **v;
	size_t i;

	r = imc_ok(c, "LIST \"\" \"*\" RETURN (SUBSCRIBED SPECIAL-USE)");
	for (i = 0; i < G_N_ELEMENTS(defs); i++) {
		q = g_strdup_printf("\"%s\"", defs[i].name);
		l = line_of(r, q);
		if (*l == '\0')
			g_test_message("reply: %s", r);
		g_assert_cmpstr(l, !=, "");
		hasnt(l, "\\Noselect");
		hasnt(l, "\\NonExistent");
		has(l, "\\Subscribed");
		if (defs[i].use != NULL)
			has(l, defs[i].use);
		g_free(l);
		g_free(q);
	}
	g_free(r);
	/* nothing else was made: a default is one of these six */
	r = imc_ok(c, "LIST \"\" \"*\"");
	v = g_strsplit(r, "* LIST ", -1);
	g_assert_cmpuint(g_strv_length(v) - 1, ==, G_N_ELEMENTS(defs));
	g_strfreev(v);
	g_free(r);
	for (i = 0; i < G_N_ELEMENTS(defs); i++) {
		r = imc_ok(c, "SELECT \"%s\"", defs[i].name);
		has(r, "[READ-WRITE]");
		has(r, "* 0 EXISTS");
		g_free(r);
	}
	g_free(imc_ok(c, "CLOSE"));
	imc_close(c);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/listext/capability", test_capability);
	g_test_add_func("/imap/listext/recursivematch", test_recursivematch);
	g_test_add_func("/imap/listext/recursive-special-use",
			test_recursive_special_use);
	g_test_add_func("/imap/listext/empty-pattern", test_empty_pattern);
	g_test_add_func("/imap/listext/status-size", test_status_size);
	g_test_add_func("/imap/listext/defaults-selectable",
			test_defaults_selectable);
	D = imd_start("\"allow_cleartext_login_loopback\": true");
	rc = g_test_run();
	imd_stop(D);
	return rc;
}
