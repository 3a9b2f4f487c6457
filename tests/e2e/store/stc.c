/* Helpers of the issue-13 tests (see stc.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stc.h"

struct std *std_new(bool faults)
{
	struct std *s = g_new0(struct std, 1);
	struct rmh *h = rmh_new();

	s->d.h = h;
	s->d.port = rmh_port(h, "imap");
	s->d.tls_port = rmh_port(h, "imaps");
	s->smtp = rmh_port(h, "smtp");
	s->http = rmh_port(h, "http");
	rmh_set(h, "modules",
		"[\"mod_shardstore\", \"mod_imap\", \"mod_smtp\", "
		"\"mod_exchange\"]");
	rmh_setf(h, "imap",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"imaps_listen\": [\"127.0.0.1:%u\"], "
		 "\"allow_cleartext_login_loopback\": true}",
		 s->d.port, s->d.tls_port);
	rmh_setf(h, "smtp",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"submission_listen\": [], "
		 "\"smtps_listen\": []}",
		 s->smtp);
	rmh_setf(h, "exchange_api",
		 "{\"listen\": [\"127.0.0.1:%u\"], \"tls_listen\": []}",
		 s->http);
	/* port 25 is the tests' injection path here, not what they test:
	 * no SPF/DKIM/DMARC (their From: is a local domain) */
	rmh_set(h, "mailauth", "{\"inbound\": false}");
	rmh_set(h, "shutdown_timeout", "1");
	rmh_write_config(h);
	if (faults)
		s->ctl = g_build_filename(rmh_dir(h), "faults", NULL);
	return s;
}

void std_user(struct std *s, const char *addr, int quota_mb)
{
	imd_user(&s->d, addr, STD_PW, quota_mb);
}

void std_start(struct std *s)
{
	char *root, *asan = NULL;
	const char *old = g_getenv("ASAN_OPTIONS");

	if (s->ctl == NULL) {
		g_assert_true(rmh_start(s->d.h));
		return;
	}
	root = g_build_filename(rmh_dir(s->d.h), "mail", NULL);
	std_faults(s, "");
	/* the shim comes before the sanitizer runtime in the link order */
	asan = g_strdup_printf("%s%sverify_asan_link_order=0",
			       old != NULL ? old : "",
			       old != NULL && old[0] != '\0' ? ":" : "");
	g_setenv("ASAN_OPTIONS", asan, TRUE);
	g_setenv("LD_PRELOAD", RMFAULT_PATH, TRUE);
	g_setenv("RMAIL_FAULT_CTL", s->ctl, TRUE);
	g_setenv("RMAIL_FAULT_ROOT", root, TRUE);
	g_assert_true(rmh_start(s->d.h));
	g_unsetenv("LD_PRELOAD");
	g_unsetenv("RMAIL_FAULT_CTL");
	g_unsetenv("RMAIL_FAULT_ROOT");
	if (old != NULL)
		g_setenv("ASAN_OPTIONS", old, TRUE);
	else
		g_unsetenv("ASAN_OPTIONS");
	g_free(asan);
	g_free(root);
}

void std_free(struct std *s)
{
	std_faults(s, "");
	g_assert_cmpint(rmh_stop(s->d.h), ==, 0);
	rmh_free(s->d.h);
	g_free(s->ctl);
	g_free(s);
}

void std_faults(struct std *s, const char *rules)
{
	if (s->ctl == NULL)
		return;
	/* a new file each time (rename): the shim sees the change */
	g_assert_true(g_file_set_contents(s->ctl, rules, -1, NULL));
}

static int code_of(const char *line)
{
	return line != NULL && strlen(line) >= 3 ? atoi(line) : -1;
}

/* the last line of a (multi-line) reply */
static char *reply(struct rmh_conn *c)
{
	char *l;

	for (;;) {
		l = rmh_readline(c, 20);
		if (l == NULL || strlen(l) < 4 || l[3] != '-')
			return l;
		g_free(l);
	}
}

int std_smtp(struct std *s, const char *from, const char *const *rcpts,
	     const char *mail_params, const char *body, char **line_r)
{
	struct rmh_conn *c = rmh_connect(s->smtp, false);
	char *l = NULL;
	int code = -1, ok = 0;
	size_t i;

	g_assert_nonnull(c);
	l = reply(c);
	g_free(l);
	rmh_send(c, "EHLO client.test");
	l = reply(c);
	g_free(l);
	rmh_send(c, "MAIL FROM:<%s>%s%s", from, mail_params ? " " : "",
		 mail_params ? mail_params : "");
	l = reply(c);
	code = code_of(l);
	if (code != 250)
		goto out;
	for (i = 0; rcpts[i] != NULL; i++) {
		rmh_send(c, "RCPT TO:<%s>", rcpts[i]);
		g_free(l);
		l = reply(c);
		code = code_of(l);
		if (code != 250)
			goto out;
		ok++;
	}
	rmh_send(c, "DATA");
	g_free(l);
	l = reply(c);
	code = code_of(l);
	if (code != 354)
		goto out;
	rmh_send_raw(c, body, strlen(body));
	rmh_send(c, ".");
	g_free(l);
	l = reply(c);
	code = code_of(l);
out:
	g_test_message("smtp: %s", l != NULL ? l : "(eof)");
	rmh_send(c, "QUIT");
	rmh_conn_close(c);
	if (line_r != NULL)
		*line_r = l;
	else
		g_free(l);
	(void)ok;
	return code;
}

int std_count(struct std *s, const char *user, const char *mbox)
{
	struct imc *c = imc_login(&s->d, user, STD_PW);
	char *r = imc_cmd(c, "STATUS \"%s\" (MESSAGES)", mbox);
	const char *p = r != NULL ? strstr(r, "(MESSAGES ") : NULL;
	int n = p != NULL ? atoi(p + 10) : -1;

	g_free(r);
	imc_close(c);
	return n;
}

char *std_message(const char *from, const char *to, const char *subject,
		  size_t pad)
{
	GString *m = g_string_new(NULL);
	size_t i;

	g_string_append_printf(m,
			       "From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n"
			       "Message-ID: <%s@client.test>\r\n\r\n",
			       from, to, subject, subject);
	for (i = 0; i < pad; i += 76)
		g_string_append(m, "0123456789012345678901234567890123456789"
				   "01234567890123456789012345678901234\r\n");
	g_string_append_printf(m, "end of %s\r\n", subject);
	return g_string_free(m, FALSE);
}
