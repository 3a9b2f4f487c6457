/*
 * The module loader.  Every check reads the descriptor as data before
 * any module function runs; a refused module costs one log line naming
 * the file and the reason, and the others load.  Modules are never
 * dlclose()d once accepted: a function pointer may still be on a stack.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "config_keys.h"
#include "index/index.h"

#define RM_MAX_MODULES 64

static struct rm_module *mods[RM_MAX_MODULES];
static size_t nmods;

size_t rm_module_count(void)
{
	return nmods;
}

struct rm_module *rm_module_at(size_t i)
{
	return i < nmods ? mods[i] : NULL;
}

struct rm_module *rm_module_find(const char *name)
{
	if (name != NULL && strncmp(name, "mod_", 4) == 0)
		name += 4;
	for (size_t i = 0; i < nmods; i++)
		if (name != NULL && strcmp(mods[i]->mctx.name, name) == 0)
			return mods[i];
	return NULL;
}

/* The smallest descriptor each ABI major accepts: its .0 size, so
 * every older minor of the major keeps loading. */
static size_t min_size_for_major(unsigned major)
{
	switch (major) {
	case 1:
		return RMAIL_MODULE_SIZE_1_0;
	default:
		return SIZE_MAX;
	}
}

/* An ops table starts with its uint32_t size; below its 1.0 size it is
 * refused, above it the core keeps a copy zero-filled to its own size
 * (rm_module_keep_ops), so an entry a module did not know is NULL. */
static int check_ops(const void *ops, size_t min, const char *what,
		     struct rmail_err *err)
{
	uint32_t size;

	if (ops == NULL)
		return rmail_err_set(err, RMAIL_E_INVAL, "%s ops table missing",
				     what);
	memcpy(&size, ops, sizeof(size));
	if (size < min)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "%s ops table size %u is smaller than the "
				     "%zu bytes ABI 1.0 requires",
				     what, size, min);
	return 0;
}

/* The entries the core calls on every path that reaches the store (mail
 * routing and the auth cache); every other entry may be NULL and each
 * caller checks it (store.h says which).  Both frozen fixture stores
 * provide exactly these. */
static int check_store_required(const struct rmail_store_ops *o,
				struct rmail_err *err)
{
	const char *missing = o->user_get == NULL	   ? "user_get"
			      : o->resolve == NULL	   ? "resolve"
			      : o->domain_is_local == NULL ? "domain_is_local"
			      : o->quota_get == NULL	   ? "quota_get"
							   : NULL;

	if (missing == NULL)
		return 0;
	return rmail_err_set(err, RMAIL_E_INVAL,
			     "storage ops table lacks %s, which ABI 1.0 "
			     "requires",
			     missing);
}

static int check_file(const char *file, struct rmail_err *err)
{
	struct stat st;

	if (stat(file, &st) < 0)
		return rmail_err_set(err, RMAIL_E_NOENT, "%s",
				     errno == ENOENT ? "no such file"
						     : strerror(errno));
	if (!S_ISREG(st.st_mode))
		return rmail_err_set(err, RMAIL_E_PERM, "not a regular file");
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return rmail_err_set(err, RMAIL_E_PERM,
				     "writable by group or others (mode %04o)",
				     (unsigned)(st.st_mode & 07777));
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return rmail_err_set(err, RMAIL_E_PERM,
				     "owned by uid %u, neither root nor uid %u",
				     (unsigned)st.st_uid, (unsigned)geteuid());
	return 0;
}

