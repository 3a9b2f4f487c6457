/*
 * Vacation's decision as a table: (envelope sender, header fields,
 * verdicts) -> reply or the rule that stops it; the :days bounds, the
 * state key and the composed reply.
 */
#include <glib.h>
#include <string.h>
#include <strings.h>

#include "vacation.h"

struct hdrs {
	const char *const *v; /* "Name: value" */
};

static const char *hdr(void *arg, const char *name, size_t nth)
{
	const struct hdrs *h = arg;
	size_t n = strlen(name);

	for (size_t i = 0; h->v[i] != NULL; i++)
		if (strncasecmp(h->v[i], name, n) == 0 && h->v[i][n] == ':' &&
		    nth-- == 0)
			return h->v[i] + n + 1;
	return NULL;
}

struct row {
	const char *what;
	const char *env_from;
	const char *hdrs[6];
	int spam;
	const char *dmarc;
	enum vac_verdict want;
};

static const struct row rows[] = {
	{"plain, in To",
	 "bob@ext.test",
	 {"To: Alice <alice@example.com>"},
	 0,
	 NULL,
	 VAC_SEND},
	{"in Cc among others",
	 "bob@ext.test",
	 {"To: carol@x.test", "Cc: dave@x.test, ALICE@Example.com"},
	 0,
	 NULL,
	 VAC_SEND},
	{"+detail reaches the user",
	 "bob@ext.test",
	 {"To: alice+travel@example.com"},
	 0,
	 NULL,
	 VAC_SEND},
	{"an :addresses alias",
	 "bob@ext.test",
	 {"To: \"Sales\" <sales@example.com>"},
	 0,
	 NULL,
	 VAC_SEND},
	{"Resent-To",
	 "bob@ext.test",
	 {"To: list@x.test", "Resent-To: alice@example.com"},
	 0,
	 NULL,
	 VAC_SEND},
	{"Bcc only (not in the header)",
	 "bob@ext.test",
	 {"To: carol@x.test"},
	 0,
	 NULL,
	 VAC_NOT_ADDRESSED},
	{"a similar address is not ours",
	 "bob@ext.test",
	 {"To: malice@example.com, alice@example.com.evil"},
	 0,
	 NULL,
	 VAC_NOT_ADDRESSED},
	{"null sender",
	 "",
	 {"To: alice@example.com"},
	 0,
	 NULL,
	 VAC_NULL_SENDER},
	{"MAILER-DAEMON",
	 "mailer-daemon@ext.test",
	 {"To: alice@example.com"},
	 0,
	 NULL,
	 VAC_DAEMON_SENDER},
	{"owner-",
	 "owner-users@lists.test",
	 {"To: alice@example.com"},
	 0,
	 NULL,
	 VAC_DAEMON_SENDER},
	{"-request",
	 "users-request@lists.test",
	 {"To: alice@example.com"},
	 0,
	 NULL,
	 VAC_DAEMON_SENDER},
	{"Auto-Submitted: auto-replied",
	 "bob@ext.test",
	 {"To: alice@example.com", "Auto-Submitted: auto-replied"},
	 0,
	 NULL,
	 VAC_AUTO_SUBMITTED},
	{"Auto-Submitted: auto-generated",
	 "bob@ext.test",
	 {"To: alice@example.com", "Auto-Submitted:  Auto-Generated (x)"},
	 0,
	 NULL,
	 VAC_AUTO_SUBMITTED},
	{"Auto-Submitted: no",
	 "bob@ext.test",
	 {"To: alice@example.com", "Auto-Submitted: no"},
	 0,
	 NULL,
	 VAC_SEND},
	{"List-Id",
	 "bob@ext.test",
	 {"To: alice@example.com", "List-Id: <users.lists.test>"},
	 0,
	 NULL,
	 VAC_LIST},
	{"List-Unsubscribe",
	 "bob@ext.test",
	 {"To: alice@example.com", "list-unsubscribe: <mailto:x@y>"},
	 0,
	 NULL,
	 VAC_LIST},
	{"Precedence: bulk",
	 "bob@ext.test",
	 {"To: alice@example.com", "Precedence: bulk"},
	 0,
	 NULL,
	 VAC_PRECEDENCE},
	{"Precedence: junk",
	 "bob@ext.test",
	 {"To: alice@example.com", "Precedence: JUNK"},
	 0,
	 NULL,
	 VAC_PRECEDENCE},
	{"Precedence: list",
	 "bob@ext.test",
	 {"To: alice@example.com", "Precedence: list"},
	 0,
	 NULL,
	 VAC_PRECEDENCE},
	{"Precedence: first-class",
	 "bob@ext.test",
	 {"To: alice@example.com", "Precedence: first-class"},
	 0,
	 NULL,
	 VAC_SEND},
	{"spam", "bob@ext.test", {"To: alice@example.com"}, 1, NULL, VAC_SPAM},
	{"DMARC fail",
	 "bob@ext.test",
	 {"To: alice@example.com"},
	 0,
	 "fail",
	 VAC_DMARC_FAIL},
	{"DMARC pass",
	 "bob@ext.test",
	 {"To: alice@example.com"},
	 0,
	 "pass",
	 VAC_SEND},
	{"from the user",
	 "alice@example.com",
	 {"To: alice@example.com"},
	 0,
	 NULL,
	 VAC_FROM_SELF},
};

