/*
 * The per-host header cache and full-text index (docs/storage.md):
 * one SQLite file per user under index.dir, a derived cache that is
 * deleted and rebuilt whenever it cannot be trusted.  Internal to
 * core/index; the rest of the core sees index.h.
 */
#ifndef RM_IDX_H
#define RM_IDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <rmail/rmail.h>

struct sqlite3;
struct stat;

/* the file's format (meta 'format'); another one is deleted and rebuilt */
#define IDX_FORMAT "3"

/* a growable byte buffer; OOM aborts */
struct idx_buf {
	char *p;
	size_t len, cap;
};

void idx_buf_add(struct idx_buf *b, const void *d, size_t n);
void idx_buf_puts(struct idx_buf *b, const char *s);
void idx_buf_free(struct idx_buf *b);

/* i;unicode-casemap (RFC 5051), exactly as mod_imap's SEARCH folds:
 * appended to out */
void idx_fold(const char *s, size_t n, struct idx_buf *out);

/* the header fields the cache keeps, in column order */
enum idx_hdr {
	IDX_H_SUBJECT,
	IDX_H_FROM,
	IDX_H_TO,
	IDX_H_CC,
	IDX_H_DATE,
	IDX_H_MESSAGE_ID,
	IDX_H_REFERENCES,
	IDX_H_IN_REPLY_TO,
	IDX_H_COUNT,
};

/* the folded, searchable forms (each value NUL-terminated in turn, so
 * no needle without a NUL matches across two of them) */
enum idx_fold_col {
	IDX_F_SUBJECT, /* every Subject, decoded */
	IDX_F_FROM,    /* every address of every From, "name <mb@host>" */
	IDX_F_TO,
	IDX_F_CC,
	IDX_F_BODY, /* text parts, decoded (SEARCH BODY) */
	IDX_F_HEAD, /* headers, raw and decoded (TEXT adds these) */
	IDX_F_COUNT,
};

/* What the index keeps of one message. */
struct idx_doc {
	char *hdr[IDX_H_COUNT]; /* malloc'd or NULL (absent) */
	bool has[IDX_F_COUNT];	/* the field exists (FROM..CC, SUBJECT) */
	struct idx_buf fold[IDX_F_COUNT];
};

/* Parse one message with the core's MIME parser and fill d; -1 when the
 * parser refused it (d is then empty but valid).  Pure: any thread,
 * fuzzed by tests/fuzz/fuzz_index_doc.c. */
int idx_doc_build(const char *data, size_t len, struct idx_doc *d);
/* Only the folded columns in `cols` (bits of enum idx_fold_col), no
 * header cache: what a match on one field needs. */
int idx_doc_cols(const char *data, size_t len, unsigned cols,
		 struct idx_doc *d);
void idx_doc_free(struct idx_doc *d);
/* the searchable text `what` (enum rmail_search_text) of a parsed
 * message, appended to out; the pieces appended */
struct rmail_mime;
size_t idx_text(struct rmail_mime *m, const char *data, size_t len, int what,
		const char *field, struct idx_buf *out);

/* ---- idx_db.c ------------------------------------------------------ */
/* The user's index file, opened and checked.  `create`: the caller
 * holds the user's writer lease; a file a reader marked bad, or one
 * failing the check (corrupt, truncated, another format), is deleted
 * and made afresh.  Else (a reader, no lease) such a file is only
 * marked (idx_db_mark_bad), never deleted.  NULL when there is none or
 * the index is disabled. */
struct sqlite3 *idx_db_open(const char *user, bool create);
void idx_db_close(struct sqlite3 **db);
/* the path of the user's file (for rebuild and tests); -1 if disabled */
int idx_db_path(const char *user, char *out, size_t outsz);
/* [lease] delete the user's file (and its -wal, -shm, marker) */
void idx_db_remove(const char *user);
void idx_db_remove_path(const char *path);
/* a reader found the file (dev, ino) at path unusable: "<path>.bad"
 * asks the lease holder to replace it; readers skip it meanwhile */
void idx_db_mark_bad(const char *path, dev_t dev, ino_t ino);
bool idx_db_marked(const char *path, const struct stat *st);
/* a result code of a statement that means the file is bad: a reader
 * marks it, the lease holder removes it so the next open rebuilds */
bool idx_db_is_corrupt(int rc);
/* the mailbox's row and high-water UID; 0 and *hwm 0 when absent
 * (create: insert it) */
int64_t idx_db_mbox(struct sqlite3 *db, const char *mailbox,
		    uint32_t uidvalidity, bool create, uint32_t *hwm_r);

/* the one writer per host and file: flock on "<file>.lock"; -1 when
 * another process (or thread) holds it */
int idx_lease_take(const char *user);
/* the same lease by the file's path (check-store walks files) */
int idx_lease_file(const char *path);
void idx_lease_drop(int fd);

/* ---- idx_write.c --------------------------------------------------- */
/* store the document of (mailbox row, uid) (inside the caller's
 * transaction) */
int idx_db_put(struct sqlite3 *db, int64_t mbox, uint32_t uid,
	       const struct idx_doc *d);
/* drop the rows of an expunged message (msg id `id`): header cache,
 * folded forms and, with the text kept for it, its full-text row */
int idx_db_drop(struct sqlite3 *db, int64_t mbox, uint32_t uid, int64_t id);
int idx_db_set_hwm(struct sqlite3 *db, int64_t mbox, uint32_t hwm);

/* the configured directory ("" = disabled) */
const char *idx_dir(void);

#endif
