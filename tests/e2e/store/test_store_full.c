/*
 * Disk full (issue 13, section 1): the mail root is a 12 MB tmpfs in the
 * test's own mount namespace.  SMTP, API sends and IMAP APPENDs run
 * until each has been refused a few times; then every acknowledged
 * message must be in the store (a mailbox or the queue), every refusal
 * temporary, the daemon up, delivery back once space is freed, and
 * `rmail check-store` clean.  Needs root (CI runs as root): without a
 * mount namespace the test FAILS, it does not skip.
 *
 * Quota: SIZE= over the quota is refused at RCPT (452 4.2.2), a single
 * recipient going over at DATA gets 552 5.2.2, never 250 and a bounce.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "stc.h"

#define A "alice@a.test"
#define B "bob@a.test"
#define PAD (120 * 1024)
#define ROUNDS_MAX 400
#define REFUSALS 3

static char *mail_dir(struct std *s)
{
	return g_build_filename(rmh_dir(s->d.h), "mail", NULL);
}

static void mount_small(struct std *s)
{
	char *dir = mail_dir(s);

	if (mount("tmpfs", dir, "tmpfs", 0, "size=12m,mode=0755") < 0)
		g_error("mount tmpfs on %s: %s", dir, g_strerror(errno));
	g_free(dir);
}

static void grow(struct std *s)
{
	char *dir = mail_dir(s);

	if (mount("tmpfs", dir, "tmpfs", MS_REMOUNT, "size=64m") < 0)
		g_error("remount %s: %s", dir, g_strerror(errno));
	g_free(dir);
}

/* every file below dir into one string (the store is small) */
static void slurp(const char *dir, GString *all)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *n;

	while (d != NULL && (n = g_dir_read_name(d)) != NULL) {
		char *p = g_build_filename(dir, n, NULL);
		char *data = NULL;
		gsize len = 0;

		if (g_file_test(p, G_FILE_TEST_IS_DIR) &&
		    !g_file_test(p, G_FILE_TEST_IS_SYMLINK)) {
			if (strcmp(n, "tmp") != 0)
				slurp(p, all);
		} else if (g_file_get_contents(p, &data, &len, NULL)) {
			g_string_append_len(all, data, (gssize)len);
			g_free(data);
		}
		g_free(p);
	}
	if (d != NULL)
		g_dir_close(d);
}

struct tally {
	GPtrArray *acked; /* subjects acknowledged */
	unsigned refused[3];
};

static void one_smtp(struct std *s, struct tally *t, unsigned i)
{
	const char *rcpts[] = {A, NULL};
	char *subj = g_strdup_printf("tok-smtp-%u", i);
	char *msg = std_message(B, A, subj, PAD);
	int code = std_smtp(s, B, rcpts, NULL, msg, NULL);

	if (code == 250) {
		g_ptr_array_add(t->acked, subj);
		subj = NULL;
	} else {
		g_assert_cmpint(code, >=, 400);
		g_assert_cmpint(code, <, 500);
		t->refused[0]++;
	}
	g_free(subj);
	g_free(msg);
}

static void one_api(struct std *s, struct tally *t, const char *tok, unsigned i)
{
	char *subj = g_strdup_printf("tok-api-%u", i);
	GString *text = g_string_new(NULL);
	char *body;
	struct exresp r;

	while (text->len < PAD)
		g_string_append(text, "0123456789abcdef0123456789abcdef ");
	body = g_strdup_printf("{\"to\":[\"%s\"],\"subject\":\"%s\","
			       "\"text\":\"%s\"}",
			       A, subj, text->str);
	r = ex_req(s->http, false, NULL, "POST", "/api/send", tok, body, NULL);
	if (r.status == 200) {
		/* acknowledged for A only when A is in "sent" */
		json_t *j = exresp_json(&r);

		g_assert_cmpstr(json_string_value(json_array_get(
					json_object_get(j, "sent"), 0)),
				==, A);
		json_decref(j);
		g_ptr_array_add(t->acked, subj);
		subj = NULL;
	} else {
		g_test_message("api: %d %s", r.status, r.body);
		g_assert_cmpint(r.status, ==, 503);
		t->refused[1]++;
	}
	exresp_free(&r);
	g_string_free(text, TRUE);
	g_free(body);
	g_free(subj);
}

static void one_append(struct imc *c, struct tally *t, unsigned i)
{
	char *subj = g_strdup_printf("tok-imap-%u", i);
	char *msg = std_message(A, A, subj, PAD);
	char *r, *tag = g_strdup_printf("ap%u ", i);

	rmh_send(c->c, "ap%u APPEND Archive {%zu+}", i, strlen(msg));
	rmh_send_raw(c->c, msg, strlen(msg));
	rmh_send(c->c, "%s", "");
	r = imc_until(c, tag, 20);
	g_free(tag);
	g_assert_nonnull(r);
	if (strstr(r, " OK") != NULL) {
		g_ptr_array_add(t->acked, subj);
		subj = NULL;
	} else {
		g_test_message("imap: %s", r);
		g_assert_nonnull(strstr(r, " NO [UNAVAILABLE]"));
		t->refused[2]++;
	}
	g_free(r);
	g_free(msg);
	g_free(subj);
}

