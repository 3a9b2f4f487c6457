/*
 * THREADID (RFC 8474 5.2) from the header, imap_threadid.c: the root
 * each message names (References' first id, else In-Reply-To's, else
 * its own Message-ID), ids read as THREAD REFERENCES reads them,
 * hostile values bounded, and the derivation pinned: ids clients have
 * stored must never change.
 */
#include <glib.h>
#include <string.h>

#include "imap_threadid.h"

/* FNV-1a 128 of the ids, worked out independently (Python) */
#define PIN_A "Ta68d6277098b5822836dbc7977dd44fc"
#define PIN_1234 "T4e1144888f65c2a988494e2bef323887"

static char *tid(const char *mid, const char *refs, const char *irt)
{
	char out[IMAP_THREADID_LEN + 1];

	if (!imap_threadid_derive(mid, refs, irt, out)) {
		g_assert_cmpstr(out, ==, "");
		return g_strdup("");
	}
	g_assert_cmpuint(strlen(out), ==, IMAP_THREADID_LEN);
	return g_strdup(out);
}

#define same(a, b)                                                             \
	do {                                                                   \
		char *x_ = (a), *y_ = (b);                                     \
		g_assert_cmpstr(x_, ==, y_);                                   \
		g_free(x_);                                                    \
		g_free(y_);                                                    \
	} while (0)
#define differ(a, b)                                                           \
	do {                                                                   \
		char *x_ = (a), *y_ = (b);                                     \
		g_assert_cmpstr(x_, !=, y_);                                   \
		g_free(x_);                                                    \
		g_free(y_);                                                    \
	} while (0)

/* a reply chain as mail clients write it (RFC 5322 3.6.4) */
static void test_chain(void)
{
	char *root = tid("<a@x>", NULL, NULL);

	g_assert_cmpint(root[0], ==, 'T');
	same(tid("<b@x>", "<a@x>", "<a@x>"), g_strdup(root));
	same(tid("<c@x>", "<a@x> <b@x>", "<b@x>"), g_strdup(root));
	/* folded, trimmed in the middle: the first id stays */
	same(tid("<d@x>", "<a@x>\r\n <c@x>", "<c@x>"), g_strdup(root));
	/* no References: In-Reply-To names the parent */
	same(tid("<e@x>", NULL, "<a@x> (sent by someone)"), g_strdup(root));
	/* a thread whose root is not here is still one thread */
	same(tid("<y@x>", "<gone@x> <y0@x>", NULL),
	     tid("<z@x>", "<gone@x>", NULL));
	/* unrelated */
	differ(tid("<u@x>", NULL, NULL), g_strdup(root));
	/* the limit: a reply naming only its parent (not the root) */
	differ(tid("<f@x>", NULL, "<b@x>"), g_strdup(root));
	/* ids compare exactly, as THREAD compares them */
	differ(tid("<A@X>", NULL, NULL), g_strdup(root));
	g_free(root);
}

static void test_syntax(void)
{
	char *root = tid("<a@x>", NULL, NULL);

	/* white space inside the brackets is not part of the id */
	same(tid("< a@\r\n\tx >", NULL, NULL), g_strdup(root));
	/* empty ids are skipped, text outside brackets ignored */
	same(tid("<m@x>", "junk <> < > <a@x> <b@x>", NULL), g_strdup(root));
	/* an unclosed '<' ends the value: In-Reply-To then */
	same(tid("<m@x>", "<a@x", "<a@x>"), g_strdup(root));
	same(tid("<m@x>", "no ids", "<> <a@x>"), g_strdup(root));
	/* no id anywhere */
	same(tid(NULL, NULL, NULL), g_strdup(""));
	same(tid("a@x", "b@x", "<>"), g_strdup(""));
	same(tid("<", "<<<", "< \t >"), g_strdup(""));
	/* brackets inside an id are bytes of it, as THREAD keeps them */
	differ(tid("<<a@x>", NULL, NULL), g_strdup(root));
	g_free(root);
}

/* the root's span, for the callers that want the id itself */
static void test_root(void)
{
	const char *a, *b, *refs = "x <> <r@x> <s@x>";

	g_assert_true(imap_thread_root("<m@x>", refs, NULL, &a, &b));
	g_assert_cmpuint((size_t)(b - a), ==, 3);
	g_assert_true(strncmp(a, "r@x", 3) == 0);
	g_assert_false(imap_thread_root(NULL, "", "<", &a, &b));
}

/* hostile values: 1 MiB of ids, of '<', of an id: linear, bounded */
static void test_hostile(void)
{
	size_t n = 1024 * 1024, i;
	char *big = g_malloc(n + 1), *open = g_malloc(n + 1);
	char *one = g_malloc(n + 3);
	gint64 t0 = g_get_monotonic_time();
	char *root = tid("<r0@x>", NULL, NULL);
	GString *refs = g_string_new(NULL);

	for (i = 0; refs->len < n; i++)
		g_string_append_printf(refs, "<r%zu@x> ", i);
	same(tid("<m@x>", refs->str, NULL), g_strdup(root));
	memset(open, '<', n);
	open[n] = '\0';
	same(tid("<m@x>", open, open), tid("<m@x>", NULL, NULL));
	for (i = 0; i < n; i++)
		big[i] = i % 2 ? '>' : '<';
	big[n] = '\0';
	same(tid(big, big, big), g_strdup(""));
	one[0] = '<';
	memset(one + 1, 'a', n);
	one[n + 1] = '>';
	one[n + 2] = '\0';
	{
		char *t = tid(NULL, NULL, one);

		g_assert_cmpuint(strlen(t), ==, IMAP_THREADID_LEN);
		g_free(t);
	}
	/* a generous bound: linear work, well under a second */
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 5 * G_USEC_PER_SEC);
	g_string_free(refs, TRUE);
	g_free(root);
	g_free(big);
	g_free(open);
	g_free(one);
}

/* ids a client has stored must stay the same in every later build */
static void test_pinned(void)
{
	same(tid("<a@x>", NULL, NULL), g_strdup(PIN_A));
	same(tid("<m@x>", "<1234@example.test> <x@y>", NULL),
	     g_strdup(PIN_1234));
}

static void test_own(void)
{
	char out[64];

	g_assert_true(imap_threadid_own("M1f-5e-9", out, sizeof(out)));
	g_assert_cmpstr(out, ==, "T_M1f-5e-9");
	g_assert_false(imap_threadid_own("M1f-5e-9", out, 8));
	g_assert_cmpstr(out, ==, "");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/threadid/chain", test_chain);
	g_test_add_func("/imap/threadid/syntax", test_syntax);
	g_test_add_func("/imap/threadid/root", test_root);
	g_test_add_func("/imap/threadid/hostile", test_hostile);
	g_test_add_func("/imap/threadid/pinned", test_pinned);
	g_test_add_func("/imap/threadid/own", test_own);
	return g_test_run();
}
