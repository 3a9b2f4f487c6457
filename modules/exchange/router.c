/*
 * The route table: method and path pattern to handler.  Patterns match
 * raw segments; "{}" segments are percent-decoded after the match, so a
 * '/' inside a folder name travels as %2F.
 */
#include <string.h>
#include <strings.h>

#include "ex.h"

#define SEG_MAX 8

struct route {
	int method;
	const char *pattern; /* "/api/folders/{}/messages" */
	ex_handler_fn fn;
	int auth;
	int icase; /* autodiscover: clients vary the case */
};

static const struct route routes[] = {
	{HTTP_GET, "/healthz", ex_healthz, 0, 0},
	{HTTP_POST, "/api/login", ex_api_login, 0, 0},
	{HTTP_GET, "/api/folders", ex_api_folders, 1, 0},
	{HTTP_GET, "/api/folders/{}/messages", ex_api_messages, 1, 0},
	{HTTP_GET, "/api/folders/{}/search", ex_api_search, 1, 0},
	{HTTP_POST, "/api/folders/{}/messages", ex_api_append, 1, 0},
	{HTTP_GET, "/api/folders/{}/messages/{}", ex_api_message, 1, 0},
	{HTTP_POST, "/api/folders/{}/messages/{}/flags", ex_api_flags, 1, 0},
	{HTTP_GET, "/api/folders/{}/messages/{}/attachments/{}",
	 ex_api_attachment, 1, 0},
	{HTTP_POST, "/api/send", ex_api_send, 1, 0},
	{HTTP_GET, "/api/aliases", ex_api_aliases_get, 1, 0},
	{HTTP_POST, "/api/aliases", ex_api_aliases_post, 1, 0},
	{HTTP_DELETE, "/api/aliases/{}", ex_api_aliases_delete, 1, 0},
	{HTTP_GET, "/api/settings", ex_api_settings_get, 1, 0},
	{HTTP_POST, "/api/settings", ex_api_settings_post, 1, 0},
	{HTTP_GET, "/api/sieve/scripts", ex_api_sieve_list, 1, 0},
	{HTTP_GET, "/api/sieve/scripts/{}", ex_api_sieve_get, 1, 0},
	{HTTP_PUT, "/api/sieve/scripts/{}", ex_api_sieve_put, 1, 0},
	{HTTP_DELETE, "/api/sieve/scripts/{}", ex_api_sieve_delete, 1, 0},
	{HTTP_POST, "/api/sieve/scripts/{}/activate", ex_api_sieve_activate, 1,
	 0},
	{HTTP_POST, "/api/sieve/deactivate", ex_api_sieve_deactivate, 1, 0},
	{HTTP_GET, "/api/sieve/vacation", ex_api_vacation_get, 1, 0},
	{HTTP_POST, "/api/sieve/vacation", ex_api_vacation_post, 1, 0},
	{HTTP_GET, "/mail/config-v1.1.xml", ex_autoconfig, 0, 0},
	{HTTP_GET, "/.well-known/autoconfig/mail/config-v1.1.xml",
	 ex_autoconfig, 0, 0},
	{HTTP_POST, "/autodiscover/autodiscover.xml", ex_autodiscover, 0, 1},
};

static int hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* in place; -1 on a bad escape or a decoded NUL */
int ex_pct_decode(char *s, int plus_is_space)
{
	char *o = s;

	for (; *s != '\0'; s++) {
		if (*s == '%') {
			int h = hexv(s[1]), l = h >= 0 ? hexv(s[2]) : -1;

			if (h < 0 || l < 0 || (h == 0 && l == 0))
				return -1;
			*o++ = (char)(h * 16 + l);
			s += 2;
		} else if (*s == '+' && plus_is_space) {
			*o++ = ' ';
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return 0;
}

/* match path against pattern; params get the raw {} segments */
static int match(const char *pattern, const char *path, int icase,
		 const char **pstart, size_t *plen, size_t *nparams)
{
	const char *p = pattern, *q = path;

	*nparams = 0;
	while (*p != '\0') {
		if (p[0] == '{' && p[1] == '}') {
			const char *e = strchr(q, '/');
			size_t n = e != NULL ? (size_t)(e - q) : strlen(q);

			if (n == 0 || *nparams >= 3)
				return 0;
			pstart[*nparams] = q;
			plen[(*nparams)++] = n;
			q += n;
			p += 2;
			continue;
		}
		if (*q == '\0')
			return 0;
		if (icase ? (*p | 0x20) != (*q | 0x20) : *p != *q)
			return 0;
		p++;
		q++;
	}
	return *q == '\0';
}

/* append ", "-separated items; too long an item is dropped, not cut */
static void allow_add(char *buf, size_t sz, size_t *len, const char *m)
{
	size_t n = strlen(m), sep = *len > 0 ? 2 : 0;

	if (*len + sep + n >= sz)
		return;
	memcpy(buf + *len, ", ", sep);
	memcpy(buf + *len + sep, m, n);
	*len += sep + n;
	buf[*len] = '\0';
}

int ex_route(struct ex_req *r, int *status_r, const char **allow_r)
{
	const char *ps[3];
	size_t pl[3], np, i, j;
	char allow[96] = "";
	size_t alen = 0;
	int method = r->method == HTTP_HEAD ? HTTP_GET : r->method;
	int found = 0;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *rt = &routes[i];

		if (!match(rt->pattern, r->path, rt->icase, ps, pl, &np))
			continue;
		found = 1;
		if (rt->method != method && r->method != HTTP_OPTIONS) {
			const char *m = rt->method == HTTP_GET	  ? "GET, HEAD"
					: rt->method == HTTP_POST ? "POST"
								  : "DELETE";

			/* room is kept for the ", OPTIONS" added below */
			if (strstr(allow, m) == NULL &&
			    alen + strlen(m) + 2 + 9 < sizeof(allow))
				allow_add(allow, sizeof(allow), &alen, m);
			continue;
		}
		r->handler = rt->fn;
		r->needs_auth = rt->auth;
		for (j = 0; j < np; j++) {
			r->params[j] =
				r->mod->core->pstrndup(r->pool, ps[j], pl[j]);
			if (ex_pct_decode(r->params[j], 0) < 0) {
				*status_r = 400;
				return -1;
			}
		}
		return 0;
	}
	if (!found) {
		*status_r = 404;
		return -1;
	}
	*status_r = 405;
	allow_add(allow, sizeof(allow), &alen, "OPTIONS");
	*allow_r = r->mod->core->pstrdup(r->pool, allow);
	return -1;
}
