/*
 * SMTP smuggling in both directions, against the real daemon
 * (mod_shardstore + mod_smtp) with a sink SMTP server on loopback as
 * the next hop of remote.test.
 *
 * In: DATA and BDAT follow one rule, a bare CR or bare LF anywhere in
 * the content gets 521 5.5.2 and the connection closes; a CR ending one
 * BDAT chunk and an LF starting the next is a CRLF.
 *
 * Out: whatever a queue entry holds (entries written before the rule,
 * seeded here with the core's own queue code), the client puts only
 * canonical CRLF lines on the wire and dot-stuffs every line starting
 * with ".".  Every accepted message is compared byte for byte with
 * what the sink received.
 */
#include <fcntl.h>
#include <glib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "rm.h"
#include "sink.h"
#include "submit/submit_int.h"

#define DOM "example.test"
#define ALICE "alice@" DOM
#define PW "secret-pw"
#define HDR "From: " ALICE "\r\n"

static struct rmh *H;

/* ---- the sink side -------------------------------------------------- */

/* the raw DATA the sink got for rcpt, waiting for it; NULL when none */
static char *sink_for(const char *rcpt, double timeout)
{
	char *want = g_strdup_printf("<%s>", rcpt);
	gint64 end = g_get_monotonic_time() + (gint64)(timeout * 1e6);

	do {
		for (guint i = 0; i < sink_count(); i++) {
			char *r = sink_rcpts(i);
			gboolean hit = strcmp(r, want) == 0;

			g_free(r);
			if (hit) {
				g_free(want);
				return sink_raw(i);
			}
		}
		g_usleep(10000);
	} while (g_get_monotonic_time() < end);
	g_free(want);
	return NULL;
}

/* every CR is followed by LF and every LF preceded by CR */
static gboolean canonical(const char *s)
{
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '\r' && p[1] != '\n')
			return FALSE;
		if (*p == '\n' && (p == s || p[-1] != '\r'))
			return FALSE;
	}
	return TRUE;
}

static char *printable(const char *s)
{
	return g_strescape(s, NULL);
}

static void assert_wire(const char *name, const char *got, const char *tail)
{
	if (got == NULL)
		g_error("%s: the sink got nothing", name);
	if (!canonical(got) || !g_str_has_suffix(got, tail)) {
		char *a = printable(got), *b = printable(tail);

		g_error("%s: the sink got \"%s\", want it to end with \"%s\"",
			name, a, b);
	}
}

/* ---- the client side ------------------------------------------------ */

static char *reply(struct rmh_conn *c)
{
	char *line;

	while ((line = rmh_readline(c, 10)) != NULL) {
		if (strlen(line) < 4 || line[3] != '-')
			return line;
		g_free(line);
	}
	return NULL;
}

static void expect(struct rmh_conn *c, const char *prefix)
{
	char *l = reply(c);

	if (l == NULL || !g_str_has_prefix(l, prefix))
		g_error("expected \"%s\", got \"%s\"", prefix,
			l != NULL ? l : "(EOF)");
	g_free(l);
}

static void cmd(struct rmh_conn *c, const char *prefix, const char *line)
{
	g_assert_true(rmh_send(c, "%s", line));
	expect(c, prefix);
}

/* implicit TLS, AUTH PLAIN as alice, MAIL and one RCPT */
static struct rmh_conn *open_tx(const char *rcpt)
{
	struct rmh_conn *c = rmh_connect(rmh_port(H, "smtps"), true);
	GString *s = g_string_new(NULL);
	char *b, *line;

	g_assert_nonnull(c);
	expect(c, "220 ");
	cmd(c, "250 ", "EHLO client.test");
	g_string_append_c(s, '\0');
	g_string_append(s, ALICE);
	g_string_append_c(s, '\0');
	g_string_append(s, PW);
	b = g_base64_encode((const guchar *)s->str, s->len);
	line = g_strdup_printf("AUTH PLAIN %s", b);
	cmd(c, "235 ", line);
	g_free(line);
	g_free(b);
	g_string_free(s, TRUE);
	cmd(c, "250 ", "MAIL FROM:<" ALICE ">");
	line = g_strdup_printf("RCPT TO:<%s>", rcpt);
	cmd(c, "250 ", line);
	g_free(line);
	return c;
}

/* BDAT: the chunks in order (NULL-terminated, the last one LAST).
 * Returns the first reply that is not a chunk's 250 (free it). */
