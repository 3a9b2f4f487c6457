/*
 * SAVEDATE (RFC 8514) against the real daemon: FETCH SAVEDATE is when
 * the message entered this mailbox (not its INTERNALDATE), kept across
 * flag changes, new after COPY and MOVE; SAVEDBEFORE/SAVEDON/SAVEDSINCE
 * and SAVEDATESUPPORTED; a message the store has no record of shows its
 * internal date; a second daemon on the mail root agrees.
 *
 * The store's records are rewritten on disk to an old date so that a
 * change can be seen without waiting for the clock.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "imap_client.h"

static struct imd *D;

/* the save date records of a mailbox (docs/storage.md) */
struct saverec {
	guint32 uidvalidity, first, last, time;
};

static char *savedates_path(const char *user, const char *mbox)
{
	return g_strdup_printf(
		"%s/mail/domains/example.test/users/%s/mail/%s/savedates",
		rmh_dir(D->h), user, mbox);
}

/* every record of the mailbox dated `t`, through a new file (a new
 * inode, as the store's readers expect of a changed file) */
static void backdate(const char *user, const char *mbox, guint32 t)
{
	char *path = savedates_path(user, mbox), *tmp, *data = NULL;
	gsize len = 0, i;

	g_assert_true(g_file_get_contents(path, &data, &len, NULL));
	g_assert_cmpuint(len, >, 0);
	g_assert_cmpuint(len % sizeof(struct saverec), ==, 0);
	for (i = 0; i < len; i += sizeof(struct saverec)) {
		struct saverec r;

		memcpy(&r, data + i, sizeof(r));
		r.time = t;
		memcpy(data + i, &r, sizeof(r));
	}
	tmp = g_strdup_printf("%s.new", path);
	g_assert_true(g_file_set_contents(tmp, data, (gssize)len, NULL));
	g_assert_cmpint(rename(tmp, path), ==, 0);
	g_free(tmp);
	g_free(data);
	g_free(path);
}

/* the quoted date after `item "` in r (g_free it) */
static char *date_of(const char *r, const char *item)
{
	char *k = g_strdup_printf("%s \"", item);
	const char *p = r != NULL ? strstr(r, k) : NULL, *e;
	char *out;

	g_free(k);
	if (p == NULL)
		return g_strdup("");
	p += strlen(item) + 2;
	e = strchr(p, '"');
	out = e != NULL ? g_strndup(p, (gsize)(e - p)) : g_strdup("");
	return out;
}

/* "6-Dec-2026" for today (UTC) */
static char *today(void)
{
	static const char *mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	return g_strdup_printf("%d-%s-%d", tm.tm_mday, mon[tm.tm_mon],
			       tm.tm_year + 1900);
}

static void test_capability(void)
{
	struct imc *c = imc_fresh(D, "sdcap");
	char *r = imc_ok(c, "CAPABILITY");

	has(r, " SAVEDATE");
	g_free(r);
	imc_close(c);
}

static void test_fetch_search(void)
{
	struct imc *c = imc_fresh(D, "sdmain");
	char *r, *d, *td = today();

	/* an old internal date: the save date is still now */
	g_free(imc_ok(c, "APPEND INBOX () \"01-Feb-1999 10:00:00 +0000\" "
			 "{10+}\r\nSubject: a"));
	g_free(imc_ok(c, "SELECT INBOX"));
	r = imc_ok(c, "FETCH 1 (INTERNALDATE SAVEDATE)");
	has(r, "INTERNALDATE \"01-Feb-1999 10:00:00 +0000\"");
	d = date_of(r, "SAVEDATE");
	g_assert_cmpstr(d, !=, "01-Feb-1999 10:00:00 +0000");
	g_assert_true(g_str_has_prefix(d, td) || (td[1] == '-' && d[0] == '0' &&
						  g_str_has_prefix(d + 1, td)));
	g_free(d);
	g_free(r);
	r = imc_ok(c, "SEARCH SAVEDON %s", td);
	has(r, "* SEARCH 1");
	g_free(r);
	r = imc_ok(c, "SEARCH SAVEDBEFORE 1-Jan-2000");
	hasnt(r, "* SEARCH 1");
	g_free(r);
	r = imc_ok(c, "SEARCH BEFORE 1-Jan-2000");
	has(r, "* SEARCH 1");
	g_free(r);
	r = imc_ok(c, "SEARCH SAVEDATESUPPORTED");
	has(r, "* SEARCH 1");
	g_free(r);
	r = imc_ok(c, "UID SEARCH NOT SAVEDSINCE %s", td);
	hasnt(r, "* SEARCH 1");
	g_free(r);
	g_free(td);
	imc_close(c);
}

