/*
 * SELECT without copying every message (issue 22, ABI 1.7 mbox_freeze):
 * a session's map refers to a frozen copy of the store's view until the
 * view first changes.  Whatever changes the shared view meanwhile (the
 * API in the same process, a session of the same process, another
 * daemon on the mail root), a selected session keeps the numbering it
 * announced until it may be told otherwise: no message vanishes from it
 * without an EXPUNGE, none appears without EXISTS, and re-SELECT sees
 * the mailbox as it is.  After a restart the view comes from its
 * snapshot (blocks read on first use), the path a cold SELECT takes.
 */
#include <stdio.h>
#include <string.h>

#include "../exchange/exhc.h"
#include "imap_client.h"

#define PW "pw-secret"
#define USER "kim@example.test"
#define NMSG 1100 /* over the store's snapshot threshold (1000) */
#define BATCH 50  /* literals of an APPEND: under imap.max_literals */

struct cs {
	struct imd a; /* h and the IMAP ports */
	guint http;
	struct imd *b; /* a second daemon on the same mail root */
};

static void cs_config(struct rmh *h, guint imap, guint imaps, guint http)
{
	rmh_set(h, "modules",
		http ? "[\"mod_shardstore\", \"mod_imap\", \"mod_exchange\"]"
		     : "[\"mod_shardstore\", \"mod_imap\"]");
	rmh_setf(h, "imap",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"imaps_listen\": [\"127.0.0.1:%u\"], "
		 "\"allow_cleartext_login_loopback\": true}",
		 imap, imaps);
	if (http)
		rmh_setf(h, "exchange_api",
			 "{\"listen\": [\"127.0.0.1:%u\"], \"tls_listen\": []}",
			 http);
	/* a MULTIAPPEND of BATCH messages holds BATCH uploads */
	rmh_set(h, "shardstore", "{\"max_uploads_per_user\": 64}");
	rmh_set(h, "shutdown_timeout", "2");
	rmh_write_config(h);
}

static struct imd *twin(struct cs *v)
{
	struct imd *d = g_new0(struct imd, 1);

	d->h = rmh_new();
	d->port = rmh_port(d->h, "imap");
	d->tls_port = rmh_port(d->h, "imaps");
	rmh_setf(d->h, "mail_root", "\"%s/mail\"", rmh_dir(v->a.h));
	cs_config(d->h, d->port, d->tls_port, 0);
	g_assert_true(rmh_start(d->h));
	return d;
}

static struct cs *cs_start(void)
{
	struct cs *v = g_new0(struct cs, 1);

	v->a.h = rmh_new();
	v->a.port = rmh_port(v->a.h, "imap");
	v->a.tls_port = rmh_port(v->a.h, "imaps");
	v->http = rmh_port(v->a.h, "http");
	cs_config(v->a.h, v->a.port, v->a.tls_port, v->http);
	imd_user(&v->a, USER, PW, 0);
	g_assert_true(rmh_start(v->a.h));
	return v;
}

static void cs_stop(struct cs *v)
{
	imd_stop(v->b);
	g_assert_cmpint(rmh_stop(v->a.h), ==, 0);
	rmh_free(v->a.h);
	g_free(v);
}

/* `n` messages, the first `seen` of them \Seen, BATCH an APPEND */
static void fill(struct imc *c, int n, int seen)
{
	int i = 0;

	while (i < n) {
		GString *cmd = g_string_new("APPEND INBOX");
		char *r;
		int k;

		for (k = 0; k < BATCH && i < n; k++, i++) {
			char *body = g_strdup_printf(
				"Subject: m%d\r\n\r\nbody %d\r\n", i + 1,
				i + 1);

			g_string_append_printf(cmd, " %s{%zu+}\r\n%s",
					       i < seen ? "(\\Seen) " : "",
					       strlen(body), body);
			g_free(body);
		}
		r = imc_ok(c, "%s", cmd->str);
		g_free(r);
		g_string_free(cmd, TRUE);
	}
}

