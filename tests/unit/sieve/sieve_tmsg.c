/* See sieve_tmsg.h.  The message side is deliberately small: header
 * fields unfolded in order, a single-part body; the library's own
 * behaviour is what these tests look at. */
#include <ctype.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sieve_tmsg.h"

void tmsg_init(struct tmsg *m, const char *raw)
{
	const char *p = raw;

	memset(m, 0, sizeof(*m));
	while (*p != '\0' && *p != '\r' && *p != '\n' && m->nh < 128) {
		const char *colon = strchr(p, ':');
		GString *v = g_string_new(NULL);

		g_assert_nonnull(colon);
		m->names[m->nh] = g_strndup(p, (size_t)(colon - p));
		p = colon + 1;
		while (*p == ' ' || *p == '\t')
			p++;
		for (;;) {
			const char *e = strchr(p, '\n');

			if (e == NULL)
				e = p + strlen(p);
			size_t l = (size_t)(e - p);

			if (l > 0 && p[l - 1] == '\r')
				l--;
			g_string_append_len(v, p, (gssize)l);
			p = *e ? e + 1 : e;
			if (*p != ' ' && *p != '\t')
				break;
		}
		m->values[m->nh++] = g_string_free(v, FALSE);
	}
	if (*p == '\r')
		p++;
	if (*p == '\n')
		p++;
	m->body = g_strdup(p);
}

void tmsg_free(struct tmsg *m)
{
	for (size_t i = 0; i < m->nh; i++) {
		g_free(m->names[i]);
		g_free(m->values[i]);
	}
	g_free(m->body);
}

static size_t hdr(void *arg, const char *name, const char ***vals_r)
{
	struct tmsg *m = arg;
	size_t n = 0;

	for (size_t i = 0; i < m->nh; i++)
		if (strcasecmp(m->names[i], name) == 0)
			m->vals[n++] = m->values[i];
	*vals_r = m->vals;
	return n;
}

static int body(void *arg, enum sieve_body_transform t,
		const char *const *ctypes, size_t nctypes,
		const struct sieve_str **parts_r)
{
	struct tmsg *m = arg;
	const char **ct;
	const char *type = "text/plain";

	if (hdr(m, "Content-Type", &ct) > 0)
		type = ct[0];
	if (t == SIEVE_BODY_CONTENT) {
		int ok = 0;

		for (size_t i = 0; i < nctypes; i++)
			ok |= ctypes[i][0] == '\0' ||
			      strncasecmp(type, ctypes[i], strlen(ctypes[i])) ==
				      0;
		if (!ok)
			return 0;
	}
	if (t == SIEVE_BODY_TEXT && strncasecmp(type, "text/", 5) != 0)
		return 0;
	m->parts[0].p = m->body;
	m->parts[0].n = strlen(m->body);
	*parts_r = m->parts;
	return 1;
}

static int mbox_exists(void *arg, const char *name)
{
	struct tmsg *m = arg;
	char **v;
	int found = 0;

	if (m->mailboxes == NULL)
		return 0;
	v = g_strsplit(m->mailboxes, " ", -1);
	for (char **i = v; *i; i++)
		found |= strcmp(*i, name) == 0;
	g_strfreev(v);
	return found;
}

/* a stand-in for RFC 5051 folding that the tests can tell apart from
 * ASCII folding: also folds the Latin-1 supplement's capitals; with the
 * core service's contract (snprintf-like, nothing terminated) */
static size_t casemap(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char two[2];
		size_t k = 1;

		if (c == 0xc3 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
		    (unsigned char)s[i + 1] <= 0x9e &&
		    (unsigned char)s[i + 1] != 0x97) {
			two[0] = (char)c;
			two[1] = (char)((unsigned char)s[++i] + 0x20);
			k = 2;
		} else {
			two[0] = (char)toupper(c);
		}
		for (size_t j = 0; j < k; j++, o++)
			if (o < cap)
				out[o] = two[j];
	}
	return o;
}

