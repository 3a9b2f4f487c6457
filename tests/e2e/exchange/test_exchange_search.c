/*
 * GET /api/folders/{folder}/search end to end: mail delivered over
 * SMTP to the real daemon (mod_shardstore + mod_smtp + mod_exchange),
 * searched by body word (base64 and quoted-printable bodies too),
 * subject and sender, newest first with the list's per-message JSON;
 * paging by next_before covers every hit once; one user never sees
 * another's mail; hostile arguments are 400s; and the answers are the
 * same with the full-text index up to date, behind, and disabled.
 */
#include <glib.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exhc.h"
#include "harness.h"

#define ALICE "alice@example.test"
#define BOB "bob@example.test"
#define CAROL "carol@example.test"
#define PW "secret-pw"

static struct rmh *H;
static unsigned PORT, SMTP;

/* what alice gets, oldest first (UIDs 1..) */
static const char *const corpus[] = {
	"From: Carol <carol@example.org>\r\nTo: alice@example.test\r\n"
	"Subject: quarterly numbers\r\n\r\nThe numbat report is late.\r\n",
	"From: dave@example.net\r\nTo: alice@example.test\r\n"
	"Subject: lunch\r\nContent-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: base64\r\n\r\n"
	/* "Meet the NUMBAT at noon, café." */
	"TWVldCB0aGUgTlVNQkFUIGF0IG5vb24sIGNhZsOpLg==\r\n",
	"From: erin@example.net\r\nTo: alice@example.test\r\n"
	"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_vom_Quokka?=\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	"A quok=\r\nka and no marsupial anteater.\r\n",
	"From: frank@example.com\r\nTo: alice@example.test\r\n"
	"Subject: numbat sighting\r\n\r\nnothing in the body\r\n",
	"From: Numbat Fan <fan@example.com>\r\nTo: alice@example.test\r\n"
	"Subject: club\r\n\r\nmeeting on Tuesday\r\n",
};
#define NC G_N_ELEMENTS(corpus)
/* then NPAGE messages with "pagingword" */
#define NPAGE 7

static void user_add(const char *user)
{
	const char *argv[] = {"rmail", "-c", rmh_config_path(H), "user",
			      "add",   user, "--password-stdin", NULL};
	char *out = NULL, *err = NULL;

	g_assert_cmpint(rmh_run_argv(H, argv, PW "\n", &out, &err), ==, 0);
	g_free(out);
	g_free(err);
}

static char *smtp_reply(struct rmh_conn *c)
{
	char *line;

	while ((line = rmh_readline(c, 10)) != NULL) {
		if (strlen(line) < 4 || line[3] != '-')
			return line;
		g_free(line);
	}
	return NULL;
}

static void smtp_cmd(struct rmh_conn *c, const char *line)
{
	char *l;

	g_assert_true(rmh_send(c, "%s", line));
	l = smtp_reply(c);
	g_assert_nonnull(l);
	g_assert_true(l[0] == '2' || l[0] == '3');
	g_free(l);
}

static void deliver(const char *rcpt, const char *msg)
{
	struct rmh_conn *c = rmh_connect(SMTP, false);
	char *l;

	g_assert_nonnull(c);
	g_free(smtp_reply(c));
	smtp_cmd(c, "EHLO client.test");
	smtp_cmd(c, "MAIL FROM:<sender@far.test>");
	l = g_strdup_printf("RCPT TO:<%s>", rcpt);
	smtp_cmd(c, l);
	g_free(l);
	smtp_cmd(c, "DATA");
	g_assert_true(rmh_send_raw(c, msg, strlen(msg)));
	smtp_cmd(c, ".");
	(void)rmh_send(c, "QUIT");
	rmh_conn_close(c);
}

static char *login(const char *user)
{
	int st;
	char *t = ex_login(PORT, false, NULL, user, PW, NULL, &st);

	g_assert_cmpint(st, ==, 200);
	return t;
}

static struct exresp get(const char *path, const char *tok)
{
	return ex_req(PORT, false, NULL, "GET", path, tok, NULL, NULL);
}

