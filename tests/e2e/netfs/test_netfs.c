/*
 * Shared mail roots on network filesystems (issue 13 §5), by injection:
 * the LD_PRELOAD shim netfs_shim.so makes renameat2(RENAME_NOREPLACE)
 * fail with EINVAL (GlusterFS) and statfs report NFS/FUSE with inotify
 * that never fires (another client's changes).  Real daemons, real
 * `rmail` commands, two daemons on one mail root where it matters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "imap_client.h"

#define PW "pw-secret"

static unsigned count(const char *s, const char *needle)
{
	unsigned n = 0;

	while (s != NULL && (s = strstr(s, needle)) != NULL) {
		n++;
		s += strlen(needle);
	}
	return n;
}

/* every child (daemons, `rmail` commands) runs under the shim */
static void shim(const char *noreplace, const char *fstype)
{
	const char *asan = g_getenv("ASAN_OPTIONS");
	char *a = g_strdup_printf("%s%sverify_asan_link_order=0",
				  asan != NULL ? asan : "",
				  asan != NULL && *asan != '\0' ? ":" : "");

	g_setenv("LD_PRELOAD", NETFS_SHIM, TRUE);
	g_setenv("ASAN_OPTIONS", a, TRUE);
	g_free(a);
	if (noreplace != NULL)
		g_setenv("RMAIL_SHIM_NOREPLACE", noreplace, TRUE);
	else
		g_unsetenv("RMAIL_SHIM_NOREPLACE");
	if (fstype != NULL)
		g_setenv("RMAIL_SHIM_FSTYPE", fstype, TRUE);
	else
		g_unsetenv("RMAIL_SHIM_FSTYPE");
}

/* a daemon with store, IMAP and SMTP; `root_of` shares its mail root */
static struct imd *daemon_on(struct imd *root_of)
{
	struct imd *d = g_new0(struct imd, 1);

	d->h = rmh_new();
	d->port = rmh_port(d->h, "imap");
	d->tls_port = rmh_port(d->h, "imaps");
	if (root_of != NULL)
		rmh_setf(d->h, "mail_root", "\"%s/mail\"", rmh_dir(root_of->h));
	rmh_set(d->h, "modules",
		"[\"mod_shardstore\", \"mod_imap\", \"mod_smtp\"]");
	rmh_setf(d->h, "imap",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"imaps_listen\": [\"127.0.0.1:%u\"], "
		 "\"allow_cleartext_login_loopback\": true}",
		 d->port, d->tls_port);
	rmh_setf(d->h, "smtp",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"submission_listen\": [], \"smtps_listen\": []}",
		 rmh_port(d->h, "smtp"));
	rmh_write_config(d->h);
	return d;
}

static void append_msg(struct imc *c, const char *mbox, const char *subj)
{
	char *body = g_strdup_printf("Subject: %s\r\nFrom: a@example.test"
				     "\r\n\r\nHello %s\r\n",
				     subj, subj);
	char *r = imc_ok(c, "APPEND \"%s\" {%zu+}\r\n%s", mbox, strlen(body),
			 body);

	has(r, "[APPENDUID ");
	g_free(r);
	g_free(body);
}

static void smtp_deliver(struct imd *d, const char *rcpt)
{
	struct rmh_conn *c = rmh_connect(rmh_port(d->h, "smtp"), false);

	g_assert_nonnull(c);
	g_assert_true(rmh_expect(c, "220 ", NULL));
	g_assert_true(rmh_send(c, "EHLO client.test"));
	g_assert_true(rmh_expect(c, "250 ", NULL));
	g_assert_true(rmh_send(c, "MAIL FROM:<sender@remote.test>"));
	g_assert_true(rmh_expect(c, "250 ", NULL));
	g_assert_true(rmh_send(c, "RCPT TO:<%s>", rcpt));
	g_assert_true(rmh_expect(c, "250 ", NULL));
	g_assert_true(rmh_send(c, "DATA"));
	g_assert_true(rmh_expect(c, "354 ", NULL));
	g_assert_true(rmh_send(c, "Subject: delivered\r\n\r\nbody\r\n."));
	g_assert_true(rmh_expect(c, "250 ", NULL));
	g_assert_true(rmh_send(c, "QUIT"));
	rmh_conn_close(c);
}

/* STATUS until MESSAGES n (delivery may be queued briefly) */
static void wait_messages(struct imc *c, const char *mbox, unsigned n)
{
	char want[64], *r = NULL;
	int i;

	snprintf(want, sizeof(want), "MESSAGES %u)", n);
	for (i = 0; i < 100; i++) {
		g_free(r);
		r = imc_ok(c, "STATUS \"%s\" (MESSAGES)", mbox);
		if (strstr(r, want) != NULL)
			break;
		g_usleep(50000);
	}
	has(r, want);
	g_free(r);
}

/*
 * Without RENAME_NOREPLACE: user add (default mailboxes), IMAP CREATE,
 * RENAME (also of INBOX and of a hierarchy), APPEND and SMTP delivery
 * all work, "exists" is still refused, and the fallback is logged once.
 */
