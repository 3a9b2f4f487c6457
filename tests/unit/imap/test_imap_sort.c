/*
 * SORT/THREAD, the pure half: the command grammar through the real
 * command parser (whole, byte by byte, split at every offset), base
 * subject extraction (RFC 5256 2.1), sent dates, sort order and ties,
 * and both threading algorithms on the RFC's response examples.
 */
#include <glib.h>
#include <string.h>

#include "imap_casemap.h"
#include "imap_esearch.h"
#include "imap_search.h"
#include "imap_sort.h"
#include "parse_feed.h"
#include "text/casemap.h"

static char mem[16384];
static char sub_mem[16384];

static const struct imap_parser_limits lim = {
	.max_line = 8192,
	.max_literal = 1024,
	.max_literals = 4,
	.max_depth = 32,
};

static const char *const keyname[] = {
	"ARRIVAL", "CC", "DATE",	"FROM",	     "SIZE",
	"SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO",
};

/* what the command glue would see, as text, or "BAD"/"NO" reason */
static char *summary(struct imap_parser *p)
{
	const struct imap_arg *a = p->cmd.args;
	struct imap_sort_crit crit[IMAP_SORT_MAX_KEYS];
	struct imap_search_key *root;
	struct imap_arena sub;
	const char *err = NULL, *name = p->cmd.name;
	GString *s = g_string_new(NULL);
	unsigned ret = 0, n, i;
	int alg, rc;

	if (g_ascii_strcasecmp(name, "UID") == 0) {
		name = a->str;
		a = a->next;
		g_string_append(s, "UID ");
	}
	if (g_ascii_strcasecmp(name, "THREAD") == 0) {
		if (a == NULL || imap_thread_parse_alg(&a, &alg, &err) < 0)
			goto bad;
		g_string_append(s, alg == IMAP_THREAD_REFERENCES
					   ? "REFERENCES"
					   : "ORDEREDSUBJECT");
	} else {
		if (imap_esearch_parse(&a, &ret, &err) < 0 ||
		    imap_sort_parse_criteria(&a, crit, &n, &err) < 0)
			goto bad;
		if (ret != 0)
			g_string_append_printf(s, "R%x ", ret);
		for (i = 0; i < n; i++)
			g_string_append_printf(s, "%s%s%s", i ? "," : "",
					       crit[i].reverse ? "-" : "",
					       keyname[crit[i].key]);
	}
	rc = imap_sort_parse_charset(&a, &err);
	if (rc < 0)
		goto bad;
	if (rc > 0) {
		g_string_printf(s, "NO %s", err);
		return g_string_free(s, FALSE);
	}
	imap_arena_init(&sub, sub_mem, sizeof(sub_mem));
	if (imap_search_parse(a, &sub, 16, &root, &err) != IMAP_SEARCH_OK)
		goto bad;
	g_string_append_printf(s, "|%d", (int)root->type);
	return g_string_free(s, FALSE);
bad:
	g_string_printf(s, "BAD %s", err != NULL ? err : "?");
	return g_string_free(s, FALSE);
}

static char *feed(const char *line, int mode, size_t split)
{
	struct imap_arena arena;
	struct imap_parser p;

	imap_arena_init(&arena, mem, sizeof(mem));
	imap_parser_init(&p, &arena, &lim);
	imap_test_feed(&p, line, mode, split);
	return summary(&p);
}

static void check(const char *line, const char *want)
{
	size_t k, len = strlen(line);
	char *got;

	got = feed(line, 0, 0);
	g_assert_cmpstr(got, ==, want);
	g_free(got);
	got = feed(line, 1, 0);
	g_assert_cmpstr(got, ==, want);
	g_free(got);
	for (k = 1; k < len; k++) {
		got = feed(line, 2, k);
		if (g_strcmp0(got, want) != 0)
			g_test_message("split at %zu", k);
		g_assert_cmpstr(got, ==, want);
		g_free(got);
	}
}