/* the search's JSON (json_decref), asserting 200 */
static json_t *search(const char *tok, const char *query)
{
	char *p = g_strdup_printf("/api/folders/INBOX/search?%s", query);
	struct exresp r = get(p, tok);
	json_t *j;

	if (r.status != 200)
		g_test_message("%s: %d %s", p, r.status, r.body);
	g_assert_cmpint(r.status, ==, 200);
	g_free(p);
	j = exresp_json(&r);
	exresp_free(&r);
	return j;
}

/* "uid uid ..." of a search, following next_before to the end */
static char *uids(const char *tok, const char *query)
{
	GString *s = g_string_new(NULL);
	long before = 0;

	do {
		char *q = before > 0 ? g_strdup_printf("%s&before=%ld", query,
						       before)
				     : g_strdup(query);
		json_t *j = search(tok, q), *m, *nb;
		size_t i;

		json_array_foreach(json_object_get(j, "messages"), i, m)
			g_string_append_printf(
				s, "%s%ld", s->len > 0 ? " " : "",
				(long)json_integer_value(
					json_object_get(m, "uid")));
		nb = json_object_get(j, "next_before");
		before = json_is_integer(nb) ? (long)json_integer_value(nb) : 0;
		json_decref(j);
		g_free(q);
	} while (before > 0);
	return g_string_free(s, FALSE);
}

static int status_of(const char *path, const char *tok)
{
	struct exresp r = get(path, tok);
	int st = r.status;

	exresp_free(&r);
	return st;
}