static char *send_bdat(struct rmh_conn *c, const char *const *chunks)
{
	for (size_t i = 0; chunks[i] != NULL; i++) {
		gboolean last = chunks[i + 1] == NULL;
		size_t n = strlen(chunks[i]);
		char *l;

		g_assert_true(
			rmh_send(c, "BDAT %zu%s", n, last ? " LAST" : ""));
		g_assert_true(rmh_send_raw(c, chunks[i], n));
		l = reply(c);
		if (l == NULL)
			return g_strdup("(EOF)");
		if (last || !g_str_has_prefix(l, "250 "))
			return l;
		g_free(l);
	}
	g_assert_not_reached();
}

static char *send_data(struct rmh_conn *c, const char *content)
{
	cmd(c, "354 ", "DATA");
	g_assert_true(rmh_send_raw(c, content, strlen(content)));
	return reply(c);
}

/* ---- cases ------------------------------------------------------------- */

struct in_case {
	const char *name;
	gboolean bdat;
	const char *chunks[5]; /* DATA: chunks[0] with its CRLF.CRLF */
	/* NULL: refused with 521 5.5.2; else the exact end of what the
	 * next hop receives (the content as sent, stuffed, then ".") */
	const char *wire;
};

#define REFUSED NULL

static const struct in_case in_cases[] = {
	/* the reported one: a second transaction smuggled behind \r.\r */
	{"bdat-cr-dot-cr",
	 TRUE,
	 {HDR "\r\nhello\r.\r\nMAIL FROM:<alice@example.test>\r\n"},
	 REFUSED},
	{"data-cr-dot-cr",
	 FALSE,
	 {HDR "\r\nhello\r.\r\nMAIL FROM:<x@y>\r\n\r\n.\r\n"},
	 REFUSED},
	{"bdat-lf-dot-lf", TRUE, {HDR "\r\nhello\n.\nmore\r\n"}, REFUSED},
	{"data-lf-dot-lf", FALSE, {HDR "\r\nhello\n.\nx\r\n.\r\n"}, REFUSED},
	{"bdat-lf-dot-crlf", TRUE, {HDR "\r\nhello\n.\r\nx\r\n"}, REFUSED},
	{"bdat-crlf-dot-cr", TRUE, {HDR "\r\nhello\r\n.\rx\r\n"}, REFUSED},
	{"bdat-bare-lf-header", TRUE, {"From: " ALICE "\n\r\nx\r\n"}, REFUSED},
	{"bdat-cr-cr-lf", TRUE, {HDR "\r\nhello\r\r\n"}, REFUSED},
	{"bdat-cr-at-end", TRUE, {HDR "\r\nhello\r"}, REFUSED},
	{"bdat-lf-at-end", TRUE, {HDR "\r\nhello\n"}, REFUSED},
	{"bdat-lf-first", TRUE, {"\n" HDR "\r\nx\r\n"}, REFUSED},
	{"bdat-split-cr-then-x",
	 TRUE,
	 {HDR "\r\nhello\r", ".\r\nx\r\n"},
	 REFUSED},
	{"bdat-split-crlf-then-lf",
	 TRUE,
	 {HDR "\r\nhello\r\n", "\nx\r\n"},
	 REFUSED},
	{"bdat-split-text-then-lf",
	 TRUE,
	 {HDR "\r\nhello", "\nx\r\n"},
	 REFUSED},
	{"bdat-split-cr-last-empty", TRUE, {HDR "\r\nhello\r", ""}, REFUSED},
	{"bdat-bare-cr-middle-chunk",
	 TRUE,
	 {HDR "\r\none\r\n", "two\rthree\r\n", "four\r\n"},
	 REFUSED},
	/* accepted: the CRLF split across chunks, dots, no final CRLF */
	{"bdat-split-crlf",
	 TRUE,
	 {HDR "\r\nhello\r", "\n.\r", "\n..\r\n.x\r\nend\r\n"},
	 HDR "\r\nhello\r\n..\r\n...\r\n..x\r\nend\r\n.\r\n"},
	{"bdat-dots",
	 TRUE,
	 {HDR "\r\n.\r\n.hidden\r\nMAIL FROM:<a@b>\r\n"},
	 HDR "\r\n..\r\n..hidden\r\nMAIL FROM:<a@b>\r\n.\r\n"},
	{"bdat-no-final-crlf",
	 TRUE,
	 {HDR "\r\nlast line", " goes on"},
	 HDR "\r\nlast line goes on\r\n.\r\n"},
	{"bdat-empty-chunks",
	 TRUE,
	 {"", HDR "\r\nx\r\n", ""},
	 HDR "\r\nx\r\n.\r\n"},
	{"data-dots",
	 FALSE,
	 {HDR "\r\n..\r\n..x\r\n.\r\n"},
	 HDR "\r\n..\r\n..x\r\n.\r\n"},
};