static int check_descriptor(const struct rmail_module *d, const char *name,
			    const char *sym, struct rmail_err *err)
{
	if (d->magic != RMAIL_MODULE_MAGIC)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "bad magic 0x%08x in %s (expected 0x%08x)",
				     d->magic, sym, RMAIL_MODULE_MAGIC);
	if (d->abi_major != RMAIL_ABI_MAJOR || d->abi_minor > RMAIL_ABI_MINOR)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "built for ABI %u.%u, core provides %u.%u",
				     d->abi_major, d->abi_minor,
				     RMAIL_ABI_MAJOR, RMAIL_ABI_MINOR);
	if (d->size < min_size_for_major(d->abi_major))
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "descriptor size %u is smaller than the "
				     "%zu bytes ABI %u requires",
				     d->size, min_size_for_major(d->abi_major),
				     d->abi_major);
	if (d->build_sig == NULL || strcmp(d->build_sig, RMAIL_BUILD_SIG) != 0)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "build signature %s differs from the "
				     "core's %s",
				     d->build_sig ? d->build_sig : "(none)",
				     RMAIL_BUILD_SIG);
	if (d->name == NULL || strcmp(d->name, name) != 0)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "descriptor name '%s' does not match the "
				     "file name mod_%s.so",
				     d->name ? d->name : "(null)", name);
	if (d->conf_keys != NULL && d->conf_size == 0)
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "conf_keys without a conf_size");
	switch (d->kind) {
	case RMAIL_KIND_PROTOCOL:
		return 0;
	case RMAIL_KIND_STORAGE:
		if (check_ops(d->ops, RMAIL_STORE_OPS_SIZE_1_0, "storage",
			      err) < 0)
			return -1;
		/* size covers every 1.0 entry: reading them is safe */
		return check_store_required(d->ops, err);
	case RMAIL_KIND_FILTER:
		return check_ops(d->ops, RMAIL_FILTER_OPS_SIZE_1_0, "filter",
				 err);
	default:
		return rmail_err_set(err, RMAIL_E_INVAL, "unknown kind %u",
				     d->kind);
	}
}

static void keep_ops(struct rm_module *m)
{
	const struct rmail_module *d = m->mctx.module;
	uint32_t size;

	if (d->kind != RMAIL_KIND_STORAGE && d->kind != RMAIL_KIND_FILTER)
		return;
	memcpy(&size, d->ops, sizeof(size));
	if (d->kind == RMAIL_KIND_STORAGE) {
		m->ops.store.size = (uint32_t)rmail_sized_copy(
			&m->ops.store, sizeof(m->ops.store), d->ops, size);
		rm_index_hook_store(&m->ops.store);
	} else
		m->ops.filter.size = (uint32_t)rmail_sized_copy(
			&m->ops.filter, sizeof(m->ops.filter), d->ops, size);
}

int rm_module_validate(const char *file, const char *name,
		       const struct rmail_module **mod_r, void **dl_r,
		       struct rmail_err *err)
{
	const struct rmail_module *d;
	char sym[128];
	void *dl;

	*mod_r = NULL;
	*dl_r = NULL;
	if (strncmp(name, "mod_", 4) == 0)
		name += 4;
	if (check_file(file, err) < 0)
		return -1;
	dl = dlopen(file, RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL) {
		const char *e = dlerror();

		return rmail_err_set(err, RMAIL_E_INVAL, "dlopen: %s",
				     e ? e : "unknown error");
	}
	snprintf(sym, sizeof(sym), "rmail_module_%s", name);
	d = dlsym(dl, sym);
	if (d == NULL) {
		dlclose(dl);
		return rmail_err_set(err, RMAIL_E_INVAL,
				     "no symbol %s: not an rmail module or "
				     "name mismatch",
				     sym);
	}
	if (check_descriptor(d, name, sym, err) < 0) {
		dlclose(dl);
		return -1;
	}
	*mod_r = d;
	*dl_r = dl;
	return 0;
}

static void refuse(rm_conf_report_fn report, void *arg, const char *file,
		   const char *reason)
{
	char line[1024];

	snprintf(line, sizeof(line), "module %s refused: %s", file, reason);
	if (report != NULL)
		report(arg, line);
	else
		rm_log(RMAIL_LOG_ERR, "%s", line);
}

/* Report a config problem of a module's section, through report. */
struct fill_report {
	rm_conf_report_fn report;
	void *arg;
	const char *file;
};

static void fill_problem(void *arg, const char *problem)
{
	struct fill_report *fr = arg;

	if (fr->report != NULL)
		fr->report(fr->arg, problem);
	else
		rm_log(RMAIL_LOG_ERR, "config: %s", problem);
}

