/*
 * The user's index file: where it lives, opening it, and throwing it
 * away.  It is a cache (docs/storage.md): whatever SQLite says is
 * wrong with it (not a database, corrupt, another format) ends in
 * deleting the file, and the next update builds it again.
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "idx.h"
#include "rm.h"

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=NORMAL;"
	/* one transaction: a reader sees every table or none */
	"BEGIN IMMEDIATE;"
	"CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT);"
	"CREATE TABLE IF NOT EXISTS mbox(id INTEGER PRIMARY KEY "
	"AUTOINCREMENT, name TEXT NOT NULL, uidvalidity INTEGER NOT NULL, "
	"hwm INTEGER NOT NULL DEFAULT 0, UNIQUE(name, uidvalidity));"
	/* AUTOINCREMENT: a row id is never reused, so a stale full-text
	 * row of an expunged message can never point at another one */
	"CREATE TABLE IF NOT EXISTS msg(id INTEGER PRIMARY KEY "
	"AUTOINCREMENT, mbox INTEGER NOT NULL, uid INTEGER NOT NULL, "
	"f_subject BLOB, f_from BLOB, f_to BLOB, f_cc BLOB, "
	"UNIQUE(mbox, uid));"
	/* the header cache apart, clustered by (mailbox, UID): SORT reads
	 * a mailbox's rows in one sequential range */
	"CREATE TABLE IF NOT EXISTS hdr(mbox INTEGER NOT NULL, uid INTEGER "
	"NOT NULL, subject, from_, to_, cc, date, message_id, refs, "
	"in_reply_to, PRIMARY KEY(mbox, uid)) WITHOUT ROWID;"
	/* contentless: the text is not stored twice; detail=column keeps
	 * it small, and queries AND single trigrams (no phrases) */
	"CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(subject, afrom, "
	"ato, acc, body, head, content='', "
	"tokenize='trigram case_sensitive 1', detail=column);"
	/* the text each full-text row was given, compressed: FTS5 drops a
	 * row of a contentless table only when given it again */
	"CREATE TABLE IF NOT EXISTS ftsdoc(id INTEGER PRIMARY KEY, "
	"n INTEGER NOT NULL, z BLOB NOT NULL);"
	"INSERT OR IGNORE INTO meta VALUES('format', '" IDX_FORMAT "');"
	"COMMIT;";

const char *idx_dir(void)
{
	const struct rm_config *c = rm_conf();

	if (c == NULL || !c->index.enabled || c->index.dir == NULL)
		return "";
	return c->index.dir;
}

int idx_db_path(const char *user, char *out, size_t outsz)
{
	const char *dir = idx_dir();
	size_t n, i;
	int w;

	if (dir[0] == '\0' || user == NULL || user[0] == '\0')
		return -1;
	w = snprintf(out, outsz, "%s/", dir);
	if (w < 0 || (size_t)w >= outsz)
		return -1;
	n = (size_t)w;
	/* one file name per address: anything but [a-z0-9@._+-] (and a
	 * leading dot) is %XX, so no name escapes the directory */
	for (i = 0; user[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)user[i];
		bool ok = (ch >= 'a' && ch <= 'z') ||
			  (ch >= '0' && ch <= '9') || ch == '@' || ch == '_' ||
			  ch == '+' || ch == '-' || (ch == '.' && i > 0);

		if (n + 4 >= outsz)
			return -1;
		if (ok)
			out[n++] = (char)ch;
		else
			n += (size_t)snprintf(out + n, outsz - n, "%%%02X", ch);
	}
	w = snprintf(out + n, outsz - n, ".sqlite");
	if (w < 0 || (size_t)w >= outsz - n)
		return -1;
	return 0;
}

static int mkdirs(const char *dir)
{
	char tmp[4096];
	size_t i, n = strlen(dir);

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return -1;
		if (i < n)
			tmp[i] = '/';
	}
	return 0;
}

