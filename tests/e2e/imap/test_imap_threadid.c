/*
 * OBJECTID's THREADID (RFC 8474 5.2) against the real daemon: a reply
 * chain delivered over SMTP and APPENDed has one THREADID, unrelated
 * messages others; a message without Message-ID a thread of its own;
 * the ids survive COPY and MOVE (with the EMAILID), a second daemon on
 * the mail root and a restart; SEARCH THREADID finds what FETCH shows
 * and THREAD REFERENCES groups the same chain, from the header cache
 * when it holds the messages; hostile References and malformed ids
 * are answered, bounded.
 */
#include <sqlite3.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "imap_client.h"

#define USER "thr@example.test"

static struct imd *D;
static guint SMTP;

/* the objectid after `key (` in r's line for UID uid, or "" */
static char *id_of(const char *r, uint32_t uid, const char *key)
{
	char *u = g_strdup_printf("UID %u ", uid), *k, *out;
	const char *l = r, *p, *e, *eol;

	k = g_strdup_printf("%s (", key);
	out = g_strdup("");
	for (; l != NULL && *l != '\0'; l = eol != NULL ? eol + 1 : NULL) {
		eol = strchr(l, '\n');
		if (strncmp(l, "* ", 2) != 0)
			continue;
		p = strstr(l, u);
		if (p == NULL || (eol != NULL && p > eol))
			continue;
		p = strstr(l, k);
		if (p == NULL || (eol != NULL && p > eol))
			continue;
		p += strlen(k);
		e = strchr(p, ')');
		g_free(out);
		out = g_strndup(p, (gsize)(e - p));
		break;
	}
	g_free(u);
	g_free(k);
	return out;
}

/* the untagged lines of a reply */
static char *untagged(const char *r)
{
	GString *g = g_string_new(NULL);
	const char *l, *eol;

	for (l = r; l != NULL && *l != '\0'; l = eol != NULL ? eol + 1 : NULL) {
		eol = strchr(l, '\n');
		if (strncmp(l, "* ", 2) == 0)
			g_string_append_len(g, l,
					    eol != NULL ? eol - l + 1
							: (gssize)strlen(l));
	}
	return g_string_free(g, FALSE);
}

static char *tid(struct imc *c, uint32_t uid)
{
	char *r = imc_ok(c, "UID FETCH %u (THREADID)", uid);
	char *id = id_of(r, uid, "THREADID");
	size_t i;

	g_assert_cmpuint(strlen(id), >, 1);
	g_assert_cmpuint(strlen(id), <=, 255);
	for (i = 0; id[i] != '\0'; i++)
		g_assert_true(g_ascii_isalnum(id[i]) || id[i] == '_' ||
			      id[i] == '-');
	g_free(r);
	return id;
}

static char *eid(struct imc *c, uint32_t uid)
{
	char *r = imc_ok(c, "UID FETCH %u (EMAILID)", uid);
	char *id = id_of(r, uid, "EMAILID");

	g_assert_cmpuint(strlen(id), >, 1);
	g_free(r);
	return id;
}

static void deliver(const char *msg)
{
	static const char *const cmds[] = {"EHLO client.test",
					   "MAIL FROM:<far@remote.test>",
					   "RCPT TO:<" USER ">", "DATA"};
	struct rmh_conn *s = rmh_connect(SMTP, false);
	char *l;
	int i;

	g_assert_nonnull(s);
	l = rmh_readline(s, 5.0);
	g_assert_nonnull(l);
	g_free(l);
	for (i = 0; i < 4; i++) {
		g_assert_true(rmh_send(s, "%s", cmds[i]));
		for (;;) {
			l = rmh_readline(s, 5.0);
			g_assert_nonnull(l);
			if (l[3] != '-')
				break;
			g_free(l);
		}
		g_assert_true(l[0] == (i == 3 ? '3' : '2'));
		g_free(l);
	}
	g_assert_true(rmh_send(s, "%s\r\n.", msg));
	l = rmh_readline(s, 5.0);
	g_assert_nonnull(l);
	g_assert_true(l[0] == '2');
	g_free(l);
	rmh_conn_close(s);
}

static void append(struct imc *c, const char *box, const char *msg)
{
	g_free(imc_ok(c, "APPEND %s {%zu+}\r\n%s", box, strlen(msg), msg));
}