static void test_grammar(void)
{
	char want[128];

	g_snprintf(want, sizeof(want), "-DATE,SUBJECT|%d", IMAP_SKEY_ALL);
	check("a SORT (REVERSE DATE SUBJECT) UTF-8 ALL\r\n", want);
	g_snprintf(want, sizeof(want),
		   "UID ARRIVAL,CC,DATE,FROM,SIZE,"
		   "SUBJECT,TO,DISPLAYFROM,DISPLAYTO|%d",
		   IMAP_SKEY_ALL);
	check("a UID SORT (arrival cc date from size subject to displayfrom "
	      "displayto) us-ascii ALL\r\n",
	      want);
	g_snprintf(want, sizeof(want), "-SIZE|%d", IMAP_SKEY_HEADER);
	check("a SORT (REVERSE SIZE) \"UTF-8\" SUBJECT {3+}\r\nabc\r\n", want);
	g_snprintf(want, sizeof(want), "R%x DATE|%d",
		   IMAP_ESR_PRESENT | IMAP_ESR_MIN | IMAP_ESR_COUNT,
		   IMAP_SKEY_FLAG);
	check("a SORT RETURN (MIN COUNT) (DATE) UTF-8 UNDELETED\r\n", want);
	g_snprintf(want, sizeof(want), "REFERENCES|%d", IMAP_SKEY_AND);
	check("a THREAD REFERENCES UTF-8 (SEEN FLAGGED)\r\n", want);
	g_snprintf(want, sizeof(want), "UID ORDEREDSUBJECT|%d", IMAP_SKEY_ALL);
	check("a UID THREAD orderedsubject UTF-8 ALL\r\n", want);
	check("a SORT DATE UTF-8 ALL\r\n",
	      "BAD SORT needs a list of sort keys");
	check("a SORT () UTF-8 ALL\r\n", "BAD SORT needs a list of sort keys");
	check("a SORT (REVERSE) UTF-8 ALL\r\n", "BAD REVERSE needs a sort key");
	check("a SORT (DATE REVERSE) UTF-8 ALL\r\n",
	      "BAD REVERSE needs a sort key");
	check("a SORT (REVERSE REVERSE DATE) UTF-8 ALL\r\n",
	      "BAD REVERSE REVERSE");
	check("a SORT (DATE (SIZE)) UTF-8 ALL\r\n", "BAD Unknown sort key");
	check("a SORT (THREAD) UTF-8 ALL\r\n", "BAD Unknown sort key");
	check("a SORT (DATE) ALL\r\n", "NO Unsupported charset");
	check("a SORT (DATE) KOI8-R ALL\r\n", "NO Unsupported charset");
	check("a SORT (DATE) (ALL)\r\n", "BAD A charset is required");
	check("a SORT (DATE)\r\n", "BAD A charset is required");
	check("a SORT RETURN (FOO) (DATE) UTF-8 ALL\r\n",
	      "BAD Unknown RETURN option");
	check("a THREAD FOO UTF-8 ALL\r\n", "BAD Unknown threading algorithm");
	check("a THREAD REFERENCES NIL ALL\r\n", "BAD A charset is required");
}

static char *base(const char *s, bool *reply)
{
	struct imap_buf b = {0};
	char *r;

	imap_base_subject(s, strlen(s), &b, reply);
	r = g_strndup(b.p != NULL ? b.p : "", b.len);
	imap_buf_free(&b);
	return r;
}

