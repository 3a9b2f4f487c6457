/* run_as: bind the listeners as root, then become the service user
 * before any module is loaded, so no module code ever runs as root. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"

int rm_priv_resolve(const char *run_as, struct rm_priv *p_r,
		    struct rmail_err *err)
{
	struct passwd *pw;

	memset(p_r, 0, sizeof(*p_r));
	p_r->uid = (uid_t)-1;
	p_r->gid = (gid_t)-1;
	if (run_as == NULL || run_as[0] == '\0')
		return 0;
	errno = 0;
	pw = getpwnam(run_as);
	if (pw == NULL)
		return rmail_err_set(err, RMAIL_E_NOENT,
				     "run_as: no such user \"%s\"", run_as);
	p_r->uid = pw->pw_uid;
	p_r->gid = pw->pw_gid;
	p_r->user = run_as;
	/* as non-root run_as can only mean "the user we already are" */
	p_r->active = geteuid() == 0 && pw->pw_uid != 0;
	if (geteuid() != 0 && pw->pw_uid != geteuid())
		return rmail_err_set(
			err, RMAIL_E_PERM,
			"run_as \"%s\" needs rmail to be started as root",
			run_as);
	return 0;
}

/*
 * Which sockets to bind as root is the modules' own word: every key of
 * type RMAIL_CONF_LISTEN (module.h), with its configured or default
 * value, under the module's section.  Reading that needs the
 * descriptors, and no module code may run as root (dlopen runs
 * constructors), so an unprivileged child loads the modules and writes
 * "section<TAB>key<TAB>address" lines back.
 */
static void quiet(void *arg, const char *problem)
{
	(void)arg;
	(void)problem;
}

static void listen_keys_child(const struct rm_config *conf,
			      const struct rm_priv *p, int fd)
{
	struct rmail_err err;
	size_t first;
	FILE *out;

	rm_log_set_level(RMAIL_LOG_ERR); /* the parent logs the real load */
	if (p != NULL && rm_priv_drop(p, &err) < 0) {
		rm_log(RMAIL_LOG_ERR, "%s", err.msg);
		_exit(2);
	}
	out = fdopen(fd, "w");
	if (out == NULL)
		_exit(2);
	/* only what this load added: a test process may hold others */
	first = rm_module_count();
	(void)rm_modules_load(conf, quiet, NULL);
	for (size_t i = first; i < rm_module_count(); i++) {
		const struct rm_module *m = rm_module_at(i);
		const struct rmail_module *d = m->mctx.module;
		/* the section rm_listen names the listener after */
		const char *sect = d->section != NULL ? d->section : d->name;

		for (const struct rmail_conf_key *k = d->conf_keys;
		     k != NULL && k->key != NULL && m->mctx.conf != NULL; k++) {
			const struct rmail_strlist *l;

			if (k->type != RMAIL_CONF_LISTEN)
				continue;
			l = (const void *)((const char *)m->mctx.conf +
					   k->offset);
			for (size_t a = 0; a < l->n; a++)
				fprintf(out, "%s\t%s\t%s\n", sect, k->key,
					l->v[a]);
		}
	}
	_exit(fclose(out) == 0 ? 0 : 2);
}

static int prebind_line(char *line, struct rmail_err *err)
{
	char *key, *addr, *nl;
	const char *v[1];
	struct rmail_strlist l = {1, v};

	nl = strchr(line, '\n');
	if (nl != NULL)
		*nl = '\0';
	key = strchr(line, '\t');
	addr = key != NULL ? strchr(key + 1, '\t') : NULL;
	if (addr == NULL)
		return 0;
	*key++ = '\0';
	*addr++ = '\0';
	v[0] = addr;
	return rm_listen_prebind(line, key, &l, err);
}

int rm_priv_prebind(const struct rm_config *conf, const struct rm_priv *p,
		    struct rmail_err *err)
{
	char *line = NULL;
	size_t cap = 0;
	int fds[2], status = 0, rc = 0;
	FILE *in;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return rmail_err_set(err, RMAIL_E_INTERNAL, "pipe: %s",
				     strerror(errno));
	fflush(NULL); /* nothing buffered is written twice */
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return rmail_err_set(err, RMAIL_E_INTERNAL, "fork: %s",
				     strerror(errno));
	}
	if (pid == 0) {
		close(fds[0]);
		listen_keys_child(conf, p != NULL && p->active ? p : NULL,
				  fds[1]);
	}
	close(fds[1]);
	in = fdopen(fds[0], "r");
	if (in == NULL) {
		close(fds[0]);
		rc = rmail_err_set(err, RMAIL_E_INTERNAL, "fdopen: %s",
				   strerror(errno));
	}
	while (in != NULL && getline(&line, &cap, in) > 0)
		if (rc == 0 && prebind_line(line, err) < 0)
			rc = -1;
	free(line);
	if (in != NULL)
		fclose(in);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (rc == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
		rc = rmail_err_set(err, RMAIL_E_INTERNAL,
				   "could not read the modules' listen keys "
				   "as %s",
				   p != NULL && p->user != NULL ? p->user
								: "is");
	return rc;
}

int rm_priv_drop(const struct rm_priv *p, struct rmail_err *err)
{
	if (!p->active)
		return 0;
	if (initgroups(p->user, p->gid) < 0)
		return rmail_err_set(err, RMAIL_E_PERM, "initgroups(%s): %s",
				     p->user, strerror(errno));
	if (setgid(p->gid) < 0)
		return rmail_err_set(err, RMAIL_E_PERM, "setgid(%ld): %s",
				     (long)p->gid, strerror(errno));
	if (setuid(p->uid) < 0)
		return rmail_err_set(err, RMAIL_E_PERM, "setuid(%ld): %s",
				     (long)p->uid, strerror(errno));
	/* a drop that could be undone is no drop */
	if (setuid(0) == 0)
		return rmail_err_set(err, RMAIL_E_PERM,
				     "privileges could be regained after "
				     "dropping to %s",
				     p->user);
	return 0;
}

bool rm_priv_can_access(const struct rm_priv *p, const char *path, int mode)
{
	struct stat st;
	gid_t groups[256];
	int ngroups = 256, i;
	bool in_group = false;
	int bits;

	if (p == NULL || !p->active)
		return access(path, mode) == 0;
	if (p->uid == 0)
		return true;
	if (stat(path, &st) < 0)
		return false;
	if (st.st_uid == p->uid) {
		bits = (int)(st.st_mode >> 6) & 7;
		return (bits & mode) == mode;
	}
	if (getgrouplist(p->user, p->gid, groups, &ngroups) < 0)
		ngroups = 0;
	for (i = 0; i < ngroups; i++)
		if (groups[i] == st.st_gid)
			in_group = true;
	if (st.st_gid == p->gid || in_group) {
		bits = (int)(st.st_mode >> 3) & 7;
		return (bits & mode) == mode;
	}
	bits = (int)st.st_mode & 7;
	return (bits & mode) == mode;
}
