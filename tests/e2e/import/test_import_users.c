/*
 * rmail import passwd / import aliases as real processes, then the real
 * daemon: users migrated with Dovecot hashes log in over IMAP and SMTP
 * AUTH, their hashes become yescrypt at that first login, and mail to an
 * imported alias is delivered.  The hashes come from other tools: the
 * argon2 CLI and Python's hashlib (password "correct horse").
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"

#define DOM "example.test"
#define PW "correct horse"
#define ARGON2ID                                                               \
	"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$EQn6" \
	"ufNBHabX894pCwYhAbItgn5/8i6yNpUQ8CXRFd4"
#define SSHA512                                                                \
	"{SSHA512}ggObOJHDWCqgI5uFv/j9yDNYMvdTgt+Toj8d6cGrSG/"                 \
	"e+E9GbH4DkQ8y5jY3"                                                    \
	"NblhoGens+zNVX1mZaFy0qwRwwECAwQFBgcI"
#define SHA512_CRYPT                                                           \
	"$6$abcdefgh$yIZAF3gQPvtKZO/9qOJKffAKKbtS3ef3qmwyugk4uWVjX8YZf/"       \
	"GV3A8Sk"                                                              \
	"FxEPY0T56CcilGrHKLffBsp6dLMG."

static int run(struct rmh *h, char **out, const char *a1, const char *a2,
	       const char *a3, const char *a4, const char *a5, const char *a6)
{
	const char *argv[] = {
		"rmail", "-c", rmh_config_path(h), "import", a1, a2, a3, a4, a5,
		a6,	 NULL};
	char *err = NULL;
	int rc = rmh_run_argv(h, argv, NULL, out, &err);

	g_test_message("import %s %s: rc %d\n%s%s", a1, a2, rc, *out, err);
	g_free(err);
	return rc;
}

static char *user_json(struct rmh *h, const char *local)
{
	char *p = g_build_filename(rmh_dir(h), "mail", "domains", DOM, "users",
				   local, "user.json", NULL),
	     *text = NULL;

	if (!g_file_get_contents(p, &text, NULL, NULL))
		text = g_strdup("");
	g_free(p);
	return text;
}

static char *line(struct rmh_conn *c)
{
	char *l;

	while ((l = rmh_readline(c, 15)) != NULL) {
		if (strlen(l) < 4 || l[3] != '-')
			return l;
		g_free(l);
	}
	return g_strdup("(EOF)");
}

static void cmd(struct rmh_conn *c, const char *text, const char *want)
{
	char *l;

	g_assert_true(rmh_send(c, "%s", text));
	l = line(c);
	if (!g_str_has_prefix(l, want))
		g_error("%s: expected \"%s\", got \"%s\"", text, want, l);
	g_free(l);
}

/* the tagged answer of one IMAP command */
static char *imap_cmd(struct rmh_conn *c, const char *text, char **untagged)
{
	GString *u = g_string_new(NULL);
	char *l;

	g_assert_true(rmh_send(c, "a %s", text));
	while ((l = rmh_readline(c, 15)) != NULL) {
		if (g_str_has_prefix(l, "a ")) {
			if (untagged != NULL)
				*untagged = g_string_free(u, FALSE);
			else
				g_string_free(u, TRUE);
			return l;
		}
		g_string_append_printf(u, "%s\n", l);
		g_free(l);
	}
	g_string_free(u, TRUE);
	return g_strdup("(EOF)");
}

static struct rmh_conn *imap_login(guint port, const char *user, const char *pw,
				   const char *want)
{
	struct rmh_conn *c = rmh_connect(port, false);
	char *l, *t;

	g_assert_nonnull(c);
	l = rmh_readline(c, 10);
	g_assert_nonnull(l);
	g_free(l);
	t = g_strdup_printf("LOGIN \"%s\" \"%s\"", user, pw);
	l = imap_cmd(c, t, NULL);
	if (!g_str_has_prefix(l, want))
		g_error("LOGIN %s: expected \"%s\", got \"%s\"", user, want, l);
	g_free(l);
	g_free(t);
	return c;
}