/* RFC 5256 2.1, each step */
static void test_base_subject(void)
{
	static const struct {
		const char *in, *out;
		bool reply;
	} t[] = {
		{"test", "test", false},
		{"Re: test", "test", true},
		{"re: RE: Re:test", "test", true},
		{"Fwd: test", "test", true},
		{"FW: test", "test", true},
		{"fw:test", "test", true},
		{"Re [bar]: test", "test", true},
		{"Re  :  test", "test", true},
		{"  test \t  case\r\n ", "test case", false},
		{"test (fwd)", "test", true},
		{"test (fwd) (FWD)  ", "test", true},
		{"[fwd: test]", "test", true},
		{"[FWD: Re: test (fwd)]", "test", true},
		{"Re: [fwd: Re: [list] test] (fwd)", "test", true},
		{"[list] Re: test", "test", true},
		{"[list] test", "test", false},
		{"[a] [b][c] test", "test", false},
		{"[list]", "[list]", false},
		{"[a] [list]", "[list]", false},
		{"Re: [list]", "[list]", true},
		{"[fwd: ]", "", true},
		{"Re:", "", true},
		{"Ref: test", "Ref: test", false},
		{"Reply: test", "Reply: test", false},
		{"Re test", "Re test", false},
		{"[unclosed test", "[unclosed test", false},
		{"test [fwd: x]", "test [fwd: x]", false},
		{"Élan", "Élan", false},
		{"", "", false},
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		bool reply;
		char *got = base(t[i].in, &reply);

		g_test_message("%s", t[i].in);
		g_assert_cmpstr(got, ==, t[i].out);
		g_assert_cmpint(reply, ==, t[i].reply);
		g_free(got);
	}
}

static void test_sent_time(void)
{
	int64_t t = 0;

	g_assert_cmpint(imap_sent_time("Sat, 31 Dec 2022 09:00:00 -0500", &t),
			==, 0);
	g_assert_cmpint(t, ==, 1672495200);
	g_assert_cmpint(imap_sent_time("2 Jan 2023 08:00 +0000", &t), ==, 0);
	g_assert_cmpint(t, ==, 1672646400);
	g_assert_cmpint(imap_sent_time("(x) 1 Jan 70 00:00:00 GMT", &t), ==, 0);
	g_assert_cmpint(t, ==, 0);
	g_assert_cmpint(imap_sent_time("Thu, 1 Jan 1970 01:00:00 EDT", &t), ==,
			0);
	g_assert_cmpint(t, ==, 5 * 3600);
	g_assert_cmpint(imap_sent_time("1 Jan 1970 00:00:00 +0100 (CET)", &t),
			==, 0);
	g_assert_cmpint(t, ==, -3600);
	g_assert_cmpint(imap_sent_time("", &t), ==, -1);
	g_assert_cmpint(imap_sent_time("yesterday", &t), ==, -1);
	g_assert_cmpint(imap_sent_time("1 Foo 2020 00:00", &t), ==, -1);
	g_assert_cmpint(imap_sent_time("1 Jan 2020", &t), ==, -1);
	g_assert_cmpint(imap_sent_time("1 Jan 2020 25:00", &t), ==, -1);
	g_assert_cmpint(imap_sent_time("1 Jan 2020 10:00 +01", &t), ==, -1);
}

/* a message for the algorithms: seq, sent minute, subject, ids */
struct tm_ {
	uint32_t seq;
	int minute; /* -1: no Date */
	const char *subject, *msgid, *refs, *irt;
};

static char *run_thread(const struct tm_ *m, size_t n, int alg)
{
	struct imap_sort_msg *v = g_new0(struct imap_sort_msg, n);
	struct imap_buf out = {0};
	char dates[64][40];
	size_t i;
	char *r;

	g_assert_cmpuint(n, <=, 64);
	for (i = 0; i < n; i++) {
		struct imap_sorthdr h = {0};

		g_snprintf(dates[i], sizeof(dates[i]),
			   "1 Jan 2020 %02d:%02d:00 +0000", m[i].minute / 60,
			   m[i].minute % 60);
		h.date = m[i].minute >= 0 ? dates[i] : NULL;
		h.subject = m[i].subject;
		h.message_id = m[i].msgid;
		h.references = m[i].refs;
		h.in_reply_to = m[i].irt;
		v[i].r = imap_sortrec_build(&h, m[i].seq, 100);
		v[i].seq = m[i].seq;
		v[i].uid = m[i].seq + 1000;
		/* the internal date stands in when there is no Date */
		v[i].internaldate = 1577836800 + (int64_t)m[i].seq * 60;
	}
	imap_thread_run(v, n, alg, false, &out, NULL);
	r = g_strndup(out.p != NULL ? out.p : "", out.len);
	for (i = 0; i < n; i++)
		g_free((void *)v[i].r);
	g_free(v);
	imap_buf_free(&out);
	return r;
}