/* UIDs in INBOX, in this order */
enum { ROOT = 1, REPLY, REPLY2, IRT, OTHER, NOID, NOID2, HOSTILE, BAD };

static void fill(struct imc *c)
{
	GString *h = g_string_new("From: h@x.test\r\nSubject: hostile\r\n"
				  "Message-ID: <h@x.test>\r\nReferences:");
	int i;

	/* the chain as clients write it (RFC 5322 3.6.4), two by SMTP */
	deliver("From: a@x.test\r\nSubject: plan\r\n"
		"Message-ID: <root@x.test>\r\n\r\nroot\r\n");
	deliver("From: b@x.test\r\nSubject: Re: plan\r\n"
		"Message-ID: <r1@x.test>\r\nIn-Reply-To: <root@x.test>\r\n"
		"References: <root@x.test>\r\n\r\nreply\r\n");
	append(c, "INBOX",
	       "From: a@x.test\r\nSubject: Re: plan\r\n"
	       "Message-ID: <r2@x.test>\r\nIn-Reply-To: <r1@x.test>\r\n"
	       "References: <root@x.test>\r\n <r1@x.test>\r\n\r\nagain\r\n");
	/* no References: In-Reply-To names the root */
	append(c, "INBOX",
	       "From: c@x.test\r\nSubject: Re: plan\r\n"
	       "Message-ID: <r3@x.test>\r\nIn-Reply-To: <root@x.test>\r\n"
	       "\r\nshort\r\n");
	append(c, "INBOX",
	       "From: d@x.test\r\nSubject: plan\r\n"
	       "Message-ID: <other@x.test>\r\n\r\nunrelated\r\n");
	/* no Message-ID: each a thread of its own */
	append(c, "INBOX", "From: e@x.test\r\nSubject: bare\r\n\r\nx\r\n");
	append(c, "INBOX", "From: e@x.test\r\nSubject: bare\r\n\r\nx\r\n");
	/* 200 KB of References, junk first, the root first of the ids */
	g_string_append(h, " junk <> < >\r\n <root@x.test>");
	for (i = 0; h->len < 200 * 1024; i++)
		g_string_append_printf(h, "\r\n <r%d.%s@x.test>", i,
				       "padpadpadpadpadpadpadpadpad");
	g_string_append(h, "\r\n\r\nbody\r\n");
	append(c, "INBOX", h->str);
	g_string_free(h, TRUE);
	/* malformed ids everywhere: no id, like no Message-ID */
	append(c, "INBOX",
	       "From: f@x.test\r\nSubject: bad\r\nMessage-ID: not-an-id\r\n"
	       "References: <<<\r\nIn-Reply-To: <>\r\n\r\nx\r\n");
}

static void test_threadid(void)
{
	struct imc *c = imc_login(D, USER, "pw-secret");
	char *root, *x, *r, *e;
	uint32_t u;

	fill(c);
	g_free(imc_ok(c, "SELECT INBOX"));
	root = tid(c, ROOT);
	g_assert_cmpint(root[0], ==, 'T');
	for (u = REPLY; u <= IRT; u++) {
		x = tid(c, u);
		g_assert_cmpstr(x, ==, root);
		g_free(x);
	}
	x = tid(c, HOSTILE);
	g_assert_cmpstr(x, ==, root);
	g_free(x);
	x = tid(c, OTHER);
	g_assert_cmpstr(x, !=, root);
	g_free(x);
	/* no id: "T_" and the EMAILID; two such messages differ */
	for (u = NOID; u <= BAD; u++) {
		if (u == HOSTILE)
			continue;
		x = tid(c, u);
		e = eid(c, u);
		g_assert_true(g_str_has_prefix(x, "T_"));
		g_assert_cmpstr(x + 2, ==, e);
		g_free(e);
		g_free(x);
	}
	/* all at once gives the same as one by one */
	r = imc_ok(c, "UID FETCH 1:* (THREADID EMAILID)");
	x = id_of(r, IRT, "THREADID");
	g_assert_cmpstr(x, ==, root);
	g_free(x);
	g_free(r);

	/* SEARCH finds what FETCH shows, and THREAD groups it too */
	r = imc_ok(c, "UID SEARCH THREADID %s", root);
	has(r, "* SEARCH 1 2 3 4 8\n");
	g_free(r);
	x = tid(c, NOID2);
	r = imc_ok(c, "UID SEARCH THREADID %s", x);
	has(r, "* SEARCH 7\n");
	g_free(r);
	g_free(x);
	r = imc_ok(c, "UID SEARCH THREADID Tnope");
	has(r, "* SEARCH\n");
	g_free(r);
	r = imc_ok(c, "UID THREAD REFERENCES UTF-8 THREADID %s", root);
	has(r, "* THREAD (1 (2 3)(4)(8))");
	g_free(r);
	g_free(root);
	imc_close(c);
}

