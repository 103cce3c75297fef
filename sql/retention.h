/* retention.h -- how long the log keeps messages, and the pruning that applies it */
#ifndef RETENTION_H
#define RETENTION_H

#include <stdint.h>

#include "store.h"

/* The limits are the contract's (common/contract.h); the defaults of the
 * config table (schema migration 2) are its CONTRACT_RETENTION_DAYS and
 * CONTRACT_RETENTION_MESSAGES rows. */
#define RETENTION_INHERIT -1 /* a workspace takes the default */

/* A retention rule. 0 in a field means "no limit" on that axis. */
typedef struct retention_policy {
    int64_t days;         /* messages older than this many days go */
    int64_t max_messages; /* a room keeps at most this many, the newest */
} retention_policy;

/* The deployment's defaults (the config table). set refuses values outside
 * 0..CONTRACT_RETENTION_DAYS_MAX / 0..CONTRACT_RETENTION_MESSAGES_MAX with STORE_INVALID. */
int retention_defaults_get(store *st, retention_policy *out);
int retention_defaults_set(store *st, const retention_policy *p);

/* The policy in force for namespace ns ("/" or "/<workspace>"): its own
 * settings, each field RETENTION_INHERIT taking the default. */
int retention_get(store *st, const char *ns, retention_policy *out);
/* ns's own settings, RETENTION_INHERIT where it has none. */
int retention_own(store *st, const char *ns, retention_policy *out);
/* Sets ns's own settings; a field RETENTION_INHERIT goes back to the default.
 * Works for "/" too. STORE_INVALID for a bad ns or a value out of range. */
int retention_set(store *st, const char *ns, const retention_policy *p);

/* Limits of one pruning step and the ages of the other prunable rows. */
typedef struct retention_config {
    int batch;                  /* most rows deleted per table per step [500] */
    int vacuum_pages;           /* most free pages returned per step [256] */
    int64_t session_max_age_ms; /* sessions untouched this long go [24 h] */
    int64_t control_max_age_ms; /* control events older go [1 h] */
} retention_config;

/* What one step did. */
typedef struct retention_stats {
    int64_t room_id; /* the room it looked at, 0 when there is none */
    int messages;    /* messages deleted from it */
    int sessions;    /* expired sessions deleted */
    int control;     /* old control events deleted */
    int pages;       /* pages given back to the file system */
    int more;        /* 1: that room still has messages to prune */
} retention_stats;

typedef struct retention retention; /* the pruner: statements, where it got to */

/* A pruner on st's connection (borrowed; close st after retention_free).
 * NULL when out of memory. */
retention *retention_new(store *st, const retention_config *cfg);
void retention_free(retention *r); /* accepts NULL */

/* One bounded step at wall time now_ms (ms since the epoch; a test passes its
 * own clock): in one room, taken round robin, deletes at most cfg.batch of
 * the oldest messages its namespace's policy no longer keeps and raises the
 * room's pruned_upto to the last id deleted, in one short transaction; then at
 * most cfg.batch expired sessions and control events; then an incremental
 * vacuum of at most cfg.vacuum_pages pages (none on PostgreSQL, whose
 * autovacuum gives space back). A room with more to delete is
 * taken again at the next step. Returns a status (STORE_BUSY: try later);
 * stats (may be NULL) says what was done. */
int retention_step(retention *r, int64_t now_ms, retention_stats *stats);

#endif
