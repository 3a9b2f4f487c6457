/*
 * check-store's part for the index: each user's file must pass
 * SQLite's quick_check and carry our format.  A bad file is a finding;
 * --repair deletes it (the daemon builds it again: a cache).  After the
 * store repaired anything, --repair drops every file, since a repair
 * may change what a (mailbox, UID) holds.
 */
#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "idx.h"
#include "index.h"

/* read-write without create: a read-only connection cannot open a WAL
 * file whose -shm is gone */
static bool file_ok(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	bool ok = false;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) ==
		    SQLITE_OK &&
	    sqlite3_busy_timeout(db, 2000) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL) ==
		    SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(st, 0);

		ok = v != NULL && strcmp((const char *)v, "ok") == 0;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (ok && (sqlite3_prepare_v2(db, "SELECT v FROM meta WHERE k='format'",
				      -1, &st, NULL) != SQLITE_OK ||
		   sqlite3_step(st) != SQLITE_ROW))
		ok = false;
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ok;
}

static bool marked_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && idx_db_marked(path, &st);
}

/* a writer holds its lease for one batch: wait that long, not more */
static int lease_wait(const char *path)
{
	int lease = -1;

	for (int i = 0; i < 100 && (lease = idx_lease_file(path)) < 0; i++)
		usleep(50000);
	return lease;
}

int rm_index_check(int repair, int drop_all, rmail_check_fn cb, void *arg)
{
	const char *dir = idx_dir();
	struct dirent *e;
	char path[4200];
	int left = 0, lease;
	DIR *d;

	if (dir[0] == '\0' || (d = opendir(dir)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);

		if (n <= 7 || strcmp(e->d_name + n - 7, ".sqlite") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		/* a daemon's writer holds the file (it may be creating it,
		 * or mid-transaction): checked once it lets go, and if it
		 * does not, not checked rather than called corrupt, and
		 * never deleted under it */
		lease = lease_wait(path);
		if (lease < 0) {
			if (repair && drop_all) {
				/* it may hold what the store's repair
				 * changed: a finding left for the next run */
				left++;
				cb(arg, path,
				   "index not dropped after the store's "
				   "repair: a writer holds it; run again",
				   0);
			}
			continue;
		}
		if (repair && drop_all) {
			idx_db_remove_path(path);
			cb(arg, path,
			   "index dropped after the store's repair; rebuilt "
			   "in the background",
			   1);
		} else if (marked_file(path)) {
			/* a reader's statement failed on it: quick_check
			 * need not see every corruption */
			if (repair)
				idx_db_remove_path(path);
			else
				left++;
			cb(arg, path,
			   "index file found unusable by a reader (marked "
			   ".bad), not yet rebuilt",
			   repair);
		} else if (!file_ok(path)) {
			if (repair)
				idx_db_remove_path(path);
			else
				left++;
			cb(arg, path,
			   "index file fails SQLite's quick_check or has "
			   "another format",
			   repair);
		}
		idx_lease_drop(lease);
	}
	closedir(d);
	return left;
}
