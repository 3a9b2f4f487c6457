/* libFuzzer harness for everything that reads the index file
 * (core/index): the input is the user's index file as found on disk (a
 * cache anyone's crash or disk may have garbled).  The readers
 * (idx_query.c) must end in an answer or a failure, never a crash, and
 * never delete the file (they hold no lease); check-store's check
 * (idx_check.c) must end in a verdict; the lease holder's open
 * (idx_db.c) and its drops of expunged rows (idx_write.c, which
 * inflate the kept text the file stores) must end in rows written, or
 * an error that has the file rebuilt. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index/idx.h"
#include "index/index.h"
#include "rm.h"

static struct rm_config conf;
static char dir[64];

const struct rm_config *rm_conf(void)
{
	return &conf;
}

static void hdr_cb(void *arg, const struct rmail_index_hdr *h)
{
	(void)arg;
	if (h->subject != NULL)
		(void)strlen(h->subject);
}

static void check_cb(void *arg, const char *where, const char *what,
		     int repaired)
{
	(void)arg;
	(void)where;
	(void)what;
	(void)repaired;
}

/* what the writer does to a file it finds: the schema, the mailbox's
 * row, and dropping rows as for expunged messages */
static void as_writer(const char *user)
{
	int lease = idx_lease_take(user);
	sqlite3_stmt *st = NULL;
	int64_t ids[16], mid;
	uint32_t uids[16], hwm;
	size_t n = 0;
	sqlite3 *db;
	int rc = SQLITE_OK;

	if (lease < 0)
		abort(); /* nobody else holds it here */
	db = idx_db_open(user, true);
	if (db == NULL)
		goto out;
	mid = idx_db_mbox(db, "INBOX", 1, true, &hwm);
	if (sqlite3_prepare_v2(db, "SELECT id, mbox, uid FROM msg LIMIT 16", -1,
			       &st, NULL) == SQLITE_OK) {
		while (n < 16 && sqlite3_step(st) == SQLITE_ROW) {
			ids[n] = sqlite3_column_int64(st, 0);
			uids[n++] = (uint32_t)sqlite3_column_int64(st, 2);
		}
	}
	sqlite3_finalize(st);
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) ==
	    SQLITE_OK) {
		for (size_t i = 0; rc == SQLITE_OK && i < n; i++)
			rc = idx_db_drop(db, mid, uids[i], ids[i]);
		if (rc == SQLITE_OK)
			rc = idx_db_set_hwm(db, mid, hwm);
		(void)sqlite3_exec(db, rc == SQLITE_OK ? "COMMIT" : "ROLLBACK",
				   NULL, NULL, NULL);
	}
	idx_db_close(&db);
	/* as index_locked: a corrupt file goes, under the lease */
	if (idx_db_is_corrupt(rc))
		idx_db_remove(user);
out:
	idx_lease_drop(lease);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const needles[] = {"ZEBRA", "AB", "\"\"\"", "X"};
	static const uint32_t uids[] = {1, 2, 3, 100};
	char path[256];
	struct rmail_err err;
	FILE *f;

	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "/tmp/fuzz-index-XXXXXX");
		if (mkdtemp(dir) == NULL)
			abort();
		conf.index.enabled = true;
		conf.index.dir = dir;
		rm_log_set_level(RMAIL_LOG_ERR);
	}
	if (idx_db_path("fz@example.test", path, sizeof(path)) < 0)
		abort();
	idx_db_remove("fz@example.test");
	f = fopen(path, "wb");
	if (f == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	(void)rm_index_headers("fz@example.test", "INBOX", 1, uids, 4, hdr_cb,
			       NULL, &err);
	for (int field = RMAIL_INDEX_SUBJECT; field <= RMAIL_INDEX_TEXT;
	     field++)
		for (size_t i = 0; i < sizeof(needles) / sizeof(needles[0]);
		     i++) {
			struct rmail_index_result r = {.size = sizeof(r)};

			if (rm_index_search("fz@example.test", "INBOX", 1,
					    field, needles[i],
					    strlen(needles[i]), &r, &err) == 0)
				free(r.uids);
		}
	/* the readers hold no lease: whatever they found, the file stays */
	if (access(path, F_OK) < 0)
		abort();
	(void)rm_index_check(0, 0, check_cb, NULL);
	as_writer("fz@example.test");
	idx_db_remove("fz@example.test");
	return 0;
}
