/* Helpers of the store commands: see cmd_store.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_store.h"

int rm_cmd_parse(const char *cmd, int argc, char **argv,
		 const struct rm_opt *opts, const char **pos_r, size_t maxpos,
		 size_t *npos_r)
{
	const struct rm_opt *o;
	const char *eq, *arg;
	size_t n = 0, len;
	bool only_pos = false;
	int i;

	for (i = 0; i < argc; i++) {
		arg = argv[i];
		if (only_pos || arg[0] != '-' || arg[1] == '\0') {
			if (n == maxpos) {
				rm_cmd_failf(cmd, "unexpected argument \"%s\"",
					     arg);
				return -1;
			}
			pos_r[n++] = arg;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			only_pos = true;
			continue;
		}
		eq = strchr(arg, '=');
		len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
		for (o = opts; o != NULL && o->name != NULL; o++)
			if (strlen(o->name) == len &&
			    strncmp(o->name, arg, len) == 0)
				break;
		if (o == NULL || o->name == NULL) {
			rm_cmd_failf(cmd, "unknown option \"%.*s\"", (int)len,
				     arg);
			return -1;
		}
		if (o->has_arg) {
			if (eq != NULL) {
				*o->val_r = eq + 1;
			} else if (i + 1 < argc) {
				*o->val_r = argv[++i];
			} else {
				rm_cmd_failf(cmd, "%s needs a value", o->name);
				return -1;
			}
		} else if (eq != NULL) {
			rm_cmd_failf(cmd, "%s takes no value", o->name);
			return -1;
		}
		if (o->set_r != NULL)
			*o->set_r = true;
	}
	*npos_r = n;
	return 0;
}

int rm_cmd_args(const char *cmd, const char *usage, int argc, char **argv,
		const struct rm_opt *opts, const char **pos_r, size_t minpos,
		size_t maxpos, size_t *npos_r)
{
	if (rm_cmd_parse(cmd, argc, argv, opts, pos_r, maxpos, npos_r) < 0)
		return RM_EXIT_USAGE;
	if (*npos_r < minpos)
		return rm_cmd_usage(cmd, usage);
	return RM_EXIT_OK;
}

int rm_cmd_usage(const char *cmd, const char *usage)
{
	rm_cmd_failf(cmd, "usage: rmail %s %s", cmd, usage);
	return RM_EXIT_USAGE;
}

int rm_cmd_fail(const char *cmd, const struct rmail_err *err)
{
	fprintf(stderr, "rmail %s: %s\n", cmd,
		err->msg[0] != '\0' ? err->msg : "failed");
	return RM_EXIT_FAIL;
}

int rm_cmd_failf(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "rmail %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return RM_EXIT_FAIL;
}

int rm_cmd_yesno(const char *s)
{
	if (strcmp(s, "yes") == 0 || strcmp(s, "true") == 0 ||
	    strcmp(s, "1") == 0)
		return 1;
	if (strcmp(s, "no") == 0 || strcmp(s, "false") == 0 ||
	    strcmp(s, "0") == 0)
		return 0;
	return -1;
}

int rm_cmd_uint(const char *s, int64_t *v_r)
{
	unsigned long long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > (unsigned long long)INT64_MAX)
		return -1;
	*v_r = (int64_t)v;
	return 0;
}

int rm_cmd_dispatch(struct rm_cli *cli, const struct rm_subcmd *subs,
		    const char *usage)
{
	const struct rm_subcmd *s;

	if (cli->argc >= 1)
		for (s = subs; s->name != NULL; s++)
			if (strcmp(cli->argv[0], s->name) == 0)
				return s->run(cli, cli->argc - 1,
					      cli->argv + 1);
	fprintf(stderr, "usage: rmail %s\n", usage);
	return RM_EXIT_USAGE;
}

void rm_cmd_json_print(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
}

int rm_cmd_list_end(const char *cmd, struct rm_cmd_list *lc, int ret,
		    const struct rmail_err *err)
{
	if (ret == 0 && lc->json)
		rm_cmd_json_print(lc->arr);
	json_decref(lc->arr);
	lc->arr = NULL;
	if (ret < 0)
		return rm_cmd_fail(cmd, err);
	return RM_EXIT_OK;
}