/* the INBOX high-water UID of alice's index file, 0 when none */
static unsigned hwm(void)
{
	char *p = g_strdup_printf("%s/index/" ALICE ".sqlite", rmh_dir(H));
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	unsigned v = 0;

	if (access(p, F_OK) == 0 &&
	    sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db,
			       "SELECT max(hwm) FROM mbox WHERE name='INBOX'",
			       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = (unsigned)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	g_free(p);
	return v;
}

static const char *const queries[] = {
	"q=numbat&field=body",	  "q=NUMBAT",
	"q=numbat&field=subject", "q=numbat&field=from",
	"q=quokka&field=body",	  "q=caf%C3%A9",
	"q=GR%C3%9C%C3%9FE",	  "q=alice&field=to",
	"q=pagingword&limit=2",	  "q=zz",
	"q=nowhere-at-all",	  "q=cafe",
};
#define NQ G_N_ELEMENTS(queries)
static char *want[NQ];

static void test_answers(void)
{
	char *tok = login(ALICE);
	json_t *j, *m, *list, *lm;
	struct exresp r;

	for (size_t q = 0; q < NQ; q++)
		want[q] = uids(tok, queries[q]);
	/* body: plain and base64 (case folded); not the subject-only one */
	g_assert_cmpstr(want[0], ==, "2 1");
	/* text: body, subject and the sender's name */
	g_assert_cmpstr(want[1], ==, "5 4 2 1");
	g_assert_cmpstr(want[2], ==, "4");
	g_assert_cmpstr(want[3], ==, "5");
	/* a word across a quoted-printable soft break */
	g_assert_cmpstr(want[4], ==, "3");
	g_assert_cmpstr(want[5], ==, "2");
	/* an encoded-word subject, folded (ß is ss) */
	g_assert_cmpstr(want[6], ==, "3");
	g_assert_cmpstr(want[7], ==, "12 11 10 9 8 7 6 5 4 3 2 1");
	g_assert_cmpstr(want[8], ==, "12 11 10 9 8 7 6");
	g_assert_cmpstr(want[10], ==, "");
	/* RFC 5051 decomposes: "e" is in the folded "café" */
	g_assert_cmpstr(want[11], ==, "2");

	/* each hit is what the message list shows for it */
	j = search(tok, "q=club");
	g_assert_cmpuint(json_array_size(json_object_get(j, "messages")), ==,
			 1);
	m = json_array_get(json_object_get(j, "messages"), 0);
	r = get("/api/folders/INBOX/messages?page=8&per_page=1", tok);
	g_assert_cmpint(r.status, ==, 200);
	list = exresp_json(&r);
	exresp_free(&r);
	lm = json_array_get(json_object_get(list, "messages"), 0);
	g_assert_true(json_equal(m, lm));
	g_assert_cmpint(json_integer_value(json_object_get(j, "limit")), ==,
			50);
	g_assert_true(json_is_null(json_object_get(j, "next_before")));
	json_decref(list);
	json_decref(j);
	g_free(tok);
}

static long first_uid(const json_t *j)
{
	const json_t *m = json_array_get(json_object_get(j, "messages"), 0);

	g_assert_nonnull(m);
	return (long)json_integer_value(json_object_get(m, "uid"));
}

static void test_paging(void)
{
	char *tok = login(ALICE);
	json_t *j;

	j = search(tok, "q=pagingword&limit=3");
	g_assert_cmpuint(json_array_size(json_object_get(j, "messages")), ==,
			 3);
	g_assert_cmpint(first_uid(j), ==, 12);
	g_assert_cmpint(json_integer_value(json_object_get(j, "next_before")),
			==, 10);
	json_decref(j);
	j = search(tok, "q=pagingword&limit=3&before=10");
	g_assert_cmpuint(json_array_size(json_object_get(j, "messages")), ==,
			 3);
	g_assert_cmpint(first_uid(j), ==, 9);
	json_decref(j);
	/* the last page says there is nothing older */
	j = search(tok, "q=pagingword&limit=3&before=7");
	g_assert_cmpuint(json_array_size(json_object_get(j, "messages")), ==,
			 1);
	g_assert_true(json_is_null(json_object_get(j, "next_before")));
	json_decref(j);
	g_free(tok);
}

static void test_isolation(void)
{
	char *tok = login(BOB);
	char *got = uids(tok, "q=numbat");

	/* bob's own INBOX holds one message, without the word */
	g_assert_cmpstr(got, ==, "");
	g_free(got);
	got = uids(tok, "q=bobonly");
	g_assert_cmpstr(got, ==, "1");
	g_free(got);
	/* no path leads into alice's mailboxes */
	g_assert_cmpint(
		status_of("/api/folders/..%2Falice%40example.test%2FINBOX/"
			  "search?q=numbat",
			  tok),
		==, 404);
	g_assert_cmpint(status_of("/api/folders/alice%40example.test%2FINBOX/"
				  "search?q=numbat",
				  tok),
			==, 404);
	g_assert_cmpint(status_of("/api/folders/INBOX/search?q=numbat", NULL),
			==, 401);
	g_free(tok);
}

static void test_hostile(void)
{
	static const char *const bad[] = {
		"",
		"q=",
		"field=body",
		"q=%FF",
		"q=%C0%AF",
		"q=%ED%A0%80",
		"q=%zz",
		"q=%00",
		"q=x&field=bogus",
		"q=x&field=",
		"q=x&limit=0",
		"q=x&limit=201",
		"q=x&limit=99999999999",
		"q=x&limit=-1",
		"q=x&limit=%zz",
		"q=x&before=0",
		"q=x&before=4294967296",
		"q=x&before=1e3",
	};
	char *tok = login(ALICE);
	char *big = g_strnfill(257, 'a');
	char *p;

	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		struct exresp r;

		p = g_strdup_printf("/api/folders/INBOX/search?%s", bad[i]);
		r = get(p, tok);
		if (r.status != 400)
			g_test_message("%s: %d", p, r.status);
		g_assert_cmpint(r.status, ==, 400);
		g_assert_nonnull(strstr(r.body, "\"error\""));
		exresp_free(&r);
		g_free(p);
	}
	p = g_strdup_printf("/api/folders/INBOX/search?q=%s", big);
	g_assert_cmpint(status_of(p, tok), ==, 400);
	g_free(p);
	big[256] = '\0';
	p = g_strdup_printf("/api/folders/INBOX/search?q=%s", big);
	g_assert_cmpint(status_of(p, tok), ==, 200);
	g_free(p);
	g_assert_cmpint(status_of("/api/folders/NoSuch/search?q=x", tok), ==,
			404);
	g_assert_cmpint(
		status_of("/api/folders/INBOX/search?q=x&limit=200", tok), ==,
		200);
	g_free(big);
	g_free(tok);
}

