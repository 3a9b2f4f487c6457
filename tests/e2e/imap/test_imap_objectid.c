/*
 * OBJECTID (RFC 8474) against the real daemon: MAILBOXID in CREATE,
 * SELECT, STATUS and LIST-STATUS, the same after RENAME and new for a
 * recreated name; EMAILID the same across flag changes, MOVE and COPY,
 * different between messages, and the same seen from a second daemon
 * on the mail root; THREADID of a message without ids; SEARCH
 * EMAILID/THREADID; the RFC's
 * example exchanges (with the ids this server makes).
 */
#include <string.h>

#include "imap_client.h"

static struct imd *D;

/* the objectid after `key (` in r, or "" (g_free it) */
static char *id_after(const char *r, const char *key)
{
	char *k = g_strdup_printf("%s (", key);
	const char *p = r != NULL ? strstr(r, k) : NULL, *e;
	char *out;

	g_free(k);
	if (p == NULL)
		return g_strdup("");
	p += strlen(key) + 2;
	e = strchr(p, ')');
	out = e != NULL ? g_strndup(p, (gsize)(e - p)) : g_strdup("");
	return out;
}

static void valid_objectid(const char *id)
{
	size_t i, n = strlen(id);

	g_assert_cmpuint(n, >, 0);
	g_assert_cmpuint(n, <=, 255);
	for (i = 0; i < n; i++)
		g_assert_true(g_ascii_isalnum(id[i]) || id[i] == '_' ||
			      id[i] == '-');
}

static void test_capability(void)
{
	struct imc *c = imc_fresh(D, "oicap");
	char *r = imc_ok(c, "CAPABILITY");

	has(r, " OBJECTID");
	g_free(r);
	imc_close(c);
}

/* RFC 8474 4.1-4.4 */
static void test_mailboxid(void)
{
	struct imc *c = imc_fresh(D, "oibox");
	char *r, *id, *id2;

	r = imc_ok(c, "CREATE foo");
	has(r, "OK [MAILBOXID (");
	id = id_after(r, "MAILBOXID");
	valid_objectid(id);
	g_free(r);
	r = imc_ok(c, "CREATE bar");
	id2 = id_after(r, "MAILBOXID");
	g_assert_cmpstr(id, !=, id2);
	g_free(id2);
	g_free(r);

	r = imc_ok(c, "SELECT foo");
	id2 = id_after(r, "* OK [MAILBOXID");
	g_assert_cmpstr(id, ==, id2);
	g_free(id2);
	g_free(r);
	g_free(imc_ok(c, "UNSELECT"));

	/* the same mailbox under a new name keeps its id */
	g_free(imc_ok(c, "RENAME foo renamed"));
	r = imc_ok(c, "STATUS renamed (MAILBOXID MESSAGES)");
	has(r, "* STATUS \"renamed\" (MAILBOXID (");
	id2 = id_after(r, "MAILBOXID");
	g_assert_cmpstr(id, ==, id2);
	g_free(id2);
	g_free(r);
	r = imc_ok(c, "LIST \"\" renamed RETURN (STATUS (MAILBOXID))");
	id2 = id_after(r, "MAILBOXID");
	g_assert_cmpstr(id, ==, id2);
	g_free(id2);
	g_free(r);

	/* a new mailbox of the old name is another mailbox */
	r = imc_ok(c, "CREATE foo");
	id2 = id_after(r, "MAILBOXID");
	g_assert_cmpstr(id, !=, id2);
	g_free(id2);
	g_free(r);
	/* deleted and recreated under the same name: new again */
	r = imc_ok(c, "STATUS bar (MAILBOXID)");
	id2 = id_after(r, "MAILBOXID");
	g_free(r);
	g_free(imc_ok(c, "DELETE bar"));
	r = imc_ok(c, "CREATE bar");
	{
		char *id3 = id_after(r, "MAILBOXID");

		g_assert_cmpstr(id3, !=, id2);
		g_free(id3);
	}
	g_free(id2);
	g_free(r);
	g_free(id);
	imc_close(c);
}