static void test_full(void)
{
	struct std *s = std_new(false);
	struct tally t = {.acked = g_ptr_array_new_with_free_func(g_free)};
	GString *all = g_string_new(NULL);
	char *tok, *dir, *out = NULL, *err = NULL, *needle;
	struct imc *c;
	unsigned i, missing = 0;
	int st = 0;

	mount_small(s);
	std_user(s, A, 0);
	std_user(s, B, 0);
	std_start(s);
	tok = ex_login(s->http, false, NULL, B, STD_PW, NULL, &st);
	g_assert_nonnull(tok);
	c = imc_login(&s->d, A, STD_PW);
	for (i = 0; i < ROUNDS_MAX &&
		    (t.refused[0] < REFUSALS || t.refused[1] < REFUSALS ||
		     t.refused[2] < REFUSALS);
	     i++) {
		one_smtp(s, &t, i);
		one_api(s, &t, tok, i);
		one_append(c, &t, i);
	}
	g_test_message("%u rounds, %u acknowledged, refused smtp %u api %u "
		       "imap %u",
		       i, t.acked->len, t.refused[0], t.refused[1],
		       t.refused[2]);
	g_assert_cmpuint(t.refused[0], >=, REFUSALS);
	g_assert_cmpuint(t.refused[1], >=, REFUSALS);
	g_assert_cmpuint(t.refused[2], >=, REFUSALS);
	imc_close(c);

	/* every acknowledged message is in a mailbox or the queue */
	dir = mail_dir(s);
	slurp(dir, all);
	for (i = 0; i < t.acked->len; i++) {
		needle = g_strdup_printf("Subject: %s\r\n",
					 (char *)t.acked->pdata[i]);
		/* index files hold NUL bytes: not strstr */
		if (memmem(all->str, all->len, needle, strlen(needle)) ==
		    NULL) {
			missing++;
			g_test_message("acknowledged, not stored: %s",
				       (char *)t.acked->pdata[i]);
		}
		g_free(needle);
	}
	g_assert_cmpuint(missing, ==, 0);

	/* still up, and working again once there is space */
	grow(s);
	one_smtp(s, &t, 9000);
	g_assert_cmpuint(t.refused[0], >=, REFUSALS);
	c = imc_login(&s->d, A, STD_PW);
	one_append(c, &t, 9001);
	imc_close(c);
	one_api(s, &t, tok, 9002);
	g_assert_cmpstr(g_ptr_array_index(t.acked, t.acked->len - 1), ==,
			"tok-api-9002");
	g_assert_cmpstr(g_ptr_array_index(t.acked, t.acked->len - 2), ==,
			"tok-imap-9001");
	g_assert_cmpstr(g_ptr_array_index(t.acked, t.acked->len - 3), ==,
			"tok-smtp-9000");

	g_assert_cmpint(rmh_stop(s->d.h), ==, 0);
	st = rmh_run(s->d.h, &out, &err, "check-store", NULL);
	g_test_message("check-store: %s %s", out, err);
	g_assert_cmpint(st, ==, 0);
	g_free(out);
	g_free(err);
	g_assert_true(rmh_start(s->d.h));
	umount2(dir, MNT_DETACH);
	g_free(dir);
	g_string_free(all, TRUE);
	g_ptr_array_unref(t.acked);
	g_free(tok);
	std_free(s);
}

/* one recipient: the quota is decided before the reply */
static void test_quota(void)
{
	struct std *s = std_new(false);
	const char *rcpts[] = {A, NULL};
	char *msg = std_message(B, A, "big", 1536 * 1024);
	char *line = NULL;
	int code;

	std_user(s, A, 1);
	std_user(s, B, 0);
	std_start(s);
	code = std_smtp(s, B, rcpts, "SIZE=1600000", msg, &line);
	g_assert_cmpint(code, ==, 452);
	g_assert_nonnull(strstr(line, "4.2.2"));
	g_free(line);
	code = std_smtp(s, B, rcpts, NULL, msg, &line);
	g_assert_cmpint(code, ==, 552);
	g_assert_nonnull(strstr(line, "5.2.2"));
	g_free(line);
	/* no bounce to the sender for a refusal it was told about */
	g_usleep(300000);
	g_assert_cmpint(std_count(s, B, "INBOX"), ==, 0);
	g_assert_cmpint(std_count(s, A, "INBOX"), ==, 0);
	g_free(msg);
	std_free(s);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	/* our own mount namespace: the tmpfs is gone with the test */
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		g_error("needs root for a private mount namespace: %s",
			g_strerror(errno));
	g_test_add_func("/store/full", test_full);
	g_test_add_func("/store/quota_one_rcpt", test_quota);
	return g_test_run();
}