/* a file named "view" somewhere under dir (the mailbox's snapshot) */
static bool has_view_file(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *e;
	bool found = false;

	if (d == NULL)
		return false;
	while (!found && (e = g_dir_read_name(d)) != NULL) {
		char *p = g_build_filename(dir, e, NULL);

		if (strcmp(e, "view") == 0 &&
		    g_file_test(p, G_FILE_TEST_IS_REGULAR))
			found = true;
		else if (g_file_test(p, G_FILE_TEST_IS_DIR) &&
			 !g_file_test(p, G_FILE_TEST_IS_SYMLINK))
			found = has_view_file(p);
		g_free(p);
	}
	g_dir_close(d);
	return found;
}

/* the UIDs of "UID SEARCH ALL" */
static char *search_all(struct imc *c)
{
	char *r = imc_ok(c, "UID SEARCH ALL"), *l = strstr(r, "* SEARCH"), *e;
	char *out;

	g_assert_nonnull(l);
	e = strpbrk(l, "\r\n");
	out = g_strndup(l, e != NULL ? (size_t)(e - l) : strlen(l));
	g_free(r);
	return out;
}

/* the API lists INBOX: the shared view of the first daemon refreshed by
 * another module than IMAP */
static void api_list(struct cs *v)
{
	struct exresp r;
	char *tok;
	int st;

	tok = ex_login(v->http, false, NULL, USER, PW, NULL, &st);
	g_assert_cmpint(st, ==, 200);
	r = ex_req(v->http, false, NULL, "GET",
		   "/api/folders/INBOX/messages?page=1&per_page=5", tok, NULL,
		   NULL);
	g_assert_cmpint(r.status, ==, 200);
	exresp_free(&r);
	g_free(tok);
}

static void test_cold_select(void)
{
	struct cs *v = cs_start();
	struct imc *a, *x, *o;
	char *r, *ua, *uo;

	a = imc_login(&v->a, USER, PW);
	fill(a, NMSG, 2);
	/* the view read, as a daemon that has served the mailbox */
	g_free(imc_ok(a, "SELECT INBOX"));
	imc_close(a);
	/* a clean stop writes the view snapshot; the restart reads it */
	g_assert_cmpint(rmh_stop(v->a.h), ==, 0);
	g_assert_true(has_view_file(rmh_dir(v->a.h)));
	g_assert_true(rmh_start(v->a.h));
	v->b = twin(v);

	a = imc_login(&v->a, USER, PW);
	r = imc_ok(a, "SELECT INBOX");
	has(r, "* 1100 EXISTS");
	has(r, "[UNSEEN 3]");
	g_free(r);
	/* unchanged: a NOOP says nothing, FETCH numbers as announced */
	r = imc_ok(a, "NOOP");
	hasnt(r, "EXISTS");
	hasnt(r, "EXPUNGE");
	g_free(r);
	r = imc_ok(a, "FETCH 1000 (UID)");
	has(r, "* 1000 FETCH (UID 1000)");
	g_free(r);

	/* the other daemon: an expunge (a MOVE: no flag change, which
	 * would make the tracker copy the records anyway) and an append */
	o = imc_login(v->b, USER, PW);
	g_free(imc_ok(o, "SELECT INBOX"));
	g_free(imc_ok(o, "UID MOVE 5 Trash"));
	g_free(imc_ok(o, "APPEND INBOX {20+}\r\nSubject: late\r\n\r\nx\r\n"));
	/* the first daemon's view refreshed by the API, then by another
	 * session selecting the mailbox */
	api_list(v);
	x = imc_login(&v->a, USER, PW);
	r = imc_ok(x, "SELECT INBOX");
	has(r, "* 1100 EXISTS");
	g_free(r);

	/* a still numbers as it announced: 5 is there (its last state),
	 * nothing expunged during FETCH */
	r = imc_ok(a, "FETCH 4:6 (UID)");
	has(r, "* 4 FETCH (UID 4)");
	has(r, "* 5 FETCH (UID 5)");
	has(r, "* 6 FETCH (UID 6)");
	/* the new message may be told now */
	has(r, "* 1101 EXISTS");
	hasnt(r, " EXPUNGE\n");
	g_free(r);
	r = imc_ok(a, "NOOP");
	has(r, "* 5 EXPUNGE");
	g_free(r);
	g_free(imc_ok(o, "UID STORE 7 +FLAGS.SILENT (\\Flagged)"));
	r = imc_ok(a, "NOOP");
	has(r, "* 6 FETCH (UID 7 FLAGS (\\Flagged))");
	g_free(r);
	r = imc_ok(a, "FETCH 1100 (UID)");
	has(r, "* 1100 FETCH (UID 1101)");
	g_free(r);
	r = imc_ok(a, "FETCH 6 (UID FLAGS)");
	has(r, "* 6 FETCH (UID 7 FLAGS (\\Flagged))");
	g_free(r);
	ua = search_all(a);
	uo = search_all(o);
	g_assert_cmpstr(ua, ==, uo);
	g_free(ua);
	g_free(uo);

	/* re-SELECT and EXAMINE: the mailbox as it is */
	g_free(imc_ok(o, "UID STORE 1 -FLAGS.SILENT (\\Seen)"));
	r = imc_ok(a, "SELECT INBOX");
	has(r, "* 1100 EXISTS");
	has(r, "[UNSEEN 1]");
	g_free(r);
	r = imc_ok(x, "EXAMINE INBOX");
	has(r, "* 1100 EXISTS");
	has(r, "[UNSEEN 1]");
	g_free(r);
	/* an own STORE right after SELECT (the copy is taken then) */
	r = imc_ok(a, "STORE 1 +FLAGS (\\Seen)");
	has(r, "* 1 FETCH (FLAGS (\\Seen))");
	g_free(r);
	r = imc_ok(x, "NOOP");
	has(r, "* 1 FETCH (UID 1 FLAGS (\\Seen))");
	g_free(r);
	r = imc_ok(a, "UID FETCH 1101 (FLAGS)");
	has(r, "* 1100 FETCH (UID 1101 FLAGS ())");
	g_free(r);

	imc_close(a);
	imc_close(x);
	imc_close(o);
	cs_stop(v);
}

