/*
 * rmail sieve list|get|put|activate|deactivate|delete|rename: a user's
 * Sieve scripts through the store (ABI 1.5 sieve_* ops), the daemon up
 * or down.  put validates with the same compiler mod_sieve runs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cmd_store.h"
#include "sieve.h"
#include "sieve_cli.h"

#define SCRIPT_MAX (1u << 20)

static char *read_fp(FILE *f, size_t *len_r)
{
	char *buf = malloc(SCRIPT_MAX + 1);
	size_t got;

	if (buf == NULL)
		return NULL; /* errno ENOMEM */
	got = fread(buf, 1, SCRIPT_MAX + 1, f);
	if (ferror(f) || got > SCRIPT_MAX) {
		free(buf);
		errno = ferror(f) ? EIO : EFBIG;
		return NULL;
	}
	buf[got] = '\0';
	*len_r = got;
	return buf;
}

char *rm_sieve_read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	char *t;

	if (f == NULL)
		return NULL;
	t = read_fp(f, len_r);
	fclose(f);
	return t;
}

char *rm_sieve_read_fd(int fd, size_t *len_r)
{
	FILE *f = fdopen(fd, "rb");
	char *t;

	if (f == NULL) {
		close(fd);
		return NULL;
	}
	t = read_fp(f, len_r);
	fclose(f);
	return t;
}

char *rm_sieve_read_stdin(size_t *len_r)
{
	return read_fp(stdin, len_r);
}

static int store_sieve(struct rm_cli *cli, const char *cmd,
		       const struct rmail_store_ops **ops_r, void **h_r)
{
	const struct rmail_store_ops *ops;

	if (rm_cli_store(cli, ops_r, h_r) < 0)
		return -1;
	ops = *ops_r;
	if (!RMAIL_HAS(ops, struct rmail_store_ops, vacation_check) ||
	    ops->sieve_get == NULL || ops->sieve_put == NULL ||
	    ops->sieve_list == NULL || ops->sieve_activate == NULL ||
	    ops->sieve_delete == NULL || ops->sieve_rename == NULL) {
		rm_cmd_failf(cmd, "the store keeps no Sieve scripts");
		return -1;
	}
	return 0;
}

int rm_sieve_check(const char *text, size_t len, char *err, size_t errlen)
{
	struct sieve_script *s =
		sieve_compile(text, len, NULL, NULL, NULL, err, errlen);

	if (s == NULL)
		return -1;
	sieve_free(s);
	return 0;
}

int rm_sieve_install(const struct rmail_store_ops *ops, void *h,
		     const char *user, const char *name, const char *text,
		     size_t len, bool activate, struct rmail_err *err)
{
	char msg[256] = "";

	if (rm_sieve_check(text, len, msg, sizeof(msg)) < 0)
		return rmail_err_set(err, RMAIL_E_INVAL, "%s: %s", name, msg);
	if (ops->sieve_put(h, user, name, text, len, err) < 0)
		return -1;
	return activate ? ops->sieve_activate(h, user, name, err) : 0;
}

static void list_cb(void *arg, const char *name, int active, uint64_t bytes,
		    int64_t version)
{
	struct rm_cmd_list *lc = arg;

	(void)version;
	if (lc->json)
		json_array_append_new(lc->arr,
				      json_pack("{s:s, s:b, s:I}", "name", name,
						"active", active, "bytes",
						(json_int_t)bytes));
	else
		printf("%s%s (%llu bytes)\n", name, active ? " ACTIVE" : "",
		       (unsigned long long)bytes);
}

static int sv_list(struct rm_cli *cli, int argc, char **argv)
{
	const struct rmail_store_ops *ops;
	struct rm_cmd_list lc = {0};
	struct rmail_err err;
	const char *pos[1];
	const struct rm_opt opts[] = {
		{"--json", false, NULL, &lc.json},
		{NULL, false, NULL, NULL},
	};
	size_t n;
	void *h;
	int ret;

	ret = rm_cmd_args("sieve list", "ADDRESS [--json]", argc, argv, opts,
			  pos, 1, 1, &n);
	if (ret != RM_EXIT_OK)
		return ret;
	if (store_sieve(cli, "sieve list", &ops, &h) < 0)
		return RM_EXIT_FAIL;
	if (lc.json)
		lc.arr = json_array();
	rmail_err_clear(&err);
	ret = ops->sieve_list(h, pos[0], list_cb, &lc, &err);
	return rm_cmd_list_end("sieve list", &lc, ret, &err);
}

static int sv_get(struct rm_cli *cli, int argc, char **argv)
{
	const struct rmail_store_ops *ops;
	struct rmail_err err;
	const char *pos[2];
	const struct rm_opt opts[] = {{NULL, false, NULL, NULL}};
	size_t n, len = 0;
	void *h;
	char *buf;
	int ret;

	ret = rm_cmd_args("sieve get", "ADDRESS [NAME]", argc, argv, opts, pos,
			  1, 2, &n);
	if (ret != RM_EXIT_OK)
		return ret;
	if (store_sieve(cli, "sieve get", &ops, &h) < 0)
		return RM_EXIT_FAIL;
	rmail_err_clear(&err);
	if (ops->sieve_get(h, pos[0], n == 2 ? pos[1] : NULL, NULL, 0, &len,
			   NULL, NULL, &err) < 0)
		return rm_cmd_fail("sieve get", &err);
	buf = malloc(len + 1);
	if (ops->sieve_get(h, pos[0], n == 2 ? pos[1] : NULL, buf, len, &len,
			   NULL, NULL, &err) < 0) {
		free(buf);
		return rm_cmd_fail("sieve get", &err);
	}
	fwrite(buf, 1, len, stdout);
	free(buf);
	return RM_EXIT_OK;
}

