/*
 * Postfix lookup-table text as virtual(5) writes it: "alias target,
 * target", a line starting with white space continuing the one before,
 * '#' lines and blank lines ignored.  /etc/aliases lines ("name: a, b")
 * read the same.  What rmail cannot do is reported per line, never
 * half-imported: @domain catch-alls, regexp/pcre tables, and the
 * aliases(5) deliveries to a |command, a /file or an :include: list.
 */
#include <string.h>
#include <strings.h>

#include "vtable.h"

struct vt {
	rm_vt_fn cb;
	void *arg;
	char buf[RM_VT_LINE_MAX + 1];
	size_t len;
	unsigned lineno; /* of the logical line's first physical line */
	int overflow;
};

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static const char *target_problem(const char *t)
{
	if (t[0] == '|')
		return "delivery to a command refused";
	if (strncasecmp(t, ":include:", 9) == 0)
		return ":include: lists refused";
	if (t[0] == '/')
		return "delivery to a file refused";
	if (t[0] == '@')
		return "domain rewriting (@domain target) unsupported";
	return NULL;
}

static void emit(struct vt *v)
{
	const char *targets[RM_VT_TARGETS_MAX];
	const char *problem = NULL;
	char *p = v->buf, *key, *t;
	size_t n = 0, klen;

	if (v->overflow) {
		v->cb(v->arg, v->lineno, "", NULL, 0, "logical line too long");
		return;
	}
	v->buf[v->len] = '\0';
	while (is_ws(*p))
		p++;
	key = p;
	while (*p != '\0' && !is_ws(*p))
		p++;
	if (*p != '\0')
		*p++ = '\0';
	klen = strlen(key);
	if (klen > 1 && key[klen - 1] == ':')
		key[--klen] = '\0';
	if (key[0] == '/' || strcasecmp(key, "if") == 0 ||
	    strcasecmp(key, "endif") == 0) {
		v->cb(v->arg, v->lineno, key, NULL, 0,
		      "regexp/pcre table lines unsupported");
		return;
	}
	if (key[0] == '@') {
		v->cb(v->arg, v->lineno, key, NULL, 0,
		      "catch-all (@domain) unsupported");
		return;
	}
	for (;;) {
		while (is_ws(*p) || *p == ',')
			p++;
		if (*p == '\0')
			break;
		if (*p == '"') {
			/* aliases(5) quotes "|command args" */
			t = ++p;
			while (*p != '\0' && *p != '"')
				p++;
		} else {
			t = p;
			while (*p != '\0' && !is_ws(*p) && *p != ',')
				p++;
		}
		if (*p != '\0')
			*p++ = '\0';
		if (*t == '\0')
			continue;
		if (problem == NULL)
			problem = target_problem(t);
		if (n == RM_VT_TARGETS_MAX) {
			problem = "too many targets";
			break;
		}
		targets[n++] = t;
	}
	if (problem == NULL && n == 0)
		problem = "no target";
	v->cb(v->arg, v->lineno, key, problem == NULL ? targets : NULL,
	      problem == NULL ? n : 0, problem);
}

static void append(struct vt *v, const char *s, size_t len)
{
	if (v->overflow || v->len + len + 1 > RM_VT_LINE_MAX) {
		v->overflow = 1;
		return;
	}
	if (v->len > 0)
		v->buf[v->len++] = ' ';
	/* a NUL byte ends a string early: make it white space */
	for (size_t i = 0; i < len; i++)
		v->buf[v->len++] = s[i] == '\0' ? ' ' : s[i];
}

size_t rm_vt_parse(const char *buf, size_t len, rm_vt_fn cb, void *arg)
{
	static __thread struct vt v;
	const char *p = buf, *end = buf + len, *nl;
	unsigned lineno = 0;
	size_t count = 0, i;
	int open = 0;

	v.len = 0;
	v.overflow = 0;
	v.cb = cb;
	v.arg = arg;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		lineno++;
		for (i = 0; p + i < nl && is_ws(p[i]); i++)
			;
		if (p + i == nl || p[i] == '#') {
			/* blank and comment lines end nothing: Postfix
			 * lets a continuation follow them */
		} else if (i > 0 && open) {
			append(&v, p + i, (size_t)(nl - p - i));
		} else {
			if (open) {
				emit(&v);
				count++;
			}
			v.len = 0;
			v.overflow = 0;
			v.lineno = lineno;
			append(&v, p, (size_t)(nl - p));
			open = 1;
		}
		p = nl + 1;
	}
	if (open) {
		emit(&v);
		count++;
	}
	return count;
}
