/*
 * rmail import imap from Debian's dovecot-imapd: a private Dovecot on a
 * loopback port with a generated config (passwd-file users, Maildir in
 * a temporary directory; started as root it runs its login and mail
 * processes as dovenull/dovecot, else as the current user), filled over
 * IMAP, imported into a running rmail and compared as a client sees
 * both: UIDVALIDITY, UIDs, flags, keywords, dates, sizes and bytes, in
 * folders with modified UTF-7 names under Dovecot's "." delimiter, and
 * subscriptions.  A missing Dovecot fails the test.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../imap/imap_client.h"

#define SRC "alice@example.test"
#define DST "dst@example.test"
#define PW "pw-secret"

struct dove {
	char *dir;
	guint port;
	GPid pid;
};

static guint free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	guint port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_assert_cmpint(bind(fd, (struct sockaddr *)&a, sizeof(a)), ==, 0);
	getsockname(fd, (struct sockaddr *)&a, &len);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static const char *dovecot_bin(void)
{
	if (access("/usr/sbin/dovecot", X_OK) == 0)
		return "/usr/sbin/dovecot";
	g_error("dovecot is not installed (scripts/deps.sh installs "
		"dovecot-imapd)");
	return NULL;
}

/* a failed assertion must not leave a Dovecot behind */
static void die_with_parent(gpointer data)
{
	(void)data;
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static void dove_start(struct dove *d)
{
	GError *err = NULL;
	const char *login, *internal, *group;
	char *conf, *text, *users, *mail;
	uid_t uid = getuid();
	gid_t gid = getgid();
	struct passwd *pw;
	struct group *gr;
	const char *argv[] = {dovecot_bin(), "-c", NULL, "-F", NULL};

	d->dir = g_dir_make_tmp("rmail-dovecot-XXXXXX", &err);
	g_assert_no_error(err);
	d->port = free_port();
	mail = g_build_filename(d->dir, "mail", NULL);
	g_assert_cmpint(g_mkdir(mail, 0700), ==, 0);
	if (geteuid() == 0) {
		/* Dovecot runs no login or mail process as root */
		pw = getpwnam("dovecot");
		g_assert_nonnull(pw);
		g_assert_nonnull(getpwnam("dovenull"));
		login = "dovenull";
		internal = "dovecot";
		gr = getgrgid(pw->pw_gid);
		g_assert_nonnull(gr);
		group = gr->gr_name;
		uid = pw->pw_uid;
		gid = pw->pw_gid;
		g_assert_cmpint(chown(mail, uid, gid), ==, 0);
		g_assert_cmpint(chmod(d->dir, 0755), ==, 0);
	} else {
		pw = getpwuid(uid);
		gr = getgrgid(gid);
		g_assert_nonnull(pw);
		g_assert_nonnull(gr);
		login = internal = pw->pw_name;
		group = gr->gr_name;
	}
	users = g_build_filename(d->dir, "users", NULL);
	g_assert_true(
		g_file_set_contents(users, SRC ":{PLAIN}" PW "\n", -1, NULL));
	g_assert_cmpint(chmod(users, 0644), ==, 0);
	text = g_strdup_printf(
		"protocols = imap\n"
		"listen = 127.0.0.1\n"
		"base_dir = %s/run\n"
		"state_dir = %s/state\n"
		"log_path = %s/dovecot.log\n"
		"ssl = no\n"
		"disable_plaintext_auth = no\n"
		"auth_mechanisms = plain login\n"
		"default_login_user = %s\n"
		"default_internal_user = %s\n"
		"default_internal_group = %s\n"
		"first_valid_uid = 0\n"
		"first_valid_gid = 0\n"
		"mail_location = maildir:%s/%%n\n"
		"passdb {\n  driver = passwd-file\n"
		"  args = scheme=PLAIN username_format=%%u %s\n}\n"
		"userdb {\n  driver = static\n"
		"  args = uid=%u gid=%u home=%s/%%n\n}\n"
		"service imap-login {\n  chroot =\n"
		"  inet_listener imap {\n    port = %u\n  }\n"
		"  inet_listener imaps {\n    port = 0\n  }\n}\n"
		"service anvil {\n  chroot =\n}\n"
		"service auth {\n  user = %s\n}\n",
		d->dir, d->dir, d->dir, login, internal, group, mail, users,
		(unsigned)uid, (unsigned)gid, mail, d->port, internal);
	conf = g_build_filename(d->dir, "dovecot.conf", NULL);
	g_assert_true(g_file_set_contents(conf, text, -1, NULL));
	argv[2] = conf;
	g_assert_true(g_spawn_async(NULL, (char **)argv, NULL,
				    G_SPAWN_DO_NOT_REAP_CHILD |
					    G_SPAWN_STDOUT_TO_DEV_NULL |
					    G_SPAWN_STDERR_TO_DEV_NULL,
				    die_with_parent, NULL, &d->pid, &err));
	g_assert_no_error(err);
	/* up when it accepts */
	for (int i = 0; i < 100; i++) {
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_port = htons((uint16_t)d->port)};
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		int rc;

		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
		close(fd);
		if (rc == 0)
			break;
		g_usleep(50000);
		g_assert_cmpint(i, <, 99);
	}
	g_free(text);
	g_free(conf);
	g_free(users);
	g_free(mail);
}