static char *emailid_of(struct imc *c, const char *set)
{
	char *r = imc_ok(c, "UID FETCH %s (EMAILID)", set);
	char *id = id_after(r, "EMAILID");

	valid_objectid(id);
	g_free(r);
	return id;
}

/* RFC 8474 5.1, 5.2 */
static void test_emailid(void)
{
	struct imc *c = imc_fresh(D, "oimsg");
	char *r, *a, *b, *x;

	g_free(imc_ok(c, "APPEND INBOX {10+}\r\nSubject: a"));
	g_free(imc_ok(c, "APPEND INBOX {10+}\r\nSubject: a"));
	g_free(imc_ok(c, "CREATE Other"));
	g_free(imc_ok(c, "SELECT INBOX"));
	a = emailid_of(c, "1");
	b = emailid_of(c, "2");
	/* the same bytes appended twice are two messages */
	g_assert_cmpstr(a, !=, b);
	/* no Message-ID: a thread of its own, named by its EMAILID
	 * (e2e_imap_threadid has the threads) */
	r = imc_ok(c, "FETCH 1 (EMAILID THREADID)");
	x = g_strdup_printf("THREADID (T_%s)", a);
	has(r, x);
	g_free(x);
	g_free(r);

	/* flags: same id */
	g_free(imc_ok(c, "STORE 1 +FLAGS (\\Flagged)"));
	x = emailid_of(c, "1");
	g_assert_cmpstr(a, ==, x);
	g_free(x);

	/* SEARCH */
	r = imc_ok(c, "UID SEARCH EMAILID %s", b);
	has(r, "* SEARCH 2\n");
	g_free(r);
	r = imc_ok(c, "SEARCH THREADID T1");
	has(r, "* SEARCH\n");
	g_free(r);
	r = imc_cmd(c, "SEARCH EMAILID a.b");
	has(r, " BAD ");
	g_free(r);

	/* COPY keeps it (the copy is the same content), MOVE too */
	g_free(imc_ok(c, "UID COPY 2 Other"));
	g_free(imc_ok(c, "UID MOVE 1 Other"));
	g_free(imc_ok(c, "SELECT Other"));
	x = emailid_of(c, "1");
	g_assert_cmpstr(x, ==, b);
	g_free(x);
	x = emailid_of(c, "2");
	g_assert_cmpstr(x, ==, a);
	g_free(x);

	/* a second process sees the same ids */
	{
		struct imd *t = g_new0(struct imd, 1);
		struct imc *o;

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
		o = imc_login(t, "oimsg@example.test", "pw-secret");
		r = imc_ok(o, "SELECT Other");
		g_free(r);
		x = emailid_of(o, "2");
		g_assert_cmpstr(x, ==, a);
		g_free(x);
		r = imc_ok(o, "STATUS INBOX (MAILBOXID)");
		x = id_after(r, "MAILBOXID");
		g_free(r);
		r = imc_ok(c, "STATUS INBOX (MAILBOXID)");
		has(r, x);
		g_free(r);
		g_free(x);
		imc_close(o);
		imd_stop(t);
	}
	g_free(a);
	g_free(b);
	imc_close(c);
}

/* objectids are not numbers: STATUS keeps the other items' syntax */
static void test_status_mix(void)
{
	struct imc *c = imc_fresh(D, "oimix");
	char *r = imc_ok(c, "STATUS INBOX (messages MAILBOXID uidnext)");

	has(r, "* STATUS \"INBOX\" (MESSAGES 0 MAILBOXID (F");
	has(r, ") UIDNEXT 1)");
	g_free(r);
	imc_close(c);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/objectid/capability", test_capability);
	g_test_add_func("/imap/objectid/mailboxid", test_mailboxid);
	g_test_add_func("/imap/objectid/emailid", test_emailid);
	g_test_add_func("/imap/objectid/status-mix", test_status_mix);
	D = imd_start("\"allow_cleartext_login_loopback\": true");
	rc = g_test_run();
	imd_stop(D);
	return rc;
}