void tmsg_env(struct tmsg *m, struct sieve_env *env, const char *from,
	      const char *to)
{
	memset(env, 0, sizeof(*env));
	env->env_from = from;
	env->env_to = to;
	env->size = strlen(m->body) + 200;
	env->header = hdr;
	env->body = body;
	env->casemap = casemap;
	env->mailbox_exists = mbox_exists;
	env->now = 1191503370; /* 2007-10-04 13:09:30 UTC */
	env->tz_minutes = -7 * 60;
	env->arg = m;
}

static void flags(GString *s, char **f, size_t n)
{
	if (n == 0)
		return;
	g_string_append(s, " [");
	for (size_t i = 0; i < n; i++)
		g_string_append_printf(s, "%s%s", i ? " " : "", f[i]);
	g_string_append(s, "]");
}

char *tmsg_result(const struct sieve_result *res, int rc)
{
	GString *s = g_string_new(NULL);

	if (rc < 0) {
		g_string_printf(s, "ERROR: %s", res->err);
		return g_string_free(s, FALSE);
	}
	for (size_t i = 0; i < res->n; i++) {
		const struct sieve_action *a = &res->v[i];

		if (i > 0)
			g_string_append(s, "; ");
		switch (a->kind) {
		case SIEVE_KEEP:
			g_string_append(s, "keep");
			flags(s, a->flags, a->nflags);
			break;
		case SIEVE_FILEINTO:
			g_string_append_printf(s, "fileinto %s%s%s", a->mailbox,
					       a->copy ? " :copy" : "",
					       a->create ? " :create" : "");
			flags(s, a->flags, a->nflags);
			break;
		case SIEVE_REDIRECT:
			g_string_append_printf(s, "redirect %s%s", a->address,
					       a->copy ? " :copy" : "");
			break;
		case SIEVE_DISCARD:
			g_string_append(s, "discard");
			break;
		case SIEVE_REJECT:
		case SIEVE_EREJECT:
			g_string_append_printf(
				s, "%s %s",
				a->kind == SIEVE_REJECT ? "reject" : "ereject",
				a->reason);
			break;
		case SIEVE_VACATION:
			g_string_append_printf(s, "vacation");
			if (a->days_or_seconds)
				g_string_append_printf(s, " %s=%u",
						       a->seconds ? "seconds"
								  : "days",
						       a->days_or_seconds);
			if (a->subject)
				g_string_append_printf(s, " subject=%s",
						       a->subject);
			if (a->from)
				g_string_append_printf(s, " from=%s", a->from);
			for (size_t j = 0; j < a->naddresses; j++)
				g_string_append_printf(s, " addr=%s",
						       a->addresses[j]);
			if (a->mime)
				g_string_append(s, " mime");
			if (strncmp(a->handle, "auto-", 5) != 0)
				g_string_append_printf(s, " handle=%s",
						       a->handle);
			g_string_append_printf(s, " reason=%s", a->reason);
			break;
		}
	}
	if (res->implicit_keep) {
		if (res->n > 0)
			g_string_append(s, "; ");
		g_string_append(s, "implicit-keep");
		flags(s, res->flags, res->nflags);
	}
	return g_string_free(s, FALSE);
}

char *tmsg_run(const char *script, const char *raw, const char *from,
	       const char *to)
{
	char err[256];
	struct sieve_script *s = sieve_compile(script, strlen(script), NULL,
					       NULL, NULL, err, sizeof(err));
	struct tmsg m;
	struct sieve_env env;
	struct sieve_result res;
	char *out;
	int rc;

	if (s == NULL)
		return g_strdup_printf("COMPILE: %s", err);
	tmsg_init(&m, raw);
	tmsg_env(&m, &env, from, to);
	rc = sieve_run(s, &env, &res);
	out = tmsg_result(&res, rc);
	sieve_result_free(&res);
	tmsg_free(&m);
	sieve_free(s);
	return out;
}