static void dove_stop(struct dove *d)
{
	int st;
	char *log = g_build_filename(d->dir, "dovecot.log", NULL), *text;

	kill(d->pid, SIGTERM);
	waitpid(d->pid, &st, 0);
	g_spawn_close_pid(d->pid);
	if (g_file_get_contents(log, &text, NULL, NULL)) {
		g_test_message("dovecot.log:\n%s", text);
		g_free(text);
	}
	g_free(log);
	{
		char *cmd = g_strdup_printf("rm -rf '%s'", d->dir);

		(void)!system(cmd);
		g_free(cmd);
	}
	g_free(d->dir);
}

static struct imc *login(guint port, const char *user)
{
	struct imc *c = g_new0(struct imc, 1);
	char *g, *r;

	c->c = rmh_connect(port, false);
	g_assert_nonnull(c->c);
	/* Dovecot may say "waiting for authentication" first */
	g = imc_until(c, "* OK [CAPABILITY", 10);
	g_assert_nonnull(g);
	g_free(g);
	r = imc_ok(c, "LOGIN \"%s\" \"%s\"", user, PW);
	g_free(r);
	return c;
}

static void append(struct imc *c, const char *mbox, const char *flags,
		   const char *date, const char *msg)
{
	char *r = imc_ok(c, "APPEND \"%s\" (%s) \"%s\" {%zu+}\r\n%s", mbox,
			 flags, date, strlen(msg), msg);

	g_free(r);
}

/* as in test_import_imap.c: UIDVALIDITY and every message */
static char *snapshot(guint port, const char *user, const char *mbox)
{
	struct imc *c = login(port, user);
	char *r = imc_ok(c, "EXAMINE \"%s\"", mbox), *uv, *f, *end, *x, *out;
	GString *s = g_string_new(NULL);

	uv = strstr(r, "[UIDVALIDITY ");
	g_assert_nonnull(uv);
	g_string_append_len(s, uv, (gssize)(strchr(uv, ']') - uv + 1));
	g_string_append_c(s, '\n');
	g_free(r);
	f = imc_ok(c, "UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE "
		      "BODY.PEEK[])");
	end = strrchr(f, '\n');
	if (end != NULL) {
		*end = '\0';
		end = strrchr(f, '\n');
		if (end != NULL)
			end[1] = '\0';
		else
			f[0] = '\0';
	}
	g_string_append(s, f);
	g_free(f);
	imc_close(c);
	out = g_string_free(s, FALSE);
	while ((x = strstr(out, "\\Recent")) != NULL)
		memmove(x, x + 7, strlen(x + 7) + 1);
	while ((x = strstr(out, "  ")) != NULL)
		memmove(x, x + 1, strlen(x + 1) + 1);
	while ((x = strstr(out, "( ")) != NULL)
		memmove(x + 1, x + 2, strlen(x + 2) + 1);
	while ((x = strstr(out, " )")) != NULL)
		memmove(x, x + 1, strlen(x + 1) + 1);
	return out;
}

