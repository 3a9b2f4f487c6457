/*
 * Transient errors are never permanent (issue 13, section 2), and a
 * reply after DATA says what is durable (section 1): the daemon runs
 * with the fault shim (tests/support/faultinj.c) preloaded, each test
 * makes opens, writes or renames below the mail root fail with EMFILE,
 * EIO or ENOSPC, and walks one path of one protocol.  Every refusal must
 * be temporary: SMTP 4xx, IMAP NO [UNAVAILABLE], HTTP 503 -- never 5xx,
 * BAD, a plain or other NO, or a success for mail that was not stored.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "stc.h"

#define A "alice@a.test"
#define B "bob@b.test"
#define C "carol@c.test"

static struct std *start(void)
{
	struct std *s = std_new(true);

	std_user(s, A, 0);
	std_user(s, B, 0);
	std_user(s, C, 0);
	std_start(s);
	return s;
}

/* the daemon may have read carol's record at start-up (postmaster
 * look-up): change its identity so the next look-up opens the file */
static void touch_carol(struct std *s)
{
	char *p = g_build_filename(rmh_dir(s->d.h), "mail", "domains", "c.test",
				   "users", "carol", "user.json", NULL);
	struct timespec ts[2] = {{.tv_sec = 1000000000},
				 {.tv_sec = 1000000000}};

	g_assert_cmpint(utimensat(AT_FDCWD, p, ts, 0), ==, 0);
	g_free(p);
}

static void assert_temp_smtp(int code)
{
	g_assert_cmpint(code, >=, 400);
	g_assert_cmpint(code, <, 500);
}

/* the tagged reply of an IMAP command is OK, or NO [UNAVAILABLE] */
static void assert_ok_or_unavailable(const char *r)
{
	const char *t = strrchr(r, '\n');

	t = t != NULL && t[1] != '\0' ? t + 1 : r;
	if (strstr(r, " OK") != NULL && strstr(r, " NO ") == NULL)
		return;
	g_test_message("imap: %s", r);
	g_assert_nonnull(strstr(r, " NO [UNAVAILABLE]"));
	(void)t;
}

/* RCPT for a local user whose domain cannot be read: 451, not a relay
 * denial or an unknown user */
static void test_rcpt(void)
{
	struct std *s = start();
	const char *rcpts[] = {B, NULL};
	char *msg = std_message(A, B, "rcpt", 100);
	int code;

	std_faults(s, "open EMFILE\n");
	code = std_smtp(s, A, rcpts, NULL, msg, NULL);
	assert_temp_smtp(code);
	std_faults(s, "open EIO\n");
	code = std_smtp(s, A, rcpts, NULL, msg, NULL);
	assert_temp_smtp(code);
	std_faults(s, "");
	g_assert_cmpint(std_smtp(s, A, rcpts, NULL, msg, NULL), ==, 250);
	g_assert_cmpint(std_count(s, B, "INBOX"), ==, 1);
	g_free(msg);
	std_free(s);
}

/* after a good RCPT neither the mailbox nor the queue can be written:
 * the end of DATA is 451 (452 when the disk is full), never 250 */
static void test_data(void)
{
	struct std *s = start();
	const char *rcpts[] = {A, NULL};
	char *msg = std_message(B, A, "data", 2000);

	/* one good delivery: the recipient's lookups are cached */
	g_assert_cmpint(std_smtp(s, B, rcpts, NULL, msg, NULL), ==, 250);
	g_assert_cmpint(std_count(s, A, "INBOX"), ==, 1);
	std_faults(s, "open EMFILE match=/INBOX/tmp/\n"
		      "open EMFILE match=/queue/\n");
	assert_temp_smtp(std_smtp(s, B, rcpts, NULL, msg, NULL));
	std_faults(s, "write ENOSPC\n");
	g_assert_cmpint(std_smtp(s, B, rcpts, NULL, msg, NULL), ==, 452);
	std_faults(s, "rename EIO\n");
	assert_temp_smtp(std_smtp(s, B, rcpts, NULL, msg, NULL));
	std_faults(s, "");
	g_assert_cmpint(std_count(s, A, "INBOX"), ==, 1);
	g_assert_cmpint(std_smtp(s, B, rcpts, NULL, msg, NULL), ==, 250);
	g_assert_cmpint(std_count(s, A, "INBOX"), ==, 2);
	g_free(msg);
	std_free(s);
}

/* two recipients, one stored, the other neither stored nor queued: the
 * transaction is refused and the stored copy is kept; the sender's retry
 * makes it a duplicate for that recipient (docs/delivery.md) */
static void test_data_partial(void)
{
	struct std *s = start();
	const char *rcpts[] = {A, B, NULL};
	char *msg = std_message(C, A, "partial", 2000);
	char *line = NULL;

	g_assert_cmpint(std_count(s, A, "INBOX"), ==, 0);
	g_assert_cmpint(std_count(s, B, "INBOX"), ==, 0);
	std_faults(s, "write ENOSPC match=/b.test/\n"
		      "write ENOSPC match=/queue/\n");
	g_assert_cmpint(std_smtp(s, C, rcpts, NULL, msg, &line), ==, 452);
	g_assert_nonnull(strstr(line, "4.3.1"));
	g_free(line);
	std_faults(s, "");
	g_assert_cmpint(std_count(s, A, "INBOX"), ==, 1);
	g_assert_cmpint(std_count(s, B, "INBOX"), ==, 0);
	g_assert_cmpint(std_smtp(s, C, rcpts, NULL, msg, NULL), ==, 250);
	g_assert_cmpint(std_count(s, A, "INBOX"), ==, 2);
	g_assert_cmpint(std_count(s, B, "INBOX"), ==, 1);
	g_free(msg);
	std_free(s);
}