static const void *fill_conf(struct rmail_pool *pool,
			     const struct rmail_module *d, void *section,
			     rm_conf_report_fn report, void *arg)
{
	struct fill_report fr = {report, arg, NULL};
	void *conf;

	if (d->conf_size == 0)
		return NULL;
	conf = rm_pcalloc(pool, d->conf_size);
	if (rm_config_fill(pool, section, d->section ? d->section : d->name,
			   d->conf_keys, conf, fill_problem, &fr) < 0)
		return NULL;
	return conf;
}

static bool section_is_listed(const struct rm_config *conf, const char *sec)
{
	for (size_t i = 0; i < nmods; i++)
		if (mods[i]->mctx.module->section != NULL &&
		    strcmp(mods[i]->mctx.module->section, sec) == 0)
			return true;
	/* listed but refused: its refusal already said enough */
	for (size_t i = 0; i < conf->modules.n; i++)
		if (strncmp(conf->modules.v[i], "mod_", 4) == 0 &&
		    strcmp(conf->modules.v[i] + 4, sec) == 0)
			return true;
	return false;
}

static void note_ignored_sections(const struct rm_config *conf)
{
	const struct rmail_conf_key *k;
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)conf->json, key, v)
	{
		bool core = false;
		size_t n = strlen(key);

		if (!json_is_object(v))
			continue;
		for (k = rm_core_keys; k->key != NULL; k++)
			if (strncmp(k->key, key, n) == 0 &&
			    (k->key[n] == '.' || k->key[n] == '\0'))
				core = true;
		if (!core && !section_is_listed(conf, key))
			rm_log(RMAIL_LOG_INFO,
			       "section '%s' ignored: its "
			       "module is not listed in modules",
			       key);
	}
}

size_t rm_modules_load(const struct rm_config *conf, rm_conf_report_fn report,
		       void *arg)
{
	size_t loaded = 0;

	for (size_t i = 0; i < conf->modules.n; i++) {
		const char *mname = conf->modules.v[i];
		const char *name =
			strncmp(mname, "mod_", 4) == 0 ? mname + 4 : mname;
		const struct rmail_module *d;
		struct rmail_err err;
		struct rm_module *m;
		struct rmail_pool *pool;
		const void *mconf;
		char *file;
		void *dl;

		file = rm_psprintf(conf->pool, "%s/mod_%s.so", conf->module_dir,
				   name);
		rmail_err_clear(&err);
		if (rm_module_validate(file, name, &d, &dl, &err) < 0) {
			refuse(report, arg, file, err.msg);
			continue;
		}
		if (rm_module_find(name) != NULL) {
			refuse(report, arg, file, "duplicate module name");
			continue;
		}
		if (nmods == RM_MAX_MODULES) {
			refuse(report, arg, file, "too many modules");
			continue;
		}
		for (size_t j = 0; d->section != NULL && j < nmods; j++) {
			const char *s = mods[j]->mctx.module->section;

			if (s != NULL && strcmp(s, d->section) == 0) {
				d = NULL;
				break;
			}
		}
		if (d == NULL) {
			refuse(report, arg, file,
			       "its config section is "
			       "already read by another module");
			continue;
		}
		pool = rm_pool_create(NULL);
		mconf = fill_conf(conf->pool, d,
				  rm_config_section(conf, d->section), report,
				  arg);
		if (d->conf_size != 0 && mconf == NULL) {
			refuse(report, arg, file, "invalid config section");
			rm_pool_destroy(&pool);
			continue;
		}
		m = rm_pcalloc(pool, sizeof(*m));
		m->mctx.core = rm_core();
		m->mctx.module = d;
		m->mctx.name = d->name;
		m->mctx.conf = mconf;
		m->mctx.pool = pool;
		m->mctx.core_private = m;
		m->file = rm_pstrdup(pool, file);
		m->dl = dl;
		m->conf_json = rm_config_section(conf, d->section);
		keep_ops(m);
		mods[nmods++] = m;
		loaded++;
		rm_log(RMAIL_LOG_DEBUG, "module %s loaded (%s %s, ABI %u.%u)",
		       file, d->name, d->version ? d->version : "?",
		       d->abi_major, d->abi_minor);
	}
	note_ignored_sections(conf);
	return loaded;
}