static int sv_put(struct rm_cli *cli, int argc, char **argv)
{
	const struct rmail_store_ops *ops;
	struct rmail_err err;
	const char *pos[3];
	bool activate = false;
	const struct rm_opt opts[] = {
		{"--activate", false, NULL, &activate},
		{NULL, false, NULL, NULL},
	};
	size_t n, len = 0;
	char *text;
	void *h;
	int ret;

	ret = rm_cmd_args("sieve put", "ADDRESS NAME FILE|- [--activate]", argc,
			  argv, opts, pos, 3, 3, &n);
	if (ret != RM_EXIT_OK)
		return ret;
	text = strcmp(pos[2], "-") == 0 ? rm_sieve_read_stdin(&len)
					: rm_sieve_read_file(pos[2], &len);
	if (text == NULL)
		return rm_cmd_failf("sieve put", "%s: %s", pos[2],
				    strerror(errno));
	if (store_sieve(cli, "sieve put", &ops, &h) < 0) {
		free(text);
		return RM_EXIT_FAIL;
	}
	rmail_err_clear(&err);
	ret = rm_sieve_install(ops, h, pos[0], pos[1], text, len, activate,
			       &err);
	free(text);
	if (ret < 0)
		return rm_cmd_fail("sieve put", &err);
	printf("script %s of %s stored%s\n", pos[1], pos[0],
	       activate ? " and active" : "");
	return RM_EXIT_OK;
}

static int sv_simple(struct rm_cli *cli, int argc, char **argv, const char *cmd,
		     const char *usage, size_t npos)
{
	const struct rmail_store_ops *ops;
	struct rmail_err err;
	const char *pos[3];
	const struct rm_opt opts[] = {{NULL, false, NULL, NULL}};
	size_t n;
	void *h;
	int ret;

	ret = rm_cmd_args(cmd, usage, argc, argv, opts, pos, npos, npos, &n);
	if (ret != RM_EXIT_OK)
		return ret;
	if (store_sieve(cli, cmd, &ops, &h) < 0)
		return RM_EXIT_FAIL;
	rmail_err_clear(&err);
	if (strcmp(cmd, "sieve activate") == 0)
		ret = ops->sieve_activate(h, pos[0], pos[1], &err);
	else if (strcmp(cmd, "sieve deactivate") == 0)
		ret = ops->sieve_activate(h, pos[0], NULL, &err);
	else if (strcmp(cmd, "sieve delete") == 0)
		ret = ops->sieve_delete(h, pos[0], pos[1], &err);
	else
		ret = ops->sieve_rename(h, pos[0], pos[1], pos[2], &err);
	if (ret < 0)
		return rm_cmd_fail(cmd, &err);
	printf("%s: done\n", cmd);
	return RM_EXIT_OK;
}

static int sv_activate(struct rm_cli *cli, int argc, char **argv)
{
	return sv_simple(cli, argc, argv, "sieve activate", "ADDRESS NAME", 2);
}

static int sv_deactivate(struct rm_cli *cli, int argc, char **argv)
{
	return sv_simple(cli, argc, argv, "sieve deactivate", "ADDRESS", 1);
}

static int sv_delete(struct rm_cli *cli, int argc, char **argv)
{
	return sv_simple(cli, argc, argv, "sieve delete", "ADDRESS NAME", 2);
}

static int sv_rename(struct rm_cli *cli, int argc, char **argv)
{
	return sv_simple(cli, argc, argv, "sieve rename", "ADDRESS OLD NEW", 3);
}

static int sv_check(struct rm_cli *cli, int argc, char **argv)
{
	const char *pos[1];
	const struct rm_opt opts[] = {{NULL, false, NULL, NULL}};
	char msg[256] = "";
	size_t n, len = 0;
	char *text;
	int ret;

	(void)cli;
	ret = rm_cmd_args("sieve check", "FILE|-", argc, argv, opts, pos, 1, 1,
			  &n);
	if (ret != RM_EXIT_OK)
		return ret;
	text = strcmp(pos[0], "-") == 0 ? rm_sieve_read_stdin(&len)
					: rm_sieve_read_file(pos[0], &len);
	if (text == NULL)
		return rm_cmd_failf("sieve check", "%s: %s", pos[0],
				    strerror(errno));
	ret = rm_sieve_check(text, len, msg, sizeof(msg));
	free(text);
	if (ret < 0)
		return rm_cmd_failf("sieve check", "%s: %s", pos[0], msg);
	printf("%s: ok\n", pos[0]);
	return RM_EXIT_OK;
}

static int sieve_cmd_run(struct rm_cli *cli)
{
	static const struct rm_subcmd subs[] = {
		{"list", sv_list},
		{"get", sv_get},
		{"put", sv_put},
		{"activate", sv_activate},
		{"deactivate", sv_deactivate},
		{"delete", sv_delete},
		{"rename", sv_rename},
		{"check", sv_check},
		{NULL, NULL},
	};

	return rm_cmd_dispatch(cli, subs,
			       "sieve list ADDRESS [--json] | get ADDRESS "
			       "[NAME] | put ADDRESS NAME FILE|- [--activate] "
			       "| activate ADDRESS NAME | deactivate ADDRESS | "
			       "delete ADDRESS NAME | rename ADDRESS OLD NEW | "
			       "check FILE|-");
}

const struct rm_command rm_cmd_sieve = {
	.name = "sieve",
	.usage = "list|get|put|activate|delete|rename|check: Sieve scripts",
	.run = sieve_cmd_run,
};
