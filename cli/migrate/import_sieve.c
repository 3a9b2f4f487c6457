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
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd_store.h"
#include "sieve_cli.h"
#include "import_sub.h"
#include "md_walk.h"

/* name (under dirfd of the home's tree) as script `as` */
static int one(const char *cmd, const struct rmail_store_ops *ops, void *h,
	       const char *user, const struct rm_md_tree *t, int dirfd,
	       const char *shown, const char *name, const char *as,
	       bool activate)
{
	struct rmail_err err;
	struct stat sb;
	const char *why;
	size_t len = 0;
	char *text;
	int fd, rc;

	fd = rm_md_open_file(t, dirfd, name, &sb, &why);
	if (fd < 0) {
		/* a tree imported by root may be the user's: a link could
		 * name any file of the host */
		if (why != NULL)
			fprintf(stderr, "rmail %s: %s/%s: %s: skipped\n", cmd,
				shown, name, why);
		return 0;
	}
	text = rm_sieve_read_fd(fd, &len);
	if (text == NULL) {
		fprintf(stderr, "rmail %s: %s/%s: %s\n", cmd, shown, name,
			strerror(errno));
		return -1;
	}
	rmail_err_clear(&err);
	rc = rm_sieve_install(ops, h, user, as, text, len, activate, &err);
	free(text);
	if (rc < 0) {
		fprintf(stderr, "rmail %s: %s/%s: %s\n", cmd, shown, name,
			err.msg);
		return -1;
	}
	printf("%s/%s: imported as %s%s\n", shown, name, as,
	       activate ? " (active)" : "");
	return 0;
}

/* Every component below HOME is opened through its parent's descriptor
 * without following a link, and checked by fstat (md_walk.h). */
int rm_import_sieve_home(const char *cmd, const struct rmail_store_ops *ops,
			 void *h, const char *user, const char *home,
			 bool *found_r)
{
	char target[PATH_MAX], dir[PATH_MAX];
	char active_name[RMAIL_SIEVE_NAME_MAX + 1] = "";
	struct rm_md_tree t;
	struct dirent *de;
	struct stat sb;
	const char *why = NULL;
	DIR *d = NULL;
	int failed = 0, dfd;
	ssize_t tl;

	*found_r = false;
	if (rm_md_tree_open(home, &t) < 0)
		return 0;
	snprintf(dir, sizeof(dir), "%s/sieve", home);
	/* the active one: a symlink names a script of sieve/ */
	tl = readlinkat(t.fd, ".dovecot.sieve", target, sizeof(target) - 1);
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
	dfd = rm_md_open_dir(&t, t.fd, "sieve", &why);
	if (dfd < 0 && why != NULL)
		fprintf(stderr, "rmail %s: %s: %s: skipped\n", cmd, dir, why);
	if (dfd >= 0 && (d = fdopendir(dfd)) == NULL)
		close(dfd);
	*found_r =
		d != NULL || why != NULL || tl >= 0 ||
		fstatat(t.fd, ".dovecot.sieve", &sb, AT_SYMLINK_NOFOLLOW) == 0;
	while (d != NULL && (de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		char name[RMAIL_SIEVE_NAME_MAX + 1];

		if (de->d_name[0] == '.' || l <= 6 ||
		    strcmp(de->d_name + l - 6, ".sieve") != 0 ||
		    l - 6 > RMAIL_SIEVE_NAME_MAX)
			continue;
		memcpy(name, de->d_name, l - 6);
		name[l - 6] = '\0';
		if (one(cmd, ops, h, user, &t, dirfd(d), dir, de->d_name, name,
			strcmp(name, active_name) == 0) < 0)
			failed++;
	}
	if (d != NULL)
		closedir(d);
	/* a plain file: the script itself */
	if (tl < 0 &&
	    fstatat(t.fd, ".dovecot.sieve", &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(sb.st_mode) &&
	    one(cmd, ops, h, user, &t, t.fd, home, ".dovecot.sieve", "dovecot",
		true) < 0)
		failed++;
	rm_md_tree_close(&t);
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
				      &found);
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
