/* backup.h -- consistent copies of a live SQLite database, and putting one back.
 * A PostgreSQL database (a postgres:// or postgresql:// path) is refused with
 * an error that names pg_dump / pg_restore, its own consistent tools. */
#ifndef BACKUP_H
#define BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a copy holds, read back from it. */
typedef struct backup_info {
    int64_t pages;        /* database pages copied */
    int64_t rooms;        /* rooms in the copy */
    int64_t last_message; /* the log's head in the copy: every message up to it is there */
} backup_info;

/* Copies the database at db_path, which may be in use by any number of
 * processes, to file: one read transaction of SQLite's online backup API, so
 * the copy is the database as of one commit and writers are not held up (WAL).
 * The copy is written to file.tmp-<pid>, checked (PRAGMA quick_check), synced,
 * then renamed over file, so file is either the old one or a whole new copy.
 * info may be NULL. Returns 0, or -1 with err filled. */
int backup_copy(const char *db_path, const char *file, backup_info *info, char *err, size_t errlen);

/* Puts the copy file back as the database at db_path (created if missing,
 * replaced if present), through the backup API and in one transaction on
 * db_path, after checking file. The chat's processes must be stopped: a
 * running chat-ws would keep offsets of the database it had, so a db_path
 * with a live chat-ws heartbeat is refused unless force. info may be NULL.
 * Returns 0, or -1 with err filled. */
int backup_restore(const char *file, const char *db_path, bool force, backup_info *info, char *err,
                   size_t errlen);

#endif
