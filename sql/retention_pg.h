/* retention_pg.h -- the PostgreSQL side of retention.c (retention_pg.c);
 * nothing outside sql/ includes it. Each function has the contract of its
 * namesake in retention.c and returns a STORE_ status. */
#ifndef RETENTION_PG_H
#define RETENTION_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "retention.h"
#include "store.h"

#define RETENTION_DAY_MS 86400000LL

int retention_pg_defaults_get(store *st, retention_policy *out);
int retention_pg_defaults_set(store *st, const retention_policy *p);
/* ns's own settings; leaves out alone when ns has no row. */
int retention_pg_own(store *st, const char *ns, retention_policy *out);
int retention_pg_set(store *st, const char *ns, const retention_policy *p);
/* The first room with an id past after (*room_id 0: none), and its
 * namespace. */
int retention_pg_next_room(store *st, int64_t after, int64_t *room_id, char *ns, size_t nslen);
/* Deletes, in one transaction, up to batch of room_id's oldest messages that
 * p no longer keeps at now_ms, raising the room's pruned_upto; *deleted says
 * how many. */
int retention_pg_prune_room(store *st, int64_t room_id, const retention_policy *p, int64_t now_ms,
                            int batch, int *deleted);
/* Deletes up to batch sessions updated (control: events stored) at or
 * before older_than; *n says how many. */
int retention_pg_prune_rows(store *st, bool control, int64_t older_than, int batch, int *n);

#endif