/* LOGIN while the user record cannot be read: UNAVAILABLE, not a
 * failed authentication */
static void test_imap_login(void)
{
	struct std *s = start();
	struct imc *c;
	char *r;

	touch_carol(s);
	std_faults(s, "open EIO\n");
	c = imc_connect(&s->d, false, NULL);
	/* more than auth_fail_disconnect: a busy store is no failure */
	for (int i = 0; i < 5; i++) {
		r = imc_cmd(c, "LOGIN \"%s\" \"%s\"", C, STD_PW);
		g_test_message("imap: %s", r);
		g_assert_nonnull(strstr(r, " NO [UNAVAILABLE]"));
		g_assert_null(strstr(r, "BYE"));
		g_free(r);
	}
	std_faults(s, "");
	r = imc_cmd(c, "LOGIN \"%s\" \"%s\"", C, STD_PW);
	g_assert_nonnull(strstr(r, " OK"));
	g_free(r);
	imc_close(c);
	g_assert_cmpint(std_count(s, C, "INBOX"), ==, 0);
	std_free(s);
}

/* SELECT, STATUS, CREATE and APPEND of a logged-in user */
static void test_imap_mailbox(void)
{
	struct std *s = start();
	struct imc *c = imc_login(&s->d, A, STD_PW);
	const char *msg = "Subject: x\r\n\r\nhello\r\n";
	char *r;

	std_faults(s, "open EMFILE\n");
	r = imc_cmd(c, "STATUS Archive (MESSAGES)");
	assert_ok_or_unavailable(r);
	g_free(r);
	r = imc_cmd(c, "SELECT Archive");
	assert_ok_or_unavailable(r);
	g_free(r);
	r = imc_cmd(c, "CREATE Projects");
	assert_ok_or_unavailable(r);
	g_assert_null(strstr(r, " OK"));
	g_free(r);
	rmh_send(c->c, "a1 APPEND INBOX {%zu+}", strlen(msg));
	rmh_send_raw(c->c, msg, strlen(msg));
	rmh_send(c->c, "%s", "");
	r = imc_until(c, "a1 ", 10);
	g_test_message("imap: %s", r);
	g_assert_nonnull(strstr(r, "a1 NO [UNAVAILABLE]"));
	g_free(r);
	std_faults(s, "write ENOSPC\n");
	rmh_send(c->c, "a2 APPEND INBOX {%zu+}", strlen(msg));
	rmh_send_raw(c->c, msg, strlen(msg));
	rmh_send(c->c, "%s", "");
	r = imc_until(c, "a2 ", 10);
	g_test_message("imap: %s", r);
	g_assert_nonnull(strstr(r, "a2 NO [UNAVAILABLE]"));
	g_free(r);
	std_faults(s, "");
	r = imc_ok(c, "SELECT INBOX");
	g_free(r);
	imc_close(c);
	std_free(s);
}

/* the API: login, reading, sending */
static void test_api(void)
{
	struct std *s = start();
	char *tok, *body;
	struct exresp r;
	int st = 0;

	tok = ex_login(s->http, false, NULL, A, STD_PW, NULL, &st);
	g_assert_nonnull(tok);
	touch_carol(s);
	std_faults(s, "open EIO\n");
	g_assert_null(ex_login(s->http, false, NULL, C, STD_PW, NULL, &st));
	g_assert_cmpint(st, ==, 503);
	body = g_strdup_printf("{\"to\":[\"%s\"],\"subject\":\"api\","
			       "\"text\":\"hello\"}",
			       B);
	r = ex_req(s->http, false, NULL, "POST", "/api/send", tok, body, NULL);
	g_test_message("api send: %d %s", r.status, r.body);
	g_assert_cmpint(r.status, ==, 503);
	exresp_free(&r);
	std_faults(s,
		   "open EMFILE match=/domains/\nopen EMFILE match=/queue/\n");
	r = ex_req(s->http, false, NULL, "POST", "/api/send", tok, body, NULL);
	g_test_message("api send: %d %s", r.status, r.body);
	g_assert_cmpint(r.status, ==, 503);
	exresp_free(&r);
	r = ex_req(s->http, false, NULL, "GET", "/api/folders/Archive/messages",
		   tok, NULL, NULL);
	g_test_message("api list: %d %s", r.status, r.body);
	g_assert_true(r.status == 200 || r.status == 503);
	exresp_free(&r);
	std_faults(s, "");
	g_assert_cmpint(std_count(s, B, "INBOX"), ==, 0);
	r = ex_req(s->http, false, NULL, "POST", "/api/send", tok, body, NULL);
	g_assert_cmpint(r.status, ==, 200);
	exresp_free(&r);
	g_assert_cmpint(std_count(s, B, "INBOX"), ==, 1);
	g_free(body);
	g_free(tok);
	std_free(s);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/fault/smtp/rcpt", test_rcpt);
	g_test_add_func("/fault/smtp/data", test_data);
	g_test_add_func("/fault/smtp/data_partial", test_data_partial);
	g_test_add_func("/fault/imap/login", test_imap_login);
	g_test_add_func("/fault/imap/mailbox", test_imap_mailbox);
	g_test_add_func("/fault/api", test_api);
	return g_test_run();
}
