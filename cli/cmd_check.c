/* rmail check: validate the config and every listed module; print every
 * problem, exit 1 on any.  The only module code it runs is the store's
 * health op, on a valid config whose mail root exists. */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "daemon.h"

struct check {
	unsigned problems;
	bool store; /* a storage module is listed */
};

static void count_report(void *arg, const char *problem)
{
	struct check *c = arg;

	c->problems++;
	rm_log(RMAIL_LOG_ERR, "%s", problem);
}

static void problem(struct check *c, const char *fmt, ...) RMAIL_PRINTF(2, 3);

static void problem(struct check *c, const char *fmt, ...)
{
	va_list ap;

	c->problems++;
	va_start(ap, fmt);
	rm_vlog(RMAIL_LOG_ERR, NULL, fmt, ap);
	va_end(ap);
}

static void check_module(struct check *c, const struct rm_config *conf,
			 const char *name)
{
	const struct rmail_module *mod = NULL;
	struct rmail_err err;
	void *dl = NULL, *out;
	char *file;
	const char *section;

	rmail_err_clear(&err);
	if (strncmp(name, "mod_", 4) == 0)
		name += 4;
	file = rm_psprintf(conf->pool, "%s/mod_%s.so", conf->module_dir, name);
	if (rm_module_validate(file, name, &mod, &dl, &err) < 0) {
		problem(c, "module %s refused: %s", file, err.msg);
		goto out;
	}
	if (mod->kind == RMAIL_KIND_STORAGE)
		c->store = true;
	if (mod->conf_keys == NULL)
		goto out;
	section = mod->section != NULL ? mod->section : mod->name;
	out = rm_pcalloc(conf->pool, mod->conf_size > 0 ? mod->conf_size : 1);
	(void)rm_config_fill(conf->pool, rm_config_section(conf, section),
			     section, mod->conf_keys, out, count_report, c);
out:
	if (dl != NULL)
		dlclose(dl);
}

/* the key the daemon would use, whether configured or generated */
static void check_run_as(struct check *c, const struct rm_config *conf)
{
	struct rm_priv priv;
	struct rmail_err err;
	const char *key = conf->tls_key_file;
	char *gen = NULL;
	struct stat st;

	rmail_err_clear(&err);
	if (rm_priv_resolve(conf->run_as, &priv, &err) < 0) {
		problem(c, "%s", err.msg);
		return;
	}
	if (key == NULL && conf->mail_root != NULL)
		key = gen = rm_psprintf(conf->pool, "%s/tls/key.pem",
					conf->mail_root);
	/* a key that will be generated on first start is fine */
	if (key != NULL && stat(key, &st) == 0 &&
	    !rm_priv_can_access(&priv, key, R_OK))
		problem(c, "tls key %s is not readable by %s", key,
			priv.user != NULL ? priv.user : "this user");
	if (key != NULL && gen == NULL && stat(key, &st) < 0)
		problem(c, "tls.key_file: %s does not exist", key);
	if (conf->mail_root != NULL) {
		if (stat(conf->mail_root, &st) == 0) {
			if (!S_ISDIR(st.st_mode))
				problem(c, "mail_root %s is not a directory",
					conf->mail_root);
			else if (!rm_priv_can_access(&priv, conf->mail_root,
						     W_OK | X_OK))
				problem(c, "mail_root %s is not writable by %s",
					conf->mail_root,
					priv.user != NULL ? priv.user
							  : "this user");
		} else {
			char *parent = rm_pstrdup(conf->pool, conf->mail_root);
			char *slash = strrchr(parent, '/');

			if (slash != NULL && slash != parent)
				*slash = '\0';
			else if (slash == parent)
				parent[1] = '\0';
			else
				parent = rm_pstrdup(conf->pool, ".");
			/* created on first start: as root (run_as) it is
			 * made and handed over, else the parent must allow */
			if (!priv.active && access(parent, W_OK | X_OK) < 0)
				problem(c,
					"mail_root %s does not exist and "
					"%s is not writable",
					conf->mail_root, parent);
		}
	}
}

static void advice(void *arg, const char *where, const char *what, int repaired)
{
	(void)arg;
	(void)repaired;
	rm_log(RMAIL_LOG_WARN, "%s%s%s", where != NULL ? where : "",
	       where != NULL ? ": " : "", what);
}

/* warnings only: the store says what it needs of the filesystem under
 * it (a shared root on a network filesystem works, but rmail cannot
 * make up for every cache the mount keeps) */
static void check_store_health(struct rm_cli *cli, const struct check *c,
			       const struct rm_config *conf)
{
	const struct rmail_store_ops *ops;
	struct rmail_err err;
	struct stat st;
	void *h;

	if (c->problems > 0 || !c->store || conf->mail_root == NULL ||
	    stat(conf->mail_root, &st) < 0 || !S_ISDIR(st.st_mode))
		return;
	cli->quiet_init = true;
	if (rm_cli_store(cli, &ops, &h) < 0 ||
	    !RMAIL_HAS(ops, struct rmail_store_ops, health) ||
	    ops->health == NULL)
		return;
	rmail_err_clear(&err);
	if (ops->health(h, advice, NULL, &err) < 0)
		rm_log(RMAIL_LOG_WARN, "the store cannot serve: %s", err.msg);
}

static int check_run(struct rm_cli *cli)
{
	struct check c = {0};
	struct rm_config *conf = NULL;
	const char *path;
	bool exists = false;
	size_t i;

	path = rm_config_locate(cli->config_path, &exists);
	if (path == NULL || !exists) {
		rm_log(RMAIL_LOG_ERR, "config file not found: %s",
		       path != NULL ? path : "(none)");
		return 1;
	}
	if (rm_config_load(path, &conf, count_report, &c) < 0) {
		if (c.problems == 0)
			c.problems++;
		printf("%s: %u problem(s)\n", path, c.problems);
		return 1;
	}
	for (i = 0; i < conf->modules.n; i++)
		check_module(&c, conf, conf->modules.v[i]);
	check_run_as(&c, conf);
	/* a warning, not a problem: the daemon still runs, with fewer
	 * connections than configured */
	(void)rm_fdlimit_warn(rm_fdlimit_hard(), conf->limits.max_connections);
	check_store_health(cli, &c, conf);
	if (c.problems > 0)
		printf("%s: %u problem(s)\n", path, c.problems);
	else
		printf("%s: OK (%zu module(s))\n", path, conf->modules.n);
	rm_config_free(&conf);
	return c.problems > 0 ? 1 : 0;
}

const struct rm_command rm_cmd_check = {
	.name = "check",
	.usage = "validate the config and every listed module",
	.run = check_run,
};