static void smtp_auth(guint port, const char *user, const char *pw,
		      const char *want)
{
	struct rmh_conn *c = rmh_connect(port, false);
	GString *s = g_string_new(NULL);
	char *b, *l;

	g_assert_nonnull(c);
	g_free(line(c));
	cmd(c, "EHLO client.test", "250 ");
	cmd(c, "STARTTLS", "220 ");
	g_assert_true(rmh_conn_starttls(c));
	cmd(c, "EHLO client.test", "250 ");
	g_string_append_c(s, '\0');
	g_string_append(s, user);
	g_string_append_c(s, '\0');
	g_string_append(s, pw);
	b = g_base64_encode((const guchar *)s->str, s->len);
	l = g_strdup_printf("AUTH PLAIN %s", b);
	cmd(c, l, want);
	g_free(l);
	g_free(b);
	g_string_free(s, TRUE);
	rmh_conn_close(c);
}

static void test_passwd_then_login(void)
{
	struct rmh *h = rmh_new();
	guint imap = rmh_port(h, "imap"), sub = rmh_port(h, "submission"),
	      mx = rmh_port(h, "smtp");
	char *pwfile, *alfile, *out = NULL, *j, *u = NULL, *r;
	struct rmh_conn *c;
	int i;

	rmh_set(h, "modules",
		"[\"mod_shardstore\", \"mod_imap\", \"mod_smtp\"]");
	rmh_setf(h, "imap",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"allow_cleartext_login_loopback\": true}",
		 imap);
	rmh_setf(h, "smtp",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"submission_listen\": [\"127.0.0.1:%u\"]}",
		 mx, sub);
	rmh_write_config(h);

	pwfile = g_build_filename(rmh_dir(h), "passwd", NULL);
	g_assert_true(g_file_set_contents(
		pwfile,
		"# Dovecot passwd-file\n"
		"alice@" DOM ":" ARGON2ID ":1000:1000::/home/alice::"
		"userdb_quota_rule=*:storage=100M\n"
		"bob:" SSHA512 ":1001:1001::/home/bob::\n"
		"carol:{PLAIN}" PW "::::::userdb_quota_rule=*:storage=2048\n"
		"dave:{CRAM-MD5}e02d374fde0dc75a17a557039a3a5338c7743304777d"
		"ccd376f332bee68d2cf6\n"
		"\n"
		"erin:" SHA512_CRYPT ":19700:0:99999:7:::\n"
		"daemon:*:19700:0:99999:7:::\n",
		-1, NULL));
	/* --dry-run says what it would do and does nothing */
	g_assert_cmpint(run(h, &out, "passwd", pwfile, "--domain", DOM,
			    "--dry-run", NULL),
			==, 1);
	g_assert_nonnull(strstr(out, "would add alice@" DOM " (ARGON2ID, "
				     "quota 100 MB)"));
	g_assert_nonnull(strstr(out, "would add bob@" DOM " (SSHA512)"));
	g_assert_nonnull(strstr(out, "refused line 5 (dave)"));
	g_free(out);
	j = user_json(h, "alice");
	g_assert_cmpstr(j, ==, "");
	g_free(j);

	/* one refused line: exit 1, the others are in */
	g_assert_cmpint(
		run(h, &out, "passwd", pwfile, "--domain", DOM, NULL, NULL), ==,
		1);
	g_assert_nonnull(strstr(out, "added alice@" DOM " (ARGON2ID)"));
	g_assert_nonnull(strstr(out, "added erin@" DOM " (CRYPT)"));
	g_assert_nonnull(strstr(out, "skipped daemon"));
	g_assert_nonnull(strstr(out, "unsupported password scheme"));
	g_assert_nonnull(strstr(out, "added 4 users"));
	g_free(out);
	j = user_json(h, "alice");
	g_assert_nonnull(strstr(j, "$argon2id$"));
	g_assert_nonnull(strstr(j, "\"quota_mb\": 100"));
	g_free(j);
	/* plaintext is hashed at import, never written */
	j = user_json(h, "carol");
	g_assert_null(strstr(j, PW));
	g_assert_nonnull(strstr(j, "$y$"));
	g_assert_nonnull(strstr(j, "\"quota_mb\": 2"));
	g_free(j);
	j = user_json(h, "dave");
	g_assert_cmpstr(j, ==, "");
	g_free(j);
	/* idempotent */
	g_assert_cmpint(
		run(h, &out, "passwd", pwfile, "--domain", DOM, NULL, NULL), ==,
		1);
	g_assert_nonnull(strstr(out, "exists alice@" DOM));
	g_assert_nonnull(strstr(out, "added 0 users, 4 already there"));
	g_free(out);

	/* aliases, Postfix virtual(5) style */
	alfile = g_build_filename(rmh_dir(h), "virtual", NULL);
	g_assert_true(g_file_set_contents(alfile,
					  "# virtual\n"
					  "sales@" DOM "   alice@" DOM ",\n"
					  "\tbob\n"
					  "team  carol, erin@" DOM "\n"
					  "@" DOM " alice@" DOM "\n"
					  "postmaster: \"|/usr/bin/procmail\"\n"
					  "lists: :include:/etc/mail/lists\n",
					  -1, NULL));
	g_assert_cmpint(
		run(h, &out, "aliases", alfile, "--domain", DOM, NULL, NULL),
		==, 1);
	g_assert_nonnull(strstr(out, "added sales@" DOM));
	g_assert_nonnull(strstr(out, "added team@" DOM));
	g_assert_nonnull(strstr(out, "catch-all (@domain) unsupported"));
	g_assert_nonnull(strstr(out, "delivery to a command refused"));
	g_assert_nonnull(strstr(out, ":include: lists refused"));
	g_free(out);
	g_assert_cmpint(
		run(h, &out, "aliases", alfile, "--domain", DOM, NULL, NULL),
		==, 1);
	g_assert_nonnull(strstr(out, "added 0 aliases, 2 already there"));
	g_free(out);

	g_assert_true(rmh_start(h));
	/* argon2id over IMAP, SSHA512 over SMTP AUTH, crypt over IMAP */
	c = imap_login(imap, "alice@" DOM, PW, "a OK");
	rmh_conn_close(c);
	smtp_auth(sub, "bob@" DOM, PW, "235 ");
	c = imap_login(imap, "erin@" DOM, PW, "a OK");
	rmh_conn_close(c);
	c = imap_login(imap, "bob@" DOM, "wrong horse", "a NO");
	rmh_conn_close(c);
	g_assert_true(rmh_wait_log(h, "event=password_rehashed user=bob@", 10));
	for (i = 0; i < 2; i++) {
		const char *who = i == 0 ? "alice" : "bob";

		j = user_json(h, who);
		g_test_message("%s: %s", who, j);
		g_assert_nonnull(strstr(j, "\"$y$"));
		g_assert_null(strstr(j, "argon2"));
		g_assert_null(strstr(j, "SSHA512"));
		g_free(j);
	}
	/* and the new hash lets them in */
	smtp_auth(sub, "alice@" DOM, PW, "235 ");
	c = imap_login(imap, "bob@" DOM, PW, "a OK");
	rmh_conn_close(c);

	/* mail to an imported alias reaches its targets */
	c = rmh_connect(mx, false);
	g_assert_nonnull(c);
	g_free(line(c));
	cmd(c, "EHLO client.test", "250 ");
	cmd(c, "MAIL FROM:<someone@elsewhere.test>", "250 ");
	cmd(c, "RCPT TO:<sales@" DOM ">", "250 ");
	cmd(c, "DATA", "354 ");
	cmd(c, "Subject: to sales\r\n\r\nhello\r\n.", "250 ");
	cmd(c, "QUIT", "221 ");
	rmh_conn_close(c);
	c = imap_login(imap, "bob@" DOM, PW, "a OK");
	for (i = 0; i < 100; i++) {
		r = imap_cmd(c, "STATUS INBOX (MESSAGES)", &u);
		g_free(r);
		if (strstr(u, "MESSAGES 1") != NULL)
			break;
		g_free(u);
		u = NULL;
		g_usleep(100000);
	}
	g_assert_nonnull(u);
	g_free(u);
	rmh_conn_close(c);

	g_assert_cmpint(rmh_stop(h), ==, 0);
	g_free(pwfile);
	g_free(alfile);
	rmh_free(h);
}

