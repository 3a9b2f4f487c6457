/*
 * The From:/Sender: ownership rule of authenticated submission, against
 * the real daemon, on a generated table of header shapes: field name
 * case, white space before the colon, folding, quoted display names
 * holding < > @ , and other addresses, comments, encoded words, groups,
 * lists, source routes, values over 4 KiB, duplicate and missing
 * fields, with an owned or a foreign address in every position.
 *
 * The verdict each case should get is derived from the core MIME
 * parser's view of the header (rm_mime_parse/rm_mime_addr_parse, what
 * IMAP ENVELOPE and the API display): exactly one From: with at least
 * one mailbox, at most one Sender:, every mailbox owned by alice.  Then
 * every message that got 250 is read back from the recipient's mailbox
 * and parsed again: its From: and Sender: must name only alice's
 * addresses.
 */
#include <glib.h>
#include <string.h>

#include "harness.h"
#include "mime/mime_int.h"

#define DOM "example.test"
#define ALICE "alice@" DOM
#define BOB "bob@" DOM
#define PW "secret-pw"

static struct rmh *H;

/* alice's own: her address with any +detail, any case, and an alias */
static gboolean owned(const char *mailbox, const char *host)
{
	char *l, *plus;
	gboolean ok;

	if (mailbox == NULL || host == NULL || *mailbox == '\0')
		return FALSE;
	l = g_ascii_strdown(mailbox, -1);
	if ((plus = strchr(l, '+')) != NULL)
		*plus = '\0';
	ok = g_ascii_strcasecmp(host, DOM) == 0 &&
	     (strcmp(l, "alice") == 0 || strcmp(l, "sales") == 0);
	g_free(l);
	return ok;
}

/* ---- the generated table ------------------------------------------------ */

static const char *const owned_addrs[] = {
	ALICE,
	"Alice@EXAMPLE.test",
	"sales@" DOM,
	"alice+tag@" DOM,
};
static const char *const foreign_addrs[] = {
	BOB,
	"eve@evil.test",
	"alice@evil.test",
	"\"alice@example.test\"@evil.test",
};

/* {a} the address that should be the sender, {b} another one */
static const char *const shapes[] = {
	"{a}",
	"<{a}>",
	"Alice <{a}>",
	"\"Alice, <the> boss @ home\" <{a}>",
	"\"<{b}>\" <{a}>",
	"\"{b}\" <{a}>",
	"\"\\\"<{b}>\\\"\" <{a}>",
	"{a} (<{b}>)",
	"({b}) <{a}>",
	"(nested (<{b}>) comment) {a}",
	"=?utf-8?q?=3C{b}=3E?= <{a}>",
	"=?utf-8?b?PGV2ZUBldmlsLnRlc3Q+?= <{a}>",
	"team: {a}, Alice <{b}>;",
	"team: {a};",
	"undisclosed-recipients:;",
	"{a}, {b}",
	"Alice <{a}>, Other <{b}>",
	"<@relay.test:{a}>",
	"Alice\r\n <{a}>",
	"\"Alice\r\n <{b}>\" <{a}>",
	"Alice <{a}>\r\n ({b})",
	"{a} <{b}>",
	"<{a}> <{b}>",
	"<{a}",
	"Alice <{a}>>, <{b}>",
	"",
};

enum { PAD_NONE, PAD_COMMENT, PAD_QUOTED, PAD_LINE, PAD_N };
enum { DUP_ONE, DUP_TWO_SAME, DUP_TWO_OTHER, DUP_NONE, DUP_N };
enum { SND_NONE, SND_OWNED, SND_FOREIGN, SND_TWO, SND_N };

struct tcase {
	guint n;
	char *hdr;	  /* the header block, CRLF lines, no blank line */
	const char *want; /* "250 ", "550 5.6.0", "550 5.7.1" */
	char *got;
};

static const char *const names[] = {"From", "FROM", "from", "fRoM"};
static const char *const colons[] = {":", " :", "\t:", "  \t :"};

