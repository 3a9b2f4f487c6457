/*
 * APPEND under hostile shapes, against the real daemon: every path that
 * abandons an upload gives its handle (fd, memory, tmp file) back, an
 * upload reserves its announced size against the quota, uploads per
 * user are capped, abandoned tmp files are swept once per mail root,
 * and the keyword table's limit is reported as such.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "imap_client.h"

#define USER "leak@example.test"
#define PASS "pw-secret"

/* a daemon like imd_start's, with a "shardstore" section too */
static struct imd *start(const char *ss_json)
{
	struct imd *d = g_new0(struct imd, 1);

	d->h = rmh_new();
	d->port = rmh_port(d->h, "imap");
	d->tls_port = rmh_port(d->h, "imaps");
	rmh_set(d->h, "modules", "[\"mod_shardstore\", \"mod_imap\"]");
	rmh_setf(d->h, "imap",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"imaps_listen\": [\"127.0.0.1:%u\"], "
		 "\"allow_cleartext_login_loopback\": true}",
		 d->port, d->tls_port);
	if (ss_json != NULL)
		rmh_set(d->h, "shardstore", ss_json);
	/* the descriptor counts are the sessions': the index thread opens
	 * and closes its database on its own schedule after an APPEND */
	rmh_set(d->h, "index", "{\"enabled\": false}");
	rmh_write_config(d->h);
	return d;
}