static void test_table(void)
{
	const char *mine[] = {"alice@example.com", "sales@example.com"};

	for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
		const struct row *r = &rows[i];
		const char *v[7] = {0};
		struct hdrs h = {v};
		struct vac_in in = {
			.env_from = r->env_from,
			.my_addrs = mine,
			.nmy = 2,
			.spam = r->spam,
			.dmarc_result = r->dmarc,
			.header = hdr,
			.arg = &h,
		};
		enum vac_verdict got;

		memcpy(v, r->hdrs, sizeof(r->hdrs));
		got = vac_decide(&in);
		if (got != r->want)
			g_error("%s: got %s, want %s", r->what,
				vac_verdict_name(got),
				vac_verdict_name(r->want));
	}
}

static void test_period(void)
{
	g_assert_cmpint(vac_period(0, 0), ==, 7 * 86400);
	g_assert_cmpint(vac_period(1, 0), ==, 86400);
	g_assert_cmpint(vac_period(30, 0), ==, 30 * 86400);
	g_assert_cmpint(vac_period(365, 0), ==, 90 * 86400);
	g_assert_cmpint(vac_period(10, 1), ==, 3600);
	g_assert_cmpint(vac_period(7200, 1), ==, 7200);
}

static void test_key(void)
{
	char a[33], b[33], c[33], d[33];

	vac_key("Bob@Ext.test", NULL, "away", "s", NULL, a);
	vac_key("bob@ext.test", NULL, "away", "s", NULL, b);
	g_assert_cmpstr(a, ==, b);
	g_assert_cmpuint(strlen(a), ==, 32);
	vac_key("bob@ext.test", NULL, "back soon", "s", NULL, c);
	g_assert_cmpstr(a, !=, c);
	/* a :handle makes the text irrelevant */
	vac_key("bob@ext.test", "h1", "away", "s", NULL, c);
	vac_key("bob@ext.test", "h1", "other", "t", NULL, d);
	g_assert_cmpstr(c, ==, d);
	vac_key("carol@ext.test", "h1", "away", "s", NULL, d);
	g_assert_cmpstr(c, !=, d);
}

static void test_compose(void)
{
	char *m = vac_compose(
		"alice@example.com", "bob@ext.test", NULL, "Lunch?",
		"<m1@ext.test>", "<m0@ext.test>", "I am away.\nBack on Monday.",
		0, "<r1@example.com>", "Sun, 06 Dec 2026 19:00:00 +0000");

	g_assert_nonnull(strstr(m, "\r\nSubject: Auto: Lunch?\r\n"));
	g_assert_nonnull(strstr(m, "\r\nTo: <bob@ext.test>\r\n"));
	g_assert_nonnull(
		strstr(m, "\r\nAuto-Submitted: auto-replied (vacation)\r\n"));
	g_assert_nonnull(strstr(m, "\r\nIn-Reply-To: <m1@ext.test>\r\n"));
	g_assert_nonnull(
		strstr(m, "\r\nReferences: <m0@ext.test> <m1@ext.test>\r\n"));
	g_assert_nonnull(
		strstr(m, "\r\n\r\nI am away.\r\nBack on Monday.\r\n"));
	g_assert_null(strstr(m, "\r\r"));
	g_free(m);
	m = vac_compose("alice@example.com", "bob@ext.test", "Abwesend ü", NULL,
			NULL, NULL, "x", 0, "<r2@example.com>", "d");
	g_assert_nonnull(strstr(m, "Subject: =?UTF-8?B?QWJ3ZXNlbmQgw7w=?="));
	g_assert_null(strstr(m, "In-Reply-To"));
	g_free(m);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/sieve/vacation/decide-table", test_table);
	g_test_add_func("/sieve/vacation/period", test_period);
	g_test_add_func("/sieve/vacation/key", test_key);
	g_test_add_func("/sieve/vacation/compose", test_compose);
	return g_test_run();
}
