/*
 * rmail import aliases FILE [--domain D] [--dry-run]: Postfix virtual(5)
 * lines (and /etc/aliases ones) into the store's aliases, through
 * vtable.c.  Bare names take --domain.  An alias already there is left
 * as it is (reported "exists", or "differs" when its targets are not
 * the file's), so a second run changes nothing; what rmail cannot
 * deliver to (catch-alls, regexp tables, commands, files, :include:)
 * is reported and refused.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd_store.h"
#include "import_sub.h"
#include "vtable.h"

#define CMD "import aliases"

struct known {
	char *alias;   /* lower case */
	char *targets; /* lower case, sorted, joined with ',' */
};

struct alimp {
	const struct rmail_store_ops *ops;
	void *h;
	const char *domain;
	bool dry;
	struct known *k;
	size_t nk, capk;
	size_t added, exist, differ, refused;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *lower_dup(const char *s)
{
	char *d = rm_xstrdup(s);

	for (char *p = d; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

/* the targets as one comparable string */
static char *target_key(const char *const *t, size_t n)
{
	char **v = rm_xcalloc(n ? n : 1, sizeof(*v)), *out;
	size_t len = 1, o = 0, l, i;

	for (i = 0; i < n; i++) {
		v[i] = lower_dup(t[i]);
		len += strlen(v[i]) + 1;
	}
	qsort(v, n, sizeof(*v), cmp_str);
	out = rm_xcalloc(1, len);
	for (i = 0; i < n; i++) {
		if (i > 0)
			out[o++] = ',';
		l = strlen(v[i]);
		memcpy(out + o, v[i], l + 1);
		o += l;
		free(v[i]);
	}
	free(v);
	return out;
}

static void known_cb(void *arg, const char *alias, const char *const *targets,
		     size_t n)
{
	struct alimp *ai = arg;

	if (ai->nk == ai->capk) {
		ai->capk = ai->capk ? ai->capk * 2 : 64;
		ai->k = rm_xrealloc(ai->k, ai->capk * sizeof(*ai->k));
	}
	ai->k[ai->nk].alias = lower_dup(alias);
	ai->k[ai->nk].targets = target_key(targets, n);
	ai->nk++;
}

static const struct known *known_find(struct alimp *ai, const char *alias)
{
	char *l = lower_dup(alias);
	const struct known *r = NULL;

	for (size_t i = 0; i < ai->nk && r == NULL; i++)
		if (strcmp(ai->k[i].alias, l) == 0)
			r = &ai->k[i];
	free(l);
	return r;
}

static void refuse(struct alimp *ai, unsigned lineno, const char *key,
		   const char *why)
{
	printf("refused line %u (%s): %s\n", lineno, key, why);
	ai->refused++;
}

/* name, or name@--domain; NULL when there is no domain to add */
static char *qualify(struct alimp *ai, const char *name)
{
	char *out;
	size_t len;

	if (strchr(name, '@') != NULL)
		return rm_xstrdup(name);
	if (ai->domain == NULL)
		return NULL;
	len = strlen(name) + strlen(ai->domain) + 2;
	out = rm_xmalloc(len);
	snprintf(out, len, "%s@%s", name, ai->domain);
	return out;
}

static void on_entry(void *arg, unsigned lineno, const char *key,
		     const char *const *targets, size_t n, const char *problem)
{
	struct alimp *ai = arg;
	char *alias = NULL, **tv = NULL, *tk = NULL;
	const struct known *k;
	struct rmail_err err;
	size_t i;

	if (problem != NULL) {
		refuse(ai, lineno, key, problem);
		return;
	}
	alias = qualify(ai, key);
	tv = rm_xcalloc(n, sizeof(*tv));
	for (i = 0; i < n; i++)
		tv[i] = qualify(ai, targets[i]);
	for (i = 0; i < n && tv[i] != NULL; i++)
		;
	if (alias == NULL || i < n) {
		refuse(ai, lineno, key, "a bare name needs --domain");
		goto out;
	}
	tk = target_key((const char *const *)tv, n);
	k = known_find(ai, alias);
	if (k != NULL) {
		if (strcmp(k->targets, tk) == 0) {
			printf("exists %s\n", alias);
			ai->exist++;
		} else {
			printf("differs %s: kept as it is (rmail alias "
			       "list)\n",
			       alias);
			ai->differ++;
		}
		goto out;
	}
	if (ai->dry) {
		printf("would add %s -> %s\n", alias, tk);
		ai->added++;
		goto out;
	}
	rmail_err_clear(&err);
	if (ai->ops->alias_add(ai->h, alias, (const char *const *)tv, n, &err) <
	    0) {
		refuse(ai, lineno, key, err.msg);
		goto out;
	}
	printf("added %s\n", alias);
	known_cb(ai, alias, (const char *const *)tv, n);
	ai->added++;
out:
	for (i = 0; tv != NULL && i < n; i++)
		free(tv[i]);
	free(tv);
	free(tk);
	free(alias);
}

int rm_import_aliases(struct rm_cli *cli, int argc, char **argv)
{
	struct alimp ai = {0};
	struct rmail_err err;
	const char *pos[1];
	const struct rm_opt opts[] = {
		{"--domain", true, &ai.domain, NULL},
		{"--dry-run", false, NULL, &ai.dry},
		{NULL, false, NULL, NULL},
	};
	char *buf = NULL;
	size_t n, len = 0, i;
	int rc;

	rc = rm_cmd_args(CMD, "FILE [--domain D] [--dry-run]", argc, argv, opts,
			 pos, 1, 1, &n);
	if (rc != RM_EXIT_OK)
		return rc;
	if (strncasecmp(pos[0], "regexp:", 7) == 0 ||
	    strncasecmp(pos[0], "pcre:", 5) == 0)
		return rm_cmd_failf(CMD,
				    "%s: regexp and pcre tables are "
				    "not supported; list the addresses",
				    pos[0]);
	buf = rm_import_read(pos[0], &len);
	if (buf == NULL)
		return rm_cmd_failf(CMD, "%s: %s", pos[0], strerror(errno));
	if (rm_cli_store(cli, &ai.ops, &ai.h) < 0) {
		rc = RM_EXIT_FAIL;
		goto out;
	}
	if (ai.ops->alias_add == NULL || ai.ops->alias_list == NULL) {
		rc = rm_cmd_failf(CMD, "the storage module keeps no aliases");
		goto out;
	}
	rmail_err_clear(&err);
	if (ai.ops->alias_list(ai.h, NULL, known_cb, &ai, &err) < 0) {
		rc = rm_cmd_fail(CMD, &err);
		goto out;
	}
	rm_vt_parse(buf, len, on_entry, &ai);
	printf("%s %zu aliases, %zu already there, %zu kept different, "
	       "%zu refused\n",
	       ai.dry ? "would add" : "added", ai.added, ai.exist, ai.differ,
	       ai.refused);
	rc = ai.refused > 0 ? RM_EXIT_FAIL : RM_EXIT_OK;
out:
	for (i = 0; i < ai.nk; i++) {
		free(ai.k[i].alias);
		free(ai.k[i].targets);
	}
	free(ai.k);
	free(buf);
	return rc;
}
