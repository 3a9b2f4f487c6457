/*
 * Store view lifetime end to end (issue 12, defect 0): a view released
 * after its mailbox was deleted or renamed, or after more than the warm
 * cache of other views was opened, is freed by the release itself; the
 * daemon must survive it (and ASan must not see it) in every sequence a
 * logged-in user can drive, and at shutdown.  Every command has a short
 * deadline so a daemon stuck on its own lock fails the test instead of
 * hanging it.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../exchange/exhc.h"
#include "imap_client.h"

#define PW "pw-secret"
#define T_CMD 5.0 /* seconds a command may take */

struct vd {
	struct imd d; /* h and the IMAP ports */
	guint smtp, http;
};

static struct vd *vd_start(void)
{
	struct vd *v = g_new0(struct vd, 1);
	struct rmh *h = rmh_new();

	v->d.h = h;
	v->d.port = rmh_port(h, "imap");
	v->d.tls_port = rmh_port(h, "imaps");
	v->smtp = rmh_port(h, "smtp");
	v->http = rmh_port(h, "http");
	rmh_set(h, "modules",
		"[\"mod_shardstore\", \"mod_imap\", \"mod_smtp\", "
		"\"mod_exchange\"]");
	rmh_setf(h, "imap",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"imaps_listen\": [\"127.0.0.1:%u\"], "
		 "\"allow_cleartext_login_loopback\": true}",
		 v->d.port, v->d.tls_port);
	rmh_setf(h, "smtp",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"submission_listen\": [], "
		 "\"smtps_listen\": []}",
		 v->smtp);
	rmh_setf(h, "exchange_api",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"tls_listen\": []}",
		 v->http);
	/* IMAP sessions left open at SIGTERM are closed after this */
	rmh_set(h, "shutdown_timeout", "1");
	rmh_write_config(h);
	imd_user(&v->d, "alice@example.test", PW, 0);
	imd_user(&v->d, "bob@example.test", PW, 0);
	g_assert_true(rmh_start(h));
	return v;
}

/* the daemon exited (a zombie until reaped) within `timeout` */
static bool exited_within(int pid, double timeout)
{
	gint64 end = g_get_monotonic_time() + (gint64)(timeout * 1e6);
	char *path = g_strdup_printf("/proc/%d/stat", pid);
	bool done = false;

	while (!done && g_get_monotonic_time() < end) {
		char *s = NULL, *p;

		if (!g_file_get_contents(path, &s, NULL, NULL))
			break;
		p = strrchr(s, ')');
		done = p != NULL && p[1] == ' ' && p[2] == 'Z';
		g_free(s);
		if (!done)
			g_usleep(20000);
	}
	g_free(path);
	return done;
}

/* SIGTERM: a clean exit within a few seconds (shutdown_timeout is 1) */
static void vd_stop(struct vd *v)
{
	bool done;
	int rc = -2;

	rmh_signal(v->d.h, SIGTERM);
	done = exited_within(rmh_pid(v->d.h), 8);
	if (done)
		rc = rmh_stop(v->d.h);
	if (rc != 0) {
		char *e = rmh_stderr(v->d.h);

		g_test_message("daemon %s; stderr:\n%s",
			       done ? "failed" : "did not stop", e);
		g_free(e);
	}
	rmh_free(v->d.h);
	g_free(v);
	g_assert_true(done);
	g_assert_cmpint(rc, ==, 0);
}

/* "tN cmd" answered (tagged, any status) within T_CMD; the response */
static char *cmd_within(struct imc *c, const char *fmt, ...)
	G_GNUC_PRINTF(2, 3);
static char *cmd_within(struct imc *c, const char *fmt, ...)
{
	char tag[16], *cmd, *r;
	va_list ap;

	va_start(ap, fmt);
	cmd = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	snprintf(tag, sizeof(tag), "t%u ", ++c->seq);
	g_assert_true(rmh_send(c->c, "%s%s", tag, cmd));
	r = imc_until(c, tag, T_CMD);
	if (r == NULL)
		g_test_message("no answer to \"%s\" within %.0f s", cmd, T_CMD);
	g_assert_nonnull(r);
	g_free(cmd);
	return r;
}