static void same(guint sport, const char *smbox, guint dport, const char *dmbox)
{
	char *a = snapshot(sport, SRC, smbox), *b = snapshot(dport, DST, dmbox);

	if (strcmp(a, b) != 0)
		g_error("%s differs:\n--- dovecot\n%.3000s\n--- rmail\n%.3000s",
			dmbox, a, b);
	g_assert_nonnull(strstr(a, "FETCH"));
	g_free(a);
	g_free(b);
}

static int import(struct imd *dst, guint port, char **out_r)
{
	char *pw = g_build_filename(rmh_dir(dst->h), "pw", NULL);
	char portstr[16], *out = NULL, *err = NULL;
	const char *argv[] = {"rmail",	   "-c",     rmh_config_path(dst->h),
			      "import",	   "imap",   "--host",
			      "127.0.0.1", "--port", portstr,
			      "--user",	   SRC,	     "--password-file",
			      pw,	   DST,	     NULL};
	int rc;

	snprintf(portstr, sizeof(portstr), "%u", port);
	g_assert_true(g_file_set_contents(pw, PW "\n", -1, NULL));
	rc = rmh_run_argv(dst->h, argv, NULL, &out, &err);
	g_test_message("import -> %d\n%s%s", rc, out, err);
	*out_r = g_strconcat(out, err, NULL);
	g_free(out);
	g_free(err);
	g_free(pw);
	return rc;
}

static void test_dovecot(void)
{
	struct dove d;
	struct imd *dst;
	struct imc *c;
	char *r, *out;

	dove_start(&d);
	c = login(d.port, SRC);
	append(c, "INBOX", "\\Seen", "01-Feb-2020 10:00:00 +0000",
	       "From: a@x\r\nMessage-ID: <1@x>\r\nSubject: "
	       "one\r\n\r\nbody\r\n");
	append(c, "INBOX", "\\Answered \\Flagged $Label1 Important",
	       "15-Mar-2021 23:59:59 -0700",
	       "From: b@x\r\nSubject: two\r\n\r\nno id\r\n");
	r = imc_ok(c, "CREATE \"Caf&AOk-.&ANw-ber\"");
	g_free(r);
	r = imc_ok(c, "SUBSCRIBE \"Caf&AOk-.&ANw-ber\"");
	g_free(r);
	r = imc_ok(c, "CREATE \"Work\"");
	g_free(r);
	append(c, "Caf&AOk-.&ANw-ber", "\\Draft $Todo",
	       "29-Feb-2024 00:00:01 +0530",
	       "From: c@x\r\nSubject: caf\xc3\xa9\r\n\r\n\xc3\xbc\r\n");
	append(c, "Work", "", "02-Jan-2019 08:00:00 +0100",
	       "From: d@x\r\nSubject: w\r\n\r\nwork\r\n");
	imc_close(c);

	dst = imd_start("\"allow_cleartext_login_loopback\": true");
	imd_user(dst, DST, PW, 0);
	g_assert_cmpint(import(dst, d.port, &out), ==, 0);
	g_assert_nonnull(strstr(out, "imported 4 messages"));
	g_free(out);
	same(d.port, "INBOX", dst->port, "INBOX");
	same(d.port, "Caf&AOk-.&ANw-ber", dst->port, "Caf&AOk-/&ANw-ber");
	same(d.port, "Work", dst->port, "Work");
	c = imc_login(dst, DST, PW);
	r = imc_ok(c, "LSUB \"\" \"*\"");
	has(r, "\"Caf&AOk-/&ANw-ber\"");
	g_free(r);
	imc_close(c);
	/* again: nothing new */
	g_assert_cmpint(import(dst, d.port, &out), ==, 0);
	g_assert_nonnull(strstr(out, "imported 0 messages"));
	g_assert_nonnull(strstr(out, "4 already there"));
	g_free(out);
	imd_stop(dst);
	dove_stop(&d);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/import/imap/dovecot", test_dovecot);
	return g_test_run();
}