static char *pad(int kind)
{
	GString *s = g_string_new(NULL);

	switch (kind) {
	case PAD_COMMENT: /* folded, > 4 KiB */
		g_string_append_c(s, '(');
		for (int i = 0; i < 80; i++)
			g_string_append(s, "padding padding padding padding "
					   "padding padding padding\r\n ");
		g_string_append(s, ") ");
		break;
	case PAD_QUOTED: /* one quoted string over 4 KiB, folded */
		g_string_append_c(s, '"');
		for (int i = 0; i < 80; i++)
			g_string_append(s, "<eve@evil.test> , @ < > \\\" "
					   "quoted padding\r\n ");
		g_string_append(s, "\" ");
		break;
	case PAD_LINE: /* one 5000-octet line */
		g_string_append(s, "Someone");
		for (int i = 0; i < 1000; i++)
			g_string_append(s, " word");
		g_string_append_c(s, ' ');
		break;
	default:
		break;
	}
	return g_string_free(s, FALSE);
}

static char *field(const char *name, const char *colon, const char *value)
{
	return g_strdup_printf("%s%s %s\r\n", name, colon, value);
}

/* the shape with its two addresses, padding in front of it */
static char *value(guint shape, const char *a, const char *b, int padk)
{
	char *p = pad(padk), *v, *out;

	{
		GString *g = g_string_new(shapes[shape]);

		g_string_replace(g, "{a}", a, 0);
		g_string_replace(g, "{b}", b, 0);
		v = g_string_free(g, FALSE);
	}
	out = g_strconcat(p, v, NULL);
	g_free(p);
	g_free(v);
	return out;
}

static struct tcase make_case(guint n, GRand *r)
{
	guint shape = n % G_N_ELEMENTS(shapes);
	guint combo = n / G_N_ELEMENTS(shapes);
	gboolean first_owned = combo % 2 == 0;
	gboolean second_owned = (combo / 2) % 2 == 0;
	const char *a = first_owned ? owned_addrs[g_rand_int_range(r, 0, 4)]
				    : foreign_addrs[g_rand_int_range(r, 0, 4)];
	const char *b = second_owned ? owned_addrs[g_rand_int_range(r, 0, 4)]
				     : foreign_addrs[g_rand_int_range(r, 0, 4)];
	const char *name = names[g_rand_int_range(r, 0, 4)];
	const char *colon = colons[g_rand_int_range(r, 0, 4)];
	int padk = g_rand_int_range(r, 0, 6) == 0
			   ? g_rand_int_range(r, 1, PAD_N)
			   : PAD_NONE;
	int dup = g_rand_int_range(r, 0, 5) == 0 ? g_rand_int_range(r, 1, DUP_N)
						 : DUP_ONE;
	int snd = g_rand_int_range(r, 0, 4) == 0 ? g_rand_int_range(r, 1, SND_N)
						 : SND_NONE;
	GString *h = g_string_new(NULL);
	char *v = value(shape, a, b, padk), *f;
	struct tcase t = {.n = n};

	g_string_append_printf(h, "X-Case: %u\r\n", n);
	if (dup == DUP_NONE) {
		/* a look-alike that is not a From: field */
		f = field("X-From", ":", v);
		g_string_append(h, f);
		g_free(f);
	} else {
		f = field(name, colon, v);
		g_string_append(h, f);
		g_free(f);
	}
	g_string_append_printf(h, "To: <%s>\r\nSubject: case %u\r\n", BOB, n);
	if (dup == DUP_TWO_SAME || dup == DUP_TWO_OTHER) {
		char *v2 = dup == DUP_TWO_SAME ? g_strdup(v)
					       : g_strdup_printf("<%s>", b);

		f = field(names[g_rand_int_range(r, 0, 4)],
			  colons[g_rand_int_range(r, 0, 4)], v2);
		g_string_append(h, f);
		g_free(f);
		g_free(v2);
	}
	if (snd == SND_OWNED || snd == SND_TWO)
		g_string_append(h, "Sender: Alice <" ALICE ">\r\n");
	if (snd == SND_FOREIGN || snd == SND_TWO)
		g_string_append(h,
				"sender : \"" ALICE "\" <eve@evil.test>\r\n");
	g_free(v);
	t.hdr = g_string_free(h, FALSE);
	return t;
}

/* ---- the parser's view -------------------------------------------------- */

