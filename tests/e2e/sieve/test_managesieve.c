/*
 * mod_managesieve (RFC 5804) against the real daemon: Debian's
 * sieve-connect uploads, lists, activates and downloads a script over
 * STARTTLS with AUTHENTICATE PLAIN; a script that does not compile is
 * refused with its line; a wrong password fails.  A raw session checks
 * what the client does not show: no PLAIN before STARTTLS, the script
 * quota, RENAMESCRIPT, DELETESCRIPT of the active script, HAVESPACE.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "harness.h"

#define ALICE "alice@example.test"
#define PW "pw-alice-1"

static struct rmh *H;

static const char VAC[] = "require \"vacation\";\r\n"
			  "vacation :days 3 \"Away until Monday.\";\r\n";

/* sieve-connect with the commands of `cmds`; exit status, output */
static int sieve_connect(const char *pw, const char *cmds, char **out_r)
{
	char *dir = g_build_filename(rmh_dir(H), "sc", NULL);
	char *pwf = g_build_filename(dir, "pw", NULL);
	char *cf = g_build_filename(dir, "cmds", NULL);
	char *sh, *out = NULL, *err = NULL;
	const char *argv[] = {"sh", "-c", NULL, NULL};
	int status = -1;
	GError *e = NULL;

	g_mkdir_with_parents(dir, 0700);
	g_assert_true(g_file_set_contents(pwf, pw, -1, NULL));
	g_assert_true(g_file_set_contents(cf, cmds, -1, NULL));
	sh = g_strdup_printf("cd %s && exec sieve-connect --server 127.0.0.1 "
			     "--port %u --user " ALICE " --authmech PLAIN "
			     "--notlsverify --passwordfd 3 --exec %s 3<%s",
			     dir, rmh_port(H, "sieve"), cf, pwf);
	argv[2] = sh;
	if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
			  NULL, &out, &err, &status, &e))
		g_error("sieve-connect: %s", e->message);
	*out_r = g_strconcat(out, err, NULL);
	g_test_message("sieve-connect:\n%s", *out_r);
	g_free(out);
	g_free(err);
	g_free(sh);
	g_free(cf);
	g_free(pwf);
	g_free(dir);
	return g_spawn_check_wait_status(status, NULL) ? 0 : 1;
}

static char *cli_list(void)
{
	const char *argv[] = {"rmail", "-c",   rmh_config_path(H),
			      "sieve", "list", ALICE,
			      NULL};
	char *out = NULL, *err = NULL;

	g_assert_cmpint(rmh_run_argv(H, argv, NULL, &out, &err), ==, 0);
	g_free(err);
	return out;
}

static void test_sieve_connect(void)
{
	char *dir = g_build_filename(rmh_dir(H), "sc", NULL);
	char *local = g_build_filename(dir, "vac.sieve", NULL);
	char *back = g_build_filename(dir, "back.sieve", NULL);
	char *out, *cmds, *text = NULL, *l;

	g_mkdir_with_parents(dir, 0700);
	g_assert_true(g_file_set_contents(local, VAC, -1, NULL));
	cmds = g_strdup_printf("put %s vacation\nactivate vacation\nlist\n"
			       "get vacation %s\n",
			       local, back);
	g_assert_cmpint(sieve_connect(PW, cmds, &out), ==, 0);
	g_assert_nonnull(strstr(out, "vacation"));
	g_assert_true(g_file_get_contents(back, &text, NULL, NULL));
	g_assert_cmpstr(text, ==, VAC);
	l = cli_list();
	g_assert_nonnull(strstr(l, "vacation ACTIVE"));
	g_free(l);
	g_free(text);
	g_free(out);
	g_free(cmds);
	g_free(back);
	g_free(local);
	g_free(dir);
}

static void test_sieve_connect_invalid(void)
{
	char *dir = g_build_filename(rmh_dir(H), "sc", NULL);
	char *local = g_build_filename(dir, "bad.sieve", NULL);
	char *out, *cmds, *l;

	g_mkdir_with_parents(dir, 0700);
	g_assert_true(g_file_set_contents(
		local, "require \"fileinto\";\r\nfileinto \"x\"\r\n", -1,
		NULL));
	cmds = g_strdup_printf("put %s broken\n", local);
	(void)sieve_connect(PW, cmds, &out);
	g_assert_nonnull(strstr(out, "line"));
	l = cli_list();
	g_assert_null(strstr(l, "broken"));
	g_free(l);
	g_free(out);
	g_free(cmds);
	g_free(local);
	g_free(dir);
}

static void test_sieve_connect_badpw(void)
{
	char *out;

	g_assert_cmpint(sieve_connect("wrong-pw", "list\n", &out), !=, 0);
	g_assert_true(rmh_wait_log(H, "auth_failed", 5));
	g_free(out);
}

/* ---- raw session ----------------------------------------------------- */

/* lines up to and including the OK/NO/BYE one, joined */
static char *resp(struct rmh_conn *c)
{
	GString *s = g_string_new("");
	char *l;

	while ((l = rmh_readline(c, 10)) != NULL) {
		g_string_append_printf(s, "%s\n", l);
		if (g_str_has_prefix(l, "OK") || g_str_has_prefix(l, "NO") ||
		    g_str_has_prefix(l, "BYE")) {
			g_free(l);
			break;
		}
		g_free(l);
	}
	return g_string_free(s, FALSE);
}