/* Storage first: the others may look the store up from init/start. */
static size_t order_at(size_t i)
{
	size_t k = 0;

	for (int pass = 0; pass < 2; pass++)
		for (size_t j = 0; j < nmods; j++) {
			bool st = mods[j]->mctx.module->kind ==
				  RMAIL_KIND_STORAGE;

			if ((pass == 0) != st)
				continue;
			if (k++ == i)
				return j;
		}
	return 0;
}

int rm_modules_init(struct rmail_err *err)
{
	for (size_t i = 0; i < nmods; i++) {
		struct rm_module *m = mods[order_at(i)];
		struct rmail_err e;

		rmail_err_clear(&e);
		if (m->mctx.module->init != NULL &&
		    m->mctx.module->init(&m->mctx, &e) < 0)
			return rmail_err_set(err,
					     e.code ? e.code : RMAIL_E_INTERNAL,
					     "module %s: init failed: %s",
					     m->mctx.name, e.msg);
	}
	return 0;
}

int rm_modules_start(struct rmail_err *err)
{
	for (size_t i = 0; i < nmods; i++) {
		struct rm_module *m = mods[order_at(i)];
		struct rmail_err e;

		rmail_err_clear(&e);
		if (m->mctx.module->start != NULL &&
		    m->mctx.module->start(&m->mctx, &e) < 0)
			return rmail_err_set(err,
					     e.code ? e.code : RMAIL_E_INTERNAL,
					     "module %s: start failed: %s",
					     m->mctx.name, e.msg);
		m->started = true;
	}
	return 0;
}

struct reload_report {
	struct rmail_err *err;
	int n;
};

static void reload_problem(void *arg, const char *problem)
{
	struct reload_report *rr = arg;

	rm_log(RMAIL_LOG_ERR, "reload: %s", problem);
	if (rr->n++ == 0)
		rmail_err_set(rr->err, RMAIL_E_INVAL, "%s", problem);
}

int rm_modules_reload(const struct rm_config *new_conf, struct rmail_err *err)
{
	struct reload_report rr = {err, 0};
	const void *confs[RM_MAX_MODULES];

	for (size_t i = 0; i < nmods; i++) {
		const struct rmail_module *d = mods[i]->mctx.module;

		confs[i] = fill_conf(new_conf->pool, d,
				     rm_config_section(new_conf, d->section),
				     reload_problem, &rr);
	}
	if (rr.n > 0)
		return -1;
	for (size_t i = 0; i < nmods; i++) {
		struct rm_module *m = mods[i];
		struct rmail_err e;

		rmail_err_clear(&e);
		if (m->mctx.module->reload_check != NULL &&
		    m->mctx.module->reload_check(&m->mctx, confs[i], &e) < 0)
			return rmail_err_set(err,
					     e.code ? e.code : RMAIL_E_INVAL,
					     "module %s refused the reload: %s",
					     m->mctx.name, e.msg);
	}
	for (size_t i = 0; i < nmods; i++) {
		struct rm_module *m = mods[i];

		if (m->mctx.module->reload_commit != NULL)
			m->mctx.module->reload_commit(&m->mctx, confs[i]);
	}
	for (size_t i = 0; i < nmods; i++) {
		mods[i]->mctx.conf = confs[i];
		mods[i]->conf_json = rm_config_section(
			new_conf, mods[i]->mctx.module->section);
	}
	return 0;
}

/* Reverse order: protocols stop before the store they use. */
void rm_modules_stop(int mode)
{
	for (size_t i = nmods; i-- > 0;) {
		struct rm_module *m = mods[order_at(i)];

		if (m->started && m->mctx.module->stop != NULL)
			m->mctx.module->stop(&m->mctx, mode);
		m->started = false;
	}
}

void rm_modules_fini(void)
{
	for (size_t i = nmods; i-- > 0;) {
		struct rm_module *m = mods[order_at(i)];

		if (m->mctx.module->fini != NULL)
			m->mctx.module->fini(&m->mctx);
	}
}
