/* store_pg.h -- what the store's unit tests check of the PostgreSQL backend
 * beyond store.h; sql/'s modules reach it through the ops table only. */
#ifndef STORE_PG_H
#define STORE_PG_H

#include "store.h"

/* Maps a SQLSTATE (NULL: no answer from the server) to a STORE_ status. */
int store_pg_status(const char *sqlstate);

#endif
