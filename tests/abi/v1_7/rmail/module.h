/*
 * The module descriptor.  A module file mod_NAME.so exports exactly one
 * data symbol, rmail_module_NAME, a const struct rmail_module defined with
 * RMAIL_MODULE_DEFINE().  The loader validates the frozen header before it
 * runs any module code.
 */
#ifndef RMAIL_MODULE_H
#define RMAIL_MODULE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <rmail/err.h>
#include <rmail/version.h>

struct rmail_core;
struct rmail_pool;

#define RMAIL_MODULE_MAGIC 0x524d4f44u /* "RMOD" */

enum rmail_module_kind {
	RMAIL_KIND_PROTOCOL = 1,
	RMAIL_KIND_STORAGE = 2,
	RMAIL_KIND_FILTER = 3,
};

/*
 * Build facts that must match between core and module (nginx's
 * signature): pointer, long, size_t, time_t and off_t widths.  The
 * compiler predefines the first three; time_t and off_t depend on
 * _TIME_BITS/_FILE_OFFSET_BITS, so the "t8o8" claim is asserted.
 */
_Static_assert(sizeof(time_t) == 8,
	       "rmail modules need a 64-bit time_t (-D_TIME_BITS=64)");
_Static_assert(sizeof(off_t) == 8,
	       "rmail modules need a 64-bit off_t (-D_FILE_OFFSET_BITS=64)");
#define RMAIL_STR2(x) #x
#define RMAIL_STR(x) RMAIL_STR2(x)
#define RMAIL_BUILD_SIG                                                        \
	"p" RMAIL_STR(__SIZEOF_POINTER__) "l" RMAIL_STR(                       \
		__SIZEOF_LONG__) "s" RMAIL_STR(__SIZEOF_SIZE_T__) "t8o8"

/* ---- configuration keys --------------------------------------------- */

enum rmail_conf_type {
	RMAIL_CONF_STR = 1,  /* const char *, NULL when null            */
	RMAIL_CONF_INT,	     /* int64_t                                   */
	RMAIL_CONF_SIZE,     /* uint64_t bytes: 1048576 or "1M", "10 MiB" */
	RMAIL_CONF_BOOL,     /* int 0/1                                   */
	RMAIL_CONF_DURATION, /* double seconds: 30, "30s", "5m", "2h"     */
	RMAIL_CONF_STR_LIST, /* struct rmail_strlist                      */
	RMAIL_CONF_LISTEN,   /* struct rmail_strlist of "host:port",
				bound by the core (see core.h listen);
				every key of this type, whatever its
				name, is bound before a privilege drop  */
	RMAIL_CONF_STR_MAP,  /* struct rmail_strmap: object of strings   */
};

enum rmail_conf_flags {
	RMAIL_CONF_REQUIRED = 1u << 0,
	/* SIGHUP may change it.  A key without the flag (core or module)
	 * that changes on reload makes the reload answer "restart needed
	 * for KEY" (log line and control reply); the module still gets the
	 * new conf through reload_commit and decides what it applies. */
	RMAIL_CONF_RELOADABLE = 1u << 1,
	RMAIL_CONF_NULLABLE = 1u << 2, /* JSON null accepted (STR: NULL) */
};

struct rmail_strlist {
	size_t n;
	const char *const *v;
};

struct rmail_strmap {
	size_t n;
	const char *const *k;
	const char *const *v;
};

/*
 * One key of a module's config section.  `key` may be dotted
 * ("relay.port") to reach into nested objects.  `def` is the default as
 * JSON text ("25", "\"x\"", "[\"0.0.0.0:25\"]", "null").  The core
 * fills the field at `offset` of the module's conf struct (conf_size
 * bytes, zeroed) and reports errors with their JSON path.  Unknown keys
 * in the section are errors.
 */
struct rmail_conf_key {
	const char *key;
	uint32_t type;	/* enum rmail_conf_type */
	uint32_t flags; /* enum rmail_conf_flags */
	size_t offset;
	const char *def;
	const char *doc; /* one line, for `rmail check` and docs */
	/* Optional extra validation of the filled field. */
	int (*check)(const void *field, struct rmail_err *err);
};

#define RMAIL_CONF_END                                                         \
	{                                                                      \
		NULL, 0, 0, 0, NULL, NULL, NULL                                \
	}

/* ---- per-module context --------------------------------------------- */

/*
 * Handed to every hook.  The core owns it; the module may set `data`.
 * `conf` points at the current conf struct and changes on reload commit.
 * A STORAGE module's `data` is its store handle: core->store() hands it
 * to every caller as the `void *h` of the store ops, so set it in init().
 */
struct rmail_mctx {
	const struct rmail_core *core;
	const struct rmail_module *module;
	const char *name;	 /* "smtp" */
	const void *conf;	 /* conf_size bytes, filled from conf_keys */
	struct rmail_pool *pool; /* lives as long as the module */
	void *data;		 /* module private */
	void *core_private;	 /* do not touch */
};