static void test_inbound(void)
{
	for (size_t i = 0; i < G_N_ELEMENTS(in_cases); i++) {
		const struct in_case *k = &in_cases[i];
		char *rcpt = g_strdup_printf("%s@remote.test", k->name);
		struct rmh_conn *c = open_tx(rcpt);
		char *l = k->bdat ? send_bdat(c, k->chunks)
				  : send_data(c, k->chunks[0]);

		g_test_message("%s: %s", k->name, l != NULL ? l : "(EOF)");
		if (k->wire == REFUSED) {
			if (l == NULL || !g_str_has_prefix(l, "521 5.5.2 "))
				g_error("%s: want 521 5.5.2, got \"%s\"",
					k->name, l != NULL ? l : "(EOF)");
			g_assert_null(rmh_readline(c, 5)); /* closed */
		} else {
			if (l == NULL || !g_str_has_prefix(l, "250 2.0.0 "))
				g_error("%s: want 250, got \"%s\"", k->name,
					l != NULL ? l : "(EOF)");
			cmd(c, "221 ", "QUIT");
		}
		g_free(l);
		rmh_conn_close(c);
		g_free(rcpt);
	}
	/* the accepted ones reached the next hop as sent; then none of
	 * the refused ones did */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < G_N_ELEMENTS(in_cases); i++) {
			const struct in_case *k = &in_cases[i];
			char *rcpt, *got;

			if ((k->wire == REFUSED) != (pass == 1))
				continue;
			rcpt = g_strdup_printf("%s@remote.test", k->name);
			got = sink_for(rcpt, pass == 1 ? 0 : 10);
			if (pass == 1 && got != NULL)
				g_error("%s: refused but relayed", k->name);
			if (pass == 0)
				assert_wire(k->name, got, k->wire);
			g_free(got);
			g_free(rcpt);
		}
	}
}

/* queue entries as older versions (or other tools) may have left them */
struct out_case {
	const char *name;
	const char *stored;
	const char *wire; /* all of it, with the final "." */
};

static const struct out_case out_cases[] = {
	{"q-cr-dot-cr", "Subject: a\r\n\r\nhello\r.\r\nMAIL FROM:<x@y>\r\n",
	 "Subject: a\r\n\r\nhello\r\n..\r\nMAIL FROM:<x@y>\r\n.\r\n"},
	{"q-lf-dot-lf", "Subject: b\n\nhello\n.\nRCPT TO:<x@y>\n",
	 "Subject: b\r\n\r\nhello\r\n..\r\nRCPT TO:<x@y>\r\n.\r\n"},
	{"q-crlf-dot-cr", "Subject: c\r\n\r\nhello\r\n.\rx\r\n",
	 "Subject: c\r\n\r\nhello\r\n..\r\nx\r\n.\r\n"},
	{"q-lf-dot-crlf", "Subject: d\r\n\r\nhello\n.\r\nx",
	 "Subject: d\r\n\r\nhello\r\n..\r\nx\r\n.\r\n"},
	{"q-cr-cr-lf", "Subject: e\r\n\r\na\r\r\nb\r\n",
	 "Subject: e\r\n\r\na\r\n\r\nb\r\n.\r\n"},
	{"q-dots", ".Subject: f\r\n\r\n.\r\n..\r\n.x\r\n",
	 "..Subject: f\r\n\r\n..\r\n...\r\n..x\r\n.\r\n"},
	{"q-ends-cr", "Subject: g\r\n\r\nend\r",
	 "Subject: g\r\n\r\nend\r\n.\r\n"},
	{"q-ends-dot-cr", "Subject: h\r\n\r\nend\r\n.\r",
	 "Subject: h\r\n\r\nend\r\n..\r\n.\r\n"},
	{"q-ends-dot", "Subject: i\r\n\r\nend\n.",
	 "Subject: i\r\n\r\nend\r\n..\r\n.\r\n"},
	{"q-ends-text", "Subject: j\r\n\r\nno newline",
	 "Subject: j\r\n\r\nno newline\r\n.\r\n"},
	{"q-empty", "", ".\r\n"},
	{"q-lf-only", "\n", "\r\n.\r\n"},
	{"q-cr-only", "\r", "\r\n.\r\n"},
	{"q-lf-cr", "Subject: k\n\r.\n\r", "Subject: k\r\n\r\n..\r\n\r\n.\r\n"},
};