static void test_noreplace_fallback(void)
{
	struct imd *d;
	struct imc *c;
	char *r, *log;

	shim("1", NULL);
	d = daemon_on(NULL);
	g_assert_true(rmh_start(d->h));
	imd_user(d, "ann@example.test", PW, 0);
	c = imc_login(d, "ann@example.test", PW);
	r = imc_ok(c, "LIST \"\" \"*\"");
	has(r, "INBOX");
	has(r, "\"Sent\"");
	has(r, "\"Archive\"");
	g_free(r);
	r = imc_ok(c, "CREATE Foo");
	g_free(r);
	r = imc_ok(c, "CREATE Foo/Bar");
	g_free(r);
	r = imc_cmd(c, "CREATE Foo");
	has(r, "NO [ALREADYEXISTS]");
	g_free(r);
	append_msg(c, "Foo", "one");
	append_msg(c, "Foo/Bar", "two");
	r = imc_ok(c, "RENAME Foo Baz");
	g_free(r);
	r = imc_cmd(c, "RENAME Baz Sent");
	has(r, "NO [ALREADYEXISTS]");
	g_free(r);
	r = imc_cmd(c, "RENAME Nope Other");
	has(r, "NO");
	g_free(r);
	r = imc_ok(c, "LIST \"\" \"*\"");
	has(r, "\"Baz\"");
	has(r, "\"Baz/Bar\"");
	hasnt(r, "\"Foo");
	hasnt(r, "\"Other\"");
	g_free(r);
	wait_messages(c, "Baz", 1);
	wait_messages(c, "Baz/Bar", 1);
	/* no hidden leftovers of the fallback either */
	r = imc_ok(c, "LIST \"\" \"*\"");
	hasnt(r, "\".");
	g_free(r);
	smtp_deliver(d, "ann@example.test");
	wait_messages(c, "INBOX", 1);
	r = imc_ok(c, "RENAME INBOX Old");
	g_free(r);
	wait_messages(c, "Old", 1);
	wait_messages(c, "INBOX", 0);
	imc_close(c);
	log = rmh_stderr(d->h);
	g_assert_cmpuint(count(log, "RENAME_NOREPLACE"), ==, 1);
	g_free(log);
	imd_stop(d);
}

/* the next n tagged replies whose tag starts with `tag` */
static char *collect(struct imc *c, char tag, unsigned n)
{
	GString *out = g_string_new(NULL);

	while (n > 0) {
		char *l = rmh_readline(c->c, 20);

		g_assert_nonnull(l);
		if (l[0] == tag) {
			g_string_append_printf(out, "%s\n", l);
			n--;
		}
		g_free(l);
	}
	return g_string_free(out, FALSE);
}

static bool tagged_ok(const char *replies, const char *tag, unsigned i)
{
	char *want = g_strdup_printf("%s%u OK", tag, i);
	const char *p = replies;
	bool ok = false;
	size_t wl = strlen(want);

	/* exact tag: "a1 OK" must not match "a10 OK" */
	while ((p = strstr(p, want)) != NULL) {
		if ((p == replies || p[-1] == '\n') && p[wl - 3] == ' ') {
			ok = true;
			break;
		}
		p += wl;
	}
	g_free(want);
	return ok;
}

#define RACE_N 40

/*
 * Two daemons on one mail root, no RENAME_NOREPLACE: creates of the
 * same name and renames onto the same name race; exactly one wins
 * each time.
 */
static void test_noreplace_races(void)
{
	struct imd *d1, *d2;
	struct imc *a, *b;
	char *ra, *rb, *r;
	unsigned i, wins = 0;

	shim("1", NULL);
	d1 = daemon_on(NULL);
	d2 = daemon_on(d1);
	g_assert_true(rmh_start(d1->h));
	g_assert_true(rmh_start(d2->h));
	imd_user(d1, "race@example.test", PW, 0);
	a = imc_login(d1, "race@example.test", PW);
	b = imc_login(d2, "race@example.test", PW);
	/* both at once: each send is queued before either reads */
	for (i = 0; i < RACE_N; i++) {
		g_assert_true(rmh_send(a->c, "a%u CREATE x%u", i, i));
		g_assert_true(rmh_send(b->c, "b%u CREATE x%u", i, i));
	}
	ra = collect(a, 'a', RACE_N);
	rb = collect(b, 'b', RACE_N);
	for (i = 0; i < RACE_N; i++) {
		bool wa = tagged_ok(ra, "a", i), wb = tagged_ok(rb, "b", i);

		if (wa == wb)
			g_test_message("create x%u: a %d b %d", i, wa, wb);
		g_assert_true(wa != wb);
	}
	g_free(ra);
	g_free(rb);
	/* renames of two mailboxes onto one new name */
	for (i = 0; i < RACE_N; i++) {
		r = imc_ok(a, "CREATE y%u", i);
		g_free(r);
	}
	for (i = 0; i < RACE_N; i++) {
		g_assert_true(rmh_send(a->c, "a%u RENAME x%u z%u", i, i, i));
		g_assert_true(rmh_send(b->c, "b%u RENAME y%u z%u", i, i, i));
	}
	ra = collect(a, 'a', RACE_N);
	rb = collect(b, 'b', RACE_N);
	r = imc_ok(a, "LIST \"\" \"*\"");
	for (i = 0; i < RACE_N; i++) {
		bool wa = tagged_ok(ra, "a", i), wb = tagged_ok(rb, "b", i);
		char x[32], y[32], z[32];

		if (wa == wb)
			g_test_message("rename to z%u: a %d b %d", i, wa, wb);
		g_assert_true(wa != wb);
		wins++;
		/* the loser's source is still there, the winner's gone */
		snprintf(x, sizeof(x), "\"x%u\"\n", i);
		snprintf(y, sizeof(y), "\"y%u\"\n", i);
		snprintf(z, sizeof(z), "\"z%u\"\n", i);
		has(r, z);
		if (wa) {
			hasnt(r, x);
			has(r, y);
		} else {
			has(r, x);
			hasnt(r, y);
		}
	}
	hasnt(r, "\".");
	g_assert_cmpuint(wins, ==, RACE_N);
	g_free(r);
	g_free(ra);
	g_free(rb);
	imc_close(a);
	imc_close(b);
	imd_stop(d2);
	imd_stop(d1);
}