/* RFC 5256 5's REFERENCES example: (2)(3 6 (4 23)(44 7 96)) */
static void test_thread_references(void)
{
	static const struct tm_ m[] = {
		{2, 1, "two", "<2@x>", NULL, NULL},
		{3, 2, "three", "<3@x>", NULL, NULL},
		{4, 4, "Re: three", "<4@x>", "<3@x> <6@x>", NULL},
		{6, 3, "Re: three", "<6@x>", NULL, "<3@x>"},
		{7, 7, "Re: three", "<7@x>", "<3@x> <6@x> <44@x>", NULL},
		{23, 5, "Re: three", "<23@x>", "<3@x> <6@x> <4@x>", NULL},
		{44, 6, "Re: three", "<44@x>", "<3@x> <6@x>", NULL},
		{96, 8, "Re: three", "<96@x>", "<6@x> <44@x> <7@x>", NULL},
	};
	char *r = run_thread(m, G_N_ELEMENTS(m), IMAP_THREAD_REFERENCES);

	g_assert_cmpstr(r, ==, "(2)(3 6 (4 23)(44 7 96))");
	g_free(r);
}

/*
 * A References of 200 ids keeps its first (the root, as OBJECTID's
 * THREADID names it) besides the newest 63: the message still joins
 * its root's thread, as a 3-id one does; another whose first id is
 * dropped past the 64th stays apart.
 */
static void test_thread_long_refs(void)
{
	GString *refs = g_string_new("<1@x>");
	GString *none = g_string_new(NULL);
	int i;

	for (i = 0; i < 199; i++)
		g_string_append_printf(refs, " <mid%d@x>", i);
	for (i = 0; i < 200; i++)
		g_string_append_printf(none, " <gone%d@x>", i);
	{
		const struct tm_ m[] = {
			{1, 1, "root", "<1@x>", NULL, NULL},
			{2, 2, "long", "<2@x>", refs->str, NULL},
			{3, 3, "short", "<3@x>", "<1@x> <mid0@x>", NULL},
			{4, 4, "apart", "<4@x>", none->str, NULL},
		};
		char *r =
			run_thread(m, G_N_ELEMENTS(m), IMAP_THREAD_REFERENCES);

		g_assert_cmpstr(r, ==, "(1 (2)(3))(4)");
		g_free(r);
	}
	g_string_free(refs, TRUE);
	g_string_free(none, TRUE);
}

/* the RFC's ORDEREDSUBJECT example, in part */
static void test_thread_orderedsubject(void)
{
	static const struct tm_ m[] = {
		{166, 1, "a", NULL, NULL, NULL},
		{167, 2, "b", NULL, NULL, NULL},
		{174, 3, "c", NULL, NULL, NULL},
		{175, 4, "Re: c", NULL, NULL, NULL},
		{176, 5, "[list] c", NULL, NULL, NULL},
		{178, 6, "C (fwd)", NULL, NULL, NULL},
		{179, 8, "d", NULL, NULL, NULL},
		{180, 9, "c", NULL, NULL, NULL},
		{181, 7, "re: [fwd: c]", NULL, NULL, NULL},
		{200, 10, "e", NULL, NULL, NULL},
		{202, 11, "e", NULL, NULL, NULL},
	};
	char *r = run_thread(m, G_N_ELEMENTS(m), IMAP_THREAD_ORDEREDSUBJECT);

	g_assert_cmpstr(r, ==,
			"(166)(167)(174 (175)(176)(178)(181)(180))(179)"
			"(200 202)");
	g_free(r);
}

