/*
 * The header cache and full-text index behind SEARCH (core/index):
 * every answer with the index equals the answer without it (the index
 * only narrows, the messages confirm), over base64 and
 * quoted-printable bodies, non-UTF-8 charsets, needles shorter than a
 * trigram and non-ASCII case folding; a message the index has not seen
 * yet is still found; a garbled, truncated or deleted index file is
 * rebuilt and never changes an answer.
 */
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imap_client.h"

#define USER "idx@example.test"

static const char *const corpus[] = {
	/* base64 UTF-8 body, encoded-word subject */
	"From: Alice Example <alice@example.test>\r\n"
	"To: bob@example.test\r\n"
	"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_aus_der_Stra=C3=9Fe?=\r\n"
	"Message-ID: <m1@example.test>\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: base64\r\n\r\n"
	"SGVsbG8gWmVicmEsIGdyw7zDn2UgYXVzIGRlciBTdHJhw59lLg==\r\n",
	/* quoted-printable with a soft break inside a word */
	"From: \"Carol\" <carol@example.org>\r\n"
	"To: Dave <dave@example.net>, Erin <erin@example.net>\r\n"
	"Cc: frank@example.com\r\n"
	"Subject: quarterly numbers\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	"The quok=\r\nka report is attached; caf=C3=A9 later.\r\n",
	/* ISO-8859-1 body: decoded to UTF-8 before folding */
	"From: =?iso-8859-1?q?D=F6rte?= <doerte@example.de>\r\n"
	"To: undisclosed-recipients:;\r\n"
	"Subject: =?iso-8859-1?q?na=EFve_caf=E9?=\r\n"
	"Content-Type: text/plain; charset=iso-8859-1\r\n"
	"Content-Transfer-Encoding: 8bit\r\n\r\n"
	"Ein na\xefver Caf\xe9-Besuch, Stra\xdf"
	"e.\r\n",
	/* Greek and a ligature: i;unicode-casemap folds both */
	"From: omega@example.gr\r\n"
	"To: Group: one@example.gr, two@example.gr;\r\n"
	"Subject: =?utf-8?b?zqnOnM6VzpPOkSDvrIFsZQ==?=\r\n"
	"Content-Type: multipart/mixed; boundary=b1\r\n\r\n"
	"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
	"\xce\xa9\xce\xbc\xce\xad\xce\xb3\xce\xb1 \xef\xac\x81nal words\r\n"
	"--b1\r\nContent-Type: application/octet-stream\r\n"
	"Content-Transfer-Encoding: base64\r\n\r\n"
	"aGlkZGVuendpYmJsZQ==\r\n"
	"--b1--\r\n",
	/* an attached message: its header is searchable text */
	"From: relay@example.test\r\n"
	"To: bob@example.test\r\n"
	"Subject: Fwd: zebra crossing\r\n"
	"Content-Type: multipart/mixed; boundary=b2\r\n\r\n"
	"--b2\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
	"--b2\r\nContent-Type: message/rfc822\r\n\r\n"
	"From: inner@example.test\r\nSubject: inner subject wombat\r\n\r\n"
	"inner body platypus\r\n"
	"--b2--\r\n",
	/* invalid UTF-8 declared as UTF-8, two Subject fields */
	"From: bad@example.test\r\n"
	"Subject: first\r\n"
	"Subject: second zebra\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n\r\n"
	"broken \xff\xfe bytes ZEBRA and x\r\n",
	/* no Subject, short body */
	"From: <>\r\n"
	"To: bob@example.test\r\n\r\n"
	"ok\r\n",
	/* many trigrams: a long rare word */
	"From: long@example.test\r\n"
	"Subject: antidisestablishmentarianism\r\n\r\n"
	"pneumonoultramicroscopicsilicovolcanoconiosis appears once\r\n",
};

