/*
 * The METADATA file of mod_shardstore (metadata.c, meta_parse.c):
 *
 *   file  = "RMMETA 1\n" *entry
 *   entry = nlen SP vlen LF name value LF   ; decimal, no leading zeros
 *
 * names 1..RMAIL_META_NAME_MAX bytes without NUL, in strictly ascending
 * byte order; values any bytes.
 */
#ifndef SS_META_H
#define SS_META_H

#include <stddef.h>

#include <rmail/store.h>

#define SS_META_MAGIC "RMMETA 1\n"
/* a larger file is refused (reading and writing) */
#define SS_META_FILE_MAX (16 * 1024 * 1024)

/* one entry of the file; a nonzero return stops the walk */
typedef int (*ss_meta_cb)(void *arg, const char *name, size_t nlen,
			  const char *value, size_t vlen);

/* walk buf[0..len) (len 0: no entries); 0, or -1 when it is not a
 * well-formed file or cb failed */
int ss_meta_parse(const char *buf, size_t len, ss_meta_cb cb, void *arg);

int ss_meta_get(void *h, const char *user, const char *mbox, rmail_meta_fn cb,
		void *arg, struct rmail_err *err);
int ss_meta_set(void *h, const char *user, const char *mbox,
		const struct rmail_meta_entry *e, size_t n, size_t max_entries,
		uint64_t max_bytes, struct rmail_err *err);

#endif