/* -1 none, 0 every mailbox owned, 1 some not */
static int list_verdict(struct rmail_pool *pool, const char *v)
{
	const struct rmail_mime_addr *a;
	size_t n, boxes = 0;
	int bad = 0;

	if (rm_mime_addr_parse(pool, v, &a, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (a[i].mailbox == NULL)
			continue; /* a group marker */
		boxes++;
		if (!owned(a[i].mailbox, a[i].host))
			bad = 1;
	}
	return boxes == 0 ? -1 : bad;
}

static const char *expected(const char *msg)
{
	struct rmail_mime *m = NULL;
	struct rmail_err err;
	struct rmail_pool *pool = rm_pool_create(NULL);
	const char *from, *sender, *want = "250 ";
	int v;

	g_assert_cmpint(rm_mime_parse(msg, strlen(msg), NULL, &m, &err), ==, 0);
	from = rm_mime_header(m, 0, "From", 0, 0);
	sender = rm_mime_header(m, 0, "Sender", 0, 0);
	if (rm_mime_part(m, 0)->flags & RMAIL_MIME_TRUNCATED)
		want = "550 5.6.0";
	else if (from == NULL || rm_mime_header(m, 0, "From", 1, 0) != NULL ||
		 rm_mime_header(m, 0, "Sender", 1, 0) != NULL)
		want = "550 5.6.0";
	else if ((v = list_verdict(pool, from)) < 0)
		want = "550 5.6.0";
	else if (v > 0)
		want = "550 5.7.1";
	else if (sender != NULL && (v = list_verdict(pool, sender)) != 0)
		want = v < 0 ? "550 5.6.0" : "550 5.7.1";
	rm_mime_free(&m);
	rm_pool_destroy(&pool);
	return want;
}

/* what a stored message shows: 0 only alice's, else a failure text */
static const char *stored_ok(const char *msg)
{
	struct rmail_mime *m = NULL;
	struct rmail_err err;
	struct rmail_pool *pool = rm_pool_create(NULL);
	const char *from, *sender, *bad = NULL;

	g_assert_cmpint(rm_mime_parse(msg, strlen(msg), NULL, &m, &err), ==, 0);
	from = rm_mime_header(m, 0, "From", 0, 0);
	sender = rm_mime_header(m, 0, "Sender", 0, 0);
	if (from == NULL || list_verdict(pool, from) != 0)
		bad = "the stored From: shows another sender";
	else if (rm_mime_header(m, 0, "From", 1, 0) != NULL)
		bad = "two From: stored";
	else if (sender != NULL && list_verdict(pool, sender) != 0)
		bad = "the stored Sender: shows another sender";
	rm_mime_free(&m);
	rm_pool_destroy(&pool);
	return bad;
}

/* ---- the daemon side ------------------------------------------------------
 */

static char *reply(struct rmh_conn *c)
{
	char *line;

	while ((line = rmh_readline(c, 10)) != NULL) {
		if (strlen(line) < 4 || line[3] != '-')
			return line;
		g_free(line);
	}
	return NULL;
}

static void cmd(struct rmh_conn *c, const char *prefix, const char *line)
{
	char *l;

	g_assert_true(rmh_send(c, "%s", line));
	l = reply(c);
	if (l == NULL || !g_str_has_prefix(l, prefix))
		g_error("%s: expected \"%s\", got \"%s\"", line, prefix,
			l != NULL ? l : "(EOF)");
	g_free(l);
}

static struct rmh_conn *open_alice(void)
{
	struct rmh_conn *c = rmh_connect(rmh_port(H, "smtps"), true);
	GString *s = g_string_new(NULL);
	char *b, *line, *l;

	g_assert_nonnull(c);
	l = reply(c);
	g_free(l);
	cmd(c, "250 ", "EHLO client.test");
	g_string_append_c(s, '\0');
	g_string_append(s, ALICE);
	g_string_append_c(s, '\0');
	g_string_append(s, PW);
	b = g_base64_encode((const guchar *)s->str, s->len);
	line = g_strdup_printf("AUTH PLAIN %s", b);
	cmd(c, "235 ", line);
	g_free(line);
	g_free(b);
	g_string_free(s, TRUE);
	return c;
}

/* every stored message under dir, by its X-Case number + 1 */
static void find_stored(const char *dir, GHashTable *by_case)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *e;

	if (d == NULL)
		return;
	while ((e = g_dir_read_name(d)) != NULL) {
		char *p = g_build_filename(dir, e, NULL), *text = NULL, *x;
		gsize len;

		if (g_file_test(p, G_FILE_TEST_IS_DIR)) {
			find_stored(p, by_case);
		} else if (g_str_has_suffix(e, ".eml") &&
			   g_file_get_contents(p, &text, &len, NULL) &&
			   (x = strstr(text, "\r\nX-Case: ")) != NULL) {
			g_hash_table_insert(
				by_case,
				GUINT_TO_POINTER(
					(guint)strtoul(x + 10, NULL, 10) + 1),
				text);
			text = NULL;
		}
		g_free(text);
		g_free(p);
	}
	g_dir_close(d);
}