/* the steps the examples do not reach */
static void test_thread_steps(void)
{
	/* a missing parent of two: a dummy at the top holds them */
	static const struct tm_ dummy[] = {
		{1, 1, "x", "<1@x>", "<gone@x>", NULL},
		{2, 2, "y", "<2@x>", "<gone@x>", NULL},
	};
	/* a missing parent of one: the child is the thread */
	static const struct tm_ single[] = {
		{1, 1, "x", "<1@x>", "<gone@x> <gone2@x>", NULL},
		{2, 0, "y", "<2@x>", NULL, NULL},
	};
	/* step 5: a reply joins a thread of its subject; two originals
	 * of one subject meet under a dummy */
	static const struct tm_ subj[] = {
		{1, 1, "topic", "<1@x>", NULL, NULL},
		{2, 2, "Re: topic", "<2@x>", NULL, NULL},
		{3, 3, "other", "<3@x>", NULL, NULL},
		{4, 4, "other", "<4@x>", NULL, NULL},
		{5, 5, "", "<5@x>", NULL, NULL},
		{6, 6, "", "<6@x>", NULL, NULL},
	};
	/* References that loop, a duplicate Message-ID, no Message-ID */
	static const struct tm_ loop[] = {
		{1, 1, "a", "<a@x>", "<b@x>", NULL},
		{2, 2, "b", "<b@x>", "<a@x>", NULL},
		{3, 3, "c", "<a@x>", "<b@x>", NULL},
		{4, 4, "d", NULL, "<a@x>", NULL},
		{5, 5, "e", "<5@x>", "<5@x>", NULL},
	};
	/* no Date: the internal date (seq minutes) sorts them */
	static const struct tm_ nodate[] = {
		{1, 30, "p", "<1@x>", NULL, NULL},
		{2, -1, "q", "<2@x>", NULL, NULL},
	};
	char *r;

	r = run_thread(dummy, G_N_ELEMENTS(dummy), IMAP_THREAD_REFERENCES);
	g_assert_cmpstr(r, ==, "((1)(2))");
	g_free(r);
	r = run_thread(single, G_N_ELEMENTS(single), IMAP_THREAD_REFERENCES);
	g_assert_cmpstr(r, ==, "(2)(1)");
	g_free(r);
	r = run_thread(subj, G_N_ELEMENTS(subj), IMAP_THREAD_REFERENCES);
	g_assert_cmpstr(r, ==, "(1 2)((3)(4))(5)(6)");
	g_free(r);
	r = run_thread(loop, G_N_ELEMENTS(loop), IMAP_THREAD_REFERENCES);
	g_assert_cmpstr(r, ==, "(2 (1 4)(3))(5)");
	g_free(r);
	r = run_thread(nodate, G_N_ELEMENTS(nodate), IMAP_THREAD_REFERENCES);
	g_assert_cmpstr(r, ==, "(2)(1)");
	g_free(r);
	r = run_thread(nodate, 0, IMAP_THREAD_REFERENCES);
	g_assert_cmpstr(r, ==, "");
	g_free(r);
}

