/*
 * rmail import sieve ADDRESS HOME: a Dovecot Pigeonhole user's scripts,
 * `HOME/sieve/NAME.sieve` (sieve_dir) each as NAME, and the active one
 * from `HOME/.dovecot.sieve` (sieve): a symlink into sieve/ activates
 * that script, a plain file is imported as "dovecot" and activated.
 * Every script is compiled first; one that does not compile is reported
 * and skipped, the others are imported (exit status 1).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd_store.h"
#include "sieve_cli.h"
#include "import_sub.h"

static int one(const char *cmd, const struct rmail_store_ops *ops, void *h,
	       const char *user, const char *path, const char *name,
	       bool activate)
{
	struct rmail_err err;
	size_t len = 0;
	char *text = rm_sieve_read_file(path, &len);
	int rc;

	if (text == NULL) {
		fprintf(stderr, "rmail %s: %s: %s\n", cmd, path,
			strerror(errno));
		return -1;
	}
	rmail_err_clear(&err);
	rc = rm_sieve_install(ops, h, user, name, text, len, activate, &err);
	free(text);
	if (rc < 0) {
		fprintf(stderr, "rmail %s: %s: %s\n", cmd, path, err.msg);
		return -1;
	}
	printf("%s: imported as %s%s\n", path, name,
	       activate ? " (active)" : "");
	return 0;
}

int rm_import_sieve_home(const char *cmd, const struct rmail_store_ops *ops,
			 void *h, const char *user, const char *home,
			 bool nofollow, bool *found_r)
{
	char dir[PATH_MAX], active[PATH_MAX], target[PATH_MAX];
	char active_name[RMAIL_SIEVE_NAME_MAX + 1] = "";
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int failed = 0;
	ssize_t tl;

	*found_r = false;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/sieve", home) >=
		    sizeof(dir) ||
	    (size_t)snprintf(active, sizeof(active), "%s/.dovecot.sieve",
			     home) >= sizeof(active)) {
		fprintf(stderr, "rmail %s: %s: path too long\n", cmd, home);
		return 1;
	}
	/* the active one: a symlink names a script of sieve/ */
	tl = readlink(active, target, sizeof(target) - 1);
	if (tl > 0) {
		const char *base, *dot;

		target[tl] = '\0';
		base = strrchr(target, '/');
		base = base != NULL ? base + 1 : target;
		dot = strrchr(base, '.');
		if (dot != NULL && strcmp(dot, ".sieve") == 0 &&
		    (size_t)(dot - base) <= RMAIL_SIEVE_NAME_MAX) {
			memcpy(active_name, base, (size_t)(dot - base));
			active_name[dot - base] = '\0';
		}
	}
	d = opendir(dir);
	*found_r = d != NULL || tl >= 0 || lstat(active, &sb) == 0;
	while (d != NULL && (de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		char path[PATH_MAX], name[RMAIL_SIEVE_NAME_MAX + 1];

		if (de->d_name[0] == '.' || l <= 6 ||
		    strcmp(de->d_name + l - 6, ".sieve") != 0 ||
		    l - 6 > RMAIL_SIEVE_NAME_MAX)
			continue;
		memcpy(name, de->d_name, l - 6);
		name[l - 6] = '\0';
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
				     de->d_name) >= sizeof(path))
			continue;
		/* a tree imported by root may be the user's: a link
		 * could name any file of the host */
		if ((nofollow ? lstat(path, &sb) : stat(path, &sb)) < 0)
			continue;
		if (!S_ISREG(sb.st_mode)) {
			if (nofollow)
				fprintf(stderr,
					"rmail %s: %s: not a regular file: "
					"skipped\n",
					cmd, path);
			continue;
		}
		if (one(cmd, ops, h, user, path, name,
			strcmp(name, active_name) == 0) < 0)
			failed++;
	}
	if (d != NULL)
		closedir(d);
	/* a plain file: the script itself */
	if (tl < 0 && lstat(active, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    one(cmd, ops, h, user, active, "dovecot", true) < 0)
		failed++;
	return failed;
}

int rm_import_sieve(struct rm_cli *cli, int argc, char **argv)
{
	const struct rmail_store_ops *ops;
	const char *pos[2];
	const struct rm_opt opts[] = {{NULL, false, NULL, NULL}};
	size_t n;
	void *h;
	int ret, failed;
	bool found;

	ret = rm_cmd_args("import sieve", "ADDRESS HOME", argc, argv, opts, pos,
			  2, 2, &n);
	if (ret != RM_EXIT_OK)
		return ret;
	if (rm_cli_store(cli, &ops, &h) < 0)
		return RM_EXIT_FAIL;
	if (!rm_import_sieve_ok(ops))
		return rm_cmd_failf("import sieve",
				    "the store keeps no Sieve scripts");
	failed = rm_import_sieve_home("import sieve", ops, h, pos[0], pos[1],
				      false, &found);
	if (!found)
		fprintf(stderr, "rmail import sieve: %s/sieve: %s\n", pos[1],
			strerror(ENOENT));
	return failed ? RM_EXIT_FAIL : RM_EXIT_OK;
}

bool rm_import_sieve_ok(const struct rmail_store_ops *ops)
{
	return RMAIL_HAS(ops, struct rmail_store_ops, vacation_check) &&
	       ops->sieve_put != NULL && ops->sieve_activate != NULL;
}