void idx_db_remove_path(const char *path)
{
	static const char *const sfx[] = {"", "-wal", "-shm", "-journal",
					  ".bad"};
	char p2[4200];

	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p2, sizeof(p2), "%s%s", path, sfx[i]);
		(void)unlink(p2);
	}
}

void idx_db_remove(const char *user)
{
	char path[4096];

	if (idx_db_path(user, path, sizeof(path)) == 0)
		idx_db_remove_path(path);
}

/*
 * A reader never deletes: the path may already name another file, the
 * one a writer is building under its lease.  It leaves "<file>.bad"
 * naming the file it judged (device, inode); readers skip that file
 * (the caller scans), and the lease holder's next open deletes it if
 * the path still names it.
 */
void idx_db_mark_bad(const char *path, dev_t dev, ino_t ino)
{
	char mk[4200], line[64];
	int fd, n;

	snprintf(mk, sizeof(mk), "%s.bad", path);
	n = snprintf(line, sizeof(line), "%ju %ju\n", (uintmax_t)dev,
		     (uintmax_t)ino);
	fd = open(mk, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) != n)
		(void)ftruncate(fd, 0);
	close(fd);
}

/* 1: st is the file a reader marked; 0: not; -1: a marker for another
 * (an earlier) file */
static int marked(const char *path, const struct stat *st)
{
	char mk[4200], line[64];
	uintmax_t dev, ino;
	ssize_t n;
	int fd;

	snprintf(mk, sizeof(mk), "%s.bad", path);
	fd = open(mk, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	line[n] = '\0';
	if (sscanf(line, "%ju %ju", &dev, &ino) != 2)
		return -1;
	return dev == (uintmax_t)st->st_dev && ino == (uintmax_t)st->st_ino
		       ? 1
		       : -1;
}

bool idx_db_marked(const char *path, const struct stat *st)
{
	return marked(path, st) == 1;
}

bool idx_db_is_corrupt(int rc)
{
	rc &= 0xff;
	return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB ||
	       rc == SQLITE_FORMAT || rc == SQLITE_IOERR ||
	       rc == SQLITE_CANTOPEN || rc == SQLITE_SCHEMA;
}

/* 0: ours and current; 1: not made yet (no meta: a writer may be
 * creating it right now); -1: another format or an unreadable file */
static int check(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	rc = sqlite3_prepare_v2(db, "SELECT v FROM meta WHERE k='format'", -1,
				&st, NULL);
	if (rc == SQLITE_ERROR) {
		ret = 1; /* no such table */
	} else if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const unsigned char *v = sqlite3_column_text(st, 0);

			ret = v != NULL && strcmp((const char *)v,
						  IDX_FORMAT) == 0
				      ? 0
				      : -1;
		} else if (rc == SQLITE_DONE) {
			ret = 1;
		}
	}
	sqlite3_finalize(st);
	return ret;
}

