/* store_internal.h -- what sql/'s own modules (retention, backup) share with
 * store.c; nothing outside sql/ includes it. */
#ifndef STORE_INTERNAL_H
#define STORE_INTERNAL_H

#include <sqlite3.h>

#include "store.h"

/* The connection of st, borrowed: for statements a module of sql/ prepares
 * on it (and finalizes before store_close). */
sqlite3 *store_sqlite(store *st);

/* Maps an SQLite result code to a STORE_ status. */
int store_status(int sqlite_rc);

#endif
