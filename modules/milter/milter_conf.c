/*
 * The "milter" section into a milter_set.  Each entry of `milters` is
 * what a Postfix admin has in smtpd_milters: a socket, or a socket
 * with per-milter settings in braces (Postfix 3.0's syntax), so a
 * main.cf line moves over as it is.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "milter_conf.h"

double milter_parse_duration(const char *s)
{
	char *end;
	double v;

	if (s == NULL || *s == '\0')
		return -1;
	v = strtod(s, &end);
	if (end == s || v < 0)
		return -1;
	while (*end == ' ')
		end++;
	if (*end == '\0' || strcmp(end, "s") == 0)
		return v;
	if (strcmp(end, "ms") == 0)
		return v / 1000;
	if (strcmp(end, "m") == 0)
		return v * 60;
	if (strcmp(end, "h") == 0)
		return v * 3600;
	return -1;
}

static int inet_addr_port(const char *host, const char *port,
			  struct sockaddr_storage *sa, socklen_t *len_r)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)sa;
	char h[64];
	char *end;
	long p = strtol(port, &end, 10);
	size_t n = strlen(host);

	if (*port == '\0' || *end != '\0' || p < 1 || p > 65535)
		return -1;
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		host++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(h))
		return -1;
	memcpy(h, host, n);
	h[n] = '\0';
	if (strcmp(h, "localhost") == 0)
		snprintf(h, sizeof(h), "127.0.0.1");
	memset(sa, 0, sizeof(*sa));
	if (inet_pton(AF_INET, h, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)p);
		*len_r = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, h, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)p);
		*len_r = sizeof(*a6);
		return 0;
	}
	/* a milter is local or on a fixed address: no DNS on the loop */
	return -1;
}

int milter_parse_socket(const char *s, struct sockaddr_storage *sa,
			socklen_t *len_r)
{
	const char *path = NULL, *at, *colon;
	char host[300];

	if (strncmp(s, "unix:", 5) == 0)
		path = s + 5;
	else if (strncmp(s, "local:", 6) == 0)
		path = s + 6;
	else if (s[0] == '/')
		path = s;
	if (path != NULL) {
		struct sockaddr_un *un = (struct sockaddr_un *)sa;

		if (path[0] == '\0' || strlen(path) >= sizeof(un->sun_path))
			return -1;
		memset(sa, 0, sizeof(*sa));
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, path, strlen(path) + 1);
		*len_r = sizeof(*un);
		return 0;
	}
	if (strncmp(s, "inet:", 5) == 0)
		s += 5;
	else if (strncmp(s, "inet6:", 6) == 0)
		s += 6;
	else
		return -1;
	if (strlen(s) >= sizeof(host))
		return -1;
	/* sendmail's port@host */
	at = strchr(s, '@');
	if (at != NULL) {
		snprintf(host, sizeof(host), "%.*s", (int)(at - s), s);
		return inet_addr_port(at + 1, host, sa, len_r);
	}
	/* Postfix's host:port ([v6]:port) */
	colon = strrchr(s, ':');
	if (colon == NULL)
		return -1;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - s), s);
	return inet_addr_port(host, colon + 1, sa, len_r);
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int listeners_mask(const char *v, unsigned *mask_r)
{
	char *dup = strdup(v), *save = NULL, *t;
	unsigned m = 0;
	int rc = 0;

	if (dup == NULL)
		abort();
	for (t = strtok_r(dup, " ,\t", &save); t != NULL;
	     t = strtok_r(NULL, " ,\t", &save)) {
		if (strcmp(t, "mx") == 0 || strcmp(t, "smtp") == 0)
			m |= 1u << RMAIL_FILTER_MX;
		else if (strcmp(t, "submission") == 0)
			m |= 1u << RMAIL_FILTER_SUBMISSION;
		else if (strcmp(t, "api") == 0)
			m |= 1u << RMAIL_FILTER_API;
		else
			rc = -1;
	}
	free(dup);
	*mask_r = m;
	return rc;
}

static int list_mask(const struct rmail_strlist *l, unsigned *mask_r)
{
	unsigned m = 0, one;

	for (size_t i = 0; i < l->n; i++) {
		if (listeners_mask(l->v[i], &one) < 0)
			return -1;
		m |= one;
	}
	*mask_r = m;
	return 0;
}

static int setting(struct milter_def *d, const char *k, const char *v,
		   struct rmail_err *err, const char *entry)
{
	double t;