/* flag changes keep it; COPY and MOVE give the copy a new one */
static void test_copy_move(void)
{
	struct imc *c = imc_fresh(D, "sdmove");
	char *r, *td = today();

	g_free(imc_ok(c, "APPEND INBOX {10+}\r\nSubject: a"));
	g_free(imc_ok(c, "APPEND INBOX {10+}\r\nSubject: b"));
	backdate("sdmove", "INBOX", 978307200); /* 1-Jan-2001 */
	g_free(imc_ok(c, "SELECT INBOX"));
	r = imc_ok(c, "FETCH 1:2 SAVEDATE");
	has(r, "* 1 FETCH (SAVEDATE \"01-Jan-2001 00:00:00 +0000\")");
	has(r, "* 2 FETCH (SAVEDATE \"01-Jan-2001 00:00:00 +0000\")");
	g_free(r);
	g_free(imc_ok(c, "STORE 1 +FLAGS (\\Seen \\Flagged $Label)"));
	r = imc_ok(c, "FETCH 1 SAVEDATE");
	has(r, "SAVEDATE \"01-Jan-2001 00:00:00 +0000\"");
	g_free(r);
	r = imc_ok(c, "SEARCH SAVEDON 1-Jan-2001");
	has(r, "* SEARCH 1 2");
	g_free(r);
	r = imc_ok(c, "SEARCH SAVEDBEFORE 2-Jan-2001 SEEN");
	has(r, "* SEARCH 1\n");
	g_free(r);

	g_free(imc_ok(c, "COPY 1 Archive"));
	g_free(imc_ok(c, "MOVE 2 Trash"));
	g_free(imc_ok(c, "SELECT Archive"));
	r = imc_ok(c, "FETCH 1 SAVEDATE");
	hasnt(r, "2001");
	g_free(r);
	r = imc_ok(c, "SEARCH SAVEDSINCE %s", td);
	has(r, "* SEARCH 1");
	g_free(r);
	g_free(imc_ok(c, "SELECT Trash"));
	r = imc_ok(c, "SEARCH SAVEDSINCE %s", td);
	has(r, "* SEARCH 1");
	g_free(r);
	/* the source keeps its own */
	g_free(imc_ok(c, "SELECT INBOX"));
	r = imc_ok(c, "FETCH 1 SAVEDATE");
	has(r, "SAVEDATE \"01-Jan-2001 00:00:00 +0000\"");
	g_free(r);

	/* a second process reads the same records */
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
		o = imc_login(t, "sdmove@example.test", "pw-secret");
		g_free(imc_ok(o, "SELECT INBOX"));
		r = imc_ok(o, "FETCH 1 SAVEDATE");
		has(r, "SAVEDATE \"01-Jan-2001 00:00:00 +0000\"");
		g_free(r);
		/* its APPEND is seen here with a record */
		g_free(imc_ok(o, "APPEND INBOX {10+}\r\nSubject: c"));
		imc_close(o);
		imd_stop(t);
	}
	g_free(imc_ok(c, "NOOP"));
	r = imc_ok(c, "SEARCH SAVEDSINCE %s", td);
	has(r, "* SEARCH 2");
	g_free(r);
	g_free(td);
	imc_close(c);
}

/* no record (older than the records, or lost): the internal date */
static void test_no_record(void)
{
	struct imc *c = imc_fresh(D, "sdnone");
	char *path = savedates_path("sdnone", "Drafts"), *r;

	g_free(imc_ok(c, "APPEND Drafts () \"01-Feb-1999 10:00:00 +0000\" "
			 "{10+}\r\nSubject: a"));
	g_assert_cmpint(remove(path), ==, 0);
	g_free(imc_ok(c, "SELECT Drafts"));
	r = imc_ok(c, "FETCH 1 SAVEDATE");
	has(r, "SAVEDATE \"01-Feb-1999 10:00:00 +0000\"");
	g_free(r);
	r = imc_ok(c, "SEARCH SAVEDON 1-Feb-1999");
	has(r, "* SEARCH 1");
	g_free(r);
	g_free(path);
	imc_close(c);
}

static void test_bad(void)
{
	struct imc *c = imc_fresh(D, "sdbad");
	char *r;

	g_free(imc_ok(c, "SELECT INBOX"));
	r = imc_cmd(c, "SEARCH SAVEDBEFORE notadate");
	has(r, "BAD");
	g_free(r);
	r = imc_cmd(c, "SEARCH SAVEDON");
	has(r, "BAD");
	g_free(r);
	imc_close(c);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/savedate/capability", test_capability);
	g_test_add_func("/imap/savedate/fetch-search", test_fetch_search);
	g_test_add_func("/imap/savedate/copy-move", test_copy_move);
	g_test_add_func("/imap/savedate/no-record", test_no_record);
	g_test_add_func("/imap/savedate/bad", test_bad);
	D = imd_start("\"allow_cleartext_login_loopback\": true");
	rc = g_test_run();
	imd_stop(D);
	return rc;
}