static void ok_within(struct imc *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void ok_within(struct imc *c, const char *fmt, ...)
{
	char tag[24], *cmd, *r;
	va_list ap;

	va_start(ap, fmt);
	cmd = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	r = cmd_within(c, "%s", cmd);
	snprintf(tag, sizeof(tag), "t%u OK", c->seq);
	if (strstr(r, tag) == NULL)
		g_test_message("%s: %s", cmd, r);
	g_assert_nonnull(strstr(r, tag));
	g_free(r);
	g_free(cmd);
}

static struct imc *login(struct vd *v, const char *user)
{
	struct imc *c = imc_connect(&v->d, false, NULL);

	ok_within(c, "LOGIN %s@example.test %s", user, PW);
	return c;
}

/* every protocol still answers: SMTP greets, /healthz, IMAP selects */
static void assert_alive(struct vd *v)
{
	struct rmh_conn *s = rmh_connect(v->smtp, false);
	struct exresp r;
	struct imc *c;
	char *l;

	g_assert_nonnull(s);
	l = rmh_readline(s, T_CMD);
	g_assert_nonnull(l);
	g_assert_true(g_str_has_prefix(l, "220"));
	g_free(l);
	rmh_conn_close(s);
	r = ex_req(v->http, false, NULL, "GET", "/healthz", NULL, NULL, NULL);
	g_assert_cmpint(r.status, ==, 200);
	exresp_free(&r);
	c = login(v, "alice");
	ok_within(c, "SELECT INBOX");
	ok_within(c, "LOGOUT");
	imc_close(c);
}

/* SELECT OldN, DELETE OldN, SELECT INBOX in one session */
static void test_self_delete(void)
{
	struct vd *v = vd_start();
	struct imc *c = login(v, "alice");
	int i;

	for (i = 0; i < 5; i++) {
		ok_within(c, "CREATE Old%d", i);
		ok_within(c, "APPEND Old%d {6+}\r\nhello!", i);
		ok_within(c, "SELECT Old%d", i);
		ok_within(c, "DELETE Old%d", i);
		ok_within(c, "SELECT INBOX");
	}
	ok_within(c, "LOGOUT");
	imc_close(c);
	assert_alive(v);
	vd_stop(v);
}

/* A has the folder selected, B deletes or renames it, A leaves it */
static void test_other_session(void)
{
	static const char *const ends[] = {"CLOSE", "UNSELECT", "LOGOUT"};
	struct vd *v = vd_start();
	struct imc *b = login(v, "alice");
	int n = 0;

	for (size_t e = 0; e < G_N_ELEMENTS(ends); e++) {
		for (int rename = 0; rename < 2; rename++, n++) {
			struct imc *a = login(v, "alice");

			ok_within(b, "CREATE Box%d", n);
			ok_within(b, "APPEND Box%d {6+}\r\nhello!", n);
			ok_within(a, "SELECT Box%d", n);
			if (rename)
				ok_within(b, "RENAME Box%d Moved%d", n, n);
			else
				ok_within(b, "DELETE Box%d", n);
			/* A hears of it (or not) and must still be served */
			g_free(cmd_within(a, "NOOP"));
			ok_within(a, "%s", ends[e]);
			if (strcmp(ends[e], "LOGOUT") != 0) {
				ok_within(a, "SELECT INBOX");
				ok_within(a, "LOGOUT");
			}
			imc_close(a);
			/* a renamed folder still opens under its new name */
			if (rename) {
				ok_within(b, "SELECT Moved%d", n);
				ok_within(b, "UNSELECT");
			}
		}
	}
	ok_within(b, "LOGOUT");
	imc_close(b);
	assert_alive(v);
	vd_stop(v);
}

static unsigned long uidvalidity_of(const char *r)
{
	const char *p = strstr(r, "[UIDVALIDITY ");

	g_assert_nonnull(p);
	return strtoul(p + 13, NULL, 10);
}

/*
 * SELECT of the mailbox a session has selected reuses what the session
 * has (issue 22): it must still report what changed meanwhile, and a
 * mailbox deleted and created again under the name is another one.
 */
static void test_reselect(void)
{
	struct vd *v = vd_start();
	struct imc *a = login(v, "alice"), *b = login(v, "alice");
	unsigned long uv;
	char *r;
	int i;

	ok_within(b, "CREATE Box");
	for (i = 0; i < 3; i++)
		ok_within(b, "APPEND Box {6+}\r\nhello!");
	r = cmd_within(a, "SELECT Box");
	has(r, "* 3 EXISTS");
	uv = uidvalidity_of(r);
	g_free(r);
	ok_within(b, "SELECT Box");
	ok_within(b, "STORE 2 +FLAGS (\\Flagged)");
	ok_within(b, "STORE 1 +FLAGS (\\Deleted)");
	ok_within(b, "EXPUNGE");
	ok_within(b, "APPEND Box {6+}\r\nhello!");
	ok_within(b, "APPEND Box {6+}\r\nhello!");
	ok_within(b, "UNSELECT");
	r = cmd_within(a, "SELECT Box");
	has(r, "* 4 EXISTS");
	hasnt(r, "EXPUNGE");
	g_assert_cmpuint(uidvalidity_of(r), ==, uv);
	g_free(r);
	r = cmd_within(a, "FETCH 1 (UID FLAGS)");
	has(r, "UID 2 FLAGS (\\Flagged)");
	g_free(r);
	r = cmd_within(a, "EXAMINE Box");
	has(r, "[READ-ONLY]");
	has(r, "* 4 EXISTS");
	g_free(r);
	/* gone and made again while selected: a new mailbox */
	ok_within(b, "DELETE Box");
	g_usleep(1100 * 1000); /* UIDVALIDITY is the creation second */
	ok_within(b, "CREATE Box");
	ok_within(b, "APPEND Box {6+}\r\nhello!");
	r = cmd_within(a, "SELECT Box");
	has(r, "* 1 EXISTS");
	g_assert_cmpuint(uidvalidity_of(r), !=, uv);
	g_free(r);
	r = cmd_within(a, "SELECT Box");
	has(r, "* 1 EXISTS");
	g_free(r);
	ok_within(a, "LOGOUT");
	ok_within(b, "LOGOUT");
	imc_close(a);
	imc_close(b);
	assert_alive(v);
	vd_stop(v);
}

/* more mailboxes than the warm cache opened by another user, then a
 * long-lived session logs out */
static void test_many_views(void)
{
	struct vd *v = vd_start();
	struct imc *a = login(v, "alice"), *b = login(v, "bob");
	int i;

	ok_within(a, "SELECT INBOX");
	for (i = 0; i < 40; i++) {
		ok_within(b, "CREATE F%d", i);
		ok_within(b, "SELECT F%d", i);
		ok_within(b, "STATUS F%d (MESSAGES)", i == 0 ? 0 : i - 1);
	}
	ok_within(a, "LOGOUT");
	imc_close(a);
	ok_within(b, "LOGOUT");
	imc_close(b);
	assert_alive(v);
	vd_stop(v);
}

/* SIGTERM with IMAP views selected and the API's folder cache holding
 * a watch (and a view) per folder.  The views are first opened in the
 * reverse of the listing order, so the cache drops them at shutdown
 * newest first and one of them is trimmed by its own release. */
static void test_shutdown_with_views(void)
{
	struct vd *v = vd_start();
	struct imc *a = login(v, "alice"), *b = login(v, "bob");
	struct exresp r;
	char *tok;
	int st, i;

	for (i = 0; i < 40; i++)
		ok_within(a, "CREATE G%02d", i);
	for (i = 39; i >= 0; i--)
		ok_within(a, "EXAMINE G%02d", i);
	ok_within(b, "SELECT INBOX");
	tok = ex_login(v->http, false, NULL, "alice@example.test", PW, NULL,
		       &st);
	g_assert_cmpint(st, ==, 200);
	g_assert_nonnull(tok);
	r = ex_req(v->http, false, NULL, "GET", "/api/folders", tok, NULL,
		   NULL);
	g_assert_cmpint(r.status, ==, 200);
	has(r.body, "G39");
	exresp_free(&r);
	g_free(tok);
	/* the sessions stay open: the daemon closes them at its deadline */
	vd_stop(v);
	imc_close(a);
	imc_close(b);
}

/* ---- FETCH output queue under changes ----------------------------- */

#define ST_MSGS 40
#define ST_LINES 800 /* of 80 bytes: 64 KB a message */
#define ST_READERS 4
#define ST_ROUNDS 3

static char *stress_msg(int i)
{
	GString *g = g_string_new(NULL);

	g_string_append_printf(
		g, "Subject: m%03d\r\nFrom: a@example.test\r\n\r\n", i);
	for (int k = 0; k < ST_LINES; k++)
		g_string_append_printf(g, "m%03d l%04d %066d\r\n", i, k, k);
	return g_string_free(g, FALSE);
}

struct reader {
	struct vd *v;
	char **msgs; /* seq 1..ST_MSGS at [seq - 1] */
	gint *running;
	guint64 bytes;
	char *why; /* NULL: every byte arrived */
};

static gpointer reader_run(gpointer arg)
{
	struct reader *r = arg;
	struct rmh_conn *c = rmh_connect(r->v->d.tls_port, true);
	bool seen[ST_MSGS + 1] = {false};
	guint64 since_pause = 0;
	int done = 0;
	char *l;

	if (c == NULL) {
		r->why = g_strdup("connect");
		goto out;
	}
	g_free(rmh_readline(c, T_CMD));
	rmh_send(c, "a LOGIN alice@example.test " PW);
	rmh_send(c, "b SELECT INBOX");
	rmh_send(c, "f FETCH 1:%d BODY.PEEK[]", ST_MSGS);
	/* a slow reader: the daemon fills its queue and waits for drains */
	g_usleep(100000);
	while ((l = rmh_readline(c, 10)) != NULL) {
		unsigned seq;
		guint64 n;
		GString *lit;
		const char *b;

		if (g_str_has_prefix(l, "f ")) {
			if (!g_str_has_prefix(l, "f OK"))
				r->why = g_strdup_printf("tagged: %s", l);
			g_free(l);
			break;
		}
		b = strrchr(l, '{');
		if (sscanf(l, "* %u FETCH", &seq) != 1 || b == NULL ||
		    !g_str_has_suffix(l, "}")) {
			g_free(l);
			continue;
		}
		n = g_ascii_strtoull(b + 1, NULL, 10);
		g_free(l);
		lit = g_string_new(NULL);
		while (lit->len < n && (l = rmh_readline(c, 10)) != NULL) {
			g_string_append(lit, l);
			g_string_append(lit, "\r\n");
			g_free(l);
			since_pause += 80;
			if (since_pause >= 32 * 1024) {
				/* now and then long enough for changes */
				since_pause = 0;
				g_usleep(r->bytes % 7 == 0 ? 50000 : 1000);
			}
		}
		r->bytes += lit->len;
		if (seq < 1 || seq > ST_MSGS || seen[seq] || lit->len != n ||
		    strcmp(lit->str, r->msgs[seq - 1]) != 0) {
			r->why = g_strdup_printf(
				"message %u: %zu of %" G_GUINT64_FORMAT
				" bytes%s",
				seq, lit->len, n,
				seq >= 1 && seq <= ST_MSGS && seen[seq]
					? " (twice)"
					: "");
			g_string_free(lit, TRUE);
			break;
		}
		seen[seq] = true;
		done++;
		g_string_free(lit, TRUE);
	}
	if (r->why == NULL && done != ST_MSGS)
		r->why = g_strdup_printf(
			"stalled: %d of %d messages, %" G_GUINT64_FORMAT
			" bytes",
			done, ST_MSGS, r->bytes);
	rmh_conn_close(c);
out:
	g_atomic_int_dec_and_test(r->running);
	return NULL;
}

/* parallel large IMAPS FETCHes with slow readers while another session
 * appends, flags and expunges in the same INBOX: every byte arrives */
static void test_fetch_stress(void)
{
	struct vd *v = vd_start();
	struct imc *w = login(v, "alice"), *idle[2];
	char *msgs[ST_MSGS];
	int i, round;

	for (i = 0; i < ST_MSGS; i++) {
		msgs[i] = stress_msg(i + 1);
		ok_within(w, "APPEND INBOX {%zu+}\r\n%s", strlen(msgs[i]),
			  msgs[i]);
	}
	ok_within(w, "SELECT INBOX");
	/* IDLE sessions on the same INBOX are told of every change */
	for (i = 0; i < 2; i++) {
		idle[i] = login(v, "alice");
		ok_within(idle[i], "SELECT INBOX");
		g_assert_true(rmh_send(idle[i]->c, "i IDLE"));
		g_assert_true(rmh_expect(idle[i]->c, "+ ", NULL));
	}
	for (round = 0; round < ST_ROUNDS; round++) {
		struct reader rd[ST_READERS];
		GThread *th[ST_READERS];
		gint running = ST_READERS;
		int k = 0;

		for (i = 0; i < ST_READERS; i++) {
			rd[i] = (struct reader){v, msgs, &running, 0, NULL};
			th[i] = g_thread_new("reader", reader_run, &rd[i]);
		}
		while (g_atomic_int_get(&running) > 0) {
			char *m = g_strdup_printf("Subject: c%d\r\n\r\nx", k);

			ok_within(w, "APPEND INBOX {%zu+}\r\n%s", strlen(m), m);
			g_free(m);
			ok_within(w, "STORE %d %sFLAGS (\\Flagged)",
				  1 + k % ST_MSGS, k % 2 ? "-" : "+");
			if (k % 4 == 3) {
				ok_within(w, "STORE %d:* +FLAGS (\\Deleted)",
					  ST_MSGS + 1);
				ok_within(w, "EXPUNGE");
			}
			k++;
			g_usleep(5000);
		}
		for (i = 0; i < ST_READERS; i++) {
			g_thread_join(th[i]);
			if (rd[i].why != NULL)
				g_test_message("round %d reader %d: %s", round,
					       i, rd[i].why);
			g_assert_null(rd[i].why);
		}
	}
	for (i = 0; i < ST_MSGS; i++)
		g_free(msgs[i]);
	for (i = 0; i < 2; i++) {
		g_assert_true(rmh_send(idle[i]->c, "DONE"));
		g_free(imc_until(idle[i], "i OK", T_CMD));
		imc_close(idle[i]);
	}
	ok_within(w, "LOGOUT");
	imc_close(w);
	vd_stop(v);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	signal(SIGPIPE, SIG_IGN);
	g_test_add_func("/imap/views/self-delete", test_self_delete);
	g_test_add_func("/imap/views/other-session", test_other_session);
	g_test_add_func("/imap/views/many-views", test_many_views);
	g_test_add_func("/imap/views/reselect", test_reselect);
	g_test_add_func("/imap/views/shutdown", test_shutdown_with_views);
	g_test_add_func("/imap/fetch/resume-stress", test_fetch_stress);
	return g_test_run();
}