static void restart(bool enabled)
{
	g_assert_cmpint(rmh_stop(H), ==, 0);
	rmh_setf(H, "index", "{\"enabled\": %s}", enabled ? "true" : "false");
	rmh_write_config(H);
	g_assert_true(rmh_start(H));
}

static void compare(const char *what)
{
	char *tok = login(ALICE);

	for (size_t q = 0; q < NQ; q++) {
		char *got = uids(tok, queries[q]);

		if (strcmp(got, want[q]) != 0)
			g_test_message("%s: %s: got \"%s\", want \"%s\"", what,
				       queries[q], got, want[q]);
		g_assert_cmpstr(got, ==, want[q]);
		g_free(got);
	}
	g_free(tok);
}

/* the index brought up to date (the search asks for it), then off:
 * every answer stays the same */
static void test_index_same(void)
{
	char *tok = login(ALICE);
	/* the writer also has carol's 2,100 imported messages to index;
	 * under ASan on a loaded CI machine that takes tens of seconds */
	gint64 until = g_get_monotonic_time() + 90 * G_USEC_PER_SEC;

	while (hwm() < NC + NPAGE && g_get_monotonic_time() < until) {
		g_free(uids(tok, "q=numbat"));
		g_usleep(50 * 1000);
	}
	g_free(tok);
	g_assert_cmpuint(hwm(), ==, NC + NPAGE);
	compare("indexed");
	/* a message the index has not seen yet is found at once */
	deliver(ALICE, "From: late@example.test\r\nSubject: late\r\n\r\n"
		       "the numbat again\r\n");
	tok = login(ALICE);
	{
		char *got = uids(tok, "q=numbat&field=body");

		g_assert_cmpstr(got, ==, "13 2 1");
		g_free(got);
	}
	g_free(tok);
	g_free(want[0]);
	want[0] = g_strdup("13 2 1");
	g_free(want[1]);
	want[1] = g_strdup("13 5 4 2 1");
	restart(false);
	compare("disabled");
	restart(true);
	compare("enabled again");
}

/*
 * A folder larger than what one request takes from the view (2001
 * candidates: the loop copies no more, whatever the size): paging by
 * next_before still covers every hit once, in order, with the index
 * absent, while it is being built (its hits plus everything above
 * what it covers) and disabled.
 */
#define NBIG 2100
static const unsigned big_rare[] = {5, 1000, 2050};

static char *big_want(bool rare)
{
	GString *s = g_string_new(NULL);

	for (unsigned u = NBIG; u >= 1; u--) {
		bool hit = !rare;

		for (size_t k = 0; k < G_N_ELEMENTS(big_rare); k++)
			hit |= big_rare[k] == u;
		if (hit)
			g_string_append_printf(s, "%s%u", s->len ? " " : "", u);
	}
	return g_string_free(s, FALSE);
}

static void big_compare(const char *what)
{
	char *tok = login(CAROL), *rare = big_want(true),
	     *all = big_want(false);
	char *got;

	got = uids(tok, "q=rarewombat&field=body&limit=200");
	if (strcmp(got, rare) != 0)
		g_test_message("%s: rare: %s", what, got);
	g_assert_cmpstr(got, ==, rare);
	g_free(got);
	got = uids(tok, "q=fillerword&field=body&limit=200");
	g_assert_cmpstr(got, ==, all);
	g_free(got);
	g_free(tok);
	g_free(rare);
	g_free(all);
}

static void test_big_folder(void)
{
	gint64 t0 = g_get_monotonic_time();

	big_compare("no index");
	/* the searches asked for the index: answers stay whole while it
	 * fills (bounded: a few rounds, not until it is done) */
	for (int i = 0; i < 3; i++)
		big_compare("index filling");
	restart(false);
	big_compare("disabled");
	restart(true);
	g_test_message("big folder: %.1f s",
		       (double)(g_get_monotonic_time() - t0) / 1e6);
}

