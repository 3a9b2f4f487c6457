/*
 * rmail user add|del|list|passwd|set: the user directory through the
 * store ops, so it works with the daemon running or stopped (the daemon
 * re-reads a user.json whose mtime changed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cmd_store.h"

#define MIB (1024.0 * 1024.0)

static char *get_password(bool from_stdin, const char *address)
{
	char prompt[RMAIL_ADDR_MAX + 32];

	snprintf(prompt, sizeof(prompt), "Password for %s: ", address);
	return rm_cli_password(from_stdin, prompt);
}

static void free_password(char *pw)
{
	if (pw != NULL) {
		rm_secure_zero(pw, strlen(pw));
		free(pw);
	}
}

static int user_add(struct rm_cli *cli, int argc, char **argv)
{
	const struct rmail_store_ops *ops;
	struct rmail_err err;
	const char *pos[1], *quota = NULL;
	bool from_stdin = false, admin = false;
	const struct rm_opt opts[] = {
		{"--password-stdin", false, NULL, &from_stdin},
		{"--admin", false, NULL, &admin},
		{"--quota-mb", true, &quota, NULL},
		{NULL, false, NULL, NULL},
	};
	int64_t mb = -1;
	size_t n;
	char *pw;
	void *h;
	int ret;

	ret = rm_cmd_args("user add",
			  "ADDRESS [--password-stdin] [--admin] "
			  "[--quota-mb N]",
			  argc, argv, opts, pos, 1, 1, &n);
	if (ret != RM_EXIT_OK)
		return ret;
	if (quota != NULL && rm_cmd_uint(quota, &mb) < 0) {
		rm_cmd_failf("user add", "--quota-mb: not a number: %s", quota);
		return RM_EXIT_USAGE;
	}
	if (rm_cli_store(cli, &ops, &h) < 0)
		return RM_EXIT_FAIL;
	pw = get_password(from_stdin, pos[0]);
	if (pw == NULL)
		return RM_EXIT_FAIL;
	rmail_err_clear(&err);
	ret = ops->user_add(h, pos[0], pw, admin, mb, &err);
	free_password(pw);
	if (ret < 0)
		return rm_cmd_fail("user add", &err);
	printf("user %s added\n", pos[0]);
	return RM_EXIT_OK;
}

static int user_del(struct rm_cli *cli, int argc, char **argv)
{
	const struct rmail_store_ops *ops;
	struct rmail_err err;
	const char *pos[1];
	bool purge = false;
	const struct rm_opt opts[] = {
		{"--purge", false, NULL, &purge},
		{NULL, false, NULL, NULL},
	};
	size_t n;
	void *h;
	int ret;

	ret = rm_cmd_args("user del", "ADDRESS [--purge]", argc, argv, opts,
			  pos, 1, 1, &n);
	if (ret != RM_EXIT_OK)
		return ret;
	if (rm_cli_store(cli, &ops, &h) < 0)
		return RM_EXIT_FAIL;
	rmail_err_clear(&err);
	if (ops->user_del(h, pos[0], purge, &err) < 0)
		return rm_cmd_fail("user del", &err);
	printf("user %s deleted%s\n", pos[0],
	       purge ? " with its mail" : " (mail kept; --purge removes it)");
	return RM_EXIT_OK;
}

static void list_one(void *arg, const struct rmail_user *u)
{
	struct rm_cmd_list *lc = arg;

	if (lc->json) {
		json_array_append_new(
			lc->arr,
			json_pack("{s:s, s:b, s:b, s:I, s:I, s:I, s:I}",
				  "address", u->address, "admin", u->admin,
				  "disabled", u->disabled, "quota_mb",
				  (json_int_t)(u->quota_bytes >> 20),
				  "quota_bytes", (json_int_t)u->quota_bytes,
				  "used_bytes", (json_int_t)u->quota_used,
				  "created", (json_int_t)u->created));
		return;
	}
	printf("%-40s %-5s %-8s %10.1f MiB of %llu MiB\n", u->address,
	       u->admin ? "admin" : "-", u->disabled ? "disabled" : "-",
	       (double)u->quota_used / MIB,
	       (unsigned long long)(u->quota_bytes >> 20));
}

static int user_list(struct rm_cli *cli, int argc, char **argv)
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

	ret = rm_cmd_args("user list", "[DOMAIN] [--json]", argc, argv, opts,
			  pos, 0, 1, &n);
	if (ret != RM_EXIT_OK)
		return ret;
	if (rm_cli_store(cli, &ops, &h) < 0)
		return RM_EXIT_FAIL;
	lc.arr = json_array();
	rmail_err_clear(&err);
	ret = ops->user_list(h, n == 1 ? pos[0] : NULL, list_one, &lc, &err);
	return rm_cmd_list_end("user list", &lc, ret, &err);
}

static int user_passwd(struct rm_cli *cli, int argc, char **argv)
{
	const struct rmail_store_ops *ops;
	struct rmail_user_update upd = {
		.size = sizeof(struct rmail_user_update),
		.admin = -1,
		.disabled = -1,
		.quota_mb = -1,
		.password = NULL};
	struct rmail_user u;
	struct rmail_err err;
	const char *pos[1];
	bool from_stdin = false;
	const struct rm_opt opts[] = {
		{"--password-stdin", false, NULL, &from_stdin},
		{NULL, false, NULL, NULL},
	};
	size_t n;
	char *pw;
	void *h;
	int ret;

	ret = rm_cmd_args("user passwd", "ADDRESS [--password-stdin]", argc,
			  argv, opts, pos, 1, 1, &n);
	if (ret != RM_EXIT_OK)
		return ret;
	if (rm_cli_store(cli, &ops, &h) < 0)
		return RM_EXIT_FAIL;
	/* fail before asking for a password nobody can use */
	rmail_err_clear(&err);
	if (ops->user_get(h, pos[0], &u, &err) < 0)
		return rm_cmd_fail("user passwd", &err);
	pw = get_password(from_stdin, u.address);
	if (pw == NULL)
		return RM_EXIT_FAIL;
	upd.password = pw;
	ret = ops->user_update(h, pos[0], &upd, &err);
	free_password(pw);
	if (ret < 0)
		return rm_cmd_fail("user passwd", &err);
	printf("password of %s changed\n", u.address);
	return RM_EXIT_OK;
}