/* COPY and MOVE keep EMAILID and THREADID (RFC 8474 5.1, 5.2) */
static void test_copy_move(void)
{
	struct imc *c = imc_login(D, USER, "pw-secret");
	char *t2, *t3, *e2, *e3, *x;

	g_free(imc_ok(c, "CREATE Kept"));
	g_free(imc_ok(c, "SELECT INBOX"));
	t2 = tid(c, REPLY);
	e2 = eid(c, REPLY);
	t3 = tid(c, NOID);
	e3 = eid(c, NOID);
	g_free(imc_ok(c, "UID COPY %u Kept", REPLY));
	g_free(imc_ok(c, "UID MOVE %u Kept", NOID));
	g_free(imc_ok(c, "SELECT Kept"));
	x = tid(c, 1);
	g_assert_cmpstr(x, ==, t2);
	g_free(x);
	x = eid(c, 1);
	g_assert_cmpstr(x, ==, e2);
	g_free(x);
	x = tid(c, 2);
	g_assert_cmpstr(x, ==, t3);
	g_free(x);
	x = eid(c, 2);
	g_assert_cmpstr(x, ==, e3);
	g_free(x);
	/* and back: the moved one still finds its thread */
	g_free(imc_ok(c, "UID MOVE 2 INBOX"));
	g_free(imc_ok(c, "SELECT INBOX"));
	{
		char *r = imc_ok(c, "UID SEARCH THREADID %s", t3);

		has(r, "* SEARCH 10\n");
		g_free(r);
	}
	g_free(t2);
	g_free(t3);
	g_free(e2);
	g_free(e3);
	imc_close(c);
}

/* every process agrees, and a restart changes nothing */
static void test_processes(void)
{
	struct imc *c = imc_login(D, USER, "pw-secret");
	struct imd *t = g_new0(struct imd, 1);
	char *ids, *r, *x;
	struct imc *o;

	g_free(imc_ok(c, "SELECT INBOX"));
	r = imc_ok(c, "UID FETCH 1:* (THREADID)");
	ids = untagged(r);
	g_free(r);
	has(ids, "THREADID (T");
	imc_close(c);

	t->h = rmh_new();
	t->port = rmh_port(t->h, "imap");
	t->tls_port = rmh_port(t->h, "imaps");
	rmh_setf(t->h, "mail_root", "\"%s/mail\"", rmh_dir(D->h));
	rmh_set(t->h, "modules", "[\"mod_shardstore\", \"mod_imap\"]");
	rmh_setf(t->h, "imap",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"imaps_listen\": [\"127.0.0.1:%u\"], "
		 "\"allow_cleartext_login_loopback\": true}",
		 t->port, t->tls_port);
	rmh_write_config(t->h);
	g_assert_true(rmh_start(t->h));
	o = imc_login(t, USER, "pw-secret");
	g_free(imc_ok(o, "SELECT INBOX"));
	r = imc_ok(o, "UID FETCH 1:* (THREADID)");
	x = untagged(r);
	g_assert_cmpstr(x, ==, ids);
	g_free(x);
	g_free(r);
	imc_close(o);
	imd_stop(t);

	g_assert_cmpint(rmh_stop(D->h), ==, 0);
	g_assert_true(rmh_start(D->h));
	c = imc_login(D, USER, "pw-secret");
	g_free(imc_ok(c, "SELECT INBOX"));
	r = imc_ok(c, "UID FETCH 1:* (THREADID)");
	x = untagged(r);
	g_assert_cmpstr(x, ==, ids);
	g_free(x);
	g_free(r);
	g_free(ids);
	imc_close(c);
}