enum rmail_stop_mode {
	RMAIL_STOP_GRACEFUL = 0, /* stop accepting, let work finish */
	RMAIL_STOP_NOW = 1,
};

/* ---- how structs cross the boundary ---------------------------------
 *
 * Sized structs start (the descriptor and the services table: near the
 * start) with `uint32_t size` = sizeof at the producer's build.  They
 * grow by appending under a new minor; readers use RMAIL_HAS() and
 * rmail_sized_copy() (version.h).  In either direction:
 *  - module -> core (rmail_module, every *_ops table, rmail_listen_opts,
 *    rmail_submit_opts, rmail_append_opts, rmail_user_update,
 *    rmail_mime_limits): the core refuses anything below the 1.0 size
 *    and reads an appended field only when `size` covers it;
 *  - core -> module (rmail_core, rmail_filter_msg, rmail_filter_step):
 *    the module tests appended entries with RMAIL_HAS() before use;
 *  - caller-allocated results (rmail_mbox_status, rmail_jwt_claims,
 *    rmail_filter_reply, rmail_filter_target):
 *    the caller sets `size`, the filler writes at most that many bytes
 *    and sets `size` to what it filled.
 * Fixed-layout structs have no `size` and never change within a major:
 * they are embedded in others, returned in arrays, or filled for a
 * callback (rmail_user, rmail_msg, rmail_change, rmail_mbox_entry,
 * rmail_line, rmail_mime_part, rmail_mime_addr, rmail_auth_result,
 * rmail_submit_result, rmail_rcpt_result, rmail_filter_result,
 * rmail_filter_edit, rmail_strlist, rmail_strmap, rmail_conf_key,
 * rmail_err).  A new field
 * there means a new sized struct and a new entry that returns it.
 */

/* ---- the descriptor ------------------------------------------------- */

struct rmail_module {
	/* Frozen header: never changes, whatever the ABI major. */
	uint32_t magic; /* RMAIL_MODULE_MAGIC */
	uint16_t abi_major;
	uint16_t abi_minor;
	uint32_t size;	       /* sizeof(struct rmail_module) at build */
	uint32_t kind;	       /* enum rmail_module_kind */
	const char *name;      /* "smtp": must match the symbol suffix */
	const char *version;   /* the module's own release */
	const char *build_sig; /* RMAIL_BUILD_SIG */

	/* Body, ABI 1.0. */
	const char *section; /* top-level config key it reads, or NULL */
	const struct rmail_conf_key *conf_keys;
	size_t conf_size;

	/* Every hook may be NULL: the core skips it (a NULL reload_check
	 * accepts every reload).  Hooks run on the loop thread. */
	/* init: parse-time work only, no I/O, no listeners. */
	int (*init)(struct rmail_mctx *m, struct rmail_err *err);
	/* start: after privileges are dropped; listeners, timers. */
	int (*start)(struct rmail_mctx *m, struct rmail_err *err);
	/* reload_check: may refuse; must have no side effects. */
	int (*reload_check)(struct rmail_mctx *m, const void *new_conf,
			    struct rmail_err *err);
	/* reload_commit: cannot fail; m->conf is updated after it returns. */
	void (*reload_commit)(struct rmail_mctx *m, const void *new_conf);
	void (*stop)(struct rmail_mctx *m, int mode);
	void (*fini)(struct rmail_mctx *m);

	/*
	 * Kind-specific operations: struct rmail_store_ops for STORAGE,
	 * struct rmail_filter_ops for FILTER, NULL for PROTOCOL (protocols
	 * register listeners from start()).  Each ops table starts with its
	 * own uint32_t size.
	 */
	const void *ops;

	/* Appended entries go here, under the next minor (version.h). */
};

#define RMAIL_MODULE_HEADER(nm, kd, ver)                                       \
	.magic = RMAIL_MODULE_MAGIC, .abi_major = RMAIL_ABI_MAJOR,             \
	.abi_minor = RMAIL_ABI_MINOR,                                          \
	.size = (uint32_t)sizeof(struct rmail_module), .kind = (kd),           \
	.name = #nm, .version = (ver), .build_sig = RMAIL_BUILD_SIG

/*
 * RMAIL_MODULE_DEFINE(smtp, RMAIL_KIND_PROTOCOL, "1.0", .init = ..., ...)
 * defines and exports rmail_module_smtp.
 */
#define RMAIL_MODULE_DEFINE(nm, kd, ver, ...)                                  \
	RMAIL_EXPORT const struct rmail_module rmail_module_##nm = {           \
		RMAIL_MODULE_HEADER(nm, kd, ver), __VA_ARGS__}

#endif