static void seed(const char *dir, const struct out_case *k)
{
	char *path = g_build_filename(dir, k->name, NULL);
	char *rcpt = g_strdup_printf("%s@remote.test", k->name);
	const char *rcpts[] = {rcpt};
	struct rm_msg_src src = {0};
	struct rmail_err err;
	char id[RM_QID_MAX];
	int fd;

	g_assert_true(g_file_set_contents(path, k->stored, -1, NULL));
	fd = open(path, O_RDONLY);
	g_assert_cmpint(fd, >=, 0);
	src.prefix = "";
	src.fd = fd;
	src.size = strlen(k->stored);
	rm_submit_new_id(id);
	g_assert_cmpint(rm_queue_add(id, ALICE, rcpts, 1, &src, false, &err),
			==, 0);
	close(fd);
	g_free(rcpt);
	g_free(path);
}

static void test_outbound(void)
{
	/* the daemon delivered these at start: its first attempt is
	 * immediate */
	for (size_t i = 0; i < G_N_ELEMENTS(out_cases); i++) {
		const struct out_case *k = &out_cases[i];
		char *rcpt = g_strdup_printf("%s@remote.test", k->name);
		char *got = sink_for(rcpt, 10);

		if (got == NULL)
			g_error("%s: the sink got nothing", k->name);
		if (strcmp(got, k->wire) != 0) {
			char *a = printable(got), *b = printable(k->wire);

			g_error("%s: the sink got \"%s\", want \"%s\"", k->name,
				a, b);
		}
		g_free(got);
		g_free(rcpt);
	}
}

static void report(void *arg, const char *problem)
{
	(void)arg;
	g_printerr("config: %s\n", problem);
}

int main(int argc, char **argv)
{
	const char *user_add[] = {
		"rmail", NULL, NULL, "user", "add", ALICE, "--password-stdin",
		NULL};
	struct rm_config *conf = NULL;
	struct rmail_err err;
	char *out = NULL, *errs = NULL;
	guint sink;
	int rc;

	g_test_init(&argc, &argv, NULL);
	sink = sink_start();
	H = rmh_new();
	rmh_set(H, "modules", "[\"mod_shardstore\", \"mod_smtp\"]");
	rmh_setf(H, "smtp",
		 "{\"listen\": [], \"submission_listen\": [], "
		 "\"smtps_listen\": [\"127.0.0.1:%u\"]}",
		 rmh_port(H, "smtps"));
	rmh_setf(H, "delivery",
		 "{\"retry_initial\": \"1h\", "
		 "\"routes\": {\"remote.test\": \"127.0.0.1:%u\"}}",
		 sink);
	rmh_write_config(H);
	user_add[1] = "-c";
	user_add[2] = rmh_config_path(H);
	rc = rmh_run_argv(H, user_add, PW "\n", &out, &errs);
	g_assert_cmpint(rc, ==, 0);
	g_free(out);
	g_free(errs);

	/* seed the queue with the core's own code, before the daemon */
	g_assert_cmpint(rm_config_load(rmh_config_path(H), &conf, report, NULL),
			==, 0);
	rm_conf_set(conf);
	g_assert_cmpint(rm_submit_init(&err), ==, 0);
	for (size_t i = 0; i < G_N_ELEMENTS(out_cases); i++)
		seed(rmh_dir(H), &out_cases[i]);
	g_assert_true(rmh_start(H));

	g_test_add_func("/submit/smuggle/inbound", test_inbound);
	g_test_add_func("/submit/smuggle/outbound-queue", test_outbound);
	rc = g_test_run();
	g_assert_cmpint(rmh_stop(H), ==, 0);
	rm_conf_set(NULL);
	rm_config_free(&conf);
	rmh_free(H);
	return rc;
}