/* auth.rehash off keeps the migrated hash; a hash in a scheme rmail
 * cannot check fails the login as unsupported_scheme, not as a wrong
 * password */
static void test_no_rehash_and_unsupported(void)
{
	struct rmh *h = rmh_new();
	guint imap = rmh_port(h, "imap");
	char *pwfile, *out = NULL, *j, *path, *log;
	struct rmh_conn *c;

	rmh_set(h, "modules", "[\"mod_shardstore\", \"mod_imap\"]");
	rmh_setf(h, "imap",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"allow_cleartext_login_loopback\": true}",
		 imap);
	rmh_set(h, "auth", "{\"rehash\": false}");
	/* the cap times the two hash workers is said at start */
	rmh_set(h, "shardstore", "{\"argon2_max_memory_mb\": 600}");
	rmh_write_config(h);
	pwfile = g_build_filename(rmh_dir(h), "passwd", NULL);
	g_assert_true(
		g_file_set_contents(pwfile,
				    "bob:" SSHA512 "\n"
				    "hal:{SHA}L55TUjtiq8FBorTWAZ0jy6g129A=\n",
				    -1, NULL));
	g_assert_cmpint(
		run(h, &out, "passwd", pwfile, "--domain", DOM, NULL, NULL), ==,
		0);
	g_free(out);
	/* hand-edited to a scheme the store does not verify */
	path = g_build_filename(rmh_dir(h), "mail", "domains", DOM, "users",
				"hal", "user.json", NULL);
	g_assert_true(g_file_set_contents(
		path,
		"{\"password_hash\": \"{CRAM-MD5}e02d374fde0dc75a17a557039a3a"
		"5338c7743304777dccd376f332bee68d2cf6\", \"token_gen\": 3}\n",
		-1, NULL));
	g_assert_true(rmh_start(h));
	c = imap_login(imap, "bob@" DOM, PW, "a OK");
	rmh_conn_close(c);
	c = imap_login(imap, "hal@" DOM, PW, "a NO [AUTHENTICATIONFAILED]");
	rmh_conn_close(c);
	g_assert_true(rmh_wait_log(h, "may take up to 1200 MiB at once", 10));
	g_assert_true(rmh_wait_log(h, "reason=unsupported_scheme", 10));
	g_assert_true(rmh_wait_log(h, "{CRAM-MD5} is not supported", 10));
	log = rmh_stderr(h);
	g_assert_null(strstr(log, "user=hal@" DOM " rip=127.0.0.1 "
				  "reason=bad_credentials"));
	g_assert_null(strstr(log, "password_rehashed"));
	g_free(log);
	j = user_json(h, "bob");
	g_assert_nonnull(strstr(j, "{SSHA512}"));
	g_free(j);
	g_assert_cmpint(rmh_stop(h), ==, 0);
	g_free(path);
	g_free(pwfile);
	rmh_free(h);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/e2e/import/passwd-aliases-login",
			test_passwd_then_login);
	g_test_add_func("/e2e/import/no-rehash-unsupported-scheme",
			test_no_rehash_and_unsupported);
	return g_test_run();
}