/* keys, REVERSE per key, ties by sequence number */
static void test_sort_order(void)
{
	struct imap_sorthdr h[4] = {
		{.subject = "Re: b", .from = "Zed", .date = "1 Jan 2020 10:00"},
		{.subject = "a", .from = "amy", .date = "1 Jan 2020 09:00"},
		{.subject = "B", .from = "bob"},
		{.subject = "[x] a", .from = "Amy", .date = "1 Jan 2020 09:00"},
	};
	struct imap_sort_crit c[2];
	struct imap_sort_msg v[4];
	char got[32];
	size_t i;

	for (i = 0; i < 4; i++) {
		v[i] = (struct imap_sort_msg){
			.r = imap_sortrec_build(&h[i], (uint32_t)i + 1, 10),
			.seq = (uint32_t)i + 1,
			.uid = (uint32_t)i + 1,
			.size = 10 - i,
			.internaldate = 1577836800 + 3600, /* 01:00 */
		};
	}
#define ORDER(...)                                                             \
	do {                                                                   \
		g_snprintf(got, sizeof(got), "%u %u %u %u", v[0].seq,          \
			   v[1].seq, v[2].seq, v[3].seq);                      \
		g_assert_cmpstr(got, ==, __VA_ARGS__);                         \
	} while (0)
	c[0] = (struct imap_sort_crit){IMAP_SORT_SUBJECT, false};
	imap_sort_run(v, 4, c, 1);
	ORDER("2 4 1 3");
	c[0] = (struct imap_sort_crit){IMAP_SORT_SUBJECT, true};
	imap_sort_run(v, 4, c, 1);
	ORDER("1 3 2 4");
	c[1] = (struct imap_sort_crit){IMAP_SORT_DATE, true};
	imap_sort_run(v, 4, c, 2);
	ORDER("1 3 2 4");
	c[0] = (struct imap_sort_crit){IMAP_SORT_DATE, false};
	imap_sort_run(v, 4, c, 1);
	ORDER("3 2 4 1");
	c[0] = (struct imap_sort_crit){IMAP_SORT_FROM, false};
	imap_sort_run(v, 4, c, 1);
	ORDER("2 4 3 1");
	c[0] = (struct imap_sort_crit){IMAP_SORT_SIZE, false};
	imap_sort_run(v, 4, c, 1);
	ORDER("4 3 2 1");
	c[0] = (struct imap_sort_crit){IMAP_SORT_ARRIVAL, true};
	imap_sort_run(v, 4, c, 1);
	ORDER("1 2 3 4");
	for (i = 0; i < 4; i++)
		g_free((void *)v[i].r);
}

/* strings that agree on the first 16 bytes, or are exactly 16 long */
static void test_sort_long(void)
{
	static const char *const subj[] = {
		"a long subject line 2", "a long subject line 1",
		"a long subject l",	 "a long subject line",
		"a long subject line 1",
	};
	struct imap_sort_crit c[2] = {{IMAP_SORT_SUBJECT, false},
				      {IMAP_SORT_SIZE, true}};
	struct imap_sort_msg v[5];
	GString *got = g_string_new(NULL);
	size_t i;

	for (i = 0; i < 5; i++) {
		struct imap_sorthdr h = {.subject = subj[i]};

		v[i] = (struct imap_sort_msg){
			.r = imap_sortrec_build(&h, (uint32_t)i + 1, 10),
			.seq = (uint32_t)i + 1,
			.size = i,
		};
	}
	imap_sort_run(v, 5, c, 2);
	for (i = 0; i < 5; i++)
		g_string_append_printf(got, "%u ", v[i].seq);
	g_assert_cmpstr(got->str, ==, "3 4 5 2 1 ");
	for (i = 0; i < 5; i++)
		g_free((void *)v[i].r);
	g_string_free(got, TRUE);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	/* the core's table, as mod_imap takes it at init */
	{
		static struct rmail_core core = {
			.size = sizeof(struct rmail_core),
			.casemap = rm_casemap,
		};

		imap_casemap_init(&core);
	}
	g_test_add_func("/imap/sort/grammar", test_grammar);
	g_test_add_func("/imap/sort/base-subject", test_base_subject);
	g_test_add_func("/imap/sort/sent-time", test_sent_time);
	g_test_add_func("/imap/sort/order", test_sort_order);
	g_test_add_func("/imap/sort/long", test_sort_long);
	g_test_add_func("/imap/thread/references", test_thread_references);
	g_test_add_func("/imap/thread/long-refs", test_thread_long_refs);
	g_test_add_func("/imap/thread/orderedsubject",
			test_thread_orderedsubject);
	g_test_add_func("/imap/thread/steps", test_thread_steps);
	return g_test_run();
}