#define NCASES (G_N_ELEMENTS(shapes) * 4)

static void test_from_table(void)
{
	guint32 seed = g_test_rand_int();
	GRand *r = g_rand_new_with_seed(seed);
	struct tcase *t = g_new0(struct tcase, NCASES);
	struct rmh_conn *c = open_alice();
	GHashTable *stored = g_hash_table_new_full(NULL, NULL, NULL, g_free);
	char *dir;
	guint fails = 0, accepted = 0, refused = 0;

	g_test_message("table seed %u, %zu cases", seed, (size_t)NCASES);
	for (guint n = 0; n < NCASES; n++) {
		char *msg, *l;

		t[n] = make_case(n, r);
		msg = g_strdup_printf("%s\r\nbody of case %u\r\n", t[n].hdr, n);
		t[n].want = expected(msg);
		cmd(c, "250 ", "MAIL FROM:<" ALICE ">");
		cmd(c, "250 ", "RCPT TO:<" BOB ">");
		cmd(c, "354 ", "DATA");
		g_assert_true(rmh_send_raw(c, msg, strlen(msg)));
		g_assert_true(rmh_send(c, "."));
		l = reply(c);
		g_assert_nonnull(l);
		t[n].got = l;
		if (g_str_has_prefix(l, "250 "))
			accepted++;
		else
			refused++;
		g_free(msg);
	}
	cmd(c, "221 ", "QUIT");
	rmh_conn_close(c);

	dir = g_build_filename(rmh_dir(H), "mail", "domains", DOM, "users",
			       "bob", NULL);
	find_stored(dir, stored);
	for (guint n = 0; n < NCASES; n++) {
		const char *text =
			g_hash_table_lookup(stored, GUINT_TO_POINTER(n + 1));
		const char *bad = NULL;

		if (!g_str_has_prefix(t[n].got, t[n].want))
			bad = "verdict";
		else if (g_str_has_prefix(t[n].got, "250 ") && text == NULL)
			bad = "accepted but not stored";
		else if (!g_str_has_prefix(t[n].got, "250 ") && text != NULL)
			bad = "refused but stored";
		else if (text != NULL)
			bad = stored_ok(text);
		if (bad != NULL) {
			char *h = g_strescape(t[n].hdr, NULL);

			fails++;
			g_test_message("case %u: %s: want \"%s\", got \"%s\" "
				       "for \"%.300s\"",
				       n, bad, t[n].want, t[n].got, h);
			g_free(h);
		}
		g_free(t[n].hdr);
		g_free(t[n].got);
	}
	g_test_message("%u accepted, %u refused, %u wrong", accepted, refused,
		       fails);
	g_assert_cmpuint(fails, ==, 0);
	/* the table is not one-sided */
	g_assert_cmpuint(accepted, >, 20);
	g_assert_cmpuint(refused, >, 20);
	g_hash_table_unref(stored);
	g_free(dir);
	g_free(t);
	g_rand_free(r);
}

int main(int argc, char **argv)
{
	const char *user_add[] = {
		"rmail", "-c", NULL, "user", "add", NULL, "--password-stdin",
		NULL};
	char *out = NULL, *errs = NULL;
	int rc;

	g_test_init(&argc, &argv, NULL);
	H = rmh_new();
	rmh_set(H, "modules", "[\"mod_shardstore\", \"mod_smtp\"]");
	rmh_setf(H, "smtp",
		 "{\"listen\": [], \"submission_listen\": [], "
		 "\"smtps_listen\": [\"127.0.0.1:%u\"], "
		 "\"max_errors\": 100000}",
		 rmh_port(H, "smtps"));
	rmh_write_config(H);
	user_add[2] = rmh_config_path(H);
	for (int i = 0; i < 2; i++) {
		user_add[5] = i == 0 ? ALICE : BOB;
		rc = rmh_run_argv(H, user_add, PW "\n", &out, &errs);
		g_assert_cmpint(rc, ==, 0);
		g_free(out);
		g_free(errs);
	}
	g_assert_cmpint(rmh_run(H, &out, &errs, "alias", "add", "sales@" DOM,
				ALICE, NULL),
			==, 0);
	g_free(out);
	g_free(errs);
	g_assert_true(rmh_start(H));

	g_test_add_func("/submit/from/table", test_from_table);
	rc = g_test_run();
	g_assert_cmpint(rmh_stop(H), ==, 0);
	rmh_free(H);
	return rc;
}
