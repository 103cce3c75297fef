/* backup.c -- consistent copies of a live SQLite database, and putting one back */
#include "backup.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "store_internal.h"

#define BACKUP_BUSY_MS 5000   /* how long a step waits for a lock */
#define BACKUP_RETRIES 100    /* busy steps before giving up */
#define BACKUP_RETRY_US 50000 /* between them */

/* Refuses a PostgreSQL database: its own tools copy it consistently. */
static int backup_not_pg(const char *db_path, char *err, size_t errlen) {
    if (!store_path_is_pg(db_path)) return 0;
    snprintf(err, errlen,
             "the database is PostgreSQL: back it up with pg_dump and restore with pg_restore"
             " (README \"PostgreSQL\")");
    return -1;
}

static int backup_fail(char *err, size_t errlen, const char *what, sqlite3 *db) {
    snprintf(err, errlen, "%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
    return -1;
}

/* Opens path read-write (create only when asked) with a busy timeout. */
static int backup_open(const char *path, int create, sqlite3 **db, char *err, size_t errlen) {
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, db, flags, NULL) != SQLITE_OK) {
        backup_fail(err, errlen, path, *db);
        sqlite3_close(*db);
        *db = NULL;
        return -1;
    }
    sqlite3_busy_timeout(*db, BACKUP_BUSY_MS);
    return 0;
}

/* Copies every page of src's main database into dst's, in one step (one read
 * transaction on src), retrying while a lock is in the way. */
static int backup_pages(sqlite3 *dst, sqlite3 *src, int64_t *pages, char *err, size_t errlen) {
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    if (!b) return backup_fail(err, errlen, "backup", dst);
    int rc, tries = 0;
    while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED) {
        if (++tries > BACKUP_RETRIES) break;
        usleep(BACKUP_RETRY_US);
    }
    *pages = sqlite3_backup_pagecount(b);
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "backup: %s", sqlite3_errstr(rc));
        return -1;
    }
    return 0;
}

/* PRAGMA quick_check of db, then what it holds into info. */
static int backup_check(sqlite3 *db, const char *name, backup_info *info, char *err,
                        size_t errlen) {
    sqlite3_stmt *s = NULL;
    int ok = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        ok = strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0;
    sqlite3_finalize(s);
    if (!ok) {
        snprintf(err, errlen, "%s fails PRAGMA quick_check: not a sound chat database", name);
        return -1;
    }
    s = NULL;
    if (sqlite3_prepare_v2(
            db,
            "SELECT (SELECT COUNT(*) FROM rooms),"
            " MAX(COALESCE((SELECT MAX(id) FROM messages), 0),"
            " COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0))",
            -1, &s, NULL) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_finalize(s);
        snprintf(err, errlen, "%s is not a chat database: %s", name, sqlite3_errmsg(db));
        return -1;
    }
    info->rooms = sqlite3_column_int64(s, 0);
    info->last_message = sqlite3_column_int64(s, 1);
    sqlite3_finalize(s);
    return 0;
}

/* fsync of path, a file or a directory. */
static int backup_sync(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int backup_copy(const char *db_path, const char *file, backup_info *info, char *err,
                size_t errlen) {
    backup_info local = {0};
    sqlite3 *src = NULL, *dst = NULL;
    char tmp[4096], dir[4096];
    int rc = -1;
    if (!info) info = &local;
    if (backup_not_pg(db_path, err, errlen)) return -1;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp-%d", file, (int)getpid()) >= sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", file);
        return -1;
    }
    unlink(tmp);
    /* A backup holds every message and every recovery pid: only its owner
     * reads it, whatever the umask. SQLite fills the empty file (and gives
     * its journal the same mode); the rename replaces any older file with
     * wider permissions. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || fchmod(fd, 0600)) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        if (fd >= 0) close(fd);
        goto out;
    }
    close(fd);
    if (backup_open(db_path, 0, &src, err, errlen) || backup_open(tmp, 1, &dst, err, errlen))
        goto out;
    if (backup_pages(dst, src, &info->pages, err, errlen) ||
        backup_check(dst, "the copy", info, err, errlen))
        goto out;
    /* The copy is a standalone file: no WAL to carry along. */
    if (sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) != SQLITE_OK) {
        backup_fail(err, errlen, "the copy", dst);
        goto out;
    }
    sqlite3_close(dst);
    dst = NULL;
    if (backup_sync(tmp) || rename(tmp, file)) {
        snprintf(err, errlen, "%s: %s", file, strerror(errno));
        goto out;
    }
    snprintf(dir, sizeof dir, "%s", file);
    char *slash = strrchr(dir, '/');
    if (slash) *(slash == dir ? slash + 1 : slash) = '\0';
    backup_sync(slash ? dir : "."); /* the rename itself; best effort */
    rc = 0;
out:
    sqlite3_close(dst);
    sqlite3_close(src);
    if (rc) unlink(tmp);
    return rc;
}

/* How many chat-ws processes of db have a fresh heartbeat (0 for a database
 * without the table). */
static int64_t backup_live_processes(sqlite3 *db) {
    sqlite3_stmt *s = NULL;
    int64_t n = 0;
    if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM processes WHERE heartbeat_at > ?1", -1, &s,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, store_now_ms() - STORE_PROCESS_STALE_MS);
        if (sqlite3_step(s) == SQLITE_ROW) n = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    return n;
}

int backup_restore(const char *file, const char *db_path, bool force, backup_info *info, char *err,
                   size_t errlen) {
    backup_info local = {0};
    sqlite3 *src = NULL, *dst = NULL;
    int rc = -1;
    if (!info) info = &local;
    if (backup_not_pg(db_path, err, errlen)) return -1;
    if (access(file, R_OK) != 0) {
        snprintf(err, errlen, "%s: %s", file, strerror(errno));
        return -1;
    }
    if (backup_open(file, 0, &src, err, errlen) || backup_check(src, file, info, err, errlen) ||
        backup_open(db_path, 1, &dst, err, errlen))
        goto out;
    if (!force && backup_live_processes(dst) > 0) {
        snprintf(err, errlen,
                 "%s is in use by running chat-ws processes: stop the chat first (or --force)",
                 db_path);
        goto out;
    }
    if (backup_pages(dst, src, &info->pages, err, errlen)) goto out;
    /* The chat runs its database in WAL mode; the copy was made standalone. */
    if (sqlite3_exec(dst, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) != SQLITE_OK) {
        backup_fail(err, errlen, db_path, dst);
        goto out;
    }
    rc = 0;
out:
    sqlite3_close(dst);
    sqlite3_close(src);
    return rc;
}