/* carol's maildir of NBIG messages, imported before the daemon starts */
static void big_import(void)
{
	char *dir = g_build_filename(rmh_dir(H), "bigmd", NULL);
	char *cur = g_build_filename(dir, "cur", NULL);
	const char *argv[] = {"rmail",	"-c",	   rmh_config_path(H),
			      "import", "maildir", dir,
			      CAROL,	NULL};
	char *out = NULL, *err = NULL;
	gint64 t0 = g_get_monotonic_time();

	for (int i = 0; i < 3; i++) {
		static const char *const sub[] = {"cur", "new", "tmp"};
		char *d = g_build_filename(dir, sub[i], NULL);

		g_assert_cmpint(g_mkdir_with_parents(d, 0700), ==, 0);
		g_free(d);
	}
	for (unsigned u = 1; u <= NBIG; u++) {
		bool rare = false;
		char *f, *m;

		for (size_t k = 0; k < G_N_ELEMENTS(big_rare); k++)
			rare |= big_rare[k] == u;
		f = g_strdup_printf("%s/%u.%05u.big:2,S", cur, 1700000000 + u,
				    u);
		m = g_strdup_printf("From: b%u@example.test\r\nSubject: bulk "
				    "%u\r\n\r\nfillerword %u%s\r\n",
				    u, u, u, rare ? " rarewombat" : "");
		g_assert_true(g_file_set_contents(f, m, -1, NULL));
		g_free(f);
		g_free(m);
	}
	if (rmh_run_argv(H, argv, NULL, &out, &err) != 0)
		g_test_message("import: %s %s", out, err);
	g_test_message("%u messages written and imported: %.1f s", NBIG,
		       (double)(g_get_monotonic_time() - t0) / 1e6);
	g_free(out);
	g_free(err);
	g_free(cur);
	g_free(dir);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	H = rmh_new();
	PORT = rmh_port(H, "http");
	SMTP = rmh_port(H, "smtp");
	rmh_set(H, "modules",
		"[\"mod_shardstore\", \"mod_smtp\", \"mod_exchange\"]");
	rmh_setf(H, "exchange_api",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"tls_listen\": []}", PORT);
	rmh_setf(H, "smtp",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"submission_listen\": [], "
		 "\"smtps_listen\": []}",
		 SMTP);
	rmh_set(H, "mailauth", "{\"inbound\": false}");
	rmh_write_config(H);
	user_add(ALICE);
	user_add(BOB);
	user_add(CAROL);
	big_import();
	g_assert_true(rmh_start(H));
	for (size_t i = 0; i < NC; i++)
		deliver(ALICE, corpus[i]);
	for (int i = 0; i < NPAGE; i++) {
		char *m = g_strdup_printf("From: p%d@example.test\r\n"
					  "To: alice@example.test\r\n"
					  "Subject: page %d\r\n\r\n"
					  "pagingword %d\r\n",
					  i, i, i);

		deliver(ALICE, m);
		g_free(m);
	}
	deliver(BOB, "From: x@example.test\r\nSubject: hi\r\n\r\nbobonly\r\n");
	g_test_add_func("/exchange/search/answers", test_answers);
	g_test_add_func("/exchange/search/paging", test_paging);
	g_test_add_func("/exchange/search/isolation", test_isolation);
	g_test_add_func("/exchange/search/hostile", test_hostile);
	g_test_add_func("/exchange/search/index-same", test_index_same);
	g_test_add_func("/exchange/search/big-folder", test_big_folder);
	rc = g_test_run();
	if (rc != 0 || g_getenv("RMH_SHOW") != NULL)
		g_test_message("daemon stderr:\n%s", rmh_stderr(H));
	g_assert_cmpint(rmh_stop(H), ==, 0);
	rmh_free(H);
	for (size_t q = 0; q < NQ; q++)
		g_free(want[q]);
	return rc;
}