/*
 * A small mailbox (no snapshot): a session selects, another one of the
 * same process expunges before the first sends anything else; the
 * first still has the message until it may hear of the expunge.
 */
static void test_expunge_before_use(void)
{
	struct cs *v = cs_start();
	struct imc *a, *b;
	char *r;

	v->b = NULL;
	a = imc_login(&v->a, USER, PW);
	b = imc_login(&v->a, USER, PW);
	fill(b, 5, 0);
	r = imc_ok(a, "SELECT INBOX");
	has(r, "* 5 EXISTS");
	g_free(r);
	g_free(imc_ok(b, "SELECT INBOX"));
	g_free(imc_ok(b, "MOVE 2 Trash"));
	g_free(imc_ok(b, "APPEND INBOX {20+}\r\nSubject: late\r\n\r\nx\r\n"));
	api_list(v);
	r = imc_ok(a, "FETCH 1:5 (UID)");
	has(r, "* 2 FETCH (UID 2)");
	has(r, "* 6 EXISTS");
	hasnt(r, " EXPUNGE\n");
	g_free(r);
	r = imc_ok(a, "STORE 2:3 +FLAGS (\\Flagged)");
	has(r, "* 3 FETCH (FLAGS (\\Flagged");
	hasnt(r, " EXPUNGE\n");
	g_free(r);
	r = imc_ok(a, "FETCH 2 (UID)");
	has(r, "* 2 FETCH (UID 2)");
	g_free(r);
	r = imc_ok(a, "NOOP");
	has(r, "* 2 EXPUNGE");
	g_free(r);
	r = imc_ok(a, "FETCH 5 (UID)");
	has(r, "* 5 FETCH (UID 6)");
	g_free(r);
	imc_close(a);
	imc_close(b);
	cs_stop(v);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/coldselect/cold-select", test_cold_select);
	g_test_add_func("/imap/coldselect/expunge-before-use",
			test_expunge_before_use);
	return g_test_run();
}
