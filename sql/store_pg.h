/* store_pg.h -- what sql/'s own modules (retention) use of the PostgreSQL
 * backend beyond store.h; nothing outside sql/ includes it. */
#ifndef STORE_PG_H
#define STORE_PG_H

#include <libpq-fe.h>

#include "store.h"

/* st's libpq connection, borrowed, or NULL when st is not PostgreSQL. It may
 * be down: run statements through store_pg_query, which reconnects. */
PGconn *store_pg_conn(store *st);

/* Runs statement sql (n text parameters, $1..$n; NULL is SQL NULL) on st,
 * prepared once per connection under name (a string that lives as long as
 * st; at most 64 names per store). On STORE_OK *out is the result (the
 * caller PQclears it); on failure *out is NULL and store_errmsg says why
 * (STORE_BUSY while the connection is down, STORE_INVALID for a parameter
 * that is not UTF-8). Inside a transaction of store_begin it joins it. */
int store_pg_query(store *st, const char *name, const char *sql, int n, const char *const *params,
                   PGresult **out);

/* Maps a SQLSTATE (NULL: no answer from the server) to a STORE_ status. */
int store_pg_status(const char *sqlstate);

#endif