/* SEARCH keys, each with its argument as UTF-8 */
static const char *const queries[][2] = {
	{"BODY", "zebra"},
	{"BODY", "ZEBRA"},
	{"BODY", "ebr"},
	{"BODY", "e"},
	{"BODY", "ok"},
	{"BODY", "quokka"},
	{"BODY", "CAFÉ"},
	{"BODY", "naïver"},
	{"BODY", "STRASSE"},
	{"BODY", "grüsse"},
	{"BODY", "ωμέγα"},
	{"BODY", "final"},
	{"BODY", "hiddenzwibble"},
	{"BODY", "platypus"},
	{"BODY", "wombat"},
	{"BODY", "x"},
	{"BODY", "xyzzy-nowhere"},
	{"BODY", "pneumonoultramicroscopicsilicovolcanoconiosis"},
	{"BODY", "volcanoconiosis appears"},
	{"TEXT", "zebra"},
	{"TEXT", "message-id"},
	{"TEXT", "alice"},
	{"TEXT", "wombat"},
	{"SUBJECT", "grüße"},
	{"SUBJECT", "STRASSE"},
	{"SUBJECT", "ss"},
	{"SUBJECT", "é"},
	{"SUBJECT", "first"},
	{"SUBJECT", "zebra"},
	{"SUBJECT", "ΩΜΈΓΑ"},
	{"SUBJECT", "file"},
	{"SUBJECT", "nowhere-at-all"},
	{"FROM", "alice"},
	{"FROM", "carol <carol@"},
	{"FROM", "dörte"},
	{"FROM", "@"},
	{"FROM", "example.de>"},
	{"TO", "erin"},
	{"TO", "group"},
	{"TO", "two@"},
	{"CC", "frank"},
	{"CC", "nobody"},
	{"HEADER Subject", "zebra"},
	{"HEADER From", "alice"},
	{"NOT BODY", "zebra"},
	{"OR SUBJECT numbers BODY", "platypus"},
	/* indexed keys ANDed with others: the index picks the candidates,
	 * the rest is evaluated on them */
	{"SUBJECT zebra BODY", "zebra"},
	{"UNSEEN BODY", "zebra"},
	{"NOT SUBJECT second BODY", "zebra"},
	{"UID 2:5 TEXT", "alice"},
	{"FROM bad@ SUBJECT", "zebra"},
	{"BODY ok SUBJECT", "zebra"},
	{"SUBJECT zebra BODY", "xyzzy-nowhere"},
};

#define NQ (sizeof(queries) / sizeof(queries[0]))
#define NC (sizeof(corpus) / sizeof(corpus[0]))

static char *search(struct imc *c, size_t q)
{
	const char *arg = queries[q][1];
	char *r = imc_ok(c, "UID SEARCH CHARSET UTF-8 %s {%zu+}\r\n%s",
			 queries[q][0], strlen(arg), arg);
	char *line = strstr(r, "* SEARCH");
	char *out, *e;

	g_assert_nonnull(line);
	e = strchr(line, '\n');
	out = g_strndup(line, e != NULL ? (size_t)(e - line) : strlen(line));
	g_strchomp(out);
	g_free(r);
	return out;
}

static void append(struct imc *c, const char *mbox, const char *msg)
{
	char *r = imc_ok(c, "APPEND %s {%zu+}\r\n%s", mbox, strlen(msg), msg);

	g_free(r);
}

static char *db_path(struct imd *d)
{
	return g_strdup_printf("%s/index/" USER ".sqlite", rmh_dir(d->h));
}