/*
 * statfs says NFS and inotify never fires: IDLE in one daemon still sees
 * an APPEND made through a second daemon on the same mail root, within
 * the poll interval (1 s default, so well under 2.5 s), and the daemon
 * says it polls.
 */
static void test_nfs_idle_polls(void)
{
	struct imd *d1, *d2;
	struct imc *a, *b;
	char *r, *log;
	gint64 t0;

	shim(NULL, "nfs");
	d1 = daemon_on(NULL);
	d2 = daemon_on(d1);
	g_assert_true(rmh_start(d1->h));
	g_assert_true(rmh_start(d2->h));
	imd_user(d1, "idle@example.test", PW, 0);
	a = imc_login(d1, "idle@example.test", PW);
	b = imc_login(d2, "idle@example.test", PW);
	r = imc_ok(a, "SELECT INBOX");
	has(r, "* 0 EXISTS");
	g_free(r);
	g_assert_true(rmh_send(a->c, "i IDLE"));
	r = imc_until(a, "+ ", 5);
	g_free(r);
	t0 = g_get_monotonic_time();
	append_msg(b, "INBOX", "remote");
	r = imc_until(a, "* 1 EXISTS", 4);
	g_assert_nonnull(r);
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 2500000);
	g_free(r);
	/* a flag change made remotely too */
	r = imc_ok(b, "SELECT INBOX");
	g_free(r);
	t0 = g_get_monotonic_time();
	r = imc_ok(b, "STORE 1 +FLAGS (\\Flagged)");
	g_free(r);
	r = imc_until(a, "* 1 FETCH", 4);
	g_assert_nonnull(r);
	has(r, "\\Flagged");
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 2500000);
	g_free(r);
	g_assert_true(rmh_send(a->c, "DONE"));
	r = imc_until(a, "i OK", 3);
	g_assert_nonnull(r);
	g_free(r);
	imc_close(a);
	imc_close(b);
	log = rmh_stderr(d1->h);
	has(log, "network filesystem");
	has(log, "poll");
	g_free(log);
	imd_stop(d2);
	imd_stop(d1);
}

/* `rmail check` warns (without failing) about an NFS root mounted with
 * attribute caching, and stays quiet on a local root */
static void test_check_warns(void)
{
	struct imd *d;
	char *out = NULL, *err = NULL, *root;
	int rc;

	shim(NULL, NULL);
	d = daemon_on(NULL);
	root = g_build_filename(rmh_dir(d->h), "mail", NULL);
	g_assert_cmpint(g_mkdir_with_parents(root, 0700), ==, 0);
	g_free(root);
	rc = rmh_run(d->h, &out, &err, "check", NULL);
	g_assert_cmpint(rc, ==, 0);
	hasnt(err, "network filesystem");
	g_free(out);
	g_free(err);
	shim(NULL, "nfs");
	rc = rmh_run(d->h, &out, &err, "check", NULL);
	g_test_message("check: %s %s", out, err);
	g_assert_cmpint(rc, ==, 0);
	has(err, "network filesystem");
	has(err, "actimeo=0");
	g_free(out);
	g_free(err);
	shim(NULL, "fuse");
	rc = rmh_run(d->h, &out, &err, "check", NULL);
	g_assert_cmpint(rc, ==, 0);
	has(err, "direct-io-mode=enable");
	g_free(out);
	g_free(err);
	rmh_free(d->h);
	g_free(d);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/netfs/noreplace/fallback", test_noreplace_fallback);
	g_test_add_func("/netfs/noreplace/races", test_noreplace_races);
	g_test_add_func("/netfs/nfs/idle-polls", test_nfs_idle_polls);
	g_test_add_func("/netfs/check/warns", test_check_warns);
	return g_test_run();
}