static sqlite3 *open_once(const char *path, bool create, bool *bad_r)
{
	sqlite3 *db = NULL;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	int rc;

	*bad_r = false;
	if (create)
		flags |= SQLITE_OPEN_CREATE;
	else if (access(path, F_OK) < 0)
		return NULL;
	rc = sqlite3_open_v2(path, &db, flags, NULL);
	if (rc != SQLITE_OK) {
		*bad_r = idx_db_is_corrupt(rc);
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 2000);
	sqlite3_extended_result_codes(db, 0);
	if (create) {
		rc = sqlite3_exec(db, schema, NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			rm_log(RMAIL_LOG_WARN, "index: %s: %s", path,
			       sqlite3_errmsg(db));
			*bad_r = rc != SQLITE_BUSY && rc != SQLITE_LOCKED;
			sqlite3_close(db);
			return NULL;
		}
	}
	switch (check(db)) {
	case 0:
		break;
	case 1: /* a reader before the writer's schema: no index yet */
		sqlite3_close(db);
		return NULL;
	default:
		*bad_r = true;
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

sqlite3 *idx_db_open(const char *user, bool create)
{
	char path[4096];
	struct stat st;
	sqlite3 *db;
	bool bad;

	if (idx_db_path(user, path, sizeof(path)) < 0)
		return NULL;
	if (create && mkdirs(idx_dir()) < 0) {
		rm_log(RMAIL_LOG_WARN, "index: cannot create %s: %s", idx_dir(),
		       strerror(errno));
		return NULL;
	}
	if (create && stat(path, &st) == 0) {
		/* the lease holder: what a reader found bad goes now */
		switch (marked(path, &st)) {
		case 1:
			rm_log(RMAIL_LOG_WARN,
			       "index: %s was found unusable: removed, it "
			       "will be rebuilt",
			       path);
			idx_db_remove_path(path);
			break;
		case -1: {
			char mk[4200];

			snprintf(mk, sizeof(mk), "%s.bad", path);
			(void)unlink(mk);
			break;
		}
		default:
			break;
		}
	}
	db = open_once(path, create, &bad);
	/* it holds mail text: the owner's only, whatever the umask (SQLite
	 * gives -wal and -shm the file's mode) */
	if (db != NULL && create)
		(void)chmod(path, 0600);
	if (db == NULL && bad && !create) {
		if (stat(path, &st) == 0) {
			rm_log(RMAIL_LOG_WARN,
			       "index: %s is unusable: it will be rebuilt",
			       path);
			idx_db_mark_bad(path, st.st_dev, st.st_ino);
		}
	} else if (db == NULL && bad) {
		rm_log(RMAIL_LOG_WARN,
		       "index: %s is unusable: removed, it will be rebuilt",
		       path);
		idx_db_remove_path(path);
		db = open_once(path, create, &bad);
	}
	return db;
}

void idx_db_close(sqlite3 **db)
{
	if (*db != NULL)
		sqlite3_close(*db);
	*db = NULL;
}

int64_t idx_db_mbox(sqlite3 *db, const char *mailbox, uint32_t uidvalidity,
		    bool create, uint32_t *hwm_r)
{
	sqlite3_stmt *st = NULL;
	int64_t id = 0;

	*hwm_r = 0;
	/* the store takes INBOX in any case; the index names it one way */
	if (strcasecmp(mailbox, "INBOX") == 0)
		mailbox = "INBOX";
	if (create) {
		if (sqlite3_prepare_v2(db,
				       "INSERT OR IGNORE INTO mbox(name, "
				       "uidvalidity) VALUES(?, ?)",
				       -1, &st, NULL) != SQLITE_OK)
			return -1;
		sqlite3_bind_text(st, 1, mailbox, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, uidvalidity);
		if (sqlite3_step(st) != SQLITE_DONE) {
			sqlite3_finalize(st);
			return -1;
		}
		sqlite3_finalize(st);
	}
	if (sqlite3_prepare_v2(db,
			       "SELECT id, hwm FROM mbox WHERE name=? AND "
			       "uidvalidity=?",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, mailbox, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, uidvalidity);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		id = sqlite3_column_int64(st, 0);
		*hwm_r = (uint32_t)sqlite3_column_int64(st, 1);
		break;
	case SQLITE_DONE:
		break;
	default:
		id = -1;
	}
	sqlite3_finalize(st);
	return id;
}

int idx_lease_file(const char *path)
{
	char lk[4200];
	int fd;

	snprintf(lk, sizeof(lk), "%s.lock", path);
	fd = open(lk, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int idx_lease_take(const char *user)
{
	char path[4096];

	if (idx_db_path(user, path, sizeof(path)) < 0 || mkdirs(idx_dir()) < 0)
		return -1;
	return idx_lease_file(path);
}

void idx_lease_drop(int fd)
{
	if (fd >= 0)
		close(fd);
}