/* the one per-user setting so far: "no" keeps spam in INBOX */
static int set_spam_to_junk(const struct rmail_store_ops *ops, void *h,
			    const char *address, int yes)
{
	struct rmail_err err;

	if (!RMAIL_HAS(ops, struct rmail_store_ops, user_setting_set) ||
	    ops->user_setting_set == NULL) {
		rm_cmd_failf("user set", "the store keeps no user settings");
		return -1;
	}
	rmail_err_clear(&err);
	/* the default (yes) is stored as no setting at all */
	if (ops->user_setting_set(h, address, "spam_to_junk", yes ? NULL : "no",
				  &err) < 0) {
		rm_cmd_fail("user set", &err);
		return -1;
	}
	return 0;
}

static int user_set(struct rm_cli *cli, int argc, char **argv)
{
	const struct rmail_store_ops *ops;
	struct rmail_user_update upd = {
		.size = sizeof(struct rmail_user_update),
		.admin = -1,
		.disabled = -1,
		.quota_mb = -1,
		.password = NULL};
	struct rmail_err err;
	const char *pos[1], *admin = NULL, *disabled = NULL, *quota = NULL;
	const char *spam = NULL;
	const struct rm_opt opts[] = {
		{"--admin", true, &admin, NULL},
		{"--disabled", true, &disabled, NULL},
		{"--quota-mb", true, &quota, NULL},
		{"--spam-to-junk", true, &spam, NULL},
		{NULL, false, NULL, NULL},
	};
	const char *usage = "ADDRESS [--admin yes|no] [--disabled yes|no] "
			    "[--quota-mb N] [--spam-to-junk yes|no]";
	size_t n;
	void *h;
	int ret, spam_yes = -1;

	ret = rm_cmd_args("user set", usage, argc, argv, opts, pos, 1, 1, &n);
	if (ret != RM_EXIT_OK)
		return ret;
	if (admin == NULL && disabled == NULL && quota == NULL && spam == NULL)
		return rm_cmd_usage("user set", usage);
	if ((admin != NULL && (upd.admin = rm_cmd_yesno(admin)) < 0) ||
	    (disabled != NULL && (upd.disabled = rm_cmd_yesno(disabled)) < 0) ||
	    (spam != NULL && (spam_yes = rm_cmd_yesno(spam)) < 0)) {
		rm_cmd_failf("user set", "expected yes or no");
		return RM_EXIT_USAGE;
	}
	if (quota != NULL && rm_cmd_uint(quota, &upd.quota_mb) < 0) {
		rm_cmd_failf("user set", "--quota-mb: not a number: %s", quota);
		return RM_EXIT_USAGE;
	}
	if (rm_cli_store(cli, &ops, &h) < 0)
		return RM_EXIT_FAIL;
	rmail_err_clear(&err);
	if ((admin != NULL || disabled != NULL || quota != NULL) &&
	    ops->user_update(h, pos[0], &upd, &err) < 0)
		return rm_cmd_fail("user set", &err);
	if (spam != NULL && set_spam_to_junk(ops, h, pos[0], spam_yes) < 0)
		return RM_EXIT_FAIL;
	printf("user %s updated\n", pos[0]);
	return RM_EXIT_OK;
}

static int user_run(struct rm_cli *cli)
{
	static const struct rm_subcmd subs[] = {
		{"add", user_add},	 {"del", user_del}, {"list", user_list},
		{"passwd", user_passwd}, {"set", user_set}, {NULL, NULL},
	};

	return rm_cmd_dispatch(cli, subs, "user add|del|list|passwd|set ...");
}

const struct rm_command rm_cmd_user = {
	.name = "user",
	.usage = "add|del|list|passwd|set: manage mail users",
	.run = user_run,
};
