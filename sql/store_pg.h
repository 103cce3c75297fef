/* store_pg.h -- what sql/'s own modules use of the PostgreSQL backend beyond
 * store.h and its ops table; nothing outside sql/ (and the store's unit
 * tests) includes it. */
#ifndef STORE_PG_H
#define STORE_PG_H

#include <libpq-fe.h>

#include "store.h"

/* st's libpq connection, borrowed, or NULL when st is not PostgreSQL. It may
 * be down: run statements through the ops table, which reconnects. */
PGconn *store_pg_conn(store *st);

/* Maps a SQLSTATE (NULL: no answer from the server) to a STORE_ status. */
int store_pg_status(const char *sqlstate);

#endif
