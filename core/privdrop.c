/* run_as: bind the listeners as root, then become the service user
 * before any module is loaded, so no module code ever runs as root. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

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

const char *rm_priv_section_of(const char *module, char *buf, size_t bufsz)
{
	const char *s = module;

	if (strncmp(s, "mod_", 4) == 0)
		s += 4;
	if (strcmp(s, "exchange") == 0)
		s = "exchange_api";
	snprintf(buf, bufsz, "%s", s);
	return buf;
}

static bool is_listen_key(const char *key)
{
	size_t n = strlen(key);

	return strcmp(key, "listen") == 0 ||
	       (n > 7 && strcmp(key + n - 7, "_listen") == 0);
}

static int prebind_section(const char *section, json_t *obj,
			   struct rmail_err *err)
{
	const char *key;
	json_t *val;

	json_object_foreach(obj, key, val)
	{
		struct rmail_strlist l;
		const char **v;
		size_t i, n;
		int rc;

		if (!is_listen_key(key) || !json_is_array(val))
			continue;
		n = json_array_size(val);
		v = rm_xcalloc(n + 1, sizeof(*v));
		for (i = 0; i < n; i++) {
			v[i] = json_string_value(json_array_get(val, i));
			if (v[i] == NULL)
				v[i] = "";
		}
		l.n = n;
		l.v = v;
		rc = rm_listen_prebind(section, key, &l, err);
		free(v);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int rm_priv_prebind(const struct rm_config *conf, struct rmail_err *err)
{
	char sect[128];
	size_t i;

	for (i = 0; i < conf->modules.n; i++) {
		json_t *obj;

		rm_priv_section_of(conf->modules.v[i], sect, sizeof(sect));
		obj = rm_config_section(conf, sect);
		if (obj == NULL || !json_is_object(obj))
			continue;
		if (prebind_section(sect, obj, err) < 0)
			return -1;
	}
	return 0;
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
