/* IMAP test helpers over the e2e harness (see imap_client.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_client.h"

struct imd *imd_config(const char *extra)
{
	struct imd *d = g_new0(struct imd, 1);

	d->h = rmh_new();
	d->port = rmh_port(d->h, "imap");
	d->tls_port = rmh_port(d->h, "imaps");
	rmh_set(d->h, "modules", "[\"mod_shardstore\", \"mod_imap\"]");
	rmh_setf(d->h, "imap",
		 "{\"listen\": [\"127.0.0.1:%u\"], "
		 "\"imaps_listen\": [\"127.0.0.1:%u\"]%s%s}",
		 d->port, d->tls_port, extra[0] != '\0' ? ", " : "", extra);
	return d;
}

void imd_launch(struct imd *d)
{
	rmh_write_config(d->h);
	g_assert_true(rmh_start(d->h));
}

struct imd *imd_start(const char *extra)
{
	struct imd *d = imd_config(extra);

	imd_launch(d);
	return d;
}

void imd_stop(struct imd *d)
{
	if (d == NULL)
		return;
	g_assert_cmpint(rmh_stop(d->h), ==, 0);
	rmh_free(d->h);
	g_free(d);
}

void imd_user(struct imd *d, const char *addr, const char *pass, int quota_mb)
{
	char q[32];
	const char *argv[] = {"rmail", "-c", rmh_config_path(d->h), "user",
			      "add",   addr, "--password-stdin",    NULL,
			      NULL,    NULL};
	char *out = NULL, *err = NULL, *in;
	int rc;

	if (quota_mb > 0) {
		snprintf(q, sizeof(q), "%d", quota_mb);
		argv[7] = "--quota-mb";
		argv[8] = q;
	}
	in = g_strdup_printf("%s\n", pass);
	rc = rmh_run_argv(d->h, argv, in, &out, &err);
	if (rc != 0)
		g_test_message("user add: %s %s", out, err);
	g_assert_cmpint(rc, ==, 0);
	g_free(in);
	g_free(out);
	g_free(err);
}

struct imc *imc_connect(struct imd *d, bool tls, char **greet_r)
{
	struct imc *c = g_new0(struct imc, 1);
	char *g;

	c->c = rmh_connect(tls ? d->tls_port : d->port, tls);
	g_assert_nonnull(c->c);
	g = rmh_readline(c->c, 10);
	g_assert_nonnull(g);
	g_assert_true(g_str_has_prefix(g, "* OK"));
	if (greet_r != NULL)
		*greet_r = g;
	else
		g_free(g);
	return c;
}

struct imc *imc_login(struct imd *d, const char *user, const char *pass)
{
	struct imc *c = imc_connect(d, false, NULL);
	char *r = imc_ok(c, "LOGIN \"%s\" \"%s\"", user, pass);

	g_free(r);
	return c;
}

void imc_close(struct imc *c)
{
	if (c == NULL)
		return;
	rmh_conn_close(c->c);
	g_free(c);
}

/* a line; when it announces a literal {n}, the n bytes follow it */
static bool read_item(struct imc *c, GString *out, double timeout,
		      char **line_r)
{
	char *l = rmh_readline(c->c, timeout);
	size_t len;

	if (l == NULL)
		return false;
	g_string_append(out, l);
	g_string_append_c(out, '\n');
	len = strlen(l);
	while (len > 2 && l[len - 1] == '}') {
		const char *b = strrchr(l, '{');
		guint64 n = b != NULL ? g_ascii_strtoull(b + 1, NULL, 10) : 0;
		guint64 got = 0;
		char *d;

		if (b == NULL)
			break;
		/* literal bytes come as lines; CRLFs count */
		while (got < n) {
			d = rmh_readline(c->c, timeout);
			if (d == NULL) {
				g_free(l);
				return false;
			}
			got += strlen(d) + 2;
			g_string_append(out, d);
			g_string_append(out, "\r\n");
			if (got > n) {
				/* the literal ended inside this line */
				g_free(l);
				l = d;
				len = strlen(l);
				goto next;
			}
			g_free(d);
		}
		g_free(l);
		l = NULL;
		break;
	next:
		continue;
	}
	if (line_r != NULL)
		*line_r = l;
	else
		g_free(l);
	return true;
}

static char *vcmd(struct imc *c, const char *fmt, va_list ap)
{
	GString *out = g_string_new(NULL);
	char *cmd = g_strdup_vprintf(fmt, ap);
	char tag[16];

	snprintf(tag, sizeof(tag), "t%u ", ++c->seq);
	g_assert_true(rmh_send(c->c, "%s%s", tag, cmd));
	g_free(cmd);
	for (;;) {
		char *l = NULL;

		if (!read_item(c, out, 15, &l)) {
			g_string_free(out, TRUE);
			return NULL;
		}
		if (l != NULL && g_str_has_prefix(l, tag)) {
			g_free(l);
			break;
		}
		g_free(l);
	}
	return g_string_free(out, FALSE);
}

char *imc_cmd(struct imc *c, const char *fmt, ...)
{
	va_list ap;
	char *r;

	va_start(ap, fmt);
	r = vcmd(c, fmt, ap);
	va_end(ap);
	return r;
}

char *imc_ok(struct imc *c, const char *fmt, ...)
{
	va_list ap;
	char *r, tag[24];

	va_start(ap, fmt);
	r = vcmd(c, fmt, ap);
	va_end(ap);
	g_assert_nonnull(r);
	snprintf(tag, sizeof(tag), "\nt%u OK", c->seq);
	if (strstr(r, tag) == NULL && !g_str_has_prefix(r, tag + 1))
		g_test_message("not OK: %s", r);
	g_assert_true(strstr(r, tag) != NULL || g_str_has_prefix(r, tag + 1));
	return r;
}

char *imc_until(struct imc *c, const char *prefix, double timeout)
{
	GString *out = g_string_new(NULL);

	for (;;) {
		char *l = NULL;

		if (!read_item(c, out, timeout, &l)) {
			g_string_free(out, TRUE);
			return NULL;
		}
		if (l != NULL && g_str_has_prefix(l, prefix)) {
			g_free(l);
			return g_string_free(out, FALSE);
		}
		g_free(l);
	}
}

struct imc *imc_fresh(struct imd *d, const char *name)
{
	char *u = g_strdup_printf("%s@example.test", name);
	struct imc *c;

	imd_user(d, u, "pw-secret", 0);
	c = imc_login(d, u, "pw-secret");
	g_free(u);
	return c;
}