/* the INBOX high-water UID of the index file, 0 when none */
static unsigned hwm(struct imd *d)
{
	char *p = db_path(d);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	unsigned v = 0;

	if (access(p, F_OK) == 0 &&
	    sqlite3_open_v2(p, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
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

static void wait_indexed(struct imd *d, struct imc *c, unsigned upto)
{
	for (int i = 0; i < 200 && hwm(d) < upto; i++) {
		/* a search with a backlog asks for an update */
		g_free(search(c, 0));
		g_usleep(50 * 1000);
	}
	g_assert_cmpuint(hwm(d), >=, upto);
}

static void restart(struct imd *d, bool enabled)
{
	g_assert_cmpint(rmh_stop(d->h), ==, 0);
	rmh_setf(d->h, "index", "{\"enabled\": %s}",
		 enabled ? "true" : "false");
	rmh_write_config(d->h);
	g_assert_true(rmh_start(d->h));
}

static void compare(struct imc *c, char **want, const char *what)
{
	for (size_t q = 0; q < NQ; q++) {
		char *got = search(c, q);

		if (strcmp(got, want[q]) != 0)
			g_test_message("%s: %s \"%s\": got \"%s\", want \"%s\"",
				       what, queries[q][0], queries[q][1], got,
				       want[q]);
		g_assert_cmpstr(got, ==, want[q]);
		g_free(got);
	}
}

static void test_differential(void)
{
	struct imd *d = imd_start("\"allow_cleartext_login_loopback\": true");
	char *want[NQ];
	struct imc *c;
	char *r;

	imd_user(d, USER, "pw-secret", 0);
	restart(d, false);
	c = imc_login(d, USER, "pw-secret");
	for (size_t i = 0; i < NC; i++)
		append(c, "INBOX", corpus[i]);
	g_free(imc_ok(c, "SELECT INBOX"));
	/* the truth: every message read */
	for (size_t q = 0; q < NQ; q++)
		want[q] = search(c, q);
	g_assert_cmpstr(want[0], ==, "* SEARCH 1 6");
	g_assert_cmpstr(want[6], ==, "* SEARCH 2 3");
	imc_close(c);
	g_assert_cmpuint(hwm(d), ==, 0);

	/* index on: first all backlog, then all indexed */
	restart(d, true);
	c = imc_login(d, USER, "pw-secret");
	g_free(imc_ok(c, "SELECT INBOX"));
	compare(c, want, "backlog");
	wait_indexed(d, c, NC);
	compare(c, want, "indexed");

	/* a message the index has not seen yet is found at once */
	append(c, "INBOX",
	       "From: late@example.test\r\nSubject: late kiwifruit\r\n\r\n"
	       "the numbat arrives\r\n");
	g_free(imc_ok(c, "NOOP"));
	r = imc_ok(c, "UID SEARCH BODY numbat");
	has(r, "* SEARCH 9\n");
	g_free(r);
	r = imc_ok(c, "UID SEARCH SUBJECT kiwifruit");
	has(r, "* SEARCH 9\n");
	g_free(r);
	/* expunged messages drop out */
	g_free(imc_ok(c, "UID STORE 1 +FLAGS (\\Deleted)"));
	g_free(imc_ok(c, "EXPUNGE"));
	r = imc_ok(c, "UID SEARCH BODY zebra");
	has(r, "* SEARCH 6\n");
	g_free(r);
	imc_close(c);
	for (size_t q = 0; q < NQ; q++)
		g_free(want[q]);
	imd_stop(d);
}

/* garble the file in place: every answer stays right, the daemon lives,
 * and the index comes back */
static void test_corrupt(void)
{
	struct imd *d = imd_start("\"allow_cleartext_login_loopback\": true");
	char *want[NQ], *p;
	struct imc *c;
	FILE *f;
	long len;

	imd_user(d, USER, "pw-secret", 0);
	restart(d, false);
	c = imc_login(d, USER, "pw-secret");
	for (size_t i = 0; i < NC; i++)
		append(c, "INBOX", corpus[i]);
	g_free(imc_ok(c, "SELECT INBOX"));
	for (size_t q = 0; q < NQ; q++)
		want[q] = search(c, q);
	imc_close(c);
	restart(d, true);
	c = imc_login(d, USER, "pw-secret");
	g_free(imc_ok(c, "SELECT INBOX"));
	wait_indexed(d, c, NC);
	p = db_path(d);

	/* 1: garbage over every page but the first */
	f = fopen(p, "r+b");
	g_assert_nonnull(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	for (long off = 4096; off < len; off += 512) {
		fseek(f, off, SEEK_SET);
		fwrite("\xde\xad\xbe\xef garbage garbage", 1, 20, f);
	}
	fclose(f);
	compare(c, want, "garbled");
	wait_indexed(d, c, NC);
	compare(c, want, "rebuilt after garbage");

	/* 2: truncated to its header page */
	g_assert_cmpint(truncate(p, 100), ==, 0);
	compare(c, want, "truncated");
	wait_indexed(d, c, NC);
	compare(c, want, "rebuilt after truncation");

	/* 3: not a database at all */
	g_assert_true(g_file_set_contents(p, "not sqlite", -1, NULL));
	compare(c, want, "foreign");
	wait_indexed(d, c, NC);

	/* 4: deleted */
	g_assert_cmpint(unlink(p), ==, 0);
	compare(c, want, "deleted");
	wait_indexed(d, c, NC);
	compare(c, want, "rebuilt after delete");
	imc_close(c);
	for (size_t q = 0; q < NQ; q++)
		g_free(want[q]);
	g_free(p);
	imd_stop(d);
}

/* A reader meeting a file it cannot use while a writer holds the lease
 * (this test holds it, as a rebuild would while the path names its new
 * file): every answer is still right (the messages are read), the file
 * is not deleted under the writer, and once the lease is free the
 * daemon's writer replaces it. */
static void test_corrupt_in_use(void)
{
	struct imd *d = imd_start("\"allow_cleartext_login_loopback\": true");
	static const char writers[] = "not yet a database: a writer's file";
	char *want[NQ], *p, *lk, *tmpf, *got;
	struct stat before, after;
	struct imc *c;
	int fd, i;

	imd_user(d, USER, "pw-secret", 0);
	restart(d, false);
	c = imc_login(d, USER, "pw-secret");
	for (size_t k = 0; k < NC; k++)
		append(c, "INBOX", corpus[k]);
	g_free(imc_ok(c, "SELECT INBOX"));
	for (size_t q = 0; q < NQ; q++)
		want[q] = search(c, q);
	imc_close(c);
	restart(d, true);
	c = imc_login(d, USER, "pw-secret");
	g_free(imc_ok(c, "SELECT INBOX"));
	wait_indexed(d, c, NC);
	p = db_path(d);
	lk = g_strdup_printf("%s.lock", p);
	fd = open(lk, O_RDWR | O_CLOEXEC);
	g_assert_cmpint(fd, >=, 0);
	for (i = 0; i < 100 && flock(fd, LOCK_EX | LOCK_NB) < 0; i++)
		g_usleep(50 * 1000);
	g_assert_cmpint(i, <, 100);
	/* the old file goes whole, as idx_db_remove does */
	tmpf = g_strdup_printf("%s.tmp", p);
	g_assert_true(g_file_set_contents(tmpf, writers, -1, NULL));
	for (int k = 0; k < 2; k++) {
		char *x = g_strdup_printf("%s%s", p, k ? "-shm" : "-wal");

		(void)unlink(x);
		g_free(x);
	}
	g_assert_cmpint(rename(tmpf, p), ==, 0);
	g_assert_cmpint(stat(p, &before), ==, 0);
	compare(c, want, "unusable, lease held");
	g_assert_cmpint(stat(p, &after), ==, 0);
	g_assert_cmpuint(after.st_ino, ==, before.st_ino);
	g_assert_true(g_file_get_contents(p, &got, NULL, NULL));
	g_assert_cmpstr(got, ==, writers);
	g_free(got);
	/* the lease free: the daemon's writer replaces the file */
	close(fd);
	wait_indexed(d, c, NC);
	compare(c, want, "replaced by the lease holder");
	imc_close(c);
	for (size_t q = 0; q < NQ; q++)
		g_free(want[q]);
	g_free(tmpf);
	g_free(lk);
	g_free(p);
	imd_stop(d);
}

/* rmail index rebuild: the same answers from a file built by the CLI */
static void test_cli_rebuild(void)
{
	struct imd *d = imd_start("\"allow_cleartext_login_loopback\": true");
	const char *argv[] = {"rmail",	 "-c", NULL, "index",
			      "rebuild", USER, NULL};
	char *out = NULL, *err = NULL, *r;
	struct imc *c;
	int rc;

	imd_user(d, USER, "pw-secret", 0);
	restart(d, false);
	c = imc_login(d, USER, "pw-secret");
	for (size_t i = 0; i < NC; i++)
		append(c, "INBOX", corpus[i]);
	imc_close(c);
	g_assert_cmpint(rmh_stop(d->h), ==, 0);
	rmh_set(d->h, "index", "{\"enabled\": true}");
	rmh_write_config(d->h);
	argv[2] = rmh_config_path(d->h);
	rc = rmh_run_argv(d->h, argv, NULL, &out, &err);
	if (rc != 0)
		g_test_message("index rebuild: %s %s", out, err);
	g_assert_cmpint(rc, ==, 0);
	has(out, "8 messages");
	g_assert_cmpuint(hwm(d), ==, NC);
	g_assert_true(rmh_start(d->h));
	c = imc_login(d, USER, "pw-secret");
	g_free(imc_ok(c, "SELECT INBOX"));
	r = imc_ok(c, "UID SEARCH BODY platypus");
	has(r, "* SEARCH 5\n");
	g_free(r);
	imc_close(c);
	g_free(out);
	g_free(err);
	imd_stop(d);
}

/* check-store verifies the index files and --repair drops a bad one */
static void test_check_store(void)
{
	struct imd *d = imd_start("\"allow_cleartext_login_loopback\": true");
	const char *rebuild[] = {"rmail",   "-c", NULL, "index",
				 "rebuild", USER, NULL};
	const char *check[] = {"rmail", "-c", NULL, "check-store", NULL, NULL};
	char *out = NULL, *err = NULL, *p;
	struct imc *c;
	FILE *f;
	int rc;

	imd_user(d, USER, "pw-secret", 0);
	c = imc_login(d, USER, "pw-secret");
	append(c, "INBOX", corpus[0]);
	imc_close(c);
	rebuild[2] = check[2] = rmh_config_path(d->h);
	g_assert_cmpint(rmh_run_argv(d->h, rebuild, NULL, &out, &err), ==, 0);
	g_free(out);
	g_free(err);
	rc = rmh_run_argv(d->h, check, NULL, &out, &err);
	if (rc != 0)
		g_test_message("check-store: %s %s", out, err);
	g_assert_cmpint(rc, ==, 0);
	hasnt(out, "index file");
	g_free(out);
	g_free(err);
	p = db_path(d);
	/* the rest offline: a running daemon would rebuild the file it
	 * sees damaged (or dropped) at once, racing the checks below */
	g_assert_cmpint(rmh_stop(d->h), ==, 0);
	f = fopen(p, "r+b");
	g_assert_nonnull(f);
	fseek(f, 20, SEEK_SET);
	fwrite("garbage garbage garbage", 1, 23, f);
	fclose(f);
	g_assert_cmpint(rmh_run_argv(d->h, check, NULL, &out, &err), ==, 1);
	has(out, "index file fails");
	g_free(out);
	g_free(err);
	check[4] = "--repair";
	g_assert_cmpint(rmh_run_argv(d->h, check, NULL, &out, &err), ==, 0);
	has(out, "(repaired)");
	g_assert_false(g_file_test(p, G_FILE_TEST_EXISTS));
	g_free(out);
	g_free(err);
	g_free(p);
	rmh_free(d->h);
	g_free(d);
}

/* rows of the index file: a count from `sql` with one integer bound */
static long db_count(struct imd *d, const char *sql, long arg)
{
	char *p = db_path(d);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long v = -1;

	if (access(p, F_OK) == 0 &&
	    sqlite3_open_v2(p, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_bind_parameter_count(st) > 0)
			sqlite3_bind_int64(st, 1, arg);
		if (sqlite3_step(st) == SQLITE_ROW)
			v = (long)sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	g_free(p);
	return v;
}

/* full-text rows holding the (folded) trigram "XYL" */
#define FTS_XYL "SELECT count(*) FROM fts WHERE fts MATCH '{body} : \"XYL\"'"

/*
 * A message delivered by SMTP is indexed without any search asking
 * (the core's store hook, not the IMAP module, requests the update),
 * then found by SEARCH BODY through the index; an expunged message's
 * rows, full-text row included, are dropped by the next update.
 */
static void test_delivery_expunge(void)
{
	struct imd *d = imd_config("\"allow_cleartext_login_loopback\": true");
	guint smtp = rmh_port(d->h, "smtp");
	struct rmh_conn *s;
	struct imc *c;
	char *r, *l;
	long id;
	int i;

	rmh_setf(d->h, "smtp",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"submission_listen\": [], "
		 "\"smtps_listen\": []}",
		 smtp);
	rmh_set(d->h, "modules",
		"[\"mod_shardstore\", \"mod_imap\", \"mod_smtp\"]");
	rmh_set(d->h, "index", "{\"enabled\": true}");
	imd_launch(d);
	imd_user(d, USER, "pw-secret", 0);
	s = rmh_connect(smtp, false);
	g_assert_nonnull(s);
	{
		static const char *const cmds[] = {
			"EHLO client.test", "MAIL FROM:<far@remote.test>",
			"RCPT TO:<" USER ">", "DATA"};

		l = rmh_readline(s, 5.0);
		g_assert_nonnull(l);
		g_free(l);
		for (i = 0; i < 4; i++) {
			g_assert_true(rmh_send(s, "%s", cmds[i]));
			do {
				l = rmh_readline(s, 5.0);
				g_assert_nonnull(l);
				if (l[3] == '-') {
					g_free(l);
					continue;
				}
				break;
			} while (1);
			g_test_message("%s: %s", cmds[i], l);
			g_assert_true(l[0] == (i == 3 ? '3' : '2'));
			g_free(l);
		}
	}
	g_assert_true(rmh_send(s, "From: far@remote.test\r\n"
				  "Subject: delivered\r\n\r\n"
				  "a xylophonequartz arrives by smtp\r\n."));
	l = rmh_readline(s, 5.0);
	g_assert_nonnull(l);
	g_assert_true(l[0] == '2');
	g_free(l);
	rmh_conn_close(s);
	/* no IMAP search yet: only the delivery can have asked */
	for (i = 0; i < 200 && hwm(d) < 1; i++)
		g_usleep(50 * 1000);
	g_assert_cmpuint(hwm(d), ==, 1);
	g_assert_cmpint(db_count(d, FTS_XYL, 0), ==, 1);
	c = imc_login(d, USER, "pw-secret");
	append(c, "INBOX",
	       "From: x@example.test\r\nSubject: other\r\n\r\nplain\r\n");
	g_free(imc_ok(c, "SELECT INBOX"));
	for (i = 0; i < 200 && hwm(d) < 2; i++)
		g_usleep(50 * 1000);
	g_assert_cmpuint(hwm(d), ==, 2);
	r = imc_ok(c, "UID SEARCH BODY xylophonequartz");
	has(r, "* SEARCH 1\n");
	g_free(r);

	/* expunge it: its header, folded and full-text rows go */
	id = db_count(d, "SELECT id FROM msg WHERE uid=?", 1);
	g_assert_cmpint(id, >, 0);
	g_free(imc_ok(c, "UID STORE 1 +FLAGS (\\Deleted)"));
	g_free(imc_ok(c, "EXPUNGE"));
	for (i = 0; i < 200 && db_count(d, FTS_XYL, 0) != 0; i++)
		g_usleep(50 * 1000);
	g_assert_cmpint(db_count(d, FTS_XYL, 0), ==, 0);
	g_assert_cmpint(db_count(d, "SELECT count(*) FROM msg WHERE uid=?", 1),
			==, 0);
	g_assert_cmpint(db_count(d, "SELECT count(*) FROM hdr WHERE uid=?", 1),
			==, 0);
	g_assert_cmpint(
		db_count(d, "SELECT count(*) FROM ftsdoc WHERE id=?", id), ==,
		0);
	/* the other message stays */
	g_assert_cmpint(db_count(d, "SELECT count(*) FROM msg WHERE uid=?", 2),
			==, 1);
	r = imc_ok(c, "UID SEARCH BODY xylophonequartz");
	has(r, "* SEARCH\n");
	g_free(r);
	r = imc_ok(c, "UID SEARCH BODY plain");
	has(r, "* SEARCH 2\n");
	g_free(r);
	imc_close(c);
	imd_stop(d);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/index/differential", test_differential);
	g_test_add_func("/imap/index/corrupt", test_corrupt);
	g_test_add_func("/imap/index/corrupt-in-use", test_corrupt_in_use);
	g_test_add_func("/imap/index/cli-rebuild", test_cli_rebuild);
	g_test_add_func("/imap/index/check-store", test_check_store);
	g_test_add_func("/imap/index/delivery-expunge", test_delivery_expunge);
	return g_test_run();
}