/* the index of user u: INBOX's high-water UID, or a change */
static unsigned idx_hwm(struct imd *d, const char *u)
{
	char *p = g_strdup_printf("%s/index/%s.sqlite", rmh_dir(d->h), u);
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

static void idx_exec(struct imd *d, const char *u, const char *sql)
{
	char *p = g_strdup_printf("%s/index/%s.sqlite", rmh_dir(d->h), u);
	sqlite3 *db = NULL;

	g_assert_cmpint(sqlite3_open_v2(p, &db, SQLITE_OPEN_READWRITE, NULL),
			==, SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	g_assert_cmpint(sqlite3_exec(db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
	sqlite3_close(db);
	g_free(p);
}

/*
 * SEARCH THREADID answers from the header cache when it holds the
 * messages: the same answers, and a row changed in the cache shows in
 * them, so the messages were not read.
 */
static void test_index(void)
{
	struct imd *d = D; /* index.enabled is the default */
	const char *u = "tidx@example.test";
	char *root, *other, *own, *e2, *r;
	struct imc *c;
	int i;

	imd_user(d, u, "pw-secret", 0);
	c = imc_login(d, u, "pw-secret");
	append(c, "INBOX",
	       "Subject: a\r\nMessage-ID: <root@x.test>\r\n\r\nx\r\n");
	append(c, "INBOX",
	       "Subject: b\r\nMessage-ID: <b@x.test>\r\n"
	       "References: <root@x.test>\r\n\r\nx\r\n");
	append(c, "INBOX",
	       "Subject: c\r\nMessage-ID: <other@x.test>\r\n\r\nx\r\n");
	append(c, "INBOX", "Subject: d\r\n\r\nx\r\n");
	g_free(imc_ok(c, "SELECT INBOX"));
	for (i = 0; i < 200 && idx_hwm(d, u) < 4; i++) {
		g_free(imc_ok(c, "SEARCH SUBJECT nothing-here"));
		g_usleep(50 * 1000);
	}
	g_assert_cmpuint(idx_hwm(d, u), >=, 4);
	root = tid(c, 1);
	other = tid(c, 3);
	own = tid(c, 4);
	e2 = eid(c, 2);
	r = imc_ok(c, "UID SEARCH THREADID %s", root);
	has(r, "* SEARCH 1 2\n");
	g_free(r);
	r = imc_ok(c, "UID SEARCH THREADID %s", own);
	has(r, "* SEARCH 4\n");
	g_free(r);
	/* the cache now says message 2 replies to <other@x.test> */
	idx_exec(d, u, "UPDATE hdr SET refs='<other@x.test>' WHERE uid=2");
	r = imc_ok(c, "UID SEARCH THREADID %s", other);
	has(r, "* SEARCH 2 3\n");
	g_free(r);
	r = imc_ok(c, "UID SEARCH OR THREADID %s THREADID %s", root, own);
	has(r, "* SEARCH 1 4\n");
	g_free(r);
	/* ... and that it names no id: its own thread, from the EMAILID */
	idx_exec(d, u,
		 "UPDATE hdr SET refs=NULL, message_id=NULL, "
		 "in_reply_to=NULL WHERE uid=2");
	r = imc_ok(c, "UID SEARCH THREADID T_%s", e2);
	has(r, "* SEARCH 2\n");
	g_free(r);
	g_free(root);
	g_free(other);
	g_free(own);
	g_free(e2);
	imc_close(c);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/threadid/chain", test_threadid);
	g_test_add_func("/imap/threadid/copy-move", test_copy_move);
	g_test_add_func("/imap/threadid/processes", test_processes);
	g_test_add_func("/imap/threadid/index", test_index);
	D = imd_config("\"allow_cleartext_login_loopback\": true");
	SMTP = rmh_port(D->h, "smtp");
	rmh_setf(D->h, "smtp",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"submission_listen\": [], "
		 "\"smtps_listen\": []}",
		 SMTP);
	rmh_set(D->h, "modules",
		"[\"mod_shardstore\", \"mod_imap\", \"mod_smtp\"]");
	imd_launch(D);
	imd_user(D, USER, "pw-secret", 0);
	rc = g_test_run();
	imd_stop(D);
	return rc;
}
