/*
 * Helpers shared by the spam tests: one SMTP transaction on port 25 and
 * the stored copy of a message, found by a tag in its body.
 */
#ifndef SPAM_COMMON_H
#define SPAM_COMMON_H

#include <glib.h>
#include <string.h>

#include "harness.h"

static char *sc_reply(struct rmh_conn *c)
{
	char *line;

	while ((line = rmh_readline(c, 10)) != NULL) {
		if (strlen(line) < 4 || line[3] != '-')
			return line;
		g_free(line);
	}
	return NULL;
}

static void sc_cmd(struct rmh_conn *c, const char *prefix, const char *line)
{
	char *l;

	g_assert_true(rmh_send(c, "%s", line));
	l = sc_reply(c);
	if (l == NULL || !g_str_has_prefix(l, prefix))
		g_error("%s: expected \"%s\", got \"%s\"", line, prefix,
			l != NULL ? l : "(EOF)");
	g_free(l);
}

/* one transaction on `port` to rcpt and rcpt2 (when not NULL); the
 * final reply, g_free'd by the caller */
static G_GNUC_UNUSED char *sc_send2(guint port, const char *rcpt,
				    const char *rcpt2, const char *msg)
{
	struct rmh_conn *c = rmh_connect(port, false);
	char *line, *l;

	g_assert_nonnull(c);
	g_free(sc_reply(c));
	sc_cmd(c, "250 ", "EHLO client.test");
	sc_cmd(c, "250 ", "MAIL FROM:<sender@far.test>");
	line = g_strdup_printf("RCPT TO:<%s>", rcpt);
	sc_cmd(c, "250 ", line);
	g_free(line);
	if (rcpt2 != NULL) {
		line = g_strdup_printf("RCPT TO:<%s>", rcpt2);
		sc_cmd(c, "250 ", line);
		g_free(line);
	}
	sc_cmd(c, "354 ", "DATA");
	g_assert_true(rmh_send_raw(c, msg, strlen(msg)));
	g_assert_true(rmh_send(c, "."));
	l = sc_reply(c);
	g_assert_nonnull(l);
	(void)rmh_send(c, "QUIT");
	rmh_conn_close(c);
	return l;
}

static G_GNUC_UNUSED char *sc_send(guint port, const char *rcpt,
				   const char *msg)
{
	return sc_send2(port, rcpt, NULL, msg);
}

/* the stored copy whose text holds tag: its text, and *path_r */
static char *sc_find(const char *dir, const char *tag, char **path_r)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *e;
	char *found = NULL;

	if (d == NULL)
		return NULL;
	while (found == NULL && (e = g_dir_read_name(d)) != NULL) {
		char *p = g_build_filename(dir, e, NULL), *text = NULL;
		gsize len;

		if (g_file_test(p, G_FILE_TEST_IS_DIR)) {
			found = sc_find(p, tag, path_r);
		} else if (g_str_has_suffix(e, ".eml") &&
			   g_file_get_contents(p, &text, &len, NULL) &&
			   strstr(text, tag) != NULL) {
			found = text;
			text = NULL;
			*path_r = g_strdup(p);
		}
		g_free(text);
		g_free(p);
	}
	g_dir_close(d);
	return found;
}

/* every stored copy under dir whose text holds tag: their paths */
static G_GNUC_UNUSED void sc_find_all(const char *dir, const char *tag,
				      GPtrArray *out)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *e;

	if (d == NULL)
		return;
	while ((e = g_dir_read_name(d)) != NULL) {
		char *p = g_build_filename(dir, e, NULL), *text = NULL;

		if (g_file_test(p, G_FILE_TEST_IS_DIR))
			sc_find_all(p, tag, out);
		else if (g_str_has_suffix(e, ".eml") &&
			 g_file_get_contents(p, &text, NULL, NULL) &&
			 strstr(text, tag) != NULL)
			g_ptr_array_add(out, g_strdup(p));
		g_free(text);
		g_free(p);
	}
	g_dir_close(d);
}

static G_GNUC_UNUSED char *sc_stored(struct rmh *h, const char *tag,
				     char **path_r)
{
	char *dir = g_build_filename(rmh_dir(h), "mail", NULL);
	char *t = sc_find(dir, tag, path_r);

	g_free(dir);
	return t;
}

#endif