	if (strcmp(k, "default_action") == 0) {
		if (strcmp(v, "accept") == 0)
			d->default_accept = true;
		else if (strcmp(v, "tempfail") == 0)
			d->default_accept = false;
		else
			return rmail_err_set(err, RMAIL_E_INVAL,
					     "milters: %s: default_action must "
					     "be tempfail or accept",
					     entry);
		return 0;
	}
	if (strcmp(k, "listeners") == 0) {
		if (listeners_mask(v, &d->listeners) < 0 || d->listeners == 0)
			return rmail_err_set(err, RMAIL_E_INVAL,
					     "milters: %s: listeners: mx, "
					     "submission, api",
					     entry);
		return 0;
	}
	if (strcmp(k, "protocol") == 0)
		return 0; /* Postfix's knob: version 6 is negotiated down */
	t = milter_parse_duration(v);
	if (t < 0)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "milters: %s: %s: not a duration", entry,
				     k);
	if (strcmp(k, "connect_timeout") == 0)
		d->t_connect = t;
	else if (strcmp(k, "command_timeout") == 0)
		d->t_command = t;
	else if (strcmp(k, "content_timeout") == 0)
		d->t_content = t;
	else
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "milters: %s: unknown setting %s", entry,
				     k);
	return 0;
}

/* "sock" or "{ sock, k=v, ... }" */
static int parse_entry(struct milter_def *d, const char *entry,
		       struct rmail_err *err)
{
	char *dup = strdup(entry), *s, *save = NULL, *t;
	int rc = 0;
	bool first = true;

	if (dup == NULL)
		abort();
	s = trim(dup);
	if (*s == '{') {
		size_t n = strlen(s);

		if (n < 2 || s[n - 1] != '}') {
			free(dup);
			return rmail_err_set(err, RMAIL_E_INVAL,
					     "milters: %s: unbalanced braces",
					     entry);
		}
		s[n - 1] = '\0';
		s++;
	}
	for (t = strtok_r(s, ",", &save); t != NULL && rc == 0;
	     t = strtok_r(NULL, ",", &save)) {
		char *eq;

		t = trim(t);
		if (first) {
			first = false;
			d->spec = strdup(t);
			if (d->spec == NULL)
				abort();
			if (milter_parse_socket(t, &d->sa, &d->salen) < 0)
				rc = rmail_err_set(
					err, RMAIL_E_INVAL,
					"milters: %s: not a socket "
					"(unix:/path, "
					"inet:host:port or inet:port@host with "
					"an IP address)",
					entry);
			continue;
		}
		eq = strchr(t, '=');
		if (eq == NULL) {
			rc = rmail_err_set(err, RMAIL_E_INVAL,
					   "milters: %s: %s: want key=value",
					   entry, t);
			break;
		}
		*eq = '\0';
		rc = setting(d, trim(t), trim(eq + 1), err, entry);
	}
	if (rc == 0 && d->spec == NULL)
		rc = rmail_err_set(err, RMAIL_E_INVAL, "milters: empty entry");
	free(dup);
	return rc;
}

static void set_free(struct milter_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		milter_idle_drop_all(&s->v[i]);
		free(s->v[i].spec);
	}
	for (int k = 0; k < MILTER_M_COUNT; k++)
		free(s->macros[k]);
	free(s->v);
	free(s);
}

int milter_set_build(const struct milter_conf *c, struct milter_set **set_r,
		     struct rmail_err *err)
{
	struct milter_set *s = calloc(1, sizeof(*s));
	unsigned mask = 0;

	*set_r = NULL;
	if (s == NULL)
		abort();
	s->refs = 1;
	s->reuse = c->reuse != 0;
	if (list_mask(&c->listeners, &mask) < 0) {
		free(s);
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "listeners: mx, submission, api");
	}
	if (c->default_action == NULL ||
	    (strcmp(c->default_action, "tempfail") != 0 &&
	     strcmp(c->default_action, "accept") != 0)) {
		free(s);
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "default_action: tempfail or accept");
	}
	for (int k = 0; k < MILTER_M_COUNT; k++) {
		s->macros[k] = strdup(c->macros[k] ? c->macros[k] : "");
		if (s->macros[k] == NULL)
			abort();
	}
	s->v = calloc(c->milters.n + 1, sizeof(*s->v));
	if (s->v == NULL)
		abort();
	for (size_t i = 0; i < c->milters.n; i++) {
		struct milter_def *d = &s->v[i];

		d->listeners = mask;
		d->default_accept = strcmp(c->default_action, "accept") == 0;
		d->t_connect = c->connect_timeout;
		d->t_command = c->command_timeout;
		d->t_content = c->content_timeout;
		s->n++;
		if (parse_entry(d, c->milters.v[i], err) < 0) {
			set_free(s);
			return -1;
		}
	}
	*set_r = s;
	return 0;
}

void milter_set_ref(struct milter_set *s)
{
	s->refs++;
}

void milter_set_unref(struct milter_set **sp)
{
	struct milter_set *s = *sp;

	*sp = NULL;
	if (s != NULL && --s->refs == 0)
		set_free(s);
}