static int count_fds(struct imd *d)
{
	char path[64];
	struct dirent *de;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", rmh_pid(d->h));
	dir = opendir(path);
	g_assert_nonnull(dir);
	while ((de = readdir(dir)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

/* regular files in every tmp/ directory below dir */
static int count_tmp(const char *dir, bool in_tmp)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char *p;
		struct stat sb;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		p = g_build_filename(dir, de->d_name, NULL);
		if (lstat(p, &sb) == 0) {
			if (S_ISDIR(sb.st_mode))
				n += count_tmp(p,
					       strcmp(de->d_name, "tmp") == 0);
			else if (in_tmp && S_ISREG(sb.st_mode))
				n++;
		}
		g_free(p);
	}
	closedir(d);
	return n;
}

static int tmp_files(struct imd *d)
{
	char *root = g_build_filename(rmh_dir(d->h), "mail", NULL);
	int n = count_tmp(root, false);

	g_free(root);
	return n;
}

/* send raw bytes, read to the tagged reply of `tag` */
static char *raw(struct imc *c, const char *tag, const char *data)
{
	char *prefix = g_strdup_printf("%s ", tag);
	char *r;

	g_assert_true(rmh_send_raw(c->c, data, strlen(data)));
	r = imc_until(c, prefix, 10);
	g_assert_nonnull(r);
	g_free(prefix);
	return r;
}

/* the tagged line of a reply */
static const char *tagged(const char *r, const char *tag)
{
	const char *p = r;
	size_t n = strlen(tag);

	for (;;) {
		if (strncmp(p, tag, n) == 0 && p[n] == ' ')
			return p + n + 1;
		p = strchr(p, '\n');
		g_assert_nonnull(p);
		p++;
	}
}

static void expect_tagged(struct imc *c, const char *tag, const char *data,
			  const char *status)
{
	char *r = raw(c, tag, data);

	if (!g_str_has_prefix(tagged(r, tag), status))
		g_test_message("%s: %s", tag, r);
	g_assert_true(g_str_has_prefix(tagged(r, tag), status));
	g_free(r);
}

/* one abandoned APPEND of shape k on the logged-in c */
static void abandon(struct imc *c, unsigned i)
{
	char tag[32], *cmd, *r;

	snprintf(tag, sizeof(tag), "x%u", i);
	switch (i % 6) {
	case 0: /* a batch's (MULTIAPPEND) second message refused at its
		 * synchronizing literal: at once, the first abandoned */
		cmd = g_strdup_printf("%s APPEND INBOX {5+}\r\nhello "
				      "(\\Bogus) {3}\r\n",
				      tag);
		expect_tagged(c, tag, cmd, "BAD");
		break;
	case 1: /* a batch whose second message has no valid arguments */
		cmd = g_strdup_printf("%s APPEND INBOX {5+}\r\nhello "
				      "INBOX {3+}\r\nabc\r\n",
				      tag);
		expect_tagged(c, tag, cmd, "BAD");
		break;
	case 2: /* the parser refuses what follows the literal */
		cmd = g_strdup_printf("%s APPEND INBOX {5+}\r\nhello )\r\n",
				      tag);
		expect_tagged(c, tag, cmd, "BAD");
		break;
	case 3: /* no such mailbox */
		cmd = g_strdup_printf("%s APPEND Nowhere {5+}\r\nhello\r\n",
				      tag);
		expect_tagged(c, tag, cmd, "NO");
		break;
	case 4: /* arguments after the message */
		cmd = g_strdup_printf("%s APPEND INBOX {5+}\r\nhello x\r\n",
				      tag);
		expect_tagged(c, tag, cmd, "BAD");
		break;
	default: /* synchronizing first literal, then a refused second */
		cmd = g_strdup_printf("%s APPEND INBOX {5}\r\n", tag);
		g_assert_true(rmh_send_raw(c->c, cmd, strlen(cmd)));
		r = rmh_readline(c->c, 10);
		g_assert_nonnull(r);
		g_assert_true(r[0] == '+');
		g_free(r);
		g_free(cmd);
		cmd = g_strdup_printf("hello x {3}\r\n");
		expect_tagged(c, tag, cmd, "BAD");
		break;
	}
	g_free(cmd);
}

/* a login that leaves mid-literal (plain hang-up or LOGOUT as data) */
static void abandon_by_disconnect(struct imd *d, unsigned i)
{
	struct imc *c = imc_login(d, USER, PASS);
	char *r;

	if (i % 2 == 0) {
		g_assert_true(rmh_send(c->c, "d APPEND INBOX {100+}"));
		g_assert_true(rmh_send(c->c, "partial"));
	} else {
		g_assert_true(rmh_send(c->c, "d APPEND INBOX {100}"));
		r = rmh_readline(c->c, 10);
		g_assert_nonnull(r);
		g_assert_true(r[0] == '+');
		g_free(r);
		g_assert_true(rmh_send(c->c, "z LOGOUT"));
	}
	imc_close(c);
}

/* the count once it held still for 200 ms (a closed connection, the
 * start-up tmp sweep, are transient), or equals want (> 0) */
static int wait_fds(struct imd *d, int want)
{
	int n = count_fds(d), same = 0;

	for (int i = 0; i < 250 && n != want && same < 10; i++) {
		int m;

		g_usleep(20000);
		m = count_fds(d);
		same = m == n ? same + 1 : 0;
		n = m;
	}
	return n;
}

static void test_abandon_leaks_nothing(void)
{
	struct imd *d = start(NULL);
	struct imc *c;
	int fds0, tmp0, fds1, tmp1;
	char *r;

	g_assert_true(rmh_start(d->h));
	imd_user(d, USER, PASS, 0);
	c = imc_login(d, USER, PASS);
	/* warm up: the INBOX view, its log, one of every shape */
	r = imc_ok(c, "APPEND INBOX {5+}\r\nhello");
	g_free(r);
	for (unsigned i = 0; i < 6; i++)
		abandon(c, i);
	abandon_by_disconnect(d, 0);
	r = imc_ok(c, "NOOP");
	g_free(r);
	fds0 = wait_fds(d, 0);
	tmp0 = tmp_files(d);
	for (unsigned i = 0; i < 1000; i++) {
		abandon(c, i);
		if (i % 100 == 99)
			abandon_by_disconnect(d, i / 100);
	}
	r = imc_ok(c, "NOOP");
	g_free(r);
	fds1 = wait_fds(d, fds0);
	tmp1 = tmp_files(d);
	g_test_message("fds %d -> %d, tmp files %d -> %d", fds0, fds1, tmp0,
		       tmp1);
	g_assert_cmpint(fds1, ==, fds0);
	g_assert_cmpint(tmp1, ==, tmp0);
	g_assert_cmpint(tmp1, ==, 0);
	/* only the warm-up message was stored */
	r = imc_ok(c, "STATUS INBOX (MESSAGES)");
	has(r, "MESSAGES 1)");
	g_free(r);
	imc_close(c);
	imd_stop(d);
}

/* n bytes of CRLF lines: the stored size equals the announced one */
static char *body(size_t n)
{
	char *b = g_malloc(n + 1);

	memset(b, 'x', n);
	for (size_t i = 98; i + 1 < n; i += 100)
		memcpy(b + i, "\r\n", 2);
	b[n] = '\0';
	return b;
}

/* "tag APPEND INBOX {n}": true when invited ("+"), else the reply */
static bool invite(struct imc *c, const char *tag, size_t n, char **reply_r)
{
	char *l;

	g_assert_true(rmh_send(c->c, "%s APPEND INBOX {%zu}", tag, n));
	l = rmh_readline(c->c, 10);
	g_assert_nonnull(l);
	if (l[0] == '+') {
		g_free(l);
		return true;
	}
	if (reply_r != NULL) {
		char *prefix = g_strdup_printf("%s ", tag);
		char *rest = g_str_has_prefix(l, prefix)
				     ? g_strdup("")
				     : imc_until(c, prefix, 10);

		g_assert_nonnull(rest);
		*reply_r = g_strconcat(l, "\n", rest, NULL);
		g_free(rest);
		g_free(prefix);
	}
	g_free(l);
	return false;
}

static void finish(struct imc *c, const char *tag, const char *data, size_t n)
{
	char *prefix = g_strdup_printf("%s OK", tag), *r;

	g_assert_true(rmh_send_raw(c->c, data, n));
	g_assert_true(rmh_send(c->c, "%s", ""));
	r = imc_until(c, prefix, 10);
	g_assert_nonnull(r);
	g_free(r);
	g_free(prefix);
}

static void test_quota_reserved_while_streaming(void)
{
	struct imd *d = start(NULL);
	struct imc *a, *b;
	char *data = body(700000), *r = NULL;
	bool ok = false;

	g_assert_true(rmh_start(d->h));
	imd_user(d, USER, PASS, 1); /* 1 MiB */
	a = imc_login(d, USER, PASS);
	b = imc_login(d, USER, PASS);
	/* a streams 700000 bytes; until it ends they are spoken for */
	g_assert_true(invite(a, "a1", 700000, NULL));
	g_assert_true(rmh_send_raw(a->c, data, 1000));
	/* not OVERQUOTA: the account is not full, a's upload may yet be
	 * abandoned */
	r = imc_cmd(b, "APPEND INBOX {700000}");
	g_assert_nonnull(r);
	hasnt(r, "OVERQUOTA");
	hasnt(r, "\n+ ");
	has(r, "NO [LIMIT] Quota held by uploads in progress");
	g_free(r);
	/* what the stored mail leaves no room for is over quota */
	r = imc_cmd(b, "APPEND INBOX {2000000}");
	g_assert_nonnull(r);
	g_assert_true(g_str_has_prefix(r, "* NO [OVERQUOTA] "));
	has(r, "NO [ALERT] Quota exceeded");
	g_free(r);
	/* a smaller one still fits next to the reservation */
	g_assert_true(invite(b, "b1", 200000, NULL));
	finish(b, "b1", data, 200000);
	/* a hangs up mid-literal: its reservation goes with it */
	imc_close(a);
	for (int i = 0; i < 100 && !ok; i++) {
		r = NULL;
		ok = invite(b, "b2", 700000, &r);
		if (!ok) {
			has(r, "[LIMIT]");
			g_free(r);
			g_usleep(20000);
		}
	}
	g_assert_true(ok);
	finish(b, "b2", data, 700000);
	imc_close(b);
	g_free(data);
	imd_stop(d);
}

/* the last reply line of an SMTP command (continuations skipped) */
static char *smtp_reply(struct rmh_conn *c)
{
	char *l;

	while ((l = rmh_readline(c, 10)) != NULL && strlen(l) > 3 &&
	       l[3] == '-')
		g_free(l);
	g_assert_nonnull(l);
	return l;
}

static char *smtp_cmd(struct rmh_conn *c, const char *line)
{
	g_assert_true(rmh_send(c, "%s", line));
	return smtp_reply(c);
}

/*
 * An IMAP upload streaming holds part of the quota; a delivery that
 * fits what is used but not what is reserved must not be bounced for
 * it: the upload may still be abandoned.  SMTP answers 250 (queued) or
 * 4xx, and the message arrives once the reservation is gone.
 */
static void test_delivery_vs_reservation(void)
{
	struct imd *d = start(NULL);
	guint smtp = rmh_port(d->h, "smtp");
	struct rmh_conn *s;
	struct imc *a, *b;
	char *data = body(800000), *msg = body(300000), *r;
	bool arrived = false;

	rmh_setf(d->h, "smtp",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"submission_listen\": [], "
		 "\"smtps_listen\": []}",
		 smtp);
	rmh_set(d->h, "modules",
		"[\"mod_shardstore\", \"mod_imap\", \"mod_smtp\"]");
	rmh_set(d->h, "delivery",
		"{\"retry_initial\": \"1s\", \"retry_max\": \"1s\"}");
	rmh_write_config(d->h);
	g_assert_true(rmh_start(d->h));
	imd_user(d, USER, PASS, 1); /* 1 MiB */
	a = imc_login(d, USER, PASS);
	g_assert_true(invite(a, "a1", 800000, NULL));
	g_assert_true(rmh_send_raw(a->c, data, 1000));
	s = rmh_connect(smtp, false);
	g_assert_nonnull(s);
	g_free(smtp_reply(s));
	g_free(smtp_cmd(s, "EHLO client.test"));
	r = smtp_cmd(s, "MAIL FROM:<far@remote.test>");
	has(r, "250");
	g_free(r);
	r = smtp_cmd(s, "RCPT TO:<" USER ">");
	has(r, "250");
	g_free(r);
	r = smtp_cmd(s, "DATA");
	has(r, "354");
	g_free(r);
	g_assert_true(rmh_send(s, "Subject: reserved\r\n"));
	g_assert_true(rmh_send_raw(s, msg, 300000));
	r = smtp_cmd(s, "\r\n.");
	g_test_message("DATA reply while the upload streams: %s", r);
	/* a decision that may change in a moment is never permanent */
	g_assert_true(r[0] == '2' || r[0] == '4');
	g_free(r);
	g_free(smtp_cmd(s, "QUIT"));
	rmh_conn_close(s);
	/* the upload is abandoned: the queued copy now fits */
	imc_close(a);
	b = imc_login(d, USER, PASS);
	for (int i = 0; i < 100 && !arrived; i++) {
		r = imc_ok(b, "STATUS INBOX (MESSAGES)");
		arrived = strstr(r, "MESSAGES 1)") != NULL;
		g_free(r);
		if (!arrived)
			g_usleep(100000);
	}
	r = rmh_stderr(d->h);
	hasnt(r, "Quota exceeded");
	g_free(r);
	g_assert_true(arrived);
	imc_close(b);
	g_free(data);
	g_free(msg);
	imd_stop(d);
}

static void test_uploads_per_user_capped(void)
{
	struct imd *d = start("{\"max_uploads_per_user\": 2}");
	struct imc *c[3];
	char *r = NULL;

	g_assert_true(rmh_start(d->h));
	imd_user(d, USER, PASS, 0);
	for (int i = 0; i < 3; i++)
		c[i] = imc_login(d, USER, PASS);
	g_assert_true(invite(c[0], "u0", 10, NULL));
	g_assert_true(invite(c[1], "u1", 10, NULL));
	g_assert_false(invite(c[2], "u2", 10, &r));
	g_test_message("%s", r);
	has(r, "u2 NO [LIMIT]");
	hasnt(r, "\n+ ");
	g_free(r);
	finish(c[0], "u0", "0123456789", 10);
	g_assert_true(invite(c[2], "u3", 10, NULL));
	finish(c[2], "u3", "0123456789", 10);
	finish(c[1], "u1", "0123456789", 10);
	for (int i = 0; i < 3; i++)
		imc_close(c[i]);
	imd_stop(d);
}

/* ---- tmp sweep -------------------------------------------------- */

static char *inbox_tmp(struct imd *d)
{
	char *p = g_build_filename(rmh_dir(d->h), "mail", "domains",
				   "example.test", "users", "leak", "mail",
				   "INBOX", "tmp", NULL);

	g_assert_cmpint(g_mkdir_with_parents(p, 0750), ==, 0);
	return p;
}

/* a tmp file `name` in dir whose mtime is `age` seconds ago */
static char *aged_file(const char *dir, const char *name, time_t age)
{
	char *p = g_build_filename(dir, name, NULL);
	struct timespec ts[2];

	g_assert_true(g_file_set_contents(p, "partial", -1, NULL));
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= age;
	ts[1] = ts[0];
	g_assert_cmpint(utimensat(AT_FDCWD, p, ts, 0), ==, 0);
	return p;
}

/* the store's host part of a tmp name */
static char *host_part(void)
{
	char host[64] = "";

	if (gethostname(host, sizeof(host) - 1) < 0)
		strcpy(host, "localhost");
	for (char *p = host; *p != '\0'; p++)
		if (!g_ascii_isalnum(*p) && *p != '-')
			*p = '-';
	return g_strdup(host);
}

static int dead_pid(void)
{
	pid_t pid = fork();

	g_assert_cmpint(pid, >=, 0);
	if (pid == 0)
		_exit(0);
	g_assert_cmpint(waitpid(pid, NULL, 0), ==, pid);
	return (int)pid;
}

static bool gone_within(const char *path, double secs)
{
	for (int i = 0; i < (int)(secs * 50); i++) {
		if (access(path, F_OK) < 0)
			return true;
		g_usleep(20000);
	}
	return access(path, F_OK) < 0;
}

static void test_tmp_swept_at_start(void)
{
	struct imd *d = start(NULL);
	char *dir, *old, *fresh, *dead, *host = host_part(), *name;

	imd_user(d, USER, PASS, 0);
	dir = inbox_tmp(d);
	old = aged_file(dir, "elsewhere.4242.1.tmp", 2 * 3600);
	fresh = aged_file(dir, "elsewhere.4242.2.tmp", 60);
	name = g_strdup_printf("%s.%d.3.tmp", host, dead_pid());
	dead = aged_file(dir, name, 60);
	g_assert_true(rmh_start(d->h));
	g_assert_true(gone_within(old, 5));
	g_assert_true(gone_within(dead, 5));
	g_assert_cmpint(access(fresh, F_OK), ==, 0);
	imd_stop(d);
	g_free(dir);
	g_free(old);
	g_free(fresh);
	g_free(dead);
	g_free(name);
	g_free(host);
}

static void test_tmp_sweep_lease(void)
{
	struct imd *d = start("{\"tmp_sweep_interval\": \"1s\"}");
	char *dir, *old, *lease;
	int fd;

	imd_user(d, USER, PASS, 0);
	dir = inbox_tmp(d);
	old = aged_file(dir, "elsewhere.4242.1.tmp", 2 * 3600);
	/* another process holds the mail root's sweep lease */
	lease = g_build_filename(rmh_dir(d->h), "mail", "sweep.lease", NULL);
	fd = open(lease, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(flock(fd, LOCK_EX), ==, 0);
	g_assert_true(rmh_start(d->h));
	g_usleep(2500000); /* start plus two periods */
	g_assert_cmpint(access(old, F_OK), ==, 0);
	/* the other sweeper is gone: the next period sweeps */
	close(fd);
	g_assert_true(gone_within(old, 5));
	imd_stop(d);
	g_free(dir);
	g_free(old);
	g_free(lease);
}

/* ---- keyword table limit ---------------------------------------- */

static void test_keyword_limit(void)
{
	struct imd *d = start(NULL);
	struct imc *c;
	GString *kw = g_string_new(NULL);
	char *r;

	g_assert_true(rmh_start(d->h));
	imd_user(d, USER, PASS, 0);
	c = imc_login(d, USER, PASS);
	r = imc_ok(c, "APPEND INBOX {5+}\r\nhello");
	g_free(r);
	r = imc_ok(c, "SELECT INBOX");
	has(r, "\\*)]");
	g_free(r);
	for (int i = 0; i < 64; i++)
		g_string_append_printf(kw, "%skw%d", i > 0 ? " " : "", i);
	r = imc_ok(c, "STORE 1 +FLAGS.SILENT (%s)", kw->str);
	g_free(r);
	r = imc_cmd(c, "STORE 1 +FLAGS.SILENT (kw64)");
	g_assert_nonnull(r);
	g_test_message("%s", r);
	has(r, "NO [LIMIT]");
	has(r, "64");
	hasnt(r, "expunged");
	g_free(r);
	/* a keyword already in the table still works */
	r = imc_ok(c, "STORE 1 -FLAGS.SILENT (kw3)");
	g_free(r);
	r = imc_ok(c, "SELECT INBOX");
	has(r, "PERMANENTFLAGS (");
	hasnt(r, "\\*)]");
	g_free(r);
	/* APPEND with a new keyword meets the same limit */
	r = imc_cmd(c, "APPEND INBOX (kw65) {5+}\r\nhello");
	has(r, "NO [LIMIT]");
	g_free(r);
	g_string_free(kw, TRUE);
	imc_close(c);
	imd_stop(d);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/imap/append/abandon-leaks-nothing",
			test_abandon_leaks_nothing);
	g_test_add_func("/imap/append/quota-reserved-while-streaming",
			test_quota_reserved_while_streaming);
	g_test_add_func("/imap/append/delivery-vs-reservation",
			test_delivery_vs_reservation);
	g_test_add_func("/imap/append/uploads-per-user-capped",
			test_uploads_per_user_capped);
	g_test_add_func("/imap/append/tmp-swept-at-start",
			test_tmp_swept_at_start);
	g_test_add_func("/imap/append/tmp-sweep-lease", test_tmp_sweep_lease);
	g_test_add_func("/imap/keywords/limit", test_keyword_limit);
	return g_test_run();
}