static void cmd(struct rmh_conn *c, const char *line, const char *want)
{
	char *r;

	g_assert_true(rmh_send(c, "%s", line));
	r = resp(c);
	if (strstr(r, want) == NULL)
		g_error("%s: want \"%s\", got\n%s", line, want, r);
	g_free(r);
}

static void put(struct rmh_conn *c, const char *name, const char *text,
		const char *want)
{
	char *line = g_strdup_printf("PUTSCRIPT \"%s\" {%zu+}\r\n%s", name,
				     strlen(text), text);

	cmd(c, line, want);
	g_free(line);
}

static void test_raw(void)
{
	struct rmh_conn *c = rmh_connect(rmh_port(H, "sieve"), false);
	char *r, *b64;
	char plain[64];
	size_t n;

	g_assert_nonnull(c);
	r = resp(c);
	g_assert_nonnull(strstr(r, "\"SASL\" \"\""));
	g_assert_nonnull(strstr(r, "\"STARTTLS\""));
	g_assert_nonnull(strstr(r, "fileinto"));
	g_free(r);
	cmd(c, "AUTHENTICATE \"PLAIN\"", "NO (ENCRYPT-NEEDED)");
	cmd(c, "LISTSCRIPTS", "NO");
	cmd(c, "STARTTLS", "OK");
	g_assert_true(rmh_conn_starttls(c));
	r = resp(c); /* the capabilities again (RFC 5804 2.2) */
	g_assert_nonnull(strstr(r, "\"SASL\" \"PLAIN\""));
	g_assert_null(strstr(r, "STARTTLS"));
	g_free(r);
	n = (size_t)g_snprintf(plain, sizeof(plain), "%c%s%c%s", 0, ALICE, 0,
			       PW);
	b64 = g_base64_encode((const guchar *)plain, n);
	r = g_strdup_printf("AUTHENTICATE \"PLAIN\" \"%s\"", b64);
	cmd(c, r, "OK");
	g_free(r);
	g_free(b64);
	/* quota: max_scripts is 3; "vacation" exists already */
	put(c, "one", "keep;\r\n", "OK");
	put(c, "two", "keep;\r\n", "OK");
	put(c, "three", "keep;\r\n", "NO (QUOTA/MAXSCRIPTS)");
	put(c, "one", "discard;\r\n", "OK"); /* a replacement is no new one */
	cmd(c, "HAVESPACE \"three\" 10", "NO (QUOTA/MAXSCRIPTS)");
	cmd(c, "HAVESPACE \"one\" 100000", "NO (QUOTA/MAXSIZE)");
	cmd(c, "HAVESPACE \"one\" 100", "OK");
	cmd(c, "CHECKSCRIPT {7+}\r\nkeep;\r\n", "OK");
	cmd(c, "CHECKSCRIPT \"frobnicate;\"", "NO");
	cmd(c, "SETACTIVE \"one\"", "OK");
	cmd(c, "DELETESCRIPT \"one\"", "NO (ACTIVE)");
	cmd(c, "RENAMESCRIPT \"one\" \"two\"", "NO (ALREADYEXISTS)");
	cmd(c, "RENAMESCRIPT \"one\" \"uno\"", "OK");
	cmd(c, "LISTSCRIPTS", "\"uno\" ACTIVE");
	cmd(c, "GETSCRIPT \"uno\"", "{10}");
	cmd(c, "GETSCRIPT \"nope\"", "NO (NONEXISTENT)");
	cmd(c, "DELETESCRIPT \"two\"", "OK");
	cmd(c, "SETACTIVE \"\"", "OK");
	cmd(c, "DELETESCRIPT \"uno\"", "OK");
	cmd(c, "NOOP \"x1\"", "OK (TAG \"x1\")");
	cmd(c, "LOGOUT", "OK");
	rmh_conn_close(c);
}

int main(int argc, char **argv)
{
	const char *add[] = {
		"rmail", "-c", NULL, "user", "add", ALICE, "--password-stdin",
		NULL};
	char *out = NULL, *err = NULL;
	int rc;

	g_test_init(&argc, &argv, NULL);
	H = rmh_new();
	rmh_set(H, "modules", "[\"mod_shardstore\", \"mod_managesieve\"]");
	rmh_setf(H, "managesieve",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"max_scripts\": 3, "
		 "\"max_script_size\": \"1K\"}",
		 rmh_port(H, "sieve"));
	rmh_write_config(H);
	add[2] = rmh_config_path(H);
	g_assert_cmpint(rmh_run_argv(H, add, PW "\n", &out, &err), ==, 0);
	g_free(out);
	g_free(err);
	g_assert_true(rmh_start(H));
	g_test_add_func("/managesieve/sieve-connect", test_sieve_connect);
	g_test_add_func("/managesieve/sieve-connect-invalid",
			test_sieve_connect_invalid);
	g_test_add_func("/managesieve/sieve-connect-badpw",
			test_sieve_connect_badpw);
	g_test_add_func("/managesieve/raw", test_raw);
	rc = g_test_run();
	g_assert_cmpint(rmh_stop(H), ==, 0);
	rmh_free(H);
	return rc;
}
